//! The service's task definition: one Fargate task with one container, named after the resource.
//!
//! A task definition revision is immutable, which the driver leans on twice. A change to the task
//! (CPU, memory, roles, anything about the container) is a new revision and a rolling deployment,
//! never an edit. And a refresh only needs to read a revision when the service runs one other than
//! the one provision registered: the recorded revision cannot have drifted.
//!
//! The family is the service's name, so every revision provision ever registered for a service can
//! be found (and removed) when the service is deleted.

use aws_sdk_ecs::types::{
    Compatibility, ContainerDefinition, HealthCheck, KeyValuePair, LogConfiguration, LogDriver, NetworkMode,
    PortMapping, Secret, TaskDefinition, TaskDefinitionField, TaskDefinitionStatus, TransportProtocol,
};
use aws_sdk_ecs::Client;
use serde_json::{json, Value as Json};

use super::config::ServiceConfig;
use crate::drivers::ecs_cluster::ecs_tags;
use crate::drivers::DriverError;
use provision_core::value::JsonMap;

const AWSLOGS_GROUP: &str = "awslogs-group";
/// Revisions one `DeleteTaskDefinitions` call accepts.
const DELETE_BATCH: usize = 10;

/// Registers a new revision for `config`; returns its ARN.
pub(super) async fn register(
    ecs: &Client,
    config: &ServiceConfig,
    container_name: &str,
    region: &str,
    tags: &std::collections::BTreeMap<String, String>,
) -> Result<String, DriverError> {
    let output = ecs
        .register_task_definition()
        .family(&config.name)
        .requires_compatibilities(Compatibility::Fargate)
        .network_mode(NetworkMode::Awsvpc)
        .cpu(config.cpu.to_string())
        .memory(config.memory.to_string())
        .set_execution_role_arn(config.execution_role().map(str::to_string))
        .set_task_role_arn(config.task_role().map(str::to_string))
        .container_definitions(container_definition(config, container_name, region)?)
        .set_tags(Some(ecs_tags(tags)))
        .send()
        .await
        .map_err(|error| crate::aws_error("RegisterTaskDefinition", error))?;
    output
        .task_definition()
        .and_then(TaskDefinition::task_definition_arn)
        .map(str::to_string)
        .ok_or_else(|| DriverError::invalid("RegisterTaskDefinition returned no task definition ARN"))
}

fn container_definition(
    config: &ServiceConfig,
    container_name: &str,
    region: &str,
) -> Result<ContainerDefinition, DriverError> {
    let container = &config.container;
    let invalid = |what: &str, error: aws_smithy_types::error::operation::BuildError| {
        DriverError::invalid(format!("invalid container {what}: {error}"))
    };
    let mut definition =
        ContainerDefinition::builder().name(container_name).image(container.deployed_image()).essential(true);
    for port in config.container_ports() {
        let port = i32::try_from(port).map_err(|_| DriverError::invalid(format!("port {port} is out of range")))?;
        definition = definition
            .port_mappings(PortMapping::builder().container_port(port).protocol(TransportProtocol::Tcp).build());
    }
    // A BTreeMap is sorted by name, so the same environment always registers the same definition.
    for (name, value) in &container.environment {
        definition = definition.environment(KeyValuePair::builder().name(name).value(value).build());
    }
    for (name, value_from) in &container.secrets {
        let secret = Secret::builder().name(name).value_from(value_from).build().map_err(|e| invalid("secret", e))?;
        definition = definition.secrets(secret);
    }
    if !container.command.is_empty() {
        definition = definition.set_command(Some(container.command.clone()));
    }
    if let Some(check) = &container.health_check {
        let seconds = |value: i64| i32::try_from(value).ok();
        let health_check = HealthCheck::builder()
            .set_command(Some(check.command.clone()))
            .set_interval(seconds(check.interval))
            .set_timeout(seconds(check.timeout))
            .set_retries(seconds(check.retries))
            .set_start_period(seconds(check.start_period))
            .build()
            .map_err(|e| invalid("health check", e))?;
        definition = definition.health_check(health_check);
    }
    if let Some(group) = container.log_group() {
        let logs = LogConfiguration::builder()
            .log_driver(LogDriver::Awslogs)
            .options(AWSLOGS_GROUP, group)
            .options("awslogs-region", region)
            .options("awslogs-stream-prefix", &config.name)
            .build()
            .map_err(|e| invalid("log configuration", e))?;
        definition = definition.log_configuration(logs);
    }
    Ok(definition.build())
}

