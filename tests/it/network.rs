//! A network the stack owns (`vpc`), where things run in it, the plan's refusal of a service whose
//! tasks could not start, and `protect`. Every part is counted through EC2's own listings.
//!
//! Migrations run as Fargate tasks, which moto cannot run: `releases.rs` runs them through the
//! proxy's profile, and the SDK's mocks in `crates/provision-aws/src/drivers/ecs_service/migration.rs`
//! cover a timeout and a task an interrupted run left running.

use std::collections::BTreeMap;

use aws_sdk_ec2::types::Filter;

use crate::support::{block_on, ec2, Project};

/// Every part of one VPC, counted as EC2 lists it (deleted NAT gateways and endpoints left out).
pub(crate) fn count_parts(vpc_id: &str) -> BTreeMap<&'static str, usize> {
    let in_vpc = || Filter::builder().name("vpc-id").values(vpc_id).build();
    let tagged = || Filter::builder().name("tag:provision:vpc").values(vpc_id).build();
    block_on(async {
        let ec2 = ec2();
        let vpcs = ec2.describe_vpcs().filters(in_vpc()).send().await.expect("DescribeVpcs");
        let subnets = ec2.describe_subnets().filters(in_vpc()).send().await.expect("DescribeSubnets");
        let tables = ec2.describe_route_tables().filters(in_vpc()).send().await.expect("DescribeRouteTables");
        let gateways =
            ec2.describe_internet_gateways().filters(tagged()).send().await.expect("DescribeInternetGateways");
        let nats = ec2.describe_nat_gateways().filter(in_vpc()).send().await.expect("DescribeNatGateways");
        let addresses = ec2.describe_addresses().filters(tagged()).send().await.expect("DescribeAddresses");
        let endpoints = ec2.describe_vpc_endpoints().filters(in_vpc()).send().await.expect("DescribeVpcEndpoints");
        let interfaces =
            ec2.describe_network_interfaces().filters(in_vpc()).send().await.expect("DescribeNetworkInterfaces");
        let groups = ec2.describe_security_groups().filters(tagged()).send().await.expect("DescribeSecurityGroups");
        let main = |t: &aws_sdk_ec2::types::RouteTable| t.associations().iter().any(|a| a.main() == Some(true));
        let live = |state: Option<&str>| !matches!(state, Some("deleted" | "deleting"));
        BTreeMap::from([
            ("vpc", vpcs.vpcs().len()),
            ("subnet", subnets.subnets().len()),
            ("route table (not the main one)", tables.route_tables().iter().filter(|t| !main(t)).count()),
            ("internet gateway", gateways.internet_gateways().len()),
            ("nat gateway", nats.nat_gateways().iter().filter(|n| live(n.state().map(|s| s.as_str()))).count()),
            ("elastic ip", addresses.addresses().len()),
            (
                "endpoint",
                endpoints
                    .vpc_endpoints()
                    .iter()
                    .filter(|e| live(e.state().map(|s| s.as_str().to_ascii_lowercase()).as_deref()))
                    .count(),
            ),
            ("network interface", interfaces.network_interfaces().len()),
            ("endpoint security group", groups.security_groups().len()),
        ])
    })
}

pub(crate) fn nothing() -> BTreeMap<&'static str, usize> {
    count_parts("vpc-none")
}

fn attribute(project: &Project, address: &str, name: &str) -> serde_json::Value {
    project.state()["resources"][address]["attributes"][name].clone()
}

fn strings(value: &serde_json::Value) -> Vec<String> {
    let mut items: Vec<String> =
        value.as_array().expect("a list").iter().map(|v| v.as_str().unwrap().to_string()).collect();
    items.sort();
    items
}

/// The default route of each route table that serves one of `subnets`: `nat-…`, `igw-…` or none.
fn default_routes(vpc_id: &str) -> BTreeMap<String, Option<String>> {
    block_on(async {
        let tables = ec2()
            .describe_route_tables()
            .filters(Filter::builder().name("vpc-id").values(vpc_id).build())
            .send()
            .await
            .expect("DescribeRouteTables");
        let mut routes = BTreeMap::new();
        for table in tables.route_tables() {
            for association in table.associations().iter().filter_map(|a| a.subnet_id()) {
                let target = table
                    .routes()
                    .iter()
                    .find(|r| r.destination_cidr_block() == Some("0.0.0.0/0"))
                    .and_then(|r| r.nat_gateway_id().or(r.gateway_id()))
                    .map(|t| t.split('-').next().unwrap_or_default().to_string());
                routes.insert(association.to_string(), target);
            }
        }
        routes
    })
}

