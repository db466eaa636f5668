//! The interceptor every AWS client sends its requests through: it counts requests and retries,
//! logs each retry at `-v` with what the attempt before it got, and tells the service's
//! concurrency limit whether an answer was AWS throttling. It also notes an answer that came from
//! the local emulator's own server (see [`from_emulator`]), so the emulator's work-arounds apply
//! only where the emulator answered, never merely because a custom endpoint is set.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{
    AfterDeserializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::retries::RequestAttempts;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};

use crate::concurrency::{is_throttling, Limiter};

/// The AWS services provision calls; each has its own concurrency limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Service {
    S3,
    CloudFront,
    Ec2,
    Elbv2,
    Ecr,
    Iam,
    Ecs,
    Rds,
    ElastiCache,
    Tagging,
    Sts,
    SecretsManager,
    Logs,
    Route53,
    Acm,
}

impl Service {
    pub const COUNT: usize = 15;
    pub const ALL: [Service; Service::COUNT] = [
        Service::S3,
        Service::CloudFront,
        Service::Ec2,
        Service::Elbv2,
        Service::Ecr,
        Service::Iam,
        Service::Ecs,
        Service::Rds,
        Service::ElastiCache,
        Service::Tagging,
        Service::Sts,
        Service::SecretsManager,
        Service::Logs,
        Service::Route53,
        Service::Acm,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Service::S3 => "s3",
            Service::CloudFront => "cloudfront",
            Service::Ec2 => "ec2",
            Service::Elbv2 => "elasticloadbalancing",
            Service::Ecr => "ecr",
            Service::Iam => "iam",
            Service::Ecs => "ecs",
            Service::Rds => "rds",
            Service::ElastiCache => "elasticache",
            Service::Tagging => "tagging",
            Service::Sts => "sts",
            Service::SecretsManager => "secretsmanager",
            Service::Logs => "logs",
            Service::Route53 => "route53",
            Service::Acm => "acm",
        }
    }
}

/// What the previous attempt of this call got, for the retry's log line.
#[derive(Clone, Debug)]
struct LastAnswer(String);

impl Storable for LastAnswer {
    type Storer = StoreReplace<LastAnswer>;
}

#[derive(Clone, Debug)]
pub(crate) struct Observer {
    service: Service,
    requests: Arc<AtomicU64>,
    retries: Arc<AtomicU64>,
    limiters: Arc<[Limiter; Service::COUNT]>,
    /// Set once an answer came from the emulator's server.
    emulator: Arc<AtomicBool>,
}

impl Observer {
    pub(crate) fn new(
        service: Service,
        requests: Arc<AtomicU64>,
        retries: Arc<AtomicU64>,
        limiters: Arc<[Limiter; Service::COUNT]>,
        emulator: Arc<AtomicBool>,
    ) -> Observer {
        Observer { service, requests, retries, limiters, emulator }
    }

    fn limiter(&self) -> &Limiter {
        &self.limiters[self.service as usize]
    }
}

impl Intercept for Observer {
    fn name(&self) -> &'static str {
        "ProvisionObserver"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let attempt = cfg.load::<RequestAttempts>().map(|a| a.attempts()).unwrap_or(1);
        if attempt > 1 {
            self.retries.fetch_add(1, Ordering::Relaxed);
            let operation = cfg.load::<Metadata>().map(|m| m.name().to_string()).unwrap_or_default();
            let before = cfg.load::<LastAnswer>().map(|a| a.0.clone()).unwrap_or_else(|| "no answer".into());
            tracing::info!(
                "retrying {} {operation} (attempt {attempt} of {}): the last attempt got {before}",
                self.service.name(),
                crate::context::MAX_ATTEMPTS
            );
        }
        // Until an answer comes, the attempt got none (a timeout or a lost connection).
        cfg.interceptor_state().store_put(LastAnswer("no answer (timeout or connection error)".into()));
        Ok(())
    }

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let response = context.response();
        if from_emulator(response.headers()) {
            self.emulator.store(true, Ordering::Relaxed);
        }
        let status = response.status().as_u16();
        let body = response.body().bytes().unwrap_or_default();
        if is_throttling(status, body) {
            self.limiter().throttled();
            cfg.interceptor_state().store_put(LastAnswer(format!("HTTP {status} (throttled)")));
        } else {
            if status < 400 {
                self.limiter().succeeded();
            }
            cfg.interceptor_state().store_put(LastAnswer(format!("HTTP {status}")));
        }
        Ok(())
    }
}

/// Whether an answer came from moto's server: the Python web server it runs on names itself in a
/// `Server: Werkzeug/…` header (moto adds its own `Server: amazon.com` beside it). AWS never sends
/// that, and neither does a proxy or a private endpoint in front of AWS, so unlike the endpoint
/// setting it is proof of the emulator.
pub(crate) fn from_emulator(headers: &aws_smithy_runtime_api::http::Headers) -> bool {
    headers.get_all("server").any(|server| server.starts_with("Werkzeug/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(servers: &[&str]) -> aws_smithy_runtime_api::http::Headers {
        let mut headers = aws_smithy_runtime_api::http::Headers::new();
        for server in servers {
            headers.append("server", server.to_string());
        }
        headers
    }

    #[test]
    fn only_the_emulators_own_server_marks_an_answer_as_the_emulators() {
        assert!(from_emulator(&headers(&["Werkzeug/3.1.9 Python/3.11.7", "amazon.com"])));
        assert!(!from_emulator(&headers(&["AmazonS3"])));
        assert!(!from_emulator(&headers(&["amazon.com"])), "moto's own header alone is what AWS could send too");
        assert!(!from_emulator(&headers(&[])));
    }
}
