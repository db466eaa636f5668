//! Reading services back: what ECS runs, in the stack file's shape.
//!
//! `DescribeServices` takes up to 10 services of one cluster, so a refresh groups the services by
//! cluster and sends one call per 10 of them; the answer carries the count, network, load balancer,
//! deployment settings and tags. The task's fields (CPU, memory, roles, container) live in the task
//! definition, which is read only when the service runs a revision other than the one recorded: a
//! revision never changes, so the recorded one is known to match what was applied.

use std::collections::BTreeMap;

use aws_sdk_ecs::types::{AssignPublicIp, Service, ServiceField};
use aws_sdk_ecs::Client;
use serde_json::{json, Value as Json};

use super::config::ServiceConfig;
use super::task_definition;
use crate::context::AwsContext;
use crate::drivers::ecs_cluster::{tag_value, user_tags};
use crate::drivers::{DriverError, ExistingResource, Observed, StackInfo};
use provision_core::value::JsonMap;

/// Services one `DescribeServices` call accepts.
const DESCRIBE_BATCH: usize = 10;

type ReadResult = Result<Option<Observed>, DriverError>;

/// The cluster part of a cluster name or ARN, which is how services are grouped.
fn cluster_name(cluster: &str) -> &str {
    cluster.rsplit('/').next().unwrap_or(cluster)
}

/// The service name in a state id: an ARN (`…:service/CLUSTER/NAME` or `…:service/NAME`) or the
/// `CLUSTER/NAME` an interrupted create recorded.
pub(super) fn service_name(id: &str) -> &str {
    id.rsplit('/').next().unwrap_or(id)
}

/// The cluster a recorded service lives in: its `cluster` input, else the one in its ARN.
fn cluster_of(resource: &ExistingResource<'_>) -> Result<String, DriverError> {
    if let Some(cluster) = resource.inputs.get("cluster").and_then(Json::as_str).filter(|c| !c.is_empty()) {
        return Ok(cluster.to_string());
    }
    let parts: Vec<&str> = resource.id.split(':').next_back().unwrap_or_default().split('/').collect();
    match parts.as_slice() {
        ["service", cluster, _name] => Ok((*cluster).to_string()),
        _ => Err(DriverError::invalid(format!(
            "`{}`: cannot tell which cluster service `{}` is in",
            resource.address, resource.id
        ))
        .with_hint("give the service's full ARN (`arn:aws:ecs:REGION:ACCOUNT:service/CLUSTER/NAME`)")),
    }
}

