//! Releases that tell the truth, through the "AWS as it behaves" profile in front of the emulator:
//! a stack in its own network whose service has a migration. The profile runs the Fargate tasks
//! moto cannot (`complete.ecs.run-task`: the exit code is the `exit N` of the task's command, or
//! the outcome the test sets) through their lifecycle (`ecs.task-lifecycle`), keeps a deployment `IN_PROGRESS` for a while after every service
//! change (`ecs.deployment-in-progress`), rolls back a rollout whose tasks cannot start
//! (`ecs.circuit-breaker-rollback`) and keeps a NAT gateway `pending` (`ec2.nat-gateway-lifecycle`).
//! Its clock runs 120 times faster than real time, and provision is told so (`PROVISION_TIME_SCALE`,
//! the shared `AwsWorld` harness): its waits shrink alike.

use provision_proxy::{ProfileOptions, TaskOutcome};

use crate::support::aws_world::AwsWorld;
use crate::support::{live_tagged_with, Project};

const STACK: &str = r#"
[stack]
name = "{name}"

[network]
vpc = "${vpc.main.id}"

[vpc.main]

[ecs_cluster.main]

[ecs_service.api]
cluster = "${ecs_cluster.main.arn}"

[ecs_service.api.container]
image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/api:v1"
pin_digest = false

[ecs_service.api.migration]
command = ["sh", "-c", "./migrate"]
"#;

/// The world of these tests: the profile at 120 AWS seconds per real second, no lost answers.
fn world() -> AwsWorld {
    AwsWorld::start(ProfileOptions { time_scale: 120.0, ..ProfileOptions::default() })
}

/// The task definition the service runs, as ECS says: read through the profile, which keeps the
/// deployments (a rollback included) that the emulator does not.
fn running_revision(project: &Project, aws: &AwsWorld) -> String {
    let cluster = project.state()["resources"]["ecs_cluster.main"]["attributes"]["arn"].as_str().unwrap().to_string();
    let service = project.state()["resources"]["ecs_service.api"]["attributes"]["name"].as_str().unwrap().to_string();
    aws.read_aside(|endpoint| {
        let ecs = crate::support::client_at!(aws_sdk_ecs, endpoint);
        crate::support::block_on(async {
            let answer =
                ecs.describe_services().cluster(&cluster).services(&service).send().await.expect("DescribeServices");
            let service = answer.services().first().expect("the service").clone();
            service.task_definition().expect("a task definition").to_string()
        })
    })
}

#[test]
fn a_migration_gates_each_rollout_and_every_service_change_waits_until_it_runs() {
    let aws = world();
    let project = Project::new("release", STACK).through(&aws);
    let apply = project.run(&["apply", "--auto-approve"]);
    eprint!("{}", aws.summary());
    apply.success().stdout_has("Apply complete! 3 added");
    assert!(aws.met("complete.ecs.run-task") > 0, "the migration ran as a Fargate task:\n{}", aws.summary());
    assert!(aws.met("ecs.task-lifecycle") > 0, "the apply waited while the migration's task started and ran");
    assert!(aws.met("ec2.nat-gateway-lifecycle") > 0, "the NAT gateway was waited for");
    assert!(aws.met("ecs.deployment-in-progress") > 0, "the first rollout was waited for");
    let first = running_revision(&project, &aws);
    let vpc_id = project.state()["resources"]["vpc.main"]["attributes"]["id"].as_str().expect("a VPC id").to_string();

    // A migration that exits with 3 stops the deploy: the service keeps its revision.
    let failing = STACK.replace("api:v1", "api:v2").replace("./migrate\"", "./migrate && exit 3\"");
    project.write_stack(&failing);
    project
        .run(&["apply", "--auto-approve"])
        .code(1)
        .stderr_has("ecs_service.api")
        .stderr_has("the migration exited with code 3: Essential container in task exited")
        .stderr_has("the service keeps running its previous revision");
    assert_eq!(running_revision(&project, &aws), first, "the old revision keeps serving");

    // A task that stops before its command runs says why, and nothing is rolled out either.
    let family = project.state()["resources"]["ecs_service.api"]["attributes"]["name"].as_str().unwrap().to_string();
    aws.profile().set_task_outcome(
        &family,
        TaskOutcome::fails_to_start("CannotPullContainerError: pull image manifest has been retried 5 time(s)"),
    );
    project.write_stack(&STACK.replace("api:v1", "api:v2"));
    project
        .run(&["apply", "--auto-approve"])
        .code(1)
        .stderr_has("the migration stopped without an exit code: CannotPullContainerError")
        .stderr_has("could not pull its image or read a secret");
    assert_eq!(running_revision(&project, &aws), first);

    // Once the migration succeeds the new revision rolls out.
    aws.profile().set_task_outcome(&family, TaskOutcome::exits(0));
    project.run(&["apply", "--auto-approve"]).success();
    let second = running_revision(&project, &aws);
    assert_ne!(second, first, "the new revision runs");

    // A change of `desired_count` alone runs no migration and still waits for its deployment.
    let (migrations, deployments) = (aws.met("complete.ecs.run-task"), aws.met("ecs.deployment-in-progress"));
    project.write_stack(&STACK.replace("api:v1", "api:v2").replace(
        "cluster = \"${ecs_cluster.main.arn}\"\n",
        "cluster = \"${ecs_cluster.main.arn}\"\ndesired_count = 2\n",
    ));
    project.run(&["plan"]).success().stdout_has("desired_count: 1 -> 2");
    project.run(&["apply", "--auto-approve"]).success();
    assert!(aws.met("ecs.deployment-in-progress") > deployments, "the apply saw the deployment in progress and waited");
    assert_eq!(aws.met("complete.ecs.run-task"), migrations, "no new task definition, no migration");
    assert_eq!(running_revision(&project, &aws), second);
    project.run(&["plan", "--detailed-exitcode"]).code(0);

    project.run(&["destroy", "--auto-approve"]).success().stdout_has("3 destroyed");
    assert_eq!(crate::network::count_parts(&vpc_id), crate::network::nothing(), "the network is gone");
    assert_eq!(live_tagged_with(&project.stack_name), Vec::<String>::new());
}

