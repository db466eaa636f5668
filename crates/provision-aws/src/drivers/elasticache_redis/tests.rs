//! The schema's in-place and replace decisions and the driver's offline methods.

use super::*;

fn inputs(json: Json) -> JsonMap {
    json.as_object().cloned().expect("an object")
}

fn stack() -> StackInfo {
    StackInfo { name: "shop".into(), region: "us-east-1".into(), directory: ".".into(), lineage: None }
}

#[test]
fn engine_transit_encryption_subnets_and_the_id_force_a_replacement_the_rest_changes_in_place() {
    let replacing: Vec<&str> = SCHEMA.fields.iter().filter(|f| f.forces_replacement).map(|f| f.name).collect();
    assert_eq!(replacing, ["name", "engine", "subnets", "transit_encryption", "at_rest_encryption"]);
    for in_place in [
        "node_type",
        "replicas",
        "security_groups",
        "snapshot_retention_days",
        "auth_token",
        "engine_version",
        "final_snapshot",
    ] {
        assert!(!SCHEMA.field(in_place).expect(in_place).forces_replacement, "{in_place}");
    }
    assert!(SCHEMA.field("auth_token").expect("auth_token").sensitive);
    assert!(matches!(SCHEMA.field("name").expect("name").default, schema::Default::AwsName { max_len: 40 }));
}

#[test]
fn every_in_place_field_has_a_call_that_changes_it() {
    let config = CacheConfig::from_inputs(&inputs(serde_json::json!({
        "name": "shop-sessions", "engine": "redis", "engine_version": "7.1", "node_type": "cache.t3.small",
        "replicas": 1, "security_groups": ["sg-a"], "snapshot_retention_days": 3
    })))
    .expect("a config");
    let fields =
        BTreeSet::from(["node_type", "replicas", "security_groups", "snapshot_retention_days", "engine_version"]);
    let steps = update::decide(&config, Some(0), &fields, false).expect("steps");
    let modification = steps.modify.expect("a modification");
    assert!(modification.node_type.is_some() && modification.security_groups.is_some());
    assert!(modification.snapshot_retention_days.is_some() && modification.engine_version.is_some());
    assert_eq!(steps.replicas, Some(update::ReplicaChange::Increase(1)));
}

#[test]
fn replacing_warns_about_the_data_and_removing_the_token_warns_it_will_fail() {
    let notes = CacheDriver.plan_notes(Action::Replace, &inputs(serde_json::json!({})), &["transit_encryption"]);
    assert_eq!(notes, [REPLACE_NOTE]);
    let removed = CacheDriver.plan_notes(Action::Update, &inputs(serde_json::json!({})), &["auth_token"]);
    assert_eq!(removed, [TOKEN_REMOVAL_NOTE]);
    let rotated = CacheDriver.plan_notes(
        Action::Update,
        &inputs(serde_json::json!({ "auth_token": "sha256:s:h" })),
        &["auth_token"],
    );
    assert!(rotated.is_empty());
    assert!(CacheDriver.plan_notes(Action::Update, &inputs(serde_json::json!({})), &["node_type"]).is_empty());
}

#[test]
fn prepare_sorts_subnets_and_security_groups() {
    let mut wanted =
        inputs(serde_json::json!({ "subnets": ["subnet-b", "subnet-a"], "security_groups": ["sg-b", "sg-a"] }));
    CacheDriver.prepare(&stack(), &mut wanted).expect("prepare");
    assert_eq!(wanted["subnets"], serde_json::json!(["subnet-a", "subnet-b"]));
    assert_eq!(wanted["security_groups"], serde_json::json!(["sg-a", "sg-b"]));
}

#[test]
fn the_id_and_port_are_known_before_the_create() {
    let planned = CacheDriver.planned_attributes(&stack(), &inputs(serde_json::json!({ "name": "shop-sessions" })));
    assert_eq!(planned["id"], "shop-sessions");
    assert_eq!(planned["port"], 6379);
    assert!(!planned.contains_key("address"), "known after apply");
}

#[test]
fn only_replication_group_arns_are_caches() {
    let arn = "arn:aws:elasticache:us-east-1:123456789012:replicationgroup:shop-sessions";
    assert_eq!(CacheDriver.id_from_arn(arn).as_deref(), Some("shop-sessions"));
    assert_eq!(CacheDriver.id_from_arn("arn:aws:elasticache:us-east-1:1:subnetgroup:shop-sessions-subnets"), None);
    assert_eq!(CacheDriver.id_from_arn("arn:aws:elasticache:us-east-1:1:snapshot:shop-sessions-final-1"), None);
}

#[test]
fn imports_take_an_id_or_an_arn_and_say_what_is_expected() {
    assert_eq!(import_id("Shop-Sessions").expect("an id"), "shop-sessions");
    let arn = "arn:aws:elasticache:us-east-1:123456789012:replicationgroup:shop-sessions";
    assert_eq!(import_id(arn).expect("an ARN"), "shop-sessions");
    let error = import_id("shop_sessions").expect_err("not an id");
    assert!(error.message.contains("is not a replication group id"), "{}", error.message);
    assert!(error.message.contains("expected the id, e.g. `shop-sessions`, or its ARN"), "{}", error.message);
    assert!(import_id("shop-sessions-0001-001/x").is_err());
}

#[test]
fn the_secret_hash_changing_is_a_change_and_null_is_none() {
    let change =
        |path: &str, before: Option<Json>, after: Option<Json>| FieldChange { path: path.into(), before, after };
    let changes = [
        change("auth_token", Some("sha256:a:1".into()), Some("sha256:a:2".into())),
        change("engine_version", Some(Json::Null), None),
        change("tags.team", None, Some("web".into())),
    ];
    assert_eq!(changed_fields(&changes), BTreeSet::from(["auth_token", "tags"]));
}
