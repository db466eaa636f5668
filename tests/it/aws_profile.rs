//! The "AWS as it behaves" profile of provision-proxy in front of the emulator, driven with the AWS
//! SDK itself: for each behaviour, the SDK reads AWS's error code inside the rule's window and
//! succeeds after it; slow lifecycles show their statuses in order; listings come back a page at a
//! time; a lost answer leaves its effect. The profile's clock is paused and moved by hand, so what
//! each call meets does not depend on the machine's speed.

use std::time::Duration;

use aws_sdk_ec2::error::ProvideErrorMetadata;
use provision_proxy::{Profile, ProfileOptions, Proxy, TaskOutcome};

use crate::support::{endpoint, unique_stack_name};

/// A profiled proxy in front of the emulator, on a runtime of its own.
struct Aws {
    proxy: Proxy,
    runtime: tokio::runtime::Runtime,
}

macro_rules! client {
    ($name:ident, $krate:ident) => {
        fn $name(&self) -> $krate::Client {
            let config = $krate::config::Builder::new()
                .behavior_version($krate::config::BehaviorVersion::latest())
                .region($krate::config::Region::new("us-east-1"))
                .endpoint_url(self.proxy.endpoint())
                .credentials_provider($krate::config::Credentials::new("test", "test", None, None, "tests"))
                // Every answer is the profile's to see: no retry hides one.
                .retry_config($krate::config::retry::RetryConfig::disabled())
                .build();
            $krate::Client::from_conf(config)
        }
    };
}

impl Aws {
    fn start(options: ProfileOptions) -> Aws {
        let runtime =
            tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
        let proxy = runtime.block_on(Proxy::start_with_profile(endpoint(), options)).expect("start the proxy");
        proxy.profile().expect("a profile").clock().pause();
        Aws { proxy, runtime }
    }

    fn paused() -> Aws {
        Aws::start(ProfileOptions::default())
    }

    fn profile(&self) -> &Profile {
        self.proxy.profile().expect("a profile")
    }

    /// Moves the profile's clock on by this much AWS time.
    fn wait(&self, aws: Duration) {
        self.profile().clock().advance(aws);
    }

    fn run<F: std::future::Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    client!(ec2, aws_sdk_ec2);
    client!(elbv2, aws_sdk_elasticloadbalancingv2);
    client!(ecs, aws_sdk_ecs);
    client!(iam, aws_sdk_iam);
    client!(rds, aws_sdk_rds);
    client!(elasticache, aws_sdk_elasticache);
    client!(acm, aws_sdk_acm);
    client!(route53, aws_sdk_route53);
    client!(logs, aws_sdk_cloudwatchlogs);
    client!(secrets, aws_sdk_secretsmanager);
    client!(cloudfront, aws_sdk_cloudfront);

    /// A CloudFront call by hand, through the proxy: the SDK cannot read moto's CloudFront answers
    /// (Python booleans, see docs/emulator.md), so reads and writes whose answers it must parse go
    /// this way. Returns the status, the ETag and the body.
    fn cloudfront_raw(&self, method: &str, path: &str, if_match: Option<&str>, body: &str) -> (u16, String, String) {
        use std::io::{Read, Write};
        let address = self.proxy.endpoint().trim_start_matches("http://").to_string();
        let mut stream = std::net::TcpStream::connect(&address).expect("connect to the proxy");
        let authorization =
            "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/cloudfront/aws4_request, SignedHeaders=host, Signature=0";
        let if_match = if_match.map(|etag| format!("If-Match: {etag}\r\n")).unwrap_or_default();
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: {address}\r\nAuthorization: {authorization}\r\nContent-Type: application/xml\r\n{if_match}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .expect("send");
        let mut answer = String::new();
        stream.read_to_string(&mut answer).expect("read");
        let (head, body) = answer.split_once("\r\n\r\n").expect("an HTTP answer");
        let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("a status");
        let etag = head.lines().find_map(|l| l.strip_prefix("ETag: ")).unwrap_or_default().to_string();
        (status, etag, body.to_string())
    }

    fn s3(&self) -> aws_sdk_s3::Client {
        let config = aws_sdk_s3::config::Builder::new()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .region(aws_sdk_s3::config::Region::new("us-east-1"))
            .endpoint_url(self.proxy.endpoint())
            .credentials_provider(aws_sdk_s3::config::Credentials::new("test", "test", None, None, "tests"))
            .retry_config(aws_sdk_s3::config::retry::RetryConfig::disabled())
            .force_path_style(true)
            .build();
        aws_sdk_s3::Client::from_conf(config)
    }
}

