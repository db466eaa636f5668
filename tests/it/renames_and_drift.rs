//! Renames without replacement (`[[moved]]`), forced replacements (`--replace`), and drift checks
//! (`provision drift`, `plan --refresh-only`), against the emulator.

use crate::support::{block_on, cloudfront, ecr, elbv2, iam, logs, s3, Project};

fn bucket_exists(bucket: &str) -> bool {
    block_on(async { s3().head_bucket().bucket(bucket).send().await.is_ok() })
}

#[test]
fn a_renamed_resource_moves_in_the_state_and_keeps_its_aws_resource() {
    let project = Project::new("mov", "[stack]\nname = \"{name}\"\n\n[s3_bucket.site]\nbucket = \"{name}-site\"\n")
        .with_emulator();
    project.run(&["apply", "--auto-approve"]).success();
    let bucket = format!("{}-site", project.stack_name);
    let before = project.state()["resources"]["s3_bucket.site"]["id"].clone();

    project.write_stack(
        "[stack]\nname = \"{name}\"\n\n[[moved]]\nfrom = \"s3_bucket.site\"\nto = \"s3_bucket.www\"\n\n[s3_bucket.www]\nbucket = \"{name}-site\"\n",
    );
    let plan = project.run(&["plan", "--detailed-exitcode"]).code(2);
    assert!(plan.stdout.contains("s3_bucket.site has moved to s3_bucket.www"), "{}", plan.stdout);
    assert!(!plan.stdout.contains("-/+") && !plan.stdout.contains("+ s3_bucket.www"), "{}", plan.stdout);
    insta::assert_snapshot!("moved_plan", plan.stdout.replace(&project.stack_name, "[STACK]"));

    project.run(&["apply", "--auto-approve"]).success().stdout_has("1 moved");
    let state = project.state();
    assert!(state["resources"].get("s3_bucket.site").is_none());
    assert_eq!(state["resources"]["s3_bucket.www"]["id"], before, "the same bucket, under its new address");
    assert!(bucket_exists(&bucket));
    // The entry can stay in the file: the move is done.
    project.run(&["plan", "--detailed-exitcode"]).code(0).stdout_has("No changes.");
    // Nothing is an orphan because its tags still carry the old address.
    project.run(&["state", "orphans"]).success().stdout_has("No orphans");
    project.run(&["destroy", "--auto-approve"]).success();
    assert!(!bucket_exists(&bucket));
}

#[test]
fn a_move_from_an_address_the_state_never_had_or_to_one_the_file_lacks_is_an_error_with_its_line() {
    let project = Project::new("mov", "[stack]\nname = \"{name}\"\n\n[s3_bucket.site]\n").with_emulator();
    project.write_stack(
        "[stack]\nname = \"{name}\"\n\n[[moved]]\nfrom = \"s3_bucket.site\"\nto = \"s3_bucket.web\"\n\n[s3_bucket.www]\n",
    );
    project
        .run(&["validate"])
        .code(1)
        .stderr_has("stack.toml:6:6: `[[moved]]` names `s3_bucket.web`, which is not in the stack file");

    project.write_stack("[stack]\nname = \"{name}\"\n\n[s3_bucket.other]\n");
    project.run(&["apply", "--auto-approve"]).success();
    project.write_stack(
        "[stack]\nname = \"{name}\"\n\n[[moved]]\nfrom = \"s3_bucket.site\"\nto = \"s3_bucket.www\"\n\n[s3_bucket.other]\n[s3_bucket.www]\n",
    );
    project
        .run(&["plan"])
        .code(1)
        .stderr_has("stack.toml:5:8: `[[moved]]` from `s3_bucket.site`, which is not in the state");
    project.write_stack("[stack]\nname = \"{name}\"\n\n[s3_bucket.other]\n");
    project.run(&["destroy", "--auto-approve"]).success();
}

