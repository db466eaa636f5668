//! The state lock as a lease: the object `KEY.lock`, holding its holder's [`LockInfo`].
//!
//! Taking it is `PutObject If-None-Match: *`; a lock whose lease ran out (`expires` has passed,
//! because its holder was killed or cut off) is taken over with `If-Match` on that stale lock's
//! ETag, so of two runs taking it over at once only one wins. The holder renews with `If-Match` its
//! own ETag, and releases with `DeleteObject If-Match`. Every 412 is looked into before it is
//! believed: a lock holding this run's own id is this run's (a retried request met its own
//! earlier success), anything else is another holder's.

use std::time::Duration;

use provision_core::state::{BackendError, Lease, LockInfo, StateBackend};
use tokio::time::Instant;

use super::object_io::{Condition, Refused};
use super::S3Backend;

/// A lock object as read: who holds it, the ETag a takeover or release must name, and the server's
/// times that decide whether its lease ran out.
pub(super) struct LockObject {
    pub info: LockInfo,
    pub etag: String,
    pub last_modified: Option<std::time::SystemTime>,
    pub server_now: Option<std::time::SystemTime>,
}

/// How many times the lock is looked at again when it changes under a contender's hands.
const ROUNDS: usize = 6;

impl S3Backend {
    fn lock_url(&self) -> String {
        format!("s3://{}/{}", self.location.bucket, self.location.lock_key())
    }

    /// The lock as stored; `None` when nobody holds it.
    pub(super) async fn read_lock(&self) -> Result<Option<LockObject>, BackendError> {
        let Some(object) = self.store.get(&self.location.lock_key(), None).await? else { return Ok(None) };
        match serde_json::from_slice::<LockInfo>(&object.body) {
            Ok(info) => Ok(Some(LockObject {
                info,
                etag: object.etag,
                last_modified: object.last_modified,
                server_now: object.server_now,
            })),
            Err(error) => Err(BackendError::with_hint(
                format!("`{}` is not a provision lock ({error})", self.lock_url()),
                format!(
                    "if no provision run is going on, delete it: `aws s3api delete-object --bucket {} --key {}`",
                    self.location.bucket,
                    self.location.lock_key()
                ),
            )),
        }
    }

    /// This run's lock, with a fresh expiry, as the document to store.
    fn lock_document(&self, info: &mut LockInfo) -> Vec<u8> {
        info.expires = Some(expiry(self.location.lock_ttl));
        info.lease_s = Some(self.location.lock_ttl.as_secs());
        serde_json::to_vec_pretty(info).unwrap_or_default()
    }

    pub(super) async fn take_lock(&self, operation: &str) -> Result<Lease, BackendError> {
        let key = self.location.lock_key();
        let mut info = LockInfo::new(operation);
        // `None`: create it; `Some(etag)`: take over the stale lock with this ETag.
        let mut stale: Option<String> = None;
        for _ in 0..ROUNDS {
            let body = self.lock_document(&mut info);
            let condition = match &stale {
                None => Condition::Absent,
                Some(etag) => Condition::Matches(etag),
            };
            match self.store.put(&key, &body, condition, &[], None).await {
                Ok(etag) => return Ok(Lease { info, token: etag }),
                Err(Refused::Precondition { .. } | Refused::Missing) => {}
                Err(Refused::Failed(error)) => return Err(error),
            }
            match self.read_lock().await? {
                None => stale = None,
                Some(current) if current.info.id == info.id => {
                    tracing::debug!("the lock `{}` is this run's own (a retried request had succeeded)", info.id);
                    return Ok(Lease { info: current.info, token: current.etag });
                }
                Some(current) if has_expired(&current) => {
                    tracing::warn!(
                        "taking over the state lock `{}` held by {}: its lease ran out",
                        current.info.id,
                        current.info.describe()
                    );
                    stale = Some(current.etag);
                }
                Some(current) => return Err(BackendError::Locked { location: self.location(), holder: current.info }),
            }
        }
        Err(BackendError::other(format!(
            "could not take the lock `{}`: it kept changing hands; run the command again",
            self.lock_url()
        )))
    }

