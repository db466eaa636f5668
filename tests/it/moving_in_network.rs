//! Moving in a Terraform network: one built with the AWS SDK exactly as provision's `vpc` type
//! lays it out (a public and a private subnet per zone, one public route table to the internet
//! gateway, a private route table per zone through one NAT gateway, the S3 gateway endpoint), and
//! described by a Terraform state as the `terraform-aws-modules/vpc` module writes it, moves in as
//! one `[vpc.main]` that the other resources refer to; a network with a third tier of subnets, or
//! one whose records are older than AWS, stays with Terraform and the command says why.

use aws_sdk_ec2::types::{DomainType, ResourceType, Tag, TagSpecification, VpcEndpointType};
use serde_json::{json, Value as Json};

use crate::network::{count_parts, nothing};
use crate::support::{block_on, ec2, elbv2, rds, Project};

const ZONES: [&str; 2] = ["us-east-1a", "us-east-1b"];

/// What the SDK made, by Terraform's names for it.
struct World {
    vpc: String,
    cidr: String,
    igw: String,
    public: Vec<String>,
    private: Vec<String>,
    database: Vec<String>,
    public_table: String,
    private_tables: Vec<String>,
    eip: String,
    nat: String,
    endpoint: String,
    group: String,
    balancer: String,
    subnet_group: String,
}

/// `third_tier`: database subnets beside the private ones (on the private route tables), and the
/// S3 endpoint serving the public route table only.
fn build(p: &str, cidr_prefix: &str, third_tier: bool) -> World {
    block_on(async {
        let ec2 = ec2();
        let cidr = format!("{cidr_prefix}.0.0/16");
        let name = TagSpecification::builder()
            .resource_type(ResourceType::Vpc)
            .tags(Tag::builder().key("Name").value(format!("{p}-net")).build())
            .build();
        let vpc = ec2.create_vpc().cidr_block(&cidr).tag_specifications(name).send().await.expect("CreateVpc");
        let vpc = vpc.vpc.and_then(|v| v.vpc_id).expect("a VPC id");
        let igw = ec2.create_internet_gateway().send().await.expect("CreateInternetGateway");
        let igw = igw.internet_gateway.and_then(|g| g.internet_gateway_id).expect("a gateway id");
        ec2.attach_internet_gateway().internet_gateway_id(&igw).vpc_id(&vpc).send().await.expect("attach");
        // provision's plan of addresses: private subnet `i` takes the range's sixteenth `i`, public `8 + i`.
        let subnet = |block: u32, zone: &'static str| {
            let (ec2, vpc) = (ec2.clone(), vpc.clone());
            let cidr = format!("{cidr_prefix}.{}.0/20", block * 16);
            async move {
                let made = ec2.create_subnet().vpc_id(&vpc).cidr_block(cidr).availability_zone(zone);
                made.send().await.expect("CreateSubnet").subnet.and_then(|s| s.subnet_id).expect("a subnet id")
            }
        };
        let public = vec![subnet(8, ZONES[0]).await, subnet(9, ZONES[1]).await];
        let private = vec![subnet(0, ZONES[0]).await, subnet(1, ZONES[1]).await];
        let database = if third_tier { vec![subnet(2, ZONES[0]).await, subnet(3, ZONES[1]).await] } else { Vec::new() };
        let table = || async {
            let made = ec2.create_route_table().vpc_id(&vpc).send().await.expect("CreateRouteTable");
            made.route_table.and_then(|t| t.route_table_id).expect("a route table id")
        };
        let associate = |table: String, subnet: String| {
            let ec2 = ec2.clone();
            async move {
                ec2.associate_route_table().route_table_id(table).subnet_id(subnet).send().await.expect("associate")
            }
        };
        let public_table = table().await;
        ec2.create_route()
            .route_table_id(&public_table)
            .destination_cidr_block("0.0.0.0/0")
            .gateway_id(&igw)
            .send()
            .await
            .expect("CreateRoute");
        for subnet in &public {
            associate(public_table.clone(), subnet.clone()).await;
        }
        let eip = ec2.allocate_address().domain(DomainType::Vpc).send().await.expect("AllocateAddress");
        let eip = eip.allocation_id.expect("an allocation id");
        let nat =
            ec2.create_nat_gateway().subnet_id(&public[0]).allocation_id(&eip).send().await.expect("CreateNatGateway");
        let nat = nat.nat_gateway.and_then(|n| n.nat_gateway_id).expect("a NAT gateway id");
        let mut private_tables = Vec::new();
        for (i, subnet) in private.iter().enumerate() {
            let table = table().await;
            ec2.create_route()
                .route_table_id(&table)
                .destination_cidr_block("0.0.0.0/0")
                .nat_gateway_id(&nat)
                .send()
                .await
                .expect("CreateRoute");
            associate(table.clone(), subnet.clone()).await;
            if let Some(database) = database.get(i) {
                associate(table.clone(), database.clone()).await;
            }
            private_tables.push(table);
        }
        let served = if third_tier {
            vec![public_table.clone()]
        } else {
            vec![public_table.clone()].into_iter().chain(private_tables.clone()).collect()
        };
        let endpoint = ec2
            .create_vpc_endpoint()
            .vpc_id(&vpc)
            .service_name("com.amazonaws.us-east-1.s3")
            .vpc_endpoint_type(VpcEndpointType::Gateway)
            .set_route_table_ids(Some(served))
            .send()
            .await
            .expect("CreateVpcEndpoint");
        let endpoint = endpoint.vpc_endpoint.and_then(|e| e.vpc_endpoint_id).expect("an endpoint id");

        let group = ec2
            .create_security_group()
            .group_name(format!("{p}-web"))
            .description("web")
            .vpc_id(&vpc)
            .send()
            .await
            .expect("CreateSecurityGroup");
        let group = group.group_id.expect("a group id");
        let balancer = elbv2()
            .create_load_balancer()
            .name(format!("{p}-web"))
            .set_subnets(Some(public.clone()))
            .security_groups(&group)
            .send()
            .await
            .expect("CreateLoadBalancer");
        let balancer = balancer.load_balancers()[0].load_balancer_arn().expect("an ARN").to_string();
        let subnet_group = format!("{p}-db");
        rds()
            .create_db_subnet_group()
            .db_subnet_group_name(&subnet_group)
            .db_subnet_group_description("Managed by Terraform")
            .set_subnet_ids(Some(private.clone()))
            .send()
            .await
            .expect("CreateDBSubnetGroup");
        World {
            vpc,
            cidr,
            igw,
            public,
            private,
            database,
            public_table,
            private_tables,
            eip,
            nat,
            endpoint,
            group,
            balancer,
            subnet_group,
        }
    })
}

