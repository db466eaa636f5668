//! provision-core: the engine of provision, which knows no cloud API.
//!
//! A tour, in the order data flows:
//!
//! - [`stack`] reads the TOML stack file into a [`stack::Stack`]: typed against each resource type's
//!   [`schema`], references parsed, the dependency [`graph`] built. Offline; errors carry
//!   file:line:column.
//! - [`state`] is what provision made last time, behind the [`state::StateBackend`] interface (a local
//!   file here; S3 in the AWS crate), written by one group-committing [`state::StateWriter`].
//! - [`plan`] refreshes the state through the drivers (batched reads) and diffs it with the stack into
//!   a [`plan::Plan`] value: create / update / replace / delete with per-field before → after.
//!   [`engine`] puts refresh, the network look-up and the region/account check together.
//! - [`executor`] runs a plan's actions concurrently in dependency order, each step durable before
//!   what depends on it starts, reporting [`reporter::Event`]s.
//! - [`driver`] is the trait every resource type implements and the registry a run hands around;
//!   [`cloud`] what else the engine asks of a cloud. The `provision-aws` crate implements both over
//!   the AWS SDK; this crate's tests over an in-memory cloud.
//! - [`cost`] prices a plan from a dated table built in (per action and before/after), and
//!   [`guardrails`] checks the stack as the plan leaves it; both are part of the plan value.
//! - [`render`] turns plans into text, JSON and a pull-request comment.
//! - [`run`] is the sequence of a command that changes things (`apply`, `destroy`, a saved plan) or
//!   plans (`plan`, `drift`): lock, read, check, plan, confirm, execute, record, summarise. The CLI
//!   feeds it options, a reporter and a frontend (the prompt, Ctrl-C) and prints what it returns;
//!   the crash simulation drives the same functions.

pub mod address;
pub mod cloud;
pub mod cost;
pub mod driver;
pub mod engine;
pub mod executor;
pub mod graph;
pub mod guardrails;
pub mod plan;
pub mod render;
pub mod reporter;
pub mod run;
pub mod schema;
pub mod stack;
pub mod state;
pub mod value;

#[cfg(test)]
mod simulation;
