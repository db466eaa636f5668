//! The `[network]` a stack lives in: the VPC (the account's default one, or an id), one subnet per
//! availability zone unless the stack lists them, and where each subnet's internet traffic goes.
//!
//! The subnets, the route tables and the endpoints are read at once (three calls). From the route
//! tables each subnet is public (its `0.0.0.0/0` goes to an internet gateway) or private (a NAT
//! gateway, or nowhere): `${network.subnet_ids}` is one private subnet per zone where the VPC has
//! them (one of any kind where it has none, as in the default VPC), `${network.public_subnet_ids}`
//! one public subnet per zone. Zones where Fargate does not run are left out (see
//! [`crate::drivers::vpc::zones`]). The same answers tell the plan whether a service's tasks can
//! reach the image registry (`ecs_service`'s `check_network`).

use std::collections::BTreeMap;

use aws_sdk_ec2::types::{Filter, RouteTable, Subnet};
use provision_core::cloud::{Egress, Network};
use provision_core::driver::DriverError;

use crate::context::AwsContext;
use crate::drivers::vpc::zones;

pub async fn look_up(aws: &AwsContext, vpc: &str, subnets: Option<&[String]>) -> Result<Network, DriverError> {
    let ec2 = aws.ec2();
    let vpc_id = if vpc == "default" {
        let answer = ec2
            .describe_vpcs()
            .filters(Filter::builder().name("is-default").values("true").build())
            .send()
            .await
            .map_err(|e| crate::aws_error("DescribeVpcs", e))?;
        answer.vpcs().first().and_then(|v| v.vpc_id()).map(str::to_string).ok_or_else(|| {
            DriverError::invalid("this account and region have no default VPC")
                .with_hint("set `vpc = \"vpc-…\"` and `subnets = [...]` in `[network]`, or give the stack its own network with a `[vpc.main]` and `vpc = \"${vpc.main.id}\"`")
        })?
    } else {
        vpc.to_string()
    };
    let in_vpc = || Filter::builder().name("vpc-id").values(&vpc_id).build();
    let (found_subnets, tables, endpoints) = futures::join!(
        ec2.describe_subnets().filters(in_vpc()).into_paginator().items().send().collect::<Result<Vec<_>, _>>(),
        ec2.describe_route_tables().filters(in_vpc()).into_paginator().items().send().collect::<Result<Vec<_>, _>>(),
        ec2.describe_vpc_endpoints().filters(in_vpc()).into_paginator().items().send().collect::<Result<Vec<_>, _>>(),
    );
    let found_subnets = found_subnets.map_err(|e| crate::aws_error("DescribeSubnets", e))?;
    let tables = tables.map_err(|e| crate::aws_error("DescribeRouteTables", e))?;
    let endpoints = endpoints.map_err(|e| crate::aws_error("DescribeVpcEndpoints", e))?;

    let egress: BTreeMap<String, Egress> = found_subnets
        .iter()
        .filter_map(|subnet| Some((subnet.subnet_id()?.to_string(), subnet_egress(subnet.subnet_id()?, &tables))))
        .collect();
    let endpoints = endpoints
        .iter()
        .filter(|endpoint| endpoint.state().is_some_and(|state| state.as_str().eq_ignore_ascii_case("available")))
        .filter_map(|endpoint| endpoint.service_name().map(short_service_name))
        .collect();
    let mut network = Network { vpc_id: vpc_id.clone(), egress, endpoints, ..Network::default() };
    if let Some(listed) = subnets {
        network.subnet_ids = listed.to_vec();
        network.public_subnet_ids =
            listed.iter().filter(|id| network.egress.get(*id) == Some(&Egress::InternetGateway)).cloned().collect();
        return Ok(network);
    }
    let region = aws.region();
    let usable: Vec<&Subnet> = found_subnets
        .iter()
        .filter(|subnet| subnet.availability_zone_id().is_none_or(|zone| zones::fargate_runs_in(region, zone)))
        .collect();
    let public =
        |subnet: &&Subnet| subnet.subnet_id().and_then(|id| network.egress.get(id)) == Some(&Egress::InternetGateway);
    let (public_subnets, private_subnets): (Vec<&Subnet>, Vec<&Subnet>) = usable.into_iter().partition(public);
    network.public_subnet_ids = one_per_zone(&public_subnets, &network.egress);
    network.subnet_ids = if private_subnets.is_empty() {
        network.public_subnet_ids.clone()
    } else {
        one_per_zone(&private_subnets, &network.egress)
    };
    if network.subnet_ids.is_empty() {
        return Err(DriverError::invalid(format!("VPC `{vpc_id}` has no subnets where Fargate runs"))
            .with_hint("list the subnets to use in `[network] subnets`"));
    }
    Ok(network)
}

