//! The connection to AWS (or the local emulator) shared by every driver.
//!
//! An [`AwsSession`] is made before anything is known about the run and connects on first use;
//! the [`AwsContext`] it holds has one client per service.
//!
//! Clients are built once per run from the standard `aws-config` chain. When an endpoint is given
//! (`--endpoint`, `AWS_ENDPOINT_URL` or `[stack] endpoint`) every service goes there, S3 switches to
//! path-style addressing (an IP endpoint has no bucket subdomains), and — only if no credentials are
//! configured at all — the emulator's dummy credentials are used instead of probing instance metadata.
//! Every request passes an interceptor ([`Observer`]) that counts it, so benchmarks and `-v` can
//! report how many AWS requests a command made and how many were retries (each retry is logged at
//! `-v` with what the attempt before it got), and that tells the service's concurrency limit
//! ([`crate::concurrency`]) whether AWS is throttling.
//!
//! Retries use the SDK's standard mode (exponential backoff with jitter) with more attempts than
//! the default three, and every client has explicit timeouts, so a throttled or flaky endpoint makes
//! a run slower, not failed or hung. Not the SDK's adaptive mode: in aws-smithy-runtime 1.16 its
//! client-side rate limiter makes a retry after one throttling answer wait about 20 s (measured
//! through provision-proxy: a 4-resource apply with 2 throttled requests took 21 s instead of 1.8 s;
//! smithy-rs #4632 and #4749 fix its starved capacity in later releases). The client-side back-off
//! adaptive mode would give is the per-service AIMD limit in [`crate::concurrency`] instead.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region};

use crate::concurrency::Limiter;
use crate::observer::Observer;
pub use crate::observer::Service;

/// Attempts per call (the SDK's default is 3): through a share of throttled answers, a call still
/// gets through; the backoff between attempts grows exponentially, with jitter.
pub const MAX_ATTEMPTS: u32 = 8;
/// A connection that cannot be made in this time is an error (and retried).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// No byte of an answer for this long: the attempt failed (and is retried).
const READ_TIMEOUT: Duration = Duration::from_secs(60);
/// One attempt of a control-plane call. Not for S3, whose uploads may take longer.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(120);
/// Retries a service may spend before the SDK stops retrying for a while (its retry quota): sized
/// so that a run of hundreds of calls survives a steady share of throttling.
const RETRY_QUOTA: usize = 5000;

/// A service client built once from the shared configuration, with the observer and retry quota.
macro_rules! client {
    ($self:ident, $field:ident, $krate:ident, $service:expr) => {
        $self.$field.get_or_init(|| {
            let config = $krate::config::Builder::from(&$self.config)
                .interceptor($self.observer($service))
                .retry_partition(
                    $krate::config::retry::RetryPartition::custom($service.name())
                        .token_bucket($krate::config::retry::TokenBucket::builder().capacity(RETRY_QUOTA).build())
                        .build(),
                )
                .build();
            $krate::Client::from_conf(config)
        })
    };
}

/// Where to connect, from flags, environment and the stack file (flags win).
#[derive(Clone, Debug, Default)]
pub struct ConnectOptions {
    pub endpoint: Option<String>,
    pub region: Option<String>,
    pub profile: Option<String>,
}

/// The run's connection, made on first use: offline commands never load AWS configuration.
pub struct AwsSession {
    options: std::sync::Mutex<ConnectOptions>,
    context: tokio::sync::OnceCell<AwsContext>,
}

impl AwsSession {
    pub fn new(options: ConnectOptions) -> std::sync::Arc<AwsSession> {
        std::sync::Arc::new(AwsSession {
            options: std::sync::Mutex::new(options),
            context: tokio::sync::OnceCell::new(),
        })
    }

    /// Where to connect, once the stack file (its `endpoint` and `region`) is known. Takes effect
    /// only before the first connection.
    pub fn configure(&self, options: ConnectOptions) {
        *self.options.lock().unwrap_or_else(|p| p.into_inner()) = options;
    }

    /// The connected context; the first call loads the configuration (region, credentials chain).
    pub async fn context(&self) -> Result<&AwsContext, provision_core::driver::DriverError> {
        if let Some(context) = self.context.get() {
            return Ok(context);
        }
        let options = self.options.lock().unwrap_or_else(|p| p.into_inner()).clone();
        // Boxed: the configuration loader's future is about 10 KB, and every driver call awaits this
        // one, so unboxed it would make each of the hundreds of calls in flight that much larger.
        self.context
            .get_or_try_init(|| Box::pin(async move { AwsContext::connect(&options).await }))
            .await
            .map_err(|error| provision_core::driver::DriverError::invalid(format!("{error:#}")))
    }

