//! Answers in each protocol's own shape, so aws-sdk-rust reads the code (`err.code()`) as it
//! would from AWS:
//!
//! - EC2: `<Response><Errors><Error><Code>…</Code><Message>…</Message></Error></Errors><RequestID>`;
//! - other query services (IAM, ELBv2, RDS, ElastiCache): `<ErrorResponse><Error><Type>Sender</Type>
//!   <Code>…</Code><Message>…</Message></Error><RequestId>`;
//! - JSON 1.1 (ECS, ACM, Logs, Secrets Manager …): `{"__type": "…", "message": "…"}`;
//! - S3: `<Error><Code>…</Code><Message>…</Message><RequestId>`;
//! - CloudFront and Route 53: `<ErrorResponse><Error><Type>Sender</Type><Code>…</Code><Message>`.

use std::sync::atomic::{AtomicU64, Ordering};

use super::call::{Call, Wire};
use super::http::Response;
use super::xml::{escape, Element};

/// A request id for an answer the proxy writes (AWS's are UUIDs; these only need to differ).
pub(crate) fn request_id() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("00000000-0000-4000-8000-{n:012x}")
}

/// An error answer for `call`'s protocol.
pub(crate) fn error(call: &Call, status: u16, code: &str, message: &str) -> Response {
    let id = request_id();
    let (code, message) = (escape(code), escape(message));
    match (call.wire, call.service.as_str()) {
        (Wire::Ec2, _) => Response::new(
            status,
            "text/xml;charset=UTF-8",
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors><RequestID>{id}</RequestID></Response>"
            ),
        ),
        (Wire::Query, service) => Response::new(
            status,
            "text/xml",
            format!(
                "<ErrorResponse xmlns=\"{}\"><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>{id}</RequestId></ErrorResponse>",
                query_namespace(service)
            ),
        ),
        (Wire::Json, _) => {
            let mut response = Response::new(
                status,
                "application/x-amz-json-1.1",
                serde_json::json!({"__type": code, "message": message}).to_string(),
            );
            response.set_header("x-amzn-ErrorType", &code);
            response
        }
        (Wire::RestXml, "s3") => Response::new(
            status,
            "application/xml",
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message><RequestId>{id}</RequestId><HostId>provision-proxy</HostId></Error>"
            ),
        ),
        (Wire::RestXml, service) => Response::new(
            status,
            "text/xml",
            format!(
                "<?xml version=\"1.0\"?>\n<ErrorResponse xmlns=\"{}\"><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>{id}</RequestId></ErrorResponse>",
                rest_namespace(service)
            ),
        ),
    }
}

/// The throttling error each protocol answers with under load.
pub(crate) fn throttling(call: &Call) -> Response {
    match (call.wire, call.service.as_str()) {
        (Wire::Ec2, _) => error(call, 503, "RequestLimitExceeded", "Request limit exceeded."),
        (Wire::Query, _) => error(call, 400, "Throttling", "Rate exceeded"),
        (Wire::Json, _) => error(call, 400, "ThrottlingException", "Rate exceeded"),
        (Wire::RestXml, "s3") => error(call, 503, "SlowDown", "Please reduce your request rate."),
        (Wire::RestXml, _) => error(call, 400, "Throttling", "Rate exceeded"),
    }
}

/// A successful query-protocol answer: `<{Op}Response><{Op}Result>…</{Op}Result><ResponseMetadata>`.
pub(crate) fn query_result(call: &Call, result: Vec<Element>) -> Response {
    let operation = &call.operation;
    let mut root = Element::new(&format!("{operation}Response"));
    root.attributes.push(("xmlns".to_string(), query_namespace(&call.service).to_string()));
    let mut body = Element::new(&format!("{operation}Result"));
    for element in result {
        body.push(element);
    }
    root.push(body);
    let mut metadata = Element::new("ResponseMetadata");
    metadata.push(Element::text_element("RequestId", &request_id()));
    root.push(metadata);
    let mut response = Response::new(200, "text/xml", Vec::new());
    response.set_xml(&root);
    response
}

/// A successful EC2 answer: `<{Op}Response>…<requestId>`.
pub(crate) fn ec2_result(call: &Call, children: Vec<Element>) -> Response {
    let mut root = Element::new(&format!("{}Response", call.operation));
    root.attributes.push(("xmlns".to_string(), "http://ec2.amazonaws.com/doc/2016-11-15/".to_string()));
    root.push(Element::text_element("requestId", &request_id()));
    for child in children {
        root.push(child);
    }
    let mut response = Response::new(200, "text/xml;charset=UTF-8", Vec::new());
    response.set_xml(&root);
    response
}

/// A successful JSON answer.
pub(crate) fn json_result(value: &serde_json::Value) -> Response {
    Response::new(200, "application/x-amz-json-1.1", value.to_string())
}

fn query_namespace(service: &str) -> &'static str {
    match service {
        "rds" => "http://rds.amazonaws.com/doc/2014-10-31/",
        "elasticache" => "http://elasticache.amazonaws.com/doc/2015-02-02/",
        "elasticloadbalancing" => "http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/",
        "iam" => "https://iam.amazonaws.com/doc/2010-05-08/",
        "sts" => "https://sts.amazonaws.com/doc/2011-06-15/",
        _ => "",
    }
}

fn rest_namespace(service: &str) -> &'static str {
    match service {
        "cloudfront" => "http://cloudfront.amazonaws.com/doc/2020-05-31/",
        "route53" => "https://route53.amazonaws.com/doc/2013-04-01/",
        _ => "",
    }
}