fn resource(module: &str, type_name: &str, name: &str, instances: Vec<Json>) -> Json {
    let counted = instances.len() > 1 || module == "module.vpc";
    let instances: Vec<Json> = instances
        .into_iter()
        .enumerate()
        .map(|(i, attributes)| {
            json!({"index_key": if counted { json!(i) } else { Json::Null }, "schema_version": 0, "attributes": attributes})
        })
        .collect();
    json!({"module": module, "mode": "managed", "type": type_name, "name": name,
        "provider": "provider[\"registry.terraform.io/hashicorp/aws\"]", "instances": instances})
}

/// The state Terraform keeps for `world`: the network as `module "vpc"` (terraform-aws-modules/vpc)
/// records it, and the app beside it. `database`: whether it records the third tier.
fn terraform_state(p: &str, world: &World, database: bool) -> String {
    let vpc_id = world.vpc.as_str();
    let subnet = |id: &str, block: u32, zone: &str| {
        let prefix = world.cidr.trim_end_matches(".0.0/16");
        json!({"id": id, "vpc_id": vpc_id, "availability_zone": zone, "cidr_block": format!("{prefix}.{}.0/20", block * 16)})
    };
    let association = |subnet: &str, table: &str| json!({"id": format!("rtbassoc-{subnet}"), "subnet_id": subnet, "route_table_id": table});
    let m = "module.vpc";
    let mut resources = vec![
        resource(m, "aws_vpc", "this", vec![json!({"id": vpc_id, "arn": format!("arn:aws:ec2:us-east-1:123456789012:vpc/{vpc_id}"), "cidr_block": world.cidr, "tags": {"Name": format!("{p}-net")}})]),
        resource(m, "aws_internet_gateway", "this", vec![json!({"id": world.igw, "vpc_id": vpc_id})]),
        resource(m, "aws_subnet", "public", (0..2).map(|i| subnet(&world.public[i], 8 + i as u32, ZONES[i])).collect()),
        resource(m, "aws_subnet", "private", (0..2).map(|i| subnet(&world.private[i], i as u32, ZONES[i])).collect()),
        resource(m, "aws_route_table", "public", vec![json!({"id": world.public_table, "vpc_id": vpc_id, "route": []})]),
        resource(m, "aws_route", "public_internet_gateway", vec![json!({"route_table_id": world.public_table, "destination_cidr_block": "0.0.0.0/0", "gateway_id": world.igw})]),
        resource(m, "aws_route_table_association", "public", world.public.iter().map(|s| association(s, &world.public_table)).collect()),
        resource(m, "aws_route_table", "private", world.private_tables.iter().map(|t| json!({"id": t, "vpc_id": vpc_id, "route": []})).collect()),
        resource(m, "aws_route_table_association", "private", (0..2).map(|i| association(&world.private[i], &world.private_tables[i])).collect()),
        resource(m, "aws_eip", "nat", vec![json!({"id": world.eip, "allocation_id": world.eip, "domain": "vpc"})]),
        resource(m, "aws_nat_gateway", "this", vec![json!({"id": world.nat, "subnet_id": world.public[0], "allocation_id": world.eip, "connectivity_type": "public"})]),
        resource(m, "aws_route", "private_nat_gateway", world.private_tables.iter().map(|t| json!({"route_table_id": t, "destination_cidr_block": "0.0.0.0/0", "nat_gateway_id": world.nat})).collect()),
        resource("", "aws_vpc_endpoint", "s3", vec![json!({"id": world.endpoint, "vpc_id": vpc_id, "service_name": "com.amazonaws.us-east-1.s3", "vpc_endpoint_type": "Gateway",
            "route_table_ids": [world.public_table.clone(), world.private_tables[0].clone(), world.private_tables[1].clone()]})]),
        resource("", "aws_security_group", "web", vec![json!({"id": world.group, "name": format!("{p}-web"), "description": "web", "vpc_id": vpc_id, "ingress": [], "egress": []})]),
        resource("", "aws_lb", "web", vec![json!({"id": world.balancer, "arn": world.balancer, "name": format!("{p}-web"), "load_balancer_type": "application", "internal": false,
            "subnets": world.public, "security_groups": [world.group]})]),
        resource("", "aws_db_subnet_group", "main", vec![json!({"id": world.subnet_group, "name": world.subnet_group, "subnet_ids": world.private})]),
    ];
    if database {
        resources.push(resource(
            m,
            "aws_subnet",
            "database",
            (0..2).map(|i| subnet(&world.database[i], 2 + i as u32, ZONES[i])).collect(),
        ));
        resources.push(resource(
            m,
            "aws_route_table_association",
            "database",
            (0..2).map(|i| association(&world.database[i], &world.private_tables[i])).collect(),
        ));
    }
    json!({"version": 4, "terraform_version": "1.9.8", "serial": 7, "lineage": "9a1f0c2e-network", "outputs": {}, "resources": resources})
        .to_string()
}

