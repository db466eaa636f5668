//! The cache: an ElastiCache replication group made with its subnet group and read back, changed in
//! place or replaced as AWS allows, imported, destroyed, and an auth token that never appears
//! anywhere but in the calls to AWS.
//!
//! The emulator does not implement ModifyReplicationGroup, IncreaseReplicaCount or
//! DecreaseReplicaCount (docs/emulator.md): in-place changes of the node type and replicas are
//! asserted here as plans and as the apply's clear failure; the calls themselves are tested with
//! the SDK's mocks in `drivers/elasticache_redis/update.rs`.

use crate::support::{block_on, ec2, elasticache, Project, Run};

const TOKEN_VARIABLE: &str = "PROVISION_TEST_REDIS_TOKEN";

fn cache_stack(extra: &str) -> String {
    format!(
        r#"
[stack]
name = "{{name}}"

[security_group.cache]
description = "Redis, only from the app"
ingress = [{{ port = 6379, cidr = "10.0.0.0/8" }}]

[elasticache_redis.sessions]
security_groups = ["${{security_group.cache.id}}"]
auth_token = {{ env = "{TOKEN_VARIABLE}" }}
tags = {{ team = "web" }}
{extra}
"#
    )
}

fn describe(id: &str) -> Option<aws_sdk_elasticache::types::ReplicationGroup> {
    block_on(async {
        let answer = elasticache().describe_replication_groups().replication_group_id(id).send().await.ok()?;
        answer.replication_groups().first().cloned()
    })
}

fn subnet_group(name: &str) -> Option<aws_sdk_elasticache::types::CacheSubnetGroup> {
    block_on(async {
        let answer = elasticache().describe_cache_subnet_groups().cache_subnet_group_name(name).send().await.ok()?;
        answer.cache_subnet_groups().first().cloned()
    })
}

fn tags(arn: &str) -> Vec<(String, String)> {
    block_on(async {
        let answer = elasticache().list_tags_for_resource().resource_name(arn).send().await.expect("tags");
        answer
            .tag_list()
            .iter()
            .map(|t| (t.key().unwrap_or_default().to_string(), t.value().unwrap_or_default().to_string()))
            .collect()
    })
}

/// Runs the binary with `-vv` and the token in its environment, keeping every byte it printed.
fn run_with_token(project: &Project, token: &str, args: &[&str], log: &mut String) -> Run {
    let mut full = vec!["-vv"];
    full.extend_from_slice(args);
    let run = project.run_with_env(&full, &[(TOKEN_VARIABLE, token)]);
    log.push_str(&run.stdout);
    log.push_str(&run.stderr);
    run
}

