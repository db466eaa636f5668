//! The plan as one JSON document (SPEC §3): the same facts as the text, for programs.

use serde_json::{json, Value as Json};

use crate::cost::{dollars_json, PlanCost};
use crate::plan::{Action, Change, Plan, Planned};

use super::plan_text::{SENSITIVE, UNKNOWN};

pub fn render(plan: &Plan) -> Json {
    let actions: Vec<Json> = plan
        .actions
        .iter()
        .map(|action| {
            json!({
                "address": action.address.to_string(),
                "action": action.action,
                "forced_by": action.forced_by,
                "notes": action.notes,
                "changes": action.changes.iter().map(change).collect::<Vec<_>>(),
                "monthly_cost": action.monthly_cost.map(|c| json!({
                    "before": dollars_json(c.before),
                    "after": dollars_json(c.after),
                    "change": dollars_json(c.change()),
                })),
            })
        })
        .collect();
    let drift: Vec<Json> = plan
        .drift
        .iter()
        .map(|d| json!({"address": d.address.to_string(), "deleted": d.deleted, "changes": d.changes.iter().map(change).collect::<Vec<_>>()}))
        .collect();
    let outputs: serde_json::Map<String, Json> = plan.outputs.iter().map(|(k, v)| (k.clone(), planned(v))).collect();
    json!({
        "format_version": 1,
        "stack": plan.stack,
        "refreshed": plan.refreshed,
        "state": {"lineage": plan.lineage, "serial": plan.serial},
        "actions": actions,
        "moves": plan.moves.iter().map(|m| json!({"from": m.from.to_string(), "to": m.to.to_string()})).collect::<Vec<_>>(),
        "refresh_only": plan.refresh_only,
        "protection": plan.protection.iter().map(|p| json!({"address": p.address.to_string(), "protect": p.protect})).collect::<Vec<_>>(),
        "drift": drift,
        "outputs": outputs,
        "monthly_cost": plan.cost.as_ref().map(monthly_cost),
        "findings": plan.findings.iter().map(|f| json!({
            "check": f.check,
            "address": f.address.to_string(),
            "message": f.message,
            "why": f.why,
            "fix": f.fix,
            "allowed": f.allowed.is_some(),
            "reason": f.allowed,
        })).collect::<Vec<_>>(),
        "undone": plan.undone.iter().map(|u| json!({
            "address": u.address.to_string(),
            "path": u.path,
            "outside": u.outside.as_ref().map(planned),
            "after": u.restored.as_ref().map(planned),
        })).collect::<Vec<_>>(),
        "summary": {
            "move": plan.moves.len(),
            "add": plan.count(Action::Create),
            "change": plan.count(Action::Update),
            "replace": plan.count(Action::Replace),
            "destroy": plan.count(Action::Delete),
        },
    })
}

fn change(change: &Change) -> Json {
    json!({
        "path": change.path,
        "before": change.before.as_ref().map(planned),
        "after": change.after.as_ref().map(planned),
        "after_unknown": matches!(change.after, Some(Planned::Unknown)),
        "sensitive": matches!(change.after, Some(Planned::Sensitive)) || matches!(change.before, Some(Planned::Sensitive)),
        "forces_replacement": change.forces_replacement,
    })
}

fn planned(value: &Planned) -> Json {
    match value {
        Planned::Known(json) => json.clone(),
        Planned::Unknown => Json::String(UNKNOWN.into()),
        Planned::Sensitive => Json::String(SENSITIVE.into()),
    }
}

/// The bill before and after, in dollars, with what it leaves out. `null` figures when the region
/// has no prices.
fn monthly_cost(cost: &PlanCost) -> Json {
    let figure = |cents: i64| if cost.priced { dollars_json(cents) } else { Json::Null };
    json!({
        "currency": "USD",
        "region": cost.region,
        "prices_as_of": cost.prices_as_of,
        "before": figure(cost.before),
        "after": figure(cost.after),
        "change": figure(cost.change()),
        "usage_based": cost.usage,
        "unpriced": cost.unpriced.iter().map(|(address, reason)| json!({"address": address.to_string(), "reason": reason})).collect::<Vec<_>>(),
    })
}
