//! The local side of `upload`: which files a folder holds and what they contain.
//!
//! It runs offline at plan time, so a plan can say whether the bucket's content must change (and a
//! CloudFront distribution in front of it must be invalidated) without asking S3. Its MD5 values are
//! what S3 reports as the ETag of an object written by a single PutObject, which is what lets a
//! refresh compare the bucket with the folder key by key.
//!
//! Only regular files inside the folder are sent: the folder often goes to a public CDN, and a
//! symbolic link left in it (`.env` → `~/.aws/credentials`) must not publish what it points at. A link
//! is followed only while its target stays inside the folder; one that leaves it is an error naming
//! it. Fifos, sockets and devices are skipped with a warning and never opened (opening a fifo waits
//! for a writer, for ever).

use std::collections::BTreeMap;
use std::fs::File;
use std::io;
use std::path::Path;

use md5::{Digest, Md5};
use sha2::Sha256;
use walkdir::WalkDir;

use crate::drivers::DriverError;

/// Object key (relative path with `/` separators) → MD5 hex of the content.
pub(super) type Manifest = BTreeMap<String, String>;

/// Every regular file under `folder`, keyed as its object will be. Symbolic links are followed
/// only to targets inside the folder.
pub(super) fn scan(folder: &Path) -> Result<Manifest, DriverError> {
    let unreadable = |error: &dyn std::fmt::Display| {
        DriverError::invalid(format!("cannot read the `upload` folder `{}`: {error}", folder.display()))
    };
    let root = folder.canonicalize().map_err(|error| unreadable(&error))?;
    let mut manifest = Manifest::new();
    for entry in WalkDir::new(folder).follow_links(true) {
        let entry = entry.map_err(|error| unreadable(&error))?;
        let path = entry.path();
        // Where the entry really is, once every link on its way is followed.
        let real = path.canonicalize().map_err(|error| unreadable(&error))?;
        if !real.starts_with(&root) {
            let relative = path.strip_prefix(folder).unwrap_or(path);
            return Err(DriverError::invalid(format!(
                "`upload`: `{}` in `{}` is a symbolic link to `{}`, outside the folder",
                relative.display(),
                folder.display(),
                real.display()
            ))
            .with_hint(
                "only files inside the `upload` folder are uploaded; remove the link or copy the file into the folder",
            ));
        }
        let kind = entry.file_type();
        if kind.is_dir() {
            continue;
        }
        if !kind.is_file() {
            tracing::warn!(
                "`upload`: skipped `{}`, which is not a regular file (a fifo, socket or device)",
                path.display()
            );
            continue;
        }
        let key = object_key(folder, path)?;
        let md5 = md5_hex(path)
            .map_err(|error| DriverError::invalid(format!("cannot read `{}`: {error}", path.display())))?;
        manifest.insert(key, md5);
    }
    Ok(manifest)
}

/// Opens a file that must be a regular one, without waiting on a fifo swapped in for it.
pub(super) fn open_regular(path: &Path) -> io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK);
    }
    let file = options.open(path)?;
    if !file.metadata()?.is_file() {
        return Err(io::Error::other(format!("`{}` is not a regular file", path.display())));
    }
    Ok(file)
}

/// Where a literal `upload` path would lead, checked offline: an absolute path, or one that `..`
/// takes out of the stack's folder, is refused.
pub(super) fn check_upload_path(upload: &str) -> Result<(), String> {
    use std::path::Component;
    let mut depth: usize = 0;
    for component in Path::new(upload).components() {
        match component {
            Component::RootDir | Component::Prefix(_) => {
                return Err(format!(
                    "`{upload}` is an absolute path; `upload` names a folder inside the stack's folder (relative to the stack file)"
                ))
            }
            Component::ParentDir => match depth.checked_sub(1) {
                Some(up) => depth = up,
                None => {
                    return Err(format!(
                        "`{upload}` leaves the stack's folder through `..`; `upload` names a folder inside it"
                    ))
                }
            },
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
        }
    }
    Ok(())
}

fn object_key(folder: &Path, path: &Path) -> Result<String, DriverError> {
    let relative = path.strip_prefix(folder).unwrap_or(path);
    let parts: Option<Vec<&str>> = relative.components().map(|part| part.as_os_str().to_str()).collect();
    parts.map(|parts| parts.join("/")).ok_or_else(|| {
        DriverError::invalid(format!("the file name `{}` is not valid UTF-8", path.display()))
            .with_hint("S3 object keys are UTF-8; rename the file")
    })
}

