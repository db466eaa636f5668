//! Whether something the cloud holds belongs to this state, judged by its tags.
//!
//! A stack's name is not an identity: two teams, a copy of the stack in another account's worth
//! of experiments, a preview environment recreated under the same name — each is a different state
//! with its own `lineage`. Every taggable resource provision makes carries `provision:lineage`, so
//! adoption after a kill, `state orphans`, `destroy --sweep` and `sweep --expired` all ask this one
//! function, and only [`Ownership::Ours`] is ever taken over or deleted.

use std::collections::BTreeMap;

use super::LINEAGE_TAG;

/// `provision:stack`.
pub const STACK_TAG: &str = "provision:stack";
/// `provision:address`.
pub const ADDRESS_TAG: &str = "provision:address";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ownership {
    /// Tagged with this stack and this state's lineage.
    Ours,
    /// Tagged with this stack's name but with no lineage: made before lineage tags were written,
    /// or by hand. Whose it is cannot be told, so it is listed, never swept.
    Unproven,
    /// Not tagged with this stack, or with another state's lineage.
    Other,
}

/// Who `tags` say the resource belongs to, for the stack `stack` whose state has `lineage`.
pub fn ownership(tags: &BTreeMap<String, String>, stack: &str, lineage: &str) -> Ownership {
    if tags.get(STACK_TAG).map(String::as_str) != Some(stack) {
        return Ownership::Other;
    }
    match tags.get(LINEAGE_TAG) {
        Some(tagged) if tagged == lineage => Ownership::Ours,
        Some(_) => Ownership::Other,
        None => Ownership::Unproven,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn only_the_stack_and_its_lineage_together_make_a_resource_ours() {
        let ours = tags(&[(STACK_TAG, "shop"), (LINEAGE_TAG, "L1")]);
        assert_eq!(ownership(&ours, "shop", "L1"), Ownership::Ours);
        assert_eq!(ownership(&ours, "shop", "L2"), Ownership::Other, "a stack of the same name, another state");
        assert_eq!(ownership(&ours, "shop-dev", "L1"), Ownership::Other);
        assert_eq!(ownership(&tags(&[(STACK_TAG, "shop")]), "shop", "L1"), Ownership::Unproven);
        assert_eq!(ownership(&tags(&[("team", "web")]), "shop", "L1"), Ownership::Other);
    }
}
