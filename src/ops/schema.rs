//! `provision schema`: the JSON Schema of the stack format, built from the same field tables that
//! validate stack files, so editors and `validate` can never disagree.

use anyhow::Result;
use serde_json::{json, Map, Value as Json};

use crate::drivers;
use crate::schema::{Default, FieldKind, FieldSpec};

pub fn run() -> Result<u8> {
    println!("{}", serde_json::to_string_pretty(&stack_schema())?);
    Ok(0)
}

pub fn stack_schema() -> Json {
    let mut properties = Map::new();
    properties.insert(
        "stack".into(),
        json!({
            "type": "object", "additionalProperties": false, "required": ["name"],
            "properties": {
                "name": {"type": "string", "description": "Prefixes AWS names and tags; ^[a-z][a-z0-9-]{0,27}$ (may use ${var.X})"},
                "region": {"type": "string"},
                "endpoint": {"type": "string", "description": "A local AWS emulator"},
                "tags": {"type": "object", "additionalProperties": {"type": "string"}}
            }
        }),
    );
    properties.insert(
        "state".into(),
        json!({"type": "object", "additionalProperties": false, "properties": {"path": {"type": "string"}, "s3": {"type": "string", "pattern": "^s3://"}}}),
    );
    properties.insert("variables".into(), json!({"type": "object"}));
    properties.insert(
        "network".into(),
        json!({"type": "object", "additionalProperties": false, "properties": {
            "vpc": {"type": "string", "default": "default"},
            "subnets": {"type": "array", "items": {"type": "string"}}
        }}),
    );
    properties.insert("outputs".into(), json!({"type": "object"}));
    for driver in drivers::registry() {
        let schema = driver.schema();
        let mut fields = Map::new();
        for field in schema.fields {
            fields.insert(field.name.into(), field_schema(field));
        }
        fields.insert("tags".into(), json!({"type": "object", "additionalProperties": {"type": "string"}}));
        fields.insert(
            "depends_on".into(),
            json!({"type": "array", "items": {"type": "string", "pattern": "^[a-z0-9_]+\\.[a-z][a-z0-9_]*$"}}),
        );
        let required: Vec<&str> = schema.fields.iter().filter(|f| f.required).map(|f| f.name).collect();
        properties.insert(
            schema.type_name.into(),
            json!({
                "type": "object",
                "description": schema.description,
                "propertyNames": {"pattern": "^[a-z][a-z0-9_]*$"},
                "additionalProperties": {"type": "object", "additionalProperties": false, "required": required, "properties": fields}
            }),
        );
    }
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "provision stack file",
        "type": "object",
        "additionalProperties": false,
        "required": ["stack"],
        "properties": properties,
    })
}

/// A string may always hold a `${...}` reference, whatever the field's type.
fn field_schema(field: &FieldSpec) -> Json {
    let mut schema = kind_schema(&field.kind);
    if let Json::Object(map) = &mut schema {
        map.insert("description".into(), json!(field.description));
        let default = match &field.default {
            Default::Bool(b) => Some(json!(b)),
            Default::Int(i) => Some(json!(i)),
            Default::Str(s) => Some(json!(s)),
            Default::EmptyList => Some(json!([])),
            Default::EmptyMap => Some(json!({})),
            Default::None
            | Default::AwsName { .. }
            | Default::AwsNameHashing { .. }
            | Default::NetworkVpcId
            | Default::NetworkSubnetIds => None,
        };
        if let Some(default) = default {
            map.insert("default".into(), default);
        }
    }
    schema
}

fn kind_schema(kind: &FieldKind) -> Json {
    let reference = json!({"type": "string", "pattern": "^\\$\\{[^}]+\\}$"});
    match kind {
        FieldKind::String | FieldKind::Json => json!({"type": "string"}),
        FieldKind::Bool => json!({"anyOf": [{"type": "boolean"}, reference]}),
        FieldKind::Int => json!({"anyOf": [{"type": "integer"}, reference]}),
        FieldKind::StringList => json!({"anyOf": [{"type": "array", "items": {"type": "string"}}, reference]}),
        FieldKind::StringMap => json!({"type": "object", "additionalProperties": {"type": "string"}}),
        FieldKind::Enum(options) => json!({"anyOf": [{"enum": options}, reference]}),
        FieldKind::Secret => json!({
            "type": "object", "additionalProperties": false, "required": ["env"],
            "properties": {"env": {"type": "string", "description": "The environment variable holding the secret"}}
        }),
        FieldKind::Table(fields) => table_schema(fields),
        FieldKind::TableList(fields) => json!({"type": "array", "items": table_schema(fields)}),
    }
}

fn table_schema(fields: &[FieldSpec]) -> Json {
    let properties: Map<String, Json> = fields.iter().map(|f| (f.name.to_string(), field_schema(f))).collect();
    let required: Vec<&str> = fields.iter().filter(|f| f.required).map(|f| f.name).collect();
    json!({"type": "object", "additionalProperties": false, "required": required, "properties": properties})
}
