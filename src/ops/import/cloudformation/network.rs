//! A CloudFormation stack's network (an AWS Copilot environment has one) as the records the
//! network judge reads (`network_fit.rs`), so a stack and a Terraform state are held to the same
//! rules by one implementation. Each `AWS::EC2::*` network resource becomes the Terraform AWS
//! provider's type with the attributes the judge reads, taken from the template's properties:
//! a `Ref` to another resource of the stack is its physical id (`ListStackResources`), as AWS
//! resolves it; `Fn::GetAtt` of an id attribute (`VpcId`, `SubnetId` …) too, and of any other
//! attribute a stand-in both ends agree on (a NAT gateway's `AllocationId` is the address's
//! `AllocationId`, whose physical id is its public IP); `Fn::Sub` with those and `AWS::Region`;
//! `Fn::Select` of a list or of `Fn::GetAZs` (the zone is then named by its index: only its
//! place among the zones matters to the judge). A value the template does not state that way (a
//! parameter, a condition) keeps the network with CloudFormation, and the reason names it.

use std::collections::BTreeMap;

use serde_json::{json, Value as Json};

use provision_aws::cloudformation::StackResource;
use provision_core::value::JsonMap;

use super::StackRecords;
use crate::ops::import::network_fit::Record;

/// The Terraform AWS provider's type for a CloudFormation network type; `None` for any other type.
pub fn terraform_type(resource_type: &str, properties: &Json) -> Option<&'static str> {
    let has = |name: &str| !properties[name].is_null();
    Some(match resource_type {
        "AWS::EC2::VPC" => "aws_vpc",
        "AWS::EC2::Subnet" => "aws_subnet",
        "AWS::EC2::InternetGateway" => "aws_internet_gateway",
        "AWS::EC2::VPCGatewayAttachment" if has("VpnGatewayId") => "aws_vpn_gateway_attachment",
        "AWS::EC2::VPCGatewayAttachment" => "aws_internet_gateway_attachment",
        "AWS::EC2::RouteTable" => "aws_route_table",
        "AWS::EC2::Route" => "aws_route",
        "AWS::EC2::SubnetRouteTableAssociation" | "AWS::EC2::GatewayRouteTableAssociation" => {
            "aws_route_table_association"
        }
        "AWS::EC2::NatGateway" => "aws_nat_gateway",
        "AWS::EC2::EIP" => "aws_eip",
        "AWS::EC2::VPCEndpoint" => "aws_vpc_endpoint",
        "AWS::EC2::EgressOnlyInternetGateway" => "aws_egress_only_internet_gateway",
        "AWS::EC2::VPCCidrBlock"
            if ["AmazonProvidedIpv6CidrBlock", "Ipv6CidrBlock", "Ipv6Pool", "Ipv6IpamPoolId"]
                .iter()
                .any(|p| has(p)) =>
        {
            "aws_vpc_ipv6_cidr_block_association"
        }
        "AWS::EC2::VPCCidrBlock" => "aws_vpc_ipv4_cidr_block_association",
        // A subnet's IPv6 range: the judge's reason for it is the same as for the VPC's.
        "AWS::EC2::SubnetCidrBlock" => "aws_vpc_ipv6_cidr_block_association",
        "AWS::EC2::NetworkAcl" => "aws_network_acl",
        "AWS::EC2::NetworkAclEntry" => "aws_network_acl_rule",
        "AWS::EC2::SubnetNetworkAclAssociation" => "aws_network_acl_association",
        "AWS::EC2::FlowLog" => "aws_flow_log",
        "AWS::EC2::DHCPOptions" => "aws_vpc_dhcp_options",
        "AWS::EC2::VPCDHCPOptionsAssociation" => "aws_vpc_dhcp_options_association",
        "AWS::EC2::VPNGateway" => "aws_vpn_gateway",
        "AWS::EC2::VPNGatewayRoutePropagation" => "aws_vpn_gateway_route_propagation",
        _ => return None,
    })
}

