//! `log_group`: a CloudWatch Logs group, e.g. for a container's output (`container.log_group`).
//!
//! The name defaults to `/provision/<stack>/<name>`: slashes group a stack's logs together in the
//! console, and the name is deterministic, so a create killed mid-call is found again by name.
//! Retention must be one of the values CloudWatch offers (checked offline); `0` keeps the events
//! forever, as in the console's "Never expire".
//!
//! A refresh lists the groups by name prefix (`listing.rs`: one `DescribeLogGroups` per prefix the
//! groups share, split so that each is about a page, all at once) and, alongside the listing, reads
//! each group's tags by the ARN the state recorded. Deleting a group deletes its events:
//! `force_destroy = false` keeps a group that still holds log streams.

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use aws_sdk_cloudwatchlogs::types::LogGroup;
use aws_sdk_cloudwatchlogs::Client;
use serde::Deserialize;
use serde_json::Value as Json;

use self::listing::{describe_many, describe_one};
use crate::behaviours::adopt;
use crate::context::AwsContext;
use crate::drivers::tags::{removed_tags, user_tags};
use crate::drivers::{
    AwsDriver, DriverError, ExistingResource, FieldChange, Observed, Problem, ProgressSink, ResourceRequest, StackInfo,
};
use provision_core::address::Address;
use provision_core::schema::{self, FieldKind, FieldSpec, ResourceSchema};
use provision_core::value::{JsonMap, Value};

mod listing;

pub struct LogGroupDriver;

static SCHEMA: ResourceSchema = ResourceSchema {
    type_name: "log_group",
    description: "A CloudWatch Logs group, e.g. for a container's output.",
    fields: &[
        FieldSpec::new("name", FieldKind::String, "The log group name")
            .default(schema::Default::Pattern("/provision/{stack}/{name}"))
            .forces_replacement()
            .check(check_name),
        FieldSpec::new(
            "retention_days",
            FieldKind::Int,
            "Days CloudWatch keeps the events (1, 3, 5, 7, 14, 30, 60, 90, … 3653); `0` keeps them forever",
        )
        .default(schema::Default::Int(30)),
        FieldSpec::new(
            "force_destroy",
            FieldKind::Bool,
            "On destroy, delete the group with its events; `false` keeps a group that holds log streams",
        )
        .default(schema::Default::Bool(true)),
    ],
    attributes: &["name", "arn"],
    taggable: true,
    derived: &[],
    create_before_destroy: false,
};

/// The retention periods CloudWatch Logs accepts (`PutRetentionPolicy`).
pub const RETENTION_DAYS: &[i64] =
    &[1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653];
const NOT_FOUND: &str = "ResourceNotFoundException";

/// CloudWatch's rules for a log group name.
fn check_name(name: &str) -> Result<(), String> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '/' | '#');
    let problem = if name.is_empty() || name.len() > 512 {
        Some("must be 1 to 512 characters long")
    } else if !name.chars().all(allowed) {
        Some("may contain only letters, digits, `.`, `-`, `_`, `/` and `#`")
    } else if name.starts_with("aws/") {
        Some("must not start with `aws/`, which AWS reserves")
    } else {
        None
    };
    match problem {
        Some(problem) => Err(format!("log group name `{name}` {problem}")),
        None => Ok(()),
    }
}

#[derive(Debug, Deserialize)]
struct GroupConfig {
    #[serde(default)]
    name: String,
    #[serde(default = "default_retention")]
    retention_days: i64,
    #[serde(default = "enabled")]
    force_destroy: bool,
}

fn default_retention() -> i64 {
    30
}

fn enabled() -> bool {
    true
}

impl GroupConfig {
    fn from_inputs(inputs: &JsonMap) -> Result<GroupConfig, DriverError> {
        serde_json::from_value(provision_core::value::without_nulls(&Json::Object(inputs.clone())))
            .map_err(|error| DriverError::invalid(format!("invalid `log_group` inputs: {error}")))
    }

    /// `None`: never expire.
    fn retention(&self) -> Result<Option<i32>, DriverError> {
        if self.retention_days == 0 {
            return Ok(None);
        }
        i32::try_from(self.retention_days)
            .map(Some)
            .map_err(|_| DriverError::invalid(format!("retention_days {} is out of range", self.retention_days)))
    }
}

