//! The IAM calls for a role, each naming its operation when it fails. IAM has no batch reads: a
//! role is one `GetRole` (which carries its tags) plus one listing per kind of policy.

use std::collections::BTreeMap;

use aws_sdk_iam::types::{Role, Tag};
use aws_sdk_iam::Client;

use super::policy_document;
use crate::drivers::DriverError;

/// The name of the one inline policy provision writes on a role.
pub(super) const INLINE_POLICY_NAME: &str = "provision";

pub(super) async fn create(
    iam: &Client,
    name: &str,
    trust_policy: &str,
    description: Option<&str>,
    tags: &BTreeMap<String, String>,
) -> Result<Role, DriverError> {
    let output = iam
        .create_role()
        .role_name(name)
        .assume_role_policy_document(trust_policy)
        .set_description(description.map(str::to_string))
        .set_tags(Some(iam_tags(tags)?))
        .send()
        .await
        .map_err(|error| crate::aws_error("CreateRole", error))?;
    output.role().cloned().ok_or_else(|| DriverError::invalid("CreateRole answered without the role"))
}

/// The role, `None` when it does not exist.
pub(super) async fn get(iam: &Client, name: &str) -> Result<Option<Role>, DriverError> {
    match iam.get_role().role_name(name).send().await {
        Ok(output) => Ok(output.role().cloned()),
        Err(error) => missing_is_none(crate::aws_error("GetRole", error)),
    }
}

pub(super) async fn attached_policies(iam: &Client, name: &str) -> Result<Vec<String>, DriverError> {
    let mut pages = iam.list_attached_role_policies().role_name(name).into_paginator().send();
    let mut arns = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|error| crate::aws_error("ListAttachedRolePolicies", error))?;
        arns.extend(page.attached_policies().iter().filter_map(|policy| policy.policy_arn().map(str::to_string)));
    }
    Ok(arns)
}

pub(super) async fn inline_policy_names(iam: &Client, name: &str) -> Result<Vec<String>, DriverError> {
    let mut pages = iam.list_role_policies().role_name(name).into_paginator().send();
    let mut names = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|error| crate::aws_error("ListRolePolicies", error))?;
        names.extend(page.policy_names().iter().cloned());
    }
    Ok(names)
}

pub(super) async fn instance_profiles(iam: &Client, name: &str) -> Result<Vec<String>, DriverError> {
    let mut pages = iam.list_instance_profiles_for_role().role_name(name).into_paginator().send();
    let mut names = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|error| crate::aws_error("ListInstanceProfilesForRole", error))?;
        names.extend(page.instance_profiles().iter().map(|profile| profile.instance_profile_name().to_string()));
    }
    Ok(names)
}

/// provision's inline policy in canonical JSON, `None` when the role has none.
pub(super) async fn inline_policy(iam: &Client, name: &str) -> Result<Option<String>, DriverError> {
    match iam.get_role_policy().role_name(name).policy_name(INLINE_POLICY_NAME).send().await {
        Ok(output) => {
            let document = output.policy_document();
            Ok(Some(policy_document::canonical(document).unwrap_or_else(|| document.to_string())))
        }
        Err(error) => missing_is_none(crate::aws_error("GetRolePolicy", error)),
    }
}

pub(super) async fn attach(iam: &Client, name: &str, policy_arn: &str) -> Result<(), DriverError> {
    match iam.attach_role_policy().role_name(name).policy_arn(policy_arn).send().await {
        Ok(_) => Ok(()),
        Err(error) => {
            let error = crate::aws_error("AttachRolePolicy", error);
            if error.code_is("NoSuchEntity") {
                Err(error.with_hint(format!(
                    "check the policy ARN `{policy_arn}` in `managed_policies`: AWS managed policies look like \
                     `arn:aws:iam::aws:policy/NAME` (some under `service-role/`), your own \
                     `arn:aws:iam::ACCOUNT:policy/NAME`"
                )))
            } else {
                Err(error)
            }
        }
    }
}

