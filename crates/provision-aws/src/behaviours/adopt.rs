//! Recognising one's own success after a lost answer (`any.response-lost`).
//!
//! AWS may act on a create and the answer never arrive (a timeout, a dropped connection). The SDK
//! then sends the request again, and that second attempt meets the first one's result: a
//! `…AlreadyExists` (or `BucketAlreadyOwnedByYou`, `InvalidPermission.Duplicate`,
//! `ResourceExistsException`). Taken at its word, the run would fail on a resource it made itself.
//! So a driver that meets one of these answers looks at what is there: when it carries this
//! stack's and this address's tags (or the token the create sent) it is this create's, and is
//! adopted; otherwise the error names the resource and the `provision import` command, and nothing
//! is taken over.

use std::collections::BTreeMap;

use provision_core::address::Address;
use provision_core::driver::DriverError;

use super::answer::Answer;

/// "A resource of this name already exists", in the spelling of every service provision uses.
pub const ALREADY_EXISTS: Answer = Answer {
    id: "any.response-lost",
    codes: &[
        "BucketAlreadyOwnedByYou",
        "InvalidGroup.Duplicate",
        "InvalidPermission.Duplicate",
        "EntityAlreadyExists",
        "RepositoryAlreadyExistsException",
        "DuplicateLoadBalancerName",
        "DuplicateTargetGroupName",
        "DuplicateListener",
        "DBSubnetGroupAlreadyExists",
        "DBInstanceAlreadyExists",
        "ReplicationGroupAlreadyExists",
        "CacheSubnetGroupAlreadyExists",
        "ResourceAlreadyExistsException",
        "ResourceExistsException",
        "OriginAccessControlAlreadyExists",
        "DistributionAlreadyExists",
    ],
    message: None,
    waiting_for: "",
    hint: "",
};

/// The tag that names the stack a resource was made for.
pub const STACK_TAG: &str = "provision:stack";
/// The tag that names the address a resource was made for.
pub const ADDRESS_TAG: &str = "provision:address";

/// Whether `tags` say the resource was made for `address` in `stack`.
pub fn made_by(tags: &BTreeMap<String, String>, stack: &str, address: &Address) -> bool {
    tags.get(STACK_TAG).is_some_and(|value| value == stack)
        && tags.get(ADDRESS_TAG).is_some_and(|value| *value == address.to_string())
}

/// The error for a name that is taken by something that is not this create's: what exists, and
/// how to adopt it or avoid it.
pub fn name_taken(error: DriverError, address: &Address, kind: &str, name: &str, import_id: &str) -> DriverError {
    DriverError { message: format!("a {kind} named `{name}` already exists and was not made for `{address}`"), ..error }
        .with_hint(format!("adopt it with `provision import {address} {import_id}`, or give `{address}` another name"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn ownership_needs_the_stack_and_the_address() {
        let address = Address::new("log_group", "app");
        assert!(made_by(&tags(&[(STACK_TAG, "shop"), (ADDRESS_TAG, "log_group.app")]), "shop", &address));
        assert!(!made_by(&tags(&[(STACK_TAG, "shop"), (ADDRESS_TAG, "log_group.api")]), "shop", &address));
        assert!(!made_by(&tags(&[(STACK_TAG, "other"), (ADDRESS_TAG, "log_group.app")]), "shop", &address));
        assert!(!made_by(&tags(&[]), "shop", &address));
    }

    #[test]
    fn a_taken_name_keeps_the_aws_answer_and_names_the_import() {
        let answer = DriverError::service("CreateLogGroup", Some("ResourceAlreadyExistsException".into()), "exists");
        let error = name_taken(answer, &Address::new("log_group", "app"), "log group", "/shop/app", "/shop/app");
        assert!(error.code_is("ResourceAlreadyExistsException"));
        assert_eq!(error.operation, "CreateLogGroup");
        assert_eq!(error.message, "a log group named `/shop/app` already exists and was not made for `log_group.app`");
        assert_eq!(
            error.hint.as_deref(),
            Some("adopt it with `provision import log_group.app /shop/app`, or give `log_group.app` another name")
        );
        assert!(ALREADY_EXISTS.matches(&error));
    }
}
