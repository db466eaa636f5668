//! Object I/O for the S3 state backend: conditional reads and writes with bounded retries.
//!
//! The SDK's own retries are off for the state client (see [`crate::AwsContext::state_s3`]): this
//! module retries 409s (`ConditionalRequestConflict`), 5xx, throttling, timeouts and lost
//! connections itself, with growing pauses, so it knows whether an answer came to a first attempt
//! or to a retry. That matters for conditional writes: a 412 after a retry may be the echo of the
//! retried request's own success (S3 stored it, the answer was lost), which the callers check by
//! reading the object back instead of taking it for another writer (OpenTofu#4405).

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ServerSideEncryption;
use aws_sdk_s3::Client;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use provision_core::state::BackendError;
use tokio::time::Instant;

/// Where the client comes from: the run's AWS session (connected on first use), or, in tests, a
/// ready one.
pub(super) enum ClientSource {
    Session {
        session: std::sync::Arc<crate::AwsSession>,
        region: Option<String>,
    },
    #[cfg(test)]
    Ready(Client),
}

/// How often and how patiently a call is retried.
#[derive(Clone, Debug)]
pub(super) struct RetryPolicy {
    /// Attempts in all, the first included.
    pub attempts: u32,
    pub first_pause: Duration,
    pub max_pause: Duration,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy { attempts: 6, first_pause: Duration::from_millis(200), max_pause: Duration::from_secs(5) }
    }
}

/// How the state and lock objects are encrypted at rest.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Encryption {
    /// S3-managed keys (`AES256`).
    S3Managed,
    /// `aws:kms` with this key id, ARN or alias.
    Kms(String),
}

/// An object as read.
#[derive(Clone, Debug)]
pub(super) struct Object {
    pub body: Vec<u8>,
    pub etag: String,
    /// When it was last written, by the server's clock.
    pub last_modified: Option<std::time::SystemTime>,
    /// The server's time when it answered (its `Date`).
    pub server_now: Option<std::time::SystemTime>,
}

/// What a write or delete expects to find.
#[derive(Clone, Copy, Debug)]
pub(super) enum Condition<'a> {
    /// No object (`If-None-Match: *`).
    Absent,
    /// The object with this ETag (`If-Match`).
    Matches(&'a str),
}

/// Why a conditional request was not carried out.
#[derive(Debug)]
pub(super) enum Refused {
    /// 412: the object is not as expected. `after_retry`: an earlier attempt of this same request
    /// may have succeeded (its answer was lost), so the object may be this request's own doing.
    Precondition {
        after_retry: bool,
    },
    /// `If-Match` found no object at all.
    Missing,
    Failed(BackendError),
}

impl From<BackendError> for Refused {
    fn from(error: BackendError) -> Refused {
        Refused::Failed(error)
    }
}

/// One attempt's outcome, classified.
pub(super) enum Attempt {
    Retry(String),
    Precondition,
    NotFound,
    Fatal(BackendError),
}

pub(super) struct ObjectStore {
    source: ClientSource,
    client: tokio::sync::OnceCell<Client>,
    pub bucket: String,
    pub encryption: Encryption,
    pub retry: RetryPolicy,
}

impl ObjectStore {
    pub fn new(source: ClientSource, bucket: String, encryption: Encryption, retry: RetryPolicy) -> ObjectStore {
        ObjectStore { source, client: tokio::sync::OnceCell::new(), bucket, encryption, retry }
    }

    /// The state bucket's client, built once, on first use.
    pub async fn client(&self) -> Result<&Client, BackendError> {
        self.client
            .get_or_try_init(|| async {
                match &self.source {
                    ClientSource::Session { session, region } => {
                        let aws = session.context().await.map_err(|error| BackendError::other(error.to_string()))?;
                        Ok(aws.state_s3(region.as_deref()))
                    }
                    #[cfg(test)]
                    ClientSource::Ready(client) => Ok(client.clone()),
                }
            })
            .await
    }

