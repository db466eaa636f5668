//! A replication group as ElastiCache describes it, turned into the inputs the planner compares
//! and the attributes other resources reference.
//!
//! The group itself reports its node type, replicas, encryption, auth token status and snapshot
//! retention. Its security groups and engine version are only on its nodes, so the primary node is
//! described too, and its subnets are on the cache subnet group. What cannot be read (the emulator
//! does not make the nodes) is left out, so it never shows as drift. Settings are reported as the
//! stack would write them:
//! - `engine_version = "7.1"` is satisfied by the `7.1.0` ElastiCache runs;
//! - when the stack left `security_groups` out, ElastiCache chose the VPC's default group, so the
//!   groups are not reported;
//! - the auth token is never read back (ElastiCache does not return it); only a token that is gone
//!   (`AuthTokenEnabled = false` while the stack sets one) shows, so the plan sets it again.

use std::collections::BTreeMap;

use aws_sdk_elasticache::types::{CacheCluster, CacheSubnetGroup, Endpoint, ReplicationGroup};
use serde_json::Value as Json;

use super::api;
use crate::drivers::tags::user_tags;
use crate::drivers::Observed;
use provision_core::value::JsonMap;

/// What a refresh read about one group.
pub(super) struct Reading {
    pub group: ReplicationGroup,
    /// The primary node, when it could be described.
    pub primary: Option<CacheCluster>,
    pub subnet_group: Option<CacheSubnetGroup>,
    pub tags: BTreeMap<String, String>,
}

/// The group as the planner compares it, given the inputs the state recorded for it.
pub(super) fn observe(reading: &Reading, applied: &JsonMap) -> Observed {
    let group = &reading.group;
    let primary = reading.primary.as_ref();
    let mut inputs = JsonMap::new();
    let mut put = |name: &str, value: Option<Json>| {
        if let Some(value) = value {
            inputs.insert(name.to_string(), value);
        }
    };
    put("name", group.replication_group_id().map(Json::from));
    put("engine", group.engine().or(primary.and_then(CacheCluster::engine)).map(Json::from));
    if let Some(wanted) = applied.get("engine_version").and_then(Json::as_str) {
        let actual = primary.and_then(CacheCluster::engine_version);
        put("engine_version", actual.map(|actual| Json::from(engine_version(actual, wanted))));
    }
    put("node_type", group.cache_node_type().map(Json::from));
    put("replicas", Some(Json::from(replicas(group))));
    put("subnets", reading.subnet_group.as_ref().map(|subnets| Json::from(api::subnet_ids(subnets))));
    let applied_groups =
        applied.get("security_groups").is_some_and(|g| g.is_null() || g.as_array().is_some_and(|g| !g.is_empty()));
    if applied_groups {
        put("security_groups", primary.map(|primary| Json::from(security_groups(primary))));
    }
    put("transit_encryption", group.transit_encryption_enabled().map(Json::from));
    // Read always: an adopted cache's choice is written into a generated file, and a cache made
    // before encryption at rest became the default plans its replacement (docs/security.md).
    put("at_rest_encryption", Some(Json::from(group.at_rest_encryption_enabled().unwrap_or(false))));
    let applied_token = applied.get("auth_token").is_some_and(|token| !token.is_null());
    if applied_token && group.auth_token_enabled() == Some(false) {
        put("auth_token", Some(Json::Null));
    }
    put("snapshot_retention_days", group.snapshot_retention_limit().map(Json::from));
    put("tags", Some(user_tags(&reading.tags)));

    Observed { id: group.replication_group_id().unwrap_or_default().to_string(), inputs, attributes: attributes(group) }
}

