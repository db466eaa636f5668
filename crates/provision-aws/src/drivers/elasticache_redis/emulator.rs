//! Where the local emulator's ElastiCache differs from AWS, in one place (see docs/emulator.md).
//!
//! moto 5.1.22, the pinned emulator, keeps a deleted replication group `deleting` forever, does not
//! implement `DeleteCacheSubnetGroup`, `ModifyReplicationGroup`, `IncreaseReplicaCount` or
//! `DecreaseReplicaCount` (it answers an HTML error page), and ignores `NumCacheClusters` when
//! cluster mode is disabled. Every allowance here applies only when the emulator itself answers
//! (`AwsContext::is_emulator`: its server's own `Server` header, not merely a custom endpoint);
//! against AWS, or anything else behind an endpoint, each one is a no-op, so the code path AWS runs
//! is the one the emulator tests exercise.

use crate::context::AwsContext;
use crate::drivers::DriverError;

/// Whether this run talks to the local emulator rather than AWS.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Emulator {
    local: bool,
}

impl Emulator {
    pub async fn of(aws: &AwsContext) -> Emulator {
        Emulator { local: aws.is_emulator().await }
    }

    /// Talking to AWS: nothing here applies.
    #[cfg(test)]
    pub const AWS: Emulator = Emulator { local: false };
    #[cfg(test)]
    pub const LOCAL: Emulator = Emulator { local: true };

    /// A group that reports `status` after its delete was accepted counts as gone: the emulator
    /// never finishes deleting. AWS does, and then answers ReplicationGroupNotFoundFault.
    pub fn deleted_group_is_gone(self, status: &str) -> bool {
        self.local && status == "deleting"
    }

    /// Subnet groups cannot be deleted on the emulator, so listing one as a leftover there would
    /// only report it again after every sweep.
    pub fn lists_subnet_group_leftovers(self) -> bool {
        !self.local
    }

    /// A failed DeleteCacheSubnetGroup that is the emulator's "not implemented" page (no AWS error
    /// code) is tolerated; the subnet group stays in the emulator.
    pub fn tolerates_subnet_group_delete_error(self, error: &DriverError) -> bool {
        self.local && is_error_page(error)
    }

    /// The replica count to send as `ReplicasPerNodeGroup` besides `NumCacheClusters`: the emulator
    /// reads only the former when cluster mode is disabled. Against AWS nothing extra is sent.
    pub fn replicas_per_node_group(self, replicas: i32) -> Option<i32> {
        self.local.then_some(replicas)
    }

    /// An error page from an operation the emulator does not implement, with a hint that says so.
    pub fn explain_unimplemented(self, error: DriverError) -> DriverError {
        if self.local && is_error_page(&error) {
            let hint = format!(
                "the local emulator does not implement `{}` (see docs/emulator.md); this change needs AWS",
                error.operation
            );
            error.with_hint(hint)
        } else {
            error
        }
    }
}

/// An answer that carried no AWS error code: the emulator's HTML page for an action it lacks.
fn is_error_page(error: &DriverError) -> bool {
    error.code.is_none() && !error.operation.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error_page(operation: &str) -> DriverError {
        DriverError::service(operation, None, "unhandled error (500): <!doctype html>")
    }

    #[test]
    fn against_aws_nothing_is_tolerated_or_explained() {
        assert!(!Emulator::AWS.deleted_group_is_gone("deleting"));
        assert!(!Emulator::AWS.tolerates_subnet_group_delete_error(&error_page("DeleteCacheSubnetGroup")));
        assert_eq!(Emulator::AWS.replicas_per_node_group(2), None);
        assert_eq!(Emulator::AWS.explain_unimplemented(error_page("ModifyReplicationGroup")).hint, None);
    }

    #[test]
    fn against_the_emulator_only_its_own_answers_are_tolerated() {
        assert!(Emulator::LOCAL.deleted_group_is_gone("deleting"));
        assert!(!Emulator::LOCAL.deleted_group_is_gone("available"));
        assert!(Emulator::LOCAL.tolerates_subnet_group_delete_error(&error_page("DeleteCacheSubnetGroup")));
        let in_use = DriverError::service("DeleteCacheSubnetGroup", Some("CacheSubnetGroupInUse".into()), "in use");
        assert!(!Emulator::LOCAL.tolerates_subnet_group_delete_error(&in_use), "a real AWS error is never tolerated");
        assert_eq!(Emulator::LOCAL.replicas_per_node_group(2), Some(2));
        let explained = Emulator::LOCAL.explain_unimplemented(error_page("ModifyReplicationGroup"));
        assert!(explained.hint.expect("a hint").contains("does not implement `ModifyReplicationGroup`"));
    }
}
