//! Bucket-level S3 calls, each translated to the plain values the driver compares (a set of names,
//! a flag, a tag map) and each naming its operation when it fails, so an error says which step of a
//! create or update broke.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_s3::types::{
    BucketLocationConstraint, BucketVersioningStatus, CreateBucketConfiguration, PublicAccessBlockConfiguration, Tag,
    Tagging, VersioningConfiguration,
};
use aws_sdk_s3::Client;

use crate::drivers::DriverError;

/// The region where S3 rejects an explicit location constraint.
const DEFAULT_REGION: &str = "us-east-1";

/// Names of all buckets the account owns: one request answers for any number of buckets.
pub(super) async fn existing_buckets(s3: &Client) -> Result<BTreeSet<String>, DriverError> {
    let mut pages = s3.list_buckets().into_paginator().send();
    let mut names = BTreeSet::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|error| crate::aws_error("ListBuckets", error))?;
        names.extend(page.buckets().iter().filter_map(|bucket| bucket.name().map(str::to_string)));
    }
    Ok(names)
}

/// When the account's bucket `name` was created and how far this machine's clock is ahead of S3's
/// (negative: behind), both as S3 answered the listing; `None` for a bucket the account does not have.
///
/// The offset is taken from when the request was sent, not when the answer arrived: S3 stamps its
/// `Date` somewhere in between, so a slow answer (a long listing, a busy endpoint) would otherwise
/// count its time in flight as clock offset and make a bucket look newer than it is — the unsafe
/// direction, since an untagged bucket made after an intent is adopted.
pub(super) async fn creation_date(
    s3: &Client,
    name: &str,
) -> Result<Option<(std::time::SystemTime, f64)>, DriverError> {
    let clock = crate::server_clock::ServerClock::default();
    let mut token: Option<String> = None;
    loop {
        let sent = std::time::SystemTime::now();
        let page = s3
            .list_buckets()
            .set_continuation_token(token.clone())
            .customize()
            .interceptor(clock.clone())
            .send()
            .await
            .map_err(|error| crate::aws_error("ListBuckets", error))?;
        let ahead = clock.now().map_or(0.0, |server| seconds_between(server, sent));
        if let Some(bucket) = page.buckets().iter().find(|bucket| bucket.name() == Some(name)) {
            let created = bucket.creation_date().and_then(|date| std::time::SystemTime::try_from(*date).ok());
            return Ok(created.map(|created| (created, ahead)));
        }
        token = page.continuation_token().filter(|t| !t.is_empty()).map(str::to_string);
        if token.is_none() {
            return Ok(None);
        }
    }
}

/// `later - earlier` in seconds, negative when `later` is earlier.
fn seconds_between(earlier: std::time::SystemTime, later: std::time::SystemTime) -> f64 {
    match later.duration_since(earlier) {
        Ok(difference) => difference.as_secs_f64(),
        Err(error) => -error.duration().as_secs_f64(),
    }
}

/// What `HeadBucket` says of a name.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Presence {
    /// No bucket has the name.
    Absent,
    /// This account has a bucket of that name.
    Owned,
    /// Someone else has it (or this account may not look at it): a create will say which.
    Elsewhere,
}

/// Whether a bucket of this name exists, and whose it is.
pub(super) async fn presence(s3: &Client, name: &str) -> Result<Presence, DriverError> {
    match s3.head_bucket().bucket(name).send().await {
        Ok(_) => Ok(Presence::Owned),
        Err(error) => {
            let error = crate::aws_error("HeadBucket", error);
            if error.code_is("NotFound") || error.code_is("NoSuchBucket") {
                Ok(Presence::Absent)
            } else if error.code.is_some() {
                Ok(Presence::Elsewhere)
            } else {
                Err(error)
            }
        }
    }
}

pub(super) async fn create(s3: &Client, name: &str, region: &str) -> Result<(), DriverError> {
    let mut request = s3.create_bucket().bucket(name);
    if region != DEFAULT_REGION {
        let location =
            CreateBucketConfiguration::builder().location_constraint(BucketLocationConstraint::from(region)).build();
        request = request.create_bucket_configuration(location);
    }
    request.send().await.map_err(|error| crate::aws_error("CreateBucket", error))?;
    Ok(())
}

