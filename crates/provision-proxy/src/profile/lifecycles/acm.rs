//! ACM certificates: `PENDING_VALIDATION` until the window after their DNS validation record was
//! written to Route 53 (through the proxy), then `ISSUED` — whatever moto's own timer
//! (`MOTO_ACM_VALIDATION_WAIT`) says. A certificate issued moments ago is not yet visible to the
//! load balancers (`CertificateNotFound`) or to CloudFront (`InvalidViewerCertificate`). Right after
//! the request, ACM has not chosen the validation records yet: `DescribeCertificate` shows the
//! domains without their `ResourceRecord` for a window.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{json, Value};

use super::super::call::Call;
use super::super::http::Response;
use super::super::shapes::error;
use super::super::xml::Element;
use super::super::{State, Turn};

const PENDING: &str = "acm.pending-validation";
const RECORDS: &str = "acm.validation-records-pending";
const ELB_NOT_FOUND: &str = "elbv2.certificate-not-found";
const CLOUDFRONT_NOT_VISIBLE: &str = "cloudfront.certificate-not-visible";

#[derive(Debug, Default)]
pub(crate) struct Certificates {
    certificates: HashMap<String, Certificate>,
    /// Validation record names written to Route 53 (lowercase, no trailing dot), and when.
    records: HashMap<String, Duration>,
}

#[derive(Debug, Default)]
struct Certificate {
    requested: Duration,
    records: Vec<String>,
    /// When its (last missing) validation record was written.
    validated: Option<Duration>,
}

