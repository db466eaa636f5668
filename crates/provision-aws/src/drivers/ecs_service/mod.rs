//! `ecs_service`: a Fargate service running one container, deployed with zero downtime.
//!
//! The resource is two ECS objects: the service and its task definition (one revision per change
//! of the container or the task's size and roles). Keeping them together means the user writes the
//! container next to the service that runs it, and a change to either shows as one update that
//! rolls the service.
//!
//! Deployments are ECS rolling updates: with the default `min_healthy_percent = 100` and
//! `max_percent = 200`, new tasks start and pass the target group's health checks before old ones
//! stop, and the circuit breaker rolls a failing deployment back. `apply` waits for the outcome
//! (`wait = "steady"`) and reports a rollback as the failure it is.
//!
//! The state id is the service ARN. The id recorded before a create is `CLUSTER/NAME`, which is
//! enough to find the service again when a run is killed during the create.

mod config;
mod deployment;
mod image;
mod image_retention;
mod lifecycle;
mod migration;
mod observation;
mod ordering;
mod reachability;
mod secret_access;
mod task_definition;

use async_trait::async_trait;
use serde_json::Value as Json;

use self::config::{check_wait_timeout, WAIT_OPTIONS};
use super::ecs_cluster::check_ecs_name;
use super::*;
use provision_core::schema::{Default as FieldDefault, FieldKind, FieldSpec, ResourceSchema};

pub struct ServiceDriver;

static HEALTH_CHECK_FIELDS: &[FieldSpec] = &[
    FieldSpec::new(
        "command",
        FieldKind::StringList,
        "The check to run in the container, e.g. `[\"CMD-SHELL\", \"curl -f http://localhost/ || exit 1\"]`",
    )
    .required(),
    FieldSpec::new("interval", FieldKind::Int, "Seconds between checks (5 to 300)").default(FieldDefault::Int(30)),
    FieldSpec::new("timeout", FieldKind::Int, "Seconds a check may take (2 to 60)").default(FieldDefault::Int(5)),
    FieldSpec::new("retries", FieldKind::Int, "Failed checks in a row that make the container unhealthy (1 to 10)")
        .default(FieldDefault::Int(3)),
    FieldSpec::new("start_period", FieldKind::Int, "Seconds after start during which failures do not count (0 to 300)")
        .default(FieldDefault::Int(0)),
];

static CONTAINER_FIELDS: &[FieldSpec] = &[
    FieldSpec::new("image", FieldKind::String, "The image to run, e.g. `\"${ecr_repository.api.url}:v1\"`").required(),
    FieldSpec::new("port", FieldKind::Int, "The port the container listens on"),
    FieldSpec::new("environment", FieldKind::StringMap, "Environment variables").default(FieldDefault::EmptyMap),
    FieldSpec::new(
        "secrets",
        FieldKind::StringMap,
        "Environment variables read at start from Secrets Manager or SSM: NAME = secret or parameter ARN \
         (provision passes the ARN, never the value)",
    )
    .default(FieldDefault::EmptyMap),
    FieldSpec::new("command", FieldKind::StringList, "Overrides the image's command").default(FieldDefault::EmptyList),
    FieldSpec::new("health_check", FieldKind::Table(HEALTH_CHECK_FIELDS), "A container health check"),
    FieldSpec::new(
        "log_group",
        FieldKind::String,
        "A CloudWatch Logs group for the container's output, e.g. `\"${log_group.api.name}\"` (awslogs driver, \
         in the stack's region; streams prefixed with the service name)",
    ),
    FieldSpec::new(
        "pin_digest",
        FieldKind::Bool,
        "Deploy an image of this account's ECR by the digest its tag points at when the plan is made, so a push \
         under the same tag shows as `container.image_digest` and rolls out; `false` deploys by tag",
    )
    .default(FieldDefault::Bool(true)),
];

static MIGRATION_FIELDS: &[FieldSpec] = &[
    FieldSpec::new(
        "command",
        FieldKind::StringList,
        "The command one task of the new task definition runs before each rollout that changes it, e.g. `[\"./manage.py\", \"migrate\"]`; a non-zero exit stops the deploy and the service keeps its revision",
    )
    .required(),
    FieldSpec::new("timeout", FieldKind::String, "How long the migration may run: `90s`, `10m` (the default), `1h`")
        .check(check_wait_timeout),
];

