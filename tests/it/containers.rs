//! Containers behind a load balancer: the `stacks/api-service.toml` example created (its images
//! pushed first, since it deploys by digest), rolled to a new image, changed in place, its target group replaced, and destroyed — checked through the AWS APIs.
//!
//! The emulator never starts tasks; it runs with `MOTO_ECS_SERVICE_RUNNING` so services report their
//! tasks running. The rollout states it cannot reach (FAILED, timeouts) are tested with the SDK's
//! mocks in `src/drivers/ecs_service/deployment.rs`.

use crate::support::{block_on, ec2, ecs, elbv2, example_stack, live_tagged_with, push_image, Project};

struct Service {
    task_definition: String,
    target_groups: Vec<String>,
    desired: i32,
}

fn service(state: &serde_json::Value) -> Service {
    let arn = state["resources"]["ecs_service.api"]["id"].as_str().expect("service arn").to_string();
    let cluster = state["resources"]["ecs_cluster.main"]["attributes"]["arn"].as_str().expect("cluster").to_string();
    block_on(async {
        let answer = ecs().describe_services().cluster(&cluster).services(&arn).send().await.expect("DescribeServices");
        let service = answer.services().first().expect("the service exists").clone();
        Service {
            task_definition: service.task_definition().unwrap_or_default().to_string(),
            target_groups: service
                .load_balancers()
                .iter()
                .filter_map(|lb| lb.target_group_arn().map(str::to_string))
                .collect(),
            desired: service.desired_count(),
        }
    })
}

fn image_of(task_definition: &str) -> (String, String) {
    block_on(async {
        let answer =
            ecs().describe_task_definition().task_definition(task_definition).send().await.expect("task definition");
        let definition = answer.task_definition().expect("definition");
        let image = definition.container_definitions().first().and_then(|c| c.image()).unwrap_or_default().to_string();
        (image, definition.status().map(|s| s.as_str().to_string()).unwrap_or_default())
    })
}

fn ingress_sources(group_id: &str) -> (Vec<String>, Vec<i32>) {
    block_on(async {
        let answer = ec2().describe_security_groups().group_ids(group_id).send().await.expect("security group");
        let group = answer.security_groups().first().expect("group").clone();
        let sources = group
            .ip_permissions()
            .iter()
            .flat_map(|p| p.user_id_group_pairs().iter().filter_map(|g| g.group_id().map(str::to_string)))
            .collect();
        let ports = group.ip_permissions().iter().filter_map(|p| p.from_port()).collect();
        (sources, ports)
    })
}

fn target_group_exists(arn: &str) -> bool {
    block_on(async {
        elbv2()
            .describe_target_groups()
            .target_group_arns(arn)
            .send()
            .await
            .is_ok_and(|a| !a.target_groups().is_empty())
    })
}

