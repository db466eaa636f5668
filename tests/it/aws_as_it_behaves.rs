//! Every example stack through "AWS as it behaves" (provision-proxy's profile, docs/aws-profile.md):
//! AWS slow, eventually consistent, "in use" while things linger, losing a share of its answers,
//! throttling a share of its calls and paging its listings. Each stack goes through its whole life — apply, an empty plan, a change,
//! destroy, apply again under the same names, destroy — and every command must succeed the first
//! time: a second apply or destroy is never needed. After each apply every object of the stack
//! exists exactly once, and after each destroy nothing of it is left, counted through each
//! service's own listing straight at the emulator (`support::inventory`). Each test also checks
//! that its stack really met the behaviours it is there to meet, so a pass proves something.
//!
//! Each stack gets a world of its own (a proxy in front of the shared emulator), so the behaviours
//! counted are its own. `PROVISION_TEST_TIME_SCALE` sets the time scale (default 60: an AWS minute
//! per second); provision is told the same scale.

use std::collections::BTreeMap;
use std::time::Instant;

use crate::support::aws_world::AwsWorld;
use crate::support::inventory::{count, create_zone, replication_groups_at, KINDS};
use crate::support::{example_stack, push_image, Project, Run};

/// Secrets the example stacks read from the environment (example-only values).
const SECRETS: &[(&str, &str)] =
    &[("FLASK_DB_PASSWORD", "example-only-Secret-9"), ("STARWARS_REDIS_AUTH_TOKEN", "example-only-Redis-token-9")];

/// One example stack's life through the profile.
struct Scenario {
    /// The file in `stacks/`.
    file: &'static str,
    /// The change: (text in the stack file, what replaces it).
    change: &'static [(&'static str, &'static str)],
    /// Rules of the profile the stack's shape meets on every run of its life (see each test).
    meets: &'static [&'static str],
}

/// How many objects of each kind (as `inventory::count` names them) the stack's resources make.
fn expected(stack: &str, zone: bool) -> BTreeMap<&'static str, usize> {
    let mut counts: BTreeMap<&'static str, usize> = BTreeMap::new();
    for line in stack.lines() {
        let Some(header) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) else { continue };
        let parts: Vec<&str> = header.split('.').collect();
        if parts.len() != 2 {
            continue; // [stack], [variables], a service's [ecs_service.x.container] …
        }
        let kinds: &[&'static str] = match parts[0] {
            "s3_bucket" => &["s3 bucket"],
            "cloudfront_distribution" => &["cloudfront distribution", "origin access control"],
            "security_group" => &["security group"],
            "load_balancer" => &["load balancer"],
            "target_group" => &["target group"],
            "listener" => &["listener"],
            "ecr_repository" => &["ecr repository"],
            "iam_role" => &["iam role"],
            "ecs_cluster" => &["ecs cluster"],
            "ecs_service" => &["ecs service", "task definition revision (active)"],
            "db_subnet_group" => &["db subnet group"],
            "db_instance" => &["db instance"],
            "elasticache_redis" => &["redis replication group"],
            "log_group" => &["log group"],
            "secret" => &["secret"],
            // Its validation record is written into the zone.
            "certificate" => &["acm certificate", "dns record"],
            "dns_record" => &["dns record"],
            // Looked up, never made.
            "dns_zone" => &[],
            // Counted part by part below.
            "vpc" => &[],
            other => panic!("the inventory does not count `{other}` yet: add it to support::inventory"),
        };
        for kind in kinds {
            *counts.entry(kind).or_default() += 1;
        }
    }
    for (kind, n) in network_parts(stack) {
        *counts.entry(kind).or_default() += n;
    }
    // Every kind the inventory counts, at zero when the stack has none.
    let mut all: BTreeMap<&'static str, usize> =
        KINDS.iter().filter(|kind| zone || **kind != "dns record").map(|kind| (*kind, 0)).collect();
    all.extend(counts);
    all
}

