//! Waiting for a distribution to reach `Deployed`, and to be gone after its delete.
//!
//! Every config change (including disabling before a delete) puts a distribution `InProgress` for
//! minutes (`cloudfront.in-progress`), and a deleted one stays listed for a while after
//! `DeleteDistribution` answers (`cloudfront.distribution-deleted`). The first look comes at once,
//! because the emulator (and an unchanged distribution) is `Deployed` already; each look after it
//! tells the progress sink how long it has been, so a user watching `apply` sees why it is quiet.

use super::emulator::send_readable;
use super::observation::Snapshot;
use crate::behaviours::{cloudfront as behaviour, Look, Wait};
use crate::context::AwsContext;
use crate::drivers::{DriverError, ProgressSink};
use provision_core::address::Address;

pub(super) const DEPLOYED: &str = "Deployed";

/// Polls the distribution's status until it is deployed; returns the last look at it.
pub(super) async fn wait_until_deployed(
    aws: &AwsContext,
    address: &Address,
    id: &str,
    progress: &dyn ProgressSink,
) -> Result<Snapshot, DriverError> {
    until_deployed(aws, address, id, behaviour::DEPLOYED, progress).await
}

async fn until_deployed(
    aws: &AwsContext,
    address: &Address,
    id: &str,
    wait: Wait,
    progress: &dyn ProgressSink,
) -> Result<Snapshot, DriverError> {
    let subject = format!("distribution {id}");
    wait.until(address, progress, &subject, || async {
        let snapshot = snapshot(aws, id).await?;
        Ok(if snapshot.status == DEPLOYED {
            Look::Done(snapshot)
        } else {
            Look::Pending(format!("`{}`", snapshot.status))
        })
    })
    .await
}

/// Polls until the distribution is no longer listed (`NoSuchDistribution`).
pub(super) async fn wait_until_deleted(
    aws: &AwsContext,
    address: &Address,
    id: &str,
    progress: &dyn ProgressSink,
) -> Result<(), DriverError> {
    let subject = format!("deleted distribution {id}");
    behaviour::DELETED
        .until(address, progress, &subject, || async {
            Ok(match snapshot(aws, id).await {
                Err(error) if error.code_is("NoSuchDistribution") => Look::Done(()),
                Err(error) => return Err(error),
                Ok(snapshot) => Look::Pending(format!("still listed (`{}`)", snapshot.status)),
            })
        })
        .await
}

pub(super) async fn snapshot(aws: &AwsContext, id: &str) -> Result<Snapshot, DriverError> {
    let output = send_readable!(aws.cloudfront().get_distribution().id(id))
        .map_err(|error| crate::aws_error("GetDistribution", error))?;
    output
        .distribution
        .map(Snapshot::from)
        .ok_or_else(|| DriverError::invalid("GetDistribution returned no distribution"))
}
