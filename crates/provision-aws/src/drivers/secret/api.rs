//! The Secrets Manager calls for a secret, each naming its operation when it fails.
//!
//! Secret values only pass through here, from the request (or `GetRandomPassword`) straight into
//! the call that stores them; they are never logged or put into an error.

use std::collections::BTreeMap;

use aws_sdk_secretsmanager::operation::describe_secret::DescribeSecretOutput;
use aws_sdk_secretsmanager::types::{Filter, FilterNameStringType, SecretListEntry, Tag};
use aws_sdk_secretsmanager::Client;
use serde_json::Value as Json;

use super::{GenerateConfig, SecretConfig, DEFAULT_EXCLUDE, DEFAULT_LENGTH};
use crate::context::AwsContext;
use crate::drivers::tags::{removed_tags, user_tags};
use crate::drivers::{DriverError, Observed, ResourceRequest};
use provision_core::address::Address;
use provision_core::value::JsonMap;

/// Values one `ListSecrets` name filter takes.
const NAMES_PER_LIST: usize = 10;
const NOT_FOUND: &str = "ResourceNotFoundException";

pub(super) async fn random_password(client: &Client, generate: &GenerateConfig) -> Result<String, DriverError> {
    let length = generate.length.unwrap_or(DEFAULT_LENGTH);
    let exclude = generate.exclude.as_deref().unwrap_or(DEFAULT_EXCLUDE);
    let answer = client
        .get_random_password()
        .password_length(length)
        .set_exclude_characters((!exclude.is_empty()).then(|| exclude.to_string()))
        .send()
        .await
        .map_err(|error| crate::aws_error("GetRandomPassword", error))?;
    answer
        .random_password
        .filter(|password| !password.is_empty())
        .ok_or_else(|| DriverError::invalid("GetRandomPassword answered without a password"))
}

/// Creates the secret with its first value; returns its ARN.
pub(super) async fn create(
    client: &Client,
    config: &SecretConfig,
    value: &str,
    tags: &BTreeMap<String, String>,
) -> Result<String, DriverError> {
    let answer = client
        .create_secret()
        .name(&config.name)
        .set_description(config.description.clone())
        .secret_string(value)
        .set_tags(Some(to_tags(tags)))
        .send()
        .await
        .map_err(|error| crate::aws_error("CreateSecret", error))?;
    answer.arn.ok_or_else(|| DriverError::invalid("CreateSecret answered without an ARN"))
}

/// Brings back this resource's own secret (`found`, scheduled for deletion by a destroy or a
/// replacement); someone else's is left alone and reported with the commands that free the name.
pub(super) async fn restore_own(
    client: &Client,
    request: &ResourceRequest<'_>,
    found: &DescribeSecretOutput,
) -> Result<String, DriverError> {
    let name = found.name().unwrap_or_default();
    let arn = found.arn().unwrap_or(name).to_string();
    if !made_by(found.tags(), request.stack, request.address) {
        return Err(DriverError::invalid(format!(
            "a secret named `{name}` that provision did not make for `{}` is scheduled for deletion, so the name is taken",
            request.address
        ))
        .with_hint(format!(
            "restore and adopt it (`aws secretsmanager restore-secret --secret-id {name}`, then `provision import {} \
             {name}`), delete it for good (`aws secretsmanager delete-secret --secret-id {name} \
             --force-delete-without-recovery`), or set `name` to another one",
            request.address
        )));
    }
    client.restore_secret().secret_id(&arn).send().await.map_err(|error| crate::aws_error("RestoreSecret", error))?;
    Ok(arn)
}

pub(super) async fn put_value(client: &Client, arn: &str, value: &str) -> Result<(), DriverError> {
    client
        .put_secret_value()
        .secret_id(arn)
        .secret_string(value)
        .send()
        .await
        .map_err(|error| crate::aws_error("PutSecretValue", error))?;
    Ok(())
}

pub(super) async fn update_description(
    client: &Client,
    arn: &str,
    description: Option<&str>,
) -> Result<(), DriverError> {
    client
        .update_secret()
        .secret_id(arn)
        .description(description.unwrap_or_default())
        .send()
        .await
        .map_err(|error| crate::aws_error("UpdateSecret", error))?;
    Ok(())
}

pub(super) async fn sync_tags(
    client: &Client,
    arn: &str,
    prior: &JsonMap,
    tags: &BTreeMap<String, String>,
) -> Result<(), DriverError> {
    let removed = removed_tags(prior, tags);
    if !removed.is_empty() {
        client
            .untag_resource()
            .secret_id(arn)
            .set_tag_keys(Some(removed))
            .send()
            .await
            .map_err(|error| crate::aws_error("UntagResource", error))?;
    }
    client
        .tag_resource()
        .secret_id(arn)
        .set_tags(Some(to_tags(tags)))
        .send()
        .await
        .map_err(|error| crate::aws_error("TagResource", error))?;
    Ok(())
}