#[async_trait]
impl AwsDriver for LogGroupDriver {
    fn schema(&self) -> &'static ResourceSchema {
        &SCHEMA
    }

    fn check(&self, inputs: &BTreeMap<String, Value>) -> Vec<Problem> {
        match inputs.get("retention_days") {
            Some(Value::Int(days)) if *days != 0 && !RETENTION_DAYS.contains(days) => {
                let nearest = RETENTION_DAYS.iter().copied().min_by_key(|valid| (valid - days).abs()).unwrap_or(30);
                let valid: Vec<String> = RETENTION_DAYS.iter().map(i64::to_string).collect();
                vec![Problem::error(
                    "retention_days",
                    format!("CloudWatch Logs keeps events for one of {} days, not {days}", valid.join(", ")),
                )
                .hint(format!("use `retention_days = {nearest}`, or `0` to keep the events forever"))]
            }
            _ => Vec::new(),
        }
    }

    fn planned_attributes(&self, _stack: &StackInfo, inputs: &JsonMap) -> JsonMap {
        let mut attributes = JsonMap::new();
        if let Some(name) = inputs.get("name").and_then(Json::as_str) {
            attributes.insert("name".into(), name.into());
        }
        attributes
    }

    async fn import_id(&self, _aws: &AwsContext, id: &str) -> Result<String, DriverError> {
        let name = name_from_arn(id).unwrap_or(id);
        check_name(name).map_err(|message| {
            DriverError::invalid(message).with_hint("import a log group by its name, e.g. `/ecs/shop-api`")
        })?;
        Ok(name.to_string())
    }

    fn id_from_arn(&self, arn: &str) -> Option<String> {
        name_from_arn(arn).map(str::to_string)
    }

    async fn read(
        &self,
        aws: &AwsContext,
        _stack: &StackInfo,
        resources: &[ExistingResource<'_>],
    ) -> Vec<Result<Option<Observed>, DriverError>> {
        if resources.is_empty() {
            return Vec::new();
        }
        let logs = aws.logs();
        let limiter = aws.limiter(crate::Service::Logs);
        let names: Vec<&str> = resources.iter().map(|resource| resource.id).collect();
        // The tags are read alongside the listing, by the ARN the state recorded: the listing takes
        // a round trip per 50 groups, one after another, and the tags need not wait for its pages.
        let early_tags =
            resources.iter().map(|resource| recorded_arn(resource).map(|arn| move || list_tags(logs, arn)));
        let (listing, early_tags) = limiter.alongside(describe_many(logs, &names), early_tags).await;
        let mut groups = match listing {
            Ok(groups) => groups,
            Err(error) => return resources.iter().map(|_| Err(error.clone())).collect(),
        };
        let reads: Vec<_> = resources
            .iter()
            .zip(early_tags)
            .map(|(resource, tags)| {
                let group = groups.remove(resource.id);
                // Tags read by the recorded ARN count only for the group listed under it, and only
                // when they were answered; otherwise (no ARN recorded, an error, a group listed under
                // another ARN) they are read again.
                let listed_arn = group.as_ref().map(group_arn);
                let tags = tags
                    .and_then(Result::ok)
                    .filter(|_| listed_arn.is_some() && listed_arn.as_deref() == recorded_arn(resource));
                move || observe(logs, group, tags)
            })
            .collect();
        limiter.all(reads).await
    }

    async fn create(
        &self,
        aws: &AwsContext,
        request: &ResourceRequest<'_>,
        _progress: &dyn ProgressSink,
    ) -> Result<Observed, DriverError> {
        let config = GroupConfig::from_inputs(request.inputs)?;
        let logs = aws.logs();
        let created = logs
            .create_log_group()
            .log_group_name(&config.name)
            .set_tags(Some(request.tags.clone().into_iter().collect()))
            .send()
            .await
            .map_err(|error| crate::aws_error("CreateLogGroup", error));
        match created {
            Ok(_) => {}
            // The SDK's retry of a create whose answer was lost meets the group it made
            // (`any.response-lost`): that one carries this stack's and address's tags.
            Err(error) if adopt::ALREADY_EXISTS.matches(&error) => {
                let ours = self.find_interrupted(aws, request.stack, request.address, &config.name).await?;
                if ours.is_none() {
                    return Err(adopt::name_taken(error, request.address, "log group", &config.name, &config.name));
                }
            }
            Err(error) => return Err(error),
        }
        if let Some(days) = config.retention()? {
            put_retention(logs, &config.name, days).await?;
        }
        let group = describe_one(logs, &config.name).await?.ok_or_else(|| {
            DriverError::invalid(format!(
                "log group `{}` was created but DescribeLogGroups does not list it",
                config.name
            ))
        })?;
        Ok(Observed { id: config.name.clone(), inputs: JsonMap::new(), attributes: attributes(&group) })
    }

    async fn update(
        &self,
        aws: &AwsContext,
        prior: &ExistingResource<'_>,
        request: &ResourceRequest<'_>,
        changes: &[FieldChange],
        _progress: &dyn ProgressSink,
    ) -> Result<Observed, DriverError> {
        let config = GroupConfig::from_inputs(request.inputs)?;
        let (logs, name) = (aws.logs(), prior.id);
        let changed: BTreeSet<&str> =
            changes.iter().map(|change| change.path.split(['.', '[']).next().unwrap_or(&change.path)).collect();
        if changed.contains("retention_days") {
            match config.retention()? {
                Some(days) => put_retention(logs, name, days).await?,
                None => {
                    logs.delete_retention_policy()
                        .log_group_name(name)
                        .send()
                        .await
                        .map_err(|error| crate::aws_error("DeleteRetentionPolicy", error))?;
                }
            }
        }
        let group = describe_one(logs, name).await?.ok_or_else(|| {
            DriverError::invalid(format!("log group `{name}` no longer exists"))
                .with_hint("run `provision plan` again: it will be created anew")
        })?;
        if changed.contains("tags") {
            let arn = group_arn(&group);
            let removed = removed_tags(prior.inputs, request.tags);
            if !removed.is_empty() {
                logs.untag_resource()
                    .resource_arn(&arn)
                    .set_tag_keys(Some(removed))
                    .send()
                    .await
                    .map_err(|error| crate::aws_error("UntagResource", error))?;
            }
            logs.tag_resource()
                .resource_arn(&arn)
                .set_tags(Some(request.tags.clone().into_iter().collect()))
                .send()
                .await
                .map_err(|error| crate::aws_error("TagResource", error))?;
        }
        Ok(Observed { id: name.to_string(), inputs: JsonMap::new(), attributes: attributes(&group) })
    }

    async fn delete(
        &self,
        aws: &AwsContext,
        resource: &ExistingResource<'_>,
        _progress: &dyn ProgressSink,
    ) -> Result<(), DriverError> {
        let logs = aws.logs();
        // Unreadable inputs must not turn into deleting a group's events.
        let force = GroupConfig::from_inputs(resource.inputs).is_ok_and(|config| config.force_destroy);
        if !force {
            let streams = logs.describe_log_streams().log_group_name(resource.id).limit(1).send().await;
            match streams.map_err(|error| crate::aws_error("DescribeLogStreams", error)) {
                Ok(answer) if !answer.log_streams().is_empty() => {
                    return Err(DriverError::invalid(format!(
                        "log group `{}` still holds log streams, so it was kept",
                        resource.id
                    ))
                    .with_hint(
                        "set `force_destroy = true` on this resource (and apply) to delete the group with its events",
                    ));
                }
                Ok(_) => {}
                Err(error) if error.code_is(NOT_FOUND) => return Ok(()),
                Err(error) => return Err(error),
            }
        }
        match logs.delete_log_group().log_group_name(resource.id).send().await {
            Ok(_) => Ok(()),
            Err(error) => {
                let error = crate::aws_error("DeleteLogGroup", error);
                if error.code_is(NOT_FOUND) {
                    Ok(())
                } else {
                    Err(error)
                }
            }
        }
    }

    async fn find_interrupted(
        &self,
        aws: &AwsContext,
        stack: &StackInfo,
        address: &Address,
        intended_id: &str,
    ) -> Result<Option<String>, DriverError> {
        let logs = aws.logs();
        let Some(group) = describe_one(logs, intended_id).await? else { return Ok(None) };
        let tags = match list_tags(logs, &group_arn(&group)).await {
            Ok(tags) => tags,
            Err(error) if error.code_is(NOT_FOUND) => return Ok(None),
            Err(error) => return Err(error),
        };
        let ours = crate::drivers::tags::made_by(&tags, stack, address);
        Ok(ours.then(|| intended_id.to_string()))
    }
}

