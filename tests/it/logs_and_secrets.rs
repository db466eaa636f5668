//! CloudWatch Logs groups and Secrets Manager secrets: created, read back through the SDK, changed in
//! place, replaced, imported and destroyed; a generated secret's value never appears in the state, a
//! plan or a verbose log, and no later plan makes a new one.

use crate::support::{block_on, logs, secretsmanager, Project};

const STACK: &str = r#"
[stack]
name = "{name}"

[log_group.api]
retention_days = 14
tags = { team = "api" }

[secret.session]
generate = { length = 40 }
description = "Signs the API's sessions"
recovery_days = 0

[secret.db]
value = { env = "TEST_DB_PASSWORD" }
recovery_days = 0
"#;

struct Group {
    retention: Option<i32>,
    tags: std::collections::HashMap<String, String>,
}

fn group(name: &str) -> Option<Group> {
    block_on(async {
        let answer = logs().describe_log_groups().log_group_name_prefix(name).send().await.expect("DescribeLogGroups");
        let found = answer.log_groups().iter().find(|g| g.log_group_name() == Some(name))?.clone();
        let arn = found.log_group_arn().unwrap_or_default().to_string();
        let tags = logs().list_tags_for_resource().resource_arn(arn).send().await.expect("tags");
        Some(Group { retention: found.retention_in_days(), tags: tags.tags().cloned().unwrap_or_default() })
    })
}

fn secret_value(id: &str) -> Option<String> {
    block_on(async {
        let answer = secretsmanager().get_secret_value().secret_id(id).send().await.ok()?;
        answer.secret_string().map(str::to_string)
    })
}

fn description(id: &str) -> Option<String> {
    block_on(async {
        let answer = secretsmanager().describe_secret().secret_id(id).send().await.expect("DescribeSecret");
        answer.description().map(str::to_string)
    })
}

fn secret_exists(id: &str) -> bool {
    block_on(async { secretsmanager().describe_secret().secret_id(id).send().await.is_ok() })
}