const OWN_NETWORK: &str = r#"
[stack]
name = "{name}"

[network]
vpc = "${vpc.main.id}"

[vpc.main]
nat = "single"

[security_group.web]
description = "Public HTTP"
ingress = [{ port = 80, cidr = "0.0.0.0/0" }]

[load_balancer.web]
security_groups = ["${security_group.web.id}"]

[load_balancer.inside]
internal = true

[db_subnet_group.main]

[ecs_cluster.main]

[ecs_service.worker]
cluster = "${ecs_cluster.main.arn}"
wait = "none"

[ecs_service.worker.container]
image = "public.ecr.aws/docker/library/busybox:1.36"
command = ["sleep", "3600"]
"#;

#[test]
fn an_own_network_is_made_placed_by_role_changed_in_place_repaired_imported_and_taken_apart() {
    let project = Project::new("net", OWN_NETWORK).with_emulator();
    project.run(&["apply", "--auto-approve"]).success().stdout_has("Apply complete! 7 added");
    let vpc_id = attribute(&project, "vpc.main", "id").as_str().expect("a VPC id").to_string();
    let public = strings(&attribute(&project, "vpc.main", "public_subnet_ids"));
    let private = strings(&attribute(&project, "vpc.main", "private_subnet_ids"));
    assert_eq!((public.len(), private.len()), (2, 2), "a public and a private subnet in each of two zones");
    assert_eq!(attribute(&project, "vpc.main", "availability_zones").as_array().map(Vec::len), Some(2));

    let parts = count_parts(&vpc_id);
    let expected = BTreeMap::from([
        ("vpc", 1),
        ("subnet", 4),
        ("route table (not the main one)", 3),
        ("internet gateway", 1),
        ("nat gateway", 1),
        ("elastic ip", 1),
        ("endpoint", 1),
        ("network interface", parts["network interface"]),
        ("endpoint security group", 0),
    ]);
    assert_eq!(parts, expected);
    let routes = default_routes(&vpc_id);
    for subnet in &public {
        assert_eq!(routes[subnet].as_deref(), Some("igw"), "public subnets go out through the internet gateway");
    }
    for subnet in &private {
        assert_eq!(routes[subnet].as_deref(), Some("nat"), "private subnets through the NAT gateway");
    }

    // Placed by role: the internet-facing load balancer in the public subnets; the internal one,
    // the database subnets and the service's tasks in the private ones; the group in the VPC.
    let inputs = |address: &str, field: &str| project.state()["resources"][address]["inputs"][field].clone();
    assert_eq!(strings(&inputs("load_balancer.web", "subnets")), public);
    assert_eq!(strings(&inputs("load_balancer.inside", "subnets")), private);
    assert_eq!(strings(&inputs("db_subnet_group.main", "subnets")), private);
    assert_eq!(strings(&inputs("ecs_service.worker", "subnets")), private);
    assert_eq!(inputs("ecs_service.worker", "assign_public_ip"), serde_json::json!(false));
    assert_eq!(inputs("security_group.web", "vpc").as_str(), Some(vpc_id.as_str()));
    project.run(&["plan", "--detailed-exitcode"]).code(0);

    // One NAT gateway per zone and the ECR endpoints: in place, nothing replaced.
    project.write_stack(&OWN_NETWORK.replace("nat = \"single\"", "nat = \"per_az\"\nendpoints = [\"s3\", \"ecr\"]"));
    project
        .run(&["plan"])
        .success()
        .stdout_has("~ vpc.main")
        .stdout_has("Plan: 0 to add, 1 to change, 0 to replace, 0 to destroy.");
    project.run(&["apply", "--auto-approve"]).success();
    let parts = count_parts(&vpc_id);
    assert_eq!((parts["nat gateway"], parts["elastic ip"]), (2, 2));
    assert_eq!(parts["endpoint"], 3, "s3, ecr.api and ecr.dkr");
    assert_eq!(parts["endpoint security group"], 1);
    let routes = default_routes(&vpc_id);
    let nat_targets: std::collections::BTreeSet<String> = block_on(async {
        let tables = ec2()
            .describe_route_tables()
            .filters(Filter::builder().name("vpc-id").values(&vpc_id).build())
            .send()
            .await
            .expect("DescribeRouteTables");
        tables
            .route_tables()
            .iter()
            .flat_map(|t| t.routes().iter().filter_map(|r| r.nat_gateway_id().map(str::to_string)))
            .collect()
    });
    assert_eq!(nat_targets.len(), 2, "each zone's private subnet goes through its own NAT gateway: {routes:?}");
    project.run(&["plan", "--detailed-exitcode"]).code(0);

    // A NAT gateway deleted by hand shows as a repair, and the next apply makes it again.
    let nat = block_on(async {
        let answer = ec2()
            .describe_nat_gateways()
            .filter(Filter::builder().name("vpc-id").values(&vpc_id).build())
            .send()
            .await
            .expect("DescribeNatGateways");
        let nat = answer.nat_gateways().iter().find(|n| n.state().map(|s| s.as_str()) == Some("available")).cloned();
        let id = nat.and_then(|n| n.nat_gateway_id().map(str::to_string)).expect("a NAT gateway");
        ec2().delete_nat_gateway().nat_gateway_id(&id).send().await.expect("DeleteNatGateway");
        id
    });
    project
        .run(&["plan"])
        .success()
        .stdout_has("~ vpc.main")
        .stdout_has("makes the parts of the network that are missing");
    project.run(&["drift"]).code(2).stdout_has("is missing");
    project.run(&["apply", "--auto-approve"]).success();
    assert_eq!(count_parts(&vpc_id)["nat gateway"], 2, "{nat} was made again");
    project.run(&["plan", "--detailed-exitcode"]).code(0);

    // Described from what is there by `import --generate`: its shape, not the type's defaults.
    project.run(&["state", "rm", "vpc.main"]).success();
    project.run(&["import", "--generate", "described.toml", &format!("vpc.main={vpc_id}")]).success();
    let described = std::fs::read_to_string(project.path("described.toml")).expect("the generated file");
    assert!(described.contains("nat = \"per_az\""), "{described}");
    assert!(described.contains("endpoints = [\"ecr\", \"s3\"]"), "{described}");
    project.run(&["-f", "described.toml", "plan", "--detailed-exitcode"]).code(0);
    project.run(&["-f", "described.toml", "state", "rm", "vpc.main"]).success();

    // Imported by its id, with its parts.
    project.run(&["import", "vpc.main", &vpc_id]).success();
    project.run(&["plan", "--detailed-exitcode"]).code(0);

    project.run(&["destroy", "--auto-approve"]).success().stdout_has("7 destroyed");
    assert_eq!(
        count_parts(&vpc_id),
        nothing(),
        "every subnet, table, gateway, address, endpoint and interface is gone"
    );
}

