//! The origin bucket's policy statement that lets one distribution read it.
//!
//! The bucket may carry statements of its own (or of another distribution), so the driver never
//! overwrites the policy: it merges its one statement in, identified by a `Sid` that names the
//! distribution, and takes only that statement out again. The JSON editing is pure and tested
//! here; the S3 calls around it are thin.
//!
//! Each edit is a read and a write, so the edits of one bucket's policy take turns ([`Edit`]):
//! two distributions of a stack sharing a bucket would otherwise each write back what they read and
//! drop the other's statement.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use serde_json::{json, Value};
use tokio::sync::OwnedMutexGuard;

use crate::context::AwsContext;
use crate::drivers::DriverError;

/// The `Sid` of the statement for `distribution_id`.
pub(super) fn statement_id(distribution_id: &str) -> String {
    format!("provision-{distribution_id}")
}

/// Allows CloudFront to get objects from `bucket`, but only on behalf of the given distribution.
pub(super) fn read_access_statement(bucket: &str, distribution_id: &str, distribution_arn: &str) -> Value {
    json!({
        "Sid": statement_id(distribution_id),
        "Effect": "Allow",
        "Principal": { "Service": "cloudfront.amazonaws.com" },
        "Action": "s3:GetObject",
        "Resource": format!("arn:aws:s3:::{bucket}/*"),
        "Condition": { "StringEquals": { "AWS:SourceArn": distribution_arn } }
    })
}

/// `existing` (if any) with `statement` added, replacing a statement with the same `Sid`.
pub(super) fn with_statement(existing: Option<&str>, statement: Value) -> Result<String, DriverError> {
    let mut policy = match existing {
        Some(text) => parse(text)?,
        None => json!({ "Version": "2012-10-17", "Statement": [] }),
    };
    let sid = statement.get("Sid").cloned();
    let statements = statements_mut(&mut policy)?;
    if let Some(sid) = sid {
        statements.retain(|existing| existing.get("Sid") != Some(&sid));
    }
    statements.push(statement);
    Ok(policy.to_string())
}

/// `existing` without the statement `sid`: `Ok(None)` when nothing would remain, and the text
/// unchanged when the statement is not there.
pub(super) fn without_statement(existing: &str, sid: &str) -> Result<Option<String>, DriverError> {
    let mut policy = parse(existing)?;
    let statements = statements_mut(&mut policy)?;
    let before = statements.len();
    statements.retain(|statement| statement.get("Sid").and_then(Value::as_str) != Some(sid));
    if statements.len() == before {
        return Ok(Some(existing.to_string()));
    }
    if statements.is_empty() {
        return Ok(None);
    }
    Ok(Some(policy.to_string()))
}

fn parse(text: &str) -> Result<Value, DriverError> {
    serde_json::from_str(text).map_err(|error| DriverError::invalid(format!("the bucket policy is not JSON: {error}")))
}

/// The `Statement` list, turning a single statement object into a one-element list.
fn statements_mut(policy: &mut Value) -> Result<&mut Vec<Value>, DriverError> {
    let object =
        policy.as_object_mut().ok_or_else(|| DriverError::invalid("the bucket policy is not a JSON object"))?;
    let statement = object.entry("Statement").or_insert_with(|| Value::Array(Vec::new()));
    if !statement.is_array() {
        *statement = Value::Array(vec![statement.take()]);
    }
    match statement {
        Value::Array(items) => Ok(items),
        _ => Err(DriverError::invalid("the bucket policy's `Statement` is not a list")),
    }
}

/// One bucket's policy, held for an edit: no other edit of it in this process starts until this
/// one is dropped.
pub(super) struct Edit {
    bucket: String,
    _turn: OwnedMutexGuard<()>,
}

/// A lock per bucket name, for the whole run.
static TURNS: LazyLock<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>> = LazyLock::new(Default::default);

impl Edit {
    pub(super) async fn begin(bucket: &str) -> Edit {
        let turn = {
            let mut turns = TURNS.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            turns.entry(bucket.to_string()).or_default().clone()
        };
        Edit { bucket: bucket.to_string(), _turn: turn.lock_owned().await }
    }

    /// The policy as it is now (`None`: the bucket has none).
    pub(super) async fn current(&self, aws: &AwsContext) -> Result<Option<String>, DriverError> {
        current(aws, &self.bucket).await
    }

