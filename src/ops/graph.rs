//! `provision graph`: the dependency graph as Graphviz DOT.

use anyhow::Result;

use super::{load_stack, GlobalOptions};

pub fn run(global: &GlobalOptions) -> Result<u8> {
    let stack = load_stack(global)?;
    print!("{}", stack.graph.to_dot());
    Ok(0)
}
