//! EC2: security groups right after their create and while network interfaces still hold them, and
//! a VPC's parts: not yet visible after their create, held while something on its way out still uses
//! them, and NAT gateways and interface endpoints `pending` and `deleting` for minutes.

use std::time::Duration;

use super::{Answer, Bound, Retry, Wait};

/// `ec2.group-not-found-after-create`: EC2 is eventually consistent; a call naming a group made a
/// moment ago may answer that it does not exist. Evidence: EC2 API reference, "Eventual
/// consistency" (query-api-troubleshooting.html#eventual-consistency); terraform-provider-aws
/// `waitSecurityGroupCreated` and `ec2PropagationTimeout` (5 minutes).
pub const GROUP_NOT_FOUND_AFTER_CREATE: Answer = Answer {
    id: "ec2.group-not-found-after-create",
    codes: &["InvalidGroup.NotFound", "InvalidGroupId.NotFound"],
    message: None,
    waiting_for: "EC2 to make the new security group visible",
    hint: "EC2 had not made the new group visible yet; run the command again",
};

/// Rules and tags of a group just made: retried while EC2 does not see it yet.
pub const NEW_GROUP: Retry = Retry::new(&[GROUP_NOT_FOUND_AFTER_CREATE], Bound::propagation(5));

/// `ec2.network-not-found-after-create`: a VPC, subnet, route table, gateway or address made a
/// moment ago may not be known yet to the next call naming it. Evidence: EC2 API reference,
/// "Eventual consistency"; terraform-provider-aws `RetryWhenAWSErrCodeEquals(ec2PropagationTimeout,
/// …)` in `attachInternetGateway` and the route and association creates.
pub const NETWORK_NOT_FOUND_AFTER_CREATE: Answer = Answer {
    id: "ec2.network-not-found-after-create",
    codes: &[
        "InvalidVpcID.NotFound",
        "InvalidSubnetID.NotFound",
        "InvalidRouteTableID.NotFound",
        "InvalidInternetGatewayID.NotFound",
        "InvalidNatGatewayID.NotFound",
        "InvalidAllocationID.NotFound",
    ],
    message: None,
    waiting_for: "EC2 to make the new network part visible",
    hint: "EC2 had not made the network part just created visible yet; run the command again",
};

/// `any.response-lost`, as a create of a VPC's part meets it: a second `CreateSubnet` of the range
/// a first one (whose answer was lost) took answers `InvalidSubnet.Conflict`, a second
/// `CreateSecurityGroup` of the name `InvalidGroup.Duplicate`. The part the first one made is
/// looked for by its tags ([`super::adopt::create_once`]). Evidence: EC2 API reference, error codes
/// ("InvalidSubnet.Conflict: The specified CIDR block conflicts with that of another subnet in
/// your VPC", "InvalidGroup.Duplicate: The security group name already exists in this VPC").
pub const PART_ALREADY_MADE: Answer = Answer {
    id: "any.response-lost",
    codes: &["InvalidSubnet.Conflict", "InvalidGroup.Duplicate"],
    message: None,
    waiting_for: "",
    hint: "",
};

/// Calls naming network parts (or a security group) just made: two minutes.
pub const NEW_NETWORK_PART: Retry =
    Retry::new(&[NETWORK_NOT_FOUND_AFTER_CREATE, GROUP_NOT_FOUND_AFTER_CREATE], Bound::propagation(2));

/// `ec2.group-in-use-while-interfaces-linger` (and `ec2.group-referenced-by-another`): a group is
/// refused while a network interface (of a load balancer, task, database or cache deleted moments
/// ago) or another group's rule still names it. Evidence: EC2 API `DeleteSecurityGroup` ("If you
/// attempt to delete a security group that is associated with an instance or network interface,
/// or is referenced by another security group, the operation fails with `DependencyViolation`");
/// terraform-provider-aws `resourceSecurityGroupDelete` retries `DependencyViolation` and
/// `InvalidGroup.InUse` for its 15-minute delete timeout.
pub const GROUP_IN_USE: Answer = Answer {
    id: "ec2.group-in-use-while-interfaces-linger",
    codes: &["DependencyViolation", "InvalidGroup.InUse"],
    message: None,
    waiting_for: "the network interfaces and rules that use the group to go",
    hint: "something still uses the group: the network interfaces of a load balancer, task, database or \
           cache (they linger for minutes after their owner is deleted), or a rule of another group; run the \
           command again later",
};

/// `DeleteSecurityGroup`: 15 minutes, as terraform-provider-aws.
pub const GROUP_DELETE: Retry = Retry::new(&[GROUP_IN_USE], Bound::minutes(15));

