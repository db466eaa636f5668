//! Recognising one's own success after a lost answer (`any.response-lost`).
//!
//! AWS may act on a create and the answer never arrive (a timeout, a dropped connection). The SDK
//! then sends the request again, and that second attempt meets the first one's result: a
//! `…AlreadyExists` (or `BucketAlreadyOwnedByYou`, `InvalidPermission.Duplicate`,
//! `ResourceExistsException`). Taken at its word, the run would fail on a resource it made itself.
//! So a driver that meets one of these answers looks at what is there: when it carries this
//! stack's and this address's tags (or the token the create sent) it is this create's, and is
//! adopted; otherwise the error names the resource and the `provision import` command, and nothing
//! is taken over.
//!
//! Some creates meet nothing at all on a second attempt: EC2's `CreateVpc`,
//! `CreateInternetGateway`, `AllocateAddress` take no name and no client token, so the SDK's retry
//! of one whose answer was lost makes a second object. [`create_once`] sends such a create without
//! the SDK's retry and, when the answer may have been lost, looks for what it made by the tags it
//! gave it before sending it again.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use provision_core::address::Address;
use provision_core::driver::DriverError;

use super::answer::Answer;
use super::pace;

/// "A resource of this name already exists", in the spelling of every service provision uses.
pub const ALREADY_EXISTS: Answer = Answer {
    id: "any.response-lost",
    codes: &[
        "BucketAlreadyOwnedByYou",
        "InvalidGroup.Duplicate",
        "InvalidPermission.Duplicate",
        "EntityAlreadyExists",
        "RepositoryAlreadyExistsException",
        "DuplicateLoadBalancerName",
        "DuplicateTargetGroupName",
        "DuplicateListener",
        "DBSubnetGroupAlreadyExists",
        "DBInstanceAlreadyExists",
        "ReplicationGroupAlreadyExists",
        "CacheSubnetGroupAlreadyExists",
        "ResourceAlreadyExistsException",
        "ResourceExistsException",
        "OriginAccessControlAlreadyExists",
        "DistributionAlreadyExists",
    ],
    message: None,
    waiting_for: "",
    hint: "",
};

/// The tag that names the stack a resource was made for.
pub const STACK_TAG: &str = "provision:stack";
/// The tag that names the address a resource was made for.
pub const ADDRESS_TAG: &str = "provision:address";

/// Whether `tags` say the resource was made for `address` in `stack`.
pub fn made_by(tags: &BTreeMap<String, String>, stack: &str, address: &Address) -> bool {
    tags.get(STACK_TAG).is_some_and(|value| value == stack)
        && tags.get(ADDRESS_TAG).is_some_and(|value| *value == address.to_string())
}

/// The error for a name that is taken by something that is not this create's: what exists, and
/// how to adopt it or avoid it.
pub fn name_taken(error: DriverError, address: &Address, kind: &str, name: &str, import_id: &str) -> DriverError {
    DriverError { message: format!("a {kind} named `{name}` already exists and was not made for `{address}`"), ..error }
        .with_hint(format!("adopt it with `provision import {address} {import_id}`, or give `{address}` another name"))
}

/// How many times [`create_once`] sends a create, as many as the SDK's own retry would
/// (`context::MAX_ATTEMPTS`).
const ATTEMPTS: u32 = 8;

/// Whether AWS may have acted on a call that failed: the request went out and its answer was lost,
/// late or unreadable, or AWS answered a server error or a throttling (sending it again is right;
/// after a throttling nothing was made and the look finds nothing). A refusal made nothing, and a
/// request that could not be built never left.
pub fn may_have_acted<E: ProvideErrorMetadata>(error: &SdkError<E, HttpResponse>) -> bool {
    use crate::concurrency::is_throttling;
    match error {
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) | SdkError::ResponseError(_) => true,
        SdkError::ServiceError(service) => {
            let status = service.raw().status().as_u16();
            let code = service.err().code().unwrap_or_default();
            status >= 500
                || is_throttling(status, service.raw().body().bytes().unwrap_or_default())
                || (!code.is_empty() && is_throttling(status.max(400), code.as_bytes()))
        }
        _ => false,
    }
}

