//! What a VPC lacks, or has too much of, against the network its inputs describe.
//!
//! One set of answers serves two readers: a create or update works through them in order
//! (`converge.rs`), and a refresh reports them as the hidden input `repairs` — so a NAT gateway
//! someone deleted, or a create a `kill -9` cut short, shows in the plan and the next apply makes
//! what is missing. Only parts provision made (tagged with the VPC) are ever counted as too many;
//! what an adopted VPC already had stays. Two parts of ours in one role (an internet gateway or an
//! address made twice because a create's answer was lost and AWS's reads had not caught up, see
//! `tokenless.rs`) are one too many: the one the network uses is kept, the other removed.

use super::config::{Role, VpcConfig};
use super::layout::{Layout, TableRole, Target};

/// A subnet that should be served by a route table and is not.
#[derive(Debug, PartialEq)]
pub(super) struct Association {
    pub table_id: String,
    pub subnet_id: String,
    /// The subnet's current association with another table, to replace.
    pub replaces: Option<String>,
}

/// A route table whose `0.0.0.0/0` should go elsewhere (or nowhere).
#[derive(Debug, PartialEq)]
pub(super) struct RouteChange {
    pub table_id: String,
    pub wanted: Option<Target>,
    pub current: Option<Target>,
    /// For messages: `public`, or the zone of a private table.
    pub label: String,
}

/// An endpoint that misses some of the route tables or subnets it should serve.
#[derive(Debug, PartialEq)]
pub(super) struct EndpointReach {
    pub id: String,
    pub service: String,
    pub add_tables: Vec<String>,
    pub add_subnets: Vec<String>,
}

/// Parts provision made that the network no longer wants.
#[derive(Debug, Default, PartialEq)]
pub(super) struct Unwanted {
    pub endpoints: Vec<String>,
    pub nats: Vec<String>,
    pub addresses: Vec<String>,
    pub subnets: Vec<String>,
    pub tables: Vec<String>,
    pub gateways: Vec<String>,
}

impl Unwanted {
    pub fn is_empty(&self) -> bool {
        *self == Unwanted::default()
    }
}

pub(super) fn missing_gateway(layout: &Layout) -> bool {
    layout.attached_gateway().is_none()
}

pub(super) fn missing_subnets(config: &VpcConfig, layout: &Layout) -> Vec<(Role, usize)> {
    (0..config.azs)
        .flat_map(|index| [(Role::Public, index), (Role::Private, index)])
        .filter(|(role, index)| layout.subnet(*role, *index).is_none())
        .collect()
}

pub(super) fn wanted_tables(config: &VpcConfig) -> Vec<TableRole> {
    std::iter::once(TableRole::Public).chain((0..config.azs).map(TableRole::Private)).collect()
}

pub(super) fn missing_tables(config: &VpcConfig, layout: &Layout) -> Vec<TableRole> {
    wanted_tables(config).into_iter().filter(|role| layout.table(*role).is_none()).collect()
}

pub(super) fn associations(config: &VpcConfig, layout: &Layout) -> Vec<Association> {
    let mut needed = Vec::new();
    for index in 0..config.azs {
        for (role, table_role) in [(Role::Public, TableRole::Public), (Role::Private, TableRole::Private(index))] {
            let (Some(subnet), Some(table)) = (layout.subnet(role, index), layout.table(table_role)) else { continue };
            if table.associations.iter().any(|(_, subnet_id)| subnet_id == &subnet.id) {
                continue;
            }
            let replaces = layout
                .tables
                .iter()
                .flat_map(|t| t.associations.iter())
                .find(|(_, subnet_id)| subnet_id == &subnet.id)
                .map(|(association, _)| association.clone());
            needed.push(Association { table_id: table.id.clone(), subnet_id: subnet.id.clone(), replaces });
        }
    }
    needed
}

