//! ECS: services made right after their cluster, roles and listener; deployments; drains.

use std::time::Duration;

use super::{iam, Answer, Bound, Retry, Wait};

/// `ecs.cluster-not-found-after-create`: `CreateService` right after `CreateCluster` may not find
/// the cluster yet. Evidence: terraform-provider-aws `retryServiceCreate` retries
/// `ClusterNotFoundException`.
pub const CLUSTER_NOT_FOUND_AFTER_CREATE: Answer = Answer {
    id: "ecs.cluster-not-found-after-create",
    codes: &["ClusterNotFoundException"],
    message: None,
    waiting_for: "ECS to see the new cluster",
    hint: "ECS did not see the cluster; if it was just created, run the command again",
};

/// `ecs.target-group-without-load-balancer`: a service whose target group no listener forwards to
/// yet (or whose listener was made moments ago) is refused. provision orders the service after the
/// listener or listener rule (see `ServiceDriver::implicit_dependencies`); this covers the moments
/// after. Evidence:
/// terraform-provider-aws `retryServiceCreate` and `resourceServiceUpdate` retry "does not have an
/// associated load balancer".
pub const TARGET_GROUP_WITHOUT_LOAD_BALANCER: Answer = Answer {
    id: "ecs.target-group-without-load-balancer",
    codes: &["InvalidParameterException"],
    message: Some("does not have an associated load balancer"),
    waiting_for: "the listener that forwards to the target group",
    hint: "no listener forwards to the service's target group: add a `listener` or a `listener_rule` with `forward` set to it",
};

/// `CreateService`: the cluster, the roles and the listener may all be moments old. Two minutes
/// of IAM propagation plus two of service creation, as terraform-provider-aws `retryServiceCreate`.
pub const CREATE_SERVICE: Retry = Retry::new(
    &[
        CLUSTER_NOT_FOUND_AFTER_CREATE,
        iam::ROLE_NOT_ASSUMABLE,
        iam::ROLE_NOT_VERIFIED,
        iam::SERVICE_LINKED_ROLE_NOT_ASSUMABLE,
        iam::ROLE_NOT_PASSABLE,
        iam::ROLE_NOT_PASSABLE_DENIED,
        TARGET_GROUP_WITHOUT_LOAD_BALANCER,
    ],
    Bound::propagation(4),
);

/// `UpdateService`: a new role or target group may be moments old, as terraform-provider-aws
/// `resourceServiceUpdate`.
pub const UPDATE_SERVICE: Retry = Retry::new(
    &[
        iam::ROLE_NOT_ASSUMABLE,
        iam::ROLE_NOT_VERIFIED,
        iam::ROLE_NOT_PASSABLE,
        iam::ROLE_NOT_PASSABLE_DENIED,
        TARGET_GROUP_WITHOUT_LOAD_BALANCER,
    ],
    Bound::propagation(4),
);

/// `ecs.cluster-contains-services`: a cluster is refused while a service deleted moments ago is
/// still `DRAINING` or its tasks still stop. Evidence: ECS API `DeleteCluster`
/// (`ClusterContainsServicesException`, `ClusterContainsTasksException`); terraform-provider-aws
/// `resourceClusterDelete` retries those, `ClusterContainsContainerInstancesException` and
/// `UpdateInProgressException` for 10 minutes. A service that is still `ACTIVE` is not draining:
/// the driver fails at once on that one instead.
pub const CLUSTER_BUSY: Answer = Answer {
    id: "ecs.cluster-contains-services",
    codes: &[
        "ClusterContainsServicesException",
        "ClusterContainsTasksException",
        "ClusterContainsContainerInstancesException",
        "UpdateInProgressException",
    ],
    message: None,
    waiting_for: "the cluster's deleted services to drain and their tasks to stop",
    hint: "the cluster's services or tasks are still stopping; run the command again later",
};

/// `DeleteCluster`: 10 minutes, as terraform-provider-aws.
pub const CLUSTER_DELETE: Retry = Retry::new(&[CLUSTER_BUSY], Bound::minutes(10));

/// `ecs.deployment-in-progress`: after a create or update (a `desired_count` change included) the
/// service runs the wanted number of tasks of the wanted revision only after its deployment
/// completes. Evidence: ECS developer guide, "Deployment circuit breaker" and `rolloutState`;
/// terraform-provider-aws `waitServiceStable` / `statusServiceWaitForStable`. The timeout is the
/// service's `wait_timeout` (default 15 minutes).
pub const DEPLOYMENT: Wait = Wait {
    id: "ecs.deployment-in-progress",
    timeout: Duration::from_secs(15 * 60),
    first_poll: Duration::from_secs(1),
    poll: Duration::from_secs(5),
    hint: "the deployment goes on without provision; raise `wait_timeout`, or set `wait = \"none\"` to return \
           without waiting",
};

/// `ecs.service-draining`: a deleted service is `DRAINING` until its tasks stop, then `INACTIVE`.
/// Evidence: ECS API `DeleteService`; terraform-provider-aws `waitServiceInactive` (its delete
/// timeout, 20 minutes). The timeout is the service's `wait_timeout` when it has one.
pub const DRAINING: Wait = Wait {
    id: "ecs.service-draining",
    timeout: Duration::from_secs(20 * 60),
    first_poll: Duration::from_secs(1),
    poll: Duration::from_secs(5),
    hint: "ECS goes on stopping the tasks; run `provision destroy` again later",
};

/// `ecs.task-lifecycle`: a Fargate task is `PROVISIONING`, `PENDING` (its image pulled, its secrets
/// read), `RUNNING`, then `STOPPED` with its containers' exit codes — a migration takes a minute
/// or more before its command even starts. Evidence: ECS developer guide, "Task lifecycle"; the
/// SDKs' `TasksStopped` waiter (`DescribeTasks` every 6 seconds, 100 times). The timeout is the
/// migration's `timeout` (default 10 minutes).
pub const MIGRATION: Wait = Wait {
    id: "ecs.task-lifecycle",
    timeout: Duration::from_secs(10 * 60),
    first_poll: Duration::from_secs(2),
    poll: Duration::from_secs(6),
    hint: "the service keeps its previous revision; raise `migration.timeout` or make the migration faster",
};

/// `CreateCluster` in an account whose ECS service-linked role was made moments ago (ECS makes it
/// on first use). Evidence: terraform-provider-aws `retryClusterCreate` retries "Unable to assume
/// the service linked role" for `propagationTimeout` (2 minutes).
pub const CREATE_CLUSTER: Retry = Retry::new(&[iam::SERVICE_LINKED_ROLE_NOT_ASSUMABLE], Bound::propagation(2));

/// `RunTask` (a migration) right after the task's roles were made: two minutes, as
/// terraform-provider-aws's `propagationTimeout`.
pub const RUN_TASK: Retry = Retry::new(
    &[iam::ROLE_NOT_ASSUMABLE, iam::ROLE_NOT_PASSABLE, iam::ROLE_NOT_PASSABLE_DENIED],
    Bound::propagation(2),
);
