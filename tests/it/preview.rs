//! Preview environments that never leak: `apply --ttl` marks one (in its state and in its tags), and
//! `sweep --expired` finds every expired one — by its state, or by its tags when the state is gone —
//! and destroys it completely.

use crate::support::{block_on, live_tagged_with, tagging, Project};

const PREVIEW: &str = r#"
[stack]
name = "{name}-${var.env}"

[variables]
env = "main"

[s3_bucket.site]
force_destroy = true

[log_group.app]
retention_days = 1
"#;

/// Every resource tagged with `stack` that carries an expiry, and the expiry.
fn expiry_tags(stack: &str) -> Vec<String> {
    block_on(async {
        let filter =
            aws_sdk_resourcegroupstagging::types::TagFilter::builder().key("provision:stack").values(stack).build();
        let answer = tagging().get_resources().tag_filters(filter).send().await.expect("GetResources");
        answer
            .resource_tag_mapping_list()
            .iter()
            .flat_map(|m| m.tags().iter().filter(|t| t.key() == "provision:expires").map(|t| t.value().to_string()))
            .collect()
    })
}

#[test]
fn an_expired_preview_is_swept_away_by_its_state_or_its_tags_and_a_live_one_stays() {
    let project = Project::new("pv", PREVIEW).with_emulator();
    let stack = |env: &str| format!("{}-{env}", project.stack_name);
    let state_of = |env: &str| -> serde_json::Value {
        let text = std::fs::read_to_string(project.path(&format!("state/{}.json", stack(env)))).expect("state");
        serde_json::from_str(&text).expect("JSON")
    };

    project.run(&["apply", "--var", "env=pr-1", "--ttl", "1s", "--auto-approve"]).success();
    let expires = state_of("pr-1")["expires"].as_str().expect("the state records the expiry").to_string();
    let tagged = expiry_tags(&stack("pr-1"));
    assert!(!tagged.is_empty() && tagged.iter().all(|t| t == &expires), "{tagged:?} vs {expires}");

    project.run(&["apply", "--var", "env=pr-2", "--ttl", "1h", "--auto-approve"]).success();
    // One whose state was lost: only its tags tell.
    project.run(&["apply", "--var", "env=pr-3", "--ttl", "1s", "--auto-approve"]).success();
    std::fs::remove_file(project.path(&format!("state/{}.json", stack("pr-3")))).expect("lose the state");
    // The environment the stack file names by default was never a preview.
    project.run(&["apply", "--auto-approve"]).success();
    std::thread::sleep(std::time::Duration::from_secs(2));

    let prefix = format!("{}-pr-", project.stack_name);
    // No terminal and no `--auto-approve`: it lists and refuses.
    let refused = project.run(&["sweep", "--expired", "--prefix", &prefix]).code(1);
    assert!(refused.stdout.contains(&stack("pr-1")) && refused.stdout.contains(&stack("pr-3")), "{}", refused.stdout);
    assert!(refused.stderr.contains("refusing to destroy without confirmation"), "{}", refused.stderr);

    let swept = project.run(&["sweep", "--expired", "--prefix", &prefix, "--auto-approve"]).success();
    assert!(swept.stdout.contains("no state found"), "pr-3 is found by its tags:\n{}", swept.stdout);
    let removed = format!(
        "Removed 2 expired preview environment(s): {} (2 resource(s) in its state), {} (no state; ",
        stack("pr-1"),
        stack("pr-3")
    );
    assert!(swept.stdout.contains(&removed), "{}", swept.stdout);
    assert!(!swept.stdout.contains(&stack("pr-2")), "{}", swept.stdout);
    // Nothing tagged with the swept environments is left; the live preview and the main stack stay.
    assert_eq!(live_tagged_with(&stack("pr-1")), Vec::<String>::new());
    assert_eq!(live_tagged_with(&stack("pr-3")), Vec::<String>::new());
    assert!(!live_tagged_with(&stack("pr-2")).is_empty());
    assert!(!live_tagged_with(&stack("main")).is_empty());
    // The swept state holds nothing and no longer expires: the next sweep passes it by.
    let swept_state = state_of("pr-1");
    assert_eq!(swept_state["resources"], serde_json::json!({}));
    assert!(swept_state.get("expires").is_none(), "{swept_state}");
    project
        .run(&["sweep", "--expired", "--prefix", &prefix, "--auto-approve"])
        .success()
        .stdout_has("No expired preview environments");

    project.run(&["destroy", "--var", "env=pr-2", "--auto-approve"]).success();
    project.run(&["destroy", "--auto-approve"]).success();
}
