//! The `[network]` a stack lives in: the VPC (the account's default one, or an id) and its subnets,
//! one per availability zone unless the stack lists them.

use provision_core::cloud::Network;
use provision_core::driver::DriverError;

use crate::context::AwsContext;

pub async fn look_up(aws: &AwsContext, vpc: &str, subnets: Option<&[String]>) -> Result<Network, DriverError> {
    let ec2 = aws.ec2();
    let vpc_id = if vpc == "default" {
        let answer = ec2
            .describe_vpcs()
            .filters(aws_sdk_ec2::types::Filter::builder().name("is-default").values("true").build())
            .send()
            .await
            .map_err(|e| crate::aws_error("DescribeVpcs", e))?;
        answer.vpcs().first().and_then(|v| v.vpc_id()).map(str::to_string).ok_or_else(|| {
            DriverError::invalid("this account and region have no default VPC")
                .with_hint("set `vpc = \"vpc-…\"` and `subnets = [...]` in `[network]`")
        })?
    } else {
        vpc.to_string()
    };
    if let Some(subnets) = subnets {
        return Ok(Network { vpc_id, subnet_ids: subnets.to_vec() });
    }
    let answer = ec2
        .describe_subnets()
        .filters(aws_sdk_ec2::types::Filter::builder().name("vpc-id").values(&vpc_id).build())
        .send()
        .await
        .map_err(|e| crate::aws_error("DescribeSubnets", e))?;
    // One subnet per availability zone, in zone order, so the choice is stable between runs.
    let mut by_zone = std::collections::BTreeMap::new();
    for subnet in answer.subnets() {
        if let (Some(zone), Some(id)) = (subnet.availability_zone(), subnet.subnet_id()) {
            by_zone.entry(zone.to_string()).or_insert_with(|| id.to_string());
        }
    }
    if by_zone.is_empty() {
        return Err(DriverError::invalid(format!("VPC `{vpc_id}` has no subnets"))
            .with_hint("list the subnets to use in `[network] subnets`"));
    }
    Ok(Network { vpc_id, subnet_ids: by_zone.into_values().collect() })
}
