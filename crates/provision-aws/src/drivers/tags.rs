//! The tags every driver writes and reads back. provision's own tags (`provision:stack`,
//! `provision:address`) mark what a stack made; the planner compares only the user's tags.

use std::collections::BTreeMap;

use serde_json::Value as Json;

use provision_core::value::JsonMap;

/// Tags provision writes for itself.
pub const PROVISION_TAG_PREFIX: &str = "provision:";

/// The tags as the stack file writes them: without provision's own.
pub fn user_tags(tags: &BTreeMap<String, String>) -> Json {
    let user = tags.iter().filter(|(key, _)| !key.starts_with(PROVISION_TAG_PREFIX));
    Json::Object(user.map(|(key, value)| (key.clone(), Json::String(value.clone()))).collect())
}

/// User tag keys the resource had (`prior` inputs) that the request no longer wants.
pub fn removed_tags(prior: &JsonMap, wanted: &BTreeMap<String, String>) -> Vec<String> {
    let Some(Json::Object(before)) = prior.get("tags") else { return Vec::new() };
    before.keys().filter(|key| !key.starts_with(PROVISION_TAG_PREFIX) && !wanted.contains_key(*key)).cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provision_tags_are_not_user_tags() {
        let tags = BTreeMap::from([("provision:stack".to_string(), "shop".to_string()), ("team".into(), "web".into())]);
        assert_eq!(user_tags(&tags), serde_json::json!({ "team": "web" }));
    }

    #[test]
    fn removed_tags_are_the_user_tags_no_longer_wanted() {
        let prior = serde_json::json!({ "tags": { "old": "1", "kept": "2" } }).as_object().cloned().unwrap();
        let wanted = BTreeMap::from([("kept".to_string(), "2".to_string()), ("provision:stack".into(), "s".into())]);
        assert_eq!(removed_tags(&prior, &wanted), vec!["old".to_string()]);
    }
}