async fn put_retention(logs: &Client, name: &str, days: i32) -> Result<(), DriverError> {
    logs.put_retention_policy()
        .log_group_name(name)
        .retention_in_days(days)
        .send()
        .await
        .map_err(|error| crate::aws_error("PutRetentionPolicy", error))?;
    Ok(())
}

/// `arn:aws:logs:REGION:ACCOUNT:log-group:NAME` (with or without the `:*` that some APIs append).
fn name_from_arn(arn: &str) -> Option<&str> {
    let (_, rest) = arn.split_once(":log-group:")?;
    Some(rest.strip_suffix(":*").unwrap_or(rest))
}

/// The group's ARN without the `:*` suffix, as tagging calls and IAM resource names expect it.
fn group_arn(group: &LogGroup) -> String {
    let arn = group.log_group_arn().or(group.arn()).unwrap_or_default();
    arn.strip_suffix(":*").unwrap_or(arn).to_string()
}

async fn list_tags(logs: &Client, arn: &str) -> Result<BTreeMap<String, String>, DriverError> {
    let answer = logs
        .list_tags_for_resource()
        .resource_arn(arn)
        .send()
        .await
        .map_err(|error| crate::aws_error("ListTagsForResource", error))?;
    Ok(answer.tags().map(|tags| tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect()).unwrap_or_default())
}

