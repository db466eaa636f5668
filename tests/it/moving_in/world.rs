//! Deploys, with the AWS SDK as Terraform's AWS provider would, the resources the Terraform state
//! fixtures describe (the same names, the split sub-resources: a bucket and its versioning, access
//! block and policy are separate calls), and fills the fixture's `{{placeholders}}` with the ids
//! AWS gave them.

use std::collections::BTreeMap;

use aws_sdk_ec2::types::{Filter, IpPermission, IpRange, UserIdGroupPair};
use aws_sdk_elasticloadbalancingv2::types::{Action, ActionTypeEnum, TargetTypeEnum};

use crate::support::{block_on, ec2, ecr, ecs, elbv2, iam, logs, rds, s3, secretsmanager};

pub const ACCOUNT: &str = "123456789012";
pub const DB_PASSWORD: &str = "Tf-state-password-42";
pub const API_KEY: &str = "api-key-from-terraform";

/// Placeholder → value.
#[derive(Debug, Default)]
pub struct Ids(BTreeMap<&'static str, String>);

impl Ids {
    fn set(&mut self, key: &'static str, value: impl Into<String>) {
        self.0.insert(key, value.into());
    }

    pub fn get(&self, key: &str) -> &str {
        self.0.get(key).map(String::as_str).unwrap_or_else(|| panic!("no id `{key}`"))
    }

    /// The fixture with every `{{key}}` replaced.
    pub fn fill(&self, template: &str) -> String {
        let mut text = template.to_string();
        for (key, value) in &self.0 {
            text = text.replace(&format!("{{{{{key}}}}}"), value);
        }
        assert!(!text.contains("{{"), "a placeholder is left: {}", &text[text.find("{{").unwrap()..][..40]);
        text
    }
}

fn ip_rule(port: i32, cidr: &str) -> IpPermission {
    IpPermission::builder()
        .ip_protocol("tcp")
        .from_port(port)
        .to_port(port)
        .ip_ranges(IpRange::builder().cidr_ip(cidr).build())
        .build()
}

fn group_rule(port: i32, group: &str) -> IpPermission {
    IpPermission::builder()
        .ip_protocol("tcp")
        .from_port(port)
        .to_port(port)
        .user_id_group_pairs(UserIdGroupPair::builder().group_id(group).build())
        .build()
}

async fn security_group(name: &str, description: &str, vpc: &str, rule: Option<IpPermission>) -> String {
    let id = ec2()
        .create_security_group()
        .group_name(name)
        .description(description)
        .vpc_id(vpc)
        .send()
        .await
        .expect("CreateSecurityGroup")
        .group_id
        .expect("group id");
    if let Some(rule) = rule {
        ec2().authorize_security_group_ingress().group_id(&id).ip_permissions(rule).send().await.expect("ingress");
    }
    id
}

async fn default_network(ids: &mut Ids) {
    let vpcs = ec2()
        .describe_vpcs()
        .filters(Filter::builder().name("isDefault").values("true").build())
        .send()
        .await
        .expect("DescribeVpcs");
    let vpc = vpcs.vpcs()[0].vpc_id().expect("vpc id").to_string();
    let subnets = ec2()
        .describe_subnets()
        .filters(Filter::builder().name("vpc-id").values(&vpc).build())
        .send()
        .await
        .expect("DescribeSubnets");
    let mut by_zone: BTreeMap<String, String> = BTreeMap::new();
    for subnet in subnets.subnets() {
        by_zone
            .entry(subnet.availability_zone().unwrap_or_default().to_string())
            .or_insert_with(|| subnet.subnet_id().unwrap_or_default().to_string());
    }
    let mut zones = by_zone.into_values();
    ids.set("vpc", vpc);
    ids.set("subnet_a", zones.next().expect("a subnet"));
    ids.set("subnet_b", zones.next().expect("a second subnet"));
}

async fn bucket(name: &str) {
    s3().create_bucket().bucket(name).send().await.expect("CreateBucket");
    let all = aws_sdk_s3::types::PublicAccessBlockConfiguration::builder()
        .block_public_acls(true)
        .ignore_public_acls(true)
        .block_public_policy(true)
        .restrict_public_buckets(true)
        .build();
    s3().put_public_access_block().bucket(name).public_access_block_configuration(all).send().await.expect("PAB");
}

async fn load_balancer(ids: &mut Ids, name: &str, group: &str, target_port: i32, health: (&str, i32, i32)) {
    let balancer = elbv2()
        .create_load_balancer()
        .name(name)
        .subnets(ids.get("subnet_a"))
        .subnets(ids.get("subnet_b"))
        .security_groups(group)
        .send()
        .await
        .expect("CreateLoadBalancer");
    let balancer = &balancer.load_balancers()[0];
    let target_group = elbv2()
        .create_target_group()
        .name(name.replace("-alb", "-tg"))
        .port(target_port)
        .protocol(aws_sdk_elasticloadbalancingv2::types::ProtocolEnum::Http)
        .vpc_id(ids.get("vpc"))
        .target_type(TargetTypeEnum::Ip)
        .health_check_path(health.0)
        .health_check_interval_seconds(health.1)
        .healthy_threshold_count(health.2)
        .unhealthy_threshold_count(health.2)
        .matcher(aws_sdk_elasticloadbalancingv2::types::Matcher::builder().http_code("200").build())
        .send()
        .await
        .expect("CreateTargetGroup");
    let target_group_arn = target_group.target_groups()[0].target_group_arn().expect("arn").to_string();
    let forward = Action::builder().r#type(ActionTypeEnum::Forward).target_group_arn(&target_group_arn).build();
    let listener = elbv2()
        .create_listener()
        .load_balancer_arn(balancer.load_balancer_arn().expect("arn"))
        .port(80)
        .protocol(aws_sdk_elasticloadbalancingv2::types::ProtocolEnum::Http)
        .default_actions(forward)
        .send()
        .await
        .expect("CreateListener");
    ids.set("alb_arn", balancer.load_balancer_arn().expect("arn"));
    ids.set("alb_dns", balancer.dns_name().expect("dns"));
    ids.set("tg_arn", target_group_arn);
    ids.set("listener_arn", listener.listeners()[0].listener_arn().expect("arn"));
}

async fn role(name: &str) -> String {
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ecs-tasks.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    let role = iam().create_role().role_name(name).assume_role_policy_document(trust).send().await.expect("CreateRole");
    role.role.expect("role").arn
}

/// The seed's web app as its Terraform made it: a static front end (bucket, CloudFront with an
/// origin access control), a Go API on ECS Fargate behind a load balancer, MySQL on RDS, in the
/// default VPC. Returns the ids for `flat.tfstate`.
pub fn deploy_flat(p: &str) -> Ids {
    block_on(async {
        let mut ids = Ids::default();
        ids.set("p", p);
        ids.set("account", ACCOUNT);
        ids.set("db_password", DB_PASSWORD);
        default_network(&mut ids).await;
        let vpc = ids.get("vpc").to_string();
        let alb = security_group(&format!("{p}-alb"), "load balancer", &vpc, Some(ip_rule(80, "0.0.0.0/0"))).await;
        let ecs_group = security_group(&format!("{p}-ecs"), "ecs tasks", &vpc, Some(group_rule(8080, &alb))).await;
        let db = security_group(&format!("{p}-db"), "database", &vpc, Some(group_rule(3306, &ecs_group))).await;
        ids.set("sg_alb", alb.clone());
        ids.set("sg_ecs", ecs_group.clone());
        ids.set("sg_db", db.clone());

        let webapp = format!("{p}-webapp");
        bucket(&webapp).await;
        let versioning = aws_sdk_s3::types::VersioningConfiguration::builder()
            .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
            .build();
        s3().put_bucket_versioning()
            .bucket(&webapp)
            .versioning_configuration(versioning)
            .send()
            .await
            .expect("versioning");
        let tag = aws_sdk_s3::types::Tag::builder().key("Project").value("empatica").build().unwrap();
        let tagging = aws_sdk_s3::types::Tagging::builder().tag_set(tag).build().unwrap();
        s3().put_bucket_tagging().bucket(&webapp).tagging(tagging).send().await.expect("tagging");
        let (oac, distribution, domain) = super::cloudfront_world::distribution(p, &webapp).await;
        ids.set("oac", oac);
        ids.set("distribution", distribution.clone());
        ids.set("distribution_domain", domain);
        let policy = format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"AllowCloudFront","Effect":"Allow","Principal":{{"Service":"cloudfront.amazonaws.com"}},"Action":"s3:GetObject","Resource":"arn:aws:s3:::{webapp}/*","Condition":{{"StringEquals":{{"AWS:SourceArn":"arn:aws:cloudfront::{ACCOUNT}:distribution/{distribution}"}}}}}}]}}"#
        );
        s3().put_bucket_policy().bucket(&webapp).policy(policy).send().await.expect("PutBucketPolicy");

        ecr()
            .create_repository()
            .repository_name(format!("{p}-be"))
            .image_scanning_configuration(
                aws_sdk_ecr::types::ImageScanningConfiguration::builder().scan_on_push(true).build(),
            )
            .send()
            .await
            .expect("CreateRepository");
        let execution = role(&format!("{p}-ecs-execution")).await;
        iam()
            .attach_role_policy()
            .role_name(format!("{p}-ecs-execution"))
            .policy_arn("arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy")
            .send()
            .await
            .expect("AttachRolePolicy");
        let log_group = format!("/ecs/{p}-be");
        logs().create_log_group().log_group_name(&log_group).send().await.expect("CreateLogGroup");
        logs().put_retention_policy().log_group_name(&log_group).retention_in_days(14).send().await.expect("retention");

        load_balancer(&mut ids, &format!("{p}-alb"), &alb, 8080, ("/health", 30, 3)).await;
        // Tagged (as a team's `default_tags` would): the emulator's tagging API fails while an
        // untagged ECS cluster exists (docs/emulator.md), which other tests would meet.
        ecs()
            .create_cluster()
            .cluster_name(format!("{p}-cluster"))
            .tags(aws_sdk_ecs::types::Tag::builder().key("Project").value("empatica").build())
            .send()
            .await
            .expect("CreateCluster");
        let container = aws_sdk_ecs::types::ContainerDefinition::builder()
            .name("be")
            .image(format!("{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/{p}-be:latest"))
            .essential(true)
            .port_mappings(aws_sdk_ecs::types::PortMapping::builder().container_port(8080).host_port(8080).build())
            .build();
        let task = ecs()
            .register_task_definition()
            .family(format!("{p}-be-task"))
            .requires_compatibilities(aws_sdk_ecs::types::Compatibility::Fargate)
            .network_mode(aws_sdk_ecs::types::NetworkMode::Awsvpc)
            .cpu("256")
            .memory("512")
            .execution_role_arn(&execution)
            .container_definitions(container)
            .send()
            .await
            .expect("RegisterTaskDefinition");
        let task_arn = task.task_definition.expect("task").task_definition_arn.expect("arn");
        let network = aws_sdk_ecs::types::AwsVpcConfiguration::builder()
            .subnets(ids.get("subnet_a"))
            .subnets(ids.get("subnet_b"))
            .security_groups(&ecs_group)
            .assign_public_ip(aws_sdk_ecs::types::AssignPublicIp::Enabled)
            .build()
            .unwrap();
        ecs()
            .create_service()
            .cluster(format!("{p}-cluster"))
            .service_name(format!("{p}-be"))
            .task_definition(&task_arn)
            .desired_count(3)
            .launch_type(aws_sdk_ecs::types::LaunchType::Fargate)
            .network_configuration(
                aws_sdk_ecs::types::NetworkConfiguration::builder().awsvpc_configuration(network).build(),
            )
            .load_balancers(
                aws_sdk_ecs::types::LoadBalancer::builder()
                    .target_group_arn(ids.get("tg_arn"))
                    .container_name("be")
                    .container_port(8080)
                    .build(),
            )
            .send()
            .await
            .expect("CreateService");

        rds()
            .create_db_subnet_group()
            .db_subnet_group_name(format!("{p}-db"))
            .db_subnet_group_description("Managed by Terraform")
            .subnet_ids(ids.get("subnet_a"))
            .subnet_ids(ids.get("subnet_b"))
            .send()
            .await
            .expect("CreateDBSubnetGroup");
        rds()
            .create_db_instance()
            .db_instance_identifier(format!("{p}-db"))
            .engine("mysql")
            .engine_version("8.0.35")
            .db_instance_class("db.t3.micro")
            .allocated_storage(20)
            .db_name("empatica")
            .master_username("admin")
            .master_user_password(DB_PASSWORD)
            .db_subnet_group_name(format!("{p}-db"))
            .vpc_security_group_ids(&db)
            .storage_encrypted(true)
            .backup_retention_period(7)
            .publicly_accessible(false)
            .tags(aws_sdk_rds::types::Tag::builder().key("Project").value("empatica").build())
            .send()
            .await
            .expect("CreateDBInstance");
        ids
    })
}