#[test]
fn a_cache_is_created_with_its_subnet_group_read_back_and_destroyed_and_its_token_never_written_anywhere() {
    let project = Project::new("redis", &cache_stack("replicas = 1\nfinal_snapshot = true")).with_emulator();
    let id = format!("{}-sessions", project.stack_name);
    let (first, second) = ("first-Redis-token-4711", "second-Redis-token-0815");
    let mut log = String::new();

    run_with_token(&project, first, &["apply", "--auto-approve"], &mut log).success().stdout_has("2 added");
    let group = describe(&id).expect("the replication group exists");
    assert_eq!(group.status(), Some("available"));
    assert_eq!(group.engine(), Some("redis"));
    assert_eq!(group.cache_node_type(), Some("cache.t3.micro"));
    assert_eq!(group.transit_encryption_enabled(), Some(true), "encrypted in transit by default");
    assert_eq!(group.auth_token_enabled(), Some(true));
    assert_eq!(group.member_clusters().len(), 2, "a primary and one replica");
    let subnets = subnet_group(&format!("{id}-subnets")).expect("its own cache subnet group");
    let network = block_on(async { ec2().describe_subnets().send().await.expect("subnets") });
    let vpc = subnets.vpc_id().expect("a VPC").to_string();
    assert_eq!(
        subnets.subnets().len(),
        network.subnets().iter().filter(|s| s.vpc_id() == Some(vpc.as_str())).count(),
        "the default network's subnets"
    );
    let arn = group.arn().expect("an ARN");
    let group_tags = tags(arn);
    assert!(group_tags.contains(&("provision:stack".into(), project.stack_name.clone())), "{group_tags:?}");
    assert!(group_tags.contains(&("team".into(), "web".into())), "{group_tags:?}");

    let state = project.state();
    let entry = &state["resources"]["elasticache_redis.sessions"];
    let primary = group.node_groups()[0].primary_endpoint().expect("a primary endpoint");
    assert_eq!(entry["id"], id.as_str());
    assert_eq!(entry["attributes"]["address"], primary.address().expect("an address"));
    assert_eq!(entry["attributes"]["port"], 6379);
    assert_eq!(entry["attributes"]["endpoint"], format!("{}:6379", primary.address().unwrap_or_default()));
    assert!(entry["inputs"]["auth_token"].as_str().is_some_and(|h| h.starts_with("$argon2id$")), "an Argon2id hash");

    run_with_token(&project, first, &["plan", "--detailed-exitcode"], &mut log).code(0);
    // A new token is a sensitive in-place change.
    let plan = run_with_token(&project, second, &["plan", "--json"], &mut log).success();
    let plan: serde_json::Value = serde_json::from_str(&plan.stdout).expect("plan JSON");
    assert_eq!(plan["actions"][0]["action"], "update");
    assert_eq!(plan["actions"][0]["changes"][0]["path"], "auth_token");
    assert_eq!(plan["actions"][0]["changes"][0]["sensitive"], true);
    run_with_token(&project, second, &["plan"], &mut log)
        .success()
        .stdout_has("update in place")
        .stdout_has("auth_token: (sensitive) -> (sensitive)");
    // The rotation's call is one the emulator lacks; the failure names it, never the token.
    run_with_token(&project, second, &["apply", "--auto-approve"], &mut log)
        .code(1)
        .stderr_has("ModifyReplicationGroup")
        .stderr_has("the local emulator does not implement");
    // A token ElastiCache would refuse is refused before any call, without showing it.
    let short = "short-Tok-99";
    run_with_token(&project, short, &["apply", "--auto-approve"], &mut log)
        .code(1)
        .stderr_has("the value of `auth_token` must be 16 to 128 characters long");
    assert!(!log.contains(short), "a refused token appeared in the output");

    let state_files: Vec<String> = ["", ".backup"]
        .iter()
        .map(|suffix| {
            std::fs::read_to_string(format!("{}{suffix}", project.state_path().display())).unwrap_or_default()
        })
        .collect();

    run_with_token(&project, first, &["destroy", "--auto-approve"], &mut log).success().stdout_has("2 destroyed");
    // The emulator keeps a deleted group `deleting` forever (AWS removes it).
    assert!(describe(&id).is_none_or(|g| g.status() == Some("deleting")), "the group is deleted");
    assert!(project.state()["resources"].as_object().is_some_and(|r| r.is_empty()));
    project.run(&["state", "orphans"]).success().stdout_has("No orphans");

    for token in [first, second] {
        assert!(!log.contains(token), "a token appeared in the output or the debug log");
        for text in &state_files {
            assert!(!text.contains(token), "a token appeared in the state");
        }
    }
}

#[test]
fn node_type_replicas_and_tags_change_in_place() {
    let project = Project::new("redis", &cache_stack("")).with_emulator();
    let id = format!("{}-sessions", project.stack_name);
    let token = "in-place-Redis-token-1";
    let mut log = String::new();
    run_with_token(&project, token, &["apply", "--auto-approve"], &mut log).success();

    project.write_stack(&cache_stack("node_type = \"cache.t3.small\"\nreplicas = 2"));
    run_with_token(&project, token, &["plan"], &mut log)
        .success()
        .stdout_has("~ elasticache_redis.sessions")
        .stdout_has("update in place")
        .stdout_has("node_type: \"cache.t3.micro\" -> \"cache.t3.small\"")
        .stdout_has("replicas:  0 -> 2")
        .stdout_has("Plan: 0 to add, 1 to change, 0 to replace, 0 to destroy.");
    let plan = run_with_token(&project, token, &["plan", "--json"], &mut log).success();
    let plan: serde_json::Value = serde_json::from_str(&plan.stdout).expect("plan JSON");
    assert_eq!(plan["actions"][0]["action"], "update");
    assert_eq!(plan["actions"][0]["forced_by"], serde_json::json!([]));
    // The emulator lacks ModifyReplicationGroup: the apply says so, and nothing is recorded as done.
    run_with_token(&project, token, &["apply", "--auto-approve"], &mut log)
        .code(1)
        .stderr_has("elasticache_redis.sessions")
        .stderr_has("the local emulator does not implement `ModifyReplicationGroup`");
    assert_eq!(project.state()["resources"]["elasticache_redis.sessions"]["inputs"]["node_type"], "cache.t3.micro");

    // Tags change in place for real.
    project.write_stack(&cache_stack("").replace("team = \"web\"", "team = \"api\""));
    run_with_token(&project, token, &["apply", "--auto-approve"], &mut log).success().stdout_has("1 changed");
    let arn = describe(&id).and_then(|g| g.arn().map(str::to_string)).expect("the group");
    assert!(tags(&arn).contains(&("team".into(), "api".into())));
    let subnet_arn = subnet_group(&format!("{id}-subnets")).and_then(|g| g.arn().map(str::to_string)).expect("subnets");
    assert!(tags(&subnet_arn).contains(&("team".into(), "api".into())), "its subnet group's tags follow");
    run_with_token(&project, token, &["plan", "--detailed-exitcode"], &mut log).code(0);
    run_with_token(&project, token, &["destroy", "--auto-approve"], &mut log).success();
    assert!(!log.contains(token));
}

