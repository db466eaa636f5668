//! Waiting for a distribution to reach `Deployed`.
//!
//! Every config change (including disabling before a delete) puts a distribution `InProgress` for
//! minutes. The first look comes quickly, because the emulator (and an unchanged distribution) is
//! `Deployed` at once; after that a poll every few seconds is plenty, and each poll tells the
//! progress sink how long it has been, so a user watching `apply` sees why it is quiet.

use std::time::{Duration, Instant};

use super::emulator::send_readable;
use super::observation::Snapshot;
use crate::context::AwsContext;
use crate::drivers::{DriverError, ProgressSink};
use provision_core::address::Address;

pub(super) const DEPLOYED: &str = "Deployed";

/// The delay before the first look after a change: none, since the look is one request and an
/// unchanged distribution (or the emulator's) is `Deployed` already; the polls after it are spaced.
pub(super) const FIRST_POLL: Duration = Duration::ZERO;
const POLL_INTERVAL: Duration = Duration::from_secs(5);
const TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// Polls the distribution's status until it is deployed; returns the last look at it.
pub(super) async fn wait_until_deployed(
    aws: &AwsContext,
    address: &Address,
    id: &str,
    first_delay: Duration,
    progress: &dyn ProgressSink,
) -> Result<Snapshot, DriverError> {
    let started = Instant::now();
    let mut delay = first_delay;
    loop {
        tokio::time::sleep(delay).await;
        let snapshot = snapshot(aws, id).await?;
        if snapshot.status == DEPLOYED {
            return Ok(snapshot);
        }
        let waited = started.elapsed();
        if waited >= TIMEOUT {
            return Err(DriverError::invalid(format!(
                "distribution {id} was still {} after {} minutes",
                snapshot.status,
                TIMEOUT.as_secs() / 60
            ))
            .with_hint("CloudFront may still finish; run `provision apply` again later to continue"));
        }
        progress.waiting(address, &format!("distribution {id} is {} ({}s)", snapshot.status, waited.as_secs()));
        delay = POLL_INTERVAL;
    }
}

pub(super) async fn snapshot(aws: &AwsContext, id: &str) -> Result<Snapshot, DriverError> {
    let output = send_readable!(aws.cloudfront().get_distribution().id(id))
        .map_err(|error| crate::aws_error("GetDistribution", error))?;
    output
        .distribution
        .map(Snapshot::from)
        .ok_or_else(|| DriverError::invalid("GetDistribution returned no distribution"))
}
