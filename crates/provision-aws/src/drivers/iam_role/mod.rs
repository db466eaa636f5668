//! `iam_role`: a role one AWS service may assume (ECS tasks, most often), with managed policies
//! attached and at most one inline policy, which provision names `provision`.
//!
//! Everything but the name changes in place: the trusted service by rewriting the trust policy,
//! policies by attaching, detaching and putting only the difference. A role that ECS tasks run
//! under is never replaced just because a permission was added.
//!
//! IAM is eventually consistent: a role and its policies are visible to IAM's own API right away,
//! but another service may need some seconds before it can assume a new role or sees a new
//! permission. Waiting for that is the concern of the driver that hands the role to the service.
//!
//! Deleting removes whatever keeps IAM from deleting a role — every attached and inline policy
//! and instance profile membership, also ones added outside provision — since the role's own
//! permissions have no use once it is gone.

mod policy_document;
mod role_api;

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use aws_sdk_iam::types::Role;
use aws_sdk_iam::Client;
use serde::Deserialize;
use serde_json::Value as Json;

use crate::behaviours::adopt;
use crate::context::AwsContext;
use crate::drivers::tags::{removed_tags, user_tags};
use crate::drivers::{
    AwsDriver, DriverError, ExistingResource, FieldChange, Observed, Problem, ProgressSink, ResourceRequest, StackInfo,
};
use provision_core::address::Address;
use provision_core::schema::{self, FieldKind, FieldSpec, ResourceSchema};
use provision_core::value::{JsonMap, Value};

pub struct RoleDriver;

static SCHEMA: ResourceSchema = ResourceSchema {
    type_name: "iam_role",
    description: "An IAM role that one AWS service (e.g. ECS tasks) assumes, with its policies.",
    fields: &[
        FieldSpec::new("name", FieldKind::String, "The role name, unique in the account")
            .default(schema::Default::AwsName { max_len: 64 })
            .forces_replacement()
            .check(check_name),
        FieldSpec::new(
            "service",
            FieldKind::String,
            "The service principal allowed to assume the role, e.g. `\"ecs-tasks.amazonaws.com\"`",
        )
        .required()
        .check(check_service),
        FieldSpec::new(
            "managed_policies",
            FieldKind::StringList,
            "ARNs of managed policies to attach, e.g. \
             `\"arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy\"`",
        )
        .default(schema::Default::EmptyList),
        FieldSpec::new("inline_policy", FieldKind::Json, "A policy document (JSON) kept on the role itself"),
        FieldSpec::new("description", FieldKind::String, "What the role is for").check(check_description),
    ],
    attributes: &["name", "arn"],
    taggable: true,
    derived: &[],
    create_before_destroy: false,
};

fn check_name(name: &str) -> Result<(), String> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c);
    if name.is_empty() || name.len() > 64 {
        Err(format!("role name `{name}` must be 1 to 64 characters long"))
    } else if !name.chars().all(allowed) {
        Err(format!("role name `{name}` may contain only letters, digits and `+=,.@_-` (IAM rules)"))
    } else {
        Ok(())
    }
}

fn check_service(service: &str) -> Result<(), String> {
    if service.contains('.') && !service.contains(char::is_whitespace) {
        Ok(())
    } else {
        Err(format!("`{service}` is not a service principal; they look like `ecs-tasks.amazonaws.com`"))
    }
}

fn check_description(description: &str) -> Result<(), String> {
    let allowed = |c: char| matches!(c, '\t' | '\n' | '\r' | ' '..='~' | '\u{a1}'..='\u{ff}');
    if description.chars().count() > 1000 {
        Err("a role description must be at most 1000 characters long".into())
    } else if !description.chars().all(allowed) {
        Err("a role description may contain only printable Latin-1 characters (IAM rules)".into())
    } else {
        Ok(())
    }
}

