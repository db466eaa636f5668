//! The stack file: what the user wants to exist.
//!
//! Loading is entirely offline. It checks the file against each resource type's schema, parses every
//! `${...}` reference, checks that what they name exists, and builds the dependency graph (so cycles
//! are found here too). Values stay as expressions: resolving them needs the state and, for values
//! that only exist after a create, the planner.

pub mod diagnostic;
pub mod endpoint;
pub mod expression;
mod loader;
mod naming;
pub mod notify;
pub mod region;
mod state_location;
pub mod string_spans;

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::path::PathBuf;

pub use diagnostic::{Diagnostic, StackError};
pub use expression::{Expr, Part, Reference, SpannedExpr};
pub use loader::{is_valid_stack_name, load, load_source, LoadOptions};
pub use naming::default_aws_name;
pub use state_location::{
    check_bucket_name, check_duration, check_s3_url, parse_duration, parse_s3_url, S3Location, StateLocation,
    DEFAULT_LOCK_TTL, MAX_DURATION,
};

use crate::address::Address;
use crate::graph::DependencyGraph;
use crate::value::Value;

#[derive(Debug)]
pub struct Stack {
    pub path: PathBuf,
    pub source: String,
    pub name: String,
    pub region: Option<String>,
    pub endpoint: Option<String>,
    pub tags: BTreeMap<String, String>,
    pub state: StateLocation,
    pub variables: BTreeMap<String, Value>,
    /// Variables whose values are secrets (declared `sensitive = true`, or given to a secret field):
    /// never shown, stored or put in an error, and refused anywhere but in a secret field.
    pub sensitive_variables: BTreeSet<String>,
    /// What the file says of each resource's destructive settings (`force_destroy`,
    /// `skip_final_snapshot`, …; `crate::plan::DESTRUCTIVE_FIELDS`), read even by a state-only load:
    /// a delete takes them from here, never from the state.
    pub deletion_settings: BTreeMap<Address, BTreeMap<String, Value>>,
    pub network: NetworkSpec,
    pub outputs: Vec<Output>,
    pub resources: BTreeMap<Address, ResourceSpec>,
    pub graph: DependencyGraph,
    /// `[[moved]]` entries: resources renamed in the file.
    pub moved: Vec<Moved>,
    /// Whether any value needs `[network]` looked up (a reference, or a default such as a
    /// security group's VPC).
    pub uses_network: bool,
    /// Warnings found while loading (errors stop the load instead).
    pub warnings: Vec<Diagnostic>,
    /// `[notify]`: where to tell someone what a run does.
    pub notify: Option<notify::Notify>,
    /// `[guardrails] allow`: guardrail findings accepted on purpose, with their reasons.
    pub guardrails: Vec<crate::guardrails::Allow>,
    /// Loaded for a command that needs only the state ([`LoadOptions::state_only`]): the
    /// resources, outputs and moves are empty because they were not read, not because the file
    /// has none.
    pub state_only: bool,
}

impl Stack {
    pub fn directory(&self) -> PathBuf {
        self.path.parent().map(|p| p.to_path_buf()).unwrap_or_else(|| PathBuf::from("."))
    }

    /// `file:line:column` of a byte offset in the stack file.
    pub fn location(&self, offset: usize) -> String {
        StackError::location(&self.path, &self.source, offset)
    }
}

#[derive(Clone, Debug)]
pub struct NetworkSpec {
    pub vpc: String,
    pub subnets: Option<Vec<String>>,
    /// `vpc = "${TYPE.NAME.id}"`: the stack's own network, a resource of the stack. Every
    /// `${network.*}` and every network default then refers to that resource's attributes (see
    /// the loader's `own_network`), so nothing is looked up.
    pub own: Option<Address>,
}

impl NetworkSpec {
    /// `[network] vpc = "default"` (or no `[network]`): the account's default VPC.
    pub fn is_default_vpc(&self) -> bool {
        self.own.is_none() && self.vpc == "default"
    }
}

/// A resource renamed in the stack file: the state entry under `from` belongs to `to` now.
#[derive(Clone, Debug, PartialEq)]
pub struct Moved {
    pub from: Address,
    pub to: Address,
    /// Where `from` stands in the stack file.
    pub span: Range<usize>,
}

#[derive(Clone, Debug)]
pub struct Output {
    pub name: String,
    pub value: SpannedExpr,
}

#[derive(Clone, Debug)]
pub struct ResourceSpec {
    pub address: Address,
    /// Where `[TYPE.NAME]` stands.
    pub span: Range<usize>,
    /// Fields as written (plus derived ones), without defaults.
    pub fields: BTreeMap<String, SpannedExpr>,
    pub tags: BTreeMap<String, String>,
    pub depends_on: Vec<Address>,
    /// `protect = true`: destroying, replacing or removing it is refused (see `plan::protection`).
    pub protect: bool,
}
