//! `[ecs_service.NAME.migration]`: one task of the *new* task definition, with the service's
//! network, environment and secrets and the migration's command, run to completion before the
//! rollout that deploys that definition (the service's create, or an update that registers a new
//! revision).
//!
//! The deploy goes on only when the task's container exits with 0. Any other end — a non-zero
//! exit, a task that stopped without an exit code (the image could not be pulled, a secret could
//! not be read), a task that outlives `timeout` (it is stopped) — fails the apply with the exit
//! code and ECS's stopped reason, before `UpdateService`: the service keeps running its previous
//! revision, and the revision registered for the rollout is deregistered.
//!
//! The task is started with `startedBy = provision-migration`, and a run first waits for any
//! migration task of the service that is still running (an interrupted run's): two migrations of
//! one database never run at once, and a killed run's task is found by that mark. Its `RunTask`
//! carries a client token, so the SDK's retry of a lost answer does not start a second task.
//!
//! moto cannot run a Fargate task (its `RunTask` answers HTTP 500): the integration tests run
//! migrations through provision-proxy's profile, which answers as ECS does (`tests/it/releases.rs`);
//! the unit tests here use the SDK's mocks for what the profile does not reach (a timeout, an
//! interrupted run's task), with the exit codes and stopped reasons ECS documents.

use aws_sdk_ecs::types::{ContainerOverride, DesiredStatus, LaunchType, Task, TaskOverride};
use aws_sdk_ecs::Client;

use super::config::{MigrationConfig, ServiceConfig};
use super::lifecycle::network;
use crate::behaviours::Wait;
use crate::drivers::{DriverError, ProgressSink};
use provision_core::address::Address;

/// The mark on every migration task, by which a later run finds one still running.
pub(super) const STARTED_BY: &str = "provision-migration";

/// Runs the service's migration, if it has one, with the task definition `task_definition`.
pub(super) async fn before_rollout(
    ecs: &Client,
    config: &ServiceConfig,
    task_definition: &str,
    address: &Address,
    progress: &dyn ProgressSink,
) -> Result<(), DriverError> {
    let Some(migration) = &config.migration else { return Ok(()) };
    run(ecs, config, migration, task_definition, address, progress, crate::behaviours::ecs::MIGRATION).await
}

pub(super) async fn run(
    ecs: &Client,
    config: &ServiceConfig,
    migration: &MigrationConfig,
    task_definition: &str,
    address: &Address,
    progress: &dyn ProgressSink,
    wait: Wait,
) -> Result<(), DriverError> {
    let wait = wait.with_timeout(migration.timeout());
    for earlier in running_migrations(ecs, config).await? {
        progress.waiting(
            address,
            &format!("a migration an earlier run started is still running ({earlier}); waiting for it"),
        );
        let _ = wait_until_stopped(ecs, config, &earlier, address, progress, wait).await;
    }
    let container = address.name.as_str();
    let overrides = TaskOverride::builder()
        .container_overrides(
            ContainerOverride::builder().name(container).set_command(Some(migration.command.clone())).build(),
        )
        .build();
    let token = uuid::Uuid::new_v4().simple().to_string();
    let run = ecs
        .run_task()
        .cluster(&config.cluster)
        .task_definition(task_definition)
        .launch_type(LaunchType::Fargate)
        .count(1)
        .network_configuration(network(config)?)
        .overrides(overrides)
        .started_by(STARTED_BY)
        .client_token(token)
        .enable_ecs_managed_tags(true)
        .propagate_tags(aws_sdk_ecs::types::PropagateTags::TaskDefinition);
    // Right after its roles were made ECS may not be able to assume them yet (`iam.role-not-assumable-after-create`).
    let output = crate::behaviours::ecs::RUN_TASK
        .run(|| {
            let run = run.clone();
            async move { run.send().await.map_err(|error| crate::aws_error("RunTask", error)) }
        })
        .await?;
    if let Some(failure) = output.failures().first() {
        return Err(DriverError::service(
            "RunTask",
            failure.reason().map(str::to_string),
            format!(
                "the migration task could not start: {}",
                failure.detail().or(failure.reason()).unwrap_or("no reason given")
            ),
        ));
    }
    let arn = output
        .tasks()
        .first()
        .and_then(Task::task_arn)
        .map(str::to_string)
        .ok_or_else(|| DriverError::invalid("RunTask answered without a task"))?;
    progress.waiting(address, &format!("running the migration ({arn})"));
    let task = wait_until_stopped(ecs, config, &arn, address, progress, wait).await?;
    outcome(&task, container, &arn)
}

