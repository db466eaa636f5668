//! Turning a resource's field expressions into input values: references resolved, defaults filled
//! in, types coerced, tags merged, and the driver's own derived inputs added.
//!
//! The planner runs this with some attributes still unknown; the executor runs it again just before
//! each action, when everything the resource depends on has been applied and is known.

use std::collections::BTreeMap;

use crate::address::Address;
use crate::cloud::Network;
use crate::driver::{Driver, StackInfo};
use crate::schema::{Default, FieldKind, FieldSpec};
use crate::stack::{default_aws_name, Reference, ResourceSpec, SpannedExpr, Stack};
use crate::value::{JsonMap, Value};

pub struct Resolver<'a> {
    pub stack: &'a Stack,
    pub info: &'a StackInfo,
    /// `None` while the network has not been looked up (offline plans without a cached network).
    pub network: Option<&'a Network>,
}

/// A resource's inputs, with every value that is already known.
#[derive(Clone, Debug, PartialEq)]
pub struct DesiredInputs {
    pub values: BTreeMap<String, Value>,
    /// Secret fields in clear, for the driver only; `values` holds their salted hashes.
    pub secrets: BTreeMap<String, String>,
}

impl DesiredInputs {
    pub fn is_known(&self) -> bool {
        self.values.values().all(Value::is_known)
    }

    /// The inputs as JSON; `None` while any is unknown.
    pub fn to_json(&self) -> Option<JsonMap> {
        self.values.iter().map(|(k, v)| Some((k.clone(), v.to_json()?))).collect()
    }
}

impl Resolver<'_> {
    /// The value of a reference, `Unknown` when it cannot be known yet.
    pub fn lookup(
        &self,
        reference: &Reference,
        attributes: &dyn Fn(&Address) -> Option<BTreeMap<String, Value>>,
    ) -> Value {
        match reference {
            Reference::Resource { address, attribute } => {
                attributes(address).and_then(|a| a.get(attribute).cloned()).unwrap_or(Value::Unknown)
            }
            Reference::Variable(name) => self.stack.variables.get(name).cloned().unwrap_or(Value::Unknown),
            Reference::Network(name) => match (self.network, name.as_str()) {
                (Some(network), "vpc_id") => Value::Str(network.vpc_id.clone()),
                (Some(network), "subnet_ids") => {
                    Value::List(network.subnet_ids.iter().cloned().map(Value::Str).collect())
                }
                (Some(network), "public_subnet_ids") => {
                    Value::List(network.public_subnets().iter().cloned().map(Value::Str).collect())
                }
                _ => Value::Unknown,
            },
            Reference::Stack(name) => match name.as_str() {
                "name" => Value::Str(self.stack.name.clone()),
                "region" => Value::Str(self.info.region.clone()),
                _ => Value::Unknown,
            },
        }
    }

    pub fn resolve_expr(
        &self,
        expr: &SpannedExpr,
        attributes: &dyn Fn(&Address) -> Option<BTreeMap<String, Value>>,
    ) -> Value {
        expr.resolve(&|reference| self.lookup(reference, attributes))
    }
}

/// Resolves one resource's inputs, with the driver's derived inputs (file hashes of an upload
/// folder: this reads local files). Errors name the resource address and field.
pub fn desired_inputs(
    resolver: &Resolver<'_>,
    driver: &dyn Driver,
    resource: &ResourceSpec,
    attributes: &dyn Fn(&Address) -> Option<BTreeMap<String, Value>>,
    prior: Option<&JsonMap>,
) -> Result<DesiredInputs, String> {
    let mut desired = resolve_inputs(resolver, driver, resource, attributes, prior)?;
    prepare_inputs(resolver.info, driver, &resource.address, &mut desired)?;
    Ok(desired)
}

