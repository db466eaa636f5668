//! Making a VPC's parts, and changing them in place: the survey's answers worked through in the
//! order AWS needs (a gateway before the route to it, a subnet before its NAT gateway, the NAT
//! gateway before the routes to it, routes moved before a NAT gateway goes).
//!
//! Each part is made with its tags in the same call (`TagSpecifications`), NAT gateways, route
//! tables and endpoints also with a client token, so that a run killed at any point leaves only
//! parts the next run finds by their tags (`layout.rs`) and completes (`survey.rs`). The parts
//! that take no token are made by `tokenless.rs`, which finds by those tags what a create whose
//! answer was lost made, rather than making it twice. A create is
//! therefore the VPC itself, tagged with the token its intent recorded, and then the same work an
//! update does.

use std::collections::BTreeMap;

use aws_sdk_ec2::types::{AttributeBooleanValue, Filter, ResourceType, Tag, TagSpecification};
use aws_sdk_ec2::Client;

use super::config::{Role, VpcConfig};
use super::layout::{
    AddressPart, Gateway, Layout, NatPart, SubnetPart, TablePart, TableRole, Target, PART_TAG, TOKEN_TAG, VPC_TAG,
};
use super::{endpoints, lifecycle, survey, teardown, tokenless, zones};
use crate::behaviours::ec2::NEW_NETWORK_PART;
use crate::drivers::{DriverError, ProgressSink};
use provision_core::address::Address;

/// What every call of one create or update shares.
pub(super) struct Work<'a> {
    pub ec2: &'a Client,
    pub address: &'a Address,
    pub region: &'a str,
    pub progress: &'a dyn ProgressSink,
    /// The VPC's `name`: parts are named after it.
    pub name: &'a str,
    /// The tags every part carries (the user's and provision's).
    pub tags: &'a BTreeMap<String, String>,
}

impl Work<'_> {
    /// The tags of one part, for the call that makes it.
    pub(super) fn tagging(&self, kind: ResourceType, vpc_id: &str, part: &str, name: &str) -> TagSpecification {
        let mut tags: Vec<Tag> = self.tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect();
        tags.push(Tag::builder().key(VPC_TAG).value(vpc_id).build());
        tags.push(Tag::builder().key(PART_TAG).value(part).build());
        tags.push(Tag::builder().key("Name").value(format!("{}-{name}", self.name)).build());
        TagSpecification::builder().resource_type(kind).set_tags(Some(tags)).build()
    }

    /// The full name of an AWS service in this region, e.g. `com.amazonaws.us-east-1.ecr.dkr`.
    pub(super) fn service_name(&self, service: &str) -> String {
        let prefix = if self.region.starts_with("cn-") { "cn.com.amazonaws" } else { "com.amazonaws" };
        format!("{prefix}.{}.{service}", self.region)
    }
}

/// A token for one create call: the SDK's own retries of that call send the same one.
pub(super) fn token() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// Makes the VPC (tagged with `token`, which the state's intent recorded), then all its parts.
pub(super) async fn create(work: &Work<'_>, config: &VpcConfig, token: &str) -> Result<Layout, DriverError> {
    let mut tags: Vec<Tag> = work.tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect();
    tags.push(Tag::builder().key(TOKEN_TAG).value(token).build());
    tags.push(Tag::builder().key("Name").value(work.name).build());
    let tagging = TagSpecification::builder().resource_type(ResourceType::Vpc).set_tags(Some(tags)).build();
    let vpc_id = tokenless::vpc(work, &config.cidr, tagging, token).await?;
    if vpc_id.is_empty() {
        return Err(DriverError::invalid("CreateVpc answered without a VPC id"));
    }
    let mut layout = Layout { vpc_id: vpc_id.clone(), cidr: config.cidr.clone(), ..Layout::default() };
    layout.tags = work.tags.clone();
    layout.tags.insert("Name".into(), work.name.to_string());
    let (dns, parts) = tokio::join!(enable_dns_hostnames(work, &vpc_id), converge(work, config, &mut layout));
    dns?;
    parts?;
    remove_duplicates(work, token, &vpc_id).await?;
    Ok(layout)
}
/// VPCs made by this create besides the one it used: `CreateVpc`'s answer was lost and the look by
/// the token (`tokenless::vpc`) came too early for AWS's tag-filtered reads, so the create was sent
/// again. By the time every part is made those reads have caught up; each extra, carrying the
/// token and nothing of ours inside, is taken apart now rather than left for `state orphans`.
async fn remove_duplicates(work: &Work<'_>, token: &str, kept: &str) -> Result<(), DriverError> {
    let answer = work
        .ec2
        .describe_vpcs()
        .filters(Filter::builder().name(format!("tag:{TOKEN_TAG}")).values(token).build())
        .send()
        .await
        .map_err(|error| crate::aws_error("DescribeVpcs", error))?;
    let found: Vec<(&str, &[Tag])> = answer.vpcs().iter().filter_map(|vpc| Some((vpc.vpc_id()?, vpc.tags()))).collect();
    for extra in duplicates(&found, token, kept) {
        tracing::info!("{}: VPC {extra} was made by a create whose answer was lost; removing it", work.address);
        teardown::delete(work.ec2, work.address, work.progress, &extra).await?;
    }
    Ok(())
}