fn address_released(allocation: &str) -> bool {
    block_on(async {
        ec2()
            .describe_addresses()
            .allocation_ids(allocation)
            .send()
            .await
            .map(|a| a.addresses().is_empty())
            .unwrap_or(true)
    })
}

#[test]
fn a_network_shaped_as_provision_makes_it_moves_in_as_one_vpc() {
    let project = Project::new("tfnet", "").with_emulator();
    project.remove("stack.toml");
    let p = project.stack_name.clone();
    let world = build(&p, "10.41", false);
    project.write("terraform.tfstate", &terraform_state(&p, &world, false));

    let run = project.run(&["import", "--from-terraform", "terraform.tfstate", "--name", &p]).success();
    assert!(run.stdout.contains("vpc.main"), "{}", run.stdout);
    assert!(run.stdout.contains("The network moved in as `vpc.main`"), "{}", run.stdout);
    assert!(!run.stdout.contains("stays with Terraform"), "{}", run.stdout);
    let forget = run.stdout.lines().find(|line| line.contains("terraform state rm")).unwrap_or_default();
    for part in [
        "'module.vpc.aws_vpc.this[0]'",
        "'module.vpc.aws_subnet.private[1]'",
        "'module.vpc.aws_route_table_association.public[0]'",
        "'module.vpc.aws_nat_gateway.this[0]'",
        "'module.vpc.aws_eip.nat[0]'",
        "'module.vpc.aws_route.private_nat_gateway[1]'",
        "'aws_vpc_endpoint.s3'",
        "'aws_lb.web'",
    ] {
        assert!(forget.contains(part), "Terraform forgets {part}: {forget}");
    }

    let stack = std::fs::read_to_string(project.path("stack.toml")).expect("the stack file");
    crate::support::schema_check::assert_valid(&project.path("stack.toml"));
    for expected in [
        "[network]\nvpc = \"${vpc.main.id}\"\n".to_string(),
        "# from module.vpc.aws_vpc.this[0] (with module.vpc.aws_internet_gateway.this[0]".to_string(),
        format!("[vpc.main]\nname = \"{p}-net\"\ncidr = \"10.41.0.0/16\"\n"),
        "vpc = \"${vpc.main.id}\"".to_string(),
        "subnets = \"${vpc.main.public_subnet_ids}\"".to_string(),
        "subnets = \"${vpc.main.private_subnet_ids}\"".to_string(),
    ] {
        assert!(stack.contains(&expected), "the stack file lacks {expected:?}:\n{stack}");
    }
    for id in [&world.vpc, &world.public[0], &world.private[1]] {
        assert!(!stack.contains(id.as_str()), "`{id}` is a reference, not a literal:\n{stack}");
    }
    let plan = project.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code, 0, "the first plan is empty:\n{}\n{}\n{stack}", plan.stdout, plan.stderr);

    project.run(&["apply", "--auto-approve"]).success();
    project.run(&["destroy", "--auto-approve"]).success();
    assert_eq!(count_parts(&world.vpc), nothing(), "the adopted network is gone with all its parts");
    assert!(address_released(&world.eip), "the NAT gateway's address was adopted with it and released");
}

