//! The state: what provision has made, as of its last completed action.
//!
//! It is the only memory provision has between runs, so it is written after every single resource
//! action (never only at the end), atomically, with the previous version kept as a backup. A resource
//! is recorded as `creating` with the id its create call will use *before* that call is made, so a
//! run killed mid-call leaves enough behind for the next run to find the resource instead of making
//! a second one.

mod local_store;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use local_store::{parse_state as local_store_parse, LocalStateStore, StateLock};

use crate::address::Address;
use crate::aws::network::Network;
use crate::value::JsonMap;

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
}

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
        }
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
