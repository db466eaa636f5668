//! The JSON Schema of the stack format (`provision schema`), written from the descriptors the loader
//! checks files against, so that an editor and `provision validate` agree.
//!
//! It uses only keywords that draft-07 and 2020-12 validators read alike (taplo, Even Better TOML
//! and python-jsonschema among them). A string that may hold references is described by the
//! template grammar of [`super::syntax`]; a boolean, integer, list or table that may hold one also
//! takes a string that is exactly one reference (`"${var.production}"`, `"${network.subnet_ids}"`),
//! as the loader does. What only the loader can check (AWS naming rules, references that name
//! something that exists, cycles, the checks across fields) is left to `provision validate`.

use serde_json::{json, Map, Value as Json};

use super::syntax::{single_reference, template, CONTAINS_REFERENCE};
use super::tags::{MAX_TAG_KEY, MAX_TAG_VALUE, RESERVED_KEY_PATTERN};
use super::{
    Default, FieldKind, FieldSpec, Pattern, References, ResourceSchema, RESOURCE_KEYS, RESOURCE_NAME_PATTERN, SECTIONS,
};

/// The schema of a stack file whose resource types are `types`.
pub fn stack_schema(types: &[&ResourceSchema]) -> Json {
    let mut properties = Map::new();
    for section in SECTIONS {
        // A section is a table as written, never a reference.
        let rules = Rules { references: References::None, ..Rules::of(section, References::Any) };
        let mut schema = match section.kind {
            FieldKind::Table(fields) => table_schema(fields, Rules::of(section, References::Any).references),
            _ => kind_schema(&section.kind, rules),
        };
        schema["description"] = json!(section.description);
        properties.insert(section.name.into(), schema);
    }
    for schema in types {
        properties.insert(schema.type_name.into(), resource_type_schema(schema));
    }
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "provision stack file",
        "description": "A provision stack: the AWS resources of one web app (docs/stack-format.md)",
        "type": "object",
        "additionalProperties": false,
        "required": ["stack"],
        "properties": properties,
        "$defs": {
            "value": {
                "description": "A string, integer, boolean or list of those",
                "type": ["string", "integer", "boolean", "array"],
                "items": {"$ref": "#/$defs/value"}
            },
            "any": {
                "type": ["string", "integer", "boolean", "array", "object"],
                "pattern": template(References::Any),
                "items": {"$ref": "#/$defs/any"},
                "additionalProperties": {"$ref": "#/$defs/any"}
            }
        }
    })
}

/// `[TYPE]`: resources by name, each a table of the type's fields and the keys of every resource.
fn resource_type_schema(schema: &ResourceSchema) -> Json {
    let mut fields = Map::new();
    for field in schema.fields.iter().chain(RESOURCE_KEYS) {
        fields.insert(field.name.into(), field_schema(field, References::Any));
    }
    let required: Vec<&str> = schema.fields.iter().filter(|f| f.required).map(|f| f.name).collect();
    json!({
        "type": "object",
        "description": schema.description,
        "propertyNames": {"pattern": RESOURCE_NAME_PATTERN},
        "additionalProperties": {
            "type": "object",
            "description": format!("A `{}`; attributes: {}", schema.type_name, schema.attributes.join(", ")),
            "additionalProperties": false,
            "required": required,
            "properties": fields
        }
    })
}

/// What a descriptor asks of the values inside it (list items, map values, alternatives).
#[derive(Clone, Copy)]
struct Rules {
    pattern: Option<Pattern>,
    range: Option<(i64, i64)>,
    non_empty: bool,
    references: References,
}

impl Rules {
    fn of(field: &FieldSpec, inherited: References) -> Rules {
        let references = field.references.unwrap_or(inherited);
        Rules { pattern: field.pattern, range: field.range, non_empty: field.non_empty, references }
    }
}

