//! What moto 5.1.22 lacks of ElastiCache, answered as AWS answers: `DeleteCacheSubnetGroup` (moto:
//! an HTML error page), `ModifyReplicationGroup`, `IncreaseReplicaCount` and
//! `DecreaseReplicaCount` (moto: not implemented). A modification is kept as an overlay on moto's
//! descriptions, applied once the group's `modifying` window has passed, so later reads agree with
//! what was asked: node type, snapshot retention, replicas, auth token rotation.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use super::super::call::Call;
use super::super::http::Response;
use super::super::lifecycles::elasticache::{self as lifecycle, Phase};
use super::super::lifecycles::iso_now;
use super::super::shapes::{error, query_result};
use super::super::xml::Element;
use super::super::{State, Turn};

const SUBNET_GROUPS: &str = "complete.elasticache.delete-cache-subnet-group";
const MODIFY: &str = "complete.elasticache.modify-replication-group";
const MODIFICATIONS: [&str; 3] = ["ModifyReplicationGroup", "IncreaseReplicaCount", "DecreaseReplicaCount"];

/// A value and the AWS time from which reads show it.
type Pending<T> = Option<(T, Duration)>;

#[derive(Debug, Default)]
pub(crate) struct Overlay {
    node_type: Pending<String>,
    snapshot_retention: Pending<String>,
    replicas: Pending<usize>,
    token_rotated: Pending<String>,
}

#[derive(Debug, Default)]
pub(crate) struct Caches {
    overlays: HashMap<String, Overlay>,
    /// Cache subnet groups the proxy saw exist.
    subnet_groups: HashSet<String>,
    deleted_subnet_groups: HashSet<String>,
    /// Subnet groups made again over the one moto still holds: name → the subnets the new create
    /// asked for, which reads show in place of moto's old ones.
    remade_subnet_groups: HashMap<String, Vec<String>>,
}

impl Caches {
    /// A group deleted and made again under its id, over moto's old description: the new create's
    /// node type, snapshot retention and replicas show from `now`, the old modifications go.
    pub(crate) fn remade(&mut self, call: &Call, id: &str, now: Duration) {
        let replicas = call.param("ReplicasPerNodeGroup").and_then(|n| n.parse().ok()).or_else(|| {
            call.param("NumCacheClusters").and_then(|n| n.parse::<usize>().ok()).map(|n| n.saturating_sub(1))
        });
        let overlay = Overlay {
            node_type: call.param("CacheNodeType").map(|node_type| (node_type.to_string(), now)),
            snapshot_retention: call.param("SnapshotRetentionLimit").map(|limit| (limit.to_string(), now)),
            replicas: replicas.map(|replicas| (replicas, now)),
            token_rotated: None,
        };
        self.overlays.insert(id.to_string(), overlay);
    }
}

/// Applies the modifications whose time has come to a `<ReplicationGroup>`; whether it changed.
pub(crate) fn overlay(turn: &Turn<'_>, caches: &Caches, id: &str, element: &mut Element) -> bool {
    let Some(overlay) = caches.overlays.get(id) else { return false };
    let due = |at: &Duration| turn.now >= *at;
    let mut changed = false;
    if let Some((node_type, _)) = overlay.node_type.as_ref().filter(|(_, at)| due(at)) {
        element.set_child_text("CacheNodeType", node_type);
        changed = true;
    }
    if let Some((retention, _)) = overlay.snapshot_retention.as_ref().filter(|(_, at)| due(at)) {
        element.set_child_text("SnapshotRetentionLimit", retention);
        changed = true;
    }
    if let Some((when, _)) = overlay.token_rotated.as_ref().filter(|(_, at)| due(at)) {
        element.set_child_text("AuthTokenEnabled", "true");
        element.set_child_text("AuthTokenLastModifiedDate", when);
        changed = true;
    }
    if let Some((replicas, _)) = overlay.replicas.filter(|(_, at)| due(at)) {
        set_replicas(element, id, replicas);
        changed = true;
    }
    changed
}

