//! `provision output`: the stack's outputs as recorded in the state.

use anyhow::{bail, Result};

use super::{load_state_only, read_state, state_backend, GlobalOptions};

pub async fn run(global: &GlobalOptions, name: Option<&str>, json: bool) -> Result<u8> {
    let loaded = load_state_only(global)?;
    let stack = &loaded.stack;
    let backend = state_backend(&loaded)?;
    let (state, _) = read_state(backend.as_ref(), stack).await?;
    match name {
        Some(name) => {
            let Some(value) = state.outputs.get(name) else {
                let known: Vec<&String> = state.outputs.keys().collect();
                bail!("no output `{name}` in the state\n\nhint: outputs recorded: {known:?}; run `provision apply` after adding it to `[outputs]`");
            };
            match (json, value.as_str()) {
                (false, Some(text)) => println!("{text}"),
                _ => println!("{}", serde_json::to_string_pretty(value)?),
            }
        }
        None if json => println!("{}", serde_json::to_string_pretty(&state.outputs)?),
        None => {
            if state.outputs.is_empty() && !global.quiet {
                eprintln!("No outputs recorded; `provision apply` records the `[outputs]` of the stack file.");
            }
            let width = state.outputs.keys().map(String::len).max().unwrap_or(0);
            for (key, value) in &state.outputs {
                println!("{key:<width$} = {value}");
            }
        }
    }
    Ok(0)
}
