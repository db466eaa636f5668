//! AWS's eventual consistency: a resource made a moment ago is not yet visible to every service.
//! An ECS service created right after its IAM role is refused with "unable to assume the role"; a
//! listener created right after its ACM certificate gets `CertificateNotFound`; a task definition
//! or service naming a role that IAM has not spread yet is refused `iam:PassRole`. Those answers
//! are retried here — only those, and only for a bounded time (two minutes, as
//! terraform-provider-aws's `PropagationTimeout`), with a growing pause. Any other error, or the
//! same error after the bound, is returned as it is.
//!
//! The emulator is always consistent, so this is tested with the SDK's mocks.

use std::future::Future;
use std::time::{Duration, Instant};

use provision_core::driver::DriverError;

/// An answer that means "not visible yet" rather than "wrong".
#[derive(Clone, Copy, Debug)]
pub struct Known {
    /// The AWS error code.
    pub code: &'static str,
    /// A lowercase part of the message, when the code alone says too little.
    pub message: Option<&'static str>,
    /// What is propagating, for the log line.
    pub what: &'static str,
}

/// ECS `CreateService`/`UpdateService` right after the service's IAM roles.
pub const ECS_ROLE: &[Known] = &[
    Known { code: "InvalidParameterException", message: Some("unable to assume"), what: "the IAM role" },
    Known { code: "InvalidParameterException", message: Some("iam:passrole"), what: "the IAM role" },
    Known { code: "AccessDeniedException", message: Some("iam:passrole"), what: "the IAM role" },
];

/// ELB `CreateListener`/`ModifyListener` right after its certificate.
pub const LISTENER_CERTIFICATE: &[Known] =
    &[Known { code: "CertificateNotFound", message: None, what: "the certificate" }];

/// How long and how often to retry.
#[derive(Clone, Copy, Debug)]
pub struct Bound {
    pub total: Duration,
    pub first_pause: Duration,
    pub longest_pause: Duration,
}

impl Bound {
    /// Two minutes, pausing 1 s, 2 s, 4 s … up to 10 s.
    pub const AWS: Bound = Bound {
        total: Duration::from_secs(120),
        first_pause: Duration::from_secs(1),
        longest_pause: Duration::from_secs(10),
    };
}

fn known<'a>(error: &DriverError, known: &'a [Known]) -> Option<&'a Known> {
    let message = error.message.to_ascii_lowercase();
    known.iter().find(|k| error.code_is(k.code) && k.message.is_none_or(|part| message.contains(part)))
}

/// Runs `call` until it succeeds, fails with an error not in `errors`, or `bound` has passed.
pub async fn retry<T, F, Fut>(errors: &[Known], bound: Bound, mut call: F) -> Result<T, DriverError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, DriverError>>,
{
    let started = Instant::now();
    let mut pause = bound.first_pause;
    loop {
        let error = match call().await {
            Ok(value) => return Ok(value),
            Err(error) => error,
        };
        let Some(matched) = known(&error, errors) else { return Err(error) };
        if started.elapsed() + pause > bound.total {
            return Err(error.with_hint(format!(
                "AWS still answered this {:.0} s later; if {} was just created, run again in a minute",
                started.elapsed().as_secs_f64(),
                matched.what
            )));
        }
        tracing::info!(
            "{}: {} ({}); {} may not have propagated yet, retrying in {:.1} s",
            error.operation,
            error.code.as_deref().unwrap_or_default(),
            error.message,
            matched.what,
            pause.as_secs_f64()
        );
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(bound.longest_pause);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    const FAST: Bound = Bound {
        total: Duration::from_millis(200),
        first_pause: Duration::from_millis(5),
        longest_pause: Duration::from_millis(20),
    };

    fn error(code: &str, message: &str) -> DriverError {
        DriverError::service("CreateService", Some(code.to_string()), message)
    }

    #[tokio::test]
    async fn a_propagation_error_is_retried_until_the_call_succeeds() {
        let calls = AtomicUsize::new(0);
        let result = retry(ECS_ROLE, FAST, || async {
            if calls.fetch_add(1, Ordering::SeqCst) < 2 {
                Err(error("InvalidParameterException", "ECS was unable to assume the role 'arn:aws:iam::1:role/x'"))
            } else {
                Ok("created")
            }
        })
        .await;
        assert_eq!(result.expect("succeeds once the role is visible"), "created");
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn other_errors_are_not_retried() {
        let calls = AtomicUsize::new(0);
        let result: Result<(), _> = retry(ECS_ROLE, FAST, || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(error("InvalidParameterException", "desiredCount must be positive"))
        })
        .await;
        assert!(result.unwrap_err().message.contains("desiredCount"));
        assert_eq!(calls.load(Ordering::SeqCst), 1, "a real mistake is reported at once");
    }

    #[tokio::test]
    async fn the_retries_stop_at_the_bound_and_the_error_says_what_to_do() {
        let calls = AtomicUsize::new(0);
        let result: Result<(), _> = retry(LISTENER_CERTIFICATE, FAST, || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(DriverError::service(
                "CreateListener",
                Some("CertificateNotFound".into()),
                "Certificate 'arn' not found",
            ))
        })
        .await;
        let error = result.unwrap_err();
        assert!(error.code_is("CertificateNotFound"));
        assert!(error.hint.as_deref().unwrap_or_default().contains("the certificate was just created"), "{error:?}");
        let calls = calls.load(Ordering::SeqCst);
        assert!((3..=12).contains(&calls), "bounded: {calls} calls in 200 ms at 5–20 ms pauses");
    }
}
