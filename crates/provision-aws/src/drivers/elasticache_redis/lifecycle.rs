//! Creating and deleting a cache with its subnet group, in the order that leaves nothing behind.
//!
//! A create makes (or adopts) the subnet group first and the replication group second, then waits
//! for `available`. A delete waits for a busy group to settle (ElastiCache refuses to delete one
//! that is being created or modified), deletes it with or without a final snapshot, waits until it
//! is gone, and deletes the subnet group last — again while ElastiCache still counts the deleted
//! group as its user (`elasticache.subnet-group-in-use`). Each step finds what a killed run already
//! did and carries on, so a delete that meets a group already gone still removes its subnet group.

use aws_sdk_elasticache::Client;
use serde_json::Value as Json;

use super::config::{self, CacheConfig};
use super::emulator::Emulator;
use super::waiting::{self, Timing};
use super::{api, observation};
use crate::behaviours::{adopt, elasticache as behaviour};
use crate::drivers::{DriverError, ExistingResource, Observed, ProgressSink, ResourceRequest};
use provision_core::value::JsonMap;

pub(super) async fn create(
    ec: &Client,
    emulator: Emulator,
    request: &ResourceRequest<'_>,
    timing: Timing,
    progress: &dyn ProgressSink,
) -> Result<Observed, DriverError> {
    let config = CacheConfig::from_inputs(request.inputs)?;
    let token = auth_token(request)?;
    let subnet_group = config::subnet_group_name(&config.name);
    let description = format!("{} of stack {} (provision)", request.address, request.stack.name);
    api::ensure_subnet_group(ec, &subnet_group, &description, &config.subnets, request.tags).await?;
    let created = match api::create_group(ec, &config, &subnet_group, &description, token, request.tags, emulator).await
    {
        Ok(created) => created,
        // The SDK's retry of a create whose answer was lost meets the group it made
        // (`any.response-lost`): that one carries this stack's and address's tags.
        Err(error) if adopt::ALREADY_EXISTS.matches(&error) => match api::describe_group(ec, &config.name).await? {
            Some(group) if group.status() != Some("deleting") && ours(ec, &group, request).await? => group,
            _ => {
                let error = adopt::name_taken(error, request.address, "replication group", &config.name, &config.name);
                let hint = error.hint.clone().unwrap_or_default();
                return Err(error.with_hint(format!("{hint} (a group being deleted keeps its name until it is gone)")));
            }
        },
        Err(error) => return Err(error),
    };
    let group = waiting::until_available(ec, request.address, created, timing, progress).await?;
    Ok(Observed { id: config.name, inputs: JsonMap::new(), attributes: observation::attributes(&group) })
}

pub(super) async fn delete(
    ec: &Client,
    emulator: Emulator,
    resource: &ExistingResource<'_>,
    timing: Timing,
    progress: &dyn ProgressSink,
) -> Result<(), DriverError> {
    let id = resource.id;
    if let Some(group) = api::describe_group(ec, id).await? {
        let status = group.status().unwrap_or_default().to_string();
        if status != "deleting" {
            if status != "available" && status != "create-failed" {
                waiting::until_available(ec, resource.address, group, timing, progress).await?;
            }
            let wanted = resource.inputs.get("final_snapshot").and_then(Json::as_bool).unwrap_or(false);
            let snapshot = wanted.then(|| config::final_snapshot_name(id, chrono::Utc::now()));
            api::delete_group(ec, id, snapshot).await?;
        }
        waiting::until_gone(ec, resource.address, id, timing, emulator, progress).await?;
    }
    api::delete_subnet_group(ec, &config::subnet_group_name(id), emulator, behaviour::SUBNET_GROUP_DELETE).await
}

/// Whether the group carries this stack's and this address's tags.
async fn ours(
    ec: &Client,
    group: &aws_sdk_elasticache::types::ReplicationGroup,
    request: &ResourceRequest<'_>,
) -> Result<bool, DriverError> {
    let tags = api::list_tags(ec, group.arn().unwrap_or_default()).await?;
    Ok(adopt::made_by(&tags, &request.stack.name, request.address))
}

