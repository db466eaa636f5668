//! What the Route 53 users (`dns_zone`, `dns_record`, and a `certificate`'s validation records)
//! share: one spelling of domain names, record sets in provision's shape, and changes that wait
//! until Route 53 has them everywhere.
//!
//! Route 53 answers names lowercased (as it stores them), with a trailing dot and with `*` written
//! `\052`; a stack file writes `ws.example.com`. Everything is compared in the stack file's
//! spelling, so a name never shows as drift because of how Route 53 prints it.
//!
//! A change is `PENDING` until every Route 53 server has it, usually under a minute; the callers
//! wait for `INSYNC`, so whatever depends on the record (a certificate's validation, a client
//! looking the name up) sees it.

use aws_sdk_route53::types::{
    AliasTarget, Change, ChangeAction, ChangeBatch, ChangeStatus, ResourceRecord, ResourceRecordSet, RrType,
};
use aws_sdk_route53::Client;

use crate::behaviours::{self, Look};
use crate::drivers::{DriverError, ProgressSink};
use provision_core::address::Address;

/// The hosted zone id of every CloudFront distribution, for alias records that point at one.
pub(crate) const CLOUDFRONT_ZONE_ID: &str = "Z2FDTNDATAQYW2";

/// A domain name as provision writes and compares it: lowercase, no trailing dot, `*` for `\052`.
pub(crate) fn normalise_name(name: &str) -> String {
    name.trim().trim_end_matches('.').replace("\\052", "*").to_ascii_lowercase()
}

/// `Z123` from `/hostedzone/Z123` (Route 53 answers zone ids with the prefix, takes them without).
pub(crate) fn bare_zone_id(id: &str) -> &str {
    id.trim().trim_start_matches("/hostedzone/")
}

/// Whether an error says the hosted zone does not exist.
pub(crate) fn zone_gone(error: &DriverError) -> bool {
    error.code_is("NoSuchHostedZone")
}

/// Route 53's rules for a domain name, so `validate` catches a bad one before AWS does.
pub(crate) fn check_domain_name(name: &str) -> Result<(), String> {
    let normalised = normalise_name(name);
    let labels: Vec<&str> = normalised.split('.').collect();
    let label_ok = |(index, label): (usize, &&str)| {
        (*label == "*" && index == 0)
            || (!label.is_empty()
                && label.len() <= 63
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
    };
    if normalised.is_empty() || normalised.len() > 253 {
        Err(format!("`{name}` is not a domain name: it must be 1 to 253 characters long"))
    } else if !labels.iter().enumerate().all(label_ok) {
        Err(format!(
            "`{name}` is not a domain name: each dot-separated part must be 1 to 63 letters, digits, `-` or `_` \
             (a leading `*.` is allowed)"
        ))
    } else {
        Ok(())
    }
}

/// An alias: a record that answers with the addresses of an AWS resource (a load balancer, a
/// CloudFront distribution) and follows them when they change.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Alias {
    pub name: String,
    pub zone_id: String,
    pub evaluate_target_health: bool,
}

/// One record set in provision's shape: either an alias or values with a TTL.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct RecordSet {
    pub name: String,
    pub record_type: String,
    pub ttl: Option<i64>,
    pub values: Vec<String>,
    pub alias: Option<Alias>,
}

impl RecordSet {
    pub(crate) fn to_aws(&self) -> Result<ResourceRecordSet, DriverError> {
        let mut builder = ResourceRecordSet::builder().name(&self.name).r#type(RrType::from(self.record_type.as_str()));
        match &self.alias {
            Some(alias) => {
                let target = AliasTarget::builder()
                    .dns_name(&alias.name)
                    .hosted_zone_id(&alias.zone_id)
                    .evaluate_target_health(alias.evaluate_target_health)
                    .build()
                    .map_err(build_error)?;
                builder = builder.alias_target(target);
            }
            None => {
                for value in &self.values {
                    builder =
                        builder.resource_records(ResourceRecord::builder().value(value).build().map_err(build_error)?);
                }
                builder = builder.ttl(self.ttl.unwrap_or(300));
            }
        }
        builder.build().map_err(build_error)
    }

    pub(crate) fn from_aws(set: &ResourceRecordSet) -> RecordSet {
        let alias = set.alias_target().map(|target| Alias {
            name: normalise_name(target.dns_name()),
            zone_id: target.hosted_zone_id().to_string(),
            evaluate_target_health: target.evaluate_target_health(),
        });
        let mut values: Vec<String> = set.resource_records().iter().map(|record| record.value().to_string()).collect();
        values.sort();
        RecordSet {
            name: normalise_name(set.name()),
            record_type: set.r#type().as_str().to_string(),
            ttl: if alias.is_some() { None } else { set.ttl() },
            values,
            alias,
        }
    }
}

fn build_error(error: aws_smithy_types::error::operation::BuildError) -> DriverError {
    DriverError::invalid(format!("cannot build the Route 53 record: {error}"))
}

