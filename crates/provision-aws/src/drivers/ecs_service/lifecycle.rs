//! Creating, rolling and deleting a service.
//!
//! An update sends `UpdateService` only the parts whose fields changed: a new task definition, the
//! desired count, the network, the load balancer (which is how a replaced target group is picked
//! up), the deployment settings. Each of those is what a user would change by hand, and nothing
//! else is touched. The previous revision is deregistered only once the new deployment is steady,
//! so a circuit breaker rollback still has it to go back to. With `wait = "none"` nothing says when
//! that is, so the previous revision stays registered until the service is deleted.
//!
//! A delete scales to zero first (so the tasks drain from the target group), deletes, waits until
//! the service is `INACTIVE` (a cluster with a draining service cannot be deleted), and then
//! deregisters and deletes every revision of the service's family.

use std::collections::BTreeSet;

use aws_sdk_ecs::operation::create_service::builders::CreateServiceFluentBuilder;
use aws_sdk_ecs::operation::update_service::builders::UpdateServiceFluentBuilder;
use aws_sdk_ecs::types::{
    AssignPublicIp, AwsVpcConfiguration, DeploymentCircuitBreaker, DeploymentConfiguration, LaunchType, LoadBalancer,
    NetworkConfiguration, PropagateTags, Service,
};
use aws_sdk_ecs::Client;
use serde_json::Value as Json;

use super::config::ServiceConfig;
use super::deployment::{self, Watched};
use super::migration;
use super::observation::{attributes, in_use, service_name, UNUSED_REVISIONS};
use super::task_definition;
use crate::behaviours::{self, ecs as behaviour, Retry};
use crate::drivers::ecs_cluster::{ecs_tags, sync_tags, top_level_field};
use crate::drivers::{DriverError, ExistingResource, FieldChange, Observed, ProgressSink, ResourceRequest};

/// Fields that live in the task definition: changing one registers a new revision.
const TASK_FIELDS: &[&str] = &["cpu", "memory", "execution_role", "task_role", "container"];
const NETWORK_FIELDS: &[&str] = &["subnets", "security_groups", "assign_public_ip"];
const DEPLOYMENT_FIELDS: &[&str] = &["min_healthy_percent", "max_percent", "circuit_breaker"];
/// Errors that say the service (or its cluster) is already gone.
const GONE: &[&str] = &["ServiceNotFoundException", "ServiceNotActiveException", "ClusterNotFoundException"];

pub(super) async fn create(
    ecs: &Client,
    request: &ResourceRequest<'_>,
    progress: &dyn ProgressSink,
) -> Result<Observed, DriverError> {
    let config = ServiceConfig::from_inputs(request.inputs)?;
    let task =
        task_definition::register(ecs, &config, &request.address.name, &request.stack.region, request.tags).await?;
    // A failed migration leaves no service behind: the revision goes, nothing else was made.
    if let Err(error) = migration::before_rollout(ecs, &config, &task, request.address, progress).await {
        task_definition::deregister(ecs, &task).await;
        return Err(error);
    }
    let balancers = load_balancers(&config, &request.address.name)?;
    let create = ecs
        .create_service()
        .cluster(&config.cluster)
        .service_name(&config.name)
        .task_definition(&task)
        .launch_type(LaunchType::Fargate)
        .desired_count(count(config.desired_count)?)
        .network_configuration(network(&config)?)
        .set_load_balancers((!balancers.is_empty()).then_some(balancers))
        .deployment_configuration(deployment_configuration(&config)?)
        .propagate_tags(PropagateTags::Service)
        .enable_ecs_managed_tags(true)
        .set_tags(Some(ecs_tags(request.tags)));
    let service = match send_create(create, behaviour::CREATE_SERVICE).await {
        Ok(service) => service,
        Err(error) => {
            // Nothing uses the revision just registered.
            task_definition::deregister(ecs, &task).await;
            return Err(error);
        }
    };
    let arn = service.service_arn().unwrap_or_default().to_string();
    // Revisions an interrupted earlier attempt registered: nothing runs them.
    task_definition::deregister_unused(ecs, &config.name, std::slice::from_ref(&task)).await;
    if config.waits() {
        let watched = watched(&config, &service, &task)?;
        deployment::wait_until_steady(ecs, &watched, wait(&config), request.address, progress).await?;
    }
    Ok(Observed { id: arn.clone(), inputs: Default::default(), attributes: attributes(&config.name, &arn, &task) })
}