#[test]
fn replace_recreates_a_bucket_that_did_not_change() {
    let project =
        Project::new("rep", "[stack]\nname = \"{name}\"\n\n[s3_bucket.data]\nforce_destroy = true\n").with_emulator();
    project.run(&["apply", "--auto-approve"]).success();
    let bucket = format!("{}-data", project.stack_name);
    // Something only the old bucket holds, to tell the copies apart.
    block_on(async {
        s3().put_object().bucket(&bucket).key("marker").body(b"old".to_vec().into()).send().await.expect("put")
    });
    project.run(&["plan", "--detailed-exitcode"]).code(0);
    let plan = project.run(&["plan", "--replace", "s3_bucket.data"]).success();
    assert!(
        plan.stdout.contains("-/+ s3_bucket.data") && plan.stdout.contains("as asked with `--replace`"),
        "{}",
        plan.stdout
    );
    assert!(plan.stdout.contains("1 to replace"), "{}", plan.stdout);
    project.run(&["apply", "--auto-approve", "--replace", "s3_bucket.data"]).success().stdout_has("1 replaced");
    assert!(bucket_exists(&bucket));
    let marker = block_on(async { s3().head_object().bucket(&bucket).key("marker").send().await });
    assert!(marker.is_err(), "the bucket is a new one");
    project.run(&["plan", "--detailed-exitcode"]).code(0);
    project
        .run(&["plan", "--replace", "s3_bucket.nope"])
        .code(1)
        .stderr_has("`--replace s3_bucket.nope` is not in the stack file");
    project.run(&["destroy", "--auto-approve"]).success();
}

const BALANCED: &str = r#"
[stack]
name = "{name}"

[security_group.lb]
description = "HTTP"
ingress = [{ port = 80, cidr = "0.0.0.0/0" }]

[load_balancer.web]
security_groups = ["${security_group.lb.id}"]

[target_group.api]
port = 8080

[listener.http]
load_balancer = "${load_balancer.web.arn}"
port = 80
forward = "${target_group.api.arn}"
"#;

#[test]
fn replace_of_a_target_group_creates_the_new_one_first_and_moves_the_listener_over() {
    let project = Project::new("rep", BALANCED).with_emulator();
    project.run(&["apply", "--auto-approve"]).success();
    let state = project.state();
    let old = state["resources"]["target_group.api"]["id"].as_str().expect("arn").to_string();
    let listener = state["resources"]["listener.http"]["id"].as_str().expect("arn").to_string();

    let plan = project.run(&["plan", "--replace", "target_group.api"]).success();
    assert!(plan.stdout.contains("replace (as asked with `--replace`), the new one first"), "{}", plan.stdout);
    project.run(&["apply", "--auto-approve", "--replace", "target_group.api"]).success();
    let new = project.state()["resources"]["target_group.api"]["id"].as_str().expect("arn").to_string();
    assert_ne!(new, old, "a new target group");
    let forwards = block_on(async {
        let answer = elbv2().describe_listeners().listener_arns(&listener).send().await.expect("listener");
        let actions = answer.listeners()[0].default_actions().to_vec();
        actions.iter().filter_map(|a| a.target_group_arn().map(str::to_string)).collect::<Vec<_>>()
    });
    assert_eq!(forwards, vec![new.clone()], "the listener forwards to the new group");
    let old_exists = block_on(async { elbv2().describe_target_groups().target_group_arns(&old).send().await.is_ok() });
    assert!(!old_exists, "the old group is gone");
    // The new name sticks: no further replacement.
    project.run(&["plan", "--detailed-exitcode"]).code(0);
    project.run(&["destroy", "--auto-approve"]).success();
}