/// The record set of `name` and `record_type` in `zone` (the plain one: no routing-policy set
/// identifier), exactly as Route 53 answers it. `None` when there is none, or no such zone.
pub(crate) async fn find(
    route53: &Client,
    zone: &str,
    name: &str,
    record_type: &str,
) -> Result<Option<ResourceRecordSet>, DriverError> {
    let wanted = normalise_name(name);
    let answer = route53
        .list_resource_record_sets()
        .hosted_zone_id(bare_zone_id(zone))
        .start_record_name(&wanted)
        .start_record_type(RrType::from(record_type))
        .max_items(10)
        .send()
        .await
        .map_err(|error| crate::aws_error("ListResourceRecordSets", error));
    let answer = match answer {
        Ok(answer) => answer,
        Err(error) if zone_gone(&error) => return Ok(None),
        Err(error) => return Err(error),
    };
    Ok(answer
        .resource_record_sets()
        .iter()
        .find(|set| {
            normalise_name(set.name()) == wanted
                && set.r#type().as_str() == record_type
                && set.set_identifier().is_none()
        })
        .cloned())
}

/// Sends one change batch and waits until Route 53 has it everywhere.
pub(crate) async fn change(
    route53: &Client,
    zone: &str,
    changes: Vec<(ChangeAction, ResourceRecordSet)>,
    comment: &str,
    address: &Address,
    progress: &dyn ProgressSink,
) -> Result<(), DriverError> {
    if changes.is_empty() {
        return Ok(());
    }
    let mut batch = ChangeBatch::builder().comment(comment);
    for (action, set) in changes {
        batch = batch.changes(Change::builder().action(action).resource_record_set(set).build().map_err(build_error)?);
    }
    let answer = route53
        .change_resource_record_sets()
        .hosted_zone_id(bare_zone_id(zone))
        .change_batch(batch.build().map_err(build_error)?)
        .send()
        .await
        .map_err(|error| crate::aws_error("ChangeResourceRecordSets", error))?;
    let Some(info) = answer.change_info() else { return Ok(()) };
    if *info.status() == ChangeStatus::Insync {
        return Ok(());
    }
    let id = info.id().to_string();
    let subject = format!("the Route 53 change {id}");
    behaviours::route53::INSYNC
        .until(address, progress, &subject, || async {
            let status = route53
                .get_change()
                .id(&id)
                .send()
                .await
                .map_err(|error| crate::aws_error("GetChange", error))?
                .change_info()
                .map(|info| info.status().clone());
            Ok(match status {
                Some(ChangeStatus::Insync) | None => Look::Done(()),
                Some(status) => Look::Pending(format!("`{}`", status.as_str())),
            })
        })
        .await
}

/// Deletes record sets exactly as Route 53 answered them (a DELETE must name the current values).
/// Gone already counts as deleted.
pub(crate) async fn delete_exact(
    route53: &Client,
    zone: &str,
    sets: Vec<ResourceRecordSet>,
    address: &Address,
    progress: &dyn ProgressSink,
) -> Result<(), DriverError> {
    let changes = sets.into_iter().map(|set| (ChangeAction::Delete, set)).collect();
    match change(route53, zone, changes, &format!("provision: delete {address}"), address, progress).await {
        Err(error) if zone_gone(&error) => Ok(()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_compare_in_the_stack_file_spelling() {
        assert_eq!(normalise_name("WS.Example.com."), "ws.example.com");
        assert_eq!(normalise_name("\\052.example.com."), "*.example.com");
        assert_eq!(bare_zone_id("/hostedzone/Z123"), "Z123");
        assert_eq!(bare_zone_id("Z123"), "Z123");
    }

    #[test]
    fn domain_names_follow_the_dns_rules() {
        assert!(check_domain_name("ws.example.com").is_ok());
        assert!(check_domain_name("*.example.com").is_ok());
        assert!(check_domain_name("_abc.example.com.").is_ok());
        assert!(check_domain_name("a..b").unwrap_err().contains("dot-separated"));
        assert!(check_domain_name("a.*.b").unwrap_err().contains("dot-separated"));
        assert!(check_domain_name("ws example.com").unwrap_err().contains("dot-separated"));
        assert!(check_domain_name("").unwrap_err().contains("1 to 253"));
        assert!(check_domain_name(&format!("{}.com", "a".repeat(64))).is_err());
    }

    #[test]
    fn record_sets_round_trip_through_the_sdk_shape() {
        let plain = RecordSet {
            name: "api.example.com".into(),
            record_type: "A".into(),
            ttl: Some(60),
            values: vec!["192.0.2.1".into(), "192.0.2.2".into()],
            alias: None,
        };
        assert_eq!(RecordSet::from_aws(&plain.to_aws().unwrap()), plain);
        let alias = RecordSet {
            name: "ws.example.com".into(),
            record_type: "A".into(),
            ttl: None,
            values: vec![],
            alias: Some(Alias {
                name: "shop-web-1.us-east-1.elb.amazonaws.com".into(),
                zone_id: "Z35SXDOTRQ7X7K".into(),
                evaluate_target_health: false,
            }),
        };
        let aws = alias.to_aws().unwrap();
        assert!(aws.ttl().is_none(), "an alias has no TTL");
        assert_eq!(RecordSet::from_aws(&aws), alias);
    }

    #[test]
    fn route53_spelling_reads_back_as_the_stack_file_wrote_it() {
        let answered = ResourceRecordSet::builder()
            .name("ws.example.com.")
            .r#type(RrType::A)
            .alias_target(
                AliasTarget::builder()
                    .dns_name("Shop-Web-1.us-east-1.elb.amazonaws.com.")
                    .hosted_zone_id("Z35SXDOTRQ7X7K")
                    .evaluate_target_health(false)
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap();
        let read = RecordSet::from_aws(&answered);
        assert_eq!(read.name, "ws.example.com");
        assert_eq!(read.alias.unwrap().name, "shop-web-1.us-east-1.elb.amazonaws.com");
    }
}
