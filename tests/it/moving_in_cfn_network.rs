//! Moving in a CloudFormation network: a stack shaped like an AWS Copilot environment whose
//! network is laid out as provision's `vpc` type lays one out (a public and a private subnet per
//! zone, one public route table to the internet gateway, a route table per private subnet through
//! the NAT gateway of its zone) moves in as one `[vpc.main]` that the stack's other resources refer
//! to; a network with a third tier of subnets stays with CloudFormation and the command says why.
//!
//! The emulator's CloudFormation makes the VPC, subnets, gateways, addresses, NAT gateways, route
//! tables and routes, but no `AWS::EC2::SubnetRouteTableAssociation` (docs/emulator.md): the test
//! associates the subnets as the template says, as AWS would have.

use serde_json::{json, Value as Json};

use crate::network::{count_parts, nothing};
use crate::support::{block_on, client_at, ec2, endpoint, Project};

fn cloudformation() -> aws_sdk_cloudformation::Client {
    client_at!(aws_sdk_cloudformation, endpoint())
}

/// The environment's template: the network (a NAT gateway per zone, as Copilot makes when a
/// service is placed in private subnets), a security group, the public load balancer in the
/// public subnets and the internal one (for backend services) in the private ones. `third_tier`: database subnets beside
/// the private ones, on the private route tables.
fn template(p: &str, prefix: &str, third_tier: bool) -> Json {
    let mut resources = json!({
        "VPC": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": format!("{prefix}.0.0/16"), "EnableDnsHostnames": true, "EnableDnsSupport": true,
            "Tags": [{"Key": "Name", "Value": {"Fn::Sub": "${AWS::StackName}-net"}}]}},
        "InternetGateway": {"Type": "AWS::EC2::InternetGateway"},
        "InternetGatewayAttachment": {"Type": "AWS::EC2::VPCGatewayAttachment", "Properties": {"InternetGatewayId": {"Ref": "InternetGateway"}, "VpcId": {"Ref": "VPC"}}},
        "PublicRouteTable": {"Type": "AWS::EC2::RouteTable", "Properties": {"VpcId": {"Ref": "VPC"}}},
        "DefaultPublicRoute": {"Type": "AWS::EC2::Route", "DependsOn": "InternetGatewayAttachment", "Properties": {
            "RouteTableId": {"Ref": "PublicRouteTable"}, "DestinationCidrBlock": "0.0.0.0/0", "GatewayId": {"Ref": "InternetGateway"}}},
        "PublicHTTPLoadBalancerSecurityGroup": {"Type": "AWS::EC2::SecurityGroup", "Properties": {
            "GroupDescription": "HTTP access to the public facing load balancer", "VpcId": {"Ref": "VPC"},
            "SecurityGroupIngress": [{"CidrIp": "0.0.0.0/0", "FromPort": 80, "ToPort": 80, "IpProtocol": "tcp"}]}},
        "PublicLoadBalancer": {"Type": "AWS::ElasticLoadBalancingV2::LoadBalancer", "Properties": {
            "Name": format!("{p}-lb"), "Scheme": "internet-facing", "Type": "application",
            "SecurityGroups": [{"Ref": "PublicHTTPLoadBalancerSecurityGroup"}],
            "Subnets": [{"Ref": "PublicSubnet1"}, {"Ref": "PublicSubnet2"}]}},
        "InternalLoadBalancer": {"Type": "AWS::ElasticLoadBalancingV2::LoadBalancer", "Properties": {
            "Name": format!("{p}-internal"), "Scheme": "internal", "Type": "application",
            "SecurityGroups": [{"Ref": "PublicHTTPLoadBalancerSecurityGroup"}],
            "Subnets": [{"Ref": "PrivateSubnet1"}, {"Ref": "PrivateSubnet2"}]}}
    });
    let add = |resources: &mut Json, name: String, value: Json| {
        resources.as_object_mut().expect("resources").insert(name, value);
    };
    let zone = |index: usize| json!({"Fn::Select": [index, {"Fn::GetAZs": ""}]});
    for i in 1..=2 {
        let subnet = |block: usize| json!({"Type": "AWS::EC2::Subnet", "Properties": {"CidrBlock": format!("{prefix}.{block}.0/24"), "VpcId": {"Ref": "VPC"}, "AvailabilityZone": zone(i - 1)}});
        let association = |table: String, subnet: String| json!({"Type": "AWS::EC2::SubnetRouteTableAssociation", "Properties": {"RouteTableId": {"Ref": table}, "SubnetId": {"Ref": subnet}}});
        add(&mut resources, format!("PublicSubnet{i}"), subnet(i - 1));
        add(&mut resources, format!("PrivateSubnet{i}"), subnet(i + 1));
        add(
            &mut resources,
            format!("PublicSubnet{i}RouteTableAssociation"),
            association("PublicRouteTable".into(), format!("PublicSubnet{i}")),
        );
        add(
            &mut resources,
            format!("NatGateway{i}Attachment"),
            json!({"Type": "AWS::EC2::EIP", "DependsOn": "InternetGatewayAttachment", "Properties": {"Domain": "vpc"}}),
        );
        add(
            &mut resources,
            format!("NatGateway{i}"),
            json!({"Type": "AWS::EC2::NatGateway", "Properties": {
                "AllocationId": {"Fn::GetAtt": [format!("NatGateway{i}Attachment"), "AllocationId"]}, "SubnetId": {"Ref": format!("PublicSubnet{i}")}}}),
        );
        add(
            &mut resources,
            format!("PrivateRouteTable{i}"),
            json!({"Type": "AWS::EC2::RouteTable", "Properties": {"VpcId": {"Ref": "VPC"}}}),
        );
        add(
            &mut resources,
            format!("PrivateRoute{i}"),
            json!({"Type": "AWS::EC2::Route", "Properties": {
                "RouteTableId": {"Ref": format!("PrivateRouteTable{i}")}, "DestinationCidrBlock": "0.0.0.0/0", "NatGatewayId": {"Ref": format!("NatGateway{i}")}}}),
        );
        add(
            &mut resources,
            format!("PrivateRouteTable{i}Association"),
            association(format!("PrivateRouteTable{i}"), format!("PrivateSubnet{i}")),
        );
        if third_tier {
            add(&mut resources, format!("DatabaseSubnet{i}"), subnet(i + 3));
            add(
                &mut resources,
                format!("DatabaseSubnet{i}RouteTableAssociation"),
                association(format!("PrivateRouteTable{i}"), format!("DatabaseSubnet{i}")),
            );
        }
    }
    json!({"AWSTemplateFormatVersion": "2010-09-09", "Description": "A Copilot-shaped environment", "Resources": resources})
}

