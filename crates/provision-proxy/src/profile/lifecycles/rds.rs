//! RDS instances: `creating` (no endpoint yet) → `backing-up` → `available` after a create,
//! `modifying` after a modify, and after a delete — which moto carries out at once — still
//! `deleting` (the last description the proxy saw) until the window passes, then not found. A
//! delete that asks for a final snapshot while the instance is `creating`, `backing-up` or
//! `modifying` is refused as AWS refuses it (`InvalidDBInstanceState`); moto deletes it at once.

use std::collections::HashMap;
use std::time::Duration;

use super::super::call::Call;
use super::super::http::Response;
use super::super::shapes::{error, query_result};
use super::super::xml::Element;
use super::super::{State, Turn};

const ID: &str = "rds.instance-lifecycle";

#[derive(Debug, Default)]
pub(crate) struct Instances {
    instances: HashMap<String, Instance>,
}

#[derive(Debug, Default)]
struct Instance {
    created: Option<Duration>,
    modified: Option<Duration>,
    deleted: Option<Duration>,
    /// The last description seen, to answer for it while it is deleting.
    last: Option<Element>,
    subnet_group: Option<String>,
}

/// What AWS would report now, when it differs from moto (`None`: moto's answer stands).
enum Phase {
    Status(&'static str),
    Gone,
}

fn phase(turn: &Turn<'_>, instance: &Instance) -> Option<Phase> {
    if !turn.on(ID) {
        return None;
    }
    let now = turn.now;
    if let Some(deleted) = instance.deleted {
        return Some(if now < deleted + turn.window(ID, "deleting") { Phase::Status("deleting") } else { Phase::Gone });
    }
    if let Some(created) = instance.created {
        let creating = created + turn.window(ID, "creating");
        if now < creating {
            return Some(Phase::Status("creating"));
        }
        if now < creating + turn.window(ID, "backing-up") {
            return Some(Phase::Status("backing-up"));
        }
    }
    match instance.modified {
        Some(modified) if now < modified + turn.window(ID, "modifying") => Some(Phase::Status("modifying")),
        _ => None,
    }
}

/// Sets the status of a `<DBInstance>`; AWS reports no endpoint while an instance is creating.
fn restate(element: &mut Element, status: &str) {
    element.set_child_text("DBInstanceStatus", status);
    if status == "creating" {
        element.remove_children("Endpoint");
    }
}

pub(crate) fn before(turn: &mut Turn<'_>, state: &mut State, call: &Call) -> Option<Response> {
    if call.operation == "DeleteDBInstance" {
        let instance = state.lifecycles.rds.instances.get(call.param("DBInstanceIdentifier")?)?;
        let Some(Phase::Status(status @ ("creating" | "backing-up" | "modifying"))) = phase(turn, instance) else {
            return None;
        };
        if call.param("SkipFinalSnapshot") == Some("true") {
            return None;
        }
        turn.meet(ID);
        let message = format!("Instance is currently {status} - a final snapshot cannot be taken.");
        return Some(error(call, 400, "InvalidDBInstanceState", &message));
    }
    if call.operation != "DeleteDBSubnetGroup" {
        return None;
    }
    const IN_USE: &str = "rds.subnet-group-in-use";
    let name = call.param("DBSubnetGroupName")?;
    let (id, _) = state.lifecycles.rds.instances.iter().find(|(_, instance)| {
        instance.subnet_group.as_deref() == Some(name)
            && matches!(phase(turn, instance), Some(Phase::Status("deleting")))
    })?;
    if !turn.on(IN_USE) {
        return None;
    }
    turn.meet(IN_USE);
    let message = format!(
        "Cannot delete the subnet group '{name}' because at least one database instance: {id} is still using it."
    );
    Some(error(call, 400, "InvalidDBSubnetGroupStateFault", &message))
}

pub(crate) fn after(turn: &mut Turn<'_>, state: &mut State, call: &Call, response: &mut Response) {
    let instances = &mut state.lifecycles.rds.instances;
    let now = turn.now;
    match call.operation.as_str() {
        "CreateDBInstance" | "ModifyDBInstance" | "DeleteDBInstance" if response.ok() => {
            let Some(id) = call.param("DBInstanceIdentifier") else { return };
            let instance = instances.entry(id.to_string()).or_default();
            match call.operation.as_str() {
                "CreateDBInstance" => {
                    *instance = Instance { created: Some(now), ..Instance::default() };
                    instance.subnet_group = call.param("DBSubnetGroupName").map(str::to_string);
                }
                "ModifyDBInstance" => instance.modified = Some(now),
                _ => instance.deleted = Some(now),
            }
            let Some(mut root) = response.xml() else { return };
            let result = format!("{}Result", call.operation);
            let Some(element) = root.find_mut(&[&result, "DBInstance"]) else { return };
            if instance.subnet_group.is_none() {
                instance.subnet_group = element.find(&["DBSubnetGroup", "DBSubnetGroupName"]).map(Element::text);
            }
            if let Some(Phase::Status(status)) = phase(turn, instance) {
                restate(element, status);
                turn.meet(ID);
            }
            instance.last = Some(element.clone());
            response.set_xml(&root);
        }
        "DescribeDBInstances" => describe(turn, instances, call, response),
        _ => {}
    }
}

fn describe(turn: &mut Turn<'_>, instances: &mut HashMap<String, Instance>, call: &Call, response: &mut Response) {
    let asked = call.param("DBInstanceIdentifier");
    let filtered: Vec<String> = call
        .form
        .iter()
        .filter(|(name, _)| name.starts_with("Filters.") && name.contains(".Values."))
        .map(|(_, value)| value.clone())
        .collect();
    let wanted = |id: &str| asked.is_none_or(|a| a == id) && (filtered.is_empty() || filtered.iter().any(|f| f == id));
    // Instances moto has forgotten that AWS would still show `deleting`.
    let deleting: Vec<Element> = instances
        .iter()
        .filter(|(id, instance)| wanted(id) && matches!(phase(turn, instance), Some(Phase::Status("deleting"))))
        .filter_map(|(_, instance)| instance.last.clone())
        .map(|mut element| {
            restate(&mut element, "deleting");
            element
        })
        .collect();
    if !response.ok() {
        if response.text().contains("DBInstanceNotFound") && !deleting.is_empty() {
            let mut list = Element::new("DBInstances");
            deleting.into_iter().for_each(|element| list.push(element));
            *response = query_result(call, vec![list]);
            turn.meet(ID);
        }
        return;
    }
    let Some(mut root) = response.xml() else { return };
    let Some(list) = root.find_mut(&["DescribeDBInstancesResult", "DBInstances"]) else { return };
    let mut met = false;
    let mut present = Vec::new();
    for element in list.elements_mut() {
        let Some(id) = element.child_text("DBInstanceIdentifier") else { continue };
        present.push(id.clone());
        let Some(instance) = instances.get_mut(&id) else {
            continue;
        };
        instance.last = Some(element.clone());
        if let Some(Phase::Status(status)) = phase(turn, instance) {
            restate(element, status);
            met = true;
        }
    }
    for element in deleting {
        if !present.contains(&element.child_text("DBInstanceIdentifier").unwrap_or_default()) {
            list.push(element);
            met = true;
        }
    }
    if met {
        turn.meet(ID);
        response.set_xml(&root);
    }
}
