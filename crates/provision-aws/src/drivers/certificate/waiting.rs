//! Waiting for ACM: for the validation records it chooses just after a request, for the
//! certificate to be issued once they are in the zone, and for a listener or distribution to let
//! go of it before a delete.
//!
//! DNS validation takes ACM from seconds to tens of minutes (the emulator issues after
//! `MOTO_ACM_VALIDATION_WAIT` seconds). Every look reports the status and the time waited, so a
//! user watching `apply` sees why it is quiet; a status ACM never leaves by itself ends the wait.

use aws_sdk_acm::Client;

use super::acm::{self, Snapshot};
use crate::drivers::{DriverError, ProgressSink};
use provision_core::address::Address;

/// How long to wait and how often to look: one of [`crate::behaviours::acm`]'s waits.
pub(super) type Timing = crate::behaviours::Wait;

/// Statuses ACM never leaves by itself.
pub(super) const FINAL: &[&str] = &["FAILED", "VALIDATION_TIMED_OUT", "REVOKED", "EXPIRED", "INACTIVE"];

async fn describe_existing(acm: &Client, arn: &str) -> Result<Snapshot, DriverError> {
    acm::describe(acm, arn)
        .await?
        .ok_or_else(|| DriverError::invalid(format!("certificate `{arn}` disappeared while provision waited for it")))
}

/// Polls until ACM has chosen a validation record for every name on the certificate.
pub(super) async fn until_records_chosen(
    acm: &Client,
    arn: &str,
    address: &Address,
    progress: &dyn ProgressSink,
    timing: Timing,
) -> Result<Snapshot, DriverError> {
    let mut waiter = timing.start(address, progress);
    loop {
        let snapshot = describe_existing(acm, arn).await?;
        if snapshot.awaiting_records == 0 && !snapshot.validation_records.is_empty() {
            return Ok(snapshot);
        }
        if snapshot.status != "PENDING_VALIDATION" {
            // Issued (or failed) without records to write: nothing to wait for.
            return Ok(snapshot);
        }
        if waiter.timed_out() {
            return Err(DriverError::invalid(format!(
                "ACM had not chosen the DNS validation records of `{arn}` after {}s",
                waiter.waited().as_secs()
            ))
            .with_hint("run `provision apply` again: the next run writes the records once ACM has them"));
        }
        waiter.report("waiting for ACM to choose the validation records");
        waiter.pause().await;
    }
}

/// Polls until the certificate is `ISSUED`; a status ACM never leaves fails with its reason.
pub(super) async fn until_issued(
    acm: &Client,
    arn: &str,
    address: &Address,
    progress: &dyn ProgressSink,
    timing: Timing,
) -> Result<Snapshot, DriverError> {
    let mut waiter = timing.start(address, progress);
    loop {
        let snapshot = describe_existing(acm, arn).await?;
        if snapshot.status == "ISSUED" {
            return Ok(snapshot);
        }
        if FINAL.contains(&snapshot.status.as_str()) {
            return Err(not_issuable(address, &snapshot));
        }
        if waiter.timed_out() {
            return Err(DriverError::invalid(format!(
                "ACM had not issued `{arn}` after {} minutes (status {})",
                waiter.waited().as_secs() / 60,
                snapshot.status
            ))
            .with_hint(
                "the validation records must resolve publicly: check that the domain's registrar points at the \
                 zone's name servers; ACM goes on validating, and `provision apply` waits again",
            ));
        }
        waiter.report(&format!("waiting for ACM to validate the domain ({})", snapshot.status));
        waiter.pause().await;
    }
}

/// A certificate ACM will never issue: a new one must be requested.
pub(super) fn not_issuable(address: &Address, snapshot: &Snapshot) -> DriverError {
    let reason = snapshot.failure_reason.as_deref().map(|reason| format!(" ({reason})")).unwrap_or_default();
    DriverError::invalid(format!("ACM will not issue `{}`: it is {}{reason}", snapshot.arn, snapshot.status)).with_hint(
        format!(
            "fix the cause (the validation records must resolve in the domain's public zone), then request a new \
             certificate: `provision apply --replace {address}`"
        ),
    )
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    use aws_sdk_acm::operation::describe_certificate::DescribeCertificateOutput;
    use aws_sdk_acm::types::{CertificateDetail, CertificateStatus, FailureReason};
    use aws_smithy_mocks::{mock, Rule};

    fn mock_acm(rules: &[&Rule]) -> Client {
        mock_client!(aws_sdk_acm, rules.iter().copied())
    }

    fn answer(status: CertificateStatus, failure: Option<FailureReason>) -> DescribeCertificateOutput {
        let detail = CertificateDetail::builder()
            .certificate_arn("arn:aws:acm:us-east-1:1:certificate/a")
            .domain_name("ws.example.com")
            .status(status)
            .set_failure_reason(failure)
            .build();
        DescribeCertificateOutput::builder().certificate(detail).build()
    }

    fn fast() -> Timing {
        crate::behaviours::acm::ISSUED.fast()
    }

    #[derive(Default)]
    struct Messages(Mutex<Vec<String>>);

    impl ProgressSink for Messages {
        fn waiting(&self, _address: &Address, message: &str) {
            self.0.lock().expect("lock").push(message.to_string());
        }
    }

    #[tokio::test]
    async fn pending_then_issued_reports_progress() {
        let pending = mock!(Client::describe_certificate)
            .sequence()
            .output(|| answer(CertificateStatus::PendingValidation, None))
            .times(2)
            .build();
        let issued = mock!(Client::describe_certificate).then_output(|| answer(CertificateStatus::Issued, None));
        let messages = Messages::default();
        let address = Address::new("certificate", "ws");
        let snapshot =
            until_issued(&mock_acm(&[&pending, &issued]), "arn", &address, &messages, fast()).await.expect("issued");
        assert_eq!(snapshot.status, "ISSUED");
        let messages = messages.0.into_inner().expect("lock");
        assert_eq!(messages.len(), 2);
        assert!(
            messages[0].starts_with("waiting for ACM to validate the domain (PENDING_VALIDATION) ("),
            "{messages:?}"
        );
    }

    /// The emulator always issues a DNS-validated certificate in the end, which is why this is
    /// tested with the SDK's mocks: ACM gives up, and the error says why and what to do.
    #[tokio::test]
    async fn a_failed_validation_says_why_and_how_to_start_again() {
        let failed = mock!(Client::describe_certificate)
            .then_output(|| answer(CertificateStatus::Failed, Some(FailureReason::CaaError)));
        let address = Address::new("certificate", "ws");
        let error = until_issued(&mock_acm(&[&failed]), "arn", &address, &Messages::default(), fast())
            .await
            .expect_err("failed");
        assert!(error.message.contains("it is FAILED (CAA_ERROR)"), "{}", error.message);
        assert!(error.hint.expect("a hint").contains("provision apply --replace certificate.ws"));
    }
}