pub(super) async fn describe(ecs: &Client, arn: &str) -> Result<TaskDefinition, DriverError> {
    let output = ecs
        .describe_task_definition()
        .task_definition(arn)
        .include(TaskDefinitionField::Tags)
        .send()
        .await
        .map_err(|error| crate::aws_error("DescribeTaskDefinition", error))?;
    output
        .task_definition
        .ok_or_else(|| DriverError::invalid(format!("DescribeTaskDefinition returned nothing for {arn}")))
}

/// The task's fields in the stack file's shape: `cpu`, `memory`, the roles and `container`.
///
/// `load_balancer_port` is the port the service's target group sends to: a port mapping that exists
/// only for it is not the container's own `port`, unless the stack file said so.
pub(super) fn observed_inputs(
    task: &TaskDefinition,
    container_name: &str,
    applied: &ServiceConfig,
    load_balancer_port: Option<i32>,
) -> JsonMap {
    let mut inputs = JsonMap::new();
    let size = |text: Option<&str>| text.and_then(|text| text.parse::<i64>().ok());
    if let Some(cpu) = size(task.cpu()) {
        inputs.insert("cpu".into(), cpu.into());
    }
    if let Some(memory) = size(task.memory()) {
        inputs.insert("memory".into(), memory.into());
    }
    inputs.insert("execution_role".into(), task.execution_role_arn().into());
    inputs.insert("task_role".into(), task.task_role_arn().into());
    let definitions = task.container_definitions();
    let container = definitions.iter().find(|c| c.name() == Some(container_name)).or(definitions.first());
    if let Some(container) = container {
        inputs.insert("container".into(), Json::Object(observed_container(container, applied, load_balancer_port)));
    }
    inputs
}

fn observed_container(container: &ContainerDefinition, applied: &ServiceConfig, lb_port: Option<i32>) -> JsonMap {
    let mut observed = JsonMap::new();
    let (image, digest) = super::image::observed_image(container.image().unwrap_or_default(), &applied.container.image);
    observed.insert("image".into(), image.into());
    if let Some(digest) = digest {
        observed.insert(super::image::DIGEST.into(), digest.into());
    }
    // Not an ECS setting: what the stack file said.
    observed.insert("pin_digest".into(), applied.container.pin_digest.into());
    let ports: Vec<i64> =
        container.port_mappings().iter().filter_map(PortMapping::container_port).map(i64::from).collect();
    let own_port = match applied.container.port {
        Some(port) if ports.contains(&port) => Some(port),
        _ => ports.iter().copied().find(|port| Some(*port) != lb_port.map(i64::from)),
    };
    if let Some(port) = own_port {
        observed.insert("port".into(), port.into());
    }
    let pairs =
        container.environment().iter().filter_map(|pair| Some((pair.name()?, pair.value().unwrap_or_default())));
    observed.insert("environment".into(), string_map(pairs));
    let secrets = container.secrets().iter().map(|secret| (secret.name(), secret.value_from()));
    observed.insert("secrets".into(), string_map(secrets));
    observed.insert("command".into(), json!(container.command()));
    if let Some(check) = container.health_check() {
        let mut health = JsonMap::new();
        health.insert("command".into(), json!(check.command()));
        for (name, value) in [
            ("interval", check.interval()),
            ("timeout", check.timeout()),
            ("retries", check.retries()),
            ("start_period", check.start_period()),
        ] {
            if let Some(value) = value {
                health.insert(name.into(), value.into());
            }
        }
        observed.insert("health_check".into(), Json::Object(health));
    }
    let log_group = container
        .log_configuration()
        .filter(|logs| logs.log_driver() == &LogDriver::Awslogs)
        .and_then(|logs| logs.options()?.get(AWSLOGS_GROUP));
    if let Some(group) = log_group {
        observed.insert("log_group".into(), group.as_str().into());
    }
    observed
}

