//! A plan is a value: computed first from the stack, the state and (after refresh) what really
//! exists; then shown, saved, or executed. The executor runs exactly the actions listed here.

mod diff;
mod excluded;
mod online;
mod planner;
pub mod protection;
mod refresh;
mod resolve;
mod undone;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use diff::diff_inputs;
pub use online::{keep_unresolved, known_parts, merge_resolved};
pub use planner::{plan, PlanInputs, PlanOptions, REPLACE_FLAG};
pub use refresh::{refresh, RefreshReport};
pub use resolve::{
    deletion_inputs, desired_inputs, prepare_inputs, resolve_inputs, secret_hash, secret_values, upgrade_secret_hashes,
    DesiredInputs, Resolver, DESTRUCTIVE_FIELDS,
};
pub use undone::{undone_drift, UndoneChange};

use crate::address::Address;
use crate::value::JsonMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Create,
    Update,
    Replace,
    Delete,
}

impl Action {
    pub fn verb(&self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update in place",
            Action::Replace => "replace",
            Action::Delete => "delete",
        }
    }

    pub fn symbol(&self) -> &'static str {
        match self {
            Action::Create => "+",
            Action::Update => "~",
            Action::Replace => "-/+",
            Action::Delete => "-",
        }
    }
}

/// A value after a change: known, known only after apply, or secret.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Planned {
    Known(serde_json::Value),
    Unknown,
    Sensitive,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// `field`, `field.key` or `field["key.with.dots"]`.
    pub path: String,
    /// `None` when the field was not set before (and for every field of a create).
    pub before: Option<Planned>,
    /// `None` when the field is removed.
    pub after: Option<Planned>,
    pub forces_replacement: bool,
    /// An input the engine derives itself (file hashes, a followed content hash), not a field of
    /// the stack file: shown by what it means (files that change), not by its value.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub hidden: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlannedAction {
    pub address: Address,
    pub action: Action,
    pub changes: Vec<Change>,
    /// For a replacement: the fields that force it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub forced_by: Vec<String>,
    /// A replacement that creates the new resource before deleting the old one.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub create_before_destroy: bool,
    /// Deletes the old copy a create-before-destroy replacement left behind (an interrupted run).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deposed: bool,
    /// What the driver wants the reader to know (data loss, a maintenance window).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// The inputs the plan knew (secrets as their hashes): the executor uses these and refuses an
    /// action whose file- or environment-derived inputs changed since.
    #[serde(default, skip_serializing_if = "JsonMap::is_empty")]
    pub inputs: JsonMap,
    /// For a create: the intended id an earlier, interrupted create of this resource recorded and
    /// refresh found nothing for. The create hands it to the driver (`ResourceRequest::intent`), so
    /// a request the killed run sent, still on its way, is recognised instead of made twice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub earlier_intent: Option<String>,
    /// What the action does to the monthly bill (see [`crate::cost`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monthly_cost: Option<crate::cost::CostChange>,
}

impl PlannedAction {
    pub fn new(address: Address, action: Action, changes: Vec<Change>, forced_by: Vec<String>) -> PlannedAction {
        PlannedAction {
            address,
            action,
            changes,
            forced_by,
            create_before_destroy: false,
            deposed: false,
            notes: Vec::new(),
            inputs: JsonMap::new(),
            earlier_intent: None,
            monthly_cost: None,
        }
    }

    /// The key of this action in the executor's queue: the address, or a distinct key for the old
    /// copy of a resource being replaced.
    pub fn key(&self) -> Address {
        if self.deposed {
            deposed_key(&self.address)
        } else {
            self.address.clone()
        }
    }
}

/// The queue key for deleting the old copy of `address`.
pub fn deposed_key(address: &Address) -> Address {
    Address::new(address.type_name.clone(), format!("{} (old)", address.name))
}

/// Something that changed in AWS since provision last applied it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Drift {
    pub address: Address,
    /// Empty when the resource is gone altogether.
    pub changes: Vec<Change>,
    pub deleted: bool,
}

/// A resource renamed in the stack file (`[[moved]]`): only the state changes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Move {
    pub from: Address,
    pub to: Address,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub stack: String,
    /// The state this plan was made against; a saved plan only applies to it.
    pub lineage: Option<String>,
    pub serial: Option<u64>,
    pub refreshed: bool,
    pub actions: Vec<PlannedAction>,
    pub drift: Vec<Drift>,
    /// Outputs as they will read after apply.
    pub outputs: BTreeMap<String, Planned>,
    /// Renames the state records before any action (`[[moved]]`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub moves: Vec<Move>,
    /// A plan that only accepts what changed outside provision into the state (`--refresh-only`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub refresh_only: bool,
    /// `protect` turned on or off in the stack file: the state records it before any action.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub protection: Vec<protection::Protection>,
    /// The monthly bill before and after (absent for a refresh-only plan).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<crate::cost::PlanCost>,
    /// What the built-in guardrails found in the stack as the plan leaves it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<crate::guardrails::Finding>,
    /// Fields changed outside provision that this plan sets back.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub undone: Vec<UndoneChange>,
}

impl Plan {
    /// Nothing to do at all: no action, no rename, no `protect` to record.
    pub fn is_empty(&self) -> bool {
        self.actions.is_empty() && self.moves.is_empty() && self.protection.is_empty()
    }

    pub fn count(&self, action: Action) -> usize {
        self.actions.iter().filter(|a| a.action == action).count()
    }

    pub fn action_for(&self, address: &Address) -> Option<&PlannedAction> {
        self.actions.iter().find(|a| &a.address == address && !a.deposed)
    }
}
