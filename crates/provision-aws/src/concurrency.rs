//! How many calls to one AWS service run at once: a limit per service that starts high and adapts
//! to what AWS answers — additive increase while calls succeed, multiplicative decrease when AWS
//! throttles (AIMD, as TCP does) — so a refresh of hundreds of resources sends its batched reads in
//! one round, and a throttled account slows down instead of failing.
//!
//! Drivers run their concurrent calls through [`Limiter::all`] (in order, like `buffered`) or
//! [`Limiter::run`]; the request interceptor in `context.rs` tells the limiter about every answer
//! ([`Limiter::succeeded`], [`Limiter::throttled`]), including those of calls not run through it.
//! The SDK's retries repeat the throttled call itself; this limit keeps the next ones
//! from piling on.

use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use futures::StreamExt;

/// Batched reads (one call for many resources) of one kind sent at once, at most.
pub const BATCHES_AT_ONCE: usize = 16;

/// `call` for each batch of `size` items, [`BATCHES_AT_ONCE`] at a time, answers in order: a read
/// of many batches takes one round trip per sixteen of them, not one per batch.
///
/// The calls are made before the returned future runs (a closure held inside it would not prove
/// `Send` for every lifetime, as `Limiter::all` notes).
pub fn in_batches<'a, T, Fut>(
    items: &'a [T],
    size: usize,
    call: impl FnMut(&'a [T]) -> Fut,
) -> impl Future<Output = Vec<Fut::Output>>
where
    Fut: Future,
{
    let calls: Vec<Fut> = items.chunks(size.max(1)).map(call).collect();
    futures::stream::iter(calls).buffered(BATCHES_AT_ONCE).collect::<Vec<_>>()
}

/// Calls in flight per service at the start of a run.
pub const INITIAL: f64 = 64.0;
/// Never fewer than this (the SDK's retries pace a badly throttled account further).
pub const MINIMUM: f64 = 2.0;
/// Never more than this.
pub const MAXIMUM: f64 = 256.0;
/// After a decrease, further throttling answers within this time count as the same event (they
/// were sent before the decrease took effect).
const DECREASE_HOLD: Duration = Duration::from_millis(500);

#[derive(Debug)]
struct State {
    limit: f64,
    in_flight: usize,
    last_decrease: Option<Instant>,
    throttled: u64,
}

/// The concurrency limit of one service.
#[derive(Debug)]
pub struct Limiter {
    service: &'static str,
    state: Mutex<State>,
    released: tokio::sync::Notify,
}

/// One call's place; gives it back when dropped.
pub struct Permit<'a> {
    limiter: &'a Limiter,
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        self.limiter.lock().in_flight -= 1;
        self.limiter.released.notify_waiters();
    }
}

