//! `db_subnet_group`: the subnets an RDS instance may live in.
//!
//! RDS stores subnet group names in lowercase whatever case they were given in, so the name must be
//! lowercase already: otherwise the name read back would never match the one in the stack.
//!
//! Refresh lists every subnet group of the account at once (one DescribeDBSubnetGroups page per 100
//! groups) rather than describing each by name, then asks for each group's tags, which the listing
//! does not carry. Subnets are kept sorted on both sides, so their order never shows as a change.

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use aws_sdk_rds::types::DbSubnetGroup;
use aws_sdk_rds::Client;
use serde::Deserialize;
use serde_json::Value as Json;

use super::db_instance::tags;
use crate::behaviours::adopt;
use crate::context::AwsContext;
use crate::drivers::{
    AwsDriver, DriverError, ExistingResource, FieldChange, Observed, ProgressSink, ResourceRequest, StackInfo,
};
use provision_core::address::Address;
use provision_core::schema::{self, FieldKind, FieldSpec, ResourceSchema};
use provision_core::value::JsonMap;

pub struct SubnetGroupDriver;

static SCHEMA: ResourceSchema = ResourceSchema {
    type_name: "db_subnet_group",
    description: "The subnets (at least two availability zones) an RDS database instance may be placed in.",
    fields: &[
        FieldSpec::new("name", FieldKind::String, "The subnet group name, lowercase.")
            .default(schema::Default::AwsName { max_len: 255 })
            .forces_replacement()
            .check(check_group_name),
        FieldSpec::new("subnets", FieldKind::StringList, "Subnet ids, in at least two availability zones.")
            .default(schema::Default::NetworkSubnetIds),
        FieldSpec::new("description", FieldKind::String, "A description shown in the RDS console.")
            .default(schema::Default::Str("Managed by provision")),
    ],
    attributes: &["name", "arn"],
    taggable: true,
    derived: &[],
    create_before_destroy: false,
};

const NOT_FOUND: &str = "DBSubnetGroupNotFoundFault";

/// RDS's rules for a subnet group name, so `validate` catches a bad one before AWS does.
fn check_group_name(name: &str) -> Result<(), String> {
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, ' ' | '.' | '_' | '-');
    let problem = if name.is_empty() || name.len() > 255 {
        Some("must be 1 to 255 characters long")
    } else if name.chars().any(|c| c.is_ascii_uppercase()) {
        Some("must be lowercase (RDS stores subnet group names in lowercase)")
    } else if !name.chars().all(allowed) {
        Some("may contain only lowercase letters, digits, spaces, `.`, `_` and `-`")
    } else if name == "default" {
        Some("must not be `default`, which RDS reserves")
    } else {
        None
    };
    match problem {
        Some(problem) => Err(format!("subnet group name `{name}` {problem}")),
        None => Ok(()),
    }
}

/// The inputs of one subnet group, as the planner resolved them (or as the state recorded them).
#[derive(Debug, Deserialize)]
struct GroupConfig {
    #[serde(default)]
    name: String,
    #[serde(default)]
    subnets: Vec<String>,
    #[serde(default)]
    description: String,
}

impl GroupConfig {
    fn from_inputs(inputs: &JsonMap) -> Result<GroupConfig, DriverError> {
        serde_json::from_value(Json::Object(inputs.clone()))
            .map_err(|error| DriverError::invalid(format!("invalid `db_subnet_group` inputs: {error}")))
    }
}

