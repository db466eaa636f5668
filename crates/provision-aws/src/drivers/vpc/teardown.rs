//! Taking a VPC apart in the order AWS needs, and removing the parts a change no longer wants.
//!
//! A VPC can only go once nothing is in it, and its parts hold on to each other: an endpoint's
//! interfaces sit in the subnets, a NAT gateway holds its address and its subnet, a mapped public
//! address holds the internet gateway. So: endpoints (waiting until their interfaces are gone) and
//! NAT gateways (waiting until `deleted`) side by side, their addresses, the subnets (waiting out
//! the interfaces load balancers and ECS tasks leave for minutes after they are deleted) beside the
//! internet gateway (detached, then deleted), the route tables, the endpoints' security group, and
//! the VPC. Every
//! step reads what is there first, so a destroy killed half-way is finished by the next one; the
//! VPC itself found gone, the gateway and addresses made for it are still found by their tags.

use aws_sdk_ec2::types::Filter;
use aws_sdk_ec2::Client;

use super::config::VpcConfig;
use super::converge::Work;
use super::layout::{Layout, NatPart};
use super::{emulator, lifecycle, observation, survey};
use crate::behaviours::ec2::{ADDRESS_RELEASE, GATEWAY_DETACH, GROUP_DELETE, SUBNET_DELETE, VPC_DELETE};
use crate::drivers::{DriverError, ProgressSink};
use provision_core::address::Address;

/// Everything of the VPC `vpc_id`, then the VPC.
pub(super) async fn delete(
    ec2: &Client,
    address: &Address,
    progress: &dyn ProgressSink,
    vpc_id: &str,
) -> Result<(), DriverError> {
    let mut found = observation::find(ec2, &[vpc_id]).await?;
    let found = found.remove(vpc_id).unwrap_or_default();
    let exists = found.vpc.is_some();
    let layout = Layout::classify(vpc_id, &found);
    // Endpoints and NAT gateways each take a minute or more `deleting`: both at once. Then the
    // addresses they held; then subnets and the internet gateway (no address mapped any more) at
    // once; then the route tables the subnets were associated with.
    let endpoints: Vec<String> = layout.endpoints.iter().map(|e| e.id.clone()).collect();
    let (endpoints, nats) = tokio::join!(
        delete_endpoints(ec2, address, progress, &endpoints),
        delete_nats(ec2, address, progress, &layout.nats)
    );
    endpoints?;
    nats?;
    // Ours, and those of the NAT gateways just deleted: an adopted network's NAT gateways came
    // with their addresses, which nothing holds once they are gone.
    let mut addresses: Vec<String> =
        layout.addresses.iter().filter(|a| a.ours).map(|a| a.allocation_id.clone()).collect();
    for allocation in layout.nats.iter().flat_map(|nat| nat.allocation_ids.iter()) {
        if !addresses.contains(allocation) {
            addresses.push(allocation.clone());
        }
    }
    release(ec2, address, progress, &addresses).await?;
    let subnets: Vec<String> = layout.subnets.iter().map(|s| s.id.clone()).collect();
    let (subnets, gateways) = tokio::join!(delete_subnets(ec2, address, progress, &layout, &subnets), async {
        for gateway in &layout.gateways {
            delete_gateway(ec2, address, progress, vpc_id, &gateway.id, gateway.attached).await?;
        }
        Ok::<(), DriverError>(())
    });
    subnets?;
    gateways?;
    let tables: Vec<String> = layout.tables.iter().filter(|t| !t.main).map(|t| t.id.clone()).collect();
    delete_tables(ec2, &layout, &tables).await?;
    if let Some(group) = &layout.endpoint_group {
        delete_group(ec2, address, progress, group).await?;
    }
    if !exists {
        return Ok(());
    }
    let deleted = VPC_DELETE
        .run_reporting(address, progress, || async {
            ec2.delete_vpc()
                .vpc_id(vpc_id)
                .send()
                .await
                .map(|_| ())
                .map_err(|error| crate::aws_error("DeleteVpc", error))
        })
        .await;
    match deleted {
        Err(error) if error.code_is("InvalidVpcID.NotFound") => Ok(()),
        Err(error) if error.code_is("DependencyViolation") => Err(error.with_hint(format!(
            "{}; delete them (or `provision destroy` the stack that made them), then run again",
            what_remains(ec2, vpc_id).await
        ))),
        other => other,
    }
}