pub(super) fn route_changes(config: &VpcConfig, layout: &Layout) -> Vec<RouteChange> {
    let mut changes = Vec::new();
    if let (Some(table), Some(gateway)) = (layout.table(TableRole::Public), layout.attached_gateway()) {
        let wanted = Some(Target::Gateway(gateway.id.clone()));
        if table.default_route != wanted {
            changes.push(RouteChange {
                table_id: table.id.clone(),
                wanted,
                current: table.default_route.clone(),
                label: "public".into(),
            });
        }
    }
    for index in 0..config.azs {
        let Some(table) = layout.table(TableRole::Private(index)) else { continue };
        // A route someone pointed elsewhere (a firewall, a transit gateway) is theirs.
        if matches!(table.default_route, Some(Target::Other(_))) {
            continue;
        }
        let wanted = match config.nat_for(index) {
            Some(nat_index) => match layout.nat(nat_index) {
                Some(nat) => Some(Target::Nat(nat.id.clone())),
                // The NAT gateway is reported (and made) first.
                None => continue,
            },
            None => None,
        };
        if table.default_route != wanted {
            changes.push(RouteChange {
                table_id: table.id.clone(),
                wanted,
                current: table.default_route.clone(),
                label: layout.zone_label(index),
            });
        }
    }
    changes
}

/// Zone indexes whose NAT gateway needs an Elastic IP address made.
pub(super) fn missing_addresses(config: &VpcConfig, layout: &Layout) -> Vec<usize> {
    config
        .nat_indexes()
        .into_iter()
        .filter(|index| layout.nat(*index).is_none() && !layout.addresses.iter().any(|a| a.index == Some(*index)))
        .collect()
}

pub(super) fn missing_nats(config: &VpcConfig, layout: &Layout) -> Vec<usize> {
    config.nat_indexes().into_iter().filter(|index| layout.nat(*index).is_none()).collect()
}

/// Services (short names) the VPC has no endpoint for, with whether each is a gateway endpoint.
pub(super) fn missing_endpoints(config: &VpcConfig, layout: &Layout) -> Vec<(&'static str, bool)> {
    config
        .endpoint_services()
        .into_iter()
        .filter(|(service, _)| !layout.endpoints.iter().any(|e| e.service == *service))
        .collect()
}

pub(super) fn endpoint_reach(config: &VpcConfig, layout: &Layout) -> Vec<EndpointReach> {
    let tables: Vec<String> =
        wanted_tables(config).into_iter().filter_map(|r| layout.table(r)).map(|t| t.id.clone()).collect();
    let subnets: Vec<String> =
        (0..config.azs).filter_map(|i| layout.subnet(Role::Private, i)).map(|s| s.id.clone()).collect();
    let mut reach = Vec::new();
    for (service, gateway) in config.endpoint_services() {
        let Some(endpoint) = layout.endpoints.iter().find(|e| e.service == service) else { continue };
        let add_tables: Vec<String> = if gateway {
            tables.iter().filter(|t| !endpoint.table_ids.contains(t)).cloned().collect()
        } else {
            Vec::new()
        };
        // An interface endpoint takes one subnet per zone: only zones it has none in.
        let add_subnets: Vec<String> = if gateway {
            Vec::new()
        } else {
            subnets
                .iter()
                .filter(|id| {
                    let zone = layout.subnets.iter().find(|s| &&s.id == id).map(|s| &s.zone.name);
                    !endpoint
                        .subnet_ids
                        .iter()
                        .any(|have| layout.subnets.iter().find(|s| &s.id == have).map(|s| &s.zone.name) == zone)
                })
                .cloned()
                .collect()
        };
        if !add_tables.is_empty() || !add_subnets.is_empty() {
            reach.push(EndpointReach {
                id: endpoint.id.clone(),
                service: service.to_string(),
                add_tables,
                add_subnets,
            });
        }
    }
    reach
}