fn seconds(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn minutes(n: u64) -> Duration {
    Duration::from_secs(n * 60)
}

/// The AWS error code of a failed call.
#[track_caller]
fn code<T: std::fmt::Debug, E: ProvideErrorMetadata + std::fmt::Debug>(result: Result<T, E>) -> String {
    let error = result.expect_err("the call should fail");
    error.code().unwrap_or_else(|| panic!("no AWS error code in {error:?}")).to_string()
}

/// The default VPC, two of its subnets and a new security group in it.
fn network(aws: &Aws, name: &str) -> (String, Vec<String>, String) {
    let ec2 = aws.ec2();
    aws.run(async {
        let default = aws_sdk_ec2::types::Filter::builder().name("is-default").values("true").build();
        let vpcs = ec2.describe_vpcs().filters(default).send().await.unwrap();
        let vpc = vpcs.vpcs()[0].vpc_id().unwrap().to_string();
        let in_vpc = aws_sdk_ec2::types::Filter::builder().name("vpc-id").values(&vpc).build();
        let subnets: Vec<String> = ec2.describe_subnets().filters(in_vpc).send().await.unwrap().subnets()[..2]
            .iter()
            .map(|s| s.subnet_id().unwrap().to_string())
            .collect();
        let group = ec2.create_security_group().group_name(name).description("d").vpc_id(&vpc).send().await.unwrap();
        (vpc, subnets, group.group_id().unwrap().to_string())
    })
}

#[test]
fn security_groups_are_missing_right_after_create_and_in_use_while_interfaces_linger() {
    let aws = Aws::paused();
    let name = unique_stack_name("sg");
    let (_, subnets, group) = network(&aws, &name);
    let ec2 = aws.ec2();
    let authorize = || {
        aws.run(
            ec2.authorize_security_group_ingress()
                .group_id(&group)
                .ip_protocol("tcp")
                .from_port(443)
                .to_port(443)
                .cidr_ip("10.0.0.0/8")
                .send(),
        )
    };
    assert_eq!(code(authorize()), "InvalidGroup.NotFound");
    aws.wait(seconds(10));
    authorize().expect("visible once the window passed");

    // A load balancer used the group: after its delete, its interfaces linger for minutes.
    let elb = aws.elbv2();
    let balancer = aws
        .run(elb.create_load_balancer().name(&name).set_subnets(Some(subnets)).security_groups(&group).send())
        .unwrap();
    let arn = balancer.load_balancers()[0].load_balancer_arn().unwrap().to_string();
    let state = |aws: &Aws| {
        let described = aws.run(elb.describe_load_balancers().load_balancer_arns(&arn).send()).unwrap();
        described.load_balancers()[0].state().unwrap().code().unwrap().as_str().to_string()
    };
    assert_eq!(state(&aws), "provisioning");
    aws.wait(minutes(3));
    assert_eq!(state(&aws), "active");
    aws.run(elb.delete_load_balancer().load_balancer_arn(&arn).send()).unwrap();
    assert_eq!(code(aws.run(ec2.delete_security_group().group_id(&group).send())), "DependencyViolation");
    aws.wait(minutes(3));
    aws.run(ec2.delete_security_group().group_id(&group).send()).expect("deleted once the interfaces are gone");
    assert!(aws.proxy.met("ec2.group-in-use-while-interfaces-linger") >= 1);
    assert!(aws.proxy.met("elbv2.load-balancer-provisioning") >= 1);
}

#[test]
fn a_group_another_group_names_cannot_be_deleted_until_the_rule_is_revoked() {
    let aws = Aws::paused();
    let name = unique_stack_name("sgref");
    let (vpc, _, app) = network(&aws, &name);
    let ec2 = aws.ec2();
    let database = aws
        .run(ec2.create_security_group().group_name(format!("{name}-db")).description("d").vpc_id(&vpc).send())
        .unwrap();
    let database = database.group_id().unwrap().to_string();
    aws.wait(seconds(10));
    let from_app = aws_sdk_ec2::types::IpPermission::builder()
        .ip_protocol("tcp")
        .from_port(5432)
        .to_port(5432)
        .user_id_group_pairs(aws_sdk_ec2::types::UserIdGroupPair::builder().group_id(&app).build())
        .build();
    aws.run(ec2.authorize_security_group_ingress().group_id(&database).ip_permissions(from_app.clone()).send())
        .unwrap();
    assert_eq!(code(aws.run(ec2.delete_security_group().group_id(&app).send())), "DependencyViolation");
    aws.run(ec2.revoke_security_group_ingress().group_id(&database).ip_permissions(from_app).send()).unwrap();
    aws.run(ec2.delete_security_group().group_id(&app).send()).expect("no longer named");
    assert_eq!(aws.proxy.met("ec2.group-referenced-by-another"), 1);
}

#[test]
fn a_new_network_is_not_found_at_once_and_a_nat_gateway_takes_its_time() {
    let aws = Aws::paused();
    let ec2 = aws.ec2();
    let vpc = aws
        .run(ec2.create_vpc().cidr_block("10.77.0.0/16").send())
        .unwrap()
        .vpc()
        .unwrap()
        .vpc_id()
        .unwrap()
        .to_string();
    let subnet = || aws.run(ec2.create_subnet().vpc_id(&vpc).cidr_block("10.77.1.0/24").send());
    assert_eq!(code(subnet()), "InvalidVpcID.NotFound");
    aws.wait(seconds(10));
    let subnet = subnet().unwrap().subnet().unwrap().subnet_id().unwrap().to_string();
    let allocation = aws.run(ec2.allocate_address().domain(aws_sdk_ec2::types::DomainType::Vpc).send()).unwrap();
    let allocation = allocation.allocation_id().unwrap().to_string();
    aws.wait(seconds(10));
    let nat = aws.run(ec2.create_nat_gateway().subnet_id(&subnet).allocation_id(&allocation).send()).unwrap();
    let nat = nat.nat_gateway().unwrap().nat_gateway_id().unwrap().to_string();
    aws.wait(seconds(10));
    let state = |aws: &Aws| {
        let described = aws.run(ec2.describe_nat_gateways().nat_gateway_ids(&nat).send()).unwrap();
        described.nat_gateways()[0].state().unwrap().as_str().to_string()
    };
    assert_eq!(state(&aws), "pending");
    aws.wait(minutes(2));
    assert_eq!(state(&aws), "available");
    aws.run(ec2.delete_nat_gateway().nat_gateway_id(&nat).send()).unwrap();
    assert_eq!(state(&aws), "deleting");
    assert_eq!(code(aws.run(ec2.release_address().allocation_id(&allocation).send())), "InvalidIPAddress.InUse");
    assert_eq!(code(aws.run(ec2.delete_subnet().subnet_id(&subnet).send())), "DependencyViolation");
    aws.wait(minutes(1));
    assert_eq!(state(&aws), "deleted");
    aws.run(ec2.release_address().allocation_id(&allocation).send()).expect("released once the gateway is gone");
    aws.run(ec2.delete_subnet().subnet_id(&subnet).send()).expect("deleted once the gateway is gone");
    assert_eq!(aws.proxy.met("ec2.network-not-found-after-create"), 1);
    assert_eq!(aws.proxy.met("ec2.network-in-use"), 2);
}

#[test]
fn a_new_bucket_is_missing_at_once_and_a_deleted_name_is_not_free_at_once() {
    let aws = Aws::paused();
    let s3 = aws.s3();
    let bucket = unique_stack_name("profile-bucket");
    aws.run(s3.create_bucket().bucket(&bucket).send()).unwrap();
    let versioning = aws_sdk_s3::types::VersioningConfiguration::builder()
        .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
        .build();
    let put =
        || aws.run(s3.put_bucket_versioning().bucket(&bucket).versioning_configuration(versioning.clone()).send());
    assert_eq!(code(put()), "NoSuchBucket");
    aws.wait(seconds(10));
    // Answers the profile leaves alone pass as they are: a HEAD's length is the object's.
    aws.run(s3.put_object().bucket(&bucket).key("k").body(b"hello".to_vec().into()).send()).unwrap();
    assert_eq!(aws.run(s3.head_object().bucket(&bucket).key("k").send()).unwrap().content_length(), Some(5));
    aws.run(s3.delete_object().bucket(&bucket).key("k").send()).unwrap();
    put().expect("visible once the window passed");
    aws.run(s3.delete_bucket().bucket(&bucket).send()).unwrap();
    assert_eq!(code(aws.run(s3.create_bucket().bucket(&bucket).send())), "OperationAborted");
    aws.wait(minutes(1));
    aws.run(s3.create_bucket().bucket(&bucket).send()).expect("the name is free again");
}

#[test]
fn a_database_goes_creating_backing_up_available_and_deleting_then_gone() {
    let aws = Aws::paused();
    let rds = aws.rds();
    let id = unique_stack_name("db");
    let (_, subnets, _) = network(&aws, &id);
    aws.run(
        rds.create_db_subnet_group()
            .db_subnet_group_name(&id)
            .db_subnet_group_description("d")
            .set_subnet_ids(Some(subnets))
            .send(),
    )
    .unwrap();
    aws.run(
        rds.create_db_instance()
            .db_instance_identifier(&id)
            .db_instance_class("db.t3.micro")
            .engine("postgres")
            .master_username("app")
            .master_user_password("a-long-password")
            .allocated_storage(20)
            .db_subnet_group_name(&id)
            .send(),
    )
    .unwrap();
    let describe = |aws: &Aws| aws.run(rds.describe_db_instances().db_instance_identifier(&id).send());
    let status = |aws: &Aws| describe(aws).unwrap().db_instances()[0].db_instance_status().unwrap().to_string();
    let first = describe(&aws).unwrap();
    assert_eq!(first.db_instances()[0].db_instance_status(), Some("creating"));
    assert!(first.db_instances()[0].endpoint().is_none(), "no endpoint while creating");
    aws.wait(minutes(5));
    assert_eq!(status(&aws), "backing-up");
    aws.wait(minutes(2));
    assert_eq!(status(&aws), "available");
    aws.run(rds.modify_db_instance().db_instance_identifier(&id).allocated_storage(30).apply_immediately(true).send())
        .unwrap();
    assert_eq!(status(&aws), "modifying");
    aws.wait(minutes(2));
    aws.run(rds.delete_db_instance().db_instance_identifier(&id).skip_final_snapshot(true).send()).unwrap();
    assert_eq!(status(&aws), "deleting");
    assert_eq!(
        code(aws.run(rds.delete_db_subnet_group().db_subnet_group_name(&id).send())),
        "InvalidDBSubnetGroupStateFault"
    );
    aws.wait(minutes(4));
    assert_eq!(code(describe(&aws)), "DBInstanceNotFound");
    aws.run(rds.delete_db_subnet_group().db_subnet_group_name(&id).send()).expect("free once the instance is gone");
}

#[test]
fn a_cache_is_modified_by_the_profile_and_its_delete_finishes() {
    let aws = Aws::paused();
    let ec = aws.elasticache();
    let id = unique_stack_name("cache");
    let (_, subnets, group) = network(&aws, &id);
    aws.run(
        ec.create_cache_subnet_group()
            .cache_subnet_group_name(&id)
            .cache_subnet_group_description("d")
            .set_subnet_ids(Some(subnets))
            .send(),
    )
    .unwrap();
    aws.run(
        ec.create_replication_group()
            .replication_group_id(&id)
            .replication_group_description("d")
            .engine("redis")
            .cache_node_type("cache.t3.micro")
            .num_cache_clusters(1)
            .cache_subnet_group_name(&id)
            .security_group_ids(&group)
            .send(),
    )
    .unwrap();
    let describe = |aws: &Aws| aws.run(ec.describe_replication_groups().replication_group_id(&id).send());
    let read = |aws: &Aws| describe(aws).unwrap().replication_groups()[0].clone();
    assert_eq!(read(&aws).status(), Some("creating"));
    let modify = || {
        aws.run(
            ec.modify_replication_group()
                .replication_group_id(&id)
                .cache_node_type("cache.t3.small")
                .apply_immediately(true)
                .send(),
        )
    };
    assert_eq!(code(modify()), "InvalidReplicationGroupState");
    aws.wait(minutes(6));
    assert_eq!(modify().unwrap().replication_group().unwrap().status(), Some("modifying"));
    aws.wait(minutes(3));
    let group_now = read(&aws);
    assert_eq!((group_now.status(), group_now.cache_node_type()), (Some("available"), Some("cache.t3.small")));
    aws.run(ec.increase_replica_count().replication_group_id(&id).new_replica_count(2).apply_immediately(true).send())
        .unwrap();
    aws.wait(minutes(3));
    assert_eq!(read(&aws).member_clusters().len(), 3, "a primary and two replicas");
    aws.run(ec.decrease_replica_count().replication_group_id(&id).new_replica_count(1).apply_immediately(true).send())
        .unwrap();
    aws.wait(minutes(3));
    assert_eq!(read(&aws).member_clusters().len(), 2);
    aws.run(ec.delete_replication_group().replication_group_id(&id).send()).unwrap();
    assert_eq!(read(&aws).status(), Some("deleting"));
    let delete_subnet_group = || aws.run(ec.delete_cache_subnet_group().cache_subnet_group_name(&id).send());
    assert_eq!(code(delete_subnet_group()), "CacheSubnetGroupInUse");
    aws.wait(minutes(4));
    assert_eq!(code(describe(&aws)), "ReplicationGroupNotFoundFault");
    delete_subnet_group().expect("deleted, as AWS does");
    assert_eq!(
        code(aws.run(ec.describe_cache_subnet_groups().cache_subnet_group_name(&id).send())),
        "CacheSubnetGroupNotFoundFault"
    );
}

/// A cluster, a task definition naming a new role, and a service in the default VPC.
fn ecs_world(aws: &Aws, name: &str, command: &[&str]) -> String {
    let (ecs, iam) = (aws.ecs(), aws.iam());
    let (_, subnets, group) = network(aws, name);
    aws.wait(seconds(10));
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ecs-tasks.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    let role = aws.run(iam.create_role().role_name(name).assume_role_policy_document(trust).send()).unwrap();
    let role = role.role().unwrap().arn().to_string();
    // Tagged: the emulator's tagging API fails while an untagged cluster exists (docs/emulator.md).
    let tag = aws_sdk_ecs::types::Tag::builder().key("purpose").value("aws-profile").build();
    aws.run(ecs.create_cluster().cluster_name(name).tags(tag.clone()).send()).unwrap();
    let container = aws_sdk_ecs::types::ContainerDefinition::builder()
        .name("app")
        .image("nginx")
        .cpu(256)
        .memory(512)
        .set_command(Some(command.iter().map(|w| w.to_string()).collect()))
        .build();
    aws.run(
        ecs.register_task_definition()
            .family(name)
            .container_definitions(container)
            .requires_compatibilities(aws_sdk_ecs::types::Compatibility::Fargate)
            .network_mode(aws_sdk_ecs::types::NetworkMode::Awsvpc)
            .cpu("256")
            .memory("512")
            .execution_role_arn(&role)
            .tags(tag.clone())
            .send(),
    )
    .unwrap();
    let network = aws_sdk_ecs::types::NetworkConfiguration::builder()
        .awsvpc_configuration(
            aws_sdk_ecs::types::AwsVpcConfiguration::builder()
                .set_subnets(Some(subnets))
                .security_groups(group)
                .build()
                .unwrap(),
        )
        .build();
    let create = || {
        aws.run(
            ecs.create_service()
                .cluster(name)
                .service_name(name)
                .task_definition(name)
                .desired_count(2)
                .launch_type(aws_sdk_ecs::types::LaunchType::Fargate)
                .network_configuration(network.clone())
                .tags(tag.clone())
                .send(),
        )
    };
    assert_eq!(code(create()), "ClusterNotFoundException");
    aws.wait(seconds(10));
    assert_eq!(code(create()), "InvalidParameterException", "the role cannot be assumed yet");
    aws.wait(seconds(5));
    create().expect("the role is assumable");
    name.to_string()
}

#[test]
fn a_service_rolls_out_drains_and_keeps_its_cluster_until_drained() {
    let aws = Aws::paused();
    let ecs = aws.ecs();
    let name = unique_stack_name("svc");
    let cluster = ecs_world(&aws, &name, &["nginx"]);
    let service = |aws: &Aws| {
        let described = aws.run(ecs.describe_services().cluster(&cluster).services(&name).send()).unwrap();
        described.services()[0].clone()
    };
    let rollout = |service: &aws_sdk_ecs::types::Service| {
        let primary = service.deployments().iter().find(|d| d.status() == Some("PRIMARY")).unwrap();
        (primary.rollout_state().map(|s| s.as_str().to_string()), service.running_count(), service.deployments().len())
    };
    let first = service(&aws);
    assert_eq!(rollout(&first).0.as_deref(), Some("IN_PROGRESS"));
    assert!(first.running_count() < 2);
    aws.wait(minutes(3));
    assert_eq!(rollout(&service(&aws)), (Some("COMPLETED".into()), 2, 1));
    // A desired count change alone is a new deployment too.
    aws.run(ecs.update_service().cluster(&cluster).service(&name).desired_count(3).send()).unwrap();
    let during = service(&aws);
    assert_eq!((rollout(&during).0.as_deref(), during.deployments().len()), (Some("IN_PROGRESS"), 2));
    aws.wait(minutes(3));
    assert_eq!(rollout(&service(&aws)), (Some("COMPLETED".into()), 3, 1));
    aws.run(ecs.update_service().cluster(&cluster).service(&name).desired_count(0).send()).unwrap();
    aws.run(ecs.delete_service().cluster(&cluster).service(&name).send()).unwrap();
    assert_eq!(service(&aws).status(), Some("DRAINING"));
    assert_eq!(code(aws.run(ecs.delete_cluster().cluster(&cluster).send())), "ClusterContainsServicesException");
    aws.wait(minutes(3));
    assert_eq!(service(&aws).status(), Some("INACTIVE"));
    aws.run(ecs.delete_cluster().cluster(&cluster).send()).expect("deleted once the service drained");
    assert!(aws.proxy.met("ecs.deployment-in-progress") >= 2);
    assert_eq!(aws.proxy.met("iam.role-not-assumable-after-create"), 1);
}

#[test]
fn a_fargate_task_runs_and_stops_with_the_exit_code_its_command_chose() {
    let aws = Aws::paused();
    let ecs = aws.ecs();
    let name = unique_stack_name("task");
    let cluster = ecs_world(&aws, &name, &["sh", "-c", "./migrate && exit 3"]);
    let run = || {
        let task = aws
            .run(
                ecs.run_task()
                    .cluster(&cluster)
                    .task_definition(&name)
                    .launch_type(aws_sdk_ecs::types::LaunchType::Fargate)
                    .send(),
            )
            .unwrap();
        task.tasks()[0].task_arn().unwrap().to_string()
    };
    let task = run();
    let describe = |aws: &Aws, task: &str| {
        let described = aws.run(ecs.describe_tasks().cluster(&cluster).tasks(task).send()).unwrap();
        described.tasks()[0].clone()
    };
    assert_eq!(describe(&aws, &task).last_status(), Some("PROVISIONING"));
    aws.wait(minutes(1));
    assert_eq!(describe(&aws, &task).last_status(), Some("RUNNING"));
    aws.wait(minutes(1));
    let stopped = describe(&aws, &task);
    assert_eq!(stopped.last_status(), Some("STOPPED"));
    assert_eq!(stopped.containers()[0].exit_code(), Some(3));
    assert_eq!(stopped.stopped_reason(), Some("Essential container in task exited"));
    // A test can choose the outcome per family instead.
    aws.profile().set_task_outcome(&name, TaskOutcome::fails_to_start("CannotPullContainerError: pull access denied"));
    let task = run();
    aws.wait(minutes(1));
    let failed = describe(&aws, &task);
    assert_eq!(
        (failed.last_status(), failed.stop_code().map(|c| c.as_str())),
        (Some("STOPPED"), Some("TaskFailedToStart"))
    );
    assert!(failed.stopped_reason().unwrap().starts_with("CannotPullContainerError"));
    assert!(aws.proxy.met("complete.ecs.run-task") >= 5);
}

#[test]
fn a_certificate_waits_for_its_record_and_is_not_seen_at_once_nor_freed_at_once() {
    let aws = Aws::paused();
    let (acm, route53, elb) = (aws.acm(), aws.route53(), aws.elbv2());
    let name = unique_stack_name("cert");
    let domain = format!("{name}.example.com");
    let arn = aws
        .run(
            acm.request_certificate()
                .domain_name(&domain)
                .validation_method(aws_sdk_acm::types::ValidationMethod::Dns)
                .send(),
        )
        .unwrap();
    let arn = arn.certificate_arn().unwrap().to_string();
    let describe = |aws: &Aws| {
        aws.run(acm.describe_certificate().certificate_arn(&arn).send()).unwrap().certificate().unwrap().clone()
    };
    let status = |aws: &Aws| describe(aws).status().unwrap().as_str().to_string();
    assert_eq!(status(&aws), "PENDING_VALIDATION");
    aws.wait(minutes(10));
    assert_eq!(status(&aws), "PENDING_VALIDATION", "no validation record yet");
    // A listener cannot take it yet.
    let (vpc, subnets, group) = network(&aws, &name);
    aws.wait(seconds(10));
    let balancer = aws
        .run(elb.create_load_balancer().name(&name).set_subnets(Some(subnets)).security_groups(&group).send())
        .unwrap();
    let balancer = balancer.load_balancers()[0].load_balancer_arn().unwrap().to_string();
    let target_group = aws
        .run(
            elb.create_target_group()
                .name(&name)
                .port(80)
                .protocol(aws_sdk_elasticloadbalancingv2::types::ProtocolEnum::Http)
                .vpc_id(vpc)
                .target_type(aws_sdk_elasticloadbalancingv2::types::TargetTypeEnum::Ip)
                .send(),
        )
        .unwrap();
    let target_group = target_group.target_groups()[0].target_group_arn().unwrap().to_string();
    let forward = aws_sdk_elasticloadbalancingv2::types::Action::builder()
        .r#type(aws_sdk_elasticloadbalancingv2::types::ActionTypeEnum::Forward)
        .target_group_arn(&target_group)
        .build();
    let listen = || {
        aws.run(
            elb.create_listener()
                .load_balancer_arn(&balancer)
                .port(443)
                .protocol(aws_sdk_elasticloadbalancingv2::types::ProtocolEnum::Https)
                .certificates(
                    aws_sdk_elasticloadbalancingv2::types::Certificate::builder().certificate_arn(&arn).build(),
                )
                .default_actions(forward.clone())
                .send(),
        )
    };
    assert_eq!(code(listen()), "CertificateNotFound");
    // The validation record is written: issued minutes later, seen by ELB moments after that.
    let record = describe(&aws).domain_validation_options()[0].resource_record().unwrap().clone();
    let zone = aws.run(route53.create_hosted_zone().name("example.com").caller_reference(&name).send()).unwrap();
    let zone = zone.hosted_zone().unwrap().id().to_string();
    let change = aws_sdk_route53::types::Change::builder()
        .action(aws_sdk_route53::types::ChangeAction::Create)
        .resource_record_set(
            aws_sdk_route53::types::ResourceRecordSet::builder()
                .name(record.name())
                .r#type(aws_sdk_route53::types::RrType::Cname)
                .ttl(300)
                .resource_records(
                    aws_sdk_route53::types::ResourceRecord::builder().value(record.value()).build().unwrap(),
                )
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    let batch = aws_sdk_route53::types::ChangeBatch::builder().changes(change).build().unwrap();
    aws.run(route53.change_resource_record_sets().hosted_zone_id(&zone).change_batch(batch).send()).unwrap();
    assert_eq!(status(&aws), "PENDING_VALIDATION");
    aws.wait(minutes(2));
    assert_eq!(status(&aws), "ISSUED");
    assert_eq!(code(listen()), "CertificateNotFound", "issued moments ago");
    aws.wait(seconds(30));
    let listener = listen().expect("visible to the load balancer").listeners()[0].listener_arn().unwrap().to_string();
    // In use while the listener holds it, and for a while after.
    let delete = || aws.run(acm.delete_certificate().certificate_arn(&arn).send());
    assert_eq!(code(delete()), "ResourceInUseException");
    aws.run(elb.delete_listener().listener_arn(&listener).send()).unwrap();
    assert_eq!(code(delete()), "ResourceInUseException");
    assert_eq!(code(aws.run(elb.delete_target_group().target_group_arn(&target_group).send())), "ResourceInUse");
    aws.wait(minutes(2));
    delete().expect("free once released");
    aws.run(elb.delete_target_group().target_group_arn(&target_group).send()).expect("free once released");
    assert!(aws.proxy.met("acm.pending-validation") >= 3);
}

#[test]
fn listings_come_back_a_page_at_a_time_and_every_item_is_found() {
    let aws = Aws::start(ProfileOptions { page_size: 2, ..ProfileOptions::default() });
    let (logs, secrets, iam) = (aws.logs(), aws.secrets(), aws.iam());
    let prefix = unique_stack_name("/paged");
    let name = prefix.trim_start_matches('/').to_string();
    for n in 0..5 {
        aws.run(logs.create_log_group().log_group_name(format!("{prefix}/{n}")).send()).unwrap();
        aws.run(secrets.create_secret().name(format!("{name}-{n}")).secret_string("s").send()).unwrap();
        let trust = r#"{"Version":"2012-10-17","Statement":[]}"#;
        aws.run(
            iam.create_role()
                .role_name(format!("{name}-{n}"))
                .path(format!("/{name}/"))
                .assume_role_policy_document(trust)
                .send(),
        )
        .unwrap();
    }
    let groups: Vec<String> = aws.run(async {
        let mut pages = logs.describe_log_groups().log_group_name_prefix(&prefix).into_paginator().send();
        let mut names = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.unwrap();
            assert!(page.log_groups().len() <= 2);
            names.extend(page.log_groups().iter().map(|g| g.log_group_name().unwrap().to_string()));
        }
        names
    });
    assert_eq!(groups.len(), 5, "{groups:?}");
    let secret_names: Vec<String> = aws.run(async {
        let mut pages = secrets.list_secrets().into_paginator().send();
        let mut names = Vec::new();
        while let Some(page) = pages.next().await {
            names.extend(page.unwrap().secret_list().iter().filter_map(|s| s.name().map(str::to_string)));
        }
        names
    });
    assert_eq!(secret_names.iter().filter(|n| n.starts_with(&name)).count(), 5);
    let roles: Vec<String> = aws.run(async {
        let mut pages = iam.list_roles().path_prefix(format!("/{name}/")).into_paginator().send();
        let mut names = Vec::new();
        while let Some(page) = pages.next().await {
            names.extend(page.unwrap().roles().iter().map(|r| r.role_name().to_string()));
        }
        names
    });
    assert_eq!(roles.iter().filter(|r| r.starts_with(&name)).count(), 5, "{roles:?}");
    assert!(aws.proxy.met("any.paged-listings") >= 3 * 2, "every listing took more than one page");
}

#[test]
fn a_lost_answer_leaves_its_effect() {
    let aws = Aws::start(ProfileOptions { lost_responses: 1.0, ..ProfileOptions::default() });
    aws.profile().only(&["any.response-lost"]).unwrap();
    let name = unique_stack_name("/lost");
    let created = aws.run(aws.logs().create_log_group().log_group_name(&name).send());
    assert!(created.is_err(), "the caller never heard");
    assert_eq!(aws.proxy.met("any.response-lost"), 1);
    let found =
        crate::support::block_on(crate::support::logs().describe_log_groups().log_group_name_prefix(&name).send())
            .unwrap();
    assert_eq!(found.log_groups().len(), 1, "the emulator acted");
    // The retry meets its own success, as on AWS.
    aws.profile().disable("any.response-lost").unwrap();
    assert_eq!(
        code(aws.run(aws.logs().create_log_group().log_group_name(&name).send())),
        "ResourceAlreadyExistsException"
    );
}

fn distribution_config(reference: &str, enabled: bool) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><DistributionConfig xmlns=\"http://cloudfront.amazonaws.com/doc/2020-05-31/\"><CallerReference>{reference}</CallerReference><Origins><Quantity>1</Quantity><Items><Origin><Id>o1</Id><DomainName>b.s3.amazonaws.com</DomainName><OriginAccessControlId>{reference}-oac</OriginAccessControlId><S3OriginConfig><OriginAccessIdentity></OriginAccessIdentity></S3OriginConfig></Origin></Items></Origins><DefaultCacheBehavior><TargetOriginId>o1</TargetOriginId><ViewerProtocolPolicy>allow-all</ViewerProtocolPolicy></DefaultCacheBehavior><Comment>c</Comment><Enabled>{enabled}</Enabled></DistributionConfig>"
    )
}