    /// The context if connected already.
    pub fn connected(&self) -> Option<&AwsContext> {
        self.context.get()
    }
}

pub struct AwsContext {
    config: aws_config::SdkConfig,
    /// The clients' shared HTTP client; the state bucket's client goes around its cap.
    http_client: crate::http_client::Capped,
    endpoint: Option<String>,
    requests: Arc<AtomicU64>,
    retries: Arc<AtomicU64>,
    limiters: Arc<[Limiter; Service::COUNT]>,
    /// An answer came from the emulator's server (see [`AwsContext::is_emulator`]).
    emulator: Arc<AtomicBool>,
    s3: OnceLock<aws_sdk_s3::Client>,
    cloudfront: OnceLock<aws_sdk_cloudfront::Client>,
    ec2: OnceLock<aws_sdk_ec2::Client>,
    elbv2: OnceLock<aws_sdk_elasticloadbalancingv2::Client>,
    ecr: OnceLock<aws_sdk_ecr::Client>,
    iam: OnceLock<aws_sdk_iam::Client>,
    ecs: OnceLock<aws_sdk_ecs::Client>,
    rds: OnceLock<aws_sdk_rds::Client>,
    elasticache: OnceLock<aws_sdk_elasticache::Client>,
    tagging: OnceLock<aws_sdk_resourcegroupstagging::Client>,
    sts: OnceLock<aws_sdk_sts::Client>,
    secretsmanager: OnceLock<aws_sdk_secretsmanager::Client>,
    logs: OnceLock<aws_sdk_cloudwatchlogs::Client>,
    account: tokio::sync::OnceCell<String>,
    route53: OnceLock<aws_sdk_route53::Client>,
    /// ACM clients by region: a certificate for CloudFront lives in us-east-1 whatever the stack's
    /// region is. Each is built once, on first use.
    acm: std::sync::Mutex<std::collections::BTreeMap<String, aws_sdk_acm::Client>>,
}

