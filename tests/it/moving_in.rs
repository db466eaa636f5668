//! Moving in from Terraform and CloudFormation: deploy what the other tool would have made (with
//! the AWS SDK, under its names, with its split sub-resources), give provision that tool's records
//! (a Terraform state file written as Terraform 1.x writes it; a CloudFormation stack), and check
//! that one `import --from-…` writes a stack file that validates (by provision's loader and by the
//! JSON Schema written beside it), whose first plan is empty, and
//! that apply and destroy work on it — while the other tool's records stay untouched.

mod cloudfront_world;
mod copilot_world;
mod world;

use crate::support::{block_on, s3, schema_check, Project, Run};

const FLAT: &str = include_str!("fixtures/terraform/flat.tfstate");
const MODULES: &str = include_str!("fixtures/terraform/modules.tfstate");

/// The plan after adopting must change nothing.
#[track_caller]
fn assert_no_changes(plan: Run, stack: &str) {
    assert_eq!(
        plan.code, 0,
        "the first plan after moving in is empty\n--- stdout\n{}\n--- stderr\n{}\n--- stack file\n{stack}",
        plan.stdout, plan.stderr
    );
}

fn bucket_exists(bucket: &str) -> bool {
    block_on(async { s3().head_bucket().bucket(bucket).send().await.is_ok() })
}

#[test]
fn a_terraform_web_app_moves_in_with_one_command() {
    let project = Project::new("tfweb", "").with_emulator();
    project.remove("stack.toml");
    let p = project.stack_name.clone();
    let ids = world::deploy_flat(&p);
    let state_text = ids.fill(FLAT);
    project.write("terraform/terraform.tfstate", &state_text);

    let run = project.run(&["import", "--from-terraform", "terraform/terraform.tfstate", "--name", &p]).success();
    for expected in [
        "Read the Terraform state `terraform/terraform.tfstate` (Terraform 1.9.8, serial 23, lineage ",
        "Skipped 2 data source(s)",
        "s3_bucket.webapp",
        "aws_s3_bucket_versioning.webapp",
        "ecs_service.be_service",
        "aws_ecs_task_definition.be",
        "export DB_INSTANCE_MYSQL_PASSWORD=",
        "terraform state rm 'aws_cloudfront_distribution.webapp'",
    ] {
        assert!(run.stdout.contains(expected), "stdout lacks {expected:?}\n{}", run.stdout);
    }
    let stack = std::fs::read_to_string(project.path("stack.toml")).expect("stack file written");
    schema_check::assert_valid(&project.path("stack.toml"));
    for expected in [
        format!("bucket = \"{p}-webapp\""),
        "origin_bucket = \"${s3_bucket.webapp.name}\"".to_string(),
        "from = \"${security_group.alb.id}\"".to_string(),
        "target_group = \"${target_group.be.arn}\"".to_string(),
        "load_balancer = \"${load_balancer.be.arn}\"".to_string(),
        "execution_role = \"${iam_role.ecs_execution.arn}\"".to_string(),
        "subnet_group = \"${db_subnet_group.mysql.name}\"".to_string(),
        "password = { env = \"DB_INSTANCE_MYSQL_PASSWORD\" }".to_string(),
        "skip_final_snapshot = true".to_string(),
        "force_destroy = true".to_string(),
        "Project = \"empatica\"".to_string(),
    ] {
        assert!(stack.contains(&expected), "the stack file lacks {expected:?}:\n{stack}");
    }
    let secret_free = |text: &str| !text.contains(world::DB_PASSWORD);
    assert!(secret_free(&stack) && secret_free(&run.stdout) && secret_free(&run.stderr));
    let state = std::fs::read_to_string(project.state_path()).expect("state written");
    assert!(secret_free(&state), "the password is not in the state");

    project.run(&["validate"]).success();
    let password = [("DB_INSTANCE_MYSQL_PASSWORD", world::DB_PASSWORD)];
    project.run(&["plan"]).code(1).stderr_has("DB_INSTANCE_MYSQL_PASSWORD");
    let plan = project.run_with_env(&["plan", "--detailed-exitcode"], &password);
    assert_no_changes(plan, &stack);
    let changed =
        project.run_with_env(&["plan", "--detailed-exitcode"], &[("DB_INSTANCE_MYSQL_PASSWORD", "a-new-one")]);
    assert_eq!(changed.code, 2, "another password is a change:\n{}", changed.stdout);
    assert!(
        changed.stdout.contains("db_instance.mysql") && !changed.stdout.contains("a-new-one"),
        "{}",
        changed.stdout
    );

    project.run_with_env(&["apply", "--auto-approve"], &password).success();
    let again = std::fs::read_to_string(project.path("terraform/terraform.tfstate")).expect("Terraform's state");
    assert_eq!(again, state_text, "the Terraform state is never written");
    project.run_with_env(&["destroy", "--auto-approve"], &password).success();
    assert!(!bucket_exists(&format!("{p}-webapp")), "destroy removed the adopted bucket");
}

