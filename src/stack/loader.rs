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
use crate::drivers;
use crate::graph::DependencyGraph;
use crate::schema::{FieldKind, FieldSpec, ResourceSchema};
use crate::value::Value;

#[derive(Clone, Debug, Default)]
pub struct LoadOptions {
    /// `--var KEY=VALUE` overrides, in the order given.
    pub variables: Vec<(String, String)>,
}

const SECTIONS: &[&str] = &["stack", "state", "variables", "network", "outputs"];
const NETWORK_ATTRIBUTES: &[&str] = &["vpc_id", "subnet_ids"];
const STACK_ATTRIBUTES: &[&str] = &["name", "region"];

pub fn load(path: &Path, options: &LoadOptions) -> Result<Stack, StackError> {
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
    let mut loader = Loader { diagnostics: Vec::new() };
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

struct Loader {
    diagnostics: Vec<Diagnostic>,
}

type Entry<'a, 'i> = (&'a Spanned<std::borrow::Cow<'i, str>>, &'a Spanned<DeValue<'i>>);

impl Loader {
    fn error(&mut self, diagnostic: Diagnostic) {
        self.diagnostics.push(diagnostic);
    }

    fn stack(&mut self, path: &Path, source: &str, root: &DeTable<'_>, options: &LoadOptions) -> Option<Stack> {
        let section = |name: &str| root.iter().find(|(k, _)| k.get_ref() == name).map(|(k, v)| (k, v));
        for (key, _) in root.iter() {
            let name = key.get_ref().as_ref();
            if !SECTIONS.contains(&name) && drivers::driver_for(name).is_none() {
                let mut known: Vec<&str> = SECTIONS.to_vec();
                known.extend(drivers::type_names());
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
            None => NetworkSpec { vpc: "default".into(), subnets: None },
        };
        let outputs = match section("outputs") {
            Some((_, value)) => self.outputs(value),
            None => Vec::new(),
        };

        let mut resources = BTreeMap::new();
        for (key, value) in root.iter() {
            if let Some(driver) = drivers::driver_for(key.get_ref()) {
                self.resources_of_type(driver.schema(), value, &variables, &mut resources);
            }
        }
        for resource in resources.values_mut() {
            add_derived_fields(resource);
        }

        self.check_references(&resources, &outputs, &variables);
        let graph = self.graph(&resources);

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
            warnings: Vec::new(),
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
                "region" => header.region = self.string_with_variables(value, variables).map(|(text, _)| text),
                "endpoint" => header.endpoint = self.string_with_variables(value, variables).map(|(text, _)| text),
                "tags" => header.tags = self.string_map(value, variables),
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

    fn state(
        &mut self,
        (key, value): Entry<'_, '_>,
        stack_name: &str,
        variables: &BTreeMap<String, Value>,
    ) -> Option<StateLocation> {
        let table = self.table(key, value)?;
        let mut location = None;
        for (field, value) in table.iter() {
            let name = field.get_ref().as_ref();
            match name {
                "path" | "s3" => {
                    let (text, span) = self.string_with_variables(value, variables)?;
                    let text = text.replace("${stack.name}", stack_name);
                    if name == "path" {
                        location = Some(StateLocation::Local(PathBuf::from(text)));
                    } else {
                        match text.strip_prefix("s3://").and_then(|rest| rest.split_once('/')) {
                            Some((bucket, key)) if !bucket.is_empty() && !key.is_empty() => {
                                location = Some(StateLocation::S3 { bucket: bucket.into(), key: key.into() })
                            }
                            _ => self.error(
                                Diagnostic::error(format!("`{text}` is not an S3 location"), Some(span))
                                    .hint("write `s3 = \"s3://BUCKET/KEY.json\"`"),
                            ),
                        }
                    }
                }
                other => {
                    let diagnostic =
                        Diagnostic::error(format!("unknown field `{other}` in `[state]`"), Some(field.span()));
                    self.error(with_suggestion(diagnostic, other, &["path", "s3"], "fields"));
                }
            }
        }
        Some(
            location.unwrap_or_else(|| StateLocation::Local(PathBuf::from("state").join(format!("{stack_name}.json")))),
        )
    }

    fn network(&mut self, (key, value): Entry<'_, '_>) -> NetworkSpec {
        let mut network = NetworkSpec { vpc: "default".into(), subnets: None };
        let Some(table) = self.table(key, value) else { return network };
        for (field, value) in table.iter() {
            match field.get_ref().as_ref() {
                "vpc" => match value.get_ref().as_str() {
                    Some(text) => network.vpc = text.to_string(),
                    None => self.error(Diagnostic::error(
                        "`vpc` must be a string: `\"default\"` or a VPC id",
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
            };
            for (field, value) in fields.iter() {
                let field_name = field.get_ref().as_ref();
                match field_name {
                    "tags" => resource.tags = self.string_map(value, variables),
                    "depends_on" => resource.depends_on = self.depends_on(value),
                    _ => match schema.field(field_name) {
                        Some(spec) => {
                            if let Some(expr) = self.field_expr(&address, spec, value) {
                                resource.fields.insert(field_name.to_string(), expr);
                            }
                        }
                        None => {
                            let mut known: Vec<&str> = schema.fields.iter().map(|f| f.name).collect();
                            known.extend(["tags", "depends_on"]);
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
        let Some(driver) = drivers::driver_for(schema.type_name) else { return };
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

    fn field_expr(&mut self, address: &Address, spec: &FieldSpec, value: &Spanned<DeValue<'_>>) -> Option<SpannedExpr> {
        self.typed_expr(&format!("{address}.{}", spec.name), &spec.kind, spec.check, value)
    }

    /// Converts a TOML value to an expression, checking it against the field's type. A string that
    /// is a single reference may stand for any type; it is checked once resolved.
    fn typed_expr(
        &mut self,
        path: &str,
        kind: &FieldKind,
        check: Option<fn(&str) -> Result<(), String>>,
        value: &Spanned<DeValue<'_>>,
    ) -> Option<SpannedExpr> {
        let span = value.span();
        let mismatch = |found: &str| {
            Diagnostic::error(format!("`{path}` must be {}, found {found}", kind.describe()), Some(span.clone()))
        };
        let expr = match value.get_ref() {
            DeValue::String(text) => {
                let parts = self.template(text, &span)?;
                if let (Some(check), [Part::Literal(literal)]) = (check, parts.as_slice()) {
                    if let Err(message) = check(literal) {
                        self.error(Diagnostic::error(format!("`{path}`: {message}"), Some(span.clone())));
                        return None;
                    }
                }
                let is_single_reference = matches!(parts.as_slice(), [Part::Reference(..)]);
                if !is_single_reference {
                    match kind {
                        FieldKind::String | FieldKind::Json => {}
                        FieldKind::Secret => {
                            self.error(
                                Diagnostic::error(
                                    format!("`{path}` is a secret and cannot be written in the stack file"),
                                    Some(span.clone()),
                                )
                                .hint("write `{ env = \"VARIABLE\" }` and set the variable when running provision"),
                            );
                            return None;
                        }
                        FieldKind::Enum(options) => {
                            if let [Part::Literal(literal)] = parts.as_slice() {
                                if !options.contains(&literal.as_str()) {
                                    self.error(mismatch(&format!("`\"{literal}\"`")));
                                    return None;
                                }
                            }
                        }
                        _ => {
                            self.error(mismatch("a string"));
                            return None;
                        }
                    }
                }
                Expr::Template(parts)
            }
            DeValue::Integer(integer) => {
                if !matches!(kind, FieldKind::Int) {
                    self.error(mismatch("an integer"));
                    return None;
                }
                match i64::from_str_radix(&integer.as_str().replace('_', ""), integer.radix()) {
                    Ok(i) => Expr::Int(i),
                    Err(_) => {
                        self.error(Diagnostic::error(format!("`{path}`: integer out of range"), Some(span)));
                        return None;
                    }
                }
            }
            DeValue::Boolean(b) => {
                if !matches!(kind, FieldKind::Bool) {
                    self.error(mismatch("a boolean"));
                    return None;
                }
                Expr::Bool(*b)
            }
            DeValue::Array(items) => {
                let item_kind = match kind {
                    FieldKind::StringList => &FieldKind::String,
                    FieldKind::TableList(fields) => &FieldKind::Table(fields),
                    _ => {
                        self.error(mismatch("a list"));
                        return None;
                    }
                };
                let mut exprs = Vec::new();
                for (index, item) in items.iter().enumerate() {
                    exprs.push(self.typed_expr(&format!("{path}[{index}]"), item_kind, None, item)?);
                }
                Expr::List(exprs)
            }
            DeValue::Table(table) => match kind {
                FieldKind::Secret => {
                    let env = table.iter().find(|(k, _)| k.get_ref() == "env");
                    let valid = table.len() == 1
                        && env.and_then(|(_, v)| v.get_ref().as_str()).is_some_and(|name| {
                            !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                        });
                    if !valid {
                        self.error(
                            Diagnostic::error(format!("`{path}` must be a secret from the environment"), Some(span))
                                .hint("write `{ env = \"VARIABLE\" }`; the value is never stored, only a salted hash"),
                        );
                        return None;
                    }
                    let name = env.and_then(|(_, v)| v.get_ref().as_str()).unwrap_or_default();
                    let value =
                        SpannedExpr { expr: Expr::Template(vec![Part::Literal(name.to_string())]), span: span.clone() };
                    Expr::Table(vec![("env".to_string(), value)])
                }
                FieldKind::StringMap => {
                    let mut entries = Vec::new();
                    for (key, item) in table.iter() {
                        let expr =
                            self.typed_expr(&format!("{path}.{}", key.get_ref()), &FieldKind::String, None, item)?;
                        entries.push((key.get_ref().to_string(), expr));
                    }
                    Expr::Table(entries)
                }
                FieldKind::Table(fields) => {
                    let mut entries = Vec::new();
                    for (key, item) in table.iter() {
                        let name = key.get_ref().as_ref();
                        let Some(spec) = fields.iter().find(|f| f.name == name) else {
                            let known: Vec<&str> = fields.iter().map(|f| f.name).collect();
                            let diagnostic =
                                Diagnostic::error(format!("unknown field `{name}` in `{path}`"), Some(key.span()));
                            self.error(with_suggestion(diagnostic, name, &known, "fields"));
                            return None;
                        };
                        let expr = self.typed_expr(&format!("{path}.{name}"), &spec.kind, spec.check, item)?;
                        entries.push((name.to_string(), expr));
                    }
                    for spec in fields.iter().filter(|f| f.required) {
                        if !entries.iter().any(|(k, _)| k == spec.name) {
                            self.error(Diagnostic::error(
                                format!("`{path}` is missing the required field `{}`", spec.name),
                                Some(span.clone()),
                            ));
                            return None;
                        }
                    }
                    Expr::Table(entries)
                }
                _ => {
                    self.error(mismatch("a table"));
                    return None;
                }
            },
            DeValue::Float(_) => {
                self.error(mismatch("a decimal number"));
                return None;
            }
            DeValue::Datetime(_) => {
                self.error(mismatch("a date"));
                return None;
            }
        };
        Some(SpannedExpr { expr, span })
    }

    /// Any value (outputs): strings may hold references, nothing is type-checked.
    fn any_expr(&mut self, value: &Spanned<DeValue<'_>>) -> Option<SpannedExpr> {
        let span = value.span();
        let expr = match value.get_ref() {
            DeValue::String(text) => Expr::Template(self.template(text, &span)?),
            DeValue::Integer(integer) => Expr::Int(integer.as_str().parse().ok()?),
            DeValue::Boolean(b) => Expr::Bool(*b),
            DeValue::Array(items) => Expr::List(items.iter().map(|item| self.any_expr(item)).collect::<Option<_>>()?),
            DeValue::Table(table) => Expr::Table(
                table.iter().map(|(k, v)| Some((k.get_ref().to_string(), self.any_expr(v)?))).collect::<Option<_>>()?,
            ),
            _ => {
                self.error(Diagnostic::error(
                    "outputs must be strings, integers, booleans, lists or tables",
                    Some(span),
                ));
                return None;
            }
        };
        Some(SpannedExpr { expr, span })
    }

    fn template(&mut self, text: &str, span: &Range<usize>) -> Option<Vec<Part>> {
        // The string's text starts after its opening quote(s).
        let base = span.start + 1;
        match parse_template(text, base) {
            Ok(parts) => Some(parts),
            Err(error) => {
                let start = base + error.offset;
                self.error(Diagnostic::error(error.message, Some(start..(start + 2).min(span.end))));
                None
            }
        }
    }

    fn string_with_variables(
        &mut self,
        value: &Spanned<DeValue<'_>>,
        variables: &BTreeMap<String, Value>,
    ) -> Option<(String, Range<usize>)> {
        let span = value.span();
        let Some(text) = value.get_ref().as_str() else {
            self.error(Diagnostic::error("expected a string", Some(span)));
            return None;
        };
        let parts = self.template(text, &span)?;
        let mut result = String::new();
        for part in parts {
            match part {
                Part::Literal(literal) => result.push_str(&literal),
                Part::Reference(Reference::Variable(name), _) if variables.contains_key(&name) => {
                    match variables[&name].interpolated() {
                        Some(piece) => result.push_str(&piece),
                        None => {
                            self.error(Diagnostic::error(
                                format!("variable `{name}` is not a string"),
                                Some(span.clone()),
                            ));
                            return None;
                        }
                    }
                }
                Part::Reference(reference, reference_span) => {
                    self.error(
                        Diagnostic::error(format!("`${{{reference}}}` cannot be used here"), Some(reference_span))
                            .hint("only declared `${var.NAME}` variables are allowed in this field"),
                    );
                    return None;
                }
            }
        }
        Some((result, span))
    }

    /// A table of strings (tags); values may use `${var.NAME}`.
    fn string_map(
        &mut self,
        value: &Spanned<DeValue<'_>>,
        variables: &BTreeMap<String, Value>,
    ) -> BTreeMap<String, String> {
        let mut map = BTreeMap::new();
        let Some(table) = value.get_ref().as_table() else {
            self.error(Diagnostic::error("expected a table of strings, e.g. `{ team = \"web\" }`", Some(value.span())));
            return map;
        };
        for (key, item) in table.iter() {
            if item.get_ref().as_str().is_none() {
                self.error(Diagnostic::error(format!("tag `{}` must be a string", key.get_ref()), Some(item.span())));
            } else if let Some((text, _)) = self.string_with_variables(item, variables) {
                map.insert(key.get_ref().to_string(), text);
            }
        }
        map
    }

    fn table<'a, 'i>(
        &mut self,
        key: &Spanned<std::borrow::Cow<'i, str>>,
        value: &'a Spanned<DeValue<'i>>,
    ) -> Option<&'a DeTable<'i>> {
        let table = value.get_ref().as_table();
        if table.is_none() {
            self.error(Diagnostic::error(format!("`{}` must be a table", key.get_ref()), Some(value.span())));
        }
        table
    }

    fn check_references(
        &mut self,
        resources: &BTreeMap<Address, ResourceSpec>,
        outputs: &[Output],
        variables: &BTreeMap<String, Value>,
    ) {
        let mut exprs: Vec<&SpannedExpr> = resources.values().flat_map(|r| r.fields.values()).collect();
        exprs.extend(outputs.iter().map(|o| &o.value));
        for expr in exprs {
            for (reference, span) in expr.references() {
                if let Some(diagnostic) = check_reference(reference, span, resources, variables) {
                    self.error(diagnostic);
                }
            }
        }
        for resource in resources.values() {
            for dependency in &resource.depends_on {
                if !resources.contains_key(dependency) {
                    let known: Vec<String> = resources.keys().map(Address::to_string).collect();
                    let known: Vec<&str> = known.iter().map(String::as_str).collect();
                    let diagnostic = Diagnostic::error(
                        format!("`{}` depends on `{dependency}`, which is not in the stack", resource.address),
                        Some(resource.span.clone()),
                    );
                    self.error(with_suggestion(diagnostic, &dependency.to_string(), &known, "resources"));
                }
            }
        }
    }

    fn graph(&mut self, resources: &BTreeMap<Address, ResourceSpec>) -> Option<DependencyGraph> {
        let mut graph = DependencyGraph::default();
        let mut edge_spans: BTreeMap<(Address, Address), Range<usize>> = BTreeMap::new();
        for resource in resources.values() {
            graph.add_node(resource.address.clone());
            for expr in resource.fields.values() {
                for (reference, span) in expr.references() {
                    if let Reference::Resource { address, .. } = reference {
                        if resources.contains_key(address) {
                            graph.add_edge(resource.address.clone(), address.clone());
                            edge_spans
                                .entry((resource.address.clone(), address.clone()))
                                .or_insert_with(|| span.clone());
                        }
                    }
                }
            }
            for dependency in resource.depends_on.iter().filter(|d| resources.contains_key(*d)) {
                graph.add_edge(resource.address.clone(), dependency.clone());
                edge_spans
                    .entry((resource.address.clone(), dependency.clone()))
                    .or_insert_with(|| resource.span.clone());
            }
        }
        if let Some(cycle) = graph.find_cycle() {
            let path: Vec<String> = cycle.iter().map(Address::to_string).collect();
            let span = edge_spans.get(&(cycle[0].clone(), cycle[1].clone())).cloned();
            self.error(
                Diagnostic::error(format!("dependency cycle: {}", path.join(" -> ")), span)
                    .label("this reference closes the cycle")
                    .hint("remove one of these references or `depends_on` entries"),
            );
            return None;
        }
        Some(graph)
    }
}

#[derive(Default)]
struct Header {
    name: String,
    region: Option<String>,
    endpoint: Option<String>,
    tags: BTreeMap<String, String>,
}

fn check_reference(
    reference: &Reference,
    span: &Range<usize>,
    resources: &BTreeMap<Address, ResourceSpec>,
    variables: &BTreeMap<String, Value>,
) -> Option<Diagnostic> {
    let error = |message: String| Diagnostic::error(message, Some(span.clone()));
    match reference {
        Reference::Resource { address, attribute } => {
            let Some(driver) = drivers::driver_for(&address.type_name) else {
                return Some(with_suggestion(
                    error(format!("unknown resource type `{}` in `${{{reference}}}`", address.type_name)),
                    &address.type_name,
                    &drivers::type_names(),
                    "resource types",
                ));
            };
            if !resources.contains_key(address) {
                let known: Vec<String> =
                    resources.keys().filter(|a| a.type_name == address.type_name).map(Address::to_string).collect();
                let known: Vec<&str> = known.iter().map(String::as_str).collect();
                return Some(with_suggestion(
                    error(format!("unknown resource `{address}` in `${{{reference}}}`")),
                    &address.to_string(),
                    &known,
                    "resources",
                ));
            }
            let attributes = driver.schema().attributes;
            if !attributes.contains(&attribute.as_str()) {
                return Some(error(format!("`{}` has no attribute `{attribute}`", address.type_name)).hint(format!(
                    "`{}` has: {}",
                    address.type_name,
                    attributes.iter().map(|a| format!("`{a}`")).collect::<Vec<_>>().join(", ")
                )));
            }
            None
        }
        Reference::Variable(name) if !variables.contains_key(name) => {
            let known: Vec<&str> = variables.keys().map(String::as_str).collect();
            Some(with_suggestion(
                error(format!("unknown variable `{name}`"))
                    .hint(format!("declare it in `[variables]`: `{name} = \"…\"`")),
                name,
                &known,
                "variables",
            ))
        }
        Reference::Network(name) if !NETWORK_ATTRIBUTES.contains(&name.as_str()) => Some(
            error(format!("`network` has no attribute `{name}`"))
                .hint("use `${network.vpc_id}` or `${network.subnet_ids}`"),
        ),
        Reference::Stack(name) if !STACK_ATTRIBUTES.contains(&name.as_str()) => {
            Some(error(format!("`stack` has no attribute `{name}`")).hint("use `${stack.name}` or `${stack.region}`"))
        }
        _ => None,
    }
}

/// Adds the schema's hidden derived inputs (see [`crate::schema::DerivedField`]).
fn add_derived_fields(resource: &mut ResourceSpec) {
    let Some(driver) = drivers::driver_for(&resource.address.type_name) else { return };
    for derived in driver.schema().derived {
        let Some(SpannedExpr { expr: Expr::Template(parts), span }) = resource.fields.get(derived.from_field) else {
            continue;
        };
        let [Part::Reference(Reference::Resource { address, .. }, reference_span)] = parts.as_slice() else { continue };
        let follows = drivers::driver_for(&address.type_name)
            .is_some_and(|target| target.schema().attributes.contains(&derived.attribute));
        if follows {
            let reference = Reference::Resource { address: address.clone(), attribute: derived.attribute.to_string() };
            let expr = SpannedExpr {
                expr: Expr::Template(vec![Part::Reference(reference, reference_span.clone())]),
                span: span.clone(),
            };
            resource.fields.insert(derived.name.to_string(), expr);
        }
    }
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

fn is_valid_stack_name(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() <= 28
        && matches!(chars.next(), Some('a'..='z'))
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

fn with_suggestion(diagnostic: Diagnostic, name: &str, known: &[&str], what: &str) -> Diagnostic {
    match closest(name, known) {
        Some(best) => diagnostic.hint(format!("did you mean `{best}`?")),
        None if !known.is_empty() && known.len() <= 30 => diagnostic
            .hint(format!("known {what}: {}", known.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", "))),
        None => diagnostic,
    }
}

fn suggestion_suffix(name: &str, known: &[&str]) -> String {
    closest(name, known).map(|best| format!(", or did you mean `{best}`?")).unwrap_or_default()
}

fn closest<'a>(name: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .map(|candidate| (edit_distance(name, candidate), *candidate))
        .filter(|(distance, candidate)| *distance <= (candidate.len().max(name.len()) / 3).max(1))
        .min()
        .map(|(_, candidate)| candidate)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            current.push((previous[j] + cost).min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_pick_the_nearest_known_name() {
        assert_eq!(closest("versionin", &["versioning", "bucket", "upload"]), Some("versioning"));
        assert_eq!(closest("zzz", &["versioning", "bucket"]), None);
    }

    #[test]
    fn stack_names_follow_the_spec() {
        assert!(is_valid_stack_name("shop-dev"));
        assert!(!is_valid_stack_name("Shop"));
        assert!(!is_valid_stack_name("a-name-that-is-far-too-long-for-aws"));
    }
}
