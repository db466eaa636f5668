use serde_json::{json, Value as Json};

use super::super::{inventory, StackRecords};
use super::*;
use crate::ops::import::network_fit::{judge, Network};

/// An AWS Copilot environment's network as Copilot's template writes it (YAML, short forms):
/// two zones, a public and a private subnet in each, and a NAT gateway per zone when `nat`.
fn copilot(nat: bool) -> String {
    let mut text = String::from(
        r#"
Resources:
  VPC:
    Type: AWS::EC2::VPC
    Properties:
      CidrBlock: 10.0.0.0/16
      EnableDnsHostnames: true
      Tags:
        - Key: Name
          Value: !Sub 'copilot-${AppName}-${EnvironmentName}'
  InternetGateway:
    Type: AWS::EC2::InternetGateway
  InternetGatewayAttachment:
    Type: AWS::EC2::VPCGatewayAttachment
    Properties:
      InternetGatewayId: !Ref InternetGateway
      VpcId: !Ref VPC
  PublicRouteTable:
    Type: AWS::EC2::RouteTable
    Properties:
      VpcId: !Ref VPC
  DefaultPublicRoute:
    Type: AWS::EC2::Route
    DependsOn: InternetGatewayAttachment
    Properties:
      RouteTableId: !Ref PublicRouteTable
      DestinationCidrBlock: 0.0.0.0/0
      GatewayId: !Ref InternetGateway
  S3Endpoint:
    Type: AWS::EC2::VPCEndpoint
    Properties:
      VpcId: !GetAtt VPC.VpcId
      ServiceName: !Sub 'com.amazonaws.${AWS::Region}.s3'
"#,
    );
    for i in 1..=2 {
        text.push_str(&format!(
            r#"
  PublicSubnet{i}:
    Type: AWS::EC2::Subnet
    Properties:
      CidrBlock: 10.0.{public}.0/24
      VpcId: !Ref VPC
      AvailabilityZone: !Select [ {index}, !GetAZs '' ]
      MapPublicIpOnLaunch: true
  PublicSubnet{i}RouteTableAssociation:
    Type: AWS::EC2::SubnetRouteTableAssociation
    Properties:
      RouteTableId: !Ref PublicRouteTable
      SubnetId: !Ref PublicSubnet{i}
  PrivateSubnet{i}:
    Type: AWS::EC2::Subnet
    Properties:
      CidrBlock: 10.0.{private}.0/24
      VpcId: !Ref VPC
      AvailabilityZone: !Select [ {index}, !GetAZs '' ]
"#,
            public = i - 1,
            private = i + 1,
            index = i - 1
        ));
        if nat {
            text.push_str(&format!(
                r#"
  NatGateway{i}Attachment:
    Type: AWS::EC2::EIP
    Properties:
      Domain: vpc
  NatGateway{i}:
    Type: AWS::EC2::NatGateway
    Properties:
      AllocationId: !GetAtt NatGateway{i}Attachment.AllocationId
      SubnetId: !Ref PublicSubnet{i}
  PrivateRouteTable{i}:
    Type: AWS::EC2::RouteTable
    Properties:
      VpcId: !Ref VPC
  PrivateRoute{i}:
    Type: AWS::EC2::Route
    Properties:
      RouteTableId: !Ref PrivateRouteTable{i}
      DestinationCidrBlock: 0.0.0.0/0
      NatGatewayId: !Ref NatGateway{i}
  PrivateRouteTable{i}Association:
    Type: AWS::EC2::SubnetRouteTableAssociation
    Properties:
      RouteTableId: !Ref PrivateRouteTable{i}
      SubnetId: !Ref PrivateSubnet{i}
"#
            ));
        }
    }
    text
}