/// Literal policy ARNs must be ARNs: IAM's own error for a policy name is far less clear.
fn check_policies(inputs: &BTreeMap<String, Value>) -> Vec<Problem> {
    let Some(Value::List(policies)) = inputs.get("managed_policies") else {
        return Vec::new();
    };
    policies
        .iter()
        .filter_map(|policy| match policy {
            Value::Str(arn) if !(arn.starts_with("arn:") && arn.contains(":policy/")) => {
                Some(Problem::error("managed_policies", format!("`{arn}` is not a policy ARN")).hint(
                    "AWS managed policies look like `arn:aws:iam::aws:policy/NAME`, \
                     your own like `arn:aws:iam::ACCOUNT:policy/NAME`",
                ))
            }
            _ => None,
        })
        .collect()
}

#[derive(Debug, Deserialize)]
struct RoleConfig {
    name: String,
    service: String,
    #[serde(default)]
    managed_policies: Vec<String>,
    #[serde(default)]
    inline_policy: Option<String>,
    #[serde(default)]
    description: Option<String>,
}

impl RoleConfig {
    fn from_inputs(inputs: &JsonMap) -> Result<RoleConfig, DriverError> {
        serde_json::from_value(Json::Object(inputs.clone()))
            .map_err(|error| DriverError::invalid(format!("invalid `iam_role` inputs: {error}")))
    }
}

