use serde_json::{json, Value as Json};

use super::super::terraform::{network_records, state_file::parse};
use super::*;

fn resource(type_name: &str, name: &str, instances: Vec<Json>) -> Json {
    // `count` gives several instances an index; one stands alone.
    let counted = instances.len() > 1;
    let instances: Vec<Json> = instances
        .into_iter()
        .enumerate()
        .map(|(index, attributes)| {
            let key = if counted { json!(index) } else { Json::Null };
            json!({"index_key": key, "schema_version": 0, "attributes": attributes})
        })
        .collect();
    json!({"mode": "managed", "type": type_name, "name": name, "provider": "provider[\"registry.terraform.io/hashicorp/aws\"]", "instances": instances})
}

/// A Terraform state's network records.
fn state(resources: Vec<Json>) -> Vec<Record> {
    let text = json!({"version": 4, "terraform_version": "1.9.8", "serial": 1, "lineage": "l", "outputs": {}, "resources": resources});
    network_records(&parse(&text.to_string(), "test.tfstate").expect("a state"))
}

/// The network provision's `vpc` makes with `azs = 2`, `nat`, and the S3 endpoint, as the
/// `terraform-aws-modules/vpc` module would describe it.
fn network(nat: &str) -> Vec<Json> {
    let zones = ["us-east-1a", "us-east-1b"];
    let subnet = |role: &str, i: usize, block: usize| json!({"id": format!("subnet-{role}{i}"), "vpc_id": "vpc-1", "cidr_block": format!("10.0.{}.0/20", block * 16), "availability_zone": zones[i]});
    let nats: Vec<usize> = match nat {
        "single" => vec![0],
        "per_az" => vec![0, 1],
        _ => vec![],
    };
    let mut resources = vec![
        resource(
            "aws_vpc",
            "this",
            vec![json!({"id": "vpc-1", "cidr_block": "10.0.0.0/16", "tags": {"Name": "shop"}})],
        ),
        resource("aws_subnet", "public", vec![subnet("public", 0, 8), subnet("public", 1, 9)]),
        resource("aws_subnet", "private", vec![subnet("private", 0, 0), subnet("private", 1, 1)]),
        resource("aws_internet_gateway", "this", vec![json!({"id": "igw-1", "vpc_id": "vpc-1"})]),
        resource(
            "aws_route_table",
            "public",
            vec![
                json!({"id": "rtb-public", "vpc_id": "vpc-1", "route": [{"cidr_block": "0.0.0.0/0", "gateway_id": "igw-1"}]}),
            ],
        ),
        resource(
            "aws_route_table_association",
            "public",
            (0..2).map(|i| json!({"subnet_id": format!("subnet-public{i}"), "route_table_id": "rtb-public"})).collect(),
        ),
        resource(
            "aws_route_table",
            "private",
            (0..2).map(|i| json!({"id": format!("rtb-private{i}"), "vpc_id": "vpc-1", "route": []})).collect(),
        ),
        resource(
            "aws_route_table_association",
            "private",
            (0..2)
                .map(
                    |i| json!({"subnet_id": format!("subnet-private{i}"), "route_table_id": format!("rtb-private{i}")}),
                )
                .collect(),
        ),
        resource(
            "aws_vpc_endpoint",
            "s3",
            vec![
                json!({"id": "vpce-1", "vpc_id": "vpc-1", "service_name": "com.amazonaws.us-east-1.s3", "vpc_endpoint_type": "Gateway"}),
            ],
        ),
        resource(
            "aws_default_network_acl",
            "this",
            vec![json!({"id": "acl-1", "vpc_id": "vpc-1",
                "ingress": [{"action": "allow", "protocol": "-1", "cidr_block": "0.0.0.0/0", "rule_no": 100}],
                "egress": [{"action": "allow", "protocol": "-1", "cidr_block": "0.0.0.0/0", "rule_no": 100}]})],
        ),
    ];
    if !nats.is_empty() {
        resources.push(resource(
            "aws_eip",
            "nat",
            nats.iter().map(|i| json!({"id": format!("eipalloc-{i}"), "domain": "vpc"})).collect(),
        ));
        resources.push(resource(
            "aws_nat_gateway",
            "this",
            nats.iter()
                .map(|i| json!({"id": format!("nat-{i}"), "subnet_id": format!("subnet-public{i}"), "allocation_id": format!("eipalloc-{i}"), "connectivity_type": "public"}))
                .collect(),
        ));
        resources.push(resource(
            "aws_route",
            "private_nat_gateway",
            (0..2)
                .map(|i| {
                    let nat = if nat == "per_az" { i } else { 0 };
                    json!({"route_table_id": format!("rtb-private{i}"), "destination_cidr_block": "0.0.0.0/0", "nat_gateway_id": format!("nat-{nat}")})
                })
                .collect(),
        ));
    }
    resources
}

fn kept(resources: Vec<Json>) -> String {
    match judge(&state(resources)) {
        Network::Kept(why) => why,
        other => panic!("the network should be kept: {other:?}"),
    }
}

