//! Fargate tasks, which moto 5.1.22 cannot run (`RunTask` with `launchType = FARGATE` answers
//! HTTP 500): the profile answers `RunTask`, `DescribeTasks` and `StopTask` as ECS does, and each
//! task goes `PROVISIONING` → `PENDING` → `RUNNING` → `STOPPED` on the clock (the
//! `ecs.task-lifecycle` windows).
//!
//! How a task ends, so a test can choose: [`Profile::set_task_outcome`](crate::Profile) per task
//! definition family; otherwise from the command the task runs (the container override's, else the
//! task definition's): `exit N` anywhere in it (`["sh", "-c", "./migrate && exit 3"]`) stops the
//! essential container with exit code N; any other command exits 0.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{json, Value};

use super::super::call::Call;
use super::super::http::Response;
use super::super::lifecycles::epoch_now;
use super::super::shapes::json_result;
use super::super::{State, Turn};

const ID: &str = "complete.ecs.run-task";
const LIFECYCLE: &str = "ecs.task-lifecycle";

/// How a task ends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskOutcome {
    /// The essential container's exit code; `None`: the task never started (e.g. the image could
    /// not be pulled), so it has none.
    pub exit_code: Option<i32>,
    /// The task's `stoppedReason`.
    pub stopped_reason: String,
}

impl TaskOutcome {
    /// The container ran and exited with this code.
    pub fn exits(code: i32) -> TaskOutcome {
        TaskOutcome { exit_code: Some(code), stopped_reason: "Essential container in task exited".to_string() }
    }

    /// The task never started, for this reason (e.g. `CannotPullContainerError: …`).
    pub fn fails_to_start(reason: &str) -> TaskOutcome {
        TaskOutcome { exit_code: None, stopped_reason: reason.to_string() }
    }
}

#[derive(Debug, Default)]
pub(crate) struct Tasks {
    /// By ARN, `family:revision` and (latest) `family`.
    definitions: HashMap<String, Definition>,
    tasks: HashMap<String, Task>,
    next: u64,
}

#[derive(Clone, Debug)]
struct Definition {
    arn: String,
    family: String,
    /// Container names and commands.
    containers: Vec<(String, Vec<String>)>,
    cpu: Option<String>,
    memory: Option<String>,
}

#[derive(Debug)]
struct Task {
    arn: String,
    cluster: String,
    definition: Definition,
    started: Duration,
    created_wall: f64,
    outcome: TaskOutcome,
    overrides: Value,
    group: String,
    /// When StopTask was called.
    stop_requested: Option<Duration>,
}

fn remember(tasks: &mut Tasks, definition: &Value) {
    let (Some(arn), Some(family)) = (definition["taskDefinitionArn"].as_str(), definition["family"].as_str()) else {
        return;
    };
    let containers = definition["containerDefinitions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|container| {
            let command =
                container["command"].as_array().into_iter().flatten().filter_map(|w| w.as_str().map(str::to_string));
            (container["name"].as_str().unwrap_or("app").to_string(), command.collect())
        })
        .collect();
    let text = |key: &str| definition[key].as_str().map(str::to_string);
    let entry =
        Definition { arn: arn.into(), family: family.into(), containers, cpu: text("cpu"), memory: text("memory") };
    let revision = definition["revision"].as_i64().unwrap_or_default();
    for key in [arn.to_string(), format!("{family}:{revision}"), family.to_string()] {
        tasks.definitions.insert(key, entry.clone());
    }
}

/// `exit N` in the command → N; otherwise 0.
fn exit_code_of(command: &[String]) -> i32 {
    let words: Vec<&str> = command.iter().flat_map(|arg| arg.split(|c: char| c.is_whitespace() || c == ';')).collect();
    words.windows(2).find(|pair| pair[0] == "exit").and_then(|pair| pair[1].parse().ok()).unwrap_or(0)
}

fn fargate(call: &Call) -> bool {
    call.json_str("launchType") == Some("FARGATE")
        || call.json["capacityProviderStrategy"].as_array().is_some_and(|strategy| {
            strategy.iter().any(|s| s["capacityProvider"].as_str().is_some_and(|p| p.starts_with("FARGATE")))
        })
}