#[async_trait]
impl AwsDriver for RoleDriver {
    fn schema(&self) -> &'static ResourceSchema {
        &SCHEMA
    }

    fn check(&self, inputs: &BTreeMap<String, Value>) -> Vec<Problem> {
        check_policies(inputs)
    }

    /// Sorts `managed_policies` as the read-back does: their order means nothing to IAM.
    fn prepare(&self, _stack: &StackInfo, inputs: &mut JsonMap) -> Result<(), DriverError> {
        if let Some(Json::Array(policies)) = inputs.get("managed_policies") {
            let sorted: BTreeSet<String> = policies.iter().filter_map(Json::as_str).map(str::to_string).collect();
            inputs.insert("managed_policies".into(), sorted.into_iter().map(Json::String).collect());
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
        let name = id.rsplit(":role/").next().unwrap_or(id);
        let name = name.rsplit('/').next().unwrap_or(name);
        if name.is_empty() || name.len() > 64 {
            return Err(DriverError::invalid(format!("`{id}` is not an IAM role name"))
                .with_hint("import a role by its name, e.g. `shop-task-execution`"));
        }
        Ok(name.to_string())
    }

    fn id_from_arn(&self, arn: &str) -> Option<String> {
        arn.split_once(":role/").map(|(_, path)| path.rsplit('/').next().unwrap_or(path).to_string())
    }

    /// IAM is not in the Resource Groups Tagging API: list the roles and read their tags.
    async fn list_tagged(
        &self,
        aws: &AwsContext,
        stack: &str,
    ) -> Option<Result<Vec<(String, std::collections::BTreeMap<String, String>)>, DriverError>> {
        Some(list_roles_tagged(aws, stack).await)
    }

    async fn read(
        &self,
        aws: &AwsContext,
        _stack: &StackInfo,
        resources: &[ExistingResource<'_>],
    ) -> Vec<Result<Option<Observed>, DriverError>> {
        if resources.len() >= LISTING_FROM {
            read_by_listing(aws, resources).await
        } else {
            read_one_by_one(aws, resources).await
        }
    }

    async fn create(
        &self,
        aws: &AwsContext,
        request: &ResourceRequest<'_>,
        _progress: &dyn ProgressSink,
    ) -> Result<Observed, DriverError> {
        let config = RoleConfig::from_inputs(request.inputs)?;
        let iam = aws.iam();
        let trust_policy = policy_document::trust_policy(&config.service, Some(aws.account().await?));
        let created =
            role_api::create(iam, &config.name, &trust_policy, config.description.as_deref(), request.tags).await;
        let role = match created {
            Ok(role) => role,
            // The SDK's retry of a create whose answer was lost meets the role it made
            // (`any.response-lost`): adopted when it carries this stack's and address's tags.
            Err(error) if adopt::ALREADY_EXISTS.matches(&error) => match role_api::get(iam, &config.name).await? {
                Some(role) if adopt::made_by(&role_tags(&role), &request.stack.name, request.address) => role,
                _ => return Err(adopt::name_taken(error, request.address, "role", &config.name, &config.name)),
            },
            Err(error) => return Err(error),
        };
        let attachments = config.managed_policies.iter().map(|arn| role_api::attach(iam, &config.name, arn));
        futures::future::try_join_all(attachments).await?;
        if let Some(document) = &config.inline_policy {
            role_api::put_inline_policy(iam, &config.name, document).await?;
        }
        Ok(Observed { id: config.name.clone(), inputs: JsonMap::new(), attributes: attributes(&role) })
    }

    async fn update(
        &self,
        aws: &AwsContext,
        prior: &ExistingResource<'_>,
        request: &ResourceRequest<'_>,
        changes: &[FieldChange],
        _progress: &dyn ProgressSink,
    ) -> Result<Observed, DriverError> {
        let config = RoleConfig::from_inputs(request.inputs)?;
        let (iam, name) = (aws.iam(), prior.id);
        let changed = |field: &str| changes.iter().any(|change| change.path.split(['.', '[']).next() == Some(field));
        if changed("service") {
            let document = policy_document::trust_policy(&config.service, Some(aws.account().await?));
            role_api::update_trust_policy(iam, name, &document).await?;
        }
        if changed("description") {
            role_api::update_description(iam, name, config.description.as_deref().unwrap_or_default()).await?;
        }
        if changed("managed_policies") {
            let before = RoleConfig::from_inputs(prior.inputs).map(|prior| prior.managed_policies).unwrap_or_default();
            let attach = config.managed_policies.iter().filter(|arn| !before.contains(arn));
            futures::future::try_join_all(attach.map(|arn| role_api::attach(iam, name, arn))).await?;
            let detach = before.iter().filter(|arn| !config.managed_policies.contains(arn));
            futures::future::try_join_all(detach.map(|arn| role_api::detach(iam, name, arn))).await?;
        }
        if changed("inline_policy") {
            match &config.inline_policy {
                Some(document) => role_api::put_inline_policy(iam, name, document).await?,
                None => role_api::delete_inline_policy(iam, name, role_api::INLINE_POLICY_NAME).await?,
            }
        }
        if changed("tags") {
            role_api::put_tags(iam, name, request.tags, &removed_tags(prior.inputs, request.tags)).await?;
        }
        Ok(Observed { id: name.to_string(), inputs: JsonMap::new(), attributes: prior.attributes.clone() })
    }

    async fn delete(
        &self,
        aws: &AwsContext,
        resource: &ExistingResource<'_>,
        _progress: &dyn ProgressSink,
    ) -> Result<(), DriverError> {
        match delete_role(aws.iam(), resource.id).await {
            Err(error) if role_api::is_missing(&error) => Ok(()),
            other => other,
        }
    }

    async fn find_interrupted(
        &self,
        aws: &AwsContext,
        stack: &StackInfo,
        address: &Address,
        intended_id: &str,
    ) -> Result<Option<String>, DriverError> {
        let Some(role) = role_api::get(aws.iam(), intended_id).await? else { return Ok(None) };
        let tags = tag_map(role.tags());
        let ours = crate::drivers::tags::made_by(&tags, stack, address);
        Ok(ours.then(|| intended_id.to_string()))
    }
}

/// From this many roles in one read, the account's two role listings (1,000 roles a page) read
/// them all, instead of two or three calls per role: IAM's read quotas are low, and a stack of many
/// roles would spend most of its refresh on them. Fewer roles are read one by one, so a small stack
/// in an account of thousands of roles does not page through all of them.
const LISTING_FROM: usize = 32;

/// Each role by itself, all at once (as the IAM limit allows): 2 requests per role, 3 when the
/// state holds an inline policy.
async fn read_one_by_one(
    aws: &AwsContext,
    resources: &[ExistingResource<'_>],
) -> Vec<Result<Option<Observed>, DriverError>> {
    let reads: Vec<_> = resources.iter().map(|resource| move || read_role(aws.iam(), resource)).collect();
    aws.limiter(crate::Service::Iam).all(reads).await
}

/// One role read by itself: `GetRole` (the trust policy, description and tags) alongside the
/// attached policies and, when one was applied, the inline policy.
async fn read_role(iam: &Client, resource: &ExistingResource<'_>) -> Result<Option<Observed>, DriverError> {
    let name = resource.id;
    let with_inline = wants_inline(resource);
    let inline = async {
        if with_inline {
            role_api::inline_policy(iam, name).await.map(Some)
        } else {
            Ok(None)
        }
    };
    let (role, policies, inline) =
        futures::join!(role_api::get(iam, name), role_api::attached_policies(iam, name), inline);
    let Some(role) = role? else { return Ok(None) };
    let policies = match policies {
        // Deleted between the calls.
        Err(error) if role_api::is_missing(&error) => return Ok(None),
        other => other?,
    };
    let seen = Seen { role: &role, tags: tag_map(role.tags()), policies, inline: inline? };
    Ok(Some(observed(resource, seen)))
}

/// Many roles from the account's listings: `GetAccountAuthorizationDetails` (trust policy, tags,
/// attached and inline policies) alongside `ListRoles` (the description, which the details lack).
/// A role one listing has and the other not (made or deleted between them) is read by itself, and
/// so is every role when the credentials may not list the account's roles.
async fn read_by_listing(
    aws: &AwsContext,
    resources: &[ExistingResource<'_>],
) -> Vec<Result<Option<Observed>, DriverError>> {
    let iam = aws.iam();
    let (mut details, mut roles) = match futures::try_join!(role_api::account_details(iam), role_api::all_roles(iam)) {
        Ok(listed) => listed,
        // Credentials allowed to read the stack's roles but not to list the account's: one by one.
        Err(error) if error.code_is("AccessDenied") => return read_one_by_one(aws, resources).await,
        Err(error) => return resources.iter().map(|_| Err(error.clone())).collect(),
    };
    let reads: Vec<_> = resources
        .iter()
        .map(|resource| {
            let listed = (roles.remove(resource.id), details.remove(resource.id));
            move || async move {
                match listed {
                    (None, None) => Ok(None),
                    (Some(role), Some(detail)) => {
                        let inline = wants_inline(resource).then(|| role_api::inline_from_details(&detail));
                        let seen = Seen {
                            role: &role,
                            tags: tag_map(detail.tags()),
                            policies: role_api::attached_from_details(&detail),
                            inline,
                        };
                        Ok(Some(observed(resource, seen)))
                    }
                    _ => read_role(iam, resource).await,
                }
            }
        })
        .collect();
    aws.limiter(crate::Service::Iam).all(reads).await
}

fn wants_inline(resource: &ExistingResource<'_>) -> bool {
    resource.inputs.get("inline_policy").is_some_and(|policy| !policy.is_null())
}

/// What was read of one role, however it was read.
struct Seen<'a> {
    /// Its name, ARN, trust policy and description.
    role: &'a Role,
    tags: BTreeMap<String, String>,
    policies: Vec<String>,
    /// provision's inline policy, when one was applied (`Some(None)`: it is gone).
    inline: Option<Option<String>>,
}

fn observed(resource: &ExistingResource<'_>, seen: Seen<'_>) -> Observed {
    let Seen { role, tags, mut policies, inline } = seen;
    policies.sort();
    let mut inputs = JsonMap::new();
    inputs.insert("name".into(), role.role_name().into());
    let service = role.assume_role_policy_document().and_then(policy_document::trusted_service);
    inputs.insert("service".into(), service.map(Json::String).unwrap_or(Json::Null));
    inputs.insert("managed_policies".into(), policies.into_iter().map(Json::String).collect());
    if let Some(inline) = inline {
        inputs.insert("inline_policy".into(), inline.map(Json::String).unwrap_or(Json::Null));
    }
    // A missing description is reported only against one that was applied: an unset field
    // stays unset instead of turning into `null`.
    match role.description().filter(|text| !text.is_empty()) {
        Some(description) => {
            inputs.insert("description".into(), description.into());
        }
        None if resource.inputs.get("description").is_some_and(|applied| !applied.is_null()) => {
            inputs.insert("description".into(), Json::Null);
        }
        None => {}
    }
    inputs.insert("tags".into(), user_tags(&tags));
    Observed { id: role.role_name().to_string(), inputs, attributes: attributes(role) }
}

/// IAM refuses to delete a role that still has policies or instance profiles.
async fn delete_role(iam: &Client, name: &str) -> Result<(), DriverError> {
    let (attached, inline, profiles) = futures::try_join!(
        role_api::attached_policies(iam, name),
        role_api::inline_policy_names(iam, name),
        role_api::instance_profiles(iam, name),
    )?;
    futures::future::try_join_all(attached.iter().map(|arn| role_api::detach(iam, name, arn))).await?;
    futures::future::try_join_all(inline.iter().map(|policy| role_api::delete_inline_policy(iam, name, policy)))
        .await?;
    futures::future::try_join_all(
        profiles.iter().map(|profile| role_api::remove_from_instance_profile(iam, name, profile)),
    )
    .await?;
    role_api::delete(iam, name).await
}

fn attributes(role: &Role) -> JsonMap {
    let mut attributes = JsonMap::new();
    attributes.insert("name".into(), role.role_name().into());
    attributes.insert("arn".into(), role.arn().into());
    attributes
}

fn tag_map(tags: &[aws_sdk_iam::types::Tag]) -> BTreeMap<String, String> {
    tags.iter().map(|tag| (tag.key().to_string(), tag.value().to_string())).collect()
}

/// Roles tagged `provision:stack = stack`, as (ARN, tags). Only roles whose name starts with the
/// stack name are asked for their tags (default names do), which keeps this to a few calls.
async fn list_roles_tagged(
    aws: &AwsContext,
    stack: &str,
) -> Result<Vec<(String, std::collections::BTreeMap<String, String>)>, DriverError> {
    let mut found = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let page = aws
            .iam()
            .list_roles()
            .set_marker(marker.clone())
            .send()
            .await
            .map_err(|e| crate::aws_error("ListRoles", e))?;
        for role in page.roles() {
            if !role.role_name().starts_with(stack) {
                continue;
            }
            let tags = aws
                .iam()
                .list_role_tags()
                .role_name(role.role_name())
                .send()
                .await
                .map_err(|e| crate::aws_error("ListRoleTags", e))?;
            let tags: std::collections::BTreeMap<String, String> =
                tags.tags().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect();
            if tags.get("provision:stack").map(String::as_str) == Some(stack) {
                found.push((role.arn().to_string(), tags));
            }
        }
        marker = crate::drivers::paging::next_token(page.marker().filter(|_| page.is_truncated()), marker.as_deref());
        if marker.is_none() {
            break;
        }
    }
    Ok(found)
}

/// A role's tags as a map.
fn role_tags(role: &aws_sdk_iam::types::Role) -> std::collections::BTreeMap<String, String> {
    role.tags().iter().map(|tag| (tag.key().to_string(), tag.value().to_string())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_services_and_descriptions_follow_the_iam_rules() {
        assert!(check_name("shop-dev-api_task").is_ok());
        assert!(check_name("shop dev").unwrap_err().contains("may contain only"));
        assert!(check_name(&"a".repeat(65)).unwrap_err().contains("1 to 64"));
        assert!(check_service("ecs-tasks.amazonaws.com").is_ok());
        assert!(check_service("ecs-tasks").unwrap_err().contains("ecs-tasks.amazonaws.com"));
        assert!(check_description("Runs the API tasks").is_ok());
        assert!(check_description("emoji 🚀").is_err());
    }

    #[test]
    fn policy_names_are_not_arns() {
        let inputs: BTreeMap<String, Value> = [(
            "managed_policies".to_string(),
            Value::List(vec![
                Value::Str("arn:aws:iam::aws:policy/ReadOnlyAccess".into()),
                Value::Str("AmazonS3ReadOnlyAccess".into()),
                Value::Unknown,
            ]),
        )]
        .into();
        let problems = check_policies(&inputs);
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].message, "`AmazonS3ReadOnlyAccess` is not a policy ARN");
    }

    #[test]
    fn prepare_sorts_managed_policies() {
        let mut inputs =
            json!({ "managed_policies": ["arn:b", "arn:a", "arn:b"] }).as_object().cloned().expect("object");
        let stack = StackInfo { name: "shop".into(), region: "us-east-1".into(), directory: ".".into(), lineage: None };
        RoleDriver.prepare(&stack, &mut inputs).expect("prepare");
        assert_eq!(inputs["managed_policies"], json!(["arn:a", "arn:b"]));
    }
}
