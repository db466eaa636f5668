//! Where the emulator's EC2 differs from AWS for a VPC's parts, in one place.
//!
//! moto 5.1.22 keeps a deleted NAT gateway's network interface, `available` and not managed by
//! anyone, after the NAT gateway is `deleted`; AWS removes it with the NAT gateway (it is
//! requester-managed and cannot be deleted by the account). Such an interface is deleted here. On
//! AWS the interface is gone (the look-up finds nothing) or requester-managed (left alone), so
//! nothing changes there; the only cost is one `DescribeNetworkInterfaces` per deleted NAT gateway.
//!
//! moto 5.1.22 also keeps a deleted NAT gateway's Elastic IP address associated, so a new NAT
//! gateway given it (a repair of one deleted by hand) fails with `Resource.AlreadyAssociated`.
//! AWS disassociates the address when the NAT gateway is deleted ("the Elastic IP address is
//! disassociated but not released"). An address of ours that still names an association while
//! the only NAT gateways that held it are `deleted` is disassociated here; on AWS such an address
//! has no association, so nothing is called.

use aws_sdk_ec2::types::Filter;
use aws_sdk_ec2::Client;

use super::layout::Layout;

/// Disassociates the addresses of ours that still read as associated although no live NAT gateway
/// holds them and a `deleted` one of the VPC did, and removes the interfaces those left.
pub(super) async fn free_deleted_nat_addresses(ec2: &Client, layout: &mut Layout) {
    let held_by_live =
        |allocation: &str| layout.nats.iter().any(|n| n.is_live() && n.allocation_ids.iter().any(|a| a == allocation));
    let candidates: Vec<usize> = (0..layout.addresses.len())
        .filter(|&i| {
            let address = &layout.addresses[i];
            address.ours && address.association_id.is_some() && !held_by_live(&address.allocation_id)
        })
        .collect();
    if candidates.is_empty() {
        return;
    }
    let filter = |name: &str, value: &str| Filter::builder().name(name).values(value).build();
    let Ok(deleted) = ec2
        .describe_nat_gateways()
        .filter(filter("vpc-id", &layout.vpc_id))
        .filter(filter("state", "deleted"))
        .send()
        .await
    else {
        return;
    };
    let held_by_deleted = |allocation: &str| {
        deleted
            .nat_gateways()
            .iter()
            .any(|n| n.nat_gateway_addresses().iter().any(|a| a.allocation_id() == Some(allocation)))
    };
    for index in candidates {
        let address = &layout.addresses[index];
        let Some(association) = address.association_id.clone().filter(|_| held_by_deleted(&address.allocation_id))
        else {
            continue;
        };
        if ec2.disassociate_address().association_id(&association).send().await.is_ok() {
            layout.addresses[index].association_id = None;
        }
    }
    // The interfaces those NAT gateways left, as after a teardown's own deletes.
    let interfaces: Vec<String> = deleted
        .nat_gateways()
        .iter()
        .flat_map(|n| n.nat_gateway_addresses().iter().filter_map(|a| a.network_interface_id()))
        .map(str::to_string)
        .collect();
    remove_nat_interfaces(ec2, &interfaces).await;
}

/// Deletes the interfaces a deleted NAT gateway left that nobody manages and nothing uses.
pub(super) async fn remove_nat_interfaces(ec2: &Client, ids: &[String]) {
    if ids.is_empty() {
        return;
    }
    let Ok(answer) = ec2.describe_network_interfaces().set_network_interface_ids(Some(ids.to_vec())).send().await
    else {
        return;
    };
    for interface in answer.network_interfaces() {
        let unused = interface.status().is_some_and(|s| s.as_str() == "available");
        let unmanaged = interface.requester_managed() != Some(true) && interface.attachment().is_none();
        if let (true, true, Some(id)) = (unused, unmanaged, interface.network_interface_id()) {
            let _ = ec2.delete_network_interface().network_interface_id(id).send().await;
        }
    }
}