/// Deletes after the recovery window (`0`: at once). A secret already gone or already scheduled
/// for deletion counts as deleted.
pub(super) async fn delete(client: &Client, arn: &str, recovery_days: i64) -> Result<(), DriverError> {
    let mut call = client.delete_secret().secret_id(arn);
    call = if recovery_days == 0 {
        call.force_delete_without_recovery(true)
    } else {
        call.recovery_window_in_days(recovery_days)
    };
    match call.send().await.map_err(|error| crate::aws_error("DeleteSecret", error)) {
        Ok(_) => Ok(()),
        Err(error) if error.code_is(NOT_FOUND) => Ok(()),
        // Already scheduled for deletion (a second destroy): deleted as far as the stack goes.
        Err(error) if error.code_is("InvalidRequestException") => match describe(client, arn).await? {
            None => Ok(()),
            Some(found) if found.deleted_date().is_some() => Ok(()),
            Some(_) => Err(error),
        },
        Err(error) => Err(error),
    }
}

/// One secret by name or ARN (also one scheduled for deletion), `None` when there is none.
pub(super) async fn describe(client: &Client, id: &str) -> Result<Option<DescribeSecretOutput>, DriverError> {
    match client.describe_secret().secret_id(id).send().await {
        Ok(answer) => Ok(Some(answer)),
        Err(error) => {
            let error = crate::aws_error("DescribeSecret", error);
            if error.code_is(NOT_FOUND) {
                Ok(None)
            } else {
                Err(error)
            }
        }
    }
}

/// A secret as `ListSecrets` shows it.
pub(super) struct Listed {
    pub arn: String,
    name: String,
    description: Option<String>,
    tags: BTreeMap<String, String>,
}

impl Listed {
    pub fn observed(&self) -> Observed {
        let mut inputs = JsonMap::new();
        inputs.insert("name".into(), self.name.as_str().into());
        inputs.insert("description".into(), self.description.clone().map(Json::String).unwrap_or(Json::Null));
        inputs.insert("tags".into(), user_tags(&self.tags));
        let mut attributes = JsonMap::new();
        attributes.insert("name".into(), self.name.as_str().into());
        attributes.insert("arn".into(), self.arn.as_str().into());
        Observed { id: self.arn.clone(), inputs, attributes }
    }
}

/// The live secrets with exactly these names (not those scheduled for deletion), by name: one
/// `ListSecrets` per 10 names, all at once (the name filter matches prefixes, so the answer is
/// narrowed here).
pub(super) async fn list_by_name(aws: &AwsContext, names: &[String]) -> Result<BTreeMap<String, Listed>, DriverError> {
    let client = aws.secretsmanager();
    let lists = names.chunks(NAMES_PER_LIST).map(|batch| {
        move || async move {
            let filter = Filter::builder().key(FilterNameStringType::Name).set_values(Some(batch.to_vec())).build();
            let mut pages = client.list_secrets().filters(filter).into_paginator().send();
            let mut found = Vec::new();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|error| crate::aws_error("ListSecrets", error))?;
                found
                    .extend(page.secret_list().iter().filter_map(listed).filter(|listed| batch.contains(&listed.name)));
            }
            Ok::<_, DriverError>(found)
        }
    });
    let mut found = BTreeMap::new();
    for batch in aws.limiter(crate::Service::SecretsManager).all(lists).await {
        found.extend(batch?.into_iter().map(|listed| (listed.name.clone(), listed)));
    }
    Ok(found)
}

fn listed(entry: &SecretListEntry) -> Option<Listed> {
    if entry.deleted_date().is_some() {
        return None;
    }
    Some(Listed {
        arn: entry.arn()?.to_string(),
        name: entry.name()?.to_string(),
        description: entry.description().filter(|d| !d.is_empty()).map(str::to_string),
        tags: entry.tags().iter().filter_map(|tag| Some((tag.key()?.to_string(), tag.value()?.to_string()))).collect(),
    })
}

/// Whether these tags say the secret is the one this stack made for `address`.
pub(super) fn made_by(tags: &[Tag], stack: &provision_core::driver::StackInfo, address: &Address) -> bool {
    let tags = tags.iter().filter_map(|tag| Some((tag.key()?.to_string(), tag.value()?.to_string()))).collect();
    crate::drivers::tags::made_by(&tags, stack, address)
}

/// `arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME-AbCdEf` → `NAME` (AWS appends `-` and six
/// random characters).
pub(super) fn name_from_arn(arn: &str) -> Option<&str> {
    let (_, rest) = arn.split_once(":secret:")?;
    let cut = rest.len().checked_sub(7)?;
    (rest.as_bytes().get(cut) == Some(&b'-')).then(|| &rest[..cut])
}

fn to_tags(tags: &BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter().map(|(key, value)| Tag::builder().key(key).value(value).build()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns_give_the_secret_name() {
        assert_eq!(
            name_from_arn("arn:aws:secretsmanager:us-east-1:1:secret:shop-session-AbCdEf"),
            Some("shop-session")
        );
        assert_eq!(name_from_arn("arn:aws:secretsmanager:us-east-1:1:secret:x"), None);
        assert_eq!(name_from_arn("shop-session"), None);
    }

    #[test]
    fn only_this_stack_s_tags_make_a_secret_its_own() {
        let address = Address::new("secret", "session");
        let tags = [
            Tag::builder().key("provision:stack").value("shop").build(),
            Tag::builder().key("provision:address").value("secret.session").build(),
        ];
        let stack = |name: &str| provision_core::driver::StackInfo {
            name: name.into(),
            region: "us-east-1".into(),
            directory: ".".into(),
            lineage: None,
        };
        assert!(made_by(&tags, &stack("shop"), &address));
        assert!(!made_by(&tags, &stack("other"), &address));
        assert!(!made_by(&tags[..1], &stack("shop"), &address));
    }
}
