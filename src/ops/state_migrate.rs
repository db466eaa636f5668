//! `provision state migrate --to PATH|s3://BUCKET/KEY [--create-bucket]`: moves the state to
//! another backend (a local file to S3 and back, or between buckets).
//!
//! Both sides are locked for the whole copy, so no run writes either meanwhile. The copy keeps
//! the lineage and serial (a saved plan stays valid for it), is read back and compared, and the
//! source is left as it was. A destination that holds another state with resources in it is never
//! overwritten. The stack file is not edited: the `[state]` to write is printed, like
//! `terraform init -migrate-state` leaves the backend block to the user.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Result};
use provision_core::stack::StateLocation;
use provision_core::state::{now_rfc3339, who, StateBackend, WrittenBy};

use super::{backend_error, backend_for, lock, state_backend, Loaded};

#[derive(Clone, Debug)]
pub struct MigrateOptions {
    pub to: StateLocation,
    /// Make the destination bucket (private, versioned, encrypted) if it does not exist.
    pub create_bucket: bool,
}

pub async fn run(loaded: &Loaded, options: &MigrateOptions, lock_timeout: Duration) -> Result<u8> {
    let stack = &loaded.stack;
    let mut to = options.to.clone();
    // Moving between buckets keeps the S3 settings of `[state]` (region, lease, KMS key).
    if let (StateLocation::S3(destination), StateLocation::S3(current)) = (&mut to, &stack.state) {
        destination.region = current.region.clone();
        destination.lock_ttl = current.lock_ttl;
        destination.kms_key = current.kms_key.clone();
    }
    if to.describe() == stack.state.describe() {
        bail!("the state is already at `{}`; nothing to migrate", to.describe());
    }
    let source = state_backend(loaded)?;
    let destination: Arc<dyn StateBackend> = match &to {
        StateLocation::S3(s3) => {
            let bucket = provision_aws::S3Backend::new(loaded.cloud.session().clone(), s3.clone());
            if !bucket.bucket_exists().await.map_err(backend_error)? {
                if !options.create_bucket {
                    bail!(
                        "the bucket `{}` does not exist\n\nhint: pass `--create-bucket` to make it private, versioned and encrypted, or make it yourself as docs/team-state.md shows",
                        s3.bucket
                    );
                }
                bucket.create_bucket().await.map_err(backend_error)?;
                println!(
                    "Created the bucket `{}`: public access blocked, versioning on, encrypted by default ({}).",
                    s3.bucket,
                    s3.kms_key.as_deref().map(|k| format!("aws:kms with `{k}`")).unwrap_or_else(|| "AES256".into())
                );
            }
            Arc::new(bucket)
        }
        StateLocation::Local(_) => backend_for(&to, &loaded.cloud),
    };

    let source_lock = lock(&source, "state migrate", lock_timeout).await?;
    let destination_lock = lock(&destination, "state migrate", lock_timeout).await?;
    let Some(stored) = source.read().await.map_err(backend_error)? else {
        destination_lock.release().await.map_err(backend_error)?;
        source_lock.release().await.map_err(backend_error)?;
        println!("There is no state at `{}` yet: nothing to copy.", source.location());
        print_edit(loaded, &to);
        return Ok(0);
    };
    if stored.state.stack != stack.name {
        bail!("the state `{}` belongs to stack `{}`, not `{}`", source.location(), stored.state.stack, stack.name);
    }
    let existing = destination.read().await.map_err(backend_error)?;
    if let Some(existing) = &existing {
        let theirs = &existing.state;
        let holds_resources = !theirs.resources.is_empty() || !theirs.deposed.is_empty();
        if theirs.lineage != stored.state.lineage && holds_resources {
            bail!(
                "`{}` already holds another state (stack `{}`, lineage {}, {} resources); refusing to overwrite it\n\nhint: choose another destination, or move that state away first",
                destination.location(),
                theirs.stack,
                theirs.lineage,
                theirs.resources.len()
            );
        }
        if theirs.lineage == stored.state.lineage && theirs.serial > stored.state.serial {
            bail!(
                "`{}` holds a newer version of this state (serial {} against {} here); refusing to go back\n\nhint: the destination is ahead: point `[state]` at it instead of copying over it",
                destination.location(),
                theirs.serial,
                stored.state.serial
            );
        }
    }

    let mut copy = stored.state.clone();
    copy.written_by = Some(WrittenBy { who: who(), operation: "state migrate".into(), time: now_rfc3339() });
    destination.write(&copy, existing.as_ref().map(|e| &e.version)).await.map_err(backend_error)?;
    let read_back = destination.read().await.map_err(backend_error)?;
    if read_back.as_ref().map(|r| &r.state) != Some(&copy) {
        bail!(
            "the copy at `{}` does not read back as written; the source `{}` was left as it was\n\nhint: check the destination and run the migration again",
            destination.location(),
            source.location()
        );
    }
    destination_lock.release().await.map_err(backend_error)?;
    source_lock.release().await.map_err(backend_error)?;

    println!(
        "Copied the state of `{}` (serial {}, {} resources) from `{}` to `{}`, and read it back: the copy is identical.",
        stack.name,
        copy.serial,
        copy.resources.len(),
        source.location(),
        destination.location()
    );
    print_edit(loaded, &to);
    println!(
        "\nThe old copy at `{}` was left as it was; delete it once the stack file points at the new one, so nobody applies from it.",
        source.location()
    );
    Ok(0)
}

/// The `[state]` table the stack file needs now.
fn print_edit(loaded: &Loaded, to: &StateLocation) {
    let mut table = String::from("[state]\n");
    match to {
        StateLocation::Local(path) => table.push_str(&format!("path = {}\n", toml_string(&path.display().to_string()))),
        StateLocation::S3(s3) => {
            table.push_str(&format!("s3 = {}\n", toml_string(&s3.url())));
            if let Some(region) = &s3.region {
                table.push_str(&format!("region = {}\n", toml_string(region)));
            }
            if s3.lock_ttl != provision_core::stack::DEFAULT_LOCK_TTL {
                table.push_str(&format!("lock_ttl = \"{}s\"\n", s3.lock_ttl.as_secs()));
            }
            if let Some(key) = &s3.kms_key {
                table.push_str(&format!("kms_key = {}\n", toml_string(key)));
            }
        }
    }
    println!(
        "\nNow point the stack file at it: in `{}`, replace `[state]` (if any) with\n",
        loaded.stack.path.display()
    );
    for line in table.lines() {
        println!("  {line}");
    }
}

fn toml_string(text: &str) -> String {
    toml::Value::String(text.to_string()).to_string()
}
