//! An ElastiCache client answered by the SDK's mocks, for the paths the emulator cannot reach.

use aws_sdk_elasticache::Client;
use aws_smithy_mocks::Rule;

/// ReplicationGroupNotFoundFault as ElastiCache answers it: with its code in the error metadata.
pub(super) fn group_not_found(
) -> aws_sdk_elasticache::operation::describe_replication_groups::DescribeReplicationGroupsError {
    let meta = aws_smithy_types::error::ErrorMetadata::builder()
        .code("ReplicationGroupNotFoundFault")
        .message("Replication group shop-sessions not found.")
        .build();
    aws_sdk_elasticache::operation::describe_replication_groups::DescribeReplicationGroupsError::ReplicationGroupNotFoundFault(
        aws_sdk_elasticache::types::error::ReplicationGroupNotFoundFault::builder()
            .message("Replication group shop-sessions not found.")
            .meta(meta)
            .build(),
    )
}

/// A client answered by `rules` in order (see `crate::mock`).
pub(super) fn mock_elasticache(rules: &[&Rule]) -> Client {
    mock_client!(aws_sdk_elasticache, rules.iter().copied())
}