/// A policy that is no longer attached counts as detached.
pub(super) async fn detach(iam: &Client, name: &str, policy_arn: &str) -> Result<(), DriverError> {
    match iam.detach_role_policy().role_name(name).policy_arn(policy_arn).send().await {
        Ok(_) => Ok(()),
        Err(error) => missing_is_none(crate::aws_error("DetachRolePolicy", error)).map(|_: Option<()>| ()),
    }
}

pub(super) async fn put_inline_policy(iam: &Client, name: &str, document: &str) -> Result<(), DriverError> {
    iam.put_role_policy()
        .role_name(name)
        .policy_name(INLINE_POLICY_NAME)
        .policy_document(document)
        .send()
        .await
        .map_err(|error| crate::aws_error("PutRolePolicy", error))?;
    Ok(())
}

/// A policy that is already gone counts as deleted.
pub(super) async fn delete_inline_policy(iam: &Client, name: &str, policy_name: &str) -> Result<(), DriverError> {
    match iam.delete_role_policy().role_name(name).policy_name(policy_name).send().await {
        Ok(_) => Ok(()),
        Err(error) => missing_is_none(crate::aws_error("DeleteRolePolicy", error)).map(|_: Option<()>| ()),
    }
}

pub(super) async fn remove_from_instance_profile(iam: &Client, name: &str, profile: &str) -> Result<(), DriverError> {
    match iam.remove_role_from_instance_profile().role_name(name).instance_profile_name(profile).send().await {
        Ok(_) => Ok(()),
        Err(error) => missing_is_none(crate::aws_error("RemoveRoleFromInstanceProfile", error)).map(|_: Option<()>| ()),
    }
}

pub(super) async fn update_trust_policy(iam: &Client, name: &str, document: &str) -> Result<(), DriverError> {
    iam.update_assume_role_policy()
        .role_name(name)
        .policy_document(document)
        .send()
        .await
        .map_err(|error| crate::aws_error("UpdateAssumeRolePolicy", error))?;
    Ok(())
}

/// An empty description removes it.
pub(super) async fn update_description(iam: &Client, name: &str, description: &str) -> Result<(), DriverError> {
    iam.update_role()
        .role_name(name)
        .description(description)
        .send()
        .await
        .map_err(|error| crate::aws_error("UpdateRole", error))?;
    Ok(())
}

/// Writes `tags` (values may have changed) and removes the keys in `removed`.
pub(super) async fn put_tags(
    iam: &Client,
    name: &str,
    tags: &BTreeMap<String, String>,
    removed: &[String],
) -> Result<(), DriverError> {
    if !removed.is_empty() {
        iam.untag_role()
            .role_name(name)
            .set_tag_keys(Some(removed.to_vec()))
            .send()
            .await
            .map_err(|error| crate::aws_error("UntagRole", error))?;
    }
    iam.tag_role()
        .role_name(name)
        .set_tags(Some(iam_tags(tags)?))
        .send()
        .await
        .map_err(|error| crate::aws_error("TagRole", error))?;
    Ok(())
}

pub(super) async fn delete(iam: &Client, name: &str) -> Result<(), DriverError> {
    iam.delete_role().role_name(name).send().await.map_err(|error| crate::aws_error("DeleteRole", error))?;
    Ok(())
}

pub(super) fn is_missing(error: &DriverError) -> bool {
    error.code_is("NoSuchEntity")
}

fn missing_is_none<T>(error: DriverError) -> Result<Option<T>, DriverError> {
    if is_missing(&error) {
        Ok(None)
    } else {
        Err(error)
    }
}

fn iam_tags(tags: &BTreeMap<String, String>) -> Result<Vec<Tag>, DriverError> {
    tags.iter()
        .map(|(key, value)| Tag::builder().key(key).value(value).build())
        .collect::<Result<_, _>>()
        .map_err(|error| DriverError::invalid(format!("invalid role tag: {error}")))
}
