//! A VPC's parts as found, each with the role it plays.
//!
//! Every part provision makes is tagged, in the call that makes it, with the VPC it belongs to
//! (`provision:vpc`) and its role (`provision:part`: `public-subnet-0`, `private-route-table-1`,
//! `nat-gateway-0`, `nat-address-0`, `internet-gateway`, `endpoint-ecr.dkr` …). That is what a
//! run killed between two calls leaves for the next one to find: an internet gateway not attached
//! yet, an address no NAT gateway holds yet, a route table with no subnet yet are all found by
//! their tags. Parts of an imported VPC carry no tags and are known by where they sit instead: a
//! subnet whose route table leads to an internet gateway is public, a NAT gateway belongs to the
//! zone of its subnet, a route table to the subnets it serves.

use std::collections::BTreeMap;

use aws_sdk_ec2::types::{
    Address, InternetGateway, NatGateway, RouteTable, SecurityGroup, Subnet, Tag, Vpc, VpcEndpoint,
};

use super::config::Role;
use super::zones::Zone;
use crate::network::short_service_name;

pub(super) const VPC_TAG: &str = "provision:vpc";
pub(super) const PART_TAG: &str = "provision:part";
/// The token an interrupted create looks for (see `VpcDriver::intended_id`).
pub(super) const TOKEN_TAG: &str = "provision:token";

/// What the reads found for one VPC, as AWS answered.
#[derive(Clone, Debug, Default)]
pub(super) struct Found {
    pub vpc: Option<Vpc>,
    pub gateways: Vec<InternetGateway>,
    pub subnets: Vec<Subnet>,
    pub tables: Vec<RouteTable>,
    pub nats: Vec<NatGateway>,
    pub addresses: Vec<Address>,
    pub endpoints: Vec<VpcEndpoint>,
    pub groups: Vec<SecurityGroup>,
}