/// The parts each `[vpc.NAME]` makes, as the `vpc` type lays a network out: a public and a private
/// subnet per zone (`azs`, default 2), a public route table and one private one per zone, an
/// internet gateway, the NAT gateways `nat` asks for (`single` by default, `per_az`, `none`) with an
/// Elastic IP each, and an endpoint per AWS service of `endpoints` (default `["s3"]`; `ecr` is two).
fn network_parts(text: &str) -> Vec<(&'static str, usize)> {
    let stack: toml::Table = text.parse().expect("the stack file parses");
    let mut parts = Vec::new();
    for vpc in stack.get("vpc").and_then(toml::Value::as_table).into_iter().flat_map(|t| t.values()) {
        let azs = vpc.get("azs").and_then(toml::Value::as_integer).unwrap_or(2) as usize;
        let nats = match vpc.get("nat").and_then(toml::Value::as_str).unwrap_or("single") {
            "none" => 0,
            "per_az" => azs,
            _ => 1,
        };
        let endpoints: usize = match vpc.get("endpoints").and_then(toml::Value::as_array) {
            None => 1,
            Some(names) => names.iter().map(|name| if name.as_str() == Some("ecr") { 2 } else { 1 }).sum(),
        };
        // Interface endpoints answer in the private subnets behind a security group of their own.
        let interface = vpc
            .get("endpoints")
            .and_then(toml::Value::as_array)
            .is_some_and(|names| names.iter().any(|name| !matches!(name.as_str(), Some("s3" | "dynamodb"))));
        parts.extend([
            ("security group", usize::from(interface)),
            ("vpc", 1),
            ("subnet", 2 * azs),
            ("route table", 1 + azs),
            ("internet gateway", 1),
            ("nat gateway", nats),
            ("elastic ip", nats),
            ("vpc endpoint", endpoints),
        ]);
    }
    parts
}

/// The repositories whose image a service deploys by digest, each with the tag it deploys: a
/// service's `container.image` of `${ecr_repository.NAME.url}:TAG` without `pin_digest = false`
/// (`TAG` may be `${var.NAME}`, read from `[variables]`).
fn pinned_images(text: &str) -> Vec<(String, String)> {
    let stack: toml::Table = text.parse().expect("the stack file parses");
    let table = |value: Option<&toml::Value>| value.and_then(toml::Value::as_table).cloned().unwrap_or_default();
    let variables = table(stack.get("variables"));
    let mut images = Vec::new();
    for service in table(stack.get("ecs_service")).values() {
        let container = table(service.get("container"));
        if container.get("pin_digest").and_then(toml::Value::as_bool) == Some(false) {
            continue;
        }
        let image = container.get("image").and_then(toml::Value::as_str).unwrap_or_default();
        let Some((name, tag)) = image.strip_prefix("${ecr_repository.").and_then(|rest| rest.split_once(".url}:"))
        else {
            continue;
        };
        let tag = match tag.strip_prefix("${var.").and_then(|rest| rest.strip_suffix('}')) {
            Some(variable) => variables.get(variable).and_then(toml::Value::as_str).unwrap_or(tag),
            None => tag,
        };
        let image = (name.to_string(), tag.to_string());
        if !images.contains(&image) {
            images.push(image);
        }
    }
    images
}

/// The folder a stack uploads (`upload = "NAME"`), copied next to the project's stack file.
fn copy_upload_folder(project: &Project, stack: &str) {
    let Some(folder) = stack.lines().find_map(|l| l.trim().strip_prefix("upload = \"")?.split('"').next()) else {
        return;
    };
    let source = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("stacks").join(folder);
    for entry in walk(&source) {
        let relative = entry.strip_prefix(&source).expect("inside the folder");
        let contents = std::fs::read_to_string(&entry).expect("an upload file");
        project.write(&format!("{folder}/{}", relative.display()), &contents);
    }
}

