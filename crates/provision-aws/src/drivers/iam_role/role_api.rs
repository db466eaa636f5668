//! The IAM calls for a role, each naming its operation when it fails. IAM has no batch reads: a
//! role is one `GetRole` (which carries its tags) plus one listing per kind of policy, or, for many
//! roles at once, the account's two listings of every role.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_iam::types::{EntityType, Role, RoleDetail, Tag};
use aws_sdk_iam::Client;

use super::policy_document;
use crate::behaviours::iam as behaviour;
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

/// Every role in the account with its tags and policies, by name (`GetAccountAuthorizationDetails`
/// filtered to roles, 1,000 a page). The details carry no description: see [`all_roles`].
pub(super) async fn account_details(iam: &Client) -> Result<HashMap<String, RoleDetail>, DriverError> {
    let mut details = HashMap::new();
    let mut marker: Option<String> = None;
    loop {
        let marker_sent = marker.take();
        let page = iam
            .get_account_authorization_details()
            .filter(EntityType::Role)
            .max_items(LISTING_PAGE)
            .set_marker(marker_sent.clone())
            .send()
            .await
            .map_err(|error| crate::aws_error("GetAccountAuthorizationDetails", error))?;
        marker =
            crate::drivers::paging::next_token(page.marker().filter(|_| page.is_truncated()), marker_sent.as_deref());
        for detail in page.role_detail_list.unwrap_or_default() {
            if let Some(name) = detail.role_name.clone() {
                details.insert(name, detail);
            }
        }
        if marker.is_none() {
            return Ok(details);
        }
    }
}

/// Every role in the account, by name (`ListRoles`, 1,000 a page): name, ARN, trust policy and
/// description, but not the tags, which only `GetRole` and the account details carry.
pub(super) async fn all_roles(iam: &Client) -> Result<HashMap<String, Role>, DriverError> {
    let mut roles = HashMap::new();
    let mut marker: Option<String> = None;
    loop {
        let marker_sent = marker.take();
        let page = iam
            .list_roles()
            .max_items(LISTING_PAGE)
            .set_marker(marker_sent.clone())
            .send()
            .await
            .map_err(|error| crate::aws_error("ListRoles", error))?;
        marker =
            crate::drivers::paging::next_token(page.marker().filter(|_| page.is_truncated()), marker_sent.as_deref());
        for role in page.roles {
            roles.insert(role.role_name.clone(), role);
        }
        if marker.is_none() {
            return Ok(roles);
        }
    }
}

/// The most items IAM returns in one page of a listing.
const LISTING_PAGE: i32 = 1000;

/// The ARNs of the managed policies attached to a role, from its account details.
pub(super) fn attached_from_details(detail: &RoleDetail) -> Vec<String> {
    detail.attached_managed_policies().iter().filter_map(|policy| policy.policy_arn().map(str::to_string)).collect()
}

