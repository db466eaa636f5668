//! Saved plans (`plan --out FILE`, `apply FILE`).
//!
//! A saved plan records everything it was computed from: the stack file (its path and hash), the
//! `--var`s (a sensitive one only as its Argon2id hash), the region and the account, and the
//! refreshed state with its lineage and serial. Applying it after the state or the stack file moved
//! on, in another account, or with other `-f`/`--var` than it was made with, is refused, so what
//! runs is exactly what was reviewed. The file is private (0600) and never written through a link.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use provision_core::cloud::Network;
use provision_core::driver::{DriverRegistry, StackInfo};
use provision_core::plan::{desired_inputs, Plan, Resolver};
use provision_core::stack::Stack;
use provision_core::state::secret_hash;
use provision_core::state::{private_file, ResourceStatus, State};
use provision_core::value::Value;

use super::GlobalOptions;

const FORMAT: &str = "provision-plan";
const VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
pub struct PlanFile {
    pub format: String,
    pub version: u32,
    pub stack_file: PathBuf,
    pub stack_sha256: String,
    /// The `--var`s the plan was made with; a sensitive one's value is its Argon2id hash.
    pub variables: Vec<(String, String)>,
    /// The names of the `--var`s kept as hashes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sensitive_variables: Vec<String>,
    pub region: String,
    /// The AWS account the plan was made for (`None` for an offline plan of a new state).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    pub plan: Plan,
    /// The refreshed state the plan was made against.
    pub state: State,
    pub network: Option<Network>,
}

pub fn hash_file(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).with_context(|| format!("failed to read `{}`", path.display()))?;
    Ok(hex::encode(Sha256::digest(&bytes)))
}

impl PlanFile {
    pub fn new(
        stack: &Stack,
        variables: &[(String, String)],
        region: String,
        plan: Plan,
        state: State,
        network: Option<Network>,
    ) -> Result<PlanFile> {
        let stack_file = &stack.path;
        let sensitive: Vec<String> = variables
            .iter()
            .filter(|(name, _)| stack.sensitive_variables.contains(name))
            .map(|(name, _)| name.clone())
            .collect();
        let variables = variables
            .iter()
            .map(|(name, value)| match sensitive.contains(name) {
                true => (name.clone(), secret_hash::new_hash(value)),
                false => (name.clone(), value.clone()),
            })
            .collect();
        Ok(PlanFile {
            format: FORMAT.into(),
            version: VERSION,
            stack_file: std::fs::canonicalize(stack_file).unwrap_or_else(|_| stack_file.to_path_buf()),
            stack_sha256: hash_file(stack_file)?,
            variables,
            sensitive_variables: sensitive,
            region,
            account: state.account.clone(),
            plan,
            state,
            network,
        })
    }

    pub fn save(&self, path: &Path) -> Result<()> {
        let text = serde_json::to_string_pretty(self)?;
        private_file::write(path, text.as_bytes())
            .with_context(|| format!("failed to write plan file `{}`", path.display()))
    }

    /// The `--var`s to load the stack with: the plan's, or the ones given, which must be the same.
    /// `-f` and `--var` given to `apply PLANFILE` must name what the plan was made with: a plan is
    /// never applied with another file or other values than were reviewed, silently or not.
    pub fn variables_for(&self, global: &GlobalOptions, path: &Path) -> Result<Vec<(String, String)>> {
        if global.stack_file_given {
            let given = std::fs::canonicalize(&global.stack_file).unwrap_or_else(|_| global.stack_file.clone());
            if given != self.stack_file {
                bail!(
                    "the saved plan `{}` was made from `{}`, not `{}`\n\nhint: leave `-f` out to apply the plan as it was made, or make a plan of `{}` with `provision -f {} plan --out FILE`",
                    path.display(),
                    self.stack_file.display(),
                    global.stack_file.display(),
                    global.stack_file.display(),
                    global.stack_file.display()
                );
            }
        }
        let planned: std::collections::BTreeMap<&str, &str> =
            self.variables.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        if global.variables.is_empty() {
            if let Some(name) = self.sensitive_variables.first() {
                bail!(
                    "the saved plan `{}` was made with the sensitive `--var {name}=…`, which it keeps only as a hash\n\nhint: give it again: `provision apply --var {name}=… {}`",
                    path.display(),
                    path.display()
                );
            }
            return Ok(self.variables.clone());
        }
        let given: std::collections::BTreeMap<&str, &str> =
            global.variables.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let shown = |name: &str, value: &str| {
            if self.sensitive_variables.iter().any(|s| s == name) {
                format!("`--var {name}=(sensitive)`")
            } else {
                format!("`--var {name}={value}`")
            }
        };
        for (name, value) in &given {
            let same = match planned.get(name) {
                Some(stored) if self.sensitive_variables.iter().any(|s| s == name) => {
                    secret_hash::matches(value, stored)
                }
                Some(stored) => stored == value,
                None => false,
            };
            if !same {
                let then = match planned.get(name) {
                    Some(stored) => format!("it was made with {}", shown(name, stored)),
                    None => format!("it was made without `--var {name}`"),
                };
                bail!(
                    "the saved plan `{}` does not match {}: {then}\n\nhint: apply it with the `--var`s it was made with (or none), or make a new plan with these",
                    path.display(),
                    shown(name, value)
                );
            }
        }
        if let Some(missing) = planned.keys().find(|name| !given.contains_key(*name)) {
            bail!(
                "the saved plan `{}` was made with `--var {missing}=…`, which is not given here\n\nhint: give every `--var` it was made with, or none",
                path.display()
            );
        }
        Ok(global.variables.clone())
    }

