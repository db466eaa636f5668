//! Waiting for a replication group to become `available`, or to be gone.
//!
//! Creating a cache takes ten minutes or more on AWS, scaling it or adding a replica as long again
//! (the emulator answers `available` at once). The first look comes quickly, then one every few
//! seconds, and each one tells the progress sink the status and how long it has been
//! (`creating… 2m`), so a user watching `apply` sees why it is quiet. `create-failed`, which
//! ElastiCache never leaves by itself, ends the wait with an error.

use aws_sdk_elasticache::types::{ReplicationGroup, ReplicationGroupPendingModifiedValues};
use aws_sdk_elasticache::Client;

use super::api;
use super::emulator::Emulator;
use crate::behaviours::{Look, Wait};
use crate::drivers::{DriverError, ProgressSink};
use provision_core::address::Address;

const AVAILABLE: &str = "available";
const FAILED: &str = "create-failed";

/// How often to look and for how long: `elasticache.group-lifecycle` in AWS runs.
pub(super) type Timing = Wait;

/// Polls until the group is `available` with no modification pending. `latest` is the answer
/// already at hand (a create's or a modify's), so a group that is ready costs no extra request.
pub(super) async fn until_available(
    ec: &Client,
    address: &Address,
    latest: ReplicationGroup,
    timing: Timing,
    progress: &dyn ProgressSink,
) -> Result<ReplicationGroup, DriverError> {
    let id = latest.replication_group_id().unwrap_or_default().to_string();
    let mut at_hand = Some(latest);
    let subject = format!("cache `{id}`");
    timing
        .until(address, progress, &subject, || {
            let latest = at_hand.take();
            let id = &id;
            async move {
                let latest = match latest {
                    Some(latest) => latest,
                    None => api::describe_group(ec, id).await?.ok_or_else(|| {
                        DriverError::invalid(format!("cache `{id}` disappeared while provision waited for it"))
                    })?,
                };
                let status = latest.status().unwrap_or("unknown").to_string();
                let pending = has_pending_changes(latest.pending_modified_values());
                if status == AVAILABLE && !pending {
                    return Ok(Look::Done(latest));
                }
                if status == FAILED {
                    return Err(DriverError::invalid(format!("cache `{id}` is `{status}`"))
                        .with_hint("see the group's events in the ElastiCache console for the cause, then delete it"));
                }
                Ok(Look::Pending(if pending && status == AVAILABLE {
                    "applying changes".to_string()
                } else {
                    format!("`{status}`")
                }))
            }
        })
        .await
}

/// Polls until the group no longer exists (after its delete was accepted).
pub(super) async fn until_gone(
    ec: &Client,
    address: &Address,
    id: &str,
    timing: Timing,
    emulator: Emulator,
    progress: &dyn ProgressSink,
) -> Result<(), DriverError> {
    let subject = format!("cache `{id}`");
    timing
        .until(address, progress, &subject, || async {
            let Some(group) = api::describe_group(ec, id).await? else { return Ok(Look::Done(())) };
            let status = group.status().unwrap_or("unknown");
            if emulator.deleted_group_is_gone(status) {
                return Ok(Look::Done(()));
            }
            Ok(Look::Pending(format!("`{status}`")))
        })
        .await
}