pub(super) fn unwanted(config: &VpcConfig, layout: &Layout) -> Unwanted {
    let services: Vec<&str> = config.endpoint_services().into_iter().map(|(service, _)| service).collect();
    let nat_indexes = config.nat_indexes();
    let mut unwanted = Unwanted::default();
    let mut seen_services = Vec::new();
    for endpoint in layout.endpoints.iter().filter(|e| e.ours) {
        if !services.contains(&endpoint.service.as_str()) || seen_services.contains(&endpoint.service) {
            unwanted.endpoints.push(endpoint.id.clone());
        } else {
            seen_services.push(endpoint.service.clone());
        }
    }
    let kept_nats: Vec<&str> = nat_indexes.iter().filter_map(|i| layout.nat(*i)).map(|n| n.id.as_str()).collect();
    for nat in layout.nats.iter().filter(|n| n.ours && !kept_nats.contains(&n.id.as_str())) {
        unwanted.nats.push(nat.id.clone());
    }
    let mut kept_addresses: Vec<&str> = Vec::new();
    for address in &layout.addresses {
        let held_by_kept = layout
            .nats
            .iter()
            .any(|n| kept_nats.contains(&n.id.as_str()) && n.allocation_ids.contains(&address.allocation_id));
        let waiting_for_its_nat = address.index.is_some_and(|i| nat_indexes.contains(&i) && layout.nat(i).is_none())
            && !kept_addresses
                .iter()
                .any(|kept| layout.addresses.iter().any(|a| a.allocation_id == *kept && a.index == address.index));
        if held_by_kept || waiting_for_its_nat {
            kept_addresses.push(&address.allocation_id);
        } else if address.ours {
            unwanted.addresses.push(address.allocation_id.clone());
        }
    }
    for subnet in layout.subnets.iter().filter(|s| s.ours) {
        let Some(index) = subnet.index.filter(|i| *i < config.azs) else {
            unwanted.subnets.push(subnet.id.clone());
            continue;
        };
        // A second subnet of ours in the same role: the one the network uses is kept.
        if layout.subnet(subnet.role, index).is_some_and(|kept| kept.id != subnet.id) {
            unwanted.subnets.push(subnet.id.clone());
        }
    }
    let mut seen_tables = Vec::new();
    for table in layout.tables.iter().filter(|t| t.ours && !t.main) {
        let wanted = table.role.is_some_and(|role| wanted_tables(config).contains(&role));
        if !wanted || seen_tables.contains(&table.role) {
            unwanted.tables.push(table.id.clone());
        } else {
            seen_tables.push(table.role);
        }
    }
    let attached = layout.attached_gateway().map(|g| g.id.clone());
    let mut kept_gateway = attached.clone();
    for gateway in &layout.gateways {
        if Some(&gateway.id) == kept_gateway.as_ref() {
            continue;
        }
        if kept_gateway.is_none() && !gateway.attached {
            // A detached gateway of ours is attached instead of making another.
            kept_gateway = Some(gateway.id.clone());
            continue;
        }
        if !gateway.attached {
            unwanted.gateways.push(gateway.id.clone());
        }
    }
    unwanted
}

/// What an apply would fix, in words, for the plan and `provision drift`.
pub(super) fn repairs(config: &VpcConfig, layout: &Layout) -> Vec<String> {
    let mut repairs = Vec::new();
    if missing_gateway(layout) {
        repairs.push("the internet gateway is missing".to_string());
    }
    for (role, index) in missing_subnets(config, layout) {
        repairs.push(format!("the {} subnet in {} is missing", role.as_str(), layout.zone_label(index)));
    }
    for role in missing_tables(config, layout) {
        repairs.push(match role {
            TableRole::Public => "the public route table is missing".to_string(),
            TableRole::Private(i) => {
                format!("the route table of the private subnet in {} is missing", layout.zone_label(i))
            }
        });
    }
    for association in associations(config, layout) {
        repairs.push(format!("subnet {} is not served by its route table", association.subnet_id));
    }
    for change in route_changes(config, layout) {
        let wanted = match &change.wanted {
            Some(Target::Gateway(_)) => "the internet gateway",
            Some(Target::Nat(_)) => "its NAT gateway",
            _ => "nowhere",
        };
        repairs.push(format!("the {} route table's default route should go to {wanted}", change.label));
    }
    for index in missing_nats(config, layout) {
        repairs.push(format!("the NAT gateway in {} is missing", layout.zone_label(index)));
    }
    for (service, _) in missing_endpoints(config, layout) {
        repairs.push(format!("the `{service}` endpoint is missing"));
    }
    for reach in endpoint_reach(config, layout) {
        repairs.push(format!("the `{}` endpoint does not serve every zone", reach.service));
    }
    let unwanted = unwanted(config, layout);
    let extras = [
        ("endpoint", &unwanted.endpoints),
        ("NAT gateway", &unwanted.nats),
        ("Elastic IP address", &unwanted.addresses),
        ("subnet", &unwanted.subnets),
        ("route table", &unwanted.tables),
        ("internet gateway", &unwanted.gateways),
    ];
    for (kind, ids) in extras {
        repairs.extend(ids.iter().map(|id| format!("{kind} {id} is no longer wanted")));
    }
    repairs
}

