//! The S3 backend's retry and recognition logic against the SDK's mocks: answers in an order the
//! emulator cannot be made to give on cue (a 412 right after a 500 on the same request, a lock whose
//! lease runs out between two reads). The integration tests (`tests/it/team_state.rs`) cover the
//! same paths end to end through the fault-injecting proxy.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_s3::operation::get_object::{GetObjectError, GetObjectOutput};
use aws_sdk_s3::operation::put_object::PutObjectOutput;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::error::NoSuchKey;
use aws_sdk_s3::Client;
use aws_smithy_mocks::{mock, Rule};
use provision_core::stack::S3Location;
use provision_core::state::{BackendError, Lease, LockInfo, State, StateBackend, Version, WrittenBy};

use super::object_io::{ClientSource, RetryPolicy};
use super::S3Backend;

const PRECONDITION: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>PreconditionFailed</Code><Message>At least one of the pre-conditions you specified did not hold</Message></Error>";
const INTERNAL: &str = "<Error><Code>InternalError</Code><Message>We encountered an internal error.</Message></Error>";
const CONFLICT: &str = "<Error><Code>ConditionalRequestConflict</Code><Message>A conflicting conditional operation is currently in progress against this resource.</Message></Error>";

/// A backend answered by `rules` in order, retrying quickly.
fn backend(rules: &[&Rule]) -> S3Backend {
    let client = mock_client!(
        aws_sdk_s3,
        rules.iter().copied(),
        retry_config(aws_sdk_s3::config::retry::RetryConfig::disabled())
    );
    let mut location = S3Location::new("team-state", "shop/prod.json");
    location.lock_ttl = Duration::from_secs(60);
    let retry = RetryPolicy { attempts: 4, first_pause: Duration::from_millis(1), max_pause: Duration::from_millis(2) };
    S3Backend::with_source(ClientSource::Ready(client), location, retry)
}

/// What the last matching `PutObject` sent, so a later `GetObject` can answer with it (as S3 does
/// when the put was stored but its answer lost).
#[derive(Clone, Default)]
struct Sent(Arc<Mutex<Vec<u8>>>);

impl Sent {
    fn put_rule(
        &self,
    ) -> aws_smithy_mocks::RuleBuilder<
        aws_sdk_s3::operation::put_object::PutObjectInput,
        PutObjectOutput,
        aws_sdk_s3::operation::put_object::PutObjectError,
    > {
        let sent = self.clone();
        mock!(Client::put_object).match_requests(move |input| {
            if let Some(bytes) = input.body().bytes() {
                *sent.0.lock().unwrap() = bytes.to_vec();
            }
            true
        })
    }

    fn get_rule(&self, etag: &'static str) -> Rule {
        let sent = self.clone();
        mock!(Client::get_object).then_output(move || {
            GetObjectOutput::builder().body(ByteStream::from(sent.0.lock().unwrap().clone())).e_tag(etag).build()
        })
    }
}

fn get_returning(body: Vec<u8>, etag: &'static str) -> Rule {
    mock!(Client::get_object)
        .then_output(move || GetObjectOutput::builder().body(ByteStream::from(body.clone())).e_tag(etag).build())
}

fn state(serial: u64, who: &str) -> State {
    let mut state = State::new("shop");
    state.lineage = "lineage-1".into();
    state.serial = serial;
    state.written_by =
        Some(WrittenBy { who: who.into(), operation: "apply".into(), time: "2026-12-01T10:00:00Z".into() });
    state
}

#[tokio::test]
async fn a_412_after_a_retried_write_that_had_succeeded_is_recognised_as_its_own() {
    // The first attempt was stored but its answer lost (a 500 here); the retry meets 412 from that
    // very success. The stored document is this write's: the write succeeded.
    let sent = Sent::default();
    let put = sent
        .put_rule()
        .sequence()
        .http_status(500, Some(INTERNAL.into()))
        .http_status(412, Some(PRECONDITION.into()))
        .build();
    let get = sent.get_rule("\"etag-after\"");
    let backend = backend(&[&put, &get]);
    let written = backend.write(&state(4, "ana@laptop"), Some(&Version("\"etag-before\"".into()))).await.unwrap();
    assert_eq!(written.version, Version("\"etag-after\"".into()));
    assert_eq!(put.num_calls(), 2, "one retry");
}

#[tokio::test]
async fn a_412_after_a_retry_is_a_conflict_when_someone_else_wrote() {
    // OpenTofu#4405 the other way round: the retry's 412 is another writer's doing. Taking it for
    // our own success would lose their update; it is a conflict naming who wrote.
    let put = mock!(Client::put_object)
        .sequence()
        .http_status(503, Some(INTERNAL.into()))
        .http_status(412, Some(PRECONDITION.into()))
        .build();
    let theirs = get_returning(state(5, "bob@ci").to_document(), "\"theirs\"");
    let backend = backend(&[&put, &theirs]);
    let error = backend.write(&state(5, "ana@laptop"), Some(&Version("\"etag-before\"".into()))).await.unwrap_err();
    let text = error.to_string();
    assert!(matches!(error, BackendError::Conflict { .. }), "{text}");
    assert!(text.contains("serial 5") && text.contains("bob@ci"), "{text}");
}

