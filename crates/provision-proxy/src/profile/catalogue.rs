//! The profile's rules: one per behaviour of `docs/aws-behaviours.md`, by the same id, each with
//! its windows in AWS time (scaled by the clock) and what it does. This is the one table of
//! windows; the rule code reads them from here by id and phase.
//!
//! Rules whose windows are `[]` are standing rules (they hold as long as the relationship holds)
//! or follow another rule's lifecycle, as their text says.

use std::time::Duration;

const fn s(seconds: u64) -> Duration {
    Duration::from_secs(seconds)
}

const fn min(minutes: u64) -> Duration {
    Duration::from_secs(minutes * 60)
}

/// One rule of the profile.
#[derive(Debug)]
pub struct RuleSpec {
    pub id: &'static str,
    /// Named windows in AWS time; most rules have one, `window`.
    pub phases: &'static [(&'static str, Duration)],
    pub protocols: &'static str,
    pub does: &'static str,
}

macro_rules! rule {
    ($id:literal, [$($phase:literal = $time:expr),* $(,)?], $protocols:literal, $does:literal) => {
        RuleSpec { id: $id, phases: &[$(($phase, $time)),*], protocols: $protocols, does: $does }
    };
}

pub const RULES: &[RuleSpec] = &[
    // --- Eventual consistency right after a create ---
    // EC2 API docs, "Eventual consistency": a new resource may not be visible to the next call for
    // a few seconds; terraform-provider-aws retries `InvalidGroup.NotFound` for its 2-minute
    // propagation timeout (`vpc_security_group.go`).
    rule!("ec2.group-not-found-after-create", ["window" = s(10)], "EC2 query",
        "AuthorizeSecurityGroupIngress/Egress, CreateTags, DescribeSecurityGroups naming a group created within the window answer `InvalidGroup.NotFound`"),
    // S3 docs: bucket creation is eventually consistent; terraform retries `NoSuchBucket` after
    // CreateBucket for 2 minutes (`s3/bucket.go`, bucketPropagationTimeout).
    rule!("s3.no-such-bucket-after-create", ["window" = s(10)], "S3 REST-XML",
        "bucket configuration PUTs and PutObject on a bucket created within the window answer 404 `NoSuchBucket`"),
    // terraform `ecs/service.go` retryServiceCreate retries `ClusterNotFoundException`.
    rule!("ecs.cluster-not-found-after-create", ["window" = s(10)], "ECS JSON",
        "CreateService in a cluster created within the window answers `ClusterNotFoundException`"),
    // IAM docs, "Changes that I make are not always immediately visible": seconds; terraform's
    // IAM propagationTimeout is 2 minutes and ECS create retries "Unable to assume role".
    rule!("iam.role-not-assumable-after-create", ["window" = s(15)], "ECS JSON",
        "CreateService/UpdateService/RunTask whose task definition names a role created within the window answer `InvalidParameterException` (unable to assume role)"),
    // terraform retryServiceCreate retries "does not have an associated load balancer".
    rule!("ecs.target-group-without-load-balancer", ["window" = s(10)], "ECS JSON",
        "CreateService/UpdateService with a target group no listener forwards to, or whose first listener is younger than the window, answer `InvalidParameterException`"),
    // terraform `elbv2/listener.go` retries `CertificateNotFound` on create and modify.
    rule!("elbv2.certificate-not-found", ["window" = s(30)], "ELBv2 query",
        "CreateListener/ModifyListener with a certificate issued within the window (or not issued yet) answer `CertificateNotFound`"),
    // terraform `cloudfront/distribution.go` retries `InvalidViewerCertificate` on create.
    rule!("cloudfront.certificate-not-visible", ["window" = s(30)], "CloudFront REST-XML",
        "CreateDistribution/UpdateDistribution naming a certificate issued within the window answer `InvalidViewerCertificate`"),
    // IAM answers `ConcurrentModification` (409) to calls on one role at once; terraform retries it.
    rule!("iam.concurrent-modification", [], "IAM query",
        "Attach/DetachRolePolicy, Put/DeleteRolePolicy on a role while another such call on it is in flight answer 409 `ConcurrentModification`"),
    // EC2 API docs, "Eventual consistency"; terraform `ec2/find.go` retries NotFound after create.
    rule!("ec2.network-not-found-after-create", ["window" = s(10)], "EC2 query",
        "calls naming a VPC, subnet, route table, internet or NAT gateway or address created within the window (as a parameter, not in a tag's value) answer its `Invalid…ID.NotFound`"),
    // --- Objects in use during teardown ---
    // terraform `vpc_security_group.go` deletes with a 15-minute retry on DependencyViolation; an
    // ALB's or a Fargate task's interfaces take minutes to go after their owner is deleted.
    rule!("ec2.group-in-use-while-interfaces-linger", ["window" = min(3)], "EC2 query",
        "DeleteSecurityGroup of a group a load balancer, service, database, cache or endpoint used answers `DependencyViolation` until the window after that owner is gone"),
    rule!("ec2.group-referenced-by-another", [], "EC2 query",
        "DeleteSecurityGroup of a group another live group's rule names answers `DependencyViolation` (standing)"),
    // S3 answers `OperationAborted` (409) while a deleted bucket's name is released.
    rule!("ec2.group-gone-after-delete", ["window" = s(10)], "EC2 query",
        "DescribeSecurityGroups naming groups deleted within the window still answers them, as last seen (moto forgets them at once)"),
    rule!("elbv2.load-balancer-deleted", ["window" = s(30)], "ELBv2 query",
        "DescribeLoadBalancers naming load balancers deleted within the window still answers them, as last seen (moto forgets them at once)"),
    rule!("elbv2.load-balancer-interfaces-linger", [], "EC2 query",
        "DescribeNetworkInterfaces by description `ELB app/NAME/ID` shows a load balancer's interfaces (one per subnet; moto makes none) while it lives and for `ec2.group-in-use-while-interfaces-linger`'s window after its delete"),
    rule!("s3.operation-aborted-on-recreate", ["window" = min(1)], "S3 REST-XML",
        "CreateBucket of a name deleted within the window answers 409 `OperationAborted`"),
    rule!("cloudfront.distribution-deleted", ["window" = min(2)], "CloudFront REST-XML",
        "GetDistribution still answers a deleted distribution (its last answer) for the window after DeleteDistribution (moto forgets it at once); its origin access controls count as in use until then"),
    rule!("cloudfront.distribution-not-disabled", [], "CloudFront REST-XML",
        "DeleteDistribution while enabled, or while its disable is `InProgress` (cloudfront.in-progress), answers 409 `DistributionNotDisabled`"),
    rule!("cloudfront.stale-etag", [], "CloudFront REST-XML",
        "each distribution version has its own ETag; UpdateDistribution/DeleteDistribution with an older one answers 412 `PreconditionFailed`, without one 400 `InvalidIfMatchVersion`"),
    rule!("cloudfront.origin-access-control-in-use", ["window" = s(30)], "CloudFront REST-XML",
        "DeleteOriginAccessControl while a distribution uses it, or within the window after that distribution was deleted, answers 409 `OriginAccessControlInUse`"),
    // terraform `elbv2/target_group.go` retries "is currently in use by a listener or a rule".
    rule!("elbv2.target-group-in-use", ["window" = s(30)], "ELBv2 query",
        "DeleteTargetGroup within the window after the last listener forwarding to it went answers `ResourceInUse` (moto refuses while one does)"),
    rule!("ecs.cluster-contains-services", [], "ECS JSON",
        "DeleteCluster while a deleted service of it is DRAINING (ecs.service-draining) answers `ClusterContainsServicesException`"),
    rule!("rds.subnet-group-in-use", [], "RDS query",
        "DeleteDBSubnetGroup while an instance in it is `deleting` (rds.instance-lifecycle) answers `InvalidDBSubnetGroupStateFault`"),
    rule!("elasticache.subnet-group-in-use", [], "ElastiCache query",
        "DeleteCacheSubnetGroup while a replication group in it is `deleting` (elasticache.group-lifecycle) answers `CacheSubnetGroupInUse`"),
    // terraform `acm/certificate.go` retries ResourceInUseException on delete (the services
    // release a certificate some time after they stop using it).
    rule!("acm.certificate-in-use", ["window" = min(2)], "ACM JSON",
        "DeleteCertificate while a listener or distribution holds it, or within the window after the last released it, answers `ResourceInUseException`"),
    rule!("ec2.network-in-use", [], "EC2 query",
        "DeleteSubnet while interfaces in it linger (ec2.group-in-use-while-interfaces-linger) or a NAT gateway in it is not gone, DetachInternetGateway/DeleteVpc while a NAT gateway of the VPC is not gone, ReleaseAddress while its NAT gateway is deleting: `DependencyViolation` / `InvalidIPAddress.InUse`"),
    // --- Slow lifecycles ---
    // CloudFront docs: changes propagate to all edge locations "within minutes" (typically ~5).
    rule!("cloudfront.in-progress", ["window" = min(5)], "CloudFront REST-XML",
        "GetDistribution/ListDistributions show `InProgress` for the window after a create or update, then `Deployed`"),
    // RDS db.t3.micro: create ~5-10 min, then the first backup; modify and delete minutes each.
    rule!("rds.instance-lifecycle", ["creating" = min(5), "backing-up" = min(2), "modifying" = min(2), "deleting" = min(4)], "RDS query",
        "DescribeDBInstances shows `creating` (no endpoint) → `backing-up` → `available`; `modifying` after ModifyDBInstance; `deleting` after DeleteDBInstance, then `DBInstanceNotFound`; DeleteDBInstance with a final snapshot while `creating`, `backing-up` or `modifying` answers `InvalidDBInstanceState`"),
    // ElastiCache: a replication group takes ~5-10 min to create, minutes to modify or delete.
    rule!("elasticache.group-lifecycle", ["creating" = min(6), "modifying" = min(3), "deleting" = min(4)], "ElastiCache query",
        "DescribeReplicationGroups shows `creating` → `available`, `modifying` after a modification, `deleting` then `ReplicationGroupNotFoundFault`; a modification or delete while not available answers `InvalidReplicationGroupState`"),
    // ACM docs: DNS validation completes "within minutes" of the record being resolvable.
    rule!("acm.validation-records-pending", ["window" = s(10)], "ACM JSON",
        "DescribeCertificate shows the domains without their validation `ResourceRecord` for the window after RequestCertificate"),
    rule!("acm.pending-validation", ["window" = min(2)], "ACM JSON",
        "DescribeCertificate/ListCertificates show `PENDING_VALIDATION` until the window after the validation CNAME was written to Route 53, then `ISSUED`"),
    // A Fargate rollout: tasks start (~1 min), pass the target group's health checks, old ones drain.
    rule!("ecs.deployment-in-progress", ["window" = min(3)], "ECS JSON",
        "DescribeServices after CreateService/UpdateService (desiredCount alone too) shows a new PRIMARY deployment `IN_PROGRESS` with runningCount climbing, the old one ACTIVE, then one `COMPLETED` deployment with runningCount == desiredCount"),
    // ECS docs, "Deployment circuit breaker": a deployment whose tasks keep failing to reach RUNNING
    // is marked FAILED; with rollback, the last COMPLETED deployment is rolled out again.
    rule!("ecs.circuit-breaker-rollback", [], "ECS JSON",
        "a deployment of a task definition family the test set a failing outcome for runs no task for `ecs.deployment-in-progress`'s window while the previous one serves, then reads `FAILED` (`ECS deployment circuit breaker: tasks failed to start.`) with ECS's service events, and with `rollback` a new PRIMARY deployment of the previous task definition takes over"),
    // ECS developer guide, "Task lifecycle": a Fargate task provisions its interface, pulls its
    // image and reads its secrets before its command runs.
    rule!("ecs.task-lifecycle", ["provisioning" = s(30), "pending" = s(30), "running" = min(1)], "ECS JSON",
        "DescribeTasks shows a task `PROVISIONING`, `PENDING`, `RUNNING` for the windows, then `STOPPED` with its exit code (one that cannot start stops after `PENDING`)"),
    // DeleteService: tasks stop after the target group's deregistration delay.
    rule!("ecs.service-draining", ["window" = min(3)], "ECS JSON",
        "DescribeServices after DeleteService shows `DRAINING` for the window, then `INACTIVE`"),
    // EC2 docs: a NAT gateway is `pending` for a few minutes; a deleted one stays `deleted` ~1 hour.
    rule!("ec2.nat-gateway-lifecycle", ["pending" = min(2), "deleting" = min(1)], "EC2 query",
        "DescribeNatGateways shows `pending` → `available` after a create, `deleting` → `deleted` after a delete"),
    // EC2 docs: an interface endpoint is `pending` for a minute or two, `deleting` before its
    // interfaces leave the subnets; terraform `waitVPCEndpointAvailable`/`Deleted` (10 minutes).
    rule!("ec2.endpoint-lifecycle", ["pending" = min(1), "deleting" = min(1)], "EC2 query",
        "DescribeVpcEndpoints shows an interface endpoint `pending` → `available` after a create, `deleting` → `deleted` after a delete (a gateway endpoint is `available` at once)"),
    // An ALB is `provisioning` for a few minutes.
    rule!("elbv2.load-balancer-provisioning", ["window" = min(3)], "ELBv2 query",
        "DescribeLoadBalancers shows `provisioning` for the window after CreateLoadBalancer, then `active`"),
    rule!("route53.change-pending", ["window" = s(30)], "Route 53 REST-XML",
        "ChangeResourceRecordSets answers a change of its own id `PENDING`; GetChange shows it `PENDING` for the window, then `INSYNC`"),
    // --- Everywhere ---
    rule!("any.response-lost", [], "all",
        "a seeded share (`lost_responses`) of mutating calls is passed on, then the connection is reset: the emulator acted, the caller never hears"),
    rule!("any.paged-listings", [], "all",
        "the listings provision uses come back `page_size` items at a time with the protocol's own token"),
    rule!("any.throttling", [], "all",
        "a seeded share (`throttling`) of calls answers the protocol's throttling error"),
    // AWS "Tagging AWS resources": the `aws:` prefix is reserved; EC2 answers
    // `InvalidParameterValue` "Tag keys starting with 'aws:' are reserved for internal use".
    rule!("any.aws-reserved-tags", [], "all",
        "a call that sets or removes a tag key starting with `aws:` answers the protocol's validation error (EC2 `InvalidParameterValue`, S3 `InvalidTag`); moto takes it"),
    // --- Names that are taken ---
    // S3 API Reference, CreateBucket: in us-east-1 a bucket the account owns answers 200 OK.
    rule!("s3.create-owned-bucket-succeeds", [], "S3 REST-XML",
        "CreateBucket in us-east-1 of a bucket the account owns answers 200 (elsewhere `BucketAlreadyOwnedByYou`): moto answers so itself; the profile looks first (`GetBucketLocation`) only to count it, and passes the answer through unchanged"),
    // --- What moto lacks, completed as AWS answers ---
    rule!("complete.elasticache.delete-cache-subnet-group", [], "ElastiCache query",
        "DeleteCacheSubnetGroup (moto: an HTML error page) is answered, and the group is gone from later reads"),
    rule!("complete.elasticache.modify-replication-group", [], "ElastiCache query",
        "ModifyReplicationGroup, IncreaseReplicaCount, DecreaseReplicaCount (moto: not implemented) are answered; later reads show the new node type, retention, replicas and token"),
    rule!("complete.ecs.run-task", [], "ECS JSON",
        "RunTask/DescribeTasks/StopTask for FARGATE (moto: HTTP 500) are answered, each task living through `ecs.task-lifecycle` and ending with an exit code (see Profile::set_task_outcome and `exit N` in the command)"),
    rule!("complete.ec2.delete-vpc-endpoints", [], "EC2 query",
        "DeleteVpcEndpoints that moto fails with HTTP 500 or `InvalidRoute.NotFound` (a gateway endpoint, its route gone) is answered and the endpoint reads `deleted`"),
    rule!("complete.ec2.client-token", [], "EC2 query",
        "a call with the `ClientToken` of a call already answered (CreateRouteTable, CreateNatGateway, CreateVpcEndpoint …) answers the first call's answer and makes nothing, as AWS does (moto makes a second)"),
    rule!("complete.elbv2.idempotent-creates", [], "ELBv2 query",
        "CreateLoadBalancer of a name made through the proxy, CreateListener on a port of a load balancer that has one, answer the existing one as AWS does (moto makes a second)"),
    rule!("complete.route53.create-after-delete", [], "Route 53 REST-XML",
        "a `CREATE` of a record that is not there (moto refuses one identical to a change it journaled before when any record sorts after it) is sent on as an `UPSERT`, after a look; a `CREATE` of one that is there answers `InvalidChangeBatch` (moto may make it twice)"),
    rule!("complete.cloudfront.origin-access-controls", [], "CloudFront REST-XML",
        "CreateOriginAccessControl of a name taken (moto: a second control) answers 409 `OriginAccessControlAlreadyExists`; DeleteOriginAccessControl of one deleted (moto: HTTP 500) answers 404 `NoSuchOriginAccessControl`; reads of a distribution show each origin's `OriginAccessControlId` (moto drops it)"),
];

pub fn spec(id: &str) -> Option<&'static RuleSpec> {
    RULES.iter().find(|rule| rule.id == id)
}

/// The window `phase` of rule `id` as the table has it.
pub(crate) fn window(id: &str, phase: &str) -> Duration {
    spec(id)
        .and_then(|rule| rule.phases.iter().find(|(name, _)| *name == phase))
        .map(|(_, time)| *time)
        .unwrap_or_else(|| panic!("the catalogue has no phase `{phase}` for `{id}`"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_every_behaviour_of_the_catalogue_has_a_rule() {
        let mut ids: Vec<&str> = RULES.iter().map(|rule| rule.id).collect();
        ids.sort();
        let count = ids.len();
        ids.dedup();
        assert_eq!(ids.len(), count, "duplicate ids");
        let catalogue = include_str!("../../../../docs/aws-behaviours.md");
        for line in catalogue.lines().filter(|line| line.starts_with("| `")) {
            let id = line.trim_start_matches("| `").split('`').next().unwrap_or_default();
            assert!(spec(id).is_some(), "docs/aws-behaviours.md has `{id}`, the profile has no rule for it");
        }
    }
}