#[test]
fn drift_reports_changes_made_outside_and_refresh_only_accepts_them() {
    let project = Project::new("dri", "[stack]\nname = \"{name}\"\n\n[s3_bucket.data]\n").with_emulator();
    project.run(&["apply", "--auto-approve"]).success();
    project.run(&["drift"]).code(0).stdout_has("No drift.");
    let bucket = format!("{}-data", project.stack_name);
    block_on(async {
        let on = aws_sdk_s3::types::VersioningConfiguration::builder()
            .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
            .build();
        s3().put_bucket_versioning().bucket(&bucket).versioning_configuration(on).send().await.expect("versioning")
    });
    let written = std::fs::read(project.state_path()).expect("state");
    project.run(&["drift"]).code(2).stdout_has("! s3_bucket.data").stdout_has("versioning: false -> true");
    assert_eq!(std::fs::read(project.state_path()).expect("state"), written, "drift writes nothing");

    project
        .run(&["plan", "--refresh-only"])
        .success()
        .stdout_has("versioning: false -> true")
        .stdout_has("Refresh only: applying this plan records");
    project.run(&["apply", "--refresh-only", "--auto-approve"]).success().stdout_has("Accepted 1 change(s)");
    project.run(&["drift"]).code(0).stdout_has("No drift.");
    // The stack file still says no versioning: a normal plan now changes it back.
    project.run(&["plan"]).success().stdout_has("versioning: true -> false");
    project.run(&["destroy", "--auto-approve"]).success();
}

/// From 32 roles a refresh reads them by the account's two listings instead of two calls each
/// (crates/provision-aws/src/drivers/iam_role): what it sees must be what the calls one by one see.
#[test]
fn drift_on_one_of_many_roles_is_found_when_they_are_read_by_the_account_listings() {
    let mut stack = String::from("[stack]\nname = \"{name}\"\n\n");
    for i in 0..34 {
        stack.push_str(&format!("[iam_role.r{i}]\nservice = \"ecs-tasks.amazonaws.com\"\n"));
        if i == 3 {
            stack.push_str("description = \"Runs the API\"\ntags = { team = \"web\" }\n");
            stack.push_str("managed_policies = [\"arn:aws:iam::aws:policy/ReadOnlyAccess\"]\n");
            stack.push_str("inline_policy = '{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"s3:GetObject\",\"Resource\":\"*\"}]}'\n");
        }
        stack.push('\n');
    }
    let project = Project::new("iam", &stack).with_emulator();
    project.run(&["apply", "--auto-approve"]).success();
    project.run(&["drift"]).code(0).stdout_has("No drift.");

    let role = format!("{}-r3", project.stack_name);
    block_on(async {
        let iam = iam();
        iam.update_role().role_name(&role).description("Changed by hand").send().await.expect("description");
        iam.detach_role_policy()
            .role_name(&role)
            .policy_arn("arn:aws:iam::aws:policy/ReadOnlyAccess")
            .send()
            .await
            .expect("detach");
        iam.delete_role_policy().role_name(&role).policy_name("provision").send().await.expect("inline");
        let tag = aws_sdk_iam::types::Tag::builder().key("team").value("data").build().expect("tag");
        iam.tag_role().role_name(&role).tags(tag).send().await.expect("tag");
        iam.delete_role().role_name(format!("{}-r20", project.stack_name)).send().await.expect("delete");
    });
    project
        .run(&["drift"])
        .code(2)
        .stdout_has("! iam_role.r3")
        .stdout_has("description: \"Runs the API\" -> \"Changed by hand\"")
        .stdout_has("team: \"web\" -> \"data\"")
        .stdout_has("ReadOnlyAccess")
        .stdout_has("inline_policy")
        .stdout_has("iam_role.r20");
    project.run(&["apply", "--auto-approve"]).success();
    project.run(&["drift"]).code(0).stdout_has("No drift.");
    project.run(&["destroy", "--auto-approve"]).success();
}