fn field_schema(field: &FieldSpec, inherited: References) -> Json {
    let rules = Rules::of(field, inherited);
    let references = rules.references;
    let mut schema = kind_schema(&field.kind, rules);
    let mut description = field.description.to_string();
    if takes_strings(&field.kind) {
        if let Some(note) = reference_note(references) {
            description = format!("{description}. {note}");
        }
    }
    if let Json::Object(map) = &mut schema {
        map.insert("description".into(), json!(description));
        if let Some(default) = default_value(&field.default) {
            map.insert("default".into(), default);
        }
    }
    schema
}

fn kind_schema(kind: &FieldKind, rules: Rules) -> Json {
    let items = Rules { non_empty: false, ..rules };
    let references = rules.references;
    let schema = match kind {
        FieldKind::String | FieldKind::Json => return string_schema(rules, None),
        FieldKind::Enum(options) => return enum_schema(options, references),
        FieldKind::OneOf(kinds) => {
            return json!({"anyOf": kinds.iter().map(|k| kind_schema(k, rules)).collect::<Vec<_>>()})
        }
        FieldKind::Value => return json!({"$ref": "#/$defs/value"}),
        FieldKind::Any => return json!({"$ref": "#/$defs/any"}),
        FieldKind::Bool => json!({"type": "boolean"}),
        FieldKind::Int => {
            let mut schema = json!({"type": "integer"});
            if let Some((min, max)) = rules.range {
                schema["minimum"] = json!(min);
                schema["maximum"] = json!(max);
            }
            schema
        }
        FieldKind::StringList => list_schema(string_schema(items, None), rules.non_empty),
        FieldKind::List(item) => list_schema(kind_schema(item, items), rules.non_empty),
        FieldKind::StringMap => json!({"type": "object", "additionalProperties": string_schema(items, None)}),
        FieldKind::Map(value) => json!({"type": "object", "additionalProperties": kind_schema(value, items)}),
        // Tags are a table as written (no value could stand for one).
        FieldKind::Tags => {
            return json!({
                "type": "object",
                "propertyNames": {"minLength": 1, "maxLength": MAX_TAG_KEY, "not": {"pattern": RESERVED_KEY_PATTERN}},
                "additionalProperties": string_schema(items, Some(MAX_TAG_VALUE))
            })
        }
        FieldKind::Table(fields) => table_schema(fields, references),
        FieldKind::TableList(fields) => list_schema(table_schema(fields, references), rules.non_empty),
        FieldKind::Secret => json!({
            "type": "object", "additionalProperties": false, "required": ["env"],
            "properties": {"env": {
                "type": "string",
                "pattern": super::ENV_NAME_PATTERN,
                "description": "The environment variable holding the secret; its value is never stored, only a salted hash"
            }}
        }),
    };
    or_reference(schema, references)
}

/// A string: the template grammar where references are allowed, the field's pattern on literal
/// text (a string with a reference is checked once resolved), at most `max_length` characters.
fn string_schema(rules: Rules, max_length: Option<usize>) -> Json {
    let mut schema = json!({"type": "string"});
    let grammar = template(rules.references);
    if let Some(grammar) = &grammar {
        schema["pattern"] = json!(grammar);
    }
    let mut literal = Map::new();
    if let Some(pattern) = rules.pattern {
        literal.insert("pattern".into(), json!(pattern.regex));
    }
    if let Some(max_length) = max_length {
        literal.insert("maxLength".into(), json!(max_length));
    }
    if rules.non_empty {
        schema["minLength"] = json!(1);
    }
    if !literal.is_empty() {
        match grammar {
            // Literal text follows the rules; text with a reference is checked once resolved.
            Some(_) => schema["anyOf"] = json!([literal, {"pattern": CONTAINS_REFERENCE}]),
            None => literal.into_iter().for_each(|(key, value)| schema[key.as_str()] = value),
        }
    }
    schema
}

fn enum_schema(options: &[&str], references: References) -> Json {
    match template(references) {
        Some(grammar) => json!({"anyOf": [
            {"enum": options},
            {"type": "string", "allOf": [{"pattern": grammar}, {"pattern": CONTAINS_REFERENCE}],
             "description": "A value built from references, checked once they are resolved"}
        ]}),
        None => json!({"enum": options}),
    }
}

