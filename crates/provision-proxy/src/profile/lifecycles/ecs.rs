//! ECS services: a create or any update (a `desiredCount` change alone too) starts a new PRIMARY
//! deployment that is `IN_PROGRESS` for the window, its running count climbing while the previous
//! deployment (ACTIVE) drains, then one `COMPLETED` deployment with `runningCount ==
//! desiredCount`. moto 5.1.22 has no `rolloutState`, never changes deployments on update and
//! reports `MOTO_ECS_SERVICE_RUNNING` tasks; the profile writes the deployments as ECS does. After
//! DeleteService a service is `DRAINING` for the window, then `INACTIVE`, and its cluster cannot
//! be deleted meanwhile.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{json, Value};

use super::super::call::Call;
use super::super::http::Response;
use super::super::shapes::error;
use super::super::{State, Turn};
use super::epoch_now;

const DEPLOYMENT: &str = "ecs.deployment-in-progress";
const DRAINING: &str = "ecs.service-draining";
const CONTAINS: &str = "ecs.cluster-contains-services";

#[derive(Debug, Default)]
pub(crate) struct Services {
    services: HashMap<String, Service>,
    next: u64,
}

#[derive(Debug, Default)]
struct Service {
    cluster: String,
    deployments: Vec<Deployment>,
    deleted: Option<Duration>,
}

#[derive(Clone, Debug)]
struct Deployment {
    id: String,
    task_definition: String,
    desired: i64,
    started: Duration,
    wall: f64,
}

fn progress(turn: &Turn<'_>, deployment: &Deployment) -> f64 {
    let window = turn.window(DEPLOYMENT, "window").as_secs_f64();
    if window <= 0.0 {
        return 1.0;
    }
    (turn.now.saturating_sub(deployment.started).as_secs_f64() / window).min(1.0)
}

fn draining(turn: &Turn<'_>, service: &Service) -> Option<bool> {
    let deleted = service.deleted?;
    Some(turn.on(DRAINING) && turn.now < deleted + turn.window(DRAINING, "window"))
}

/// Rewrites one service object of an answer as ECS would show it now.
fn rewrite(turn: &mut Turn<'_>, service: &Service, described: &mut Value) {
    if let Some(draining) = draining(turn, service) {
        described["status"] = json!(if draining { "DRAINING" } else { "INACTIVE" });
        described["desiredCount"] = json!(0);
        if draining {
            turn.meet(DRAINING);
        } else {
            described["runningCount"] = json!(0);
            described["pendingCount"] = json!(0);
        }
        return;
    }
    if !turn.on(DEPLOYMENT) {
        return;
    }
    let Some(primary) = service.deployments.last() else { return };
    let template = described["deployments"].as_array().and_then(|d| d.first()).cloned().unwrap_or_else(|| json!({}));
    let shaped = |deployment: &Deployment, status: &str, running: i64, rollout: &str| {
        let mut shaped = template.clone();
        shaped["id"] = json!(deployment.id);
        shaped["status"] = json!(status);
        shaped["taskDefinition"] = json!(deployment.task_definition);
        shaped["desiredCount"] = json!(deployment.desired);
        shaped["runningCount"] = json!(running);
        shaped["pendingCount"] = json!((deployment.desired - running).max(0));
        shaped["failedTasks"] = json!(0);
        shaped["createdAt"] = json!(deployment.wall);
        shaped["updatedAt"] = json!(epoch_now());
        shaped["rolloutState"] = json!(rollout);
        let verb = if rollout == "COMPLETED" { "completed" } else { "in progress" };
        shaped["rolloutStateReason"] = json!(format!("ECS deployment {} {verb}.", deployment.id));
        shaped
    };
    let done = progress(turn, primary);
    let (deployments, running) = if done >= 1.0 {
        (vec![shaped(primary, "PRIMARY", primary.desired, "COMPLETED")], primary.desired)
    } else {
        turn.meet(DEPLOYMENT);
        // Below desired until the window has passed, whatever the desired count.
        let climbing = ((primary.desired as f64 * done).floor() as i64).min(primary.desired - 1).max(0);
        let mut list = vec![shaped(primary, "PRIMARY", climbing, "IN_PROGRESS")];
        let mut running = climbing;
        if let Some(previous) = service.deployments.iter().rev().nth(1) {
            let left = (previous.desired as f64 * (1.0 - done)).ceil() as i64;
            list.push(shaped(previous, "ACTIVE", left, "COMPLETED"));
            running += left;
        }
        (list, running)
    };
    described["deployments"] = json!(deployments);
    described["desiredCount"] = json!(primary.desired);
    described["runningCount"] = json!(running);
    described["pendingCount"] = json!((primary.desired - running).max(0));
    described["taskDefinition"] = json!(primary.task_definition);
}

pub(crate) fn before(turn: &mut Turn<'_>, state: &mut State, call: &Call) -> Option<Response> {
    if call.operation != "DeleteCluster" || !turn.on(CONTAINS) {
        return None;
    }
    let cluster = call.json_str("cluster")?;
    let services = &state.lifecycles.ecs.services;
    let drains = services.values().any(|service| {
        (service.cluster == cluster || service.cluster.ends_with(&format!("/{cluster}")))
            && draining(turn, service) == Some(true)
    });
    if !drains {
        return None;
    }
    turn.meet(CONTAINS);
    Some(error(
        call,
        400,
        "ClusterContainsServicesException",
        "The Cluster cannot be deleted while Services are active.",
    ))
}

pub(crate) fn after(turn: &mut Turn<'_>, state: &mut State, call: &Call, response: &mut Response) {
    if !response.ok() {
        return;
    }
    let Some(mut answer) = response.json() else { return };
    let store = &mut state.lifecycles.ecs;
    match call.operation.as_str() {
        "CreateService" | "UpdateService" | "DeleteService" => {
            let described = &mut answer["service"];
            let Some(arn) = described["serviceArn"].as_str().map(str::to_string) else { return };
            let service = store.services.entry(arn).or_default();
            service.cluster = described["clusterArn"].as_str().unwrap_or_default().to_string();
            match call.operation.as_str() {
                "DeleteService" => service.deleted = Some(turn.now),
                operation => {
                    if operation == "CreateService" {
                        *service = Service { cluster: std::mem::take(&mut service.cluster), ..Service::default() };
                    }
                    store.next += 1;
                    service.deployments.push(Deployment {
                        id: format!("ecs-svc/{:019}", 4_000_000_000_000_000_000u64 + store.next),
                        task_definition: described["taskDefinition"].as_str().unwrap_or_default().to_string(),
                        desired: described["desiredCount"].as_i64().unwrap_or_default(),
                        started: turn.now,
                        wall: epoch_now(),
                    });
                    // ECS keeps the last two: the new one and the one it replaces.
                    let excess = service.deployments.len().saturating_sub(2);
                    service.deployments.drain(..excess);
                }
            }
            rewrite(turn, service, described);
        }
        "DescribeServices" => {
            let Some(list) = answer["services"].as_array_mut() else { return };
            for described in list {
                let Some(service) = described["serviceArn"].as_str().and_then(|arn| store.services.get(arn)) else {
                    continue;
                };
                rewrite(turn, service, described);
            }
        }
        _ => return,
    }
    response.set_json(&answer);
}
