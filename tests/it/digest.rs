//! Images by digest: a container image in the stack's ECR repository is resolved at plan time to the
//! digest its tag points at and deployed as `REPO@sha256:…`; a push under the same tag plans as
//! `container.image_digest` and rolls out; a tag that does not exist fails naming it.
//!
//! Images are pushed with `PutImage` and the manifest's digest (see `support::push_image`).

use crate::support::{block_on, ecs, push_image, Project};

const STACK: &str = r#"
[stack]
name = "{name}"

[variables]
tag = "latest"

[ecr_repository.api]
force_destroy = true

[iam_role.exec]
service = "ecs-tasks.amazonaws.com"
managed_policies = ["arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"]

[ecs_cluster.main]

[log_group.api]
retention_days = 7

[ecs_service.api]
cluster = "${ecs_cluster.main.arn}"
execution_role = "${iam_role.exec.arn}"

[ecs_service.api.container]
image = "${ecr_repository.api.url}:${var.tag}"
log_group = "${log_group.api.name}"
"#;

/// The running task definition's image and its awslogs options.
fn running(project: &Project) -> (String, std::collections::HashMap<String, String>) {
    let state = project.state();
    let arn = state["resources"]["ecs_service.api"]["id"].as_str().expect("service").to_string();
    let cluster = state["resources"]["ecs_cluster.main"]["attributes"]["arn"].as_str().expect("cluster").to_string();
    block_on(async {
        let services = ecs().describe_services().cluster(&cluster).services(&arn).send().await.expect("service");
        let task = services.services()[0].task_definition().unwrap_or_default().to_string();
        let answer = ecs().describe_task_definition().task_definition(&task).send().await.expect("task definition");
        let container = answer.task_definition().expect("definition").container_definitions()[0].clone();
        let options = container.log_configuration().and_then(|l| l.options()).cloned().unwrap_or_default();
        (container.image().unwrap_or_default().to_string(), options)
    })
}

#[test]
fn images_deploy_by_digest_and_a_push_under_the_same_tag_rolls_out() {
    let project = Project::new("digest", STACK).with_emulator();
    let repository = format!("{}-api", project.stack_name);

    // The repository is made by this apply and holds no image yet: the service is not created.
    project
        .run(&["apply", "--auto-approve"])
        .code(1)
        .stderr_has("ecs_service.api")
        .stderr_has(&format!("the image tag `latest` does not exist in the ECR repository `{repository}`"))
        .stderr_has("docker push");
    assert!(project.state()["resources"].get("ecs_service.api").is_none());

    let first = push_image(&repository, "latest", "first");
    project
        .run(&["plan"])
        .success()
        .stdout_has("+ ecs_service.api")
        .stdout_has(&format!("container.image_digest: \"{first}\""));
    project.run(&["apply", "--auto-approve"]).success().stdout_has("1 added");
    let url = project.state()["resources"]["ecr_repository.api"]["attributes"]["url"].as_str().unwrap().to_string();
    let (image, logs) = running(&project);
    assert_eq!(image, format!("{url}@{first}"), "ECS runs the image by digest");
    assert_eq!(logs.get("awslogs-group"), Some(&format!("/provision/{}/api", project.stack_name)));
    assert_eq!(logs.get("awslogs-region").map(String::as_str), Some("us-east-1"));
    assert_eq!(project.state()["resources"]["ecs_service.api"]["inputs"]["container"]["image_digest"], first.as_str());
    project.run(&["plan", "--detailed-exitcode"]).code(0);

    // A new image under the same tag: the plan says so, and apply rolls it out.
    let second = push_image(&repository, "latest", "second");
    let plan = project
        .run(&["plan"])
        .success()
        .stdout_has("~ ecs_service.api")
        .stdout_has(&format!("container.image_digest: \"{first}\" -> \"{second}\""));
    assert!(!plan.stdout.contains("container.image:"), "the tag itself did not change:\n{}", plan.stdout);
    project.run(&["apply", "--auto-approve"]).success().stdout_has("1 changed");
    assert_eq!(running(&project).0, format!("{url}@{second}"));
    project.run(&["plan", "--detailed-exitcode"]).code(0);

    // A tag that does not exist fails the plan, naming the resource, the repository and the tag.
    project
        .run(&["plan", "--var", "tag=v404"])
        .code(1)
        .stderr_has("ecs_service.api")
        .stderr_has(&format!("the image tag `v404` does not exist in the ECR repository `{repository}`"));

    // `pin_digest = false` deploys by tag again.
    project.write_stack(&STACK.replace("log_group = ", "pin_digest = false\nlog_group = "));
    project
        .run(&["plan"])
        .success()
        .stdout_has(&format!("container.image_digest: \"{second}\" -> (removed)"))
        .stdout_has("container.pin_digest:   true -> false");
    project.run(&["apply", "--auto-approve"]).success().stdout_has("1 changed");
    assert_eq!(running(&project).0, format!("{url}:latest"));
    push_image(&repository, "latest", "third");
    project.run(&["plan", "--detailed-exitcode"]).code(0);

    project.run(&["destroy", "--auto-approve"]).success().stdout_has("5 destroyed");
}