/// The group's ARN as the state recorded it (`None` for a state written before it was).
fn recorded_arn<'a>(resource: &ExistingResource<'a>) -> Option<&'a str> {
    resource.attributes.get("arn").and_then(Json::as_str).filter(|arn| !arn.is_empty())
}

/// The group as listed, with its tags: `tags` when they were read already, else read now.
async fn observe(
    logs: &Client,
    group: Option<LogGroup>,
    tags: Option<BTreeMap<String, String>>,
) -> Result<Option<Observed>, DriverError> {
    let Some(group) = group else { return Ok(None) };
    let tags = match tags {
        Some(tags) => Ok(tags),
        None => list_tags(logs, &group_arn(&group)).await,
    };
    let tags = match tags {
        Ok(tags) => tags,
        // Deleted between the listing and the tags.
        Err(error) if error.code_is(NOT_FOUND) => return Ok(None),
        Err(error) => return Err(error),
    };
    let name = group.log_group_name().unwrap_or_default();
    let mut inputs = JsonMap::new();
    inputs.insert("name".into(), name.into());
    inputs.insert("retention_days".into(), i64::from(group.retention_in_days().unwrap_or(0)).into());
    inputs.insert("tags".into(), user_tags(&tags));
    Ok(Some(Observed { id: name.to_string(), inputs, attributes: attributes(&group) }))
}

fn attributes(group: &LogGroup) -> JsonMap {
    let mut attributes = JsonMap::new();
    attributes.insert("name".into(), group.log_group_name().unwrap_or_default().into());
    attributes.insert("arn".into(), group_arn(group).into());
    attributes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_cloudwatch_rules() {
        assert!(check_name("/provision/shop/api").is_ok());
        assert!(check_name("/ecs/shop#1").is_ok());
        assert!(check_name("shop api").unwrap_err().contains("may contain only"));
        assert!(check_name("").unwrap_err().contains("1 to 512"));
        assert!(check_name("aws/lambda").unwrap_err().contains("reserves"));
    }

    #[test]
    fn retention_must_be_a_period_cloudwatch_offers() {
        let check = |days: i64| LogGroupDriver.check(&[("retention_days".to_string(), Value::Int(days))].into());
        assert!(check(30).is_empty());
        assert!(check(0).is_empty(), "0 keeps events forever");
        let problems = check(31);
        assert_eq!(problems.len(), 1);
        assert!(problems[0].message.contains("1, 3, 5, 7, 14, 30"), "{}", problems[0].message);
        assert_eq!(problems[0].hint.as_deref(), Some("use `retention_days = 30`, or `0` to keep the events forever"));
    }

    #[test]
    fn arns_give_the_group_name() {
        assert_eq!(
            name_from_arn("arn:aws:logs:us-east-1:1:log-group:/provision/shop/api:*"),
            Some("/provision/shop/api")
        );
        assert_eq!(name_from_arn("arn:aws:logs:us-east-1:1:log-group:/ecs/x"), Some("/ecs/x"));
        assert_eq!(name_from_arn("arn:aws:s3:::bucket"), None);
    }
}