/// Attributes read from the template, by type: (the judge's attribute, the property).
fn read_from(type_name: &str) -> &'static [(&'static str, &'static str)] {
    match type_name {
        "aws_vpc" => &[("cidr_block", "CidrBlock")],
        "aws_subnet" => &[
            ("vpc_id", "VpcId"),
            ("cidr_block", "CidrBlock"),
            ("availability_zone", "AvailabilityZone"),
            ("ipv6_cidr_block", "Ipv6CidrBlock"),
        ],
        "aws_internet_gateway_attachment" => &[("vpc_id", "VpcId"), ("internet_gateway_id", "InternetGatewayId")],
        "aws_route_table" => &[("vpc_id", "VpcId")],
        "aws_route" => &[
            ("route_table_id", "RouteTableId"),
            ("destination_cidr_block", "DestinationCidrBlock"),
            ("destination_ipv6_cidr_block", "DestinationIpv6CidrBlock"),
            ("destination_prefix_list_id", "DestinationPrefixListId"),
            ("gateway_id", "GatewayId"),
            ("nat_gateway_id", "NatGatewayId"),
            ("transit_gateway_id", "TransitGatewayId"),
            ("vpc_peering_connection_id", "VpcPeeringConnectionId"),
            ("network_interface_id", "NetworkInterfaceId"),
            ("instance_id", "InstanceId"),
            ("vpc_endpoint_id", "VpcEndpointId"),
            ("egress_only_gateway_id", "EgressOnlyInternetGatewayId"),
            ("carrier_gateway_id", "CarrierGatewayId"),
            ("local_gateway_id", "LocalGatewayId"),
            ("core_network_arn", "CoreNetworkArn"),
        ],
        "aws_route_table_association" => {
            &[("subnet_id", "SubnetId"), ("gateway_id", "GatewayId"), ("route_table_id", "RouteTableId")]
        }
        "aws_nat_gateway" => &[
            ("subnet_id", "SubnetId"),
            ("allocation_id", "AllocationId"),
            ("connectivity_type", "ConnectivityType"),
            ("secondary_allocation_ids", "SecondaryAllocationIds"),
        ],
        "aws_eip" => &[("instance", "InstanceId")],
        "aws_vpc_endpoint" => &[
            ("vpc_id", "VpcId"),
            ("service_name", "ServiceName"),
            ("vpc_endpoint_type", "VpcEndpointType"),
            ("route_table_ids", "RouteTableIds"),
        ],
        _ => &[],
    }
}

/// Every network resource of the stacks as a record, named as the report names it (`LogicalId`,
/// `STACK/LogicalId` when several stacks move in). An error is why the network stays with
/// CloudFormation.
pub fn records(stacks: &[StackRecords], region: &str) -> Result<Vec<Record>, String> {
    let several = stacks.len() > 1;
    let mut records = Vec::new();
    for stack in stacks {
        let template = &stack.template["Resources"];
        let values = Values::of(stack, region);
        for resource in &stack.resources {
            let properties = &template[&resource.logical_id]["Properties"];
            let Some(type_name) = terraform_type(&resource.resource_type, properties) else { continue };
            let address =
                if several { format!("{}/{}", stack.name, resource.logical_id) } else { resource.logical_id.clone() };
            let live = resource.status.ends_with("_COMPLETE") && !resource.status.starts_with("DELETE");
            if !live || resource.physical_id.is_empty() {
                return Err(format!("`{address}` is `{}`, not made", resource.status));
            }
            let mut attributes = JsonMap::new();
            attributes.insert("id".into(), json!(resource.physical_id));
            if type_name == "aws_eip" {
                // What a NAT gateway's `AllocationId` (`Fn::GetAtt [ADDRESS, AllocationId]`) reads.
                attributes.insert("id".into(), json!(values.attribute(resource, "AllocationId")));
            }
            for (attribute, property) in read_from(type_name) {
                let given = &properties[*property];
                if given.is_null() {
                    continue;
                }
                let value = values.resolve(given).ok_or_else(|| {
                    format!(
                        "`{address}`'s `{property}` is not a value the template states (a parameter, condition or import); the records cannot show it fits"
                    )
                })?;
                attributes.insert(attribute.to_string(), value);
            }
            if type_name == "aws_subnet" && !attributes.contains_key("availability_zone") {
                return Err(format!(
                    "`{address}` names no `AvailabilityZone`: AWS chose one, which the template does not show"
                ));
            }
            if type_name == "aws_vpc_endpoint" && !attributes.contains_key("vpc_endpoint_type") {
                // CloudFormation's default.
                attributes.insert("vpc_endpoint_type".into(), json!("Gateway"));
            }
            if type_name == "aws_route_table" {
                attributes.insert("route".into(), json!([]));
            }
            let name = super::snake(&resource.logical_id);
            records.push(Record { address, name, type_name: type_name.to_string(), attributes });
        }
    }
    Ok(records)
}

