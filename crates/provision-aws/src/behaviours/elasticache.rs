//! ElastiCache: replication groups that take minutes in every step, subnet groups held by them.

use std::time::Duration;

use super::{Answer, Bound, Retry, Wait};

/// `elasticache.group-lifecycle`: a replication group is `creating` or `modifying` for ten minutes
/// or more, and `deleting` before it is gone. Evidence: ElastiCache user guide, "Viewing a
/// cluster's status"; terraform-provider-aws `waitReplicationGroupAvailable` /
/// `waitReplicationGroupDeleted` (timeouts of 60 to 90 minutes).
pub const LIFECYCLE: Wait = Wait {
    id: "elasticache.group-lifecycle",
    timeout: Duration::from_secs(90 * 60),
    first_poll: Duration::from_millis(500),
    poll: Duration::from_secs(10),
    hint: "ElastiCache may still finish; run the command again later to continue",
};

/// `elasticache.subnet-group-in-use`: a cache subnet group is refused while a replication group in
/// it is still being deleted. Evidence: ElastiCache API `DeleteCacheSubnetGroup`
/// (`CacheSubnetGroupInUse`); terraform-provider-aws `resourceSubnetGroupDelete` retries while the
/// group is in use for 5 minutes.
pub const SUBNET_GROUP_IN_USE: Answer = Answer {
    id: "elasticache.subnet-group-in-use",
    codes: &["CacheSubnetGroupInUse"],
    message: None,
    waiting_for: "the caches in the subnet group to go",
    hint: "a cache still uses the subnet group; run the command again once it is deleted",
};

/// `DeleteCacheSubnetGroup`: 5 minutes.
pub const SUBNET_GROUP_DELETE: Retry = Retry::new(&[SUBNET_GROUP_IN_USE], Bound::minutes(5));
