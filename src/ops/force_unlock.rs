//! `provision force-unlock LOCK_ID`: removes a lock its holder left (killed, or cut off before
//! its lease ran out). The id, printed in every "locked" error, must match the lock that is there,
//! so a lock taken since by a live run is never removed by mistake.

use anyhow::Result;

use super::{backend_error, load_state_only, state_backend, GlobalOptions};

pub async fn run(global: &GlobalOptions, id: &str) -> Result<u8> {
    let loaded = load_state_only(global)?;
    let backend = state_backend(&loaded)?;
    backend.force_unlock(id).await.map_err(backend_error)?;
    println!("Removed the lock `{id}` from `{}`; the next run can take it.", backend.location());
    Ok(0)
}