#[test]
fn modules_count_and_for_each_from_an_s3_state() {
    let project = Project::new("tfmod", "").with_emulator();
    project.remove("stack.toml");
    let p = project.stack_name.clone();
    let ids = world::deploy_modules(&p);
    let state_bucket = format!("{p}-tfstate");
    let key = "env:/prod/app/terraform.tfstate";
    let state_text = ids.fill(MODULES);
    block_on(async {
        s3().create_bucket().bucket(&state_bucket).send().await.expect("state bucket");
        s3().put_object()
            .bucket(&state_bucket)
            .key(key)
            .body(state_text.clone().into_bytes().into())
            .send()
            .await
            .expect("put")
    });
    let location = format!("s3://{state_bucket}/{key}");
    let run = project.run(&["import", "--from-terraform", &location, "--out", "app.toml", "--name", &p]).success();
    for expected in [
        "load_balancer.web_this",
        "listener.web_this_http",
        "iam_role.task_api",
        "log_group.app_1",
        "s3_bucket.storage_assets_this",
        "listener_rule.web_api",
        "aws_iam_policy.extra",
        "random_password.api_key",
        "module.network.aws_vpc.this",
        "terraform state rm",
        "'aws_iam_role.task[\"api\"]'",
    ] {
        assert!(run.stdout.contains(expected), "stdout lacks {expected:?}\n{}", run.stdout);
    }
    assert!(!run.stdout.contains(world::API_KEY));
    let stack = std::fs::read_to_string(project.path("app.toml")).expect("stack file");
    schema_check::assert_valid(&project.path("app.toml"));
    assert!(stack.contains("load_balancer = \"${load_balancer.web_this.arn}\""), "{stack}");
    assert!(stack.contains("listener = \"${listener.web_this_http.arn}\""), "{stack}");
    assert!(stack.contains("path_patterns = [\"/api/*\"]"), "{stack}");
    // The network stays with Terraform; the stack lives in it and names it once.
    assert!(stack.contains(&format!("[network]\nvpc = \"{}\"\n", ids.get("vpc"))), "{stack}");
    assert!(!stack.contains("\nsubnets = ["), "the look-up finds the subnets the resources use:\n{stack}");
    assert!(stack.contains("vpc = \"${network.vpc_id}\""), "{stack}");
    assert!(stack.contains("subnets = \"${network.subnet_ids}\""), "{stack}");
    assert_eq!(stack.matches(ids.get("vpc")).count(), 1, "the VPC's id is written once:\n{stack}");
    for part in [
        "module.network.aws_vpc.this",
        "module.network.aws_subnet.public[0]",
        "module.network.aws_internet_gateway.this",
    ] {
        let line = run.stdout.lines().find(|line| line.trim_start().starts_with(part)).unwrap_or_default();
        assert!(line.contains("stays where it is, with Terraform"), "{part} is listed as kept:\n{}", run.stdout);
    }
    assert!(
        run.stdout.contains("The network stays with Terraform because it does not fit provision's `vpc` type: subnet `module.network.aws_subnet.public[0]` has no route table of its own"),
        "the report says why the network is kept:\n{}",
        run.stdout
    );
    let forget = run.stdout.lines().find(|line| line.contains("terraform state rm")).unwrap_or_default();
    assert!(!forget.contains("aws_vpc") && !forget.contains("aws_subnet"), "Terraform keeps the network: {forget}");
    assert!(!stack.contains(world::API_KEY), "{stack}");
    project.run(&["-f", "app.toml", "validate"]).success();
    assert_no_changes(project.run(&["-f", "app.toml", "plan", "--detailed-exitcode"]), &stack);
    project.run(&["-f", "app.toml", "apply", "--auto-approve"]).success();
    let stored = block_on(async {
        let object = s3().get_object().bucket(&state_bucket).key(key).send().await.expect("get");
        String::from_utf8(object.body.collect().await.expect("body").into_bytes().to_vec()).expect("text")
    });
    assert_eq!(stored, state_text, "the Terraform state in S3 is never written");
    project.run(&["-f", "app.toml", "destroy", "--auto-approve"]).success();
    assert!(!bucket_exists(&format!("{p}-assets")));
}

