//! ACM: certificates waiting for DNS validation, and held by listeners and distributions.

use std::time::Duration;

use super::{Answer, Bound, Retry, Wait};

/// `acm.pending-validation`: a DNS-validated certificate is `PENDING_VALIDATION` until ACM has seen
/// its validation records, usually minutes after they resolve. Evidence: ACM user guide, "DNS
/// validation" ("can take up to 30 minutes"); terraform-provider-aws
/// `aws_acm_certificate_validation` waits (its create timeout, 75 minutes). provision waits 45.
pub const ISSUED: Wait = Wait {
    id: "acm.pending-validation",
    timeout: Duration::from_secs(45 * 60),
    first_poll: Duration::from_secs(1),
    poll: Duration::from_secs(10),
    hint: "ACM goes on validating; run `provision apply` again later, or check the validation records",
};

/// `acm.validation-records-pending`: ACM chooses a certificate's validation records seconds after
/// the request; until then `DomainValidationOptions` has none. Evidence: ACM API
/// `DescribeCertificate` (`ResourceRecord` "is present only after the certificate has been
/// requested"); terraform-provider-aws `findCertificateByARN` waits for them in
/// `resourceCertificateCreate`.
pub const RECORDS_CHOSEN: Wait = Wait {
    id: "acm.validation-records-pending",
    timeout: Duration::from_secs(5 * 60),
    first_poll: Duration::from_millis(500),
    poll: Duration::from_secs(2),
    hint: "run `provision apply` again: the next run writes the records once ACM has them",
};

/// `acm.certificate-in-use`: a certificate is refused while a listener or distribution holds it,
/// and for minutes after (CloudFront lets go slowly). Evidence: ACM API `DeleteCertificate`
/// (`ResourceInUseException`); terraform-provider-aws `resourceCertificateDelete` retries it for
/// its delete timeout.
pub const IN_USE: Answer = Answer {
    id: "acm.certificate-in-use",
    codes: &["ResourceInUseException"],
    message: None,
    waiting_for: "the listeners and distributions to let go of the certificate",
    hint: "remove it from the listeners and distributions that use it (`aws acm describe-certificate` lists them \
           under InUseBy), then destroy again",
};

/// `DeleteCertificate`: 10 minutes.
pub const DELETE: Retry = Retry::new(&[IN_USE], Bound::minutes(10));
