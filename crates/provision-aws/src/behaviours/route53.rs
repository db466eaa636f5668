//! Route 53: a change is `PENDING` until every name server has it.

use std::time::Duration;

use super::Wait;

/// `route53.change-pending`: `ChangeResourceRecordSets` answers `PENDING`; the change is `INSYNC`
/// once all of Route 53's name servers serve it, usually within 60 seconds. Evidence: Route 53 API
/// `GetChange` ("INSYNC indicates that the changes have propagated to all Route 53 DNS servers");
/// terraform-provider-aws `waitChangeInsync` (30 minutes). provision waits 10.
pub const INSYNC: Wait = Wait {
    id: "route53.change-pending",
    timeout: Duration::from_secs(10 * 60),
    first_poll: Duration::from_millis(500),
    poll: Duration::from_secs(5),
    hint: "Route 53 finishes it by itself; run `provision apply` again later",
};
