//! One pacing knob for the test world: `PROVISION_TIME_SCALE`, AWS seconds per real second.
//!
//! The proxy's "AWS as it behaves" profile compresses AWS minutes into seconds (its default: one
//! AWS minute is one second). A run against it must compress its own patience the same way, or a
//! five-minute `DependencyViolation` would be waited out with pauses meant for real minutes, and a
//! bound that AWS documents would never be reached in a test. So every retry pause and bound and
//! every wait's poll interval and timeout is divided by this factor, here and nowhere else.
//!
//! Against AWS it is never set (default 1): the catalogue (`docs/aws-behaviours.md`) states the
//! times in AWS time, and so does every message provision prints about them.

use std::sync::OnceLock;
use std::time::Duration;

/// The environment variable: AWS seconds per real second (`60` for the time-scaled test world).
pub const TIME_SCALE_VAR: &str = "PROVISION_TIME_SCALE";

static SCALE: OnceLock<f64> = OnceLock::new();

/// AWS seconds per real second for this process, read once.
pub fn scale() -> f64 {
    *SCALE.get_or_init(|| match std::env::var(TIME_SCALE_VAR) {
        Err(_) => 1.0,
        Ok(text) => match parse(&text) {
            Ok(scale) => {
                if scale != 1.0 {
                    tracing::info!(
                        "{TIME_SCALE_VAR}={text}: AWS waits are {scale} times shorter (a test-world setting)"
                    );
                }
                scale
            }
            Err(message) => {
                tracing::warn!("ignoring {TIME_SCALE_VAR}={text:?}: {message}");
                1.0
            }
        },
    })
}

/// A scale as written: a positive, finite number.
pub(crate) fn parse(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(scale) if scale.is_finite() && scale > 0.0 => Ok(scale),
        _ => Err("expected a positive number of AWS seconds per real second, e.g. `60`".into()),
    }
}

/// How long to really wait for `aws` of AWS time.
pub fn real(aws: Duration) -> Duration {
    scaled(aws, scale())
}

/// How much AWS time `real` of real time stands for.
pub fn aws(real: Duration) -> Duration {
    real.mul_f64(scale())
}

fn scaled(aws: Duration, scale: f64) -> Duration {
    aws.div_f64(scale)
}

/// `45s`, `2m`, `1h 5m`: a span the way the catalogue and the messages write it.
pub fn human(duration: Duration) -> String {
    let seconds = duration.as_secs();
    match seconds {
        0..=119 => format!("{seconds}s"),
        120..=3599 => format!("{}m", seconds / 60),
        _ if seconds % 3600 < 60 => format!("{}h", seconds / 3600),
        _ => format!("{}h {}m", seconds / 3600, seconds % 3600 / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scale_is_a_positive_number() {
        assert_eq!(parse("60"), Ok(60.0));
        assert_eq!(parse(" 0.5 "), Ok(0.5));
        assert!(parse("0").is_err());
        assert!(parse("-3").is_err());
        assert!(parse("fast").is_err());
        assert!(parse("inf").is_err());
    }

    #[test]
    fn sixty_aws_seconds_pass_in_one_real_second_at_scale_sixty() {
        assert_eq!(scaled(Duration::from_secs(15 * 60), 60.0), Duration::from_secs(15));
        assert_eq!(scaled(Duration::from_secs(90), 1.0), Duration::from_secs(90));
    }

    #[test]
    fn spans_read_like_speech() {
        assert_eq!(human(Duration::from_secs(45)), "45s");
        assert_eq!(human(Duration::from_secs(90)), "90s");
        assert_eq!(human(Duration::from_secs(15 * 60)), "15m");
        assert_eq!(human(Duration::from_secs(3600)), "1h");
        assert_eq!(human(Duration::from_secs(3900)), "1h 5m");
    }
}
