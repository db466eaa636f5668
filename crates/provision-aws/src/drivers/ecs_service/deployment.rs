//! Waiting for a deployment to finish, and for a deleted service to go away.
//!
//! Zero downtime is ECS's job (new tasks healthy behind the target group before old ones stop); the
//! driver's job is to tell the user how it ended. So the waiter follows the one deployment the
//! create or update started, by id: `COMPLETED` is success; `FAILED` means the circuit breaker gave
//! up and rolled back, which is reported as a failure with the reason and the service events that
//! explain it; a deployment that disappears was replaced (a rollback, or someone else's update).
//!
//! ECS reports `rolloutState` for rolling deployments; the emulator does not. Without it the waiter
//! falls back to the rule of the AWS CLI's `services-stable` waiter (exactly one deployment, enough
//! tasks running), relaxed to "at least as many running as desired", because the emulator reports a
//! fixed running count (`MOTO_ECS_SERVICE_RUNNING`) whatever the desired count.
//!
//! The waiter takes the ECS client and its timing as parameters, so that the unit tests below can
//! drive it with the SDK's mocks.

use std::time::{Duration, Instant};

use aws_sdk_ecs::types::{Deployment, DeploymentRolloutState, Service, ServiceEvent};
use aws_sdk_ecs::Client;

use crate::drivers::{DriverError, ProgressSink};
use provision_core::address::Address;

/// How long to wait and how often to look.
#[derive(Clone, Copy, Debug)]
pub(super) struct Timing {
    pub timeout: Duration,
    /// The delay before the first look; it doubles up to `poll_interval`.
    pub first_poll: Duration,
    pub poll_interval: Duration,
}

impl Timing {
    pub fn with_timeout(timeout: Duration) -> Timing {
        Timing { timeout, first_poll: Duration::from_secs(1), poll_interval: Duration::from_secs(5) }
    }
}

/// The service and the deployment to follow (`None`: whichever is primary at the first look).
#[derive(Clone, Debug)]
pub(super) struct Watched<'a> {
    pub cluster: &'a str,
    pub service: &'a str,
    pub deployment: Option<String>,
}

/// Events shown with a failure: enough to see the cause, few enough to read.
const EVENTS_SHOWN: usize = 5;

#[derive(Debug, PartialEq)]
enum Assessment {
    Done,
    Failed(String),
    Waiting(String),
}

/// Polls until the watched deployment is steady, has failed, or the timeout passed.
pub(super) async fn wait_until_steady(
    ecs: &Client,
    watched: &Watched<'_>,
    timing: Timing,
    address: &Address,
    progress: &dyn ProgressSink,
) -> Result<(), DriverError> {
    let started = Instant::now();
    let mut delay = timing.first_poll;
    let mut deployment = watched.deployment.clone();
    loop {
        tokio::time::sleep(delay).await;
        let service = describe(ecs, watched.cluster, watched.service).await?.ok_or_else(|| {
            DriverError::invalid(format!("service {} disappeared during its deployment", watched.service))
        })?;
        if deployment.is_none() {
            deployment = primary(&service).and_then(Deployment::id).map(str::to_string);
        }
        let elapsed = started.elapsed();
        match assess(&service, deployment.as_deref()) {
            Assessment::Done => return Ok(()),
            Assessment::Failed(message) => {
                return Err(DriverError::invalid(message).with_hint(
                    "the circuit breaker rolls a failed deployment back to the previous task definition; \
                     fix the cause shown above and apply again",
                ))
            }
            Assessment::Waiting(status) if elapsed >= timing.timeout => {
                let events = latest_events(&service, None);
                return Err(DriverError::invalid(format!(
                    "the service was not steady after {}: {status}{events}",
                    human(timing.timeout)
                ))
                .with_hint(
                    "the deployment goes on without provision; raise `wait_timeout`, or set `wait = \"none\"` \
                     to return without waiting",
                ));
            }
            Assessment::Waiting(status) => progress.waiting(address, &format!("{status} ({}s)", elapsed.as_secs())),
        }
        delay = (delay * 2).min(timing.poll_interval).min(timing.timeout.saturating_sub(started.elapsed()));
    }
}

