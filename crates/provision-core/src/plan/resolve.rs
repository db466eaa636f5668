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
use crate::stack::{default_aws_name, Expr, Reference, ResourceSpec, SpannedExpr, Stack};
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
    let mut unknown_secrets = Vec::new();
    for (name, secret) in secret_values(resolver, driver, resource, attributes)? {
        match secret {
            Some(secret) => {
                let previous = prior.and_then(|p| p.get(&name)).and_then(|v| v.as_str());
                values.insert(name.clone(), Value::Str(secret_hash(&secret, previous)));
                secrets.insert(name, secret);
            }
            None => unknown_secrets.push(name),
        }
    }
    for name in unknown_secrets {
        values.insert(name, Value::Unknown);
    }
    for (name, expr) in &resource.fields {
        if values.contains_key(name) {
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

pub use crate::state::secret_hash::secret_hash;

/// The clear values of a resource's secret fields, by field name: `{ env = "VAR" }` read from the
/// environment, a reference (a sensitive variable, another resource's attribute) resolved. `None`
/// for a reference that is not known yet (an attribute only its create will tell). These go only to
/// the driver; everything else sees their hashes.
pub fn secret_values(
    resolver: &Resolver<'_>,
    driver: &dyn Driver,
    resource: &ResourceSpec,
    attributes: &dyn Fn(&Address) -> Option<BTreeMap<String, Value>>,
) -> Result<BTreeMap<String, Option<String>>, String> {
    let address = &resource.address;
    let mut secrets = BTreeMap::new();
    for spec in driver.schema().fields.iter().filter(|f| matches!(f.kind, FieldKind::Secret)) {
        let Some(expr) = resource.fields.get(spec.name) else { continue };
        let secret = match &expr.expr {
            Expr::Table(_) => {
                let Value::Map(source) = expr.resolve(&|_| Value::Unknown) else { continue };
                let Some(Value::Str(variable)) = source.get("env") else { continue };
                let secret = std::env::var(variable).map_err(|_| {
                    format!("`{address}.{}` reads the environment variable `{variable}`, which is not set", spec.name)
                })?;
                Some(secret)
            }
            _ => match resolver.resolve_expr(expr, attributes) {
                Value::Unknown => None,
                Value::Null => continue,
                value => match value.interpolated() {
                    Some(text) => Some(text),
                    None => {
                        return Err(format!(
                            "`{address}.{}` must be a string secret, got {}",
                            spec.name,
                            value.type_name()
                        ))
                    }
                },
            },
        };
        secrets.insert(spec.name.to_string(), secret);
    }
    Ok(secrets)
}

/// Replaces the secret hashes a state made before Argon2id (or with weaker parameters) by current
/// ones, where the secret still has the value the old hash was made of. Runs before planning, so an
/// unchanged secret shows no change and the state keeps the new hash on its next write; a secret
/// whose value changed keeps its old hash, and the plan shows the change.
pub fn upgrade_secret_hashes(
    drivers: &crate::driver::DriverRegistry,
    stack: &Stack,
    info: &StackInfo,
    state: &mut crate::state::State,
) {
    use crate::state::secret_hash::{is_outdated, matches, new_hash};
    let resolver = Resolver { stack, info, network: state.network.as_ref() };
    let mut upgrades = Vec::new();
    for (address, entry) in &state.resources {
        let (Some(resource), Some(driver)) = (stack.resources.get(address), drivers.get(&address.type_name)) else {
            continue;
        };
        let outdated: Vec<&String> =
            entry.inputs.iter().filter(|(_, v)| v.as_str().is_some_and(is_outdated)).map(|(k, _)| k).collect();
        if outdated.is_empty() {
            continue;
        }
        let lookup = |a: &Address| {
            state.resources.get(a).map(|r| r.attributes.iter().map(|(k, v)| (k.clone(), Value::from_json(v))).collect())
        };
        let Ok(secrets) = secret_values(&resolver, driver, resource, &lookup) else { continue };
        for field in outdated {
            let (Some(Some(secret)), Some(stored)) =
                (secrets.get(field), entry.inputs.get(field).and_then(|v| v.as_str()))
            else {
                continue;
            };
            if matches(secret, stored) {
                upgrades.push((address.clone(), field.clone(), new_hash(secret)));
            }
        }
    }
    for (address, field, hash) in upgrades {
        if let Some(entry) = state.resources.get_mut(&address) {
            entry.inputs.insert(field, serde_json::Value::String(hash));
        }
    }
}

/// Fields that decide how much a delete destroys beyond the resource itself: the objects in a
/// bucket or the images in a repository, a database's final snapshot, a secret's recovery window.
pub const DESTRUCTIVE_FIELDS: &[&str] = &["force_destroy", "skip_final_snapshot", "final_snapshot", "recovery_days"];

/// The inputs a delete is handed: what the state recorded, except the [`DESTRUCTIVE_FIELDS`],
/// which come from the stack file (its literal value or a variable) or else the field's default.
///
/// The state is not a trusted witness of intent: whoever can write it (a CI role, a leaked
/// bucket policy) could plant an entry for someone else's bucket with `force_destroy = true`, or
/// flip `skip_final_snapshot` on a database. Only the stack file — what the team reviews — can make
/// a delete destroy more than the resource; a resource the file no longer names is deleted with the
/// safe defaults (its objects kept, a final snapshot taken).
pub fn deletion_inputs(stack: &Stack, driver: &dyn Driver, address: &Address, recorded: &JsonMap) -> JsonMap {
    let mut inputs = recorded.clone();
    let schema = driver.schema();
    let written = stack.deletion_settings.get(address).filter(|_| address.type_name == schema.type_name);
    for name in DESTRUCTIVE_FIELDS {
        let Some(spec) = schema.field(name) else { continue };
        let written = written.and_then(|fields| fields.get(*name)).cloned();
        let value = written
            .and_then(|value| coerce(name, &spec.kind, value).ok())
            .and_then(|value| value.to_json())
            .filter(|json| !json.is_null())
            .or_else(|| literal_default(&spec.default).and_then(|value| value.to_json()));
        match value {
            Some(value) => inputs.insert(name.to_string(), value),
            None => inputs.remove(*name),
        };
    }
    inputs
}

fn literal_default(default: &Default) -> Option<Value> {
    match default {
        Default::Bool(b) => Some(Value::Bool(*b)),
        Default::Int(i) => Some(Value::Int(*i)),
        Default::Str(s) => Some(Value::Str(s.to_string())),
        _ => None,
    }
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
