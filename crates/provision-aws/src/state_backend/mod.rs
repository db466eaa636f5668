//! The S3 state backend (SPEC §4): a team's state in one S3 object, locked with a lease.
//!
//! What a Terraform user of `backend "s3" { use_lockfile = true }` knows, minus its two failure
//! modes: a killed run's lock runs out instead of blocking the team (it is a lease its holder
//! renews), and a write never replaces a state this run did not read (`PutObject If-Match` the
//! ETag it read, `If-None-Match: *` for the first), so a foreign write is a conflict, not a lost
//! update. A request retried after a lost answer that meets its own success is recognised by what
//! it wrote (the whole document for the state, the lock id for the lock).
//!
//! Split by concern: [`object_io`] (requests, retries, error classes), [`lease`] (the lock),
//! [`history`] (versions from bucket versioning), [`bucket`] (making and checking the bucket).
//! Nothing connects until the first call; the client is built once.

mod bucket;
mod history;
mod lease;
mod object_io;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use provision_core::stack::S3Location;
use provision_core::state::{BackendError, HistoryEntry, Lease, State, StateBackend, Stored, Version, Written};

use object_io::{ClientSource, Condition, Encryption, ObjectStore, Refused, RetryPolicy};

/// Object metadata written with every state version, for `state history` without reading bodies.
pub(crate) mod metadata {
    pub const SERIAL: &str = "provision-serial";
    pub const LINEAGE: &str = "provision-lineage";
    pub const WHO: &str = "provision-who";
    pub const OPERATION: &str = "provision-operation";
    pub const TIME: &str = "provision-time";
}

pub struct S3Backend {
    location: S3Location,
    store: ObjectStore,
}

impl S3Backend {
    /// A backend for `location` over the run's AWS session; connects on first use.
    pub fn new(session: Arc<crate::AwsSession>, location: S3Location) -> S3Backend {
        let source = ClientSource::Session { session, region: location.region.clone() };
        S3Backend::with_source(source, location, RetryPolicy::default())
    }

    fn with_source(source: ClientSource, location: S3Location, retry: RetryPolicy) -> S3Backend {
        let encryption = match &location.kms_key {
            Some(key) => Encryption::Kms(key.clone()),
            None => Encryption::S3Managed,
        };
        let store = ObjectStore::new(source, location.bucket.clone(), encryption, retry);
        S3Backend { location, store }
    }

    pub fn location_spec(&self) -> &S3Location {
        &self.location
    }

    /// The keys of the state documents beside this one (`*.json` in the same folder of the bucket),
    /// for `sweep --expired`, which looks for every preview environment's state.
    pub async fn sibling_states(&self) -> Result<Vec<String>, BackendError> {
        let client = self.store.client().await?;
        let folder = self.location.key.rfind('/').map(|end| &self.location.key[..=end]).unwrap_or("");
        let mut keys = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let answer = client
                .list_objects_v2()
                .bucket(&self.location.bucket)
                .prefix(folder)
                .delimiter("/")
                .set_continuation_token(token.take())
                .send()
                .await
                .map_err(|error| {
                    let error = crate::aws_error("ListObjectsV2", error);
                    BackendError::other(format!(
                        "listing the states in `s3://{}/{folder}`: {error}",
                        self.location.bucket
                    ))
                })?;
            keys.extend(
                answer.contents().iter().filter_map(|o| o.key()).filter(|k| k.ends_with(".json")).map(str::to_string),
            );
            token = answer.next_continuation_token().filter(|t| !t.is_empty()).map(str::to_string);
            if token.is_none() {
                break;
            }
        }
        Ok(keys)
    }

    /// Whether the bucket exists (and these credentials may see it).
    pub async fn bucket_exists(&self) -> Result<bool, BackendError> {
        bucket::exists(&self.store).await
    }

    /// Makes the bucket private (public access blocked, owner-enforced objects), versioned and
    /// encrypted by default (AES256, or the `kms_key`).
    pub async fn create_bucket(&self) -> Result<(), BackendError> {
        bucket::create(&self.store).await
    }

    /// What another writer left, for the conflict message.
    fn describe_stored(&self, body: &[u8]) -> String {
        match State::parse(&String::from_utf8_lossy(body), &self.location()) {
            Ok(stored) => {
                let by = stored
                    .written_by
                    .map(|w| format!(", written by {} (`{}`) at {}", w.who, w.operation, w.time))
                    .unwrap_or_default();
                format!(" (it is now at serial {}{by})", stored.serial)
            }
            Err(_) => " (it now holds something that is not a provision state)".into(),
        }
    }
}

