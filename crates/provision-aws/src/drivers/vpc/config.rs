//! A `vpc`'s inputs as a typed value, the offline checks, the endpoint catalogue and the address
//! plan of its subnets.
//!
//! The subnets are cut from the VPC's range in sixteenths: private subnet `i` takes block `i`,
//! public subnet `i` block `8 + i` (a `/16` gives `/20`s of 4,096 addresses). The plan depends
//! only on the range and the index, so adding an availability zone later never moves a subnet
//! that exists; a block someone else took is skipped.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use serde::Deserialize;
use serde_json::Value as Json;

use crate::drivers::{DriverError, Problem};
use provision_core::value::{JsonMap, Value};

pub(super) const NAT_OPTIONS: &[&str] = &["single", "per_az", "none"];
pub(super) const MIN_AZS: i64 = 2;
pub(super) const MAX_AZS: i64 = 6;
/// A VPC's range may be a `/16` to a `/24`: its subnets, a sixteenth each, are then `/20` to `/28`
/// (AWS's smallest subnet).
const PREFIXES: std::ops::RangeInclusive<u8> = 16..=24;
/// How many blocks the range is cut into, and where the public subnets start.
const BLOCKS: u32 = 16;
const FIRST_PUBLIC_BLOCK: u32 = 8;

/// One kind of endpoint a stack may ask for.
#[derive(Debug)]
pub(crate) struct EndpointKind {
    /// The name in the stack file's `endpoints`.
    pub name: &'static str,
    /// The AWS services it stands for, by their short names (`com.amazonaws.REGION.` left out).
    pub services: &'static [&'static str],
    /// A gateway endpoint (a route, free) rather than an interface endpoint (an address in each
    /// private subnet, charged by the hour).
    pub gateway: bool,
}

pub(crate) const ENDPOINTS: &[EndpointKind] = &[
    EndpointKind { name: "s3", services: &["s3"], gateway: true },
    EndpointKind { name: "dynamodb", services: &["dynamodb"], gateway: true },
    EndpointKind { name: "ecr", services: &["ecr.api", "ecr.dkr"], gateway: false },
    EndpointKind { name: "logs", services: &["logs"], gateway: false },
    EndpointKind { name: "secretsmanager", services: &["secretsmanager"], gateway: false },
    EndpointKind { name: "ssm", services: &["ssm"], gateway: false },
    EndpointKind { name: "sts", services: &["sts"], gateway: false },
    EndpointKind { name: "kms", services: &["kms"], gateway: false },
];

/// The names of [`ENDPOINTS`], for the field's descriptor.
pub(super) const ENDPOINT_NAMES: &[&str] = &["s3", "dynamodb", "ecr", "logs", "secretsmanager", "ssm", "sts", "kms"];

pub(crate) fn endpoint_kind(name: &str) -> Option<&'static EndpointKind> {
    ENDPOINTS.iter().find(|kind| kind.name == name)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Nat {
    Single,
    PerZone,
    None,
}

impl Nat {
    fn parse(text: &str) -> Nat {
        match text {
            "per_az" => Nat::PerZone,
            "none" => Nat::None,
            _ => Nat::Single,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Nat::Single => "single",
            Nat::PerZone => "per_az",
            Nat::None => "none",
        }
    }
}

/// The inputs of one VPC, as the planner resolved them (or as the state recorded them).
#[derive(Clone, Debug)]
pub(super) struct VpcConfig {
    pub name: String,
    pub cidr: String,
    pub azs: usize,
    pub nat: Nat,
    /// Stack-file names (`s3`, `ecr` …), sorted.
    pub endpoints: Vec<String>,
}

#[derive(Deserialize)]
#[serde(default)]
struct Raw {
    name: String,
    cidr: String,
    azs: i64,
    nat: String,
    endpoints: Vec<String>,
}

impl Default for Raw {
    fn default() -> Raw {
        Raw {
            name: String::new(),
            cidr: "10.0.0.0/16".into(),
            azs: 2,
            nat: "single".into(),
            endpoints: vec!["s3".into()],
        }
    }
}

impl VpcConfig {
    pub fn from_inputs(inputs: &JsonMap) -> Result<VpcConfig, DriverError> {
        let raw: Raw = serde_json::from_value(provision_core::value::without_nulls(&Json::Object(inputs.clone())))
            .map_err(|error| DriverError::invalid(format!("invalid `vpc` inputs: {error}")))?;
        let mut endpoints = raw.endpoints;
        endpoints.sort();
        endpoints.dedup();
        Ok(VpcConfig {
            name: raw.name,
            cidr: raw.cidr,
            azs: raw.azs.clamp(1, MAX_AZS) as usize,
            nat: Nat::parse(&raw.nat),
            endpoints,
        })
    }

