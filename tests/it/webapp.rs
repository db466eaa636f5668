//! The whole three-tier web app (`stacks/webapp.toml`): front end, API and database wired together,
//! checked through the AWS APIs.

use crate::support::{block_on, ec2, ecs, emulator_get, example_stack, live_tagged_with, push_image, rds, Project};

#[test]
fn the_web_app_is_wired_together_and_goes_away_completely() {
    let project = Project::new("web", &example_stack("webapp.toml")).with_emulator();
    project.write(
        "webapp/index.html",
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/stacks/webapp/index.html")).unwrap(),
    );
    // The API is deployed by digest: its image is pushed into the new repository first, as the stack
    // file says (and `scripts/demo` does).
    project.run(&["apply", "--auto-approve", "--target", "ecr_repository.api"]).success();
    let repository =
        project.state()["resources"]["ecr_repository.api"]["attributes"]["name"].as_str().unwrap().to_string();
    let digest = push_image(&repository, "v1", "webapp");
    project.run(&["apply", "--auto-approve"]).success().stdout_has("Apply complete! 14 added");
    let state = project.state();
    let attribute = |address: &str, name: &str| {
        state["resources"][address]["attributes"][name].as_str().unwrap_or_default().to_string()
    };

    // The database: encrypted, private, in its subnet group, reachable only from the API's group.
    let identifier = attribute("db_instance.main", "identifier");
    let db = block_on(async {
        let answer = rds().describe_db_instances().db_instance_identifier(&identifier).send().await.expect("database");
        answer.db_instances().first().cloned().expect("instance")
    });
    assert_eq!(db.storage_encrypted(), Some(true));
    assert_eq!(db.publicly_accessible(), Some(false));
    assert_eq!(
        db.db_subnet_group().and_then(|g| g.db_subnet_group_name()),
        Some(attribute("db_subnet_group.main", "name").as_str())
    );
    let db_groups: Vec<&str> = db.vpc_security_groups().iter().filter_map(|g| g.vpc_security_group_id()).collect();
    assert_eq!(db_groups, vec![attribute("security_group.db", "id").as_str()]);
    let sources = block_on(async {
        let answer = ec2()
            .describe_security_groups()
            .group_ids(attribute("security_group.db", "id"))
            .send()
            .await
            .expect("group");
        let group = answer.security_groups().first().cloned().expect("group");
        let cidrs: usize = group.ip_permissions().iter().map(|p| p.ip_ranges().len()).sum();
        assert_eq!(cidrs, 0, "no address range reaches the database");
        group
            .ip_permissions()
            .iter()
            .flat_map(|p| p.user_id_group_pairs().iter().filter_map(|g| g.group_id().map(str::to_string)))
            .collect::<Vec<_>>()
    });
    assert_eq!(sources, vec![attribute("security_group.api", "id")], "only the API's containers reach MySQL");

    // The API's task definition carries the database address, and the password only as a secret ARN.
    let task_definition = attribute("ecs_service.api", "task_definition_arn");
    let container = block_on(async {
        let answer =
            ecs().describe_task_definition().task_definition(&task_definition).send().await.expect("task definition");
        answer.task_definition().and_then(|t| t.container_definitions().first().cloned()).expect("container")
    });
    let environment: Vec<(String, String)> = container
        .environment()
        .iter()
        .map(|e| (e.name().unwrap_or_default().to_string(), e.value().unwrap_or_default().to_string()))
        .collect();
    assert!(
        environment.contains(&("DB_HOST".to_string(), attribute("db_instance.main", "address"))),
        "{environment:?}"
    );
    assert!(container.image().is_some_and(|image| image.ends_with(&format!("@{digest}"))), "{:?}", container.image());
    let secret = container.secrets().first().expect("the password comes as a secret");
    assert_eq!(secret.name(), "DB_PASSWORD");
    assert!(secret.value_from().ends_with(":password::"), "{}", secret.value_from());

    // The stack's own network: the load balancer in the public subnets, the API and the database in
    // the private ones, whose internet traffic goes through the NAT gateway.
    let subnets = |address: &str, field: &str| {
        let mut ids: Vec<String> = state["resources"][address]["inputs"][field]
            .as_array()
            .expect("subnets")
            .iter()
            .map(|s| s.as_str().unwrap().to_string())
            .collect();
        ids.sort();
        ids
    };
    let vpc = |name: &str| {
        let mut ids: Vec<String> = state["resources"]["vpc.main"]["attributes"][name]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_string())
            .collect();
        ids.sort();
        ids
    };
    assert_eq!(subnets("load_balancer.web", "subnets"), vpc("public_subnet_ids"));
    assert_eq!(subnets("ecs_service.api", "subnets"), vpc("private_subnet_ids"));
    assert_eq!(subnets("db_subnet_group.main", "subnets"), vpc("private_subnet_ids"));

    // The front end routes /api/* to the load balancer.
    let distribution =
        emulator_get(&format!("/2020-05-31/distribution/{}", attribute("cloudfront_distribution.cdn", "id")));
    assert!(distribution.contains(&attribute("load_balancer.web", "dns_name")), "{distribution}");
    assert!(distribution.contains("<PathPattern>/api/*</PathPattern>"), "{distribution}");

    project.run(&["plan", "--detailed-exitcode"]).code(0);
    project.run(&["destroy", "--auto-approve"]).success().stdout_has("15 destroyed");
    assert_eq!(live_tagged_with(&project.stack_name), Vec::<String>::new());
}
