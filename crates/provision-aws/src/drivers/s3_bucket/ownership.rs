//! Which bucket of a given name is this stack's: tagged as this state's own for the address, or
//! made by S3 after the create's intent was recorded (a create killed before it could tag it).
//!
//! A create looks first and never sends `CreateBucket` for a bucket that exists, so an untagged
//! bucket S3 made *before* the intent is someone else's — in us-east-1 a second `CreateBucket` of
//! it would answer `200`, and the bucket would be tagged, synced into and later emptied. The
//! comparison is made on S3's clock (this machine's offset from it is read from S3's `Date`).

use aws_sdk_s3::Client;

use super::{bucket_api, NOT_OURS, PROVISION_TAG_PREFIX};
use crate::drivers::{DriverError, ResourceRequest};

/// What the comparison of a bucket's creation with an intent's time allows for: both are whole
/// seconds, and this machine's offset from S3's clock is measured to the second.
const CLOCK_MARGIN_S: f64 = 2.0;

/// `NAME@SECONDS` → the name and the time the intent was recorded (`None` for a bare name).
pub(super) fn split_intent(intent: &str) -> (&str, Option<u64>) {
    match intent.rsplit_once('@') {
        Some((name, since)) => (name, since.parse().ok()),
        None => (intent, None),
    }
}

/// Whether S3 created the account's bucket `name` after `since` (this machine's clock, seconds),
/// compared on S3's clock.
pub(super) async fn made_since(s3: &Client, name: &str, since: Option<u64>) -> Result<bool, DriverError> {
    let Some(since) = since else { return Ok(false) };
    let Some((created, ahead)) = bucket_api::creation_date(s3, name).await? else { return Ok(false) };
    // The intent's time on S3's clock: this machine's, less how far it is ahead now.
    let created = created.duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0);
    Ok(created + CLOCK_MARGIN_S >= since as f64 - ahead)
}

/// Looks before creating: a bucket of this name that the account has already must be this state's
/// own — tagged so, or untagged but made since this create's intent (its earlier attempt) — or the
/// create stops, naming `provision import`. In us-east-1 `CreateBucket` would answer `200` and the
/// bucket — someone's data — would be tagged, synced into and, with `force_destroy`, emptied and
/// deleted by a later destroy.
pub(super) async fn claim(s3: &Client, name: &str, request: &ResourceRequest<'_>) -> Result<(), DriverError> {
    let tags = match bucket_api::tags(s3, name).await {
        Err(error) if error.code_is("NoSuchBucket") => return Ok(()),
        // Another account's (CreateBucket will say `BucketAlreadyExists`).
        Err(error) if NOT_OURS.iter().any(|code| error.code_is(code)) => return Ok(()),
        Err(error) => return Err(error),
        Ok(tags) => tags,
    };
    if crate::drivers::tags::made_by(&tags, request.stack, request.address) {
        return Ok(());
    }
    let untagged = !tags.keys().any(|key| key.starts_with(PROVISION_TAG_PREFIX));
    if untagged && made_since(s3, name, request.intent.and_then(|intent| split_intent(intent).1)).await? {
        return Ok(());
    }
    let owner = match tags.get("provision:stack") {
        Some(stack) => format!(
            "it belongs to {} of stack `{stack}`",
            tags.get("provision:address").map(|a| format!("`{a}`")).unwrap_or_else(|| "a resource".into())
        ),
        None => "provision did not make it".to_string(),
    };
    Err(DriverError::service(
        "CreateBucket",
        Some("BucketAlreadyOwnedByYou".into()),
        format!("the bucket `{name}` already exists in this account and {owner}; it was left as it is"),
    )
    .with_hint(format!("adopt it with `provision import {} {name}`, or set `bucket` to another name", request.address)))
}