/// Creates the stack `name` from `template`; makes the associations its template names; returns
/// each resource's physical id by logical id.
fn deploy(name: &str, template: &Json) -> std::collections::BTreeMap<String, String> {
    block_on(async {
        let cloudformation = cloudformation();
        cloudformation
            .create_stack()
            .stack_name(name)
            .template_body(template.to_string())
            .send()
            .await
            .expect("CreateStack");
        let listed = cloudformation.list_stack_resources().stack_name(name).send().await.expect("list");
        let physical: std::collections::BTreeMap<String, String> = listed
            .stack_resource_summaries()
            .iter()
            .map(|r| {
                (
                    r.logical_resource_id().unwrap_or_default().to_string(),
                    r.physical_resource_id().unwrap_or_default().to_string(),
                )
            })
            .collect();
        let resources = template["Resources"].as_object().expect("resources");
        for entry in resources.values().filter(|e| e["Type"] == "AWS::EC2::SubnetRouteTableAssociation") {
            let id = |property: &str| physical[entry["Properties"][property]["Ref"].as_str().expect("a Ref")].clone();
            ec2()
                .associate_route_table()
                .route_table_id(id("RouteTableId"))
                .subnet_id(id("SubnetId"))
                .send()
                .await
                .expect("AssociateRouteTable");
        }
        physical
    })
}

fn stack_status(name: &str) -> String {
    block_on(async {
        let stacks = cloudformation().describe_stacks().stack_name(name).send().await.expect("DescribeStacks");
        stacks.stacks()[0].stack_status().map(|s| s.as_str().to_string()).unwrap_or_default()
    })
}

/// Whether the Elastic IP address `public_ip` (an `AWS::EC2::EIP`'s physical id) was released.
fn address_released(public_ip: &str) -> bool {
    block_on(async {
        let found = ec2().describe_addresses().public_ips(public_ip).send().await;
        found.map(|a| a.addresses().is_empty()).unwrap_or(true)
    })
}

