//! The inputs of one cache and the rules ElastiCache would otherwise enforce late.
//!
//! ElastiCache rejects a bad replication group id, a node type that does not exist, too many
//! replicas or an auth token without transit encryption only when the create call is made, many
//! minutes into an apply that has already built the network around it. Checking them here makes
//! `validate` and `plan` say so first, with the fix.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value as Json;

use crate::drivers::{DriverError, Problem};
use provision_core::value::{JsonMap, Value};

pub(super) const ENGINES: &[&str] = &["redis", "valkey"];
/// The longest replication group id ElastiCache accepts.
pub(super) const ID_MAX_LEN: usize = 40;
/// The port the group listens on; sent explicitly, so it is known before the create.
pub(super) const PORT: i32 = 6379;
const REPLICAS: std::ops::RangeInclusive<i64> = 0..=5;
const RETENTION_DAYS: std::ops::RangeInclusive<i64> = 0..=35;
const TOKEN_LENGTH: std::ops::RangeInclusive<usize> = 16..=128;

/// The inputs of one cache, as the planner resolved them. `auth_token` is left out: the inputs
/// hold only its salted hash, and the clear value comes with the request's secrets.
#[derive(Debug, Deserialize)]
pub(super) struct CacheConfig {
    pub name: String,
    pub engine: String,
    #[serde(default)]
    pub engine_version: Option<String>,
    pub node_type: String,
    #[serde(default)]
    pub replicas: i32,
    #[serde(default)]
    pub subnets: Vec<String>,
    #[serde(default)]
    pub security_groups: Vec<String>,
    #[serde(default = "yes")]
    pub transit_encryption: bool,
    /// A state from before this was chosen made caches without it; absent is `false`, as they are.
    #[serde(default)]
    pub at_rest_encryption: bool,
    #[serde(default)]
    pub snapshot_retention_days: i32,
}

fn yes() -> bool {
    true
}

impl CacheConfig {
    pub fn from_inputs(inputs: &JsonMap) -> Result<CacheConfig, DriverError> {
        serde_json::from_value(Json::Object(inputs.clone()))
            .map_err(|error| DriverError::invalid(format!("invalid `elasticache_redis` inputs: {error}")))
    }

    /// Whether the inputs name an auth token (their salted hash of it).
    pub fn has_auth_token(inputs: &JsonMap) -> bool {
        inputs.get("auth_token").is_some_and(|token| !token.is_null())
    }
}

/// The cache subnet group the driver makes for a replication group: named after it, so a run
/// killed between the two creates finds it again by name.
pub(super) fn subnet_group_name(group_id: &str) -> String {
    format!("{group_id}-subnets")
}

/// The snapshot ElastiCache takes on delete: the group's id and the time, so deleting a cache of
/// the same name again later never collides with an earlier snapshot.
pub(super) fn final_snapshot_name(group_id: &str, now: DateTime<Utc>) -> String {
    format!("{group_id}-final-{}", now.format("%Y%m%d%H%M%S"))
}

/// ElastiCache's rules for a replication group id.
pub(super) fn check_group_id(id: &str) -> Result<(), String> {
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-';
    let problem = if id.is_empty() || id.len() > ID_MAX_LEN {
        Some("must be 1 to 40 characters long")
    } else if !id.starts_with(|c: char| c.is_ascii_alphabetic()) {
        Some("must begin with a letter")
    } else if id.chars().any(|c| c.is_ascii_uppercase()) {
        Some("must be lowercase (ElastiCache stores replication group ids in lowercase)")
    } else if !id.chars().all(allowed) {
        Some("may contain only lowercase letters, digits and hyphens")
    } else if id.ends_with('-') || id.contains("--") {
        Some("must not end with a hyphen or contain two hyphens in a row")
    } else {
        None
    };
    match problem {
        Some(problem) => Err(format!("replication group id `{id}` {problem}")),
        None => Ok(()),
    }
}

/// The shape of a node type: `cache.<family>.<size>`, e.g. `cache.t3.micro` or `cache.r7g.large`.
pub(super) fn check_node_type(node_type: &str) -> Result<(), String> {
    let mut parts = node_type.split('.');
    let shaped = parts.next() == Some("cache")
        && parts.next().is_some_and(|family| {
            family.starts_with(|c: char| c.is_ascii_lowercase())
                && family.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        })
        && parts.next().is_some_and(|size| !size.is_empty() && size.chars().all(|c| c.is_ascii_alphanumeric()))
        && parts.next().is_none();
    if shaped {
        Ok(())
    } else {
        Err(format!("`{node_type}` is not an ElastiCache node type; node types look like `cache.t3.micro`"))
    }
}

