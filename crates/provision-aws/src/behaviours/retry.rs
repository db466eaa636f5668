//! Retrying a call while AWS gives one of the named answers, for a bounded time.
//!
//! terraform-provider-aws's `tfresource.RetryWhen` / `RetryWhenAWSErrCodeEquals` is the model: a
//! call is repeated only while its error is one the catalogue names, the pauses grow, and the
//! bound is the time AWS documents (or terraform-provider-aws settled on) for that behaviour. Any
//! other error, or the same one after the bound, is returned as it is, with a hint that says what
//! AWS kept answering and for how long.

use std::future::Future;
use std::time::{Duration, Instant};

use provision_core::address::Address;
use provision_core::driver::{DriverError, ProgressSink};

use super::answer::Answer;
use super::pace;

/// How long a behaviour may last and how often to try again, in AWS time (see [`super::pace`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bound {
    pub total: Duration,
    pub first_pause: Duration,
    pub longest_pause: Duration,
}

impl Bound {
    /// `minutes` in all, pausing 1 s, 2 s, 4 s … up to 10 s.
    pub const fn minutes(minutes: u64) -> Bound {
        Bound {
            total: Duration::from_secs(minutes * 60),
            first_pause: Duration::from_secs(1),
            longest_pause: Duration::from_secs(10),
        }
    }

    /// `minutes` in all, pausing 1 s, 2 s, 4 s, 4 s …: for an object just made that AWS has not
    /// made visible everywhere yet (eventual consistency, IAM propagation). It usually is within
    /// seconds, and each step of a chain (a group's rules after the group, a subnet after its VPC)
    /// meets it once: pauses growing to 10 s would notice it up to 10 s late at every step.
    pub const fn propagation(minutes: u64) -> Bound {
        Bound {
            total: Duration::from_secs(minutes * 60),
            first_pause: Duration::from_secs(1),
            longest_pause: Duration::from_secs(4),
        }
    }

    /// A few milliseconds, for unit tests.
    #[cfg(test)]
    pub const TEST: Bound = Bound {
        total: Duration::from_millis(200),
        first_pause: Duration::from_millis(1),
        longest_pause: Duration::from_millis(5),
    };
}

/// A retry policy: the answers that mean "try again" and for how long.
#[derive(Clone, Copy, Debug)]
pub struct Retry {
    pub answers: &'static [Answer],
    pub bound: Bound,
}

impl Retry {
    /// No retry at all: every error is returned as it is.
    pub const NEVER: Retry = Retry::new(&[], Bound::minutes(0));

    pub const fn new(answers: &'static [Answer], bound: Bound) -> Retry {
        Retry { answers, bound }
    }

    /// The same answers within another bound (unit tests use [`Bound::TEST`]).
    pub const fn within(self, bound: Bound) -> Retry {
        Retry { bound, ..self }
    }

    /// Runs `call` until it succeeds, fails with an error none of the answers is, or the bound
    /// has passed. Each retry is logged.
    pub async fn run<T, F, Fut>(&self, call: F) -> Result<T, DriverError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, DriverError>>,
    {
        self.attempt(None, call).await
    }

    /// [`Retry::run`], telling the progress sink about each retry, so a user watching sees why
    /// the resource is quiet.
    pub async fn run_reporting<T, F, Fut>(
        &self,
        address: &Address,
        progress: &dyn ProgressSink,
        call: F,
    ) -> Result<T, DriverError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, DriverError>>,
    {
        self.attempt(Some((address, progress)), call).await
    }

    async fn attempt<T, F, Fut>(
        &self,
        report: Option<(&Address, &dyn ProgressSink)>,
        mut call: F,
    ) -> Result<T, DriverError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, DriverError>>,
    {
        let started = Instant::now();
        let total = pace::real(self.bound.total);
        let longest = pace::real(self.bound.longest_pause);
        let mut pause = pace::real(self.bound.first_pause);
        loop {
            let error = match call().await {
                Ok(value) => return Ok(value),
                Err(error) => error,
            };
            let Some(answer) = Answer::find(self.answers, &error) else { return Err(error) };
            let waited = pace::aws(started.elapsed());
            if started.elapsed() + pause > total {
                let code = error.code.clone().unwrap_or_default();
                return Err(error.with_hint(format!(
                    "AWS still answered `{code}` after {}; {}",
                    pace::human(waited),
                    answer.hint
                )));
            }
            let line = format!(
                "{} answered {}: waiting for {} ({})",
                error.operation,
                error.code.as_deref().unwrap_or_default(),
                answer.waiting_for,
                pace::human(waited)
            );
            tracing::info!("{line} [{}]: {}", answer.id, error.message);
            if let Some((address, progress)) = report {
                progress.waiting(address, &line);
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(longest);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;

    use super::*;

    const NOT_YET: Answer = Answer {
        id: "test.not-yet",
        codes: &["NotYet"],
        message: None,
        waiting_for: "the thing to appear",
        hint: "run the command again in a minute",
    };
    const RETRY: Retry = Retry::new(&[NOT_YET], Bound::TEST);

    fn not_yet() -> DriverError {
        DriverError::service("CreateThing", Some("NotYet".into()), "not visible yet")
    }

    #[derive(Default)]
    struct Lines(Mutex<Vec<String>>);

    impl ProgressSink for Lines {
        fn waiting(&self, _address: &Address, message: &str) {
            self.0.lock().expect("lock").push(message.to_string());
        }
    }

    #[tokio::test]
    async fn a_named_answer_is_retried_until_the_call_succeeds_and_each_retry_is_reported() {
        let calls = AtomicUsize::new(0);
        let lines = Lines::default();
        let address = Address::new("thing", "a");
        let result = RETRY
            .run_reporting(&address, &lines, || async {
                if calls.fetch_add(1, Ordering::SeqCst) < 2 {
                    Err(not_yet())
                } else {
                    Ok("made")
                }
            })
            .await;
        assert_eq!(result.expect("made once visible"), "made");
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        let lines = lines.0.into_inner().expect("lock");
        assert_eq!(lines.len(), 2);
        assert!(lines[0].starts_with("CreateThing answered NotYet: waiting for the thing to appear ("), "{lines:?}");
    }

    #[tokio::test]
    async fn other_errors_are_returned_at_once() {
        let calls = AtomicUsize::new(0);
        let result: Result<(), _> = RETRY
            .run(|| async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(DriverError::service("CreateThing", Some("ValidationError".into()), "bad name"))
            })
            .await;
        assert!(result.unwrap_err().code_is("ValidationError"));
        assert_eq!(calls.load(Ordering::SeqCst), 1, "a real mistake is reported at once");
    }

    #[tokio::test]
    async fn the_retries_stop_at_the_bound_with_a_hint_that_says_what_aws_kept_answering() {
        let calls = AtomicUsize::new(0);
        let result: Result<(), _> = RETRY
            .run(|| async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(not_yet())
            })
            .await;
        let error = result.unwrap_err();
        assert!(error.code_is("NotYet"));
        let hint = error.hint.expect("a hint");
        assert!(hint.starts_with("AWS still answered `NotYet` after "), "{hint}");
        assert!(hint.ends_with("run the command again in a minute"), "{hint}");
        let calls = calls.load(Ordering::SeqCst);
        assert!((10..=60).contains(&calls), "bounded: {calls} calls in 200 ms at 1–5 ms pauses");
    }
}
