//! `provision sweep --expired`: preview environments that never leak.
//!
//! An environment applied with `--ttl` records its expiry in its state and tags what it makes
//! with it (`provision:expires`). The sweep finds environments both ways: by the states beside
//! the stack's own (every `*.json` in the same folder or S3 prefix), and by the tag, which still
//! finds one whose state is gone. Each expired one is destroyed completely — the state's resources,
//! then whatever is tagged with it or was made for it (`destroy --sweep`) — and the sweep says what
//! it removed. Which environments go is decided in one place, [`expired_environments`]: a state's
//! expiry wins over its tags (a re-apply with `--ttl` extends it), an environment applied without
//! `--ttl` never expires, and a value that does not parse as a time never matches.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{anyhow, Result};
use chrono::{DateTime, Utc};
use provision_core::cloud::TaggedResource;
use provision_core::executor::Parallelism;
use provision_core::reporter::Reporter;
use provision_core::run::Frontend;
use provision_core::stack::{S3Location, StateLocation};
use provision_core::state::{LocalBackend, State, StateBackend, StateWriter, EXPIRES_TAG};

use super::apply::{self, ApplyOptions};
use super::{load_state_only, GlobalOptions, Loaded};

/// What `sweep --expired` was asked to do.
#[derive(Clone, Debug, Default)]
pub struct SweepOptions {
    /// Only stacks whose name starts with this.
    pub prefix: String,
    pub auto_approve: bool,
    pub parallelism: Parallelism,
    pub lock_timeout: Duration,
}

/// A state found beside the stack's own.
#[derive(Clone, Debug, PartialEq)]
pub struct FoundState {
    pub location: StateLocation,
    pub stack: String,
    pub expires: Option<String>,
    pub resources: usize,
}

/// An environment whose time is up.
#[derive(Clone, Debug, PartialEq)]
pub struct Environment {
    pub stack: String,
    pub expires: DateTime<Utc>,
    /// Its state, when one was found; otherwise it was found by its tags alone.
    pub state: Option<StateLocation>,
    /// Resources its state records.
    pub resources: usize,
    /// Resources tagged with it.
    pub tagged: usize,
    /// The `provision:lineage` its tagged resources carry: which state made them.
    pub lineages: BTreeSet<String>,
}

/// The expired environments among `states` and `tagged` whose stack name starts with `prefix`.
pub fn expired_environments(
    states: &[FoundState],
    tagged: &[TaggedResource],
    prefix: &str,
    now: DateTime<Utc>,
) -> Vec<Environment> {
    let parse = |text: &str| DateTime::parse_from_rfc3339(text).ok().map(|t| t.with_timezone(&Utc));
    // Per stack: how many resources carry its expiry, and the latest one they carry.
    let mut by_tags: BTreeMap<&str, (usize, Option<DateTime<Utc>>)> = BTreeMap::new();
    let mut lineages: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for resource in tagged {
        let (Some(stack), Some(expires)) = (resource.tags.get("provision:stack"), resource.tags.get(EXPIRES_TAG))
        else {
            continue;
        };
        if let Some(lineage) = resource.tags.get(provision_core::state::LINEAGE_TAG) {
            lineages.entry(stack.as_str()).or_default().insert(lineage.clone());
        }
        let entry = by_tags.entry(stack.as_str()).or_default();
        entry.0 += 1;
        if let Some(expires) = parse(expires) {
            entry.1 = entry.1.max(Some(expires));
        }
    }
    let mut expired = Vec::new();
    for state in states.iter().filter(|s| s.stack.starts_with(prefix)) {
        let Some(expires) = state.expires.as_deref().and_then(parse) else { continue };
        if expires <= now {
            expired.push(Environment {
                stack: state.stack.clone(),
                expires,
                state: Some(state.location.clone()),
                resources: state.resources,
                tagged: by_tags.get(state.stack.as_str()).map(|(count, _)| *count).unwrap_or(0),
                lineages: lineages.get(state.stack.as_str()).cloned().unwrap_or_default(),
            });
        }
    }
    for (stack, (count, latest)) in by_tags {
        let has_state = states.iter().any(|s| s.stack == stack);
        match latest {
            Some(expires) if !has_state && stack.starts_with(prefix) && expires <= now => expired.push(Environment {
                stack: stack.to_string(),
                expires,
                state: None,
                resources: 0,
                tagged: count,
                lineages: lineages.get(stack).cloned().unwrap_or_default(),
            }),
            _ => {}
        }
    }
    expired.sort_by(|a, b| a.stack.cmp(&b.stack));
    expired
}

