//! An instance as RDS describes it, turned into the inputs the planner compares and the
//! attributes other resources reference.
//!
//! Several settings are reported as the stack would write them rather than as raw answers, so a
//! refresh shows drift only where someone really changed something:
//! - a change made with `apply_immediately = false` waits in `PendingModifiedValues` for the
//!   maintenance window; the pending value is what was applied, so it is the one reported;
//! - `engine_version = "8.0"` is satisfied by any `8.0.x` RDS picked or upgraded to;
//! - with storage autoscaling on, RDS grows `allocated_storage` by itself up to the limit;
//! - when the stack left `subnet_group` or `security_groups` out, RDS chose them (the default
//!   subnet group, the VPC's default security group), so they are not reported.
//!
//! The master password is never read back (RDS does not return it either).

use aws_sdk_rds::types::{DbInstance, PendingModifiedValues};
use serde_json::Value as Json;

use super::tags;
use crate::drivers::Observed;
use provision_core::value::JsonMap;

/// The instance as the planner compares it, given the inputs the state recorded for it.
pub(super) fn observe(instance: &DbInstance, applied: &JsonMap) -> Observed {
    let pending = instance.pending_modified_values();
    let mut inputs = JsonMap::new();
    let mut put = |name: &str, value: Option<Json>| {
        if let Some(value) = value {
            inputs.insert(name.to_string(), value);
        }
    };
    let pending_or = |from_pending: Option<Json>, current: Option<Json>| from_pending.or(current);

    put(
        "instance_class",
        pending_or(
            pending.and_then(PendingModifiedValues::db_instance_class).map(Json::from),
            instance.db_instance_class().map(Json::from),
        ),
    );
    let storage =
        pending.and_then(PendingModifiedValues::allocated_storage).or(instance.allocated_storage()).map(i64::from);
    put("allocated_storage", storage.map(|size| Json::from(allocated_storage(size, applied))));
    put("max_allocated_storage", Some(instance.max_allocated_storage().map(Json::from).unwrap_or(Json::Null)));
    put("storage_encrypted", instance.storage_encrypted().map(Json::from));
    put("engine", instance.engine().map(Json::from));
    if let Some(wanted) = applied_string(applied, "engine_version") {
        let version = pending.and_then(PendingModifiedValues::engine_version).or(instance.engine_version());
        put("engine_version", version.map(|version| Json::from(engine_version(version, wanted))));
    }
    put("db_name", Some(instance.db_name().map(Json::from).unwrap_or(Json::Null)));
    put("username", instance.master_username().map(Json::from));
    put("manage_password", Some(Json::from(instance.master_user_secret().is_some())));
    put(
        "multi_az",
        pending_or(
            pending.and_then(PendingModifiedValues::multi_az).map(Json::from),
            instance.multi_az().map(Json::from),
        ),
    );
    // Named in the inputs (null: an import before the group it refers to).
    if applied.contains_key("subnet_group") {
        let group = pending
            .and_then(PendingModifiedValues::db_subnet_group_name)
            .or(instance.db_subnet_group().and_then(|group| group.db_subnet_group_name()));
        put("subnet_group", Some(group.map(Json::from).unwrap_or(Json::Null)));
    }
    let applied_groups =
        applied.get("security_groups").is_some_and(|g| g.is_null() || g.as_array().is_some_and(|g| !g.is_empty()));
    if applied_groups {
        put("security_groups", Some(Json::from(security_groups(instance))));
    }
    put("publicly_accessible", instance.publicly_accessible().map(Json::from));
    put(
        "backup_retention_days",
        pending_or(
            pending.and_then(PendingModifiedValues::backup_retention_period).map(Json::from),
            instance.backup_retention_period().map(Json::from),
        ),
    );
    put("deletion_protection", instance.deletion_protection().map(Json::from));
    put("port", pending.and_then(PendingModifiedValues::port).or(port(instance)).map(Json::from));
    put("tags", Some(tags::user_tags(&tags::from_rds(instance.tag_list()))));

    Observed {
        id: instance.db_instance_identifier().unwrap_or_default().to_string(),
        inputs,
        attributes: attributes(instance),
    }
}