/// A team's later Terraform: its own VPC in a `network` module, the load balancer in a `web`
/// module, roles by `for_each`, log groups by `count`, a bucket in a module instance, a secret.
pub fn deploy_modules(p: &str) -> Ids {
    block_on(async {
        let mut ids = Ids::default();
        ids.set("p", p);
        ids.set("account", ACCOUNT);
        ids.set("api_key", API_KEY);
        let vpc = ec2().create_vpc().cidr_block("10.20.0.0/16").send().await.expect("CreateVpc");
        let vpc = vpc.vpc.expect("vpc").vpc_id.expect("id");
        let mut subnets = Vec::new();
        for (cidr, zone) in [("10.20.0.0/24", "us-east-1a"), ("10.20.1.0/24", "us-east-1b")] {
            let subnet = ec2()
                .create_subnet()
                .vpc_id(&vpc)
                .cidr_block(cidr)
                .availability_zone(zone)
                .send()
                .await
                .expect("CreateSubnet");
            subnets.push(subnet.subnet.expect("subnet").subnet_id.expect("id"));
        }
        let gateway = ec2().create_internet_gateway().send().await.expect("CreateInternetGateway");
        let gateway = gateway.internet_gateway.expect("gateway").internet_gateway_id.expect("id");
        ec2().attach_internet_gateway().internet_gateway_id(&gateway).vpc_id(&vpc).send().await.expect("attach");
        ids.set("vpc", vpc.clone());
        ids.set("subnet_a", subnets[0].clone());
        ids.set("subnet_b", subnets[1].clone());
        ids.set("igw", gateway);
        let lb_group =
            security_group(&format!("{p}-lb"), "web load balancer", &vpc, Some(ip_rule(443, "0.0.0.0/0"))).await;
        ec2()
            .create_tags()
            .resources(&lb_group)
            .tags(aws_sdk_ec2::types::Tag::builder().key("Name").value(format!("{p}-lb")).build())
            .send()
            .await
            .expect("CreateTags");
        ids.set("sg_lb", lb_group.clone());
        load_balancer(&mut ids, &format!("{p}-web-alb"), &lb_group, 3000, ("/healthz", 15, 2)).await;
        elbv2()
            .modify_load_balancer_attributes()
            .load_balancer_arn(ids.get("alb_arn"))
            .attributes(
                aws_sdk_elasticloadbalancingv2::types::LoadBalancerAttribute::builder()
                    .key("idle_timeout.timeout_seconds")
                    .value("120")
                    .build(),
            )
            .send()
            .await
            .expect("idle timeout");
        // `aws_lb_listener_rule.api`: `/api/*` to the same group, as Terraform's `path_pattern` block sends it.
        let rule = elbv2()
            .create_rule()
            .listener_arn(ids.get("listener_arn"))
            .priority(10)
            .conditions(
                aws_sdk_elasticloadbalancingv2::types::RuleCondition::builder()
                    .field("path-pattern")
                    .path_pattern_config(
                        aws_sdk_elasticloadbalancingv2::types::PathPatternConditionConfig::builder()
                            .values("/api/*")
                            .build(),
                    )
                    .build(),
            )
            .actions(Action::builder().r#type(ActionTypeEnum::Forward).target_group_arn(ids.get("tg_arn")).build())
            .send()
            .await
            .expect("CreateRule");
        ids.set("rule_arn", rule.rules()[0].rule_arn().expect("arn"));
        elbv2()
            .modify_target_group_attributes()
            .target_group_arn(ids.get("tg_arn"))
            .attributes(
                aws_sdk_elasticloadbalancingv2::types::TargetGroupAttribute::builder()
                    .key("deregistration_delay.timeout_seconds")
                    .value("30")
                    .build(),
            )
            .send()
            .await
            .expect("deregistration delay");
        role(&format!("{p}-api")).await;
        role(&format!("{p}-worker")).await;
        iam()
            .put_role_policy()
            .role_name(format!("{p}-api"))
            .policy_name("logs")
            .policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"logs:PutLogEvents","Resource":"*"}]}"#)
            .send()
            .await
            .expect("PutRolePolicy");
        for (name, days) in [("api", 30), ("worker", 7)] {
            let group = format!("/{p}/{name}");
            logs().create_log_group().log_group_name(&group).send().await.expect("CreateLogGroup");
            logs()
                .put_retention_policy()
                .log_group_name(&group)
                .retention_in_days(days)
                .send()
                .await
                .expect("retention");
        }
        let secret = secretsmanager()
            .create_secret()
            .name(format!("{p}-api-key"))
            .description("API key")
            .secret_string(API_KEY)
            .send()
            .await
            .expect("CreateSecret");
        ids.set("secret_arn", secret.arn.expect("arn"));
        let assets = format!("{p}-assets");
        bucket(&assets).await;
        let website = aws_sdk_s3::types::WebsiteConfiguration::builder()
            .index_document(aws_sdk_s3::types::IndexDocument::builder().suffix("index.html").build().unwrap())
            .build();
        s3().put_bucket_website().bucket(&assets).website_configuration(website).send().await.expect("website");
        ids
    })
}