#[async_trait]
impl AwsDriver for SubnetGroupDriver {
    fn schema(&self) -> &'static ResourceSchema {
        &SCHEMA
    }

    fn prepare(&self, _stack: &StackInfo, inputs: &mut JsonMap) -> Result<(), DriverError> {
        if let Some(Json::Array(subnets)) = inputs.get_mut("subnets") {
            subnets.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
        }
        Ok(())
    }

    fn planned_attributes(&self, _stack: &StackInfo, inputs: &JsonMap) -> JsonMap {
        let mut attributes = JsonMap::new();
        if let Some(name) = inputs.get("name").and_then(Json::as_str) {
            attributes.insert("name".into(), name.into());
        }
        attributes
    }

    async fn import_id(&self, _aws: &AwsContext, id: &str) -> Result<String, DriverError> {
        let id = id.rsplit(":subgrp:").next().unwrap_or(id);
        if id.is_empty() {
            return Err(
                DriverError::invalid("an empty DB subnet group name").with_hint("import a subnet group by its name")
            );
        }
        Ok(id.to_ascii_lowercase())
    }

    fn id_from_arn(&self, arn: &str) -> Option<String> {
        arn.split_once(":subgrp:").map(|(_, id)| id.to_string())
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
        let mut groups = match list_all(aws.rds()).await {
            Ok(groups) => groups,
            Err(error) => return resources.iter().map(|_| Err(error.clone())).collect(),
        };
        // Built before streaming: a closure inside the stream would not prove `Send` for every lifetime.
        let reads: Vec<_> = resources
            .iter()
            .map(|resource| {
                let group = groups.remove(&resource.id.to_ascii_lowercase());
                move || read_group(aws.rds(), group)
            })
            .collect();
        aws.limiter(crate::Service::Rds).all(reads).await
    }

    async fn create(
        &self,
        aws: &AwsContext,
        request: &ResourceRequest<'_>,
        _progress: &dyn ProgressSink,
    ) -> Result<Observed, DriverError> {
        let config = GroupConfig::from_inputs(request.inputs)?;
        let rds = aws.rds();
        let group = match create_group(rds, &config, request.tags).await {
            Ok(group) => group,
            // The SDK's retry of a create whose answer was lost meets the group it made
            // (`any.response-lost`): that one carries this stack's and address's tags.
            Err(error) if adopt::ALREADY_EXISTS.matches(&error) => {
                let existing = describe(rds, &config.name).await?;
                let tags = match &existing {
                    Some(group) => tags::list(rds, group.db_subnet_group_arn().unwrap_or_default()).await?,
                    None => Default::default(),
                };
                match existing {
                    Some(group) if adopt::made_by(&tags, &request.stack.name, request.address) => group,
                    _ => {
                        let name = &config.name;
                        return Err(adopt::name_taken(error, request.address, "DB subnet group", name, name));
                    }
                }
            }
            Err(error) => return Err(error),
        };
        Ok(observed(&group))
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
        let rds = aws.rds();
        let changed = changed_fields(changes);
        let modified = changed.contains("subnets") || changed.contains("description");
        if modified {
            // ModifyDBSubnetGroup always takes the full subnet list, and the description with it.
            rds.modify_db_subnet_group()
                .db_subnet_group_name(prior.id)
                .db_subnet_group_description(&config.description)
                .set_subnet_ids(Some(config.subnets.clone()))
                .send()
                .await
                .map_err(|error| crate::aws_error("ModifyDBSubnetGroup", error))?;
        }
        let group = match describe(rds, prior.id).await? {
            Some(group) => group,
            // The emulator (moto 5.1.22) drops a group from its table in ModifyDBSubnetGroup while
            // answering success; making it again leaves the stack as it asked. AWS never gets here.
            None if modified => create_group(rds, &config, request.tags).await?,
            None => return Err(DriverError::invalid(format!("subnet group `{}` no longer exists", prior.id))),
        };
        if changed.contains("tags") {
            let arn = group.db_subnet_group_arn().unwrap_or_default();
            tags::sync(rds, arn, prior.inputs, request.tags).await?;
        }
        Ok(observed(&group))
    }

    /// Retried while a database deleted moments ago still counts as using the group
    /// (`rds.subnet-group-in-use`).
    async fn delete(
        &self,
        aws: &AwsContext,
        resource: &ExistingResource<'_>,
        progress: &dyn ProgressSink,
    ) -> Result<(), DriverError> {
        delete_group(aws.rds(), resource, progress, crate::behaviours::rds::SUBNET_GROUP_DELETE).await
    }

    async fn find_interrupted(
        &self,
        aws: &AwsContext,
        stack: &StackInfo,
        _address: &Address,
        intended_id: &str,
    ) -> Result<Option<String>, DriverError> {
        let Some(group) = describe(aws.rds(), intended_id).await? else { return Ok(None) };
        let found = group.db_subnet_group_name().unwrap_or(intended_id).to_string();
        match tags::list(aws.rds(), group.db_subnet_group_arn().unwrap_or_default()).await {
            Ok(tags) => Ok(tags::made_by_stack(&tags, &stack.name).then_some(found)),
            Err(error) if error.code_is(NOT_FOUND) => Ok(None),
            Err(error) => Err(error),
        }
    }
}

