//! The creates of a VPC's parts that take no client token: `CreateVpc`, `CreateInternetGateway`,
//! `CreateSubnet`, `AllocateAddress`, and `CreateSecurityGroup` for the interface endpoints' group
//! (EC2's "Ensuring idempotency in Amazon EC2 API requests" lists the actions that take one;
//! `CreateRouteTable`, `CreateNatGateway` and `CreateVpcEndpoint` do, and send it).
//!
//! The SDK's retry of such a create whose answer was lost (`any.response-lost`) makes a second
//! internet gateway or address, or fails on the first one's subnet range or group name. So each is
//! sent with the SDK's retry off, and after a failure that may have been a lost answer the part is
//! looked for by the tags the create gave it — the VPC by its token, every other part by its VPC
//! and role (`layout.rs`) — and adopted, or else made again ([`adopt::create_once`]). A part that
//! is still made twice (AWS's tag-filtered reads lagging behind its create) is an extra of ours the
//! survey finds, and the same apply removes (`survey::unwanted`).

use aws_sdk_ec2::config::retry::RetryConfig;
use aws_sdk_ec2::types::{DomainType, Filter, Tag, TagSpecification};

use super::converge::Work;
use super::layout::{PART_TAG, TOKEN_TAG, VPC_TAG};
use crate::behaviours::adopt;
use crate::behaviours::ec2::PART_ALREADY_MADE;
use crate::drivers::DriverError;

/// One call without the SDK's retry: [`adopt::create_once`] retries, looking first.
fn once() -> aws_sdk_ec2::config::Builder {
    aws_sdk_ec2::config::Builder::new().retry_config(RetryConfig::disabled())
}

fn filter(name: &str, value: &str) -> Filter {
    Filter::builder().name(name).values(value).build()
}

/// Whether `tags` carry `key = value` (checked again here: a filter the emulator ignores would
/// answer every part).
fn carries(tags: &[Tag], key: &str, value: &str) -> bool {
    tags.iter().any(|tag| tag.key() == Some(key) && tag.value() == Some(value))
}

/// Whether `tags` name the part `part` of the VPC `vpc_id`.
fn is_part(tags: &[Tag], vpc_id: &str, part: &str) -> bool {
    carries(tags, VPC_TAG, vpc_id) && carries(tags, PART_TAG, part)
}

/// The VPC, tagged with `token`; a lost answer's VPC is found by it.
pub(super) async fn vpc(
    work: &Work<'_>,
    cidr: &str,
    tagging: TagSpecification,
    token: &str,
) -> Result<String, DriverError> {
    adopt::create_once(
        "CreateVpc",
        &[],
        || async {
            work.ec2
                .create_vpc()
                .cidr_block(cidr)
                .tag_specifications(tagging.clone())
                .customize()
                .config_override(once())
                .send()
                .await
                .map(|created| created.vpc().and_then(|v| v.vpc_id()).unwrap_or_default().to_string())
        },
        || async {
            let answer = work
                .ec2
                .describe_vpcs()
                .filters(filter(&format!("tag:{TOKEN_TAG}"), token))
                .send()
                .await
                .map_err(|error| crate::aws_error("DescribeVpcs", error))?;
            Ok(answer
                .vpcs()
                .iter()
                .find(|vpc| carries(vpc.tags(), TOKEN_TAG, token))
                .and_then(|vpc| vpc.vpc_id())
                .map(str::to_string))
        },
    )
    .await
}

/// The VPC's internet gateway (not attached yet).
pub(super) async fn gateway(work: &Work<'_>, vpc_id: &str, tagging: TagSpecification) -> Result<String, DriverError> {
    const PART: &str = "internet-gateway";
    adopt::create_once(
        "CreateInternetGateway",
        &[],
        || async {
            work.ec2
                .create_internet_gateway()
                .tag_specifications(tagging.clone())
                .customize()
                .config_override(once())
                .send()
                .await
                .map(|created| {
                    created.internet_gateway().and_then(|g| g.internet_gateway_id()).unwrap_or_default().to_string()
                })
        },
        || async {
            let answer = work
                .ec2
                .describe_internet_gateways()
                .filters(filter(&format!("tag:{VPC_TAG}"), vpc_id))
                .filters(filter(&format!("tag:{PART_TAG}"), PART))
                .send()
                .await
                .map_err(|error| crate::aws_error("DescribeInternetGateways", error))?;
            Ok(answer
                .internet_gateways()
                .iter()
                .find(|g| is_part(g.tags(), vpc_id, PART))
                .and_then(|g| g.internet_gateway_id())
                .map(str::to_string))
        },
    )
    .await
}

