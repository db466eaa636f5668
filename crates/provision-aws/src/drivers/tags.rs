//! The tags every driver writes and reads back. provision's own tags (`provision:stack`,
//! `provision:address`) mark what a stack made; the planner compares only the user's tags. Tags
//! under `aws:` are AWS's own (CloudFormation puts `aws:cloudformation:stack-name` on what it
//! makes): no one can set or remove them, so they are not the user's either.

use std::collections::BTreeMap;

use serde_json::Value as Json;

use provision_core::value::JsonMap;

/// Tags provision writes for itself.
pub const PROVISION_TAG_PREFIX: &str = "provision:";

/// Whether a tag key is the user's: not provision's and not AWS's (`aws:`, any case).
fn is_user_key(key: &str) -> bool {
    !key.starts_with(PROVISION_TAG_PREFIX) && !key.get(..4).is_some_and(|prefix| prefix.eq_ignore_ascii_case("aws:"))
}

/// The tags as the stack file writes them: without provision's own or AWS's.
pub fn user_tags(tags: &BTreeMap<String, String>) -> Json {
    let user = tags.iter().filter(|(key, _)| is_user_key(key));
    Json::Object(user.map(|(key, value)| (key.clone(), Json::String(value.clone()))).collect())
}

/// User tag keys the resource had (`prior` inputs) that the request no longer wants.
pub fn removed_tags(prior: &JsonMap, wanted: &BTreeMap<String, String>) -> Vec<String> {
    let Some(Json::Object(before)) = prior.get("tags") else { return Vec::new() };
    before.keys().filter(|key| is_user_key(key) && !wanted.contains_key(*key)).cloned().collect()
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
    fn aws_tags_are_not_user_tags() {
        let tags = BTreeMap::from([
            ("aws:cloudformation:stack-name".to_string(), "app-test".to_string()),
            ("AWS:x".into(), "y".into()),
            ("awsome".into(), "yes".into()),
        ]);
        assert_eq!(user_tags(&tags), serde_json::json!({ "awsome": "yes" }));
        let prior = serde_json::json!({ "tags": { "aws:cloudformation:logical-id": "Bucket" } });
        assert!(removed_tags(prior.as_object().unwrap(), &BTreeMap::new()).is_empty(), "never removed");
    }

    #[test]
    fn removed_tags_are_the_user_tags_no_longer_wanted() {
        let prior = serde_json::json!({ "tags": { "old": "1", "kept": "2" } }).as_object().cloned().unwrap();
        let wanted = BTreeMap::from([("kept".to_string(), "2".to_string()), ("provision:stack".into(), "s".into())]);
        assert_eq!(removed_tags(&prior, &wanted), vec!["old".to_string()]);
    }
}