#[test]
fn log_groups_and_secrets_are_made_changed_replaced_imported_and_destroyed_without_a_value_shown() {
    let project = Project::new("logs", STACK).with_emulator();
    let env = [("TEST_DB_PASSWORD", "first-Pa55word")];
    let plan =
        project.run_with_env(&["plan"], &env).success().stdout_has("+ log_group.api").stdout_has("+ secret.session");
    let name = format!("/provision/{}/api", project.stack_name);
    assert!(plan.stdout.contains(&format!("\"{name}\"")), "the default name: {}", plan.stdout);
    assert!(!plan.stdout.contains("first-Pa55word"));
    let apply = project.run_with_env(&["-vvv", "apply", "--auto-approve"], &env).success().stdout_has("3 added");

    let created = group(&name).expect("the log group exists");
    assert_eq!(created.retention, Some(14));
    assert_eq!(created.tags.get("team").map(String::as_str), Some("api"));
    assert_eq!(created.tags.get("provision:address").map(String::as_str), Some("log_group.api"));
    let state = project.state();
    let session = state["resources"]["secret.session"]["id"].as_str().expect("secret arn").to_string();
    assert!(session.contains(&format!(":secret:{}-session", project.stack_name)), "{session}");
    let generated = secret_value(&session).expect("a generated value");
    assert_eq!(generated.len(), 40);
    assert!(!generated.contains(['"', '@', '/', '\\']), "the default exclusions hold: {generated}");
    assert_eq!(description(&session).as_deref(), Some("Signs the API's sessions"));
    let db = state["resources"]["secret.db"]["id"].as_str().expect("secret arn").to_string();
    assert_eq!(secret_value(&db).as_deref(), Some("first-Pa55word"));
    let state_text = std::fs::read_to_string(project.state_path()).expect("state");
    for text in [&apply.stdout, &apply.stderr, &plan.stdout, &state_text] {
        assert!(!text.contains(&generated), "the generated value leaked");
        assert!(!text.contains("first-Pa55word"), "the given value leaked");
    }

    // Re-plans change nothing and never generate again.
    project.run_with_env(&["plan", "--detailed-exitcode"], &env).code(0);
    project.run_with_env(&["apply", "--auto-approve"], &env).success();
    assert_eq!(secret_value(&session).as_deref(), Some(generated.as_str()));

    // In place: retention, description, a new value from the environment, a tag.
    let changed = STACK
        .replace("retention_days = 14", "retention_days = 30")
        .replace("Signs the API's sessions", "Signs sessions")
        .replace("length = 40", "length = 50");
    project.write_stack(&changed);
    let env = [("TEST_DB_PASSWORD", "second-Pa55word")];
    let plan = project
        .run_with_env(&["plan"], &env)
        .success()
        .stdout_has("retention_days: 14 -> 30")
        .stdout_has("~ secret.db")
        .stdout_has("value: (sensitive) -> (sensitive)")
        .stdout_has("keeps its value");
    assert!(!plan.stdout.contains("-/+"), "{}", plan.stdout);
    project.run_with_env(&["apply", "--auto-approve"], &env).success().stdout_has("3 changed");
    assert_eq!(group(&name).expect("same group").retention, Some(30));
    assert_eq!(secret_value(&db).as_deref(), Some("second-Pa55word"));
    assert_eq!(description(&session).as_deref(), Some("Signs sessions"));
    assert_eq!(secret_value(&session).as_deref(), Some(generated.as_str()), "a generate change keeps the value");
    assert_eq!(project.state()["resources"]["secret.session"]["id"], session.as_str());

    // Import: both adopted by name, and the next apply regenerates nothing.
    project.run(&["state", "rm", "log_group.api"]).success();
    project.run(&["state", "rm", "secret.session"]).success();
    project.run(&["import", "log_group.api", &name]).success();
    let secret_name = format!("{}-session", project.stack_name);
    project.run(&["import", "secret.session", &secret_name]).success();
    assert_eq!(project.state()["resources"]["secret.session"]["id"], session.as_str());
    project.run_with_env(&["apply", "--auto-approve"], &env).success();
    project.run_with_env(&["plan", "--detailed-exitcode"], &env).code(0);
    assert_eq!(secret_value(&session).as_deref(), Some(generated.as_str()));

    // A new name replaces the log group: the old one is gone.
    let renamed = format!("/provision/{}/api-v2", project.stack_name);
    let stack = changed.replace("[log_group.api]\n", &format!("[log_group.api]\nname = \"{renamed}\"\n"));
    project.write_stack(&stack);
    project
        .run_with_env(&["plan"], &env)
        .success()
        .stdout_has("-/+ log_group.api")
        .stdout_has("name forces replacement");
    project.run_with_env(&["apply", "--auto-approve"], &env).success().stdout_has("1 replaced");
    assert!(group(&name).is_none(), "the old group is deleted");
    assert_eq!(group(&renamed).expect("the new group").retention, Some(30));

    project.run_with_env(&["destroy", "--auto-approve"], &env).success().stdout_has("3 destroyed");
    assert!(group(&renamed).is_none());
    assert!(!secret_exists(&session) && !secret_exists(&db), "recovery_days = 0 deletes at once");
}

#[test]
fn a_log_group_that_holds_streams_is_kept_unless_force_destroy() {
    let stack = "[stack]\nname = \"{name}\"\n\n[log_group.audit]\nforce_destroy = false\n";
    let project = Project::new("audit", stack).with_emulator();
    project.run(&["apply", "--auto-approve"]).success();
    let name = format!("/provision/{}/audit", project.stack_name);
    assert_eq!(group(&name).expect("created").retention, Some(30), "30 days by default");
    block_on(async {
        logs().create_log_stream().log_group_name(&name).log_stream_name("task-1").send().await.expect("stream")
    });
    project
        .run(&["destroy", "--auto-approve"])
        .code(1)
        .stderr_has("log_group.audit")
        .stderr_has("still holds log streams")
        .stderr_has("force_destroy = true");
    assert!(group(&name).is_some(), "the group and its events are kept");
    project.write_stack(&stack.replace("force_destroy = false", "force_destroy = true"));
    project.run(&["apply", "--auto-approve"]).success().stdout_has("1 changed");
    project.run(&["destroy", "--auto-approve"]).success().stdout_has("1 destroyed");
    assert!(group(&name).is_none());
}