/// Sends `CreateService`. Right after its cluster, its roles and the listener that forwards to its
/// target group were made, ECS may not see them yet: those answers are retried, bounded
/// ([`behaviour::CREATE_SERVICE`]); the failed attempts made nothing.
async fn send_create(create: CreateServiceFluentBuilder, retry: Retry) -> Result<Service, DriverError> {
    let output = retry
        .run(|| {
            let create = create.clone();
            async move { create.send().await.map_err(|error| crate::aws_error("CreateService", error)) }
        })
        .await?;
    output.service.ok_or_else(|| DriverError::invalid("CreateService returned no service"))
}

pub(super) async fn update(
    ecs: &Client,
    prior: &ExistingResource<'_>,
    request: &ResourceRequest<'_>,
    changes: &[FieldChange],
    progress: &dyn ProgressSink,
) -> Result<Observed, DriverError> {
    let config = ServiceConfig::from_inputs(request.inputs)?;
    let before = ServiceConfig::from_inputs(prior.inputs)?;
    let changed: BTreeSet<&str> =
        changes.iter().filter(|change| differs(change)).map(|change| top_level_field(&change.path)).collect();
    let any = |fields: &[&str]| fields.iter().any(|field| changed.contains(field));
    let prior_task = prior.attributes.get("task_definition_arn").and_then(Json::as_str).unwrap_or_default();
    let mut task = prior_task.to_string();

    let new_revision = any(TASK_FIELDS);
    let mut update = ecs.update_service().cluster(&config.cluster).service(&config.name);
    if new_revision {
        task =
            task_definition::register(ecs, &config, &request.address.name, &request.stack.region, request.tags).await?;
        // A failed migration stops the deploy here: the service keeps running the revision it has.
        if let Err(error) = migration::before_rollout(ecs, &config, &task, request.address, progress).await {
            task_definition::deregister(ecs, &task).await;
            return Err(error);
        }
        update = update.task_definition(&task);
    }
    if changed.contains("desired_count") {
        update = update.desired_count(count(config.desired_count)?);
    }
    if any(NETWORK_FIELDS) {
        update = update.network_configuration(network(&config)?);
    }
    // The port follows `container.port` when `container_port` is unset.
    let load_balancer_changed =
        any(&["target_group", "container_port"]) || before.load_balancer_port() != config.load_balancer_port();
    if load_balancer_changed {
        update = update.set_load_balancers(Some(load_balancers(&config, &request.address.name)?));
    }
    if any(DEPLOYMENT_FIELDS) {
        update = update.deployment_configuration(deployment_configuration(&config)?);
    }

    let mut arn = prior.id.to_string();
    let calls_update = new_revision
        || load_balancer_changed
        || any(NETWORK_FIELDS)
        || any(DEPLOYMENT_FIELDS)
        || changed.contains("desired_count");
    if calls_update {
        let service = match send_update(update, behaviour::UPDATE_SERVICE, request, progress).await {
            Ok(service) => service,
            Err(error) => {
                if new_revision {
                    task_definition::deregister(ecs, &task).await;
                }
                return Err(error);
            }
        };
        if let Some(service_arn) = service.service_arn() {
            arn = service_arn.to_string();
        }
        if config.waits() {
            let watched = watched(&config, &service, &task)?;
            deployment::wait_until_steady(ecs, &watched, wait(&config), request.address, progress).await?;
            // Only now is nothing left that runs (or would roll back to) the previous revision, or
            // any revision a killed run registered and never used.
            task_definition::deregister_unused(ecs, &config.name, std::slice::from_ref(&task)).await;
        }
    }
    if changed.contains(UNUSED_REVISIONS) && !(calls_update && config.waits()) {
        // Only leftovers to clear: what the service's deployments run stays.
        let used = match describe_one(ecs, &config.cluster, &config.name).await? {
            Some(service) => in_use(&service),
            None => vec![task.clone()],
        };
        task_definition::deregister_unused(ecs, &config.name, &used).await;
    }
    if changed.contains("tags") {
        sync_tags(ecs, &arn, prior.inputs, request.tags).await?;
    }
    Ok(Observed { id: arn.clone(), inputs: Default::default(), attributes: attributes(&config.name, &arn, &task) })
}

