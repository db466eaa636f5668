//! `keep_images` as an ECR lifecycle policy: one rule that expires any image beyond the newest N.
//!
//! Reading back recognizes only that exact shape. A policy someone edited (other rules, other
//! selections) reads as no `keep_images`, so the plan shows the difference and an apply writes
//! provision's rule again.

use serde_json::{json, Value as Json};

pub(super) fn policy_text(keep_images: i64) -> String {
    json!({
        "rules": [{
            "rulePriority": 1,
            "description": format!("Keep the newest {keep_images} images"),
            "selection": { "tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": keep_images },
            "action": { "type": "expire" },
        }],
    })
    .to_string()
}

/// The N of a policy that `policy_text(N)` would write, `None` for any other policy.
pub(super) fn keep_images(text: &str) -> Option<i64> {
    let policy: Json = serde_json::from_str(text).ok()?;
    let [rule] = policy.get("rules")?.as_array()?.as_slice() else { return None };
    let selection = rule.get("selection")?;
    let ours = selection.get("tagStatus")?.as_str() == Some("any")
        && selection.get("countType")?.as_str() == Some("imageCountMoreThan")
        && rule.get("action")?.get("type")?.as_str() == Some("expire");
    ours.then(|| selection.get("countNumber")?.as_i64()).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_written_policy_reads_back_as_the_same_count() {
        assert_eq!(keep_images(&policy_text(30)), Some(30));
    }

    #[test]
    fn other_policies_read_as_none() {
        let tagged_only = policy_text(30).replace("\"any\"", "\"tagged\"");
        assert_eq!(keep_images(&tagged_only), None);
        let by_age = r#"{"rules":[{"rulePriority":1,"selection":{"tagStatus":"any","countType":"sinceImagePushed",
            "countUnit":"days","countNumber":14},"action":{"type":"expire"}}]}"#;
        assert_eq!(keep_images(by_age), None);
        assert_eq!(keep_images("not json"), None);
    }
}