#[test]
fn a_copilot_network_laid_out_as_provision_lays_one_out_moves_in_as_one_vpc() {
    let project = Project::new("cfnnet", "").with_emulator();
    project.remove("stack.toml");
    let p = project.stack_name.clone();
    let environment = format!("{p}-test");
    let ids = deploy(&environment, &template(&p, "10.43", false));

    let run = project.run(&["import", "--from-cloudformation", &environment, "--name", &p]).success();
    assert!(run.stdout.contains("The network moved in as `vpc.main`"), "{}", run.stdout);
    assert!(!run.stdout.contains("stays with CloudFormation"), "{}", run.stdout);
    let listed = run.stdout.lines().find(|line| line.trim_start().starts_with("vpc.main")).unwrap_or_default();
    for part in
        ["PrivateSubnet2", "NatGateway1Attachment", "PrivateRouteTable2Association", "InternetGatewayAttachment"]
    {
        assert!(listed.contains(part), "{part} is folded into the vpc: {listed}");
    }
    assert!(
        run.stdout.contains(
            "give every resource `DeletionPolicy: Retain`, the network's parts included (they are `vpc.main`'s now)"
        ),
        "the network is retired with the stack, not deleted with it:\n{}",
        run.stdout
    );

    let stack = std::fs::read_to_string(project.path("stack.toml")).expect("the stack file");
    crate::support::schema_check::assert_valid(&project.path("stack.toml"));
    for expected in [
        "[network]\nvpc = \"${vpc.main.id}\"\n".to_string(),
        "# from VPC (with InternetGateway, ".to_string(),
        format!("[vpc.main]\nname = \"{environment}-net\"\ncidr = \"10.43.0.0/16\"\n"),
        "nat = \"per_az\"".to_string(),
        "vpc = \"${vpc.main.id}\"".to_string(),
        "subnets = \"${vpc.main.public_subnet_ids}\"".to_string(),
        "subnets = \"${vpc.main.private_subnet_ids}\"".to_string(),
    ] {
        assert!(stack.contains(&expected), "the stack file lacks {expected:?}:\n{stack}\n{}", run.stdout);
    }
    for logical in ["VPC", "PublicSubnet1", "PrivateSubnet2"] {
        assert!(!stack.contains(ids[logical].as_str()), "`{logical}` is a reference, not a literal id:\n{stack}");
    }
    let plan = project.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code, 0, "the first plan is empty:\n{}\n{}\n{stack}", plan.stdout, plan.stderr);

    project.run(&["apply", "--auto-approve"]).success();
    assert_eq!(stack_status(&environment), "CREATE_COMPLETE", "the stack is never changed");
    project.run(&["destroy", "--auto-approve"]).success();
    assert_eq!(count_parts(&ids["VPC"]), nothing(), "the adopted network is gone with all its parts");
    for address in ["NatGateway1Attachment", "NatGateway2Attachment"] {
        assert!(address_released(&ids[address]), "{address} was adopted with its NAT gateway and released");
    }
}

#[test]
fn a_copilot_network_with_a_third_tier_stays_with_cloudformation_and_the_command_says_why() {
    let project = Project::new("cfnnet3", "").with_emulator();
    project.remove("stack.toml");
    let p = project.stack_name.clone();
    let environment = format!("{p}-test");
    let ids = deploy(&environment, &template(&p, "10.44", true));

    let run = project.run(&["import", "--from-cloudformation", &environment, "--name", &p]).success();
    let why = run.stdout.lines().find(|line| line.contains("stays with CloudFormation because")).unwrap_or_default();
    assert!(
        why.contains("a third tier of subnets: `Fn::GetAZs[0]` has 3") && why.contains("`DatabaseSubnet1`"),
        "one line names the first misfit:\n{}",
        run.stdout
    );
    for part in ["VPC ", "DatabaseSubnet1 ", "NatGateway1 ", "PrivateRouteTable1Association "] {
        let line = run.stdout.lines().find(|line| line.trim_start().starts_with(part)).unwrap_or_default();
        assert!(line.contains("stays where it is, with CloudFormation"), "{part}is listed as kept:\n{}", run.stdout);
    }
    let stack = std::fs::read_to_string(project.path("stack.toml")).expect("the stack file");
    assert!(stack.contains(&format!("[network]\nvpc = \"{}\"\n", ids["VPC"])), "{stack}");
    assert!(!stack.contains("[vpc."), "never a half-adopted network:\n{stack}");
    assert_eq!(project.run(&["plan", "--detailed-exitcode"]).code, 0);
    project.run(&["destroy", "--auto-approve"]).success();
    assert_eq!(count_parts(&ids["VPC"])["subnet"], 6, "the kept network is as it was");
}