/// The stack CloudFormation made from `template`: every resource `CREATE_COMPLETE`, with the
/// physical id AWS gives its type (an association's is its own id, an address's its public IP).
fn stack(template: &str) -> StackRecords {
    let template = provision_aws::cloudformation::template_json(template).expect("a template");
    let mut resources = Vec::new();
    for (logical, entry) in template["Resources"].as_object().expect("resources") {
        let kind = entry["Type"].as_str().expect("a type");
        let prefix = match kind {
            "AWS::EC2::VPC" => "vpc-",
            "AWS::EC2::Subnet" => "subnet-",
            "AWS::EC2::InternetGateway" => "igw-",
            "AWS::EC2::RouteTable" => "rtb-",
            "AWS::EC2::NatGateway" => "nat-",
            "AWS::EC2::VPCEndpoint" => "vpce-",
            "AWS::EC2::SubnetRouteTableAssociation" => "rtbassoc-",
            "AWS::EC2::EIP" => "203.0.113.",
            _ => "",
        };
        resources.push(StackResource {
            logical_id: logical.clone(),
            physical_id: format!("{prefix}{}", logical.to_lowercase()),
            resource_type: kind.to_string(),
            status: "CREATE_COMPLETE".into(),
        });
    }
    StackRecords { name: "app-test".into(), resources, template }
}

fn kept(template: &str) -> String {
    let stack = stack(template);
    let inventory = inventory(&[stack], "us-east-1").expect("maps");
    assert!(inventory.resources.iter().all(|found| found.address.type_name != "vpc"), "{:?}", inventory.resources);
    let vpc = inventory.unmapped.iter().find(|u| u.origin == "VPC").expect("the VPC is listed");
    assert!(vpc.reason.contains("stays where it is, with CloudFormation"), "{vpc:?}");
    inventory.network_kept.expect("a reason")
}

#[test]
fn a_copilot_network_with_a_nat_gateway_per_zone_fits_with_every_part() {
    let stack = stack(&copilot(true));
    let records = records(std::slice::from_ref(&stack), "us-east-1").expect("records");
    let nat = records.iter().find(|r| r.address == "NatGateway2").expect("a NAT gateway");
    assert_eq!(nat.text("subnet_id"), Some("subnet-publicsubnet2"));
    let address = records.iter().find(|r| r.address == "NatGateway2Attachment").expect("its address");
    assert_eq!(nat.text("allocation_id"), address.text("id"), "the NAT gateway holds the stack's address");
    let subnet = records.iter().find(|r| r.address == "PrivateSubnet2").expect("a subnet");
    assert_eq!(subnet.text("availability_zone"), Some("Fn::GetAZs[1]"));
    let endpoint = records.iter().find(|r| r.address == "S3Endpoint").expect("the endpoint");
    assert_eq!(endpoint.text("service_name"), Some("com.amazonaws.us-east-1.s3"));
    assert_eq!(endpoint.text("vpc_id"), Some("vpc-vpc"), "`Fn::GetAtt VPC.VpcId` is the VPC's id");
    assert!(matches!(judge(&records), Network::Fits(_)), "{:?}", judge(&records));

    let inventory = inventory(&[stack], "us-east-1").expect("maps");
    let vpc = &inventory.resources[0];
    assert_eq!(vpc.address.to_string(), "vpc.main", "`VPC` says nothing more than its type");
    assert_eq!((vpc.id.as_str(), vpc.origin.as_str()), ("vpc-vpc", "VPC"));
    assert_eq!(Json::Object(vpc.fields.clone()), json!({"azs": 2, "nat": "per_az", "endpoints": ["s3"]}));
    // Everything but the VPC: the gateway and its attachment, 3 route tables, 3 routes, 4 subnets
    // and their 4 associations, 2 NAT gateways with their 2 addresses, the endpoint.
    assert_eq!(vpc.folded.len(), 21, "{:?}", vpc.folded);
    assert!(vpc.folded.contains(&"PrivateRouteTable2Association".to_string()));
    assert!(vpc.unless_repaired.as_ref().is_some_and(|why| why.contains("with CloudFormation")));
    assert!(inventory.unmapped.is_empty(), "nothing of the network is left out: {:?}", inventory.unmapped);
    assert!(inventory.network_kept.is_none());
}

#[test]
fn copilot_private_subnets_on_the_main_route_table_keep_the_network() {
    // Without NAT gateways Copilot gives its private subnets no route table.
    let why = kept(&copilot(false));
    assert_eq!(
        why, "subnet `PrivateSubnet1` has no route table of its own (it uses the VPC's main one)",
        "the first misfit is named"
    );
}

