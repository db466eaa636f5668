//! The database: RDS instances changed in place or replaced, deletion protection and final snapshots,
//! and a password that never appears anywhere but in the calls to AWS.

use crate::support::{block_on, rds, Project};

fn database_stack(extra: &str) -> String {
    format!(
        r#"
[stack]
name = "{{name}}"

[db_subnet_group.main]

[db_instance.main]
engine = "mysql"
engine_version = "8.0"
db_name = "app"
username = "app"
password = {{ env = "PROVISION_TEST_DB_PASSWORD" }}
subnet_group = "${{db_subnet_group.main.name}}"
apply_immediately = true
{extra}
"#
    )
}

fn describe(identifier: &str) -> Option<aws_sdk_rds::types::DbInstance> {
    block_on(async {
        rds()
            .describe_db_instances()
            .db_instance_identifier(identifier)
            .send()
            .await
            .ok()?
            .db_instances()
            .first()
            .cloned()
    })
}

/// Runs the binary with the password in its environment, keeping every byte it printed.
fn run_with_password(project: &Project, password: &str, args: &[&str], log: &mut String) -> crate::support::Run {
    let mut full = vec!["-vv"];
    full.extend_from_slice(args);
    let run = project.run_with_env(&full, &[("PROVISION_TEST_DB_PASSWORD", password)]);
    log.push_str(&run.stdout);
    log.push_str(&run.stderr);
    run
}

#[test]
fn the_password_is_applied_and_changed_but_never_written_anywhere() {
    let project = Project::new("db", &database_stack("skip_final_snapshot = false")).with_emulator();
    let identifier = format!("{}-main", project.stack_name);
    let (first, second) = ("first-Secret-4711", "second-Secret-0815");
    let mut log = String::new();

    run_with_password(&project, first, &["apply", "--auto-approve"], &mut log).success();
    let instance = describe(&identifier).expect("the instance exists");
    assert_eq!(instance.storage_encrypted(), Some(true), "encrypted by default");
    assert_eq!(instance.publicly_accessible(), Some(false), "private by default");
    assert_eq!(instance.backup_retention_period(), Some(7));
    assert_eq!(
        instance.db_subnet_group().and_then(|g| g.db_subnet_group_name()),
        Some(format!("{}-main", project.stack_name).as_str())
    );

    run_with_password(&project, first, &["plan", "--detailed-exitcode"], &mut log).code(0);
    let plan = run_with_password(&project, second, &["plan", "--json"], &mut log).success();
    let plan: serde_json::Value = serde_json::from_str(&plan.stdout).expect("plan JSON");
    let change = &plan["actions"][0]["changes"][0];
    assert_eq!(change["path"], "password");
    assert_eq!(change["sensitive"], true);
    assert_eq!(plan["actions"][0]["action"], "update");
    run_with_password(&project, second, &["plan"], &mut log)
        .success()
        .stdout_has("password: (sensitive) -> (sensitive)");
    run_with_password(&project, second, &["apply", "--auto-approve"], &mut log).success().stdout_has("1 changed");
    run_with_password(&project, second, &["plan", "--detailed-exitcode"], &mut log).code(0);

    let state_files: Vec<String> = ["", ".backup"]
        .iter()
        .map(|suffix| {
            std::fs::read_to_string(format!("{}{suffix}", project.state_path().display())).unwrap_or_default()
        })
        .collect();

    // Destroy takes a final snapshot named after the instance and the time.
    run_with_password(&project, second, &["destroy", "--auto-approve"], &mut log).success();
    assert!(describe(&identifier).is_none());
    let snapshots = block_on(async {
        rds().describe_db_snapshots().db_instance_identifier(&identifier).send().await.expect("snapshots")
    });
    let names: Vec<&str> = snapshots.db_snapshots().iter().filter_map(|s| s.db_snapshot_identifier()).collect();
    assert!(names.iter().any(|n| n.starts_with(&format!("{identifier}-final-"))), "{names:?}");

    for password in [first, second] {
        assert!(!log.contains(password), "a password appeared in the output or the debug log");
        for text in &state_files {
            assert!(!text.contains(password), "a password appeared in the state");
        }
    }
    assert!(state_files[0].contains("$argon2id$"), "the state keeps an Argon2id hash");
}

#[test]
fn a_missing_password_variable_is_named_before_any_aws_call() {
    let project = Project::new(
        "db",
        &database_stack("").replace("PROVISION_TEST_DB_PASSWORD", "PROVISION_TEST_DB_PASSWORD_UNSET"),
    )
    .with_unreachable_endpoint();
    project
        .run(&["plan"])
        .code(1)
        .stderr_has("reads the environment variable `PROVISION_TEST_DB_PASSWORD_UNSET`, which is not set");
}

#[test]
fn instance_changes_are_in_place_and_engine_changes_replace_loudly() {
    let project = Project::new("db", &database_stack("skip_final_snapshot = true")).with_emulator();
    let identifier = format!("{}-main", project.stack_name);
    let mut log = String::new();
    run_with_password(&project, "pw-Secret-1", &["apply", "--auto-approve"], &mut log).success();

    project.write_stack(&database_stack("skip_final_snapshot = true\ninstance_class = \"db.t3.small\""));
    run_with_password(&project, "pw-Secret-1", &["plan"], &mut log)
        .success()
        .stdout_has("~ db_instance.main")
        .stdout_has("instance_class: \"db.t3.micro\" -> \"db.t3.small\"");
    run_with_password(&project, "pw-Secret-1", &["apply", "--auto-approve"], &mut log)
        .success()
        .stdout_has("1 changed");
    assert_eq!(
        describe(&identifier).and_then(|i| i.db_instance_class().map(str::to_string)).as_deref(),
        Some("db.t3.small")
    );

    project.write_stack(
        &database_stack("skip_final_snapshot = true\ninstance_class = \"db.t3.small\"")
            .replace("engine_version = \"8.0\"\n", "")
            .replace("\"mysql\"", "\"mariadb\"\nengine_version = \"10.11\""),
    );
    run_with_password(&project, "pw-Secret-1", &["plan"], &mut log)
        .success()
        .stdout_has("-/+ db_instance.main")
        .stdout_has("engine")
        .stdout_has("deletes it and all its data");
    run_with_password(&project, "pw-Secret-1", &["destroy", "--auto-approve"], &mut log).success();
}

#[test]
fn deletion_protection_refuses_destroy_and_says_how_to_proceed() {
    let project =
        Project::new("db", &database_stack("skip_final_snapshot = true\ndeletion_protection = true")).with_emulator();
    let identifier = format!("{}-main", project.stack_name);
    let mut log = String::new();
    run_with_password(&project, "pw-Secret-2", &["apply", "--auto-approve"], &mut log).success();
    run_with_password(&project, "pw-Secret-2", &["destroy", "--auto-approve"], &mut log)
        .code(1)
        .stderr_has("deletion_protection = false");
    assert!(describe(&identifier).is_some(), "the database is still there");

    project.write_stack(&database_stack("skip_final_snapshot = true\ndeletion_protection = false"));
    run_with_password(&project, "pw-Secret-2", &["apply", "--auto-approve"], &mut log).success();
    run_with_password(&project, "pw-Secret-2", &["destroy", "--auto-approve"], &mut log).success();
    assert!(describe(&identifier).is_none());
}