/// Polls until a deleted service is `INACTIVE` (or no longer known).
pub(super) async fn wait_until_inactive(
    ecs: &Client,
    watched: &Watched<'_>,
    timing: Timing,
    address: &Address,
    progress: &dyn ProgressSink,
) -> Result<(), DriverError> {
    let started = Instant::now();
    let mut delay = timing.first_poll;
    loop {
        tokio::time::sleep(delay).await;
        let service = match describe(ecs, watched.cluster, watched.service).await {
            Err(error) if error.code_is("ClusterNotFoundException") => return Ok(()),
            other => other?,
        };
        let Some(service) = service.filter(|service| service.status() != Some("INACTIVE")) else { return Ok(()) };
        let status = format!(
            "service {} is {}: {} tasks still running",
            watched.service,
            service.status().unwrap_or("DRAINING"),
            service.running_count(),
        );
        let elapsed = started.elapsed();
        if elapsed >= timing.timeout {
            return Err(DriverError::invalid(format!(
                "the service was not gone after {}: {status}",
                human(timing.timeout)
            ))
            .with_hint("ECS goes on stopping the tasks; run `provision destroy` again later"));
        }
        progress.waiting(address, &format!("{status} ({}s)", elapsed.as_secs()));
        delay = (delay * 2).min(timing.poll_interval);
    }
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

fn assess(service: &Service, deployment_id: Option<&str>) -> Assessment {
    let deployments = service.deployments();
    let watched = match deployment_id {
        Some(id) => deployments.iter().find(|deployment| deployment.id() == Some(id)),
        None => primary(service),
    };
    let Some(watched) = watched else {
        let now = primary(service).and_then(Deployment::task_definition).unwrap_or("another task definition");
        return Assessment::Failed(format!(
            "deployment {} is no longer listed; the service now runs {now}{}",
            deployment_id.unwrap_or("(none)"),
            latest_events(service, None)
        ));
    };
    let id = watched.id().unwrap_or("(unnamed)");
    match watched.rollout_state() {
        Some(DeploymentRolloutState::Completed) => Assessment::Done,
        Some(DeploymentRolloutState::Failed) => Assessment::Failed(format!(
            "deployment {id} failed: {}{}",
            watched.rollout_state_reason().unwrap_or("no reason given"),
            latest_events(service, Some(watched))
        )),
        Some(_) => Assessment::Waiting(status(watched)),
        None if deployments.len() == 1 && service.running_count() >= service.desired_count() => Assessment::Done,
        None => Assessment::Waiting(status(watched)),
    }
}

fn status(deployment: &Deployment) -> String {
    format!(
        "deployment {}: {}/{} tasks running, {} pending",
        deployment.id().unwrap_or("(unnamed)"),
        deployment.running_count(),
        deployment.desired_count(),
        // The emulator reports desired minus running, negative when more run than desired.
        deployment.pending_count().max(0),
    )
}

/// `15m`, `90s`, `1h`: the way `wait_timeout` is written.
pub(super) fn human(duration: Duration) -> String {
    match duration.as_secs() {
        seconds if seconds >= 3600 && seconds % 3600 == 0 => format!("{}h", seconds / 3600),
        seconds if seconds >= 60 && seconds % 60 == 0 => format!("{}m", seconds / 60),
        seconds => format!("{seconds}s"),
    }
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

    fn fast(timeout: Duration) -> Timing {
        Timing { timeout, first_poll: Duration::from_millis(1), poll_interval: Duration::from_millis(2) }
    }

    #[derive(Default)]
    struct Messages(Mutex<Vec<String>>);

    impl ProgressSink for Messages {
        fn waiting(&self, _address: &Address, message: &str) {
            self.0.lock().expect("lock").push(message.to_string());
        }
    }

    async fn wait(ecs: &Client, timing: Timing, progress: &Messages) -> Result<(), DriverError> {
        let watched = Watched { cluster: "shop", service: "shop-api", deployment: None };
        wait_until_steady(ecs, &watched, timing, &Address::new("ecs_service", "api"), progress).await
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

        wait(&mock_ecs(&[&first, &second]), fast(Duration::from_secs(5)), &messages).await.expect("steady");

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

        let error = wait(&mock_ecs(&[&failed]), fast(Duration::from_secs(5)), &Messages::default())
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

        let error = wait(&mock_ecs(&[&stuck]), fast(Duration::from_millis(20)), &Messages::default())
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

        wait(&mock_ecs(&[&two_deployments, &one_short, &stable]), fast(Duration::from_secs(5)), &messages)
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
        assert_eq!(assess(service, Some("ecs-svc/1")), Assessment::Done);
    }

    /// The emulator never runs tasks, so it never rolls back, which is why this is tested on a built
    /// answer: after a rollback the watched deployment is no longer listed.
    #[test]
    fn a_replaced_deployment_is_a_failure() {
        let output = answer(vec![deployment("ecs-svc/9", Some(DeploymentRolloutState::InProgress), 0, 1)], 0, 1, &[]);
        let service = &output.services()[0];
        let Assessment::Failed(message) = assess(service, Some("ecs-svc/1")) else { panic!("a failure") };
        assert!(message.contains("deployment ecs-svc/1 is no longer listed"), "{message}");
    }
}
