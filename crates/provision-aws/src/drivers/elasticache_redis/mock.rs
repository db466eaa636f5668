//! An ElastiCache client answered by the SDK's mocks, for the paths the emulator cannot reach.

use aws_sdk_elasticache::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_elasticache::Client;
use aws_smithy_mocks::{create_mock_http_client, MockResponseInterceptor, Rule, RuleMode};

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

/// A client answered by `rules` in order. Built by hand rather than with `mock_client!`, which
/// needs the SDK crate's `test-util` feature.
pub(super) fn mock_elasticache(rules: &[&Rule]) -> Client {
    let interceptor =
        rules.iter().fold(MockResponseInterceptor::new().rule_mode(RuleMode::Sequential), |i, r| i.with_rule(r));
    let config = aws_sdk_elasticache::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "mock"))
        .http_client(create_mock_http_client())
        .interceptor(interceptor)
        .build();
    Client::from_conf(config)
}
