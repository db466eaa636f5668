//! Values flowing through the engine.
//!
//! A stack's field values are JSON-shaped once their references are resolved, but at plan time some
//! of them cannot be known yet (an ARN that only exists once a dependency is created). `Value` is
//! JSON plus that one extra case, `Unknown`, so the planner can say `(known after apply)` instead of
//! guessing. Drivers never see `Unknown`: the executor resolves every value before calling them.

use std::collections::BTreeMap;

use serde_json::Value as Json;

/// A JSON object, the shape of a resource's inputs and attributes.
pub type JsonMap = serde_json::Map<String, Json>;

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Str(String),
    List(Vec<Value>),
    Map(BTreeMap<String, Value>),
    /// Only known once the resource it comes from has been applied.
    Unknown,
}

impl Value {
    pub fn is_known(&self) -> bool {
        match self {
            Value::Unknown => false,
            Value::List(items) => items.iter().all(Value::is_known),
            Value::Map(map) => map.values().all(Value::is_known),
            _ => true,
        }
    }

    /// The JSON form, or `None` when any part is still unknown.
    pub fn to_json(&self) -> Option<Json> {
        Some(match self {
            Value::Null => Json::Null,
            Value::Bool(b) => Json::Bool(*b),
            Value::Int(i) => Json::from(*i),
            Value::Str(s) => Json::String(s.clone()),
            Value::List(items) => Json::Array(items.iter().map(Value::to_json).collect::<Option<_>>()?),
            Value::Map(map) => {
                Json::Object(map.iter().map(|(k, v)| Some((k.clone(), v.to_json()?))).collect::<Option<_>>()?)
            }
            Value::Unknown => return None,
        })
    }

    /// The JSON form with every unknown part as `null`, keeping what is known around it.
    pub fn to_json_lossy(&self) -> Json {
        match self {
            Value::List(items) => Json::Array(items.iter().map(Value::to_json_lossy).collect()),
            Value::Map(map) => Json::Object(map.iter().map(|(k, v)| (k.clone(), v.to_json_lossy())).collect()),
            Value::Unknown => Json::Null,
            other => other.to_json().unwrap_or(Json::Null),
        }
    }

    pub fn from_json(json: &Json) -> Value {
        match json {
            Json::Null => Value::Null,
            Json::Bool(b) => Value::Bool(*b),
            Json::Number(n) => n.as_i64().map(Value::Int).unwrap_or_else(|| Value::Str(n.to_string())),
            Json::String(s) => Value::Str(s.clone()),
            Json::Array(items) => Value::List(items.iter().map(Value::from_json).collect()),
            Json::Object(map) => Value::Map(map.iter().map(|(k, v)| (k.clone(), Value::from_json(v))).collect()),
        }
    }

    /// How the value reads inside an interpolated string.
    pub fn interpolated(&self) -> Option<String> {
        match self {
            Value::Str(s) => Some(s.clone()),
            Value::Int(i) => Some(i.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Int(_) => "integer",
            Value::Str(_) => "string",
            Value::List(_) => "list",
            Value::Map(_) => "table",
            Value::Unknown => "unknown",
        }
    }
}

/// Removes `null` entries from tables and lists, at every depth.
pub fn without_nulls(json: &Json) -> Json {
    match json {
        Json::Object(map) => {
            Json::Object(map.iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k.clone(), without_nulls(v))).collect())
        }
        Json::Array(items) => Json::Array(items.iter().filter(|v| !v.is_null()).map(without_nulls).collect()),
        other => other.clone(),
    }
}

/// Renders a JSON value the way plans show it: strings quoted, lists and tables inline.
pub fn display_json(value: &Json) -> String {
    match value {
        Json::Null => "null".to_string(),
        _ => value.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_anywhere_makes_the_value_unknown() {
        let value = Value::List(vec![Value::Str("a".into()), Value::Unknown]);
        assert!(!value.is_known());
        assert_eq!(value.to_json(), None);
    }

    #[test]
    fn json_round_trip_keeps_shape() {
        let json = serde_json::json!({"a": [1, "x", true], "b": {"c": null}});
        assert_eq!(Value::from_json(&json).to_json(), Some(json));
    }
}
