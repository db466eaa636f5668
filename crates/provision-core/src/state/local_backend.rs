//! The state as a local JSON file, with its lock file and backup.
//!
//! Writes are atomic (temp file, fsync, rename, fsync of the folder) and private (mode 0600). The
//! first write of a run that replaces an existing file keeps that file as `<path>.backup` (a hard
//! link, so no bytes are copied), the state as it was before the run. A write names the version it
//! replaces — the file's size, modification time and inode as this run last saw them — so a file
//! someone else rewrote behind a run's back is a conflict, not silently overwritten. All file I/O runs
//! on the blocking pool, never on the task that drives the actions.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;

use super::backend::{BackendError, Lease, LockInfo, StateBackend, Stored, Version, Written};
use super::private_file::{self, with_suffix};
use super::State;

pub struct LocalBackend {
    path: PathBuf,
    /// Whether this run already kept the previous file as the backup.
    backed_up: AtomicBool,
}

impl LocalBackend {
    pub fn new(path: PathBuf) -> LocalBackend {
        LocalBackend { path, backed_up: AtomicBool::new(false) }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn lock_path(&self) -> PathBuf {
        with_suffix(&self.path, ".lock")
    }

    pub fn backup_path(&self) -> PathBuf {
        with_suffix(&self.path, ".backup")
    }

    fn read_now(&self) -> Result<Option<Stored>, BackendError> {
        let text = match private_file::read_to_string(&self.path) {
            Ok(Some(text)) => text,
            Ok(None) => return Ok(None),
            Err(error) => {
                return Err(BackendError::other(format!(
                    "failed to read state file `{}`: {error}",
                    self.path.display()
                )))
            }
        };
        let state = State::parse(&text, &self.path.display().to_string())?;
        let version = fingerprint(&self.path)?
            .ok_or_else(|| BackendError::other(format!("`{}` vanished while being read", self.path.display())))?;
        Ok(Some(Stored { state, version }))
    }

    fn write_now(&self, state: &State, expected: Option<&Version>) -> Result<Written, BackendError> {
        let current = fingerprint(&self.path)?;
        if current.as_ref() != expected {
            let detail = match (&current, expected) {
                (Some(_), None) => " (a state file appeared where there was none)".to_string(),
                (None, Some(_)) => " (the state file was removed)".to_string(),
                _ => " (the file was rewritten)".to_string(),
            };
            return Err(BackendError::Conflict { location: self.location(), detail });
        }
        if let Some(parent) = self.path.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs::create_dir_all(parent).map_err(|error| {
                BackendError::other(format!("failed to create state folder `{}`: {error}", parent.display()))
            })?;
        }
        if current.is_some() && !self.backed_up.swap(true, Ordering::SeqCst) {
            keep_backup(&self.path, &self.backup_path())?;
        }
        let bytes = state.to_document();
        write_atomically(&self.path, &bytes)?;
        let version = fingerprint(&self.path)?
            .ok_or_else(|| BackendError::other(format!("`{}` vanished after being written", self.path.display())))?;
        Ok(Written { version, bytes: bytes.len() as u64 })
    }

