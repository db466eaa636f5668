//! RDS: instances that take minutes in every step, and subnet groups held by them.

use std::time::Duration;

use super::{Answer, Bound, Retry, Wait};

/// `rds.instance-lifecycle`: an instance is `creating`, `backing-up`, `modifying` … for minutes to
/// tens of minutes before it is `available`, and `deleting` before it is gone. Evidence: RDS user
/// guide, "Viewing Amazon RDS DB instance status"; terraform-provider-aws `waitDBInstanceAvailable`
/// and `waitDBInstanceDeleted` (60-minute delete timeout).
pub const LIFECYCLE: Wait = Wait {
    id: "rds.instance-lifecycle",
    timeout: Duration::from_secs(60 * 60),
    first_poll: Duration::from_millis(500),
    poll: Duration::from_secs(10),
    hint: "RDS may still finish; run the command again later to continue",
};

/// The same behaviour met by `DeleteDBInstance`: an instance that is `creating`, `backing-up` or
/// `modifying` is refused ("Instance is currently creating - a final snapshot cannot be taken").
/// Evidence: RDS API `DeleteDBInstance` (`InvalidDBInstanceState`). provision tries again until the
/// step ends, within the lifecycle's hour.
pub const INSTANCE_BUSY: Answer = Answer {
    id: "rds.instance-lifecycle",
    codes: &["InvalidDBInstanceState", "InvalidDBInstanceStateFault"],
    message: None,
    waiting_for: "the database to finish its current step",
    hint: "RDS is still busy with the database; run `provision destroy` again later",
};

/// `DeleteDBInstance`: an hour.
pub const INSTANCE_DELETE: Retry = Retry::new(&[INSTANCE_BUSY], Bound::minutes(60));

/// `rds.subnet-group-in-use`: a DB subnet group is refused while an instance in it is still being
/// deleted. Evidence: RDS API `DeleteDBSubnetGroup` (`InvalidDBSubnetGroupStateFault`: "The DB
/// subnet group cannot be deleted because it's in use"). provision deletes the group after the
/// instance is gone; the retry covers the moments after, for 5 minutes.
pub const SUBNET_GROUP_IN_USE: Answer = Answer {
    id: "rds.subnet-group-in-use",
    codes: &["InvalidDBSubnetGroupStateFault", "InvalidDBSubnetGroupState"],
    message: None,
    waiting_for: "the databases in the subnet group to go",
    hint: "a database still uses the subnet group; delete it first (or wait until it is gone), then run \
           the command again",
};

/// `DeleteDBSubnetGroup`: 5 minutes.
pub const SUBNET_GROUP_DELETE: Retry = Retry::new(&[SUBNET_GROUP_IN_USE], Bound::minutes(5));