    /// Writes `existing` (read under this edit) with the distribution's statement added.
    pub(super) async fn grant(
        &self,
        aws: &AwsContext,
        existing: Option<&str>,
        distribution_id: &str,
        distribution_arn: &str,
    ) -> Result<(), DriverError> {
        let statement = read_access_statement(&self.bucket, distribution_id, distribution_arn);
        put(aws, &self.bucket, with_statement(existing, statement)?).await
    }
}

/// Adds (or refreshes) the distribution's statement in `bucket`'s policy.
pub(super) async fn grant(
    aws: &AwsContext,
    bucket: &str,
    distribution_id: &str,
    distribution_arn: &str,
) -> Result<(), DriverError> {
    let edit = Edit::begin(bucket).await;
    let existing = edit.current(aws).await?;
    edit.grant(aws, existing.as_deref(), distribution_id, distribution_arn).await
}

/// Whether `bucket`'s policy still lets `distribution_id` in (a bucket that is gone does not).
pub(super) async fn allows(aws: &AwsContext, bucket: &str, distribution_id: &str) -> Result<bool, DriverError> {
    let policy = match current(aws, bucket).await {
        Ok(Some(policy)) => policy,
        Ok(None) => return Ok(false),
        Err(error) if error.code_is("NoSuchBucket") => return Ok(false),
        Err(error) => return Err(error),
    };
    let sid = statement_id(distribution_id);
    Ok(without_statement(&policy, &sid)?.as_deref() != Some(policy.as_str())
        || grants_read_elsewhere(&policy, bucket, distribution_id))
}

/// Whether another statement (one the bucket's earlier tool wrote, under its own `Sid`) already
/// lets this distribution and only it read `bucket`'s objects, as [`read_access_statement`] does.
fn grants_read_elsewhere(policy: &str, bucket: &str, distribution_id: &str) -> bool {
    let Ok(mut policy) = serde_json::from_str::<Value>(policy) else { return false };
    let Ok(statements) = statements_mut(&mut policy) else { return false };
    let texts = |value: &Value| -> Vec<String> {
        match value {
            Value::String(text) => vec![text.clone()],
            Value::Array(items) => items.iter().filter_map(Value::as_str).map(str::to_string).collect(),
            _ => Vec::new(),
        }
    };
    let objects = format!("arn:aws:s3:::{bucket}/*");
    let source = format!(":distribution/{distribution_id}");
    statements.iter().any(|statement| {
        statement["Effect"] == "Allow"
            && texts(&statement["Principal"]["Service"]).iter().any(|s| s == "cloudfront.amazonaws.com")
            && texts(&statement["Action"]).iter().any(|a| a == "s3:GetObject" || a == "s3:*")
            && texts(&statement["Resource"]).contains(&objects)
            && texts(&statement["Condition"]["StringEquals"]["AWS:SourceArn"]).iter().any(|arn| arn.ends_with(&source))
    })
}

/// Removes the distribution's statement from `bucket`'s policy; a bucket or policy that is already
/// gone is fine.
pub(super) async fn revoke(aws: &AwsContext, bucket: &str, distribution_id: &str) -> Result<(), DriverError> {
    let _edit = Edit::begin(bucket).await;
    let existing = match current(aws, bucket).await {
        Ok(Some(existing)) => existing,
        Ok(None) => return Ok(()),
        Err(error) if error.code_is("NoSuchBucket") => return Ok(()),
        Err(error) => return Err(error),
    };
    match without_statement(&existing, &statement_id(distribution_id))? {
        Some(policy) if policy == existing => Ok(()),
        Some(policy) => put(aws, bucket, policy).await,
        None => delete(aws, bucket).await,
    }
}

async fn current(aws: &AwsContext, bucket: &str) -> Result<Option<String>, DriverError> {
    match aws.s3().get_bucket_policy().bucket(bucket).send().await {
        Ok(output) => Ok(output.policy().map(str::to_string)),
        Err(error) => {
            let error = crate::aws_error("GetBucketPolicy", error);
            if error.code_is("NoSuchBucketPolicy") {
                Ok(None)
            } else {
                Err(error)
            }
        }
    }
}

async fn put(aws: &AwsContext, bucket: &str, policy: String) -> Result<(), DriverError> {
    aws.s3()
        .put_bucket_policy()
        .bucket(bucket)
        .policy(policy)
        .send()
        .await
        .map_err(|error| crate::aws_error("PutBucketPolicy", error))?;
    Ok(())
}