/// Resolves one resource's inputs without the driver's derived ones (no local I/O). `prior` holds
/// earlier hashes of its secrets, whose salts are reused so an unchanged secret hashes the same.
pub fn resolve_inputs(
    resolver: &Resolver<'_>,
    driver: &dyn Driver,
    resource: &ResourceSpec,
    attributes: &dyn Fn(&Address) -> Option<BTreeMap<String, Value>>,
    prior: Option<&JsonMap>,
) -> Result<DesiredInputs, String> {
    let schema = driver.schema();
    let address = &resource.address;
    let mut values = BTreeMap::new();
    let mut secrets = BTreeMap::new();
    for spec in schema.fields.iter().filter(|f| matches!(f.kind, FieldKind::Secret)) {
        let Some(expr) = resource.fields.get(spec.name) else { continue };
        let Value::Map(source) = expr.resolve(&|_| Value::Unknown) else { continue };
        let Some(Value::Str(variable)) = source.get("env") else { continue };
        let secret = std::env::var(variable).map_err(|_| {
            format!("`{address}.{}` reads the environment variable `{variable}`, which is not set", spec.name)
        })?;
        let previous = prior.and_then(|p| p.get(spec.name)).and_then(|v| v.as_str());
        values.insert(spec.name.to_string(), Value::Str(secret_hash(&secret, previous)));
        secrets.insert(spec.name.to_string(), secret);
    }
    for (name, expr) in &resource.fields {
        if secrets.contains_key(name) {
            continue;
        }
        let value = resolver.resolve_expr(expr, attributes);
        let value = match schema.field(name) {
            Some(spec) => {
                let value = coerce(&format!("{address}.{name}"), &spec.kind, value)?;
                if let (Some(check), Value::Str(text)) = (spec.check, &value) {
                    check(text).map_err(|message| format!("`{address}.{name}`: {message}"))?;
                }
                if let Some(problem) = crate::schema::value_problem(spec, &value) {
                    return Err(format!("`{address}.{name}`{problem}"));
                }
                value
            }
            None => value,
        };
        values.insert(name.clone(), value);
    }
    for spec in schema.fields {
        if !values.contains_key(spec.name) {
            if let Some(value) = default_value(resolver, address, spec) {
                values.insert(spec.name.to_string(), value);
            }
        }
    }
    // A replacement generation (`--replace` of a create-before-destroy type) is kept from one
    // plan to the next, and hashed into the default name, so the new copy keeps its new name.
    if let Some(generation) = prior.and_then(|p| p.get(GENERATION)).and_then(serde_json::Value::as_i64) {
        values.insert(GENERATION.to_string(), Value::Int(generation));
    }
    // Subnets chosen by another field (a load balancer's scheme), once that field has its default.
    for spec in schema.fields {
        if let (Default::NetworkSubnetIdsUnless(flag), false) = (&spec.default, values.contains_key(spec.name)) {
            let private = match values.get(*flag) {
                Some(Value::Bool(on)) => Some(*on),
                Some(Value::Unknown) => None,
                _ => Some(false),
            };
            let value = match private {
                Some(true) => resolver.lookup(&Reference::Network("subnet_ids".into()), &|_| None),
                Some(false) => resolver.lookup(&Reference::Network("public_subnet_ids".into()), &|_| None),
                None => Value::Unknown,
            };
            values.insert(spec.name.to_string(), value);
        }
    }
    // Names that hash other fields come last, once those fields have their defaults too.
    for spec in schema.fields {
        if let (Default::AwsNameHashing { max_len, fields }, false) = (&spec.default, values.contains_key(spec.name)) {
            values.insert(
                spec.name.to_string(),
                hashed_name(&resolver.stack.name, &address.name, *max_len, fields, &values),
            );
        }
    }
    if let Some(problem) = driver.check(&values).into_iter().find(|p| !p.warning) {
        let hint = problem.hint.map(|h| format!("\n\nhint: {h}")).unwrap_or_default();
        return Err(format!("`{address}.{}`: {}{hint}", problem.field, problem.message));
    }
    if schema.taggable {
        let mut tags: BTreeMap<String, Value> =
            resolver.stack.tags.iter().map(|(k, v)| (k.clone(), Value::Str(v.clone()))).collect();
        tags.extend(resource.tags.iter().map(|(k, v)| (k.clone(), Value::Str(v.clone()))));
        values.insert("tags".into(), Value::Map(tags));
    }
    Ok(DesiredInputs { values, secrets })
}

/// Adds the inputs the driver derives from the known ones (e.g. file hashes of an upload folder).
pub fn prepare_inputs(
    info: &StackInfo,
    driver: &dyn Driver,
    address: &Address,
    desired: &mut DesiredInputs,
) -> Result<(), String> {
    let values = &mut desired.values;
    let mut known: JsonMap = values.iter().filter_map(|(k, v)| Some((k.clone(), v.to_json()?))).collect();
    let before: Vec<String> = known.keys().cloned().collect();
    driver.prepare(info, &mut known).map_err(|error| format!("{address}: {}", error.message))?;
    for (key, value) in known {
        // A value still unknown stays unknown: the driver only saw the known ones.
        if !values.get(&key).is_some_and(|v| !v.is_known()) || before.contains(&key) {
            values.insert(key, Value::from_json(&value));
        }
    }
    Ok(())
}

/// The hidden input counting forced replacements of a resource whose default name is hashed.
pub const GENERATION: &str = "generation";

/// `sha256:SALT:HASH` of a secret. With the previously stored hash, its salt is reused, so an
/// unchanged secret hashes the same and a changed one differently — without the value being kept.
pub fn secret_hash(secret: &str, previous: Option<&str>) -> String {
    use sha2::{Digest, Sha256};
    let salt = previous
        .and_then(|p| p.strip_prefix("sha256:"))
        .and_then(|p| p.split_once(':'))
        .map(|(salt, _)| salt.to_string())
        .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
    let hash = hex::encode(Sha256::digest(format!("{salt}:{secret}").as_bytes()));
    format!("sha256:{salt}:{hash}")
}