#[test]
fn a_distribution_deploys_for_minutes_and_is_deleted_only_disabled_deployed_and_with_its_latest_etag() {
    let aws = Aws::paused();
    let cloudfront = aws.cloudfront();
    let reference = unique_stack_name("cdn");
    let (status, created_etag, body) =
        aws.cloudfront_raw("POST", "/2020-05-31/distribution", None, &distribution_config(&reference, true));
    assert_eq!(status, 200, "{body}");
    let id = body.split("<Id>").nth(1).and_then(|rest| rest.split('<').next()).expect("an id").to_string();
    let path = format!("/2020-05-31/distribution/{id}");
    let deployed = |aws: &Aws| aws.cloudfront_raw("GET", &path, None, "").2.contains("<Status>Deployed</Status>");
    assert!(!deployed(&aws), "InProgress after the create");
    aws.wait(minutes(5));
    assert!(deployed(&aws));
    let delete = |etag: &str| aws.run(cloudfront.delete_distribution().id(&id).if_match(etag).send());
    assert_eq!(code(delete(&created_etag)), "DistributionNotDisabled", "still enabled");
    // Disable it: a new version with a new ETag, InProgress again.
    let (status, disabled_etag, _) = aws.cloudfront_raw(
        "PUT",
        &format!("{path}/config"),
        Some(&created_etag),
        &distribution_config(&reference, false),
    );
    assert_eq!(status, 200);
    assert_ne!(disabled_etag, created_etag);
    assert_eq!(code(delete(&created_etag)), "PreconditionFailed", "the ETag of an earlier version");
    assert_eq!(code(delete(&disabled_etag)), "DistributionNotDisabled", "the disable has not deployed");
    let control = format!("{reference}-oac");
    let delete_control = || aws.run(cloudfront.delete_origin_access_control().id(&control).if_match("E1").send());
    assert_eq!(code(delete_control()), "OriginAccessControlInUse");
    aws.wait(minutes(5));
    assert!(deployed(&aws));
    delete(&disabled_etag).expect("disabled and deployed");
    assert_eq!(code(delete_control()), "OriginAccessControlInUse", "while the distribution is still deleting");
    aws.wait(minutes(2));
    assert_eq!(code(delete_control()), "OriginAccessControlInUse", "moments after its distribution went");
    aws.wait(seconds(30));
    assert_ne!(
        delete_control().err().and_then(|e| e.code().map(str::to_string)).as_deref(),
        Some("OriginAccessControlInUse")
    );
    assert!(aws.proxy.met("cloudfront.in-progress") >= 2);
}