/// A proxy in front of the emulator whose "AWS as it behaves" profile keeps only one rule: tag
/// keys under `aws:` are AWS's, and a write of one is refused as AWS refuses it.
fn reserved_tags_proxy() -> (provision_proxy::Proxy, tokio::runtime::Runtime) {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("runtime");
    let options = provision_proxy::ProfileOptions::default();
    let proxy = runtime
        .block_on(provision_proxy::Proxy::start_with_profile(crate::support::endpoint(), options))
        .expect("start the proxy");
    proxy.profile().expect("a profile").only(&["any.aws-reserved-tags"]).expect("a rule of the catalogue");
    (proxy, runtime)
}

#[test]
fn a_copilot_environment_and_service_move_in_from_cloudformation() {
    let (proxy, _runtime) = reserved_tags_proxy();
    let project = Project::new("cfn", "").with_endpoint(&proxy.endpoint());
    project.remove("stack.toml");
    let p = project.stack_name.clone();
    let (environment, service) = copilot_world::deploy(&p);
    let run = project
        .run(&["import", "--from-cloudformation", &environment, "--from-cloudformation", &service, "--name", &p])
        .success();
    for expected in [
        "ecs_cluster.cluster",
        "load_balancer.public_load_balancer",
        "ecs_service.service",
        "listener_rule.http_listener_rule",
        "DeletionPolicy: Retain",
    ] {
        assert!(run.stdout.contains(expected), "stdout lacks {expected:?}\n{}", run.stdout);
    }
    let stack = std::fs::read_to_string(project.path("stack.toml")).expect("stack file");
    schema_check::assert_valid(&project.path("stack.toml"));
    assert!(!stack.contains("aws:cloudformation"), "AWS's own tags are not the stack's:\n{stack}");
    assert!(
        stack.contains("forward = \"${target_group.target_group.arn}\""),
        "the rule forwards to the adopted group:\n{stack}"
    );
    let vpc = copilot_world::physical_id(&environment, "VPC");
    assert!(stack.contains(&format!("[network]\nvpc = \"{vpc}\"\n")), "the stack lives in Copilot's VPC:\n{stack}");
    assert!(stack.contains("vpc = \"${network.vpc_id}\"") && stack.contains("\"${network.subnet_ids}\""), "{stack}");
    assert!(
        run.stdout.contains("The network stays with CloudFormation because it does not fit provision's `vpc` type: `us-east-1a` has no private subnet."),
        "the environment's network has public subnets only:\n{}",
        run.stdout
    );
    for part in ["/VPC ", "/PublicSubnet1 ", "/PublicRouteTable ", "/InternetGatewayAttachment "] {
        let line = run.stdout.lines().find(|line| line.contains(part)).unwrap_or_default();
        assert!(line.contains("stays where it is, with CloudFormation"), "{part} is listed as kept:\n{}", run.stdout);
    }
    project.run(&["validate"]).success();
    assert_no_changes(project.run(&["plan", "--detailed-exitcode"]), &stack);
    // A tag the team adds goes onto every adopted resource; CloudFormation's own `aws:` tags on
    // them stay as they are (a write of one would be refused, as AWS refuses it).
    let named = format!("name = \"{p}\"\n");
    project.write("stack.toml", &stack.replacen(&named, &format!("{named}tags = {{ team = \"web\" }}\n"), 1));
    project.run(&["apply", "--auto-approve"]).success();
    assert_eq!(proxy.met("any.aws-reserved-tags"), 0, "provision wrote an `aws:` tag:\n{}", proxy.summary());
    let group = copilot_world::physical_id(&environment, "PublicHTTPLoadBalancerSecurityGroup");
    let tags = copilot_world::security_group_tags(&group);
    assert_eq!(tags.get("team").map(String::as_str), Some("web"), "{tags:?}");
    assert!(tags.contains_key("aws:cloudformation:stack-name"), "AWS's own tags stay: {tags:?}");
    assert_no_changes(project.run(&["plan", "--detailed-exitcode"]), &stack);
    assert_eq!(copilot_world::stack_status(&environment), "CREATE_COMPLETE", "the stack is never changed");
    assert_eq!(copilot_world::stack_status(&service), "CREATE_COMPLETE");
    project.run(&["destroy", "--auto-approve"]).success();
    assert!(!copilot_world::log_group_exists(&format!("/copilot/{p}-api")), "destroy removed the adopted log group");
}