#[test]
fn private_subnets_sharing_a_route_table_keep_the_network() {
    let shared = copilot(true).replace(
        "RouteTableId: !Ref PrivateRouteTable2\n      SubnetId: !Ref PrivateSubnet2",
        "RouteTableId: !Ref PrivateRouteTable1\n      SubnetId: !Ref PrivateSubnet2",
    );
    let why = kept(&shared);
    assert!(why.starts_with("private subnets share a route table (`PrivateSubnet1`, `PrivateSubnet2`)"), "{why}");
}

#[test]
fn a_third_tier_or_a_network_acl_keeps_the_network() {
    let tier = format!(
        "{}{}",
        copilot(true),
        r#"
  DatabaseSubnet1:
    Type: AWS::EC2::Subnet
    Properties:
      CidrBlock: 10.0.9.0/24
      VpcId: !Ref VPC
      AvailabilityZone: !Select [ 0, !GetAZs '' ]
  DatabaseSubnet1Association:
    Type: AWS::EC2::SubnetRouteTableAssociation
    Properties:
      RouteTableId: !Ref PrivateRouteTable1
      SubnetId: !Ref DatabaseSubnet1
"#
    );
    let why = kept(&tier);
    assert!(why.starts_with("a third tier of subnets: `Fn::GetAZs[0]` has 3"), "{why}");
    assert!(why.contains("`DatabaseSubnet1`"), "{why}");

    let acl = format!(
        "{}{}",
        copilot(true),
        "\n  PrivateAcl:\n    Type: AWS::EC2::NetworkAcl\n    Properties:\n      VpcId: !Ref VPC\n"
    );
    assert_eq!(kept(&acl), "`PrivateAcl` is a network ACL; provision's `vpc` keeps the default one");
}

#[test]
fn a_value_the_template_does_not_state_keeps_the_network_and_is_named() {
    let parameter = copilot(true).replace("CidrBlock: 10.0.0.0/16", "CidrBlock: !Ref VpcCidr");
    let why = kept(&parameter);
    assert!(why.starts_with("`VPC`'s `CidrBlock` is not a value the template states"), "{why}");

    let mut failed = stack(&copilot(true));
    failed.resources.iter_mut().find(|r| r.logical_id == "NatGateway1").expect("a NAT gateway").status =
        "CREATE_FAILED".into();
    let inventory = inventory(&[failed], "us-east-1").expect("maps");
    assert_eq!(inventory.network_kept.as_deref(), Some("`NatGateway1` is `CREATE_FAILED`, not made"));
}

#[test]
fn functions_resolve_as_cloudformation_resolves_them() {
    let stack = stack(&copilot(true));
    let values =
        Values { physical: stack.resources.iter().map(|r| (r.logical_id.as_str(), r)).collect(), region: "eu-west-1" };
    let resolve = |value: Json| values.resolve(&value);
    assert_eq!(resolve(json!({"Ref": "PublicSubnet1"})), Some(json!("subnet-publicsubnet1")));
    assert_eq!(resolve(json!({"Fn::GetAtt": "NatGateway1.NatGatewayId"})), Some(json!("nat-natgateway1")));
    assert_eq!(
        resolve(json!({"Fn::Sub": ["${Vpc}/${AWS::Region}/${!Literal}", {"Vpc": {"Ref": "VPC"}}]})),
        Some(json!("vpc-vpc/eu-west-1/${Literal}"))
    );
    assert_eq!(resolve(json!({"Fn::Select": ["1", ["a", {"Ref": "VPC"}]]})), Some(json!("vpc-vpc")));
    assert_eq!(resolve(json!({"Ref": "EnvironmentName"})), None, "a parameter's value is not in the template");
    assert_eq!(resolve(json!({"Fn::If": ["Cond", "a", "b"]})), None);
}

#[test]
fn a_stack_without_a_vpc_has_no_network_to_judge() {
    let template = r#"
Resources:
  ExtraSubnet:
    Type: AWS::EC2::Subnet
    Properties:
      CidrBlock: 10.0.9.0/24
      VpcId: vpc-elsewhere
      AvailabilityZone: us-east-1a
"#;
    let inventory = inventory(&[stack(template)], "us-east-1").expect("maps");
    assert!(inventory.network_kept.is_none());
    assert!(
        inventory.unmapped[0].reason.contains("stays where it is, with CloudFormation"),
        "{:?}",
        inventory.unmapped
    );
}
