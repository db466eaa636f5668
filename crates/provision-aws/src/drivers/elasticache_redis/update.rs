//! Changing a cache in place: which calls a change needs, and making them one after another.
//!
//! ElastiCache takes one modification of a group at a time, and each leaves the group `modifying`
//! for minutes, so the calls go in sequence with a wait after each: ModifyReplicationGroup for the
//! node type, engine version, security groups and snapshot retention (all `ApplyImmediately`, so
//! nothing waits for a maintenance window behind the user's back), then IncreaseReplicaCount or
//! DecreaseReplicaCount, then the auth token rotation, then the tags. The token rotates with
//! `AuthTokenUpdateStrategy = ROTATE`, which keeps the previous token valid next to the new one,
//! so running clients keep working while they move over.
//!
//! The engine, transit encryption and subnets cannot change in place; the schema marks them as
//! forcing a replacement, so they never reach an update. ElastiCache can drop an auth token only
//! when moving to user groups (RBAC), so removing `auth_token` is refused before any call.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_elasticache::types::{AuthTokenUpdateStrategyType, ReplicationGroup};
use aws_sdk_elasticache::Client;

use super::api;
use super::config::CacheConfig;
use super::waiting::{self, Timing};
use crate::drivers::{DriverError, ProgressSink};
use provision_core::address::Address;
use provision_core::value::JsonMap;

/// The settings one ModifyReplicationGroup call changes; `None` leaves a setting as it is.
#[derive(Debug, Default, PartialEq)]
pub(super) struct Modification {
    pub node_type: Option<String>,
    pub engine_version: Option<String>,
    pub security_groups: Option<Vec<String>>,
    pub snapshot_retention_days: Option<i32>,
}

#[derive(Debug, PartialEq)]
pub(super) enum ReplicaChange {
    Increase(i32),
    Decrease(i32),
}

/// What an update does, in the order it does it.
#[derive(Debug, Default, PartialEq)]
pub(super) struct UpdateSteps {
    pub modify: Option<Modification>,
    pub replicas: Option<ReplicaChange>,
    pub rotate_token: bool,
    pub tags: bool,
}

/// The calls the `changed` top-level fields need. `prior_replicas` is what the state (refreshed)
/// says the group has; `token_wanted` whether the stack sets an auth token.
pub(super) fn decide(
    config: &CacheConfig,
    prior_replicas: Option<i64>,
    changed: &BTreeSet<&str>,
    token_wanted: bool,
) -> Result<UpdateSteps, DriverError> {
    if changed.contains("auth_token") && !token_wanted {
        return Err(DriverError::invalid("ElastiCache cannot remove an auth token from a replication group")
            .with_hint("keep `auth_token`, or replace the cache to run it without one (the data is lost)"));
    }
    let mut modification = Modification::default();
    if changed.contains("node_type") {
        modification.node_type = Some(config.node_type.clone());
    }
    if changed.contains("engine_version") {
        modification.engine_version = config.engine_version.clone();
    }
    // ElastiCache keeps at least the VPC's default group: an empty list leaves the current ones.
    if changed.contains("security_groups") && !config.security_groups.is_empty() {
        modification.security_groups = Some(config.security_groups.clone());
    }
    if changed.contains("snapshot_retention_days") {
        modification.snapshot_retention_days = Some(config.snapshot_retention_days);
    }
    let replicas = match prior_replicas {
        _ if !changed.contains("replicas") => None,
        Some(prior) if prior > i64::from(config.replicas) => Some(ReplicaChange::Decrease(config.replicas)),
        Some(prior) if prior == i64::from(config.replicas) => None,
        _ => Some(ReplicaChange::Increase(config.replicas)),
    };
    Ok(UpdateSteps {
        modify: (modification != Modification::default()).then_some(modification),
        replicas,
        rotate_token: changed.contains("auth_token"),
        tags: changed.contains("tags"),
    })
}