/// `ec2.group-gone-after-delete`: after `DeleteSecurityGroup` answers, `DescribeSecurityGroups`
/// may still list the group for a while. Evidence: terraform-provider-aws
/// `resourceSecurityGroupDelete` waits `RetryUntilNotFound` for `ec2PropagationTimeout`.
pub const GROUP_GONE: Wait = Wait {
    id: "ec2.group-gone-after-delete",
    timeout: Duration::from_secs(5 * 60),
    first_poll: Duration::from_secs(1),
    poll: Duration::from_secs(5),
    hint: "EC2 still lists the deleted group; it goes by itself",
};

/// The pauses of the network's own retries and waits: 2 s, 4 s, 8 s … up to 15 s.
const fn network_bound(minutes: u64) -> Bound {
    Bound {
        total: Duration::from_secs(minutes * 60),
        first_pause: Duration::from_secs(2),
        longest_pause: Duration::from_secs(15),
    }
}

/// `ec2.network-in-use` for `DeleteSubnet`: a subnet is refused while network interfaces are in
/// it — those a load balancer, an ECS task or an interface endpoint leave for minutes after their
/// owner is gone, or a NAT gateway's until it is `deleted`. Evidence: EC2 API `DeleteSubnet` ("You
/// must terminate all running instances in the subnet before you can delete the subnet");
/// terraform-provider-aws `resourceSubnetDelete` retries `DependencyViolation` for its 20-minute
/// delete timeout ("Lambda ENIs can take up to 45 minutes to delete").
pub const SUBNET_IN_USE: Answer = Answer {
    id: "ec2.network-in-use",
    codes: &["DependencyViolation"],
    message: None,
    waiting_for: "the network interfaces in the subnet to go away",
    hint: "network interfaces are still in the subnet; a load balancer's or an ECS task's go away minutes after \
           their owner, so run the command again later",
};

/// `DeleteSubnet`: 20 minutes, as terraform-provider-aws.
pub const SUBNET_DELETE: Retry = Retry::new(&[SUBNET_IN_USE], network_bound(20));

/// `ec2.network-in-use` for `DetachInternetGateway`: refused while something in the VPC still has
/// a public address mapped (a NAT gateway on its way out, a load balancer, a task). Evidence: EC2
/// API `DetachInternetGateway` ("The VPC must not contain any running instances with Elastic IP
/// addresses or public IPv4 addresses"); terraform-provider-aws `detachInternetGateway`
/// (`RetryWhenAWSErrCodeEquals(…, errCodeDependencyViolation)`, 15 minutes).
pub const GATEWAY_IN_USE: Answer = Answer {
    id: "ec2.network-in-use",
    codes: &["DependencyViolation"],
    message: None,
    waiting_for: "the public addresses in the VPC to be released before detaching its internet gateway",
    hint: "something in the VPC still has a public address (a load balancer, a task, an instance); delete it and \
           run again",
};

/// `DetachInternetGateway`: 15 minutes, as terraform-provider-aws.
pub const GATEWAY_DETACH: Retry = Retry::new(&[GATEWAY_IN_USE], network_bound(15));

/// `ec2.network-in-use` for `ReleaseAddress`: an Elastic IP address is refused while a NAT
/// gateway being deleted still maps it (`InvalidIPAddress.InUse`, or `AuthFailure` as EC2 answers
/// for an address another service holds). Evidence: EC2 API `ReleaseAddress` ("you must
/// disassociate it … before you can release it"); terraform-provider-aws `resourceEIPDelete`
/// retries `InvalidIPAddress.InUse` and `AuthFailure` while disassociating and releasing.
pub const ADDRESS_IN_USE: Answer = Answer {
    id: "ec2.network-in-use",
    codes: &["InvalidIPAddress.InUse", "AuthFailure", "DependencyViolation"],
    message: None,
    waiting_for: "the NAT gateway to let go of its address",
    hint: "the address is still mapped; run the command again in a few minutes",
};

/// `ReleaseAddress`: 5 minutes (the NAT gateway itself was waited for until `deleted`).
pub const ADDRESS_RELEASE: Retry = Retry::new(&[ADDRESS_IN_USE], network_bound(5));

/// `ec2.network-in-use` for `DeleteVpc`: refused while anything is still in it. Evidence: EC2 API
/// `DeleteVpc` ("You must detach or delete all gateways and resources that are associated with the
/// VPC before you can delete it"); terraform-provider-aws `resourceVPCDelete` retries
/// `DependencyViolation` for its 5-minute delete timeout.
pub const VPC_IN_USE: Answer = Answer {
    id: "ec2.network-in-use",
    codes: &["DependencyViolation"],
    message: None,
    waiting_for: "the VPC to be empty",
    hint: "something not made by provision is still in the VPC",
};

