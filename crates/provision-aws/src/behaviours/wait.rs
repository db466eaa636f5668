//! Waiting for a lifecycle to reach a status: a status function looked at again and again, paced,
//! reported, and bounded.
//!
//! terraform-provider-aws's `status.go` / `wait.go` pair per service is the model: a function that
//! reads the object's status (`Look`), and a waiter with an explicit timeout and poll interval. The
//! first look comes at once (an unchanged object, and the emulator's, is ready already); after it
//! the pauses grow to the poll interval. Each look that is not done is reported with the status and
//! the time waited; a timeout says what was still pending and what to do.

use std::future::Future;
use std::time::{Duration, Instant};

use provision_core::address::Address;
use provision_core::driver::{DriverError, ProgressSink};

use super::pace;

/// A wait, by its catalogue id, in AWS time (see [`super::pace`]).
#[derive(Clone, Copy, Debug)]
pub struct Wait {
    /// The behaviour's id in `docs/aws-behaviours.md` and in the proxy's profile.
    pub id: &'static str,
    pub timeout: Duration,
    /// The pause after the first look; it doubles up to `poll`.
    pub first_poll: Duration,
    pub poll: Duration,
    /// What to do when the timeout passes.
    pub hint: &'static str,
}

/// What one look found.
#[derive(Debug, PartialEq)]
pub enum Look<T> {
    /// The wait is over.
    Done(T),
    /// Not yet: the status to show, e.g. "`creating`".
    Pending(String),
}

impl Wait {
    /// The same wait with another timeout (a user's `wait_timeout`).
    pub const fn with_timeout(self, timeout: Duration) -> Wait {
        Wait { timeout, ..self }
    }

    /// The same wait polling every few milliseconds, for unit tests.
    #[cfg(test)]
    pub const fn fast(self) -> Wait {
        Wait { first_poll: Duration::from_millis(1), poll: Duration::from_millis(2), ..self }
    }

    /// A waiter for a loop of one's own.
    pub fn start<'a>(&self, address: &'a Address, progress: &'a dyn ProgressSink) -> Waiter<'a> {
        Waiter { wait: *self, address, progress, started: Instant::now(), next: pace::real(self.first_poll) }
    }

    /// Looks until `look` says done, fails, or the timeout passed; `subject` names what is waited
    /// for in the progress lines and the timeout error ("database `shop-db`").
    pub async fn until<T, F, Fut>(
        &self,
        address: &Address,
        progress: &dyn ProgressSink,
        subject: &str,
        mut look: F,
    ) -> Result<T, DriverError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<Look<T>, DriverError>>,
    {
        let mut waiter = self.start(address, progress);
        loop {
            match look().await? {
                Look::Done(value) => return Ok(value),
                Look::Pending(status) => {
                    if waiter.timed_out() {
                        return Err(waiter.timeout_error(subject, &status));
                    }
                    waiter.report(&format!("{subject} is {status}"));
                    waiter.pause().await;
                }
            }
        }
    }
}

/// Paces the looks of one wait and tells the progress sink about each.
pub struct Waiter<'a> {
    wait: Wait,
    address: &'a Address,
    progress: &'a dyn ProgressSink,
    started: Instant,
    next: Duration,
}

impl Waiter<'_> {
    /// Waits before the next look.
    pub async fn pause(&mut self) {
        tokio::time::sleep(self.next).await;
        self.next = (self.next * 2).min(pace::real(self.wait.poll)).max(Duration::from_millis(1));
    }

    /// How long it has waited, in AWS time.
    pub fn waited(&self) -> Duration {
        pace::aws(self.started.elapsed())
    }

    pub fn timed_out(&self) -> bool {
        self.started.elapsed() >= pace::real(self.wait.timeout)
    }

    /// Tells the progress sink the status and the time waited.
    pub fn report(&self, status: &str) {
        self.progress.waiting(self.address, &format!("{status} ({})", pace::human(self.waited())));
        tracing::debug!("{}: {status} [{}]", self.address, self.wait.id);
    }

    /// "`subject` was still `status` after 15m", with the wait's hint.
    pub fn timeout_error(&self, subject: &str, status: &str) -> DriverError {
        DriverError::invalid(format!("{subject} was still {status} after {}", pace::human(self.wait.timeout)))
            .with_hint(self.wait.hint)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;

    use super::*;

    const SETTLES: Wait = Wait {
        id: "test.settles",
        timeout: Duration::from_secs(5),
        first_poll: Duration::from_millis(1),
        poll: Duration::from_millis(2),
        hint: "run the command again later",
    };

    #[derive(Default)]
    struct Lines(Mutex<Vec<String>>);

    impl ProgressSink for Lines {
        fn waiting(&self, _address: &Address, message: &str) {
            self.0.lock().expect("lock").push(message.to_string());
        }
    }

    #[tokio::test]
    async fn looks_until_done_reporting_each_pending_status() {
        let looks = AtomicUsize::new(0);
        let lines = Lines::default();
        let address = Address::new("db_instance", "main");
        let found = SETTLES
            .until(&address, &lines, "database `shop-db`", || async {
                Ok(match looks.fetch_add(1, Ordering::SeqCst) {
                    0 => Look::Pending("`creating`".into()),
                    1 => Look::Pending("`backing-up`".into()),
                    _ => Look::Done("available"),
                })
            })
            .await
            .expect("done");
        assert_eq!(found, "available");
        let lines = lines.0.into_inner().expect("lock");
        assert_eq!(lines.len(), 2);
        assert!(lines[0].starts_with("database `shop-db` is `creating` ("), "{lines:?}");
    }

    #[tokio::test]
    async fn a_timeout_names_what_was_still_pending_and_says_what_to_do() {
        let wait = SETTLES.with_timeout(Duration::from_millis(20));
        let error = wait
            .until(&Address::new("db_instance", "main"), &Lines::default(), "database `shop-db`", || async {
                Ok::<Look<()>, DriverError>(Look::Pending("`modifying`".into()))
            })
            .await
            .expect_err("never done");
        assert_eq!(error.message, "database `shop-db` was still `modifying` after 0s");
        assert_eq!(error.hint.as_deref(), Some("run the command again later"));
    }

    #[tokio::test]
    async fn an_error_of_the_look_ends_the_wait() {
        let error = SETTLES
            .until(&Address::new("db_instance", "main"), &Lines::default(), "database", || async {
                Err::<Look<()>, _>(DriverError::service("DescribeDBInstances", Some("AccessDenied".into()), "no"))
            })
            .await
            .expect_err("fails");
        assert!(error.code_is("AccessDenied"));
    }
}
