//! ELBv2: load balancers that provision and leave interfaces behind, target groups still in use,
//! certificates a listener does not see yet.

use std::time::Duration;

use super::{Answer, Bound, Retry, Wait};

/// `elbv2.load-balancer-provisioning`: a new load balancer is `provisioning` for minutes before it
/// is `active`. Evidence: ELBv2 API `LoadBalancerState`; terraform-provider-aws
/// `waitLoadBalancerActive` (its 10-minute create timeout).
pub const PROVISIONING: Wait = Wait {
    id: "elbv2.load-balancer-provisioning",
    timeout: Duration::from_secs(10 * 60),
    first_poll: Duration::from_millis(500),
    poll: Duration::from_secs(10),
    hint: "AWS may still finish; run `provision apply` again later to continue",
};

/// `elbv2.load-balancer-deleted`: after `DeleteLoadBalancer` answers, `DescribeLoadBalancers` may
/// still list it for moments. Evidence: ELBv2 API `DeleteLoadBalancer` ("deleting a load balancer
/// ... is asynchronous"); the `load_balancers_deleted` waiter of the AWS SDKs.
pub const DELETED: Wait = Wait {
    id: "elbv2.load-balancer-deleted",
    timeout: Duration::from_secs(10 * 60),
    first_poll: Duration::from_millis(500),
    poll: Duration::from_secs(5),
    hint: "AWS may still finish; run the command again later",
};

/// `elbv2.load-balancer-interfaces-linger`: the network interfaces an application load balancer
/// made (described `ELB app/NAME/ID`) outlive it by minutes, and hold its security groups and
/// subnets meanwhile. Evidence: terraform-provider-aws `cleanupALBNetworkInterfaces` ("ALB
/// automatically creates ENI(s) on creation but the cleanup is asynchronous and may take time
/// which then blocks IGW, SG or VPC on deletion") and `waitForNLBNetworkInterfacesToDetach`
/// (5 minutes). provision waits up to 10 minutes; interfaces still there after that are left to
/// the security group's own retry (`ec2.group-in-use-while-interfaces-linger`).
pub const INTERFACES_GONE: Wait = Wait {
    id: "elbv2.load-balancer-interfaces-linger",
    timeout: Duration::from_secs(10 * 60),
    first_poll: Duration::from_secs(1),
    poll: Duration::from_secs(10),
    hint: "the load balancer is deleted; EC2 removes its network interfaces by itself",
};

/// `elbv2.target-group-in-use`: a target group is refused while a listener or rule forwards to it,
/// and for moments after the listener moved off it. Evidence: ELBv2 API `DeleteTargetGroup`
/// (`ResourceInUse`); terraform-provider-aws `resourceTargetGroupDelete` retries "is currently in
/// use by a listener or a rule" for 2 minutes. provision deletes the old copy of a replaced group
/// only after the listeners moved to the new one (the executor orders it after its users).
pub const TARGET_GROUP_IN_USE: Answer = Answer {
    id: "elbv2.target-group-in-use",
    codes: &["ResourceInUse"],
    message: None,
    waiting_for: "the listeners and rules to stop forwarding to the target group",
    hint: "a listener or rule still forwards to it: point it at another target group (or delete it), then \
           run the command again",
};

/// `DeleteTargetGroup`: 2 minutes.
pub const TARGET_GROUP_DELETE: Retry = Retry::new(&[TARGET_GROUP_IN_USE], Bound::minutes(2));

/// `elbv2.certificate-not-found`: a listener made or changed right after its ACM certificate was
/// issued is refused until ELB sees it. Evidence: ELBv2 API `CreateListener`/`ModifyListener`
/// (`CertificateNotFound`); terraform-provider-aws `resourceListenerCreate` retries it.
pub const CERTIFICATE_NOT_FOUND: Answer = Answer {
    id: "elbv2.certificate-not-found",
    codes: &["CertificateNotFound"],
    message: None,
    waiting_for: "ELB to see the certificate",
    hint: "if the certificate was just issued, run the command again in a minute",
};

/// `CreateListener`/`ModifyListener`: 2 minutes.
pub const LISTENER_CHANGE: Retry = Retry::new(&[CERTIFICATE_NOT_FOUND], Bound::minutes(2));
