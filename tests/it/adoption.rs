//! Adopting what exists (import, generate) and throwing away test environments (ephemeral copies,
//! sweep, complete destroy), checked through the AWS APIs.

use crate::support::{block_on, s3, unique_stack_name, Project};

fn create_bucket(name: &str, tags: &[(&str, &str)]) {
    block_on(async {
        s3().create_bucket().bucket(name).send().await.expect("create bucket");
        if !tags.is_empty() {
            let tag_set: Vec<aws_sdk_s3::types::Tag> = tags
                .iter()
                .map(|(k, v)| aws_sdk_s3::types::Tag::builder().key(*k).value(*v).build().expect("tag"))
                .collect();
            let tagging = aws_sdk_s3::types::Tagging::builder().set_tag_set(Some(tag_set)).build().expect("tagging");
            s3().put_bucket_tagging().bucket(name).tagging(tagging).send().await.expect("tag bucket");
        }
    })
}

fn block_public_access(name: &str) {
    block_on(async {
        let all = aws_sdk_s3::types::PublicAccessBlockConfiguration::builder()
            .block_public_acls(true)
            .ignore_public_acls(true)
            .block_public_policy(true)
            .restrict_public_buckets(true)
            .build();
        s3().put_public_access_block()
            .bucket(name)
            .public_access_block_configuration(all)
            .send()
            .await
            .expect("block public access");
    })
}

fn bucket_exists(bucket: &str) -> bool {
    block_on(async { s3().head_bucket().bucket(bucket).send().await.is_ok() })
}

/// Every resource the Resource Groups Tagging API knows that carries `provision:stack = stack`.
pub fn tagged_with(stack: &str) -> Vec<String> {
    block_on(async {
        let config = aws_sdk_resourcegroupstagging::config::Builder::new()
            .behavior_version(aws_sdk_resourcegroupstagging::config::BehaviorVersion::latest())
            .region(aws_sdk_resourcegroupstagging::config::Region::new("us-east-1"))
            .endpoint_url(crate::support::endpoint())
            .credentials_provider(aws_sdk_resourcegroupstagging::config::Credentials::new(
                "test", "test", None, None, "t",
            ))
            .build();
        let client = aws_sdk_resourcegroupstagging::Client::from_conf(config);
        let filter =
            aws_sdk_resourcegroupstagging::types::TagFilter::builder().key("provision:stack").values(stack).build();
        let answer = client.get_resources().tag_filters(filter).send().await.expect("GetResources");
        answer.resource_tag_mapping_list().iter().filter_map(|m| m.resource_arn().map(str::to_string)).collect()
    })
}

#[test]
fn import_adopts_a_bucket_and_plans_only_the_differences() {
    let name = unique_stack_name("imp");
    let bucket = format!("{name}-handmade");
    create_bucket(&bucket, &[("team", "web")]);
    let project = Project::new(
        "imp",
        &format!(
            "[stack]\nname = \"{{name}}\"\n\n[s3_bucket.site]\nbucket = \"{bucket}\"\ntags = {{ team = \"web\" }}\n"
        ),
    )
    .with_emulator();

    project.run(&["import", "s3_bucket.site", &bucket]).success().stdout_has("Imported `s3_bucket.site`");
    // A bucket made by hand allows public access; provision's buckets never do, and the plan says so.
    let plan = project.run(&["plan", "--detailed-exitcode"]).code(2);
    assert!(plan.stdout.contains("public_access_blocked: false -> true"), "{}", plan.stdout);
    assert!(plan.stdout.contains("Plan: 0 to add, 1 to change, 0 to replace, 0 to destroy."), "{}", plan.stdout);
    project.run(&["apply", "--auto-approve"]).success();
    project.run(&["plan", "--detailed-exitcode"]).code(0).stdout_has("No changes.");
    assert_eq!(project.state()["resources"]["s3_bucket.site"]["id"], bucket.as_str());

    // A difference between file and reality is an update, not a create.
    project.write_stack(&format!(
        "[stack]\nname = \"{{name}}\"\n\n[s3_bucket.site]\nbucket = \"{bucket}\"\nversioning = true\ntags = {{ team = \"web\" }}\n"
    ));
    project.run(&["plan"]).success().stdout_has("~ s3_bucket.site").stdout_has("versioning: false -> true");
    project.run(&["destroy", "--auto-approve"]).success();
    assert!(!bucket_exists(&bucket));
}

