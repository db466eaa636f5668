//! Waiting for a deployment to finish, and for a deleted service to go away.
//!
//! Zero downtime is ECS's job (new tasks healthy behind the target group before old ones stop); the
//! driver's job is to tell the user how it ended. So the waiter follows the one deployment the
//! create or update started, by id, until the service runs the wanted number of tasks of the
//! wanted revision (`ecs.deployment-in-progress`): `COMPLETED` with that many tasks running is
//! success; `FAILED` means the circuit breaker gave up and rolled back, which is reported as a
//! failure with the reason and the service events that explain it; a deployment that disappears
//! was replaced (a rollback, or someone else's update).
//!
//! A change of `desired_count` alone starts no deployment: ECS changes the desired count of the
//! primary one, which may have completed long ago. Its `COMPLETED` therefore says nothing until
//! its running count has reached the new desired count, which is why the count is part of the test.
//!
//! ECS reports `rolloutState` for rolling deployments; the emulator does not. Without it the waiter
//! falls back to the rule of the AWS CLI's `services-stable` waiter (exactly one deployment, enough
//! tasks running), relaxed to "at least as many running as desired", because the emulator reports a
//! fixed running count (`MOTO_ECS_SERVICE_RUNNING`) whatever the desired count.
//!
//! The waiter takes the ECS client and its [`Wait`] as parameters, so that the unit tests below can
//! drive it with the SDK's mocks.

use aws_sdk_ecs::types::{Deployment, DeploymentRolloutState, Service, ServiceEvent};
use aws_sdk_ecs::Client;

use crate::behaviours::{pace, Wait};
use crate::drivers::{DriverError, ProgressSink};
use provision_core::address::Address;

/// The service and the deployment to follow, and what it must end up running.
#[derive(Clone, Debug)]
pub(super) struct Watched<'a> {
    pub cluster: &'a str,
    pub service: &'a str,
    /// The deployment's id (`None`: whichever is primary at the first look).
    pub deployment: Option<String>,
    /// The tasks the service must run.
    pub desired: i32,
    /// The task definition they must run (`None`: whichever the deployment runs).
    pub task_definition: Option<String>,
}

/// Events shown with a failure: enough to see the cause, few enough to read.
const EVENTS_SHOWN: usize = 5;

#[derive(Debug, PartialEq)]
enum Assessment {
    Done,
    Failed(String),
    Waiting(String),
}

/// Polls until the watched deployment is steady, has failed, or the wait's timeout passed.
pub(super) async fn wait_until_steady(
    ecs: &Client,
    watched: &Watched<'_>,
    wait: Wait,
    address: &Address,
    progress: &dyn ProgressSink,
) -> Result<(), DriverError> {
    let mut waiter = wait.start(address, progress);
    let mut watched = watched.clone();
    loop {
        waiter.pause().await;
        let service = describe(ecs, watched.cluster, watched.service).await?.ok_or_else(|| {
            DriverError::invalid(format!("service {} disappeared during its deployment", watched.service))
        })?;
        if watched.deployment.is_none() {
            watched.deployment = primary(&service).and_then(Deployment::id).map(str::to_string);
        }
        match assess(&service, &watched) {
            Assessment::Done => return Ok(()),
            Assessment::Failed(message) => {
                return Err(DriverError::invalid(message).with_hint(
                    "the circuit breaker rolls a failed deployment back to the previous task definition; \
                     fix the cause shown above and apply again",
                ))
            }
            Assessment::Waiting(status) if waiter.timed_out() => {
                let events = latest_events(&service, None);
                return Err(DriverError::invalid(format!(
                    "the service was not steady after {}: {status}{events}",
                    pace::human(wait.timeout)
                ))
                .with_hint(wait.hint));
            }
            Assessment::Waiting(status) => waiter.report(&status),
        }
    }
}

/// Polls until a deleted service is `INACTIVE` (or no longer known).
pub(super) async fn wait_until_inactive(
    ecs: &Client,
    cluster: &str,
    service: &str,
    wait: Wait,
    address: &Address,
    progress: &dyn ProgressSink,
) -> Result<(), DriverError> {
    let subject = format!("service {service}");
    wait.until(address, progress, &subject, || async {
        let found = match describe(ecs, cluster, service).await {
            Err(error) if error.code_is("ClusterNotFoundException") => None,
            other => other?,
        };
        Ok(match found.filter(|found| found.status() != Some("INACTIVE")) {
            None => crate::behaviours::Look::Done(()),
            Some(found) => crate::behaviours::Look::Pending(format!(
                "{} with {} tasks still running",
                found.status().unwrap_or("DRAINING"),
                found.running_count()
            )),
        })
    })
    .await
}