    /// The zone indexes that have a NAT gateway, and the one each private route table uses.
    pub fn nat_indexes(&self) -> Vec<usize> {
        match self.nat {
            Nat::Single => vec![0],
            Nat::PerZone => (0..self.azs).collect(),
            Nat::None => Vec::new(),
        }
    }

    pub fn nat_for(&self, zone: usize) -> Option<usize> {
        match self.nat {
            Nat::Single => Some(0),
            Nat::PerZone => Some(zone),
            Nat::None => None,
        }
    }

    /// Every AWS service short name the endpoints stand for, with whether it is a gateway.
    pub fn endpoint_services(&self) -> Vec<(&'static str, bool)> {
        self.endpoints
            .iter()
            .filter_map(|name| endpoint_kind(name))
            .flat_map(|kind| kind.services.iter().map(move |service| (*service, kind.gateway)))
            .collect()
    }

    pub fn has_interface_endpoints(&self) -> bool {
        self.endpoint_services().iter().any(|(_, gateway)| !gateway)
    }
}

/// Checks on the stack file's values (references unknown), and again once resolved.
pub(super) fn check(inputs: &BTreeMap<String, Value>) -> Vec<Problem> {
    let mut problems = Vec::new();
    if let Some(Value::Str(cidr)) = inputs.get("cidr") {
        if let Err(message) = parse_range(cidr) {
            problems.push(
                Problem::error("cidr", message)
                    .hint("use a private range such as `\"10.0.0.0/16\"` (a `/16` to a `/24`)"),
            );
        }
    }
    if let Some(Value::Int(azs)) = inputs.get("azs") {
        if !(MIN_AZS..=MAX_AZS).contains(azs) {
            problems.push(
                Problem::error("azs", format!("{azs} availability zones: a network has {MIN_AZS} to {MAX_AZS}"))
                    .hint("load balancers and Multi-AZ databases need at least 2 zones; `azs = 2` is the usual"),
            );
        }
    }
    if let Some(Value::List(items)) = inputs.get("endpoints") {
        for item in items {
            let Value::Str(name) = item else { continue };
            if endpoint_kind(name).is_none() {
                let known: Vec<String> = ENDPOINTS.iter().map(|kind| format!("`\"{}\"`", kind.name)).collect();
                problems.push(
                    Problem::error("endpoints", format!("`\"{name}\"` is not an endpoint provision makes"))
                        .hint(format!("use {}", known.join(", "))),
                );
            }
        }
    }
    problems
}

/// An IPv4 range `a.b.c.d/n`: its first address and prefix length, checked.
pub(super) fn parse_range(cidr: &str) -> Result<(u32, u8), String> {
    let invalid = || format!("`{cidr}` is not an IPv4 range like `10.0.0.0/16`");
    let (address, prefix) = cidr.split_once('/').ok_or_else(invalid)?;
    let address: Ipv4Addr = address.parse().map_err(|_| invalid())?;
    let prefix: u8 = prefix.parse().map_err(|_| invalid())?;
    if !PREFIXES.contains(&prefix) {
        return Err(format!(
            "`{cidr}`: a VPC's range must be a /{} to a /{} (AWS allows /16 to /28, and provision cuts it into 16 subnets)",
            PREFIXES.start(),
            PREFIXES.end()
        ));
    }
    let start = u32::from(address);
    let mask = u32::MAX << (32 - prefix);
    if start & !mask != 0 {
        let network = Ipv4Addr::from(start & mask);
        return Err(format!("`{cidr}` has host bits set; the range starts at `{network}/{prefix}`"));
    }
    Ok((start, prefix))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Role {
    Public,
    Private,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Public => "public",
            Role::Private => "private",
        }
    }
}

