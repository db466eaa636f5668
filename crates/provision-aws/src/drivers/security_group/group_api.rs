//! The EC2 calls for a security group, each naming its operation when it fails.
//!
//! Rule changes go out as one request per kind of change. EC2 refuses a whole batch when one rule
//! in it already exists (authorize) or is already gone (revoke); that happens when someone changed
//! the group by hand since the last refresh, so those batches are retried rule by rule, taking the
//! wanted outcome as done.

use std::collections::BTreeMap;

use aws_sdk_ec2::types::{Filter, ResourceType, SecurityGroup, Tag, TagSpecification};
use aws_sdk_ec2::Client;

use super::rules::Rule;
use crate::drivers::DriverError;

/// Group ids in one DescribeSecurityGroups; EC2 sets no documented limit, this keeps requests small.
const DESCRIBE_BATCH: usize = 200;

pub(super) struct Created {
    pub id: String,
    pub arn: Option<String>,
}

pub(super) async fn create(
    ec2: &Client,
    name: &str,
    description: &str,
    vpc: Option<&str>,
    tags: &BTreeMap<String, String>,
) -> Result<Created, DriverError> {
    let tagging =
        TagSpecification::builder().resource_type(ResourceType::SecurityGroup).set_tags(Some(ec2_tags(tags))).build();
    let output = ec2
        .create_security_group()
        .group_name(name)
        .description(description)
        .set_vpc_id(vpc.map(str::to_string))
        .tag_specifications(tagging)
        .send()
        .await
        .map_err(|error| crate::aws_error("CreateSecurityGroup", error))?;
    let id =
        output.group_id().ok_or_else(|| DriverError::invalid("CreateSecurityGroup answered without a group id"))?;
    Ok(Created { id: id.to_string(), arn: output.security_group_arn().map(str::to_string) })
}

/// The groups with these ids, by id. Fails with `InvalidGroup.NotFound` if any one is missing.
pub(super) async fn describe(ec2: &Client, ids: &[&str]) -> Result<BTreeMap<String, SecurityGroup>, DriverError> {
    let answers = crate::concurrency::in_batches(ids, DESCRIBE_BATCH, |batch| {
        ec2.describe_security_groups().set_group_ids(Some(batch.iter().map(|id| id.to_string()).collect())).send()
    })
    .await;
    let mut groups = BTreeMap::new();
    for answer in answers {
        let output = answer.map_err(|error| crate::aws_error("DescribeSecurityGroups", error))?;
        for group in output.security_groups() {
            if let Some(id) = group.group_id() {
                groups.insert(id.to_string(), group.clone());
            }
        }
    }
    Ok(groups)
}

/// One group by id, `None` when it does not exist.
pub(super) async fn describe_one(ec2: &Client, id: &str) -> Result<Option<SecurityGroup>, DriverError> {
    match describe(ec2, &[id]).await {
        Ok(mut groups) => Ok(groups.remove(id)),
        Err(error) if is_missing_group(&error) => Ok(None),
        Err(error) => Err(error),
    }
}

/// One group by id; a group EC2 does not list yet is `InvalidGroup.NotFound`, as EC2 answers it.
pub(super) async fn describe_existing(ec2: &Client, id: &str) -> Result<SecurityGroup, DriverError> {
    describe(ec2, &[id]).await?.remove(id).ok_or_else(|| {
        DriverError::service(
            "DescribeSecurityGroups",
            Some("InvalidGroup.NotFound".into()),
            format!("The security group '{id}' does not exist"),
        )
    })
}

/// The id of the group with this name that carries the stack's and the address's tags (with no
/// tags given: any group of this name).
pub(super) async fn find_tagged(
    ec2: &Client,
    name: &str,
    tags: &[(&str, &str)],
) -> Result<Option<String>, DriverError> {
    let filter = |name: &str, value: &str| Filter::builder().name(name).values(value).build();
    let mut request = ec2.describe_security_groups().filters(filter("group-name", name));
    for (key, value) in tags {
        request = request.filters(filter(&format!("tag:{key}"), value));
    }
    let output = request.send().await.map_err(|error| crate::aws_error("DescribeSecurityGroups", error))?;
    Ok(output.security_groups().iter().find_map(|group| group.group_id().map(str::to_string)))
}