/// Rewrites the member clusters and the first shard's members to a primary and `replicas` replicas.
fn set_replicas(element: &mut Element, id: &str, replicas: usize) {
    let names: Vec<String> = (1..=replicas + 1).map(|n| format!("{id}-{n:03}")).collect();
    if let Some(members) = element.child_mut("MemberClusters") {
        members.take_elements();
        names.iter().for_each(|name| members.push(Element::text_element("ClusterId", name)));
    }
    let Some(members) = element.find_mut(&["NodeGroups", "NodeGroup", "NodeGroupMembers"]) else { return };
    let existing = members.take_elements();
    let Some(template) = existing.first().cloned() else { return };
    let old_name = template.child_text("CacheClusterId").unwrap_or_default();
    for (n, name) in names.iter().enumerate() {
        let mut member = existing.get(n).cloned().unwrap_or_else(|| template.clone());
        member.set_child_text("CacheClusterId", name);
        member.set_child_text("CurrentRole", if n == 0 { "primary" } else { "replica" });
        if let Some(address) = member.find_mut(&["ReadEndpoint", "Address"]) {
            let text = address.text().replacen(&old_name, name, 1);
            address.set_text(&text);
        }
        members.push(member);
    }
}

pub(crate) fn before(turn: &mut Turn<'_>, state: &mut State, call: &Call) -> Option<Response> {
    if call.service != "elasticache" {
        return None;
    }
    let caches = &mut state.completions.elasticache;
    match call.operation.as_str() {
        "DeleteCacheSubnetGroup" if turn.on(SUBNET_GROUPS) => {
            let name = call.param("CacheSubnetGroupName")?;
            if caches.deleted_subnet_groups.contains(name) {
                turn.meet(SUBNET_GROUPS);
                return Some(error(
                    call,
                    400,
                    "CacheSubnetGroupNotFoundFault",
                    &format!("CacheSubnetGroup {name} not found."),
                ));
            }
            if !caches.subnet_groups.remove(name) {
                return None;
            }
            caches.remade_subnet_groups.remove(name);
            caches.deleted_subnet_groups.insert(name.to_string());
            turn.meet(SUBNET_GROUPS);
            let mut response = query_result(call, Vec::new());
            if let Some(mut root) = response.xml() {
                root.remove_children("DeleteCacheSubnetGroupResult");
                response.set_xml(&root);
            }
            Some(response)
        }
        operation if MODIFICATIONS.contains(&operation) && turn.on(MODIFY) => modify(turn, state, call),
        _ => None,
    }
}

fn modify(turn: &mut Turn<'_>, state: &mut State, call: &Call) -> Option<Response> {
    let id = call.param("ReplicationGroupId")?.to_string();
    let group = state.lifecycles.elasticache.groups.get_mut(&id)?;
    let last = group.last.clone()?;
    match lifecycle::phase(turn, group) {
        Some(Phase::Gone) => {
            turn.meet(MODIFY);
            return Some(error(
                call,
                404,
                "ReplicationGroupNotFoundFault",
                &format!("Replication group {id} not found."),
            ));
        }
        Some(Phase::Status(_)) => {
            turn.meet(lifecycle::ID);
            let message = "Replication group must be in available state to modify.";
            return Some(error(call, 400, "InvalidReplicationGroupState", message));
        }
        None => {}
    }
    let lifecycle_on = turn.on(lifecycle::ID);
    let due = turn.now + if lifecycle_on { turn.window(lifecycle::ID, "modifying") } else { Duration::ZERO };
    let overlay = state.completions.elasticache.overlays.entry(id.clone()).or_default();
    match call.operation.as_str() {
        "ModifyReplicationGroup" => {
            if let Some(node_type) = call.param("CacheNodeType") {
                overlay.node_type = Some((node_type.to_string(), due));
            }
            if let Some(retention) = call.param("SnapshotRetentionLimit") {
                overlay.snapshot_retention = Some((retention.to_string(), due));
            }
            if call.param("AuthToken").is_some() {
                overlay.token_rotated = Some((iso_now(), due));
            }
        }
        _ => {
            let replicas = call.param("NewReplicaCount").and_then(|n| n.parse().ok())?;
            overlay.replicas = Some((replicas, due));
        }
    }
    group.modified = Some(turn.now);
    turn.meet(MODIFY);
    let mut element = last;
    overlay_now(turn, &state.completions.elasticache, &id, &mut element);
    if lifecycle_on {
        element.set_child_text("Status", "modifying");
        turn.meet(lifecycle::ID);
    }
    Some(query_result(call, vec![element]))
}

fn overlay_now(turn: &Turn<'_>, caches: &Caches, id: &str, element: &mut Element) {
    overlay(turn, caches, id, element);
}