fn normal(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

impl Certificates {
    /// When a certificate the proxy saw requested is (or will be) issued: `Some(None)` while it
    /// waits for its validation records; `None` for certificates the proxy never saw requested.
    fn issued_at(&self, turn: &Turn<'_>, arn: &str) -> Option<Option<Duration>> {
        let certificate = self.certificates.get(arn)?;
        if !turn.on(PENDING) {
            return Some(Some(certificate.requested));
        }
        Some(certificate.validated.map(|at| at + turn.window(PENDING, "window")))
    }

    fn issued(&self, turn: &Turn<'_>, arn: &str) -> Option<bool> {
        self.issued_at(turn, arn).map(|at| at.is_some_and(|at| turn.now >= at))
    }
}

pub(crate) fn before(turn: &mut Turn<'_>, state: &mut State, call: &Call) -> Option<Response> {
    let certificates = &state.lifecycles.acm;
    let (id, named) = match (call.service.as_str(), call.operation.as_str()) {
        ("elasticloadbalancing", "CreateListener" | "ModifyListener" | "AddListenerCertificates") => {
            (ELB_NOT_FOUND, call.values_named("CertificateArn"))
        }
        ("cloudfront", "CreateDistribution" | "UpdateDistribution") => {
            let config = Element::parse(&call.body_text()).unwrap_or_default();
            (CLOUDFRONT_NOT_VISIBLE, config.texts_of("ACMCertificateArn"))
        }
        _ => return None,
    };
    if !turn.on(id) {
        return None;
    }
    let window = turn.window(id, "window");
    let unseen = named.into_iter().find(|arn| match certificates.issued_at(turn, arn) {
        Some(Some(issued)) => turn.now < issued + window,
        Some(None) => true,
        None => false,
    })?;
    turn.meet(id);
    Some(if id == ELB_NOT_FOUND {
        error(call, 400, "CertificateNotFound", &format!("Certificate '{unseen}' not found"))
    } else {
        let message = "The specified SSL certificate doesn't exist, isn't in us-east-1 region, isn't valid, or doesn't include a valid certificate chain.";
        error(call, 400, "InvalidViewerCertificate", message)
    })
}

/// Sets a certificate object's status (and its validation options') as ACM shows it now.
fn restate(turn: &mut Turn<'_>, certificates: &Certificates, described: &mut Value) {
    let Some(arn) = described["CertificateArn"].as_str() else { return };
    let Some(issued) = certificates.issued(turn, arn) else { return };
    if !turn.on(PENDING) {
        return;
    }
    let (status, validation) =
        if issued { ("ISSUED", "SUCCESS") } else { ("PENDING_VALIDATION", "PENDING_VALIDATION") };
    described["Status"] = json!(status);
    if let Some(options) = described["DomainValidationOptions"].as_array_mut() {
        for option in options {
            option["ValidationStatus"] = json!(validation);
        }
    }
    if !issued {
        if let Some(object) = described.as_object_mut() {
            object.remove("IssuedAt");
        }
        turn.meet(PENDING);
    }
}

pub(crate) fn after(turn: &mut Turn<'_>, state: &mut State, call: &Call, response: &mut Response) {
    if !response.ok() {
        return;
    }
    let certificates = &mut state.lifecycles.acm;
    match (call.service.as_str(), call.operation.as_str()) {
        ("acm", "RequestCertificate") => {
            let dns = call.json_str("ValidationMethod").is_none_or(|method| method == "DNS");
            if let (Some(arn), true) =
                (response.json().and_then(|a| a["CertificateArn"].as_str().map(str::to_string)), dns)
            {
                certificates.certificates.insert(arn, Certificate { requested: turn.now, ..Certificate::default() });
            }
        }
        ("acm", "DescribeCertificate") => {
            let Some(mut answer) = response.json() else { return };
            let described = &mut answer["Certificate"];
            let arn = described["CertificateArn"].as_str().unwrap_or_default().to_string();
            if let Some(certificate) = certificates.certificates.get_mut(&arn) {
                let names: Vec<String> = described["DomainValidationOptions"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|option| option.pointer("/ResourceRecord/Name")?.as_str().map(normal))
                    .collect();
                if !names.is_empty() {
                    certificate.records = names;
                }
                validate(certificate, &certificates.records);
                if turn.on(RECORDS) && turn.now < certificate.requested + turn.window(RECORDS, "window") {
                    for option in described["DomainValidationOptions"].as_array_mut().into_iter().flatten() {
                        if let Some(option) = option.as_object_mut() {
                            option.remove("ResourceRecord");
                        }
                    }
                    turn.meet(RECORDS);
                }
            }
            restate(turn, certificates, described);
            response.set_json(&answer);
        }
        ("acm", "ListCertificates") => {
            let Some(mut answer) = response.json() else { return };
            if let Some(list) = answer["CertificateSummaryList"].as_array_mut() {
                for summary in list {
                    restate(turn, certificates, summary);
                }
            }
            response.set_json(&answer);
        }
        ("route53", "ChangeResourceRecordSets") => {
            let Some(batch) = Element::parse(&call.body_text()) else { return };
            let (mut written, mut deleted) = (Vec::new(), Vec::new());
            batch.visit(&mut |element| {
                if element.name != "Change" {
                    return;
                }
                let Some(name) = element.find(&["ResourceRecordSet", "Name"]).map(|name| normal(&name.text())) else {
                    return;
                };
                match element.child_text("Action").as_deref() {
                    Some("DELETE") => deleted.push(name),
                    _ => written.push(name),
                }
            });
            // A record deleted no longer validates anything: a certificate requested later under
            // the same name (a destroy, then an apply) waits for it to be written again.
            for name in deleted {
                certificates.records.remove(&name);
            }
            for name in written {
                certificates.records.insert(name, turn.now);
            }
            for certificate in certificates.certificates.values_mut() {
                validate(certificate, &certificates.records);
            }
        }
        _ => {}
    }
}

/// A certificate is validated once all of its validation records were written.
fn validate(certificate: &mut Certificate, records: &HashMap<String, Duration>) {
    if certificate.validated.is_some() || certificate.records.is_empty() {
        return;
    }
    let written: Option<Vec<Duration>> = certificate.records.iter().map(|name| records.get(name).copied()).collect();
    certificate.validated = written.and_then(|times| times.into_iter().max());
}
