//! What a reviewer needs before pressing merge: the bill (cost per action and in total), the
//! guardrails' findings, the outside changes an apply would undo, `--exclude`, and the plan as a
//! pull-request comment.

use crate::support::{block_on, example_stack, run_binary, s3, Project};

fn stack_files() -> Vec<String> {
    let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("stacks");
    let mut files: Vec<String> = std::fs::read_dir(&folder)
        .expect("stacks folder")
        .filter_map(|entry| entry.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .filter(|name| name.ends_with(".toml"))
        .collect();
    files.sort();
    files
}

/// The example stacks' plans, offline (no AWS call, so nothing the emulator makes up gets in and
/// the stacks keep their own names), with their cost and guardrail findings. None has a warning:
/// each finding is fixed or accepted in the stack file with a reason.
#[test]
fn every_example_stack_plans_with_its_cost_and_no_guardrail_warning() {
    let secrets =
        [("FLASK_DB_PASSWORD", "example-only-Secret-9"), ("STARWARS_REDIS_AUTH_TOKEN", "example-only-Redis-token-9")];
    let files = stack_files();
    assert!(files.len() >= 6, "{files:?}");
    for file in files {
        let folder = tempfile::tempdir().expect("temp dir");
        let plan = run_binary(
            folder.path(),
            None,
            &["-f", &stack_path(&file), "plan", "--refresh=false", "--deny-warnings"],
            &secrets,
        );
        assert_eq!(plan.code, 0, "{file}:\n{}\n{}", plan.stdout, plan.stderr);
        assert!(plan.stdout.contains("\nCost: "), "{file}:\n{}", plan.stdout);
        insta::assert_snapshot!(
            format!("example_plan_{}", file.trim_end_matches(".toml").replace('-', "_")),
            plan.stdout
        );
    }
}

/// The stack's upload folder goes beside its copy (an upload never follows a link out of its folder).
fn copy_folder(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).expect("create folder");
    for entry in std::fs::read_dir(from).expect("read folder").flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_folder(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy file");
        }
    }
}

fn stack_path(file: &str) -> String {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("stacks").join(file).display().to_string()
}

/// `stacks/webapp.toml` in us-east-1, worked out by hand from prices.toml (730 hours a month):
/// - ecs_service.api: 3 tasks × (0.5 vCPU × $0.04048 + 1 GB × $0.004445) × 730 = $54.06015 → $54.06
/// - load_balancer.web: $0.0225 × 730 = $16.425 → $16.43
/// - db_instance.main: db.t3.micro MySQL $0.017 × 730 = $12.41, 20 GB × $0.115 = $2.30, and the
///   RDS-managed password's secret $0.40 → $15.11
/// - vpc.main: one NAT gateway $0.045 × 730 = $32.85 and its Elastic IP $0.005 × 730 = $3.65 → $36.50
/// - everything else is billed by use (CloudFront, S3, ECR) or free (roles, groups, listener …)
/// Total $122.10 a month, all of it new.
#[test]
fn the_web_app_costs_what_the_price_table_says_by_hand() {
    let project = Project::new("cost", &example_stack("webapp.toml"));
    copy_folder(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("stacks/webapp"), &project.path("webapp"));
    let plan = project.run(&["plan", "--refresh=false"]).success();
    assert!(plan.stdout.contains("Cost: +$122.10/month (from $0.00 to $122.10)"), "{}", plan.stdout);
    assert!(plan.stdout.contains("+ ecs_service.api") && plan.stdout.contains("create  +$54.06/mo"), "{}", plan.stdout);
    assert!(
        plan.stdout.contains("create  +$16.43/mo")
            && plan.stdout.contains("create  +$15.11/mo")
            && plan.stdout.contains("create  +$36.50/mo"),
        "{}",
        plan.stdout
    );
    assert!(plan.stdout.contains("CloudFront requests and data transfer"), "{}", plan.stdout);

    let json = project.run(&["plan", "--refresh=false", "--json"]).success();
    let json: serde_json::Value = serde_json::from_str(&json.stdout).expect("JSON");
    assert_eq!(json["monthly_cost"]["after"], 122.1);
    assert_eq!(json["monthly_cost"]["change"], 122.1);
    assert_eq!(json["monthly_cost"]["region"], "us-east-1");
    let service = json["actions"].as_array().unwrap().iter().find(|a| a["address"] == "ecs_service.api").unwrap();
    assert_eq!(service["monthly_cost"]["change"], 54.06);

    // Twice the tasks: the update shows only the difference.
    project.write_stack(&example_stack("webapp.toml").replace("desired_count = 3", "desired_count = 6"));
    let bigger = project.run(&["plan", "--refresh=false"]).success();
    // 6 tasks: 6 × $0.024685 × 730 = $108.1203 → $108.12
    assert!(bigger.stdout.contains("Cost: +$176.16/month (from $0.00 to $176.16)"), "{}", bigger.stdout);
}

