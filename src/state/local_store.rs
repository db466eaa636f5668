//! The state as a local JSON file, with its lock file and backup.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use super::{State, FORMAT_VERSION};

pub struct LocalStateStore {
    path: PathBuf,
}

/// Who holds the lock, as written into the lock file.
#[derive(Debug, Serialize, Deserialize)]
struct LockHolder {
    host: String,
    pid: u32,
    time: String,
    operation: String,
}

/// Held while a command may change the state; removes the lock file when dropped.
#[derive(Debug)]
pub struct StateLock {
    path: PathBuf,
}

impl Drop for StateLock {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

impl LocalStateStore {
    pub fn new(path: PathBuf) -> LocalStateStore {
        LocalStateStore { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn lock_path(&self) -> PathBuf {
        with_suffix(&self.path, ".lock")
    }

    pub fn backup_path(&self) -> PathBuf {
        with_suffix(&self.path, ".backup")
    }

    /// Reads the state; `None` when there is none yet.
    pub fn read(&self) -> Result<Option<State>> {
        let text = match fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) => {
                return Err(error).with_context(|| format!("failed to read state file `{}`", self.path.display()))
            }
        };
        parse_state(&text, &self.path.display().to_string()).map(Some)
    }

    /// Takes the exclusive lock or fails at once naming its holder. A lock left by a process of this
    /// host that no longer runs is taken over, with a warning.
    pub fn lock(&self, operation: &str) -> Result<StateLock> {
        let lock_path = self.lock_path();
        if let Some(parent) = lock_path.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs::create_dir_all(parent)
                .with_context(|| format!("failed to create state folder `{}`", parent.display()))?;
        }
        let holder = LockHolder {
            host: hostname(),
            pid: std::process::id(),
            time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            operation: operation.to_string(),
        };
        for _ in 0..2 {
            match OpenOptions::new().write(true).create_new(true).open(&lock_path) {
                Ok(mut file) => {
                    file.write_all(serde_json::to_string_pretty(&holder)?.as_bytes())?;
                    file.sync_all()?;
                    return Ok(StateLock { path: lock_path });
                }
                Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
                    let text = fs::read_to_string(&lock_path).unwrap_or_default();
                    match serde_json::from_str::<LockHolder>(&text) {
                        Ok(other) if other.host == holder.host && !process_is_running(other.pid) => {
                            tracing::warn!(
                                "taking over the lock `{}` left by process {} ({}), which is no longer running",
                                lock_path.display(),
                                other.pid,
                                other.operation
                            );
                            let _ = fs::remove_file(&lock_path);
                        }
                        Ok(other) => bail!(
                            "the state is locked by `{}` (pid {} on host `{}`, since {})\n\nhint: wait for it to finish; if that process is gone, remove `{}`",
                            other.operation,
                            other.pid,
                            other.host,
                            other.time,
                            lock_path.display()
                        ),
                        Err(_) => bail!(
                            "the state is locked: `{}` exists\n\nhint: if no other provision is running, remove it",
                            lock_path.display()
                        ),
                    }
                }
                Err(error) => {
                    return Err(error).with_context(|| format!("failed to create lock file `{}`", lock_path.display()))
                }
            }
        }
        bail!("could not take the state lock `{}`", lock_path.display())
    }

    /// Writes the state atomically (temp file, fsync, rename) with mode 0600, keeping the previous
    /// version as `<path>.backup`.
    pub fn write(&self, state: &State) -> Result<()> {
        let text = serde_json::to_string_pretty(state)? + "\n";
        if let Some(parent) = self.path.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs::create_dir_all(parent)
                .with_context(|| format!("failed to create state folder `{}`", parent.display()))?;
        }
        if let Ok(previous) = fs::read(&self.path) {
            write_atomically(&self.backup_path(), &previous)?;
        }
        write_atomically(&self.path, text.as_bytes())
    }
}

pub fn parse_state(text: &str, origin: &str) -> Result<State> {
    #[derive(Deserialize)]
    struct VersionOnly {
        version: u32,
    }
    let version = serde_json::from_str::<VersionOnly>(text)
        .with_context(|| format!("`{origin}` is not a provision state file"))?
        .version;
    if version > FORMAT_VERSION {
        bail!(
            "`{origin}` was written by a newer provision (state format {version}; this one reads up to {FORMAT_VERSION}); it was left untouched\n\nhint: upgrade provision"
        );
    }
    serde_json::from_str(text).with_context(|| format!("`{origin}` is not a valid provision state file"))
}

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let temporary = with_suffix(path, ".tmp");
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&temporary).with_context(|| format!("failed to write `{}`", temporary.display()))?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    fs::rename(&temporary, path).with_context(|| format!("failed to replace `{}`", path.display()))?;
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        if let Ok(directory) = File::open(parent) {
            let _ = directory.sync_all();
        }
    }
    Ok(())
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut text = path.as_os_str().to_os_string();
    text.push(suffix);
    PathBuf::from(text)
}

fn hostname() -> String {
    gethostname::gethostname().to_string_lossy().into_owned()
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

    #[test]
    fn writes_are_private_and_keep_a_backup() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStateStore::new(dir.path().join("state/app.json"));
        let mut state = State::new("app");
        store.write(&state).unwrap();
        state.serial = 1;
        store.write(&state).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(store.path()).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        assert_eq!(store.read().unwrap().unwrap().serial, 1);
        let backup = parse_state(&fs::read_to_string(store.backup_path()).unwrap(), "backup").unwrap();
        assert_eq!(backup.serial, 0);
    }

    #[test]
    fn a_second_lock_fails_naming_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStateStore::new(dir.path().join("app.json"));
        let _held = store.lock("apply").unwrap();
        let error = store.lock("destroy").unwrap_err().to_string();
        assert!(error.contains("locked by `apply`"), "{error}");
        assert!(error.contains(&format!("pid {}", std::process::id())), "{error}");
    }

    #[test]
    fn a_lock_of_a_dead_process_is_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStateStore::new(dir.path().join("app.json"));
        let stale = LockHolder { host: hostname(), pid: u32::MAX - 1, time: "then".into(), operation: "apply".into() };
        fs::write(dir.path().join("app.json.lock"), serde_json::to_string(&stale).unwrap()).unwrap();
        assert!(store.lock("apply").is_ok());
    }

    #[test]
    fn newer_formats_are_refused() {
        let error = parse_state(r#"{"version": 99, "lineage": "x", "serial": 1, "stack": "a"}"#, "s.json").unwrap_err();
        assert!(error.to_string().contains("newer provision"), "{error}");
    }
}