/// One subnet per availability zone, in zone order: in a zone with several, the one that reaches
/// furthest (a NAT gateway or an internet gateway before nowhere), then the zone's default subnet,
/// then the lowest id. EC2 lists subnets in no particular order, so the choice must not depend on
/// it, or a run could move every service and load balancer to other subnets.
fn one_per_zone(subnets: &[&Subnet], egress: &BTreeMap<String, Egress>) -> Vec<String> {
    let rank = |id: &str| match egress.get(id) {
        Some(Egress::NatGateway | Egress::InternetGateway) => 0,
        Some(Egress::Other) => 1,
        _ => 2,
    };
    // Ordered so that the smallest is the one to pick.
    let mut by_zone: BTreeMap<&str, (u8, bool, &str)> = BTreeMap::new();
    for subnet in subnets {
        let (Some(zone), Some(id)) = (subnet.availability_zone(), subnet.subnet_id()) else { continue };
        let candidate = (rank(id), subnet.default_for_az() != Some(true), id);
        by_zone.entry(zone).and_modify(|best| *best = (*best).min(candidate)).or_insert(candidate);
    }
    by_zone.into_values().map(|(_, _, id)| id.to_string()).collect()
}

/// Where a subnet's `0.0.0.0/0` goes: the route table associated with it, else the VPC's main one.
pub(crate) fn subnet_egress(subnet_id: &str, tables: &[RouteTable]) -> Egress {
    let associated =
        |table: &&RouteTable| table.associations().iter().any(|association| association.subnet_id() == Some(subnet_id));
    let main = |table: &&RouteTable| table.associations().iter().any(|association| association.main() == Some(true));
    match tables.iter().find(associated).or_else(|| tables.iter().find(main)) {
        Some(table) => table_egress(table),
        None => Egress::Nowhere,
    }
}

/// Where a route table sends `0.0.0.0/0`.
pub(crate) fn table_egress(table: &RouteTable) -> Egress {
    let default_route = table.routes().iter().find(|route| {
        route.destination_cidr_block() == Some("0.0.0.0/0")
            && route.state().is_none_or(|state| state.as_str() != "blackhole")
    });
    match default_route {
        None => Egress::Nowhere,
        Some(route) if route.nat_gateway_id().is_some() => Egress::NatGateway,
        Some(route) if route.gateway_id().is_some_and(|id| id.starts_with("igw-")) => Egress::InternetGateway,
        Some(_) => Egress::Other,
    }
}

/// `com.amazonaws.us-east-1.ecr.dkr` → `ecr.dkr`.
pub(crate) fn short_service_name(service: &str) -> String {
    let parts: Vec<&str> = service.split('.').collect();
    match parts.iter().position(|part| part.contains('-') && part.chars().any(|c| c.is_ascii_digit())) {
        Some(region) => parts[region + 1..].join("."),
        None => service.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ec2::types::{Route, RouteTableAssociation};

    fn table(subnet: Option<&str>, main: bool, route: Option<Route>) -> RouteTable {
        let association = RouteTableAssociation::builder().set_subnet_id(subnet.map(str::to_string)).main(main).build();
        RouteTable::builder().associations(association).set_routes(route.map(|r| vec![r])).build()
    }

    #[test]
    fn a_subnet_follows_its_own_route_table_or_else_the_main_one() {
        let to_nat = Route::builder().destination_cidr_block("0.0.0.0/0").nat_gateway_id("nat-1").build();
        let to_internet = Route::builder().destination_cidr_block("0.0.0.0/0").gateway_id("igw-1").build();
        let tables = vec![table(None, true, Some(to_internet)), table(Some("subnet-private"), false, Some(to_nat))];
        assert_eq!(subnet_egress("subnet-private", &tables), Egress::NatGateway);
        assert_eq!(subnet_egress("subnet-other", &tables), Egress::InternetGateway);
        assert_eq!(subnet_egress("subnet-x", &[table(Some("subnet-x"), false, None)]), Egress::Nowhere);
    }

    #[test]
    fn endpoint_services_are_known_by_their_short_names() {
        assert_eq!(short_service_name("com.amazonaws.us-east-1.ecr.dkr"), "ecr.dkr");
        assert_eq!(short_service_name("com.amazonaws.eu-west-1.s3"), "s3");
        assert_eq!(short_service_name("cn.com.amazonaws.cn-north-1.logs"), "logs");
    }

    fn subnet(id: &str, zone: &str, default: bool) -> Subnet {
        Subnet::builder().subnet_id(id).availability_zone(zone).default_for_az(default).build()
    }

    #[test]
    fn the_choice_per_zone_does_not_depend_on_the_listing_order() {
        let listed = [
            subnet("subnet-9", "us-east-1b", false),
            subnet("subnet-3", "us-east-1a", false),
            subnet("subnet-7", "us-east-1b", false),
            subnet("subnet-1", "us-east-1a", false),
        ];
        let egress = BTreeMap::new();
        let forward: Vec<&Subnet> = listed.iter().collect();
        let reversed: Vec<&Subnet> = listed.iter().rev().collect();
        assert_eq!(one_per_zone(&forward, &egress), ["subnet-1", "subnet-7"]);
        assert_eq!(one_per_zone(&reversed, &egress), ["subnet-1", "subnet-7"]);
    }

    #[test]
    fn a_zones_default_subnet_is_preferred_among_equally_reaching_ones() {
        let listed = [subnet("subnet-1", "us-east-1a", false), subnet("subnet-5", "us-east-1a", true)];
        let egress = BTreeMap::new();
        assert_eq!(one_per_zone(&listed.iter().collect::<Vec<_>>(), &egress), ["subnet-5"]);
        let nat = BTreeMap::from([("subnet-1".to_string(), Egress::NatGateway)]);
        assert_eq!(one_per_zone(&listed.iter().collect::<Vec<_>>(), &nat), ["subnet-1"], "reach comes first");
    }
}