const GUARDED: &str = r#"
[stack]
name = "{name}"

[security_group.admin]
description = "Admin access"
ingress = [{ port = 22, cidr = "0.0.0.0/0" }, { port = 443, cidr = "0.0.0.0/0" }]

[iam_role.app]
service = "ecs-tasks.amazonaws.com"
inline_policy = '{ "Version": "2012-10-17", "Statement": [{ "Effect": "Allow", "Action": "*", "Resource": "*" }] }'
"#;

#[test]
fn guardrail_findings_warn_fail_with_deny_warnings_and_can_be_accepted_with_a_reason() {
    let project = Project::new("guard", GUARDED);
    let plan = project.run(&["plan", "--refresh=false"]).success();
    assert!(plan.stdout.contains("Guardrails: 2 warning(s)"), "{}", plan.stdout);
    assert!(
        plan.stdout.contains("warning security_group.admin [open-port]: port 22 (SSH) is open to `0.0.0.0/0`"),
        "{}",
        plan.stdout
    );
    assert!(plan.stdout.contains("warning iam_role.app [iam-wildcard-action]"), "{}", plan.stdout);
    assert!(plan.stdout.contains("      why: ") && plan.stdout.contains("      fix: "), "{}", plan.stdout);

    let denied = project.run(&["plan", "--refresh=false", "--deny-warnings"]).code(1);
    assert!(denied.stdout.contains("Guardrails: 2 warning(s)"), "the plan is shown first:\n{}", denied.stdout);
    assert!(
        denied.stderr.contains("2 guardrail warning(s), and `--deny-warnings` fails the plan"),
        "{}",
        denied.stderr
    );

    let json = project.run(&["plan", "--refresh=false", "--json"]).success();
    let json: serde_json::Value = serde_json::from_str(&json.stdout).expect("JSON");
    let checks: Vec<&str> = json["findings"].as_array().unwrap().iter().map(|f| f["check"].as_str().unwrap()).collect();
    assert_eq!(checks, vec!["iam-wildcard-action", "open-port"]);

    let accepted = format!(
        "{GUARDED}\n[guardrails]\nallow = [\n  {{ check = \"open-port\", address = \"security_group.admin\", reason = \"the bastion, closed again on Friday\" }},\n  {{ check = \"iam-wildcard-action\", address = \"iam_role.app\", reason = \"a sandbox account\" }},\n]\n"
    );
    project.write_stack(&accepted);
    let plan = project.run(&["plan", "--refresh=false", "--deny-warnings"]).success();
    assert!(plan.stdout.contains("Guardrails: 0 warning(s), 2 allowed"), "{}", plan.stdout);
    assert!(plan.stdout.contains("reason: the bastion, closed again on Friday"), "{}", plan.stdout);
    let markdown = project.run(&["plan", "--refresh=false", "--format", "markdown"]).success();
    assert!(markdown.stdout.contains("Reason: the bastion, closed again on Friday"), "{}", markdown.stdout);

    // A misspelt check or an address the stack lacks fails validation, naming the line.
    project.write_stack(&accepted.replace("\"open-port\"", "\"open-ports\""));
    project
        .run(&["validate"])
        .code(1)
        .stderr_has("stack.toml:15:13: `[guardrails] allow[0] check` must be one of `\"open-port\"`")
        .stderr_has("found `\"open-ports\"`")
        .stderr_has("did you mean `open-port`?");
    project.write_stack(&accepted.replace("address = \"iam_role.app\"", "address = \"iam_role.api\""));
    project.run(&["validate"]).code(1).stderr_has("names `iam_role.api`, which is not a resource of this stack");
    project.write_stack(&accepted.replace("reason = \"a sandbox account\"", "reason = \" \""));
    project.run(&["validate"]).code(1).stderr_has("the `reason` of a `[guardrails] allow` is empty");
}