/// The parts a change of `config` no longer wants (see `survey::unwanted`), in the same order.
pub(super) async fn remove_unwanted(
    work: &Work<'_>,
    config: &VpcConfig,
    layout: &mut Layout,
) -> Result<(), DriverError> {
    let unwanted = survey::unwanted(config, layout);
    if unwanted.is_empty() {
        return remove_unused_group(work, config, layout).await;
    }
    let (ec2, address, progress) = (work.ec2, work.address, work.progress);
    delete_endpoints(ec2, address, progress, &unwanted.endpoints).await?;
    layout.endpoints.retain(|e| !unwanted.endpoints.contains(&e.id));
    let nats: Vec<NatPart> = layout.nats.iter().filter(|n| unwanted.nats.contains(&n.id)).cloned().collect();
    delete_nats(ec2, address, progress, &nats).await?;
    layout.nats.retain(|n| !unwanted.nats.contains(&n.id));
    // The addresses of the NAT gateways just deleted are free now, and no longer wanted either.
    let unwanted = survey::unwanted(config, layout);
    release(ec2, address, progress, &unwanted.addresses).await?;
    layout.addresses.retain(|a| !unwanted.addresses.contains(&a.allocation_id));
    delete_subnets(ec2, address, progress, layout, &unwanted.subnets).await?;
    layout.subnets.retain(|s| !unwanted.subnets.contains(&s.id));
    delete_tables(ec2, layout, &unwanted.tables).await?;
    layout.tables.retain(|t| !unwanted.tables.contains(&t.id));
    for gateway in &unwanted.gateways {
        delete_gateway(ec2, address, progress, &layout.vpc_id, gateway, false).await?;
    }
    layout.gateways.retain(|g| !unwanted.gateways.contains(&g.id));
    remove_unused_group(work, config, layout).await
}

/// The endpoints' security group, once no interface endpoint is wanted.
async fn remove_unused_group(work: &Work<'_>, config: &VpcConfig, layout: &mut Layout) -> Result<(), DriverError> {
    let interfaces_left = layout.endpoints.iter().any(|e| !e.gateway);
    if let (Some(group), false, false) = (&layout.endpoint_group, config.has_interface_endpoints(), interfaces_left) {
        delete_group(work.ec2, work.address, work.progress, group).await?;
        layout.endpoint_group = None;
    }
    Ok(())
}

async fn delete_endpoints(
    ec2: &Client,
    address: &Address,
    progress: &dyn ProgressSink,
    ids: &[String],
) -> Result<(), DriverError> {
    if ids.is_empty() {
        return Ok(());
    }
    let answer = ec2
        .delete_vpc_endpoints()
        .set_vpc_endpoint_ids(Some(ids.to_vec()))
        .send()
        .await
        .map_err(|error| crate::aws_error("DeleteVpcEndpoints", error))?;
    if let Some(failed) = answer
        .unsuccessful()
        .iter()
        .find(|item| item.error().and_then(|e| e.code()).is_some_and(|code| !code.contains("NotFound")))
    {
        let error = failed.error();
        return Err(DriverError::service(
            "DeleteVpcEndpoints",
            error.and_then(|e| e.code()).map(str::to_string),
            format!(
                "{}: {}",
                failed.resource_id().unwrap_or_default(),
                error.and_then(|e| e.message()).unwrap_or_default()
            ),
        ));
    }
    // Their interfaces leave the subnets only once they are gone.
    lifecycle::endpoints_deleted(ec2, address, progress, ids).await
}

async fn delete_nats(
    ec2: &Client,
    address: &Address,
    progress: &dyn ProgressSink,
    nats: &[NatPart],
) -> Result<(), DriverError> {
    if nats.is_empty() {
        return Ok(());
    }
    for nat in nats {
        let deleted = ec2.delete_nat_gateway().nat_gateway_id(&nat.id).send().await;
        match deleted.map_err(|error| crate::aws_error("DeleteNatGateway", error)) {
            Err(error) if error.code_is("NatGatewayNotFound") || error.code_is("InvalidNatGatewayID.NotFound") => {}
            other => {
                other?;
            }
        }
    }
    let ids: Vec<String> = nats.iter().map(|n| n.id.clone()).collect();
    // Until then the NAT gateway still holds its address and its interface.
    lifecycle::nats_deleted(ec2, address, progress, &ids).await?;
    let interfaces: Vec<String> = nats.iter().flat_map(|n| n.interface_ids.iter().cloned()).collect();
    emulator::remove_nat_interfaces(ec2, &interfaces).await;
    Ok(())
}

async fn release(
    ec2: &Client,
    address: &Address,
    progress: &dyn ProgressSink,
    allocations: &[String],
) -> Result<(), DriverError> {
    for allocation in allocations {
        let released = ADDRESS_RELEASE
            .run_reporting(address, progress, || async {
                ec2.release_address()
                    .allocation_id(allocation)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|error| crate::aws_error("ReleaseAddress", error))
            })
            .await;
        match released {
            Err(error) if error.code_is("InvalidAllocationID.NotFound") => {}
            other => other?,
        }
    }
    Ok(())
}

