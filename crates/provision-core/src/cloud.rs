//! What the engine asks of the cloud beyond single resources: its drivers, where and who this run
//! is (region and account, pinned in the state), the network a stack lives in, and what is tagged
//! with a stack (for `state orphans` and `destroy --sweep`).
//!
//! The AWS crate implements it over the SDK; the core's tests over an in-memory cloud.

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::driver::{DriverError, DriverRegistry};
use crate::stack::NetworkSpec;

/// The `[network]` a stack lives in, as looked up.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Network {
    pub vpc_id: String,
    pub subnet_ids: Vec<String>,
}

/// Where a run's calls go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    pub region: String,
    pub account: String,
}

/// Something the cloud lists as tagged with a stack.
#[derive(Clone, Debug, PartialEq)]
pub struct TaggedResource {
    /// The ARN (or, for parts the cloud does not tag, another unique name).
    pub arn: String,
    pub tags: BTreeMap<String, String>,
}

#[async_trait]
pub trait Cloud: Send + Sync {
    fn drivers(&self) -> &DriverRegistry;

    /// The region this run is set for, from configuration (no call).
    async fn region(&self) -> Result<String, DriverError>;

    /// The region and the account the credentials belong to (one call).
    async fn identity(&self) -> Result<Identity, DriverError>;

    /// Looks up the stack's `[network]`.
    async fn network(&self, spec: &NetworkSpec) -> Result<Network, DriverError>;

    /// Everything tagged `provision:stack = stack`, plus the untaggable parts drivers name after the
    /// stack (origin access controls, task definition families).
    async fn tagged(&self, stack: &str) -> Result<Vec<TaggedResource>, DriverError>;

    /// Requests sent so far (every attempt counts), for `-v` and the benchmark.
    fn request_count(&self) -> u64 {
        0
    }

    /// Of those, retries (attempts after a call's first), and how many answers were throttling.
    fn retry_count(&self) -> (u64, u64) {
        (0, 0)
    }
}