/// The bucket is never public: CloudFront reads it through an origin access control.
pub(super) async fn block_public_access(s3: &Client, name: &str) -> Result<(), DriverError> {
    let block_all = PublicAccessBlockConfiguration::builder()
        .block_public_acls(true)
        .ignore_public_acls(true)
        .block_public_policy(true)
        .restrict_public_buckets(true)
        .build();
    s3.put_public_access_block()
        .bucket(name)
        .public_access_block_configuration(block_all)
        .send()
        .await
        .map_err(|error| crate::aws_error("PutPublicAccessBlock", error))?;
    Ok(())
}

/// Whether all four public access blocks are on; a bucket without the configuration has none.
pub(super) async fn public_access_blocked(s3: &Client, name: &str) -> Result<bool, DriverError> {
    match s3.get_public_access_block().bucket(name).send().await {
        Ok(output) => Ok(output.public_access_block_configuration().is_some_and(|c| {
            c.block_public_acls() == Some(true)
                && c.ignore_public_acls() == Some(true)
                && c.block_public_policy() == Some(true)
                && c.restrict_public_buckets() == Some(true)
        })),
        Err(error) => {
            let error = crate::aws_error("GetPublicAccessBlock", error);
            if error.code_is("NoSuchPublicAccessBlockConfiguration") {
                Ok(false)
            } else {
                Err(error)
            }
        }
    }
}

pub(super) async fn put_tags(s3: &Client, name: &str, tags: &BTreeMap<String, String>) -> Result<(), DriverError> {
    let tag_set = tags
        .iter()
        .map(|(key, value)| Tag::builder().key(key).value(value).build())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| DriverError::invalid(format!("invalid bucket tag: {error}")))?;
    let tagging = Tagging::builder()
        .set_tag_set(Some(tag_set))
        .build()
        .map_err(|error| DriverError::invalid(format!("invalid bucket tags: {error}")))?;
    s3.put_bucket_tagging()
        .bucket(name)
        .tagging(tagging)
        .send()
        .await
        .map_err(|error| crate::aws_error("PutBucketTagging", error))?;
    Ok(())
}

/// All tags of the bucket; a bucket that was never tagged answers `NoSuchTagSet`, which means none.
pub(super) async fn tags(s3: &Client, name: &str) -> Result<BTreeMap<String, String>, DriverError> {
    match s3.get_bucket_tagging().bucket(name).send().await {
        Ok(output) => Ok(output.tag_set().iter().map(|tag| (tag.key().to_string(), tag.value().to_string())).collect()),
        Err(error) => {
            let error = crate::aws_error("GetBucketTagging", error);
            if error.code_is("NoSuchTagSet") {
                Ok(BTreeMap::new())
            } else {
                Err(error)
            }
        }
    }
}

/// Versioning can only be suspended, never switched off again, once it was enabled.
pub(super) async fn put_versioning(s3: &Client, name: &str, enabled: bool) -> Result<(), DriverError> {
    let status = if enabled { BucketVersioningStatus::Enabled } else { BucketVersioningStatus::Suspended };
    s3.put_bucket_versioning()
        .bucket(name)
        .versioning_configuration(VersioningConfiguration::builder().status(status).build())
        .send()
        .await
        .map_err(|error| crate::aws_error("PutBucketVersioning", error))?;
    Ok(())
}

pub(super) async fn versioning_enabled(s3: &Client, name: &str) -> Result<bool, DriverError> {
    let output = s3
        .get_bucket_versioning()
        .bucket(name)
        .send()
        .await
        .map_err(|error| crate::aws_error("GetBucketVersioning", error))?;
    Ok(output.status() == Some(&BucketVersioningStatus::Enabled))
}

pub(super) async fn delete(s3: &Client, name: &str) -> Result<(), DriverError> {
    s3.delete_bucket().bucket(name).send().await.map_err(|error| crate::aws_error("DeleteBucket", error))?;
    Ok(())
}
