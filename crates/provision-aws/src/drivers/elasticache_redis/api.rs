//! The ElastiCache calls for a cache and its subnet group, each naming its operation when it fails.
//!
//! The auth token only ever passes through here, from the request's secrets straight into the SDK
//! call; it is never part of a message, and ElastiCache's errors about it do not echo it.

use std::collections::BTreeMap;

use aws_sdk_elasticache::types::{CacheCluster, CacheSubnetGroup, ReplicationGroup, Tag};
use aws_sdk_elasticache::Client;
use serde_json::Value as Json;

use super::config::{CacheConfig, PORT};
use super::emulator::Emulator;
use crate::drivers::DriverError;
use provision_core::value::JsonMap;

pub(super) const GROUP_NOT_FOUND: &str = "ReplicationGroupNotFoundFault";
const CLUSTER_NOT_FOUND: &str = "CacheClusterNotFound";
const SUBNET_GROUP_NOT_FOUND: &str = "CacheSubnetGroupNotFoundFault";
/// The most groups one DescribeReplicationGroups page holds.
const PAGE_SIZE: i32 = 100;

/// `Ok(None)` for the not-found error `code`, the error otherwise.
fn absent<T>(result: Result<T, DriverError>, code: &str) -> Result<Option<T>, DriverError> {
    match result {
        Ok(found) => Ok(Some(found)),
        Err(error) if error.code_is(code) => Ok(None),
        Err(error) => Err(error),
    }
}

/// One replication group, `None` when it does not exist.
pub(super) async fn describe_group(ec: &Client, id: &str) -> Result<Option<ReplicationGroup>, DriverError> {
    let answer = ec
        .describe_replication_groups()
        .replication_group_id(id)
        .send()
        .await
        .map_err(|error| crate::aws_error("DescribeReplicationGroups", error));
    Ok(absent(answer, GROUP_NOT_FOUND)?.and_then(|output| output.replication_groups().first().cloned()))
}

/// The groups among `ids` that exist, by id: one request for a single id, otherwise one listing of
/// the account's groups (a page per 100), which the API cannot filter by several ids.
pub(super) async fn describe_groups(
    ec: &Client,
    ids: &[String],
) -> Result<BTreeMap<String, ReplicationGroup>, DriverError> {
    let mut found = BTreeMap::new();
    if let [id] = ids {
        if let Some(group) = describe_group(ec, id).await? {
            found.insert(id.clone(), group);
        }
        return Ok(found);
    }
    let mut pages = ec.describe_replication_groups().max_records(PAGE_SIZE).into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|error| crate::aws_error("DescribeReplicationGroups", error))?;
        for group in page.replication_groups() {
            if let Some(id) = group.replication_group_id().filter(|id| ids.iter().any(|wanted| wanted == id)) {
                found.insert(id.to_string(), group.clone());
            }
        }
    }
    Ok(found)
}

/// The group's primary node as a cache cluster: it carries what the group itself does not report
/// (security groups, engine version, subnet group). `None` when it cannot be described.
pub(super) async fn primary_cluster(
    ec: &Client,
    group: &ReplicationGroup,
) -> Result<Option<CacheCluster>, DriverError> {
    let members = group.node_groups().first().map(|node_group| node_group.node_group_members()).unwrap_or_default();
    let primary = members
        .iter()
        .find(|member| member.current_role() == Some("primary"))
        .and_then(|member| member.cache_cluster_id())
        .or_else(|| group.member_clusters().first().map(String::as_str));
    let Some(primary) = primary else { return Ok(None) };
    let answer = ec
        .describe_cache_clusters()
        .cache_cluster_id(primary)
        .send()
        .await
        .map_err(|error| crate::aws_error("DescribeCacheClusters", error));
    Ok(absent(answer, CLUSTER_NOT_FOUND)?.and_then(|output| output.cache_clusters().first().cloned()))
}

/// One cache subnet group, `None` when it does not exist.
pub(super) async fn describe_subnet_group(ec: &Client, name: &str) -> Result<Option<CacheSubnetGroup>, DriverError> {
    let answer = ec
        .describe_cache_subnet_groups()
        .cache_subnet_group_name(name)
        .send()
        .await
        .map_err(|error| crate::aws_error("DescribeCacheSubnetGroups", error));
    Ok(absent(answer, SUBNET_GROUP_NOT_FOUND)?.and_then(|output| output.cache_subnet_groups().first().cloned()))
}

/// The subnet ids of a subnet group, sorted like the stack's.
pub(super) fn subnet_ids(group: &CacheSubnetGroup) -> Vec<String> {
    let mut subnets: Vec<String> =
        group.subnets().iter().filter_map(|subnet| subnet.subnet_identifier().map(str::to_string)).collect();
    subnets.sort();
    subnets
}