/// The VPCs of `found` that carry `token` (checked again: a filter an endpoint ignores would answer
/// every VPC) other than `kept`.
fn duplicates(found: &[(&str, &[Tag])], token: &str, kept: &str) -> Vec<String> {
    found
        .iter()
        .filter(|(id, tags)| {
            *id != kept && tags.iter().any(|tag| tag.key() == Some(TOKEN_TAG) && tag.value() == Some(token))
        })
        .map(|(id, _)| id.to_string())
        .collect()
}

/// Interface endpoints answer under the services' own names only with DNS hostnames on.
pub(super) async fn enable_dns_hostnames(work: &Work<'_>, vpc_id: &str) -> Result<(), DriverError> {
    NEW_NETWORK_PART
        .run(|| async {
            work.ec2
                .modify_vpc_attribute()
                .vpc_id(vpc_id)
                .enable_dns_hostnames(AttributeBooleanValue::builder().value(true).build())
                .send()
                .await
                .map_err(|error| crate::aws_error("ModifyVpcAttribute", error))
        })
        .await?;
    Ok(())
}

/// Brings the VPC's parts to what `config` describes.
///
/// The NAT gateways are what takes long (minutes `pending`, `ec2.nat-gateway-lifecycle`), so they
/// are made as early as AWS lets them be — once their public subnet, their address and the
/// attached internet gateway exist — and waited out together with the interface endpoints while
/// the route tables are made: a new network takes the NAT gateway's time and the few seconds
/// before it, not the sum of every step. The parts that name only the VPC (its internet gateway,
/// its subnets, the NAT gateways' addresses) are made at once, each meeting the fresh VPC's
/// `ec2.network-not-found-after-create` window side by side rather than one after another.
pub(super) async fn converge(work: &Work<'_>, config: &VpcConfig, layout: &mut Layout) -> Result<(), DriverError> {
    let (gateway, subnets, addresses) =
        tokio::join!(new_gateway(work, layout), subnets(work, config, layout), addresses(work, config, layout));
    let (gateway, subnets, addresses) = (gateway?, subnets?, addresses?);
    layout.gateways.extend(gateway);
    layout.subnets.extend(subnets);
    layout.addresses.extend(addresses);
    attach_gateway(work, layout).await?;
    nat_gateways(work, config, layout).await?;
    tables(work, config, layout).await?;
    associations(work, config, layout).await?;
    routes(work, config, layout).await?;
    let interfaces = endpoints::make(work, config, layout).await?;
    // Routes to a NAT gateway that is not yet available carry no traffic: the private subnets are
    // pointed at it once it is (and a task started before its endpoints answer cannot pull its image).
    let pending: Vec<String> = layout.nats.iter().filter(|n| n.state == "pending").map(|n| n.id.clone()).collect();
    let (nats, endpoints) = tokio::join!(
        async {
            if pending.is_empty() {
                return Ok(());
            }
            lifecycle::nats_available(work.ec2, work.address, work.progress, &pending).await
        },
        async {
            if interfaces.is_empty() {
                return Ok(());
            }
            lifecycle::endpoints_available(work.ec2, work.address, work.progress, &interfaces).await
        }
    );
    nats?;
    endpoints?;
    for nat in layout.nats.iter_mut().filter(|n| pending.contains(&n.id)) {
        nat.state = "available".into();
    }
    routes(work, config, layout).await?;
    teardown::remove_unwanted(work, config, layout).await
}

/// The internet gateway to make, unless the VPC has one (attached or ours, left detached).
async fn new_gateway(work: &Work<'_>, layout: &Layout) -> Result<Option<Gateway>, DriverError> {
    if !survey::missing_gateway(layout) || layout.gateways.iter().any(|g| !g.attached) {
        return Ok(None);
    }
    let tagging = work.tagging(ResourceType::InternetGateway, &layout.vpc_id, "internet-gateway", "igw");
    let id = tokenless::gateway(work, &layout.vpc_id, tagging).await?;
    Ok(Some(Gateway { id, attached: false }))
}

