//! The inputs of one database instance and the rules RDS would otherwise enforce late.
//!
//! RDS rejects a bad identifier, a missing master password or an out-of-range backup retention only
//! when the create call is made, minutes into an apply; checking them here makes `validate` and
//! `plan` say so first, with the fix.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value as Json;

use crate::drivers::{DriverError, Problem};
use provision_core::value::{JsonMap, Value};

pub(super) const ENGINES: &[&str] = &["mysql", "mariadb", "postgres"];
const RETENTION_DAYS: std::ops::RangeInclusive<i64> = 0..=35;

/// The inputs of one instance, as the planner resolved them. `password` is left out: the inputs
/// hold only its salted hash, and the clear value comes with the request's secrets.
#[derive(Deserialize)]
pub(super) struct InstanceConfig {
    pub identifier: String,
    pub engine: String,
    #[serde(default)]
    pub engine_version: Option<String>,
    pub instance_class: String,
    pub allocated_storage: i32,
    #[serde(default)]
    pub max_allocated_storage: Option<i32>,
    pub storage_encrypted: bool,
    #[serde(default)]
    pub db_name: Option<String>,
    pub username: String,
    #[serde(default)]
    pub manage_password: bool,
    #[serde(default)]
    pub multi_az: bool,
    #[serde(default)]
    pub subnet_group: Option<String>,
    #[serde(default)]
    pub security_groups: Vec<String>,
    #[serde(default)]
    pub publicly_accessible: bool,
    pub backup_retention_days: i32,
    #[serde(default)]
    pub deletion_protection: bool,
    #[serde(default)]
    pub apply_immediately: bool,
    #[serde(default)]
    pub port: Option<i32>,
}

impl InstanceConfig {
    pub fn from_inputs(inputs: &JsonMap) -> Result<InstanceConfig, DriverError> {
        serde_json::from_value(Json::Object(inputs.clone()))
            .map_err(|error| DriverError::invalid(format!("invalid `db_instance` inputs: {error}")))
    }
}

/// RDS's rules for a DB instance identifier.
pub(super) fn check_identifier(identifier: &str) -> Result<(), String> {
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-';
    let problem = if identifier.is_empty() || identifier.len() > 63 {
        Some("must be 1 to 63 characters long")
    } else if !identifier.starts_with(|c: char| c.is_ascii_alphabetic()) {
        Some("must begin with a letter")
    } else if identifier.chars().any(|c| c.is_ascii_uppercase()) {
        Some("must be lowercase (RDS stores identifiers in lowercase)")
    } else if !identifier.chars().all(allowed) {
        Some("may contain only lowercase letters, digits and hyphens")
    } else if identifier.ends_with('-') || identifier.contains("--") {
        Some("must not end with a hyphen or contain two hyphens in a row")
    } else {
        None
    };
    match problem {
        Some(problem) => Err(format!("DB instance identifier `{identifier}` {problem}")),
        None => Ok(()),
    }
}

/// Cross-field rules, on literal values offline (references are unknown and skipped) and again on
/// resolved values. Offline a secret is its `{ env = … }` table, later its hash: either way present.
pub(super) fn check(values: &BTreeMap<String, Value>) -> Vec<Problem> {
    let mut problems = Vec::new();
    let password = values.get("password").is_some_and(|value| !matches!(value, Value::Null));
    let managed = match values.get("manage_password") {
        Some(Value::Bool(managed)) => Some(*managed),
        Some(Value::Unknown) => None,
        _ => Some(false),
    };
    if password && managed == Some(true) {
        problems.push(
            Problem::error("password", "`password` and `manage_password = true` cannot both be set")
                .hint("remove `password` to let RDS keep it in Secrets Manager, or set `manage_password = false`"),
        );
    }
    if !password && managed == Some(false) {
        problems.push(Problem::error("password", "the database needs a master password").hint(
            "set `password = { env = \"DB_PASSWORD\" }`, or `manage_password = true` to let RDS keep it in \
             Secrets Manager",
        ));
    }
    if let Some(Value::Int(days)) = values.get("backup_retention_days") {
        if !RETENTION_DAYS.contains(days) {
            problems.push(
                Problem::error("backup_retention_days", format!("{days} days is outside what RDS allows"))
                    .hint("use 0 (no automated backups) to 35 days"),
            );
        }
    }
    if let (Some(Value::Int(maximum)), Some(Value::Int(allocated))) =
        (values.get("max_allocated_storage"), values.get("allocated_storage"))
    {
        if maximum <= allocated {
            problems.push(
                Problem::error(
                    "max_allocated_storage",
                    format!("{maximum} GiB is not above `allocated_storage` ({allocated} GiB)"),
                )
                .hint("storage autoscaling grows the storage up to this limit; leave it out to switch it off"),
            );
        }
    }
    if let Some(Value::Bool(true)) = values.get("publicly_accessible") {
        problems.push(Problem::warning("publicly_accessible", "the database gets a public address"));
    }
    problems
}

