//! Reading VPCs back: every part of every VPC the state holds, in nine calls sent at once
//! whatever the number of VPCs (each filters by all their ids), then sorted out per VPC.
//!
//! What the stack file says (`cidr`, the `Name` tag, the tags) is read from the VPC itself. The
//! shape (`azs`, `nat`, `endpoints`) is reported as applied, and how the parts differ from that
//! shape — a NAT gateway someone deleted, the parts a killed create never made — as the hidden
//! input `repairs` (see `survey.rs`), which the stack always wants empty. A VPC read with no
//! recorded inputs (`import --generate`) reports the shape its parts have.

use std::collections::BTreeMap;

use aws_sdk_ec2::types::Filter;
use aws_sdk_ec2::Client;
use serde_json::{json, Value as Json};

use super::config::{Role, VpcConfig, ENDPOINTS};
use super::layout::{Found, Layout, PART_TAG, VPC_TAG};
use super::survey;
use crate::drivers::tags::user_tags;
use crate::drivers::{DriverError, Observed};
use provision_core::value::JsonMap;

/// The hidden input listing what an apply would fix.
pub(super) const REPAIRS: &str = "repairs";

fn filter(name: &str, values: &[&str]) -> Filter {
    Filter::builder().name(name).set_values(Some(values.iter().map(|v| v.to_string()).collect())).build()
}

macro_rules! all_pages {
    ($request:expr, $operation:literal) => {
        async {
            $request
                .into_paginator()
                .items()
                .send()
                .collect::<Result<Vec<_>, _>>()
                .await
                .map_err(|error| crate::aws_error($operation, error))
        }
    };
}

/// Everything found for these VPCs, by VPC id; a VPC that does not exist has no `vpc`.
pub(super) async fn find(ec2: &Client, ids: &[&str]) -> Result<BTreeMap<String, Found>, DriverError> {
    let in_vpcs = || filter("vpc-id", ids);
    let tagged = || filter(&format!("tag:{VPC_TAG}"), ids);
    let vpcs = async {
        ec2.describe_vpcs()
            .filters(in_vpcs())
            .send()
            .await
            .map(|answer| answer.vpcs.unwrap_or_default())
            .map_err(|error| crate::aws_error("DescribeVpcs", error))
    };
    let addresses = async {
        ec2.describe_addresses()
            .filters(tagged())
            .send()
            .await
            .map(|answer| answer.addresses.unwrap_or_default())
            .map_err(|error| crate::aws_error("DescribeAddresses", error))
    };
    let (vpcs, attached, tagged_gateways, subnets, tables, nats, addresses, endpoints, groups) = futures::join!(
        vpcs,
        all_pages!(
            ec2.describe_internet_gateways().filters(filter("attachment.vpc-id", ids)),
            "DescribeInternetGateways"
        ),
        all_pages!(ec2.describe_internet_gateways().filters(tagged()), "DescribeInternetGateways"),
        all_pages!(ec2.describe_subnets().filters(in_vpcs()), "DescribeSubnets"),
        all_pages!(ec2.describe_route_tables().filters(in_vpcs()), "DescribeRouteTables"),
        all_pages!(ec2.describe_nat_gateways().filter(in_vpcs()), "DescribeNatGateways"),
        addresses,
        all_pages!(ec2.describe_vpc_endpoints().filters(in_vpcs()), "DescribeVpcEndpoints"),
        all_pages!(
            ec2.describe_security_groups()
                .filters(in_vpcs())
                .filters(filter(&format!("tag:{PART_TAG}"), &["endpoints-security-group"])),
            "DescribeSecurityGroups"
        ),
    );
    let mut found: BTreeMap<String, Found> = ids.iter().map(|id| (id.to_string(), Found::default())).collect();
    for vpc in vpcs? {
        if let Some(f) = vpc.vpc_id().and_then(|id| found.get_mut(id)) {
            f.vpc = Some(vpc);
        }
    }
    let mut seen_gateways = Vec::new();
    for gateway in attached?.into_iter().chain(tagged_gateways?) {
        let Some(id) = gateway.internet_gateway_id().map(str::to_string) else { continue };
        if seen_gateways.contains(&id) {
            continue;
        }
        let owner = gateway
            .attachments()
            .iter()
            .find_map(|a| a.vpc_id().filter(|v| ids.contains(v)))
            .or_else(|| tag_of(gateway.tags(), VPC_TAG))
            .map(str::to_string);
        if let Some(f) = owner.and_then(|vpc| found.get_mut(&vpc)) {
            seen_gateways.push(id);
            f.gateways.push(gateway);
        }
    }
    for subnet in subnets? {
        if let Some(f) = subnet.vpc_id().and_then(|id| found.get_mut(id)) {
            f.subnets.push(subnet);
        }
    }
    for table in tables? {
        if let Some(f) = table.vpc_id().and_then(|id| found.get_mut(id)) {
            f.tables.push(table);
        }
    }
    for nat in nats? {
        if let Some(f) = nat.vpc_id().and_then(|id| found.get_mut(id)) {
            f.nats.push(nat);
        }
    }
    for address in addresses? {
        if let Some(f) = tag_of(address.tags(), VPC_TAG).and_then(|id| found.get_mut(id)) {
            f.addresses.push(address);
        }
    }
    for endpoint in endpoints? {
        if let Some(f) = endpoint.vpc_id().and_then(|id| found.get_mut(id)) {
            f.endpoints.push(endpoint);
        }
    }
    for group in groups? {
        if let Some(f) = group.vpc_id().and_then(|id| found.get_mut(id)) {
            f.groups.push(group);
        }
    }
    Ok(found)
}