/// The attributes of the schema; `address`, `port` and `endpoint` are the primary endpoint's (the
/// configuration endpoint's for a group in cluster mode), which exist once the group is available.
pub(super) fn attributes(group: &ReplicationGroup) -> JsonMap {
    let endpoint: Option<&Endpoint> = group
        .node_groups()
        .first()
        .and_then(|node_group| node_group.primary_endpoint())
        .or(group.configuration_endpoint());
    let address = endpoint.and_then(Endpoint::address).unwrap_or_default();
    let port = endpoint.and_then(Endpoint::port);
    let joined = match port {
        Some(port) if !address.is_empty() => format!("{address}:{port}"),
        _ => String::new(),
    };
    let mut attributes = JsonMap::new();
    attributes.insert("id".into(), group.replication_group_id().unwrap_or_default().into());
    attributes.insert("arn".into(), group.arn().unwrap_or_default().into());
    attributes.insert("address".into(), address.into());
    attributes.insert("port".into(), port.map(Json::from).unwrap_or(Json::Null));
    attributes.insert("endpoint".into(), joined.into());
    attributes
}

/// Read replicas: the nodes of the (first) shard besides its primary.
pub(super) fn replicas(group: &ReplicationGroup) -> i64 {
    let members = group.node_groups().first().map(|node_group| node_group.node_group_members().len());
    let nodes = members.filter(|count| *count > 0).unwrap_or(group.member_clusters().len());
    nodes.saturating_sub(1) as i64
}

/// The VPC security groups of the node, sorted like the stack's.
fn security_groups(primary: &CacheCluster) -> Vec<String> {
    let mut groups: Vec<String> = primary
        .security_groups()
        .iter()
        .filter(|membership| membership.status() != Some("removing"))
        .filter_map(|membership| membership.security_group_id().map(str::to_string))
        .collect();
    groups.sort();
    groups
}