static SCHEMA: ResourceSchema = ResourceSchema {
    type_name: "ecs_service",
    description: "A Fargate service running one container, with zero-downtime rolling deployments",
    fields: &[
        FieldSpec::new("name", FieldKind::String, "The service name, unique in its cluster; also the task family")
            .default(FieldDefault::AwsName { max_len: 255 })
            .forces_replacement()
            .check(check_ecs_name),
        FieldSpec::new("cluster", FieldKind::String, "The cluster name or ARN, usually `\"${ecs_cluster.main.arn}\"`")
            .required()
            .forces_replacement(),
        FieldSpec::new("cpu", FieldKind::Int, "CPU units for the task (1024 = one vCPU)")
            .default(FieldDefault::Int(256)),
        FieldSpec::new("memory", FieldKind::Int, "Memory for the task in MiB (a Fargate size for the CPU)")
            .default(FieldDefault::Int(512)),
        FieldSpec::new("desired_count", FieldKind::Int, "How many tasks to run").default(FieldDefault::Int(1)),
        FieldSpec::new(
            "execution_role",
            FieldKind::String,
            "The role ECS uses to pull the image, read secrets and write logs",
        ),
        FieldSpec::new("task_role", FieldKind::String, "The role the application's AWS calls use"),
        FieldSpec::new("subnets", FieldKind::StringList, "Subnets for the tasks")
            .default(FieldDefault::NetworkSubnetIds),
        FieldSpec::new("security_groups", FieldKind::StringList, "Security groups for the tasks")
            .default(FieldDefault::EmptyList),
        FieldSpec::new(
            "assign_public_ip",
            FieldKind::Bool,
            "Give tasks a public IP, which tasks in public subnets need to pull their image when there is no NAT gateway; `true` in the default VPC (all its subnets are public)",
        )
        .default(FieldDefault::InDefaultVpc),
        FieldSpec::new(
            "target_group",
            FieldKind::String,
            "A target group (ARN) that sends traffic to the container; the service is created after the \
             stack's listener that forwards to it",
        ),
        FieldSpec::new(
            "container_port",
            FieldKind::Int,
            "The port the target group sends to; default `container.port`",
        ),
        FieldSpec::new(
            "min_healthy_percent",
            FieldKind::Int,
            "The share of `desired_count` that keeps running during a deployment",
        )
        .default(FieldDefault::Int(100)),
        FieldSpec::new("max_percent", FieldKind::Int, "The share of `desired_count` that may run during a deployment")
            .default(FieldDefault::Int(200)),
        FieldSpec::new("circuit_breaker", FieldKind::Bool, "Stop a failing deployment and roll it back")
            .default(FieldDefault::Bool(true)),
        FieldSpec::new(
            "wait",
            FieldKind::Enum(WAIT_OPTIONS),
            "`\"steady\"`: every change waits until the service runs `desired_count` tasks of the wanted revision; \
             `\"none\"`: it returns at once",
        )
        .default(FieldDefault::Str("steady")),
        FieldSpec::new("wait_timeout", FieldKind::String, "How long to wait for a deployment: `90s`, `15m`, `1h`")
            .default(FieldDefault::Str("15m"))
            .check(check_wait_timeout),
        FieldSpec::new("container", FieldKind::Table(CONTAINER_FIELDS), "The container the service runs").required(),
        FieldSpec::new(
            "migration",
            FieldKind::Table(MIGRATION_FIELDS),
            "A one-off task (a database migration) run to completion before each rollout of a new task definition",
        ),
    ],
    attributes: &["name", "arn", "task_definition_arn"],
    taggable: true,
    derived: &[],
    create_before_destroy: false,
};

