//! Target group calls, each turned into the plain values the driver compares and each naming its
//! operation when it fails.

use std::collections::BTreeMap;

use aws_sdk_elasticloadbalancingv2::types::{Matcher, ProtocolEnum, TargetGroup, TargetGroupAttribute, TargetTypeEnum};
use aws_sdk_elasticloadbalancingv2::Client;

use super::{HealthCheck, TargetGroupConfig};
use crate::drivers::elbv2::{self, Describe};
use crate::drivers::DriverError;

const DEREGISTRATION_DELAY: &str = "deregistration_delay.timeout_seconds";
const STICKINESS: &str = "stickiness.enabled";
const STICKINESS_TYPE: &str = "stickiness.type";

/// What the driver reads of one `TargetGroup` answer; `None` for what the answer leaves out.
#[derive(Clone, Debug, Default, PartialEq)]
pub(super) struct Snapshot {
    pub arn: String,
    pub name: String,
    pub port: Option<i64>,
    pub protocol: Option<String>,
    pub vpc: Option<String>,
    pub path: Option<String>,
    pub interval: Option<i64>,
    pub timeout: Option<i64>,
    pub healthy_threshold: Option<i64>,
    pub unhealthy_threshold: Option<i64>,
    pub matcher: Option<String>,
}

impl Snapshot {
    fn from_aws(group: &TargetGroup) -> Option<Snapshot> {
        Some(Snapshot {
            arn: group.target_group_arn()?.to_string(),
            name: group.target_group_name().unwrap_or_default().to_string(),
            port: group.port().map(i64::from),
            protocol: group.protocol().map(|protocol| protocol.as_str().to_string()),
            vpc: group.vpc_id().map(str::to_string),
            path: group.health_check_path().map(str::to_string),
            interval: group.health_check_interval_seconds().map(i64::from),
            timeout: group.health_check_timeout_seconds().map(i64::from),
            healthy_threshold: group.healthy_threshold_count().map(i64::from),
            unhealthy_threshold: group.unhealthy_threshold_count().map(i64::from),
            matcher: group.matcher().and_then(Matcher::http_code).map(str::to_string),
        })
    }
}

/// The target group attributes provision manages; `None` for those the answer leaves out.
#[derive(Clone, Debug, Default, PartialEq)]
pub(super) struct Attributes {
    pub deregistration_delay: Option<i64>,
    pub stickiness: Option<bool>,
}

fn snapshots(groups: &[TargetGroup]) -> Vec<(String, Snapshot)> {
    groups.iter().filter_map(Snapshot::from_aws).map(|group| (group.arn.clone(), group)).collect()
}

/// `DescribeTargetGroups` for any number of ARNs (following pages), for [`elbv2::describe_many`].
pub(super) fn describe_by_arns(elb: &Client) -> Describe<'_, Snapshot> {
    Box::new(move |arns| {
        Box::pin(async move {
            let mut pages = elb.describe_target_groups().set_target_group_arns(Some(arns)).into_paginator().send();
            let mut found = Vec::new();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|error| crate::aws_error("DescribeTargetGroups", error))?;
                found.extend(snapshots(page.target_groups()));
            }
            Ok(found)
        })
    })
}

pub(super) async fn describe_by_name(elb: &Client, name: &str) -> Result<Option<Snapshot>, DriverError> {
    match elb.describe_target_groups().names(name).send().await {
        Ok(output) => {
            Ok(snapshots(output.target_groups()).into_iter().map(|(_, group)| group).find(|group| group.name == name))
        }
        Err(error) => {
            let error = crate::aws_error("DescribeTargetGroups", error);
            if elbv2::is_not_found(&error) {
                Ok(None)
            } else {
                Err(error)
            }
        }
    }
}

fn protocol(name: &str) -> ProtocolEnum {
    ProtocolEnum::from(name)
}

fn to_i32(field: &str, value: i64) -> Result<i32, DriverError> {
    i32::try_from(value).map_err(|_| DriverError::invalid(format!("`{field}` is out of range: {value}")))
}