pub(super) async fn delete(
    ecs: &Client,
    resource: &ExistingResource<'_>,
    progress: &dyn ProgressSink,
) -> Result<(), DriverError> {
    let config = ServiceConfig::from_inputs(resource.inputs)?;
    let name = if config.name.is_empty() { service_name(resource.id).to_string() } else { config.name.clone() };
    let gone = |error: &DriverError| GONE.iter().any(|code| error.code_is(code));

    let scaled = ecs.update_service().cluster(&config.cluster).service(&name).desired_count(0).send().await;
    let mut exists = match scaled.map_err(|error| crate::aws_error("UpdateService", error)) {
        Ok(_) => true,
        Err(error) if gone(&error) => false,
        Err(error) => return Err(error),
    };
    if exists {
        let deleted = ecs.delete_service().cluster(&config.cluster).service(&name).force(true).send().await;
        match deleted.map_err(|error| crate::aws_error("DeleteService", error)) {
            Ok(_) => {}
            Err(error) if gone(&error) => exists = false,
            Err(error) => return Err(error),
        }
    }
    if exists {
        let drain = match resource.inputs.contains_key("wait_timeout") {
            true => behaviour::DRAINING.with_timeout(config.wait_timeout()),
            false => behaviour::DRAINING,
        };
        deployment::wait_until_inactive(ecs, &config.cluster, &name, drain, resource.address, progress).await?;
    }
    task_definition::remove_family(ecs, &name).await
}

/// Whether a change is one: an optional field that was read back as `null` and is absent from the
/// stack file is unset both times, and must not register a new revision.
fn differs(change: &FieldChange) -> bool {
    let set = |value: &Option<Json>| value.as_ref().filter(|value| !value.is_null()).cloned();
    set(&change.before) != set(&change.after)
}

/// Sends `UpdateService`, retrying the answers of a role or listener made moments ago.
async fn send_update(
    update: UpdateServiceFluentBuilder,
    retry: Retry,
    request: &ResourceRequest<'_>,
    progress: &dyn ProgressSink,
) -> Result<Service, DriverError> {
    let output = retry
        .run_reporting(request.address, progress, || {
            let update = update.clone();
            async move { update.send().await.map_err(|error| crate::aws_error("UpdateService", error)) }
        })
        .await?;
    output.service.ok_or_else(|| DriverError::invalid("UpdateService returned no service"))
}

/// What the create or update must end with: the deployment its answer names as primary (for a
/// change of `desired_count` alone, the one that was already running), running the desired count
/// of `task`.
fn watched<'a>(config: &'a ServiceConfig, service: &Service, task: &str) -> Result<Watched<'a>, DriverError> {
    let deployment = deployment::primary(service).and_then(|deployment| deployment.id()).map(str::to_string);
    Ok(Watched {
        cluster: &config.cluster,
        service: &config.name,
        deployment,
        desired: count(config.desired_count)?,
        task_definition: (!task.is_empty()).then(|| task.to_string()),
    })
}