    pub fn load(path: &Path) -> Result<PlanFile> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("failed to read plan file `{}`", path.display()))?;
        let file: PlanFile = serde_json::from_str(&text)
            .with_context(|| format!("`{}` is not a plan saved by `provision plan --out`", path.display()))?;
        if file.format != FORMAT || file.version > VERSION {
            bail!(
                "`{}` is not a plan this provision can apply (format {} v{})",
                path.display(),
                file.format,
                file.version
            );
        }
        if hash_file(&file.stack_file)? != file.stack_sha256 {
            bail!(
                "the stack file `{}` changed since this plan was made\n\nhint: run `provision plan --out {}` again",
                file.stack_file.display(),
                path.display()
            );
        }
        Ok(file)
    }

    /// Refuses the plan when the state has moved on since it was made.
    pub fn check_state(&self, current: &State, path: &Path) -> Result<()> {
        let fresh_then = self.plan.serial == Some(0) && self.state.resources.is_empty();
        let same =
            self.plan.lineage.as_deref() == Some(current.lineage.as_str()) && self.plan.serial == Some(current.serial);
        let both_new = fresh_then && current.serial == 0 && current.resources.is_empty();
        if !same && !both_new {
            bail!(
                "the saved plan `{}` is stale: it was made against state serial {} but the state is now at serial {}{}\n\nhint: run `provision plan --out {}` again",
                path.display(),
                self.plan.serial.map(|s| s.to_string()).unwrap_or_else(|| "?".into()),
                current.serial,
                if self.plan.lineage.as_deref() != Some(current.lineage.as_str()) { " of another lineage" } else { "" },
                path.display()
            );
        }
        Ok(())
    }

    /// Refuses the plan when what it read from local files or the environment changed: an upload
    /// folder's files, a secret's value (compared by its salted hash).
    pub fn check_inputs(&self, stack: &Stack, drivers: &DriverRegistry, info: &StackInfo, path: &Path) -> Result<()> {
        let resolver = Resolver { stack, info, network: self.network.as_ref() };
        for action in self.plan.actions.iter().filter(|a| !a.inputs.is_empty()) {
            let (Some(resource), Some(driver)) =
                (stack.resources.get(&action.address), drivers.get(&action.address.type_name))
            else {
                continue;
            };
            let lookup = |a: &provision_core::address::Address| {
                self.state
                    .resources
                    .get(a)
                    .map(|r| r.attributes.iter().map(|(k, v)| (k.clone(), Value::from_json(v))).collect())
            };
            let desired = desired_inputs(&resolver, driver, resource, &lookup, Some(&action.inputs))
                .map_err(|error| anyhow::anyhow!(error))?;
            let schema = driver.schema();
            for (key, planned) in &action.inputs {
                let outside = desired.secrets.contains_key(key)
                    || (schema.field(key).is_none() && key != "tags" && !schema.derived.iter().any(|d| d.name == key));
                let now = desired.values.get(key).and_then(Value::to_json);
                if outside && now.as_ref().is_some_and(|now| now != planned) {
                    let what = if desired.secrets.contains_key(key) {
                        format!("the secret `{}.{key}` (its environment variable or `--var`)", action.address)
                    } else {
                        format!("the local files behind `{}` (`{key}`)", action.address)
                    };
                    bail!(
                        "{what} changed since the plan `{}` was made\n\nhint: run `provision plan --out {}` again to review the new values",
                        path.display(),
                        path.display()
                    );
                }
            }
        }
        Ok(())
    }
}