    pub(super) async fn renew_lock(&self, lease: &mut Lease) -> Result<(), BackendError> {
        let lost = |message: String| BackendError::LockLost { location: self.location(), message };
        // The renewal must end before the lease does: after that, another may hold the lock.
        let remaining = remaining(&lease.info).saturating_sub(self.location.lock_ttl / 10);
        if remaining.is_zero() {
            return Err(lost("its lease ran out before it could be renewed".into()));
        }
        let deadline = Instant::now() + remaining;
        let mut info = lease.info.clone();
        let body = self.lock_document(&mut info);
        let key = self.location.lock_key();
        match self.store.put(&key, &body, Condition::Matches(&lease.token), &[], Some(deadline)).await {
            Ok(etag) => {
                *lease = Lease { info, token: etag };
                Ok(())
            }
            Err(Refused::Precondition { .. }) => match self.read_lock().await? {
                Some(current) if current.info.id == lease.info.id => {
                    *lease = Lease { info: current.info, token: current.etag };
                    Ok(())
                }
                Some(current) => {
                    Err(lost(format!("it is now held by {} (lock id `{}`)", current.info.describe(), current.info.id)))
                }
                None => Err(lost("the lock object was removed (by `provision force-unlock`?)".into())),
            },
            Err(Refused::Missing) => Err(lost("the lock object was removed (by `provision force-unlock`?)".into())),
            Err(Refused::Failed(error)) => Err(lost(format!("renewing it failed before the lease ran out: {error}"))),
        }
    }

    pub(super) async fn release_lock(&self, lease: &Lease) -> Result<(), BackendError> {
        let key = self.location.lock_key();
        match self.store.delete(&key, &lease.token).await {
            Ok(()) | Err(Refused::Missing) => Ok(()),
            Err(Refused::Failed(error)) => Err(error),
            Err(Refused::Precondition { .. }) => match self.read_lock().await? {
                None => Ok(()),
                // A renewal whose answer was lost: the lock is still ours, under a newer ETag.
                Some(current) if current.info.id == lease.info.id => match self.store.delete(&key, &current.etag).await
                {
                    Ok(()) | Err(Refused::Missing) => Ok(()),
                    Err(Refused::Failed(error)) => Err(error),
                    Err(Refused::Precondition { .. }) => Err(BackendError::other(format!(
                        "the lock `{}` changed while it was being released",
                        self.lock_url()
                    ))),
                },
                Some(current) => {
                    tracing::warn!(
                        "the state lock is now held by {} (lock id `{}`); left it in place",
                        current.info.describe(),
                        current.info.id
                    );
                    Ok(())
                }
            },
        }
    }

    pub(super) async fn remove_lock(&self, id: &str) -> Result<(), BackendError> {
        let Some(current) = self.read_lock().await? else {
            return Err(BackendError::other(format!("`{}` is not locked", self.location())));
        };
        if current.info.id != id {
            return Err(BackendError::with_hint(
                format!("the lock on `{}` has id `{}`, not `{id}`", self.location(), current.info.id),
                format!("it is held by {}", current.info.describe()),
            ));
        }
        match self.store.delete(&self.location.lock_key(), &current.etag).await {
            Ok(()) | Err(Refused::Missing) => Ok(()),
            Err(Refused::Precondition { .. }) => Err(BackendError::other(format!(
                "the lock `{id}` changed while it was being removed (its holder renewed it: it is still running); look again"
            ))),
            Err(Refused::Failed(error)) => Err(error),
        }
    }
}

/// Now plus `ttl`, as stored in a lock's `expires` (RFC 3339, UTC).
fn expiry(ttl: Duration) -> String {
    let ttl = chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::MAX);
    let at = chrono::Utc::now().checked_add_signed(ttl).unwrap_or(chrono::DateTime::<chrono::Utc>::MAX_UTC);
    at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Whether a lock's lease has run out, judged by the S3 server's clock: its `Date` past the lock's
/// `Last-Modified` plus the lease the holder wrote (`lease_s`); for a lock without a lease length,
/// its `expires` against the server's `Date`. Only when the server gave no time at all does this
/// run's clock decide. A lock without `expires` (or with one that does not parse) never runs out:
/// only `force-unlock` removes it.
pub(super) fn has_expired(lock: &LockObject) -> bool {
    let expires = lock
        .info
        .expires
        .as_deref()
        .and_then(|text| chrono::DateTime::parse_from_rfc3339(text).ok())
        .map(|expires| std::time::SystemTime::from(expires.with_timezone(&chrono::Utc)));
    let Some(expires) = expires else { return false };
    match (lock.server_now, lock.last_modified, lock.info.lease_s) {
        (Some(now), Some(written), Some(lease)) => {
            written.checked_add(Duration::from_secs(lease)).is_some_and(|until| now > until)
        }
        (Some(now), _, _) => now > expires,
        _ => std::time::SystemTime::now() > expires,
    }
}

/// How long a lease has left.
fn remaining(info: &LockInfo) -> Duration {
    info.expires
        .as_deref()
        .and_then(|text| chrono::DateTime::parse_from_rfc3339(text).ok())
        .and_then(|expires| (expires.with_timezone(&chrono::Utc) - chrono::Utc::now()).to_std().ok())
        .unwrap_or(Duration::ZERO)
}