#[test]
fn a_service_cannot_use_a_target_group_until_a_listener_forwards_to_it_for_a_while() {
    let aws = Aws::paused();
    let (ecs, elb) = (aws.ecs(), aws.elbv2());
    let name = unique_stack_name("tgsvc");
    let cluster = ecs_world(&aws, &name, &["nginx"]);
    let (vpc, subnets, group) = network(&aws, &format!("{name}-lb"));
    aws.wait(seconds(10));
    let target_group = aws
        .run(
            elb.create_target_group()
                .name(&name)
                .port(80)
                .protocol(aws_sdk_elasticloadbalancingv2::types::ProtocolEnum::Http)
                .vpc_id(vpc)
                .target_type(aws_sdk_elasticloadbalancingv2::types::TargetTypeEnum::Ip)
                .send(),
        )
        .unwrap();
    let target_group = target_group.target_groups()[0].target_group_arn().unwrap().to_string();
    let attach = || {
        let load_balancer = aws_sdk_ecs::types::LoadBalancer::builder()
            .target_group_arn(&target_group)
            .container_name("app")
            .container_port(80)
            .build();
        aws.run(ecs.update_service().cluster(&cluster).service(&name).load_balancers(load_balancer).send())
    };
    assert_eq!(code(attach()), "InvalidParameterException", "no listener forwards to it");
    let balancer = aws
        .run(elb.create_load_balancer().name(&name).set_subnets(Some(subnets)).security_groups(&group).send())
        .unwrap();
    let forward = aws_sdk_elasticloadbalancingv2::types::Action::builder()
        .r#type(aws_sdk_elasticloadbalancingv2::types::ActionTypeEnum::Forward)
        .target_group_arn(&target_group)
        .build();
    aws.run(
        elb.create_listener()
            .load_balancer_arn(balancer.load_balancers()[0].load_balancer_arn().unwrap())
            .port(80)
            .protocol(aws_sdk_elasticloadbalancingv2::types::ProtocolEnum::Http)
            .default_actions(forward)
            .send(),
    )
    .unwrap();
    assert_eq!(code(attach()), "InvalidParameterException", "the listener is moments old");
    aws.wait(seconds(10));
    attach().expect("associated once the listener has settled");
    assert_eq!(aws.proxy.met("ecs.target-group-without-load-balancer"), 2);
}
