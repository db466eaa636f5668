//! Changes made outside provision that a plan would set back: someone's console hotfix (a desired
//! count raised during an incident, a rule added by hand) that an apply would silently revert.
//! The plan lists them under their own heading; `apply --keep-drift` refuses to undo them.

use serde::{Deserialize, Serialize};

use super::{Action, Drift, Planned, PlannedAction};
use crate::address::Address;

/// One field that refresh found changed outside provision and that the plan changes back.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UndoneChange {
    pub address: Address,
    pub path: String,
    /// The value set outside provision (`None`: removed outside provision).
    pub outside: Option<Planned>,
    /// The value apply would set (`None`: apply removes it).
    pub restored: Option<Planned>,
}

/// The drifted fields that `actions` change again.
pub fn undone_drift(drift: &[Drift], actions: &[PlannedAction]) -> Vec<UndoneChange> {
    let mut undone = Vec::new();
    for drifted in drift.iter().filter(|d| !d.deleted) {
        let Some(action) = actions.iter().find(|a| {
            a.address == drifted.address && !a.deposed && matches!(a.action, Action::Update | Action::Replace)
        }) else {
            continue;
        };
        for outside in &drifted.changes {
            if let Some(change) = action.changes.iter().find(|c| c.path == outside.path) {
                undone.push(UndoneChange {
                    address: drifted.address.clone(),
                    path: outside.path.clone(),
                    outside: outside.after.clone(),
                    restored: change.after.clone(),
                });
            }
        }
    }
    undone
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Change;
    use serde_json::json;

    fn change(path: &str, before: serde_json::Value, after: serde_json::Value) -> Change {
        Change {
            path: path.into(),
            before: Some(Planned::Known(before)),
            after: Some(Planned::Known(after)),
            forces_replacement: false,
            hidden: false,
        }
    }

    #[test]
    fn a_drifted_field_the_plan_sets_back_is_undone_and_one_it_keeps_is_not() {
        let service = Address::new("ecs_service", "api");
        // Raised from 3 to 6 in the console; `wait` was changed there too.
        let drift = vec![Drift {
            address: service.clone(),
            changes: vec![change("desired_count", json!(3), json!(6)), change("wait", json!("steady"), json!("none"))],
            deleted: false,
        }];
        // The stack file still says 3; `wait` was changed to match in the file, so nothing sets it back.
        let actions = vec![PlannedAction::new(
            service.clone(),
            Action::Update,
            vec![change("desired_count", json!(6), json!(3))],
            Vec::new(),
        )];
        let undone = undone_drift(&drift, &actions);
        assert_eq!(
            undone,
            vec![UndoneChange {
                address: service,
                path: "desired_count".into(),
                outside: Some(Planned::Known(json!(6))),
                restored: Some(Planned::Known(json!(3))),
            }]
        );
        assert!(undone_drift(&drift, &[]).is_empty());
    }
}
