//! provision's drivers against "AWS as it behaves" (provision-proxy's profile, docs/aws-profile.md):
//! every command must succeed the first time although AWS is eventually consistent, slow and
//! protective of what is in use. Each test runs provision through a world of its own and checks
//! that the behaviours its stack is there to meet were met (`Proxy::met`), so a pass proves the
//! retry or wait of docs/aws-behaviours.md that handles them, not the emulator's kindness.
//!
//! Each runs in the shared harness (`support::aws_world`): provision is told the profile's time
//! scale (`PROVISION_TIME_SCALE`), so its own patience shrinks with AWS's windows: a database
//! `creating` for five AWS minutes takes five real seconds.

use std::time::Duration;

use provision_proxy::ProfileOptions;

use crate::support::aws_world::{self, AwsWorld};
use crate::support::{Project, Run};

/// A world of "AWS as it behaves" (the shared harness, `support::aws_world`) for one test.
struct World {
    aws: AwsWorld,
}

impl World {
    /// Every behaviour on, no answer lost: what each test meets follows from its stack alone.
    fn new() -> World {
        World::start(ProfileOptions { time_scale: aws_world::time_scale(), ..ProfileOptions::default() })
    }

    fn start(options: ProfileOptions) -> World {
        World { aws: AwsWorld::start(options) }
    }

    fn project(&self, prefix: &str, stack: &str) -> Project {
        Project::new(prefix, stack).through(&self.aws)
    }

    /// `provision ARGS` through this world; it must succeed the first time.
    #[track_caller]
    fn run(&self, project: &Project, args: &[&str]) -> Run {
        let run = project.run(args);
        assert_eq!(
            run.code,
            0,
            "`provision {}` failed through the AWS profile\n--- stdout\n{}\n--- stderr\n{}\n{}",
            args.join(" "),
            run.stdout,
            run.stderr,
            self.aws.summary()
        );
        run
    }

    /// Asserts that each rule acted on at least one call.
    #[track_caller]
    fn met_all(&self, ids: &[&str]) {
        let unmet: Vec<&str> = ids.iter().copied().filter(|id| self.aws.met(id) == 0).collect();
        assert!(unmet.is_empty(), "never met {unmet:?}\n{}", self.aws.summary());
    }
}

/// A web tier as a user writes it: no `depends_on` — the service follows the listener that
/// forwards to its target group by itself — a group reached from another group, and a role with
/// two policies attached side by side.
const WEB_TIER: &str = r#"
[stack]
name = "{name}"

[network]
vpc = "default"

[iam_role.task]
service = "ecs-tasks.amazonaws.com"
managed_policies = [
  "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy",
  "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess",
]

[ecs_cluster.main]

[security_group.alb]
description = "Public HTTP to the load balancer"
ingress = [{ port = 80, cidr = "0.0.0.0/0" }]

[security_group.app]
description = "Only the load balancer reaches the containers"
ingress = [{ port = 8080, from = "${security_group.alb.id}" }]

[load_balancer.web]
security_groups = ["${security_group.alb.id}"]

[target_group.app]
port = 8080

[listener.http]
load_balancer = "${load_balancer.web.arn}"
port = 80
forward = "${target_group.app.arn}"

[ecs_service.app]
cluster = "${ecs_cluster.main.arn}"
desired_count = 2
execution_role = "${iam_role.task.arn}"
security_groups = ["${security_group.app.id}"]
target_group = "${target_group.app.arn}"

[ecs_service.app.container]
image = "nginx:1.27"
port = 8080
"#;

