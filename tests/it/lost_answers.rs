//! A network the stack owns, made and taken apart while AWS loses the answer of each call that
//! makes or removes one of its parts (`any.response-lost`, aimed at one operation at a time through
//! the proxy's profile): the creates that take no client token (`CreateVpc`,
//! `CreateInternetGateway`, `CreateSubnet`, `AllocateAddress`, `CreateSecurityGroup`), those that
//! do, and the attachments, associations and routes. Each part must exist once, the plan must be
//! empty and a destroy must leave nothing, each the first time.

use crate::network::count_parts;
use crate::support::aws_world::AwsWorld;
use crate::support::inventory::left_of;
use crate::support::Project;

const STACK: &str = r#"
[stack]
name = "{name}"

[vpc.main]
azs = 2
nat = "single"
endpoints = ["s3", "ecr"]
"#;

/// The calls of an apply whose answers are lost, once each.
const APPLY: &[&str] = &[
    "CreateVpc",
    "CreateInternetGateway",
    "AttachInternetGateway",
    "CreateSubnet",
    "CreateRouteTable",
    "AssociateRouteTable",
    "CreateRoute",
    "AllocateAddress",
    "CreateNatGateway",
    "CreateSecurityGroup",
    "CreateVpcEndpoint",
];

/// The calls of a destroy whose answers are lost, once each.
const DESTROY: &[&str] = &[
    "DeleteVpcEndpoints",
    "DeleteNatGateway",
    "ReleaseAddress",
    "DeleteSubnet",
    "DeleteRouteTable",
    "DetachInternetGateway",
    "DeleteInternetGateway",
    "DeleteSecurityGroup",
    "DeleteVpc",
];

#[test]
fn a_network_whose_answers_are_lost_is_made_once_and_goes_completely() {
    let world = AwsWorld::with_lost_responses(0.0, 1);
    for operation in APPLY {
        world.lose_answers_of(operation, 1);
    }
    let project = Project::new("lostnet", STACK).through(&world);
    let apply = project.run(&["apply", "--auto-approve"]);
    assert_eq!(apply.code, 0, "the apply failed\n{}\n{}\n{}", apply.stdout, apply.stderr, world.summary());
    assert_eq!(world.met("any.response-lost"), APPLY.len() as u64, "every answer was lost\n{}", world.summary());
    let vpc_id =
        project.state()["resources"]["vpc.main"]["attributes"]["id"].as_str().expect("the VPC's id").to_string();
    let parts = count_parts(&vpc_id);
    let once = [
        ("vpc", 1),
        ("subnet", 4),
        ("route table (not the main one)", 3),
        ("internet gateway", 1),
        ("nat gateway", 1),
        ("elastic ip", 1),
        ("endpoint", 3),
        ("endpoint security group", 1),
    ];
    for (kind, n) in once {
        assert_eq!(parts[kind], n, "{kind}s of {vpc_id}: {parts:?}");
    }
    let stack = project.stack_name.clone();
    let made = left_of(&stack, None);
    assert_eq!(made.get("vpc"), Some(&1), "one VPC for the stack: {made:?}");
    assert_eq!(made.get("internet gateway"), Some(&1), "{made:?}");
    assert_eq!(made.get("elastic ip"), Some(&1), "{made:?}");
    project.run(&["plan", "--detailed-exitcode"]).code(0);

    for operation in DESTROY {
        world.lose_answers_of(operation, 1);
    }
    let destroy = project.run(&["destroy", "--auto-approve"]);
    assert_eq!(destroy.code, 0, "the destroy failed\n{}\n{}\n{}", destroy.stdout, destroy.stderr, world.summary());
    let left = left_of(&stack, None);
    assert!(left.is_empty(), "left after the destroy: {left:?}\n{}", world.summary());
}
