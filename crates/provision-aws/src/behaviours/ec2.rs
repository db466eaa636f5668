//! EC2: security groups right after their create, and while network interfaces still hold them.

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
pub const NEW_GROUP: Retry = Retry::new(&[GROUP_NOT_FOUND_AFTER_CREATE], Bound::minutes(5));

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

/// Calls naming network parts (or a security group) just made: two minutes.
pub const NEW_NETWORK_PART: Retry =
    Retry::new(&[NETWORK_NOT_FOUND_AFTER_CREATE, GROUP_NOT_FOUND_AFTER_CREATE], Bound::minutes(2));

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
