//! Inputs a driver looks up in the cloud (an image tag's digest), merged into the desired ones.
//!
//! What a driver's `resolve` returns is merged one table level deep: `{"container": {"image_digest":
//! "sha256:…"}}` sets that one entry of the `container` table and leaves the rest as the stack file
//! says, so the plan shows `container.image_digest: … -> …` next to the container's other fields.
//! A `null` entry means "looked up: there is none" and removes it.
//!
//! When nothing could be looked up (an offline plan, or inputs that are not known yet), the entries
//! the state holds for a table that the stack file cannot set are kept as they were if nothing
//! else in that table changed, and are `(known after apply)` otherwise: the executor looks them up
//! again just before the action.

use std::collections::BTreeMap;

use serde_json::Value as Json;

use crate::schema::{FieldKind, ResourceSchema};
use crate::value::{JsonMap, Value};

/// Merges a driver's looked-up inputs into `values`. `planned`: the inputs a plan showed, whose
/// looked-up entries win over a newer answer (what runs is what was reviewed).
pub fn merge_resolved(values: &mut BTreeMap<String, Value>, resolved: &JsonMap, planned: Option<&JsonMap>) {
    for (key, value) in resolved {
        let planned_entry = |entry: &str| planned.and_then(|p| p.get(key)).and_then(|t| t.get(entry)).cloned();
        match (value, values.get_mut(key)) {
            (Json::Object(entries), Some(Value::Map(table))) => {
                for (entry, value) in entries {
                    let value = match planned.map(|p| p.get(key)) {
                        // The plan knew this table: its entry (or its absence) is what was reviewed.
                        Some(Some(Json::Object(_))) => planned_entry(entry).unwrap_or(Json::Null),
                        _ => value.clone(),
                    };
                    if value.is_null() {
                        table.remove(entry);
                    } else {
                        table.insert(entry.clone(), Value::from_json(&value));
                    }
                }
            }
            (value, _) => {
                let value = planned.and_then(|p| p.get(key)).unwrap_or(value);
                values.insert(key.clone(), Value::from_json(value));
            }
        }
    }
}

/// For a resource whose inputs could not be looked up now: the entries of its tables that the
/// stack file cannot set (not fields of the table) come from `prior` when the rest of the table is
/// unchanged, and are unknown otherwise.
pub fn keep_unresolved(schema: &ResourceSchema, values: &mut BTreeMap<String, Value>, prior: Option<&JsonMap>) {
    let Some(prior) = prior else { return };
    for field in schema.fields {
        let FieldKind::Table(entries) = &field.kind else { continue };
        let (Some(Json::Object(before)), Some(Value::Map(table))) = (prior.get(field.name), values.get_mut(field.name))
        else {
            continue;
        };
        let hidden: Vec<(&String, &Json)> =
            before.iter().filter(|(key, _)| !entries.iter().any(|spec| spec.name == key.as_str())).collect();
        if hidden.is_empty() {
            continue;
        }
        let visible_before: JsonMap = before
            .iter()
            .filter(|(key, _)| !hidden.iter().any(|(h, _)| h == key))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let visible_now: Option<JsonMap> = table.iter().map(|(k, v)| Some((k.clone(), v.to_json()?))).collect();
        let unchanged = visible_now.as_ref() == Some(&visible_before);
        for (key, value) in hidden {
            table
                .entry(key.clone())
                .or_insert_with(|| if unchanged { Value::from_json(value) } else { Value::Unknown });
        }
    }
}

/// The inputs as far as they are known, for a look-up at plan time: unknown values are left out,
/// and so are the unknown entries of a table.
pub fn known_parts(values: &BTreeMap<String, Value>) -> JsonMap {
    values
        .iter()
        .filter_map(|(key, value)| match value {
            Value::Map(table) => Some((key.clone(), Json::Object(known_parts(table)))),
            other => Some((key.clone(), other.to_json()?)),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::FieldSpec;
    use serde_json::json;

    static CONTAINER: &[FieldSpec] =
        &[FieldSpec::new("image", FieldKind::String, ""), FieldSpec::new("port", FieldKind::Int, "")];
    static SCHEMA: ResourceSchema = ResourceSchema {
        type_name: "test",
        description: "",
        fields: &[FieldSpec::new("container", FieldKind::Table(CONTAINER), "")],
        attributes: &[],
        taggable: false,
        derived: &[],
        create_before_destroy: false,
    };

    fn values(json: Json) -> BTreeMap<String, Value> {
        match Value::from_json(&json) {
            Value::Map(map) => map,
            _ => panic!("an object"),
        }
    }

    fn object(json: Json) -> JsonMap {
        json.as_object().cloned().expect("an object")
    }

    #[test]
    fn a_looked_up_entry_joins_the_table_and_null_removes_it() {
        let mut desired = values(json!({ "container": { "image": "repo:v1" } }));
        merge_resolved(&mut desired, &object(json!({ "container": { "digest": "sha256:a" } })), None);
        assert_eq!(desired["container"], Value::from_json(&json!({ "image": "repo:v1", "digest": "sha256:a" })));
        merge_resolved(&mut desired, &object(json!({ "container": { "digest": null } })), None);
        assert_eq!(desired["container"], Value::from_json(&json!({ "image": "repo:v1" })));
    }

    #[test]
    fn what_the_plan_showed_wins_over_a_newer_answer() {
        let planned = object(json!({ "container": { "image": "repo:v1", "digest": "sha256:a" } }));
        let mut desired = values(json!({ "container": { "image": "repo:v1" } }));
        merge_resolved(&mut desired, &object(json!({ "container": { "digest": "sha256:b" } })), Some(&planned));
        assert_eq!(desired["container"], Value::from_json(&json!({ "image": "repo:v1", "digest": "sha256:a" })));
        // A plan that did not know the table takes the answer.
        let mut desired = values(json!({ "container": { "image": "repo:v1" } }));
        merge_resolved(&mut desired, &object(json!({ "container": { "digest": "sha256:b" } })), Some(&JsonMap::new()));
        assert_eq!(desired["container"], Value::from_json(&json!({ "image": "repo:v1", "digest": "sha256:b" })));
    }

    #[test]
    fn unresolved_entries_stay_while_the_table_is_unchanged() {
        let prior = object(json!({ "container": { "image": "repo:v1", "digest": "sha256:a" } }));
        let mut same = values(json!({ "container": { "image": "repo:v1" } }));
        keep_unresolved(&SCHEMA, &mut same, Some(&prior));
        assert_eq!(same["container"], Value::from_json(&json!({ "image": "repo:v1", "digest": "sha256:a" })));
        let mut changed = values(json!({ "container": { "image": "repo:v2" } }));
        keep_unresolved(&SCHEMA, &mut changed, Some(&prior));
        let Value::Map(table) = &changed["container"] else { panic!("a table") };
        assert_eq!(table["digest"], Value::Unknown);
    }

    #[test]
    fn known_parts_leave_out_what_is_unknown() {
        let mut desired = values(json!({ "name": "a", "container": { "image": "repo:v1" } }));
        desired.insert("cluster".into(), Value::Unknown);
        if let Some(Value::Map(table)) = desired.get_mut("container") {
            table.insert("port".into(), Value::Unknown);
        }
        assert_eq!(known_parts(&desired), object(json!({ "name": "a", "container": { "image": "repo:v1" } })));
    }
}