#[test]
fn other_state_formats_and_missing_or_empty_states_are_refused_before_any_aws_call() {
    let project = Project::new("tfbad", "").with_unreachable_endpoint();
    project.remove("stack.toml");
    project.write("old.tfstate", r#"{"version": 3, "terraform_version": "0.11.14", "serial": 4, "modules": []}"#);
    project
        .run(&["import", "--from-terraform", "old.tfstate"])
        .code(1)
        .stderr_has("`old.tfstate` is a Terraform state of format version 3")
        .stderr_has("hint:");
    project
        .run(&["import", "--from-terraform", "missing.tfstate"])
        .code(1)
        .stderr_has("cannot read the Terraform state `missing.tfstate`");
    project.write(
        "empty.tfstate",
        r#"{"version": 4, "terraform_version": "1.9.0", "serial": 1, "lineage": "x", "outputs": {}, "resources": []}"#,
    );
    project.run(&["import", "--from-terraform", "empty.tfstate"]).code(1).stderr_has("holds no managed resources");
    project.write("stack.toml", "[stack]\nname = \"taken\"\n");
    project.run(&["import", "--from-terraform", "empty.tfstate"]).code(1).stderr_has("`stack.toml` already exists");
    project.run(&["import", "--from-terraform", "x", "s3_bucket.a", "b"]).code(1).stderr_has("take no `ADDR ID`");
}

#[test]
fn what_aws_no_longer_has_or_another_region_holds_is_listed_and_the_rest_moves_in() {
    let project = Project::new("tfgone", "").with_emulator();
    project.remove("stack.toml");
    let kept = format!("{}-kept", project.stack_name);
    block_on(async {
        s3().create_bucket().bucket(&kept).send().await.expect("bucket");
        let all = aws_sdk_s3::types::PublicAccessBlockConfiguration::builder()
            .block_public_acls(true)
            .ignore_public_acls(true)
            .block_public_policy(true)
            .restrict_public_buckets(true)
            .build();
        s3().put_public_access_block().bucket(&kept).public_access_block_configuration(all).send().await.expect("PAB")
    });
    let bucket = |name: &str, bucket: &str| {
        format!(
            r#"{{"mode": "managed", "type": "aws_s3_bucket", "name": "{name}", "provider": "provider[\"registry.terraform.io/hashicorp/aws\"]",
                "instances": [{{"schema_version": 0, "attributes": {{"id": "{bucket}", "bucket": "{bucket}", "arn": "arn:aws:s3:::{bucket}", "force_destroy": false}}, "sensitive_attributes": []}}]}}"#
        )
    };
    let elsewhere = r#"{"mode": "managed", "type": "aws_cloudwatch_log_group", "name": "replica",
        "provider": "provider[\"registry.terraform.io/hashicorp/aws\"].west", "instances": [{"schema_version": 0,
        "attributes": {"id": "/app/replica", "name": "/app/replica", "arn": "arn:aws:logs:us-west-2:123456789012:log-group:/app/replica"}}]}"#;
    let state = format!(
        r#"{{"version": 4, "terraform_version": "1.9.8", "serial": 3, "lineage": "l", "outputs": {{}}, "resources": [{}, {}, {elsewhere}]}}"#,
        bucket("kept", &kept),
        bucket("deleted_by_hand", &format!("{}-gone", project.stack_name))
    );
    project.write("terraform.tfstate", &state);
    project
        .run(&["import", "--from-terraform", "terraform.tfstate", "--name", &project.stack_name])
        .success()
        .stdout_has("aws_s3_bucket.deleted_by_hand")
        .stdout_has("no longer in AWS")
        .stdout_has("no public access block for this bucket")
        .stdout_has("aws_cloudwatch_log_group.replica")
        .stdout_has("it is in region `us-west-2` and this run works in `us-east-1`")
        .stdout_has("Wrote `stack.toml` (1 resources)")
        .stdout_has("Wrote `stack.schema.json`");
    schema_check::assert_valid(&project.path("stack.toml"));
    assert_no_changes(project.run(&["plan", "--detailed-exitcode"]), "");
    project.run(&["destroy", "--auto-approve"]).success();
    assert!(!bucket_exists(&kept));
}
