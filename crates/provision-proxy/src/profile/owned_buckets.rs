//! `CreateBucket` of a bucket the account already owns. In us-east-1 AWS answers `200 OK` as if it
//! had made it (S3 API Reference, CreateBucket: "If you create a bucket that you already own … in
//! the US East (N. Virginia) Region, Amazon S3 returns 200 OK and resets the bucket access control
//! lists"); elsewhere `409 BucketAlreadyOwnedByYou`. moto answers the same, so the profile changes
//! nothing: it looks first (`GetBucketLocation` of the bucket, straight at the emulator) only to
//! count the rule met when such a create is answered, so that a test shows provision meeting the
//! 200 — the SDK's retry of a create whose answer was lost, or someone's bucket of the same name —
//! and never taking it for a bucket it made.

use std::collections::HashSet;

use super::call::Call;
use super::http::Response;
use super::{State, Turn};

pub(crate) const ID: &str = "s3.create-owned-bucket-succeeds";

/// Buckets whose create is on its way and which the look found already there.
#[derive(Debug, Default)]
pub(crate) struct Owned {
    before_create: HashSet<String>,
}

fn create_of(call: &Call) -> Option<&str> {
    (call.service == "s3" && call.operation == "CreateBucket").then(|| call.bucket_and_key().0)
}

/// The look a `CreateBucket` needs first, as a request head: `GetBucketLocation` of its bucket.
pub(crate) fn prerequisite(call: &Call) -> Option<String> {
    let bucket = create_of(call)?;
    let host = call.header("host").unwrap_or("localhost");
    let mut head = format!("GET /{bucket}?location HTTP/1.1\r\nHost: {host}\r\n");
    if let Some(authorization) = call.header("authorization") {
        head.push_str(&format!("Authorization: {authorization}\r\n"));
    }
    head.push_str("\r\n");
    Some(head)
}

/// Learns from the look whether the bucket is there already.
pub(crate) fn learn(state: &mut State, call: &Call, response: &Response) {
    let Some(bucket) = create_of(call) else { return };
    if response.ok() {
        state.owned_buckets.before_create.insert(bucket.to_string());
    } else {
        state.owned_buckets.before_create.remove(bucket);
    }
}

/// Counts a create of a bucket that was there answered `200`.
pub(crate) fn after(turn: &mut Turn<'_>, state: &mut State, call: &Call, response: &Response) {
    let Some(bucket) = create_of(call) else { return };
    if state.owned_buckets.before_create.remove(bucket) && response.ok() && turn.on(ID) {
        turn.meet(ID);
    }
}

#[cfg(test)]
mod tests {
    use super::super::call::{call, signed};
    use super::super::{Profile, ProfileOptions, Response};

    /// The look asks for the bucket's location; a create of a bucket that was there and is
    /// answered 200 counts, one of a new bucket does not, and the answer passes unchanged.
    #[test]
    fn a_create_of_a_bucket_that_was_there_is_counted_and_passed_through() {
        let profile = Profile::new(ProfileOptions::default());
        let auth = signed("s3");
        let create = call("PUT", "/site-bucket", &[("Authorization", &auth)], "");
        let (head, _) = profile.prerequisite(&create).expect("a look first");
        assert!(head.starts_with("GET /site-bucket?location HTTP/1.1\r\n"), "{head}");
        assert!(head.contains(&format!("Authorization: {auth}\r\n")), "{head}");

        let ok = Response::new(200, "application/xml", "<CreateBucketConfiguration/>");
        profile.learn(&create, &Response::new(404, "application/xml", "<Error><Code>NoSuchBucket</Code></Error>"));
        assert_eq!(profile.after(&create, ok.clone()), ok, "passed through");
        assert_eq!(profile.met(super::ID), 0, "a new bucket");

        profile.learn(&create, &Response::new(200, "application/xml", "<LocationConstraint/>"));
        assert_eq!(profile.after(&create, ok.clone()), ok, "passed through");
        assert_eq!(profile.met(super::ID), 1, "a bucket that was there, answered 200");

        let versioning = call("PUT", "/site-bucket?versioning", &[("Authorization", &auth)], "");
        assert!(profile.prerequisite(&versioning).is_none(), "only creates are looked at");
    }
}
