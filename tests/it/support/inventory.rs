//! What of a stack exists, counted through each service's own listing — origin access controls and
//! task definition revisions included, which the tagging API alone would not show — read straight
//! from the emulator (never through a proxy: a check must see every page and nothing "not found
//! yet"). Objects are recognised by the names, tags and descriptions provision gives them.

use std::collections::BTreeMap;

use super::{
    acm_in, block_on, ec2, ecr, ecs, elasticache, elbv2, emulator_get, iam, logs, rds, route53, s3, secretsmanager,
};

/// The kinds [`count`] counts; `dns record` only with a zone.
pub const KINDS: &[&str] = &[
    "acm certificate",
    "cloudfront distribution",
    "db instance",
    "db subnet group",
    "dns record",
    "ecr repository",
    "ecs cluster",
    "ecs service",
    "iam role",
    "listener",
    "load balancer",
    "log group",
    "origin access control",
    "redis replication group",
    "s3 bucket",
    "secret",
    "security group",
    "target group",
    "task definition revision (active)",
    "vpc",
    "subnet",
    "route table",
    "internet gateway",
    "nat gateway",
    "elastic ip",
    "vpc endpoint",
];

/// Every object of `stack`, by kind, through each service's own listing; `zone` is a hosted zone
/// whose records (all but its NS and SOA) count as the stack's.
///
/// Not counted: cache subnet groups, which the emulator cannot delete (`DeleteCacheSubnetGroup` is
/// not implemented, see docs/emulator.md); a replication group the emulator keeps `deleting`
/// forever counts as gone.
pub fn count(stack: &str, zone: Option<&str>) -> BTreeMap<&'static str, usize> {
    let prefix = format!("{stack}-");
    let owner = format!("provision {stack} ");
    let named = |name: Option<&str>| name.unwrap_or("").starts_with(&prefix);
    let mut counts = BTreeMap::new();
    block_on(async {
        let buckets = s3().list_buckets().send().await.expect("ListBuckets");
        counts.insert("s3 bucket", buckets.buckets().iter().filter(|b| named(b.name())).count());

        let groups = ec2().describe_security_groups().send().await.expect("DescribeSecurityGroups");
        let ours = |tags: &[aws_sdk_ec2::types::Tag]| {
            tags.iter().any(|t| t.key() == Some("provision:stack") && t.value() == Some(stack))
        };
        counts.insert("security group", groups.security_groups().iter().filter(|g| ours(g.tags())).count());

        counts.extend(count_network(stack).await);

        let balancers: Vec<_> = elbv2()
            .describe_load_balancers()
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .expect("DescribeLoadBalancers");
        let ours_lb = tagged_by(stack, balancers.iter().filter_map(|lb| lb.load_balancer_arn())).await;
        counts.insert("load balancer", ours_lb.len());
        let mut listeners = 0;
        for arn in &ours_lb {
            let answer = elbv2().describe_listeners().load_balancer_arn(arn).send().await.expect("DescribeListeners");
            listeners += answer.listeners().len();
        }
        counts.insert("listener", listeners);
        let target_groups: Vec<_> = elbv2()
            .describe_target_groups()
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .expect("DescribeTargetGroups");
        let ours_tg = tagged_by(stack, target_groups.iter().filter_map(|g| g.target_group_arn())).await;
        counts.insert("target group", ours_tg.len());

        let repositories: Vec<_> = ecr()
            .describe_repositories()
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .expect("DescribeRepositories");
        counts.insert("ecr repository", repositories.iter().filter(|r| named(r.repository_name())).count());
        let roles: Vec<_> = iam().list_roles().into_paginator().items().send().try_collect().await.expect("ListRoles");
        counts.insert("iam role", roles.iter().filter(|r| named(Some(r.role_name()))).count());

        let clusters: Vec<String> =
            ecs().list_clusters().into_paginator().items().send().try_collect().await.expect("ListClusters");
        let mut active_clusters = 0;
        let mut services = 0;
        for arn in clusters.iter().filter(|a| named(a.rsplit('/').next())) {
            let described = ecs().describe_clusters().clusters(arn).send().await.expect("DescribeClusters");
            if described.clusters().iter().any(|c| c.status() == Some("ACTIVE")) {
                active_clusters += 1;
                let listed: Vec<String> = ecs()
                    .list_services()
                    .cluster(arn)
                    .into_paginator()
                    .items()
                    .send()
                    .try_collect()
                    .await
                    .expect("ListServices");
                for chunk in listed.chunks(10) {
                    let described = ecs()
                        .describe_services()
                        .cluster(arn)
                        .set_services(Some(chunk.to_vec()))
                        .send()
                        .await
                        .expect("DescribeServices");
                    services += described.services().iter().filter(|s| s.status() == Some("ACTIVE")).count();
                }
            }
        }
        counts.insert("ecs cluster", active_clusters);
        counts.insert("ecs service", services);
        let revisions: Vec<String> = ecs()
            .list_task_definitions()
            .status(aws_sdk_ecs::types::TaskDefinitionStatus::Active)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .expect("ListTaskDefinitions");
        counts.insert(
            "task definition revision (active)",
            revisions.iter().filter(|arn| named(arn.rsplit('/').next())).count(),
        );

        let subnet_groups: Vec<_> = rds()
            .describe_db_subnet_groups()
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .expect("DescribeDBSubnetGroups");
        counts.insert("db subnet group", subnet_groups.iter().filter(|g| named(g.db_subnet_group_name())).count());
        let instances: Vec<_> = rds()
            .describe_db_instances()
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .expect("DescribeDBInstances");
        counts.insert(
            "db instance",
            instances
                .iter()
                .filter(|i| named(i.db_instance_identifier()))
                .filter(|i| i.db_instance_status() != Some("deleted"))
                .count(),
        );
        let groups: Vec<_> = logs()
            .describe_log_groups()
            .log_group_name_prefix(format!("/provision/{stack}/"))
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .expect("DescribeLogGroups");
        counts.insert("log group", groups.len());
        let pages: Vec<_> =
            secretsmanager().list_secrets().into_paginator().send().try_collect().await.expect("ListSecrets");
        let secrets = pages.iter().flat_map(|page| page.secret_list());
        counts.insert("secret", secrets.filter(|s| named(s.name()) && s.deleted_date().is_none()).count());
        let caches: Vec<_> = elasticache()
            .describe_replication_groups()
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .expect("DescribeReplicationGroups");
        counts.insert(
            "redis replication group",
            caches
                .iter()
                .filter(|g| named(g.replication_group_id()))
                .filter(|g| g.status() != Some("deleting"))
                .count(),
        );
        let certificates: Vec<_> = acm_in("us-east-1")
            .list_certificates()
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .expect("ListCertificates");
        let domain = format!("{stack}.example.com");
        let sub_domain = format!(".{domain}");
        counts.insert(
            "acm certificate",
            certificates
                .iter()
                .filter_map(|c| c.domain_name())
                .filter(|d| *d == domain || d.ends_with(&sub_domain))
                .count(),
        );
        if let Some(zone) = zone {
            let sets = route53()
                .list_resource_record_sets()
                .hosted_zone_id(zone)
                .send()
                .await
                .expect("ListResourceRecordSets");
            let made = |set: &&aws_sdk_route53::types::ResourceRecordSet| {
                !matches!(set.r#type(), aws_sdk_route53::types::RrType::Ns | aws_sdk_route53::types::RrType::Soa)
            };
            counts.insert("dns record", sets.resource_record_sets().iter().filter(made).count());
        }
    });
    // CloudFront's answers on the emulator are read as text (see `support::emulator_get`).
    let distributions = emulator_get("/2020-05-31/distribution");
    counts.insert("cloudfront distribution", distributions.matches(&format!("<Comment>{owner}")).count());
    let controls = emulator_get("/2020-05-31/origin-access-control");
    counts.insert("origin access control", controls.matches(&format!("<Description>{owner}")).count());
    counts
}

