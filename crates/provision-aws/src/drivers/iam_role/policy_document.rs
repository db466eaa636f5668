//! Policy documents as provision writes and compares them.
//!
//! IAM returns every document URL-encoded inside its XML answers, and the SDK hands that text over
//! as is. Reading one back therefore means decoding it first, then putting it in the same canonical
//! JSON form (sorted keys, no spaces) that the engine gives `inline_policy`, so an unchanged policy
//! never shows as drift.

use serde_json::{json, Value as Json};

use provision_core::value::Value;

/// Service principals that put the calling account in `aws:SourceAccount` when they assume a role
/// on its behalf, so a trust policy can require it (AWS IAM User Guide, "The confused deputy
/// problem"; the ECS Developer Guide's task IAM role page recommends it for `ecs-tasks`).
const SOURCE_ACCOUNT_SERVICES: &[&str] = &[
    "ecs-tasks.amazonaws.com",
    "lambda.amazonaws.com",
    "events.amazonaws.com",
    "scheduler.amazonaws.com",
    "states.amazonaws.com",
    "codebuild.amazonaws.com",
];

/// The trust policy that lets one AWS service assume the role — only on behalf of this account
/// where the service says which account it acts for, so that another account's use of the same
/// service cannot borrow the role (the confused deputy).
pub(super) fn trust_policy(service: &str, account: Option<&str>) -> String {
    let mut statement = json!({ "Effect": "Allow", "Principal": { "Service": service }, "Action": "sts:AssumeRole" });
    if let Some(account) = account.filter(|_| SOURCE_ACCOUNT_SERVICES.contains(&service)) {
        statement["Condition"] = json!({ "StringEquals": { "aws:SourceAccount": account } });
    }
    json!({ "Version": "2012-10-17", "Statement": [statement] }).to_string()
}

/// The document as JSON, whether or not IAM URL-encoded it.
pub(super) fn parse(text: &str) -> Option<Json> {
    serde_json::from_str(text).ok().or_else(|| serde_json::from_str(&percent_decode(text)?).ok())
}

/// The canonical text of a document read back from IAM, as the engine writes `inline_policy`.
pub(super) fn canonical(text: &str) -> Option<String> {
    Value::from_json(&parse(text)?).to_json().map(|json| json.to_string())
}

/// The service principals that a trust policy allows to assume the role, sorted and joined with
/// `,` (one in the roles provision makes); `None` when there is none.
pub(super) fn trusted_service(text: &str) -> Option<String> {
    let document = parse(text)?;
    let statements = match document.get("Statement")? {
        Json::Array(statements) => statements.clone(),
        statement => vec![statement.clone()],
    };
    let mut services: Vec<String> = Vec::new();
    for statement in &statements {
        let allows = statement.get("Effect").and_then(Json::as_str) == Some("Allow");
        let assumes = strings(statement.get("Action")).iter().any(|action| action == "sts:AssumeRole");
        if allows && assumes {
            services.extend(strings(statement.get("Principal").and_then(|principal| principal.get("Service"))));
        }
    }
    services.sort();
    services.dedup();
    (!services.is_empty()).then(|| services.join(","))
}

/// A policy element that may be one string or a list of strings.
fn strings(value: Option<&Json>) -> Vec<String> {
    match value {
        Some(Json::String(text)) => vec![text.clone()],
        Some(Json::Array(items)) => items.iter().filter_map(Json::as_str).map(str::to_string).collect(),
        _ => Vec::new(),
    }
}

/// Decodes `%XX` escapes; `None` when the text is not validly encoded UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' {
            let hex = text.get(index + 1..index + 3)?;
            decoded.push(u8::from_str_radix(hex, 16).ok()?);
            index += 3;
        } else {
            decoded.push(bytes[index]);
            index += 1;
        }
    }
    String::from_utf8(decoded).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ENCODED: &str = "%7B%22Version%22%3A%20%222012-10-17%22%2C%20%22Statement%22%3A%20%5B%7B%22Effect%22%3A\
        %20%22Allow%22%2C%20%22Principal%22%3A%20%7B%22Service%22%3A%20%22ecs-tasks.amazonaws.com%22%7D%2C%20\
        %22Action%22%3A%20%22sts%3AAssumeRole%22%7D%5D%7D";

    #[test]
    fn the_service_is_read_from_an_encoded_trust_policy() {
        assert_eq!(trusted_service(ENCODED).as_deref(), Some("ecs-tasks.amazonaws.com"));
        assert_eq!(
            trusted_service(&trust_policy("lambda.amazonaws.com", None)).as_deref(),
            Some("lambda.amazonaws.com")
        );
        let scoped = trust_policy("ecs-tasks.amazonaws.com", Some("123456789012"));
        assert!(scoped.contains(r#""aws:SourceAccount":"123456789012""#), "{scoped}");
        assert_eq!(trusted_service(&scoped).as_deref(), Some("ecs-tasks.amazonaws.com"));
        let unscoped = trust_policy("ec2.amazonaws.com", Some("123456789012"));
        assert!(!unscoped.contains("SourceAccount"), "EC2 does not set it: {unscoped}");
    }

    #[test]
    fn several_services_read_as_one_sorted_list() {
        let document = json!({ "Statement": {
            "Effect": "Allow",
            "Principal": { "Service": ["ecs.amazonaws.com", "ecs-tasks.amazonaws.com"] },
            "Action": ["sts:AssumeRole", "sts:TagSession"],
        }});
        assert_eq!(
            trusted_service(&document.to_string()).as_deref(),
            Some("ecs-tasks.amazonaws.com,ecs.amazonaws.com")
        );
        assert_eq!(trusted_service(r#"{"Statement":[]}"#), None);
    }

    #[test]
    fn a_read_back_policy_has_the_engine_canonical_form() {
        let encoded = "%7B%22Version%22%3A%222012-10-17%22%2C%20%22Statement%22%3A%5B%7B%22Resource%22%3A%22%2A%22%2C\
            %22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22s3%3AGetObject%22%7D%5D%7D";
        assert_eq!(
            canonical(encoded).as_deref(),
            Some(r#"{"Statement":[{"Action":"s3:GetObject","Effect":"Allow","Resource":"*"}],"Version":"2012-10-17"}"#)
        );
        assert_eq!(canonical("%7B%ZZ"), None);
    }
}