/// Apply, no change, a new desired count (its own deployment waited for), destroy, and the same
/// again under the same names — each the first time, while groups are not found yet, the load
/// balancer provisions, deployments roll, the role's policies collide, the service drains, the
/// target group and the groups stay in use while what used them lingers, and the load balancer and
/// the groups are still listed for moments after their delete.
#[test]
fn a_web_tier_is_made_changed_and_destroyed_the_first_time() {
    let world = World::new();
    let project = world.project("prof-web", WEB_TIER);
    world.run(&project, &["apply", "--auto-approve"]);
    world.run(&project, &["plan", "--detailed-exitcode"]);
    let stack = std::fs::read_to_string(project.path("stack.toml")).expect("stack file");
    project.write_stack(&stack.replace("desired_count = 2", "desired_count = 3"));
    let deployments = world.aws.met("ecs.deployment-in-progress");
    let change = world.run(&project, &["apply", "--auto-approve"]);
    assert!(change.stdout.contains("1 changed"), "{}", change.stdout);
    assert!(
        world.aws.met("ecs.deployment-in-progress") > deployments,
        "a new desired count is waited for until its tasks run"
    );
    world.run(&project, &["plan", "--detailed-exitcode"]);
    world.run(&project, &["destroy", "--auto-approve"]);
    world.run(&project, &["apply", "--auto-approve"]);
    world.run(&project, &["destroy", "--auto-approve"]);
    world.met_all(&[
        "ec2.group-not-found-after-create",
        "elbv2.load-balancer-provisioning",
        "ecs.deployment-in-progress",
        "iam.concurrent-modification",
        "ecs.service-draining",
        "elbv2.target-group-in-use",
        "ec2.group-in-use-while-interfaces-linger",
        "ec2.group-gone-after-delete",
        "elbv2.load-balancer-deleted",
        "elbv2.load-balancer-interfaces-linger",
    ]);
    assert_eq!(
        world.aws.met("ec2.group-referenced-by-another"),
        0,
        "a group is deleted after the group whose rule names it\n{}",
        world.aws.summary()
    );
}

/// The graph orders the service after the listener, but ECS still refuses its target group for
/// the moments after the listener is made, and its role for the minutes IAM takes to propagate:
/// the create retries both.
#[test]
fn a_service_is_made_while_ecs_does_not_see_its_listener_and_role_yet() {
    let world = World::new();
    let profile = world.aws.profile();
    profile.set_window("ecs.target-group-without-load-balancer", "window", Duration::from_secs(60)).expect("a window");
    profile.set_window("iam.role-not-assumable-after-create", "window", Duration::from_secs(4 * 60)).expect("a window");
    let project = world.project("prof-tg", WEB_TIER);
    world.run(&project, &["apply", "--auto-approve"]);
    world.run(&project, &["destroy", "--auto-approve"]);
    world.met_all(&["ecs.target-group-without-load-balancer", "iam.role-not-assumable-after-create"]);
}

const STATIC_SITE: &str = r#"
[stack]
name = "{name}"

[s3_bucket.site]
upload = "site"
force_destroy = true

[cloudfront_distribution.cdn]
origin_bucket = "${s3_bucket.site.name}"
default_root_object = "index.html"
"#;

/// A bucket not visible right after its create, a distribution `InProgress` for minutes after
/// each create and disable, still there for minutes after its delete, its access control in use
/// until CloudFront lets go, and the bucket's
/// name refused for a while after its delete — met by `destroy` then `apply` under the same names.
#[test]
fn a_static_site_is_made_destroyed_and_made_again_under_the_same_names() {
    let world = World::new();
    // Long enough to outlast the look at which other distributions use the control, however many
    // the shared emulator holds.
    let profile = world.aws.profile();
    profile
        .set_window("cloudfront.origin-access-control-in-use", "window", Duration::from_secs(2 * 60))
        .expect("a window");
    let project = world.project("prof-site", STATIC_SITE);
    project.write("site/index.html", "<h1>hello</h1>");
    world.run(&project, &["apply", "--auto-approve"]);
    world.run(&project, &["plan", "--detailed-exitcode"]);
    world.run(&project, &["destroy", "--auto-approve"]);
    world.run(&project, &["apply", "--auto-approve"]);
    world.run(&project, &["destroy", "--auto-approve"]);
    world.met_all(&[
        "s3.no-such-bucket-after-create",
        "s3.operation-aborted-on-recreate",
        "cloudfront.in-progress",
        "cloudfront.distribution-deleted",
        "cloudfront.origin-access-control-in-use",
    ]);
    assert_eq!(
        world.aws.met("cloudfront.distribution-not-disabled"),
        0,
        "a distribution is deleted once its disable has deployed\n{}",
        world.aws.summary()
    );
}