/// Migration tasks of this service still running (an interrupted run's).
async fn running_migrations(ecs: &Client, config: &ServiceConfig) -> Result<Vec<String>, DriverError> {
    let answer = ecs
        .list_tasks()
        .cluster(&config.cluster)
        .family(&config.name)
        .started_by(STARTED_BY)
        .desired_status(DesiredStatus::Running)
        .send()
        .await
        .map_err(|error| crate::aws_error("ListTasks", error))?;
    Ok(answer.task_arns().to_vec())
}

/// Looks at the task until it stops (`ecs.task-lifecycle`), paced and bounded by `wait`; a task
/// still running at the timeout is stopped.
async fn wait_until_stopped(
    ecs: &Client,
    config: &ServiceConfig,
    arn: &str,
    address: &Address,
    progress: &dyn ProgressSink,
    wait: Wait,
) -> Result<Task, DriverError> {
    let mut waiter = wait.start(address, progress);
    loop {
        waiter.pause().await;
        let answer = ecs
            .describe_tasks()
            .cluster(&config.cluster)
            .tasks(arn)
            .send()
            .await
            .map_err(|error| crate::aws_error("DescribeTasks", error))?;
        let task = answer.tasks().first().cloned().ok_or_else(|| {
            DriverError::invalid(format!("the migration task {arn} is gone")).with_hint("run the apply again")
        })?;
        let status = task.last_status().unwrap_or("PROVISIONING").to_string();
        if status == "STOPPED" {
            return Ok(task);
        }
        if waiter.timed_out() {
            let _ = ecs
                .stop_task()
                .cluster(&config.cluster)
                .task(arn)
                .reason("provision: the migration ran out of time")
                .send()
                .await;
            return Err(DriverError::invalid(format!(
                "the migration did not finish within {} (task {arn}, last {status}); it was stopped",
                crate::behaviours::pace::human(wait.timeout)
            ))
            .with_hint(wait.hint));
        }
        waiter.report(&format!("migration {status}"));
    }
}