#[tokio::test]
async fn a_first_write_that_finds_a_state_already_there_is_a_conflict() {
    let put = mock!(Client::put_object).then_http_response(|| {
        aws_smithy_runtime_api::http::Response::new(
            aws_smithy_runtime_api::http::StatusCode::try_from(412).unwrap(),
            aws_smithy_types::body::SdkBody::from(PRECONDITION),
        )
    });
    let theirs = get_returning(state(1, "bob@ci").to_document(), "\"theirs\"");
    let backend = backend(&[&put, &theirs]);
    let error = backend.write(&state(1, "ana@laptop"), None).await.unwrap_err();
    assert!(matches!(error, BackendError::Conflict { .. }), "{error}");
}

#[tokio::test]
async fn conflicts_and_server_errors_are_retried_a_bounded_number_of_times() {
    let put = mock!(Client::put_object)
        .sequence()
        .http_status(409, Some(CONFLICT.into()))
        .http_status(500, Some(INTERNAL.into()))
        .output(|| PutObjectOutput::builder().e_tag("\"new\"").build())
        .build();
    let backend_ok = backend(&[&put]);
    let written = backend_ok.write(&state(2, "ana@laptop"), Some(&Version("\"old\"".into()))).await.unwrap();
    assert_eq!((written.version.0.as_str(), put.num_calls()), ("\"new\"", 3));

    let failing = mock!(Client::put_object).sequence().http_status(503, Some(INTERNAL.into())).times(4).build();
    let error = backend(&[&failing]).write(&state(2, "ana@laptop"), None).await.unwrap_err();
    assert!(error.to_string().contains("tried 4 times"), "{error}");
    assert_eq!(failing.num_calls(), 4, "no more than the policy's attempts");
}

#[tokio::test]
async fn a_lock_create_retried_after_a_lost_answer_recognises_its_own_id() {
    let sent = Sent::default();
    let put = sent
        .put_rule()
        .sequence()
        .http_status(500, Some(INTERNAL.into()))
        .http_status(412, Some(PRECONDITION.into()))
        .build();
    let get = sent.get_rule("\"lock-etag\"");
    let lease = backend(&[&put, &get]).lock("apply").await.unwrap();
    assert_eq!(lease.token, "\"lock-etag\"");
    assert!(lease.info.expires.is_some(), "a lease");
}

fn lock_held_by(who: &str, expires_in: chrono::Duration) -> LockInfo {
    let mut info = LockInfo::new("apply");
    info.who = who.into();
    info.pid = 4242;
    info.expires = Some((chrono::Utc::now() + expires_in).to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
    info
}

#[tokio::test]
async fn a_live_lock_fails_at_once_naming_its_holder() {
    let put = mock!(Client::put_object).sequence().http_status(412, Some(PRECONDITION.into())).build();
    let holder = lock_held_by("bob@ci", chrono::Duration::minutes(4));
    let get = get_returning(serde_json::to_vec(&holder).unwrap(), "\"held\"");
    let error = backend(&[&put, &get]).lock("apply").await.unwrap_err();
    let text = error.to_string();
    assert!(matches!(error, BackendError::Locked { .. }), "{text}");
    assert!(text.contains("bob@ci") && text.contains("pid 4242") && text.contains(&holder.id), "{text}");
}

#[tokio::test]
async fn a_lock_whose_lease_ran_out_is_taken_over_on_its_etag() {
    let create = mock!(Client::put_object).sequence().http_status(412, Some(PRECONDITION.into())).build();
    let stale = lock_held_by("bob@ci", chrono::Duration::seconds(-30));
    let get = get_returning(serde_json::to_vec(&stale).unwrap(), "\"stale\"");
    let takeover = mock!(Client::put_object)
        .match_requests(|input| input.if_match() == Some("\"stale\"") && input.if_none_match().is_none())
        .then_output(|| PutObjectOutput::builder().e_tag("\"mine\"").build());
    let lease = backend(&[&create, &get, &takeover]).lock("apply").await.unwrap();
    assert_eq!(lease.token, "\"mine\"");
    assert_eq!(takeover.num_calls(), 1);
}

#[tokio::test]
async fn a_renewal_that_finds_another_holder_loses_the_lock() {
    let put = mock!(Client::put_object).sequence().http_status(412, Some(PRECONDITION.into())).build();
    let other = lock_held_by("bob@ci", chrono::Duration::minutes(4));
    let get = get_returning(serde_json::to_vec(&other).unwrap(), "\"theirs\"");
    let mut lease = Lease { info: lock_held_by("ana@laptop", chrono::Duration::seconds(40)), token: "\"mine\"".into() };
    let error = backend(&[&put, &get]).renew(&mut lease).await.unwrap_err();
    let text = error.to_string();
    assert!(matches!(error, BackendError::LockLost { .. }) && text.contains("bob@ci"), "{text}");
}

#[tokio::test]
async fn a_renewal_gives_up_before_the_lease_runs_out() {
    let failing = mock!(Client::put_object).sequence().http_status(503, Some(INTERNAL.into())).repeatedly().build();
    let backend = {
        let mut backend = backend(&[&failing]);
        backend.store.retry = RetryPolicy {
            attempts: 1000,
            first_pause: Duration::from_millis(50),
            max_pause: Duration::from_millis(50),
        };
        // Renewals stop a tenth of the lease length (100 ms) before the lease runs out.
        backend.location.lock_ttl = Duration::from_secs(1);
        backend
    };
    let mut lease =
        Lease { info: lock_held_by("ana@laptop", chrono::Duration::milliseconds(600)), token: "\"mine\"".into() };
    let started = std::time::Instant::now();
    let error = backend.renew(&mut lease).await.unwrap_err();
    assert!(matches!(error, BackendError::LockLost { .. }), "{error}");
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_millis(600), "stopped within the lease: {elapsed:?}");
    assert!(failing.num_calls() > 2, "kept trying while there was time: {}", failing.num_calls());
}