/// A distribution update whose answer is lost after CloudFront acted: the SDK's retry sends the
/// same `If-Match`, which the new version no longer has (`PreconditionFailed`), and the driver reads
/// the config and its ETag afresh before it sends the update again.
#[test]
fn a_distribution_update_whose_answer_is_lost_is_sent_again_with_a_fresh_etag() {
    let world = World::new();
    let project = world.project("prof-etag", STATIC_SITE);
    project.write("site/index.html", "<h1>hello</h1>");
    world.run(&project, &["apply", "--auto-approve"]);
    project.write_stack(&STATIC_SITE.replace(
        "default_root_object = \"index.html\"",
        "default_root_object = \"index.html\"\nprice_class = \"PriceClass_200\"",
    ));
    world.aws.lose_answers_of("UpdateDistribution", 1);
    world.run(&project, &["apply", "--auto-approve"]).stdout_has("1 changed");
    world.met_all(&["any.response-lost", "cloudfront.stale-etag"]);
    world.run(&project, &["plan", "--detailed-exitcode"]);
    world.run(&project, &["destroy", "--auto-approve"]);
}

const DATA_TIER: &str = r#"
[stack]
name = "{name}"

[network]
vpc = "default"

[security_group.data]
description = "The database and the cache"
ingress = [{ port = 5432, cidr = "10.0.0.0/8" }, { port = 6379, cidr = "10.0.0.0/8" }]

[db_subnet_group.main]

[db_instance.main]
engine = "postgres"
engine_version = "16"
db_name = "app"
username = "app"
manage_password = true
subnet_group = "${db_subnet_group.main.name}"
security_groups = ["${security_group.data.id}"]
skip_final_snapshot = true

[elasticache_redis.sessions]
security_groups = ["${security_group.data.id}"]
"#;

/// A database `creating` then `backing-up`, a cache `creating`, both `deleting` for minutes while
/// their subnet groups and their security group are in use — and made again under the same names.
#[test]
fn a_database_and_a_cache_are_waited_for_and_their_groups_freed_in_order() {
    let world = World::new();
    let project = world.project("prof-data", DATA_TIER);
    world.run(&project, &["apply", "--auto-approve"]);
    world.run(&project, &["plan", "--detailed-exitcode"]);
    world.run(&project, &["destroy", "--auto-approve"]);
    world.run(&project, &["apply", "--auto-approve"]);
    world.run(&project, &["destroy", "--auto-approve"]);
    world.met_all(&[
        "rds.instance-lifecycle",
        "elasticache.group-lifecycle",
        "elasticache.subnet-group-in-use",
        "ec2.group-in-use-while-interfaces-linger",
    ]);
    assert_eq!(
        world.aws.met("rds.subnet-group-in-use"),
        0,
        "a DB subnet group is deleted once its database is gone\n{}",
        world.aws.summary()
    );
}

const CLUSTER_AND_SERVICE: &str = r#"
[stack]
name = "{name}"

[network]
vpc = "default"

[ecs_cluster.main]

[ecs_service.worker]
cluster = "${ecs_cluster.main.arn}"
desired_count = 1

[ecs_service.worker.container]
image = "nginx:1.27"
"#;

/// A service deleted moments before a destroy, that the state no longer holds (forgotten with
/// `state rm`, then deleted by hand), is still draining: the cluster's delete waits for it.
#[test]
fn a_cluster_is_deleted_once_a_service_deleted_moments_ago_has_drained() {
    let world = World::new();
    let project = world.project("prof-ecs", CLUSTER_AND_SERVICE);
    world.run(&project, &["apply", "--auto-approve"]);
    world.run(&project, &["state", "rm", "ecs_service.worker"]);
    let cluster = format!("{}-main", project.stack_name);
    let service = format!("{}-worker", project.stack_name);
    let ecs = crate::support::client_at!(aws_sdk_ecs, world.aws.endpoint());
    crate::support::block_on(ecs.delete_service().cluster(&cluster).service(&service).force(true).send())
        .expect("delete the service");
    world.run(&project, &["destroy", "--auto-approve"]);
    world.met_all(&["ecs.service-draining", "ecs.cluster-contains-services"]);
}

const MANY_CREATES: &str = r#"
[stack]
name = "{name}"

[network]
vpc = "default"

[security_group.web]
description = "Public HTTP"
ingress = [{ port = 80, cidr = "0.0.0.0/0" }]

[security_group.app]
description = "From the web group"
ingress = [{ port = 8080, from = "${security_group.web.id}" }]

[target_group.app]
port = 8080

[iam_role.task]
service = "ecs-tasks.amazonaws.com"
managed_policies = ["arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"]

[log_group.app]
retention_days = 7

[s3_bucket.assets]
force_destroy = true
"#;