#[test]
fn a_network_without_nat_gateways_reaches_ecr_and_logs_through_endpoints_and_goes_away_completely() {
    let stack = r#"
[stack]
name = "{name}"

[network]
vpc = "${vpc.main.id}"

[vpc.main]
cidr = "10.7.0.0/20"
azs = 3
nat = "none"
endpoints = ["s3", "ecr", "logs"]

[ecs_cluster.main]

[log_group.worker]

[iam_role.execution]
service = "ecs-tasks.amazonaws.com"
managed_policies = ["arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"]

[ecs_service.worker]
cluster = "${ecs_cluster.main.arn}"
execution_role = "${iam_role.execution.arn}"
wait = "none"

[ecs_service.worker.container]
image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/worker:v1"
pin_digest = false
log_group = "${log_group.worker.name}"
"#;
    let project = Project::new("endpoints", stack).with_emulator();
    project.run(&["apply", "--auto-approve"]).success();
    let vpc_id = attribute(&project, "vpc.main", "id").as_str().expect("a VPC id").to_string();
    let parts = count_parts(&vpc_id);
    assert_eq!(parts["subnet"], 6, "three zones");
    assert_eq!((parts["nat gateway"], parts["elastic ip"]), (0, 0));
    assert_eq!(parts["endpoint"], 4, "the S3 gateway, ecr.api, ecr.dkr and logs: {parts:?}");
    assert_eq!(parts["endpoint security group"], 1);
    let private = strings(&attribute(&project, "vpc.main", "private_subnet_ids"));
    assert_eq!(attribute(&project, "vpc.main", "cidr"), serde_json::json!("10.7.0.0/20"));
    let routes = default_routes(&vpc_id);
    for subnet in &private {
        assert_eq!(routes[subnet], None, "no way out of the private subnets but the endpoints");
    }
    let interface_subnets = block_on(async {
        let answer = ec2()
            .describe_vpc_endpoints()
            .filters(Filter::builder().name("vpc-id").values(&vpc_id).build())
            .filters(Filter::builder().name("vpc-endpoint-type").values("Interface").build())
            .send()
            .await
            .expect("DescribeVpcEndpoints");
        answer
            .vpc_endpoints()
            .iter()
            .map(|e| {
                let mut subnets = e.subnet_ids().to_vec();
                subnets.sort();
                subnets
            })
            .collect::<Vec<_>>()
    });
    assert!(interface_subnets.iter().all(|s| *s == private), "every interface endpoint serves every private subnet");
    project.run(&["plan", "--detailed-exitcode"]).code(0);

    project.run(&["destroy", "--auto-approve"]).success();
    assert_eq!(count_parts(&vpc_id), nothing());
}