#[tokio::test]
async fn a_missing_state_is_none_and_a_missing_bucket_says_how_to_make_one() {
    let none = mock!(Client::get_object).then_error(|| GetObjectError::NoSuchKey(NoSuchKey::builder().build()));
    assert!(backend(&[&none]).read().await.unwrap().is_none());
    let no_bucket = mock!(Client::get_object).then_http_response(|| {
        aws_smithy_runtime_api::http::Response::new(
            aws_smithy_runtime_api::http::StatusCode::try_from(404).unwrap(),
            aws_smithy_types::body::SdkBody::from(
                "<Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist</Message></Error>",
            ),
        )
    });
    let error = backend(&[&no_bucket]).read().await.unwrap_err();
    let hint = error.hint().unwrap_or_default();
    assert!(error.to_string().contains("does not exist"), "{error}");
    assert!(hint.contains("--create-bucket"), "{hint}");
}

/// A `GetObject` answer as S3 sends it: the lock, its `Last-Modified` and the server's `Date`.
fn lock_answer(
    info: &LockInfo,
    last_modified: chrono::DateTime<chrono::Utc>,
    date: chrono::DateTime<chrono::Utc>,
) -> Rule {
    let body = serde_json::to_vec(info).unwrap();
    let http_date = |t: chrono::DateTime<chrono::Utc>| t.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
    let (modified, now) = (http_date(last_modified), http_date(date));
    mock!(Client::get_object).then_http_response(move || {
        let mut response = aws_smithy_runtime_api::http::Response::new(
            aws_smithy_runtime_api::http::StatusCode::try_from(200).unwrap(),
            aws_smithy_types::body::SdkBody::from(body.clone()),
        );
        response.headers_mut().insert("ETag", "\"held\"");
        response.headers_mut().insert("Last-Modified", modified.clone());
        response.headers_mut().insert("Date", now.clone());
        response
    })
}

#[tokio::test]
async fn a_lease_is_judged_by_the_servers_clock_not_the_contenders() {
    // The holder renewed 10 s ago by the server's clock, with a 60 s lease; its `expires`, written
    // by a clock that was behind, already looks past to this run. The server says it is live.
    let server_now = chrono::Utc::now();
    let mut holder = lock_held_by("bob@ci", chrono::Duration::minutes(-5));
    holder.lease_s = Some(60);
    let put = mock!(Client::put_object).sequence().http_status(412, Some(PRECONDITION.into())).build();
    let get = lock_answer(&holder, server_now - chrono::Duration::seconds(10), server_now);
    let error = backend(&[&put, &get]).lock("apply").await.unwrap_err();
    assert!(matches!(error, BackendError::Locked { .. }), "a live lease is not taken over: {error}");

    // And the other way: `expires` looks hours away to this run (the holder's clock was fast),
    // but the server last saw the holder 2 minutes ago with a 60 s lease: it ran out.
    let mut gone = lock_held_by("bob@ci", chrono::Duration::hours(3));
    gone.lease_s = Some(60);
    let create = mock!(Client::put_object).sequence().http_status(412, Some(PRECONDITION.into())).build();
    let get = lock_answer(&gone, server_now - chrono::Duration::minutes(2), server_now);
    let takeover = mock!(Client::put_object)
        .match_requests(|input| input.if_match() == Some("\"held\""))
        .then_output(|| PutObjectOutput::builder().e_tag("\"mine\"").build());
    let lease = backend(&[&create, &get, &takeover]).lock("apply").await.unwrap();
    assert_eq!(lease.token, "\"mine\"");
    assert_eq!(lease.info.lease_s, Some(60), "this run's lock says how long its lease is");
}