async fn attach_gateway(work: &Work<'_>, layout: &mut Layout) -> Result<(), DriverError> {
    if !survey::missing_gateway(layout) {
        return Ok(());
    }
    let vpc_id = layout.vpc_id.clone();
    let Some(id) = layout.gateways.iter().find(|g| !g.attached).map(|g| g.id.clone()) else {
        return Ok(());
    };
    let attached = NEW_NETWORK_PART
        .run(|| async {
            work.ec2
                .attach_internet_gateway()
                .internet_gateway_id(&id)
                .vpc_id(&vpc_id)
                .send()
                .await
                .map_err(|error| crate::aws_error("AttachInternetGateway", error))
        })
        .await;
    if let Err(error) = attached {
        // The SDK's retry of an attach whose answer was lost meets the attachment it made
        // (`any.response-lost`).
        if !(error.code_is("Resource.AlreadyAssociated") && gateway_attached(work, &id, &vpc_id).await?) {
            return Err(error);
        }
    }
    if let Some(gateway) = layout.gateways.iter_mut().find(|g| g.id == id) {
        gateway.attached = true;
    }
    Ok(())
}

/// Whether the internet gateway `id` is attached to the VPC `vpc_id`.
async fn gateway_attached(work: &Work<'_>, id: &str, vpc_id: &str) -> Result<bool, DriverError> {
    let answer = work
        .ec2
        .describe_internet_gateways()
        .filters(Filter::builder().name("attachment.vpc-id").values(vpc_id).build())
        .send()
        .await
        .map_err(|error| crate::aws_error("DescribeInternetGateways", error))?;
    Ok(answer.internet_gateways().iter().any(|g| g.internet_gateway_id() == Some(id)))
}

/// The subnets to make, made one after another (each range is chosen beside the ones before it).
async fn subnets(work: &Work<'_>, config: &VpcConfig, layout: &Layout) -> Result<Vec<SubnetPart>, DriverError> {
    let missing = survey::missing_subnets(config, layout);
    if missing.is_empty() {
        return Ok(Vec::new());
    }
    let in_use: BTreeMap<usize, zones::Zone> =
        (0..config.azs).filter_map(|i| layout.zone(i).map(|zone| (i, zone.clone()))).collect();
    let usable = if missing.iter().all(|(_, index)| in_use.contains_key(index)) {
        Vec::new()
    } else {
        zones::usable(work.ec2, work.region).await?
    };
    let chosen = zones::choose(config.azs, &in_use, &usable, work.region)?;
    let mut made: Vec<SubnetPart> = Vec::new();
    for (role, index) in missing {
        let zone = &chosen[index];
        let taken: Vec<String> = layout.subnets.iter().chain(&made).map(|s| s.cidr.clone()).collect();
        let cidr = super::config::subnet_range(&layout.cidr, role, index, &taken)?;
        let part = format!("{}-subnet-{index}", role.as_str());
        let tagging =
            work.tagging(ResourceType::Subnet, &layout.vpc_id, &part, &format!("{}-{}", role.as_str(), zone.name));
        let vpc_id = layout.vpc_id.clone();
        let id =
            NEW_NETWORK_PART.run(|| tokenless::subnet(work, &vpc_id, (&cidr, &zone.name), &part, &tagging)).await?;
        made.push(SubnetPart { id, cidr, zone: zone.clone(), role, index: Some(index), ours: true });
    }
    Ok(made)
}

async fn tables(work: &Work<'_>, config: &VpcConfig, layout: &mut Layout) -> Result<(), DriverError> {
    for role in survey::missing_tables(config, layout) {
        let (part, name) = match role {
            TableRole::Public => ("public-route-table".to_string(), "public".to_string()),
            TableRole::Private(i) => (format!("private-route-table-{i}"), format!("private-{}", layout.zone_label(i))),
        };
        let tagging = work.tagging(ResourceType::RouteTable, &layout.vpc_id, &part, &name);
        let (vpc_id, token) = (layout.vpc_id.clone(), token());
        let created = NEW_NETWORK_PART
            .run(|| async {
                work.ec2
                    .create_route_table()
                    .vpc_id(&vpc_id)
                    .client_token(&token)
                    .tag_specifications(tagging.clone())
                    .send()
                    .await
                    .map_err(|error| crate::aws_error("CreateRouteTable", error))
            })
            .await?;
        let id = created.route_table().and_then(|t| t.route_table_id()).unwrap_or_default().to_string();
        layout.tables.push(TablePart {
            id,
            role: Some(role),
            main: false,
            associations: Vec::new(),
            default_route: None,
            ours: true,
        });
    }
    Ok(())
}