pub(crate) fn after(turn: &mut Turn<'_>, state: &mut State, call: &Call, response: &mut Response) {
    let caches = &mut state.completions.elasticache;
    match call.operation.as_str() {
        "CreateCacheSubnetGroup" if response.ok() => {
            if let Some(name) = call.param("CacheSubnetGroupName") {
                caches.subnet_groups.insert(name.to_string());
                caches.deleted_subnet_groups.remove(name);
                caches.remade_subnet_groups.remove(name);
            }
        }
        // A modification of a group made again changes what reads of it show.
        "ModifyCacheSubnetGroup" if response.ok() => {
            let Some(name) = call.param("CacheSubnetGroupName") else { return };
            let subnets = call.list("SubnetIds", "");
            if let (Some(remade), false) = (caches.remade_subnet_groups.get_mut(name), subnets.is_empty()) {
                *remade = subnets;
            }
        }
        // The profile deleted the group, moto still has it: on AWS the name is free again, so
        // the create of the same name (a destroy, then an apply) succeeds.
        "CreateCacheSubnetGroup"
            if turn.on(SUBNET_GROUPS) && response.text().contains("CacheSubnetGroupAlreadyExists") =>
        {
            let Some(name) = call.param("CacheSubnetGroupName") else { return };
            if !caches.deleted_subnet_groups.remove(name) {
                return;
            }
            caches.subnet_groups.insert(name.to_string());
            turn.meet(SUBNET_GROUPS);
            let subnets = call.list("SubnetIds", "");
            let mut group = Element::new("CacheSubnetGroup");
            group.push(Element::text_element("CacheSubnetGroupName", name));
            if let Some(description) = call.param("CacheSubnetGroupDescription") {
                group.push(Element::text_element("CacheSubnetGroupDescription", description));
            }
            group.push(subnets_element(&subnets));
            caches.remade_subnet_groups.insert(name.to_string(), subnets);
            *response = query_result(call, vec![group]);
        }
        "DescribeCacheSubnetGroups" if response.ok() => {
            let Some(mut root) = response.xml() else { return };
            let Some(list) = root.find_mut(&["DescribeCacheSubnetGroupsResult", "CacheSubnetGroups"]) else { return };
            let mut removed = false;
            let mut remade = false;
            let mut kept = Vec::new();
            for mut element in list.take_elements() {
                let name = element.child_text("CacheSubnetGroupName").unwrap_or_default();
                if caches.deleted_subnet_groups.contains(&name) {
                    removed = true;
                } else {
                    if let Some(subnets) = caches.remade_subnet_groups.get(&name) {
                        element.remove_children("Subnets");
                        element.push(subnets_element(subnets));
                        remade = true;
                    }
                    caches.subnet_groups.insert(name);
                    kept.push(element);
                }
            }
            kept.into_iter().for_each(|element| list.push(element));
            if remade && !removed {
                turn.meet(SUBNET_GROUPS);
                response.set_xml(&root);
                return;
            }
            if !removed {
                return;
            }
            turn.meet(SUBNET_GROUPS);
            match call.param("CacheSubnetGroupName") {
                Some(name) => {
                    *response = error(
                        call,
                        404,
                        "CacheSubnetGroupNotFoundFault",
                        &format!("CacheSubnetGroup {name} not found."),
                    );
                }
                None => response.set_xml(&root),
            }
        }
        _ => {}
    }
}

/// `<Subnets>` as ElastiCache describes a subnet group's subnets.
fn subnets_element(subnets: &[String]) -> Element {
    let mut list = Element::new("Subnets");
    for subnet in subnets {
        let mut item = Element::new("Subnet");
        item.push(Element::text_element("SubnetIdentifier", subnet));
        list.push(item);
    }
    list
}

/// The description of a group the profile must modify but has not seen yet.
pub(crate) fn prerequisite(state: &State, call: &Call) -> Option<(String, String)> {
    if call.service != "elasticache" || !MODIFICATIONS.contains(&call.operation.as_str()) {
        return None;
    }
    let id = call.param("ReplicationGroupId")?;
    let known = state.lifecycles.elasticache.groups.get(id).is_some_and(|group| group.last.is_some());
    let body = form_urlencoded::Serializer::new(String::new())
        .append_pair("Action", "DescribeReplicationGroups")
        .append_pair("Version", "2015-02-02")
        .append_pair("ReplicationGroupId", id)
        .finish();
    (!known).then(|| ("application/x-www-form-urlencoded; charset=utf-8".to_string(), body))
}

pub(crate) fn learn(state: &mut State, response: &Response) {
    let Some(root) = response.xml() else { return };
    let Some(list) = root.find(&["DescribeReplicationGroupsResult", "ReplicationGroups"]) else { return };
    for element in list.elements() {
        let id = element.child_text("ReplicationGroupId").unwrap_or_default();
        state.lifecycles.elasticache.groups.entry(id).or_default().last = Some(element.clone());
    }
}
