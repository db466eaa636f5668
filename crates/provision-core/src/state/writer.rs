//! One writer per run owns the backend and group-commits (Pulumi's snapshot journal, in small).
//!
//! Actions change the in-memory state at once ([`StateWriter::change`], a few microseconds under a
//! lock) and then wait only for the write that holds their change ([`StateWriter::durable`]). The
//! writer task writes whenever something changed: everything that changed while a write was in
//! flight goes into the next one. So a thousand actions finishing in bursts make far fewer writes
//! than actions, no action waits for another's I/O, and the state on disk is never more than one
//! write behind what the run knows. No file or network I/O happens on the task that drives actions.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use super::backend::{now_rfc3339, who, BackendError, StateBackend, Version};
use super::{State, WrittenBy};

/// Counts of what the writer did, for `-v` and the benchmark.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WriteStats {
    /// Changes the run made to the state.
    pub changes: u64,
    /// Writes to the backend.
    pub writes: u64,
    pub bytes: u64,
    /// Time spent in backend writes (on the writer task, not on the actions' path).
    pub time_writing: Duration,
}

/// A change's place in the order of changes; a write covers every change up to some ticket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Ticket(u64);

#[derive(Clone, Default)]
struct Durable {
    /// Every change up to this ticket is in a write that succeeded.
    written: u64,
    /// Set once a write failed; nothing is written after it.
    failed: Option<Arc<BackendError>>,
}

struct Pending {
    state: State,
    /// Changes made so far.
    changed: u64,
    closing: bool,
}

struct Shared {
    backend: Arc<dyn StateBackend>,
    pending: Mutex<Pending>,
    wake: Notify,
    durable: Mutex<Durable>,
    /// Woken whenever `durable` changes. (A `Notify`, not a `watch`: waiters wake in the order they
    /// began waiting, which keeps the core's seeded simulations replayable.)
    durable_changed: Notify,
    stats: Mutex<WriteStats>,
    operation: String,
}

pub struct StateWriter {
    shared: Arc<Shared>,
    task: Option<tokio::task::JoinHandle<()>>,
}

/// Why a change could not be made durable.
#[derive(Clone, Debug)]
pub struct WriteFailed(pub Arc<BackendError>);

impl std::fmt::Display for WriteFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "saving the state failed: {}", self.0)
    }
}

impl StateWriter {
    /// Starts the writer for `state`, whose stored version is `version` (`None`: nothing stored yet).
    /// `operation` is recorded with each write (`apply`, `destroy` …).
    pub fn start(
        backend: Arc<dyn StateBackend>,
        state: State,
        version: Option<Version>,
        operation: &str,
    ) -> StateWriter {
        let shared = Arc::new(Shared {
            backend,
            pending: Mutex::new(Pending { state, changed: 0, closing: false }),
            wake: Notify::new(),
            durable: Mutex::new(Durable::default()),
            durable_changed: Notify::new(),
            stats: Mutex::new(WriteStats::default()),
            operation: operation.to_string(),
        });
        let task = tokio::spawn(write_loop(shared.clone(), version));
        StateWriter { shared, task: Some(task) }
    }

    /// Changes the in-memory state; the change is durable once [`StateWriter::durable`] says so.
    pub fn change(&self, change: impl FnOnce(&mut State)) -> Ticket {
        let mut pending = self.shared.pending.lock().unwrap_or_else(|p| p.into_inner());
        change(&mut pending.state);
        pending.changed += 1;
        let ticket = Ticket(pending.changed);
        drop(pending);
        self.shared.wake.notify_one();
        ticket
    }

    /// Waits until a write holding the change `ticket` has succeeded.
    pub async fn durable(&self, ticket: Ticket) -> Result<(), WriteFailed> {
        loop {
            let changed = self.shared.durable_changed.notified();
            tokio::pin!(changed);
            // Registered before looking, so a change in between is not missed.
            changed.as_mut().enable();
            {
                let now = self.shared.durable.lock().unwrap_or_else(|p| p.into_inner());
                if now.written >= ticket.0 {
                    return Ok(());
                }
                if let Some(error) = &now.failed {
                    return Err(WriteFailed(error.clone()));
                }
            }
            if self.task.as_ref().is_none_or(|task| task.is_finished()) && self.failure().is_none() {
                let now = self.shared.durable.lock().unwrap_or_else(|p| p.into_inner()).written;
                if now < ticket.0 {
                    return Err(WriteFailed(Arc::new(BackendError::other("the state writer stopped"))));
                }
            }
            changed.await;
        }
    }

    /// Changes the state and waits until the change is durable.
    pub async fn commit(&self, change: impl FnOnce(&mut State)) -> Result<(), WriteFailed> {
        let ticket = self.change(change);
        self.durable(ticket).await
    }

    /// Waits until every change made so far is durable.
    pub async fn flush(&self) -> Result<(), WriteFailed> {
        let changed = self.shared.pending.lock().unwrap_or_else(|p| p.into_inner()).changed;
        self.durable(Ticket(changed)).await
    }

    /// Reads the in-memory state (which may be ahead of what is durable).
    pub fn read<R>(&self, read: impl FnOnce(&State) -> R) -> R {
        read(&self.shared.pending.lock().unwrap_or_else(|p| p.into_inner()).state)
    }

    /// The first write error, if a write failed.
    pub fn failure(&self) -> Option<Arc<BackendError>> {
        self.shared.durable.lock().unwrap_or_else(|p| p.into_inner()).failed.clone()
    }