    fn url(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.bucket)
    }

    /// Reads an object (a given version of it); `None` when there is none.
    pub async fn get(&self, key: &str, version: Option<&str>) -> Result<Option<Object>, BackendError> {
        let client = self.client().await?;
        let clock = crate::server_clock::ServerClock::default();
        let result = self
            .retrying(&self.url(key), None, || async {
                let answer = client
                    .get_object()
                    .bucket(&self.bucket)
                    .key(key)
                    .set_version_id(version.map(str::to_string))
                    .customize()
                    .interceptor(clock.clone())
                    .send()
                    .await
                    .map_err(|error| match error.as_service_error() {
                        Some(service) if service.is_no_such_key() => Attempt::NotFound,
                        _ => classify("GetObject", &self.bucket, key, error),
                    })?;
                let etag = answer.e_tag().unwrap_or_default().to_string();
                let last_modified = answer.last_modified().and_then(|t| std::time::SystemTime::try_from(*t).ok());
                let body = answer
                    .body
                    .collect()
                    .await
                    .map_err(|error| Attempt::Retry(format!("reading `{}` was cut off: {error}", self.url(key))))?;
                Ok(Object { body: body.into_bytes().to_vec(), etag, last_modified, server_now: clock.now() })
            })
            .await;
        match result {
            Ok(object) => Ok(Some(object)),
            Err(Refused::Missing) => Ok(None),
            Err(Refused::Precondition { .. }) => {
                Err(BackendError::other(format!("reading `{}` answered 412 unexpectedly", self.url(key))))
            }
            Err(Refused::Failed(error)) => Err(error),
        }
    }

    /// A version's user metadata (`x-amz-meta-*`); `None` when the version is gone.
    pub async fn metadata(&self, key: &str, version: &str) -> Result<Option<HashMap<String, String>>, BackendError> {
        let client = self.client().await?;
        let result = self
            .retrying(&self.url(key), None, || async {
                client
                    .head_object()
                    .bucket(&self.bucket)
                    .key(key)
                    .version_id(version)
                    .send()
                    .await
                    .map(|answer| answer.metadata().cloned().unwrap_or_default())
                    .map_err(|error| classify("HeadObject", &self.bucket, key, error))
            })
            .await;
        match result {
            Ok(metadata) => Ok(Some(metadata)),
            Err(Refused::Missing) => Ok(None),
            Err(Refused::Precondition { .. }) => Ok(None),
            Err(Refused::Failed(error)) => Err(error),
        }
    }

    /// Writes an object only if `condition` holds, encrypted, with `metadata`; returns its ETag.
    /// Gives up at `deadline` (a lease renewal must not outlive the lease).
    pub async fn put(
        &self,
        key: &str,
        body: &[u8],
        condition: Condition<'_>,
        metadata: &[(&str, String)],
        deadline: Option<Instant>,
    ) -> Result<String, Refused> {
        let client = self.client().await?;
        let metadata: HashMap<String, String> =
            metadata.iter().map(|(name, value)| (name.to_string(), header_safe(value))).collect();
        self.retrying(&self.url(key), deadline, || async {
            let mut request = client
                .put_object()
                .bucket(&self.bucket)
                .key(key)
                .body(ByteStream::from(body.to_vec()))
                .content_type("application/json")
                .set_metadata(Some(metadata.clone()));
            request = match condition {
                Condition::Absent => request.if_none_match("*"),
                Condition::Matches(etag) => request.if_match(etag),
            };
            request = match &self.encryption {
                Encryption::S3Managed => request.server_side_encryption(ServerSideEncryption::Aes256),
                Encryption::Kms(key_id) => {
                    request.server_side_encryption(ServerSideEncryption::AwsKms).ssekms_key_id(key_id)
                }
            };
            let answer = request.send().await.map_err(|error| classify("PutObject", &self.bucket, key, error))?;
            Ok(answer.e_tag().unwrap_or_default().to_string())
        })
        .await
    }

    /// Deletes an object only if it still has `etag`. A missing object counts as deleted.
    pub async fn delete(&self, key: &str, etag: &str) -> Result<(), Refused> {
        let client = self.client().await?;
        let result = self
            .retrying(&self.url(key), None, || async {
                client
                    .delete_object()
                    .bucket(&self.bucket)
                    .key(key)
                    .if_match(etag)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|error| classify("DeleteObject", &self.bucket, key, error))
            })
            .await;
        match result {
            Err(Refused::Missing) => Ok(()),
            other => other,
        }
    }

    /// Runs `call` until it succeeds, fails for good, or the attempts (or the deadline) run out.
    pub(super) async fn retrying<T, F, Fut>(
        &self,
        what: &str,
        deadline: Option<Instant>,
        mut call: F,
    ) -> Result<T, Refused>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, Attempt>>,
    {
        let mut pause = self.retry.first_pause;
        let mut attempt = 1;
        loop {
            let outcome = match deadline {
                Some(deadline) => match tokio::time::timeout_at(deadline, call()).await {
                    Ok(outcome) => outcome,
                    Err(_) => Err(Attempt::Retry("no answer in time".into())),
                },
                None => call().await,
            };
            let reason = match outcome {
                Ok(value) => return Ok(value),
                Err(Attempt::Precondition) => return Err(Refused::Precondition { after_retry: attempt > 1 }),
                Err(Attempt::NotFound) => return Err(Refused::Missing),
                Err(Attempt::Fatal(error)) => return Err(Refused::Failed(error)),
                Err(Attempt::Retry(reason)) => reason,
            };
            let out_of_time = deadline.is_some_and(|deadline| Instant::now() + pause >= deadline);
            if attempt >= self.retry.attempts || out_of_time {
                return Err(Refused::Failed(BackendError::with_hint(
                    format!("`{what}`: {reason} (tried {attempt} times)"),
                    "S3 did not answer in time or kept failing; check the network and the bucket, then run the command again",
                )));
            }
            tracing::debug!("`{what}`: {reason}; retrying in {pause:?} (attempt {attempt})");
            tokio::time::sleep(jitter(pause)).await;
            pause = (pause * 2).min(self.retry.max_pause);
            attempt += 1;
        }
    }
}