async fn associations(work: &Work<'_>, config: &VpcConfig, layout: &mut Layout) -> Result<(), DriverError> {
    for needed in survey::associations(config, layout) {
        let association = match &needed.replaces {
            Some(old) => {
                NEW_NETWORK_PART
                    .run(|| async {
                        work.ec2
                            .replace_route_table_association()
                            .association_id(old)
                            .route_table_id(&needed.table_id)
                            .send()
                            .await
                            .map(|answer| answer.new_association_id.unwrap_or_default())
                            .map_err(|error| crate::aws_error("ReplaceRouteTableAssociation", error))
                    })
                    .await
            }
            None => {
                NEW_NETWORK_PART
                    .run(|| async {
                        work.ec2
                            .associate_route_table()
                            .route_table_id(&needed.table_id)
                            .subnet_id(&needed.subnet_id)
                            .send()
                            .await
                            .map(|answer| answer.association_id.unwrap_or_default())
                            .map_err(|error| crate::aws_error("AssociateRouteTable", error))
                    })
                    .await
            }
        };
        let association = match association {
            // The SDK's retry of a call whose answer was lost meets what it did (`any.response-lost`):
            // the subnet already served (`Resource.AlreadyAssociated`), the association replaced
            // gone (`InvalidAssociationID.NotFound`). Done if the subnet is with the wanted table.
            Err(error)
                if error.code_is("Resource.AlreadyAssociated") || error.code_is("InvalidAssociationID.NotFound") =>
            {
                association_of(work, &needed.subnet_id, &needed.table_id).await?.ok_or(error)?
            }
            other => other?,
        };
        for table in layout.tables.iter_mut() {
            table.associations.retain(|(_, subnet)| subnet != &needed.subnet_id);
            if table.id == needed.table_id {
                table.associations.push((association.clone(), needed.subnet_id.clone()));
            }
        }
    }
    Ok(())
}

/// The association of the subnet `subnet_id` with the route table `table_id`, if it has one.
async fn association_of(work: &Work<'_>, subnet_id: &str, table_id: &str) -> Result<Option<String>, DriverError> {
    let answer = work
        .ec2
        .describe_route_tables()
        .filters(Filter::builder().name("association.subnet-id").values(subnet_id).build())
        .send()
        .await
        .map_err(|error| crate::aws_error("DescribeRouteTables", error))?;
    Ok(answer
        .route_tables()
        .iter()
        .filter(|table| table.route_table_id() == Some(table_id))
        .flat_map(|table| table.associations())
        .find(|a| a.subnet_id() == Some(subnet_id))
        .and_then(|a| a.route_table_association_id())
        .map(str::to_string))
}

async fn routes(work: &Work<'_>, config: &VpcConfig, layout: &mut Layout) -> Result<(), DriverError> {
    for change in survey::route_changes(config, layout) {
        // A NAT gateway still `pending` is routed to once it is available (see `converge`).
        let pending = |id: &String| layout.nats.iter().any(|n| &n.id == id && n.state == "pending");
        if matches!(&change.wanted, Some(Target::Nat(id)) if pending(id)) {
            continue;
        }
        let table = change.table_id.as_str();
        match (&change.current, &change.wanted) {
            (_, Some(target)) => {
                let replace = change.current.is_some();
                NEW_NETWORK_PART.run(|| default_route(work, table, target, replace)).await?;
            }
            (Some(_), None) => {
                let deleted = work
                    .ec2
                    .delete_route()
                    .route_table_id(table)
                    .destination_cidr_block("0.0.0.0/0")
                    .send()
                    .await
                    .map_err(|error| crate::aws_error("DeleteRoute", error));
                match deleted {
                    Err(error) if error.code_is("InvalidRoute.NotFound") => {}
                    other => {
                        other?;
                    }
                }
            }
            (None, None) => continue,
        }
        if let Some(table) = layout.tables.iter_mut().find(|t| t.id == change.table_id) {
            table.default_route = change.wanted.clone();
        }
    }
    Ok(())
}