    pub fn stats(&self) -> WriteStats {
        self.shared.stats.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Writes what is left, stops the writer and returns the state as the run left it.
    pub async fn finish(mut self) -> (State, WriteStats, Option<Arc<BackendError>>) {
        self.shared.pending.lock().unwrap_or_else(|p| p.into_inner()).closing = true;
        self.shared.wake.notify_one();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        let state = self.shared.pending.lock().unwrap_or_else(|p| p.into_inner()).state.clone();
        (state, self.stats(), self.failure())
    }
}

impl Drop for StateWriter {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            // Dropped without `finish` (a run abandoned at once): stop after the write in flight.
            self.shared.pending.lock().unwrap_or_else(|p| p.into_inner()).closing = true;
            self.shared.wake.notify_one();
            drop(task);
        }
    }
}

async fn write_loop(shared: Arc<Shared>, mut version: Option<Version>) {
    let mut written = 0u64;
    loop {
        let next = {
            let mut pending = shared.pending.lock().unwrap_or_else(|p| p.into_inner());
            if pending.changed > written {
                let Some(serial) = pending.state.serial.checked_add(1) else {
                    drop(pending);
                    let error = BackendError::with_hint(
                        format!("the state's serial is {}, the largest there is; it cannot be written again", u64::MAX),
                        "a serial that large was not written by provision; restore a backup or `provision state push` a corrected copy",
                    );
                    shared.durable.lock().unwrap_or_else(|p| p.into_inner()).failed = Some(Arc::new(error));
                    shared.durable_changed.notify_waiters();
                    return;
                };
                pending.state.serial = serial;
                pending.state.written_by =
                    Some(WrittenBy { who: who(), operation: shared.operation.clone(), time: now_rfc3339() });
                Some((pending.state.clone(), pending.changed))
            } else if pending.closing {
                return;
            } else {
                None
            }
        };
        let Some((snapshot, upto)) = next else {
            shared.wake.notified().await;
            continue;
        };
        let started = Instant::now();
        let result = shared.backend.write(&snapshot, version.as_ref()).await;
        let elapsed = started.elapsed();
        match result {
            Ok(done) => {
                version = Some(done.version);
                written = upto;
                {
                    let mut stats = shared.stats.lock().unwrap_or_else(|p| p.into_inner());
                    stats.writes += 1;
                    stats.bytes += done.bytes;
                    stats.time_writing += elapsed;
                    stats.changes = upto;
                }
                shared.durable.lock().unwrap_or_else(|p| p.into_inner()).written = upto;
                shared.durable_changed.notify_waiters();
            }
            Err(error) => {
                tracing::warn!("writing the state to `{}` failed: {error}", shared.backend.location());
                shared.durable.lock().unwrap_or_else(|p| p.into_inner()).failed = Some(Arc::new(error));
                shared.durable_changed.notify_waiters();
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::LocalBackend;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn changes_made_while_a_write_is_in_flight_share_the_next_write() {
        let dir = tempfile::tempdir().unwrap();
        let backend = Arc::new(LocalBackend::new(dir.path().join("app.json")));
        let writer = Arc::new(StateWriter::start(backend.clone(), State::new("app"), None, "apply"));
        let mut waits = Vec::new();
        for i in 0..200 {
            let writer = writer.clone();
            waits.push(tokio::spawn(async move {
                writer
                    .commit(|state| {
                        state.outputs.insert(format!("o{i}"), serde_json::json!(i));
                    })
                    .await
            }));
        }
        for wait in waits {
            wait.await.unwrap().unwrap();
        }
        let writer = Arc::into_inner(writer).unwrap();
        let (state, stats, failure) = writer.finish().await;
        assert!(failure.is_none());
        assert_eq!(stats.changes, 200);
        assert!(stats.writes < 200, "{stats:?}");
        let stored = backend.read().await.unwrap().unwrap().state;
        assert_eq!(stored.outputs.len(), 200);
        assert_eq!(stored.serial, state.serial);
        assert_eq!(stored.serial, stats.writes, "the serial grows by one per write");
        assert_eq!(stored.written_by.unwrap().operation, "apply");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_serial_at_its_largest_fails_the_write_instead_of_wrapping_or_panicking() {
        let dir = tempfile::tempdir().unwrap();
        let backend = Arc::new(LocalBackend::new(dir.path().join("app.json")));
        let mut state = State::new("app");
        state.serial = u64::MAX;
        let writer = StateWriter::start(backend.clone(), state, None, "state rm");
        let error = writer.commit(|state| state.outputs.clear()).await.unwrap_err();
        assert!(error.to_string().contains("the largest there is"), "{error}");
        assert!(backend.read().await.unwrap().is_none(), "nothing was written");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_write_fails_every_waiter_and_stops_writing() {
        let dir = tempfile::tempdir().unwrap();
        let backend = Arc::new(LocalBackend::new(dir.path().join("app.json")));
        // Someone else's state is already there: the first write, expecting none, conflicts.
        backend.write(&State::new("app"), None).await.unwrap();
        let writer = StateWriter::start(backend.clone(), State::new("app"), None, "apply");
        let error = writer.commit(|state| state.serial += 0).await.unwrap_err();
        assert!(matches!(*error.0, BackendError::Conflict { .. }), "{error}");
        assert!(writer.commit(|_| {}).await.is_err());
        let (_, stats, failure) = writer.finish().await;
        assert!(failure.is_some());
        assert_eq!(stats.writes, 0);
    }
}
