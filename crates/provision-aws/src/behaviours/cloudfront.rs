//! CloudFront: distributions that deploy for minutes, refuse a delete until disabled, guard every
//! change with an ETag, and do not see a certificate issued moments ago.

use std::time::Duration;

use super::{Answer, Bound, Retry, Wait};

/// `cloudfront.in-progress`: every change puts a distribution `InProgress` for minutes (often
/// 5–15, sometimes far longer). Evidence: CloudFront developer guide, "Updating a distribution"
/// ("the distribution's status is InProgress until the change is deployed to all edge locations");
/// terraform-provider-aws `waitDistributionDeployed` (90 minutes, polling every 15 s).
pub const DEPLOYED: Wait = Wait {
    id: "cloudfront.in-progress",
    timeout: Duration::from_secs(90 * 60),
    first_poll: Duration::from_secs(5),
    poll: Duration::from_secs(15),
    hint: "CloudFront may still finish; run `provision apply` again later to continue",
};

/// `cloudfront.distribution-deleted`: after `DeleteDistribution` answers, the distribution is
/// still listed (and still holds its origin access control) until CloudFront has removed it.
/// Evidence: terraform-provider-aws `waitDistributionDeleted` (90 minutes) before the delete counts
/// as done.
pub const DELETED: Wait = Wait {
    id: "cloudfront.distribution-deleted",
    timeout: Duration::from_secs(90 * 60),
    first_poll: Duration::from_secs(5),
    poll: Duration::from_secs(15),
    hint: "CloudFront is still removing the distribution; run `provision destroy` again later",
};

/// `cloudfront.distribution-not-disabled`: a delete is refused until the disable has deployed
/// everywhere (and refused for a while after `Deployed` is first reported). Evidence: CloudFront
/// API `DeleteDistribution` (`DistributionNotDisabled`); terraform-provider-aws
/// `resourceDistributionDelete` disables again and retries for 3 minutes.
pub const NOT_DISABLED: Answer = Answer {
    id: "cloudfront.distribution-not-disabled",
    codes: &["DistributionNotDisabled"],
    message: None,
    waiting_for: "CloudFront to finish disabling the distribution",
    hint: "CloudFront had not finished disabling the distribution; run `provision destroy` again later",
};

/// `cloudfront.stale-etag`: a change names the ETag of the config it read; another change in
/// between (the disable just sent, someone's edit) makes it stale. Evidence: CloudFront API
/// `UpdateDistribution`/`DeleteDistribution` (`PreconditionFailed`, `InvalidIfMatchVersion`);
/// terraform-provider-aws reads a fresh ETag (`distroETag`) and retries for 1 minute.
pub const STALE_ETAG: Answer = Answer {
    id: "cloudfront.stale-etag",
    codes: &["PreconditionFailed", "InvalidIfMatchVersion"],
    message: None,
    waiting_for: "a fresh ETag of the distribution",
    hint: "the distribution kept changing under provision; run the command again",
};

/// `DeleteDistribution`, each attempt with a fresh ETag: 3 minutes.
pub const DELETE: Retry = Retry::new(&[NOT_DISABLED, STALE_ETAG], Bound::minutes(3));

/// `cloudfront.certificate-not-visible`: CloudFront does not see an ACM certificate issued moments
/// ago. Evidence: CloudFront API `CreateDistribution`/`UpdateDistribution`
/// (`InvalidViewerCertificate`: "The specified SSL certificate doesn't exist, isn't in us-east-1
/// region, isn't valid, or doesn't include a valid certificate chain"); terraform-provider-aws
/// retries it ("ACM and IAM certificate eventual consistency") for 1 minute; provision allows the
/// 2 minutes it gives every other certificate answer (`elbv2.certificate-not-found`).
pub const CERTIFICATE_NOT_VISIBLE: Answer = Answer {
    id: "cloudfront.certificate-not-visible",
    codes: &["InvalidViewerCertificate"],
    message: None,
    waiting_for: "CloudFront to see the certificate",
    hint: "CloudFront did not accept the certificate: it must be ISSUED, in us-east-1, and cover every alias",
};

/// `CreateDistribution`: 2 minutes.
pub const CREATE: Retry = Retry::new(&[CERTIFICATE_NOT_VISIBLE], Bound::minutes(2));

/// `UpdateDistribution`, each attempt a fresh read-modify-write under a fresh ETag: 2 minutes.
pub const UPDATE: Retry = Retry::new(&[CERTIFICATE_NOT_VISIBLE, STALE_ETAG], Bound::minutes(2));

/// `cloudfront.origin-access-control-in-use`: a control is refused while a distribution uses it,
/// and for moments after that distribution is gone. Evidence: CloudFront API
/// `DeleteOriginAccessControl` (`OriginAccessControlInUse`). provision deletes a control only once
/// its distribution is gone (`DELETED`) and no other distribution uses it, then retries for 5
/// minutes.
pub const ORIGIN_ACCESS_CONTROL_IN_USE: Answer = Answer {
    id: "cloudfront.origin-access-control-in-use",
    codes: &["OriginAccessControlInUse"],
    message: None,
    waiting_for: "CloudFront to release the origin access control",
    hint: "CloudFront still counts the control as in use; `provision state orphans` lists it and \
           `destroy --sweep` removes it later",
};

/// `DeleteOriginAccessControl` after its distribution is gone: 5 minutes.
pub const ORIGIN_ACCESS_CONTROL_DELETE: Retry =
    Retry::new(&[ORIGIN_ACCESS_CONTROL_IN_USE, STALE_ETAG], Bound::minutes(5));
