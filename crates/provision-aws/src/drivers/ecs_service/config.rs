//! The service's inputs as a typed value, and the checks that catch what ECS would reject late.
//!
//! Fargate runs only fixed CPU/memory pairs, and a bad pair surfaces as a `ClientException` from
//! `RegisterTaskDefinition` halfway through an apply. The same goes for a load balancer without a
//! container port, or secrets without an execution role to fetch them. Checking these offline (on the
//! stack file's literal values, and again once references are resolved) turns them into `validate`
//! errors that name the field and list what is allowed.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value as Json;

use crate::drivers::{DriverError, Problem};
use provision_core::value::{JsonMap, Value};

pub(super) const WAIT_OPTIONS: &[&str] = &["steady", "none"];

/// The inputs of one service, as the planner resolved them (or as the state recorded them).
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub(super) struct ServiceConfig {
    pub name: String,
    pub cluster: String,
    pub cpu: i64,
    pub memory: i64,
    pub desired_count: i64,
    pub execution_role: Option<String>,
    pub task_role: Option<String>,
    pub subnets: Vec<String>,
    pub security_groups: Vec<String>,
    pub assign_public_ip: bool,
    pub target_group: Option<String>,
    pub container_port: Option<i64>,
    pub min_healthy_percent: i64,
    pub max_percent: i64,
    pub circuit_breaker: bool,
    pub wait: String,
    pub wait_timeout: String,
    pub container: ContainerConfig,
    pub migration: Option<MigrationConfig>,
}

/// `[ecs_service.NAME.migration]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct MigrationConfig {
    pub command: Vec<String>,
    pub timeout: Option<String>,
}

impl MigrationConfig {
    /// `timeout`, 10 minutes by default.
    pub fn timeout(&self) -> Duration {
        self.timeout.as_deref().and_then(|t| parse_duration(t).ok()).unwrap_or(Duration::from_secs(10 * 60))
    }
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct ContainerConfig {
    pub image: String,
    pub port: Option<i64>,
    pub environment: BTreeMap<String, String>,
    pub secrets: BTreeMap<String, String>,
    pub command: Vec<String>,
    pub health_check: Option<HealthCheckConfig>,
    pub log_group: Option<String>,
    #[serde(default = "pinned")]
    pub pin_digest: bool,
    /// The digest `image`'s tag pointed at when the plan was made (hidden: see `image.rs`).
    pub image_digest: Option<String>,
}

fn pinned() -> bool {
    true
}

#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub(super) struct HealthCheckConfig {
    pub command: Vec<String>,
    pub interval: i64,
    pub timeout: i64,
    pub retries: i64,
    pub start_period: i64,
}

impl Default for ServiceConfig {
    fn default() -> ServiceConfig {
        ServiceConfig {
            name: String::new(),
            cluster: String::new(),
            cpu: 256,
            memory: 512,
            desired_count: 1,
            execution_role: None,
            task_role: None,
            subnets: Vec::new(),
            security_groups: Vec::new(),
            assign_public_ip: false,
            target_group: None,
            container_port: None,
            min_healthy_percent: 100,
            max_percent: 200,
            circuit_breaker: true,
            wait: "steady".into(),
            wait_timeout: "15m".into(),
            container: ContainerConfig::default(),
            migration: None,
        }
    }
}

impl Default for HealthCheckConfig {
    fn default() -> HealthCheckConfig {
        HealthCheckConfig { command: Vec::new(), interval: 30, timeout: 5, retries: 3, start_period: 0 }
    }
}

/// An optional string that an empty value leaves unset.
fn present(value: &Option<String>) -> Option<&str> {
    value.as_deref().filter(|text| !text.is_empty())
}

impl ServiceConfig {
    pub fn from_inputs(inputs: &JsonMap) -> Result<ServiceConfig, DriverError> {
        // Values not known yet (an import before the resources they refer to) arrive as null.
        serde_json::from_value(provision_core::value::without_nulls(&Json::Object(inputs.clone())))
            .map_err(|error| DriverError::invalid(format!("invalid `ecs_service` inputs: {error}")))
    }

    pub fn execution_role(&self) -> Option<&str> {
        present(&self.execution_role)
    }

    pub fn task_role(&self) -> Option<&str> {
        present(&self.task_role)
    }

    pub fn target_group(&self) -> Option<&str> {
        present(&self.target_group)
    }

    /// The container port the target group sends traffic to: `container_port`, else the container's.
    pub fn load_balancer_port(&self) -> Option<i64> {
        self.target_group()?;
        self.container_port.or(self.container.port)
    }