/// What the steps need besides the client.
pub(super) struct Target<'a> {
    pub address: &'a Address,
    pub id: &'a str,
    /// The clear auth token, when the steps rotate it.
    pub auth_token: Option<&'a str>,
    pub prior_inputs: &'a JsonMap,
    pub tags: &'a BTreeMap<String, String>,
}

/// Makes the calls of `steps`, waiting for the group to be available after each, and returns the
/// group as it is at the end.
pub(super) async fn apply(
    ec: &Client,
    target: &Target<'_>,
    steps: &UpdateSteps,
    timing: Timing,
    progress: &dyn ProgressSink,
) -> Result<ReplicationGroup, DriverError> {
    let id = target.id;
    let mut latest = None;
    if let Some(modification) = &steps.modify {
        let output = ec
            .modify_replication_group()
            .replication_group_id(id)
            .set_cache_node_type(modification.node_type.clone())
            .set_engine_version(modification.engine_version.clone())
            .set_security_group_ids(modification.security_groups.clone())
            .set_snapshot_retention_limit(modification.snapshot_retention_days)
            .apply_immediately(true)
            .send()
            .await
            .map_err(|error| busy_hint(crate::aws_error("ModifyReplicationGroup", error)))?;
        latest = Some(settle(ec, target, output.replication_group, timing, progress).await?);
    }
    match steps.replicas {
        Some(ReplicaChange::Increase(count)) => {
            let output = ec
                .increase_replica_count()
                .replication_group_id(id)
                .new_replica_count(count)
                .apply_immediately(true)
                .send()
                .await
                .map_err(|error| busy_hint(crate::aws_error("IncreaseReplicaCount", error)))?;
            latest = Some(settle(ec, target, output.replication_group, timing, progress).await?);
        }
        Some(ReplicaChange::Decrease(count)) => {
            let output = ec
                .decrease_replica_count()
                .replication_group_id(id)
                .new_replica_count(count)
                .apply_immediately(true)
                .send()
                .await
                .map_err(|error| busy_hint(crate::aws_error("DecreaseReplicaCount", error)))?;
            latest = Some(settle(ec, target, output.replication_group, timing, progress).await?);
        }
        None => {}
    }
    if steps.rotate_token {
        let token = target.auth_token.ok_or_else(|| DriverError::invalid("no auth token to rotate to"))?;
        let output = ec
            .modify_replication_group()
            .replication_group_id(id)
            .auth_token(token)
            .auth_token_update_strategy(AuthTokenUpdateStrategyType::Rotate)
            .apply_immediately(true)
            .send()
            .await
            .map_err(|error| busy_hint(crate::aws_error("ModifyReplicationGroup", error)))?;
        latest = Some(settle(ec, target, output.replication_group, timing, progress).await?);
    }
    let group = match latest {
        Some(group) => group,
        None => api::describe_group(ec, id)
            .await?
            .ok_or_else(|| DriverError::invalid(format!("cache `{id}` no longer exists")))?,
    };
    if steps.tags {
        let arn = group.arn().unwrap_or_default();
        api::sync_tags(ec, arn, target.prior_inputs, target.tags).await?;
    }
    Ok(group)
}

/// Waits until the group a call answered with is available again.
async fn settle(
    ec: &Client,
    target: &Target<'_>,
    answered: Option<ReplicationGroup>,
    timing: Timing,
    progress: &dyn ProgressSink,
) -> Result<ReplicationGroup, DriverError> {
    let group = match answered {
        Some(group) => group,
        None => api::describe_group(ec, target.id)
            .await?
            .ok_or_else(|| DriverError::invalid(format!("cache `{}` no longer exists", target.id)))?,
    };
    waiting::until_available(ec, target.address, group, timing, progress).await
}

fn busy_hint(error: DriverError) -> DriverError {
    if error.code_is("InvalidReplicationGroupState") {
        error.with_hint("ElastiCache is still busy with the cache; run `provision apply` again once it is available")
    } else {
        error
    }
}

#[cfg(test)]
mod tests {

