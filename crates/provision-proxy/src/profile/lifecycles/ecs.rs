//! ECS services: a create or any update (a `desiredCount` change alone too) starts a new PRIMARY
//! deployment that is `IN_PROGRESS` for the window, its running count climbing while the previous
//! deployment (ACTIVE) drains, then one `COMPLETED` deployment with `runningCount ==
//! desiredCount`. moto 5.1.22 has no `rolloutState`, never changes deployments on update and
//! reports `MOTO_ECS_SERVICE_RUNNING` tasks; the profile writes the deployments as ECS does. After
//! DeleteService a service is `DRAINING` for the window, then `INACTIVE`, and its cluster cannot
//! be deleted meanwhile.
//!
//! A deployment whose tasks cannot run (the test set a failing [`TaskOutcome`] for the task
//! definition's family: a start that fails, or a non-zero exit) runs none for the window while the
//! previous deployment keeps serving; then ECS's deployment circuit breaker gives up. With
//! `rollback` on, the failed deployment reads `FAILED` and a new PRIMARY deployment of the previous
//! task definition rolls out, with the service events ECS writes (`ecs.circuit-breaker-rollback`).
//!
//! [`TaskOutcome`]: crate::TaskOutcome

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
const ROLLBACK: &str = "ecs.circuit-breaker-rollback";
/// ECS's reason for a deployment its circuit breaker stopped.
const BREAKER_REASON: &str = "ECS deployment circuit breaker: tasks failed to start.";

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
    /// The circuit breaker rolls a failed deployment back.
    rollback: bool,
    /// Events written by the profile, newest first: (id, when, message).
    events: Vec<(String, f64, String)>,
}

#[derive(Clone, Debug)]
struct Deployment {
    id: String,
    task_definition: String,
    desired: i64,
    started: Duration,
    wall: f64,
    /// Stopped by the circuit breaker.
    failed: bool,
    /// A rollback's: it takes over the tasks of the revision that kept serving.
    resumed: bool,
    /// Its tasks cannot run (decided when it starts).
    doomed: bool,
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
        if deployment.failed {
            shaped["runningCount"] = json!(0);
            shaped["pendingCount"] = json!(0);
            shaped["rolloutState"] = json!("FAILED");
            shaped["rolloutStateReason"] = json!(BREAKER_REASON);
            shaped["failedTasks"] = json!(deployment.desired.max(1) * 3);
        }
        shaped
    };
    let done = progress(turn, primary);
    let failing = fails(turn, primary);
    let (deployments, running) = if primary.failed && progress(turn, primary) >= 1.0 {
        // Stopped with nothing to roll back to (a service's first deployment).
        (vec![shaped(primary, "PRIMARY", 0, "FAILED")], 0)
    } else if failing {
        // No task of it runs; the previous deployment keeps serving until the breaker trips.
        turn.meet(DEPLOYMENT);
        turn.meet(ROLLBACK);
        let mut first = shaped(primary, "PRIMARY", 0, "IN_PROGRESS");
        first["failedTasks"] = json!((primary.desired.max(1) as f64 * 3.0 * done).floor() as i64);
        let mut list = vec![first];
        let mut running = 0;
        if let Some(previous) = service.deployments.iter().rev().nth(1) {
            list.push(shaped(previous, "ACTIVE", previous.desired, "COMPLETED"));
            running = previous.desired;
        }
        (list, running)
    } else if done >= 1.0 {
        (vec![shaped(primary, "PRIMARY", primary.desired, "COMPLETED")], primary.desired)
    } else {
        turn.meet(DEPLOYMENT);
        // Below desired until the window has passed, whatever the desired count.
        let climbing = if primary.resumed {
            primary.desired
        } else {
            ((primary.desired as f64 * done).floor() as i64).min(primary.desired - 1).max(0)
        };
        let mut list = vec![shaped(primary, "PRIMARY", climbing, "IN_PROGRESS")];
        let mut running = climbing;
        if let Some(previous) = service.deployments.iter().rev().nth(1) {
            // A deployment the breaker stopped runs nothing to drain.
            let left = if previous.failed { 0 } else { (previous.desired as f64 * (1.0 - done)).ceil() as i64 };
            list.push(shaped(previous, "ACTIVE", left, "COMPLETED"));
            running += left;
        }
        (list, running)
    };
    if !service.events.is_empty() {
        let mut events: Vec<Value> = service
            .events
            .iter()
            .map(|(id, at, message)| json!({ "id": id, "createdAt": at, "message": message }))
            .collect();
        events.extend(described["events"].as_array().cloned().unwrap_or_default());
        described["events"] = json!(events);
    }
    described["deployments"] = json!(deployments);
    described["desiredCount"] = json!(primary.desired);
    described["runningCount"] = json!(running);
    described["pendingCount"] = json!((primary.desired - running).max(0));
    described["taskDefinition"] = json!(primary.task_definition);
}