#[test]
fn a_network_shaped_as_provision_makes_it_fits_with_every_part() {
    for (nat, parts) in [("single", 18), ("per_az", 20), ("none", 14)] {
        let state = state(network(nat));
        let Network::Fits(fit) = judge(&state) else { panic!("{nat}: {:?}", judge(&state)) };
        assert_eq!(fit.vpc.address, "aws_vpc.this");
        assert_eq!(vpc_name(fit.vpc), "main", "`this` says nothing");
        assert_eq!(Json::Object(fit.fields.clone()), json!({"azs": 2, "nat": nat, "endpoints": ["s3"]}));
        assert_eq!(fit.parts.len(), parts, "{nat}: {:?}", fit.parts.iter().map(|p| &p.address).collect::<Vec<_>>());
        assert!(fit.parts.iter().any(|p| p.address == "aws_route_table_association.private[1]"));
    }
}

#[test]
fn a_third_tier_of_subnets_keeps_the_network() {
    let mut resources = network("single");
    resources.push(resource(
        "aws_subnet",
        "database",
        vec![json!({"id": "subnet-db0", "vpc_id": "vpc-1", "cidr_block": "10.0.64.0/20", "availability_zone": "us-east-1a"})],
    ));
    resources.push(resource(
        "aws_route_table_association",
        "database",
        vec![json!({"subnet_id": "subnet-db0", "route_table_id": "rtb-private0"})],
    ));
    let why = kept(resources);
    assert!(why.starts_with("a third tier of subnets: `us-east-1a` has 3"), "{why}");
    assert!(why.contains("`aws_subnet.database`"), "{why}");
}

#[test]
fn one_private_route_table_for_all_zones_keeps_the_network() {
    let mut resources = network("none");
    for r in resources.iter_mut().filter(|r| r["name"] == "private" && r["type"] == "aws_route_table_association") {
        r["instances"][1]["attributes"]["route_table_id"] = json!("rtb-private0");
    }
    assert!(kept(resources).starts_with("private subnets share a route table"));
}

#[test]
fn what_the_type_does_not_hold_is_named() {
    let with = |extra: Json| {
        let mut resources = network("single");
        resources.push(extra);
        kept(resources)
    };
    let acl = with(resource("aws_network_acl", "private", vec![json!({"id": "acl-2", "vpc_id": "vpc-1"})]));
    assert_eq!(acl, "`aws_network_acl.private` is a network ACL; provision's `vpc` keeps the default one");
    let peering = with(resource(
        "aws_route",
        "peer",
        vec![
            json!({"route_table_id": "rtb-public", "destination_cidr_block": "10.9.0.0/16", "vpc_peering_connection_id": "pcx-1"}),
        ],
    ));
    assert!(peering.contains("routes `10.9.0.0/16`"), "{peering}");
    let endpoint = with(resource(
        "aws_vpc_endpoint",
        "ecr_api",
        vec![
            json!({"id": "vpce-2", "vpc_id": "vpc-1", "service_name": "com.amazonaws.us-east-1.ecr.api", "vpc_endpoint_type": "Interface"}),
        ],
    ));
    assert!(endpoint.contains("not one each of `ecr.api`, `ecr.dkr`"), "{endpoint}");
    let unknown = with(resource(
        "aws_vpc_endpoint",
        "sqs",
        vec![
            json!({"id": "vpce-3", "vpc_id": "vpc-1", "service_name": "com.amazonaws.us-east-1.sqs", "vpc_endpoint_type": "Interface"}),
        ],
    ));
    assert!(unknown.contains("which provision's `vpc` does not make"), "{unknown}");
    let second = with(resource("aws_vpc", "other", vec![json!({"id": "vpc-2", "cidr_block": "10.1.0.0/16"})]));
    assert!(second.starts_with("it holds 2 VPCs"), "{second}");
}

#[test]
fn ranges_and_nat_gateways_the_type_would_not_choose_keep_the_network() {
    let mut wide = network("none");
    wide[0]["instances"][0]["attributes"]["cidr_block"] = json!("10.0.0.0/8");
    assert!(kept(wide).starts_with("its address range `10.0.0.0/8`"));
    // One NAT gateway, in the second zone: provision's `single` puts it in the first.
    let mut second_zone = network("single");
    for r in second_zone.iter_mut().filter(|r| r["type"] == "aws_nat_gateway") {
        r["instances"][0]["attributes"]["subnet_id"] = json!("subnet-public1");
    }
    assert!(kept(second_zone).starts_with("its NAT gateways are shared between zones"));
    let mut unused = network("none");
    unused.push(resource("aws_eip", "spare", vec![json!({"id": "eipalloc-9", "domain": "vpc"})]));
    assert!(kept(unused).contains("held by no NAT gateway"));
}

#[test]
fn a_state_without_a_vpc_has_no_network_to_judge() {
    let resources: Vec<Json> = network("none").into_iter().filter(|r| r["type"] != "aws_vpc").collect();
    assert!(matches!(judge(&state(resources)), Network::None));
}
