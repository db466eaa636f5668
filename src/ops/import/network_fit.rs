//! Whether another tool's network is one provision's `vpc` type would make, judged from that
//! tool's records alone (no AWS call): one VPC; a public and a private subnet in each of 2 to 6
//! zones; the public ones on one route table whose `0.0.0.0/0` goes to the internet gateway; each
//! private one on a route table of its own, going out through one NAT gateway in the first zone,
//! one per zone, or none; endpoints from the type's list; nothing else (no network ACLs, flow
//! logs, other routes, a second range). Such a network moves in as one `[vpc]` with every part
//! folded into it; the first thing that does not fit keeps the whole network with the other tool,
//! and is the reason the report gives. The driver's read then has the last word (`repairs` must be
//! empty, see `adoption.rs`): the records may be older than AWS.
//!
//! One judge serves every tool: each turns its records into [`Record`]s in one vocabulary, the
//! Terraform AWS provider's type and attribute names (`aws_subnet`, `availability_zone`), which a
//! Terraform state holds as they are and a CloudFormation template maps onto
//! (`cloudformation/network.rs`).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value as Json};

use provision_core::value::JsonMap;

/// Network resource types: folded into a `vpc` when the network fits, else kept.
pub const NETWORK: &[&str] = &[
    "aws_vpc",
    "aws_subnet",
    "aws_internet_gateway",
    "aws_internet_gateway_attachment",
    "aws_egress_only_internet_gateway",
    "aws_nat_gateway",
    "aws_eip",
    "aws_route_table",
    "aws_route",
    "aws_route_table_association",
    "aws_main_route_table_association",
    "aws_vpc_endpoint",
    "aws_vpc_endpoint_route_table_association",
    "aws_vpc_endpoint_subnet_association",
    "aws_vpc_dhcp_options",
    "aws_vpc_dhcp_options_association",
    "aws_vpc_ipv4_cidr_block_association",
    "aws_vpc_ipv6_cidr_block_association",
    "aws_vpn_gateway",
    "aws_vpn_gateway_attachment",
    "aws_vpn_gateway_route_propagation",
    "aws_default_vpc",
    "aws_default_subnet",
    "aws_default_route_table",
    "aws_default_security_group",
    "aws_default_network_acl",
    "aws_network_acl",
    "aws_network_acl_rule",
    "aws_network_acl_association",
    "aws_flow_log",
];

/// One network resource of the other tool's records, in the Terraform AWS provider's vocabulary.
#[derive(Clone, Debug)]
pub struct Record {
    /// How the other tool names it, for the report: `module.vpc.aws_subnet.private[0]`,
    /// `PrivateSubnet1`.
    pub address: String,
    /// Its own name, from which the `vpc` resource is named (`this`, `vpc`).
    pub name: String,
    /// `aws_subnet` …
    pub type_name: String,
    pub attributes: JsonMap,
}

impl Record {
    /// An attribute as text (`None` when absent, null or empty).
    pub fn text(&self, name: &str) -> Option<&str> {
        self.attributes.get(name).and_then(Json::as_str).filter(|text| !text.is_empty())
    }

    fn boolean(&self, name: &str) -> Option<bool> {
        self.attributes.get(name).and_then(Json::as_bool)
    }

    fn texts(&self, name: &str) -> Vec<&str> {
        let items = self.attributes.get(name).and_then(Json::as_array);
        items.into_iter().flatten().filter_map(Json::as_str).collect()
    }

    fn blocks(&self, name: &str) -> Vec<&JsonMap> {
        let items = self.attributes.get(name).and_then(Json::as_array);
        items.into_iter().flatten().filter_map(Json::as_object).collect()
    }
}

/// A network that fits: the VPC, the `vpc` fields that reproduce it, and every part's address.
#[derive(Debug)]
pub struct Fit<'a> {
    pub vpc: &'a Record,
    pub fields: JsonMap,
    pub parts: Vec<&'a Record>,
}

/// What the state's network is.
#[derive(Debug)]
pub enum Network<'a> {
    /// No `aws_vpc` in the records: their network parts, if any, are kept.
    None,
    Fits(Fit<'a>),
    /// Kept with the other tool; the first thing that does not fit.
    Kept(String),
}