#[test]
fn a_service_whose_tasks_could_not_pull_their_image_is_refused_before_any_change() {
    // In the stack's own network, offline: private subnets, no NAT gateway, no endpoints.
    let stuck = r#"
[stack]
name = "{name}"

[network]
vpc = "${vpc.main.id}"

[vpc.main]
nat = "none"

[ecs_cluster.main]

[ecs_service.api]
cluster = "${ecs_cluster.main.arn}"

[ecs_service.api.container]
image = "${ecr_repository.api.url}:v1"

[ecr_repository.api]
"#;
    let project = Project::new("stuck", stuck).with_unreachable_endpoint();
    let refused = project.run(&["plan"]).code(1);
    for expected in [
        "`ecs_service.api.subnets`: its tasks could not start",
        "`${vpc.main.private_subnet_ids}`",
        "`nat = \"none\"`",
        "`ecr.api`, `ecr.dkr`",
        "NAT gateway",
        "`assign_public_ip = true`",
        "endpoints = [\"s3\", \"ecr\", \"logs\", \"secretsmanager\"]",
    ] {
        assert!(refused.stderr.contains(expected), "lacks {expected:?}:\n{}", refused.stderr);
    }
    project.run(&["validate"]).code(1);
    project.write_stack(&stuck.replace("nat = \"none\"", "nat = \"none\"\nendpoints = [\"s3\", \"ecr\"]"));
    project.run(&["validate"]).success();

    // In the default VPC, whose subnets are all public: a task without a public IP is stuck.
    let public_without_ip = r#"
[stack]
name = "{name}"

[ecs_cluster.main]

[ecs_service.api]
cluster = "${ecs_cluster.main.arn}"
assign_public_ip = false

[ecs_service.api.container]
image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/api:v1"
pin_digest = false
"#;
    let project = Project::new("noip", public_without_ip).with_emulator();
    project
        .run(&["plan"])
        .code(1)
        .stderr_has("its tasks could not start")
        .stderr_has("send internet traffic to an internet gateway while the tasks get no public IP");
    assert!(!project.state_path().exists() || project.state()["resources"].as_object().is_none_or(|r| r.is_empty()));
    project.write_stack(&public_without_ip.replace("assign_public_ip = false\n", ""));
    let plan = project.run(&["plan"]).success();
    let public_ip = plan.stdout.lines().find(|line| line.contains("assign_public_ip:")).unwrap_or_default();
    assert!(public_ip.ends_with("true"), "{}", plan.stdout);

    // In an existing VPC whose subnets route nowhere: refused until it has the endpoints.
    let (vpc_id, subnets) = isolated_vpc();
    let existing = format!(
        r#"
[stack]
name = "{{name}}"

[network]
vpc = "{vpc_id}"
subnets = ["{}", "{}"]

[ecs_cluster.main]

[ecs_service.api]
cluster = "${{ecs_cluster.main.arn}}"

[ecs_service.api.container]
image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/api:v1"
pin_digest = false
"#,
        subnets[0], subnets[1]
    );
    let project = Project::new("isolated", &existing).with_emulator();
    let refused = project.run(&["plan"]).code(1);
    assert!(refused.stderr.contains("route to no NAT gateway or internet gateway"), "{}", refused.stderr);
    assert!(refused.stderr.contains(&subnets[0]) && refused.stderr.contains(&vpc_id), "{}", refused.stderr);
    block_on(async {
        for service in ["ecr.api", "ecr.dkr"] {
            ec2()
                .create_vpc_endpoint()
                .vpc_id(&vpc_id)
                .service_name(format!("com.amazonaws.us-east-1.{service}"))
                .vpc_endpoint_type(aws_sdk_ec2::types::VpcEndpointType::Interface)
                .set_subnet_ids(Some(subnets.clone()))
                .send()
                .await
                .expect("CreateVpcEndpoint");
        }
        ec2()
            .create_vpc_endpoint()
            .vpc_id(&vpc_id)
            .service_name("com.amazonaws.us-east-1.s3")
            .send()
            .await
            .expect("CreateVpcEndpoint");
    });
    project.run(&["plan"]).success().stdout_has("+ ecs_service.api");
}