#[test]
fn engine_transit_encryption_and_subnets_force_a_replacement_named_in_the_plan() {
    let project = Project::new("redis", &cache_stack("")).with_emulator();
    let token = "replace-Redis-token-22";
    let mut log = String::new();
    run_with_token(&project, token, &["apply", "--auto-approve"], &mut log).success();

    let subnets = block_on(async { ec2().describe_subnets().send().await.expect("subnets") });
    let two: Vec<String> =
        subnets.subnets().iter().take(2).map(|s| format!("\"{}\"", s.subnet_id().unwrap_or_default())).collect();
    let cases = [
        ("engine = \"valkey\"".to_string(), "engine"),
        ("transit_encryption = false".to_string(), "transit_encryption"),
        (format!("subnets = [{}]", two.join(", ")), "subnets"),
    ];
    for (change, field) in cases {
        let stack = cache_stack(&change);
        // An auth token needs transit encryption; that case drops it.
        let stack = if field == "transit_encryption" {
            stack.replace(&format!("auth_token = {{ env = \"{TOKEN_VARIABLE}\" }}\n"), "")
        } else {
            stack
        };
        project.write_stack(&stack);
        run_with_token(&project, token, &["plan"], &mut log)
            .success()
            .stdout_has("-/+ elasticache_redis.sessions")
            .stdout_has(&format!("replace ({field} forces replacement)"))
            .stdout_has("deletes it and all its data");
        let plan = run_with_token(&project, token, &["plan", "--json"], &mut log).success();
        let plan: serde_json::Value = serde_json::from_str(&plan.stdout).expect("plan JSON");
        assert_eq!(plan["actions"][0]["action"], "replace", "{change}");
        assert_eq!(plan["actions"][0]["forced_by"], serde_json::json!([field]), "{change}");
    }
    project.write_stack(&cache_stack(""));
    run_with_token(&project, token, &["destroy", "--auto-approve"], &mut log).success();
}

#[test]
fn a_cache_made_elsewhere_is_imported_to_no_changes() {
    let stack = format!(
        "[stack]\nname = \"{{name}}\"\n\n[elasticache_redis.sessions]\nauth_token = {{ env = \"{TOKEN_VARIABLE}\" }}\nsnapshot_retention_days = 3\n"
    );
    let project = Project::new("redis", &stack).with_emulator();
    let id = format!("{}-sessions", project.stack_name);
    let token = "import-Redis-token-333";
    let mut log = String::new();
    run_with_token(&project, token, &["apply", "--auto-approve"], &mut log).success();

    std::fs::remove_file(project.state_path()).expect("lose the state");
    run_with_token(&project, token, &["import", "elasticache_redis.sessions", "not_an_id"], &mut log)
        .code(1)
        .stderr_has("is not a replication group id")
        .stderr_has("expected the id, e.g. `shop-sessions`, or its ARN");
    run_with_token(&project, token, &["import", "elasticache_redis.sessions", &id], &mut log)
        .success()
        .stdout_has(&format!("Imported `elasticache_redis.sessions` (id `{id}`)"));
    let plan = run_with_token(&project, token, &["plan", "--detailed-exitcode"], &mut log);
    assert_eq!(plan.code, 0, "after the import the plan is empty:\n{}\n{}", plan.stdout, plan.stderr);
    assert_eq!(project.state()["resources"]["elasticache_redis.sessions"]["inputs"]["snapshot_retention_days"], 3);

    // Drift on what can be read back: a tag someone added shows, and the plan takes it off again.
    let arn = describe(&id).and_then(|g| g.arn().map(str::to_string)).expect("the group");
    block_on(async {
        let tag = aws_sdk_elasticache::types::Tag::builder().key("owner").value("someone").build();
        elasticache().add_tags_to_resource().resource_name(arn).tags(tag).send().await.expect("tag")
    });
    run_with_token(&project, token, &["plan"], &mut log)
        .success()
        .stdout_has("! elasticache_redis.sessions")
        .stdout_has("changed outside provision")
        .stdout_has("~ elasticache_redis.sessions");
    project.write_stack(&stack);
    run_with_token(&project, token, &["destroy", "--auto-approve"], &mut log).success();
    assert!(!log.contains(token));
}

