//! Waiting for an instance to become `available`, or to be gone.
//!
//! Creating, resizing or deleting a database takes minutes to tens of minutes on AWS (the emulator
//! answers `available` at once). The first look comes quickly, then one every few seconds, and each
//! one tells the progress sink the status and how long it has been, so a user watching `apply`
//! sees why it is quiet. Statuses RDS never leaves by itself end the wait with an error.

use aws_sdk_rds::types::{DbInstance, PendingModifiedValues};
use aws_sdk_rds::Client;

use super::api;
use crate::behaviours::{rds as behaviour, Look, Wait};
use crate::drivers::{DriverError, ProgressSink};
use provision_core::address::Address;

const AVAILABLE: &str = "available";

/// Statuses that need someone to act; waiting longer would not change them.
const STUCK: &[&str] = &[
    "failed",
    "incompatible-network",
    "incompatible-option-group",
    "incompatible-parameters",
    "incompatible-restore",
    "inaccessible-encryption-credentials",
    "restore-error",
];

/// Polls until the instance is `available` (and, with `settled`, no longer has modifications
/// pending: right after ModifyDBInstance RDS may still say `available` before it starts).
/// `latest` is the answer already at hand, so an instance that is ready costs no extra request.
pub(super) async fn until_available(
    rds: &Client,
    address: &Address,
    latest: DbInstance,
    settled: bool,
    progress: &dyn ProgressSink,
) -> Result<DbInstance, DriverError> {
    available_within(rds, address, latest, settled, behaviour::LIFECYCLE, progress).await
}

async fn available_within(
    rds: &Client,
    address: &Address,
    latest: DbInstance,
    settled: bool,
    wait: Wait,
    progress: &dyn ProgressSink,
) -> Result<DbInstance, DriverError> {
    let identifier = latest.db_instance_identifier().unwrap_or_default().to_string();
    let mut at_hand = Some(latest);
    let subject = format!("database `{identifier}`");
    wait.until(address, progress, &subject, || {
        let latest = at_hand.take();
        let identifier = &identifier;
        async move {
            let latest = match latest {
                Some(latest) => latest,
                None => api::describe(rds, identifier).await?.ok_or_else(|| {
                    DriverError::invalid(format!("database `{identifier}` disappeared while provision waited for it"))
                })?,
            };
            let status = latest.db_instance_status().unwrap_or("unknown").to_string();
            let pending = settled && has_pending_changes(latest.pending_modified_values());
            if status == AVAILABLE && !pending {
                return Ok(Look::Done(latest));
            }
            if STUCK.iter().any(|stuck| status.starts_with(stuck)) {
                return Err(DriverError::invalid(format!("database `{identifier}` is `{status}`"))
                    .with_hint("see the instance's events in the RDS console for the cause"));
            }
            Ok(Look::Pending(if pending { format!("`{status}`, changes pending") } else { format!("`{status}`") }))
        }
    })
    .await
}

/// Polls until the instance no longer exists.
pub(super) async fn until_gone(
    rds: &Client,
    address: &Address,
    identifier: &str,
    progress: &dyn ProgressSink,
) -> Result<(), DriverError> {
    let subject = format!("database `{identifier}`");
    behaviour::LIFECYCLE
        .until(address, progress, &subject, || async {
            Ok(match api::describe(rds, identifier).await? {
                None => Look::Done(()),
                Some(instance) => Look::Pending(format!("`{}`", instance.db_instance_status().unwrap_or("unknown"))),
            })
        })
        .await
}

/// Whether a modification RDS reports as pending is still to be applied.
fn has_pending_changes(pending: Option<&PendingModifiedValues>) -> bool {
    let Some(pending) = pending else { return false };
    pending.db_instance_class().is_some()
        || pending.allocated_storage().is_some()
        || pending.master_user_password().is_some()
        || pending.port().is_some()
        || pending.backup_retention_period().is_some()
        || pending.multi_az().is_some()
        || pending.engine_version().is_some()
        || pending.db_subnet_group_name().is_some()
        || pending.storage_type().is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_pending_block_is_nothing_pending() {
        assert!(!has_pending_changes(None));
        assert!(!has_pending_changes(Some(&PendingModifiedValues::builder().build())));
        let class = PendingModifiedValues::builder().db_instance_class("db.t3.small").build();
        assert!(has_pending_changes(Some(&class)));
    }

    /// RDS's lifecycle after a create, played by the SDK's mocks (the emulator is `available` at
    /// once): `creating`, then `backing-up`, then `available`.
    #[tokio::test]
    async fn a_new_database_is_waited_for_through_its_steps() {
        use aws_sdk_rds::operation::describe_db_instances::DescribeDbInstancesOutput;
        use aws_smithy_mocks::mock;
        let instance =
            |status: &str| DbInstance::builder().db_instance_identifier("shop-db").db_instance_status(status).build();
        let backing_up = mock!(Client::describe_db_instances)
            .then_output(move || DescribeDbInstancesOutput::builder().db_instances(instance("backing-up")).build());
        let available = mock!(Client::describe_db_instances)
            .then_output(move || DescribeDbInstancesOutput::builder().db_instances(instance("available")).build());
        let rds = mock_client!(aws_sdk_rds, [&backing_up, &available]);
        struct Lines(std::sync::Mutex<Vec<String>>);
        impl ProgressSink for Lines {
            fn waiting(&self, _address: &Address, message: &str) {
                self.0.lock().expect("lock").push(message.to_string());
            }
        }
        let lines = Lines(Default::default());
        let address = Address::new("db_instance", "main");
        let wait = behaviour::LIFECYCLE.fast();
        let ready =
            available_within(&rds, &address, instance("creating"), false, wait, &lines).await.expect("available");
        assert_eq!(ready.db_instance_status(), Some("available"));
        let lines = lines.0.into_inner().expect("lock");
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(lines[0].starts_with("database `shop-db` is `creating` ("), "{lines:?}");
        assert!(lines[1].starts_with("database `shop-db` is `backing-up` ("), "{lines:?}");
    }
}
