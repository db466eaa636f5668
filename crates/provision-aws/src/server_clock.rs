//! The server's clock, as its answers tell it (`Date`).
//!
//! Whether a lock's lease ran out must not depend on the clock of the run that wants it: a laptop
//! ten minutes fast would take over a live lock from a CI job, and then both write. Every S3 answer
//! carries `Date` (the server's time as it answered) and a lock object its `Last-Modified` (the
//! server's time when its holder last wrote it), so the lease is judged on the server's clock
//! alone: it ran out when `Date` is past `Last-Modified` plus the lease length the holder wrote.
//! The bucket driver uses it the same way to tell how this machine's clock stands to S3's.

use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeDeserializationInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use aws_smithy_types::date_time::{DateTime, Format};

/// Keeps the `Date` header of the last answer of the request it is attached to.
#[derive(Clone, Debug, Default)]
pub(crate) struct ServerClock(Arc<Mutex<Option<SystemTime>>>);

impl ServerClock {
    /// The server's time when it last answered, if it said.
    pub fn now(&self) -> Option<SystemTime> {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Intercept for ServerClock {
    fn name(&self) -> &'static str {
        "ProvisionServerClock"
    }

    fn read_before_deserialization(
        &self,
        context: &BeforeDeserializationInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(date) = context.response().headers().get("date").and_then(parse_http_date) {
            *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(date);
        }
        Ok(())
    }
}

/// An HTTP date (`Sun, 06 Nov 1994 08:49:37 GMT`).
pub(crate) fn parse_http_date(text: &str) -> Option<SystemTime> {
    DateTime::from_str(text.trim(), Format::HttpDate).ok().and_then(|date| SystemTime::try_from(date).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_dates_parse() {
        let date = parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        assert_eq!(date.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs(), 784111777);
        assert!(parse_http_date("yesterday").is_none());
    }
}