impl AwsContext {
    pub async fn connect(options: &ConnectOptions) -> anyhow::Result<AwsContext> {
        let endpoint =
            options.endpoint.clone().or_else(|| std::env::var("AWS_ENDPOINT_URL").ok().filter(|v| !v.is_empty()));
        let http_client = crate::http_client::capped()?;
        let mut loader = aws_config::defaults(BehaviorVersion::latest()).http_client(http_client.clone());
        if let Some(region) = &options.region {
            loader = loader.region(Region::new(region.clone()));
        }
        if let Some(profile) = &options.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(endpoint) = &endpoint {
            loader = loader.endpoint_url(endpoint);
            let has_credentials = std::env::var_os("AWS_ACCESS_KEY_ID").is_some()
                || std::env::var_os("AWS_PROFILE").is_some()
                || options.profile.is_some();
            if !has_credentials {
                loader = loader.credentials_provider(aws_sdk_s3::config::Credentials::new(
                    "test",
                    "test",
                    None,
                    None,
                    "provision-emulator",
                ));
            }
        }
        loader = loader.retry_config(RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS)).timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .read_timeout(READ_TIMEOUT)
                .operation_attempt_timeout(ATTEMPT_TIMEOUT)
                .build(),
        );
        let mut config = loader.load().await;
        if config.region().is_none() {
            if endpoint.is_some() {
                config = config.into_builder().region(Region::new("us-east-1")).build();
            } else {
                anyhow::bail!(
                    "no AWS region is configured\n\nhint: set `region` in `[stack]`, pass `--region`, or set `AWS_REGION`"
                );
            }
        }
        Ok(AwsContext::with(config, http_client, endpoint))
    }

    /// A context whose clients are made on first use.
    fn with(
        config: aws_config::SdkConfig,
        http_client: crate::http_client::Capped,
        endpoint: Option<String>,
    ) -> AwsContext {
        AwsContext {
            config,
            http_client,
            endpoint,
            requests: Arc::new(AtomicU64::new(0)),
            retries: Arc::new(AtomicU64::new(0)),
            limiters: Arc::new(Service::ALL.map(|service| Limiter::new(service.name()))),
            emulator: Arc::new(AtomicBool::new(false)),
            s3: OnceLock::new(),
            cloudfront: OnceLock::new(),
            ec2: OnceLock::new(),
            elbv2: OnceLock::new(),
            ecr: OnceLock::new(),
            iam: OnceLock::new(),
            ecs: OnceLock::new(),
            rds: OnceLock::new(),
            elasticache: OnceLock::new(),
            tagging: OnceLock::new(),
            sts: OnceLock::new(),
            secretsmanager: OnceLock::new(),
            logs: OnceLock::new(),
            account: tokio::sync::OnceCell::new(),
            route53: OnceLock::new(),
            acm: std::sync::Mutex::new(std::collections::BTreeMap::new()),
        }
    }

    pub fn region(&self) -> &str {
        self.config.region().map(|r| r.as_ref()).unwrap_or("us-east-1")
    }

    pub fn endpoint(&self) -> Option<&str> {
        self.endpoint.as_deref()
    }

    /// The loaded configuration (region, credentials, endpoint), for a client made outside the
    /// drivers (`import --from-cloudformation`'s).
    pub fn sdk_config(&self) -> &aws_config::SdkConfig {
        &self.config
    }

    /// AWS requests sent so far (every attempt counts).
    pub fn request_count(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Retries sent so far (attempts after the first of a call).
    pub fn retry_count(&self) -> u64 {
        self.retries.load(Ordering::Relaxed)
    }

    /// Throttling answers AWS gave so far, over all services.
    pub fn throttled_count(&self) -> u64 {
        self.limiters.iter().map(Limiter::throttled_count).sum()
    }

    /// How many calls to `service` may run at once; drivers run their concurrent calls through it.
    pub fn limiter(&self, service: Service) -> &Limiter {
        &self.limiters[service as usize]
    }

    fn observer(&self, service: Service) -> Observer {
        Observer::new(
            service,
            self.requests.clone(),
            self.retries.clone(),
            self.limiters.clone(),
            self.emulator.clone(),
        )
    }

    /// Whether provision talks to the local emulator: an endpoint is set **and** its answers come
    /// from the emulator's own server (`observer::from_emulator`). A custom endpoint alone proves
    /// nothing (a proxy or a private endpoint in front of AWS), so the emulator's work-arounds
    /// never apply there. Asks STS who the caller is when no answer has been seen yet (a call made
    /// once per run anyway).
    pub async fn is_emulator(&self) -> bool {
        if self.endpoint.is_none() {
            return false;
        }
        if !self.emulator.load(Ordering::Relaxed) {
            let _ = self.account().await;
        }
        self.emulator.load(Ordering::Relaxed)
    }

    pub fn s3(&self) -> &aws_sdk_s3::Client {
        self.s3.get_or_init(|| {
            let config = aws_sdk_s3::config::Builder::from(&self.config)
                .force_path_style(self.endpoint.is_some())
                .interceptor(self.observer(Service::S3))
                .retry_partition(
                    aws_sdk_s3::config::retry::RetryPartition::custom(Service::S3.name())
                        .token_bucket(aws_sdk_s3::config::retry::TokenBucket::builder().capacity(RETRY_QUOTA).build())
                        .build(),
                )
                // Uploads may take longer than a control-plane call: only the read timeout applies.
                .timeout_config(
                    TimeoutConfig::builder()
                        .connect_timeout(CONNECT_TIMEOUT)
                        .read_timeout(READ_TIMEOUT)
                        .disable_operation_attempt_timeout()
                        .build(),
                )
                .build();
            aws_sdk_s3::Client::from_conf(config)
        })
    }

    /// A client for the state bucket (the state backend builds it once and keeps it): the
    /// bucket's own region when `[state] region` names one, and no SDK retries — the backend
    /// retries itself, so it knows whether an answer came to a retry (a 412 after a retried
    /// conditional write may be that write's own success). Each attempt has a time limit, so a
    /// stuck connection is retried instead of hanging the run.
    pub fn state_s3(&self, region: Option<&str>) -> aws_sdk_s3::Client {
        let timeouts = aws_config::timeout::TimeoutConfig::builder()
            .connect_timeout(std::time::Duration::from_secs(5))
            .operation_attempt_timeout(std::time::Duration::from_secs(30))
            .build();
        let mut builder = aws_sdk_s3::config::Builder::from(&self.config)
            .force_path_style(self.endpoint.is_some())
            .retry_config(aws_config::retry::RetryConfig::disabled())
            .timeout_config(timeouts)
            // A state write does not queue behind the run's requests.
            .http_client(self.http_client.uncapped())
            .interceptor(self.observer(Service::S3));
        if let Some(region) = region {
            builder = builder.region(Region::new(region.to_string()));
        }
        aws_sdk_s3::Client::from_conf(builder.build())
    }

    pub fn cloudfront(&self) -> &aws_sdk_cloudfront::Client {
        client!(self, cloudfront, aws_sdk_cloudfront, Service::CloudFront)
    }

    pub fn ec2(&self) -> &aws_sdk_ec2::Client {
        client!(self, ec2, aws_sdk_ec2, Service::Ec2)
    }

    pub fn elbv2(&self) -> &aws_sdk_elasticloadbalancingv2::Client {
        client!(self, elbv2, aws_sdk_elasticloadbalancingv2, Service::Elbv2)
    }

    pub fn ecr(&self) -> &aws_sdk_ecr::Client {
        client!(self, ecr, aws_sdk_ecr, Service::Ecr)
    }

    pub fn iam(&self) -> &aws_sdk_iam::Client {
        client!(self, iam, aws_sdk_iam, Service::Iam)
    }

    pub fn ecs(&self) -> &aws_sdk_ecs::Client {
        client!(self, ecs, aws_sdk_ecs, Service::Ecs)
    }

    pub fn rds(&self) -> &aws_sdk_rds::Client {
        client!(self, rds, aws_sdk_rds, Service::Rds)
    }

    pub fn elasticache(&self) -> &aws_sdk_elasticache::Client {
        client!(self, elasticache, aws_sdk_elasticache, Service::ElastiCache)
    }

    pub fn tagging(&self) -> &aws_sdk_resourcegroupstagging::Client {
        client!(self, tagging, aws_sdk_resourcegroupstagging, Service::Tagging)
    }

    pub fn sts(&self) -> &aws_sdk_sts::Client {
        client!(self, sts, aws_sdk_sts, Service::Sts)
    }

    pub fn secretsmanager(&self) -> &aws_sdk_secretsmanager::Client {
        client!(self, secretsmanager, aws_sdk_secretsmanager, Service::SecretsManager)
    }

    pub fn logs(&self) -> &aws_sdk_cloudwatchlogs::Client {
        client!(self, logs, aws_sdk_cloudwatchlogs, Service::Logs)
    }

    /// The account the credentials belong to (STS, asked once per run).
    pub async fn account(&self) -> Result<&str, provision_core::driver::DriverError> {
        let account = self
            .account
            .get_or_try_init(|| async {
                let answer = self
                    .sts()
                    .get_caller_identity()
                    .send()
                    .await
                    .map_err(|error| crate::aws_error("GetCallerIdentity", error))?;
                answer.account().map(str::to_string).ok_or_else(|| {
                    provision_core::driver::DriverError::invalid("GetCallerIdentity answered without an account id")
                })
            })
            .await?;
        Ok(account.as_str())
    }

    pub fn route53(&self) -> &aws_sdk_route53::Client {
        self.route53.get_or_init(|| {
            let mut config =
                aws_sdk_route53::config::Builder::from(&self.config).interceptor(self.observer(Service::Route53));
            if self.endpoint.as_deref().is_some_and(|endpoint| endpoint.starts_with("http://")) {
                // The emulator's record values need rewriting before the SDK reads them.
                config = config.http_client(crate::route53_emulator::CdataAsText::around(
                    aws_smithy_runtime_api::client::http::SharedHttpClient::new(self.http_client.clone()),
                ));
            }
            aws_sdk_route53::Client::from_conf(config.build())
        })
    }

    /// ACM in the run's region.
    pub fn acm(&self) -> aws_sdk_acm::Client {
        self.acm_in(self.region())
    }

    /// ACM in `region` (a CloudFront certificate lives in us-east-1), built once per region. SDK
    /// clients are cheap handles onto shared state, so a clone is returned.
    pub fn acm_in(&self, region: &str) -> aws_sdk_acm::Client {
        let mut clients = self.acm.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        clients
            .entry(region.to_string())
            .or_insert_with(|| {
                let config = aws_sdk_acm::config::Builder::from(&self.config)
                    .region(Region::new(region.to_string()))
                    .interceptor(self.observer(Service::Acm))
                    .build();
                aws_sdk_acm::Client::from_conf(config)
            })
            .clone()
    }
}

/// A context whose clients are mocked ones, for driver tests of what the emulator never answers.
#[cfg(test)]
impl AwsContext {
    /// A context in us-east-1 with no client set: each test sets the ones its driver calls.
    pub(crate) fn mocked() -> AwsContext {
        let config = aws_config::SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .build();
        AwsContext::with(config, crate::http_client::capped().expect("an HTTP client"), None)
    }

    pub(crate) fn with_cloudfront(self, client: aws_sdk_cloudfront::Client) -> AwsContext {
        let _ = self.cloudfront.set(client);
        self
    }
}
