//! Files provision writes for itself — the state, its backup, saved plans, a run's errored copy of
//! the state, lock files — are private (mode 0600) and never written through a symbolic link.
//!
//! Opening an existing file with `O_TRUNC` keeps its old mode (a plan written over a `0644` file
//! stays world-readable) and follows a link planted in its place (a state or its temp file pointing
//! at `~/.ssh/authorized_keys`). So every write goes to a new file made with `O_CREAT | O_EXCL |
//! O_NOFOLLOW` and mode 0600 beside the target, which is then renamed over it; a target that is a
//! symbolic link is refused, naming it.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// An error naming `path` as a symbolic link that provision will not write or read through.
pub fn symlink_error(path: &Path) -> io::Error {
    io::Error::other(format!(
        "`{}` is a symbolic link; provision does not read or write its files through links (replace it with the file itself)",
        path.display()
    ))
}

/// Fails when `path` is a symbolic link (a missing path is fine).
pub fn refuse_symlink(path: &Path) -> io::Result<()> {
    match fs::symlink_metadata(path) {
        Ok(metadata) if metadata.file_type().is_symlink() => Err(symlink_error(path)),
        _ => Ok(()),
    }
}

/// Options that create a new private file and never follow a link at its path.
pub fn create_new_private() -> OpenOptions {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600).custom_flags(libc::O_NOFOLLOW);
    }
    options
}

/// Reads a file that must not be a symbolic link; `None` when it does not exist.
pub fn read_to_string(path: &Path) -> io::Result<Option<String>> {
    refuse_symlink(path)?;
    match fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(error),
    }
}

/// Writes `bytes` to `path` atomically (a new private file, fsync, rename, fsync of the folder).
/// Refuses a `path` that is a symbolic link.
pub fn write(path: &Path, bytes: &[u8]) -> io::Result<()> {
    refuse_symlink(path)?;
    let temporary = with_suffix(path, ".tmp");
    let mut file = match create_new_private().open(&temporary) {
        Ok(file) => file,
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {
            // Left by a killed run, or planted: removing it removes a link itself, not its target.
            fs::remove_file(&temporary)?;
            create_new_private().open(&temporary)?
        }
        Err(error) => return Err(error),
    };
    let written = file.write_all(bytes).and_then(|()| file.sync_all());
    drop(file);
    if let Err(error) = written.and_then(|()| fs::rename(&temporary, path)) {
        let _ = fs::remove_file(&temporary);
        return Err(error);
    }
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        if let Ok(directory) = File::open(parent) {
            let _ = directory.sync_all();
        }
    }
    Ok(())
}

pub fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut text = path.as_os_str().to_os_string();
    text.push(suffix);
    PathBuf::from(text)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn a_file_written_over_a_readable_one_becomes_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plan.json");
        fs::write(&path, "old").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        write(&path, b"new").unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "new");
        assert_eq!(mode(&path), 0o600);
    }

    #[test]
    fn links_are_refused_and_a_planted_temp_link_is_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("authorized_keys");
        fs::write(&target, "keep me").unwrap();
        let path = dir.path().join("state.json");
        std::os::unix::fs::symlink(&target, &path).unwrap();
        let error = write(&path, b"{}").unwrap_err();
        assert!(error.to_string().contains("is a symbolic link"), "{error}");
        assert!(read_to_string(&path).is_err());
        fs::remove_file(&path).unwrap();
        std::os::unix::fs::symlink(&target, with_suffix(&path, ".tmp")).unwrap();
        write(&path, b"{}").unwrap();
        assert_eq!(fs::read_to_string(&target).unwrap(), "keep me", "the link's target is untouched");
        assert_eq!(fs::read_to_string(&path).unwrap(), "{}");
    }
}