pub fn is_network(type_name: &str) -> bool {
    NETWORK.contains(&type_name)
}

/// Judges the network `records` (every one of a [`NETWORK`] type the other tool holds).
pub fn judge(records: &[Record]) -> Network<'_> {
    let parts: Vec<&Record> = records.iter().filter(|r| is_network(&r.type_name)).collect();
    let vpcs: Vec<&Record> = parts.iter().copied().filter(|r| r.type_name == "aws_vpc").collect();
    if vpcs.is_empty() {
        return Network::None;
    }
    match fit(&parts, &vpcs) {
        Ok(fit) => Network::Fits(fit),
        Err(reason) => Network::Kept(reason),
    }
}

/// A subnet as the records place it.
struct Subnet<'a> {
    instance: &'a Record,
    id: &'a str,
    zone: &'a str,
    table: &'a str,
}

#[derive(Clone, Debug, PartialEq)]
enum Target {
    Internet,
    Nat(String),
}

fn fit<'a>(parts: &[&'a Record], vpcs: &[&'a Record]) -> Result<Fit<'a>, String> {
    let [vpc] = vpcs else {
        let addresses: Vec<String> = vpcs.iter().map(|v| format!("`{}`", v.address)).collect();
        return Err(format!("it holds {} VPCs ({}); one moves in as one `vpc`", vpcs.len(), addresses.join(", ")));
    };
    let vpc_id = vpc.text("id").ok_or_else(|| format!("`{}` has no id in the records", vpc.address))?;
    for part in parts {
        if let Some(reason) = unheld(part) {
            return Err(format!("`{}` is {reason}", part.address));
        }
        if part.text("vpc_id").is_some_and(|id| id != vpc_id) {
            return Err(format!("`{}` is in another VPC (`{}`)", part.address, part.text("vpc_id").unwrap_or("?")));
        }
    }
    for acl in parts.iter().filter(|p| p.type_name == "aws_default_network_acl") {
        let open = |rule: &&JsonMap| {
            let text = |name: &str| rule.get(name).and_then(Json::as_str).unwrap_or_default();
            text("action") == "allow"
                && matches!(text("protocol"), "-1" | "all")
                && (text("cidr_block") == "0.0.0.0/0" || text("ipv6_cidr_block") == "::/0")
        };
        if !acl.blocks("ingress").iter().chain(acl.blocks("egress").iter()).all(open) {
            return Err(format!(
                "`{}` has rules that are not AWS's allow-all; provision's `vpc` keeps those",
                acl.address
            ));
        }
    }
    let cidr = vpc.text("cidr_block").unwrap_or_default();
    provision_aws::drivers::vpc::check_range(cidr).map_err(|why| format!("its address range {why}"))?;
    if vpc.text("ipv6_cidr_block").is_some() || vpc.boolean("assign_generated_ipv6_cidr_block") == Some(true) {
        return Err(format!("`{}` has an IPv6 range; provision's `vpc` is IPv4 only", vpc.address));
    }
    let of = |type_name: &'static str| parts.iter().copied().filter(move |i| i.type_name == type_name);

    let gateways: Vec<&str> = of("aws_internet_gateway").filter_map(|i| i.text("id")).collect();
    if gateways.len() > 1 {
        return Err(format!("it has {} internet gateways; provision's `vpc` has one", gateways.len()));
    }
    let routes = routes(parts)?;
    let associations = associations(parts)?;
    let mut subnets = Vec::new();
    for instance in of("aws_subnet") {
        let id = instance.text("id").ok_or_else(|| format!("`{}` has no id in the records", instance.address))?;
        if instance.text("ipv6_cidr_block").is_some() {
            return Err(format!("subnet `{}` has an IPv6 range; provision's `vpc` is IPv4 only", instance.address));
        }
        let table = associations.get(id).copied().ok_or_else(|| {
            format!("subnet `{}` has no route table of its own (it uses the VPC's main one)", instance.address)
        })?;
        let zone = instance.text("availability_zone").unwrap_or_default();
        subnets.push(Subnet { instance, id, zone, table });
    }
    let public = |subnet: &Subnet| routes.get(subnet.table) == Some(&Some(Target::Internet));
    let mut zones: BTreeMap<&str, (Vec<&Subnet>, Vec<&Subnet>)> = BTreeMap::new();
    for subnet in &subnets {
        let zone = zones.entry(subnet.zone).or_default();
        if public(subnet) {
            zone.0.push(subnet);
        } else {
            zone.1.push(subnet);
        }
    }
    for (zone, (public, private)) in &zones {
        if public.len() + private.len() > 2 {
            let all: Vec<String> = public.iter().chain(private).map(|s| format!("`{}`", s.instance.address)).collect();
            return Err(format!(
                "a third tier of subnets: `{zone}` has {} ({}); provision's `vpc` has one public and one private subnet per zone",
                all.len(),
                all.join(", ")
            ));
        }
        if public.len() != 1 {
            return Err(format!("`{zone}` has no public subnet (one whose route table leads to the internet gateway)"));
        }
        if private.len() != 1 {
            return Err(format!("`{zone}` has no private subnet"));
        }
    }
    let azs = zones.len();
    if !(2..=6).contains(&azs) {
        return Err(format!("its subnets are in {azs} zone(s); provision's `vpc` spans 2 to 6"));
    }
    let public_tables: BTreeSet<&str> = zones.values().map(|(public, _)| public[0].table).collect();
    if public_tables.len() > 1 {
        return Err(format!(
            "its public subnets are on {} route tables; provision's `vpc` puts them on one",
            public_tables.len()
        ));
    }
    let private: Vec<&Subnet> = zones.values().map(|(_, private)| private[0]).collect();
    let private_tables: BTreeSet<&str> = private.iter().map(|s| s.table).collect();
    if private_tables.len() < private.len() || private_tables.iter().any(|t| public_tables.contains(t)) {
        return Err(format!(
            "private subnets share a route table (`{}`); provision's `vpc` gives each zone's its own",
            private.iter().map(|s| s.instance.address.as_str()).collect::<Vec<_>>().join("`, `")
        ));
    }
    let nat = nat(parts, &zones, &private, &routes)?;
    let endpoints = endpoints(parts)?;
    let mut fields = JsonMap::new();
    fields.insert("azs".into(), json!(azs));
    fields.insert("nat".into(), json!(nat));
    fields.insert("endpoints".into(), json!(endpoints));
    Ok(Fit { vpc, fields, parts: parts.iter().copied().filter(|p| p.address != vpc.address).collect() })
}

/// Why a part is one provision's `vpc` does not hold, if it is.
fn unheld(part: &Record) -> Option<&'static str> {
    Some(match part.type_name.as_str() {
        "aws_default_vpc" | "aws_default_subnet" => "the account's default VPC, which no stack owns",
        "aws_network_acl" | "aws_network_acl_rule" | "aws_network_acl_association" => {
            "a network ACL; provision's `vpc` keeps the default one"
        }
        "aws_flow_log" => "a flow log; provision's `vpc` has none",
        "aws_vpc_dhcp_options" | "aws_vpc_dhcp_options_association" => {
            "a DHCP option set; provision's `vpc` keeps AWS's"
        }
        "aws_egress_only_internet_gateway" | "aws_vpc_ipv6_cidr_block_association" => {
            "IPv6; provision's `vpc` is IPv4 only"
        }
        "aws_vpc_ipv4_cidr_block_association" => "a second address range; provision's `vpc` has one",
        "aws_main_route_table_association" => "another main route table; provision's `vpc` keeps AWS's",
        "aws_vpn_gateway" | "aws_vpn_gateway_attachment" | "aws_vpn_gateway_route_propagation" => {
            "a VPN gateway; provision's `vpc` has none"
        }
        "aws_vpc_endpoint_subnet_association" => return None,
        "aws_eip" if part.text("instance").is_some() => "an Elastic IP address of an instance",
        "aws_nat_gateway" if part.text("connectivity_type") == Some("private") => {
            "a private NAT gateway; provision's are public"
        }
        _ => return None,
    })
}

