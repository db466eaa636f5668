//! `protect = true`: a resource that no plan may destroy, replace or drop from the file.
//!
//! The flag lives in the stack file and, once applied, in the state. A plan refuses to delete or
//! replace a resource the state records as protected, or one the file protects; so `destroy`
//! (which reads only the state), removing the resource from the file, and a change that forces a
//! replacement all stop before anything happens, naming it. Turning protection off is itself an
//! apply: set `protect = false`, apply (only the state changes), then destroy or replace.

use std::collections::BTreeSet;

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};

use super::{Action, Plan};
use crate::address::Address;
use crate::stack::Stack;
use crate::state::State;

/// `protect` turned on or off for a resource the state holds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Protection {
    pub address: Address,
    pub protect: bool,
}

/// The resources the state records as protected.
pub fn protected(state: &State) -> BTreeSet<Address> {
    state.resources.iter().filter(|(_, entry)| entry.protect).map(|(address, _)| address.clone()).collect()
}

/// Sets the state's flags to what the stack file says, for the resources both hold, and returns
/// what changed (the plan shows it; the apply records it before any action).
pub fn record(stack: &Stack, state: &mut State) -> Vec<Protection> {
    let mut changes = Vec::new();
    for (address, entry) in state.resources.iter_mut() {
        let Some(resource) = stack.resources.get(address) else { continue };
        if entry.protect != resource.protect {
            entry.protect = resource.protect;
            changes.push(Protection { address: address.clone(), protect: resource.protect });
        }
    }
    changes
}

/// Refuses a plan that deletes or replaces a protected resource: one in `protected` (the state's
/// flags before this plan) or one the stack file protects.
pub fn refuse(plan: &Plan, protected: &BTreeSet<Address>, stack: Option<&Stack>, destroy: bool) -> Result<()> {
    let in_file = |address: &Address| stack.and_then(|s| s.resources.get(address)).is_some_and(|r| r.protect);
    let mut refused = Vec::new();
    for action in plan.actions.iter().filter(|action| !action.deposed) {
        let address = &action.address;
        if !protected.contains(address) && !in_file(address) {
            continue;
        }
        let what = match action.action {
            Action::Delete if destroy => "`destroy` would delete it".to_string(),
            Action::Delete => "it is no longer in the stack file, so the plan would delete it".to_string(),
            Action::Replace if action.forced_by.is_empty() => "the plan would replace it".to_string(),
            Action::Replace => {
                format!("the plan would replace it ({} forces replacement)", action.forced_by.join(", "))
            }
            Action::Create | Action::Update => continue,
        };
        refused.push((address, what, action.action == Action::Delete && !destroy));
    }
    if refused.is_empty() {
        return Ok(());
    }
    let lines: Vec<String> = refused
        .iter()
        .map(|(address, what, _)| format!("`{address}` is protected (`protect = true`): {what}"))
        .collect();
    let hint = if refused.iter().any(|(_, _, removed)| *removed) {
        "to let a removed resource go, put it back with `protect = false`, run `provision apply`, then remove it"
    } else {
        "to let it go, set `protect = false` on it in the stack file and run `provision apply` first"
    };
    bail!("refusing to go on, nothing was changed:\n  {}\n\nhint: {hint}", lines.join("\n  "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::PlannedAction;
    use std::collections::BTreeMap;

    fn plan(actions: Vec<PlannedAction>) -> Plan {
        Plan {
            stack: "shop".into(),
            lineage: None,
            serial: None,
            refreshed: true,
            actions,
            drift: Vec::new(),
            outputs: BTreeMap::new(),
            moves: Vec::new(),
            refresh_only: false,
            protection: Vec::new(),
            cost: None,
            findings: Vec::new(),
            undone: Vec::new(),
        }
    }

    fn database() -> Address {
        Address::new("db_instance", "main")
    }

    #[test]
    fn a_destroy_of_a_protected_resource_is_refused_naming_it() {
        let deleting = plan(vec![PlannedAction::new(database(), Action::Delete, Vec::new(), Vec::new())]);
        let protected = BTreeSet::from([database()]);
        let error = refuse(&deleting, &protected, None, true).unwrap_err().to_string();
        assert!(
            error.contains("`db_instance.main` is protected (`protect = true`): `destroy` would delete it"),
            "{error}"
        );
        assert!(error.contains("hint: to let it go, set `protect = false`"), "{error}");
        assert!(refuse(&deleting, &BTreeSet::new(), None, true).is_ok(), "an unprotected resource may go");
    }

    #[test]
    fn a_replacement_names_the_field_that_forces_it() {
        let replacing =
            plan(vec![PlannedAction::new(database(), Action::Replace, Vec::new(), vec!["engine".to_string()])]);
        let error = refuse(&replacing, &BTreeSet::from([database()]), None, false).unwrap_err().to_string();
        assert!(error.contains("the plan would replace it (engine forces replacement)"), "{error}");
    }

    #[test]
    fn removing_a_protected_resource_from_the_file_says_how_to_let_it_go() {
        let removing = plan(vec![PlannedAction::new(database(), Action::Delete, Vec::new(), Vec::new())]);
        let error = refuse(&removing, &BTreeSet::from([database()]), None, false).unwrap_err().to_string();
        assert!(error.contains("no longer in the stack file"), "{error}");
        assert!(error.contains("put it back with `protect = false`"), "{error}");
    }

    #[test]
    fn updates_and_creates_are_never_refused() {
        let changing = plan(vec![
            PlannedAction::new(database(), Action::Update, Vec::new(), Vec::new()),
            PlannedAction::new(Address::new("s3_bucket", "site"), Action::Create, Vec::new(), Vec::new()),
        ]);
        assert!(refuse(&changing, &BTreeSet::from([database()]), None, false).is_ok());
    }
}
