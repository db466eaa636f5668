//! The local side of `upload`: which files a folder holds and what they contain.
//!
//! It runs offline at plan time, so a plan can say whether the bucket's content must change (and a
//! CloudFront distribution in front of it must be invalidated) without asking S3. Its MD5 values are
//! what S3 reports as the ETag of an object written by a single PutObject, which is what lets a
//! refresh compare the bucket with the folder key by key.

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

/// Every file under `folder` (following symbolic links), keyed as its object will be.
pub(super) fn scan(folder: &Path) -> Result<Manifest, DriverError> {
    let mut manifest = Manifest::new();
    for entry in WalkDir::new(folder).follow_links(true) {
        let entry = entry.map_err(|error| {
            DriverError::invalid(format!("cannot read the `upload` folder `{}`: {error}", folder.display()))
        })?;
        if entry.file_type().is_dir() {
            continue;
        }
        let key = object_key(folder, entry.path())?;
        let md5 = md5_hex(entry.path())
            .map_err(|error| DriverError::invalid(format!("cannot read `{}`: {error}", entry.path().display())))?;
        manifest.insert(key, md5);
    }
    Ok(manifest)
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
    io::copy(&mut File::open(path)?, &mut hasher)?;
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
