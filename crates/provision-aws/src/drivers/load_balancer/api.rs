//! Load balancer calls, each turned into the plain values the driver compares and each naming its
//! operation when it fails.

use std::collections::BTreeMap;

use aws_sdk_elasticloadbalancingv2::types::{
    LoadBalancer, LoadBalancerAttribute, LoadBalancerSchemeEnum, LoadBalancerStateEnum, LoadBalancerTypeEnum,
};
use aws_sdk_elasticloadbalancingv2::Client;

use super::LoadBalancerConfig;
use crate::drivers::elbv2::{self, Describe};
use crate::drivers::DriverError;

const IDLE_TIMEOUT: &str = "idle_timeout.timeout_seconds";

/// What the driver needs of one `LoadBalancer` answer.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Snapshot {
    pub arn: String,
    pub name: String,
    pub dns_name: String,
    pub zone_id: String,
    /// `None` when the answer has no scheme (the emulator leaves it out unless one was given).
    pub internal: Option<bool>,
    /// Sorted, like the desired side after `prepare`.
    pub subnets: Vec<String>,
    pub security_groups: Vec<String>,
    pub state: State,
}

#[derive(Clone, Debug, PartialEq)]
pub(super) enum State {
    Ready,
    Provisioning,
    Failed(String),
}

impl Snapshot {
    fn from_aws(lb: &LoadBalancer) -> Option<Snapshot> {
        let mut subnets: Vec<String> =
            lb.availability_zones().iter().filter_map(|zone| zone.subnet_id().map(str::to_string)).collect();
        subnets.sort();
        let mut security_groups = lb.security_groups().to_vec();
        security_groups.sort();
        let state = lb.state();
        let state = match state.and_then(|state| state.code()) {
            Some(LoadBalancerStateEnum::Active | LoadBalancerStateEnum::ActiveImpaired) => State::Ready,
            Some(LoadBalancerStateEnum::Failed) => {
                State::Failed(state.and_then(|state| state.reason()).unwrap_or("no reason given").to_string())
            }
            // Provisioning, or a state this SDK does not know yet: keep waiting.
            _ => State::Provisioning,
        };
        Some(Snapshot {
            arn: lb.load_balancer_arn()?.to_string(),
            name: lb.load_balancer_name().unwrap_or_default().to_string(),
            dns_name: lb.dns_name().unwrap_or_default().to_string(),
            zone_id: lb.canonical_hosted_zone_id().unwrap_or_default().to_string(),
            internal: lb.scheme().map(|scheme| *scheme == LoadBalancerSchemeEnum::Internal),
            subnets,
            security_groups,
            state,
        })
    }
}

fn snapshots(load_balancers: &[LoadBalancer]) -> Vec<(String, Snapshot)> {
    load_balancers.iter().filter_map(Snapshot::from_aws).map(|lb| (lb.arn.clone(), lb)).collect()
}

/// `DescribeLoadBalancers` for up to 20 ARNs, for [`elbv2::describe_many`].
pub(super) fn describe_by_arns(elb: &Client) -> Describe<'_, Snapshot> {
    Box::new(move |arns| {
        Box::pin(async move {
            let output = elb
                .describe_load_balancers()
                .set_load_balancer_arns(Some(arns))
                .send()
                .await
                .map_err(|error| crate::aws_error("DescribeLoadBalancers", error))?;
            Ok(snapshots(output.load_balancers()))
        })
    })
}

pub(super) async fn describe_one(elb: &Client, arn: &str) -> Result<Option<Snapshot>, DriverError> {
    let mut found = elbv2::describe_many(&[arn], 1, describe_by_arns(elb)).await;
    found.pop().unwrap_or(Ok(None))
}

pub(super) async fn describe_by_name(elb: &Client, name: &str) -> Result<Option<Snapshot>, DriverError> {
    match elb.describe_load_balancers().names(name).send().await {
        Ok(output) => Ok(snapshots(output.load_balancers()).into_iter().map(|(_, lb)| lb).find(|lb| lb.name == name)),
        Err(error) => {
            let error = crate::aws_error("DescribeLoadBalancers", error);
            if elbv2::is_not_found(&error) {
                Ok(None)
            } else {
                Err(error)
            }
        }
    }
}

pub(super) async fn create(
    elb: &Client,
    config: &LoadBalancerConfig,
    tags: &BTreeMap<String, String>,
) -> Result<Snapshot, DriverError> {
    let scheme =
        if config.internal { LoadBalancerSchemeEnum::Internal } else { LoadBalancerSchemeEnum::InternetFacing };
    let mut request = elb
        .create_load_balancer()
        .name(&config.name)
        .r#type(LoadBalancerTypeEnum::Application)
        .scheme(scheme)
        .set_subnets(Some(config.subnets.clone()))
        .set_tags(Some(elbv2::tag_list(tags)));
    // Without security groups AWS attaches the VPC's default group.
    if !config.security_groups.is_empty() {
        request = request.set_security_groups(Some(config.security_groups.clone()));
    }
    let output = request.send().await.map_err(|error| crate::aws_error("CreateLoadBalancer", error))?;
    output
        .load_balancers()
        .first()
        .and_then(Snapshot::from_aws)
        .ok_or_else(|| DriverError::invalid("CreateLoadBalancer answered without a load balancer"))
}

pub(super) async fn set_idle_timeout(elb: &Client, arn: &str, seconds: i64) -> Result<(), DriverError> {
    let attribute = LoadBalancerAttribute::builder().key(IDLE_TIMEOUT).value(seconds.to_string()).build();
    elb.modify_load_balancer_attributes()
        .load_balancer_arn(arn)
        .attributes(attribute)
        .send()
        .await
        .map_err(|error| crate::aws_error("ModifyLoadBalancerAttributes", error))?;
    Ok(())
}

/// The idle timeout, `None` when the answer does not list it (the emulator only does once it was set).
pub(super) async fn idle_timeout(elb: &Client, arn: &str) -> Result<Option<i64>, DriverError> {
    let output = elb
        .describe_load_balancer_attributes()
        .load_balancer_arn(arn)
        .send()
        .await
        .map_err(|error| crate::aws_error("DescribeLoadBalancerAttributes", error))?;
    Ok(output
        .attributes()
        .iter()
        .find(|attribute| attribute.key() == Some(IDLE_TIMEOUT))
        .and_then(|attribute| attribute.value()?.parse().ok()))
}

pub(super) async fn set_subnets(elb: &Client, arn: &str, subnets: &[String]) -> Result<(), DriverError> {
    elb.set_subnets()
        .load_balancer_arn(arn)
        .set_subnets(Some(subnets.to_vec()))
        .send()
        .await
        .map_err(|error| crate::aws_error("SetSubnets", error))?;
    Ok(())
}

pub(super) async fn set_security_groups(elb: &Client, arn: &str, groups: &[String]) -> Result<(), DriverError> {
    elb.set_security_groups()
        .load_balancer_arn(arn)
        .set_security_groups(Some(groups.to_vec()))
        .send()
        .await
        .map_err(|error| crate::aws_error("SetSecurityGroups", error))?;
    Ok(())
}

/// Deletes the load balancer; one that is already gone counts as deleted.
pub(super) async fn delete(elb: &Client, arn: &str) -> Result<(), DriverError> {
    match elb.delete_load_balancer().load_balancer_arn(arn).send().await {
        Ok(_) => Ok(()),
        Err(error) => {
            let error = crate::aws_error("DeleteLoadBalancer", error);
            if elbv2::is_not_found(&error) {
                Ok(())
            } else {
                Err(error)
            }
        }
    }
}