async fn delete(aws: &AwsContext, bucket: &str) -> Result<(), DriverError> {
    match aws.s3().delete_bucket_policy().bucket(bucket).send().await {
        Ok(_) => Ok(()),
        Err(error) => {
            let error = crate::aws_error("DeleteBucketPolicy", error);
            if error.code_is("NoSuchBucket") || error.code_is("NoSuchBucketPolicy") {
                Ok(())
            } else {
                Err(error)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str = "arn:aws:cloudfront::123456789012:distribution/E1";

    fn foreign() -> Value {
        json!({ "Sid": "Audit", "Effect": "Allow", "Principal": { "AWS": "arn:aws:iam::1:root" },
                "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::site" })
    }

    fn statements(policy: &str) -> Vec<Value> {
        serde_json::from_str::<Value>(policy).unwrap()["Statement"].as_array().unwrap().clone()
    }

    #[test]
    fn statement_lets_only_this_distribution_read_objects() {
        let statement = read_access_statement("site", "E1", ARN);
        assert_eq!(statement["Sid"], "provision-E1");
        assert_eq!(statement["Principal"]["Service"], "cloudfront.amazonaws.com");
        assert_eq!(statement["Action"], "s3:GetObject");
        assert_eq!(statement["Resource"], "arn:aws:s3:::site/*");
        assert_eq!(statement["Condition"]["StringEquals"]["AWS:SourceArn"], ARN);
    }

    #[test]
    fn another_tools_statement_for_this_distribution_counts_as_access() {
        let theirs = json!({ "Version": "2012-10-17", "Statement": [{
            "Sid": "AllowCloudFront", "Effect": "Allow", "Principal": { "Service": "cloudfront.amazonaws.com" },
            "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::site/*",
            "Condition": { "StringEquals": { "AWS:SourceArn": ARN } } }] })
        .to_string();
        assert!(grants_read_elsewhere(&theirs, "site", "E1"));
        assert!(!grants_read_elsewhere(&theirs, "site", "E2"), "another distribution's");
        assert!(!grants_read_elsewhere(&theirs, "other", "E1"), "another bucket's");
    }

    #[test]
    fn merge_into_no_policy_makes_a_new_one() {
        let policy = with_statement(None, read_access_statement("site", "E1", ARN)).unwrap();
        let parsed: Value = serde_json::from_str(&policy).unwrap();
        assert_eq!(parsed["Version"], "2012-10-17");
        assert_eq!(statements(&policy).len(), 1);
    }

    #[test]
    fn merge_keeps_foreign_statements_and_replaces_ours() {
        let existing = json!({ "Version": "2012-10-17",
            "Statement": [foreign(), read_access_statement("site", "E1", "arn:old")] })
        .to_string();
        let policy = with_statement(Some(&existing), read_access_statement("site", "E1", ARN)).unwrap();
        let statements = statements(&policy);
        assert_eq!(statements.len(), 2);
        assert_eq!(statements[0], foreign());
        assert_eq!(statements[1]["Condition"]["StringEquals"]["AWS:SourceArn"], ARN);
    }

    #[test]
    fn merge_accepts_a_single_statement_object() {
        let existing = json!({ "Version": "2012-10-17", "Statement": foreign() }).to_string();
        let policy = with_statement(Some(&existing), read_access_statement("site", "E1", ARN)).unwrap();
        assert_eq!(statements(&policy).len(), 2);
    }

    #[test]
    fn removal_leaves_other_statements() {
        let existing = json!({ "Version": "2012-10-17",
            "Statement": [foreign(), read_access_statement("site", "E1", ARN)] })
        .to_string();
        let policy = without_statement(&existing, "provision-E1").unwrap().unwrap();
        assert_eq!(statements(&policy), [foreign()]);
    }

    #[test]
    fn removing_the_only_statement_removes_the_policy() {
        let existing = with_statement(None, read_access_statement("site", "E1", ARN)).unwrap();
        assert_eq!(without_statement(&existing, "provision-E1").unwrap(), None);
    }

    #[test]
    fn removing_an_absent_statement_changes_nothing() {
        let existing = json!({ "Version": "2012-10-17", "Statement": [foreign()] }).to_string();
        assert_eq!(without_statement(&existing, "provision-E1").unwrap(), Some(existing));
    }

    #[test]
    fn a_policy_that_is_not_json_is_an_error() {
        assert!(with_statement(Some("not json"), read_access_statement("site", "E1", ARN)).is_err());
    }
}
