//! Offline commands: validate, graph, schema, and the guard rails of apply.

use crate::support::Project;

const TWO_TIER: &str = r#"
[stack]
name = "{name}"

[s3_bucket.site]

[cloudfront_distribution.cdn]
origin_bucket = "${s3_bucket.site.name}"

[outputs]
url = "https://${cloudfront_distribution.cdn.domain_name}"
"#;

#[test]
fn validate_reports_what_it_checked() {
    Project::new("cli", TWO_TIER)
        .run(&["validate"])
        .success()
        .stdout_has("is valid")
        .stdout_has("2 resource(s), 1 output(s)");
}

#[test]
fn graph_is_dot_with_an_edge_per_reference() {
    let run = Project::new("cli", TWO_TIER).run(&["graph"]).success();
    assert!(run.stdout.starts_with("digraph provision {"), "{}", run.stdout);
    assert!(run.stdout.contains("\"cloudfront_distribution.cdn\" -> \"s3_bucket.site\";"), "{}", run.stdout);
}

const SERVICE_BEHIND_LISTENER: &str = r#"
[stack]
name = "{name}"

[load_balancer.web]

[target_group.api]
port = 8080

[listener.http]
load_balancer = "${load_balancer.web.arn}"
port = 80
forward = "${target_group.api.arn}"

[ecs_cluster.main]

[ecs_service.api]
cluster = "${ecs_cluster.main.name}"
target_group = "${target_group.api.arn}"

[ecs_service.api.container]
image = "nginx:1.27"
port = 8080
"#;

/// ECS refuses a service whose target group no listener forwards to yet; the stack file names no
/// such order (both reference the target group), and needs no `depends_on` for it.
#[test]
fn graph_orders_a_service_after_the_listener_that_forwards_to_its_target_group() {
    let run = Project::new("cli", SERVICE_BEHIND_LISTENER).run(&["graph"]).success();
    assert!(run.stdout.contains("\"ecs_service.api\" -> \"listener.http\";"), "{}", run.stdout);
}

#[test]
fn schema_describes_every_resource_type() {
    let run = Project::new("cli", TWO_TIER).run(&["schema"]).success();
    let schema: serde_json::Value = serde_json::from_str(&run.stdout).expect("schema is JSON");
    let bucket = &schema["properties"]["s3_bucket"]["additionalProperties"]["properties"];
    assert_eq!(bucket["versioning"]["default"], serde_json::json!(false));
    assert!(schema["properties"]["cloudfront_distribution"].is_object());
}

#[test]
fn offline_plan_shows_unknown_values_and_makes_no_aws_call() {
    Project::new("cli", TWO_TIER)
        .with_unreachable_endpoint()
        .run(&["plan", "--refresh=false"])
        .success()
        .stdout_has("+ s3_bucket.site")
        .stdout_has("+ cloudfront_distribution.cdn")
        .stdout_has("(known after apply)")
        .stdout_has("Plan: 2 to add, 0 to change, 0 to replace, 0 to destroy.");
}

#[test]
fn apply_without_a_terminal_refuses_without_auto_approve() {
    Project::new("cli", "[stack]\nname = \"{name}\"\n\n[s3_bucket.site]\n")
        .with_emulator()
        .run(&["apply"])
        .code(1)
        .stderr_has("stdin is not a terminal")
        .stderr_has("--auto-approve");
}

#[test]
fn plan_json_lists_actions_with_their_changes() {
    let run =
        Project::new("cli", TWO_TIER).with_unreachable_endpoint().run(&["plan", "--refresh=false", "--json"]).success();
    let plan: serde_json::Value = serde_json::from_str(&run.stdout).expect("plan JSON");
    let actions = plan["actions"].as_array().expect("actions");
    assert_eq!(actions.len(), 2);
    let bucket = actions.iter().find(|a| a["address"] == "s3_bucket.site").expect("bucket action");
    assert_eq!(bucket["action"], "create");
    assert!(bucket["changes"].as_array().unwrap().iter().any(|c| c["path"] == "bucket"));
    assert_eq!(plan["summary"]["add"], 2);
}

#[test]
fn target_limits_the_plan_to_a_resource_and_its_dependencies() {
    let run = Project::new("cli", TWO_TIER)
        .with_unreachable_endpoint()
        .run(&["plan", "--refresh=false", "--target", "s3_bucket.site"])
        .success()
        .stdout_has("+ s3_bucket.site")
        .stdout_has("Plan: 1 to add");
    assert!(!run.stdout.contains("cloudfront_distribution.cdn "), "{}", run.stdout);
}

#[test]
fn a_state_from_a_newer_provision_is_refused_and_left_alone() {
    let project = Project::new("cli", TWO_TIER);
    let newer = format!(r#"{{"version": 7, "lineage": "x", "serial": 3, "stack": "{}"}}"#, project.stack_name);
    project.write(&format!("state/{}.json", project.stack_name), &newer);
    project.run(&["plan", "--refresh=false"]).code(1).stderr_has("written by a newer provision");
    let after = std::fs::read_to_string(project.state_path()).unwrap();
    assert_eq!(after, newer);
}

/// At a terminal, apply asks before changing anything, and anything but `yes` changes nothing.
/// (`script` gives the binary a pseudo-terminal; the test is skipped where util-linux lacks it.)
#[test]
fn apply_at_a_terminal_asks_and_only_yes_proceeds() {
    if std::process::Command::new("script").arg("--version").output().is_err() {
        eprintln!("skipped: `script` (util-linux) is not installed");
        return;
    }
    let project = Project::new("tty", "[stack]\nname = \"{name}\"\n\n[s3_bucket.data]\n").with_emulator();
    let run = |answer: &str| {
        let command = format!("{} apply", crate::support::binary());
        let output = std::process::Command::new("bash")
            .arg("-c")
            .arg(format!("printf '{answer}\\n' | script -qec \"{command}\" /dev/null"))
            .current_dir(project.dir.path())
            .env("AWS_ENDPOINT_URL", crate::support::endpoint())
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_REGION", "us-east-1")
            .env("NO_COLOR", "1")
            .output()
            .expect("run under script");
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    let declined = run("no");
    assert!(declined.contains("Do you want to perform these actions? (yes/no)"), "{declined}");
    assert!(declined.contains("Apply cancelled; nothing was changed."), "{declined}");
    assert!(!project.state_path().exists() || project.state()["resources"] == serde_json::json!({}));
    let accepted = run("yes");
    assert!(accepted.contains("Apply complete! 1 added"), "{accepted}");
    project.run(&["destroy", "--auto-approve"]).success();
}
