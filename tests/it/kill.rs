//! `kill -9` at seeded random moments: `apply` and `destroy` of a stack of every type are killed,
//! then run again to the end. After each completed run every AWS object is counted through each
//! service's own listing — origin access controls and task definition revisions included, which
//! the tagging API alone would not show — and must be exactly what the stack wants (or nothing
//! after destroy), with a state file that parses after every kill.
//!
//! `PROVISION_KILL_ROUNDS` sets the number of rounds (default 2, as in CI);
//! `PROVISION_KILL_SEED` the seed. Each round kills one apply and one destroy.

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{
    acm_in, binary, block_on, ec2, ecr, ecs, elasticache, elbv2, emulator_get, endpoint, example_stack, iam, logs, rds,
    route53, s3, secretsmanager, Project,
};

/// The web app plus the types it does not use: a log group, a generated secret, a Redis, and a
/// certificate validated through a hosted zone (made by the test, as a user does) with an alias
/// record to the load balancer.
const EXTRA: &str = r#"
[log_group.api]
retention_days = 7

[secret.session]
generate = { length = 24 }
recovery_days = 0

[security_group.redis]
description = "Redis, only from the API"
ingress = [{ port = 6379, from = "${security_group.api.id}" }]

[elasticache_redis.cache]
security_groups = ["${security_group.redis.id}"]

[dns_zone.main]
name = "{name}.example.com"

[certificate.api]
domain = "api.{name}.example.com"
zone = "${dns_zone.main.id}"

[dns_record.api]
zone = "${dns_zone.main.id}"
name = "api.{name}.example.com"
alias = { name = "${load_balancer.web.dns_name}", zone_id = "${load_balancer.web.zone_id}" }
"#;

/// SplitMix64, so a seed names one sequence of kill moments.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) % n.max(1)
    }
}

/// What a completed apply of `stacks/webapp.toml` plus `EXTRA` (23 resources of 19 types) leaves:
/// its network counted part by part.
const EXPECTED: &[(&str, usize)] = &[
    ("s3 bucket", 1),
    ("cloudfront distribution", 1),
    ("origin access control", 1),
    ("security group", 4),
    ("load balancer", 1),
    ("target group", 1),
    ("listener", 1),
    ("ecr repository", 1),
    ("iam role", 1),
    ("ecs cluster", 1),
    ("ecs service", 1),
    ("task definition revision (active)", 1),
    ("db subnet group", 1),
    ("db instance", 1),
    ("log group", 1),
    ("secret", 1),
    ("redis replication group", 1),
    ("acm certificate", 1),
    ("dns record (alias and validation)", 2),
    ("vpc", 1),
    ("subnet", 4),
    ("route table", 3),
    ("internet gateway", 1),
    ("nat gateway", 1),
    ("elastic ip", 1),
    ("vpc endpoint", 1),
];

/// Makes the stack's hosted zone, as a user does once per domain (provision only looks it up).
fn create_zone(stack: &str) -> String {
    block_on(async {
        let name = format!("{stack}.example.com");
        let answer = route53()
            .create_hosted_zone()
            .name(&name)
            .caller_reference(name.clone())
            .send()
            .await
            .expect("CreateHostedZone");
        answer.hosted_zone().expect("a zone").id().trim_start_matches("/hostedzone/").to_string()
    })
}

/// The parts of the stack's network, tagged with the stack in the call that made each.
async fn count_network(stack: &str) -> Vec<(&'static str, usize)> {
    let tagged = || aws_sdk_ec2::types::Filter::builder().name("tag:provision:stack").values(stack).build();
    let live =
        |state: Option<&str>| !matches!(state.map(str::to_ascii_lowercase).as_deref(), Some("deleted" | "deleting"));
    let vpcs = ec2().describe_vpcs().filters(tagged()).send().await.expect("DescribeVpcs");
    let subnets = ec2().describe_subnets().filters(tagged()).send().await.expect("DescribeSubnets");
    let tables = ec2().describe_route_tables().filters(tagged()).send().await.expect("DescribeRouteTables");
    let gateways = ec2().describe_internet_gateways().filters(tagged()).send().await.expect("DescribeInternetGateways");
    let nats = ec2().describe_nat_gateways().filter(tagged()).send().await.expect("DescribeNatGateways");
    let addresses = ec2().describe_addresses().filters(tagged()).send().await.expect("DescribeAddresses");
    let endpoints = ec2().describe_vpc_endpoints().filters(tagged()).send().await.expect("DescribeVpcEndpoints");
    vec![
        ("vpc", vpcs.vpcs().len()),
        ("subnet", subnets.subnets().len()),
        ("route table", tables.route_tables().len()),
        ("internet gateway", gateways.internet_gateways().len()),
        ("nat gateway", nats.nat_gateways().iter().filter(|n| live(n.state().map(|s| s.as_str()))).count()),
        ("elastic ip", addresses.addresses().len()),
        ("vpc endpoint", endpoints.vpc_endpoints().iter().filter(|e| live(e.state().map(|s| s.as_str()))).count()),
    ]
}