fn md5_hex(path: &Path) -> io::Result<String> {
    let mut hasher = Md5::new();
    io::copy(&mut open_regular(path)?, &mut hasher)?;
    Ok(hex::encode(hasher.finalize()))
}

/// One hash over all `key=md5` pairs, sorted by key, so that it changes exactly when a file is
/// added, removed, renamed or edited, and never because of listing order.
pub(super) fn content_hash<'a>(files: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut lines: Vec<(&str, &str)> = files.into_iter().collect();
    lines.sort_unstable();
    let mut hasher = Sha256::new();
    for (key, md5) in lines {
        hasher.update(key.as_bytes());
        hasher.update(b"=");
        hasher.update(md5.as_bytes());
        hasher.update(b"\n");
    }
    hex::encode(hasher.finalize())
}

/// The `Content-Type` a browser needs to render the file, guessed from its extension.
pub(super) fn content_type(key: &str) -> String {
    mime_guess::from_path(key).first_or_octet_stream().essence_str().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_keys_nested_files_with_slashes_and_md5() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("assets/img")).expect("mkdir");
        std::fs::write(dir.path().join("index.html"), "hello").expect("write");
        std::fs::write(dir.path().join("assets/img/logo.svg"), "").expect("write");
        std::fs::create_dir_all(dir.path().join("empty")).expect("mkdir");

        let manifest = scan(dir.path()).expect("scan");

        let expected: Manifest = [
            ("assets/img/logo.svg", "d41d8cd98f00b204e9800998ecf8427e"),
            ("index.html", "5d41402abc4b2a76b9719d911017c592"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(manifest, expected);
    }

    #[cfg(unix)]
    #[test]
    fn links_out_of_the_folder_are_refused_and_fifos_skipped_without_waiting() {
        let outside = tempfile::tempdir().expect("tempdir");
        std::fs::write(outside.path().join("secrets.env"), "AWS_SECRET=x").expect("write");
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("index.html"), "hello").expect("write");
        std::fs::write(dir.path().join("real.css"), "body{}").expect("write");
        std::os::unix::fs::symlink(dir.path().join("real.css"), dir.path().join("alias.css")).expect("link");
        let fifo = std::ffi::CString::new(dir.path().join("pipe").to_str().unwrap()).unwrap();
        // SAFETY: mkfifo only reads the path it is given.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
        let manifest = scan(dir.path()).expect("a link inside the folder is fine, the fifo is skipped");
        assert_eq!(manifest.keys().cloned().collect::<Vec<_>>(), ["alias.css", "index.html", "real.css"]);

        std::os::unix::fs::symlink(outside.path().join("secrets.env"), dir.path().join(".env")).expect("link");
        let error = scan(dir.path()).unwrap_err().to_string();
        assert!(error.contains("`.env`") && error.contains("outside the folder"), "{error}");
        std::fs::remove_file(dir.path().join(".env")).unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("ssl")).expect("link");
        let error = scan(dir.path()).unwrap_err().to_string();
        assert!(error.contains("`ssl`") && error.contains("outside the folder"), "{error}");
    }

    #[test]
    fn upload_paths_stay_in_the_stack_folder() {
        for good in ["site", "./site", "web/dist", "a/../b"] {
            assert_eq!(check_upload_path(good), Ok(()), "{good}");
        }
        for bad in ["/etc/ssl", "/etc/hostname", "..", "../site", "a/../../b"] {
            assert!(check_upload_path(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn content_hash_ignores_order_and_follows_every_change() {
        let base = content_hash([("a.html", "11"), ("b/c.css", "22")]);
        assert_eq!(base, content_hash([("b/c.css", "22"), ("a.html", "11")]));
        assert_eq!(base.len(), 64);
        assert_ne!(base, content_hash([("a.html", "11"), ("b/c.css", "23")]), "edited file");
        assert_ne!(base, content_hash([("a.html", "11")]), "removed file");
        assert_ne!(base, content_hash([("a.htm", "11"), ("b/c.css", "22")]), "renamed file");
        assert_ne!(base, content_hash([("a.html", "11"), ("b/c.css", "22"), ("d", "33")]), "added file");
    }

    #[test]
    fn content_type_by_extension() {
        assert_eq!(content_type("index.html"), "text/html");
        assert_eq!(content_type("css/site.css"), "text/css");
        assert!(content_type("app.js").ends_with("javascript"), "{}", content_type("app.js"));
        assert_eq!(content_type("img/logo.svg"), "image/svg+xml");
        assert_eq!(content_type("data.json"), "application/json");
        assert_eq!(content_type("LICENSE"), "application/octet-stream");
    }
}