#[test]
fn the_api_service_deploys_rolls_changes_in_place_and_goes_away_completely() {
    let project = Project::new("api", &example_stack("api-service.toml")).with_emulator();
    project.run(&["validate"]).success();
    // The images are deployed by digest, so they are pushed before the service is created: the
    // repository first, as a CI pipeline would make it.
    project.run(&["apply", "--auto-approve", "--target", "ecr_repository.api"]).success().stdout_has("1 added");
    let repository = format!("{}-api", project.stack_name);
    let (v1, v2) = (push_image(&repository, "v1", "api v1"), push_image(&repository, "v2", "api v2"));
    project.run(&["apply", "--auto-approve"]).success().stdout_has("Apply complete! 8 added").stdout_has("api_url");

    let state = project.state();
    let attribute = |address: &str, name: &str| {
        state["resources"][address]["attributes"][name].as_str().unwrap_or_default().to_string()
    };
    let target_group = attribute("target_group.api", "arn");
    let first = service(&state);
    assert_eq!(first.target_groups, vec![target_group.clone()], "the service is attached to the target group");
    assert_eq!(first.desired, 3);
    let (image, _) = image_of(&first.task_definition);
    let url = attribute("ecr_repository.api", "url");
    assert_eq!(image, format!("{url}@{v1}"), "the stack's repository, by the digest `v1` points at");
    let alb_group = attribute("security_group.alb", "id");
    let api_group = attribute("security_group.api", "id");
    let (sources, _) = ingress_sources(&api_group);
    assert_eq!(sources, vec![alb_group.clone()], "only the load balancer's group reaches the containers");
    project.run(&["plan", "--detailed-exitcode"]).code(0);

    // A new image: one in-place change of the service, a new task definition revision, the old one
    // deregistered once the rollout is complete.
    let plan = project.run(&["plan", "--var", "image_tag=v2"]).success();
    let text = plan.stdout.replace(&project.stack_name, "[STACK]").replace(&v1, "[V1]").replace(&v2, "[V2]");
    insta::assert_snapshot!("api_service_image_change", text);
    project.run(&["apply", "--auto-approve", "--var", "image_tag=v2"]).success().stdout_has("1 changed");
    let second = service(&project.state());
    assert_ne!(second.task_definition, first.task_definition);
    assert_eq!(image_of(&second.task_definition).0, format!("{url}@{v2}"));
    assert_eq!(image_of(&first.task_definition).1, "INACTIVE", "the old revision is deregistered");

    // Desired count and a new rule are in-place updates: same group, same service.
    let stack = example_stack("api-service.toml").replace("desired_count = 3", "desired_count = 5").replace(
        "ingress = [{ port = 80, cidr = \"0.0.0.0/0\" }]",
        "ingress = [{ port = 80, cidr = \"0.0.0.0/0\" }, { port = 443, cidr = \"0.0.0.0/0\" }]",
    );
    project.write_stack(&stack);
    let plan = project.run(&["plan", "--var", "image_tag=v2"]).success();
    let plan =
        plan.stdout_has("~ ecs_service.api").stdout_has("desired_count: 3 -> 5").stdout_has("~ security_group.alb");
    assert!(!plan.stdout.contains("-/+"), "{}", plan.stdout);
    project.run(&["apply", "--auto-approve", "--var", "image_tag=v2"]).success().stdout_has("2 changed");
    assert_eq!(service(&project.state()).desired, 5);
    let (_, ports) = ingress_sources(&alb_group);
    assert!(ports.contains(&443) && ports.contains(&80), "{ports:?}");
    assert_eq!(
        attribute("security_group.alb", "id"),
        project.state()["resources"]["security_group.alb"]["attributes"]["id"]
    );

    // A new target group port replaces the group: the new one first, the service moved over, then
    // the old one deleted — never a service pointing at a deleted group.
    project.write_stack(&stack.replace("port = 8080\nhealth_check", "port = 9090\nhealth_check"));
    project
        .run(&["plan", "--var", "image_tag=v2"])
        .success()
        .stdout_has("-/+ target_group.api")
        .stdout_has("port forces replacement")
        .stdout_has("the new one first");
    project.run(&["apply", "--auto-approve", "--var", "image_tag=v2"]).success().stdout_has("1 replaced");
    let new_group = project.state()["resources"]["target_group.api"]["attributes"]["arn"].as_str().unwrap().to_string();
    assert_ne!(new_group, target_group);
    assert_eq!(service(&project.state()).target_groups, vec![new_group.clone()]);
    assert!(!target_group_exists(&target_group), "the old target group is gone");

    project.run(&["destroy", "--auto-approve"]).success().stdout_has("9 destroyed");
    assert_eq!(project.state()["resources"], serde_json::json!({}));
    assert_eq!(live_tagged_with(&project.stack_name), Vec::<String>::new(), "nothing tagged with the stack is left");
}

#[test]
fn fargate_sizes_are_checked_offline_with_the_valid_values() {
    let stack = example_stack("api-service.toml").replace("memory = 512", "memory = 3000");
    Project::new("api", &stack)
        .with_unreachable_endpoint()
        .run(&["validate"])
        .code(1)
        .stderr_has("memory 3000 is not valid with cpu 256")
        .stderr_has("512, 1024, 2048");
}