pub(super) async fn create(
    elb: &Client,
    config: &TargetGroupConfig,
    tags: &BTreeMap<String, String>,
) -> Result<String, DriverError> {
    let check = &config.health_check;
    let output = elb
        .create_target_group()
        .name(&config.name)
        .protocol(protocol(&config.protocol))
        .port(to_i32("port", config.port)?)
        .vpc_id(&config.vpc)
        .target_type(TargetTypeEnum::Ip)
        .health_check_enabled(true)
        .health_check_path(&check.path)
        .health_check_interval_seconds(to_i32("health_check.interval", check.interval)?)
        .health_check_timeout_seconds(to_i32("health_check.timeout", check.timeout)?)
        .healthy_threshold_count(to_i32("health_check.healthy_threshold", check.healthy_threshold)?)
        .unhealthy_threshold_count(to_i32("health_check.unhealthy_threshold", check.unhealthy_threshold)?)
        .matcher(Matcher::builder().http_code(&check.matcher).build())
        .set_tags(Some(elbv2::tag_list(tags)))
        .send()
        .await
        .map_err(|error| crate::aws_error("CreateTargetGroup", error))?;
    output
        .target_groups()
        .first()
        .and_then(TargetGroup::target_group_arn)
        .map(str::to_string)
        .ok_or_else(|| DriverError::invalid("CreateTargetGroup answered without a target group"))
}

pub(super) async fn modify_health_check(elb: &Client, arn: &str, check: &HealthCheck) -> Result<(), DriverError> {
    elb.modify_target_group()
        .target_group_arn(arn)
        .health_check_enabled(true)
        .health_check_path(&check.path)
        .health_check_interval_seconds(to_i32("health_check.interval", check.interval)?)
        .health_check_timeout_seconds(to_i32("health_check.timeout", check.timeout)?)
        .healthy_threshold_count(to_i32("health_check.healthy_threshold", check.healthy_threshold)?)
        .unhealthy_threshold_count(to_i32("health_check.unhealthy_threshold", check.unhealthy_threshold)?)
        .matcher(Matcher::builder().http_code(&check.matcher).build())
        .send()
        .await
        .map_err(|error| crate::aws_error("ModifyTargetGroup", error))?;
    Ok(())
}

/// Writes the deregistration delay and stickiness (always as load balancer cookies) in one call.
pub(super) async fn set_attributes(elb: &Client, arn: &str, config: &TargetGroupConfig) -> Result<(), DriverError> {
    let attribute = |key: &str, value: String| TargetGroupAttribute::builder().key(key).value(value).build();
    elb.modify_target_group_attributes()
        .target_group_arn(arn)
        .attributes(attribute(DEREGISTRATION_DELAY, config.deregistration_delay.to_string()))
        .attributes(attribute(STICKINESS, config.stickiness.to_string()))
        .attributes(attribute(STICKINESS_TYPE, "lb_cookie".into()))
        .send()
        .await
        .map_err(|error| crate::aws_error("ModifyTargetGroupAttributes", error))?;
    Ok(())
}

pub(super) async fn attributes(elb: &Client, arn: &str) -> Result<Attributes, DriverError> {
    let output = elb
        .describe_target_group_attributes()
        .target_group_arn(arn)
        .send()
        .await
        .map_err(|error| crate::aws_error("DescribeTargetGroupAttributes", error))?;
    let value = |key: &str| {
        output
            .attributes()
            .iter()
            .find(|attribute| attribute.key() == Some(key))
            .and_then(|attribute| attribute.value())
    };
    Ok(Attributes {
        deregistration_delay: value(DEREGISTRATION_DELAY).and_then(|seconds| seconds.parse().ok()),
        stickiness: value(STICKINESS).and_then(|enabled| enabled.parse().ok()),
    })
}

/// Deletes the group; one already gone counts as deleted. `ResourceInUse` is returned as it is
/// (the caller retries it: `elbv2.target-group-in-use`).
pub(super) async fn delete(elb: &Client, arn: &str) -> Result<(), DriverError> {
    match elb.delete_target_group().target_group_arn(arn).send().await {
        Ok(_) => Ok(()),
        Err(error) => {
            let error = crate::aws_error("DeleteTargetGroup", error);
            if elbv2::is_not_found(&error) {
                Ok(())
            } else {
                Err(error)
            }
        }
    }
}