/// Points the table's `0.0.0.0/0` at `target`: made, or (`replace`) changed.
async fn default_route(work: &Work<'_>, table: &str, target: &Target, replace: bool) -> Result<(), DriverError> {
    if !replace {
        let request = work.ec2.create_route().route_table_id(table).destination_cidr_block("0.0.0.0/0");
        let request = match target {
            Target::Nat(id) => request.nat_gateway_id(id),
            Target::Gateway(id) | Target::Other(id) => request.gateway_id(id),
        };
        match request.send().await.map(|_| ()).map_err(|error| crate::aws_error("CreateRoute", error)) {
            // The SDK's retry of a create whose answer was lost meets the route it made
            // (`any.response-lost`): replaced below, so it surely goes to `target`.
            Err(error) if error.code_is("RouteAlreadyExists") => {}
            other => return other,
        }
    }
    let request = work.ec2.replace_route().route_table_id(table).destination_cidr_block("0.0.0.0/0");
    let request = match target {
        Target::Nat(id) => request.nat_gateway_id(id),
        Target::Gateway(id) | Target::Other(id) => request.gateway_id(id),
    };
    request.send().await.map(|_| ()).map_err(|error| crate::aws_error("ReplaceRoute", error))
}

/// The Elastic IP addresses the NAT gateways to make need.
async fn addresses(work: &Work<'_>, config: &VpcConfig, layout: &Layout) -> Result<Vec<AddressPart>, DriverError> {
    let mut made = Vec::new();
    for index in survey::missing_addresses(config, layout) {
        let name = format!("nat-{}", layout.zone_label(index));
        let part = format!("nat-address-{index}");
        let tagging = work.tagging(ResourceType::ElasticIp, &layout.vpc_id, &part, &name);
        let allocation_id = tokenless::address(work, &layout.vpc_id, &part, tagging).await?;
        made.push(AddressPart { allocation_id, association_id: None, index: Some(index), ours: true });
    }
    Ok(made)
}

/// Makes the missing NAT gateways, recorded `pending` in the layout (`converge` waits for them).
async fn nat_gateways(work: &Work<'_>, config: &VpcConfig, layout: &mut Layout) -> Result<(), DriverError> {
    super::emulator::free_deleted_nat_addresses(&work.ec2, layout).await;
    for index in survey::missing_nats(config, layout) {
        let subnet = layout.subnet(Role::Public, index).map(|s| s.id.clone()).ok_or_else(|| {
            DriverError::invalid(format!(
                "the public subnet in {} is missing for its NAT gateway",
                layout.zone_label(index)
            ))
        })?;
        let held: Vec<&String> =
            layout.nats.iter().filter(|n| n.is_live()).flat_map(|n| n.allocation_ids.iter()).collect();
        let allocation = layout
            .addresses
            .iter()
            .find(|a| a.index == Some(index) && !held.contains(&&a.allocation_id))
            .map(|a| a.allocation_id.clone())
            .ok_or_else(|| {
                DriverError::invalid(format!("no address for the NAT gateway in {}", layout.zone_label(index)))
            })?;
        let name = format!("nat-{}", layout.zone_label(index));
        let tagging = work.tagging(ResourceType::Natgateway, &layout.vpc_id, &format!("nat-gateway-{index}"), &name);
        let token = token();
        let created = NEW_NETWORK_PART
            .run(|| async {
                work.ec2
                    .create_nat_gateway()
                    .subnet_id(&subnet)
                    .allocation_id(&allocation)
                    .client_token(&token)
                    .tag_specifications(tagging.clone())
                    .send()
                    .await
                    .map_err(|error| crate::aws_error("CreateNatGateway", error))
            })
            .await?;
        let id = created.nat_gateway().and_then(|n| n.nat_gateway_id()).unwrap_or_default().to_string();
        layout.nats.push(NatPart {
            id,
            subnet_id: subnet,
            state: "pending".into(),
            allocation_ids: vec![allocation],
            interface_ids: Vec::new(),
            index: Some(index),
            ours: true,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What neither the emulator nor the profile reaches (their tag-filtered reads never lag): two
    /// VPCs carrying one create's token. The one in use stays; the other is the extra.
    #[test]
    fn a_second_vpc_with_the_creates_token_is_an_extra() {
        let tag = |key: &str, value: &str| Tag::builder().key(key).value(value).build();
        let ours = [tag(TOKEN_TAG, "token:a"), tag("provision:stack", "web")];
        let other = [tag(TOKEN_TAG, "token:b")];
        let found: Vec<(&str, &[Tag])> = vec![("vpc-1", &ours), ("vpc-2", &ours), ("vpc-3", &other), ("vpc-4", &[])];
        assert_eq!(duplicates(&found, "token:a", "vpc-1"), ["vpc-2"]);
        assert!(duplicates(&found[..1], "token:a", "vpc-1").is_empty());
    }
}
