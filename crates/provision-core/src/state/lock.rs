//! Taking the state lock (waiting up to `--lock-timeout`), and holding it: a lease is renewed in the
//! background every third of its length, and a renewal that fails is reported so the run starts
//! nothing new and finishes as after Ctrl-C.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::backend::{BackendError, Lease, StateBackend};

#[derive(Clone, Debug, Default)]
pub struct LockOptions {
    /// How long to keep trying while someone else holds the lock (`--lock-timeout`); zero fails at once.
    pub timeout: Duration,
}

/// Takes the lock for `operation`. While another holds it, retries (with growing pauses) until
/// `options.timeout` has passed, then fails naming the holder.
pub async fn acquire_lock(
    backend: Arc<dyn StateBackend>,
    operation: &str,
    options: &LockOptions,
) -> Result<LockGuard, BackendError> {
    // A timeout past what a clock can hold waits as long as a clock can (no overflow, no panic).
    let now = tokio::time::Instant::now();
    let deadline = now.checked_add(options.timeout).unwrap_or_else(|| now + Duration::from_secs(10 * 365 * 86_400));
    let mut pause = Duration::from_millis(250);
    let lease = loop {
        match backend.lock(operation).await {
            Ok(lease) => break lease,
            Err(BackendError::Locked { location, holder }) => {
                let now = tokio::time::Instant::now();
                if now >= deadline {
                    return Err(BackendError::Locked { location, holder });
                }
                tracing::info!("the state is locked by {}; waiting", holder.describe());
                tokio::time::sleep(pause.min(deadline - now)).await;
                pause = (pause * 2).min(Duration::from_secs(5));
            }
            Err(other) => return Err(other),
        }
    };
    Ok(LockGuard::hold(backend, lease))
}

/// A held lock. Renews its lease in the background; [`LockGuard::lost`] resolves if a renewal fails.
/// Release it with [`LockGuard::release`]; dropped unreleased, it releases what it can at once.
pub struct LockGuard {
    backend: Arc<dyn StateBackend>,
    lease: Arc<tokio::sync::Mutex<Lease>>,
    lost: watch::Receiver<Option<String>>,
    renewer: Option<tokio::task::JoinHandle<()>>,
    released: bool,
}

impl LockGuard {
    fn hold(backend: Arc<dyn StateBackend>, lease: Lease) -> LockGuard {
        let (sender, lost) = watch::channel(None);
        let lease = Arc::new(tokio::sync::Mutex::new(lease));
        let renewer = backend.renew_every().map(|every| {
            let backend = backend.clone();
            let lease = lease.clone();
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(every).await;
                    let mut held = lease.lock().await;
                    if let Err(error) = backend.renew(&mut held).await {
                        tracing::warn!("renewing the state lock failed: {error}");
                        let _ = sender.send(Some(error.to_string()));
                        return;
                    }
                    tracing::debug!("renewed the state lock `{}`", held.info.id);
                }
            })
        });
        LockGuard { backend, lease, lost, renewer, released: false }
    }

    /// Resolves with the reason once the lease could not be renewed; never while it holds.
    pub fn lost(&self) -> impl std::future::Future<Output = String> + Send + 'static {
        let mut lost = self.lost.clone();
        async move {
            loop {
                if let Some(reason) = lost.borrow_and_update().clone() {
                    return reason;
                }
                if lost.changed().await.is_err() {
                    // The renewer ended without a failure (released): never resolve.
                    std::future::pending::<()>().await;
                }
            }
        }
    }

    /// Whether a renewal has failed (the lock may be another's by now).
    pub fn is_lost(&self) -> bool {
        self.lost.borrow().is_some()
    }

    pub async fn id(&self) -> String {
        self.lease.lock().await.info.id.clone()
    }

    pub async fn release(mut self) -> Result<(), BackendError> {
        if let Some(renewer) = self.renewer.take() {
            renewer.abort();
        }
        self.released = true;
        let lease = self.lease.lock().await.clone();
        self.backend.unlock(&lease).await
    }
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        if let Some(renewer) = self.renewer.take() {
            renewer.abort();
        }
        if !self.released {
            if let Ok(lease) = self.lease.try_lock() {
                self.backend.release_now(&lease);
            }
        }
    }
}