/// A rollout whose tasks cannot start is stopped by ECS's circuit breaker and rolled back: the
/// apply fails with ECS's reason and events, the old revision keeps serving, the state still holds
/// it (the next plan offers the change again), and the fixed release rolls out.
#[test]
fn a_rollout_the_circuit_breaker_rolls_back_fails_the_apply_with_ecs_reason() {
    let stack = r#"
[stack]
name = "{name}"

[ecs_cluster.main]

[ecs_service.api]
cluster = "${ecs_cluster.main.arn}"

[ecs_service.api.container]
image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/api:v1"
pin_digest = false
"#;
    let aws = world();
    let project = Project::new("rollback", stack).through(&aws);
    project.run(&["apply", "--auto-approve"]).success();
    let first = running_revision(&project, &aws);

    let family = project.state()["resources"]["ecs_service.api"]["attributes"]["name"].as_str().unwrap().to_string();
    let profile = aws.profile();
    profile.set_task_outcome(&family, TaskOutcome::fails_to_start("CannotPullContainerError: api:v2 not found"));
    project.write_stack(&stack.replace("api:v1", "api:v2"));
    let failed = project.run(&["apply", "--auto-approve"]);
    eprint!("{}", aws.summary());
    failed
        .code(1)
        .stderr_has("ecs_service.api")
        .stderr_has("failed: ECS deployment circuit breaker: tasks failed to start.")
        .stderr_has("deployment failed: tasks failed to start")
        .stderr_has("the circuit breaker rolls a failed deployment back");
    assert!(aws.met("ecs.circuit-breaker-rollback") > 0, "the breaker tripped:\n{}", aws.summary());
    assert_eq!(running_revision(&project, &aws), first, "the old revision keeps serving");
    project.run(&["plan", "--detailed-exitcode"]).code(2).stdout_has("api:v2");

    profile.set_task_outcome(&family, TaskOutcome::exits(0));
    project.run(&["apply", "--auto-approve"]).success();
    assert_ne!(running_revision(&project, &aws), first, "the fixed release runs");
    project.run(&["plan", "--detailed-exitcode"]).code(0);
    project.run(&["destroy", "--auto-approve"]).success();
    assert_eq!(live_tagged_with(&project.stack_name), Vec::<String>::new());
}

/// `validate` warns, offline, when a lifecycle rule could expire the digest a service runs.
#[test]
fn validate_warns_when_a_lifecycle_rule_could_expire_the_digest_a_service_runs() {
    let stack = r#"
[stack]
name = "{name}"

[network]
vpc = "${vpc.main.id}"

[vpc.main]

[ecr_repository.api]
keep_images = 10

[ecs_cluster.main]

[ecs_service.api]
cluster = "${ecs_cluster.main.arn}"

[ecs_service.api.container]
image = "${ecr_repository.api.url}:latest"
"#;
    let project = Project::new("keep", stack).with_unreachable_endpoint();
    project
        .run(&["validate"])
        .success()
        .stderr_has("keeps only the newest 10 images and its tags move")
        .stderr_has("immutable_tags = true");
    project.write_stack(&stack.replace("keep_images = 10\n", "keep_images = 10\nimmutable_tags = true\n"));
    let quiet = project.run(&["validate"]).success();
    assert!(!quiet.stderr.contains("keeps only"), "{}", quiet.stderr);
}
