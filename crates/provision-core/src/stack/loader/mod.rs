//! Reads a stack file into a [`Stack`], checking it against the resource schemas.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use toml::de::{DeTable, DeValue};
use toml::Spanned;

use super::diagnostic::Diagnostic;
use super::expression::{parse_template, Expr, Part, Reference, SpannedExpr};
use super::{NetworkSpec, Output, ResourceSpec, Stack, StackError, StateLocation};
use crate::address::{is_valid_resource_name, Address};
use crate::driver::DriverRegistry;
use crate::graph::DependencyGraph;
use crate::schema::{FieldKind, FieldSpec, ResourceSchema};
use crate::value::Value;

mod across;
mod moved;
mod notify;
mod own_network;
mod protect;
mod references;
mod state_section;
mod suggest;
#[cfg(test)]
mod test_drivers;
mod values;

use references::add_derived_fields;
use suggest::{suggestion_suffix, with_suggestion};

#[derive(Clone, Debug, Default)]
pub struct LoadOptions {
    /// `--var KEY=VALUE` overrides, in the order given.
    pub variables: Vec<(String, String)>,
}

const SECTIONS: &[&str] = &["stack", "state", "variables", "network", "outputs", "moved", "notify"];
const NETWORK_ATTRIBUTES: &[&str] = &["vpc_id", "subnet_ids", "public_subnet_ids"];
const STACK_ATTRIBUTES: &[&str] = &["name", "region"];

pub fn load(path: &Path, options: &LoadOptions, drivers: &DriverRegistry) -> Result<Stack, StackError> {
    let source = std::fs::read_to_string(path).map_err(|error| StackError {
        path: path.to_path_buf(),
        source: String::new(),
        diagnostics: vec![Diagnostic::error(format!("cannot read stack file `{}`: {error}", path.display()), None)
            .hint("pass the stack file with `-f FILE` (default: `./stack.toml`)")],
    })?;
    let table = match DeTable::parse(&source) {
        Ok(table) => table,
        Err(error) => {
            let diagnostic =
                Diagnostic::error(format!("invalid TOML: {}", error.message().trim_end()), error.span().or(Some(0..0)));
            return Err(StackError { path: path.to_path_buf(), source, diagnostics: vec![diagnostic] });
        }
    };
    let mut loader = Loader { diagnostics: Vec::new(), drivers };
    let stack = loader.stack(path, &source, table.get_ref(), options);
    let errors: Vec<Diagnostic> = loader.diagnostics.iter().filter(|d| d.is_error()).cloned().collect();
    match stack {
        Some(mut stack) if errors.is_empty() => {
            stack.warnings = loader.diagnostics;
            Ok(stack)
        }
        _ => Err(StackError { path: path.to_path_buf(), source, diagnostics: errors }),
    }
}

struct Loader<'d> {
    diagnostics: Vec<Diagnostic>,
    drivers: &'d DriverRegistry,
}

type Entry<'a, 'i> = (&'a Spanned<std::borrow::Cow<'i, str>>, &'a Spanned<DeValue<'i>>);