    fn lock_now(&self, operation: &str) -> Result<Lease, BackendError> {
        let lock_path = self.lock_path();
        if let Some(parent) = lock_path.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs::create_dir_all(parent).map_err(|error| {
                BackendError::other(format!("failed to create state folder `{}`: {error}", parent.display()))
            })?;
        }
        let info = LockInfo::new(operation);
        private_file::refuse_symlink(&lock_path).map_err(|error| BackendError::other(error.to_string()))?;
        // Enough turns for several runs taking over one stale lock at once (`take_over`).
        for _ in 0..100 {
            match private_file::create_new_private().open(&lock_path) {
                Ok(mut file) => {
                    let text = serde_json::to_string_pretty(&info).map_err(|e| BackendError::other(e.to_string()))?;
                    file.write_all(text.as_bytes()).and_then(|()| file.sync_all()).map_err(|error| {
                        BackendError::other(format!("failed to write lock file `{}`: {error}", lock_path.display()))
                    })?;
                    return Ok(Lease { info, token: lock_path.display().to_string() });
                }
                Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
                    let text = fs::read_to_string(&lock_path).unwrap_or_default();
                    match serde_json::from_str::<LockInfo>(&text) {
                        Ok(other) if same_host(&other.who) && !process_is_running(other.pid) => {
                            self.take_over(&lock_path, &other, &info)?;
                        }
                        Ok(other) => return Err(BackendError::Locked { location: self.location(), holder: other }),
                        Err(_) if text.is_empty() => {
                            // Another run is writing its lock this very moment.
                            std::thread::sleep(std::time::Duration::from_millis(20));
                        }
                        Err(_) => {
                            return Err(BackendError::with_hint(
                                format!("the state is locked: `{}` exists", lock_path.display()),
                                "if no other provision is running, remove it",
                            ))
                        }
                    }
                }
                Err(error) => {
                    return Err(BackendError::other(format!(
                        "failed to create lock file `{}`: {error}",
                        lock_path.display()
                    )))
                }
            }
        }
        Err(BackendError::other(format!("could not take the state lock `{}`", lock_path.display())))
    }

    /// Removes the lock `stale` left by a process that is gone, so that this run can make its own.
    /// Several runs may find the same stale lock at once: only the one that makes the takeover
    /// file (`O_EXCL`) looks again and removes the lock — if it is still that stale one — while the
    /// others wait and look again. A takeover file older than a few seconds was left by a run
    /// killed mid-takeover and is removed.
    fn take_over(&self, lock_path: &Path, stale: &LockInfo, _mine: &LockInfo) -> Result<(), BackendError> {
        let guard = with_suffix(lock_path, ".takeover");
        match private_file::create_new_private().open(&guard) {
            Ok(_) => {}
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
                let age = fs::metadata(&guard).and_then(|m| m.modified()).ok().and_then(|t| t.elapsed().ok());
                if age.is_some_and(|age| age > std::time::Duration::from_secs(10)) {
                    let _ = fs::remove_file(&guard);
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
                return Ok(());
            }
            Err(error) => {
                return Err(BackendError::other(format!(
                    "failed to take over the stale lock `{}`: {error}",
                    lock_path.display()
                )))
            }
        }
        let current = fs::read_to_string(lock_path).ok().and_then(|text| serde_json::from_str::<LockInfo>(&text).ok());
        let removed = if current.is_some_and(|current| current.id == stale.id) {
            fs::remove_file(lock_path).map(|()| true)
        } else {
            Ok(false)
        };
        let _ = fs::remove_file(&guard);
        match removed {
            Ok(true) => {
                tracing::warn!(
                    "taking over the lock `{}` left by process {} ({}), which is no longer running",
                    lock_path.display(),
                    stale.pid,
                    stale.operation
                );
                Ok(())
            }
            Ok(false) => Ok(()),
            Err(error) => {
                Err(BackendError::other(format!("failed to remove the stale lock `{}`: {error}", lock_path.display())))
            }
        }
    }

    fn holder(&self) -> Option<LockInfo> {
        let text = fs::read_to_string(self.lock_path()).ok()?;
        serde_json::from_str(&text).ok()
    }
}

#[async_trait]
impl StateBackend for LocalBackend {
    fn location(&self) -> String {
        self.path.display().to_string()
    }

    async fn read(&self) -> Result<Option<Stored>, BackendError> {
        blocking(|| self.read_now()).await
    }

    async fn write(&self, state: &State, expected: Option<&Version>) -> Result<Written, BackendError> {
        blocking(|| self.write_now(state, expected)).await
    }

    async fn lock(&self, operation: &str) -> Result<Lease, BackendError> {
        blocking(|| self.lock_now(operation)).await
    }

    async fn renew(&self, lease: &mut Lease) -> Result<(), BackendError> {
        match self.holder() {
            Some(holder) if holder.id == lease.info.id => Ok(()),
            _ => Err(BackendError::LockLost {
                location: self.location(),
                message: format!("`{}` no longer holds this run's lock", self.lock_path().display()),
            }),
        }
    }