/// Cross-field rules, on literal values offline (references are unknown and skipped) and again on
/// resolved values (then with the default name filled in). Offline a secret is its `{ env = … }`
/// table, later its hash: either way present.
pub(super) fn check(values: &BTreeMap<String, Value>) -> Vec<Problem> {
    let mut problems = Vec::new();
    let token = values.get("auth_token").is_some_and(|value| !matches!(value, Value::Null));
    if token && matches!(values.get("transit_encryption"), Some(Value::Bool(false))) {
        problems.push(
            Problem::error("auth_token", "an auth token needs transit encryption (`transit_encryption = false`)").hint(
                "remove `transit_encryption = false` (encryption in transit is on by default), or remove `auth_token`",
            ),
        );
    }
    if let Some(Value::Int(replicas)) = values.get("replicas") {
        if !REPLICAS.contains(replicas) {
            problems.push(
                Problem::error("replicas", format!("{replicas} replicas is outside what ElastiCache allows"))
                    .hint("use 0 (a primary only) to 5 read replicas"),
            );
        }
    }
    if let Some(Value::Int(days)) = values.get("snapshot_retention_days") {
        if !RETENTION_DAYS.contains(days) {
            problems.push(
                Problem::error("snapshot_retention_days", format!("{days} days is outside what ElastiCache allows"))
                    .hint("use 0 (no automatic snapshots) to 35 days"),
            );
        }
    }
    // A name the stack file wrote was checked as a field already; this catches the default
    // `<stack>-<name>`, which is only filled in once values are resolved.
    if let Some(Value::Str(name)) = values.get("name") {
        if let Err(message) = check_group_id(name) {
            problems.push(
                Problem::error("name", message)
                    .hint("set `name = \"…\"` to a valid id (the default is `<stack name>-<resource name>`)"),
            );
        }
    }
    problems
}

