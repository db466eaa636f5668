//! How many actions run at once. A fixed number (`--parallelism N`), or `auto` (the default): start
//! at [`AUTO_START`], take one more for every action that finishes while the cloud keeps up — so an
//! apply of hundreds of independent resources reaches them all within a few rounds — and halve as
//! soon as the cloud reports throttling (additive increase, multiplicative decrease, with the
//! increase as fast as TCP's slow start, since an action is many seconds of work in AWS terms).
//!
//! The core knows nothing of AWS: "throttling" is a counter the caller hands in (the AWS crate
//! counts throttling answers), read whenever the executor is about to start something.

use std::time::{Duration, Instant};

/// Where `auto` starts.
pub const AUTO_START: usize = 32;
/// Where `auto` stops growing. Every action in flight holds its driver's state and its calls' (a
/// 1,000-resource apply peaked at 51 MB with 256, 45 MB with 128, in the same wall time: the calls
/// queue at the cloud's rate either way, and the HTTP cap below the drivers is 256 requests).
pub const AUTO_MAX: usize = 128;
/// Throttling answers within this time after a decrease count as the same burst.
const HOLD: Duration = Duration::from_secs(1);

/// What the caller asked for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Parallelism {
    Fixed(usize),
    #[default]
    Auto,
}

impl std::str::FromStr for Parallelism {
    type Err = String;

    /// `auto` or a number of at least 1.
    fn from_str(text: &str) -> Result<Parallelism, String> {
        if text == "auto" {
            return Ok(Parallelism::Auto);
        }
        match text.parse::<usize>() {
            Ok(n) if n >= 1 => Ok(Parallelism::Fixed(n)),
            _ => Err(format!("`{text}` is neither `auto` nor a number of actions (1 or more)")),
        }
    }
}

/// The limit in force during one execution.
pub(crate) struct Limit<'a> {
    mode: Parallelism,
    current: usize,
    throttling: Option<&'a (dyn Fn() -> u64 + Sync)>,
    seen: u64,
    last_decrease: Option<Instant>,
}

impl<'a> Limit<'a> {
    pub(crate) fn new(mode: Parallelism, throttling: Option<&'a (dyn Fn() -> u64 + Sync)>) -> Limit<'a> {
        let current = match mode {
            Parallelism::Fixed(n) => n.max(1),
            Parallelism::Auto => AUTO_START,
        };
        let seen = throttling.map(|count| count()).unwrap_or(0);
        Limit { mode, current, throttling, seen, last_decrease: None }
    }

    /// The number of actions that may be running now.
    pub(crate) fn current(&mut self) -> usize {
        if self.mode == Parallelism::Auto {
            if let Some(count) = self.throttling {
                let now = count();
                if now > self.seen {
                    self.seen = now;
                    let at = Instant::now();
                    if self.last_decrease.is_none_or(|last| at.duration_since(last) >= HOLD) {
                        self.current = (self.current / 2).max(1);
                        self.last_decrease = Some(at);
                        tracing::info!("the cloud is throttling: at most {} actions at once now", self.current);
                    }
                }
            }
        }
        self.current
    }

    /// An action finished well: in `auto`, one more may run.
    pub(crate) fn finished(&mut self) {
        if self.mode == Parallelism::Auto {
            self.current = (self.current + 1).min(AUTO_MAX);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};

    #[test]
    fn auto_grows_with_every_finished_action_and_halves_on_throttling() {
        let throttled = AtomicU64::new(0);
        let count = || throttled.load(Ordering::SeqCst);
        let mut limit = Limit::new(Parallelism::Auto, Some(&count));
        assert_eq!(limit.current(), AUTO_START);
        for _ in 0..10 {
            limit.finished();
        }
        assert_eq!(limit.current(), AUTO_START + 10);
        throttled.store(3, Ordering::SeqCst);
        assert_eq!(limit.current(), (AUTO_START + 10) / 2);
        throttled.store(5, Ordering::SeqCst);
        assert_eq!(limit.current(), (AUTO_START + 10) / 2, "the same burst halves once");
        for _ in 0..1000 {
            limit.finished();
        }
        assert_eq!(limit.current(), AUTO_MAX);
    }

    #[test]
    fn parses_auto_or_a_positive_number() {
        assert_eq!("auto".parse(), Ok(Parallelism::Auto));
        assert_eq!("4".parse(), Ok(Parallelism::Fixed(4)));
        assert!("0".parse::<Parallelism>().unwrap_err().contains("neither `auto` nor"));
        assert!("many".parse::<Parallelism>().is_err());
    }

    #[test]
    fn a_fixed_number_stays_fixed() {
        let throttled = AtomicU64::new(0);
        let count = || throttled.load(Ordering::SeqCst);
        let mut limit = Limit::new(Parallelism::Fixed(3), Some(&count));
        limit.finished();
        throttled.store(9, Ordering::SeqCst);
        assert_eq!(limit.current(), 3);
        assert_eq!(Limit::new(Parallelism::Fixed(0), None).current(), 1);
    }
}
