//! `kill -9` at seeded random moments, through "AWS as it behaves" (docs/aws-profile.md): `apply`
//! and `destroy` of a stack of every type are killed, then run again to the end — once: that run
//! must succeed the first time, with AWS slow, eventually consistent, "in use" and losing a share of
//! its answers. After each completed run every AWS object is counted through each service's own
//! listing, straight at the emulator (`support::inventory`), and must be exactly what the stack
//! wants (or nothing after destroy), with a state file that parses after every kill, and the plan
//! after a complete apply must be empty. Every round runs, and the test lists each that went wrong.
//!
//! `PROVISION_KILL_ROUNDS` sets the number of rounds (default 2, as in CI);
//! `PROVISION_KILL_SEED` the seed. Each round kills one apply and one destroy, at a moment drawn
//! over the AWS time such a run takes, so kills land in every phase of it.

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::support::aws_world::AwsWorld;
use crate::support::inventory::{count, create_zone, left_of};
use crate::support::{acm_in, block_on, emulator_get, endpoint, example_stack, route53, Project};

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
    ("dns record", 2),
    ("vpc", 1),
    ("subnet", 4),
    ("route table", 3),
    ("internet gateway", 1),
    ("nat gateway", 1),
    ("elastic ip", 1),
    ("vpc endpoint", 1),
];

/// Starts `provision ARGS` and kills it with SIGKILL after `delay` (if it still runs then).
fn run_and_kill(project: &Project, args: &[&str], delay: Duration) -> bool {
    let mut child = project.command(args).stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("start provision");
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

/// How much AWS time an apply and a destroy of the kill test's stack take through the profile: a
/// kill moment is drawn from each, so kills land in every phase (the database `creating`, the
/// service's deployment, the distribution `InProgress`, the groups in use while interfaces linger).
const APPLY_SPAN: Duration = Duration::from_secs(12 * 60);
const DESTROY_SPAN: Duration = Duration::from_secs(10 * 60);

/// One round on a new stack: an apply killed after `delays.0`, then run to the end; a destroy
/// killed after `delays.1`, then run to the end. What went wrong, each with `context`; a round
/// whose complete apply fails is destroyed, so the next rounds count only their own stacks.
fn round(project: &Project, zone: &str, delays: (Duration, Duration), context: &str, kills: &mut usize) -> Vec<String> {
    let stack = &project.stack_name;
    let mut problems = Vec::new();
    let (apply_delay, destroy_delay) = delays;
    let killed = |what: &str, delay: Duration| format!("{what} killed after {delay:?} ({context})");

    *kills += usize::from(run_and_kill(project, &["apply", "--auto-approve"], apply_delay));
    assert_state_parses(project, &killed("apply", apply_delay));
    let apply = project.run(&["apply", "--auto-approve"]);
    if apply.code != 0 {
        let what = killed("apply", apply_delay);
        problems.push(format!("{what}: the next apply failed\n{}\n{}", apply.stdout, apply.stderr));
        project.run(&["destroy", "--auto-approve"]);
        return problems;
    }
    let counted = count(stack, Some(zone));
    if counted != expected() {
        let what = killed("apply", apply_delay);
        problems.push(format!("{what}, then a complete apply: {counted:?}, not {:?}", expected()));
    }
    let plan = project.run(&["plan", "--detailed-exitcode"]);
    if plan.code != 0 {
        problems.push(format!(
            "{}: the plan after the complete apply is not empty\n{}\n--- the complete apply's stderr\n{}",
            killed("apply", apply_delay),
            plan.stdout,
            apply.stderr
        ));
    }

    *kills += usize::from(run_and_kill(project, &["destroy", "--auto-approve"], destroy_delay));
    assert_state_parses(project, &killed("destroy", destroy_delay));
    let destroy = project.run(&["destroy", "--auto-approve"]);
    if destroy.code != 0 {
        let what = killed("destroy", destroy_delay);
        problems.push(format!("{what}: the next destroy failed\n{}\n{}", destroy.stdout, destroy.stderr));
        return problems;
    }
    let left = left_of(stack, Some(zone));
    if !left.is_empty() {
        problems.push(format!("{}, then a complete destroy: left {left:?}", killed("destroy", destroy_delay)));
    }
    problems
}

#[test]
fn killed_applies_and_destroys_leave_nothing_behind_and_nothing_twice() {
    let rounds: u64 = std::env::var("PROVISION_KILL_ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(2);
    let seed: u64 = std::env::var("PROVISION_KILL_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(20261201);
    // Answers lost and calls throttled, as in the whole-life tests: a killed run's successor meets them too.
    let world = AwsWorld::unkind(seed);
    let span = |aws: Duration| aws.div_f64(world.time_scale()).as_millis() as u64;
    let mut rng = Rng(seed);
    let mut kills = 0;
    let started = Instant::now();
    // Every round runs, so a long run reports every round that went wrong.
    let mut problems: Vec<String> = Vec::new();
    let mut rounds_wrong = 0;
    for round in 0..rounds {
        // Deployed by tag: the run is killed before an image could be pushed, and no task runs here.
        let webapp = example_stack("webapp.toml").replace(
            "port = 8080
environment",
            "port = 8080
pin_digest = false
environment",
        );
        let project = Project::new("kill", &format!("{webapp}{EXTRA}")).through(&world);
        project.write("webapp/index.html", "<h1>kill test</h1>\n");
        let zone = create_zone(&project.stack_name);
        let apply_delay = Duration::from_millis(100 + rng.below(span(APPLY_SPAN)));
        let destroy_delay = Duration::from_millis(100 + rng.below(span(DESTROY_SPAN)));
        let context = format!("round {round}, seed {seed}");
        let wrong = self::round(&project, &zone, (apply_delay, destroy_delay), &context, &mut kills);
        rounds_wrong += usize::from(!wrong.is_empty());
        problems.extend(wrong);
    }
    assert!(
        problems.is_empty(),
        "the kill test went wrong in {rounds_wrong} of {rounds} rounds (seed {seed}):\n\n{}",
        problems.join("\n\n")
    );
    // The profile was met, not bypassed: new groups not found yet, a database `creating`, groups in
    // use while the interfaces of what used them linger.
    for id in ["ec2.group-not-found-after-create", "rds.instance-lifecycle", "ec2.group-in-use-while-interfaces-linger"]
    {
        assert!(world.met(id) > 0, "the kill test never met `{id}`:\n{}", world.summary());
    }
    eprintln!(
        "kill test: {rounds} rounds through the AWS profile (time scale {}), {kills} runs killed mid-way, seed {seed}, \
         {:.0?}: nothing left, nothing twice\n{}",
        world.time_scale(),
        started.elapsed(),
        world.summary()
    );
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