#[test]
fn a_destroyed_secret_waiting_for_deletion_is_restored_with_a_new_value() {
    let stack = "[stack]\nname = \"{name}\"\n\n[secret.token]\ngenerate = {}\n";
    let project = Project::new("token", stack).with_emulator();
    project.run(&["apply", "--auto-approve"]).success();
    let arn = project.state()["resources"]["secret.token"]["id"].as_str().expect("arn").to_string();
    let first = secret_value(&arn).expect("a value");
    assert_eq!(first.len(), 32, "32 characters by default");
    project.run(&["destroy", "--auto-approve"]).success();
    let scheduled = block_on(async { secretsmanager().describe_secret().secret_id(&arn).send().await.expect("kept") });
    assert!(scheduled.deleted_date().is_some(), "recovery_days = 7 keeps it restorable");

    project.run(&["apply", "--auto-approve"]).success().stdout_has("1 added");
    assert_eq!(project.state()["resources"]["secret.token"]["id"], arn.as_str(), "the same secret, restored");
    let restored = block_on(async { secretsmanager().describe_secret().secret_id(&arn).send().await.expect("live") });
    assert!(restored.deleted_date().is_none());
    let second = secret_value(&arn).expect("a value");
    assert_ne!(second, first, "a create generates a new value");
    project.run(&["plan", "--detailed-exitcode"]).code(0);

    // Someone else's secret of that name waiting for deletion is not taken over.
    let taken = format!("{}-foreign", project.stack_name);
    block_on(async {
        let made = secretsmanager().create_secret().name(&taken).secret_string("x").send().await.expect("create");
        secretsmanager().delete_secret().secret_id(made.arn().unwrap_or_default()).send().await.expect("delete");
    });
    let other = Project::new("token", &stack.replace("generate = {}", &format!("generate = {{}}\nname = \"{taken}\"")))
        .with_emulator();
    other
        .run(&["apply", "--auto-approve"])
        .code(1)
        .stderr_has("scheduled for deletion")
        .stderr_has("restore-secret")
        .stderr_has("force-delete-without-recovery");
    project.write_stack(&format!("{stack}recovery_days = 0\n"));
    project.run(&["apply", "--auto-approve"]).success();
    project.run(&["destroy", "--auto-approve"]).success();
    assert!(!secret_exists(&arn));
}

#[test]
fn bad_retention_two_secret_sources_and_an_unreadable_secret_are_caught_offline() {
    let stack = "[stack]\nname = \"{name}\"\n\n[log_group.api]\nretention_days = 31\n\n[secret.both]\nvalue = { env = \"X\" }\ngenerate = {}\n";
    Project::new("offline", stack)
        .with_unreachable_endpoint()
        .run(&["validate"])
        .code(1)
        .stderr_has("not 31")
        .stderr_has("1, 3, 5, 7, 14, 30")
        .stderr_has("retention_days = 30")
        .stderr_has("either `value` or `generate`");

    let service = r#"[stack]
name = "{name}"

[secret.session]
generate = {}

[iam_role.exec]
service = "ecs-tasks.amazonaws.com"
managed_policies = ["arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"]

[ecs_cluster.main]

[ecs_service.api]
cluster = "${ecs_cluster.main.arn}"
execution_role = "${iam_role.exec.arn}"
subnets = ["subnet-1"]

[ecs_service.api.container]
image = "nginx:1.27"
secrets = { SESSION = "${secret.session.arn}" }
"#;
    let project = Project::new("offline", service).with_unreachable_endpoint();
    let warned = project
        .run(&["validate"])
        .success()
        .stderr_has("stack.toml:20:")
        .stderr_has("`ecs_service.api.container.secrets.SESSION`")
        .stderr_has("`iam_role.exec` may not read this secret")
        .stderr_has("\"Resource\": \"${secret.session.arn}\"");
    assert!(warned.stderr.contains("warning"), "{}", warned.stderr);
    let allowed = service.replace(
        "[ecs_cluster.main]",
        "inline_policy = '{ \"Version\": \"2012-10-17\", \"Statement\": [{ \"Effect\": \"Allow\", \"Action\": \"secretsmanager:GetSecretValue\", \"Resource\": \"${secret.session.arn}\" }] }'\n\n[ecs_cluster.main]",
    );
    project.write_stack(&allowed);
    let quiet = project.run(&["validate"]).success();
    assert!(!quiet.stderr.contains("may not read"), "{}", quiet.stderr);
}

