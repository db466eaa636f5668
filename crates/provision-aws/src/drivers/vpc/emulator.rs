//! Where the emulator's EC2 differs from AWS for a VPC's parts, in one place.
//!
//! moto 5.1.22 keeps a deleted NAT gateway's network interface, `available` and not managed by
//! anyone, after the NAT gateway is `deleted`; AWS removes it with the NAT gateway (it is
//! requester-managed and cannot be deleted by the account). Such an interface is deleted here. On
//! AWS the interface is gone (the look-up finds nothing) or requester-managed (left alone), so
//! nothing changes there; the only cost is one `DescribeNetworkInterfaces` per deleted NAT gateway.

use aws_sdk_ec2::Client;

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