    /// Every port the container listens on, for its port mappings.
    pub fn container_ports(&self) -> Vec<i64> {
        let mut ports: Vec<i64> = self.container.port.into_iter().chain(self.load_balancer_port()).collect();
        ports.sort_unstable();
        ports.dedup();
        ports
    }

    pub fn waits(&self) -> bool {
        self.wait != "none"
    }

    pub fn wait_timeout(&self) -> Duration {
        parse_duration(&self.wait_timeout).unwrap_or(Duration::from_secs(15 * 60))
    }
}

impl ContainerConfig {
    pub fn log_group(&self) -> Option<&str> {
        present(&self.log_group)
    }

    /// The image as ECS gets it: by digest when one was resolved.
    pub fn deployed_image(&self) -> String {
        let digest = if self.pin_digest { present(&self.image_digest) } else { None };
        super::image::deployed_image(&self.image, digest)
    }
}

/// `90s`, `15m`, `1h`: a positive whole number and a unit.
pub(super) fn parse_duration(text: &str) -> Result<Duration, String> {
    let invalid = || format!("`{text}` is not a duration; write a whole number and a unit, e.g. `90s`, `15m` or `1h`");
    let split = text.find(|c: char| !c.is_ascii_digit()).ok_or_else(invalid)?;
    let (number, unit) = text.split_at(split);
    let too_long = || format!("`{text}` is longer than provision waits for anything (a year at most)");
    let number: u64 = number.parse().map_err(|_| if number.is_empty() { invalid() } else { too_long() })?;
    let seconds = match unit {
        "s" => Some(number),
        "m" => number.checked_mul(60),
        "h" => number.checked_mul(3600),
        _ => return Err(invalid()),
    }
    .filter(|seconds| Duration::from_secs(*seconds) <= provision_core::stack::MAX_DURATION)
    .ok_or_else(too_long)?;
    if seconds == 0 {
        return Err(format!("`{text}` is no time at all; give the longest a deployment may take, e.g. `15m`"));
    }
    Ok(Duration::from_secs(seconds))
}

/// A field check for `wait_timeout`, so a literal in the stack file is caught where it is written.
pub(super) fn check_wait_timeout(text: &str) -> Result<(), String> {
    parse_duration(text).map(|_| ())
}

/// The memory sizes Fargate accepts with `cpu` units, or `None` for a CPU size it does not offer.
pub(super) fn fargate_memory(cpu: i64) -> Option<Vec<i64>> {
    let (first, last, step) = match cpu {
        256 => return Some(vec![512, 1024, 2048]),
        512 => (1024, 4096, 1024),
        1024 => (2048, 8192, 1024),
        2048 => (4096, 16384, 1024),
        4096 => (8192, 30720, 1024),
        8192 => (16384, 61440, 4096),
        16384 => (32768, 122880, 8192),
        _ => return None,
    };
    Some((first..=last).step_by(step).collect())
}

const FARGATE_CPU: &[i64] = &[256, 512, 1024, 2048, 4096, 8192, 16384];

/// A list of sizes as a user reads it: all of them when few, else the range and its step.
fn describe_sizes(sizes: &[i64]) -> String {
    match sizes {
        [first, second, .., last] if sizes.len() > 8 => format!("{first} to {last} in steps of {}", second - first),
        _ => sizes.iter().map(i64::to_string).collect::<Vec<_>>().join(", "),
    }
}