#[test]
fn import_refuses_unknown_addresses_missing_resources_and_malformed_ids() {
    let project = Project::new("imp", "[stack]\nname = \"{name}\"\n\n[s3_bucket.site]\n").with_emulator();
    project
        .run(&["import", "s3_bucket.other", "some-bucket"])
        .code(1)
        .stderr_has("`s3_bucket.other` is not in the stack file");
    project.run(&["import", "s3_bucket.site", "Not_A_Bucket"]).code(1).stderr_has("is not a bucket name");
    project
        .run(&["import", "s3_bucket.site", &format!("{}-missing", project.stack_name)])
        .code(1)
        .stderr_has("no s3_bucket with id");
    assert!(!project.state_path().exists(), "nothing was written");
}

#[test]
fn generate_writes_a_stack_that_plans_to_no_changes() {
    let name = unique_stack_name("gen");
    let bucket = format!("{name}-made-by-hand");
    create_bucket(&bucket, &[("owner", "ops")]);
    block_public_access(&bucket);
    block_on(async {
        let versioning = aws_sdk_s3::types::VersioningConfiguration::builder()
            .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
            .build();
        s3().put_bucket_versioning()
            .bucket(&bucket)
            .versioning_configuration(versioning)
            .send()
            .await
            .expect("versioning")
    });
    let project = Project::new("gen", "").with_emulator();
    project.remove("stack.toml");
    let file = format!("{name}.toml");
    project.run(&["import", "--generate", &file, &format!("s3_bucket.site={bucket}")]).success().stdout_has("Wrote");
    let text = std::fs::read_to_string(project.path(&file)).expect("generated file");
    crate::support::schema_check::assert_valid(&project.path(&file));
    assert!(text.contains(&format!("bucket = \"{bucket}\"")), "{text}");
    assert!(text.contains("versioning = true"), "{text}");
    assert!(text.contains("owner = \"ops\""), "{text}");
    project.run(&["-f", &file, "validate"]).success();
    project.run(&["-f", &file, "plan", "--detailed-exitcode"]).code(0).stdout_has("No changes.");
    project
        .run(&["import", "--generate", &file, &format!("s3_bucket.site={bucket}")])
        .code(1)
        .stderr_has("already exists");
    project.run(&["-f", &file, "destroy", "--auto-approve"]).success();
}

const EPHEMERAL: &str = r#"
[stack]
name = "{name}-${var.env}"

[variables]
env = "main"

[s3_bucket.assets]
"#;

#[test]
fn ephemeral_copies_live_side_by_side_and_go_independently() {
    let project = Project::new("eph", EPHEMERAL).with_emulator();
    project.run(&["apply", "--auto-approve", "--var", "env=pr-1"]).success();
    project.run(&["apply", "--auto-approve", "--var", "env=pr-2"]).success();
    let first = format!("{}-pr-1-assets", project.stack_name);
    let second = format!("{}-pr-2-assets", project.stack_name);
    assert!(bucket_exists(&first) && bucket_exists(&second));
    assert!(project.path(&format!("state/{}-pr-1.json", project.stack_name)).exists());
    assert!(project.path(&format!("state/{}-pr-2.json", project.stack_name)).exists());

    project.run(&["destroy", "--auto-approve", "--var", "env=pr-1"]).success().stdout_has("1 destroyed");
    assert!(!bucket_exists(&first));
    assert!(bucket_exists(&second), "the other copy is untouched");
    assert!(tagged_with(&format!("{}-pr-1", project.stack_name)).is_empty());
    project.run(&["plan", "--var", "env=pr-2", "--detailed-exitcode"]).code(0);
    project.run(&["destroy", "--auto-approve", "--var", "env=pr-2"]).success();
    assert!(tagged_with(&format!("{}-pr-2", project.stack_name)).is_empty());
}

