//! The state: what provision has made, as of its last completed action.
//!
//! It is the only memory provision has between runs, so it is written after every single resource
//! action (never only at the end). A resource is recorded as `creating` with the id its create call
//! will use *before* that call is made, so a run killed mid-call leaves enough behind for the next run
//! to find the resource instead of making a second one.
//!
//! The engine talks to storage through one small interface, [`StateBackend`]: read with a version,
//! write expecting that version, and a lease lock. [`LocalBackend`] keeps the state in a file; the AWS
//! crate adds S3. One [`StateWriter`] per run owns the backend and group-commits: actions that finish
//! while a write is in flight share the next one, and each waits only for the write holding its own
//! change.

mod backend;
mod local_backend;
mod lock;
pub mod ownership;
pub mod private_file;
pub mod secret_hash;
mod writer;

use std::collections::BTreeMap;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

pub use backend::{
    now_rfc3339, who, BackendError, HistoryEntry, Lease, LockInfo, StateBackend, Stored, Version, Written,
};
pub use local_backend::LocalBackend;
pub use lock::{acquire_lock, LockGuard, LockOptions};
pub use ownership::{ownership, Ownership};
pub use writer::{StateWriter, WriteFailed, WriteStats};

use crate::address::Address;
use crate::cloud::Network;
use crate::value::JsonMap;

/// The tag every taggable resource carries with the lineage of the state that made it. Adoption
/// after a kill, `state orphans` and `destroy --sweep` match it, not only the stack's name.
pub const LINEAGE_TAG: &str = "provision:lineage";

/// The state format this build writes, and the newest it reads.
pub const FORMAT_VERSION: u32 = 1;

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct State {
    pub version: u32,
    /// Identifies one state's history; a saved plan is only valid for the lineage it was made from.
    pub lineage: String,
    /// Grows by one on every write.
    pub serial: u64,
    pub stack: String,
    #[serde(default)]
    pub resources: BTreeMap<Address, ResourceState>,
    #[serde(default)]
    pub outputs: BTreeMap<String, serde_json::Value>,
    /// Old copies of resources being replaced create-before-destroy, until they are deleted.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub deposed: BTreeMap<Address, ResourceState>,
    /// The `[network]` as last looked up, so offline plans can resolve `${network.*}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<Network>,
    /// The region the resources live in; a run set for another region is refused. States written
    /// before this was recorded get it on their next write.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// The AWS account id the resources live in; a run in another account is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// Who wrote this version, for `state history`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub written_by: Option<WrittenBy>,
    /// When a preview environment may be removed (`apply --ttl`, RFC 3339 UTC): `sweep --expired`
    /// destroys it after that. Also tagged on what the apply makes (`provision:expires`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
}

/// Who wrote a version of the state, and doing what.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct WrittenBy {
    /// `user@host`; never credentials.
    pub who: String,
    pub operation: String,
    /// RFC 3339, UTC.
    pub time: String,
}

/// The tag that carries a preview environment's expiry on what it made.
pub const EXPIRES_TAG: &str = "provision:expires";

impl State {
    pub fn new(stack: &str) -> State {
        State {
            version: FORMAT_VERSION,
            lineage: uuid::Uuid::new_v4().to_string(),
            serial: 0,
            stack: stack.to_string(),
            resources: BTreeMap::new(),
            outputs: BTreeMap::new(),
            deposed: BTreeMap::new(),
            network: None,
            region: None,
            account: None,
            written_by: None,
            expires: None,
        }
    }

    /// Parses a state document; `origin` names it in errors. A newer format is refused, never read.
    pub fn parse(text: &str, origin: &str) -> Result<State> {
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

    /// The document as stored: pretty JSON with a final newline.
    pub fn to_document(&self) -> Vec<u8> {
        let mut bytes = serde_json::to_vec_pretty(self).unwrap_or_default();
        bytes.push(b'\n');
        bytes
    }

    /// The state's fields that say what exists, ignoring bookkeeping (serial, who wrote it).
    pub fn same_resources(&self, other: &State) -> bool {
        self.resources == other.resources
            && self.deposed == other.deposed
            && self.outputs == other.outputs
            && self.network == other.network
            && self.region == other.region
            && self.account == other.account
            && self.expires == other.expires
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ResourceState {
    #[serde(rename = "type")]
    pub type_name: String,
    /// The AWS identifier (bucket name, distribution id, ARN …).
    pub id: String,
    #[serde(default, skip_serializing_if = "ResourceStatus::is_created")]
    pub status: ResourceStatus,
    /// The inputs that were applied (secrets only as salted hashes).
    #[serde(default)]
    pub inputs: JsonMap,
    /// The attributes read back from AWS.
    #[serde(default)]
    pub attributes: JsonMap,
    #[serde(default)]
    pub dependencies: Vec<Address>,
    /// `protect = true` as last applied: destroying, replacing or removing it is refused until an
    /// apply turns it off.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub protect: bool,
}

#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ResourceStatus {
    #[default]
    Created,
    /// A create call was about to be made with `id` as its name or token; whether it completed is
    /// not known. The next refresh looks for it.
    Creating,
}

impl ResourceStatus {
    pub fn is_created(&self) -> bool {
        *self == ResourceStatus::Created
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newer_formats_are_refused() {
        let error =
            State::parse(r#"{"version": 99, "lineage": "x", "serial": 1, "stack": "a"}"#, "s.json").unwrap_err();
        assert!(error.to_string().contains("newer provision"), "{error}");
    }

    #[test]
    fn old_states_without_region_or_account_still_parse() {
        let state = State::parse(r#"{"version": 1, "lineage": "x", "serial": 3, "stack": "a"}"#, "s.json").unwrap();
        assert_eq!((state.region, state.account, state.serial), (None, None, 3));
    }
}