/// The stack's objects that exist, by kind, counted straight at the emulator.
fn objects(stack: &str) -> std::collections::BTreeMap<&'static str, usize> {
    let mut kinds = std::collections::BTreeMap::new();
    for arn in crate::support::live_tagged_with(stack) {
        let kind = match () {
            _ if arn.contains(":security-group/") => "security group",
            _ if arn.contains(":targetgroup/") => "target group",
            _ if arn.starts_with("arn:aws:s3:::") => "bucket",
            _ if arn.contains(":role/") => "role",
            _ => continue,
        };
        *kinds.entry(kind).or_default() += 1;
    }
    kinds
}

/// A share of the answers is lost after AWS acted: the SDK's retry of a create meets the object
/// it made (`…AlreadyExists`, `Duplicate…`), which is adopted, and of a delete meets it gone.
/// Every command still succeeds the first time, and each object exists exactly once.
#[test]
fn creates_and_deletes_whose_answers_are_lost_leave_each_object_once() {
    let world = World::start(ProfileOptions {
        time_scale: aws_world::time_scale(),
        lost_responses: 0.3,
        seed: 21,
        ..ProfileOptions::default()
    });
    let project = world.project("prof-lost", MANY_CREATES);
    let once =
        std::collections::BTreeMap::from([("bucket", 1), ("role", 1), ("security group", 2), ("target group", 1)]);
    for round in 0..2 {
        world.run(&project, &["apply", "--auto-approve"]);
        assert_eq!(objects(&project.stack_name), once, "round {round}: after apply\n{}", world.aws.summary());
        world.run(&project, &["plan", "--detailed-exitcode"]);
        world.run(&project, &["destroy", "--auto-approve"]);
        assert!(objects(&project.stack_name).is_empty(), "round {round}: after destroy\n{}", world.aws.summary());
    }
    world.met_all(&["any.response-lost"]);
    eprintln!("{}", world.aws.summary());
}

/// S3 answers `200` to a `CreateBucket` of a bucket the account already owns (us-east-1,
/// `s3.create-owned-bucket-succeeds`): the SDK's retry of a create whose answer was lost gets it.
/// provision keeps such a bucket only because nothing but this create can have made it (untagged,
/// made after the create's intent was recorded); someone's older bucket of the same name is refused
/// (tests/it/security.rs). The bucket exists once, the plan is empty, the destroy removes it.
#[test]
fn a_bucket_create_whose_answer_is_lost_meets_s3s_200_for_an_owned_bucket_and_keeps_it() {
    let world = World::new();
    world.aws.lose_answers_of("CreateBucket", 1);
    let project =
        world.project("prof-own", "[stack]\nname = \"{name}\"\nregion = \"us-east-1\"\n\n[s3_bucket.assets]\n");
    world.run(&project, &["apply", "--auto-approve"]);
    world.met_all(&["any.response-lost", "s3.create-owned-bucket-succeeds"]);
    assert_eq!(objects(&project.stack_name), std::collections::BTreeMap::from([("bucket", 1)]));
    world.run(&project, &["plan", "--detailed-exitcode"]);
    world.run(&project, &["destroy", "--auto-approve"]);
    assert!(objects(&project.stack_name).is_empty(), "{}", world.aws.summary());
}

const HTTPS: &str = r#"
[stack]
name = "{name}"

[variables]
domain = "example.com"

[network]
vpc = "default"

[dns_zone.main]
name = "${var.domain}"

[certificate.site]
domain = "www.${var.domain}"
zone = "${dns_zone.main.id}"

[security_group.lb]
description = "Public HTTPS"
ingress = [{ port = 443, cidr = "0.0.0.0/0" }]

[load_balancer.web]
security_groups = ["${security_group.lb.id}"]

[target_group.web]
port = 8080

[listener.https]
load_balancer = "${load_balancer.web.arn}"
port = 443
protocol = "HTTPS"
certificate_arn = "${certificate.site.arn}"
forward = "${target_group.web.arn}"

[s3_bucket.site]
force_destroy = true

[cloudfront_distribution.cdn]
origin_bucket = "${s3_bucket.site.name}"
aliases = ["www.${var.domain}"]
certificate_arn = "${certificate.site.arn}"
"#;