#[test]
fn sweep_deletes_tagged_resources_the_state_does_not_know() {
    let project = Project::new("sweep", "[stack]\nname = \"{name}\"\n\n[s3_bucket.kept]\n").with_emulator();
    project.run(&["apply", "--auto-approve"]).success();
    let lost = format!("{}-lost", project.stack_name);
    // What a killed run leaves: tagged with the stack, the address and the state's lineage.
    let lineage = project.state()["lineage"].as_str().expect("lineage").to_string();
    create_bucket(
        &lost,
        &[
            ("provision:stack", &project.stack_name),
            ("provision:address", "s3_bucket.lost"),
            ("provision:lineage", &lineage),
        ],
    );

    project
        .run(&["state", "orphans"])
        .success()
        .stdout_has("s3_bucket.lost")
        .stdout_has(&format!("provision import s3_bucket.lost {lost}"));
    project.run(&["destroy", "--auto-approve", "--sweep"]).success().stdout_has("Sweep complete: 1 deleted.");
    assert!(!bucket_exists(&lost));
    assert!(!bucket_exists(&format!("{}-kept", project.stack_name)));
    assert!(tagged_with(&project.stack_name).is_empty(), "nothing tagged with the stack is left");
    project.run(&["state", "orphans"]).success().stdout_has("No orphans");
}

/// Every resource type, made by "another tool" (here: provision with a state that is then lost),
/// adopted twice: one `import` per resource into the original stack file, and one
/// `import --generate` that writes a new stack file. Both plan to no changes.
#[test]
fn every_type_imports_and_generates_to_no_changes() {
    use crate::support::{example_stack, live_tagged_with};
    // Deployed by tag: no image is pushed, and no task runs here.
    let stack = example_stack("webapp.toml")
        .replace("upload = \"webapp\"\n", "")
        .replace("port = 8080\nenvironment", "port = 8080\npin_digest = false\nenvironment");
    let project = Project::new("adopt", &stack).with_emulator();
    project.run(&["apply", "--auto-approve"]).success();
    let state = project.state();
    let ids: Vec<(String, String)> = state["resources"]
        .as_object()
        .expect("resources")
        .iter()
        .map(|(address, entry)| (address.clone(), entry["id"].as_str().expect("id").to_string()))
        .collect();
    assert_eq!(ids.len(), 15);
    let types: std::collections::BTreeSet<&str> = ids.iter().map(|(a, _)| a.split('.').next().unwrap()).collect();
    assert_eq!(types.len(), 13, "every resource type is in the environment: {types:?}");

    // The state is lost; each resource is imported by its id into the same stack file.
    std::fs::remove_file(project.state_path()).expect("lose the state");
    for (address, id) in &ids {
        project.run(&["import", address, id]).success();
    }
    let plan = project.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code, 0, "after importing every resource the plan is empty:\n{}\n{}", plan.stdout, plan.stderr);

    // Lost again; this time a stack file is generated for the whole environment.
    std::fs::remove_file(project.state_path()).expect("lose the state");
    let mut args = vec![
        "import".to_string(),
        "--generate".into(),
        "adopted.toml".into(),
        "--name".into(),
        format!("{}-adopted", project.stack_name),
    ];
    args.extend(ids.iter().map(|(address, id)| format!("{address}={id}")));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    project.run(&args).success();
    let generated = std::fs::read_to_string(project.path("adopted.toml")).expect("generated stack");
    crate::support::schema_check::assert_valid(&project.path("adopted.toml"));
    assert!(generated.contains("origin_bucket = \"${s3_bucket.site.name}\""), "{generated}");
    assert!(generated.contains("${load_balancer.web.arn}"), "{generated}");
    let plan = project.run(&["-f", "adopted.toml", "plan", "--detailed-exitcode"]);
    assert_eq!(plan.code, 0, "the generated stack plans to no changes:\n{}\n{}\n{generated}", plan.stdout, plan.stderr);

    project.run(&["-f", "adopted.toml", "destroy", "--auto-approve"]).success().stdout_has("15 destroyed");
    assert_eq!(live_tagged_with(&project.stack_name), Vec::<String>::new());
}