/// ElastiCache's rules for an AUTH token, checked on the clear value before the call that sends it,
/// so a bad one fails at once. The message never contains the value.
pub(super) fn check_auth_token(token: &str) -> Result<(), DriverError> {
    let printable = token.chars().all(|c| c.is_ascii_graphic() || c == ' ');
    let forbidden = token.chars().any(|c| matches!(c, '/' | '"' | '@' | '%'));
    let problem = if !TOKEN_LENGTH.contains(&token.len()) {
        Some("must be 16 to 128 characters long")
    } else if !printable {
        Some("may contain only printable ASCII characters")
    } else if forbidden {
        Some("must not contain `/`, `\"`, `@` or `%`")
    } else {
        None
    };
    match problem {
        Some(problem) => Err(DriverError::invalid(format!("the value of `auth_token` {problem}"))
            .with_hint("set the environment variable `auth_token` reads to a token ElastiCache accepts")),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn values(pairs: &[(&str, Value)]) -> BTreeMap<String, Value> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
    }

    fn secret() -> Value {
        Value::Map(BTreeMap::from([("env".to_string(), Value::Str("REDIS_TOKEN".into()))]))
    }

    fn fields(problems: &[Problem]) -> Vec<&str> {
        problems.iter().filter(|p| !p.warning).map(|p| p.field.as_str()).collect()
    }

    #[test]
    fn an_auth_token_needs_transit_encryption_and_the_error_says_how_to_fix_it() {
        let without = check(&values(&[("auth_token", secret()), ("transit_encryption", Value::Bool(false))]));
        assert_eq!(fields(&without), ["auth_token"]);
        assert!(without[0].message.contains("needs transit encryption"), "{}", without[0].message);
        assert!(without[0].hint.as_deref().is_some_and(|h| h.contains("remove `transit_encryption = false`")));

        // Resolved: the token is its hash.
        let hashed = Value::Str("sha256:salt:hash".into());
        assert_eq!(
            fields(&check(&values(&[("auth_token", hashed), ("transit_encryption", Value::Bool(false))]))),
            ["auth_token"]
        );
        assert!(check(&values(&[("auth_token", secret()), ("transit_encryption", Value::Bool(true))])).is_empty());
        assert!(check(&values(&[("transit_encryption", Value::Bool(false))])).is_empty(), "no token, no rule");
        // A reference is only known later.
        assert!(check(&values(&[("auth_token", secret()), ("transit_encryption", Value::Unknown)])).is_empty());
    }

    #[test]
    fn replicas_are_0_to_5() {
        let with = |n: i64| check(&values(&[("replicas", Value::Int(n))]));
        assert!(with(0).is_empty());
        assert!(with(5).is_empty());
        assert_eq!(fields(&with(6)), ["replicas"]);
        assert_eq!(fields(&with(-1)), ["replicas"]);
        assert!(with(6)[0].hint.as_deref().is_some_and(|h| h.contains("0 (a primary only) to 5")));
    }

    #[test]
    fn snapshot_retention_is_0_to_35_days() {
        let with = |n: i64| check(&values(&[("snapshot_retention_days", Value::Int(n))]));
        assert!(with(35).is_empty());
        assert_eq!(fields(&with(36)), ["snapshot_retention_days"]);
    }

    #[test]
    fn a_default_name_that_breaks_the_rules_is_caught_once_resolved() {
        // A stack called `shop--dev` gives the default `shop--dev-sessions`.
        let problems = check(&values(&[("name", Value::Str("shop--dev-sessions".into()))]));
        assert_eq!(fields(&problems), ["name"]);
        assert!(problems[0].message.contains("two hyphens"));
        assert!(problems[0].hint.as_deref().is_some_and(|h| h.contains("set `name")));
        assert!(check(&values(&[("name", Value::Str("shop-dev-sessions".into()))])).is_empty());
        assert!(check(&values(&[("name", Value::Unknown)])).is_empty());
    }

    #[test]
    fn replication_group_ids_follow_the_elasticache_rules() {
        assert!(check_group_id("shop-sessions").is_ok());
        assert!(check_group_id(&"a".repeat(40)).is_ok());
        assert!(check_group_id(&"a".repeat(41)).unwrap_err().contains("1 to 40"));
        assert!(check_group_id("").unwrap_err().contains("1 to 40"));
        assert!(check_group_id("1cache").unwrap_err().contains("begin with a letter"));
        assert!(check_group_id("Shop").unwrap_err().contains("lowercase"));
        assert!(check_group_id("shop_cache").unwrap_err().contains("letters, digits and hyphens"));
        assert!(check_group_id("shop-").unwrap_err().contains("end with a hyphen"));
        assert!(check_group_id("shop--cache").unwrap_err().contains("two hyphens"));
    }

    #[test]
    fn default_names_fit_the_length_limit() {
        let name =
            provision_core::stack::default_aws_name("a-rather-long-stack-name", "and_a_long_resource_name", ID_MAX_LEN);
        assert_eq!(name.len(), ID_MAX_LEN);
        assert!(check_group_id(&name).is_ok(), "{name}");
    }

    #[test]
    fn node_types_have_the_cache_family_size_shape() {
        for good in ["cache.t3.micro", "cache.r7g.large", "cache.m6g.16xlarge", "cache.c7gn.xlarge"] {
            assert!(check_node_type(good).is_ok(), "{good}");
        }
        for bad in ["t3.micro", "cache.t3", "db.t3.micro", "cache.T3.micro", "cache.t3.micro.x", "cache..micro"] {
            assert!(check_node_type(bad).unwrap_err().contains("cache.t3.micro"), "{bad}");
        }
    }

    #[test]
    fn auth_tokens_follow_the_elasticache_rules_without_echoing_them() {
        assert!(check_auth_token("a-good-token-0123456789").is_ok());
        for (bad, why) in [
            ("short-token", "16 to 128"),
            ("token-with-a-slash/0123", "must not contain"),
            ("token-with-an-at@0123456", "must not contain"),
            ("token-with-a-tab\t0123456", "printable"),
        ] {
            let error = check_auth_token(bad).expect_err(bad);
            assert!(error.message.contains(why), "{}", error.message);
            assert!(!error.message.contains(bad) && !error.hint.unwrap_or_default().contains(bad));
        }
        assert!(check_auth_token(&"a".repeat(129)).is_err());
    }

    #[test]
    fn part_names_follow_the_group_id() {
        assert_eq!(subnet_group_name("shop-sessions"), "shop-sessions-subnets");
        let now = Utc.with_ymd_and_hms(2026, 12, 1, 7, 5, 9).single().expect("a valid time");
        assert_eq!(final_snapshot_name("shop-sessions", now), "shop-sessions-final-20261201070509");
    }
}