#[cfg(test)]
mod tests {
    use super::super::layout::{AddressPart, Gateway, NatPart, SubnetPart, TablePart};
    use super::super::zones::Zone;
    use super::*;

    fn config(nat: &str, azs: i64, endpoints: &[&str]) -> VpcConfig {
        let inputs =
            serde_json::json!({ "nat": nat, "azs": azs, "endpoints": endpoints }).as_object().cloned().unwrap();
        VpcConfig::from_inputs(&inputs).unwrap()
    }

    fn subnet(role: Role, index: usize) -> SubnetPart {
        let zone = ["us-east-1a", "us-east-1b", "us-east-1c"][index];
        SubnetPart {
            id: format!("subnet-{}{index}", role.as_str()),
            cidr: String::new(),
            zone: Zone { name: zone.into(), id: String::new() },
            role,
            index: Some(index),
            ours: true,
        }
    }

    fn table(role: TableRole, subnets: &[&SubnetPart], route: Option<Target>) -> TablePart {
        TablePart {
            id: format!("rtb-{role:?}"),
            role: Some(role),
            main: false,
            associations: subnets.iter().map(|s| (format!("assoc-{}", s.id), s.id.clone())).collect(),
            default_route: route,
            ours: true,
        }
    }

    fn nat(index: usize) -> NatPart {
        NatPart {
            id: format!("nat-{index}"),
            subnet_id: format!("subnet-public{index}"),
            state: "available".into(),
            allocation_ids: vec![format!("eipalloc-{index}")],
            interface_ids: Vec::new(),
            index: Some(index),
            ours: true,
        }
    }

    fn address(index: usize) -> AddressPart {
        AddressPart { allocation_id: format!("eipalloc-{index}"), association_id: None, index: Some(index), ours: true }
    }

    /// A complete two-zone network with one NAT gateway and the S3 endpoint's routes left out.
    fn complete() -> Layout {
        let (p0, p1, q0, q1) =
            (subnet(Role::Public, 0), subnet(Role::Public, 1), subnet(Role::Private, 0), subnet(Role::Private, 1));
        let nat_route = Some(Target::Nat("nat-0".into()));
        Layout {
            vpc_id: "vpc-1".into(),
            cidr: "10.0.0.0/16".into(),
            gateways: vec![Gateway { id: "igw-1".into(), attached: true }],
            tables: vec![
                table(TableRole::Public, &[&p0, &p1], Some(Target::Gateway("igw-1".into()))),
                table(TableRole::Private(0), &[&q0], nat_route.clone()),
                table(TableRole::Private(1), &[&q1], nat_route),
            ],
            subnets: vec![p0, p1, q0, q1],
            nats: vec![nat(0)],
            addresses: vec![address(0)],
            ..Layout::default()
        }
    }

    #[test]
    fn a_complete_network_needs_nothing() {
        assert_eq!(repairs(&config("single", 2, &[]), &complete()), Vec::<String>::new());
    }