#[async_trait]
impl StateBackend for S3Backend {
    fn location(&self) -> String {
        self.location.url()
    }

    async fn read(&self) -> Result<Option<Stored>, BackendError> {
        let Some(object) = self.store.get(&self.location.key, None).await? else { return Ok(None) };
        let state = State::parse(&String::from_utf8_lossy(&object.body), &self.location())?;
        Ok(Some(Stored { state, version: Version(object.etag) }))
    }

    async fn write(&self, state: &State, expected: Option<&Version>) -> Result<Written, BackendError> {
        let body = state.to_document();
        let written_by = state.written_by.as_ref();
        let tags = [
            (metadata::SERIAL, state.serial.to_string()),
            (metadata::LINEAGE, state.lineage.clone()),
            (metadata::WHO, written_by.map(|w| w.who.clone()).unwrap_or_default()),
            (metadata::OPERATION, written_by.map(|w| w.operation.clone()).unwrap_or_default()),
            (metadata::TIME, written_by.map(|w| w.time.clone()).unwrap_or_default()),
        ];
        let condition = match expected {
            Some(version) => Condition::Matches(&version.0),
            None => Condition::Absent,
        };
        let conflict = |detail: String| BackendError::Conflict { location: self.location(), detail };
        match self.store.put(&self.location.key, &body, condition, &tags, None).await {
            Ok(etag) => Ok(Written { version: Version(etag), bytes: body.len() as u64 }),
            Err(Refused::Precondition { after_retry }) => match self.store.get(&self.location.key, None).await? {
                // The stored document is this very write: an earlier attempt succeeded and its
                // answer was lost. (Compared whole: lineage, serial and who wrote it, at what time.)
                Some(stored) if stored.body == body => {
                    tracing::debug!(
                        "the state write of serial {} had succeeded already (after a retry: {after_retry})",
                        state.serial
                    );
                    Ok(Written { version: Version(stored.etag), bytes: body.len() as u64 })
                }
                Some(stored) => Err(conflict(self.describe_stored(&stored.body))),
                None => Err(conflict(" (the state object was deleted)".into())),
            },
            Err(Refused::Missing) => Err(conflict(" (the state object was deleted)".into())),
            Err(Refused::Failed(error)) => Err(error),
        }
    }

    async fn lock(&self, operation: &str) -> Result<Lease, BackendError> {
        self.take_lock(operation).await
    }

    async fn renew(&self, lease: &mut Lease) -> Result<(), BackendError> {
        self.renew_lock(lease).await
    }

    async fn unlock(&self, lease: &Lease) -> Result<(), BackendError> {
        self.release_lock(lease).await
    }

    /// On an error path the lock is released at once (waiting a few seconds at most) rather than
    /// left for its lease to run out, which would hold the team up for `lock_ttl`.
    fn release_now(&self, lease: &Lease) {
        let Ok(handle) = tokio::runtime::Handle::try_current() else { return };
        if handle.runtime_flavor() != tokio::runtime::RuntimeFlavor::MultiThread {
            return;
        }
        let release = tokio::time::timeout(Duration::from_secs(5), self.release_lock(lease));
        match tokio::task::block_in_place(|| handle.block_on(release)) {
            Ok(Ok(())) => tracing::debug!("released the state lock `{}`", lease.info.id),
            Ok(Err(error)) => tracing::warn!("releasing the state lock failed: {error}"),
            Err(_) => tracing::warn!("releasing the state lock took too long; its lease runs out by itself"),
        }
    }

    async fn force_unlock(&self, id: &str) -> Result<(), BackendError> {
        self.remove_lock(id).await
    }

    fn renew_every(&self) -> Option<Duration> {
        Some(self.location.lock_ttl / 3)
    }

    async fn history(&self) -> Result<Vec<HistoryEntry>, BackendError> {
        history::list(&self.store, &self.location.key).await
    }

    async fn read_serial(&self, serial: u64) -> Result<Option<State>, BackendError> {
        let entries = self.history().await?;
        let Some(entry) = entries.iter().find(|entry| entry.serial == serial) else { return Ok(None) };
        let Some(object) = self.store.get(&self.location.key, Some(&entry.version)).await? else { return Ok(None) };
        let origin = format!("{} (version {})", self.location(), entry.version);
        Ok(Some(State::parse(&String::from_utf8_lossy(&object.body), &origin)?))
    }

    async fn check_setup(&self) -> Option<String> {
        bucket::versioning_warning(&self.store).await
    }
}