    async fn unlock(&self, lease: &Lease) -> Result<(), BackendError> {
        self.release_now(lease);
        Ok(())
    }

    async fn force_unlock(&self, id: &str) -> Result<(), BackendError> {
        match self.holder() {
            None => Err(BackendError::other(format!("`{}` is not locked", self.location()))),
            Some(holder) if holder.id == id => {
                fs::remove_file(self.lock_path()).map_err(|error| {
                    BackendError::other(format!("failed to remove `{}`: {error}", self.lock_path().display()))
                })?;
                Ok(())
            }
            Some(holder) => Err(BackendError::with_hint(
                format!("the lock on `{}` has id `{}`, not `{id}`", self.location(), holder.id),
                format!("it is held by {}", holder.describe()),
            )),
        }
    }

    fn release_now(&self, lease: &Lease) {
        if self.holder().is_some_and(|holder| holder.id == lease.info.id) {
            let _ = fs::remove_file(self.lock_path());
        }
    }
}

/// Runs file work on the blocking pool (outside a runtime, e.g. in unit tests, right here).
async fn blocking<T>(work: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(work)
        }
        _ => work(),
    }
}

/// The file's version: size, modification time and inode. `None` when there is no file.
fn fingerprint(path: &Path) -> Result<Option<Version>, BackendError> {
    match fs::metadata(path) {
        Ok(metadata) => {
            let modified = metadata
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map(|d| d.as_nanos())
                .unwrap_or(0);
            #[cfg(unix)]
            let inode = std::os::unix::fs::MetadataExt::ino(&metadata);
            #[cfg(not(unix))]
            let inode = 0u64;
            Ok(Some(Version(format!("{}-{modified}-{inode}", metadata.len()))))
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(BackendError::other(format!("failed to read `{}`: {error}", path.display()))),
    }
}

/// Keeps `path` as `backup`: a hard link where the file system allows, else a copy.
fn keep_backup(path: &Path, backup: &Path) -> Result<(), BackendError> {
    let staged = with_suffix(backup, ".tmp");
    let _ = fs::remove_file(&staged);
    if fs::hard_link(path, &staged).is_err() {
        let bytes = fs::read(path)
            .map_err(|error| BackendError::other(format!("failed to read `{}`: {error}", path.display())))?;
        return write_atomically(backup, &bytes);
    }
    fs::rename(&staged, backup)
        .map_err(|error| BackendError::other(format!("failed to keep the backup `{}`: {error}", backup.display())))
}

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), BackendError> {
    private_file::write(path, bytes)
        .map_err(|error| BackendError::other(format!("failed to write `{}`: {error}", path.display())))
}

fn same_host(who: &str) -> bool {
    who.rsplit_once('@').map(|(_, host)| host) == Some(gethostname::gethostname().to_string_lossy().as_ref())
}

