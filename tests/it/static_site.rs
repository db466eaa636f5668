//! The static site (S3 + CloudFront) through its whole life, checked through the AWS APIs.

use std::os::unix::fs::PermissionsExt;

use crate::support::{block_on, cloudfront, emulator_get, s3, Project};

fn site_stack(extra_bucket_fields: &str) -> String {
    format!(
        r#"
[stack]
name = "{{name}}"
tags = {{ team = "web" }}

[s3_bucket.site]
upload = "site"
force_destroy = true
{extra_bucket_fields}

[cloudfront_distribution.cdn]
origin_bucket = "${{s3_bucket.site.name}}"
spa_fallback = true

[outputs]
site_url = "https://${{cloudfront_distribution.cdn.domain_name}}"
bucket = "${{s3_bucket.site.name}}"
"#
    )
}

fn write_site(project: &Project) {
    project.write("site/index.html", "<h1>v1</h1>\n");
    project.write("site/css/site.css", "body { color: black; }\n");
    project.write("site/js/app.js", "console.log('v1');\n");
}

/// The state file is private and a valid state after every step.
#[track_caller]
fn assert_state_is_sound(project: &Project) -> serde_json::Value {
    let mode = std::fs::metadata(project.state_path()).expect("state exists").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "state file mode");
    let state = project.state();
    assert_eq!(state["version"], 1);
    assert_eq!(state["stack"], project.stack_name.as_str());
    state
}

fn object_keys(bucket: &str) -> Vec<String> {
    block_on(async {
        let listing = s3().list_objects_v2().bucket(bucket).send().await.expect("list objects");
        let mut keys: Vec<String> = listing.contents().iter().filter_map(|o| o.key().map(str::to_string)).collect();
        keys.sort();
        keys
    })
}

fn object_body(bucket: &str, key: &str) -> (String, Option<String>) {
    block_on(async {
        let object = s3().get_object().bucket(bucket).key(key).send().await.expect("get object");
        let content_type = object.content_type().map(str::to_string);
        let bytes = object.body.collect().await.expect("body").into_bytes();
        (String::from_utf8_lossy(&bytes).into_owned(), content_type)
    })
}

fn bucket_exists(bucket: &str) -> bool {
    block_on(async { s3().head_bucket().bucket(bucket).send().await.is_ok() })
}