fn wait(config: &ServiceConfig) -> behaviours::Wait {
    behaviour::DEPLOYMENT.with_timeout(config.wait_timeout())
}

fn count(value: i64) -> Result<i32, DriverError> {
    i32::try_from(value).map_err(|_| DriverError::invalid(format!("{value} is out of range")))
}

pub(super) fn network(config: &ServiceConfig) -> Result<NetworkConfiguration, DriverError> {
    let public_ip = if config.assign_public_ip { AssignPublicIp::Enabled } else { AssignPublicIp::Disabled };
    let vpc = AwsVpcConfiguration::builder()
        .set_subnets(Some(config.subnets.clone()))
        // Always sent, even empty: the emulator fails (HTTP 500) on a network configuration without it.
        .set_security_groups(Some(config.security_groups.clone()))
        .assign_public_ip(public_ip)
        .build()
        .map_err(|error| DriverError::invalid(format!("invalid network configuration: {error}")))?;
    Ok(NetworkConfiguration::builder().awsvpc_configuration(vpc).build())
}

/// The target group entry, or none: an empty list removes a load balancer in an update.
fn load_balancers(config: &ServiceConfig, container_name: &str) -> Result<Vec<LoadBalancer>, DriverError> {
    let Some(target_group) = config.target_group() else { return Ok(Vec::new()) };
    let port = config.load_balancer_port().ok_or_else(|| {
        DriverError::invalid("a target group needs a port to send traffic to")
            .with_hint("set `container.port` (the port the container listens on) or `container_port`")
    })?;
    Ok(vec![LoadBalancer::builder()
        .target_group_arn(target_group)
        .container_name(container_name)
        .container_port(count(port)?)
        .build()])
}

fn deployment_configuration(config: &ServiceConfig) -> Result<DeploymentConfiguration, DriverError> {
    let breaker =
        DeploymentCircuitBreaker::builder().enable(config.circuit_breaker).rollback(config.circuit_breaker).build();
    Ok(DeploymentConfiguration::builder()
        .minimum_healthy_percent(count(config.min_healthy_percent)?)
        .maximum_percent(count(config.max_percent)?)
        .deployment_circuit_breaker(breaker)
        .build())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn an_unset_field_read_back_as_null_is_no_change() {
        let change =
            |before: Option<Json>, after: Option<Json>| FieldChange { path: "task_role".into(), before, after };
        assert!(!differs(&change(Some(Json::Null), None)));
        assert!(differs(&change(Some(Json::Null), Some(json!("arn:aws:iam::1:role/app")))));
        assert!(differs(&change(Some(json!(1)), Some(json!(2)))));
    }
}

/// The service as ECS describes it now, if it exists.
async fn describe_one(ecs: &Client, cluster: &str, name: &str) -> Result<Option<Service>, DriverError> {
    let answer = ecs.describe_services().cluster(cluster).services(name).send().await;
    match answer.map_err(|error| crate::aws_error("DescribeServices", error)) {
        Ok(output) => Ok(output.services.unwrap_or_default().into_iter().find(|s| s.status() == Some("ACTIVE"))),
        Err(error) if GONE.iter().any(|code| error.code_is(code)) => Ok(None),
        Err(error) => Err(error),
    }
}

/// `CreateService` right after the service's roles, with IAM's propagation played by the SDK's
/// mocks (the emulator is always consistent).
#[cfg(test)]
mod create_retries {
    use super::*;

    use aws_sdk_ecs::operation::create_service::{CreateServiceError, CreateServiceOutput};
    use aws_sdk_ecs::types::error::InvalidParameterException;
    use aws_smithy_mocks::{mock, Rule};

    fn mock_ecs(rules: &[&Rule]) -> Client {
        mock_client!(aws_sdk_ecs, rules.iter().copied())
    }

