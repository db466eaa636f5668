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
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Network {
    pub vpc_id: String,
    /// `${network.subnet_ids}`: one subnet per availability zone, the private ones where the VPC
    /// has both kinds (services, databases and caches go here).
    pub subnet_ids: Vec<String>,
    /// `${network.public_subnet_ids}`: one subnet per availability zone whose internet traffic
    /// goes to an internet gateway (internet-facing load balancers go here). Empty in states
    /// written before it was recorded: then the same as `subnet_ids`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub public_subnet_ids: Vec<String>,
    /// Where each subnet sends internet-bound traffic, by subnet id, as the route tables said
    /// when the network was looked up. Empty when not known.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub egress: BTreeMap<String, Egress>,
    /// The services the VPC has endpoints for, by their short names (`s3`, `ecr.api`, `ecr.dkr`,
    /// `logs`, `secretsmanager`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub endpoints: Vec<String>,
}

impl Network {
    /// `${network.public_subnet_ids}`.
    pub fn public_subnets(&self) -> &[String] {
        if self.public_subnet_ids.is_empty() {
            &self.subnet_ids
        } else {
            &self.public_subnet_ids
        }
    }
}

/// Where a subnet's internet-bound traffic (`0.0.0.0/0`) goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Egress {
    /// A NAT gateway: anything in the subnet reaches the internet.
    NatGateway,
    /// An internet gateway: only what has a public IP reaches the internet.
    InternetGateway,
    /// Something else (a transit gateway, a firewall, a peering): it may or may not get out.
    Other,
    /// Nowhere: only the VPC and its endpoints are reachable.
    Nowhere,
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