#[async_trait]
impl AwsDriver for ServiceDriver {
    fn schema(&self) -> &'static ResourceSchema {
        &SCHEMA
    }

    /// AWS: a rollout to steady ~3 min (`ecs.deployment-in-progress`) after its role can be assumed
    /// (`iam.role-not-assumable-after-create`), draining on delete ~3 (`ecs.service-draining`).
    fn typical_durations(&self) -> super::TypicalDurations {
        super::TypicalDurations::seconds(195, 180, 180)
    }

    fn check(&self, inputs: &std::collections::BTreeMap<String, provision_core::value::Value>) -> Vec<Problem> {
        config::check(inputs)
    }

    fn check_in_stack(
        &self,
        resource: &provision_core::stack::ResourceSpec,
        resources: &std::collections::BTreeMap<Address, provision_core::stack::ResourceSpec>,
    ) -> Vec<Problem> {
        let mut problems = secret_access::check(resource, resources);
        problems.extend(reachability::check_in_stack(resource, resources));
        problems.extend(image_retention::check(resource, resources));
        problems
    }

    fn check_network(&self, inputs: &JsonMap, network: &provision_core::cloud::Network) -> Vec<Problem> {
        reachability::check_network(inputs, network)
    }

    /// After the listener that forwards to its target group: ECS refuses the service before.
    fn implicit_dependencies(
        &self,
        resource: &provision_core::stack::ResourceSpec,
        resources: &std::collections::BTreeMap<Address, provision_core::stack::ResourceSpec>,
    ) -> Vec<Address> {
        ordering::listeners_forwarding_to_its_target_group(resource, resources)
    }

    /// Subnets and security groups are sets: sorted here, and sorted when read back.
    fn prepare(&self, _stack: &StackInfo, inputs: &mut JsonMap) -> Result<(), DriverError> {
        for field in ["subnets", "security_groups"] {
            if let Some(Json::Array(items)) = inputs.get_mut(field) {
                items.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
                items.dedup();
            }
        }
        // Wanted: no revision of the family that nothing runs (refresh reports the ones there are).
        inputs.insert(observation::UNUSED_REVISIONS.into(), Json::Array(Vec::new()));
        Ok(())
    }

    fn plan_notes(&self, action: Action, _inputs: &JsonMap, changed: &[&str]) -> Vec<String> {
        if action == Action::Update && changed.contains(&observation::UNUSED_REVISIONS) {
            vec!["deregisters task definition revisions of this service that nothing runs (an interrupted run left them)".into()]
        } else {
            Vec::new()
        }
    }

    fn resolves_online(&self) -> bool {
        true
    }

    /// The digest the container's image tag points at (see `image.rs`).
    async fn resolve(&self, aws: &AwsContext, stack: &StackInfo, inputs: &JsonMap) -> Result<JsonMap, DriverError> {
        image::resolve(aws, stack, inputs).await
    }

    fn planned_attributes(&self, _stack: &StackInfo, inputs: &JsonMap) -> JsonMap {
        let mut attributes = JsonMap::new();
        if let Some(name) = inputs.get("name").and_then(Json::as_str) {
            attributes.insert("name".into(), name.into());
        }
        attributes
    }

    async fn import_id(&self, aws: &AwsContext, id: &str) -> Result<String, DriverError> {
        if id.starts_with("arn:") && id.contains(":service/") {
            return Ok(id.to_string());
        }
        let Some((cluster, service)) = id.split_once('/') else {
            return Err(DriverError::invalid(format!("`{id}` is not `CLUSTER/SERVICE` or a service ARN"))
                .with_hint("import a service as `my-cluster/my-service`"));
        };
        let answer = aws
            .ecs()
            .describe_services()
            .cluster(cluster)
            .services(service)
            .send()
            .await
            .map_err(|e| crate::aws_error("DescribeServices", e))?;
        answer
            .services()
            .iter()
            .find(|s| s.status() != Some("INACTIVE"))
            .and_then(|s| s.service_arn())
            .map(str::to_string)
            .ok_or_else(|| DriverError::invalid(format!("no service `{service}` in cluster `{cluster}`")))
    }

    fn id_from_arn(&self, arn: &str) -> Option<String> {
        // Task definitions carry the service's tags too; they are not services.
        arn.contains(":service/").then(|| arn.to_string())
    }

    fn attributes_changed_by(&self, fields: &[&str]) -> Vec<&'static str> {
        let task_definition = ["cpu", "memory", "execution_role", "task_role", "container"];
        if fields.iter().any(|f| task_definition.contains(f)) {
            vec!["task_definition_arn"]
        } else {
            Vec::new()
        }
    }

    fn intended_id(&self, request: &ResourceRequest<'_>) -> String {
        let text = |field: &str| request.inputs.get(field).and_then(Json::as_str).unwrap_or_default();
        format!("{}/{}", text("cluster"), text("name"))
    }

    async fn read(
        &self,
        aws: &AwsContext,
        _stack: &StackInfo,
        resources: &[ExistingResource<'_>],
    ) -> Vec<Result<Option<Observed>, DriverError>> {
        observation::read_many(aws, resources).await
    }

    async fn create(
        &self,
        aws: &AwsContext,
        request: &ResourceRequest<'_>,
        progress: &dyn ProgressSink,
    ) -> Result<Observed, DriverError> {
        lifecycle::create(aws.ecs(), request, progress).await
    }

    async fn update(
        &self,
        aws: &AwsContext,
        prior: &ExistingResource<'_>,
        request: &ResourceRequest<'_>,
        changes: &[FieldChange],
        progress: &dyn ProgressSink,
    ) -> Result<Observed, DriverError> {
        lifecycle::update(aws.ecs(), prior, request, changes, progress).await
    }

    async fn delete(
        &self,
        aws: &AwsContext,
        resource: &ExistingResource<'_>,
        progress: &dyn ProgressSink,
    ) -> Result<(), DriverError> {
        lifecycle::delete(aws.ecs(), resource, progress).await
    }

    async fn find_interrupted(
        &self,
        aws: &AwsContext,
        stack: &StackInfo,
        _address: &Address,
        intended_id: &str,
    ) -> Result<Option<String>, DriverError> {
        observation::find_interrupted(aws.ecs(), stack, intended_id).await
    }

    /// Task definition revisions tagged with the stack whose family is no service's in the state
    /// (a create killed before its service existed, a delete killed before the family was removed).
    /// Families of recorded services are kept tidy by refresh and apply instead.
    async fn leftovers(
        &self,
        aws: &AwsContext,
        _stack: &StackInfo,
        recorded: &[ExistingResource<'_>],
        tagged: &[TaggedResource],
    ) -> Result<Vec<Leftover>, DriverError> {
        let families: Vec<String> = recorded
            .iter()
            .map(|resource| {
                resource
                    .inputs
                    .get("name")
                    .and_then(Json::as_str)
                    .map(str::to_string)
                    .unwrap_or_else(|| observation::service_name(resource.id).to_string())
            })
            .collect();
        let mut leftovers = Vec::new();
        for resource in tagged.iter().filter(|r| r.arn.contains(":task-definition/")) {
            let Some(family) = task_definition::family_of(&resource.arn) else { continue };
            if families.iter().any(|f| f == family) || !task_definition::still_exists(aws.ecs(), &resource.arn).await? {
                continue;
            }
            let owner = resource.tags.get("provision:address").and_then(|a| a.parse::<Address>().ok());
            leftovers.push(Leftover { kind: "task definition revision".into(), id: resource.arn.clone(), owner });
        }
        Ok(leftovers)
    }

    async fn delete_leftover(&self, aws: &AwsContext, leftover: &Leftover) -> Result<(), DriverError> {
        task_definition::remove(aws.ecs(), &leftover.id).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stack() -> StackInfo {
        StackInfo { name: "shop".into(), region: "us-east-1".into(), directory: ".".into(), lineage: None }
    }

    #[test]
    fn prepare_sorts_subnets_and_security_groups() {
        let mut inputs =
            serde_json::json!({ "subnets": ["subnet-b", "subnet-a"], "security_groups": ["sg-2", "sg-1"] })
                .as_object()
                .cloned()
                .expect("object");
        ServiceDriver.prepare(&stack(), &mut inputs).expect("prepare");
        assert_eq!(inputs["subnets"], serde_json::json!(["subnet-a", "subnet-b"]));
        assert_eq!(inputs["security_groups"], serde_json::json!(["sg-1", "sg-2"]));
    }

    #[test]
    fn the_intended_id_names_cluster_and_service() {
        let address = Address::new("ecs_service", "api");
        let inputs = serde_json::json!({ "cluster": "arn:aws:ecs:us-east-1:1:cluster/shop", "name": "shop-api" })
            .as_object()
            .cloned()
            .expect("object");
        let tags = Default::default();
        let secrets = Default::default();
        let stack = stack();
        let request = ResourceRequest::new(&address, &stack, &inputs, &tags, &secrets);
        assert_eq!(ServiceDriver.intended_id(&request), "arn:aws:ecs:us-east-1:1:cluster/shop/shop-api");
    }

    #[test]
    fn the_schema_defaults_match_the_contract() {
        let field = |name: &str| SCHEMA.field(name).expect("a field");
        assert!(matches!(field("cpu").default, FieldDefault::Int(256)));
        assert!(matches!(field("wait").default, FieldDefault::Str("steady")));
        assert!(field("cluster").forces_replacement && field("name").forces_replacement);
        assert!(!field("container").forces_replacement, "a container change rolls the service");
    }
}
