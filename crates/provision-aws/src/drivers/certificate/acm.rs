//! The ACM calls the certificate driver makes, each answering in the driver's terms.

use std::collections::BTreeMap;

use aws_sdk_acm::types::{CertificateDetail, CertificateSummary, Filters, KeyAlgorithm, Tag, ValidationMethod};
use aws_sdk_acm::Client;

use crate::behaviours::Retry;
use crate::drivers::{DriverError, ProgressSink};
use provision_core::address::Address;

const NOT_FOUND: &str = "ResourceNotFoundException";

/// The DNS record that proves control of one of the certificate's names.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct ValidationRecord {
    pub domain: String,
    pub name: String,
    pub record_type: String,
    pub value: String,
}

/// What the driver knows of one certificate after a `DescribeCertificate`.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Snapshot {
    pub arn: String,
    pub domain: String,
    /// Every name on the certificate, the domain included, as ACM lists them.
    pub names: Vec<String>,
    pub status: String,
    pub failure_reason: Option<String>,
    /// The validation record ACM has chosen so far for each domain name.
    pub validation_records: Vec<ValidationRecord>,
    /// Domain names whose validation record ACM has not chosen yet (just after the request).
    pub awaiting_records: usize,
}

impl Snapshot {
    pub(super) fn from_aws(detail: &CertificateDetail) -> Snapshot {
        let mut validation_records = Vec::new();
        let mut awaiting_records = 0;
        for option in detail.domain_validation_options() {
            match option.resource_record() {
                Some(record) => validation_records.push(ValidationRecord {
                    domain: option.domain_name().to_string(),
                    name: record.name().to_string(),
                    record_type: record.r#type().as_str().to_string(),
                    value: record.value().to_string(),
                }),
                None => awaiting_records += 1,
            }
        }
        Snapshot {
            arn: detail.certificate_arn().unwrap_or_default().to_string(),
            domain: detail.domain_name().unwrap_or_default().to_string(),
            names: detail.subject_alternative_names().to_vec(),
            status: detail.status().map(|status| status.as_str().to_string()).unwrap_or_default(),
            failure_reason: detail.failure_reason().map(|reason| reason.as_str().to_string()),
            validation_records,
            awaiting_records,
        }
    }
}

/// The region in a certificate ARN, `arn:aws:acm:REGION:ACCOUNT:certificate/ID`.
pub(super) fn region_of(arn: &str) -> Option<&str> {
    let region = arn.split(':').nth(3)?;
    (arn.starts_with("arn:") && arn.contains(":certificate/") && !region.is_empty()).then_some(region)
}

pub(super) fn tag_list(tags: &BTreeMap<String, String>) -> Result<Vec<Tag>, DriverError> {
    tags.iter()
        .map(|(key, value)| {
            Tag::builder()
                .key(key)
                .value(value)
                .build()
                .map_err(|error| DriverError::invalid(format!("cannot build the tag `{key}`: {error}")))
        })
        .collect()
}

pub(super) async fn request(
    acm: &Client,
    domain: &str,
    alternative_names: &[String],
    token: &str,
    tags: &BTreeMap<String, String>,
) -> Result<String, DriverError> {
    let answer = acm
        .request_certificate()
        .domain_name(domain)
        .set_subject_alternative_names((!alternative_names.is_empty()).then(|| alternative_names.to_vec()))
        .validation_method(ValidationMethod::Dns)
        .idempotency_token(token)
        .set_tags(Some(tag_list(tags)?))
        .send()
        .await
        .map_err(|error| crate::aws_error("RequestCertificate", error))?;
    answer
        .certificate_arn()
        .map(str::to_string)
        .ok_or_else(|| DriverError::invalid("RequestCertificate answered no ARN"))
}

/// The certificate, `None` when it does not exist.
pub(super) async fn describe(acm: &Client, arn: &str) -> Result<Option<Snapshot>, DriverError> {
    match acm.describe_certificate().certificate_arn(arn).send().await {
        Ok(answer) => Ok(answer.certificate().map(Snapshot::from_aws)),
        Err(error) => {
            let error = crate::aws_error("DescribeCertificate", error);
            if error.code_is(NOT_FOUND) {
                Ok(None)
            } else {
                Err(error)
            }
        }
    }
}