/// Each route table's `0.0.0.0/0` target (or none), from its inline routes and `aws_route`s.
fn routes<'a>(parts: &[&'a Record]) -> Result<BTreeMap<&'a str, Option<Target>>, String> {
    let mut tables: BTreeMap<&str, Option<Target>> = BTreeMap::new();
    let mut add = |address: &str, table: &'a str, route: &JsonMap| -> Result<(), String> {
        let text = |name: &str| route.get(name).and_then(Json::as_str).filter(|t| !t.is_empty());
        let destination = text("cidr_block").or(text("destination_cidr_block"));
        let other_destination =
            text("ipv6_cidr_block").or(text("destination_ipv6_cidr_block")).or(text("destination_prefix_list_id"));
        if let Some(other) = other_destination.or(destination.filter(|d| *d != "0.0.0.0/0")) {
            return Err(format!("`{address}` routes `{other}`; provision's `vpc` routes only `0.0.0.0/0`"));
        }
        let target = match (text("gateway_id"), text("nat_gateway_id")) {
            (Some(gateway), _) if gateway.starts_with("igw-") => Target::Internet,
            (_, Some(nat)) => Target::Nat(nat.to_string()),
            _ => {
                const OTHERS: &[&str] = &[
                    "transit_gateway_id",
                    "vpc_peering_connection_id",
                    "network_interface_id",
                    "instance_id",
                    "vpc_endpoint_id",
                    "egress_only_gateway_id",
                    "carrier_gateway_id",
                    "local_gateway_id",
                    "core_network_arn",
                    "gateway_id",
                ];
                let other = OTHERS.iter().find_map(|name| text(name)).unwrap_or("another target");
                return Err(format!(
                    "`{address}` sends `0.0.0.0/0` to `{other}`; provision's `vpc` uses an internet or NAT gateway"
                ));
            }
        };
        match tables.insert(table, Some(target.clone())) {
            Some(Some(before)) if before != target => Err(format!("`{address}` gives `0.0.0.0/0` a second target")),
            _ => Ok(()),
        }
    };
    for part in parts {
        match part.type_name.as_str() {
            "aws_route_table" | "aws_default_route_table" => {
                let Some(id) = part.text("id") else { continue };
                for route in part.blocks("route") {
                    add(&part.address, id, route)?;
                }
            }
            "aws_route" => {
                let table = part.text("route_table_id").unwrap_or_default();
                add(&part.address, table, &part.attributes)?;
            }
            _ => {}
        }
    }
    for part in parts.iter().filter(|p| p.type_name == "aws_route_table") {
        if let Some(id) = part.text("id") {
            tables.entry(id).or_insert(None);
        }
    }
    Ok(tables)
}