/// Whether `deployment` is one whose tasks cannot run and whose window is still open.
fn fails(turn: &Turn<'_>, deployment: &Deployment) -> bool {
    deployment.doomed && !deployment.failed && turn.on(ROLLBACK) && progress(turn, deployment) < 1.0
}

/// Whether the tasks of a deployment of `task_definition` started now cannot run: the test set an
/// outcome for its family that is not a clean exit.
fn doomed(turn: &Turn<'_>, task_definition: &str) -> bool {
    let family = task_definition.rsplit('/').next().unwrap_or_default();
    let family = family.split(':').next().unwrap_or_default();
    turn.settings().task_outcomes.get(family).is_some_and(|outcome| outcome.exit_code != Some(0))
}

/// Once a failing deployment's window has passed, the breaker has tripped: the deployment is
/// `FAILED` and, with rollback, the previous task definition rolls out as a new deployment.
fn settle(turn: &mut Turn<'_>, name: &str, service: &mut Service, next: &mut u64) {
    let Some(primary) = service.deployments.last() else { return };
    if !primary.doomed || primary.failed || !turn.on(ROLLBACK) || progress(turn, primary) < 1.0 {
        return;
    }
    turn.meet(ROLLBACK);
    let failed_id = primary.id.clone();
    let previous = service.deployments.iter().rev().nth(1).cloned();
    if let Some(primary) = service.deployments.last_mut() {
        primary.failed = true;
    }
    let wall = epoch_now();
    let mut event = |message: String| {
        *next += 1;
        service.events.insert(0, (format!("{:08x}-profile-event", *next), wall, message));
    };
    event(format!(
        "(service {name}) is unable to consistently start tasks successfully. For more information, see the \
         Troubleshooting section of the Amazon ECS Developer Guide."
    ));
    event(format!("(service {name}) (deployment {failed_id}) deployment failed: tasks failed to start."));
    let Some(previous) = previous.filter(|_| service.rollback) else { return };
    *next += 1;
    service.deployments.push(Deployment {
        id: format!("ecs-svc/{:019}", 4_000_000_000_000_000_000u64 + *next),
        // Listed beside the failed one from the moment a caller first sees the breaker tripped.
        started: turn.now,
        wall,
        failed: false,
        doomed: false,
        resumed: true,
        ..previous
    });
    let excess = service.deployments.len().saturating_sub(2);
    service.deployments.drain(..excess);
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
                    let breaker = &call.json["deploymentConfiguration"]["deploymentCircuitBreaker"];
                    if let Some(rollback) = breaker["rollback"].as_bool() {
                        service.rollback = rollback && breaker["enable"].as_bool().unwrap_or(false);
                    }
                    store.next += 1;
                    let task_definition = described["taskDefinition"].as_str().unwrap_or_default().to_string();
                    service.deployments.push(Deployment {
                        doomed: doomed(turn, &task_definition),
                        id: format!("ecs-svc/{:019}", 4_000_000_000_000_000_000u64 + store.next),
                        task_definition,
                        desired: described["desiredCount"].as_i64().unwrap_or_default(),
                        started: turn.now,
                        wall: epoch_now(),
                        failed: false,
                        resumed: false,
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
                let Some(service) = described["serviceArn"].as_str().and_then(|arn| store.services.get_mut(arn)) else {
                    continue;
                };
                let name = described["serviceName"].as_str().unwrap_or_default().to_string();
                settle(turn, &name, service, &mut store.next);
                rewrite(turn, service, described);
            }
        }
        _ => return,
    }
    response.set_json(&answer);
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::super::call::{call, signed, Call};
    use super::super::super::{Profile, ProfileOptions, Response};
    use crate::TaskOutcome;

    fn ecs(target: &str, body: &str) -> Call {
        let auth = signed("ecs");
        call("POST", "/", &[("Authorization", &auth), ("X-Amz-Target", target)], body)
    }

    fn service(task_definition: &str) -> String {
        format!(
            r#"{{"serviceArn":"arn:svc","serviceName":"api","clusterArn":"arn:c","desiredCount":2,"runningCount":2,"taskDefinition":"{task_definition}","deployments":[],"events":[]}}"#
        )
    }

    fn answer(body: String) -> Response {
        Response::new(200, "application/x-amz-json-1.1", body)
    }

    fn describe(profile: &Profile, moto_says: &str) -> serde_json::Value {
        let body = format!(r#"{{"services":[{}],"failures":[]}}"#, service(moto_says));
        let answer = profile.after(&ecs("X.DescribeServices", "{}"), answer(body));
        serde_json::from_slice::<serde_json::Value>(&answer.body).unwrap()["services"][0].clone()
    }

    /// A deployment whose tasks cannot start serves nothing new, the old revision keeps running,
    /// and when the window passes the breaker marks it `FAILED` and rolls the old revision out again.
    #[test]
    fn a_deployment_whose_tasks_cannot_start_fails_and_rolls_back() {
        let profile = Profile::new(ProfileOptions::default());
        profile.clock().pause();
        let breaker = r#"{"deploymentConfiguration":{"deploymentCircuitBreaker":{"enable":true,"rollback":true}}}"#;
        let old = "arn:aws:ecs:us-east-1:1:task-definition/shop-api:1";
        let new = "arn:aws:ecs:us-east-1:1:task-definition/shop-api:2";
        profile.after(&ecs("X.CreateService", breaker), answer(format!(r#"{{"service":{}}}"#, service(old))));
        profile.clock().advance(Duration::from_secs(3 * 60));
        profile.set_task_outcome("shop-api", TaskOutcome::fails_to_start("CannotPullContainerError: not found"));
        profile.after(&ecs("X.UpdateService", "{}"), answer(format!(r#"{{"service":{}}}"#, service(new))));

        profile.clock().advance(Duration::from_secs(60));
        let during = describe(&profile, new);
        assert_eq!(during["deployments"][0]["rolloutState"], "IN_PROGRESS", "{during}");
        assert_eq!(during["deployments"][0]["runningCount"], 0);
        assert!(during["deployments"][0]["failedTasks"].as_i64().unwrap() > 0);
        assert_eq!(
            (during["deployments"][1]["taskDefinition"].as_str(), during["runningCount"].as_i64()),
            (Some(old), Some(2))
        );

        profile.clock().advance(Duration::from_secs(2 * 60));
        let after = describe(&profile, new);
        let deployments = after["deployments"].as_array().unwrap();
        assert_eq!(deployments.len(), 2, "{after}");
        assert_eq!(
            (deployments[0]["status"].as_str(), deployments[0]["taskDefinition"].as_str()),
            (Some("PRIMARY"), Some(old))
        );
        assert_eq!(deployments[1]["rolloutState"], "FAILED");
        assert_eq!(deployments[1]["rolloutStateReason"], super::BREAKER_REASON);
        assert_eq!((after["taskDefinition"].as_str(), after["runningCount"].as_i64()), (Some(old), Some(2)));
        let events: Vec<&str> =
            after["events"].as_array().unwrap().iter().filter_map(|e| e["message"].as_str()).collect();
        assert!(events.iter().any(|e| e.contains("deployment failed: tasks failed to start")), "{events:?}");
        assert!(profile.met(super::ROLLBACK) > 0);

        profile.clock().advance(Duration::from_secs(3 * 60));
        let settled = describe(&profile, new);
        assert_eq!(settled["deployments"].as_array().unwrap().len(), 1, "{settled}");
        assert_eq!(settled["deployments"][0]["rolloutState"], "COMPLETED", "the rolled-back revision serves");
        assert_eq!(settled["taskDefinition"], old);
    }
}