fn walk(folder: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(folder).expect("an upload folder").flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// A stack, its project through its own world, and how to run it.
struct Life {
    world: AwsWorld,
    project: Project,
    stack: String,
    zone: Option<String>,
    vars: Vec<String>,
    started: Instant,
    steps: Vec<(String, f64)>,
}

impl Life {
    fn begin(scenario: &Scenario, seed: u64) -> Life {
        // A life ends in `destroy`, which `protect = true` refuses until an apply turns it off;
        // that refusal is tested on its own (tests/it/network.rs), so here the stack is unprotected.
        let stack = example_stack(scenario.file).replace("protect = true", "protect = false");
        let world = AwsWorld::unkind(seed);
        let prefix = scenario.file.trim_end_matches(".toml").split('-').next().unwrap_or("stack");
        let project = Project::new(&format!("aws-{prefix}"), &stack).through(&world);
        copy_upload_folder(&project, &stack);
        let name = project.stack_name.clone();
        // A domain of the stack's own, in a hosted zone the user made (provision only looks it up).
        let (zone, vars) = if stack.contains("[dns_zone.") {
            (Some(create_zone(&name)), vec![format!("domain={name}.example.com")])
        } else {
            (None, Vec::new())
        };
        Life { world, project, stack: name, zone, vars, started: Instant::now(), steps: Vec::new() }
    }

    /// Runs `provision ARGS` with the stack's variables and secrets; it must succeed the first time.
    #[track_caller]
    fn step(&mut self, what: &str, args: &[&str]) -> Run {
        let mut all: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        for var in &self.vars {
            all.extend(["--var".to_string(), var.clone()]);
        }
        let all: Vec<&str> = all.iter().map(String::as_str).collect();
        let started = Instant::now();
        let run = self.project.run_with_env(&all, SECRETS);
        self.steps.push((what.to_string(), started.elapsed().as_secs_f64()));
        assert_eq!(
            run.code,
            0,
            "{}: `{what}` (provision {}) failed through the AWS profile\n--- stdout\n{}\n--- stderr\n{}\n{}",
            self.stack,
            all.join(" "),
            run.stdout,
            run.stderr,
            self.world.summary()
        );
        run
    }

    /// Apply, as the stack file says to on a new stack: images are deployed by digest, so the
    /// repositories are made first and an image pushed to each (as a CI pipeline does), then the rest.
    fn apply(&mut self, what: &str) {
        let text = std::fs::read_to_string(self.project.path("stack.toml")).expect("stack file");
        let images = pinned_images(&text);
        if !images.is_empty() {
            let mut args = vec!["apply", "--auto-approve"];
            let targets: Vec<String> = images.iter().map(|(name, _)| format!("ecr_repository.{name}")).collect();
            for target in &targets {
                args.extend(["--target", target]);
            }
            self.step(&format!("{what}: the repositories"), &args);
            let state: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(self.project.state_path()).expect("the state"))
                    .expect("the state parses");
            for (name, tag) in &images {
                let repository = state["resources"][format!("ecr_repository.{name}")]["attributes"]["name"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{}: no `ecr_repository.{name}` in the state", self.stack));
                push_image(repository, tag, &format!("{} {name}", self.stack));
            }
        }
        self.step(what, &["apply", "--auto-approve"]);
        let want = expected(&text, self.zone.is_some());
        assert_eq!(self.count(), want, "{}: after `{what}`, each object once\n{}", self.stack, self.world.summary());
    }

    /// What of the stack exists, by kind, straight at the emulator; Redis replication groups as the
    /// profile answers (a group made again under a deleted one's id is not seen at the emulator).
    fn count(&self) -> BTreeMap<&'static str, usize> {
        let mut counts = count(&self.stack, self.zone.as_deref());
        let caches = self.world.read_aside(|endpoint| replication_groups_at(endpoint, &self.stack));
        counts.insert("redis replication group", caches);
        counts
    }

    fn plan_is_empty(&mut self, what: &str) {
        self.step(what, &["plan", "--detailed-exitcode"]);
    }

    fn destroy(&mut self, what: &str) {
        self.step(what, &["destroy", "--auto-approve"]);
        let left: BTreeMap<&str, usize> = self.count().into_iter().filter(|(_, n)| *n > 0).collect();
        assert!(left.is_empty(), "{}: after `{what}` objects are left: {left:?}", self.stack);
    }

    /// The whole life of the stack.
    fn live(scenario: &Scenario, seed: u64) {
        let mut life = Life::begin(scenario, seed);
        life.apply("apply");
        life.plan_is_empty("plan (no changes)");
        let mut text = std::fs::read_to_string(life.project.path("stack.toml")).expect("stack file");
        for (from, to) in scenario.change {
            assert!(text.contains(from), "{}: the change expects {from:?} in the stack", scenario.file);
            text = text.replacen(from, to, 1);
        }
        life.project.write("stack.toml", &text);
        let change = life.step("change", &["apply", "--auto-approve"]);
        assert!(change.stdout.contains(" changed"), "{}: the change changed nothing:\n{}", life.stack, change.stdout);
        let want = expected(&text, life.zone.is_some());
        assert_eq!(life.count(), want, "{}: after the change, each object once\n{}", life.stack, life.world.summary());
        life.plan_is_empty("plan after the change (no changes)");
        life.destroy("destroy");
        life.apply("apply again under the same names");
        life.plan_is_empty("plan after applying again (no changes)");
        life.destroy("destroy again");

        let unmet: Vec<&str> = scenario.meets.iter().copied().filter(|id| life.world.met(id) == 0).collect();
        assert!(unmet.is_empty(), "{}: never met {unmet:?}\n{}", scenario.file, life.world.summary());
        let steps: Vec<String> = life.steps.iter().map(|(what, s)| format!("{what} {s:.1}s")).collect();
        eprintln!(
            "{} through the AWS profile (time scale {}), {:.1}s and {} requests in all: {}\n{}",
            scenario.file,
            life.world.time_scale(),
            life.started.elapsed().as_secs_f64(),
            life.world.requests(),
            steps.join(", "),
            life.world.summary()
        );
    }
}

/// S3 and CloudFront: a bucket not there yet right after its create, a distribution `InProgress`
/// after its create and each update, and a distribution that must be disabled (and deployed so)
/// before it can go.
#[test]
fn the_static_site_lives_through_aws_as_it_behaves() {
    Life::live(
        &Scenario {
            file: "static-site.toml",
            change: &[("spa_fallback = true", "spa_fallback = false")],
            meets: &["s3.no-such-bucket-after-create", "cloudfront.in-progress"],
        },
        11,
    );
}

