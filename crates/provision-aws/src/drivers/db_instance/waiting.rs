//! Waiting for an instance to become `available`, or to be gone.
//!
//! Creating, resizing or deleting a database takes minutes to tens of minutes on AWS (the emulator
//! answers `available` at once). The first look comes quickly, then one every few seconds, and each
//! one tells the progress sink the status and how long it has been, so a user watching `apply`
//! sees why it is quiet. Statuses RDS never leaves by itself end the wait with an error.

use std::time::{Duration, Instant};

use aws_sdk_rds::types::{DbInstance, PendingModifiedValues};
use aws_sdk_rds::Client;

use super::api;
use crate::drivers::{DriverError, ProgressSink};
use provision_core::address::Address;

const AVAILABLE: &str = "available";
const FIRST_POLL: Duration = Duration::from_millis(500);
const POLL_INTERVAL: Duration = Duration::from_secs(5);
const TIMEOUT: Duration = Duration::from_secs(60 * 60);

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
    let identifier = latest.db_instance_identifier().unwrap_or_default().to_string();
    let started = Instant::now();
    let mut latest = latest;
    let mut delay = FIRST_POLL;
    loop {
        let status = latest.db_instance_status().unwrap_or("unknown").to_string();
        let pending = settled && has_pending_changes(latest.pending_modified_values());
        if status == AVAILABLE && !pending {
            return Ok(latest);
        }
        if STUCK.iter().any(|stuck| status.starts_with(stuck)) {
            return Err(DriverError::invalid(format!("database `{identifier}` is `{status}`"))
                .with_hint("see the instance's events in the RDS console for the cause"));
        }
        let waited = started.elapsed();
        if waited >= TIMEOUT {
            return Err(DriverError::invalid(format!(
                "database `{identifier}` was still `{status}` after {} minutes",
                TIMEOUT.as_secs() / 60
            ))
            .with_hint("RDS may still finish; run `provision apply` again later to continue"));
        }
        let shown = if pending { format!("{status}, changes pending") } else { status };
        progress.waiting(address, &format!("status {shown} ({}s)", waited.as_secs()));
        tokio::time::sleep(delay).await;
        delay = POLL_INTERVAL;
        latest = api::describe(rds, &identifier).await?.ok_or_else(|| {
            DriverError::invalid(format!("database `{identifier}` disappeared while provision waited for it"))
        })?;
    }
}

/// Polls until the instance no longer exists.
pub(super) async fn until_gone(
    rds: &Client,
    address: &Address,
    identifier: &str,
    progress: &dyn ProgressSink,
) -> Result<(), DriverError> {
    let started = Instant::now();
    let mut delay = FIRST_POLL;
    loop {
        tokio::time::sleep(delay).await;
        let Some(instance) = api::describe(rds, identifier).await? else { return Ok(()) };
        let status = instance.db_instance_status().unwrap_or("unknown");
        let waited = started.elapsed();
        if waited >= TIMEOUT {
            return Err(DriverError::invalid(format!(
                "database `{identifier}` was still `{status}` after {} minutes",
                TIMEOUT.as_secs() / 60
            ))
            .with_hint("RDS may still finish; run `provision destroy` again later to continue"));
        }
        progress.waiting(address, &format!("status {status} ({}s)", waited.as_secs()));
        delay = POLL_INTERVAL;
    }
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
}