pub(crate) fn prerequisite(state: &State, call: &Call) -> Option<(String, String)> {
    if call.operation != "RunTask" || !fargate(call) {
        return None;
    }
    let definition = call.json_str("taskDefinition")?;
    let known = state.completions.tasks.definitions.contains_key(definition);
    let body = json!({"taskDefinition": definition}).to_string();
    (!known).then(|| ("AmazonEC2ContainerServiceV20141113.DescribeTaskDefinition".to_string(), body))
}

pub(crate) fn learn(state: &mut State, response: &Response) {
    if let Some(answer) = response.json() {
        remember(&mut state.completions.tasks, &answer["taskDefinition"]);
    }
}

pub(crate) fn after(state: &mut State, call: &Call, response: &Response) {
    if response.ok() && matches!(call.operation.as_str(), "RegisterTaskDefinition" | "DescribeTaskDefinition") {
        learn(state, response);
    }
}

pub(crate) fn before(turn: &mut Turn<'_>, state: &mut State, call: &Call) -> Option<Response> {
    if !turn.on(ID) {
        return None;
    }
    match call.operation.as_str() {
        "RunTask" if fargate(call) => run(turn, state, call),
        "DescribeTasks" | "StopTask" => {
            let tasks = &mut state.completions.tasks;
            let asked: Vec<String> = match call.operation.as_str() {
                "StopTask" => call.json_str("task").map(str::to_string).into_iter().collect(),
                _ => call.json["tasks"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|t| t.as_str().map(str::to_string))
                    .collect(),
            };
            let known = |wanted: &String| {
                tasks.tasks.keys().find(|arn| *arn == wanted || arn.ends_with(&format!("/{wanted}"))).cloned()
            };
            if !asked.iter().any(|wanted| known(wanted).is_some()) {
                return None;
            }
            turn.meet(ID);
            let mut found = Vec::new();
            let mut failures = Vec::new();
            for wanted in &asked {
                match known(wanted) {
                    Some(arn) => found.push(arn),
                    None => failures.push(json!({"arn": wanted, "reason": "MISSING"})),
                }
            }
            if call.operation == "StopTask" {
                let task = tasks.tasks.get_mut(&found[0])?;
                task.stop_requested.get_or_insert(turn.now);
                return Some(json_result(&json!({"task": describe(turn, task)})));
            }
            let described: Vec<Value> =
                found.iter().filter_map(|arn| tasks.tasks.get(arn)).map(|task| describe(turn, task)).collect();
            if described.iter().any(|task| task["lastStatus"] != "STOPPED") {
                turn.meet(LIFECYCLE);
            }
            Some(json_result(&json!({"tasks": described, "failures": failures})))
        }
        _ => None,
    }
}

fn run(turn: &mut Turn<'_>, state: &mut State, call: &Call) -> Option<Response> {
    let outcomes = &turn.settings().task_outcomes;
    let tasks = &mut state.completions.tasks;
    let definition = tasks.definitions.get(call.json_str("taskDefinition")?)?.clone();
    let cluster = call.json_str("cluster").unwrap_or("default");
    let cluster_arn = if cluster.starts_with("arn:") {
        cluster.to_string()
    } else {
        definition.arn.split(":task-definition/").next().unwrap_or_default().to_string() + ":cluster/" + cluster
    };
    let overrides = call.json.get("overrides").cloned().unwrap_or_else(|| json!({}));
    let overridden: Option<Vec<String>> =
        overrides["containerOverrides"].as_array().into_iter().flatten().find_map(|o| {
            o["command"].as_array().map(|c| c.iter().filter_map(|w| w.as_str().map(str::to_string)).collect())
        });
    let command =
        overridden.or_else(|| definition.containers.first().map(|(_, command)| command.clone())).unwrap_or_default();
    let outcome =
        outcomes.get(&definition.family).cloned().unwrap_or_else(|| TaskOutcome::exits(exit_code_of(&command)));
    let count = call.json["count"].as_u64().unwrap_or(1).max(1);
    let mut described = Vec::new();
    for _ in 0..count {
        tasks.next += 1;
        let arn = format!("{}/{}/{:032x}", cluster_arn.replace(":cluster/", ":task/"), cluster, tasks.next);
        let group =
            call.json_str("group").map(str::to_string).unwrap_or_else(|| format!("family:{}", definition.family));
        let task = Task {
            arn: arn.clone(),
            cluster: cluster_arn.clone(),
            definition: definition.clone(),
            started: turn.now,
            created_wall: epoch_now(),
            outcome: outcome.clone(),
            overrides: overrides.clone(),
            group,
            stop_requested: None,
        };
        described.push(describe(turn, &task));
        tasks.tasks.insert(arn, task);
    }
    turn.meet(ID);
    Some(json_result(&json!({"tasks": described, "failures": []})))
}