/// A resource another tool made undeletable (an image pushed into a repository without
/// `force_destroy`): destroy removes everything else, names the blocker and the fix; once it is
/// cleared, a second destroy finishes the job and nothing tagged with the stack is left.
#[test]
fn a_blocked_destroy_finishes_the_rest_and_a_second_destroy_completes() {
    use crate::support::{ecr, live_tagged_with};
    let stack = "[stack]\nname = \"{name}\"\n\n[ecr_repository.images]\n\n[s3_bucket.assets]\n\n[security_group.web]\ningress = [{ port = 80, cidr = \"0.0.0.0/0\" }]\n\n[iam_role.runner]\nservice = \"ecs-tasks.amazonaws.com\"\n";
    let project = Project::new("block", stack).with_emulator();
    project.run(&["apply", "--auto-approve"]).success();
    let repository = format!("{}-images", project.stack_name);
    let manifest = r#"{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":2,"digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"},"layers":[]}"#;
    block_on(async {
        ecr()
            .put_image()
            .repository_name(&repository)
            .image_manifest(manifest)
            .image_tag("v1")
            .send()
            .await
            .expect("push")
    });

    project.run(&["destroy", "--auto-approve"]).code(1).stderr_has("ecr_repository.images").stderr_has("force_destroy");
    let state = project.state();
    let left: Vec<&String> = state["resources"].as_object().unwrap().keys().collect();
    assert_eq!(left, vec!["ecr_repository.images"], "the independent resources were destroyed");

    block_on(async {
        let id = aws_sdk_ecr::types::ImageIdentifier::builder().image_tag("v1").build();
        ecr().batch_delete_image().repository_name(&repository).image_ids(id).send().await.expect("delete image")
    });
    project.run(&["destroy", "--auto-approve"]).success().stdout_has("1 destroyed");
    assert_eq!(live_tagged_with(&project.stack_name), Vec::<String>::new());
}

#[test]
fn generate_adopts_log_groups_secrets_and_caches_to_no_changes() {
    use crate::support::{elasticache, logs, secretsmanager};
    let name = unique_stack_name("gen");
    let (group, secret_name, cache) = (format!("/{name}/api"), format!("{name}-session"), format!("{name}-cache"));
    let arn = block_on(async {
        logs().create_log_group().log_group_name(&group).send().await.expect("log group");
        logs().put_retention_policy().log_group_name(&group).retention_in_days(14).send().await.expect("retention");
        elasticache()
            .create_replication_group()
            .replication_group_id(&cache)
            .replication_group_description("made by hand")
            .cache_node_type("cache.t3.micro")
            .engine("redis")
            .send()
            .await
            .expect("cache");
        let made = secretsmanager().create_secret().name(&secret_name).secret_string("hand-made").send().await;
        made.expect("secret").arn().expect("arn").to_string()
    });
    let project = Project::new("gen", "").with_emulator();
    project.remove("stack.toml");
    let file = format!("{name}.toml");
    project
        .run(&[
            "import",
            "--generate",
            &file,
            &format!("log_group.api={group}"),
            &format!("secret.session={arn}"),
            &format!("elasticache_redis.cache={cache}"),
        ])
        .success();
    let text = std::fs::read_to_string(project.path(&file)).expect("generated file");
    assert!(text.contains("retention_days = 14"), "{text}");
    // provision keeps an adopted secret's value as it is: `generate` only acts on a create.
    assert!(text.contains("generate = { length = 32 }"), "{text}");
    assert!(!text.contains("hand-made"), "{text}");
    project.run(&["-f", &file, "plan", "--detailed-exitcode"]).code(0).stdout_has("No changes.");
    project.run(&["-f", &file, "destroy", "--auto-approve"]).success();
}

