//! Saved plans (`plan --out FILE`, `apply FILE`).
//!
//! A saved plan records everything it was computed from: the stack file's hash and variables, and
//! the refreshed state with its lineage and serial. Applying it after the state or the stack file
//! moved on is refused, so what runs is exactly what was reviewed.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use provision_core::cloud::Network;
use provision_core::driver::{DriverRegistry, StackInfo};
use provision_core::plan::{desired_inputs, Plan, Resolver};
use provision_core::stack::Stack;
use provision_core::state::{ResourceStatus, State};
use provision_core::value::Value;

const FORMAT: &str = "provision-plan";
const VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
pub struct PlanFile {
    pub format: String,
    pub version: u32,
    pub stack_file: PathBuf,
    pub stack_sha256: String,
    pub variables: Vec<(String, String)>,
    pub region: String,
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
        stack_file: &Path,
        variables: &[(String, String)],
        region: String,
        plan: Plan,
        state: State,
        network: Option<Network>,
    ) -> Result<PlanFile> {
        Ok(PlanFile {
            format: FORMAT.into(),
            version: VERSION,
            stack_file: std::fs::canonicalize(stack_file).unwrap_or_else(|_| stack_file.to_path_buf()),
            stack_sha256: hash_file(stack_file)?,
            variables: variables.to_vec(),
            region,
            plan,
            state,
            network,
        })
    }

    pub fn save(&self, path: &Path) -> Result<()> {
        let text = serde_json::to_string_pretty(self)?;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        use std::io::Write;
        let mut file = options.open(path).with_context(|| format!("failed to write plan file `{}`", path.display()))?;
        file.write_all(text.as_bytes())?;
        Ok(())
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
                        format!("the secret `{}.{key}` (its environment variable)", action.address)
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