/// The attributes of the schema: `address`, `port` and `endpoint` exist once RDS has made the
/// endpoint (it has when the instance is `available`).
pub(super) fn attributes(instance: &DbInstance) -> JsonMap {
    let identifier = instance.db_instance_identifier().unwrap_or_default();
    let address = instance.endpoint().and_then(|endpoint| endpoint.address()).unwrap_or_default();
    let port = port(instance);
    let endpoint = match port {
        Some(port) if !address.is_empty() => format!("{address}:{port}"),
        _ => String::new(),
    };
    let secret = instance.master_user_secret().and_then(|secret| secret.secret_arn()).unwrap_or_default();
    let mut attributes = JsonMap::new();
    attributes.insert("identifier".into(), identifier.into());
    attributes.insert("arn".into(), instance.db_instance_arn().unwrap_or_default().into());
    attributes.insert("address".into(), address.into());
    attributes.insert("port".into(), port.map(Json::from).unwrap_or(Json::Null));
    attributes.insert("endpoint".into(), endpoint.into());
    attributes.insert("master_secret_arn".into(), secret.into());
    attributes
}

fn port(instance: &DbInstance) -> Option<i32> {
    instance.endpoint().and_then(|endpoint| endpoint.port()).or(instance.db_instance_port())
}

fn applied_string<'a>(applied: &'a JsonMap, name: &str) -> Option<&'a str> {
    applied.get(name).and_then(Json::as_str)
}

/// The version the stack asked for when RDS runs a release of it (`8.0` → `8.0.35`).
fn engine_version<'a>(actual: &'a str, wanted: &'a str) -> &'a str {
    let refines = actual.strip_prefix(wanted).is_some_and(|rest| rest.starts_with('.'));
    if refines {
        wanted
    } else {
        actual
    }
}

/// With autoscaling (`max_allocated_storage`), growth within the limit is RDS's doing, not drift.
fn allocated_storage(actual: i64, applied: &JsonMap) -> i64 {
    let number = |name: &str| applied.get(name).and_then(Json::as_i64);
    match (number("allocated_storage"), number("max_allocated_storage")) {
        (Some(wanted), Some(limit)) if actual > wanted && actual <= limit => wanted,
        _ => actual,
    }
}