/// A subnet of the VPC in `zone` with the range `cidr`, playing `part` (`public-subnet-0` …).
pub(super) async fn subnet(
    work: &Work<'_>,
    vpc_id: &str,
    (cidr, zone): (&str, &str),
    part: &str,
    tagging: &TagSpecification,
) -> Result<String, DriverError> {
    adopt::create_once(
        "CreateSubnet",
        &[PART_ALREADY_MADE],
        || async {
            work.ec2
                .create_subnet()
                .vpc_id(vpc_id)
                .cidr_block(cidr)
                .availability_zone(zone)
                .tag_specifications(tagging.clone())
                .customize()
                .config_override(once())
                .send()
                .await
                .map(|created| created.subnet().and_then(|s| s.subnet_id()).unwrap_or_default().to_string())
        },
        || async {
            let answer = work
                .ec2
                .describe_subnets()
                .filters(filter("vpc-id", vpc_id))
                .filters(filter(&format!("tag:{PART_TAG}"), part))
                .send()
                .await
                .map_err(|error| crate::aws_error("DescribeSubnets", error))?;
            Ok(answer
                .subnets()
                .iter()
                .find(|s| is_part(s.tags(), vpc_id, part))
                .and_then(|s| s.subnet_id())
                .map(str::to_string))
        },
    )
    .await
}

/// An Elastic IP address for the NAT gateway of a zone, playing `part` (`nat-address-0` …).
pub(super) async fn address(
    work: &Work<'_>,
    vpc_id: &str,
    part: &str,
    tagging: TagSpecification,
) -> Result<String, DriverError> {
    adopt::create_once(
        "AllocateAddress",
        &[],
        || async {
            work.ec2
                .allocate_address()
                .domain(DomainType::Vpc)
                .tag_specifications(tagging.clone())
                .customize()
                .config_override(once())
                .send()
                .await
                .map(|allocated| allocated.allocation_id().unwrap_or_default().to_string())
        },
        || async {
            let answer = work
                .ec2
                .describe_addresses()
                .filters(filter(&format!("tag:{VPC_TAG}"), vpc_id))
                .filters(filter(&format!("tag:{PART_TAG}"), part))
                .send()
                .await
                .map_err(|error| crate::aws_error("DescribeAddresses", error))?;
            Ok(answer
                .addresses()
                .iter()
                .find(|a| is_part(a.tags(), vpc_id, part))
                .and_then(|a| a.allocation_id())
                .map(str::to_string))
        },
    )
    .await
}

/// The interface endpoints' security group, named `name`. A group of that name in the VPC that is
/// not this part of ours is refused as EC2 refuses it (`InvalidGroup.Duplicate`).
pub(super) async fn group(
    work: &Work<'_>,
    vpc_id: &str,
    name: &str,
    part: &str,
    tagging: TagSpecification,
) -> Result<String, DriverError> {
    adopt::create_once(
        "CreateSecurityGroup",
        &[PART_ALREADY_MADE],
        || async {
            work.ec2
                .create_security_group()
                .group_name(name)
                .description("HTTPS from the VPC to its interface endpoints (managed by provision)")
                .vpc_id(vpc_id)
                .tag_specifications(tagging.clone())
                .customize()
                .config_override(once())
                .send()
                .await
                .map(|created| created.group_id().unwrap_or_default().to_string())
        },
        || async {
            let answer = work
                .ec2
                .describe_security_groups()
                .filters(filter("vpc-id", vpc_id))
                .filters(filter(&format!("tag:{PART_TAG}"), part))
                .send()
                .await
                .map_err(|error| crate::aws_error("DescribeSecurityGroups", error))?;
            Ok(answer
                .security_groups()
                .iter()
                .find(|g| is_part(g.tags(), vpc_id, part))
                .and_then(|g| g.group_id())
                .map(str::to_string))
        },
    )
    .await
}