/// Cross-field checks; values that are still references (`Unknown`) are skipped.
pub(super) fn check(values: &BTreeMap<String, Value>) -> Vec<Problem> {
    let mut problems = Vec::new();
    let int = |name: &str| match values.get(name) {
        Some(Value::Int(number)) => Some(*number),
        _ => None,
    };
    // Set, possibly to a reference that is not resolved yet; an empty string leaves it unset.
    let set = |name: &str| match values.get(name) {
        None | Some(Value::Null) => false,
        Some(Value::Str(text)) => !text.is_empty(),
        Some(_) => true,
    };
    let container = match values.get("container") {
        Some(Value::Map(container)) => Some(container),
        _ => None,
    };
    let container_has =
        |name: &str| container.and_then(|c| c.get(name)).is_some_and(|value| !matches!(value, Value::Null));

    if let Some(cpu) = int("cpu") {
        match fargate_memory(cpu) {
            None => problems.push(
                Problem::error(
                    "cpu",
                    format!("cpu {cpu} is not a Fargate size; valid: {}", describe_sizes(FARGATE_CPU)),
                )
                .hint("1024 CPU units are one vCPU"),
            ),
            Some(valid) => {
                if let Some(memory) = int("memory").filter(|memory| !valid.contains(memory)) {
                    problems.push(
                        Problem::error(
                            "memory",
                            format!("memory {memory} is not valid with cpu {cpu}; valid: {}", describe_sizes(&valid)),
                        )
                        .hint("Fargate runs fixed CPU/memory pairs (memory in MiB); pick one of these or change `cpu`"),
                    );
                }
            }
        }
    }

    if set("target_group") && !set("container_port") && !container_has("port") {
        problems.push(
            Problem::error("target_group", "a target group needs a port to send traffic to")
                .hint("set `container.port` (the port the container listens on) or `container_port`"),
        );
    }

    if let Some(Value::Str(timeout)) = values.get("wait_timeout") {
        if let Err(message) = parse_duration(timeout) {
            problems.push(Problem::error("wait_timeout", message));
        }
    }

    if let (Some(min), Some(max)) = (int("min_healthy_percent"), int("max_percent")) {
        if min > max {
            problems.push(
                Problem::error("min_healthy_percent", format!("min_healthy_percent {min} is above max_percent {max}"))
                    .hint("ECS keeps between these shares of `desired_count` running during a deployment"),
            );
        } else if min == 100 && max == 100 {
            problems.push(
                Problem::warning(
                    "max_percent",
                    "with min_healthy_percent and max_percent both 100, ECS can neither start a new task before \
                     stopping an old one nor stop one first, so deployments stall",
                )
                .hint("keep `max_percent = 200` for zero-downtime rolling deployments"),
            );
        }
    }
    for (name, range) in [("min_healthy_percent", 0..=100), ("desired_count", 0..=5000)] {
        if let Some(value) = int(name).filter(|value| !range.contains(value)) {
            problems
                .push(Problem::error(name, format!("{name} {value} is outside {}..={}", range.start(), range.end())));
        }
    }
    if let Some(max) = int("max_percent").filter(|max| *max < 100) {
        problems.push(Problem::error("max_percent", format!("max_percent {max} is below 100")));
    }

    for (field, port) in [("container_port", int("container_port")), ("container", container_int(container, "port"))] {
        if let Some(port) = port.filter(|port| !(1..=65535).contains(port)) {
            problems.push(Problem::error(field, format!("port {port} is outside 1..=65535")));
        }
    }

    if matches!(values.get("subnets"), Some(Value::List(subnets)) if subnets.is_empty()) {
        problems.push(
            Problem::error("subnets", "a Fargate service needs at least one subnet")
                .hint("leave `subnets` out to use the `[network]` subnets"),
        );
    }

    if !set("execution_role") {
        let secrets =
            container.and_then(|c| c.get("secrets")).is_some_and(|s| matches!(s, Value::Map(m) if !m.is_empty()));
        if secrets {
            problems.push(
                Problem::error("container", "`container.secrets` need an `execution_role` that may read them").hint(
                    "set `execution_role` to a role trusted by `ecs-tasks.amazonaws.com` with access to the secrets",
                ),
            );
        }
        if container_has("log_group") {
            problems.push(
                Problem::error("container", "`container.log_group` needs an `execution_role` that may write the logs")
                    .hint("set `execution_role` to a role with the `AmazonECSTaskExecutionRolePolicy` policy"),
            );
        }
        if let Some(Value::Str(image)) = container.and_then(|c| c.get("image")) {
            if image.contains(".dkr.ecr.") {
                problems.push(
                    Problem::warning("container", "an image in ECR can only be pulled with an `execution_role`")
                        .hint("set `execution_role` to a role with the `AmazonECSTaskExecutionRolePolicy` policy"),
                );
            }
        }
    }

    if let Some(Value::Map(health)) = container.and_then(|c| c.get("health_check")) {
        let limits = [("interval", 5..=300), ("timeout", 2..=60), ("retries", 1..=10), ("start_period", 0..=300)];
        for (name, range) in limits {
            if let Some(Value::Int(value)) = health.get(name) {
                if !range.contains(value) {
                    problems.push(Problem::error(
                        "container",
                        format!("`health_check.{name}` {value} is outside {}..={}", range.start(), range.end()),
                    ));
                }
            }
        }
    }
    problems
}