/// The clear auth token when the stack sets one, checked against ElastiCache's rules.
pub(super) fn auth_token<'a>(request: &'a ResourceRequest<'_>) -> Result<Option<&'a str>, DriverError> {
    if !CacheConfig::has_auth_token(request.inputs) {
        return Ok(None);
    }
    let token = request.secrets.get("auth_token").map(String::as_str).ok_or_else(|| {
        DriverError::invalid(format!("`{}` has no auth token value", request.address))
            .with_hint("set `auth_token = { env = \"REDIS_AUTH_TOKEN\" }` and that environment variable")
    })?;
    config::check_auth_token(token)
        .map_err(|error| DriverError { message: format!("`{}`: {}", request.address, error.message), ..error })?;
    Ok(Some(token))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use aws_sdk_elasticache::operation::delete_cache_subnet_group::DeleteCacheSubnetGroupOutput;
    use aws_sdk_elasticache::operation::delete_replication_group::DeleteReplicationGroupOutput;
    use aws_sdk_elasticache::operation::describe_replication_groups::DescribeReplicationGroupsOutput;
    use aws_sdk_elasticache::types::ReplicationGroup;
    use aws_smithy_mocks::{mock, Rule};
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;

    use super::super::mock::{group_not_found, mock_elasticache};
    use super::*;
    use provision_core::address::Address;

    struct Quiet;
    impl ProgressSink for Quiet {
        fn waiting(&self, _address: &provision_core::address::Address, _message: &str) {}
    }

    fn fast() -> Timing {
        crate::behaviours::elasticache::LIFECYCLE.fast()
    }

    fn described(status: &'static str) -> Rule {
        mock!(Client::describe_replication_groups).then_output(move || {
            let group = ReplicationGroup::builder().replication_group_id("shop-sessions").status(status).build();
            DescribeReplicationGroupsOutput::builder().replication_groups(group).build()
        })
    }

    fn not_found() -> Rule {
        mock!(Client::describe_replication_groups).then_error(group_not_found)
    }

    /// The emulator's answer to an action it does not implement.
    fn error_page() -> Rule {
        mock!(Client::delete_cache_subnet_group).then_http_response(|| {
            aws_smithy_runtime_api::http::Response::new(
                StatusCode::try_from(500).expect("a status"),
                SdkBody::from("<!doctype html>\n<title>500 Internal Server Error</title>"),
            )
        })
    }

    async fn delete_with(rules: &[&Rule], emulator: Emulator, final_snapshot: bool) -> Result<(), DriverError> {
        let address = Address::new("elasticache_redis", "sessions");
        let inputs = serde_json::json!({ "final_snapshot": final_snapshot }).as_object().cloned().expect("an object");
        let attributes = JsonMap::new();
        let resource =
            ExistingResource { address: &address, id: "shop-sessions", inputs: &inputs, attributes: &attributes };
        delete(&mock_elasticache(rules), emulator, &resource, fast(), &Quiet).await
    }

    /// The emulator neither takes final snapshots nor finishes a delete, which is why this is
    /// tested with the SDK's mocks: the snapshot is named after the group and the time, the group
    /// is waited for until it is gone, and the subnet group goes last.
    #[tokio::test]
    async fn a_delete_takes_the_final_snapshot_waits_and_removes_the_subnet_group() {
        let available = described("available");
        let delete_group = mock!(Client::delete_replication_group)
            .match_requests(|request| {
                request.replication_group_id() == Some("shop-sessions")
                    && request
                        .final_snapshot_identifier()
                        .is_some_and(|name| name.starts_with("shop-sessions-final-20"))
            })
            .then_output(|| DeleteReplicationGroupOutput::builder().build());
        let deleting = described("deleting");
        let gone = not_found();
        let delete_subnets = mock!(Client::delete_cache_subnet_group)
            .match_requests(|request| request.cache_subnet_group_name() == Some("shop-sessions-subnets"))
            .then_output(|| DeleteCacheSubnetGroupOutput::builder().build());

        delete_with(&[&available, &delete_group, &deleting, &gone, &delete_subnets], Emulator::AWS, true)
            .await
            .expect("deleted");
        assert_eq!(delete_subnets.num_calls(), 1);
    }

    #[tokio::test]
    async fn without_final_snapshot_none_is_asked_for_and_a_missing_group_still_loses_its_subnet_group() {
        let available = described("available");
        let delete_group = mock!(Client::delete_replication_group)
            .match_requests(|request| request.final_snapshot_identifier().is_none())
            .then_output(|| DeleteReplicationGroupOutput::builder().build());
        let gone = not_found();
        let delete_subnets =
            mock!(Client::delete_cache_subnet_group).then_output(|| DeleteCacheSubnetGroupOutput::builder().build());
        delete_with(&[&available, &delete_group, &gone, &delete_subnets], Emulator::AWS, false).await.expect("deleted");

        // Killed after the group was gone: the next delete removes what is left.
        let gone = not_found();
        let delete_subnets =
            mock!(Client::delete_cache_subnet_group).then_output(|| DeleteCacheSubnetGroupOutput::builder().build());
        delete_with(&[&gone, &delete_subnets], Emulator::AWS, false).await.expect("deleted");
        assert_eq!(delete_subnets.num_calls(), 1);
    }

    #[tokio::test]
    async fn the_emulators_error_page_is_tolerated_only_against_the_emulator() {
        let local = error_page();
        delete_with(&[&not_found(), &local], Emulator::LOCAL, false).await.expect("tolerated against the emulator");

        let aws = error_page();
        let error = delete_with(&[&not_found(), &aws], Emulator::AWS, false).await.expect_err("an error against AWS");
        assert_eq!(error.operation, "DeleteCacheSubnetGroup");
    }

    #[test]
    fn a_bad_token_is_named_by_address_but_never_shown() {
        let address = Address::new("elasticache_redis", "sessions");
        let stack = crate::drivers::StackInfo {
            name: "shop".into(),
            region: "us-east-1".into(),
            directory: ".".into(),
            lineage: None,
        };
        let inputs = serde_json::json!({ "auth_token": "sha256:s:h" }).as_object().cloned().expect("an object");
        let tags = BTreeMap::new();
        let secrets = BTreeMap::from([("auth_token".to_string(), "too-short".to_string())]);
        let request = ResourceRequest::new(&address, &stack, &inputs, &tags, &secrets);
        let error = auth_token(&request).expect_err("too short");
        assert!(
            error.message.starts_with("`elasticache_redis.sessions`: the value of `auth_token`"),
            "{}",
            error.message
        );
        assert!(!error.to_string().contains("too-short"));

        let none = BTreeMap::new();
        let without = ResourceRequest { inputs: &JsonMap::new(), secrets: &none, ..request.clone() };
        assert_eq!(auth_token(&without).expect("no token wanted"), None);
    }

    /// ElastiCache's answer right after the group in it is gone, played by the SDK's mocks (the
    /// emulator does not implement the call): in use once, then deleted.
    #[tokio::test(start_paused = true)]
    async fn the_subnet_group_is_deleted_once_the_deleted_cache_lets_go_of_it() {
        use aws_sdk_elasticache::operation::delete_cache_subnet_group::DeleteCacheSubnetGroupError;
        use aws_sdk_elasticache::types::error::CacheSubnetGroupInUse;
        let in_use = mock!(Client::delete_cache_subnet_group).then_error(|| {
            DeleteCacheSubnetGroupError::CacheSubnetGroupInUse(
                CacheSubnetGroupInUse::builder()
                    .meta(aws_smithy_types::error::ErrorMetadata::builder().code("CacheSubnetGroupInUse").build())
                    .build(),
            )
        });
        let deleted =
            mock!(Client::delete_cache_subnet_group).then_output(|| DeleteCacheSubnetGroupOutput::builder().build());
        delete_with(&[&not_found(), &in_use, &deleted], Emulator::AWS, false).await.expect("deleted");
        assert_eq!((in_use.num_calls(), deleted.num_calls()), (1, 1));
    }
}