    #[test]
    fn per_az_wants_a_second_nat_gateway_and_then_its_route() {
        let per_az = config("per_az", 2, &[]);
        let mut layout = complete();
        assert_eq!(missing_addresses(&per_az, &layout), vec![1]);
        assert_eq!(missing_nats(&per_az, &layout), vec![1]);
        assert!(route_changes(&per_az, &layout).is_empty(), "the route waits for its NAT gateway");
        layout.nats.push(nat(1));
        layout.addresses.push(address(1));
        let changes = route_changes(&per_az, &layout);
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].wanted, Some(Target::Nat("nat-1".into())));
        assert_eq!(changes[0].label, "us-east-1b");
    }

    #[test]
    fn back_to_none_removes_the_routes_the_nat_gateway_and_its_address() {
        let none = config("none", 2, &[]);
        let layout = complete();
        let changes = route_changes(&none, &layout);
        assert_eq!(changes.iter().filter(|c| c.wanted.is_none()).count(), 2);
        let unwanted = unwanted(&none, &layout);
        assert_eq!(unwanted.nats, vec!["nat-0".to_string()]);
        assert_eq!(unwanted.addresses, vec!["eipalloc-0".to_string()]);
    }

    #[test]
    fn a_killed_create_leaves_parts_the_survey_completes() {
        let mut layout = complete();
        layout.gateways[0].attached = false;
        layout.nats.clear();
        layout.subnets.retain(|s| s.role == Role::Public);
        let wanted = config("single", 2, &["s3"]);
        let repairs = repairs(&wanted, &layout);
        assert!(repairs.contains(&"the internet gateway is missing".to_string()), "{repairs:?}");
        assert!(repairs.contains(&"the private subnet in us-east-1a is missing".to_string()), "{repairs:?}");
        assert!(repairs.contains(&"the NAT gateway in us-east-1a is missing".to_string()), "{repairs:?}");
        assert!(repairs.contains(&"the `s3` endpoint is missing".to_string()), "{repairs:?}");
        assert!(unwanted(&wanted, &layout).is_empty(), "the detached gateway and the waiting address are reused");
        assert!(missing_addresses(&wanted, &layout).is_empty(), "the address made before the kill is used");
    }

    /// What a create made twice leaves (its answer lost, the look for it too early): extras of ours.
    #[test]
    fn a_part_made_twice_is_an_extra_the_same_apply_removes() {
        let mut layout = complete();
        layout.gateways.push(Gateway { id: "igw-2".into(), attached: false });
        layout.addresses.push(AddressPart { allocation_id: "eipalloc-0b".into(), ..address(0) });
        layout.subnets.push(SubnetPart { id: "subnet-public0b".into(), ..subnet(Role::Public, 0) });
        let wanted = config("single", 2, &[]);
        let unwanted = unwanted(&wanted, &layout);
        assert_eq!(unwanted.gateways, vec!["igw-2".to_string()], "the attached one is kept");
        assert_eq!(unwanted.addresses, vec!["eipalloc-0b".to_string()], "the NAT gateway's is kept");
        assert_eq!(unwanted.subnets, vec!["subnet-public0b".to_string()], "the one first found is kept");
        let repairs = repairs(&wanted, &layout);
        assert!(repairs.contains(&"internet gateway igw-2 is no longer wanted".to_string()), "{repairs:?}");
        assert_eq!(repairs.len(), 3, "{repairs:?}");
        let mut before_nat = complete();
        before_nat.nats.clear();
        before_nat.addresses.push(AddressPart { allocation_id: "eipalloc-0b".into(), ..address(0) });
        assert_eq!(
            super::unwanted(&wanted, &before_nat).addresses,
            vec!["eipalloc-0b".to_string()],
            "one address waits for the NAT gateway"
        );
    }

    #[test]
    fn fewer_zones_leave_the_last_zone_s_parts_unwanted_and_adopted_parts_alone() {
        let mut layout = complete();
        layout.subnets.push(SubnetPart { ours: false, index: None, ..subnet(Role::Private, 2) });
        let one = config("single", 1, &[]);
        let unwanted = unwanted(&one, &layout);
        assert_eq!(unwanted.subnets, vec!["subnet-public1".to_string(), "subnet-private1".to_string()]);
        assert_eq!(unwanted.tables, vec!["rtb-Private(1)".to_string()]);
    }

    #[test]
    fn endpoints_serve_every_private_zone_and_every_route_table() {
        let mut layout = complete();
        layout.endpoints.push(super::super::layout::EndpointPart {
            id: "vpce-s3".into(),
            service: "s3".into(),
            gateway: true,
            table_ids: vec!["rtb-Public".into()],
            subnet_ids: Vec::new(),
            ours: true,
        });
        let wanted = config("single", 2, &["s3", "ecr"]);
        let missing: Vec<&str> = missing_endpoints(&wanted, &layout).into_iter().map(|(s, _)| s).collect();
        assert_eq!(missing, vec!["ecr.api", "ecr.dkr"]);
        let reach = endpoint_reach(&wanted, &layout);
        assert_eq!(reach[0].add_tables, vec!["rtb-Private(0)".to_string(), "rtb-Private(1)".to_string()]);
    }
}