fn default_value(resolver: &Resolver<'_>, address: &Address, spec: &FieldSpec) -> Option<Value> {
    let value = match &spec.default {
        Default::None => match &spec.kind {
            // A table whose fields have defaults exists with those defaults.
            FieldKind::Table(fields) if fields.iter().any(|f| !matches!(f.default, Default::None)) => Value::Map(
                fields
                    .iter()
                    .filter_map(|f| Some((f.name.to_string(), default_value(resolver, address, f)?)))
                    .collect(),
            ),
            _ => return None,
        },
        Default::Bool(_)
        | Default::Int(_)
        | Default::Str(_)
        | Default::EmptyList
        | Default::EmptyMap
        | Default::StrList(_) => spec.default.literal()?,
        Default::AwsName { max_len } => Value::Str(default_aws_name(&resolver.stack.name, &address.name, *max_len)),
        Default::AwsNameHashing { .. } => return None,
        Default::Pattern(pattern) => {
            Value::Str(crate::schema::fill_pattern(pattern, &resolver.stack.name, &address.name))
        }
        Default::NetworkVpcId => resolver.lookup(&Reference::Network("vpc_id".into()), &|_| None),
        Default::NetworkSubnetIds => resolver.lookup(&Reference::Network("subnet_ids".into()), &|_| None),
        // Filled in once the field it follows has its value (`resolve_inputs`).
        Default::NetworkSubnetIdsUnless(_) => return None,
        Default::InDefaultVpc => Value::Bool(resolver.stack.network.is_default_vpc()),
    };
    Some(value)
}

/// `<stack>-<resource>-<hash of the fields>`, unknown while any of those fields is.
fn hashed_name(
    stack: &str,
    resource: &str,
    max_len: usize,
    fields: &[&str],
    values: &BTreeMap<String, Value>,
) -> Value {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    if let Some(Value::Int(generation)) = values.get(GENERATION) {
        hasher.update(format!("{GENERATION}={generation}").as_bytes());
    }
    for field in fields {
        let Some(json) = values.get(*field).map(Value::to_json) else { continue };
        let Some(json) = json else { return Value::Unknown };
        hasher.update(field.as_bytes());
        hasher.update(json.to_string().as_bytes());
    }
    let hash = hex::encode(hasher.finalize());
    let suffix = &hash[..4];
    let base = default_aws_name(stack, resource, max_len.saturating_sub(suffix.len() + 1));
    Value::Str(format!("{base}-{suffix}"))
}