async fn create_group(
    rds: &Client,
    config: &GroupConfig,
    all_tags: &BTreeMap<String, String>,
) -> Result<DbSubnetGroup, DriverError> {
    let output = rds
        .create_db_subnet_group()
        .db_subnet_group_name(&config.name)
        .db_subnet_group_description(&config.description)
        .set_subnet_ids(Some(config.subnets.clone()))
        .set_tags(Some(tags::to_rds(all_tags)))
        .send()
        .await
        .map_err(|error| crate::aws_error("CreateDBSubnetGroup", error))?;
    output.db_subnet_group.ok_or_else(|| DriverError::invalid("CreateDBSubnetGroup returned no subnet group"))
}

/// Every subnet group of the account, by name.
async fn list_all(rds: &Client) -> Result<BTreeMap<String, DbSubnetGroup>, DriverError> {
    let mut pages = rds.describe_db_subnet_groups().into_paginator().send();
    let mut groups = BTreeMap::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|error| crate::aws_error("DescribeDBSubnetGroups", error))?;
        for group in page.db_subnet_groups() {
            if let Some(name) = group.db_subnet_group_name() {
                groups.insert(name.to_string(), group.clone());
            }
        }
    }
    Ok(groups)
}

/// One subnet group by name, `None` when it does not exist.
async fn describe(rds: &Client, name: &str) -> Result<Option<DbSubnetGroup>, DriverError> {
    match rds.describe_db_subnet_groups().db_subnet_group_name(name).send().await {
        Ok(output) => Ok(output.db_subnet_groups().first().cloned()),
        Err(error) => {
            let error = crate::aws_error("DescribeDBSubnetGroups", error);
            if error.code_is(NOT_FOUND) {
                Ok(None)
            } else {
                Err(error)
            }
        }
    }
}

/// The listed group with its tags: 1 request.
async fn read_group(rds: &Client, group: Option<DbSubnetGroup>) -> Result<Option<Observed>, DriverError> {
    let Some(group) = group else { return Ok(None) };
    match tags::list(rds, group.db_subnet_group_arn().unwrap_or_default()).await {
        Ok(tags) => {
            let mut result = observed(&group);
            result.inputs.insert("tags".into(), tags::user_tags(&tags));
            Ok(Some(result))
        }
        // Deleted between the listing and the tags.
        Err(error) if error.code_is(NOT_FOUND) => Ok(None),
        Err(error) => Err(error),
    }
}

/// The group as the planner compares it; tags are added by the caller that read them.
fn observed(group: &DbSubnetGroup) -> Observed {
    let name = group.db_subnet_group_name().unwrap_or_default();
    let mut subnets: Vec<String> =
        group.subnets().iter().filter_map(|subnet| subnet.subnet_identifier().map(str::to_string)).collect();
    subnets.sort();
    let mut inputs = JsonMap::new();
    inputs.insert("name".into(), name.into());
    inputs.insert("subnets".into(), subnets.into());
    inputs.insert("description".into(), group.db_subnet_group_description().unwrap_or_default().into());
    let mut attributes = JsonMap::new();
    attributes.insert("name".into(), name.into());
    attributes.insert("arn".into(), group.db_subnet_group_arn().unwrap_or_default().into());
    Observed { id: name.to_string(), inputs, attributes }
}

/// The top-level fields that really changed: a field that is null on one side and missing on the
/// other is no change.
fn changed_fields(changes: &[FieldChange]) -> BTreeSet<&str> {
    let present = |value: &Option<Json>| value.as_ref().filter(|value| !value.is_null()).cloned();
    changes
        .iter()
        .filter(|change| present(&change.before) != present(&change.after))
        .map(|change| change.path.split(['.', '[']).next().unwrap_or(&change.path))
        .collect()
}