pub(super) async fn tags(acm: &Client, arn: &str) -> Result<Option<BTreeMap<String, String>>, DriverError> {
    match acm.list_tags_for_certificate().certificate_arn(arn).send().await {
        Ok(answer) => Ok(Some(
            answer
                .tags()
                .iter()
                .map(|tag| (tag.key().to_string(), tag.value().unwrap_or_default().to_string()))
                .collect(),
        )),
        Err(error) => {
            let error = crate::aws_error("ListTagsForCertificate", error);
            if error.code_is(NOT_FOUND) {
                Ok(None)
            } else {
                Err(error)
            }
        }
    }
}

/// Puts the tags the request wants on the certificate and takes off the user tags it no longer wants.
pub(super) async fn retag(
    acm: &Client,
    arn: &str,
    wanted: &BTreeMap<String, String>,
    removed: &[String],
) -> Result<(), DriverError> {
    if !removed.is_empty() {
        let tags: Result<Vec<Tag>, DriverError> = removed
            .iter()
            .map(|key| Tag::builder().key(key).build().map_err(|error| DriverError::invalid(error.to_string())))
            .collect();
        acm.remove_tags_from_certificate()
            .certificate_arn(arn)
            .set_tags(Some(tags?))
            .send()
            .await
            .map_err(|error| crate::aws_error("RemoveTagsFromCertificate", error))?;
    }
    acm.add_tags_to_certificate()
        .certificate_arn(arn)
        .set_tags(Some(tag_list(wanted)?))
        .send()
        .await
        .map_err(|error| crate::aws_error("AddTagsToCertificate", error))?;
    Ok(())
}

/// Every certificate of the account in the client's region, of any key type (ACM lists only
/// RSA 2048 ones unless told otherwise).
pub(super) async fn list_all(acm: &Client) -> Result<Vec<CertificateSummary>, DriverError> {
    let key_types = vec![
        KeyAlgorithm::Rsa1024,
        KeyAlgorithm::Rsa2048,
        KeyAlgorithm::Rsa3072,
        KeyAlgorithm::Rsa4096,
        KeyAlgorithm::EcPrime256v1,
        KeyAlgorithm::EcSecp384r1,
        KeyAlgorithm::EcSecp521r1,
    ];
    let mut pages = acm
        .list_certificates()
        .includes(Filters::builder().set_key_types(Some(key_types)).build())
        .into_paginator()
        .send();
    let mut found = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|error| crate::aws_error("ListCertificates", error))?;
        found.extend(page.certificate_summary_list().iter().cloned());
    }
    Ok(found)
}