/// Someone turned versioning on in the console; the stack file says off. The plan says it would
/// undo that, `--keep-drift` refuses, and `--refresh-only` accepts it.
#[test]
fn a_change_made_outside_provision_is_listed_before_apply_undoes_it() {
    let project =
        Project::new("undo", "[stack]\nname = \"{name}\"\n\n[s3_bucket.data]\nforce_destroy = true\n").with_emulator();
    project.run(&["apply", "--auto-approve"]).success();
    let bucket = format!("{}-data", project.stack_name);
    block_on(async {
        let enabled = aws_sdk_s3::types::VersioningConfiguration::builder()
            .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
            .build();
        s3().put_bucket_versioning().bucket(&bucket).versioning_configuration(enabled).send().await.expect("versioning")
    });
    let plan = project.run(&["plan"]).success();
    assert!(plan.stdout.contains("Changes made outside provision that apply would undo:"), "{}", plan.stdout);
    assert!(plan.stdout.contains("s3_bucket.data  versioning: true -> false"), "{}", plan.stdout);
    let markdown = project.run(&["plan", "--format", "markdown"]).success();
    assert!(markdown.stdout.contains("| `s3_bucket.data` | `versioning` | `true` | `false` |"), "{}", markdown.stdout);

    let refused = project.run(&["apply", "--keep-drift", "--auto-approve"]).code(1);
    assert!(refused.stderr.contains("would undo 1 change(s) made outside provision"), "{}", refused.stderr);
    assert!(
        refused.stderr.contains("s3_bucket.data  versioning: true (set outside provision) -> false"),
        "{}",
        refused.stderr
    );

    project.run(&["apply", "--refresh-only", "--auto-approve"]).success();
    // Accepted into the state: no longer someone else's change, just the stack file's wish.
    let plan = project.run(&["plan"]).success();
    assert!(!plan.stdout.contains("would undo"), "{}", plan.stdout);
    assert!(plan.stdout.contains("versioning: true -> false"), "{}", plan.stdout);
    project.run(&["apply", "--keep-drift", "--auto-approve"]).success();
    project.run(&["destroy", "--auto-approve"]).success();
}

const CHAIN: &str = r#"
[stack]
name = "{name}"

[log_group.base]
retention_days = 7

[log_group.derived]
name = "${log_group.base.name}-derived"

[log_group.other]
"#;

#[test]
fn exclude_leaves_a_resource_and_what_depends_on_it_out() {
    let project = Project::new("excl", CHAIN).with_emulator();
    let plan = project.run(&["plan", "--exclude", "log_group.base"]).success();
    assert!(plan.stdout.contains("+ log_group.other"), "{}", plan.stdout);
    assert!(!plan.stdout.contains("log_group.base") && !plan.stdout.contains("log_group.derived"), "{}", plan.stdout);
    project.run(&["plan", "--exclude", "log_group.nope"]).code(1).stderr_has("`--exclude log_group.nope` is neither");

    project.run(&["apply", "--auto-approve", "--exclude", "log_group.derived"]).success().stdout_has("2 added");
    let state = project.state();
    assert!(state["resources"].get("log_group.derived").is_none(), "{state}");
    project.run(&["apply", "--auto-approve"]).success().stdout_has("1 added");

    // Destroy keeps an excluded resource and what it needs.
    project.run(&["destroy", "--auto-approve", "--exclude", "log_group.derived"]).success().stdout_has("1 destroyed");
    let state = project.state();
    let left: Vec<&String> = state["resources"].as_object().unwrap().keys().collect();
    assert_eq!(left, vec!["log_group.base", "log_group.derived"]);
    project.run(&["destroy", "--auto-approve"]).success();
}
