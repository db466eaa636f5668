//! Which requests the proxy answers with a fault, and with what: a [`Rule`] is a [`Matcher`] and a
//! [`Fault`], for the first so many matching requests or a seeded share of them.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use crate::RequestHead;

/// What a rule does to a request it matches.
#[derive(Clone, Debug, PartialEq)]
pub enum Fault {
    /// Answer with this status and body without passing the request on.
    Respond { status: u16, body: String, content_type: &'static str },
    /// Pass the request on, let the emulator handle it, then reset the connection instead of
    /// answering: the caller never learns that it succeeded.
    ResetAfter,
    /// Pass the request on after this pause.
    Delay(Duration),
}

impl Fault {
    /// An S3-style XML error (`<Error><Code>…`).
    pub fn s3_error(status: u16, code: &str) -> Fault {
        Fault::Respond {
            status,
            body: format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code><Message>injected by provision-proxy</Message><RequestId>proxy</RequestId></Error>"
            ),
            content_type: "application/xml",
        }
    }

    /// A query-protocol error (EC2, IAM, ELB, RDS …) with this code, e.g. `Throttling`.
    pub fn query_error(status: u16, code: &str) -> Fault {
        Fault::Respond {
            status,
            body: format!(
                "<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>injected by provision-proxy</Message></Error><RequestId>proxy</RequestId></ErrorResponse>"
            ),
            content_type: "text/xml",
        }
    }

    /// A JSON-protocol error (ECS, ECR, Logs …) with this `__type`, e.g. `ThrottlingException`.
    pub fn json_error(status: u16, code: &str) -> Fault {
        Fault::Respond {
            status,
            body: format!("{{\"__type\":\"{code}\",\"message\":\"injected by provision-proxy\"}}"),
            content_type: "application/x-amz-json-1.1",
        }
    }
}

/// Which requests a rule applies to; every given part must match.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Matcher {
    /// `GET`, `PUT` …
    pub method: Option<String>,
    /// A substring of the request target (path and query).
    pub path_contains: Option<String>,
    /// A header that must be present (case-insensitive name), e.g. `if-match`.
    pub header: Option<String>,
    /// A substring of the `X-Amz-Target` header or the body's `Action=` (the operation).
    pub operation: Option<String>,
    /// The request's protocol, so a fault can answer in that protocol's error shape.
    pub protocol: Option<Protocol>,
}

/// How an AWS request is framed, told from the request alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// JSON with an `X-Amz-Target` header (ECS, ECR, Logs, Secrets Manager …): [`Fault::json_error`].
    Json,
    /// A form with `Action=` (EC2, IAM, ELB, RDS, STS …): [`Fault::query_error`].
    Query,
    /// Neither: REST (S3, and CloudFront's REST-XML): [`Fault::s3_error`] for S3.
    Rest,
}

impl Matcher {
    pub fn any() -> Matcher {
        Matcher::default()
    }

    pub fn method(mut self, method: &str) -> Matcher {
        self.method = Some(method.to_string());
        self
    }

    pub fn path(mut self, substring: &str) -> Matcher {
        self.path_contains = Some(substring.to_string());
        self
    }

    pub fn header(mut self, name: &str) -> Matcher {
        self.header = Some(name.to_ascii_lowercase());
        self
    }

    pub fn operation(mut self, operation: &str) -> Matcher {
        self.operation = Some(operation.to_string());
        self
    }

    pub fn protocol(mut self, protocol: Protocol) -> Matcher {
        self.protocol = Some(protocol);
        self
    }

    fn matches(&self, request: &RequestHead) -> bool {
        self.method.as_ref().is_none_or(|m| m.eq_ignore_ascii_case(&request.method))
            && self.path_contains.as_ref().is_none_or(|p| request.target.contains(p.as_str()))
            && self.header.as_ref().is_none_or(|h| request.headers.iter().any(|(name, _)| name == h))
            && self.operation.as_ref().is_none_or(|o| request.operation.contains(o.as_str()))
            && self.protocol.is_none_or(|p| p == protocol_of(request))
    }
}

fn protocol_of(request: &RequestHead) -> Protocol {
    if request.headers.iter().any(|(name, _)| name == "x-amz-target") {
        Protocol::Json
    } else if !request.operation.is_empty() {
        Protocol::Query
    } else {
        Protocol::Rest
    }
}

/// A fault for requests that match, for the first `times` of them (or all), or for a share of them.
#[derive(Clone, Debug)]
pub struct Rule {
    pub matcher: Matcher,
    pub fault: Fault,
    /// How many matching requests it still applies to; `None`: every one.
    pub times: Option<u64>,
    /// Of the matching requests, the share it applies to (0.0–1.0), chosen by a seeded sequence.
    pub share: Option<f64>,
}

impl Rule {
    pub fn new(matcher: Matcher, fault: Fault) -> Rule {
        Rule { matcher, fault, times: None, share: None }
    }

    pub fn times(mut self, times: u64) -> Rule {
        self.times = Some(times);
        self
    }

    pub fn share(mut self, share: f64) -> Rule {
        self.share = Some(share);
        self
    }
}

/// The fault for this request, if a rule takes it (using up one of its `times`).
pub(crate) fn choose(rules: &Mutex<Vec<Rule>>, draws: &AtomicU64, request: &RequestHead) -> Option<Fault> {
    let mut rules = rules.lock().unwrap_or_else(|p| p.into_inner());
    for rule in rules.iter_mut() {
        if !rule.matcher.matches(request) || rule.times == Some(0) {
            continue;
        }
        if let Some(share) = rule.share {
            let draw = draws.fetch_add(1, Ordering::Relaxed);
            if unit(draw) >= share {
                continue;
            }
        }
        if let Some(times) = rule.times.as_mut() {
            *times -= 1;
        }
        return Some(rule.fault.clone());
    }
    None
}

/// A number in [0, 1) from a counter (SplitMix64), so a share of faults is the same every run.
pub(crate) fn unit(n: u64) -> f64 {
    let mut z = n.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_share_of_faults_is_the_same_every_run() {
        let draws: Vec<bool> = (0..1000).map(|n| unit(n) < 0.2).collect();
        let hits = draws.iter().filter(|hit| **hit).count();
        assert!((150..250).contains(&hits), "{hits}");
        assert_eq!(draws, (0..1000).map(|n| unit(n) < 0.2).collect::<Vec<_>>());
    }
}