/// The parts of the stack's network, tagged with the stack in the call that made each; NAT
/// gateways and endpoints that are `deleting` or `deleted` count as gone.
async fn count_network(stack: &str) -> Vec<(&'static str, usize)> {
    // Filtered by tag in the request and again here: the emulator ignores a tag filter on some
    // of these listings (`DescribeNatGateways`) and would answer every stack's parts.
    let tagged = || aws_sdk_ec2::types::Filter::builder().name("tag:provision:stack").values(stack).build();
    let ours = |tags: &[aws_sdk_ec2::types::Tag]| {
        tags.iter().any(|t| t.key() == Some("provision:stack") && t.value() == Some(stack))
    };
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
        ("vpc", vpcs.vpcs().iter().filter(|v| ours(v.tags())).count()),
        ("subnet", subnets.subnets().iter().filter(|s| ours(s.tags())).count()),
        ("route table", tables.route_tables().iter().filter(|t| ours(t.tags())).count()),
        ("internet gateway", gateways.internet_gateways().iter().filter(|g| ours(g.tags())).count()),
        (
            "nat gateway",
            nats.nat_gateways().iter().filter(|n| ours(n.tags()) && live(n.state().map(|s| s.as_str()))).count(),
        ),
        ("elastic ip", addresses.addresses().iter().filter(|a| ours(a.tags())).count()),
        (
            "vpc endpoint",
            endpoints.vpc_endpoints().iter().filter(|e| ours(e.tags()) && live(e.state().map(|s| s.as_str()))).count(),
        ),
    ]
}

