//! The DNS validation records: the CNAMEs ACM chooses to prove that the stack controls each name
//! on the certificate, written into the stack's zone.
//!
//! They are parts of the certificate, named deterministically by ACM (the same name and value for
//! the same domain in the same account, whatever the certificate), so nothing needs recording
//! before they are written: whoever has the certificate's ARN can ask ACM for them again, and an
//! `UPSERT` of a record that a killed run already wrote changes nothing. That sameness is also why
//! a delete leaves alone the records another certificate of the account still needs (the new copy
//! in a create-before-destroy replacement, another stack's certificate for the same name):
//! deleting them would quietly break that certificate's renewal months later.

use std::collections::BTreeSet;

use aws_sdk_acm::types::CertificateSummary;
use aws_sdk_acm::Client as AcmClient;
use aws_sdk_route53::types::ChangeAction;
use aws_sdk_route53::Client as Route53Client;

use super::acm::{self, Snapshot, ValidationRecord};
use crate::drivers::route53::{self, normalise_name, RecordSet};
use crate::drivers::{DriverError, ProgressSink};
use provision_core::address::Address;

/// How long resolvers may cache a validation record.
const TTL: i64 = 300;

/// The name whose control a validation record proves: `*.example.com` is proven by the record of
/// `example.com`.
fn validated_name(domain: &str) -> String {
    let name = normalise_name(domain);
    name.strip_prefix("*.").map(str::to_string).unwrap_or(name)
}

/// One record set per distinct record (a name and its wildcard share one).
pub(super) fn record_sets(records: &[ValidationRecord]) -> Vec<RecordSet> {
    let mut seen = BTreeSet::new();
    records
        .iter()
        .filter(|record| seen.insert((normalise_name(&record.name), record.record_type.clone())))
        .map(|record| RecordSet {
            name: normalise_name(&record.name),
            record_type: record.record_type.clone(),
            ttl: Some(TTL),
            values: vec![record.value.clone()],
            alias: None,
        })
        .collect()
}

/// Whether every validation record is in `zone` with its value. ACM renews a DNS-validated
/// certificate only while they stay there, so a missing one is drift worth an apply (and what a
/// create killed between the request and the records leaves behind).
pub(super) async fn all_in_zone(route53: &Route53Client, zone: &str, snapshot: &Snapshot) -> Result<bool, DriverError> {
    let wanted = record_sets(&snapshot.validation_records);
    let found = futures::future::try_join_all(
        wanted.iter().map(|set| route53::find(route53, zone, &set.name, &set.record_type)),
    )
    .await?;
    Ok(wanted
        .iter()
        .zip(found)
        .all(|(set, found)| found.is_some_and(|found| RecordSet::from_aws(&found).values == set.values)))
}

/// Writes the records into `zone` and waits until Route 53 serves them.
pub(super) async fn write(
    route53: &Route53Client,
    zone: &str,
    snapshot: &Snapshot,
    address: &Address,
    progress: &dyn ProgressSink,
) -> Result<(), DriverError> {
    let changes = record_sets(&snapshot.validation_records)
        .iter()
        .map(|set| Ok((ChangeAction::Upsert, set.to_aws()?)))
        .collect::<Result<Vec<_>, DriverError>>()?;
    let comment = format!("provision: DNS validation of {}", snapshot.domain);
    route53::change(route53, zone, changes, &comment, address, progress).await.map_err(|error| {
        let hint = format!(
            "the validation records go into the zone `{zone}`: it must be the hosted zone of `{}`",
            snapshot.domain
        );
        error.with_hint(hint)
    })
}

/// The names (as validated, see [`validated_name`]) that certificates other than `own_arn` carry.
pub(super) async fn names_of_other_certificates(
    acm: &AcmClient,
    own_arn: &str,
) -> Result<BTreeSet<String>, DriverError> {
    let mut names = BTreeSet::new();
    for summary in acm::list_all(acm).await? {
        let arn = summary.certificate_arn().unwrap_or_default();
        if arn == own_arn || arn.is_empty() {
            continue;
        }
        match listed_names(&summary) {
            Some(listed) => names.extend(listed),
            None => {
                // The summary does not list every name (a long list is cut): ask for all of them.
                if let Some(snapshot) = acm::describe(acm, arn).await? {
                    names.extend(snapshot.names.iter().chain([&snapshot.domain]).map(|name| validated_name(name)));
                }
            }
        }
    }
    Ok(names)
}

/// Every name a listing summary carries, or `None` when it may not carry them all: ACM cuts long
/// lists (and says so), and the emulator lists none but the domain (docs/emulator.md).
fn listed_names(summary: &CertificateSummary) -> Option<Vec<String>> {
    let alternatives = summary.subject_alternative_name_summaries();
    if alternatives.is_empty() || summary.has_additional_subject_alternative_names() == Some(true) {
        return None;
    }
    let domain = summary.domain_name().into_iter();
    Some(domain.chain(alternatives.iter().map(String::as_str)).map(validated_name).collect())
}

/// Deletes the certificate's validation records from `zone`, except those that prove a name
/// another certificate in `shared` still carries. A record already gone counts as deleted.
pub(super) async fn remove(
    route53: &Route53Client,
    zone: &str,
    records: &[ValidationRecord],
    shared: &BTreeSet<String>,
    address: &Address,
    progress: &dyn ProgressSink,
) -> Result<(), DriverError> {
    let needed_elsewhere: BTreeSet<String> = records
        .iter()
        .filter(|record| shared.contains(&validated_name(&record.domain)))
        .map(|record| normalise_name(&record.name))
        .collect();
    let mut current = Vec::new();
    for set in record_sets(records) {
        if needed_elsewhere.contains(&set.name) {
            continue;
        }
        if let Some(found) = route53::find(route53, zone, &set.name, &set.record_type).await? {
            current.push(found);
        }
    }
    route53::delete_exact(route53, zone, current, address, progress).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(domain: &str, name: &str) -> ValidationRecord {
        ValidationRecord {
            domain: domain.into(),
            name: name.into(),
            record_type: "CNAME".into(),
            value: "_v.acm-validations.aws.".into(),
        }
    }

    #[test]
    fn a_name_and_its_wildcard_share_one_record() {
        let records = [
            record("example.com", "_a.example.com."),
            record("*.example.com", "_a.example.com."),
            record("ws.example.com", "_b.ws.example.com."),
        ];
        let sets = record_sets(&records);
        let names: Vec<&str> = sets.iter().map(|set| set.name.as_str()).collect();
        assert_eq!(names, ["_a.example.com", "_b.ws.example.com"]);
        assert!(sets.iter().all(|set| set.ttl == Some(300) && set.values == ["_v.acm-validations.aws."]));
    }

    #[test]
    fn wildcards_are_validated_by_their_base_name() {
        assert_eq!(validated_name("*.Example.com"), "example.com");
        assert_eq!(validated_name("ws.example.com."), "ws.example.com");
    }

    #[test]
    fn summaries_without_alternative_names_are_described() {
        let cut = CertificateSummary::builder()
            .domain_name("example.com")
            .subject_alternative_name_summaries("example.com")
            .has_additional_subject_alternative_names(true)
            .build();
        assert_eq!(listed_names(&cut), None);
        assert_eq!(listed_names(&CertificateSummary::builder().domain_name("example.com").build()), None);
        let full = CertificateSummary::builder()
            .domain_name("example.com")
            .subject_alternative_name_summaries("example.com")
            .subject_alternative_name_summaries("*.example.com")
            .build();
        assert_eq!(listed_names(&full), Some(vec!["example.com".into(), "example.com".into(), "example.com".into()]));
    }
}