/// A plan made without refresh cannot know whether an interrupted create made its resource: saving
/// it would plan a second one.
pub fn refuse_unsettled(state: &State, refreshed: bool) -> Result<()> {
    if refreshed {
        return Ok(());
    }
    let unsettled: Vec<String> = state
        .resources
        .iter()
        .filter(|(_, r)| r.status == ResourceStatus::Creating)
        .map(|(a, _)| format!("`{a}`"))
        .collect();
    if !unsettled.is_empty() {
        bail!(
            "the state holds creates that a killed run left unsettled ({}); a plan made with `--refresh=false` cannot know whether they exist, so it is not saved\n\nhint: run `provision plan --out FILE` with refresh (the default) to settle them first",
            unsettled.join(", ")
        );
    }
    Ok(())
}

/// The saved-plan reader against hostile files (see `tests/it/fuzz.rs` for the other targets): a
/// plan file edited by hand or by an attacker must never panic provision, whether it is parsed,
/// checked against the state and the command line, or shown.
#[cfg(test)]
mod fuzz {
    use super::*;
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};

    const SEED: &str = r#"{
  "format": "provision-plan",
  "version": 1,
  "stack_file": "/nowhere/stack.toml",
  "stack_sha256": "00",
  "variables": [["env", "dev"], ["pw", "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaA"]],
  "sensitive_variables": ["pw"],
  "region": "us-east-1",
  "account": "123456789012",
  "plan": {
    "stack": "fuzz", "lineage": "l", "serial": 3, "refreshed": true,
    "actions": [
      { "address": "s3_bucket.site", "action": "create",
        "changes": [ { "path": "bucket", "before": null, "after": { "known": "fuzz-site" }, "forces_replacement": false },
                     { "path": "value", "before": "sensitive", "after": "unknown", "forces_replacement": true } ],
        "inputs": { "bucket": "fuzz-site" } },
      { "address": "secret.db", "action": "replace", "changes": [], "forced_by": ["name"], "notes": ["é"] }
    ],
    "drift": [ { "address": "log_group.api", "changes": [], "deleted": true } ],
    "outputs": { "url": { "known": "https://x" } },
    "moves": [ { "from": "s3_bucket.a", "to": "s3_bucket.b" } ]
  },
  "state": { "version": 1, "lineage": "l", "serial": 18446744073709551615, "stack": "fuzz" },
  "network": null
}"#;

    const FRAGMENTS: &[&str] = &[
        "18446744073709551615",
        "-1",
        "null",
        "\"\"",
        "{}",
        "[]",
        ",",
        ":",
        "\"é𝄞\"",
        "\"a.b\"",
        "\"create\"",
        "\"delete\"",
        "\"unknown\"",
        "\"sensitive\"",
        "{\"known\": 1e300}",
        "\"pw\"",
        "true",
    ];

    #[test]
    fn hostile_plan_files_are_refused_or_used_never_panicked_on() {
        let cases = std::env::var("PROVISION_FUZZ_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(256);
        let mut runner = TestRunner::new(Config { cases, failure_persistence: None, ..Config::default() });
        let piece = prop_oneof![3 => proptest::sample::select(FRAGMENTS).prop_map(str::to_string), 1 => "\\PC{0,6}"];
        let edit = (any::<usize>(), 0usize..16, piece);
        let global = GlobalOptions {
            stack_file: PathBuf::from("stack.toml"),
            stack_file_given: true,
            variables: vec![("pw".into(), "hunter2".into()), ("env".into(), "dev".into())],
            endpoint: None,
            region: None,
            profile: None,
            paint: provision_core::render::Paint { enabled: true },
            error_paint: provision_core::render::Paint { enabled: false },
            quiet: false,
        };
        runner
            .run(&proptest::collection::vec(edit, 0..6), |edits| {
                let mut text = SEED.to_string();
                for (at, len, piece) in edits {
                    let mut start = at % (text.len() + 1);
                    while !text.is_char_boundary(start) {
                        start -= 1;
                    }
                    let mut end = (start + len).min(text.len());
                    while !text.is_char_boundary(end) {
                        end -= 1;
                    }
                    text.replace_range(start..end, &piece);
                }
                let Ok(file) = serde_json::from_str::<PlanFile>(&text) else { return Ok(()) };
                let path = Path::new("fuzz.plan");
                let _ = file.check_state(&State::new("fuzz"), path);
                let _ = file.check_state(&file.state, path);
                let _ = file.variables_for(&global, path);
                let _ = refuse_unsettled(&file.state, false);
                let _ = provision_core::render::plan_text::render(&file.plan, global.paint);
                let _ = provision_core::render::plan_json::render(&file.plan);
                Ok(())
            })
            .unwrap();
    }
}