fn container_int(container: Option<&BTreeMap<String, Value>>, name: &str) -> Option<i64> {
    match container?.get(name)? {
        Value::Int(number) => Some(*number),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(json: serde_json::Value) -> BTreeMap<String, Value> {
        match Value::from_json(&json) {
            Value::Map(map) => map,
            _ => panic!("an object"),
        }
    }

    fn messages(problems: &[Problem]) -> Vec<String> {
        problems.iter().map(|p| format!("{}: {}", p.field, p.message)).collect()
    }

    #[test]
    fn fargate_pairs_name_the_valid_memory_sizes() {
        let problems = check(&values(serde_json::json!({ "cpu": 512, "memory": 3000 })));
        assert_eq!(
            messages(&problems),
            ["memory: memory 3000 is not valid with cpu 512; valid: 1024, 2048, 3072, 4096"]
        );
        let long = check(&values(serde_json::json!({ "cpu": 4096, "memory": 4096 })));
        assert_eq!(
            messages(&long),
            ["memory: memory 4096 is not valid with cpu 4096; valid: 8192 to 30720 in steps of 1024"]
        );
        assert!(check(&values(serde_json::json!({ "cpu": 256, "memory": 2048 }))).is_empty());
        assert!(check(&values(serde_json::json!({ "cpu": 16384, "memory": 122880 }))).is_empty());
        let cpu = check(&values(serde_json::json!({ "cpu": 300, "memory": 512 })));
        assert_eq!(
            messages(&cpu),
            ["cpu: cpu 300 is not a Fargate size; valid: 256, 512, 1024, 2048, 4096, 8192, 16384"]
        );
    }

    #[test]
    fn the_fargate_table_has_the_documented_sizes() {
        assert_eq!(fargate_memory(512), Some(vec![1024, 2048, 3072, 4096]));
        assert_eq!(fargate_memory(8192).map(|sizes| sizes.len()), Some(12));
        assert_eq!(fargate_memory(16384).map(|sizes| (sizes[0], sizes[sizes.len() - 1])), Some((32768, 122880)));
    }

    #[test]
    fn a_target_group_needs_a_port() {
        let without = check(&values(serde_json::json!({ "target_group": "arn:tg", "container": { "image": "x" } })));
        assert_eq!(messages(&without), ["target_group: a target group needs a port to send traffic to"]);
        let with_container_port = values(
            serde_json::json!({ "target_group": "arn:tg", "container_port": 80, "container": { "image": "x" } }),
        );
        assert!(check(&with_container_port).is_empty());
        let mut unknown = values(serde_json::json!({ "container": { "image": "x", "port": 80 } }));
        unknown.insert("target_group".into(), Value::Unknown);
        assert!(check(&unknown).is_empty(), "a reference still counts as set, and the port is given");
    }

    #[test]
    fn wait_timeouts_take_a_unit() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert!(parse_duration("999999999999999999h").unwrap_err().contains("a year at most"));
        assert!(parse_duration("15").unwrap_err().contains("e.g. `90s`"));
        assert!(parse_duration("m").is_err());
        assert!(parse_duration("1.5h").is_err());
        assert!(parse_duration("0s").unwrap_err().contains("no time"));
        let problems = check(&values(serde_json::json!({ "wait_timeout": "soon" })));
        assert_eq!(problems[0].field, "wait_timeout");
    }

    #[test]
    fn deployment_percentages_must_leave_room() {
        let inverted = check(&values(serde_json::json!({ "min_healthy_percent": 150, "max_percent": 120 })));
        assert!(messages(&inverted).iter().any(|m| m.contains("is above max_percent 120")));
        let stalled = check(&values(serde_json::json!({ "min_healthy_percent": 100, "max_percent": 100 })));
        assert!(stalled[0].warning);
    }

    #[test]
    fn secrets_and_logs_need_an_execution_role() {
        let problems = check(&values(serde_json::json!({
            "container": { "image": "x", "secrets": { "DB": "arn:aws:secretsmanager:x" }, "log_group": "/ecs/api" }
        })));
        assert_eq!(problems.len(), 2);
        let with_role = values(serde_json::json!({
            "execution_role": "arn:aws:iam::1:role/exec",
            "container": { "image": "x", "secrets": { "DB": "arn:aws:secretsmanager:x" }, "log_group": "/ecs/api" }
        }));
        assert!(check(&with_role).is_empty());
    }

    #[test]
    fn config_reads_resolved_inputs_with_defaults() {
        let inputs = serde_json::json!({
            "name": "shop-api", "cluster": "arn:aws:ecs:us-east-1:1:cluster/shop", "subnets": ["b", "a"],
            "target_group": "arn:tg", "execution_role": "", "container": { "image": "nginx", "port": 8080 },
        });
        let config = ServiceConfig::from_inputs(inputs.as_object().expect("object")).expect("valid");
        assert_eq!((config.cpu, config.memory, config.desired_count), (256, 512, 1));
        assert_eq!(config.execution_role(), None);
        assert_eq!(config.load_balancer_port(), Some(8080));
        assert_eq!(config.container_ports(), [8080]);
        assert!(config.waits());
        assert_eq!(config.wait_timeout(), Duration::from_secs(900));
    }
}