#[test]
fn full_lifecycle_of_a_static_site() {
    let project = Project::new("site", &site_stack("")).with_emulator();
    write_site(&project);
    let bucket = format!("{}-site", project.stack_name);

    project.run(&["validate"]).success();
    let plan = project.run(&["plan", "--detailed-exitcode"]).code(2);
    insta::assert_snapshot!("static_site_first_plan", plan.stdout.replace(&project.stack_name, "[STACK]"));

    project.run(&["apply", "--auto-approve"]).success().stdout_has("Apply complete! 2 added");
    let state = assert_state_is_sound(&project);
    // The first apply asks for the account while it creates, and records it with the region.
    assert_eq!((state["account"].as_str(), state["region"].as_str()), (Some("123456789012"), Some("us-east-1")));
    let distribution_id = state["resources"]["cloudfront_distribution.cdn"]["id"].as_str().expect("id").to_string();

    // What exists in AWS: the bucket with the files, private, read only by the distribution.
    assert_eq!(object_keys(&bucket), vec!["css/site.css", "index.html", "js/app.js"]);
    assert_eq!(object_body(&bucket, "index.html"), ("<h1>v1</h1>\n".to_string(), Some("text/html".to_string())));
    block_on(async {
        let block = s3().get_public_access_block().bucket(&bucket).send().await.expect("public access block");
        let config = block.public_access_block_configuration().expect("configuration");
        assert_eq!(config.block_public_acls(), Some(true));
        assert_eq!(config.restrict_public_buckets(), Some(true));
        let policy = s3().get_bucket_policy().bucket(&bucket).send().await.expect("bucket policy");
        let policy = policy.policy().unwrap_or_default();
        assert!(policy.contains("cloudfront.amazonaws.com") && policy.contains(&distribution_id), "{policy}");
        let distribution = emulator_get(&format!("/2020-05-31/distribution/{distribution_id}"));
        assert!(distribution.contains("<DefaultRootObject>index.html</DefaultRootObject>"), "{distribution}");
        assert!(
            distribution.contains(&format!("<DomainName>{bucket}.s3.us-east-1.amazonaws.com</DomainName>")),
            "{distribution}"
        );
        assert!(
            distribution.contains("<ViewerProtocolPolicy>redirect-to-https</ViewerProtocolPolicy>"),
            "{distribution}"
        );
    });

    let output = project.run(&["output", "site_url"]).success();
    assert!(output.stdout.trim().starts_with("https://") && output.stdout.contains("cloudfront"), "{}", output.stdout);

    // Nothing changed: no changes, and applying again uploads nothing.
    project.run(&["plan", "--detailed-exitcode"]).code(0).stdout_has("No changes.");
    let before = assert_state_is_sound(&project)["serial"].clone();
    project.run(&["apply", "--auto-approve"]).success().stdout_has("No changes.");
    assert_eq!(assert_state_is_sound(&project)["serial"], before, "a no-op apply writes nothing");

    // Files changed, added and removed: only those move, and the CDN cache is invalidated.
    project.write("site/index.html", "<h1>v2</h1>\n");
    project.write("site/about.html", "<p>about</p>\n");
    project.remove("site/js/app.js");
    project
        .run(&["plan"])
        .success()
        .stdout_has("~ s3_bucket.site")
        .stdout_has("files: + about.html")
        .stdout_has("files: ~ index.html")
        .stdout_has("files: - js/app.js")
        .stdout_has("~ cloudfront_distribution.cdn")
        .stdout_has("Plan: 0 to add, 2 to change, 0 to replace, 0 to destroy.");
    project.run(&["apply", "--auto-approve"]).success();
    assert_state_is_sound(&project);
    assert_eq!(object_keys(&bucket), vec!["about.html", "css/site.css", "index.html"]);
    assert_eq!(object_body(&bucket, "index.html").0, "<h1>v2</h1>\n");
    block_on(async {
        let invalidations =
            cloudfront().list_invalidations().distribution_id(&distribution_id).send().await.expect("list");
        let count = invalidations.invalidation_list().map(|l| l.quantity()).unwrap_or(0);
        assert!(count >= 1, "an invalidation was created for the new files");
    });

    // An in-place update: versioning.
    project.write_stack(&site_stack("versioning = true"));
    let plan = project.run(&["plan"]).success();
    let plan = plan.stdout_has("~ s3_bucket.site").stdout_has("versioning: false -> true");
    assert!(!plan.stdout.contains("-/+"), "versioning is changed in place:\n{}", plan.stdout);
    project.run(&["apply", "--auto-approve"]).success().stdout_has("1 changed");
    block_on(async {
        let versioning = s3().get_bucket_versioning().bucket(&bucket).send().await.expect("versioning");
        assert_eq!(versioning.status().map(|s| s.as_str()), Some("Enabled"));
    });
    assert_state_is_sound(&project);

    // Destroy removes everything and leaves an empty state.
    project.run(&["destroy", "--auto-approve"]).success().stdout_has("2 destroyed");
    let state = assert_state_is_sound(&project);
    assert_eq!(state["resources"], serde_json::json!({}));
    assert!(!bucket_exists(&bucket));
    block_on(async {
        let gone = cloudfront().get_distribution().id(&distribution_id).send().await;
        assert!(gone.is_err(), "the distribution is deleted");
    });
}

const SHARED_ORIGIN: &str = r#"
[stack]
name = "{name}"

[s3_bucket.assets]
force_destroy = true

[cloudfront_distribution.one]
origin_bucket = "${s3_bucket.assets.name}"

[cloudfront_distribution.two]
origin_bucket = "${s3_bucket.assets.name}"

[cloudfront_distribution.three]
origin_bucket = "${s3_bucket.assets.name}"
"#;

fn policy_statement_ids(bucket: &str) -> Vec<String> {
    block_on(async {
        let answer = s3().get_bucket_policy().bucket(bucket).send().await.expect("bucket policy");
        let policy: serde_json::Value = serde_json::from_str(answer.policy().unwrap_or("{}")).expect("policy JSON");
        let mut ids: Vec<String> = policy["Statement"]
            .as_array()
            .map(|statements| statements.iter().filter_map(|s| s["Sid"].as_str().map(str::to_string)).collect())
            .unwrap_or_default();
        ids.sort();
        ids
    })
}