/// The VPC security groups the instance is in (or is joining), sorted like the stack's.
fn security_groups(instance: &DbInstance) -> Vec<String> {
    let mut groups: Vec<String> = instance
        .vpc_security_groups()
        .iter()
        .filter(|membership| membership.status() != Some("removing"))
        .filter_map(|membership| membership.vpc_security_group_id().map(str::to_string))
        .collect();
    groups.sort();
    groups
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_rds::types::{Endpoint, MasterUserSecret, Tag, VpcSecurityGroupMembership};

    fn applied(json: Json) -> JsonMap {
        json.as_object().cloned().expect("an object")
    }

    fn instance() -> aws_sdk_rds::types::builders::DbInstanceBuilder {
        DbInstance::builder()
            .db_instance_identifier("shop-db")
            .db_instance_arn("arn:aws:rds:us-east-1:123456789012:db:shop-db")
            .db_instance_class("db.t3.micro")
            .engine("mysql")
            .engine_version("8.0.35")
            .allocated_storage(20)
            .storage_encrypted(true)
            .master_username("admin")
            .multi_az(false)
            .backup_retention_period(7)
            .deletion_protection(false)
            .publicly_accessible(false)
            .endpoint(Endpoint::builder().address("shop-db.abc.us-east-1.rds.amazonaws.com").port(3306).build())
            .vpc_security_groups(VpcSecurityGroupMembership::builder().vpc_security_group_id("sg-b").build())
            .vpc_security_groups(VpcSecurityGroupMembership::builder().vpc_security_group_id("sg-a").build())
            .tag_list(Tag::builder().key("provision:stack").value("shop").build())
            .tag_list(Tag::builder().key("team").value("data").build())
    }

    #[test]
    fn reads_back_the_fields_in_the_stack_shape() {
        let observed = observe(&instance().build(), &applied(serde_json::json!({})));
        let inputs = &observed.inputs;
        assert_eq!(observed.id, "shop-db");
        assert_eq!(inputs["instance_class"], "db.t3.micro");
        assert_eq!(inputs["allocated_storage"], 20);
        assert_eq!(inputs["max_allocated_storage"], Json::Null);
        assert_eq!(inputs["db_name"], Json::Null);
        assert_eq!(inputs["manage_password"], false);
        assert_eq!(inputs["port"], 3306);
        assert_eq!(inputs["tags"], serde_json::json!({ "team": "data" }));
        for never in ["password", "skip_final_snapshot", "apply_immediately"] {
            assert!(!inputs.contains_key(never), "{never}");
        }
        // Chosen by RDS when the stack left them out.
        for chosen in ["engine_version", "subnet_group", "security_groups"] {
            assert!(!inputs.contains_key(chosen), "{chosen}");
        }
    }

    #[test]
    fn fields_the_stack_set_are_reported() {
        let applied = applied(serde_json::json!({
            "engine_version": "8.0", "subnet_group": "shop-db", "security_groups": ["sg-a"]
        }));
        let observed = observe(&instance().build(), &applied);
        assert_eq!(observed.inputs["engine_version"], "8.0");
        assert_eq!(observed.inputs["subnet_group"], Json::Null);
        assert_eq!(observed.inputs["security_groups"], serde_json::json!(["sg-a", "sg-b"]));
    }

    #[test]
    fn pending_changes_count_as_applied() {
        let pending = PendingModifiedValues::builder().db_instance_class("db.t3.small").allocated_storage(50).build();
        let observed = observe(&instance().pending_modified_values(pending).build(), &JsonMap::new());
        assert_eq!(observed.inputs["instance_class"], "db.t3.small");
        assert_eq!(observed.inputs["allocated_storage"], 50);
    }

    #[test]
    fn engine_versions_match_by_release() {
        assert_eq!(engine_version("8.0.35", "8.0"), "8.0");
        assert_eq!(engine_version("8.0.35", "8.0.35"), "8.0.35");
        assert_eq!(engine_version("8.0.35", "8.0.3"), "8.0.35");
        assert_eq!(engine_version("16.1", "15"), "16.1");
    }

    #[test]
    fn autoscaled_storage_is_not_drift() {
        let applied = applied(serde_json::json!({ "allocated_storage": 20, "max_allocated_storage": 100 }));
        assert_eq!(allocated_storage(40, &applied), 20);
        assert_eq!(allocated_storage(200, &applied), 200);
        assert_eq!(allocated_storage(40, &JsonMap::new()), 40);
    }

    #[test]
    fn attributes_carry_the_endpoint_and_the_managed_secret() {
        let secret = MasterUserSecret::builder().secret_arn("arn:aws:secretsmanager:us-east-1:1:secret:rds!db").build();
        let attributes = attributes(&instance().master_user_secret(secret).build());
        assert_eq!(attributes["identifier"], "shop-db");
        assert_eq!(attributes["arn"], "arn:aws:rds:us-east-1:123456789012:db:shop-db");
        assert_eq!(attributes["address"], "shop-db.abc.us-east-1.rds.amazonaws.com");
        assert_eq!(attributes["port"], 3306);
        assert_eq!(attributes["endpoint"], "shop-db.abc.us-east-1.rds.amazonaws.com:3306");
        assert_eq!(attributes["master_secret_arn"], "arn:aws:secretsmanager:us-east-1:1:secret:rds!db");
        assert_eq!(super::attributes(&instance().build())["master_secret_arn"], "");
    }
}