pub async fn run(global: &GlobalOptions, options: &SweepOptions, reporter: &dyn Reporter) -> Result<u8> {
    let loaded = load_state_only(global)?;
    let states = find_states(&loaded).await?;
    let aws = loaded.cloud.session().context().await.map_err(|error| anyhow!("{error}"))?;
    let tagged = provision_aws::inventory::tagged_with_key(aws, EXPIRES_TAG)
        .await
        .map_err(|error| anyhow!("looking for resources tagged `{EXPIRES_TAG}`: {error}"))?;
    let expired = expired_environments(&states, &tagged, &options.prefix, Utc::now());
    let scope = if options.prefix.is_empty() { String::new() } else { format!(" (prefix `{}`)", options.prefix) };
    if expired.is_empty() {
        println!("No expired preview environments{scope}.");
        return Ok(0);
    }
    println!("Expired preview environments{scope}:");
    let width = expired.iter().map(|e| e.stack.len()).max().unwrap_or(0);
    for environment in &expired {
        let found = match &environment.state {
            Some(location) => format!("state {}, {} resource(s)", describe(location), environment.resources),
            None => "no state found".to_string(),
        };
        println!(
            "  {:<width$}  expired {}  {found}; {} tagged resource(s)",
            environment.stack,
            environment.expires.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            environment.tagged
        );
    }
    let frontend = super::terminal_frontend::TerminalFrontend { global, json: false, auto_approve: false };
    if !options.auto_approve && !frontend.confirm("destroy")? {
        return Ok(1);
    }
    let mut removed = Vec::new();
    let mut failed = Vec::new();
    for environment in &expired {
        println!("\n== {} ==", environment.stack);
        match remove(global, options, environment, reporter).await {
            Ok(0) => removed.push(match environment.state {
                Some(_) => format!("{} ({} resource(s) in its state)", environment.stack, environment.resources),
                None => format!("{} (no state; {} tagged resource(s))", environment.stack, environment.tagged),
            }),
            Ok(_) => failed.push(environment.stack.clone()),
            Err(error) => {
                super::print_error(&error, global.error_paint);
                failed.push(environment.stack.clone());
            }
        }
    }
    println!();
    if !removed.is_empty() {
        println!("Removed {} expired preview environment(s): {}.", removed.len(), removed.join(", "));
    }
    if failed.is_empty() {
        Ok(0)
    } else {
        eprintln!(
            "{} {} could not be removed completely: {}; run `provision sweep --expired` again after fixing the cause.",
            global.error_paint.red("error:"),
            failed.len(),
            failed.join(", ")
        );
        Ok(1)
    }
}

/// Destroys one environment: what its state holds, then what is tagged with it or made for it.
async fn remove(
    global: &GlobalOptions,
    options: &SweepOptions,
    environment: &Environment,
    reporter: &dyn Reporter,
) -> Result<u8> {
    // The stack file gives the backend, the region and the drivers; the environment's own name and
    // state replace its own. A destroy needs nothing else from the file.
    let quiet = GlobalOptions { quiet: true, ..global.clone() };
    let mut loaded = load_state_only(&quiet)?;
    loaded.stack.name = environment.stack.clone();
    loaded.stack.outputs.clear();
    let destroy = ApplyOptions {
        auto_approve: true,
        parallelism: options.parallelism,
        lock_timeout: options.lock_timeout,
        destroy: true,
        sweep: true,
        ..ApplyOptions::default()
    };
    let notifier = super::notify::Notifier::start(&loaded.stack)?;
    let reporters = apply::with_notifier(reporter, notifier.as_ref());
    let result = match &environment.state {
        Some(location) => {
            loaded.stack.state = location.clone();
            let code = apply::run_loaded(global, &destroy, &loaded, &reporters).await;
            match code {
                Ok(0) => match super::orphans::sweep_loaded(global, &destroy, &loaded, &reporters).await {
                    Ok(0) => forget_expiry(&loaded, options.lock_timeout).await.map(|()| 0),
                    other => other,
                },
                other => other,
            }
        }
        None => {
            // No state to say which resources are its: the one lineage they all carry does (a
            // sweep never reaches past one state's own). Several lineages, or none, are left alone.
            let mut state = State::new(&environment.stack);
            match environment.lineages.iter().collect::<Vec<_>>().as_slice() {
                [lineage] => state.lineage = (*lineage).clone(),
                [] => {}
                several => eprintln!(
                    "warning: `{}`'s tagged resources carry {} lineages (made by different states); only what a state of it names can be swept",
                    environment.stack,
                    several.len()
                ),
            }
            super::orphans::remove_strays(global, &destroy, &loaded, &state, &reporters).await
        }
    };
    apply::finish_notifications(notifier.as_ref()).await;
    result
}