/// Every object of the stack, by kind, through each service's own listing.
fn count_objects(stack: &str, zone: &str) -> BTreeMap<&'static str, usize> {
    let prefix = format!("{stack}-");
    let owner = format!("provision {stack} ");
    let mut counts = BTreeMap::new();
    block_on(async {
        let buckets = s3().list_buckets().send().await.expect("ListBuckets");
        counts.insert(
            "s3 bucket",
            buckets.buckets().iter().filter(|b| b.name().unwrap_or("").starts_with(&prefix)).count(),
        );

        let groups = ec2().describe_security_groups().send().await.expect("DescribeSecurityGroups");
        let ours = |tags: &[aws_sdk_ec2::types::Tag]| {
            tags.iter().any(|t| t.key() == Some("provision:stack") && t.value() == Some(stack))
        };
        counts.insert("security group", groups.security_groups().iter().filter(|g| ours(g.tags())).count());
        counts.extend(count_network(stack).await);

        let balancers = elbv2().describe_load_balancers().send().await.expect("DescribeLoadBalancers");
        let ours_lb: Vec<String> = balancers
            .load_balancers()
            .iter()
            .filter(|lb| lb.load_balancer_name().unwrap_or("").starts_with(&prefix))
            .filter_map(|lb| lb.load_balancer_arn().map(str::to_string))
            .collect();
        counts.insert("load balancer", ours_lb.len());
        let mut listeners = 0;
        for arn in &ours_lb {
            let answer = elbv2().describe_listeners().load_balancer_arn(arn).send().await.expect("DescribeListeners");
            listeners += answer.listeners().len();
        }
        counts.insert("listener", listeners);
        let target_groups = elbv2().describe_target_groups().send().await.expect("DescribeTargetGroups");
        counts.insert(
            "target group",
            target_groups
                .target_groups()
                .iter()
                .filter(|g| g.target_group_name().unwrap_or("").starts_with(&prefix))
                .count(),
        );

        let repositories = ecr().describe_repositories().send().await.expect("DescribeRepositories");
        counts.insert(
            "ecr repository",
            repositories
                .repositories()
                .iter()
                .filter(|r| r.repository_name().unwrap_or("").starts_with(&prefix))
                .count(),
        );
        let roles = iam().list_roles().send().await.expect("ListRoles");
        counts.insert("iam role", roles.roles().iter().filter(|r| r.role_name().starts_with(&prefix)).count());

        let clusters = ecs().list_clusters().send().await.expect("ListClusters");
        let mut active_clusters = 0;
        let mut services = 0;
        for arn in clusters.cluster_arns().iter().filter(|a| a.rsplit('/').next().unwrap_or("").starts_with(&prefix)) {
            let described = ecs().describe_clusters().clusters(arn).send().await.expect("DescribeClusters");
            if described.clusters().iter().any(|c| c.status() == Some("ACTIVE")) {
                active_clusters += 1;
                let listed = ecs().list_services().cluster(arn).send().await.expect("ListServices");
                if !listed.service_arns().is_empty() {
                    let described = ecs()
                        .describe_services()
                        .cluster(arn)
                        .set_services(Some(listed.service_arns().to_vec()))
                        .send()
                        .await
                        .expect("DescribeServices");
                    services += described.services().iter().filter(|s| s.status() == Some("ACTIVE")).count();
                }
            }
        }
        counts.insert("ecs cluster", active_clusters);
        counts.insert("ecs service", services);
        let revisions = ecs()
            .list_task_definitions()
            .status(aws_sdk_ecs::types::TaskDefinitionStatus::Active)
            .send()
            .await
            .expect("ListTaskDefinitions");
        counts.insert(
            "task definition revision (active)",
            revisions
                .task_definition_arns()
                .iter()
                .filter(|arn| arn.rsplit('/').next().unwrap_or("").starts_with(&prefix))
                .count(),
        );

        let subnet_groups = rds().describe_db_subnet_groups().send().await.expect("DescribeDBSubnetGroups");
        counts.insert(
            "db subnet group",
            subnet_groups
                .db_subnet_groups()
                .iter()
                .filter(|g| g.db_subnet_group_name().unwrap_or("").starts_with(&prefix))
                .count(),
        );
        let groups = logs()
            .describe_log_groups()
            .log_group_name_prefix(format!("/provision/{stack}/"))
            .send()
            .await
            .expect("DescribeLogGroups");
        counts.insert("log group", groups.log_groups().len());
        let secrets = secretsmanager().list_secrets().send().await.expect("ListSecrets");
        counts.insert(
            "secret",
            secrets
                .secret_list()
                .iter()
                .filter(|s| s.name().unwrap_or("").starts_with(&prefix) && s.deleted_date().is_none())
                .count(),
        );
        // A deleted group stays `deleting` on the emulator (docs/emulator.md); its cache subnet group
        // cannot be deleted there at all, so only groups are counted.
        let caches = elasticache().describe_replication_groups().send().await.expect("DescribeReplicationGroups");
        counts.insert(
            "redis replication group",
            caches
                .replication_groups()
                .iter()
                .filter(|g| g.replication_group_id().unwrap_or("").starts_with(&prefix))
                .filter(|g| g.status() != Some("deleting"))
                .count(),
        );
        let domain = format!("api.{stack}.example.com");
        let certificates = acm_in("us-east-1").list_certificates().send().await.expect("ListCertificates");
        counts.insert(
            "acm certificate",
            certificates.certificate_summary_list().iter().filter(|c| c.domain_name() == Some(domain.as_str())).count(),
        );
        let sets =
            route53().list_resource_record_sets().hosted_zone_id(zone).send().await.expect("ListResourceRecordSets");
        let made = |set: &&aws_sdk_route53::types::ResourceRecordSet| {
            !matches!(set.r#type(), aws_sdk_route53::types::RrType::Ns | aws_sdk_route53::types::RrType::Soa)
        };
        counts.insert("dns record (alias and validation)", sets.resource_record_sets().iter().filter(made).count());
        let instances = rds().describe_db_instances().send().await.expect("DescribeDBInstances");
        counts.insert(
            "db instance",
            instances
                .db_instances()
                .iter()
                .filter(|i| i.db_instance_identifier().unwrap_or("").starts_with(&prefix))
                .filter(|i| i.db_instance_status() != Some("deleted"))
                .count(),
        );
    });
    // CloudFront's answers on the emulator are read as text (see `support::emulator_get`).
    let distributions = emulator_get("/2020-05-31/distribution");
    counts.insert("cloudfront distribution", distributions.matches(&format!("<Comment>{owner}")).count());
    let controls = emulator_get("/2020-05-31/origin-access-control");
    counts.insert("origin access control", controls.matches(&format!("<Description>{owner}")).count());
    counts
}

