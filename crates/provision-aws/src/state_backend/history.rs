//! `state history` and `state pull --serial`: the state's versions, from the bucket's versioning.
//!
//! Each version's serial, writer and operation travel as object metadata, so listing takes one
//! `ListObjectVersions` page per 1,000 versions plus one `HeadObject` per version (a few at a
//! time), never reading a state body. A version written without that metadata (by hand, or by
//! another tool) is read instead.

use futures::stream::{self, StreamExt, TryStreamExt};
use provision_core::state::{BackendError, HistoryEntry, State};

use super::metadata;
use super::object_io::{classify, ObjectStore, Refused};

/// `HeadObject` calls in flight at once while listing.
const CONCURRENCY: usize = 8;

struct Listed {
    version: String,
    modified: String,
}

/// The versions of `key`, newest first.
pub(super) async fn list(store: &ObjectStore, key: &str) -> Result<Vec<HistoryEntry>, BackendError> {
    let listed = versions(store, key).await?;
    stream::iter(listed)
        .map(|listed| entry(store, key, listed))
        .buffered(CONCURRENCY)
        .try_filter_map(|entry| async move { Ok(entry) })
        .try_collect()
        .await
}

async fn versions(store: &ObjectStore, key: &str) -> Result<Vec<Listed>, BackendError> {
    let client = store.client().await?;
    let mut listed = Vec::new();
    let (mut key_marker, mut version_marker): (Option<String>, Option<String>) = (None, None);
    loop {
        let page = store
            .retrying(&format!("s3://{}/{key}", store.bucket), None, || async {
                client
                    .list_object_versions()
                    .bucket(&store.bucket)
                    .prefix(key)
                    .set_key_marker(key_marker.clone())
                    .set_version_id_marker(version_marker.clone())
                    .send()
                    .await
                    .map_err(|error| classify("ListObjectVersions", &store.bucket, key, error))
            })
            .await
            .map_err(|refused| match refused {
                Refused::Failed(error) => error,
                _ => BackendError::other(format!("listing the versions of `s3://{}/{key}` failed", store.bucket)),
            })?;
        // The prefix also matches `KEY.lock` and longer keys: only this key's versions count.
        for version in page.versions().iter().filter(|v| v.key() == Some(key)) {
            let Some(id) = version.version_id() else { continue };
            let modified = version
                .last_modified()
                .and_then(|t| t.fmt(aws_smithy_types::date_time::Format::DateTime).ok())
                .unwrap_or_default();
            listed.push(Listed { version: id.to_string(), modified });
        }
        if page.is_truncated() != Some(true) {
            break;
        }
        key_marker = page.next_key_marker().map(str::to_string);
        version_marker = page.next_version_id_marker().map(str::to_string);
        if key_marker.is_none() && version_marker.is_none() {
            break;
        }
    }
    // S3 lists a key's versions newest first; sort anyway (by time, stable) so any store agrees.
    listed.sort_by(|a, b| b.modified.cmp(&a.modified));
    Ok(listed)
}

async fn entry(store: &ObjectStore, key: &str, listed: Listed) -> Result<Option<HistoryEntry>, BackendError> {
    // The `null` version (written while versioning was off) is read whole: the emulator answers
    // `HeadObject ?versionId=null` with a 400 (docs/emulator.md); `GetObject` works on both.
    let tags = if listed.version == "null" {
        Default::default()
    } else {
        let Some(tags) = store.metadata(key, &listed.version).await? else { return Ok(None) };
        tags
    };
    let serial = tags.get(metadata::SERIAL).and_then(|s| s.parse::<u64>().ok());
    if let Some(serial) = serial {
        let tag = |name: &str| tags.get(name).cloned().unwrap_or_default();
        let time = Some(tag(metadata::TIME)).filter(|t| !t.is_empty()).unwrap_or(listed.modified);
        return Ok(Some(HistoryEntry {
            serial,
            time,
            who: tag(metadata::WHO),
            operation: tag(metadata::OPERATION),
            version: listed.version,
        }));
    }
    // No metadata (or the `null` version): read the version itself.
    let Some(object) = store.get(key, Some(&listed.version)).await? else { return Ok(None) };
    let Ok(state) = State::parse(&String::from_utf8_lossy(&object.body), key) else {
        tracing::warn!("version `{}` of `{key}` is not a provision state; left out", listed.version);
        return Ok(None);
    };
    let (who, operation, time) = match state.written_by {
        Some(w) => (w.who, w.operation, w.time),
        None => ("unknown".into(), "unknown".into(), listed.modified),
    };
    Ok(Some(HistoryEntry { serial: state.serial, time, who, operation, version: listed.version }))
}