fn string_map<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> Json {
    Json::Object(pairs.map(|(key, value)| (key.to_string(), Json::String(value.to_string()))).collect())
}

/// Deregisters one revision. A leftover revision costs nothing, so failing here never fails the
/// apply; the error is logged.
pub(super) async fn deregister(ecs: &Client, arn: &str) {
    if let Err(error) = ecs.deregister_task_definition().task_definition(arn).send().await {
        tracing::warn!("{}", crate::aws_error("DeregisterTaskDefinition", error));
    }
}

/// Removes every revision of `family`: deregisters the active ones, then deletes them all. A
/// deregistered revision would otherwise stay listed (and tagged) for good, looking like a leftover.
pub(super) async fn remove_family(ecs: &Client, family: &str) -> Result<(), DriverError> {
    for arn in list_family(ecs, family, TaskDefinitionStatus::Active).await? {
        deregister(ecs, &arn).await;
    }
    let inactive = list_family(ecs, family, TaskDefinitionStatus::Inactive).await?;
    for batch in inactive.chunks(DELETE_BATCH) {
        let deleted = ecs.delete_task_definitions().set_task_definitions(Some(batch.to_vec())).send().await;
        match deleted {
            Ok(output) => {
                for failure in output.failures() {
                    tracing::warn!(
                        "DeleteTaskDefinitions failed for {}: {}",
                        failure.arn().unwrap_or(family),
                        failure.reason().unwrap_or("no reason given")
                    );
                }
            }
            Err(error) => tracing::warn!("{}", crate::aws_error("DeleteTaskDefinitions", error)),
        }
    }
    Ok(())
}

/// The active revisions of `family` that are not in `used`, sorted.
pub(super) async fn unused_revisions(ecs: &Client, family: &str, used: &[String]) -> Result<Vec<String>, DriverError> {
    let mut unused: Vec<String> = list_family(ecs, family, TaskDefinitionStatus::Active)
        .await?
        .into_iter()
        .filter(|arn| !used.contains(arn))
        .collect();
    unused.sort();
    Ok(unused)
}

/// Deregisters every active revision of `family` that is not in `used`. Failing here never fails
/// the action (a leftover revision costs nothing, and the next refresh reports it again).
pub(super) async fn deregister_unused(ecs: &Client, family: &str, used: &[String]) {
    match unused_revisions(ecs, family, used).await {
        Ok(unused) => {
            for arn in unused {
                deregister(ecs, &arn).await;
            }
        }
        Err(error) => tracing::warn!("listing the revisions of `{family}`: {error}"),
    }
}

/// Whether a revision still exists (active or deregistered); a deleted one does not. The emulator
/// keeps listing deleted revisions under their tags, so a listing alone does not tell.
pub(super) async fn still_exists(ecs: &Client, arn: &str) -> Result<bool, DriverError> {
    match ecs.describe_task_definition().task_definition(arn).send().await {
        Ok(output) => Ok(output
            .task_definition()
            .and_then(|definition| definition.status())
            .is_some_and(|status| matches!(status, TaskDefinitionStatus::Active | TaskDefinitionStatus::Inactive))),
        Err(error) => {
            let error = crate::aws_error("DescribeTaskDefinition", error);
            if error.code_is("ClientException") {
                Ok(false)
            } else {
                Err(error)
            }
        }
    }
}

/// Deregisters (if active) and deletes one revision.
pub(super) async fn remove(ecs: &Client, arn: &str) -> Result<(), DriverError> {
    deregister(ecs, arn).await;
    let deleted = ecs.delete_task_definitions().task_definitions(arn).send().await;
    deleted.map_err(|error| crate::aws_error("DeleteTaskDefinitions", error))?;
    Ok(())
}