fn list_schema(items: Json, non_empty: bool) -> Json {
    let mut schema = json!({"type": "array", "items": items});
    if non_empty {
        schema["minItems"] = json!(1);
    }
    schema
}

fn table_schema(fields: &[FieldSpec], references: References) -> Json {
    let properties: Map<String, Json> =
        fields.iter().map(|f| (f.name.to_string(), field_schema(f, references))).collect();
    let required: Vec<&str> = fields.iter().filter(|f| f.required).map(|f| f.name).collect();
    json!({"type": "object", "additionalProperties": false, "required": required, "properties": properties})
}

/// A value of another type may be given as one reference that resolves to it.
fn or_reference(schema: Json, references: References) -> Json {
    match single_reference(references) {
        Some(reference) => json!({"anyOf": [schema, {
            "type": "string",
            "pattern": reference,
            "description": "One reference standing for the value, e.g. `\"${var.NAME}\"`"
        }]}),
        None => schema,
    }
}

/// Whether strings of this kind appear in the file (so a note on references helps there).
fn takes_strings(kind: &FieldKind) -> bool {
    match kind {
        FieldKind::String | FieldKind::Json | FieldKind::StringList | FieldKind::StringMap | FieldKind::Tags => true,
        FieldKind::Enum(_) | FieldKind::Any | FieldKind::Value => true,
        FieldKind::List(item) | FieldKind::Map(item) => takes_strings(item),
        FieldKind::OneOf(kinds) => kinds.iter().any(takes_strings),
        FieldKind::Bool | FieldKind::Int | FieldKind::Table(_) | FieldKind::TableList(_) | FieldKind::Secret => false,
    }
}

fn reference_note(references: References) -> Option<&'static str> {
    match references {
        References::Any => Some("May hold references: `${TYPE.NAME.ATTRIBUTE}`, `${var.NAME}`, `${network.vpc_id}`, `${stack.name}` (`$${` for a literal `${`)"),
        References::Variables => Some("May hold `${var.NAME}`"),
        References::VariablesAndStackName => Some("May hold `${var.NAME}` and `${stack.name}`"),
        References::VariablesOrResources => Some("May hold `${var.NAME}` or `${TYPE.NAME.ATTRIBUTE}`"),
        References::None => None,
    }
}

/// The default as JSON, where it is a plain value.
fn default_value(default: &Default) -> Option<Json> {
    default.literal().and_then(|value| value.to_json())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_section_is_in_the_schema_and_nothing_else_is_allowed() {
        let schema = stack_schema(&[]);
        assert_eq!(schema["additionalProperties"], json!(false));
        for section in SECTIONS {
            assert!(schema["properties"].get(section.name).is_some(), "{}", section.name);
        }
        let notify = &schema["properties"]["notify"];
        assert_eq!(notify["additionalProperties"], json!(false));
        assert_eq!(notify["properties"]["events"]["default"], json!(["finished", "failed", "summary"]));
        assert_eq!(notify["properties"]["format"]["enum"], json!(["json", "slack", "discord"]));
        assert_eq!(
            schema["properties"]["stack"]["properties"]["name"]["anyOf"][0]["pattern"],
            json!("^[a-z][a-z0-9-]{0,27}$")
        );
    }

    #[test]
    fn booleans_take_one_reference_and_sections_without_references_do_not() {
        static FIELDS: &[FieldSpec] = &[FieldSpec::new("flag", FieldKind::Bool, "A flag")];
        let resource = ResourceSchema {
            type_name: "thing",
            description: "A thing",
            fields: FIELDS,
            attributes: &["id"],
            taggable: true,
            derived: &[],
            create_before_destroy: false,
        };
        let schema = stack_schema(&[&resource]);
        let flag = &schema["properties"]["thing"]["additionalProperties"]["properties"]["flag"];
        assert_eq!(flag["anyOf"][0]["type"], json!("boolean"));
        assert_eq!(flag["anyOf"][1]["type"], json!("string"));
        let optional = &schema["properties"]["notify"]["properties"]["webhook"]["anyOf"][1]["properties"]["optional"];
        assert_eq!(optional["type"], json!("boolean"), "{optional}");
    }
}