/// The three tiers: all of the static site's behaviours, plus groups not found yet, a load
/// balancer provisioning, a service's deployments, a database `creating`/`backing-up`/`deleting`,
/// and groups in use while the interfaces of what used them linger.
#[test]
fn the_web_app_lives_through_aws_as_it_behaves() {
    Life::live(
        &Scenario {
            file: "webapp.toml",
            change: &[("desired_count = 3", "desired_count = 4")],
            meets: &[
                // Over a thousand requests in a life (a dozen answers lost, some twenty calls throttled
                // in `AwsWorld::unkind`); a smaller stack may meet neither.
                "any.response-lost",
                "any.throttling",
                "s3.no-such-bucket-after-create",
                "cloudfront.in-progress",
                "ec2.group-not-found-after-create",
                "elbv2.load-balancer-provisioning",
                "ecs.deployment-in-progress",
                "rds.instance-lifecycle",
                "ec2.group-in-use-while-interfaces-linger",
            ],
        },
        12,
    );
}

/// Containers behind a load balancer: groups not found yet, a load balancer provisioning, a
/// service's deployments (the change is a new desired count and a new rule), a service draining
/// before its cluster can go, groups in use while interfaces linger.
#[test]
fn the_api_service_lives_through_aws_as_it_behaves() {
    Life::live(
        &Scenario {
            file: "api-service.toml",
            change: &[
                ("desired_count = 3", "desired_count = 4"),
                (
                    "ingress = [{ port = 80, cidr = \"0.0.0.0/0\" }]",
                    "ingress = [{ port = 80, cidr = \"0.0.0.0/0\" }, { port = 443, cidr = \"0.0.0.0/0\" }]",
                ),
            ],
            meets: &[
                "ec2.group-not-found-after-create",
                "elbv2.load-balancer-provisioning",
                "ecs.deployment-in-progress",
                "ecs.service-draining",
                "ec2.group-in-use-while-interfaces-linger",
            ],
        },
        13,
    );
}

/// Flask and PostgreSQL: a database `creating`, `modifying` (the change grows its storage) and
/// `deleting`, its subnet group in use meanwhile, a service's deployments.
#[test]
fn flask_with_postgres_lives_through_aws_as_it_behaves() {
    Life::live(
        &Scenario {
            file: "flask-postgres.toml",
            change: &[("skip_final_snapshot = true", "skip_final_snapshot = true\nallocated_storage = 30")],
            meets: &[
                "ec2.group-not-found-after-create",
                "ecs.deployment-in-progress",
                "rds.instance-lifecycle",
                "ec2.group-in-use-while-interfaces-linger",
            ],
        },
        14,
    );
}

/// The Star Wars API: everything of the web app's API tier plus a Redis `creating`, `modifying` (the
/// change is a larger node type) and `deleting`, and its subnet group in use meanwhile; in the
/// second life the cache and its subnet group are made again under the first life's names, in the
/// new network.
#[test]
fn the_star_wars_api_lives_through_aws_as_it_behaves() {
    Life::live(
        &Scenario {
            file: "starwars-api.toml",
            change: &[(
                "[elasticache_redis.sessions]\n",
                "[elasticache_redis.sessions]\nnode_type = \"cache.t3.small\"\n",
            )],
            meets: &[
                "ec2.group-not-found-after-create",
                "ecs.deployment-in-progress",
                "rds.instance-lifecycle",
                "elasticache.group-lifecycle",
                "ec2.group-in-use-while-interfaces-linger",
            ],
        },
        15,
    );
}

/// The websocket platform: a certificate `PENDING_VALIDATION` until its record is written, an HTTPS
/// listener that cannot see it at first, the certificate in use until the listener lets go, and the
/// static site's and the API tier's behaviours.
#[test]
fn the_websocket_platform_lives_through_aws_as_it_behaves() {
    Life::live(
        &Scenario {
            file: "websocket-platform.toml",
            change: &[("desired_count = 2", "desired_count = 3")],
            meets: &[
                // Over a thousand requests in a life (a dozen answers lost, some twenty calls throttled
                // in `AwsWorld::unkind`); a smaller stack may meet neither.
                "any.response-lost",
                "any.throttling",
                "acm.pending-validation",
                "s3.no-such-bucket-after-create",
                "cloudfront.in-progress",
                "ec2.group-not-found-after-create",
                "elbv2.load-balancer-provisioning",
                "ecs.deployment-in-progress",
                "rds.instance-lifecycle",
                "ec2.group-in-use-while-interfaces-linger",
            ],
        },
        16,
    );
}
