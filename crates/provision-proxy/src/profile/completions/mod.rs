//! What moto lacks, completed as AWS answers, with enough state kept that later reads agree:
//! ElastiCache's subnet group delete and modifications, Fargate tasks (`RunTask`,
//! `DescribeTasks`, `StopTask`), the delete of a gateway VPC endpoint, and CloudFront's origin
//! access controls (a name taken once, a delete of a gone one answered), ELBv2's idempotent
//! creates of load balancers and listeners, EC2's client tokens, and Route 53's `CREATE` of a
//! record made and deleted before. Each is a rule of the
//! catalogue (`complete.…`), so a test can turn it off and meet moto's own answer.

pub(crate) mod cloudfront;
pub(crate) mod ec2;
pub(crate) mod elasticache;
pub(crate) mod elbv2;
pub(crate) mod route53;
pub(crate) mod tasks;

use super::call::Call;
use super::http::Response;
use super::{State, Turn};

#[derive(Debug, Default)]
pub(crate) struct Completions {
    pub elasticache: elasticache::Caches,
    pub tasks: tasks::Tasks,
    pub endpoints: ec2::Endpoints,
    pub tokens: ec2::Tokens,
    pub origin_access_controls: cloudfront::Controls,
    pub creates: elbv2::Creates,
    pub record_creates: route53::Creates,
}

pub(crate) fn before(turn: &mut Turn<'_>, state: &mut State, call: &Call) -> Option<Response> {
    match call.service.as_str() {
        "elasticache" => elasticache::before(turn, state, call),
        "ecs" => tasks::before(turn, state, call),
        "ec2" => ec2::before(turn, state, call),
        "cloudfront" => cloudfront::before(turn, state, call),
        "elasticloadbalancing" => elbv2::before(turn, state, call),
        "route53" => route53::before(turn, state, call),
        _ => None,
    }
}

pub(crate) fn after(turn: &mut Turn<'_>, state: &mut State, call: &Call, response: &mut Response) {
    match call.service.as_str() {
        "elasticache" => elasticache::after(turn, state, call, response),
        "ecs" => tasks::after(state, call, response),
        "ec2" => ec2::after(turn, state, call, response),
        "cloudfront" => cloudfront::after(turn, state, call, response),
        "elasticloadbalancing" => elbv2::after(state, call, response),
        _ => {}
    }
}

/// A call to make to the emulator first, as a request head and body: the description of what a
/// completion must answer for and has not seen yet.
pub(crate) fn prerequisite(state: &State, call: &Call) -> Option<(String, Vec<u8>)> {
    let host = call.header("host").unwrap_or("localhost");
    if call.service == "route53" {
        let path = route53::prerequisite(call)?;
        let mut head = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n");
        if let Some(authorization) = call.header("authorization") {
            head.push_str(&format!("Authorization: {authorization}\r\n"));
        }
        head.push_str("\r\n");
        return Some((head, Vec::new()));
    }
    let (content_type, target, body) = match call.service.as_str() {
        "elasticache" => {
            let (content_type, body) = elasticache::prerequisite(state, call)?;
            (content_type, None, body)
        }
        "ecs" => {
            let (target, body) = tasks::prerequisite(state, call)?;
            ("application/x-amz-json-1.1".to_string(), Some(target), body)
        }
        _ => return None,
    };
    let mut head = format!(
        "POST / HTTP/1.1\r\nHost: {host}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n",
        body.len()
    );
    if let Some(authorization) = call.header("authorization") {
        head.push_str(&format!("Authorization: {authorization}\r\n"));
    }
    if let Some(target) = target {
        head.push_str(&format!("X-Amz-Target: {target}\r\n"));
    }
    head.push_str("\r\n");
    Some((head, body.into_bytes()))
}

/// Learns from the emulator's answer to a [`prerequisite`].
pub(crate) fn learn(state: &mut State, call: &Call, response: &Response) {
    if !response.ok() {
        return;
    }
    match call.service.as_str() {
        "elasticache" => elasticache::learn(state, response),
        "ecs" => tasks::learn(state, response),
        "route53" => route53::learn(state, call, response),
        _ => {}
    }
}

/// The body to send to the emulator instead of the call's own, where moto would refuse what AWS
/// accepts.
pub(crate) fn rewrite(turn: &mut Turn<'_>, state: &mut State, call: &Call) -> Option<Vec<u8>> {
    match call.service.as_str() {
        "route53" => route53::rewrite(turn, state, call),
        _ => None,
    }
}