fn process_is_running(pid: u32) -> bool {
    if cfg!(target_os = "linux") {
        Path::new(&format!("/proc/{pid}")).exists()
    } else {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
    }

    #[test]
    fn writes_are_private_and_keep_the_previous_file_as_backup() {
        let dir = tempfile::tempdir().unwrap();
        let backend = LocalBackend::new(dir.path().join("state/app.json"));
        runtime().block_on(async {
            let mut state = State::new("app");
            let first = backend.write(&state, None).await.unwrap();
            state.serial = 1;
            let second = backend.write(&state, Some(&first.version)).await.unwrap();
            state.serial = 2;
            backend.write(&state, Some(&second.version)).await.unwrap();
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let mode = fs::metadata(backend.path()).unwrap().permissions().mode() & 0o777;
                assert_eq!(mode, 0o600);
            }
            assert_eq!(backend.read().await.unwrap().unwrap().state.serial, 2);
            // The backup is the file as it was before this run's first replacing write.
            let backup = State::parse(&fs::read_to_string(backend.backup_path()).unwrap(), "backup").unwrap();
            assert_eq!(backup.serial, 0);
        });
    }

    #[test]
    fn a_write_behind_the_runs_back_is_a_conflict() {
        let dir = tempfile::tempdir().unwrap();
        let backend = LocalBackend::new(dir.path().join("app.json"));
        runtime().block_on(async {
            let state = State::new("app");
            let written = backend.write(&state, None).await.unwrap();
            let mut other = state.clone();
            other.serial = 7;
            fs::write(backend.path(), other.to_document()).unwrap();
            let error = backend.write(&state, Some(&written.version)).await.unwrap_err();
            assert!(matches!(error, BackendError::Conflict { .. }), "{error}");
            assert_eq!(backend.read().await.unwrap().unwrap().state.serial, 7, "the foreign write is kept");
        });
    }

    #[test]
    fn a_second_lock_fails_naming_the_holder_and_force_unlock_frees_it() {
        let dir = tempfile::tempdir().unwrap();
        let backend = LocalBackend::new(dir.path().join("app.json"));
        runtime().block_on(async {
            let held = backend.lock("apply").await.unwrap();
            let error = backend.lock("destroy").await.unwrap_err();
            let text = error.to_string();
            assert!(text.contains("`apply`"), "{text}");
            assert!(text.contains(&format!("pid {}", std::process::id())), "{text}");
            assert!(text.contains(&held.info.id), "{text}");
            assert!(backend.force_unlock("not-the-id").await.is_err());
            backend.force_unlock(&held.info.id).await.unwrap();
            assert!(backend.lock("destroy").await.is_ok());
        });
    }

    #[test]
    fn of_many_runs_taking_over_one_stale_lock_exactly_one_wins() {
        for _ in 0..20 {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("app.json");
            let mut stale = LockInfo::new("apply");
            stale.pid = u32::MAX - 1;
            fs::write(with_suffix(&path, ".lock"), serde_json::to_string(&stale).unwrap()).unwrap();
            let barrier = std::sync::Arc::new(std::sync::Barrier::new(4));
            let handles: Vec<_> = (0..4)
                .map(|_| {
                    let (path, barrier) = (path.clone(), barrier.clone());
                    std::thread::spawn(move || {
                        let backend = LocalBackend::new(path);
                        barrier.wait();
                        backend.lock_now("apply").map(|lease| lease.info.id)
                    })
                })
                .collect();
            let won: Vec<String> = handles.into_iter().filter_map(|h| h.join().unwrap().ok()).collect();
            assert_eq!(won.len(), 1, "exactly one run holds the lock: {won:?}");
            let holder: LockInfo =
                serde_json::from_str(&fs::read_to_string(with_suffix(&path, ".lock")).unwrap()).unwrap();
            assert_eq!(holder.id, won[0], "the lock file is the winner's");
        }
    }

    #[cfg(unix)]
    #[test]
    fn the_state_and_its_lock_are_private_and_never_followed_through_a_link() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("elsewhere.json");
        fs::write(&target, "not a state").unwrap();
        let path = dir.path().join("app.json");
        std::os::unix::fs::symlink(&target, &path).unwrap();
        let backend = LocalBackend::new(path.clone());
        runtime().block_on(async {
            let error = backend.read().await.unwrap_err().to_string();
            assert!(error.contains("is a symbolic link"), "{error}");
            assert!(backend.write(&State::new("app"), None).await.is_err());
            assert_eq!(fs::read_to_string(&target).unwrap(), "not a state");
            fs::remove_file(&path).unwrap();
            backend.lock("apply").await.unwrap();
            let mode = fs::metadata(backend.lock_path()).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        });
    }

    #[test]
    fn a_lock_of_a_dead_process_is_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let backend = LocalBackend::new(dir.path().join("app.json"));
        let mut stale = LockInfo::new("apply");
        stale.pid = u32::MAX - 1;
        fs::write(backend.lock_path(), serde_json::to_string(&stale).unwrap()).unwrap();
        assert!(runtime().block_on(backend.lock("apply")).is_ok());
    }
}