/// Between half and all of `pause`, so contenders that failed together do not retry together.
fn jitter(pause: Duration) -> Duration {
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    pause / 2 + pause.mul_f64(f64::from(nanos % 1000) / 2000.0)
}

/// S3 metadata travels in HTTP headers: printable ASCII only.
fn header_safe(value: &str) -> String {
    value.chars().map(|c| if c.is_ascii_graphic() || c == ' ' { c } else { '?' }).collect()
}

/// Which answers are worth another attempt, which are conditions not met, which are final.
pub(super) fn classify<E>(operation: &str, bucket: &str, key: &str, error: SdkError<E, HttpResponse>) -> Attempt
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let status = match &error {
        SdkError::ServiceError(service) => Some(service.raw().status().as_u16()),
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            return Attempt::Retry(crate::aws_error(operation, error).to_string());
        }
        _ => None,
    };
    let code = error.code().map(str::to_string);
    let url = format!("s3://{bucket}/{key}");
    match (status, code.as_deref()) {
        (Some(412), _) | (_, Some("PreconditionFailed")) => Attempt::Precondition,
        (_, Some("NoSuchBucket")) => Attempt::Fatal(missing_bucket(bucket, key)),
        (_, Some("NoSuchKey" | "NoSuchVersion" | "NotFound")) | (Some(404), None) => Attempt::NotFound,
        (Some(409), _) | (Some(429), _) | (Some(500..=599), _) => {
            Attempt::Retry(crate::aws_error(operation, error).to_string())
        }
        (_, Some("SlowDown" | "Throttling" | "ThrottlingException" | "RequestTimeout" | "InternalError")) => {
            Attempt::Retry(crate::aws_error(operation, error).to_string())
        }
        (Some(301), _) | (_, Some("PermanentRedirect" | "AuthorizationHeaderMalformed")) => {
            Attempt::Fatal(BackendError::with_hint(
                format!("`{url}`: {}", crate::aws_error(operation, error)),
                format!("the bucket `{bucket}` is in another region than this run; set `[state] region = \"…\"` to the bucket's region"),
            ))
        }
        (Some(403), _) | (_, Some("AccessDenied")) => Attempt::Fatal(BackendError::with_hint(
            format!("`{url}`: {}", crate::aws_error(operation, error)),
            "the credentials lack a permission on the state bucket; docs/team-state.md lists the least policy (the state key and its `.lock`)",
        )),
        _ => {
            let status = status.map(|s| format!(" (HTTP {s})")).unwrap_or_default();
            Attempt::Fatal(BackendError::other(format!("`{url}`: {}{status}", crate::aws_error(operation, error))))
        }
    }
}

/// The error for a state bucket that does not exist, saying how to make one.
pub(super) fn missing_bucket(bucket: &str, key: &str) -> BackendError {
    BackendError::with_hint(
        format!("the state bucket `{bucket}` does not exist (for `s3://{bucket}/{key}`)"),
        format!(
            "make it private, versioned and encrypted: with `[state]` still pointing at the current (local) state, run `provision state migrate --to s3://{bucket}/{key} --create-bucket`; or by hand, as docs/team-state.md shows"
        ),
    )
}