#[test]
fn bad_cache_settings_fail_validate_naming_the_field_and_the_fix() {
    let validate = |extra: &str| {
        Project::new("redis", &format!("[stack]\nname = \"{{name}}\"\n\n[elasticache_redis.sessions]\n{extra}\n"))
            .with_unreachable_endpoint()
            .run(&["validate"])
            .code(1)
    };
    validate("auth_token = { env = \"T\" }\ntransit_encryption = false")
        .stderr_has("stack.toml:5:")
        .stderr_has("`elasticache_redis.sessions.auth_token`: an auth token needs transit encryption")
        .stderr_has("hint: remove `transit_encryption = false`");
    validate("replicas = 6").stderr_has("stack.toml:5:12:").stderr_has("6 replicas is outside what ElastiCache allows");
    validate("node_type = \"t3.micro\"").stderr_has("`t3.micro` is not an ElastiCache node type");
    validate("name = \"shop--sessions\"").stderr_has("must not end with a hyphen or contain two hyphens in a row");
    validate(&format!("name = \"{}\"", "a".repeat(41))).stderr_has("must be 1 to 40 characters long");
}

/// A run killed between the two creates leaves the subnet group (named after the cache, tagged with
/// the stack) without its replication group: the next apply adopts it. One that someone else made
/// under that name is refused, naming it and the fix, rather than taken over and later deleted.
#[test]
fn a_subnet_group_left_by_a_killed_run_is_adopted_and_a_foreign_one_refused() {
    let stack = "[stack]\nname = \"{name}\"\n\n[elasticache_redis.sessions]\ntransit_encryption = false\n";
    let project = Project::new("redis", stack).with_emulator();
    let id = format!("{}-sessions", project.stack_name);
    let vpc_subnets = block_on(async {
        let vpcs = ec2().describe_vpcs().send().await.expect("VPCs");
        let default =
            vpcs.vpcs().iter().find(|v| v.is_default() == Some(true)).and_then(|v| v.vpc_id()).map(str::to_string);
        let subnets = ec2().describe_subnets().send().await.expect("subnets");
        let mut ids: Vec<String> = subnets
            .subnets()
            .iter()
            .filter(|s| s.vpc_id().map(str::to_string) == default)
            .filter_map(|s| s.subnet_id().map(str::to_string))
            .collect();
        ids.sort();
        ids
    });
    let make_subnet_group = |name: &str, stack_tag: &str| {
        block_on(async {
            let tag = aws_sdk_elasticache::types::Tag::builder().key("provision:stack").value(stack_tag).build();
            elasticache()
                .create_cache_subnet_group()
                .cache_subnet_group_name(name)
                .cache_subnet_group_description("left behind")
                .set_subnet_ids(Some(vpc_subnets.clone()))
                .tags(tag)
                .send()
                .await
                .expect("create a subnet group")
        })
    };

    make_subnet_group(&format!("{id}-subnets"), &project.stack_name);
    project.run(&["apply", "--auto-approve"]).success().stdout_has("1 added");
    assert_eq!(describe(&id).and_then(|g| g.status().map(str::to_string)).as_deref(), Some("available"));
    project.run(&["plan", "--detailed-exitcode"]).code(0);
    project.run(&["destroy", "--auto-approve"]).success();

    let other = Project::new("redis", stack).with_emulator();
    let other_id = format!("{}-sessions", other.stack_name);
    make_subnet_group(&format!("{other_id}-subnets"), "someone-else");
    other
        .run(&["apply", "--auto-approve"])
        .code(1)
        .stderr_has("CacheSubnetGroupAlreadyExists")
        .stderr_has(&format!("a cache subnet group named `{other_id}-subnets` already exists outside this stack"));
    assert!(describe(&other_id).is_none(), "no cache was made in someone else's subnet group");
}

/// Several caches are refreshed from one listing of the account's replication groups.
#[test]
fn several_caches_are_read_back_from_one_listing() {
    let stack =
        "[stack]\nname = \"{name}\"\n\n[elasticache_redis.sessions]\n\n[elasticache_redis.jobs]\nreplicas = 1\n";
    let project = Project::new("redis", stack).with_emulator();
    project.run(&["apply", "--auto-approve"]).success().stdout_has("2 added");
    project.run(&["plan", "--detailed-exitcode"]).code(0);
    let state = project.state();
    assert_eq!(state["resources"]["elasticache_redis.jobs"]["inputs"]["replicas"], 1);
    project.run(&["destroy", "--auto-approve"]).success().stdout_has("2 destroyed");
    project.run(&["state", "orphans"]).success().stdout_has("No orphans");
}
