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
    let mut subnets = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let sent = token.take();
        let answer = ec2
            .describe_subnets()
            .filters(aws_sdk_ec2::types::Filter::builder().name("vpc-id").values(&vpc_id).build())
            .set_next_token(sent.clone())
            .send()
            .await
            .map_err(|e| crate::aws_error("DescribeSubnets", e))?;
        subnets.extend(answer.subnets().iter().cloned());
        token = crate::drivers::paging::next_token(answer.next_token(), sent.as_deref());
        if token.is_none() {
            break;
        }
    }
    let subnet_ids = one_per_zone(&subnets);
    if subnet_ids.is_empty() {
        return Err(DriverError::invalid(format!("VPC `{vpc_id}` has no subnets"))
            .with_hint("list the subnets to use in `[network] subnets`"));
    }
    Ok(Network { vpc_id, subnet_ids })
}

/// One subnet per availability zone, in zone order: the zone's default subnet if it has one, else
/// the lowest id. EC2 lists subnets in no particular order, so the choice must not depend on it, or
/// a run could move every service and load balancer to other subnets.
fn one_per_zone(subnets: &[aws_sdk_ec2::types::Subnet]) -> Vec<String> {
    let mut by_zone: std::collections::BTreeMap<&str, (bool, &str)> = std::collections::BTreeMap::new();
    for subnet in subnets {
        let (Some(zone), Some(id)) = (subnet.availability_zone(), subnet.subnet_id()) else { continue };
        // Ordered so that the smallest is the one to pick: default first, then the lowest id.
        let candidate = (subnet.default_for_az() != Some(true), id);
        by_zone.entry(zone).and_modify(|best| *best = (*best).min(candidate)).or_insert(candidate);
    }
    by_zone.into_values().map(|(_, id)| id.to_string()).collect()
}

#[cfg(test)]
mod tests {
    use aws_sdk_ec2::types::Subnet;

    use super::*;

    fn subnet(id: &str, zone: &str, default: bool) -> Subnet {
        Subnet::builder().subnet_id(id).availability_zone(zone).default_for_az(default).build()
    }

    #[test]
    fn the_choice_per_zone_does_not_depend_on_the_listing_order() {
        let listed = [
            subnet("subnet-9", "us-east-1b", false),
            subnet("subnet-3", "us-east-1a", false),
            subnet("subnet-7", "us-east-1b", false),
            subnet("subnet-1", "us-east-1a", false),
        ];
        let mut reversed = listed.clone();
        reversed.reverse();
        assert_eq!(one_per_zone(&listed), ["subnet-1", "subnet-7"]);
        assert_eq!(one_per_zone(&reversed), ["subnet-1", "subnet-7"]);
    }

    #[test]
    fn a_zones_default_subnet_is_preferred() {
        let listed = [subnet("subnet-1", "us-east-1a", false), subnet("subnet-5", "us-east-1a", true)];
        assert_eq!(one_per_zone(&listed), ["subnet-5"]);
    }
}