/// Success when the migration's container exited with 0; otherwise the failure, with the exit
/// code and ECS's reasons.
fn outcome(task: &Task, container: &str, arn: &str) -> Result<(), DriverError> {
    let ran = task.containers().iter().find(|c| c.name() == Some(container)).or(task.containers().first());
    let exit_code = ran.and_then(|c| c.exit_code());
    if exit_code == Some(0) {
        return Ok(());
    }
    let stopped = task.stopped_reason().unwrap_or("no reason given");
    let detail = ran.and_then(|c| c.reason()).map(|reason| format!(" ({reason})")).unwrap_or_default();
    let message = match exit_code {
        Some(code) => format!("the migration exited with code {code}: {stopped}{detail}; task {arn}"),
        None => format!("the migration stopped without an exit code: {stopped}{detail}; task {arn}"),
    };
    let hint = match exit_code {
        Some(_) => "the service keeps running its previous revision; the task's output is in its log group",
        None => {
            "the service keeps running its previous revision; a task that stops before its command runs could not \
             pull its image or read a secret: check the image, the execution role, and that the subnets reach ECR"
        }
    };
    Err(DriverError::service("RunTask", task.stop_code().map(|c| c.as_str().to_string()), message).with_hint(hint))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ecs::operation::describe_tasks::DescribeTasksOutput;
    use aws_sdk_ecs::operation::list_tasks::ListTasksOutput;
    use aws_sdk_ecs::operation::run_task::RunTaskOutput;
    use aws_sdk_ecs::operation::stop_task::StopTaskOutput;
    use aws_sdk_ecs::types::{Container, TaskStopCode};
    use aws_smithy_mocks::{mock, Rule};

    const ARN: &str = "arn:aws:ecs:us-east-1:1:task/shop/abc";
    const FAST: Wait = crate::behaviours::ecs::MIGRATION.fast();

    struct Quiet;

    impl ProgressSink for Quiet {
        fn waiting(&self, _address: &Address, _message: &str) {}
    }

    /// A client whose answers come from `rules`, in order.
    fn mock_ecs(rules: &[&Rule]) -> Client {
        mock_client!(aws_sdk_ecs, rules.iter().copied())
    }

    fn config() -> (ServiceConfig, MigrationConfig) {
        let inputs = serde_json::json!({
            "name": "shop-api", "cluster": "shop", "subnets": ["subnet-a"], "security_groups": ["sg-1"],
            "container": { "image": "repo:v2" },
            "migration": { "command": ["./manage.py", "migrate"], "timeout": "10m" },
        });
        let config = ServiceConfig::from_inputs(inputs.as_object().unwrap()).unwrap();
        let migration = config.migration.clone().unwrap();
        (config, migration)
    }

    /// A client whose answers come from whichever of `rules` matches the operation.
    fn mock_any(rules: &[&Rule]) -> Client {
        let interceptor = rules.iter().fold(
            aws_smithy_mocks::MockResponseInterceptor::new().rule_mode(aws_smithy_mocks::RuleMode::MatchAny),
            |interceptor, rule| interceptor.with_rule(rule),
        );
        Client::from_conf(
            aws_sdk_ecs::Config::builder()
                .behavior_version(aws_sdk_ecs::config::BehaviorVersion::latest())
                .region(aws_sdk_ecs::config::Region::new("us-east-1"))
                .credentials_provider(aws_sdk_ecs::config::Credentials::new("test", "test", None, None, "mock"))
                .http_client(aws_smithy_mocks::create_mock_http_client())
                .interceptor(interceptor)
                .build(),
        )
    }

    fn no_earlier_run() -> Rule {
        mock!(Client::list_tasks).then_output(|| ListTasksOutput::builder().build())
    }

    fn started() -> Rule {
        mock!(Client::run_task)
            .match_requests(|request| {
                let command = request
                    .overrides()
                    .and_then(|o| o.container_overrides().first())
                    .map(|c| (c.name().unwrap_or_default().to_string(), c.command().to_vec()));
                let subnets = request
                    .network_configuration()
                    .and_then(|n| n.awsvpc_configuration())
                    .map(|v| v.subnets().to_vec());
                request.task_definition() == Some("arn:aws:ecs:us-east-1:1:task-definition/shop-api:8")
                    && request.started_by() == Some(STARTED_BY)
                    && command == Some(("api".into(), vec!["./manage.py".into(), "migrate".into()]))
                    && subnets == Some(vec!["subnet-a".to_string()])
            })
            .then_output(|| {
                RunTaskOutput::builder()
                    .tasks(Task::builder().task_arn(ARN).last_status("PROVISIONING").build())
                    .build()
            })
    }

    fn described(status: &'static str, exit_code: Option<i32>, reason: &'static str) -> Rule {
        mock!(Client::describe_tasks).then_output(move || {
            let container = Container::builder().name("api").set_exit_code(exit_code).build();
            let task = Task::builder()
                .task_arn(ARN)
                .last_status(status)
                .containers(container)
                .stopped_reason(reason)
                .stop_code(TaskStopCode::EssentialContainerExited)
                .build();
            DescribeTasksOutput::builder().tasks(task).build()
        })
    }

    async fn migrate(rules: &[&Rule]) -> Result<(), DriverError> {
        let ecs = mock_ecs(rules);
        let (config, migration) = config();
        let address = Address::new("ecs_service", "api");
        let task_definition = "arn:aws:ecs:us-east-1:1:task-definition/shop-api:8";
        run(&ecs, &config, &migration, task_definition, &address, &Quiet, FAST).await
    }

    #[tokio::test]
    async fn a_migration_that_exits_with_zero_lets_the_rollout_go_on() {
        let (list, start) = (no_earlier_run(), started());
        let running = described("RUNNING", None, "");
        let done = described("STOPPED", Some(0), "Essential container in task exited");
        migrate(&[&list, &start, &running, &done]).await.expect("migrated");
        assert_eq!(start.num_calls(), 1, "one task of the new revision, with the command and the service's subnets");
        assert_eq!(done.num_calls(), 1);
    }

    #[tokio::test]
    async fn a_non_zero_exit_fails_with_the_code_and_the_stopped_reason() {
        let (list, start) = (no_earlier_run(), started());
        let failed = described("STOPPED", Some(3), "Essential container in task exited");
        let error = migrate(&[&list, &start, &failed]).await.unwrap_err();
        assert!(
            error.message.contains("the migration exited with code 3: Essential container in task exited"),
            "{error}"
        );
        assert!(error.message.contains(ARN), "{error}");
        assert!(error.hint.as_deref().unwrap_or_default().contains("keeps running its previous revision"), "{error:?}");
    }

    #[tokio::test]
    async fn a_task_that_never_ran_its_command_says_why() {
        let (list, start) = (no_earlier_run(), started());
        let reason = "CannotPullContainerError: pull image manifest has been retried 5 time(s)";
        let failed = described("STOPPED", None, reason);
        let error = migrate(&[&list, &start, &failed]).await.unwrap_err();
        assert!(error.message.contains("stopped without an exit code: CannotPullContainerError"), "{error}");
        assert!(error.hint.as_deref().unwrap_or_default().contains("reach ECR"), "{error:?}");
    }

    #[tokio::test]
    async fn a_migration_past_its_timeout_is_stopped() {
        let (list, start) = (no_earlier_run(), started());
        let running = mock!(Client::describe_tasks)
            .sequence()
            .output(|| {
                let task = Task::builder().task_arn(ARN).last_status("RUNNING").build();
                DescribeTasksOutput::builder().tasks(task).build()
            })
            .repeatedly()
            .build();
        let stop = mock!(Client::stop_task).then_output(|| StopTaskOutput::builder().build());
        // `running` answers every look, so the rules are matched by operation, not in order.
        let ecs = mock_any(&[&list, &start, &running, &stop]);
        let (config, mut migration) = config();
        migration.timeout = Some("1s".into());
        let address = Address::new("ecs_service", "api");
        let error = run(
            &ecs,
            &config,
            &migration,
            "arn:aws:ecs:us-east-1:1:task-definition/shop-api:8",
            &address,
            &Quiet,
            FAST,
        )
        .await
        .unwrap_err();
        assert!(error.message.contains("did not finish within 1s"), "{error}");
        assert_eq!(stop.num_calls(), 1, "the task is stopped, not left running");
    }

    #[tokio::test]
    async fn a_migration_an_earlier_run_left_running_is_waited_for_first() {
        let earlier = mock!(Client::list_tasks)
            .then_output(|| ListTasksOutput::builder().task_arns("arn:aws:ecs:us-east-1:1:task/shop/old").build());
        let start = started();
        let earlier_done = described("STOPPED", Some(0), "Essential container in task exited");
        let done = described("STOPPED", Some(0), "Essential container in task exited");
        migrate(&[&earlier, &earlier_done, &start, &done]).await.expect("migrated after the earlier one stopped");
        assert_eq!((earlier_done.num_calls(), start.num_calls()), (1, 1), "the earlier task was waited for first");
    }
}
