//! `provision state list | show | rm | pull | push`.

use anyhow::{bail, Context, Result};

use super::{load_stack, read_state, state_store, GlobalOptions};
use crate::cli::StateCommand;
use crate::state::local_store_parse;

pub async fn run(global: &GlobalOptions, command: StateCommand) -> Result<u8> {
    let stack = load_stack(global)?;
    let store = state_store(&stack)?;
    match command {
        StateCommand::List => {
            let state = read_state(&store, &stack)?;
            for (address, resource) in &state.resources {
                println!("{address}\t{}", resource.id);
            }
        }
        StateCommand::Show { address } => {
            let state = read_state(&store, &stack)?;
            let Some(resource) = state.resources.get(&address) else {
                bail!("`{address}` is not in the state\n\nhint: `provision state list` shows what is");
            };
            println!("{}", serde_json::to_string_pretty(resource)?);
        }
        StateCommand::Rm { address } => {
            let _lock = store.lock("state rm")?;
            let mut state = read_state(&store, &stack)?;
            if state.resources.remove(&address).is_none() {
                bail!("`{address}` is not in the state\n\nhint: `provision state list` shows what is");
            }
            state.serial += 1;
            store.write(&state)?;
            println!("Removed `{address}` from the state; the AWS resource itself was left as it is.");
        }
        StateCommand::Pull => {
            let state = read_state(&store, &stack)?;
            println!("{}", serde_json::to_string_pretty(&state)?);
        }
        StateCommand::Push { file } => {
            let _lock = store.lock("state push")?;
            let text =
                std::fs::read_to_string(&file).with_context(|| format!("failed to read `{}`", file.display()))?;
            let pushed = local_store_parse(&text, &file.display().to_string())?;
            if pushed.stack != stack.name {
                bail!("`{}` is the state of stack `{}`, not `{}`", file.display(), pushed.stack, stack.name);
            }
            if let Some(current) = store.read()? {
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
            store.write(&pushed)?;
            println!("Pushed `{}` (serial {}).", file.display(), pushed.serial);
        }
        StateCommand::Orphans => {
            let state = read_state(&store, &stack)?;
            let aws = super::connect(global, &stack).await?;
            let orphans = super::orphans::find(&aws, &stack.name, &state).await?;
            if orphans.is_empty() {
                println!("No orphans: every resource tagged `provision:stack = {}` is in the state.", stack.name);
            }
            for orphan in &orphans {
                println!(
                    "{}\t{}\n  adopt it:  provision import {} {}",
                    orphan.address, orphan.arn, orphan.address, orphan.id
                );
            }
            if !orphans.is_empty() {
                println!("\n{} orphan(s); `provision destroy --sweep` deletes them instead.", orphans.len());
            }
        }
    }
    Ok(0)
}
