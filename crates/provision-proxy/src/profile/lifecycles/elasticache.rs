//! ElastiCache replication groups: `creating` → `available` after a create, `modifying` after a
//! modification (answered by the profile, see `completions::elasticache`), and after a delete
//! `deleting` until the window passes, then not found — moto keeps a deleted group `deleting`
//! forever, so the profile finishes the delete in its answers, and lets a group of the same id be
//! made again (moto answers `ReplicationGroupAlreadyExists`): it is moto's old description with
//! the new create's settings, `creating` then `available`.

use std::collections::HashMap;
use std::time::Duration;

use super::super::call::Call;
use super::super::completions::elasticache as completion;
use super::super::http::Response;
use super::super::shapes::{error, query_result};
use super::super::xml::Element;
use super::super::{State, Turn};

pub(crate) const ID: &str = "elasticache.group-lifecycle";

#[derive(Debug, Default)]
pub(crate) struct Groups {
    pub(crate) groups: HashMap<String, Group>,
}

#[derive(Debug, Default)]
pub(crate) struct Group {
    pub created: Option<Duration>,
    pub modified: Option<Duration>,
    pub deleted: Option<Duration>,
    /// moto's last description of it (before any rewrite).
    pub last: Option<Element>,
    pub subnet_group: Option<String>,
    /// Made again after the profile finished its delete: moto still says `deleting`.
    pub recreated: bool,
}