/// Checks a resolved value against the field type, converting where the meaning is plain
/// (`"8080"` for an integer field, `80` for a string field).
pub fn coerce(path: &str, kind: &FieldKind, value: Value) -> Result<Value, String> {
    if let Value::Unknown = value {
        return Ok(value);
    }
    let wrong = |value: &Value| format!("`{path}` must be {}, got {}", kind.describe(), value.type_name());
    Ok(match kind {
        FieldKind::String => match value {
            Value::Str(_) => value,
            Value::Int(i) => Value::Str(i.to_string()),
            Value::Bool(b) => Value::Str(b.to_string()),
            other => return Err(wrong(&other)),
        },
        FieldKind::Json => match value {
            Value::Str(text) => {
                let parsed: serde_json::Value =
                    serde_json::from_str(&text).map_err(|e| format!("`{path}` is not valid JSON: {e}"))?;
                // Canonical form (sorted keys, no spaces) so formatting changes are not changes.
                Value::Str(Value::from_json(&parsed).to_json().map(|j| j.to_string()).unwrap_or(text))
            }
            other => return Err(wrong(&other)),
        },
        FieldKind::Secret => value,
        FieldKind::Enum(options) => match value {
            Value::Str(ref text) if options.contains(&text.as_str()) => value,
            other => {
                return Err(format!(
                    "`{path}` must be {}, got {}",
                    kind.describe(),
                    other.interpolated().map(|t| format!("`\"{t}\"`")).unwrap_or_else(|| other.type_name().into())
                ))
            }
        },
        FieldKind::Int => match value {
            Value::Int(_) => value,
            Value::Str(ref text) => text
                .trim()
                .parse()
                .map(Value::Int)
                .map_err(|_| format!("`{path}` must be an integer, got `\"{text}\"`"))?,
            other => return Err(wrong(&other)),
        },
        FieldKind::Bool => match value {
            Value::Bool(_) => value,
            Value::Str(ref text) if text == "true" || text == "false" => Value::Bool(text == "true"),
            other => return Err(wrong(&other)),
        },
        FieldKind::StringList => match value {
            Value::List(items) => Value::List(
                items
                    .into_iter()
                    .enumerate()
                    .map(|(i, item)| coerce(&format!("{path}[{i}]"), &FieldKind::String, item))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Str(text) => Value::List(vec![Value::Str(text)]),
            other => return Err(wrong(&other)),
        },
        FieldKind::StringMap => match value {
            Value::Map(map) => Value::Map(
                map.into_iter()
                    .map(|(k, v)| Ok((k.clone(), coerce(&format!("{path}.{k}"), &FieldKind::String, v)?)))
                    .collect::<Result<_, String>>()?,
            ),
            other => return Err(wrong(&other)),
        },
        FieldKind::Table(fields) => match value {
            Value::Map(map) => Value::Map(coerce_table(path, fields, map)?),
            other => return Err(wrong(&other)),
        },
        FieldKind::TableList(fields) => match value {
            Value::List(items) => Value::List(
                items
                    .into_iter()
                    .enumerate()
                    .map(|(i, item)| match item {
                        Value::Map(map) => Ok(Value::Map(coerce_table(&format!("{path}[{i}]"), fields, map)?)),
                        Value::Unknown => Ok(Value::Unknown),
                        other => Err(format!("`{path}[{i}]` must be a table, got {}", other.type_name())),
                    })
                    .collect::<Result<_, _>>()?,
            ),
            other => return Err(wrong(&other)),
        },
        FieldKind::List(item) => match value {
            Value::List(items) => Value::List(
                items
                    .into_iter()
                    .enumerate()
                    .map(|(i, v)| coerce(&format!("{path}[{i}]"), item, v))
                    .collect::<Result<_, _>>()?,
            ),
            other => return Err(wrong(&other)),
        },
        FieldKind::Map(_) | FieldKind::Tags => match value {
            Value::Map(map) => {
                let kind = match kind {
                    FieldKind::Map(inner) => *inner,
                    _ => &FieldKind::String,
                };
                Value::Map(
                    map.into_iter()
                        .map(|(k, v)| Ok((k.clone(), coerce(&format!("{path}.{k}"), kind, v)?)))
                        .collect::<Result<_, String>>()?,
                )
            }
            other => return Err(wrong(&other)),
        },
        FieldKind::OneOf(kinds) => {
            let mut first_error = None;
            for kind in kinds.iter() {
                match coerce(path, kind, value.clone()) {
                    Ok(coerced) => return Ok(coerced),
                    Err(error) => {
                        first_error.get_or_insert(error);
                    }
                }
            }
            return Err(first_error.unwrap_or_else(|| wrong(&value)));
        }
        FieldKind::Value | FieldKind::Any => value,
    })
}

fn coerce_table(
    path: &str,
    fields: &[FieldSpec],
    mut map: BTreeMap<String, Value>,
) -> Result<BTreeMap<String, Value>, String> {
    let mut result = BTreeMap::new();
    for spec in fields {
        match map.remove(spec.name) {
            Some(value) => {
                result.insert(spec.name.to_string(), coerce(&format!("{path}.{}", spec.name), &spec.kind, value)?);
            }
            None => {
                if let Some(default) = spec.default.literal() {
                    result.insert(spec.name.to_string(), default);
                }
            }
        }
    }
    result.extend(map);
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_hashes_keep_their_salt_and_never_hold_the_value() {
        let first = secret_hash("hunter2", None);
        assert!(!first.contains("hunter2"));
        assert_eq!(secret_hash("hunter2", Some(&first)), first);
        assert_ne!(secret_hash("hunter3", Some(&first)), first);
        assert_ne!(secret_hash("hunter2", None), first, "a new salt each time there is no previous hash");
    }

    #[test]
    fn strings_become_integers_where_the_field_says_so() {
        assert_eq!(coerce("x.port", &FieldKind::Int, Value::Str("8080".into())), Ok(Value::Int(8080)));
        let error = coerce("x.port", &FieldKind::Int, Value::Str("http".into())).unwrap_err();
        assert!(error.contains("`x.port` must be an integer"), "{error}");
    }

    #[test]
    fn json_documents_compare_by_content() {
        let a = coerce("p", &FieldKind::Json, Value::Str(r#"{ "b": 1, "a": 2 }"#.into())).unwrap();
        let b = coerce("p", &FieldKind::Json, Value::Str(r#"{"a":2,"b":1}"#.into())).unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn enums_name_the_allowed_values() {
        let kind = FieldKind::Enum(&["PriceClass_100", "PriceClass_All"]);
        let error = coerce("cdn.price_class", &kind, Value::Str("cheap".into())).unwrap_err();
        assert!(error.contains("`\"PriceClass_100\"`"), "{error}");
    }
}
