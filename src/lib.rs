//! provision: declarative AWS infrastructure for web apps.
//!
//! A tour, in the order data flows:
//!
//! - [`stack`] reads the TOML stack file into a [`stack::Stack`]: typed against each resource type's
//!   [`schema`], references parsed, the dependency [`graph`] built. Offline; errors carry
//!   file:line:column.
//! - [`state`] is what provision made last time: a versioned JSON file, locked while a command may
//!   change it, rewritten atomically after every single resource action.
//! - [`plan`] refreshes the state against AWS (batched reads) and diffs it with the stack into a
//!   [`plan::Plan`] value: create / update / replace / delete with per-field before → after.
//! - [`executor`] runs a plan's actions concurrently in dependency order, persisting the state after
//!   each one and reporting through a [`executor::Reporter`].
//! - [`drivers`] hold all AWS knowledge, one file per resource type behind one trait; [`aws`] is the
//!   shared SDK configuration. Nothing else touches an `aws-sdk-*` crate.
//! - [`ops`] are the commands (plan, apply, destroy …) as functions; [`cli`] turns flags into calls to
//!   them, and [`render`] turns plans into text and JSON.

pub mod address;
pub mod aws;
pub mod cli;
pub mod drivers;
pub mod executor;
pub mod graph;
pub mod ops;
pub mod plan;
pub mod render;
pub mod schema;
pub mod stack;
pub mod state;
pub mod value;