/// One service by name, `None` when ECS reports it missing.
pub(super) async fn describe(ecs: &Client, cluster: &str, service: &str) -> Result<Option<Service>, DriverError> {
    let output = ecs
        .describe_services()
        .cluster(cluster)
        .services(service)
        .send()
        .await
        .map_err(|error| crate::aws_error("DescribeServices", error))?;
    Ok(output.services.unwrap_or_default().into_iter().next())
}

pub(super) fn primary(service: &Service) -> Option<&Deployment> {
    service.deployments().iter().find(|deployment| deployment.status() == Some("PRIMARY"))
}

fn assess(service: &Service, watched: &Watched<'_>) -> Assessment {
    let deployments = service.deployments();
    let deployment_id = watched.deployment.as_deref();
    let found = match deployment_id {
        Some(id) => deployments.iter().find(|deployment| deployment.id() == Some(id)),
        None => primary(service),
    };
    let Some(deployment) = found else {
        let now = primary(service).and_then(Deployment::task_definition).unwrap_or("another task definition");
        return Assessment::Failed(format!(
            "deployment {} is no longer listed; the service now runs {now}{}",
            deployment_id.unwrap_or("(none)"),
            latest_events(service, None)
        ));
    };
    let id = deployment.id().unwrap_or("(unnamed)");
    match deployment.rollout_state() {
        Some(DeploymentRolloutState::Failed) => Assessment::Failed(format!(
            "deployment {id} failed: {}{}",
            deployment.rollout_state_reason().unwrap_or("no reason given"),
            latest_events(service, Some(deployment))
        )),
        Some(DeploymentRolloutState::Completed) if runs_what_is_wanted(service, deployment, watched) => {
            Assessment::Done
        }
        Some(_) => Assessment::Waiting(status(deployment, watched)),
        None if deployments.len() == 1 && service.running_count() >= service.desired_count() => Assessment::Done,
        None => Assessment::Waiting(status(deployment, watched)),
    }
}

/// A completed deployment is done when it, and the service, run exactly the desired number of
/// tasks of the wanted task definition (a scale-up or scale-down after completion changes the
/// count, not the rollout state).
fn runs_what_is_wanted(service: &Service, deployment: &Deployment, watched: &Watched<'_>) -> bool {
    let revision = match (&watched.task_definition, deployment.task_definition()) {
        (Some(wanted), Some(runs)) => wanted == runs,
        _ => true,
    };
    revision
        && deployment.desired_count() == watched.desired
        && deployment.running_count() == watched.desired
        && service.running_count() == watched.desired
}

fn status(deployment: &Deployment, watched: &Watched<'_>) -> String {
    format!(
        "deployment {}: {}/{} tasks running, {} pending",
        deployment.id().unwrap_or("(unnamed)"),
        deployment.running_count(),
        watched.desired,
        // The emulator reports desired minus running, negative when more run than desired.
        deployment.pending_count().max(0),
    )
}