/// Starts `provision ARGS` and kills it with SIGKILL after `delay` (if it still runs then).
fn run_and_kill(project: &Project, args: &[&str], delay: Duration) -> bool {
    let mut child = Command::new(binary())
        .args(args)
        .current_dir(project.dir.path())
        .env("AWS_ENDPOINT_URL", endpoint())
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start provision");
    let deadline = Instant::now() + delay;
    while Instant::now() < deadline {
        if child.try_wait().expect("wait").is_some() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    // SAFETY: sends SIGKILL to the child this test spawned.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGKILL) };
    child.wait().expect("reap");
    true
}

fn assert_state_parses(project: &Project, after: &str) {
    if let Ok(text) = std::fs::read_to_string(project.state_path()) {
        let parsed: Result<serde_json::Value, _> = serde_json::from_str(&text);
        assert!(parsed.is_ok(), "the state does not parse after {after}:\n{text}");
    }
}

fn expected() -> BTreeMap<&'static str, usize> {
    EXPECTED.iter().copied().collect()
}

#[test]
fn killed_applies_and_destroys_leave_nothing_behind_and_nothing_twice() {
    let rounds: u64 = std::env::var("PROVISION_KILL_ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(2);
    let seed: u64 = std::env::var("PROVISION_KILL_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(20261201);
    let mut rng = Rng(seed);
    let mut kills = 0;
    for round in 0..rounds {
        // Deployed by tag: the run is killed before an image could be pushed, and no task runs here.
        let webapp = example_stack("webapp.toml")
            .replace("port = 8080\nenvironment", "port = 8080\npin_digest = false\nenvironment");
        let project = Project::new("kill", &format!("{webapp}{EXTRA}")).with_emulator();
        project.write("webapp/index.html", "<h1>kill test</h1>\n");
        let stack = project.stack_name.clone();
        let zone = create_zone(&stack);

        let delay = Duration::from_millis(100 + rng.below(3000));
        kills += usize::from(run_and_kill(&project, &["apply", "--auto-approve"], delay));
        assert_state_parses(&project, &format!("apply killed after {delay:?} (round {round}, seed {seed})"));
        project.run(&["apply", "--auto-approve"]).success();
        assert_eq!(
            count_objects(&stack, &zone),
            expected(),
            "after a killed apply ({delay:?}) and a complete one, round {round}"
        );
        project.run(&["plan", "--detailed-exitcode"]).code(0);

        let delay = Duration::from_millis(100 + rng.below(2500));
        kills += usize::from(run_and_kill(&project, &["destroy", "--auto-approve"], delay));
        assert_state_parses(&project, &format!("destroy killed after {delay:?} (round {round}, seed {seed})"));
        project.run(&["destroy", "--auto-approve"]).success();
        let left: BTreeMap<&str, usize> = count_objects(&stack, &zone).into_iter().filter(|(_, n)| *n > 0).collect();
        assert!(left.is_empty(), "after a killed destroy ({delay:?}) and a complete one, round {round}: {left:?}");
    }
    eprintln!("kill test: {rounds} rounds, {kills} runs killed mid-way, seed {seed}: nothing left, nothing twice");
}

/// A certificate and a distribution, both made with a token rather than a name.
const TOKEN_STACK: &str = r#"
[stack]
name = "{name}"

[dns_zone.main]
name = "{name}.example.com"

[certificate.site]
domain = "www.{name}.example.com"
zone = "${dns_zone.main.id}"

[s3_bucket.site]
upload = "files"
force_destroy = true

[cloudfront_distribution.cdn]
origin_bucket = "${s3_bucket.site.name}"
default_root_object = "index.html"
"#;

fn certificates_for(domain: &str) -> usize {
    block_on(async {
        let listed = acm_in("us-east-1").list_certificates().send().await.expect("ListCertificates");
        listed.certificate_summary_list().iter().filter(|c| c.domain_name() == Some(domain)).count()
    })
}

fn distributions_of(stack: &str) -> usize {
    emulator_get("/2020-05-31/distribution").matches(&format!("<Comment>provision {stack} ")).count()
}

/// ACM certificates and CloudFront distributions have no name: a killed run's request that is
/// still on its way when the next run looks finds nothing, and lands later. provision-proxy holds
/// both create requests for four seconds; the run is killed while they are held, and run again at
/// once. The second run sends the tokens the first one recorded, so when the held requests land
/// AWS answers them with the same certificate and refuses a second distribution: one of each.
#[test]
fn a_create_still_on_its_way_when_apply_is_killed_is_not_made_twice() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("runtime");
    let proxy = runtime.block_on(provision_proxy::Proxy::start(endpoint())).expect("start provision-proxy");
    let hold = provision_proxy::Fault::Delay(Duration::from_secs(4));
    let request_certificate = provision_proxy::Matcher::any().operation("RequestCertificate");
    proxy.add_rule(provision_proxy::Rule::new(request_certificate, hold.clone()).times(1));
    let create_distribution = provision_proxy::Matcher::any().method("POST").path("/distribution?WithTags");
    proxy.add_rule(provision_proxy::Rule::new(create_distribution, hold).times(1));

    let project = Project::new("inflight", TOKEN_STACK).with_endpoint(&proxy.endpoint());
    project.write("files/index.html", "<h1>on its way</h1>\n");
    let stack = project.stack_name.clone();
    let zone = create_zone(&stack);
    let domain = format!("www.{stack}.example.com");

    let mut child = project
        .command(&["apply", "--auto-approve"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start provision");
    let deadline = Instant::now() + Duration::from_secs(60);
    let creating = |address: &str| -> bool {
        let text = std::fs::read_to_string(project.state_path()).unwrap_or_default();
        let state: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        state["resources"][address]["status"] == "creating"
    };
    while !(creating("certificate.site") && creating("cloudfront_distribution.cdn")) {
        assert!(Instant::now() < deadline, "the two creates never started");
        assert!(child.try_wait().expect("wait").is_none(), "apply ended before both creates were sent");
        std::thread::sleep(Duration::from_millis(20));
    }
    // Both requests reach the proxy right after their intents are written, and are held there.
    std::thread::sleep(Duration::from_millis(500));
    child.kill().expect("SIGKILL");
    child.wait().expect("reap");
    let killed = Instant::now();
    assert_eq!(certificates_for(&domain), 0, "the certificate request was not held");
    assert_eq!(distributions_of(&stack), 0, "the distribution request was not held");

    let apply = project.run(&["apply", "--auto-approve"]).success();
    assert!(apply.stderr.contains("certificate.site: an interrupted create made nothing"), "{}", apply.stderr);
    // The held requests land now, if they have not yet.
    std::thread::sleep(Duration::from_secs(5).saturating_sub(killed.elapsed()));
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(certificates_for(&domain), 1, "the held request made a second certificate");
    assert_eq!(distributions_of(&stack), 1, "the held request made a second distribution");
    project.run(&["plan", "--detailed-exitcode"]).code(0);

    project.run(&["destroy", "--auto-approve"]).success();
    assert_eq!((certificates_for(&domain), distributions_of(&stack)), (0, 0));
    let sets = block_on(async {
        route53().list_resource_record_sets().hosted_zone_id(&zone).send().await.expect("ListResourceRecordSets")
    });
    assert_eq!(sets.resource_record_sets().len(), 2, "only the zone's NS and SOA stay");
}