#[test]
fn a_network_that_does_not_fit_stays_with_terraform_and_the_command_says_why() {
    let project = Project::new("tfnet3", "").with_emulator();
    project.remove("stack.toml");
    let p = project.stack_name.clone();
    let world = build(&p, "10.42", true);

    // The records show the third tier: kept before any read.
    project.write("terraform.tfstate", &terraform_state(&p, &world, true));
    let run = project.run(&["import", "--from-terraform", "terraform.tfstate", "--name", &p]).success();
    let why = run.stdout.lines().find(|line| line.contains("stays with Terraform because")).unwrap_or_default();
    assert!(
        why.contains("a third tier of subnets: `us-east-1a` has 3")
            && why.contains("`module.vpc.aws_subnet.database[0]`"),
        "one line names the first misfit:\n{}",
        run.stdout
    );
    let stack = std::fs::read_to_string(project.path("stack.toml")).expect("the stack file");
    assert!(stack.contains(&format!("[network]\nvpc = \"{}\"\n", world.vpc)), "{stack}");
    assert!(!stack.contains("[vpc."), "never a half-adopted network:\n{stack}");
    let forget = run.stdout.lines().find(|line| line.contains("terraform state rm")).unwrap_or_default();
    assert!(
        !forget.contains("aws_vpc") && !forget.contains("aws_subnet") && !forget.contains("aws_nat_gateway"),
        "{forget}"
    );
    assert_eq!(project.run(&["plan", "--detailed-exitcode"]).code, 0);

    // Records that leave the tier out, and say the S3 endpoint serves every route table, fit; AWS
    // has the endpoint on the public table only, which the driver's read finds.
    project.write("older.tfstate", &terraform_state(&p, &world, false));
    let other = format!("{p}-b");
    let run = project
        .run(&["import", "--from-terraform", "older.tfstate", "--name", &other, "--out", "other.toml"])
        .success();
    let why = run.stdout.lines().find(|line| line.contains("stays with Terraform because")).unwrap_or_default();
    assert!(
        why.contains("provision's `vpc` would change it: the `s3` endpoint does not serve every zone"),
        "{}",
        run.stdout
    );
    let stack = std::fs::read_to_string(project.path("other.toml")).expect("the stack file");
    assert!(!stack.contains("[vpc.") && stack.contains(&format!("vpc = \"{}\"", world.vpc)), "{stack}");
    let listed = run.stdout.lines().find(|line| line.trim_start().starts_with("module.vpc.aws_nat_gateway.this[0]"));
    assert!(listed.is_some_and(|line| line.contains("stays where it is, with Terraform")), "{}", run.stdout);
    assert_eq!(project.run(&["-f", "other.toml", "plan", "--detailed-exitcode"]).code, 0);
    assert_eq!(count_parts(&world.vpc)["subnet"], 6, "the network is as it was");
}