impl Limiter {
    pub fn new(service: &'static str) -> Limiter {
        Limiter {
            service,
            state: Mutex::new(State { limit: INITIAL, in_flight: 0, last_decrease: None, throttled: 0 }),
            released: tokio::sync::Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The current limit (whole calls).
    pub fn limit(&self) -> usize {
        self.lock().limit as usize
    }

    /// Throttling answers seen so far.
    pub fn throttled_count(&self) -> u64 {
        self.lock().throttled
    }

    /// Waits for a place under the limit.
    pub async fn acquire(&self) -> Permit<'_> {
        loop {
            let released = self.released.notified();
            {
                let mut state = self.lock();
                if (state.in_flight as f64) < state.limit.floor().max(1.0) {
                    state.in_flight += 1;
                    return Permit { limiter: self };
                }
            }
            released.await;
        }
    }

    /// Runs every call, as many at once as the limit allows, and returns their outputs in order.
    ///
    /// A call is given as what makes it (`move || read(…)`), and made — its future built, on the
    /// heap — only once it has a place: an SDK call's future is tens of kilobytes, so a read of a
    /// thousand resources holds those of the calls in flight, not all thousand.
    pub async fn all<M, F>(&self, calls: impl IntoIterator<Item = M>) -> Vec<F::Output>
    where
        M: FnOnce() -> F,
        F: Future,
    {
        // Built before streaming: a closure inside the stream would not prove `Send` for every lifetime.
        let gated: Vec<_> = calls.into_iter().map(|make| self.run(make)).collect();
        futures::stream::iter(gated).buffered(MAXIMUM as usize).collect().await
    }

    /// Runs `listing` (what exists) and, alongside it under this limit, the reads a refresh can make
    /// from what the state recorded (an ARN, a name): a resource's tags need not wait for the listing
    /// to name it, so a refresh takes one round trip less, and no wait on a listing's pages. `None`
    /// for a resource whose read needs the listing. The caller keeps an early answer only for what
    /// the listing shows under the same identifier, and reads again otherwise.
    pub async fn alongside<L, M, F>(
        &self,
        listing: L,
        early: impl IntoIterator<Item = Option<M>>,
    ) -> (L::Output, Vec<Option<F::Output>>)
    where
        L: Future,
        M: FnOnce() -> F,
        F: Future,
    {
        let early: Vec<_> = early
            .into_iter()
            .map(|read| {
                move || async move {
                    match read {
                        Some(make) => Some(make().await),
                        None => None,
                    }
                }
            })
            .collect();
        tokio::join!(listing, self.all(early))
    }

    /// Makes and runs one call once there is a place for it.
    pub async fn run<F: Future>(&self, make: impl FnOnce() -> F) -> F::Output {
        let _permit = self.acquire().await;
        Box::pin(make()).await
    }

    /// A call was answered without throttling: one more place per limit's worth of answers.
    pub fn succeeded(&self) {
        let mut state = self.lock();
        state.limit = (state.limit + 1.0 / state.limit).min(MAXIMUM);
        drop(state);
        self.released.notify_waiters();
    }

    /// AWS throttled a call: halve the limit (once per burst of throttling answers).
    pub fn throttled(&self) {
        self.throttled_at(Instant::now());
    }

    fn throttled_at(&self, now: Instant) {
        let mut state = self.lock();
        state.throttled += 1;
        if state.last_decrease.is_some_and(|at| now.duration_since(at) < DECREASE_HOLD) {
            return;
        }
        state.limit = (state.limit / 2.0).max(MINIMUM);
        state.last_decrease = Some(now);
        tracing::info!("{} throttled: at most {} calls at once now", self.service, state.limit as usize);
    }
}

/// Whether an answer is AWS saying "slow down": HTTP 429, or an error code of the throttling family
/// (query, JSON and S3 protocols name them differently). 503 is S3's `SlowDown` as well as a plain
/// unavailable service; both call for fewer calls at once.
pub fn is_throttling(status: u16, body: &[u8]) -> bool {
    if status == 429 || status == 503 {
        return true;
    }
    if status < 400 {
        return false;
    }
    let body = String::from_utf8_lossy(&body[..body.len().min(2048)]);
    THROTTLING_CODES.iter().any(|code| body.contains(code))
}

/// The codes AWS services use for throttling (those the SDK's retry classifier knows too).
const THROTTLING_CODES: [&str; 9] = [
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "SlowDown",
    "PriorRequestNotComplete",
];

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Forty names in batches of ten are four calls, all in flight together (the most at once is
    /// counted), and their answers come back in the batches' order.
    #[tokio::test(start_paused = true)]
    async fn batches_of_a_read_are_sent_together_and_answered_in_order() {
        let names: Vec<String> = (0..40).map(|n| format!("name-{n}")).collect();
        let (in_flight, most) = (AtomicUsize::new(0), AtomicUsize::new(0));
        let answers = in_batches(&names, 10, |batch| {
            let (in_flight, most) = (&in_flight, &most);
            async move {
                let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                // The last batch answers first.
                let wait = if batch[0] == "name-30" { 1 } else { 10 };
                tokio::time::sleep(Duration::from_millis(wait)).await;
                in_flight.fetch_sub(1, Ordering::SeqCst);
                batch.first().cloned()
            }
        })
        .await;
        assert_eq!(most.load(Ordering::SeqCst), 4);
        let firsts: Vec<String> = answers.into_iter().flatten().collect();
        assert_eq!(firsts, ["name-0", "name-10", "name-20", "name-30"]);
    }

    #[test]
    fn the_limit_grows_while_calls_succeed_and_halves_once_per_burst_of_throttling() {
        let limiter = Limiter::new("test");
        assert_eq!(limiter.limit(), INITIAL as usize);
        // Each success adds 1/limit, so a little over a limit's worth makes one more place.
        for _ in 0..=(INITIAL as usize) {
            limiter.succeeded();
        }
        assert_eq!(limiter.limit(), INITIAL as usize + 1, "one more after a limit's worth of successes");
        let now = Instant::now();
        limiter.throttled_at(now);
        limiter.throttled_at(now + Duration::from_millis(100));
        assert_eq!(limiter.limit(), (INITIAL as usize + 1) / 2, "a burst counts once");
        limiter.throttled_at(now + DECREASE_HOLD * 2);
        assert_eq!(limiter.limit(), (INITIAL as usize + 1) / 4);
        for step in 0..20 {
            limiter.throttled_at(now + DECREASE_HOLD * (3 + step));
        }
        assert_eq!(limiter.limit(), MINIMUM as usize, "never below the minimum");
        assert_eq!(limiter.throttled_count(), 23);
    }

    #[tokio::test]
    async fn all_keeps_the_order_and_never_runs_more_than_the_limit() {
        let limiter = Limiter::new("test");
        let now = Instant::now();
        for step in 0..3 {
            limiter.throttled_at(now + DECREASE_HOLD * (2 * step)); // 64 → 32 → 16 → 8
        }
        let (running, most) = (AtomicUsize::new(0), AtomicUsize::new(0));
        let outputs = limiter
            .all((0..50).map(|n| {
                let (running, most) = (&running, &most);
                move || async move {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    tokio::task::yield_now().await;
                    running.fetch_sub(1, Ordering::SeqCst);
                    n
                }
            }))
            .await;
        assert_eq!(outputs, (0..50).collect::<Vec<_>>());
        assert_eq!(most.load(Ordering::SeqCst), 8);
    }

    #[test]
    fn throttling_answers_are_told_from_other_errors() {
        assert!(is_throttling(503, b""));
        assert!(is_throttling(429, b""));
        assert!(is_throttling(400, b"<ErrorResponse><Error><Code>Throttling</Code></Error></ErrorResponse>"));
        assert!(is_throttling(400, br#"{"__type":"ThrottlingException","message":"slow"}"#));
        assert!(!is_throttling(400, br#"{"__type":"InvalidParameterException"}"#));
        assert!(!is_throttling(200, b"Throttling is a word in this document"));
    }

    /// The early reads start with the listing, not after it (a refresh waits one round trip, not
    /// two), answer in the resources' order, and a resource without one gets `None`.
    #[tokio::test(start_paused = true)]
    async fn reads_made_alongside_a_listing_start_with_it() {
        let limiter = Limiter::new("test");
        let started = tokio::time::Instant::now();
        let listing = async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            started.elapsed()
        };
        let early = ["a", "b", "c"].map(|name| {
            (name != "b").then_some(move || async move {
                let at = started.elapsed();
                tokio::time::sleep(Duration::from_millis(100)).await;
                (name, at)
            })
        });
        let (listed_at, answers) = limiter.alongside(listing, early).await;
        assert_eq!(listed_at, Duration::from_millis(100));
        assert_eq!(answers, [Some(("a", Duration::ZERO)), None, Some(("c", Duration::ZERO))]);
        assert_eq!(started.elapsed(), Duration::from_millis(100), "both took one round trip together");
    }
}