/// A refresh reads tags, versioning and the origin bucket's policy alongside the listings, by the
/// ARNs and names the state recorded (crates/provision-aws/src/concurrency.rs, `Limiter::alongside`),
/// and keeps an early answer only for what the listing shows: changes made by hand are all seen,
/// resources deleted by hand show as gone, and a state that recorded no ARN (`log_group.legacy`
/// here) is read the old way, after the listing. (An ARN that changed under the same name, the
/// other reason to read again, cannot happen in the emulator, whose ARNs follow the names.)
#[test]
fn drift_is_found_when_the_reads_run_alongside_the_listings() {
    let stack = "[stack]\nname = \"{name}\"\n\n\
        [s3_bucket.site]\nforce_destroy = true\n\n[s3_bucket.spare]\n\n\
        [cloudfront_distribution.cdn]\norigin_bucket = \"${s3_bucket.site.name}\"\nwait = false\ntags = { team = \"web\" }\n\n\
        [log_group.api]\ntags = { team = \"web\" }\n\n[log_group.legacy]\ntags = { team = \"web\" }\n\n[log_group.worker]\n\n\
        [ecr_repository.app]\nforce_destroy = true\ntags = { team = \"web\" }\n\n[ecr_repository.old]\nforce_destroy = true\n";
    let project = Project::new("aln", stack).with_emulator();
    project.run(&["apply", "--auto-approve"]).success();
    project.run(&["drift"]).code(0).stdout_has("No drift.");

    // A state from before ARNs were recorded, for one of the groups.
    let mut state = project.state();
    let attributes = state["resources"]["log_group.legacy"]["attributes"].as_object_mut().expect("attributes");
    assert!(attributes.remove("arn").is_some(), "the state records the group's ARN");
    std::fs::write(project.state_path(), serde_json::to_string_pretty(&state).expect("json")).expect("write state");
    let distribution = state["resources"]["cloudfront_distribution.cdn"]["attributes"]["arn"]
        .as_str()
        .expect("the distribution's ARN")
        .to_string();

    let name = |suffix: &str| format!("{}-{suffix}", project.stack_name);
    let group = |suffix: &str| format!("/provision/{}/{suffix}", project.stack_name);
    block_on(async {
        let logs = logs();
        for suffix in ["api", "legacy"] {
            let found = logs.describe_log_groups().log_group_name_prefix(group(suffix)).send().await.expect("describe");
            let arn = found.log_groups()[0].log_group_arn().expect("arn").trim_end_matches(":*").to_string();
            logs.tag_resource().resource_arn(arn).tags("team", "data").send().await.expect("tag the group");
        }
        logs.delete_log_group().log_group_name(group("worker")).send().await.expect("delete the group");
        let ecr = ecr();
        let repository = ecr.describe_repositories().repository_names(name("app")).send().await.expect("describe");
        let arn = repository.repositories()[0].repository_arn().expect("arn").to_string();
        let tag = aws_sdk_ecr::types::Tag::builder().key("team").value("data").build().expect("tag");
        ecr.tag_resource().resource_arn(arn).tags(tag).send().await.expect("tag the repository");
        ecr.delete_repository().repository_name(name("old")).force(true).send().await.expect("delete the repository");
        let s3 = s3();
        let on = aws_sdk_s3::types::VersioningConfiguration::builder()
            .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
            .build();
        s3.put_bucket_versioning().bucket(name("site")).versioning_configuration(on).send().await.expect("versioning");
        s3.delete_bucket_policy().bucket(name("site")).send().await.expect("remove the policy");
        s3.delete_bucket().bucket(name("spare")).send().await.expect("delete the bucket");
        let tag = aws_sdk_cloudfront::types::Tag::builder().key("team").value("data").build().expect("tag");
        let tags = aws_sdk_cloudfront::types::Tags::builder().items(tag).build();
        cloudfront().tag_resource().resource(distribution).tags(tags).send().await.expect("tag the distribution");
    });

    let drift = project.run(&["drift"]).code(2);
    let drift = drift
        .stdout_has("! log_group.api")
        .stdout_has("! log_group.legacy")
        .stdout_has("! ecr_repository.app")
        .stdout_has("! s3_bucket.site")
        .stdout_has("versioning: false -> true")
        .stdout_has("! cloudfront_distribution.cdn")
        .stdout_has("bucket_access: true -> false")
        .stdout_has("log_group.worker")
        .stdout_has("ecr_repository.old")
        .stdout_has("s3_bucket.spare");
    let text = &drift.stdout;
    assert_eq!(text.matches("team: \"web\" -> \"data\"").count(), 4, "four tags changed by hand:\n{text}");
    project.run(&["apply", "--auto-approve"]).success();
    project.run(&["drift"]).code(0).stdout_has("No drift.");
    project.run(&["destroy", "--auto-approve"]).success();
}