impl Loader<'_> {
    fn error(&mut self, diagnostic: Diagnostic) {
        self.diagnostics.push(diagnostic);
    }

    fn stack(&mut self, path: &Path, source: &str, root: &DeTable<'_>, options: &LoadOptions) -> Option<Stack> {
        let section = |name: &str| root.iter().find(|(k, _)| k.get_ref() == name).map(|(k, v)| (k, v));
        for (key, _) in root.iter() {
            let name = key.get_ref().as_ref();
            if !SECTIONS.contains(&name) && self.drivers.get(name).is_none() {
                let mut known: Vec<&str> = SECTIONS.to_vec();
                known.extend(self.drivers.type_names());
                let diagnostic =
                    Diagnostic::error(format!("unknown section or resource type `{name}`"), Some(key.span()));
                self.error(with_suggestion(diagnostic, name, &known, "resource types"));
            }
        }

        let variables = match section("variables") {
            Some(entry) => self.variables(entry, options),
            None => {
                self.unknown_overrides(options, &BTreeMap::new());
                BTreeMap::new()
            }
        };

        let Some(stack_entry) = section("stack") else {
            self.error(
                Diagnostic::error("the stack file has no `[stack]` table", Some(0..0))
                    .hint("add `[stack]` with `name = \"my-app\"` at the top"),
            );
            return None;
        };
        let header = self.stack_header(stack_entry, &variables)?;

        let state = match section("state") {
            Some(entry) => self.state(entry, &header.name, &variables),
            None => Some(StateLocation::Local(PathBuf::from("state").join(format!("{}.json", header.name)))),
        }?;
        let network = match section("network") {
            Some(entry) => self.network(entry),
            None => NetworkSpec { vpc: "default".into(), subnets: None, own: None },
        };
        let notify = section("notify").and_then(|entry| self.notify(path, source, entry));
        let outputs = match section("outputs") {
            Some((_, value)) => self.outputs(value),
            None => Vec::new(),
        };

        let mut resources = BTreeMap::new();
        for (key, value) in root.iter() {
            if let Some(driver) = self.drivers.get(key.get_ref()) {
                self.resources_of_type(driver.schema(), value, &variables, &header.tags, &mut resources);
            }
        }
        for resource in resources.values_mut() {
            add_derived_fields(self.drivers, resource);
        }
        let mut outputs = outputs;
        if let Some(entry) = section("network") {
            self.place_in_own_network(&network, entry, &mut resources, &mut outputs, &variables);
        }

        let moved = match section("moved") {
            Some((_, value)) => self.moved(value, &resources),
            None => Vec::new(),
        };
        self.check_references(&resources, &outputs, &variables);
        self.checks_across_resources(&resources);
        let graph = self.graph(&resources);

        let uses = |expr: &SpannedExpr| expr.references().iter().any(|(r, _)| matches!(r, Reference::Network(_)));
        let defaults_to_network = |resource: &ResourceSpec| {
            self.drivers.get(&resource.address.type_name).is_some_and(|driver| {
                driver.schema().fields.iter().any(|f| f.default.uses_network() && !resource.fields.contains_key(f.name))
            })
        };
        let uses_network = resources.values().any(|r| r.fields.values().any(uses) || defaults_to_network(r))
            || outputs.iter().any(|o| uses(&o.value));

        Some(Stack {
            path: path.to_path_buf(),
            source: source.to_string(),
            name: header.name,
            region: header.region,
            endpoint: header.endpoint,
            tags: header.tags,
            state,
            variables,
            network,
            outputs,
            resources,
            graph: graph?,
            moved,
            uses_network,
            warnings: Vec::new(),
            notify,
        })
    }

    fn variables(&mut self, (key, value): Entry<'_, '_>, options: &LoadOptions) -> BTreeMap<String, Value> {
        let mut variables = BTreeMap::new();
        let Some(table) = self.table(key, value) else { return variables };
        for (name, value) in table.iter() {
            match literal_value(value.get_ref()) {
                Some(v) => {
                    variables.insert(name.get_ref().to_string(), v);
                }
                None => self.error(Diagnostic::error(
                    format!("variable `{}` must be a string, integer, boolean or list", name.get_ref()),
                    Some(value.span()),
                )),
            }
        }
        self.unknown_overrides(options, &variables);
        for (name, text) in &options.variables {
            let Some(declared) = variables.get(name) else { continue };
            let value = match declared {
                Value::Int(_) => match text.parse::<i64>() {
                    Ok(i) => Value::Int(i),
                    Err(_) => {
                        self.error(Diagnostic::error(
                            format!("`--var {name}={text}`: `{name}` is an integer variable"),
                            None,
                        ));
                        continue;
                    }
                },
                Value::Bool(_) => match text.as_str() {
                    "true" => Value::Bool(true),
                    "false" => Value::Bool(false),
                    _ => {
                        self.error(Diagnostic::error(
                            format!("`--var {name}={text}`: `{name}` is a boolean variable; use `true` or `false`"),
                            None,
                        ));
                        continue;
                    }
                },
                Value::List(_) => Value::List(text.split(',').map(|s| Value::Str(s.trim().to_string())).collect()),
                _ => Value::Str(text.clone()),
            };
            variables.insert(name.clone(), value);
        }
        variables
    }

    fn unknown_overrides(&mut self, options: &LoadOptions, declared: &BTreeMap<String, Value>) {
        for (name, _) in &options.variables {
            if !declared.contains_key(name) {
                let known: Vec<&str> = declared.keys().map(String::as_str).collect();
                let diagnostic =
                    Diagnostic::error(format!("`--var {name}=…` names a variable the stack does not declare"), None)
                        .hint(format!("declare it in `[variables]`{}", suggestion_suffix(name, &known)));
                self.error(diagnostic);
            }
        }
    }

    fn stack_header(&mut self, (key, value): Entry<'_, '_>, variables: &BTreeMap<String, Value>) -> Option<Header> {
        let table = self.table(key, value)?;
        let mut header = Header::default();
        let mut name = None;
        for (field, value) in table.iter() {
            match field.get_ref().as_ref() {
                "name" => name = self.string_with_variables(value, variables),
                "region" => {
                    header.region = self.string_with_variables(value, variables).map(|(text, span)| {
                        if let Some(problem) = super::region::region_problem(&text) {
                            self.error(
                                Diagnostic::error(problem, Some(span))
                                    .hint("set `region` to the AWS region to deploy to, e.g. `us-east-1`"),
                            );
                        }
                        text
                    })
                }
                "endpoint" => header.endpoint = self.string_with_variables(value, variables).map(|(text, _)| text),
                "tags" => {
                    header.tags = self.string_map(value, variables);
                    self.check_tag_count("every resource", header.tags.len(), 0, value.span());
                }
                other => {
                    let diagnostic =
                        Diagnostic::error(format!("unknown field `{other}` in `[stack]`"), Some(field.span()));
                    self.error(with_suggestion(diagnostic, other, &["name", "region", "tags", "endpoint"], "fields"));
                }
            }
        }
        let Some((name, span)) = name else {
            self.error(Diagnostic::error("`[stack]` has no `name`", Some(key.span())).hint("add `name = \"my-app\"`"));
            return None;
        };
        if !is_valid_stack_name(&name) {
            self.error(
                Diagnostic::error(format!("stack name `{name}` is not valid"), Some(span))
                    .hint("use 1 to 28 characters: a lowercase letter, then lowercase letters, digits or `-`"),
            );
        }
        header.name = name;
        Some(header)
    }

    fn network(&mut self, (key, value): Entry<'_, '_>) -> NetworkSpec {
        let mut network = NetworkSpec { vpc: "default".into(), subnets: None, own: None };
        let Some(table) = self.table(key, value) else { return network };
        for (field, value) in table.iter() {
            match field.get_ref().as_ref() {
                "vpc" => match value.get_ref().as_str() {
                    Some(text) => {
                        network.vpc = text.to_string();
                        network.own = self.own_network_reference(text, value.span());
                    }
                    None => self.error(Diagnostic::error(
                        "`vpc` must be a string: `\"default\"`, a VPC id or `\"${vpc.NAME.id}\"`",
                        Some(value.span()),
                    )),
                },
                "subnets" => {
                    let list = value.get_ref().as_array().and_then(|items| {
                        items.iter().map(|item| item.get_ref().as_str().map(str::to_string)).collect::<Option<Vec<_>>>()
                    });
                    match list {
                        Some(list) if !list.is_empty() => network.subnets = Some(list),
                        _ => self.error(Diagnostic::error(
                            "`subnets` must be a non-empty list of subnet ids",
                            Some(value.span()),
                        )),
                    }
                }
                other => {
                    let diagnostic =
                        Diagnostic::error(format!("unknown field `{other}` in `[network]`"), Some(field.span()));
                    self.error(with_suggestion(diagnostic, other, &["vpc", "subnets"], "fields"));
                }
            }
        }
        network
    }

    fn outputs(&mut self, value: &Spanned<DeValue<'_>>) -> Vec<Output> {
        let Some(table) = value.get_ref().as_table() else {
            self.error(Diagnostic::error("`outputs` must be a table", Some(value.span())));
            return Vec::new();
        };
        let mut outputs = Vec::new();
        for (name, value) in table.iter() {
            if let Some(expr) = self.any_expr(value) {
                outputs.push(Output { name: name.get_ref().to_string(), value: expr });
            }
        }
        outputs
    }

    fn resources_of_type(
        &mut self,
        schema: &'static ResourceSchema,
        value: &Spanned<DeValue<'_>>,
        variables: &BTreeMap<String, Value>,
        stack_tags: &BTreeMap<String, String>,
        resources: &mut BTreeMap<Address, ResourceSpec>,
    ) {
        let Some(table) = value.get_ref().as_table() else {
            self.error(
                Diagnostic::error(format!("`{}` must be a table of resources", schema.type_name), Some(value.span()))
                    .hint(format!("write `[{}.NAME]`", schema.type_name)),
            );
            return;
        };
        for (name, body) in table.iter() {
            let name_text = name.get_ref().as_ref();
            if !is_valid_resource_name(name_text) {
                self.error(
                    Diagnostic::error(
                        format!("`{}.{name_text}`: resource names must match `^[a-z][a-z0-9_]*$`", schema.type_name),
                        Some(name.span()),
                    )
                    .hint("use lowercase letters, digits and `_`, starting with a letter"),
                );
                continue;
            }
            let address = Address::new(schema.type_name, name_text);
            let Some(fields) = body.get_ref().as_table() else {
                self.error(Diagnostic::error(format!("`{address}` must be a table"), Some(body.span())));
                continue;
            };
            let mut resource = ResourceSpec {
                address: address.clone(),
                span: name.span(),
                fields: BTreeMap::new(),
                tags: BTreeMap::new(),
                depends_on: Vec::new(),
                protect: false,
            };
            for (field, value) in fields.iter() {
                let field_name = field.get_ref().as_ref();
                match field_name {
                    "tags" => {
                        resource.tags = self.string_map(value, variables);
                        if schema.taggable {
                            let shared = stack_tags.len();
                            self.check_tag_count(&address.to_string(), shared, resource.tags.len(), value.span());
                        }
                    }
                    "depends_on" => resource.depends_on = self.depends_on(value),
                    "protect" => resource.protect = self.protect(&address, value, variables),
                    _ => match schema.field(field_name) {
                        Some(spec) => {
                            if let Some(expr) = self.field_expr(&address, spec, value) {
                                resource.fields.insert(field_name.to_string(), expr);
                            }
                        }
                        None => {
                            let mut known: Vec<&str> = schema.fields.iter().map(|f| f.name).collect();
                            known.extend(["tags", "depends_on", "protect"]);
                            let diagnostic = Diagnostic::error(
                                format!("unknown field `{field_name}` in `{address}`"),
                                Some(field.span()),
                            )
                            .label(format!("not a field of `{}`", schema.type_name));
                            self.error(with_suggestion(diagnostic, field_name, &known, "fields"));
                        }
                    },
                }
            }
            self.cross_field_checks(schema, &resource, variables);
            for spec in schema.fields.iter().filter(|f| f.required) {
                if !resource.fields.contains_key(spec.name) {
                    self.error(
                        Diagnostic::error(
                            format!("`{address}` is missing the required field `{}`", spec.name),
                            Some(name.span()),
                        )
                        .hint(format!("add `{} = …`: {}", spec.name, spec.description)),
                    );
                }
            }
            resources.insert(address, resource);
        }
    }

    /// The driver's checks across fields, on the literal values (references unknown, defaults in).
    fn cross_field_checks(
        &mut self,
        schema: &ResourceSchema,
        resource: &ResourceSpec,
        variables: &BTreeMap<String, Value>,
    ) {
        let Some(driver) = self.drivers.get(schema.type_name) else { return };
        let lookup = |reference: &Reference| match reference {
            Reference::Variable(name) => variables.get(name).cloned().unwrap_or(Value::Unknown),
            _ => Value::Unknown,
        };
        let mut values: BTreeMap<String, Value> =
            resource.fields.iter().map(|(name, expr)| (name.clone(), expr.resolve(&lookup))).collect();
        for spec in schema.fields {
            if values.contains_key(spec.name) {
                continue;
            }
            let default = match &spec.default {
                crate::schema::Default::Bool(b) => Value::Bool(*b),
                crate::schema::Default::Int(i) => Value::Int(*i),
                crate::schema::Default::Str(s) => Value::Str(s.to_string()),
                _ => continue,
            };
            values.insert(spec.name.to_string(), default);
        }
        for problem in driver.check(&values) {
            let span = resource.fields.get(&problem.field).map(|e| e.span.clone()).unwrap_or(resource.span.clone());
            let message = format!("`{}.{}`: {}", resource.address, problem.field, problem.message);
            let mut diagnostic = if problem.warning {
                Diagnostic::warning(message, Some(span))
            } else {
                Diagnostic::error(message, Some(span))
            };
            if let Some(hint) = problem.hint {
                diagnostic = diagnostic.hint(hint);
            }
            self.error(diagnostic);
        }
    }

    fn depends_on(&mut self, value: &Spanned<DeValue<'_>>) -> Vec<Address> {
        let mut addresses = Vec::new();
        let Some(items) = value.get_ref().as_array() else {
            self.error(Diagnostic::error(
                "`depends_on` must be a list of addresses like `\"s3_bucket.site\"`",
                Some(value.span()),
            ));
            return addresses;
        };
        for item in items.iter() {
            match item.get_ref().as_str().map(str::parse::<Address>) {
                Some(Ok(address)) => addresses.push(address),
                Some(Err(message)) => self.error(Diagnostic::error(message, Some(item.span()))),
                None => self.error(Diagnostic::error("`depends_on` entries must be strings", Some(item.span()))),
            }
        }
        addresses
    }
}

#[derive(Default)]
struct Header {
    name: String,
    region: Option<String>,
    endpoint: Option<String>,
    tags: BTreeMap<String, String>,
}

fn literal_value(value: &DeValue<'_>) -> Option<Value> {
    Some(match value {
        DeValue::String(s) => Value::Str(s.to_string()),
        DeValue::Integer(i) => Value::Int(i64::from_str_radix(&i.as_str().replace('_', ""), i.radix()).ok()?),
        DeValue::Boolean(b) => Value::Bool(*b),
        DeValue::Array(items) => {
            Value::List(items.iter().map(|item| literal_value(item.get_ref())).collect::<Option<_>>()?)
        }
        _ => return None,
    })
}

/// A stack name as the spec allows it: a lowercase letter, then lowercase letters, digits and `-`,
/// at most 28 characters (it prefixes AWS names).
pub fn is_valid_stack_name(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() <= 28
        && matches!(chars.next(), Some('a'..='z'))
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stack_names_follow_the_spec() {
        assert!(is_valid_stack_name("shop-dev"));
        assert!(!is_valid_stack_name("Shop"));
        assert!(!is_valid_stack_name("a-name-that-is-far-too-long-for-aws"));
    }
}