    use aws_sdk_elasticache::operation::decrease_replica_count::DecreaseReplicaCountOutput;
    use aws_sdk_elasticache::operation::describe_replication_groups::DescribeReplicationGroupsOutput;
    use aws_sdk_elasticache::operation::increase_replica_count::IncreaseReplicaCountOutput;
    use aws_sdk_elasticache::operation::modify_replication_group::ModifyReplicationGroupOutput;
    use aws_smithy_mocks::mock;

    use super::super::mock::mock_elasticache;
    use super::*;

    fn config(json: serde_json::Value) -> CacheConfig {
        let mut base = serde_json::json!({
            "name": "shop-sessions", "engine": "redis", "node_type": "cache.t3.micro", "replicas": 0,
            "subnets": ["subnet-a"], "security_groups": ["sg-a"], "transit_encryption": true,
            "snapshot_retention_days": 0, "final_snapshot": false
        });
        if let (Some(base), Some(extra)) = (base.as_object_mut(), json.as_object()) {
            base.extend(extra.clone());
        }
        CacheConfig::from_inputs(base.as_object().expect("an object")).expect("a config")
    }

    fn changed<'a>(fields: &[&'a str]) -> BTreeSet<&'a str> {
        fields.iter().copied().collect()
    }

    #[test]
    fn node_type_security_groups_and_retention_go_into_one_modification() {
        let wanted = config(serde_json::json!({
            "node_type": "cache.t3.small", "security_groups": ["sg-a", "sg-b"], "snapshot_retention_days": 7
        }));
        let steps =
            decide(&wanted, Some(0), &changed(&["node_type", "security_groups", "snapshot_retention_days"]), false)
                .expect("steps");
        assert_eq!(
            steps.modify,
            Some(Modification {
                node_type: Some("cache.t3.small".into()),
                engine_version: None,
                security_groups: Some(vec!["sg-a".into(), "sg-b".into()]),
                snapshot_retention_days: Some(7),
            })
        );
        assert_eq!((steps.replicas, steps.rotate_token, steps.tags), (None, false, false));
    }

    #[test]
    fn replicas_go_up_or_down_from_what_the_group_has() {
        let up = decide(&config(serde_json::json!({ "replicas": 2 })), Some(0), &changed(&["replicas"]), false);
        assert_eq!(up.expect("steps").replicas, Some(ReplicaChange::Increase(2)));
        let down = decide(&config(serde_json::json!({ "replicas": 1 })), Some(3), &changed(&["replicas"]), false);
        assert_eq!(down.expect("steps").replicas, Some(ReplicaChange::Decrease(1)));
        let same = decide(&config(serde_json::json!({ "replicas": 1 })), Some(1), &changed(&["replicas"]), false);
        assert_eq!(same.expect("steps"), UpdateSteps::default());
    }

    #[test]
    fn tags_and_provision_side_settings_make_no_modification() {
        let steps = decide(&config(serde_json::json!({})), Some(0), &changed(&["tags", "final_snapshot"]), false)
            .expect("steps");
        assert_eq!(steps, UpdateSteps { tags: true, ..UpdateSteps::default() });
        // An emptied list cannot leave the group without any security group.
        let emptied = decide(
            &config(serde_json::json!({ "security_groups": [] })),
            Some(0),
            &changed(&["security_groups"]),
            false,
        );
        assert_eq!(emptied.expect("steps").modify, None);
    }

    #[test]
    fn a_changed_token_rotates_and_a_removed_one_is_refused_before_any_call() {
        let rotate = decide(&config(serde_json::json!({})), Some(0), &changed(&["auth_token"]), true).expect("steps");
        assert!(rotate.rotate_token);
        assert_eq!(rotate.modify, None, "the rotation is its own call");

        let error = decide(&config(serde_json::json!({})), Some(0), &changed(&["auth_token"]), false)
            .expect_err("cannot remove a token");
        assert!(error.message.contains("cannot remove an auth token"), "{}", error.message);
        assert!(error.hint.expect("a hint").contains("replace the cache"));
    }

    struct Quiet;
    impl ProgressSink for Quiet {
        fn waiting(&self, _address: &Address, _message: &str) {}
    }

    fn fast() -> Timing {
        crate::behaviours::elasticache::LIFECYCLE.fast()
    }

    fn group(status: &str) -> ReplicationGroup {
        ReplicationGroup::builder()
            .replication_group_id("shop-sessions")
            .arn("arn:aws:elasticache:us-east-1:123456789012:replicationgroup:shop-sessions")
            .status(status)
            .build()
    }

    /// The emulator does not implement ModifyReplicationGroup or IncreaseReplicaCount, which is why
    /// the update is tested with the SDK's mocks: a bigger node and a replica, each applied at once
    /// and waited for, in that order.
    #[tokio::test]
    async fn a_node_type_and_replica_change_are_applied_immediately_one_after_the_other() {
        let modify = mock!(Client::modify_replication_group)
            .match_requests(|request| {
                request.cache_node_type() == Some("cache.t3.small")
                    && request.apply_immediately() == Some(true)
                    && request.auth_token().is_none()
            })
            .then_output(|| ModifyReplicationGroupOutput::builder().replication_group(group("modifying")).build());
        let scaled = mock!(Client::describe_replication_groups)
            .then_output(|| DescribeReplicationGroupsOutput::builder().replication_groups(group("available")).build());
        let increase = mock!(Client::increase_replica_count)
            .match_requests(|request| {
                request.new_replica_count() == Some(1) && request.apply_immediately() == Some(true)
            })
            .then_output(|| IncreaseReplicaCountOutput::builder().replication_group(group("available")).build());
        let ec = mock_elasticache(&[&modify, &scaled, &increase]);
        let steps = UpdateSteps {
            modify: Some(Modification { node_type: Some("cache.t3.small".into()), ..Modification::default() }),
            replicas: Some(ReplicaChange::Increase(1)),
            ..UpdateSteps::default()
        };
        let (address, prior, tags) = (Address::new("elasticache_redis", "sessions"), JsonMap::new(), BTreeMap::new());
        let target =
            Target { address: &address, id: "shop-sessions", auth_token: None, prior_inputs: &prior, tags: &tags };

        let done = apply(&ec, &target, &steps, fast(), &Quiet).await.expect("updated");

        assert_eq!(done.status(), Some("available"));
        assert_eq!((modify.num_calls(), scaled.num_calls(), increase.num_calls()), (1, 1, 1));
    }

    /// The emulator does not implement ModifyReplicationGroup, which is why the rotation is tested
    /// with the SDK's mocks: the new token goes with the ROTATE strategy, alone in its call.
    #[tokio::test]
    async fn a_token_rotation_sends_rotate_and_removing_a_replica_decreases() {
        let decrease = mock!(Client::decrease_replica_count)
            .match_requests(|request| request.new_replica_count() == Some(0))
            .then_output(|| DecreaseReplicaCountOutput::builder().replication_group(group("available")).build());
        let rotate = mock!(Client::modify_replication_group)
            .match_requests(|request| {
                request.auth_token() == Some("the-new-token-0123456789")
                    && request.auth_token_update_strategy() == Some(&AuthTokenUpdateStrategyType::Rotate)
                    && request.cache_node_type().is_none()
                    && request.apply_immediately() == Some(true)
            })
            .then_output(|| ModifyReplicationGroupOutput::builder().replication_group(group("available")).build());
        let ec = mock_elasticache(&[&decrease, &rotate]);
        let steps =
            UpdateSteps { replicas: Some(ReplicaChange::Decrease(0)), rotate_token: true, ..UpdateSteps::default() };
        let (address, prior, tags) = (Address::new("elasticache_redis", "sessions"), JsonMap::new(), BTreeMap::new());
        let target = Target {
            address: &address,
            id: "shop-sessions",
            auth_token: Some("the-new-token-0123456789"),
            prior_inputs: &prior,
            tags: &tags,
        };

        apply(&ec, &target, &steps, fast(), &Quiet).await.expect("updated");

        assert_eq!((decrease.num_calls(), rotate.num_calls()), (1, 1));
    }
}
