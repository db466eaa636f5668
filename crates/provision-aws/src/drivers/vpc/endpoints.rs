//! A VPC's endpoints: gateway endpoints (S3, DynamoDB) on the route tables, interface endpoints
//! (ECR, logs, Secrets Manager …) in the private subnets behind a security group of their own
//! that lets HTTPS in from the VPC, so that tasks in private subnets reach those services without
//! a NAT gateway. Each is made with its tags and a client token; the interface endpoints are
//! waited for by `converge` beside the NAT gateways.

use aws_sdk_ec2::types::{IpPermission, IpRange, ResourceType, VpcEndpointType};

use super::config::{Role, VpcConfig};
use super::converge::{enable_dns_hostnames, token, Work};
use super::layout::{EndpointPart, Layout};
use super::{survey, tokenless};
use crate::behaviours::ec2::NEW_NETWORK_PART;
use crate::drivers::DriverError;

/// Makes the missing endpoints and widens the reach of the others; returns the interface
/// endpoints made, still `pending`.
pub(super) async fn make(work: &Work<'_>, config: &VpcConfig, layout: &mut Layout) -> Result<Vec<String>, DriverError> {
    let missing = survey::missing_endpoints(config, layout);
    if missing.iter().any(|(_, gateway)| !gateway) {
        enable_dns_hostnames(work, &layout.vpc_id).await?;
        layout.endpoint_group = Some(endpoint_group(work, layout).await?);
    }
    let tables: Vec<String> =
        survey::wanted_tables(config).into_iter().filter_map(|r| layout.table(r)).map(|t| t.id.clone()).collect();
    let subnets: Vec<String> =
        (0..config.azs).filter_map(|i| layout.subnet(Role::Private, i)).map(|s| s.id.clone()).collect();
    let mut interfaces = Vec::new();
    for (service, gateway) in missing {
        let tagging = work.tagging(ResourceType::VpcEndpoint, &layout.vpc_id, &format!("endpoint-{service}"), service);
        let (vpc_id, token, name) = (layout.vpc_id.clone(), token(), work.service_name(service));
        let group = layout.endpoint_group.clone();
        let created = NEW_NETWORK_PART
            .run(|| async {
                let request = work
                    .ec2
                    .create_vpc_endpoint()
                    .vpc_id(&vpc_id)
                    .service_name(&name)
                    .client_token(&token)
                    .tag_specifications(tagging.clone());
                let request = if gateway {
                    request.vpc_endpoint_type(VpcEndpointType::Gateway).set_route_table_ids(Some(tables.clone()))
                } else {
                    request
                        .vpc_endpoint_type(VpcEndpointType::Interface)
                        .set_subnet_ids(Some(subnets.clone()))
                        .set_security_group_ids(group.clone().map(|g| vec![g]))
                        .private_dns_enabled(true)
                };
                request.send().await.map_err(|error| crate::aws_error("CreateVpcEndpoint", error))
            })
            .await?;
        let id = created.vpc_endpoint().and_then(|e| e.vpc_endpoint_id()).unwrap_or_default().to_string();
        if !gateway {
            interfaces.push(id.clone());
        }
        layout.endpoints.push(EndpointPart {
            id,
            service: service.to_string(),
            gateway,
            table_ids: if gateway { tables.clone() } else { Vec::new() },
            subnet_ids: if gateway { Vec::new() } else { subnets.clone() },
            ours: true,
        });
    }
    for reach in survey::endpoint_reach(config, layout) {
        work.ec2
            .modify_vpc_endpoint()
            .vpc_endpoint_id(&reach.id)
            .set_add_route_table_ids((!reach.add_tables.is_empty()).then(|| reach.add_tables.clone()))
            .set_add_subnet_ids((!reach.add_subnets.is_empty()).then(|| reach.add_subnets.clone()))
            .send()
            .await
            .map_err(|error| crate::aws_error("ModifyVpcEndpoint", error))?;
        if let Some(endpoint) = layout.endpoints.iter_mut().find(|e| e.id == reach.id) {
            endpoint.table_ids.extend(reach.add_tables);
            endpoint.subnet_ids.extend(reach.add_subnets);
        }
    }
    Ok(interfaces)
}

/// The security group of the interface endpoints, HTTPS from anywhere in the VPC: made unless a
/// run made it before, and its rule given again (a run may have been killed before it).
async fn endpoint_group(work: &Work<'_>, layout: &Layout) -> Result<String, DriverError> {
    let id = match &layout.endpoint_group {
        Some(id) => id.clone(),
        None => {
            const PART: &str = "endpoints-security-group";
            let tagging = work.tagging(ResourceType::SecurityGroup, &layout.vpc_id, PART, "endpoints");
            let name = format!("{}-endpoints", work.name);
            tokenless::group(work, &layout.vpc_id, &name, PART, tagging).await?
        }
    };
    let https = IpPermission::builder()
        .ip_protocol("tcp")
        .from_port(443)
        .to_port(443)
        .ip_ranges(IpRange::builder().cidr_ip(&layout.cidr).description("the VPC").build())
        .build();
    let authorized = NEW_NETWORK_PART
        .run(|| async {
            work.ec2
                .authorize_security_group_ingress()
                .group_id(&id)
                .ip_permissions(https.clone())
                .send()
                .await
                .map_err(|error| crate::aws_error("AuthorizeSecurityGroupIngress", error))
        })
        .await;
    match authorized {
        Err(error) if error.code_is("InvalidPermission.Duplicate") => Ok(id),
        other => other.map(|_| id),
    }
}