    fn invalid_parameter(message: &'static str) -> impl Fn() -> CreateServiceError {
        move || {
            CreateServiceError::InvalidParameterException(
                InvalidParameterException::builder()
                    .message(message)
                    .meta(
                        aws_smithy_types::error::ErrorMetadata::builder()
                            .code("InvalidParameterException")
                            .message(message)
                            .build(),
                    )
                    .build(),
            )
        }
    }

    const FAST: Retry = behaviour::CREATE_SERVICE.within(behaviours::Bound::TEST);
    const NOT_YET: &str =
        "ECS was unable to assume the role 'arn:aws:iam::1:role/shop-exec' that was provided for this task.";

    #[tokio::test]
    async fn a_service_right_after_its_role_is_retried_until_ecs_can_assume_the_role() {
        let refused = mock!(Client::create_service).then_error(invalid_parameter(NOT_YET));
        let again = mock!(Client::create_service).then_error(invalid_parameter(NOT_YET));
        let created = mock!(Client::create_service).then_output(|| {
            CreateServiceOutput::builder()
                .service(Service::builder().service_arn("arn:aws:ecs:us-east-1:1:service/shop/api").build())
                .build()
        });
        let ecs = mock_ecs(&[&refused, &again, &created]);
        let service = send_create(ecs.create_service().cluster("shop").service_name("api"), FAST)
            .await
            .expect("created once the role is visible");
        assert_eq!(service.service_arn(), Some("arn:aws:ecs:us-east-1:1:service/shop/api"));
        assert_eq!((refused.num_calls(), again.num_calls(), created.num_calls()), (1, 1, 1));
    }

    /// A real mistake is not retried: it is reported at once, with ECS's code and message.
    #[tokio::test]
    async fn another_invalid_parameter_is_reported_at_once() {
        let refused = mock!(Client::create_service)
            .then_error(invalid_parameter("The container api does not exist in the task definition."));
        let never = mock!(Client::create_service).then_output(|| CreateServiceOutput::builder().build());
        let ecs = mock_ecs(&[&refused, &never]);
        let error = send_create(ecs.create_service().cluster("shop").service_name("api"), FAST).await.unwrap_err();
        assert!(error.code_is("InvalidParameterException"));
        assert!(error.message.contains("does not exist"), "{error:?}");
        assert_eq!(never.num_calls(), 0);
    }

    /// The classic first apply: the cluster is moments old, and the listener that forwards to the
    /// service's target group too (ECS's answers, played by the SDK's mocks).
    #[tokio::test]
    async fn a_service_right_after_its_cluster_and_listener_is_retried_until_ecs_sees_them() {
        use aws_sdk_ecs::types::error::ClusterNotFoundException;
        let no_cluster = mock!(Client::create_service).then_error(|| {
            CreateServiceError::ClusterNotFoundException(
                ClusterNotFoundException::builder()
                    .message("Cluster not found.")
                    .meta(
                        aws_smithy_types::error::ErrorMetadata::builder()
                            .code("ClusterNotFoundException")
                            .message("Cluster not found.")
                            .build(),
                    )
                    .build(),
            )
        });
        let no_listener = mock!(Client::create_service).then_error(invalid_parameter(
            "The target group with targetGroupArn arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/shop-api/1 \
             does not have an associated load balancer.",
        ));
        let created = mock!(Client::create_service).then_output(|| {
            CreateServiceOutput::builder()
                .service(Service::builder().service_arn("arn:aws:ecs:us-east-1:1:service/shop/api").build())
                .build()
        });
        let ecs = mock_ecs(&[&no_cluster, &no_listener, &created]);
        let service = send_create(ecs.create_service().cluster("shop").service_name("api"), FAST)
            .await
            .expect("created once ECS sees the cluster and the listener");
        assert_eq!(service.service_arn(), Some("arn:aws:ecs:us-east-1:1:service/shop/api"));
        assert_eq!((no_cluster.num_calls(), no_listener.num_calls(), created.num_calls()), (1, 1, 1));
    }
}