/// Creates the subnet group `name`, or adopts the one a killed run of this stack made: it is
/// named after the replication group, so it is found again by name. One made by anyone else is
/// refused rather than taken over (and later deleted).
pub(super) async fn ensure_subnet_group(
    ec: &Client,
    name: &str,
    description: &str,
    subnets: &[String],
    all_tags: &BTreeMap<String, String>,
) -> Result<(), DriverError> {
    let created = ec
        .create_cache_subnet_group()
        .cache_subnet_group_name(name)
        .cache_subnet_group_description(description)
        .set_subnet_ids(Some(subnets.to_vec()))
        .set_tags(Some(to_tags(all_tags)))
        .send()
        .await
        .map_err(|error| crate::aws_error("CreateCacheSubnetGroup", error));
    let error = match created {
        Ok(_) => return Ok(()),
        Err(error) if error.code_is("CacheSubnetGroupAlreadyExists") => error,
        Err(error) => return Err(error),
    };
    let Some(existing) = describe_subnet_group(ec, name).await? else { return Err(error) };
    let tags = list_tags(ec, existing.arn().unwrap_or_default()).await?;
    if tags.get("provision:stack") != all_tags.get("provision:stack") {
        return Err(error.with_hint(format!(
            "a cache subnet group named `{name}` already exists outside this stack; set `name` to use another \
             replication group id"
        )));
    }
    if subnet_ids(&existing) != subnets {
        ec.modify_cache_subnet_group()
            .cache_subnet_group_name(name)
            .set_subnet_ids(Some(subnets.to_vec()))
            .send()
            .await
            .map_err(|error| crate::aws_error("ModifyCacheSubnetGroup", error))?;
    }
    Ok(())
}

/// CreateReplicationGroup with every field of the stack: cluster mode disabled, one primary and
/// `replicas` read replicas, listening on [`PORT`].
pub(super) async fn create_group(
    ec: &Client,
    config: &CacheConfig,
    subnet_group: &str,
    description: &str,
    auth_token: Option<&str>,
    all_tags: &BTreeMap<String, String>,
    emulator: Emulator,
) -> Result<ReplicationGroup, DriverError> {
    let security_groups = (!config.security_groups.is_empty()).then(|| config.security_groups.clone());
    let output = ec
        .create_replication_group()
        .replication_group_id(&config.name)
        .replication_group_description(description)
        .engine(&config.engine)
        .set_engine_version(config.engine_version.clone())
        .cache_node_type(&config.node_type)
        .num_cache_clusters(config.replicas + 1)
        .set_replicas_per_node_group(emulator.replicas_per_node_group(config.replicas))
        .cache_subnet_group_name(subnet_group)
        .set_security_group_ids(security_groups)
        .transit_encryption_enabled(config.transit_encryption)
        .at_rest_encryption_enabled(config.at_rest_encryption)
        .set_auth_token(auth_token.map(str::to_string))
        .snapshot_retention_limit(config.snapshot_retention_days)
        .port(PORT)
        .set_tags(Some(to_tags(all_tags)))
        .send()
        .await
        .map_err(|error| crate::aws_error("CreateReplicationGroup", error))?;
    output.replication_group.ok_or_else(|| DriverError::invalid("CreateReplicationGroup returned no group"))
}

/// DeleteReplicationGroup, taking a final snapshot under `final_snapshot` unless it is `None`.
/// A group that is already gone counts as deleted.
pub(super) async fn delete_group(ec: &Client, id: &str, final_snapshot: Option<String>) -> Result<(), DriverError> {
    let outcome = ec
        .delete_replication_group()
        .replication_group_id(id)
        .set_final_snapshot_identifier(final_snapshot)
        .send()
        .await
        .map_err(|error| crate::aws_error("DeleteReplicationGroup", error));
    absent(outcome, GROUP_NOT_FOUND).map(|_| ())
}

/// DeleteCacheSubnetGroup; one that is already gone counts as deleted. A group in it deleted
/// moments ago may still count as using it: `retry` says for how long that is tried again
/// (`elasticache.subnet-group-in-use`).
pub(super) async fn delete_subnet_group(
    ec: &Client,
    name: &str,
    emulator: Emulator,
    retry: crate::behaviours::Retry,
) -> Result<(), DriverError> {
    let attempt = || async {
        let outcome = ec
            .delete_cache_subnet_group()
            .cache_subnet_group_name(name)
            .send()
            .await
            .map_err(|error| crate::aws_error("DeleteCacheSubnetGroup", error));
        match absent(outcome, SUBNET_GROUP_NOT_FOUND) {
            Ok(_) => Ok(()),
            Err(error) if emulator.tolerates_subnet_group_delete_error(&error) => Ok(()),
            Err(error) => Err(error),
        }
    };
    retry.run(attempt).await
}