/// `DeleteDBSubnetGroup`, retried as `retry` says; a group already gone counts as deleted.
async fn delete_group(
    rds: &aws_sdk_rds::Client,
    resource: &ExistingResource<'_>,
    progress: &dyn ProgressSink,
    retry: crate::behaviours::Retry,
) -> Result<(), DriverError> {
    let attempt = || async {
        let outcome = rds.delete_db_subnet_group().db_subnet_group_name(resource.id).send().await;
        match outcome.map_err(|error| crate::aws_error("DeleteDBSubnetGroup", error)) {
            Err(error) if error.code_is(NOT_FOUND) => Ok(()),
            other => other.map(|_| ()),
        }
    };
    retry.run_reporting(resource.address, progress, attempt).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_names_follow_the_rds_rules() {
        assert!(check_group_name("shop-dev-db").is_ok());
        assert!(check_group_name("my group_1.a").is_ok());
        assert!(check_group_name("Shop").unwrap_err().contains("lowercase"));
        assert!(check_group_name("a/b").unwrap_err().contains("may contain only"));
        assert!(check_group_name("default").unwrap_err().contains("reserves"));
        assert!(check_group_name("").unwrap_err().contains("1 to 255"));
        assert!(check_group_name(&"a".repeat(256)).unwrap_err().contains("1 to 255"));
    }

    #[test]
    fn prepare_sorts_the_subnets() {
        let mut inputs = serde_json::json!({ "name": "g", "subnets": ["subnet-b", "subnet-a"] })
            .as_object()
            .cloned()
            .expect("an object");
        let stack = StackInfo { name: "shop".into(), region: "us-east-1".into(), directory: ".".into(), lineage: None };
        SubnetGroupDriver.prepare(&stack, &mut inputs).expect("prepare");
        assert_eq!(inputs["subnets"], serde_json::json!(["subnet-a", "subnet-b"]));
    }

    #[test]
    fn null_and_missing_are_the_same() {
        let change =
            |path: &str, before: Option<Json>, after: Option<Json>| FieldChange { path: path.into(), before, after };
        let changes = [
            change("description", Some(Json::Null), None),
            change("tags", Some(serde_json::json!({})), Some(serde_json::json!({ "a": "b" }))),
        ];
        assert_eq!(changed_fields(&changes), BTreeSet::from(["tags"]));
    }

    /// RDS's answer while the database in the group is still being deleted, played by the SDK's
    /// mocks (the emulator deletes databases at once).
    #[tokio::test]
    async fn the_group_is_deleted_once_its_database_is_gone() {
        use aws_sdk_rds::operation::delete_db_subnet_group::{DeleteDBSubnetGroupError, DeleteDbSubnetGroupOutput};
        use aws_sdk_rds::types::error::InvalidDbSubnetGroupStateFault;
        use aws_smithy_mocks::mock;
        let in_use = mock!(aws_sdk_rds::Client::delete_db_subnet_group).then_error(|| {
            DeleteDBSubnetGroupError::InvalidDbSubnetGroupStateFault(
                InvalidDbSubnetGroupStateFault::builder()
                    .meta(
                        aws_smithy_types::error::ErrorMetadata::builder()
                            .code("InvalidDBSubnetGroupStateFault")
                            .message("Cannot delete the subnet group because at least one database instance is still using it.")
                            .build(),
                    )
                    .build(),
            )
        });
        let deleted = mock!(aws_sdk_rds::Client::delete_db_subnet_group)
            .then_output(|| DeleteDbSubnetGroupOutput::builder().build());
        let rds = mock_client!(aws_sdk_rds, [&in_use, &deleted]);
        let address = Address::new("db_subnet_group", "main");
        let empty = JsonMap::new();
        let resource = ExistingResource { address: &address, id: "shop-main", inputs: &empty, attributes: &empty };
        struct Quiet;
        impl ProgressSink for Quiet {
            fn waiting(&self, _address: &Address, _message: &str) {}
        }
        let retry = crate::behaviours::rds::SUBNET_GROUP_DELETE.within(crate::behaviours::Bound::TEST);
        delete_group(&rds, &resource, &Quiet, retry).await.expect("deleted");
        assert_eq!((in_use.num_calls(), deleted.num_calls()), (1, 1));
    }
}