#[derive(Debug, PartialEq)]
pub(crate) enum Phase {
    Status(&'static str),
    Gone,
}

pub(crate) fn phase(turn: &Turn<'_>, group: &Group) -> Option<Phase> {
    let now = turn.now;
    if let Some(deleted) = group.deleted {
        // moto never finishes a delete: with the rule off, it stays `deleting` as moto says.
        if !turn.on(ID) {
            return None;
        }
        return Some(if now < deleted + turn.window(ID, "deleting") { Phase::Status("deleting") } else { Phase::Gone });
    }
    if !turn.on(ID) {
        return None;
    }
    match (group.created, group.modified) {
        (Some(created), _) if now < created + turn.window(ID, "creating") => Some(Phase::Status("creating")),
        (_, Some(modified)) if now < modified + turn.window(ID, "modifying") => Some(Phase::Status("modifying")),
        _ => None,
    }
}

fn restate(element: &mut Element, status: &str) {
    element.set_child_text("Status", status);
    if let Some(node_groups) = element.child_mut("NodeGroups") {
        for node_group in node_groups.elements_mut() {
            node_group.set_child_text("Status", status);
        }
    }
}

pub(crate) fn before(turn: &mut Turn<'_>, state: &mut State, call: &Call) -> Option<Response> {
    if call.operation == "DeleteReplicationGroup" {
        // terraform-provider-aws retries this on delete (`InvalidReplicationGroupState`).
        let id = call.param("ReplicationGroupId")?;
        let group = state.lifecycles.elasticache.groups.get(id)?;
        let Some(Phase::Status(status @ ("creating" | "modifying"))) = phase(turn, group) else { return None };
        turn.meet(ID);
        let message = format!("Replication group {id} is not in available state (it is {status}).");
        return Some(error(call, 400, "InvalidReplicationGroupState", &message));
    }
    if call.operation != "DeleteCacheSubnetGroup" {
        return None;
    }
    const IN_USE: &str = "elasticache.subnet-group-in-use";
    let name = call.param("CacheSubnetGroupName")?;
    let groups = &state.lifecycles.elasticache.groups;
    let in_use = groups.values().any(|group| {
        group.subnet_group.as_deref() == Some(name)
            && (group.deleted.is_none() || phase(turn, group) == Some(Phase::Status("deleting")))
    });
    if !in_use || !turn.on(IN_USE) {
        return None;
    }
    turn.meet(IN_USE);
    Some(error(
        call,
        400,
        "CacheSubnetGroupInUse",
        &format!("Cache subnet group {name} is currently in use by a cache cluster."),
    ))
}

pub(crate) fn after(turn: &mut Turn<'_>, state: &mut State, call: &Call, response: &mut Response) {
    let now = turn.now;
    match call.operation.as_str() {
        "CreateReplicationGroup" | "DeleteReplicationGroup" if response.ok() => {
            let Some(id) = call.param("ReplicationGroupId") else { return };
            let group = state.lifecycles.elasticache.groups.entry(id.to_string()).or_default();
            if call.operation == "CreateReplicationGroup" {
                *group = Group { created: Some(now), ..Group::default() };
                group.subnet_group = call.param("CacheSubnetGroupName").map(str::to_string);
            } else {
                group.deleted = Some(now);
            }
            let Some(mut root) = response.xml() else { return };
            let result = format!("{}Result", call.operation);
            let Some(element) = root.find_mut(&[&result, "ReplicationGroup"]) else { return };
            group.last = Some(element.clone());
            completion::overlay(turn, &state.completions.elasticache, id, element);
            if let Some(Phase::Status(status)) = phase(turn, group) {
                restate(element, status);
                turn.meet(ID);
            }
            response.set_xml(&root);
        }
        "CreateReplicationGroup" if turn.on(ID) && response.text().contains("ReplicationGroupAlreadyExists") => {
            recreate(turn, state, call, response)
        }
        "DescribeReplicationGroups" => describe(turn, state, call, response),
        _ => {}
    }
}

/// A create of the id of a group whose delete the profile finished: on AWS the id is free again.
fn recreate(turn: &mut Turn<'_>, state: &mut State, call: &Call, response: &mut Response) {
    let Some(id) = call.param("ReplicationGroupId") else { return };
    let Some(group) = state.lifecycles.elasticache.groups.get_mut(id) else { return };
    if phase(turn, group) != Some(Phase::Gone) {
        return;
    }
    let Some(mut element) = group.last.clone() else { return };
    *group = Group {
        created: Some(turn.now),
        last: Some(element.clone()),
        subnet_group: call.param("CacheSubnetGroupName").map(str::to_string),
        recreated: true,
        ..Group::default()
    };
    state.completions.elasticache.remade(call, id, turn.now);
    completion::overlay(turn, &state.completions.elasticache, id, &mut element);
    restate(&mut element, "creating");
    turn.meet(ID);
    *response = query_result(call, vec![element]);
}

fn describe(turn: &mut Turn<'_>, state: &mut State, call: &Call, response: &mut Response) {
    if !response.ok() {
        return;
    }
    let Some(mut root) = response.xml() else { return };
    let Some(list) = root.find_mut(&["DescribeReplicationGroupsResult", "ReplicationGroups"]) else { return };
    let mut changed = false;
    let mut kept = Vec::new();
    for mut element in list.take_elements() {
        let id = element.child_text("ReplicationGroupId").unwrap_or_default();
        let group = state.lifecycles.elasticache.groups.entry(id.clone()).or_default();
        group.last = Some(element.clone());
        changed |= completion::overlay(turn, &state.completions.elasticache, &id, &mut element);
        match phase(turn, group) {
            Some(Phase::Gone) => {
                turn.meet(ID);
                changed = true;
                continue;
            }
            Some(Phase::Status(status)) => {
                restate(&mut element, status);
                turn.meet(ID);
                changed = true;
            }
            None if group.recreated => {
                restate(&mut element, "available");
                changed = true;
            }
            None => {}
        }
        kept.push(element);
    }
    if kept.is_empty() && changed {
        if let Some(id) = call.param("ReplicationGroupId") {
            *response =
                error(call, 404, "ReplicationGroupNotFoundFault", &format!("Replication group {id} not found."));
            return;
        }
    }
    for element in kept {
        list.push(element);
    }
    if changed {
        response.set_xml(&root);
    }
}
