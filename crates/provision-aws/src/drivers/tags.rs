//! The tags every driver writes and reads back. provision's own tags (`provision:stack`,
//! `provision:address`) mark what a stack made; the planner compares only the user's tags. Tags
//! under `aws:` are AWS's own (CloudFormation puts `aws:cloudformation:stack-name` on what it
//! makes): no one can set or remove them, so they are not the user's either.

use std::collections::BTreeMap;

use serde_json::Value as Json;

use provision_core::value::JsonMap;

/// Tags provision writes for itself.
pub const PROVISION_TAG_PREFIX: &str = "provision:";

/// Whether `tags` mark a resource as the one this state made for `address`: the stack's name, the
/// address and — once the run knows its state's lineage — that lineage
/// (`provision_core::state::ownership`). What a killed create left is adopted only then: a
/// resource of the same name made by hand, by another stack whose default names collide with this
/// one's, or by another state of a stack with the same name, is never taken for this one's.
pub fn made_by(
    tags: &BTreeMap<String, String>,
    stack: &provision_core::driver::StackInfo,
    address: &provision_core::address::Address,
) -> bool {
    use provision_core::state::{ownership, Ownership};
    let address_matches = tags.get(provision_core::state::ownership::ADDRESS_TAG) == Some(&address.to_string());
    let owner_matches = match &stack.lineage {
        Some(lineage) => ownership(tags, &stack.name, lineage) == Ownership::Ours,
        None => tags.get(provision_core::state::ownership::STACK_TAG) == Some(&stack.name),
    };
    address_matches && owner_matches
}

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
    fn only_this_states_tags_make_a_resource_its_own() {
        use provision_core::address::Address;
        use provision_core::driver::StackInfo;
        let address = Address::new("s3_bucket", "site");
        let mut stack =
            StackInfo { name: "shop".into(), region: "us-east-1".into(), directory: ".".into(), lineage: None };
        let tags = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
        };
        let ours =
            tags(&[("provision:stack", "shop"), ("provision:address", "s3_bucket.site"), ("provision:lineage", "L")]);
        assert!(made_by(&ours, &stack, &address));
        stack.lineage = Some("L".into());
        assert!(made_by(&ours, &stack, &address));
        stack.lineage = Some("M".into());
        assert!(!made_by(&ours, &stack, &address), "another state of a stack with the same name");
        assert!(!made_by(&tags(&[]), &stack, &address), "untagged is not ours");
        let collided = tags(&[
            ("provision:stack", "shop"),
            ("provision:address", "s3_bucket.dev_site"),
            ("provision:lineage", "M"),
        ]);
        assert!(!made_by(&collided, &stack, &address), "another address whose default name is the same");
    }

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
