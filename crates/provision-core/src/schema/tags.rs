//! AWS's rules for tags, the same for every service provision uses: checked by the loader and
//! stated in the JSON Schema.

/// Tags a resource may carry.
pub const MAX_TAGS: usize = 50;
pub const MAX_TAG_KEY: usize = 128;
pub const MAX_TAG_VALUE: usize = 256;
/// `provision:stack`, `provision:address` and `provision:lineage` (a preview's `provision:expires`
/// is a fourth, on environments applied with `--ttl`).
pub const PROVISION_TAGS: usize = 3;
/// Keys AWS (`aws:`, in any case) and provision (`provision:`) keep for themselves.
pub const RESERVED_KEY_PATTERN: &str = "^(?:[aA][wW][sS]|provision):";

/// What is wrong with a tag key, if anything.
pub fn tag_key_problem(key: &str) -> Option<String> {
    let length = key.chars().count();
    if length == 0 {
        Some("is empty".into())
    } else if length > MAX_TAG_KEY {
        Some(format!("is {length} characters long"))
    } else if key.to_ascii_lowercase().starts_with("aws:") {
        Some("uses the `aws:` prefix, which AWS reserves".into())
    } else if key.starts_with("provision:") {
        Some("uses the `provision:` prefix, which provision reserves for its own tags".into())
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_keys_follow_aws_rules() {
        assert_eq!(tag_key_problem("team"), None);
        assert!(tag_key_problem("aws:cloudformation:stack").unwrap().contains("`aws:`"));
        assert!(tag_key_problem("AWS:x").is_some());
        assert!(tag_key_problem("provision:stack").unwrap().contains("provision"));
        assert!(tag_key_problem(&"k".repeat(129)).unwrap().contains("129"));
    }

    #[test]
    fn the_reserved_prefixes_are_the_pattern() {
        let reserved = regex_lite::Regex::new(RESERVED_KEY_PATTERN).unwrap();
        for key in ["team", "aws:x", "AwS:x", "provision:stack", "Provision:x", "awsx"] {
            let problem = tag_key_problem(key).is_some();
            assert_eq!(reserved.is_match(key), problem, "{key}");
        }
    }
}
