//! The answers EC2 gives while a network catches up, and how long each is waited out.
//!
//! - `ec2.network-not-found-after-create`: a subnet, route table, gateway or address made moments
//!   ago is not yet known to the next call (`InvalidSubnetID.NotFound` …); retried for up to two
//!   minutes (terraform-provider-aws: `RetryWhenAWSErrCodeEquals(ec2PropagationTimeout, …)` in
//!   `attachInternetGateway` and the route and association creates).
//! - `ec2.network-in-use`: a subnet, gateway, address or VPC is still held by something on its way
//!   out — the network interfaces a load balancer, an ECS task or an endpoint leave for minutes
//!   after their owner is gone, a NAT gateway's mapped address (`DependencyViolation`,
//!   `InvalidIPAddress.InUse`, `AuthFailure`); waited out for as long as terraform-provider-aws
//!   does (`resourceSubnetDelete`: 20 minutes; `detachInternetGateway`: 15 minutes).
//! - `ec2.nat-gateway-lifecycle`: a NAT gateway is `pending` for a minute or two before it routes,
//!   and `deleting` before its address can be released (`waitNATGatewayCreated`/`Deleted`: 10 and
//!   30 minutes).
//! - `ec2.endpoint-lifecycle`: an interface endpoint is `pending` before it answers, `deleting`
//!   before its interfaces leave the subnets (`waitVPCEndpointAvailable`/`Deleted`: 10 minutes).

use std::future::Future;
use std::time::{Duration, Instant};

use provision_core::address::Address;

use crate::drivers::{DriverError, ProgressSink};

/// Deleting or detaching something still in use.
pub(super) const IN_USE: &[&str] = &["DependencyViolation", "InvalidIPAddress.InUse", "AuthFailure"];

/// Retries a call right after the parts it names were made.
pub(super) async fn after_create<T, F, Fut>(call: F) -> Result<T, DriverError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, DriverError>>,
{
    crate::behaviours::ec2::NEW_NETWORK_PART.run(call).await
}

/// How long to wait and how often to look.
#[derive(Clone, Copy, Debug)]
pub(super) struct Pace {
    pub timeout: Duration,
    pub first: Duration,
    pub longest: Duration,
}

impl Pace {
    pub const fn minutes(minutes: u64) -> Pace {
        Pace {
            timeout: Duration::from_secs(minutes * 60),
            first: Duration::from_secs(2),
            longest: Duration::from_secs(15),
        }
    }
}

/// Runs `call` until EC2 no longer answers that what it deletes is in use, telling `progress`
/// what it waits for; after `pace.timeout` the last answer is the error, with `hint`.
pub(super) async fn while_in_use<T, F, Fut>(
    address: &Address,
    progress: &dyn ProgressSink,
    waiting_for: &str,
    hint: &str,
    pace: Pace,
    mut call: F,
) -> Result<T, DriverError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, DriverError>>,
{
    let started = Instant::now();
    let mut pause = pace.first;
    loop {
        match call().await {
            Err(error) if IN_USE.iter().any(|code| error.code_is(code)) => {
                if started.elapsed() + pause > pace.timeout {
                    return Err(error.with_hint(hint.to_string()));
                }
                progress.waiting(address, &format!("{waiting_for} ({}s)", started.elapsed().as_secs()));
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(pace.longest);
            }
            other => return other,
        }
    }
}

/// Polls `look` until it answers `Some`, for at most `pace.timeout`.
pub(super) async fn until<T, F, Fut>(
    address: &Address,
    progress: &dyn ProgressSink,
    waiting_for: &str,
    pace: Pace,
    mut look: F,
) -> Result<T, DriverError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>, DriverError>>,
{
    let started = Instant::now();
    let mut pause = pace.first;
    loop {
        if let Some(done) = look().await? {
            return Ok(done);
        }
        if started.elapsed() + pause > pace.timeout {
            return Err(DriverError::invalid(format!(
                "still {waiting_for} after {} minutes",
                pace.timeout.as_secs() / 60
            ))
            .with_hint("AWS is slow to finish; run the command again to pick up where it stopped"));
        }
        progress.waiting(address, &format!("{waiting_for} ({}s)", started.elapsed().as_secs()));
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(pace.longest);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    struct Recorder(Mutex<Vec<String>>);

    impl ProgressSink for Recorder {
        fn waiting(&self, _address: &Address, message: &str) {
            self.0.lock().expect("lock").push(message.to_string());
        }
    }

    const FAST: Pace = Pace {
        timeout: Duration::from_millis(200),
        first: Duration::from_millis(1),
        longest: Duration::from_millis(5),
    };

    fn in_use() -> DriverError {
        DriverError::service("DeleteSubnet", Some("DependencyViolation".into()), "The subnet has dependencies")
    }

    #[tokio::test]
    async fn a_subnet_still_holding_interfaces_is_deleted_once_they_are_gone() {
        let address = Address::new("vpc", "main");
        let progress = Recorder(Mutex::new(Vec::new()));
        let mut answers = vec![Ok(()), Err(in_use()), Err(in_use())];
        let outcome = while_in_use(&address, &progress, "waiting for interfaces", "hint", FAST, || {
            std::future::ready(answers.pop().unwrap_or(Ok(())))
        })
        .await;
        assert!(outcome.is_ok());
        assert_eq!(progress.0.lock().expect("lock").len(), 2, "one progress line per wait");
    }

    #[tokio::test]
    async fn a_part_in_use_for_too_long_fails_with_the_hint() {
        let address = Address::new("vpc", "main");
        let progress = Recorder(Mutex::new(Vec::new()));
        let error = while_in_use(&address, &progress, "waiting", "these interfaces remain: eni-1", FAST, || {
            std::future::ready(Err::<(), _>(in_use()))
        })
        .await
        .unwrap_err();
        assert!(error.code_is("DependencyViolation"));
        assert_eq!(error.hint.as_deref(), Some("these interfaces remain: eni-1"));
    }

    #[tokio::test]
    async fn other_errors_are_not_waited_out() {
        let address = Address::new("vpc", "main");
        let progress = Recorder(Mutex::new(Vec::new()));
        let mut calls = 0;
        let error = while_in_use(&address, &progress, "waiting", "hint", FAST, || {
            calls += 1;
            std::future::ready(Err::<(), _>(DriverError::service(
                "DeleteSubnet",
                Some("UnauthorizedOperation".into()),
                "no",
            )))
        })
        .await
        .unwrap_err();
        assert!(error.code_is("UnauthorizedOperation"));
        assert_eq!(calls, 1);
    }
}