pub(super) fn to_tags(tags: &BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter().map(|(key, value)| Tag::builder().key(key).value(value).build()).collect()
}

/// A resource's tags (all of them, `provision:*` included), by ARN.
pub(super) async fn list_tags(ec: &Client, arn: &str) -> Result<BTreeMap<String, String>, DriverError> {
    let output = ec
        .list_tags_for_resource()
        .resource_name(arn)
        .send()
        .await
        .map_err(|error| crate::aws_error("ListTagsForResource", error))?;
    Ok(output
        .tag_list()
        .iter()
        .filter_map(|tag| Some((tag.key()?.to_string(), tag.value().unwrap_or_default().to_string())))
        .collect())
}

/// Makes the resource carry exactly `wanted`, given the user's tags the state recorded before
/// (`prior_inputs["tags"]`): ElastiCache adds tags and removes them by key, with no call that
/// replaces them all.
pub(super) async fn sync_tags(
    ec: &Client,
    arn: &str,
    prior_inputs: &JsonMap,
    wanted: &BTreeMap<String, String>,
) -> Result<(), DriverError> {
    let stale: Vec<String> = prior_inputs
        .get("tags")
        .and_then(Json::as_object)
        .into_iter()
        .flat_map(|tags| tags.keys())
        .filter(|key| !wanted.contains_key(*key))
        .cloned()
        .collect();
    if !stale.is_empty() {
        ec.remove_tags_from_resource()
            .resource_name(arn)
            .set_tag_keys(Some(stale))
            .send()
            .await
            .map_err(|error| crate::aws_error("RemoveTagsFromResource", error))?;
    }
    ec.add_tags_to_resource()
        .resource_name(arn)
        .set_tags(Some(to_tags(wanted)))
        .send()
        .await
        .map_err(|error| crate::aws_error("AddTagsToResource", error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use aws_sdk_elasticache::operation::create_cache_subnet_group::CreateCacheSubnetGroupError;
    use aws_sdk_elasticache::operation::describe_cache_subnet_groups::DescribeCacheSubnetGroupsOutput;
    use aws_sdk_elasticache::operation::list_tags_for_resource::ListTagsForResourceOutput;
    use aws_sdk_elasticache::operation::modify_cache_subnet_group::ModifyCacheSubnetGroupOutput;
    use aws_sdk_elasticache::types::error::CacheSubnetGroupAlreadyExistsFault;
    use aws_sdk_elasticache::types::Subnet;
    use aws_smithy_mocks::mock;

    use super::super::mock::mock_elasticache;
    use super::*;

    /// The emulator does not implement ModifyCacheSubnetGroup, which is why this is tested with the
    /// SDK's mocks: a subnet group a killed run of this stack left with other subnets is adopted and
    /// given the subnets the stack asks for.
    #[tokio::test]
    async fn an_adopted_subnet_group_gets_the_wanted_subnets() {
        let exists = mock!(Client::create_cache_subnet_group).then_error(|| {
            let meta = aws_smithy_types::error::ErrorMetadata::builder().code("CacheSubnetGroupAlreadyExists").build();
            CreateCacheSubnetGroupError::CacheSubnetGroupAlreadyExistsFault(
                CacheSubnetGroupAlreadyExistsFault::builder().meta(meta).build(),
            )
        });
        let described = mock!(Client::describe_cache_subnet_groups).then_output(|| {
            let group = CacheSubnetGroup::builder()
                .cache_subnet_group_name("shop-sessions-subnets")
                .arn("arn:aws:elasticache:us-east-1:1:subnetgroup:shop-sessions-subnets")
                .subnets(Subnet::builder().subnet_identifier("subnet-old").build())
                .build();
            DescribeCacheSubnetGroupsOutput::builder().cache_subnet_groups(group).build()
        });
        let ours = mock!(Client::list_tags_for_resource).then_output(|| {
            ListTagsForResourceOutput::builder()
                .tag_list(Tag::builder().key("provision:stack").value("shop").build())
                .build()
        });
        let modify = mock!(Client::modify_cache_subnet_group)
            .match_requests(|request| request.subnet_ids() == ["subnet-a".to_string(), "subnet-b".to_string()])
            .then_output(|| ModifyCacheSubnetGroupOutput::builder().build());
        let ec = mock_elasticache(&[&exists, &described, &ours, &modify]);
        let tags = BTreeMap::from([("provision:stack".to_string(), "shop".to_string())]);

        ensure_subnet_group(&ec, "shop-sessions-subnets", "d", &["subnet-a".into(), "subnet-b".into()], &tags)
            .await
            .expect("adopted");

        assert_eq!(modify.num_calls(), 1);
    }
}