/// The range of the subnet with this role and zone index: its own block of the VPC's range, or
/// the first free one when another subnet (not made by provision) overlaps it.
pub(super) fn subnet_range(vpc_cidr: &str, role: Role, index: usize, taken: &[String]) -> Result<String, DriverError> {
    let (start, prefix) = parse_range(vpc_cidr).map_err(DriverError::invalid)?;
    let size = 1u32 << (32 - u32::from(prefix) - 4);
    let block = |n: u32| format!("{}/{}", Ipv4Addr::from(start + n * size), prefix + 4);
    let overlaps = |candidate: &str| taken.iter().any(|other| ranges_overlap(candidate, other));
    let preferred = match role {
        Role::Private => index as u32,
        Role::Public => FIRST_PUBLIC_BLOCK + index as u32,
    };
    std::iter::once(preferred)
        .chain(0..BLOCKS)
        .map(block)
        .find(|candidate| !overlaps(candidate))
        .ok_or_else(|| DriverError::invalid(format!("no free address range left in `{vpc_cidr}` for another subnet")))
}

fn ranges_overlap(a: &str, b: &str) -> bool {
    let bounds = |cidr: &str| -> Option<(u32, u32)> {
        let (address, prefix) = cidr.split_once('/')?;
        let start = u32::from(address.parse::<Ipv4Addr>().ok()?);
        let prefix: u32 = prefix.parse().ok()?;
        let size = if prefix == 0 { u32::MAX } else { (1u32 << (32 - prefix)) - 1 };
        Some((start, start.saturating_add(size)))
    };
    match (bounds(a), bounds(b)) {
        (Some((a_start, a_end)), Some((b_start, b_end))) => a_start <= b_end && b_start <= a_end,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(pairs: &[(&str, Value)]) -> BTreeMap<String, Value> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
    }

    #[test]
    fn ranges_must_be_a_16_to_a_24_without_host_bits() {
        assert_eq!(parse_range("10.0.0.0/16"), Ok((u32::from(Ipv4Addr::new(10, 0, 0, 0)), 16)));
        assert!(parse_range("10.0.0.0/8").unwrap_err().contains("/16 to a /24"));
        assert!(parse_range("10.0.1.0/16").unwrap_err().contains("starts at `10.0.0.0/16`"));
        assert!(parse_range("ten/16").is_err());
    }

    #[test]
    fn subnets_take_their_own_sixteenth_and_skip_a_taken_one() {
        assert_eq!(subnet_range("10.0.0.0/16", Role::Private, 0, &[]).unwrap(), "10.0.0.0/20");
        assert_eq!(subnet_range("10.0.0.0/16", Role::Private, 1, &[]).unwrap(), "10.0.16.0/20");
        assert_eq!(subnet_range("10.0.0.0/16", Role::Public, 0, &[]).unwrap(), "10.0.128.0/20");
        assert_eq!(subnet_range("10.1.0.0/24", Role::Public, 1, &[]).unwrap(), "10.1.0.144/28");
        let taken = vec!["10.0.128.0/24".to_string()];
        assert_eq!(subnet_range("10.0.0.0/16", Role::Public, 0, &taken).unwrap(), "10.0.0.0/20");
    }

    #[test]
    fn the_checks_name_the_field_and_what_is_allowed() {
        let problems = check(&values(&[
            ("cidr", Value::Str("10.0.0.0/8".into())),
            ("azs", Value::Int(7)),
            ("endpoints", Value::List(vec![Value::Str("ecr".into()), Value::Str("docker".into())])),
        ]));
        let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(fields, vec!["cidr", "azs", "endpoints"]);
        assert!(problems[2].message.contains("`\"docker\"`"), "{:?}", problems[2]);
        assert!(check(&values(&[("azs", Value::Int(2)), ("cidr", Value::Str("10.0.0.0/16".into()))])).is_empty());
    }

    #[test]
    fn the_descriptor_names_every_endpoint_provision_makes() {
        let names: Vec<&str> = ENDPOINTS.iter().map(|kind| kind.name).collect();
        assert_eq!(names, ENDPOINT_NAMES);
    }

    #[test]
    fn nat_gateways_follow_the_setting() {
        let config = |nat: &str, azs: i64| {
            let inputs = serde_json::json!({ "nat": nat, "azs": azs }).as_object().cloned().unwrap();
            VpcConfig::from_inputs(&inputs).unwrap()
        };
        assert_eq!(config("single", 3).nat_indexes(), vec![0]);
        assert_eq!(config("single", 3).nat_for(2), Some(0));
        assert_eq!(config("per_az", 3).nat_indexes(), vec![0, 1, 2]);
        assert_eq!(config("per_az", 3).nat_for(2), Some(2));
        assert_eq!(config("none", 3).nat_for(1), None);
    }
}