/// Distributions sharing a bucket are created at once, and each reads the bucket policy while
/// CloudFront creates it: their edits of the policy take turns, so every statement survives.
#[test]
fn distributions_sharing_a_bucket_each_keep_their_statement_in_its_policy() {
    let project = Project::new("shared", SHARED_ORIGIN).with_emulator();
    project.run(&["apply", "--auto-approve"]).success().stdout_has("4 added");
    let state = project.state();
    let bucket = state["resources"]["s3_bucket.assets"]["id"].as_str().expect("bucket").to_string();
    let mut expected: Vec<String> = ["one", "two", "three"]
        .iter()
        .map(|name| {
            let id = state["resources"][format!("cloudfront_distribution.{name}")]["id"].as_str().expect("id");
            format!("provision-{id}")
        })
        .collect();
    expected.sort();
    assert_eq!(policy_statement_ids(&bucket), expected);
    project.run(&["plan", "--detailed-exitcode"]).code(0);
    project.run(&["destroy", "--auto-approve"]).success();
}

const BUCKET_ONLY: &str = "[stack]\nname = \"{name}\"\n\n[s3_bucket.data]\nbucket = \"{name}-BUCKET\"\n";

#[test]
fn a_new_bucket_name_plans_and_applies_a_replacement() {
    let project = Project::new("repl", &BUCKET_ONLY.replace("BUCKET", "one")).with_emulator();
    project.run(&["apply", "--auto-approve"]).success();
    let old = format!("{}-one", project.stack_name);
    assert!(bucket_exists(&old));

    project.write_stack(&BUCKET_ONLY.replace("BUCKET", "two"));
    project
        .run(&["plan"])
        .success()
        .stdout_has("-/+ s3_bucket.data")
        .stdout_has("replace (bucket forces replacement)")
        .stdout_has("(forces replacement)")
        .stdout_has("Plan: 0 to add, 0 to change, 1 to replace, 0 to destroy.");
    project.run(&["apply", "--auto-approve"]).success().stdout_has("1 replaced");
    assert!(!bucket_exists(&old));
    assert!(bucket_exists(&format!("{}-two", project.stack_name)));
    assert_eq!(project.state()["resources"]["s3_bucket.data"]["id"], format!("{}-two", project.stack_name));
    project.run(&["destroy", "--auto-approve"]).success();
}

#[test]
fn a_bucket_deleted_outside_provision_is_planned_as_a_create() {
    let project = Project::new("drift", "[stack]\nname = \"{name}\"\n\n[s3_bucket.data]\n").with_emulator();
    project.run(&["apply", "--auto-approve"]).success();
    let bucket = format!("{}-data", project.stack_name);
    block_on(async { s3().delete_bucket().bucket(&bucket).send().await.expect("delete behind provision's back") });

    project
        .run(&["plan"])
        .success()
        .stdout_has("! s3_bucket.data")
        .stdout_has("deleted outside provision")
        .stdout_has("+ s3_bucket.data")
        .stdout_has("Plan: 1 to add");
    project.run(&["apply", "--auto-approve"]).success();
    assert!(bucket_exists(&bucket));
    project.run(&["destroy", "--auto-approve"]).success();
}

#[test]
fn a_held_lock_fails_at_once_naming_its_holder() {
    let project = Project::new("lock", "[stack]\nname = \"{name}\"\n\n[s3_bucket.data]\n").with_emulator();
    let holder = serde_json::json!({
        "id": "0b7c1f5e-9d3a-4a55-8d1e-3f8f1e2a7c11",
        "who": format!("ana@{}", gethostname::gethostname().to_string_lossy()),
        "pid": std::process::id(),
        "operation": "apply",
        "created": "2026-01-01T00:00:00Z",
    });
    project.write(&format!("state/{}.json.lock", project.stack_name), &holder.to_string());
    let started = std::time::Instant::now();
    project
        .run(&["apply", "--auto-approve"])
        .code(1)
        .stderr_has("is locked: `apply` by ana@")
        .stderr_has(&format!("pid {}", std::process::id()))
        .stderr_has("lock id `0b7c1f5e-9d3a-4a55-8d1e-3f8f1e2a7c11`")
        .stderr_has("provision force-unlock 0b7c1f5e-9d3a-4a55-8d1e-3f8f1e2a7c11");
    assert!(started.elapsed() < std::time::Duration::from_secs(10), "fails at once, without waiting");
    assert!(!bucket_exists(&format!("{}-data", project.stack_name)), "nothing was created");
}