/// Sends a create that takes no client token (`create`, which must turn the SDK's retry off for
/// this one call), once. When its answer may have been lost ([`may_have_acted`]) or AWS answers
/// one of `taken` (what a second attempt meets when the first one acted), `look` searches for
/// what the create makes by the tags the create gave it, after a pause that lets AWS's reads catch
/// up: what it finds is adopted; otherwise the create is sent again, up to [`ATTEMPTS`] times with
/// growing pauses. Any other error is returned as it is.
pub async fn create_once<T, E, C, CF, L, LF>(
    operation: &str,
    taken: &[Answer],
    mut create: C,
    mut look: L,
) -> Result<T, DriverError>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    C: FnMut() -> CF,
    CF: Future<Output = Result<T, SdkError<E, HttpResponse>>>,
    L: FnMut() -> LF,
    LF: Future<Output = Result<Option<T>, DriverError>>,
{
    let mut pause = Duration::from_secs(1);
    let mut attempt = 1;
    loop {
        let error = match create().await {
            Ok(made) => return Ok(made),
            Err(error) => error,
        };
        let unsure = may_have_acted(&error);
        let error = crate::aws_error(operation, error);
        let met_its_own = Answer::find(taken, &error).is_some();
        if !unsure && !met_its_own {
            return Err(error);
        }
        tokio::time::sleep(pace::real(pause)).await;
        if let Some(found) = look().await? {
            tracing::info!(
                "{operation}: its answer may have been lost ({}); what it made was found by its tags and is used [{}]",
                error.message,
                ALREADY_EXISTS.id
            );
            return Ok(found);
        }
        if met_its_own || attempt >= ATTEMPTS {
            return Err(error);
        }
        tracing::info!("{operation} failed ({}); nothing it made was found, sending it again", error.message);
        attempt += 1;
        pause = (pause * 2).min(Duration::from_secs(10));
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use aws_smithy_runtime_api::client::result::ConnectorError;
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;
    use aws_smithy_types::error::ErrorMetadata;

    use super::*;

    fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn ownership_needs_the_stack_and_the_address() {
        let address = Address::new("log_group", "app");
        assert!(made_by(&tags(&[(STACK_TAG, "shop"), (ADDRESS_TAG, "log_group.app")]), "shop", &address));
        assert!(!made_by(&tags(&[(STACK_TAG, "shop"), (ADDRESS_TAG, "log_group.api")]), "shop", &address));
        assert!(!made_by(&tags(&[(STACK_TAG, "other"), (ADDRESS_TAG, "log_group.app")]), "shop", &address));
        assert!(!made_by(&tags(&[]), "shop", &address));
    }

    #[test]
    fn a_taken_name_keeps_the_aws_answer_and_names_the_import() {
        let answer = DriverError::service("CreateLogGroup", Some("ResourceAlreadyExistsException".into()), "exists");
        let error = name_taken(answer, &Address::new("log_group", "app"), "log group", "/shop/app", "/shop/app");
        assert!(error.code_is("ResourceAlreadyExistsException"));
        assert_eq!(error.operation, "CreateLogGroup");
        assert_eq!(error.message, "a log group named `/shop/app` already exists and was not made for `log_group.app`");
        assert_eq!(
            error.hint.as_deref(),
            Some("adopt it with `provision import log_group.app /shop/app`, or give `log_group.app` another name")
        );
        assert!(ALREADY_EXISTS.matches(&error));
    }

    type Sent = Result<String, SdkError<ErrorMetadata, HttpResponse>>;

    fn reset() -> Sent {
        Err(SdkError::dispatch_failure(ConnectorError::io("connection reset by peer".into())))
    }

    fn refused(status: u16, code: &str) -> Sent {
        let error = ErrorMetadata::builder().code(code).message("refused").build();
        let raw = HttpResponse::new(StatusCode::try_from(status).expect("a status"), SdkBody::empty());
        Err(SdkError::service_error(error, raw))
    }

    /// Runs `create_once` with these answers to the create, in turn, and a look that finds `found`
    /// from the look numbered `found_at` on; returns the result, the creates sent and the looks.
    async fn run(answers: Vec<Sent>, found_at: usize) -> (Result<String, DriverError>, usize, usize) {
        let answers = std::sync::Mutex::new(answers.into_iter());
        let (creates, looks) = (AtomicUsize::new(0), AtomicUsize::new(0));
        let taken = [Answer { codes: &["InvalidSubnet.Conflict"], ..ALREADY_EXISTS }];
        let result = create_once(
            "CreateThing",
            &taken,
            || {
                creates.fetch_add(1, Ordering::SeqCst);
                let answer = answers.lock().unwrap().next().unwrap_or_else(|| Ok("made-later".into()));
                async move { answer }
            },
            || {
                let n = looks.fetch_add(1, Ordering::SeqCst) + 1;
                async move { Ok((n >= found_at).then(|| "found".to_string())) }
            },
        )
        .await;
        (result, creates.load(Ordering::SeqCst), looks.load(Ordering::SeqCst))
    }

    #[tokio::test(start_paused = true)]
    async fn a_lost_answer_is_found_by_the_look_and_not_made_again() {
        let (result, creates, looks) = run(vec![reset()], 1).await;
        assert_eq!((result.unwrap(), creates, looks), ("found".to_string(), 1, 1));
    }

    #[tokio::test(start_paused = true)]
    async fn nothing_found_after_a_failure_sends_the_create_again() {
        let (result, creates, looks) = run(vec![reset(), refused(503, "Unavailable")], 99).await;
        assert_eq!((result.unwrap(), creates, looks), ("made-later".to_string(), 3, 2));
        let (result, creates, _) = run(vec![refused(400, "RequestLimitExceeded")], 99).await;
        assert_eq!((result.unwrap(), creates), ("made-later".to_string(), 2), "a throttled create is sent again");
    }

    #[tokio::test(start_paused = true)]
    async fn a_refusal_is_returned_at_once_and_a_taken_answer_only_after_a_look() {
        let (result, creates, looks) = run(vec![refused(400, "InvalidParameterValue")], 1).await;
        let error = result.unwrap_err();
        assert!(error.code_is("InvalidParameterValue") && error.operation == "CreateThing");
        assert_eq!((creates, looks), (1, 0), "a real mistake is not looked into");
        let (result, _, looks) = run(vec![refused(400, "InvalidSubnet.Conflict")], 1).await;
        assert_eq!((result.unwrap(), looks), ("found".to_string(), 1), "the earlier attempt's part");
        let (result, creates, _) = run(vec![refused(400, "InvalidSubnet.Conflict")], 99).await;
        assert!(result.unwrap_err().code_is("InvalidSubnet.Conflict"));
        assert_eq!(creates, 1, "not ours: not sent again");
    }

    #[tokio::test(start_paused = true)]
    async fn the_attempts_are_bounded() {
        let (result, creates, looks) = run((0..20).map(|_| reset()).collect(), 99).await;
        assert!(result.unwrap_err().message.contains("connection reset"), "the last failure is returned");
        assert_eq!((creates, looks), (ATTEMPTS as usize, ATTEMPTS as usize));
    }
}
