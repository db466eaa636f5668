//! `provision validate`: the stack file checked offline.

use anyhow::Result;

use super::{load, GlobalOptions};

pub fn run(global: &GlobalOptions) -> Result<u8> {
    let stack = load(global)?.stack;
    if !global.quiet {
        println!(
            "{} `{}` is valid: stack `{}`, {} resource(s), {} output(s).",
            global.paint.green("Success!"),
            stack.path.display(),
            stack.name,
            stack.resources.len(),
            stack.outputs.len()
        );
    }
    Ok(0)
}
