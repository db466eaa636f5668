//! `any.aws-reserved-tags`: tag keys under `aws:` are AWS's own (CloudFormation's
//! `aws:cloudformation:stack-name` on what it makes, hence on every AWS Copilot resource). AWS
//! refuses any call that sets or removes one; moto takes them. A resource another tool made
//! carries them, so a driver that wrote back the tags it read, or removed those the stack file
//! does not name, would fail on AWS: the profile refuses such a write as AWS does.
//!
//! A tag write is recognised by its parameters, whatever the service: query forms name a tag key
//! `…Tag….Key` or `TagKeys.…`; JSON bodies carry `tags`/`Tags` (a list of key/value pairs or a
//! map) and `tagKeys`/`TagKeys`; REST-XML tagging calls (`PutBucketTagging`, CloudFront's
//! `TagResource`, Route 53's `ChangeTagsForResource`) carry `<Key>` elements.

use serde_json::Value as Json;

use super::call::{Call, Wire};
use super::http::Response;
use super::{shapes, Turn};

const ID: &str = "any.aws-reserved-tags";

pub(crate) fn before(turn: &mut Turn<'_>, call: &Call) -> Option<Response> {
    if !turn.on(ID) || !call.mutates() {
        return None;
    }
    let key = reserved_key(call)?;
    turn.meet(ID);
    Some(refusal(call, &key))
}

fn is_reserved(key: &str) -> bool {
    key.get(..4).is_some_and(|prefix| prefix.eq_ignore_ascii_case("aws:"))
}

/// The first `aws:` tag key the call sets or removes.
fn reserved_key(call: &Call) -> Option<String> {
    match call.wire {
        Wire::Ec2 | Wire::Query => call
            .form
            .iter()
            .filter(|(name, _)| (name.contains("Tag") && name.ends_with(".Key")) || name.starts_with("TagKeys."))
            .map(|(_, value)| value)
            .find(|value| is_reserved(value))
            .cloned(),
        Wire::Json => {
            let object = call.json.as_object()?;
            object
                .iter()
                .filter(|(name, _)| name.to_ascii_lowercase().starts_with("tag"))
                .flat_map(|(_, value)| json_keys(value))
                .find(|key| is_reserved(key))
        }
        Wire::RestXml if call.operation.contains("Tag") => {
            let body = call.body_text();
            body.split("<Key>")
                .skip(1)
                .filter_map(|rest| rest.split("</Key>").next())
                .find(|key| is_reserved(key))
                .map(str::to_string)
        }
        Wire::RestXml => None,
    }
}

/// Tag keys in a JSON value: `[{"key": …}]`, `[{"Key": …}]`, `["key", …]` or `{"key": "value"}`.
fn json_keys(value: &Json) -> Vec<String> {
    match value {
        Json::Array(items) => items
            .iter()
            .filter_map(|item| match item {
                Json::String(key) => Some(key.clone()),
                Json::Object(pair) => {
                    pair.get("key").or_else(|| pair.get("Key")).and_then(Json::as_str).map(str::to_string)
                }
                _ => None,
            })
            .collect(),
        Json::Object(map) => map.keys().cloned().collect(),
        _ => Vec::new(),
    }
}

/// AWS's refusal: EC2 `InvalidParameterValue` (its own words), S3 `InvalidTag`, and each other
/// protocol's validation error.
fn refusal(call: &Call, key: &str) -> Response {
    let reserved = "Tag keys starting with 'aws:' are reserved for internal use";
    match (call.wire, call.service.as_str()) {
        (Wire::Ec2, _) => shapes::error(
            call,
            400,
            "InvalidParameterValue",
            &format!("Value ( {key} ) for parameter key is invalid. {reserved}"),
        ),
        (Wire::Query, _) => shapes::error(call, 400, "ValidationError", &format!("{key}: {reserved}")),
        (Wire::Json, _) => shapes::error(call, 400, "InvalidParameterException", &format!("{key}: {reserved}")),
        (Wire::RestXml, "s3") => {
            shapes::error(call, 400, "InvalidTag", "System tags cannot be added/updated by requester")
        }
        (Wire::RestXml, _) => shapes::error(call, 400, "InvalidInput", &format!("{key}: {reserved}")),
    }
}
