//! `provision schema`: the JSON Schema of the stack format, built from the same field tables that
//! validate stack files, so editors and `validate` can never disagree.

use anyhow::Result;
use serde_json::{json, Map, Value as Json};

use provision_core::driver::DriverRegistry;
use provision_core::schema::{Default, FieldKind, FieldSpec};

pub fn run(markdown: bool) -> Result<u8> {
    let drivers = drivers();
    if markdown {
        print!("{}", reference_markdown(&drivers));
    } else {
        println!("{}", serde_json::to_string_pretty(&stack_schema(&drivers))?);
    }
    Ok(0)
}

/// The AWS drivers, for their schemas (nothing connects).
fn drivers() -> DriverRegistry {
    provision_core::cloud::Cloud::drivers(&provision_aws::AwsCloud::new(provision_aws::ConnectOptions::default()))
        .clone()
}

pub fn stack_schema(drivers: &DriverRegistry) -> Json {
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
        json!({"type": "object", "additionalProperties": false, "properties": {
            "path": {"type": "string", "description": "A local state file (default: state/<stack name>.json)"},
            "s3": {"type": "string", "pattern": "^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/.+", "description": "A team state: s3://BUCKET/KEY, locked with a lease (docs/team-state.md)"},
            "region": {"type": "string", "description": "The state bucket's region, if not the stack's"},
            "lock_ttl": {"type": "string", "pattern": "^[0-9]+[smh]?$", "default": "5m", "description": "The lock's lease; its holder renews it every third"},
            "kms_key": {"type": "string", "description": "Encrypt the state with this KMS key (aws:kms) instead of AES256"}
        }}),
    );
    properties.insert("variables".into(), json!({"type": "object"}));
    properties.insert(
        "network".into(),
        json!({"type": "object", "additionalProperties": false, "properties": {
            "vpc": {"type": "string", "default": "default", "description": "\"default\", a VPC id, or the stack's own network: \"${vpc.NAME.id}\""},
            "subnets": {"type": "array", "items": {"type": "string"}}
        }}),
    );
    properties.insert("outputs".into(), json!({"type": "object"}));
    for driver in drivers.iter() {
        let schema = driver.schema();
        let mut fields = Map::new();
        for field in schema.fields {
            fields.insert(field.name.into(), field_schema(field));
        }
        fields.insert("tags".into(), json!({"type": "object", "additionalProperties": {"type": "string"}}));
        fields.insert(
            "protect".into(),
            json!({"anyOf": [{"type": "boolean"}, {"type": "string", "pattern": "^\\$\\{var\\.[A-Za-z0-9_-]+\\}$"}],
                   "default": false,
                   "description": "Refuse to destroy, replace or remove this resource until an apply turns this off"}),
        );
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
            Default::StrList(items) => Some(json!(items)),
            Default::None
            | Default::AwsName { .. }
            | Default::AwsNameHashing { .. }
            | Default::Pattern(_)
            | Default::NetworkVpcId
            | Default::NetworkSubnetIds
            | Default::NetworkSubnetIdsUnless(_)
            | Default::InDefaultVpc => None,
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

/// `docs/resources.md`: every resource type's fields and attributes, from the same tables that
/// validate stack files. A unit test keeps the committed file equal to this.
pub fn reference_markdown(drivers: &DriverRegistry) -> String {
    let mut out = String::from(
        "# Resource types\n\n\
         Generated from provision's own schemas by `provision schema --markdown`; `validate` checks stack files\n\
         against exactly these tables. **replace** marks fields AWS cannot change in place: changing one plans\n\
         a replacement. Every resource also takes `tags = { … }`, `depends_on = [\"TYPE.NAME\", …]` and\n\
         `protect = true` (destroying, replacing or removing it is refused until an apply turns it off).\n",
    );
    for driver in drivers.iter() {
        let schema = driver.schema();
        out.push_str(&format!("\n## `{}`\n\n{}\n\n", schema.type_name, schema.description));
        out.push_str("| field | type | default | |\n|---|---|---|---|\n");
        for field in schema.fields {
            push_field_row(&mut out, "", field);
        }
        let attributes: Vec<String> = schema.attributes.iter().map(|a| format!("`{a}`")).collect();
        out.push_str(&format!("\nAttributes: {}.\n", attributes.join(", ")));
        if schema.create_before_destroy {
            out.push_str(
                "A replacement creates the new resource first, moves its users over, then deletes the old one.\n",
            );
        }
    }
    out
}

fn push_field_row(out: &mut String, prefix: &str, field: &FieldSpec) {
    let default = match &field.default {
        Default::None if field.required => "required".to_string(),
        Default::None => "—".to_string(),
        Default::Bool(b) => format!("`{b}`"),
        Default::Int(i) => format!("`{i}`"),
        Default::Str(s) => format!("`\"{s}\"`"),
        Default::EmptyList => "`[]`".to_string(),
        Default::EmptyMap => "`{}`".to_string(),
        Default::AwsName { .. } | Default::AwsNameHashing { .. } => "`<stack>-<name>`".to_string(),
        Default::Pattern(pattern) => format!("`{}`", pattern.replace("{stack}", "<stack>").replace("{name}", "<name>")),
        Default::NetworkVpcId => "the `[network]` VPC".to_string(),
        Default::NetworkSubnetIds => "the `[network]`'s private subnets".to_string(),
        Default::NetworkSubnetIdsUnless(flag) => {
            format!("the `[network]`'s public subnets (its private ones when `{flag} = true`)")
        }
        Default::InDefaultVpc => "`true` in the default VPC, else `false`".to_string(),
        Default::StrList(items) => {
            format!("`[{}]`", items.iter().map(|item| format!("\"{item}\"")).collect::<Vec<_>>().join(", "))
        }
    };
    let mut notes = Vec::new();
    if field.forces_replacement {
        notes.push("**replace**".to_string());
    }
    if field.sensitive || matches!(field.kind, FieldKind::Secret) {
        notes.push("secret".to_string());
    }
    let description = field.description.replace('|', "\\|").replace('\n', " ");
    notes.push(description);
    let kind = match &field.kind {
        FieldKind::String => "string".to_string(),
        FieldKind::Json => "JSON string".to_string(),
        FieldKind::Bool => "boolean".to_string(),
        FieldKind::Int => "integer".to_string(),
        FieldKind::StringList => "list of strings".to_string(),
        FieldKind::StringMap => "table of strings".to_string(),
        FieldKind::Table(_) => "table".to_string(),
        FieldKind::TableList(_) => "list of tables".to_string(),
        FieldKind::Enum(options) => options.iter().map(|o| format!("`{o}`")).collect::<Vec<_>>().join(" / "),
        FieldKind::Secret => "`{ env = \"VAR\" }`".to_string(),
    };
    out.push_str(&format!("| `{prefix}{}` | {kind} | {default} | {} |\n", field.name, notes.join(" ")));
    if let FieldKind::Table(fields) | FieldKind::TableList(fields) = &field.kind {
        let prefix = format!("{prefix}{}.", field.name);
        for field in fields.iter() {
            push_field_row(out, &prefix, field);
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_committed_resource_reference_is_up_to_date() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/resources.md");
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == super::reference_markdown(&super::drivers()),
            "docs/resources.md is out of date: run `cargo run -- schema --markdown > docs/resources.md`"
        );
    }
}