/// A destroyed environment's state holds nothing, and no longer expires: the next sweep passes it by.
async fn forget_expiry(loaded: &Loaded, lock_timeout: Duration) -> Result<()> {
    let backend = super::state_backend(loaded)?;
    let guard = super::lock(&backend, "sweep --expired", lock_timeout).await?;
    let (mut state, version) = super::read_state(backend.as_ref(), &loaded.stack).await?;
    if state.resources.is_empty() && state.deposed.is_empty() && state.expires.is_some() {
        state.expires = None;
        let writer = StateWriter::start(backend.clone(), state, version, "sweep --expired");
        writer.commit(|_| {}).await.map_err(|error| anyhow!("{error}"))?;
        writer.finish().await;
    }
    guard.release().await.map_err(super::backend_error)?;
    Ok(())
}

/// The states beside the stack's own: every `*.json` in its folder, or under its S3 prefix.
async fn find_states(loaded: &Loaded) -> Result<Vec<FoundState>> {
    let locations: Vec<StateLocation> = match &loaded.stack.state {
        StateLocation::Local(path) => {
            let folder = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
            match std::fs::read_dir(folder) {
                Ok(entries) => entries
                    .filter_map(|entry| entry.ok().map(|e| e.path()))
                    .filter(|path| path.extension().is_some_and(|e| e == "json") && path.is_file())
                    // A run's own copy kept after a conflicting write is not another environment.
                    .filter(|path| !path.to_string_lossy().ends_with(".errored.json"))
                    .map(StateLocation::Local)
                    .collect(),
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => Vec::new(),
                Err(error) => return Err(anyhow!("listing the states in `{}`: {error}", folder.display())),
            }
        }
        StateLocation::S3(own) => {
            let backend = provision_aws::S3Backend::new(loaded.cloud.session().clone(), own.clone());
            let keys = backend.sibling_states().await.map_err(super::backend_error)?;
            keys.into_iter().map(|key| StateLocation::S3(S3Location { key, ..own.clone() })).collect()
        }
    };
    let reads = locations.into_iter().map(|location| async move {
        let backend: Box<dyn StateBackend> = match &location {
            StateLocation::Local(path) => Box::new(LocalBackend::new(PathBuf::from(path))),
            StateLocation::S3(s3) => {
                Box::new(provision_aws::S3Backend::new(loaded.cloud.session().clone(), s3.clone()))
            }
        };
        // Something that is not a state (a saved plan, another tool's file) is passed by.
        let stored = backend.read().await.ok().flatten()?;
        Some(FoundState {
            location,
            stack: stored.state.stack,
            expires: stored.state.expires,
            resources: stored.state.resources.len(),
        })
    });
    Ok(futures::future::join_all(reads).await.into_iter().flatten().collect())
}

fn describe(location: &StateLocation) -> String {
    match location {
        StateLocation::Local(path) => format!("`{}`", path.display()),
        StateLocation::S3(s3) => format!("`s3://{}/{}`", s3.bucket, s3.key),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    fn state(stack: &str, expires: Option<&str>) -> FoundState {
        FoundState {
            location: StateLocation::Local(PathBuf::from(format!("state/{stack}.json"))),
            stack: stack.into(),
            expires: expires.map(str::to_string),
            resources: 3,
        }
    }

    fn tagged(stack: &str, expires: &str) -> TaggedResource {
        TaggedResource {
            arn: format!("arn:aws:s3:::{stack}-site"),
            tags: [("provision:stack".to_string(), stack.to_string()), (EXPIRES_TAG.to_string(), expires.to_string())]
                .into(),
        }
    }

    #[test]
    fn expired_states_and_stateless_tagged_environments_go_and_nothing_else() {
        let now = at("2026-12-06T12:00:00Z");
        let states = [
            state("shop-pr-1", Some("2026-12-06T11:00:00Z")), // expired
            state("shop-pr-2", Some("2026-12-07T11:00:00Z")), // not yet
            state("shop-dev", None),                          // never: applied without --ttl
            state("blog-pr-1", Some("2026-12-01T00:00:00Z")), // another prefix
        ];
        let tags = [
            tagged("shop-pr-2", "2026-12-01T00:00:00Z"), // its state extended it: the state wins
            tagged("shop-pr-3", "2026-12-05T00:00:00Z"), // no state: found by its tags
            tagged("shop-pr-3", "2026-12-05T06:00:00Z"),
            tagged("shop-pr-4", "2026-12-09T00:00:00Z"), // no state, not yet
            tagged("shop-pr-5", "soon"),                 // not a time: never
        ];
        let expired = expired_environments(&states, &tags, "shop-pr-", now);
        let names: Vec<&str> = expired.iter().map(|e| e.stack.as_str()).collect();
        assert_eq!(names, vec!["shop-pr-1", "shop-pr-3"]);
        assert!(expired[0].state.is_some());
        assert_eq!((expired[1].state.clone(), expired[1].tagged), (None, 2));
        assert_eq!(expired[1].expires, at("2026-12-05T06:00:00Z"));
    }
}
