//! `provision graph`: the dependency graph as Graphviz DOT.

use anyhow::Result;

use super::{load, GlobalOptions};

pub fn run(global: &GlobalOptions) -> Result<u8> {
    print!("{}", load(global)?.stack.graph.to_dot());
    Ok(0)
}
