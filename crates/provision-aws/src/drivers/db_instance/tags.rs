//! RDS tagging, shared by `db_instance` and `db_subnet_group`.
//!
//! RDS tags any of its resources by ARN with the same three calls, and unlike S3 it has no "replace
//! all tags" call: an update adds the wanted set and removes, by key, what the state says was there
//! before and is no longer wanted. Tags someone added outside provision show as drift on refresh,
//! which puts them into the prior set, so the next apply removes them too.

use std::collections::BTreeMap;

use aws_sdk_rds::types::Tag;
use aws_sdk_rds::Client;
use serde_json::Value as Json;

pub(crate) use crate::drivers::tags::user_tags;
use crate::drivers::DriverError;
use provision_core::value::JsonMap;

pub(crate) fn to_rds(tags: &BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter().map(|(key, value)| Tag::builder().key(key).value(value).build()).collect()
}

pub(crate) fn from_rds(tags: &[Tag]) -> BTreeMap<String, String> {
    tags.iter().filter_map(|tag| Some((tag.key()?.to_string(), tag.value().unwrap_or_default().to_string()))).collect()
}

/// Whether these tags mark the resource as made by this stack.
pub(crate) fn made_by_stack(tags: &BTreeMap<String, String>, stack: &str) -> bool {
    tags.get("provision:stack").is_some_and(|value| value == stack)
}

pub(crate) async fn list(rds: &Client, arn: &str) -> Result<BTreeMap<String, String>, DriverError> {
    let output = rds
        .list_tags_for_resource()
        .resource_name(arn)
        .send()
        .await
        .map_err(|error| crate::aws_error("ListTagsForResource", error))?;
    Ok(from_rds(output.tag_list()))
}

/// Makes the resource carry exactly `wanted` (all tags, `provision:*` included), given the user's
/// tags the state recorded before (`prior_inputs["tags"]`).
pub(crate) async fn sync(
    rds: &Client,
    arn: &str,
    prior_inputs: &JsonMap,
    wanted: &BTreeMap<String, String>,
) -> Result<(), DriverError> {
    let stale = stale_keys(prior_inputs, wanted);
    if !stale.is_empty() {
        rds.remove_tags_from_resource()
            .resource_name(arn)
            .set_tag_keys(Some(stale))
            .send()
            .await
            .map_err(|error| crate::aws_error("RemoveTagsFromResource", error))?;
    }
    rds.add_tags_to_resource()
        .resource_name(arn)
        .set_tags(Some(to_rds(wanted)))
        .send()
        .await
        .map_err(|error| crate::aws_error("AddTagsToResource", error))?;
    Ok(())
}

/// Keys the resource had before that `wanted` no longer holds.
fn stale_keys(prior_inputs: &JsonMap, wanted: &BTreeMap<String, String>) -> Vec<String> {
    let prior = prior_inputs.get("tags").and_then(Json::as_object);
    prior.into_iter().flat_map(|tags| tags.keys()).filter(|key| !wanted.contains_key(*key)).cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn read_back_tags_leave_out_provision_tags() {
        let tags = map(&[("provision:stack", "shop"), ("provision:address", "db_instance.main"), ("team", "data")]);
        assert_eq!(user_tags(&tags), serde_json::json!({ "team": "data" }));
        assert!(made_by_stack(&tags, "shop"));
        assert!(!made_by_stack(&tags, "other"));
    }

    #[test]
    fn only_keys_that_are_no_longer_wanted_are_removed() {
        let prior = serde_json::json!({ "tags": { "team": "data", "old": "x" } });
        let wanted = map(&[("team", "web"), ("provision:stack", "shop")]);
        assert_eq!(stale_keys(prior.as_object().expect("object"), &wanted), vec!["old".to_string()]);
        assert!(stale_keys(&JsonMap::new(), &wanted).is_empty());
    }
}