pub(super) async fn read_many(aws: &AwsContext, resources: &[ExistingResource<'_>]) -> Vec<ReadResult> {
    let ecs = aws.ecs();
    let mut results: Vec<ReadResult> = vec![Ok(None); resources.len()];
    // Cluster name → (the cluster as the first service gave it, indexes of its services).
    let mut by_cluster: BTreeMap<String, (String, Vec<usize>)> = BTreeMap::new();
    for (index, resource) in resources.iter().enumerate() {
        match cluster_of(resource) {
            Ok(cluster) => {
                let entry =
                    by_cluster.entry(cluster_name(&cluster).to_string()).or_insert_with(|| (cluster, Vec::new()));
                entry.1.push(index);
            }
            Err(error) => results[index] = Err(error),
        }
    }
    let batches: Vec<(String, Vec<usize>)> = by_cluster
        .into_values()
        .flat_map(|(cluster, indexes)| {
            indexes.chunks(DESCRIBE_BATCH).map(|chunk| (cluster.clone(), chunk.to_vec())).collect::<Vec<_>>()
        })
        .collect();
    let describes: Vec<_> = batches
        .iter()
        .map(|(cluster, indexes)| {
            let names: Vec<String> = indexes.iter().map(|&i| service_name(resources[i].id).to_string()).collect();
            move || describe_batch(ecs, cluster, names)
        })
        .collect();
    let described: Vec<_> = aws.limiter(crate::context::Service::Ecs).all(describes).await;

    let mut found: Vec<(usize, Service)> = Vec::new();
    for ((_, indexes), answer) in batches.iter().zip(described) {
        match answer {
            Ok(services) => {
                for &index in indexes {
                    let name = service_name(resources[index].id);
                    let service = services.iter().find(|service| service.service_name() == Some(name));
                    if let Some(service) = service.filter(|service| service.status() == Some("ACTIVE")) {
                        found.push((index, service.clone()));
                    }
                }
            }
            Err(error) => indexes.iter().for_each(|&index| results[index] = Err(error.clone())),
        }
    }
    // Built up front (not in a `map` closure) so the future stays `Send` for any lifetimes.
    let reads: Vec<_> = found
        .iter()
        .map(|(index, service)| {
            let resource = &resources[*index];
            move || observe(ecs, resource, service)
        })
        .collect();
    let observed: Vec<Result<Observed, DriverError>> = aws.limiter(crate::context::Service::Ecs).all(reads).await;
    for ((index, _), result) in found.iter().zip(observed) {
        results[*index] = result.map(Some);
    }
    results
}

/// The services of one cluster among `names`; a cluster that is gone has none.
async fn describe_batch(ecs: &Client, cluster: &str, names: Vec<String>) -> Result<Vec<Service>, DriverError> {
    let answer =
        ecs.describe_services().cluster(cluster).set_services(Some(names)).include(ServiceField::Tags).send().await;
    match answer.map_err(|error| crate::aws_error("DescribeServices", error)) {
        Ok(output) => Ok(output.services.unwrap_or_default()),
        Err(error) if error.code_is("ClusterNotFoundException") => Ok(Vec::new()),
        Err(error) => Err(error),
    }
}

async fn observe(ecs: &Client, resource: &ExistingResource<'_>, service: &Service) -> Result<Observed, DriverError> {
    let applied = ServiceConfig::from_inputs(resource.inputs).unwrap_or_default();
    let mut inputs = service_inputs(service, &applied);
    let running = service.task_definition().unwrap_or_default();
    let recorded = resource.attributes.get("task_definition_arn").and_then(Json::as_str);
    if !running.is_empty() && recorded != Some(running) {
        let task = task_definition::describe(ecs, running).await?;
        let lb_port = service.load_balancers().first().and_then(|lb| lb.container_port());
        inputs.extend(task_definition::observed_inputs(&task, &resource.address.name, &applied, lb_port));
    }
    let name = service.service_name().unwrap_or_default();
    // Revisions of its family that nothing runs (a killed run registered one and never used it):
    // drift the next apply clears. Those a deployment still runs (or could roll back to) stay.
    let unused = task_definition::unused_revisions(ecs, name, &in_use(service)).await?;
    inputs.insert(UNUSED_REVISIONS.into(), json!(unused));
    let arn = service.service_arn().unwrap_or_default();
    Ok(Observed { id: arn.to_string(), inputs, attributes: attributes(name, arn, running) })
}

/// The hidden input listing revisions of the service's family that no deployment uses; desired empty.
pub(super) const UNUSED_REVISIONS: &str = "unused_revisions";

/// The revisions the service's deployments run (the current one first).
pub(super) fn in_use(service: &Service) -> Vec<String> {
    let mut used: Vec<String> = service.task_definition().map(str::to_string).into_iter().collect();
    used.extend(service.deployments().iter().filter_map(|d| d.task_definition().map(str::to_string)));
    used.dedup();
    used
}

pub(super) fn attributes(name: &str, arn: &str, task_definition_arn: &str) -> JsonMap {
    let mut attributes = JsonMap::new();
    attributes.insert("name".into(), name.into());
    attributes.insert("arn".into(), arn.into());
    attributes.insert("task_definition_arn".into(), task_definition_arn.into());
    attributes
}

/// The service's own fields. Deployment settings are left out when ECS does not return them (the
/// emulator drops them on create).
fn service_inputs(service: &Service, applied: &ServiceConfig) -> JsonMap {
    let mut inputs = JsonMap::new();
    inputs.insert("name".into(), service.service_name().unwrap_or_default().into());
    if let Some(arn) = service.cluster_arn() {
        // Keep the stack file's spelling (name or ARN) when it names this cluster.
        let same = cluster_name(&applied.cluster) == cluster_name(arn);
        inputs.insert("cluster".into(), if same { applied.cluster.as_str() } else { arn }.into());
    }
    inputs.insert("desired_count".into(), service.desired_count().into());
    if let Some(vpc) = service.network_configuration().and_then(|network| network.awsvpc_configuration()) {
        inputs.insert("subnets".into(), sorted(vpc.subnets()));
        inputs.insert("security_groups".into(), sorted(vpc.security_groups()));
        inputs.insert("assign_public_ip".into(), (vpc.assign_public_ip() == Some(&AssignPublicIp::Enabled)).into());
    }
    let load_balancer = service.load_balancers().first();
    inputs.insert("target_group".into(), load_balancer.and_then(|lb| lb.target_group_arn()).into());
    if let Some(port) = load_balancer.and_then(|lb| lb.container_port()).map(i64::from) {
        // Unset, `container_port` means the container's port: no drift while they agree.
        if applied.container_port.is_some() || applied.container.port != Some(port) {
            inputs.insert("container_port".into(), port.into());
        }
    }
    if let Some(deployment) = service.deployment_configuration() {
        if let Some(min) = deployment.minimum_healthy_percent() {
            inputs.insert("min_healthy_percent".into(), min.into());
        }
        if let Some(max) = deployment.maximum_percent() {
            inputs.insert("max_percent".into(), max.into());
        }
        if let Some(breaker) = deployment.deployment_circuit_breaker() {
            inputs.insert("circuit_breaker".into(), (breaker.enable() && breaker.rollback()).into());
        }
    }
    inputs.insert("tags".into(), user_tags(service.tags()));
    inputs
}

fn sorted(items: &[String]) -> Json {
    let mut items = items.to_vec();
    items.sort();
    json!(items)
}

/// The ARN of the service an interrupted create made (`intended_id` is `CLUSTER/NAME`), if it is
/// there and carries this stack's tag.
pub(super) async fn find_interrupted(
    ecs: &Client,
    stack: &StackInfo,
    intended_id: &str,
) -> Result<Option<String>, DriverError> {
    let Some((cluster, name)) = intended_id.rsplit_once('/') else { return Ok(None) };
    let services = describe_batch(ecs, cluster, vec![name.to_string()]).await?;
    let ours = services.into_iter().find(|service| {
        service.service_name() == Some(name)
            && service.status() == Some("ACTIVE")
            && tag_value(service.tags(), "provision:stack") == Some(stack.name.as_str())
    });
    Ok(ours.and_then(|service| service.service_arn).map(|arn| arn.to_string()))
}

#[cfg(test)]
mod tests {
    use aws_sdk_ecs::types::{AwsVpcConfiguration, LoadBalancer, NetworkConfiguration, Tag};

    use super::*;

    fn service() -> Service {
        let vpc = AwsVpcConfiguration::builder()
            .subnets("subnet-b")
            .subnets("subnet-a")
            .assign_public_ip(AssignPublicIp::Disabled)
            .build()
            .expect("subnets are set");
        Service::builder()
            .service_name("shop-api")
            .service_arn("arn:aws:ecs:us-east-1:1:service/shop/shop-api")
            .cluster_arn("arn:aws:ecs:us-east-1:1:cluster/shop")
            .desired_count(2)
            .network_configuration(NetworkConfiguration::builder().awsvpc_configuration(vpc).build())
            .load_balancers(
                LoadBalancer::builder().target_group_arn("arn:tg").container_name("api").container_port(8080).build(),
            )
            .tags(Tag::builder().key("provision:stack").value("shop").build())
            .build()
    }

    #[test]
    fn service_fields_read_back_in_the_stack_shape() {
        let applied = ServiceConfig {
            cluster: "shop".into(),
            container: super::super::config::ContainerConfig { port: Some(8080), ..Default::default() },
            ..Default::default()
        };
        let inputs = service_inputs(&service(), &applied);
        assert_eq!(inputs["cluster"], "shop", "the stack file's spelling is kept");
        assert_eq!(inputs["subnets"], json!(["subnet-a", "subnet-b"]));
        assert_eq!(inputs["security_groups"], json!([]));
        assert_eq!(inputs["target_group"], "arn:tg");
        assert_eq!(inputs.get("container_port"), None, "the container's port is the default");
        assert_eq!(inputs.get("min_healthy_percent"), None, "not returned, not reported");
        assert_eq!(inputs["tags"], json!({}));
    }

    #[test]
    fn state_ids_give_the_service_and_its_cluster() {
        assert_eq!(service_name("arn:aws:ecs:us-east-1:1:service/shop/shop-api"), "shop-api");
        assert_eq!(service_name("shop/shop-api"), "shop-api");
        assert_eq!(cluster_name("arn:aws:ecs:us-east-1:1:cluster/shop"), "shop");
        let address = provision_core::address::Address::new("ecs_service", "api");
        let inputs = JsonMap::new();
        let attributes = JsonMap::new();
        let resource = ExistingResource {
            address: &address,
            id: "arn:aws:ecs:us-east-1:1:service/shop/shop-api",
            inputs: &inputs,
            attributes: &attributes,
        };
        assert_eq!(cluster_of(&resource).expect("in the ARN"), "shop");
        let short = ExistingResource { id: "arn:aws:ecs:us-east-1:1:service/shop-api", ..resource };
        assert!(cluster_of(&short).is_err());
    }
}