async fn list_family(ecs: &Client, family: &str, status: TaskDefinitionStatus) -> Result<Vec<String>, DriverError> {
    let mut pages = ecs.list_task_definitions().family_prefix(family).status(status).into_paginator().send();
    let mut arns = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|error| crate::aws_error("ListTaskDefinitions", error))?;
        // `familyPrefix` is the whole family name in AWS; match it exactly anyway.
        let ours = page.task_definition_arns().iter().filter(|arn| family_of(arn) == Some(family));
        arns.extend(ours.cloned());
    }
    Ok(arns)
}

/// `arn:…:task-definition/FAMILY:REVISION` → `FAMILY`.
pub(super) fn family_of(arn: &str) -> Option<&str> {
    let (_, revision) = arn.rsplit_once('/')?;
    Some(revision.rsplit_once(':').map_or(revision, |(family, _)| family))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> ServiceConfig {
        let inputs = json!({
            "name": "shop-api", "cluster": "shop", "target_group": "arn:tg", "container_port": 9090,
            "container": {
                "image": "nginx:1", "port": 8080, "environment": { "B": "2", "A": "1" },
                "secrets": { "DB": "arn:aws:ssm:us-east-1:1:parameter/db" }, "command": ["serve"],
                "health_check": {
                    "command": ["CMD-SHELL", "true"], "interval": 30, "timeout": 5, "retries": 3, "start_period": 0
                },
                "log_group": "/ecs/shop"
            }
        });
        ServiceConfig::from_inputs(inputs.as_object().expect("object")).expect("valid")
    }

    #[test]
    fn the_container_maps_its_port_and_the_load_balancer_port_with_sorted_environment() {
        let definition = container_definition(&config(), "api", "eu-west-1").expect("valid");
        assert_eq!(definition.name(), Some("api"));
        let ports: Vec<Option<i32>> = definition.port_mappings().iter().map(PortMapping::container_port).collect();
        assert_eq!(ports, [Some(8080), Some(9090)]);
        let names: Vec<Option<&str>> = definition.environment().iter().map(KeyValuePair::name).collect();
        assert_eq!(names, [Some("A"), Some("B")]);
        let logs = definition.log_configuration().and_then(LogConfiguration::options).expect("awslogs options");
        assert_eq!(logs["awslogs-stream-prefix"], "shop-api");
        assert_eq!(logs["awslogs-region"], "eu-west-1");
    }

    #[test]
    fn a_registered_container_reads_back_as_it_was_written() {
        let config = config();
        let task = TaskDefinition::builder()
            .cpu("256")
            .memory("512")
            .container_definitions(container_definition(&config, "api", "eu-west-1").expect("valid"))
            .build();
        let observed = observed_inputs(&task, "api", &config, Some(9090));
        assert_eq!(observed["cpu"], 256);
        assert_eq!(observed["execution_role"], Json::Null);
        assert_eq!(
            observed["container"],
            json!({
                "image": "nginx:1", "port": 8080, "environment": { "A": "1", "B": "2" },
                "secrets": { "DB": "arn:aws:ssm:us-east-1:1:parameter/db" }, "command": ["serve"],
                "health_check": {
                    "command": ["CMD-SHELL", "true"], "interval": 30, "timeout": 5, "retries": 3, "start_period": 0
                },
                "log_group": "/ecs/shop", "pin_digest": true
            })
        );
    }

    #[test]
    fn a_mapping_only_for_the_load_balancer_is_not_the_container_port() {
        let mut config = config();
        config.container.port = None;
        let task = TaskDefinition::builder()
            .container_definitions(container_definition(&config, "api", "eu-west-1").expect("valid"))
            .build();
        let observed = observed_inputs(&task, "api", &config, Some(9090));
        assert_eq!(observed["container"].get("port"), None);
    }

    #[test]
    fn families_come_from_revision_arns() {
        assert_eq!(family_of("arn:aws:ecs:us-east-1:1:task-definition/shop-api:12"), Some("shop-api"));
        assert_eq!(family_of("no-slash"), None);
    }
}
