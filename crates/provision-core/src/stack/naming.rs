//! Default AWS names: `<stack>-<resource>` cut to the service's limit with a stable hash suffix.

use sha2::{Digest, Sha256};

pub fn default_aws_name(stack: &str, resource: &str, max_len: usize) -> String {
    let full = format!("{stack}-{}", resource.replace('_', "-"));
    if full.len() <= max_len {
        return full;
    }
    let hash = hex::encode(Sha256::digest(full.as_bytes()));
    let suffix = &hash[..6];
    let keep = max_len.saturating_sub(suffix.len() + 1);
    let head = full[..keep].trim_end_matches('-');
    format!("{head}-{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names_are_stack_dash_resource() {
        assert_eq!(default_aws_name("shop-dev", "static_site", 63), "shop-dev-static-site");
    }

    #[test]
    fn long_names_are_cut_with_a_stable_suffix() {
        let name = default_aws_name("a-very-long-stack-name-here", "and_a_long_resource_name", 32);
        assert_eq!(name.len(), 32);
        assert_eq!(name, default_aws_name("a-very-long-stack-name-here", "and_a_long_resource_name", 32));
        assert_ne!(name, default_aws_name("a-very-long-stack-name-here", "and_a_long_resource_nam2", 32));
    }
}