/// provision's inline policy in canonical JSON, from a role's account details, as [`inline_policy`]
/// reads it.
pub(super) fn inline_from_details(detail: &RoleDetail) -> Option<String> {
    let policy = detail.role_policy_list().iter().find(|policy| policy.policy_name() == Some(INLINE_POLICY_NAME))?;
    let document = policy.policy_document().unwrap_or_default();
    Some(policy_document::canonical(document).unwrap_or_else(|| document.to_string()))
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

/// Attaches the policy, again while another change to the role is in flight
/// (`iam.concurrent-modification`: a role's policies are attached side by side).
pub(super) async fn attach(iam: &Client, name: &str, policy_arn: &str) -> Result<(), DriverError> {
    behaviour::ROLE_CHANGE.run(|| attach_once(iam, name, policy_arn)).await
}

async fn attach_once(iam: &Client, name: &str, policy_arn: &str) -> Result<(), DriverError> {
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
    behaviour::ROLE_CHANGE.run(|| detach_once(iam, name, policy_arn)).await
}

async fn detach_once(iam: &Client, name: &str, policy_arn: &str) -> Result<(), DriverError> {
    match iam.detach_role_policy().role_name(name).policy_arn(policy_arn).send().await {
        Ok(_) => Ok(()),
        Err(error) => missing_is_none(crate::aws_error("DetachRolePolicy", error)).map(|_: Option<()>| ()),
    }
}

pub(super) async fn put_inline_policy(iam: &Client, name: &str, document: &str) -> Result<(), DriverError> {
    behaviour::ROLE_CHANGE.run(|| put_inline_policy_once(iam, name, document)).await
}

async fn put_inline_policy_once(iam: &Client, name: &str, document: &str) -> Result<(), DriverError> {
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
    behaviour::ROLE_CHANGE.run(|| delete_inline_policy_once(iam, name, policy_name)).await
}

async fn delete_inline_policy_once(iam: &Client, name: &str, policy_name: &str) -> Result<(), DriverError> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_iam::operation::get_account_authorization_details::GetAccountAuthorizationDetailsOutput;
    use aws_sdk_iam::operation::list_roles::ListRolesOutput;
    use aws_sdk_iam::types::{AttachedPolicy, PolicyDetail};
    use aws_smithy_mocks::mock;

    fn detail(name: &str) -> RoleDetail {
        RoleDetail::builder()
            .role_name(name)
            .attached_managed_policies(
                AttachedPolicy::builder().policy_arn("arn:aws:iam::aws:policy/ReadOnlyAccess").build(),
            )
            .role_policy_list(
                PolicyDetail::builder()
                    .policy_name(INLINE_POLICY_NAME)
                    .policy_document("%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%5D%7D")
                    .build(),
            )
            .build()
    }

    fn role(name: &str) -> Role {
        Role::builder()
            .role_name(name)
            .path("/")
            .role_id(format!("ID{name}"))
            .arn(format!("arn:aws:iam::1:role/{name}"))
            .create_date(aws_smithy_types::DateTime::from_secs(0))
            .build()
            .expect("a role")
    }

    /// Both account listings read every page, by IAM's `Marker`, and stop when IAM answers the
    /// marker just sent. Tested with the SDK's mocks because the emulator answers in one page.
    #[tokio::test]
    async fn the_account_listings_read_every_page_and_stop_at_a_repeated_marker() {
        let details = |names: &[&str], marker: Option<&str>| {
            GetAccountAuthorizationDetailsOutput::builder()
                .set_role_detail_list(Some(names.iter().map(|name| detail(name)).collect()))
                .is_truncated(marker.is_some())
                .set_marker(marker.map(String::from))
                .build()
        };
        let first = mock!(Client::get_account_authorization_details)
            .match_requests(|request| request.marker().is_none() && request.filter() == [EntityType::Role])
            .then_output(move || details(&["a", "b"], Some("m1")));
        let second = mock!(Client::get_account_authorization_details)
            .match_requests(|request| request.marker() == Some("m1"))
            .then_output(move || details(&["c"], Some("m1")));
        let roles_first =
            mock!(Client::list_roles).match_requests(|request| request.marker().is_none()).then_output(|| {
                ListRolesOutput::builder().roles(role("a")).is_truncated(true).marker("r1").build().expect("a page")
            });
        let roles_second = mock!(Client::list_roles)
            .match_requests(|request| request.marker() == Some("r1"))
            .then_output(|| ListRolesOutput::builder().roles(role("c")).is_truncated(false).build().expect("a page"));
        let rules = [&first, &second, &roles_first, &roles_second];
        let iam = mock_client!(aws_sdk_iam, rules.iter().copied());

        let found = account_details(&iam).await.expect("details");
        let mut names: Vec<&str> = found.keys().map(String::as_str).collect();
        names.sort();
        assert_eq!(names, ["a", "b", "c"]);
        assert_eq!(attached_from_details(&found["c"]), ["arn:aws:iam::aws:policy/ReadOnlyAccess"]);
        // URL-encoded as IAM answers it, canonical as the stack file's `inline_policy` is compared.
        assert_eq!(inline_from_details(&found["c"]).as_deref(), Some(r#"{"Statement":[],"Version":"2012-10-17"}"#));
        assert_eq!(inline_from_details(&RoleDetail::builder().role_name("d").build()), None);

        let roles = all_roles(&iam).await.expect("roles");
        let mut names: Vec<&str> = roles.keys().map(String::as_str).collect();
        names.sort();
        assert_eq!(names, ["a", "c"]);
        assert_eq!(
            (first.num_calls(), second.num_calls(), roles_first.num_calls(), roles_second.num_calls()),
            (1, 1, 1, 1)
        );
    }
}