/// The newest service events (since `deployment` began, when known), one per line.
fn latest_events(service: &Service, deployment: Option<&Deployment>) -> String {
    let since = deployment.and_then(Deployment::created_at);
    let recent = service.events().iter().filter(|event| match (since, event.created_at()) {
        (Some(since), Some(at)) => at.as_nanos() >= since.as_nanos(),
        _ => true,
    });
    let messages: Vec<&str> = recent.filter_map(ServiceEvent::message).take(EVENTS_SHOWN).collect();
    if messages.is_empty() {
        return String::new();
    }
    format!("\nlatest service events:\n{}", messages.iter().map(|m| format!("  {m}")).collect::<Vec<_>>().join("\n"))
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::time::Duration;

    use aws_sdk_ecs::operation::describe_services::DescribeServicesOutput;
    use aws_smithy_mocks::{mock, Rule};

    use super::*;

    /// A client answered by `rules` in order (see `crate::mock`).
    fn mock_ecs(rules: &[&Rule]) -> Client {
        mock_client!(aws_sdk_ecs, rules.iter().copied())
    }

    fn deployment(id: &str, rollout: Option<DeploymentRolloutState>, running: i32, desired: i32) -> Deployment {
        Deployment::builder()
            .id(id)
            .status("PRIMARY")
            .set_rollout_state(rollout)
            .rollout_state_reason("ECS deployment circuit breaker: tasks failed to start.")
            .running_count(running)
            .desired_count(desired)
            .pending_count(desired - running)
            .build()
    }

    fn answer(deployments: Vec<Deployment>, running: i32, desired: i32, events: &[&str]) -> DescribeServicesOutput {
        let service = Service::builder()
            .service_name("shop-api")
            .status("ACTIVE")
            .running_count(running)
            .desired_count(desired)
            .set_deployments(Some(deployments))
            .set_events(Some(events.iter().map(|m| ServiceEvent::builder().message(*m).build()).collect()))
            .build();
        DescribeServicesOutput::builder().services(service).build()
    }

    fn rule(output: DescribeServicesOutput) -> Rule {
        mock!(Client::describe_services).then_output(move || output.clone())
    }

    fn fast(timeout: Duration) -> Wait {
        crate::behaviours::ecs::DEPLOYMENT.fast().with_timeout(timeout)
    }

    #[derive(Default)]
    struct Messages(Mutex<Vec<String>>);

    impl ProgressSink for Messages {
        fn waiting(&self, _address: &Address, message: &str) {
            self.0.lock().expect("lock").push(message.to_string());
        }
    }

    fn watching(desired: i32) -> Watched<'static> {
        Watched { cluster: "shop", service: "shop-api", deployment: None, desired, task_definition: None }
    }

    async fn wait_for(ecs: &Client, desired: i32, wait: Wait, progress: &Messages) -> Result<(), DriverError> {
        wait_until_steady(ecs, &watching(desired), wait, &Address::new("ecs_service", "api"), progress).await
    }

    /// The emulator never runs tasks, which is why this path is tested with the SDK's mocks: a
    /// rollout that is in progress at the first look and completed at the second.
    #[tokio::test]
    async fn in_progress_then_completed_succeeds_and_reports_progress() {
        let first =
            rule(answer(vec![deployment("ecs-svc/1", Some(DeploymentRolloutState::InProgress), 1, 2)], 1, 2, &[]));
        let second =
            rule(answer(vec![deployment("ecs-svc/1", Some(DeploymentRolloutState::Completed), 2, 2)], 2, 2, &[]));
        let messages = Messages::default();

        wait_for(&mock_ecs(&[&first, &second]), 2, fast(Duration::from_secs(5)), &messages).await.expect("steady");

        let messages = messages.0.into_inner().expect("lock");
        assert_eq!(messages.len(), 1);
        assert!(messages[0].starts_with("deployment ecs-svc/1: 1/2 tasks running, 1 pending ("), "{}", messages[0]);
        assert_eq!((first.num_calls(), second.num_calls()), (1, 1));
    }

    /// The emulator never runs tasks, which is why this path is tested with the SDK's mocks: a
    /// circuit breaker that gave up and rolled the deployment back.
    #[tokio::test]
    async fn a_failed_rollout_reports_the_reason_and_the_events() {
        let failed = rule(answer(
            vec![deployment("ecs-svc/1", Some(DeploymentRolloutState::Failed), 0, 2)],
            0,
            2,
            &["(service shop-api) has started 2 tasks", "(service shop-api) failed to pull image nginx:nope"],
        ));

        let error = wait_for(&mock_ecs(&[&failed]), 2, fast(Duration::from_secs(5)), &Messages::default())
            .await
            .expect_err("the deployment failed");

        assert!(
            error.message.contains("deployment ecs-svc/1 failed: ECS deployment circuit breaker"),
            "{}",
            error.message
        );
        assert!(error.message.contains("failed to pull image nginx:nope"), "{}", error.message);
        assert!(error.hint.expect("a hint").contains("rolls a failed deployment back"));
    }

    /// The emulator never runs tasks, which is why this path is tested with the SDK's mocks: a
    /// deployment that never settles, with a tiny timeout and poll interval to keep the test fast.
    #[tokio::test]
    async fn a_deployment_that_never_settles_times_out_saying_what_runs() {
        let stuck = mock!(Client::describe_services)
            .sequence()
            .output(|| answer(vec![deployment("ecs-svc/1", Some(DeploymentRolloutState::InProgress), 1, 3)], 1, 3, &[]))
            .repeatedly()
            .build();

        let error = wait_for(&mock_ecs(&[&stuck]), 3, fast(Duration::from_millis(20)), &Messages::default())
            .await
            .expect_err("never steady");

        assert!(
            error
                .message
                .starts_with("the service was not steady after 0s: deployment ecs-svc/1: 1/3 tasks running, 2 pending"),
            "{}",
            error.message
        );
        assert!(error.hint.expect("a hint").contains("wait_timeout"));
        assert!(stuck.num_calls() >= 2);
    }

    /// The emulator never runs tasks, which is why this path is tested with the SDK's mocks: without
    /// `rolloutState`, two deployments, then one short of tasks, then one with all tasks running.
    #[tokio::test]
    async fn without_rollout_state_one_deployment_with_enough_tasks_is_steady() {
        let mut old = deployment("ecs-svc/1", None, 2, 2);
        old.status = Some("ACTIVE".into());
        let two_deployments = rule(answer(vec![deployment("ecs-svc/2", None, 1, 2), old], 3, 2, &[]));
        let one_short = rule(answer(vec![deployment("ecs-svc/2", None, 1, 2)], 1, 2, &[]));
        let stable = rule(answer(vec![deployment("ecs-svc/2", None, 2, 2)], 2, 2, &[]));
        let messages = Messages::default();

        wait_for(&mock_ecs(&[&two_deployments, &one_short, &stable]), 2, fast(Duration::from_secs(5)), &messages)
            .await
            .expect("steady");

        assert_eq!(messages.0.into_inner().expect("lock").len(), 2);
        assert_eq!(stable.num_calls(), 1);
    }

    /// The emulator never runs tasks: it reports a fixed running count, often above the desired one,
    /// which is why the stable rule accepts more running than desired.
    #[test]
    fn more_tasks_running_than_desired_is_steady_without_rollout_state() {
        let output = answer(vec![deployment("ecs-svc/1", None, 10, 1)], 10, 1, &[]);
        let service = &output.services()[0];
        let watched = Watched { deployment: Some("ecs-svc/1".into()), ..watching(1) };
        assert_eq!(assess(service, &watched), Assessment::Done);
    }

    /// The emulator never runs tasks, so it never rolls back, which is why this is tested on a built
    /// answer: after a rollback the watched deployment is no longer listed.
    #[test]
    fn a_replaced_deployment_is_a_failure() {
        let output = answer(vec![deployment("ecs-svc/9", Some(DeploymentRolloutState::InProgress), 0, 1)], 0, 1, &[]);
        let service = &output.services()[0];
        let watched = Watched { deployment: Some("ecs-svc/1".into()), ..watching(1) };
        let Assessment::Failed(message) = assess(service, &watched) else { panic!("a failure") };
        assert!(message.contains("deployment ecs-svc/1 is no longer listed"), "{message}");
    }

    /// A change of `desired_count` alone starts no deployment: the primary one completed long ago,
    /// and only its running count tells when the new count runs (ECS's answers, played by the SDK's
    /// mocks; the emulator reports a fixed running count).
    #[tokio::test]
    async fn a_desired_count_change_waits_for_the_new_count_although_the_deployment_completed_long_ago() {
        let completed = |running: i32| {
            let mut deployment = deployment("ecs-svc/1", Some(DeploymentRolloutState::Completed), running, 3);
            deployment.task_definition = Some("arn:aws:ecs:us-east-1:1:task-definition/shop-api:4".into());
            rule(answer(vec![deployment], running, 3, &[]))
        };
        let (one, two, three) = (completed(1), completed(2), completed(3));
        let messages = Messages::default();
        let watched = Watched {
            deployment: Some("ecs-svc/1".into()),
            task_definition: Some("arn:aws:ecs:us-east-1:1:task-definition/shop-api:4".into()),
            ..watching(3)
        };
        let ecs = mock_ecs(&[&one, &two, &three]);
        wait_until_steady(&ecs, &watched, fast(Duration::from_secs(5)), &Address::new("ecs_service", "api"), &messages)
            .await
            .expect("steady once three run");
        let messages = messages.0.into_inner().expect("lock");
        assert_eq!(messages.len(), 2, "{messages:?}");
        assert!(messages[0].starts_with("deployment ecs-svc/1: 1/3 tasks running"), "{messages:?}");
        assert_eq!(three.num_calls(), 1);
    }

    /// Scaling down: a completed deployment with more tasks running than wanted is not steady yet.
    #[test]
    fn a_completed_deployment_running_more_than_wanted_is_still_waiting() {
        let output = answer(vec![deployment("ecs-svc/1", Some(DeploymentRolloutState::Completed), 4, 2)], 4, 2, &[]);
        let watched = Watched { deployment: Some("ecs-svc/1".into()), ..watching(2) };
        assert!(matches!(assess(&output.services()[0], &watched), Assessment::Waiting(_)));
    }

    /// A completed deployment of another revision is not the one wanted.
    #[test]
    fn a_completed_deployment_of_another_revision_is_still_waiting() {
        let mut old = deployment("ecs-svc/1", Some(DeploymentRolloutState::Completed), 2, 2);
        old.task_definition = Some("arn:aws:ecs:us-east-1:1:task-definition/shop-api:3".into());
        let output = answer(vec![old], 2, 2, &[]);
        let watched = Watched {
            deployment: Some("ecs-svc/1".into()),
            task_definition: Some("arn:aws:ecs:us-east-1:1:task-definition/shop-api:4".into()),
            ..watching(2)
        };
        assert!(matches!(assess(&output.services()[0], &watched), Assessment::Waiting(_)));
    }
}