/// A certificate without its validation records for a moment, `PENDING_VALIDATION` until they are
/// written (each record change `PENDING`
/// before it is `INSYNC`), then unseen for a while by the load balancer and by CloudFront, and in
/// use until both let go: each answer is waited out.
#[test]
fn a_certificate_is_waited_for_used_as_soon_as_it_is_seen_and_deleted_once_free() {
    let world = World::new();
    // The listener waits for the load balancer too, which provisions longer than the certificate
    // validates: ELB must still not see the certificate by then.
    let profile = world.aws.profile();
    profile.set_window("elbv2.certificate-not-found", "window", Duration::from_secs(2 * 60)).expect("a window");
    let project = world.project("prof-tls", HTTPS);
    let domain = format!("{}.example.com", project.stack_name);
    let zone = crate::support::block_on(
        crate::support::route53().create_hosted_zone().name(&domain).caller_reference(format!("test-{domain}")).send(),
    )
    .expect("a hosted zone, made once as a user does");
    let var = format!("domain={domain}");
    world.run(&project, &["apply", "--auto-approve", "--var", &var]);
    world.run(&project, &["plan", "--detailed-exitcode", "--var", &var]);
    world.run(&project, &["destroy", "--auto-approve", "--var", &var]);
    let zone = zone.hosted_zone().expect("a zone").id().to_string();
    crate::support::block_on(crate::support::route53().delete_hosted_zone().id(zone).send()).expect("delete the zone");
    world.met_all(&[
        "acm.validation-records-pending",
        "acm.pending-validation",
        "elbv2.certificate-not-found",
        "cloudfront.certificate-not-visible",
        "acm.certificate-in-use",
        "route53.change-pending",
    ]);
}

const DATABASE: &str = r#"
[stack]
name = "{name}"

[network]
vpc = "default"

[db_subnet_group.main]

[db_instance.main]
engine = "postgres"
engine_version = "16"
db_name = "app"
username = "app"
manage_password = true
subnet_group = "${db_subnet_group.main.name}"
"#;

/// A database being modified (by hand, or by a change a killed apply sent) cannot be deleted with
/// its final snapshot until the modification ends: the destroy waits it out, snapshot taken.
#[test]
fn a_database_busy_modifying_is_deleted_once_the_modification_ends() {
    let world = World::new();
    let project = world.project("prof-db", DATABASE);
    world.run(&project, &["apply", "--auto-approve"]);
    let rds = crate::support::client_at!(aws_sdk_rds, world.aws.endpoint());
    let identifier = format!("{}-main", project.stack_name);
    let modify =
        rds.modify_db_instance().db_instance_identifier(&identifier).allocated_storage(30).apply_immediately(true);
    crate::support::block_on(modify.send()).expect("modify the database by hand");
    world.run(&project, &["destroy", "--auto-approve"]);
    assert!(
        deletes_refused(&world) > 0,
        "the delete was refused while the database was modifying\n{}",
        world.aws.summary()
    );
}

/// How many `DeleteDBInstance` calls the lifecycle rule acted on: each refusal, and the delete
/// that went through (its answer says `deleting`).
fn deletes_refused(world: &World) -> usize {
    let fired = world.aws.profile().fired();
    let deletes =
        fired.iter().filter(|f| f.id == "rds.instance-lifecycle" && f.operation == "DeleteDBInstance").count();
    deletes.saturating_sub(1)
}

const OWN_NETWORK: &str = r#"
[stack]
name = "{name}"

[vpc.main]
nat = "single"
endpoints = ["s3", "ecr"]
"#;

/// A network of the stack's own, made and taken apart the first time: the next call after each
/// create may not see the part yet, the NAT gateway is `pending` before the private subnets route
/// through it and `deleting` before its address is released, the interface endpoints are `pending`
/// and `deleting` too, and their interfaces linger in the subnets after their delete. Nothing of it
/// is left, as EC2 itself lists it.
#[test]
fn an_own_network_is_made_and_taken_apart_the_first_time() {
    let world = World::new();
    let project = world.project("prof-net", OWN_NETWORK);
    world.run(&project, &["apply", "--auto-approve"]);
    let vpc_id = project.state()["resources"]["vpc.main"]["attributes"]["id"].as_str().expect("a VPC id").to_string();
    world.run(&project, &["plan", "--detailed-exitcode"]);
    world.run(&project, &["destroy", "--auto-approve"]);
    world.met_all(&[
        "ec2.network-not-found-after-create",
        "ec2.nat-gateway-lifecycle",
        "ec2.endpoint-lifecycle",
        "ec2.network-in-use",
        "ec2.group-not-found-after-create",
    ]);
    assert_eq!(crate::network::count_parts(&vpc_id), crate::network::nothing(), "the network is gone");
}