#[test]
fn deleting_a_bucket_with_foreign_objects_names_force_destroy_and_keeps_the_state() {
    let project =
        Project::new("keep", "[stack]\nname = \"{name}\"\n\n[s3_bucket.data]\n\n[s3_bucket.other]\n").with_emulator();
    project.run(&["apply", "--auto-approve"]).success();
    let bucket = format!("{}-data", project.stack_name);
    block_on(async {
        s3().put_object().bucket(&bucket).key("someone-elses.txt").body(b"x".to_vec().into()).send().await.expect("put")
    });

    project
        .run(&["destroy", "--auto-approve"])
        .code(1)
        .stderr_has("s3_bucket.data")
        .stderr_has("DeleteBucket")
        .stderr_has("BucketNotEmpty")
        .stderr_has("force_destroy");
    // The independent bucket went; the failed one stays in the state, so a second run can finish.
    let state = project.state();
    assert!(state["resources"]["s3_bucket.data"].is_object());
    assert!(state["resources"]["s3_bucket.other"].is_null());

    block_on(async { s3().delete_object().bucket(&bucket).key("someone-elses.txt").send().await.expect("delete") });
    project.run(&["destroy", "--auto-approve"]).success();
    assert!(!bucket_exists(&bucket));
}

#[test]
fn a_saved_plan_applies_once_and_then_is_stale() {
    let project = Project::new("saved", "[stack]\nname = \"{name}\"\n\n[s3_bucket.data]\n").with_emulator();
    project.run(&["plan", "--out", "plan.json"]).success().stdout_has("Saved the plan");
    project.run(&["apply", "plan.json"]).success().stdout_has("1 added");
    assert!(bucket_exists(&format!("{}-data", project.stack_name)));
    project.run(&["apply", "plan.json"]).code(1).stderr_has("is stale");
    project.run(&["destroy", "--auto-approve"]).success();
}

/// A run killed between recording a create and recording its result leaves a `creating` entry;
/// the next run looks for the resource by the recorded name instead of making a second one.
#[test]
fn an_interrupted_create_is_adopted_or_redone_by_the_next_run() {
    let project =
        Project::new("intent", "[stack]\nname = \"{name}\"\n\n[s3_bucket.made]\n\n[s3_bucket.lost]\n").with_emulator();
    project.run(&["apply", "--auto-approve"]).success();
    let lost = format!("{}-lost", project.stack_name);
    block_on(async { s3().delete_bucket().bucket(&lost).send().await.expect("delete") });

    // Both entries as a killed run leaves them: intent recorded, result not.
    let mut state = project.state();
    for address in ["s3_bucket.made", "s3_bucket.lost"] {
        state["resources"][address]["status"] = serde_json::json!("creating");
        state["resources"][address]["attributes"] = serde_json::json!({});
    }
    project.write(&format!("state/{}.json", project.stack_name), &serde_json::to_string_pretty(&state).unwrap());

    project
        .run(&["plan"])
        .success()
        .stderr_has("s3_bucket.made: found the resource an interrupted create made; adopting it")
        .stderr_has("s3_bucket.lost: an interrupted create made nothing; it will be created")
        .stdout_has("+ s3_bucket.lost")
        .stdout_has("Plan: 1 to add, 0 to change, 0 to replace, 0 to destroy.");
    project.run(&["apply", "--auto-approve"]).success().stdout_has("1 added");
    let state = project.state();
    assert_eq!(state["resources"]["s3_bucket.made"].get("status"), None, "recorded as created again");
    assert!(bucket_exists(&lost));
    project.run(&["destroy", "--auto-approve"]).success().stdout_has("2 destroyed");
}