/// Deletes the certificate. ACM refuses while a listener or distribution still uses it
/// (`ResourceInUseException`); that usually ends within minutes of the dependent's own change, so
/// the delete is retried for a bounded while. Gone already counts as deleted.
pub(super) async fn delete(
    acm: &Client,
    arn: &str,
    address: &Address,
    progress: &dyn ProgressSink,
    retry: Retry,
) -> Result<(), DriverError> {
    let attempt = || async {
        match acm.delete_certificate().certificate_arn(arn).send().await {
            Ok(_) => Ok(()),
            Err(error) => {
                let error = crate::aws_error("DeleteCertificate", error);
                if error.code_is(NOT_FOUND) {
                    Ok(())
                } else {
                    Err(error)
                }
            }
        }
    };
    retry.run_reporting(address, progress, attempt).await
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    use aws_sdk_acm::operation::delete_certificate::{DeleteCertificateError, DeleteCertificateOutput};
    use aws_sdk_acm::types::error::ResourceInUseException;
    use aws_sdk_acm::types::{CertificateStatus, DomainValidation, RecordType, ResourceRecord};
    use aws_smithy_mocks::{mock, Rule};

    fn mock_acm(rules: &[&Rule]) -> Client {
        mock_client!(aws_sdk_acm, rules.iter().copied())
    }

    const IN_USE: &str = "ResourceInUseException";

    struct Quiet;

    fn fast(total: Duration) -> Retry {
        let bound = crate::behaviours::Bound { total, ..crate::behaviours::Bound::TEST };
        crate::behaviours::acm::DELETE.within(bound)
    }

    impl ProgressSink for Quiet {
        fn waiting(&self, _address: &Address, _message: &str) {}
    }

    fn in_use() -> DeleteCertificateError {
        let message = "Certificate is in use by arn:aws:cloudfront::1:distribution/E1";
        let meta = aws_smithy_types::error::ErrorMetadata::builder().code(IN_USE).message(message).build();
        DeleteCertificateError::ResourceInUseException(
            ResourceInUseException::builder().message(message).meta(meta).build(),
        )
    }

    /// The emulator never refuses to delete a certificate in use, which is why this is tested with
    /// the SDK's mocks: ACM refuses twice while a distribution lets go, then deletes.
    #[tokio::test]
    async fn a_certificate_still_in_use_is_deleted_once_released() {
        let refused = mock!(Client::delete_certificate).sequence().error(in_use).times(2).build();
        let deleted = mock!(Client::delete_certificate).then_output(|| DeleteCertificateOutput::builder().build());
        let acm = mock_acm(&[&refused, &deleted]);
        let address = Address::new("certificate", "site");
        delete(&acm, "arn:aws:acm:us-east-1:1:certificate/a", &address, &Quiet, fast(Duration::from_secs(30)))
            .await
            .expect("deleted after the retries");
        assert_eq!((refused.num_calls(), deleted.num_calls()), (2, 1));
    }

    /// The emulator never refuses to delete a certificate in use, which is why this is tested with
    /// the SDK's mocks: a certificate that stays in use fails the delete, saying what holds it.
    #[tokio::test]
    async fn a_certificate_that_stays_in_use_fails_with_a_hint() {
        let refused = mock!(Client::delete_certificate).sequence().error(in_use).repeatedly().build();
        let acm = mock_acm(&[&refused]);
        let address = Address::new("certificate", "site");
        let error =
            delete(&acm, "arn:aws:acm:us-east-1:1:certificate/a", &address, &Quiet, fast(Duration::from_millis(5)))
                .await
                .expect_err("still in use");
        assert!(error.code_is(IN_USE));
        assert!(error.message.contains("in use by arn:aws:cloudfront"), "{}", error.message);
        assert!(error.hint.expect("a hint").contains("InUseBy"));
    }

    #[test]
    fn snapshots_list_the_records_acm_has_chosen() {
        let record = ResourceRecord::builder()
            .name("_x.ws.example.com.")
            .r#type(RecordType::Cname)
            .value("_y.acm-validations.aws.")
            .build()
            .unwrap();
        let detail = CertificateDetail::builder()
            .certificate_arn("arn:aws:acm:us-east-1:1:certificate/a")
            .domain_name("ws.example.com")
            .subject_alternative_names("ws.example.com")
            .subject_alternative_names("www.example.com")
            .status(CertificateStatus::PendingValidation)
            .domain_validation_options(
                DomainValidation::builder().domain_name("ws.example.com").resource_record(record).build().unwrap(),
            )
            .domain_validation_options(DomainValidation::builder().domain_name("www.example.com").build().unwrap())
            .build();
        let snapshot = Snapshot::from_aws(&detail);
        assert_eq!(snapshot.status, "PENDING_VALIDATION");
        assert_eq!(
            snapshot.validation_records,
            vec![ValidationRecord {
                domain: "ws.example.com".into(),
                name: "_x.ws.example.com.".into(),
                record_type: "CNAME".into(),
                value: "_y.acm-validations.aws.".into(),
            }]
        );
        assert_eq!(snapshot.awaiting_records, 1);
    }

    #[test]
    fn regions_come_from_the_arn() {
        assert_eq!(region_of("arn:aws:acm:us-east-1:123456789012:certificate/abc"), Some("us-east-1"));
        assert_eq!(region_of("arn:aws:s3:::bucket"), None);
        assert_eq!(region_of("not an arn"), None);
    }
}