/// What a stack's intrinsic functions give.
pub(super) struct Values<'a> {
    physical: BTreeMap<&'a str, &'a StackResource>,
    region: &'a str,
}

impl<'a> Values<'a> {
    /// The values of `stack`'s template, which is in `region`.
    pub(super) fn of(stack: &'a StackRecords, region: &'a str) -> Values<'a> {
        Values { physical: stack.resources.iter().map(|r| (r.logical_id.as_str(), r)).collect(), region }
    }

    /// A value the template states as text: a literal, or what its intrinsic function gives.
    pub(super) fn text(&self, value: &Json) -> Option<String> {
        self.resolve(value)?.as_str().map(str::to_string)
    }

    fn resolve(&self, value: &Json) -> Option<Json> {
        match value {
            Json::String(_) | Json::Number(_) | Json::Bool(_) => Some(value.clone()),
            Json::Array(items) => {
                items.iter().map(|item| self.resolve(item)).collect::<Option<Vec<Json>>>().map(Json::Array)
            }
            Json::Object(map) if map.len() == 1 => {
                let (function, argument) = map.iter().next()?;
                match function.as_str() {
                    "Ref" => self.reference(argument.as_str()?).map(Json::String),
                    "Fn::GetAtt" => {
                        let (logical, attribute) = match argument {
                            Json::Array(parts) => (parts.first()?.as_str()?, parts.get(1)?.as_str()?),
                            Json::String(text) => text.split_once('.')?,
                            _ => return None,
                        };
                        Some(json!(self.attribute(self.physical.get(logical)?, attribute)))
                    }
                    "Fn::Sub" => self.substitute(argument).map(Json::String),
                    "Fn::Select" => {
                        let index = match argument.get(0)? {
                            Json::Number(n) => n.as_u64()?,
                            Json::String(text) => text.parse().ok()?,
                            _ => return None,
                        };
                        match argument.get(1)? {
                            Json::Object(inner) if inner.contains_key("Fn::GetAZs") => {
                                Some(json!(format!("Fn::GetAZs[{index}]")))
                            }
                            list => self.resolve(list)?.get(index as usize).cloned(),
                        }
                    }
                    _ => None,
                }
            }
            _ => None,
        }
    }

    /// `Ref`: a resource's physical id, or the region.
    fn reference(&self, name: &str) -> Option<String> {
        match name {
            "AWS::Region" => Some(self.region.to_string()),
            _ => self.physical.get(name).map(|resource| resource.physical_id.clone()),
        }
    }

    /// `Fn::GetAtt`: the physical id where the attribute is the resource's id, else a stand-in.
    fn attribute(&self, resource: &StackResource, attribute: &str) -> String {
        const IDS: &[&str] =
            &["VpcId", "SubnetId", "InternetGatewayId", "RouteTableId", "NatGatewayId", "Id", "VpcEndpointId"];
        if IDS.contains(&attribute) {
            resource.physical_id.clone()
        } else {
            format!("{}.{attribute}", resource.physical_id)
        }
    }

    /// `Fn::Sub` of a text, or of a text and its own variables.
    fn substitute(&self, argument: &Json) -> Option<String> {
        let (text, variables) = match argument {
            Json::String(text) => (text.as_str(), None),
            Json::Array(parts) => (parts.first()?.as_str()?, parts.get(1).and_then(Json::as_object)),
            _ => return None,
        };
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after.find('}')?;
            let name = &after[..end];
            if let Some(literal) = name.strip_prefix('!') {
                out.push_str(&format!("${{{literal}}}"));
            } else if let Some(value) = variables.and_then(|v| v.get(name)) {
                out.push_str(self.resolve(value)?.as_str()?);
            } else if let Some((logical, attribute)) = name.split_once('.') {
                out.push_str(&self.attribute(self.physical.get(logical)?, attribute));
            } else {
                out.push_str(&self.reference(name)?);
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Some(out)
    }
}

#[cfg(test)]
#[path = "network_tests.rs"]
mod tests;