/// Whether ElastiCache reports a modification still to be applied.
fn has_pending_changes(pending: Option<&ReplicationGroupPendingModifiedValues>) -> bool {
    let Some(pending) = pending else { return false };
    pending.primary_cluster_id().is_some()
        || pending.automatic_failover_status().is_some()
        || pending.resharding().is_some()
        || pending.auth_token_status().is_some()
        || pending.user_groups().is_some()
        || !pending.log_delivery_configurations().is_empty()
        || pending.transit_encryption_enabled().is_some()
        || pending.transit_encryption_mode().is_some()
        || pending.cluster_mode().is_some()
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use aws_sdk_elasticache::operation::describe_replication_groups::DescribeReplicationGroupsOutput;
    use aws_sdk_elasticache::types::AuthTokenUpdateStatus;
    use aws_smithy_mocks::{mock, Rule};

    use super::super::mock::{group_not_found, mock_elasticache};
    use super::*;

    #[derive(Default)]
    struct Messages(Mutex<Vec<String>>);

    impl ProgressSink for Messages {
        fn waiting(&self, _address: &Address, message: &str) {
            self.0.lock().expect("lock").push(message.to_string());
        }
    }

    fn group(status: &str) -> ReplicationGroup {
        ReplicationGroup::builder().replication_group_id("shop-sessions").status(status).build()
    }

    fn answer(group: ReplicationGroup) -> Rule {
        mock!(Client::describe_replication_groups)
            .then_output(move || DescribeReplicationGroupsOutput::builder().replication_groups(group.clone()).build())
    }

    fn fast() -> Timing {
        crate::behaviours::elasticache::LIFECYCLE.fast()
    }

    fn address() -> Address {
        Address::new("elasticache_redis", "sessions")
    }

    /// The emulator makes groups `available` at once, which is why this path is tested with the
    /// SDK's mocks: a group that is still creating, then modifying, then ready.
    #[tokio::test]
    async fn waits_through_creating_and_says_so() {
        let modifying = answer(group("modifying"));
        let available = answer(group("available"));
        let ec = mock_elasticache(&[&modifying, &available]);
        let messages = Messages::default();

        let ready = until_available(&ec, &address(), group("creating"), fast(), &messages).await.expect("available");

        assert_eq!(ready.status(), Some("available"));
        let messages = messages.0.into_inner().expect("lock");
        assert_eq!(messages.len(), 2);
        assert!(messages[0].starts_with("cache `shop-sessions` is `creating` ("), "{messages:?}");
        assert!(messages[1].starts_with("cache `shop-sessions` is `modifying` ("), "{messages:?}");
        assert_eq!((modifying.num_calls(), available.num_calls()), (1, 1));
    }

    /// The emulator never has pending changes, which is why this is tested with the SDK's mocks:
    /// `available` with an auth token rotation still pending is not done yet.
    #[tokio::test]
    async fn a_pending_rotation_is_not_done() {
        let pending =
            ReplicationGroupPendingModifiedValues::builder().auth_token_status(AuthTokenUpdateStatus::Rotating).build();
        let rotating = ReplicationGroup::builder()
            .replication_group_id("shop-sessions")
            .status("available")
            .pending_modified_values(pending)
            .build();
        let settled = answer(group("available"));
        let ec = mock_elasticache(&[&settled]);
        let messages = Messages::default();

        until_available(&ec, &address(), rotating, fast(), &messages).await.expect("available");

        let messages = messages.0.into_inner().expect("lock");
        assert!(messages[0].starts_with("cache `shop-sessions` is applying changes ("), "{messages:?}");
        assert_eq!(settled.num_calls(), 1);
    }

    #[tokio::test]
    async fn a_failed_create_ends_the_wait_with_the_fix() {
        let ec = mock_elasticache(&[]);
        let error = until_available(&ec, &address(), group("create-failed"), fast(), &Messages::default())
            .await
            .expect_err("failed");
        assert!(error.message.contains("`create-failed`"), "{}", error.message);
        assert!(error.hint.expect("a hint").contains("events"));
    }

    /// The emulator never finishes a delete, which is why the AWS path is tested with the SDK's
    /// mocks: `deleting`, then ReplicationGroupNotFoundFault.
    #[tokio::test]
    async fn deleting_then_not_found_is_gone() {
        let deleting = answer(group("deleting"));
        let gone = mock!(Client::describe_replication_groups).then_error(group_not_found);
        let ec = mock_elasticache(&[&deleting, &gone]);
        let messages = Messages::default();

        until_gone(&ec, &address(), "shop-sessions", fast(), Emulator::AWS, &messages).await.expect("gone");

        let messages = messages.0.into_inner().expect("lock");
        assert!(messages[0].starts_with("cache `shop-sessions` is `deleting` ("), "{messages:?}");
        assert_eq!((deleting.num_calls(), gone.num_calls()), (1, 1));
    }

    #[tokio::test]
    async fn against_aws_a_group_stuck_deleting_times_out() {
        let deleting = mock!(Client::describe_replication_groups)
            .sequence()
            .output(|| DescribeReplicationGroupsOutput::builder().replication_groups(group("deleting")).build())
            .repeatedly()
            .build();
        let ec = mock_elasticache(&[&deleting]);
        let timing = fast().with_timeout(std::time::Duration::from_millis(20));

        let error = until_gone(&ec, &address(), "shop-sessions", timing, Emulator::AWS, &Messages::default())
            .await
            .expect_err("timed out");
        assert!(error.message.contains("still `deleting`"), "{}", error.message);

        let once = answer(group("deleting"));
        let ec = mock_elasticache(&[&once]);
        until_gone(&ec, &address(), "shop-sessions", timing, Emulator::LOCAL, &Messages::default())
            .await
            .expect("the emulator's endless `deleting` counts as gone");
    }
}