/// The load balancers or target groups among `arns` tagged `provision:stack = stack`. By tag, not
/// name: ELB names are at most 32 characters, so a long stack name is cut short in them.
async fn tagged_by<'a>(stack: &str, arns: impl Iterator<Item = &'a str>) -> Vec<String> {
    let arns: Vec<String> = arns.map(str::to_string).collect();
    let mut ours = Vec::new();
    // DescribeTags takes at most 20 ARNs.
    for chunk in arns.chunks(20) {
        let answer =
            elbv2().describe_tags().set_resource_arns(Some(chunk.to_vec())).send().await.expect("DescribeTags");
        for description in answer.tag_descriptions() {
            let mine =
                description.tags().iter().any(|t| t.key() == Some("provision:stack") && t.value() == Some(stack));
            if mine {
                ours.extend(description.resource_arn().map(str::to_string));
            }
        }
    }
    ours
}

/// Replication groups of `stack` as the AWS profile at `endpoint` answers, `deleting` ones counted
/// as gone. Straight at the emulator a group made again under the id of a deleted one cannot be
/// seen: moto keeps the deleted group `deleting` forever and the profile answers the new create
/// over it (docs/aws-profile.md), so what exists then is what the profile says. The listing is
/// read to its last page.
pub fn replication_groups_at(endpoint: &str, stack: &str) -> usize {
    let config = aws_sdk_elasticache::config::Builder::new()
        .behavior_version(aws_sdk_elasticache::config::BehaviorVersion::latest())
        .region(aws_sdk_elasticache::config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(aws_sdk_elasticache::config::Credentials::new("test", "test", None, None, "tests"))
        .build();
    let client = aws_sdk_elasticache::Client::from_conf(config);
    let prefix = format!("{stack}-");
    block_on(async {
        let groups: Vec<_> = client
            .describe_replication_groups()
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .expect("DescribeReplicationGroups");
        groups
            .iter()
            .filter(|g| g.replication_group_id().unwrap_or("").starts_with(&prefix))
            .filter(|g| g.status() != Some("deleting"))
            .count()
    })
}

/// The kinds of which something of `stack` is left, with their counts.
pub fn left_of(stack: &str, zone: Option<&str>) -> BTreeMap<&'static str, usize> {
    count(stack, zone).into_iter().filter(|(_, n)| *n > 0).collect()
}

/// Makes the hosted zone `{stack}.example.com`, as a user does once per domain (provision only
/// looks it up), and returns its id.
pub fn create_zone(stack: &str) -> String {
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
