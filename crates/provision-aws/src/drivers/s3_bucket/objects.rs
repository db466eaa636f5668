//! Object-level S3 calls: writing the files of an `upload` folder, listing what the bucket holds,
//! and deleting in the largest batches S3 allows.
//!
//! Uploads run a few at a time because a site is many small files, where round trips rather than
//! bandwidth set the pace.

use std::collections::BTreeSet;
use std::path::Path;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{Delete, ObjectIdentifier};
use aws_sdk_s3::Client;
use futures::TryStreamExt;

use super::manifest::{content_type, Manifest};
use crate::behaviours::Retry;
use crate::drivers::DriverError;

/// PutObject calls in flight at once.
const UPLOAD_CONCURRENCY: usize = 8;
/// The most keys one DeleteObjects call accepts.
const DELETE_BATCH: usize = 1000;
/// DeleteObjects calls in flight at once.
const DELETE_CONCURRENCY: usize = 4;

/// One stored object version (`version_id` is `None` to address the current object).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct ObjectRef {
    pub key: String,
    pub version_id: Option<String>,
}

impl ObjectRef {
    pub fn current(key: impl Into<String>) -> ObjectRef {
        ObjectRef { key: key.into(), version_id: None }
    }
}

/// Writes each `folder/key` to `key`, with a content type guessed from its extension; each write
/// is retried as `retry` says (into a bucket made moments ago, S3 may not find the bucket yet).
pub(super) async fn upload(
    s3: &Client,
    bucket: &str,
    folder: &Path,
    keys: &[String],
    retry: Retry,
) -> Result<(), DriverError> {
    futures::stream::iter(keys.iter().map(Ok))
        .try_for_each_concurrent(UPLOAD_CONCURRENCY, |key| retry.run(|| put_file(s3, bucket, folder, key)))
        .await
}

async fn put_file(s3: &Client, bucket: &str, folder: &Path, key: &str) -> Result<(), DriverError> {
    let path = folder.join(key);
    // A regular file only (never a fifo swapped in since the plan: opening one would wait for ever).
    // Read whole into memory: a body built from an open file is sent once, so the SDK could not
    // retry a throttled (`SlowDown`) PutObject; bytes in memory are sent again on each attempt.
    let cannot_read =
        |error: std::io::Error| DriverError::invalid(format!("cannot read `{}`: {error}", path.display()));
    let mut file = tokio::fs::File::from_std(super::manifest::open_regular(&path).map_err(cannot_read)?);
    let mut contents = Vec::new();
    tokio::io::AsyncReadExt::read_to_end(&mut file, &mut contents).await.map_err(cannot_read)?;
    let body = ByteStream::from(contents);
    s3.put_object().bucket(bucket).key(key).content_type(content_type(key)).body(body).send().await.map_err(
        |error| {
            let mut error = crate::aws_error("PutObject", error);
            error.message = format!("{key}: {}", error.message);
            error
        },
    )?;
    Ok(())
}

/// Every current object of the bucket with its ETag, which for an object written by one PutObject
/// is the MD5 of its content — the same value the local manifest holds.
pub(super) async fn list(s3: &Client, bucket: &str) -> Result<Manifest, DriverError> {
    let mut pages = s3.list_objects_v2().bucket(bucket).into_paginator().send();
    let mut objects = Manifest::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|error| crate::aws_error("ListObjectsV2", error))?;
        for object in page.contents() {
            if let Some(key) = object.key() {
                let etag = object.e_tag().unwrap_or_default().trim_matches('"');
                objects.insert(key.to_string(), etag.to_string());
            }
        }
    }
    Ok(objects)
}

/// Every version and delete marker in the bucket, or only those of `keys` when given.
pub(super) async fn list_versions(
    s3: &Client,
    bucket: &str,
    keys: Option<&BTreeSet<&str>>,
) -> Result<Vec<ObjectRef>, DriverError> {
    let wanted = |key: &str| keys.is_none_or(|keys| keys.contains(key));
    let mut found = Vec::new();
    let (mut key_marker, mut version_marker) = (None, None);
    loop {
        let page = s3
            .list_object_versions()
            .bucket(bucket)
            .set_key_marker(key_marker.take())
            .set_version_id_marker(version_marker.take())
            .send()
            .await
            .map_err(|error| crate::aws_error("ListObjectVersions", error))?;
        let versions = page.versions().iter().map(|v| (v.key(), v.version_id()));
        let markers = page.delete_markers().iter().map(|m| (m.key(), m.version_id()));
        for (key, version_id) in versions.chain(markers) {
            if let Some(key) = key.filter(|key| wanted(key)) {
                found.push(ObjectRef { key: key.to_string(), version_id: version_id.map(str::to_string) });
            }
        }
        if page.is_truncated() != Some(true) {
            return Ok(found);
        }
        key_marker = page.next_key_marker().map(str::to_string);
        version_marker = page.next_version_id_marker().map(str::to_string);
        if key_marker.is_none() {
            return Ok(found);
        }
    }
}

/// Deletes the objects in batches of up to 1000 keys.
pub(super) async fn delete(s3: &Client, bucket: &str, objects: &[ObjectRef]) -> Result<(), DriverError> {
    futures::stream::iter(objects.chunks(DELETE_BATCH).map(Ok))
        .try_for_each_concurrent(DELETE_CONCURRENCY, |batch| delete_batch(s3, bucket, batch))
        .await
}

async fn delete_batch(s3: &Client, bucket: &str, batch: &[ObjectRef]) -> Result<(), DriverError> {
    let identifiers = batch
        .iter()
        .map(|object| ObjectIdentifier::builder().key(&object.key).set_version_id(object.version_id.clone()).build())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| DriverError::invalid(format!("invalid object key: {error}")))?;
    let delete = Delete::builder()
        .set_objects(Some(identifiers))
        .quiet(true)
        .build()
        .map_err(|error| DriverError::invalid(format!("invalid delete request: {error}")))?;
    let output = s3
        .delete_objects()
        .bucket(bucket)
        .delete(delete)
        .send()
        .await
        .map_err(|error| crate::aws_error("DeleteObjects", error))?;
    // DeleteObjects answers 200 even when some keys failed; the failures are listed in the body.
    match output.errors().first() {
        None => Ok(()),
        Some(first) => Err(DriverError {
            operation: "DeleteObjects".into(),
            code: first.code().map(str::to_string),
            message: format!(
                "{} of {} objects were not deleted, e.g. `{}`: {}",
                output.errors().len(),
                batch.len(),
                first.key().unwrap_or_default(),
                first.message().unwrap_or_default()
            ),
            hint: None,
        }),
    }
}