/// `DeleteVpc`: 5 minutes, as terraform-provider-aws.
pub const VPC_DELETE: Retry = Retry::new(&[VPC_IN_USE], network_bound(5));

/// `ec2.nat-gateway-lifecycle`, after a create: a NAT gateway is `pending` for a minute or more
/// before it routes, so the private subnets are pointed at it once it is `available`. Evidence:
/// EC2 API `DescribeNatGateways` (`pending | failed | available | deleting | deleted`);
/// terraform-provider-aws `waitNATGatewayCreated` (`pending` → `available`, 10-minute create
/// timeout).
pub const NAT_AVAILABLE: Wait = Wait {
    id: "ec2.nat-gateway-lifecycle",
    timeout: Duration::from_secs(10 * 60),
    first_poll: Duration::from_secs(2),
    poll: Duration::from_secs(15),
    hint: "AWS is slow to finish; run the command again to pick up where it stopped",
};

/// `ec2.nat-gateway-lifecycle`, after a delete: `deleting` until its address and interface are
/// free. Evidence: terraform-provider-aws `waitNATGatewayDeleted` (`deleting` → `deleted`,
/// 30-minute delete timeout).
pub const NAT_DELETED: Wait = Wait { timeout: Duration::from_secs(30 * 60), ..NAT_AVAILABLE };

/// `ec2.endpoint-lifecycle`, after a create: an interface endpoint is `pending` before it answers
/// (a task started meanwhile cannot pull its image). Evidence: EC2 API `DescribeVpcEndpoints`
/// (`PendingAcceptance | Pending | Available | Deleting | Deleted | Rejected | Failed | Expired`);
/// terraform-provider-aws `waitVPCEndpointAvailable` (10-minute create timeout).
pub const ENDPOINT_AVAILABLE: Wait = Wait { id: "ec2.endpoint-lifecycle", ..NAT_AVAILABLE };

/// `ec2.endpoint-lifecycle`, after a delete: `deleting` until its interfaces have left the
/// subnets. Evidence: terraform-provider-aws `waitVPCEndpointDeleted` (10-minute delete timeout).
pub const ENDPOINT_DELETED: Wait = ENDPOINT_AVAILABLE;

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use provision_core::driver::DriverError;

    use super::*;

    fn refused(operation: &str, code: &str) -> DriverError {
        DriverError::service(operation, Some(code.into()), "refused")
    }

    /// Each of the network's deletes waits out the answers AWS gives while a part is held, and
    /// nothing else: a real mistake fails at once.
    #[tokio::test]
    async fn a_part_in_use_is_retried_until_free_and_other_errors_fail_at_once() {
        let cases = [
            (SUBNET_DELETE, "DeleteSubnet", "DependencyViolation", "AuthFailure"),
            (GATEWAY_DETACH, "DetachInternetGateway", "DependencyViolation", "Gateway.NotAttached"),
            (ADDRESS_RELEASE, "ReleaseAddress", "InvalidIPAddress.InUse", "InvalidAllocationID.NotFound"),
            (ADDRESS_RELEASE, "ReleaseAddress", "AuthFailure", "UnauthorizedOperation"),
            (VPC_DELETE, "DeleteVpc", "DependencyViolation", "InvalidVpcID.NotFound"),
        ];
        for (retry, operation, in_use, other) in cases {
            let retry = retry.within(Bound::TEST);
            let calls = AtomicUsize::new(0);
            let freed = retry
                .run(|| async {
                    match calls.fetch_add(1, Ordering::SeqCst) {
                        0 | 1 => Err(refused(operation, in_use)),
                        _ => Ok(()),
                    }
                })
                .await;
            assert!(freed.is_ok(), "{operation} retries `{in_use}`");
            let calls = AtomicUsize::new(0);
            let failed = retry
                .run(|| async {
                    calls.fetch_add(1, Ordering::SeqCst);
                    Err::<(), _>(refused(operation, other))
                })
                .await
                .expect_err("fails");
            assert!(failed.code_is(other));
            assert_eq!(calls.load(Ordering::SeqCst), 1, "{operation} does not retry `{other}`");
        }
    }

    #[tokio::test]
    async fn a_subnet_held_past_the_bound_fails_with_what_aws_kept_answering_and_what_to_do() {
        let error = SUBNET_DELETE
            .within(Bound::TEST)
            .run(|| async { Err::<(), _>(refused("DeleteSubnet", "DependencyViolation")) })
            .await
            .expect_err("held for good");
        let hint = error.hint.expect("a hint");
        assert!(hint.starts_with("AWS still answered `DependencyViolation` after "), "{hint}");
        assert!(hint.contains("run the command again later"), "{hint}");
    }
}