#[test]
fn generate_adopts_a_zone_its_records_and_a_certificate_to_no_changes() {
    use crate::support::{acm_in, route53};
    use aws_sdk_route53::types::{Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet, RrType};
    let name = unique_stack_name("gdom");
    let domain = format!("{name}.example.com");
    let (zone, arn) = block_on(async {
        let made = route53().create_hosted_zone().name(&domain).caller_reference(&domain).send().await;
        let zone =
            made.expect("zone").hosted_zone().expect("a zone").id().trim_start_matches("/hostedzone/").to_string();
        let record = ResourceRecordSet::builder()
            .name(format!("info.{domain}"))
            .r#type(RrType::Txt)
            .ttl(300)
            .resource_records(ResourceRecord::builder().value("\"made by hand\"").build().expect("record"))
            .build()
            .expect("record set");
        let change =
            Change::builder().action(ChangeAction::Create).resource_record_set(record).build().expect("change");
        let batch = ChangeBatch::builder().changes(change).build().expect("batch");
        route53().change_resource_record_sets().hosted_zone_id(&zone).change_batch(batch).send().await.expect("TXT");
        let requested = acm_in("us-east-1")
            .request_certificate()
            .domain_name(format!("api.{domain}"))
            .validation_method(aws_sdk_acm::types::ValidationMethod::Dns)
            .send()
            .await
            .expect("RequestCertificate");
        let arn = requested.certificate_arn().expect("arn").to_string();
        // Adopted once issued, as a certificate in use is (the emulator issues after a short wait).
        for _ in 0..100 {
            let detail = acm_in("us-east-1").describe_certificate().certificate_arn(&arn).send().await;
            let status = detail.expect("DescribeCertificate").certificate().and_then(|c| c.status().cloned());
            if status == Some(aws_sdk_acm::types::CertificateStatus::Issued) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        (zone, arn)
    });
    let project = Project::new("gdom", "").with_emulator();
    project.remove("stack.toml");
    let file = format!("{name}.toml");
    project
        .run(&[
            "import",
            "--generate",
            &file,
            &format!("dns_zone.main={zone}"),
            &format!("dns_record.info={zone}/info.{domain}/TXT"),
            &format!("certificate.api={arn}"),
        ])
        .success();
    let text = std::fs::read_to_string(project.path(&file)).expect("generated file");
    assert!(text.contains(&format!("name = \"{domain}\"")), "{text}");
    assert!(text.contains("${dns_zone.main.id}"), "records and the certificate refer to the zone:\n{text}");
    assert!(text.contains("made by hand"), "{text}");
    // Issued, but its validation record was never put into the zone, so ACM could not renew it:
    // the plan says so, and apply writes the record.
    let plan = project.run(&["-f", &file, "plan", "--detailed-exitcode"]).code(2);
    assert!(
        plan.stdout.contains("~ certificate.api") && plan.stdout.contains("validation records are gone from the zone"),
        "{}",
        plan.stdout
    );
    project.run(&["-f", &file, "apply", "--auto-approve"]).success();
    let validation = block_on(async {
        let detail = acm_in("us-east-1").describe_certificate().certificate_arn(&arn).send().await;
        let detail = detail.expect("DescribeCertificate").certificate().cloned().expect("certificate");
        let option = detail.domain_validation_options().first().cloned().expect("a validation option");
        option.resource_record().map(|record| record.name().to_string()).expect("a validation record")
    });
    let sets = block_on(async {
        let answer = route53().list_resource_record_sets().hosted_zone_id(&zone).send().await;
        answer.expect("ListResourceRecordSets").resource_record_sets().to_vec()
    });
    let wanted = format!("{}.", validation.trim_end_matches('.'));
    assert!(sets.iter().any(|set| set.name() == wanted && *set.r#type() == RrType::Cname), "{sets:?}");
    project.run(&["-f", &file, "plan", "--detailed-exitcode"]).code(0).stdout_has("No changes.");
    project.run(&["-f", &file, "destroy", "--auto-approve"]).success();
    // The zone is only ever looked up: destroy leaves it (and its NS/SOA records) in place.
    let zones = block_on(async { route53().list_hosted_zones().send().await.expect("ListHostedZones") });
    assert!(zones.hosted_zones().iter().any(|z| z.id().ends_with(&zone)), "the zone is kept");
}