/// The version the stack asked for when ElastiCache runs a release of it (`7.1` → `7.1.0`,
/// `6.x` → `6.2.6`).
fn engine_version<'a>(actual: &'a str, wanted: &'a str) -> &'a str {
    let prefix = wanted.strip_suffix('x').unwrap_or(wanted);
    let refines = actual == wanted
        || (prefix.ends_with('.') && actual.starts_with(prefix))
        || actual.strip_prefix(wanted).is_some_and(|rest| rest.starts_with('.'));
    if refines {
        wanted
    } else {
        actual
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_elasticache::types::{NodeGroup, NodeGroupMember, SecurityGroupMembership, Subnet};

    fn applied(json: Json) -> JsonMap {
        json.as_object().cloned().expect("an object")
    }

    fn group(members: usize) -> ReplicationGroup {
        let endpoint =
            Endpoint::builder().address("master.shop-sessions.abc.use1.cache.amazonaws.com").port(6379).build();
        let mut node_group = NodeGroup::builder().node_group_id("0001").primary_endpoint(endpoint);
        for n in 1..=members {
            let role = if n == 1 { "primary" } else { "replica" };
            node_group = node_group.node_group_members(
                NodeGroupMember::builder().cache_cluster_id(format!("shop-sessions-00{n}")).current_role(role).build(),
            );
        }
        ReplicationGroup::builder()
            .replication_group_id("shop-sessions")
            .arn("arn:aws:elasticache:us-east-1:123456789012:replicationgroup:shop-sessions")
            .status("available")
            .engine("redis")
            .cache_node_type("cache.t3.micro")
            .transit_encryption_enabled(true)
            .auth_token_enabled(false)
            .snapshot_retention_limit(0)
            .node_groups(node_group.build())
            .build()
    }

    fn primary() -> CacheCluster {
        CacheCluster::builder()
            .cache_cluster_id("shop-sessions-001")
            .engine_version("7.1.0")
            .security_groups(SecurityGroupMembership::builder().security_group_id("sg-b").status("active").build())
            .security_groups(SecurityGroupMembership::builder().security_group_id("sg-a").status("active").build())
            .security_groups(SecurityGroupMembership::builder().security_group_id("sg-old").status("removing").build())
            .build()
    }

    fn subnet_group() -> CacheSubnetGroup {
        CacheSubnetGroup::builder()
            .cache_subnet_group_name("shop-sessions-subnets")
            .subnets(Subnet::builder().subnet_identifier("subnet-b").build())
            .subnets(Subnet::builder().subnet_identifier("subnet-a").build())
            .build()
    }

    fn reading(group: ReplicationGroup, primary: Option<CacheCluster>) -> Reading {
        let tags = BTreeMap::from([("provision:stack".to_string(), "shop".to_string()), ("team".into(), "web".into())]);
        Reading { group, primary, subnet_group: Some(subnet_group()), tags }
    }

    #[test]
    fn reads_back_the_fields_in_the_stack_shape() {
        let applied = applied(serde_json::json!({
            "engine_version": "7.1", "security_groups": ["sg-a", "sg-b"], "auth_token": "sha256:s:h"
        }));
        let observed = observe(&reading(group(3), Some(primary())), &applied);
        let inputs = &observed.inputs;
        assert_eq!(observed.id, "shop-sessions");
        assert_eq!(inputs["name"], "shop-sessions");
        assert_eq!(inputs["engine"], "redis");
        assert_eq!(inputs["engine_version"], "7.1");
        assert_eq!(inputs["node_type"], "cache.t3.micro");
        assert_eq!(inputs["replicas"], 2);
        assert_eq!(inputs["subnets"], serde_json::json!(["subnet-a", "subnet-b"]));
        assert_eq!(inputs["security_groups"], serde_json::json!(["sg-a", "sg-b"]), "a group being removed is gone");
        assert_eq!(inputs["transit_encryption"], true);
        assert_eq!(inputs["auth_token"], Json::Null, "the token the stack sets is gone");
        assert_eq!(inputs["snapshot_retention_days"], 0);
        assert_eq!(inputs["tags"], serde_json::json!({ "team": "web" }));
        assert!(!inputs.contains_key("final_snapshot"), "a provision-side setting");
    }

    #[test]
    fn what_cannot_be_read_or_was_chosen_by_elasticache_is_not_reported() {
        let applied = applied(serde_json::json!({ "engine_version": "7.1", "security_groups": ["sg-a"] }));
        let observed = observe(&reading(group(1), None), &applied);
        for absent in ["engine_version", "security_groups", "auth_token"] {
            assert!(!observed.inputs.contains_key(absent), "{absent}");
        }
        assert_eq!(observed.inputs["replicas"], 0);

        let defaults = observe(&reading(group(1), Some(primary())), &applied_empty_groups());
        assert!(!defaults.inputs.contains_key("security_groups"), "the VPC's default group, chosen by ElastiCache");
    }

    fn applied_empty_groups() -> JsonMap {
        applied(serde_json::json!({ "security_groups": [] }))
    }

    #[test]
    fn an_import_reads_the_security_groups_it_is_asked_about() {
        let observed =
            observe(&reading(group(1), Some(primary())), &applied(serde_json::json!({ "security_groups": null })));
        assert_eq!(observed.inputs["security_groups"], serde_json::json!(["sg-a", "sg-b"]));
    }

    #[test]
    fn attributes_are_the_primary_endpoint() {
        let attributes = attributes(&group(2));
        assert_eq!(attributes["id"], "shop-sessions");
        assert_eq!(attributes["arn"], "arn:aws:elasticache:us-east-1:123456789012:replicationgroup:shop-sessions");
        assert_eq!(attributes["address"], "master.shop-sessions.abc.use1.cache.amazonaws.com");
        assert_eq!(attributes["port"], 6379);
        assert_eq!(attributes["endpoint"], "master.shop-sessions.abc.use1.cache.amazonaws.com:6379");

        let creating = ReplicationGroup::builder().replication_group_id("shop-sessions").build();
        assert_eq!(super::attributes(&creating)["endpoint"], "");
    }

    #[test]
    fn replicas_count_from_the_members_when_the_shard_lists_none() {
        let listed = ReplicationGroup::builder().member_clusters("a-001").member_clusters("a-002").build();
        assert_eq!(replicas(&listed), 1);
        assert_eq!(replicas(&ReplicationGroup::builder().build()), 0);
    }

    #[test]
    fn engine_versions_match_by_release() {
        assert_eq!(engine_version("7.1.0", "7.1"), "7.1");
        assert_eq!(engine_version("6.2.6", "6.x"), "6.x");
        assert_eq!(engine_version("7.1.0", "7.1.0"), "7.1.0");
        assert_eq!(engine_version("7.1.0", "7.0"), "7.1.0");
        assert_eq!(engine_version("7.1.0", "6.x"), "7.1.0");
    }
}
