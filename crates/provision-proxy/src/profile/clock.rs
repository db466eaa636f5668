//! AWS time, scaled: with `time_scale` 60, one real second is one AWS minute, so a database that
//! AWS keeps `creating` for five minutes is `creating` here for five seconds. Every window of the
//! profile is written in AWS time and measured on this clock.
//!
//! Tests can also hold the clock still and move it by hand ([`Clock::pause`], [`Clock::advance`]),
//! so "inside the window" and "after it" do not depend on how fast the machine is.

use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct Clock {
    started: Instant,
    /// AWS seconds per real second.
    scale: f64,
    inner: Mutex<Moments>,
}

#[derive(Debug, Default)]
struct Moments {
    /// AWS time added by [`Clock::advance`].
    offset: Duration,
    /// While paused: the AWS time it stands at (before the offset).
    paused_at: Option<Duration>,
}

impl Clock {
    pub fn new(scale: f64) -> Clock {
        let scale = if scale.is_finite() && scale > 0.0 { scale } else { 1.0 };
        Clock { started: Instant::now(), scale, inner: Mutex::new(Moments::default()) }
    }

    pub fn scale(&self) -> f64 {
        self.scale
    }

    /// AWS time since the profile started.
    pub fn now(&self) -> Duration {
        let moments = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let base = moments.paused_at.unwrap_or_else(|| self.started.elapsed().mul_f64(self.scale));
        base + moments.offset
    }

    /// Stops the clock where it is: windows neither open nor close until [`Clock::advance`] or
    /// [`Clock::resume`].
    pub fn pause(&self) {
        let mut moments = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if moments.paused_at.is_none() {
            moments.paused_at = Some(self.started.elapsed().mul_f64(self.scale));
        }
    }

    /// Lets the clock run again from where it stands.
    pub fn resume(&self) {
        let mut moments = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(paused_at) = moments.paused_at.take() {
            let running = self.started.elapsed().mul_f64(self.scale);
            // Keep `now` continuous: the time spent paused does not count.
            moments.offset = (moments.offset + paused_at).saturating_sub(running);
        }
    }

    /// Moves the clock on by this much AWS time.
    pub fn advance(&self, aws: Duration) {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).offset += aws;
    }

    /// The real time that `aws` takes on this clock.
    pub fn real(&self, aws: Duration) -> Duration {
        aws.div_f64(self.scale)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaled_paused_and_advanced() {
        let clock = Clock::new(600.0);
        std::thread::sleep(Duration::from_millis(20));
        assert!(clock.now() >= Duration::from_secs(12), "20 ms real is 12 s AWS: {:?}", clock.now());
        clock.pause();
        let held = clock.now();
        std::thread::sleep(Duration::from_millis(10));
        assert_eq!(clock.now(), held);
        clock.advance(Duration::from_secs(300));
        assert_eq!(clock.now(), held + Duration::from_secs(300));
        clock.resume();
        assert!(clock.now() >= held + Duration::from_secs(300));
        assert!(clock.now() < held + Duration::from_secs(330), "paused time does not count");
        assert_eq!(clock.real(Duration::from_secs(60)), Duration::from_millis(100));
        assert_eq!(Clock::new(0.0).scale(), 1.0);
    }
}