async fn delete_subnets(
    ec2: &Client,
    address: &Address,
    progress: &dyn ProgressSink,
    layout: &Layout,
    subnets: &[String],
) -> Result<(), DriverError> {
    let deletions = subnets.iter().map(|subnet| async move {
        // AWS drops a deleted subnet's association; the emulator keeps it and then refuses to
        // delete the route table. Disassociating first works for both.
        for (association, _) in
            layout.tables.iter().filter(|t| !t.main).flat_map(|t| t.associations.iter()).filter(|(_, s)| s == subnet)
        {
            let answer = ec2.disassociate_route_table().association_id(association).send().await;
            match answer.map_err(|error| crate::aws_error("DisassociateRouteTable", error)) {
                Err(error) if error.code_is("InvalidAssociationID.NotFound") => {}
                other => {
                    other?;
                }
            }
        }
        let deleted = SUBNET_DELETE
            .run_reporting(address, progress, || async {
                ec2.delete_subnet()
                    .subnet_id(subnet)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|error| crate::aws_error("DeleteSubnet", error))
            })
            .await;
        match deleted {
            Err(error) if error.code_is("InvalidSubnetID.NotFound") => Ok(()),
            Err(error) if error.code_is("DependencyViolation") => {
                let remaining = interfaces(ec2, "subnet-id", subnet).await;
                Err(error.with_hint(format!(
                    "these network interfaces are still in the subnet: {remaining}; a load balancer's or an ECS task's \
                     go away minutes after their owner, so run the command again later"
                )))
            }
            other => other,
        }
    });
    futures::future::try_join_all(deletions).await.map(|_| ())
}

async fn delete_tables(ec2: &Client, layout: &Layout, tables: &[String]) -> Result<(), DriverError> {
    for table in tables {
        for (association, _) in layout.tables.iter().filter(|t| &t.id == table).flat_map(|t| t.associations.iter()) {
            let answer = ec2.disassociate_route_table().association_id(association).send().await;
            match answer.map_err(|error| crate::aws_error("DisassociateRouteTable", error)) {
                Err(error) if error.code_is("InvalidAssociationID.NotFound") => {}
                other => {
                    other?;
                }
            }
        }
        let deleted = ec2.delete_route_table().route_table_id(table).send().await;
        match deleted.map_err(|error| crate::aws_error("DeleteRouteTable", error)) {
            Err(error) if error.code_is("InvalidRouteTableID.NotFound") => {}
            other => {
                other?;
            }
        }
    }
    Ok(())
}

async fn delete_gateway(
    ec2: &Client,
    address: &Address,
    progress: &dyn ProgressSink,
    vpc_id: &str,
    gateway: &str,
    attached: bool,
) -> Result<(), DriverError> {
    if attached {
        let detached = GATEWAY_DETACH
            .run_reporting(address, progress, || async {
                ec2.detach_internet_gateway()
                    .internet_gateway_id(gateway)
                    .vpc_id(vpc_id)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|error| crate::aws_error("DetachInternetGateway", error))
            })
            .await;
        match detached {
            Err(error)
                if error.code_is("Gateway.NotAttached") || error.code_is("InvalidInternetGatewayID.NotFound") => {}
            other => other?,
        }
    }
    let deleted = ec2.delete_internet_gateway().internet_gateway_id(gateway).send().await;
    match deleted.map_err(|error| crate::aws_error("DeleteInternetGateway", error)) {
        Err(error) if error.code_is("InvalidInternetGatewayID.NotFound") => Ok(()),
        other => other.map(|_| ()),
    }
}

async fn delete_group(
    ec2: &Client,
    address: &Address,
    progress: &dyn ProgressSink,
    group: &str,
) -> Result<(), DriverError> {
    // The endpoints' interfaces let go of their group minutes after the endpoints are deleted.
    let deleted = GROUP_DELETE
        .run_reporting(address, progress, || async {
            ec2.delete_security_group()
                .group_id(group)
                .send()
                .await
                .map(|_| ())
                .map_err(|error| crate::aws_error("DeleteSecurityGroup", error))
        })
        .await;
    match deleted {
        Err(error) if error.code_is("InvalidGroup.NotFound") => Ok(()),
        other => other,
    }
}

/// The network interfaces `filter = value` finds, for a message: `eni-1 (ELB app/shop-web/…), …`.
async fn interfaces(ec2: &Client, filter: &str, value: &str) -> String {
    let answer =
        ec2.describe_network_interfaces().filters(Filter::builder().name(filter).values(value).build()).send().await;
    match answer {
        Ok(answer) if !answer.network_interfaces().is_empty() => answer
            .network_interfaces()
            .iter()
            .map(|eni| {
                let id = eni.network_interface_id().unwrap_or_default();
                match eni.description().filter(|d| !d.is_empty()) {
                    Some(description) => format!("{id} ({description})"),
                    None => id.to_string(),
                }
            })
            .collect::<Vec<_>>()
            .join(", "),
        Ok(_) => "none any more".to_string(),
        Err(_) => "(could not list them)".to_string(),
    }
}

/// What keeps a VPC from being deleted, for the error.
async fn what_remains(ec2: &Client, vpc_id: &str) -> String {
    let groups = ec2
        .describe_security_groups()
        .filters(Filter::builder().name("vpc-id").values(vpc_id).build())
        .send()
        .await
        .map(|answer| {
            answer
                .security_groups()
                .iter()
                .filter(|g| g.group_name() != Some("default"))
                .filter_map(|g| g.group_id().map(str::to_string))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    let mut parts = vec![format!("network interfaces: {}", interfaces(ec2, "vpc-id", vpc_id).await)];
    if !groups.is_empty() {
        parts.push(format!("security groups: {}", groups.join(", ")));
    }
    format!("the VPC still holds {}", parts.join("; "))
}
