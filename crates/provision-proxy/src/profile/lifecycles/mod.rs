//! Slow lifecycles: for a window after the call that starts them, moto's statuses are rewritten as
//! AWS reports them (`creating`, `modifying`, `deleting`, `InProgress`, `PENDING_VALIDATION`,
//! `IN_PROGRESS`, `pending`, `provisioning`, Route 53's `PENDING`), and what moto deletes at once is still shown
//! `deleting` (from the last description the proxy saw) until the window passes. The in-use rules
//! that hang on a lifecycle (a subnet group while its database deletes, a cluster while a service
//! drains, a distribution until its disable deployed) live beside it.

pub(crate) mod acm;
pub(crate) mod cloudfront;
pub(crate) mod ec2;
pub(crate) mod ecs;
pub(crate) mod elasticache;
pub(crate) mod listed;
pub(crate) mod rds;
pub(crate) mod route53;

use super::call::Call;
use super::http::Response;
use super::{State, Turn};

#[derive(Debug, Default)]
pub(crate) struct Lifecycles {
    pub rds: rds::Instances,
    pub elasticache: elasticache::Groups,
    pub cloudfront: cloudfront::Distributions,
    pub ecs: ecs::Services,
    pub acm: acm::Certificates,
    pub ec2: ec2::Network,
    pub route53: route53::Changes,
    pub listed: listed::Listed,
}

pub(crate) fn before(turn: &mut Turn<'_>, state: &mut State, call: &Call) -> Option<Response> {
    if let Some(answer) = listed::before(turn, state, call) {
        return Some(answer);
    }
    match call.service.as_str() {
        "rds" => rds::before(turn, state, call),
        "elasticache" => elasticache::before(turn, state, call),
        "cloudfront" => cloudfront::before(turn, state, call).or_else(|| acm::before(turn, state, call)),
        "ecs" => ecs::before(turn, state, call),
        "elasticloadbalancing" => acm::before(turn, state, call),
        "route53" => route53::before(turn, state, call),
        _ => None,
    }
}

pub(crate) fn after(turn: &mut Turn<'_>, state: &mut State, call: &Call, response: &mut Response) {
    match call.service.as_str() {
        "rds" => rds::after(turn, state, call, response),
        "elasticache" => elasticache::after(turn, state, call, response),
        "cloudfront" => cloudfront::after(turn, state, call, response),
        "ecs" => ecs::after(turn, state, call, response),
        "acm" => acm::after(turn, state, call, response),
        "route53" => {
            acm::after(turn, state, call, response);
            route53::after(turn, state, call, response);
        }
        "ec2" | "elasticloadbalancing" => {
            ec2::after(turn, state, call, response);
            listed::after(turn, state, call, response);
        }
        _ => {}
    }
}

/// An ISO 8601 time for an answer (`2026-01-01T00:00:00.000Z`), now.
pub(crate) fn iso_now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Seconds since the epoch, for JSON timestamps.
pub(crate) fn epoch_now() -> f64 {
    chrono::Utc::now().timestamp_millis() as f64 / 1000.0
}