/// EC2's answers for a group id that does not exist (the second from older API versions).
pub(super) fn is_missing_group(error: &DriverError) -> bool {
    error.code_is("InvalidGroup.NotFound") || error.code_is("InvalidGroupId.NotFound")
}

pub(super) async fn authorize(ec2: &Client, id: &str, rules: &[Rule]) -> Result<(), DriverError> {
    if rules.is_empty() {
        return Ok(());
    }
    match send_authorize(ec2, id, rules).await {
        Err(error) if error.code_is("InvalidPermission.Duplicate") && rules.len() > 1 => {
            for rule in rules {
                match send_authorize(ec2, id, std::slice::from_ref(rule)).await {
                    Err(error) if error.code_is("InvalidPermission.Duplicate") => {}
                    other => other?,
                }
            }
            Ok(())
        }
        Err(error) if error.code_is("InvalidPermission.Duplicate") => Ok(()),
        other => other,
    }
}

async fn send_authorize(ec2: &Client, id: &str, rules: &[Rule]) -> Result<(), DriverError> {
    ec2.authorize_security_group_ingress()
        .group_id(id)
        .set_ip_permissions(Some(rules.iter().map(|rule| rule.to_permission(true)).collect()))
        .send()
        .await
        .map_err(|error| crate::aws_error("AuthorizeSecurityGroupIngress", error))?;
    Ok(())
}

pub(super) async fn revoke(ec2: &Client, id: &str, rules: &[Rule]) -> Result<(), DriverError> {
    if rules.is_empty() {
        return Ok(());
    }
    match send_revoke(ec2, id, rules).await {
        Err(error) if error.code_is("InvalidPermission.NotFound") && rules.len() > 1 => {
            for rule in rules {
                match send_revoke(ec2, id, std::slice::from_ref(rule)).await {
                    Err(error) if error.code_is("InvalidPermission.NotFound") => {}
                    other => other?,
                }
            }
            Ok(())
        }
        Err(error) if error.code_is("InvalidPermission.NotFound") => Ok(()),
        other => other,
    }
}

async fn send_revoke(ec2: &Client, id: &str, rules: &[Rule]) -> Result<(), DriverError> {
    ec2.revoke_security_group_ingress()
        .group_id(id)
        .set_ip_permissions(Some(rules.iter().map(|rule| rule.to_permission(false)).collect()))
        .send()
        .await
        .map_err(|error| crate::aws_error("RevokeSecurityGroupIngress", error))?;
    Ok(())
}

pub(super) async fn update_descriptions(ec2: &Client, id: &str, rules: &[Rule]) -> Result<(), DriverError> {
    if rules.is_empty() {
        return Ok(());
    }
    ec2.update_security_group_rule_descriptions_ingress()
        .group_id(id)
        .set_ip_permissions(Some(rules.iter().map(|rule| rule.to_permission(true)).collect()))
        .send()
        .await
        .map_err(|error| crate::aws_error("UpdateSecurityGroupRuleDescriptionsIngress", error))?;
    Ok(())
}

/// Writes `tags` (all of them, values may have changed) and removes the keys in `removed`.
pub(super) async fn put_tags(
    ec2: &Client,
    id: &str,
    tags: &BTreeMap<String, String>,
    removed: &[String],
) -> Result<(), DriverError> {
    if !removed.is_empty() {
        ec2.delete_tags()
            .resources(id)
            .set_tags(Some(removed.iter().map(|key| Tag::builder().key(key).build()).collect()))
            .send()
            .await
            .map_err(|error| crate::aws_error("DeleteTags", error))?;
    }
    ec2.create_tags()
        .resources(id)
        .set_tags(Some(ec2_tags(tags)))
        .send()
        .await
        .map_err(|error| crate::aws_error("CreateTags", error))?;
    Ok(())
}

pub(super) async fn delete(ec2: &Client, id: &str) -> Result<(), DriverError> {
    ec2.delete_security_group()
        .group_id(id)
        .send()
        .await
        .map_err(|error| crate::aws_error("DeleteSecurityGroup", error))?;
    Ok(())
}

fn ec2_tags(tags: &BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter().map(|(key, value)| Tag::builder().key(key).value(value).build()).collect()
}
