//! IAM: roles other services cannot use yet, and changes to one role at once.

use super::{Answer, Bound, Retry};

/// `iam.role-not-assumable-after-create`: a role made moments ago is not yet visible to the
/// service that must assume it. Evidence: IAM user guide, "Changes that I make are not always
/// immediately visible"; terraform-provider-aws `retryServiceCreate` (ECS) and `propagationTimeout`
/// (2 minutes).
pub const ROLE_NOT_ASSUMABLE: Answer = Answer {
    id: "iam.role-not-assumable-after-create",
    codes: &["InvalidParameterException"],
    message: Some("unable to assume"),
    waiting_for: "IAM to propagate the role",
    hint: "if the role was just created, run the command again in a minute",
};

/// The same, as ECS words it for a service role.
pub const ROLE_NOT_VERIFIED: Answer = Answer {
    message: Some("verify that the ecs service role being passed has the proper permissions"),
    ..ROLE_NOT_ASSUMABLE
};

/// The same, for the service-linked role ECS makes on first use.
pub const SERVICE_LINKED_ROLE_NOT_ASSUMABLE: Answer =
    Answer { message: Some("unable to assume the service linked role"), ..ROLE_NOT_ASSUMABLE };

/// The same, refused as `iam:PassRole` until the role has propagated.
pub const ROLE_NOT_PASSABLE: Answer = Answer { message: Some("iam:passrole"), ..ROLE_NOT_ASSUMABLE };

/// The same, answered as access denied.
pub const ROLE_NOT_PASSABLE_DENIED: Answer =
    Answer { codes: &["AccessDeniedException"], message: Some("iam:passrole"), ..ROLE_NOT_ASSUMABLE };

/// `iam.concurrent-modification`: IAM refuses a change to a role while another change to the same
/// role is in flight (policies attached side by side). Evidence: IAM API `AttachRolePolicy`,
/// `DetachRolePolicy`, `PutRolePolicy` (`ConcurrentModification`); terraform-provider-aws retries it
/// for `propagationTimeout` in `resourceRolePolicyAttachmentCreate`.
pub const CONCURRENT_MODIFICATION: Answer = Answer {
    id: "iam.concurrent-modification",
    codes: &["ConcurrentModification", "ConcurrentModificationException"],
    message: None,
    waiting_for: "the other change to the role to finish",
    hint: "IAM kept refusing the change while another one was in flight; run the command again",
};

/// Changes to a role's policies: 2 minutes.
pub const ROLE_CHANGE: Retry = Retry::new(&[CONCURRENT_MODIFICATION], Bound::minutes(2));