#[derive(Clone, Debug, PartialEq)]
pub(super) struct Gateway {
    pub id: String,
    pub attached: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub(super) struct SubnetPart {
    pub id: String,
    pub cidr: String,
    pub zone: Zone,
    pub role: Role,
    /// The zone index; `None` for a subnet of an adopted VPC beyond the one per zone and role.
    pub index: Option<usize>,
    pub ours: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum TableRole {
    Public,
    Private(usize),
}

#[derive(Clone, Debug, PartialEq)]
pub(super) enum Target {
    Gateway(String),
    Nat(String),
    Other(String),
}

#[derive(Clone, Debug, PartialEq)]
pub(super) struct TablePart {
    pub id: String,
    pub role: Option<TableRole>,
    pub main: bool,
    /// (association id, subnet id) of each subnet it serves.
    pub associations: Vec<(String, String)>,
    /// Where `0.0.0.0/0` goes.
    pub default_route: Option<Target>,
    pub ours: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub(super) struct NatPart {
    pub id: String,
    pub subnet_id: String,
    pub state: String,
    pub allocation_ids: Vec<String>,
    pub interface_ids: Vec<String>,
    pub index: Option<usize>,
    pub ours: bool,
}

impl NatPart {
    /// `pending` or `available`: one that works or soon will.
    pub fn is_live(&self) -> bool {
        matches!(self.state.as_str(), "pending" | "available")
    }
}

#[derive(Clone, Debug, PartialEq)]
pub(super) struct AddressPart {
    pub allocation_id: String,
    pub association_id: Option<String>,
    pub index: Option<usize>,
    pub ours: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub(super) struct EndpointPart {
    pub id: String,
    /// The short service name, e.g. `ecr.dkr`.
    pub service: String,
    pub gateway: bool,
    pub table_ids: Vec<String>,
    pub subnet_ids: Vec<String>,
    pub ours: bool,
}

/// One VPC and its parts, each in its role.
#[derive(Clone, Debug, Default, PartialEq)]
pub(super) struct Layout {
    pub vpc_id: String,
    pub cidr: String,
    pub tags: BTreeMap<String, String>,
    pub gateways: Vec<Gateway>,
    pub subnets: Vec<SubnetPart>,
    pub tables: Vec<TablePart>,
    pub nats: Vec<NatPart>,
    pub addresses: Vec<AddressPart>,
    pub endpoints: Vec<EndpointPart>,
    /// The security group of the interface endpoints.
    pub endpoint_group: Option<String>,
}

pub(super) fn tag_map(tags: &[Tag]) -> BTreeMap<String, String> {
    tags.iter().filter_map(|tag| Some((tag.key()?.to_string(), tag.value().unwrap_or_default().to_string()))).collect()
}

fn part(tags: &[Tag]) -> Option<String> {
    tags.iter().find(|tag| tag.key() == Some(PART_TAG)).and_then(|tag| tag.value()).map(str::to_string)
}

fn ours(tags: &[Tag], vpc_id: &str) -> bool {
    tags.iter().any(|tag| tag.key() == Some(VPC_TAG) && tag.value() == Some(vpc_id))
}

/// `prefix-N` → N.
fn numbered(part: &str, prefix: &str) -> Option<usize> {
    part.strip_prefix(prefix)?.strip_prefix('-')?.parse().ok()
}

impl Layout {
    /// Puts each part found in its role.
    pub fn classify(vpc_id: &str, found: &Found) -> Layout {
        let mut layout = Layout { vpc_id: vpc_id.to_string(), ..Layout::default() };
        if let Some(vpc) = &found.vpc {
            layout.cidr = vpc.cidr_block().unwrap_or_default().to_string();
            layout.tags = tag_map(vpc.tags());
        }
        for gateway in &found.gateways {
            let attached = gateway.attachments().iter().any(|a| a.vpc_id() == Some(vpc_id));
            if let Some(id) = gateway.internet_gateway_id() {
                layout.gateways.push(Gateway { id: id.to_string(), attached });
            }
        }
        layout.classify_subnets(found);
        layout.classify_tables(found);
        for nat in &found.nats {
            let state = nat.state().map(|s| s.as_str().to_string()).unwrap_or_default();
            if matches!(state.as_str(), "deleted" | "deleting") {
                continue;
            }
            let subnet_id = nat.subnet_id().unwrap_or_default().to_string();
            let index = part(nat.tags()).and_then(|p| numbered(&p, "nat-gateway")).or_else(|| {
                layout.subnets.iter().find(|s| s.id == subnet_id && s.role == Role::Public).and_then(|s| s.index)
            });
            layout.nats.push(NatPart {
                id: nat.nat_gateway_id().unwrap_or_default().to_string(),
                subnet_id,
                state,
                allocation_ids: nat
                    .nat_gateway_addresses()
                    .iter()
                    .filter_map(|a| a.allocation_id())
                    .map(str::to_string)
                    .collect(),
                interface_ids: nat
                    .nat_gateway_addresses()
                    .iter()
                    .filter_map(|a| a.network_interface_id())
                    .map(str::to_string)
                    .collect(),
                index,
                ours: ours(nat.tags(), vpc_id),
            });
        }
        for address in &found.addresses {
            let Some(allocation_id) = address.allocation_id() else { continue };
            let held_by = layout.nats.iter().find(|nat| nat.allocation_ids.iter().any(|a| a == allocation_id));
            let tagged = ours(address.tags(), vpc_id);
            if !tagged && held_by.is_none() {
                continue;
            }
            let index =
                part(address.tags()).and_then(|p| numbered(&p, "nat-address")).or(held_by.and_then(|n| n.index));
            layout.addresses.push(AddressPart {
                allocation_id: allocation_id.to_string(),
                association_id: address.association_id().map(str::to_string),
                index,
                ours: tagged,
            });
        }
        for endpoint in &found.endpoints {
            let state = endpoint.state().map(|s| s.as_str().to_ascii_lowercase()).unwrap_or_default();
            if matches!(state.as_str(), "deleted" | "deleting" | "rejected" | "failed" | "expired") {
                continue;
            }
            let gateway = endpoint.vpc_endpoint_type().is_some_and(|t| t.as_str() == "Gateway");
            layout.endpoints.push(EndpointPart {
                id: endpoint.vpc_endpoint_id().unwrap_or_default().to_string(),
                service: endpoint.service_name().map(short_service_name).unwrap_or_default(),
                gateway,
                table_ids: endpoint.route_table_ids().to_vec(),
                subnet_ids: endpoint.subnet_ids().to_vec(),
                ours: ours(endpoint.tags(), vpc_id),
            });
        }
        layout.endpoint_group = found
            .groups
            .iter()
            .find(|group| part(group.tags()).as_deref() == Some("endpoints-security-group"))
            .and_then(|group| group.group_id())
            .map(str::to_string);
        layout
    }

    fn classify_subnets(&mut self, found: &Found) {
        let mut untagged: Vec<(Role, &Subnet)> = Vec::new();
        for subnet in &found.subnets {
            let (Some(id), Some(zone_name)) = (subnet.subnet_id(), subnet.availability_zone()) else { continue };
            let zone =
                Zone { name: zone_name.to_string(), id: subnet.availability_zone_id().unwrap_or_default().to_string() };
            let tagged = part(subnet.tags()).and_then(|p| {
                numbered(&p, "public-subnet")
                    .map(|i| (Role::Public, i))
                    .or_else(|| numbered(&p, "private-subnet").map(|i| (Role::Private, i)))
            });
            match tagged {
                Some((role, index)) => self.subnets.push(SubnetPart {
                    id: id.to_string(),
                    cidr: subnet.cidr_block().unwrap_or_default().to_string(),
                    zone,
                    role,
                    index: Some(index),
                    ours: ours(subnet.tags(), &self.vpc_id),
                }),
                None => {
                    let public = crate::network::subnet_egress(id, &found.tables)
                        == provision_core::cloud::Egress::InternetGateway;
                    untagged.push((if public { Role::Public } else { Role::Private }, subnet));
                }
            }
        }
        // An adopted VPC's subnets: one per zone and role, zones in name order, each taking the
        // first index the tagged ones leave free.
        untagged.sort_by(|a, b| (a.0, a.1.availability_zone()).cmp(&(b.0, b.1.availability_zone())));
        for (role, subnet) in untagged {
            let zone_name = subnet.availability_zone().unwrap_or_default();
            let same_zone =
                self.subnets.iter().any(|s| s.role == role && s.zone.name == zone_name && s.index.is_some());
            let index = (!same_zone).then(|| {
                (0..).find(|i| !self.subnets.iter().any(|s| s.role == role && s.index == Some(*i))).unwrap_or(0)
            });
            self.subnets.push(SubnetPart {
                id: subnet.subnet_id().unwrap_or_default().to_string(),
                cidr: subnet.cidr_block().unwrap_or_default().to_string(),
                zone: Zone {
                    name: zone_name.to_string(),
                    id: subnet.availability_zone_id().unwrap_or_default().to_string(),
                },
                role,
                index,
                ours: false,
            });
        }
    }

    fn classify_tables(&mut self, found: &Found) {
        for table in &found.tables {
            let Some(id) = table.route_table_id() else { continue };
            let main = table.associations().iter().any(|a| a.main() == Some(true));
            let associations: Vec<(String, String)> = table
                .associations()
                .iter()
                .filter_map(|a| Some((a.route_table_association_id()?.to_string(), a.subnet_id()?.to_string())))
                .collect();
            let tagged = part(table.tags()).and_then(|p| {
                if p == "public-route-table" {
                    Some(TableRole::Public)
                } else {
                    numbered(&p, "private-route-table").map(TableRole::Private)
                }
            });
            let role = tagged.or_else(|| {
                if main {
                    return None;
                }
                associations.iter().find_map(|(_, subnet_id)| {
                    let subnet = self.subnets.iter().find(|s| &s.id == subnet_id)?;
                    match (subnet.role, subnet.index) {
                        (Role::Public, Some(_)) => Some(TableRole::Public),
                        (Role::Private, Some(index)) => Some(TableRole::Private(index)),
                        _ => None,
                    }
                })
            });
            let default_route =
                table.routes().iter().find(|route| route.destination_cidr_block() == Some("0.0.0.0/0")).map(|route| {
                    match (route.gateway_id(), route.nat_gateway_id()) {
                        (_, Some(nat)) => Target::Nat(nat.to_string()),
                        (Some(gateway), _) if gateway.starts_with("igw-") => Target::Gateway(gateway.to_string()),
                        (gateway, _) => Target::Other(gateway.unwrap_or("another target").to_string()),
                    }
                });
            self.tables.push(TablePart {
                id: id.to_string(),
                role,
                main,
                associations,
                default_route,
                ours: ours(table.tags(), &self.vpc_id),
            });
        }
    }

    pub fn subnet(&self, role: Role, index: usize) -> Option<&SubnetPart> {
        self.subnets.iter().find(|s| s.role == role && s.index == Some(index))
    }

    pub fn table(&self, role: TableRole) -> Option<&TablePart> {
        self.tables.iter().find(|t| t.role == Some(role))
    }

    pub fn attached_gateway(&self) -> Option<&Gateway> {
        self.gateways.iter().find(|g| g.attached)
    }

    /// The live NAT gateway of a zone index.
    pub fn nat(&self, index: usize) -> Option<&NatPart> {
        self.nats.iter().find(|n| n.index == Some(index) && n.is_live())
    }

    /// The zone a zone index is in, from its subnets.
    pub fn zone(&self, index: usize) -> Option<&Zone> {
        self.subnets.iter().find(|s| s.index == Some(index)).map(|s| &s.zone)
    }

    /// How the zone of an index reads in messages: its name when known.
    pub fn zone_label(&self, index: usize) -> String {
        self.zone(index).map(|z| z.name.clone()).unwrap_or_else(|| format!("zone {}", index + 1))
    }

    /// The subnet ids of a role, by zone index.
    pub fn subnet_ids(&self, role: Role) -> Vec<String> {
        let mut subnets: Vec<&SubnetPart> =
            self.subnets.iter().filter(|s| s.role == role && s.index.is_some()).collect();
        subnets.sort_by_key(|s| s.index);
        subnets.into_iter().map(|s| s.id.clone()).collect()
    }

    /// Zone indexes that have subnets.
    pub fn zone_count(&self) -> usize {
        let mut indexes: Vec<usize> = self.subnets.iter().filter_map(|s| s.index).collect();
        indexes.sort_unstable();
        indexes.dedup();
        indexes.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ec2::types::{
        InternetGatewayAttachment, NatGatewayAddress, NatGatewayState, Route, RouteTableAssociation,
    };

    fn tag(key: &str, value: &str) -> Tag {
        Tag::builder().key(key).value(value).build()
    }

    fn subnet(id: &str, zone: &str, tags: Vec<Tag>) -> Subnet {
        Subnet::builder()
            .subnet_id(id)
            .availability_zone(zone)
            .availability_zone_id(format!("id-{zone}"))
            .set_tags(Some(tags))
            .build()
    }

    fn table(id: &str, subnet: &str, route: Route, tags: Vec<Tag>) -> RouteTable {
        RouteTable::builder()
            .route_table_id(id)
            .associations(
                RouteTableAssociation::builder()
                    .route_table_association_id(format!("a-{id}"))
                    .subnet_id(subnet)
                    .build(),
            )
            .routes(route)
            .set_tags(Some(tags))
            .build()
    }

    #[test]
    fn tagged_parts_take_the_role_their_tags_give() {
        let vpc = "vpc-1";
        let found = Found {
            gateways: vec![InternetGateway::builder()
                .internet_gateway_id("igw-1")
                .set_tags(Some(vec![tag(VPC_TAG, vpc), tag(PART_TAG, "internet-gateway")]))
                .build()],
            subnets: vec![
                subnet("subnet-p1", "us-east-1b", vec![tag(VPC_TAG, vpc), tag(PART_TAG, "public-subnet-1")]),
                subnet("subnet-q0", "us-east-1a", vec![tag(VPC_TAG, vpc), tag(PART_TAG, "private-subnet-0")]),
            ],
            tables: vec![RouteTable::builder()
                .route_table_id("rtb-q0")
                .set_tags(Some(vec![tag(VPC_TAG, vpc), tag(PART_TAG, "private-route-table-0")]))
                .build()],
            addresses: vec![Address::builder()
                .allocation_id("eipalloc-0")
                .set_tags(Some(vec![tag(VPC_TAG, vpc), tag(PART_TAG, "nat-address-0")]))
                .build()],
            ..Found::default()
        };
        let layout = Layout::classify(vpc, &found);
        assert_eq!(
            layout.gateways,
            vec![Gateway { id: "igw-1".into(), attached: false }],
            "found before it is attached"
        );
        assert_eq!(layout.subnet(Role::Public, 1).map(|s| s.id.as_str()), Some("subnet-p1"));
        assert_eq!(layout.subnet(Role::Private, 0).map(|s| s.zone.name.as_str()), Some("us-east-1a"));
        assert_eq!(
            layout.table(TableRole::Private(0)).map(|t| t.id.as_str()),
            Some("rtb-q0"),
            "found with no subnet yet"
        );
        assert_eq!(layout.addresses[0].index, Some(0), "an address no NAT gateway holds yet is found by its tag");
    }

    #[test]
    fn an_adopted_vpc_s_parts_are_known_by_where_they_sit() {
        let vpc = "vpc-1";
        let to_internet = Route::builder().destination_cidr_block("0.0.0.0/0").gateway_id("igw-9").build();
        let to_nat = Route::builder().destination_cidr_block("0.0.0.0/0").nat_gateway_id("nat-9").build();
        let found = Found {
            gateways: vec![InternetGateway::builder()
                .internet_gateway_id("igw-9")
                .attachments(InternetGatewayAttachment::builder().vpc_id(vpc).build())
                .build()],
            subnets: vec![
                subnet("subnet-b", "us-east-1b", vec![]),
                subnet("subnet-a", "us-east-1a", vec![]),
                subnet("subnet-x", "us-east-1a", vec![]),
            ],
            tables: vec![
                table("rtb-pub", "subnet-a", to_internet.clone(), vec![]),
                table("rtb-pub2", "subnet-b", to_internet, vec![]),
                table("rtb-priv", "subnet-x", to_nat, vec![]),
            ],
            nats: vec![NatGateway::builder()
                .nat_gateway_id("nat-9")
                .subnet_id("subnet-a")
                .state(NatGatewayState::Available)
                .nat_gateway_addresses(NatGatewayAddress::builder().allocation_id("eipalloc-9").build())
                .build()],
            addresses: vec![Address::builder().allocation_id("eipalloc-9").association_id("eipassoc-9").build()],
            ..Found::default()
        };
        let layout = Layout::classify(vpc, &found);
        assert_eq!(layout.subnet_ids(Role::Public), vec!["subnet-a".to_string(), "subnet-b".to_string()]);
        assert_eq!(layout.subnet_ids(Role::Private), vec!["subnet-x".to_string()]);
        assert_eq!(layout.table(TableRole::Private(0)).map(|t| t.id.as_str()), Some("rtb-priv"));
        assert_eq!(
            layout.nat(0).map(|n| n.id.as_str()),
            Some("nat-9"),
            "the NAT gateway of the first public subnet's zone"
        );
        assert_eq!(layout.addresses[0].index, Some(0), "its address follows it");
        assert!(!layout.addresses[0].ours && !layout.subnets[0].ours, "adopted, not made by provision");
        assert_eq!(layout.attached_gateway().map(|g| g.id.as_str()), Some("igw-9"));
    }
}