/// One stack file for every environment, each in its own existing VPC: `vpc` and `subnets` come
/// from `--var`, are checked before any AWS call, and decide where the resources are made.
#[test]
fn each_environment_names_its_vpc_with_a_variable() {
    let stack = r#"
[stack]
name = "{name}"

[variables]
vpc = "default"
subnets = ["subnet-00000000"]

[network]
vpc = "${var.vpc}"
subnets = "${var.subnets}"

[security_group.web]
description = "Public HTTP"
ingress = [{ port = 80, cidr = "0.0.0.0/0" }]
"#;
    let (vpc_id, subnets) = isolated_vpc();
    let project = Project::new("envvpc", stack).with_emulator();
    let staging = ["--var", &format!("vpc={vpc_id}"), "--var", &format!("subnets={},{}", subnets[0], subnets[1])];
    project.run(&[&["apply", "--auto-approve"][..], &staging[..]].concat()).success();
    assert_eq!(project.state()["resources"]["security_group.web"]["inputs"]["vpc"], vpc_id.as_str());
    project.run(&[&["plan", "--detailed-exitcode"][..], &staging[..]].concat()).code(0);

    // Another environment's VPC moves the group (a VPC is chosen when a group is made).
    let moved = project.run(&["plan", "--var", "vpc=default"]).code(0);
    assert!(moved.stdout.contains("-/+ security_group.web"), "{}", moved.stdout);

    Project::new("envvpc", stack)
        .with_unreachable_endpoint()
        .run(&["plan", "--var", "vpc=vpc-staging"])
        .code(1)
        .stderr_has("stack.toml:10:7: `[network] vpc`: `vpc-staging` (from a variable) is not valid")
        .stderr_has("`vpc-` and 8 or 17 hexadecimal digits");
    project.run(&[&["destroy", "--auto-approve"][..], &staging[..]].concat()).success();
}

/// A VPC made by "another tool": two private subnets whose route table has no way out.
fn isolated_vpc() -> (String, Vec<String>) {
    block_on(async {
        let vpc = ec2().create_vpc().cidr_block("10.99.0.0/16").send().await.expect("CreateVpc");
        let vpc_id = vpc.vpc().and_then(|v| v.vpc_id()).expect("id").to_string();
        let mut subnets = Vec::new();
        for (cidr, zone) in [("10.99.0.0/24", "us-east-1a"), ("10.99.1.0/24", "us-east-1b")] {
            let subnet = ec2()
                .create_subnet()
                .vpc_id(&vpc_id)
                .cidr_block(cidr)
                .availability_zone(zone)
                .send()
                .await
                .expect("CreateSubnet");
            subnets.push(subnet.subnet().and_then(|s| s.subnet_id()).expect("id").to_string());
        }
        (vpc_id, subnets)
    })
}

const PROTECTED: &str = r#"
[stack]
name = "{name}"

[variables]
production = true

[security_group.db]
description = "The database"
protect = "${var.production}"
"#;

#[test]
fn a_protected_resource_is_not_destroyed_replaced_or_dropped_until_an_apply_turns_protect_off() {
    let project = Project::new("protect", PROTECTED).with_emulator();
    project.run(&["apply", "--auto-approve"]).success();
    assert_eq!(project.state()["resources"]["security_group.db"]["protect"], serde_json::json!(true));

    project
        .run(&["destroy", "--auto-approve"])
        .code(1)
        .stderr_has("`security_group.db` is protected (`protect = true`): `destroy` would delete it");
    project
        .run(&["destroy", "--auto-approve", "--var", "production=false"])
        .code(1)
        .stderr_has("`destroy` would delete it");

    project.write_stack(&PROTECTED.replace("description = \"The database\"", "description = \"The main database\""));
    project
        .run(&["plan"])
        .code(1)
        .stderr_has("`security_group.db` is protected (`protect = true`): the plan would replace it (description forces replacement)");

    project.write_stack("[stack]\nname = \"{name}\"\n");
    project
        .run(&["plan"])
        .code(1)
        .stderr_has("no longer in the stack file")
        .stderr_has("put it back with `protect = false`");
    assert!(project.state()["resources"]["security_group.db"].is_object(), "nothing was changed");

    // Turned off by an apply (only the state changes), then it may go.
    project.write_stack(PROTECTED);
    project.run(&["plan", "--var", "production=false"]).success().stdout_has("protect: true -> false");
    project.run(&["apply", "--auto-approve", "--var", "production=false"]).success();
    assert!(project.state()["resources"]["security_group.db"].get("protect").is_none());
    project.run(&["destroy", "--auto-approve"]).success().stdout_has("1 destroyed");
}