/// Subnet id → its route table, from the associations.
fn associations<'a>(parts: &[&'a Record]) -> Result<BTreeMap<&'a str, &'a str>, String> {
    let mut associations = BTreeMap::new();
    for part in parts.iter().filter(|p| p.type_name == "aws_route_table_association") {
        if part.text("gateway_id").is_some() {
            return Err(format!("`{}` routes a gateway's traffic (an edge association)", part.address));
        }
        if let (Some(subnet), Some(table)) = (part.text("subnet_id"), part.text("route_table_id")) {
            associations.insert(subnet, table);
        }
    }
    Ok(associations)
}

/// `single`, `per_az` or `none`: how the private subnets go out, if it is one of those.
fn nat(
    parts: &[&Record],
    zones: &BTreeMap<&str, (Vec<&Subnet>, Vec<&Subnet>)>,
    private: &[&Subnet],
    routes: &BTreeMap<&str, Option<Target>>,
) -> Result<&'static str, String> {
    let nats: Vec<&Record> = parts.iter().copied().filter(|p| p.type_name == "aws_nat_gateway").collect();
    let addresses: Vec<&str> = nats.iter().filter_map(|n| n.text("allocation_id")).collect();
    for address in parts.iter().filter(|p| p.type_name == "aws_eip") {
        if !address.text("id").is_some_and(|id| addresses.contains(&id)) {
            return Err(format!(
                "the Elastic IP address `{}` is held by no NAT gateway of the network",
                address.address
            ));
        }
    }
    for nat in &nats {
        if !nat.texts("secondary_allocation_ids").is_empty() {
            return Err(format!("the NAT gateway `{}` has secondary addresses; provision's have one", nat.address));
        }
    }
    // The zone of each NAT gateway, by the public subnet it sits in.
    let zone_of = |nat_id: &str| -> Option<&str> {
        let nat = nats.iter().find(|n| n.text("id") == Some(nat_id))?;
        let subnet = nat.text("subnet_id")?;
        zones.iter().find(|(_, (public, _))| public[0].id == subnet).map(|(zone, _)| *zone)
    };
    for nat in &nats {
        if zone_of(nat.text("id").unwrap_or_default()).is_none() {
            return Err(format!("the NAT gateway `{}` is not in a public subnet of the network", nat.address));
        }
    }
    let targets: Vec<Option<Target>> = private.iter().map(|s| routes.get(s.table).cloned().flatten()).collect();
    if targets.iter().all(Option::is_none) {
        return match nats.first() {
            None => Ok("none"),
            Some(nat) => Err(format!("no private subnet goes out through the NAT gateway `{}`", nat.address)),
        };
    }
    let mut used = Vec::new();
    for (subnet, target) in private.iter().zip(&targets) {
        match target {
            Some(Target::Nat(id)) => used.push((subnet.zone, id.as_str())),
            _ => {
                return Err(format!(
                    "some private subnets go out through a NAT gateway and `{}` does not",
                    subnet.instance.address
                ))
            }
        }
    }
    let distinct: BTreeSet<&str> = used.iter().map(|(_, id)| *id).collect();
    let first_zone = zones.keys().next().copied();
    if distinct.len() == 1 && nats.len() == 1 && zone_of(used[0].1) == first_zone {
        return Ok("single");
    }
    if nats.len() == used.len() && used.iter().all(|(zone, id)| zone_of(id) == Some(*zone)) {
        return Ok("per_az");
    }
    Err("its NAT gateways are shared between zones in a way provision's `vpc` does not (one in the first zone for all, or one per zone)".into())
}

