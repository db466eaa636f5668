//! `provision state list | show | rm | pull | push | orphans`.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use provision_core::address::Address;
use provision_core::state::{State, StateWriter};

use super::{backend_error, load, lock, read_state, state_backend, GlobalOptions};

#[derive(Clone, Debug)]
pub enum StateCommand {
    List,
    Show(Address),
    Rm(Address),
    Pull,
    Push(PathBuf),
    Orphans,
}

pub async fn run(global: &GlobalOptions, command: StateCommand, lock_timeout: Duration) -> Result<u8> {
    let loaded = load(global)?;
    let stack = &loaded.stack;
    let backend = state_backend(stack)?;
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
        StateCommand::Push(file) => {
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
                if pushed.serial <= current.serial {
                    bail!(
                        "`{}` has serial {} but the current state is at {}; refusing to go back\n\nhint: pull the current state and edit that",
                        file.display(),
                        pushed.serial,
                        current.serial
                    );
                }
            }
            let mut pushed = pushed;
            // The writer adds one to the serial as it writes.
            pushed.serial = pushed.serial.saturating_sub(1);
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
                println!("No orphans: every resource tagged `provision:stack = {}` is in the state.", stack.name);
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