/// A run killed between recording a create (the deterministic name) and its result: the next run
/// finds the log group and the secret by name and adopts them, never making a second one.
#[test]
fn interrupted_creates_are_found_by_name_and_adopted() {
    let stack = "[stack]\nname = \"{name}\"\n\n[log_group.api]\n\n[secret.token]\ngenerate = {}\nrecovery_days = 0\n";
    let project = Project::new("intent", stack).with_emulator();
    project.run(&["apply", "--auto-approve"]).success();
    let arn = project.state()["resources"]["secret.token"]["id"].as_str().expect("arn").to_string();
    let value = secret_value(&arn).expect("a value");

    let mut state = project.state();
    let names = [
        ("log_group.api", format!("/provision/{}/api", project.stack_name)),
        ("secret.token", format!("{}-token", project.stack_name)),
    ];
    for (address, name) in &names {
        state["resources"][address]["status"] = serde_json::json!("creating");
        state["resources"][address]["id"] = serde_json::json!(name);
        state["resources"][address]["attributes"] = serde_json::json!({});
    }
    project.write(&format!("state/{}.json", project.stack_name), &serde_json::to_string_pretty(&state).unwrap());
    project
        .run(&["plan"])
        .success()
        .stderr_has("log_group.api: found the resource an interrupted create made; adopting it")
        .stderr_has("secret.token: found the resource an interrupted create made; adopting it");
    project.run(&["apply", "--auto-approve"]).success();
    let state = project.state();
    assert_eq!(state["resources"]["secret.token"]["id"], arn.as_str(), "the ARN is recorded again");
    assert_eq!(state["resources"]["secret.token"]["attributes"]["arn"], arn.as_str());
    assert_eq!(secret_value(&arn).as_deref(), Some(value.as_str()), "adopted, not generated again");
    project.run(&["plan", "--detailed-exitcode"]).code(0);
    project.run(&["destroy", "--auto-approve"]).success().stdout_has("2 destroyed");
}

/// More groups than a page of `DescribeLogGroups` (50) are listed by several longer prefixes at once
/// (crates/provision-aws/src/drivers/log_group/listing.rs, `listing_prefixes`): a refresh still finds every
/// group, a retention changed by hand on one and another deleted.
#[test]
fn a_stack_with_more_groups_than_a_page_is_listed_whole() {
    let mut stack = String::from("[stack]\nname = \"{name}\"\n\n");
    for i in 0..70 {
        stack.push_str(&format!("[log_group.g{i}]\nretention_days = 7\n\n"));
    }
    let project = Project::new("lgp", &stack).with_emulator();
    // Seventy groups read back as they were made: none is missed by the split listings.
    project.run(&["apply", "--auto-approve"]).success();
    project.run(&["plan"]).success().stdout_has("No changes.");

    let name = |i: usize| format!("/provision/{}/g{i}", project.stack_name);
    block_on(async {
        let logs = logs();
        logs.put_retention_policy().log_group_name(name(1)).retention_in_days(30).send().await.expect("retention");
        logs.delete_log_group().log_group_name(name(64)).send().await.expect("delete");
    });
    assert_eq!(group(&name(1)).and_then(|g| g.retention), Some(30));
    project
        .run(&["drift"])
        .code(2)
        .stdout_has("! log_group.g1")
        .stdout_has("retention_days: 7 -> 30")
        .stdout_has("log_group.g64");
    project.run(&["apply", "--auto-approve"]).success();
    project.run(&["plan"]).success().stdout_has("No changes.");
    assert_eq!(group(&name(64)).and_then(|g| g.retention), Some(7), "the deleted group is made again");
    project.run(&["destroy", "--auto-approve"]).success();
}
