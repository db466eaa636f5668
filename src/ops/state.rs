//! `provision state list | show | rm | pull [--serial N] | push [--force] | orphans | history | migrate`.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use provision_core::address::Address;
use provision_core::state::{State, StateWriter};

pub use super::state_migrate::MigrateOptions;
use super::{backend_error, load_state_only, lock, read_state, state_backend, GlobalOptions};

#[derive(Clone, Debug)]
pub enum StateCommand {
    List,
    Show(Address),
    Rm(Address),
    Pull,
    /// One earlier version, by its serial.
    PullSerial(u64),
    /// Replace the state; `force` also replaces a state with the same or a higher serial.
    Push {
        file: PathBuf,
        force: bool,
    },
    Orphans,
    History,
    Migrate(MigrateOptions),
}

pub async fn run(global: &GlobalOptions, command: StateCommand, lock_timeout: Duration) -> Result<u8> {
    let loaded = load_state_only(global)?;
    let stack = &loaded.stack;
    let backend = state_backend(&loaded)?;
    match command {
        StateCommand::List => {
            let (state, _) = read_state(backend.as_ref(), stack).await?;
            for (address, resource) in &state.resources {
                println!("{address}\t{}", resource.id);
            }
        }
        StateCommand::Show(address) => {
            let (state, _) = read_state(backend.as_ref(), stack).await?;
            let Some(resource) = state.resources.get(&address) else {
                bail!("`{address}` is not in the state\n\nhint: `provision state list` shows what is");
            };
            println!("{}", serde_json::to_string_pretty(resource)?);
        }
        StateCommand::Rm(address) => {
            let guard = lock(&backend, "state rm", lock_timeout).await?;
            let (state, version) = read_state(backend.as_ref(), stack).await?;
            if !state.resources.contains_key(&address) {
                bail!("`{address}` is not in the state\n\nhint: `provision state list` shows what is");
            }
            let writer = StateWriter::start(backend.clone(), state, version, "state rm");
            writer
                .commit(|state| {
                    state.resources.remove(&address);
                })
                .await
                .map_err(|error| anyhow::anyhow!("{error}"))?;
            writer.finish().await;
            guard.release().await.map_err(backend_error)?;
            println!("Removed `{address}` from the state; the AWS resource itself was left as it is.");
        }
        StateCommand::Pull => {
            let (state, _) = read_state(backend.as_ref(), stack).await?;
            println!("{}", serde_json::to_string_pretty(&state)?);
        }
        StateCommand::PullSerial(serial) => {
            let Some(state) = backend.read_serial(serial).await.map_err(backend_error)? else {
                bail!(
                    "`{}` has no version with serial {serial}\n\nhint: `provision state history` lists the versions kept",
                    backend.location()
                );
            };
            println!("{}", serde_json::to_string_pretty(&state)?);
        }
        StateCommand::History => {
            super::warn_about_setup(backend.as_ref()).await;
            let entries = backend.history().await.map_err(backend_error)?;
            if entries.is_empty() && !global.quiet {
                eprintln!("`{}` has no versions yet.", backend.location());
            }
            let width = entries.iter().map(|e| e.serial.to_string().len()).max().unwrap_or(1);
            for entry in &entries {
                println!("{:<width$}  {}  {}  {}", entry.serial, entry.time, entry.who, entry.operation);
            }
        }
        StateCommand::Migrate(options) => return super::state_migrate::run(&loaded, &options, lock_timeout).await,
        StateCommand::Push { file, force } => {
            let guard = lock(&backend, "state push", lock_timeout).await?;
            let text =
                std::fs::read_to_string(&file).with_context(|| format!("failed to read `{}`", file.display()))?;
            let pushed = State::parse(&text, &file.display().to_string())?;
            if pushed.stack != stack.name {
                bail!("`{}` is the state of stack `{}`, not `{}`", file.display(), pushed.stack, stack.name);
            }
            let stored = backend.read().await.map_err(backend_error)?;
            if let Some(current) = &stored {
                let current = &current.state;
                if current.lineage != pushed.lineage {
                    bail!("`{}` has another lineage than the current state; refusing to replace it", file.display());
                }
                if pushed.serial <= current.serial && !force {
                    bail!(
                        "`{}` has serial {} but the current state is at {}; refusing to go back\n\nhint: pull the current state and edit that; or, to replace it with this file anyway (e.g. a run's `.errored.json` after comparing the two), `provision state push --force {}`",
                        file.display(),
                        pushed.serial,
                        current.serial,
                        file.display()
                    );
                }
            }
            let mut pushed = pushed;
            // The writer adds one to the serial as it writes; a forced push still moves it forward.
            let current_serial = stored.as_ref().map(|s| s.state.serial).unwrap_or(0);
            pushed.serial = pushed.serial.max(current_serial.saturating_add(1)).saturating_sub(1);
            let writer = StateWriter::start(backend.clone(), pushed, stored.map(|s| s.version), "state push");
            writer.commit(|_| {}).await.map_err(|error| anyhow::anyhow!("{error}"))?;
            let (written, _, _) = writer.finish().await;
            guard.release().await.map_err(backend_error)?;
            println!("Pushed `{}` (serial {}).", file.display(), written.serial);
        }
        StateCommand::Orphans => {
            let (state, _) = read_state(backend.as_ref(), stack).await?;
            let strays = super::orphans::find(&loaded.cloud, &stack.name, &state).await?;
            if strays.is_empty() {
                println!(
                    "No orphans: every resource tagged as this state's (`provision:stack = {}`, `provision:lineage = {}`) is in the state.",
                    stack.name, state.lineage
                );
            }
            for orphan in &strays.unproven {
                println!(
                    "{}\t{}\t(tagged `provision:stack = {}` without a lineage: not proven this state's; never swept)\n  adopt it:  provision import {} {}",
                    orphan.address, orphan.arn, stack.name, orphan.address, orphan.id
                );
            }
            for orphan in &strays.orphans {
                println!(
                    "{}\t{}\n  adopt it:  provision import {} {}",
                    orphan.address, orphan.arn, orphan.address, orphan.id
                );
            }
            for (type_name, leftover) in &strays.leftovers {
                let owner = leftover.owner.as_ref().map(|a| a.to_string()).unwrap_or_else(|| type_name.clone());
                println!("{owner}\t{} `{}` (nothing in the state uses it)", leftover.kind, leftover.id);
            }
            if !strays.is_empty() {
                println!(
                    "\n{} orphan(s), {} leftover part(s); `provision destroy --sweep` deletes them.",
                    strays.orphans.len(),
                    strays.leftovers.len()
                );
            }
        }
    }
    Ok(0)
}
