//! `destroy` needs only the state (SPEC §4): it reads `[stack]`, `[variables]`, `[state]` and
//! `[notify]` of the stack file and nothing about its resources, so a preview environment whose
//! image was never pushed, or whose file refers to what is gone, no longer loads or names a variable
//! since removed, can still be torn down — whole, or by `--target` (addresses in the state). `drift`,
//! `output` and the `state` commands read the file the same way.

use crate::support::{block_on, live_tagged_with, s3, Project};

fn bucket_exists(bucket: &str) -> bool {
    block_on(async { s3().head_bucket().bucket(bucket).send().await.is_ok() })
}

const SERVICE: &str = r#"
[stack]
name = "{name}"

[variables]
tag = "v1"

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
pin_digest = false
log_group = "${log_group.api.name}"
"#;

/// A preview environment deployed by tag; then its file asks for a tag that was never pushed, by
/// digest. Planning it fails on the tag, but destroying it does not look the image up.
#[test]
fn a_service_whose_image_tag_was_never_pushed_is_destroyed() {
    let project = Project::new("notag", SERVICE).with_emulator();
    project.run(&["apply", "--auto-approve"]).success().stdout_has("5 added");

    project.write_stack(&SERVICE.replace("tag = \"v1\"", "tag = \"never-pushed\"").replace("pin_digest = false\n", ""));
    let repository = format!("{}-api", project.stack_name);
    project
        .run(&["plan"])
        .code(1)
        .stderr_has(&format!("the image tag `never-pushed` does not exist in the ECR repository `{repository}`"));

    project.run(&["destroy", "--auto-approve"]).success().stdout_has("5 destroyed");
    assert!(project.state()["resources"].as_object().expect("resources").is_empty());
    let left = live_tagged_with(&project.stack_name);
    assert!(left.is_empty(), "left behind: {left:?}");
}

const BUCKETS: &str = r#"
[stack]
name = "{name}"

[variables]
owner = "web"

[s3_bucket.a]
tags = { owner = "${var.owner}" }

[s3_bucket.b]

[s3_bucket.c]
versioning = true

[s3_bucket.d]

[outputs]
kept = "${s3_bucket.d.name}"
"#;

/// The file is broken three ways in turn — a reference to a resource since removed, a section the
/// loader rejects, a variable no longer defined — and each time `validate` says so, while
/// `destroy --target` removes one resource from the state and AWS. `drift`, `output` and `state
/// list` still read the state through the broken file; a last `destroy` removes the rest.
#[test]
fn a_stack_file_that_no_longer_loads_is_destroyed_by_target_and_whole() {
    let project = Project::new("broken", BUCKETS).with_emulator();
    project.run(&["apply", "--auto-approve"]).success().stdout_has("4 added");
    let bucket = |name: &str| format!("{}-{name}", project.stack_name);

    let broken = [
        // `s3_bucket.b` refers to a resource removed from the file.
        (
            BUCKETS.replace("[s3_bucket.b]\n", "[s3_bucket.b]\nbucket = \"${s3_bucket.gone.name}-b\"\n"),
            "s3_bucket.gone",
            "s3_bucket.b",
        ),
        // A field the loader rejects.
        (BUCKETS.replace("versioning = true", "versioning = \"sometimes\""), "versioning", "s3_bucket.c"),
        // A variable no longer defined.
        (BUCKETS.replace("owner = \"web\"\n", ""), "owner", "s3_bucket.a"),
    ];
    for (file, problem, target) in &broken {
        project.write_stack(file);
        project.run(&["validate"]).code(1).stderr_has(problem);
        project.run(&["plan"]).code(1).stderr_has(problem);
        project.run(&["destroy", "--auto-approve", "--target", target]).success().stdout_has("1 destroyed");
        let state = project.state();
        assert!(state["resources"].get(*target).is_none(), "{target} left the state");
        let name = target.trim_start_matches("s3_bucket.");
        assert!(!bucket_exists(&bucket(name)), "{target} was deleted");
    }
    assert!(bucket_exists(&bucket("d")), "what was not targeted is still there");

    // The commands that need only the state work through the broken file.
    project.run(&["state", "list"]).success().stdout_has("s3_bucket.d");
    project.run(&["output", "kept"]).success().stdout_has(&bucket("d"));
    project.run(&["drift"]).code(0).stdout_has("No drift.");

    project.run(&["destroy", "--auto-approve"]).success().stdout_has("1 destroyed");
    assert!(!bucket_exists(&bucket("d")));
    assert!(project.state()["resources"].as_object().expect("resources").is_empty());
    project.run(&["output"]).success().stderr_has("No outputs recorded");
}
