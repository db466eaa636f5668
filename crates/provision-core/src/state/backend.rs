//! The one interface between the engine and wherever the state is kept.
//!
//! Modelled on Terraform's `statemgr` (small pieces: read, write, lock) and carina's `StateBackend`,
//! with two things those lack: every write names the version it replaces (compare-and-swap, so a
//! foreign write is never silently overwritten), and a lock is a lease that its holder renews, so a
//! killed holder's lock runs out instead of blocking the team until someone deletes it by hand.

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::State;

/// The version of the stored state that a write expects to replace: an S3 ETag, a file's
/// fingerprint. Opaque to the engine.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Version(pub String);

/// A state as read, with the version a write must name to replace it.
#[derive(Clone, Debug)]
pub struct Stored {
    pub state: State,
    pub version: Version,
}

/// What one write did.
#[derive(Clone, Debug)]
pub struct Written {
    pub version: Version,
    pub bytes: u64,
}

/// The holder of a lock, as stored with it and shown to whoever finds it taken.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockInfo {
    /// Identifies this lock; `force-unlock ID` names it.
    pub id: String,
    /// `user@host` (never credentials).
    pub who: String,
    pub pid: u32,
    pub operation: String,
    /// RFC 3339, UTC.
    pub created: String,
    /// When the lease runs out unless renewed (RFC 3339, UTC); `None` for a lock held until released.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    /// The lease's length in seconds, so that a contender can judge its expiry on the storage's
    /// clock (its last write plus this) rather than on its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_s: Option<u64>,
}

impl LockInfo {
    /// A new lock for `operation` by this process.
    pub fn new(operation: &str) -> LockInfo {
        LockInfo {
            id: uuid::Uuid::new_v4().to_string(),
            who: who(),
            pid: std::process::id(),
            operation: operation.to_string(),
            created: now_rfc3339(),
            expires: None,
            lease_s: None,
        }
    }

    /// `` `apply` by ana@laptop (pid 4242) since 2026-12-01T10:00:00Z `` (and, for a lease, until when).
    pub fn describe(&self) -> String {
        let mut text = format!("`{}` by {} (pid {}) since {}", self.operation, self.who, self.pid, self.created);
        if let Some(expires) = &self.expires {
            text.push_str(&format!(", lease until {expires} unless renewed"));
        }
        text
    }
}

/// A held lock: its holder's info and what the backend needs to renew or release it.
#[derive(Clone, Debug)]
pub struct Lease {
    pub info: LockInfo,
    /// Backend-specific (the lock object's ETag, the lock file's path).
    pub token: String,
}

/// One earlier version of the state, for `state history`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub serial: u64,
    pub time: String,
    pub who: String,
    pub operation: String,
    /// The backend's name for that version (an S3 version id).
    pub version: String,
}

#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// Someone else holds the lock.
    #[error("the state `{location}` is locked: {} (lock id `{}`)", holder.describe(), holder.id)]
    Locked { location: String, holder: LockInfo },
    /// The stored state is not the version this run read: someone else wrote it.
    #[error("the state `{location}` was changed by someone else since this run read it{detail}")]
    Conflict { location: String, detail: String },
    /// This run's lock is gone or held by another (its lease ran out and was taken over).
    #[error("the lock on `{location}` was lost: {message}")]
    LockLost { location: String, message: String },
    /// Anything else: I/O, the network, permissions. `message` says what and names the location.
    #[error("{message}")]
    Other { message: String, hint: Option<String> },
}

impl BackendError {
    pub fn other(message: impl Into<String>) -> BackendError {
        BackendError::Other { message: message.into(), hint: None }
    }

    pub fn with_hint(message: impl Into<String>, hint: impl Into<String>) -> BackendError {
        BackendError::Other { message: message.into(), hint: Some(hint.into()) }
    }

    pub fn hint(&self) -> Option<String> {
        match self {
            BackendError::Locked { holder, .. } => Some(format!(
                "wait for it to finish (`--lock-timeout 5m` waits for you); if that run is gone, `provision force-unlock {}`",
                holder.id
            )),
            BackendError::Conflict { .. } => Some(
                "another run or person wrote the state; this run's view was kept aside (see above). Run `provision plan` to see what exists now"
                    .into(),
            ),
            BackendError::LockLost { .. } => {
                Some("the run stopped starting new work; run the command again to finish what is left".into())
            }
            BackendError::Other { hint, .. } => hint.clone(),
        }
    }
}

impl From<anyhow::Error> for BackendError {
    fn from(error: anyhow::Error) -> BackendError {
        BackendError::other(format!("{error:#}"))
    }
}

/// Where a state is kept. Implementations: [`super::LocalBackend`] (a file), the AWS crate's S3
/// backend, and the core tests' fake. The engine never knows which it has.
#[async_trait]
pub trait StateBackend: Send + Sync {
    /// Where the state is, for messages (`state/shop.json`, `s3://bucket/key`).
    fn location(&self) -> String;

    /// The current state and its version; `None` when there is none yet.
    async fn read(&self) -> Result<Option<Stored>, BackendError>;

    /// Replaces the stored state, only if it is still `expected` (`None`: only if there is none).
    /// A stored state of another version is [`BackendError::Conflict`].
    async fn write(&self, state: &State, expected: Option<&Version>) -> Result<Written, BackendError>;

    /// Takes the lock for `operation`, or fails at once with [`BackendError::Locked`].
    async fn lock(&self, operation: &str) -> Result<Lease, BackendError>;

    /// Extends a lease; [`BackendError::LockLost`] when it is no longer ours.
    async fn renew(&self, lease: &mut Lease) -> Result<(), BackendError>;

    /// Releases a lock this run holds.
    async fn unlock(&self, lease: &Lease) -> Result<(), BackendError>;

    /// Releases a lock without waiting, as a last resort when a run ends without releasing it
    /// (an error path). Backends whose locks expire may do nothing.
    fn release_now(&self, lease: &Lease) {
        let _ = lease;
    }

    /// Removes a lock someone left, by its id. A lock with another id is refused.
    async fn force_unlock(&self, id: &str) -> Result<(), BackendError>;

    /// How often a held lease must be renewed; `None` when locks do not expire.
    fn renew_every(&self) -> Option<Duration> {
        None
    }

    /// Earlier versions, newest first.
    async fn history(&self) -> Result<Vec<HistoryEntry>, BackendError> {
        Err(BackendError::with_hint(
            format!("`{}` keeps no history", self.location()),
            "the local file backend keeps only the previous version (`.backup`); use an S3 state with bucket versioning for history",
        ))
    }

    /// One earlier version by its serial.
    async fn read_serial(&self, serial: u64) -> Result<Option<State>, BackendError> {
        let _ = serial;
        self.history().await.map(|_| None)
    }

    /// A warning about how the backend is set up (e.g. an S3 bucket without versioning).
    async fn check_setup(&self) -> Option<String> {
        None
    }
}

/// `user@host` for lock and history records: the login name, never a credential.
pub fn who() -> String {
    let user = std::env::var("USER").or_else(|_| std::env::var("USERNAME")).unwrap_or_else(|_| "unknown".into());
    format!("{user}@{}", gethostname::gethostname().to_string_lossy())
}

pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}