/// The port the engine listens on unless told otherwise.
pub(super) fn default_port(engine: &str) -> i64 {
    match engine {
        "postgres" => 5432,
        _ => 3306,
    }
}

/// The snapshot RDS takes on delete: the instance's identifier and the time, so deleting a
/// database of the same name again later never collides with an earlier snapshot.
pub(super) fn final_snapshot_identifier(identifier: &str, now: DateTime<Utc>) -> String {
    format!("{identifier}-final-{}", now.format("%Y%m%d%H%M%S"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn values(pairs: &[(&str, Value)]) -> BTreeMap<String, Value> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
    }

    fn secret() -> Value {
        Value::Map(BTreeMap::from([("env".to_string(), Value::Str("DB_PASSWORD".into()))]))
    }

    fn errors(problems: &[Problem]) -> Vec<&str> {
        problems.iter().filter(|p| !p.warning).map(|p| p.field.as_str()).collect()
    }

    #[test]
    fn exactly_one_of_password_and_manage_password() {
        let manage = |b: bool| ("manage_password", Value::Bool(b));
        assert!(check(&values(&[("password", secret()), manage(false)])).is_empty());
        assert!(check(&values(&[("password", Value::Str("sha256:s:h".into())), manage(false)])).is_empty());
        assert!(check(&values(&[manage(true)])).is_empty());

        let both = check(&values(&[("password", secret()), manage(true)]));
        assert_eq!(errors(&both), ["password"]);
        assert!(both[0].hint.as_deref().is_some_and(|h| h.contains("remove `password`")));

        let neither = check(&values(&[manage(false)]));
        assert_eq!(errors(&neither), ["password"]);
        assert!(neither[0].message.contains("master password"));
        assert_eq!(errors(&check(&values(&[("password", Value::Null), manage(false)]))), ["password"]);

        // A reference is only known later.
        assert!(check(&values(&[("manage_password", Value::Unknown)])).is_empty());
    }

    #[test]
    fn backup_retention_is_0_to_35_days() {
        let with_days = |days: i64| {
            check(&values(&[("manage_password", Value::Bool(true)), ("backup_retention_days", Value::Int(days))]))
        };
        assert!(with_days(0).is_empty());
        assert!(with_days(35).is_empty());
        assert_eq!(errors(&with_days(36)), ["backup_retention_days"]);
        assert_eq!(errors(&with_days(-1)), ["backup_retention_days"]);
    }

    #[test]
    fn a_public_database_is_a_warning() {
        let problems =
            check(&values(&[("manage_password", Value::Bool(true)), ("publicly_accessible", Value::Bool(true))]));
        assert_eq!(problems.len(), 1);
        assert!(problems[0].warning);
        assert_eq!(problems[0].message, "the database gets a public address");
    }

    #[test]
    fn autoscaling_limit_is_above_the_allocated_storage() {
        let with = |maximum: i64| {
            check(&values(&[
                ("manage_password", Value::Bool(true)),
                ("allocated_storage", Value::Int(20)),
                ("max_allocated_storage", Value::Int(maximum)),
            ]))
        };
        assert!(with(100).is_empty());
        assert_eq!(errors(&with(20)), ["max_allocated_storage"]);
    }

    #[test]
    fn identifiers_follow_the_rds_rules() {
        assert!(check_identifier("shop-dev-db").is_ok());
        assert!(check_identifier("a1").is_ok());
        assert!(check_identifier(&"a".repeat(63)).is_ok());
        assert!(check_identifier(&"a".repeat(64)).unwrap_err().contains("1 to 63"));
        assert!(check_identifier("").unwrap_err().contains("1 to 63"));
        assert!(check_identifier("1db").unwrap_err().contains("begin with a letter"));
        assert!(check_identifier("-db").unwrap_err().contains("begin with a letter"));
        assert!(check_identifier("Shop").unwrap_err().contains("lowercase"));
        assert!(check_identifier("shop_db").unwrap_err().contains("letters, digits and hyphens"));
        assert!(check_identifier("shop-").unwrap_err().contains("end with a hyphen"));
        assert!(check_identifier("shop--db").unwrap_err().contains("two hyphens"));
    }

    #[test]
    fn final_snapshot_is_named_after_the_instance_and_the_utc_time() {
        let now = Utc.with_ymd_and_hms(2026, 11, 22, 7, 5, 9).single().expect("a valid time");
        assert_eq!(final_snapshot_identifier("shop-dev-db", now), "shop-dev-db-final-20261122070509");
    }

    #[test]
    fn default_ports_by_engine() {
        assert_eq!(default_port("mysql"), 3306);
        assert_eq!(default_port("mariadb"), 3306);
        assert_eq!(default_port("postgres"), 5432);
    }
}