/// The `endpoints` names, sorted.
fn endpoints(parts: &[&Record]) -> Result<Vec<&'static str>, String> {
    let mut services: Vec<(String, &Record)> = Vec::new();
    for endpoint in parts.iter().filter(|p| p.type_name == "aws_vpc_endpoint") {
        services.push((endpoint.text("service_name").unwrap_or_default().to_string(), endpoint));
    }
    let mut names = BTreeSet::new();
    for (service, endpoint) in &services {
        let Some((name, all, gateway)) = provision_aws::drivers::vpc::endpoint_for_service(service) else {
            return Err(format!(
                "`{}` is an endpoint for `{service}`, which provision's `vpc` does not make",
                endpoint.address
            ));
        };
        let kind = if gateway { "Gateway" } else { "Interface" };
        if endpoint.text("vpc_endpoint_type").is_some_and(|t| t != kind) {
            return Err(format!(
                "`{}` is not the {} endpoint provision's `vpc` makes",
                endpoint.address,
                kind.to_lowercase()
            ));
        }
        let short = |s: &String| provision_aws::drivers::vpc::endpoint_for_service(s).map(|(n, ..)| n) == Some(name);
        if services.iter().filter(|(s, _)| short(s)).count() != all.len() {
            return Err(format!(
                "`{}`: the network's endpoints for `{name}` are not one each of `{}`, as provision's `vpc` makes them",
                endpoint.address,
                all.join("`, `")
            ));
        }
        names.insert(name);
    }
    Ok(names.into_iter().collect())
}

/// The provision name of the VPC: the other tool's, unless that says nothing (`this`, `vpc`).
pub fn vpc_name(vpc: &Record) -> String {
    let name = super::inventory::resource_name(&[&vpc.name]);
    if matches!(name.as_str(), "this" | "vpc" | "default" | "network") {
        "main".into()
    } else {
        name
    }
}

#[cfg(test)]
#[path = "network_fit_tests.rs"]
mod tests;