fn tag_of<'a>(tags: &'a [aws_sdk_ec2::types::Tag], key: &str) -> Option<&'a str> {
    tags.iter().find(|tag| tag.key() == Some(key)).and_then(|tag| tag.value())
}

/// The one VPC with this id and its parts, `None` when the VPC does not exist.
pub(super) async fn layout(ec2: &Client, id: &str) -> Result<Option<Layout>, DriverError> {
    let mut found = find(ec2, &[id]).await?;
    let found = found.remove(id).unwrap_or_default();
    Ok(found.vpc.is_some().then(|| Layout::classify(id, &found)))
}

/// The VPC as the stack file describes it, and its attributes. `recorded`: the inputs last
/// applied (or `None`: report the shape the parts have).
pub(super) fn observe(layout: &Layout, recorded: Option<&VpcConfig>) -> Observed {
    let shape = recorded.cloned().unwrap_or_else(|| shape_of(layout));
    let mut inputs = JsonMap::new();
    inputs.insert("cidr".into(), layout.cidr.clone().into());
    if let Some(name) = layout.tags.get("Name") {
        inputs.insert("name".into(), name.clone().into());
    }
    let mut tags = layout.tags.clone();
    tags.remove("Name");
    inputs.insert("tags".into(), user_tags(&tags));
    inputs.insert("azs".into(), json!(shape.azs));
    inputs.insert("nat".into(), json!(shape.nat.as_str()));
    inputs.insert("endpoints".into(), json!(shape.endpoints));
    inputs.insert(REPAIRS.into(), json!(survey::repairs(&shape, layout)));
    Observed { id: layout.vpc_id.clone(), inputs, attributes: attributes(layout) }
}

pub(super) fn attributes(layout: &Layout) -> JsonMap {
    let zones: Vec<String> = (0..layout.zone_count()).filter_map(|i| layout.zone(i)).map(|z| z.name.clone()).collect();
    let mut attributes = JsonMap::new();
    attributes.insert("id".into(), layout.vpc_id.clone().into());
    attributes.insert("cidr".into(), layout.cidr.clone().into());
    attributes.insert("public_subnet_ids".into(), json!(layout.subnet_ids(Role::Public)));
    attributes.insert("private_subnet_ids".into(), json!(layout.subnet_ids(Role::Private)));
    attributes.insert("availability_zones".into(), json!(zones));
    attributes
}

/// The `azs`, `nat` and `endpoints` a VPC's parts amount to (an imported VPC).
fn shape_of(layout: &Layout) -> VpcConfig {
    let live_nats = layout.nats.iter().filter(|n| n.is_live()).count();
    let nat = match live_nats {
        0 => "none",
        1 => "single",
        _ => "per_az",
    };
    let services: Vec<&str> = layout.endpoints.iter().map(|e| e.service.as_str()).collect();
    let endpoints: Vec<Json> = ENDPOINTS
        .iter()
        .filter(|kind| kind.services.iter().all(|s| services.contains(s)))
        .map(|kind| Json::String(kind.name.to_string()))
        .collect();
    let inputs = json!({ "cidr": layout.cidr, "azs": layout.zone_count(), "nat": nat, "endpoints": endpoints });
    let inputs = inputs.as_object().cloned().unwrap_or_default();
    VpcConfig::from_inputs(&inputs).unwrap_or_else(|_| VpcConfig::from_inputs(&JsonMap::new()).expect("defaults"))
}

#[cfg(test)]
mod tests {
    use super::super::layout::{Gateway, SubnetPart};
    use super::super::zones::Zone;
    use super::*;

    #[test]
    fn an_imported_vpc_reports_the_shape_of_its_parts() {
        let subnet = |id: &str, role: Role, index: usize, zone: &str| SubnetPart {
            id: id.into(),
            cidr: String::new(),
            zone: Zone { name: zone.into(), id: String::new() },
            role,
            index: Some(index),
            ours: false,
        };
        let layout = Layout {
            vpc_id: "vpc-1".into(),
            cidr: "10.1.0.0/16".into(),
            tags: BTreeMap::from([("Name".to_string(), "shop".to_string()), ("team".to_string(), "web".to_string())]),
            gateways: vec![Gateway { id: "igw-1".into(), attached: true }],
            subnets: vec![
                subnet("subnet-a", Role::Public, 0, "us-east-1a"),
                subnet("subnet-b", Role::Private, 0, "us-east-1a"),
                subnet("subnet-c", Role::Public, 1, "us-east-1b"),
            ],
            ..Layout::default()
        };
        let observed = observe(&layout, None);
        assert_eq!(observed.inputs["azs"], json!(2));
        assert_eq!(observed.inputs["nat"], json!("none"));
        assert_eq!(observed.inputs["name"], json!("shop"));
        assert_eq!(observed.inputs["tags"], json!({ "team": "web" }), "the Name tag is the `name` field");
        assert_eq!(observed.attributes["public_subnet_ids"], json!(["subnet-a", "subnet-c"]));
        assert_eq!(observed.attributes["availability_zones"], json!(["us-east-1a", "us-east-1b"]));
        let repairs = observed.inputs[REPAIRS].as_array().cloned().unwrap_or_default();
        assert!(repairs.contains(&json!("the private subnet in us-east-1b is missing")), "{repairs:?}");
    }
}