/// The task as DescribeTasks shows it now.
fn describe(turn: &Turn<'_>, task: &Task) -> Value {
    let elapsed = turn.now.saturating_sub(task.started);
    let provisioning = turn.window(LIFECYCLE, "provisioning");
    let pending = provisioning + turn.window(LIFECYCLE, "pending");
    let ran = pending + turn.window(LIFECYCLE, "running");
    // A task that cannot start stops once it tried; one asked to stop stops then.
    let natural_end = if task.outcome.exit_code.is_some() { ran } else { pending };
    let stop_at =
        task.stop_requested.map(|at| at.saturating_sub(task.started)).map_or(natural_end, |at| at.min(natural_end));
    let stopped = elapsed >= stop_at;
    let last_status = match () {
        _ if stopped => "STOPPED",
        _ if elapsed < provisioning => "PROVISIONING",
        _ if elapsed < pending => "PENDING",
        _ => "RUNNING",
    };
    let wall = |at: Duration| task.created_wall + turn_real(turn, at);
    let user_stopped = task.stop_requested.is_some_and(|at| at.saturating_sub(task.started) < natural_end);
    let containers: Vec<Value> = task
        .definition
        .containers
        .iter()
        .enumerate()
        .map(|(n, (name, _))| {
            let mut container = json!({
                "containerArn": format!("{}/container/{n}", task.arn.replace(":task/", ":container/")),
                "taskArn": task.arn,
                "name": name,
                "lastStatus": if stopped { "STOPPED" } else if last_status == "RUNNING" { "RUNNING" } else { "PENDING" },
                "networkInterfaces": [],
            });
            if stopped {
                match task.outcome.exit_code {
                    Some(code) if !user_stopped || elapsed >= pending => container["exitCode"] = json!(code),
                    Some(_) => {}
                    None => container["reason"] = json!(task.outcome.stopped_reason),
                }
            }
            container
        })
        .collect();
    let mut described = json!({
        "taskArn": task.arn,
        "clusterArn": task.cluster,
        "taskDefinitionArn": task.definition.arn,
        "lastStatus": last_status,
        "desiredStatus": if stopped || task.stop_requested.is_some() { "STOPPED" } else { "RUNNING" },
        "launchType": "FARGATE",
        "platformVersion": "1.4.0",
        "containers": containers,
        "overrides": task.overrides,
        "group": task.group,
        "createdAt": task.created_wall,
        "attachments": [],
    });
    for (key, value) in [("cpu", &task.definition.cpu), ("memory", &task.definition.memory)] {
        if let Some(value) = value {
            described[key] = json!(value);
        }
    }
    if elapsed >= pending && task.outcome.exit_code.is_some() {
        described["startedAt"] = json!(wall(pending));
    }
    if stopped {
        let (code, reason) = match (user_stopped, task.outcome.exit_code) {
            (true, _) => ("UserInitiated", "Task stopped by user".to_string()),
            (false, Some(_)) => ("EssentialContainerExited", task.outcome.stopped_reason.clone()),
            (false, None) => ("TaskFailedToStart", task.outcome.stopped_reason.clone()),
        };
        described["stopCode"] = json!(code);
        described["stoppedReason"] = json!(reason);
        described["stoppingAt"] = json!(wall(stop_at));
        described["stoppedAt"] = json!(wall(stop_at));
    }
    described
}

/// Real seconds for an AWS duration on the profile's clock (for wall-clock timestamps).
fn turn_real(turn: &Turn<'_>, aws: Duration) -> f64 {
    aws.as_secs_f64() / turn.time_scale()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exit_code_comes_from_the_command() {
        let words = |list: &[&str]| list.iter().map(|w| w.to_string()).collect::<Vec<_>>();
        assert_eq!(exit_code_of(&words(&["sh", "-c", "./migrate && exit 3"])), 3);
        assert_eq!(exit_code_of(&words(&["exit", "7"])), 7);
        assert_eq!(exit_code_of(&words(&["./migrate"])), 0);
        assert_eq!(exit_code_of(&words(&["sh", "-c", "exit 2; echo"])), 2);
    }
}
