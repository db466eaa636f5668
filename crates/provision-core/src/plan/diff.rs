//! Field-by-field differences between what was applied (or observed) and what is wanted.

use std::collections::BTreeMap;

use serde_json::Value as Json;

use super::{Change, Planned};
use crate::schema::ResourceSchema;
use crate::value::{JsonMap, Value};

/// The changes from `before` to `after`. Tables are compared key by key, so a tag or an uploaded
/// file shows as its own line; lists are compared whole. Sensitive fields never show their values.
pub fn diff_inputs(schema: &ResourceSchema, before: &JsonMap, after: &BTreeMap<String, Value>) -> Vec<Change> {
    let mut changes = Vec::new();
    let mut names: Vec<&String> = before.keys().chain(after.keys()).collect();
    names.sort();
    names.dedup();
    for name in names {
        // An engine-derived input (a content hash to follow) with no previous value has nothing to
        // compare with: an adopted resource starts following it from here on.
        if !before.contains_key(name.as_str()) && schema.derived.iter().any(|d| d.name == name.as_str()) {
            continue;
        }
        let spec = schema.field(name);
        let forces = spec.is_some_and(|s| s.forces_replacement);
        let sensitive = spec.is_some_and(|s| s.sensitive || matches!(s.kind, crate::schema::FieldKind::Secret));
        let first = changes.len();
        diff_value(name.clone(), before.get(name.as_str()), after.get(name.as_str()), forces, sensitive, &mut changes);
        if spec.is_none() && name != "tags" {
            for change in &mut changes[first..] {
                change.hidden = true;
            }
        }
    }
    changes
}

fn diff_value(
    path: String,
    before: Option<&Json>,
    after: Option<&Value>,
    forces: bool,
    sensitive: bool,
    changes: &mut Vec<Change>,
) {
    let mask = |json: &Json| if sensitive { Planned::Sensitive } else { Planned::Known(json.clone()) };
    match (before, after) {
        (None, None) => {}
        (Some(Json::Null), None) | (None, Some(Value::Null)) => {}
        // An empty table that appears or goes is no change worth a line.
        (None, Some(Value::Map(new))) if new.is_empty() => {}
        (Some(Json::Object(old)), None) if old.is_empty() => {}
        // A table that is new or gone lists its entries one by one, like a changed table does.
        (None, Some(Value::Map(new))) if !sensitive && !new.is_empty() => {
            for (key, value) in new {
                diff_value(child_path(&path, key), None, Some(value), forces, false, changes);
            }
        }
        (Some(Json::Object(old)), None) if !sensitive && !old.is_empty() => {
            for (key, value) in old {
                diff_value(child_path(&path, key), Some(value), None, forces, false, changes);
            }
        }
        (Some(Json::Object(old)), Some(Value::Map(new))) if !sensitive => {
            let mut keys: Vec<&String> = old.keys().chain(new.keys()).collect();
            keys.sort();
            keys.dedup();
            for key in keys {
                diff_value(
                    child_path(&path, key),
                    old.get(key.as_str()),
                    new.get(key.as_str()),
                    forces,
                    false,
                    changes,
                );
            }
        }
        (before, Some(Value::Unknown)) => changes.push(Change {
            path,
            before: before.map(mask),
            after: Some(Planned::Unknown),
            forces_replacement: forces,
            hidden: false,
        }),
        (before, after) => {
            let after_json = after.and_then(Value::to_json);
            let after_is_known = after.is_none_or(Value::is_known);
            if after_is_known && before == after_json.as_ref() {
                return;
            }
            let after_planned = match (after, &after_json) {
                (None, _) => None,
                (Some(_), Some(json)) => Some(mask(json)),
                (Some(_), None) => Some(Planned::Unknown),
            };
            changes.push(Change {
                path,
                before: before.map(mask),
                after: after_planned,
                forces_replacement: forces,
                hidden: false,
            });
        }
    }
}

/// `field.key`, or `field["key"]` when the key is not a plain word.
fn child_path(path: &str, key: &str) -> String {
    if !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
        format!("{path}.{key}")
    } else {
        format!("{path}[{}]", Json::String(key.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{FieldKind, FieldSpec};
    use serde_json::json;

    static SCHEMA: ResourceSchema = ResourceSchema {
        type_name: "test",
        description: "",
        fields: &[
            FieldSpec::new("bucket", FieldKind::String, "").forces_replacement(),
            FieldSpec::new("versioning", FieldKind::Bool, ""),
            FieldSpec::new("password", FieldKind::String, "").sensitive(),
        ],
        attributes: &[],
        taggable: true,
        derived: &[],
        create_before_destroy: false,
    };

    fn map(json: Json) -> JsonMap {
        json.as_object().unwrap().clone()
    }

    fn values(json: Json) -> BTreeMap<String, Value> {
        map(json).iter().map(|(k, v)| (k.clone(), Value::from_json(v))).collect()
    }

    #[test]
    fn equal_inputs_have_no_changes() {
        let inputs = json!({"bucket": "a", "tags": {"team": "web"}});
        assert!(diff_inputs(&SCHEMA, &map(inputs.clone()), &values(inputs)).is_empty());
    }

    #[test]
    fn replacement_fields_are_marked() {
        let changes = diff_inputs(
            &SCHEMA,
            &map(json!({"bucket": "a", "versioning": false})),
            &values(json!({"bucket": "b", "versioning": true})),
        );
        assert_eq!(changes.len(), 2);
        assert!(changes[0].forces_replacement && changes[0].path == "bucket");
        assert!(!changes[1].forces_replacement);
    }

    #[test]
    fn tables_are_diffed_per_key_with_quoted_odd_keys() {
        let changes = diff_inputs(
            &SCHEMA,
            &map(json!({"files": {"index.html": "1", "a": "2"}})),
            &values(json!({"files": {"index.html": "3", "b": "4"}})),
        );
        let paths: Vec<&str> = changes.iter().map(|c| c.path.as_str()).collect();
        assert_eq!(paths, vec!["files.a", "files.b", "files[\"index.html\"]"]);
        assert_eq!(changes[0].after, None);
        assert_eq!(changes[1].before, None);
    }

    #[test]
    fn a_new_list_with_an_unknown_item_is_a_change() {
        let after = BTreeMap::from([("ingress".to_string(), Value::List(vec![Value::Unknown]))]);
        let changes = diff_inputs(&SCHEMA, &JsonMap::new(), &after);
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].after, Some(Planned::Unknown));
    }

    #[test]
    fn sensitive_values_never_appear() {
        let changes = diff_inputs(&SCHEMA, &map(json!({"password": "hash1"})), &values(json!({"password": "hash2"})));
        assert_eq!(changes[0].before, Some(Planned::Sensitive));
        assert_eq!(changes[0].after, Some(Planned::Sensitive));
    }

    #[test]
    fn unknown_values_are_changes() {
        let mut after = values(json!({"bucket": "a"}));
        after.insert("bucket".into(), Value::Unknown);
        let changes = diff_inputs(&SCHEMA, &map(json!({"bucket": "a"})), &after);
        assert_eq!(changes[0].after, Some(Planned::Unknown));
    }
}
