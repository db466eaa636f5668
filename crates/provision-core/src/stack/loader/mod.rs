//! Reads a stack file into a [`Stack`], checking it against the descriptors of the stack format.
//!
//! Two layers: every value is first checked against its descriptor (`values.rs`: the sections of
//! [`crate::schema::SECTIONS`], the keys of [`crate::schema::RESOURCE_KEYS`], each type's fields),
//! which is exactly what the JSON Schema states; then each section's meaning is read from the
//! checked values (`sections.rs`, `state_section.rs`, `notify.rs`, `moved.rs`) and the resources
//! are checked across (references, cycles, the drivers' own checks).

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::path::{Path, PathBuf};

use toml::de::{DeTable, DeValue};
use toml::Spanned;

use super::diagnostic::Diagnostic;
use super::expression::{parse_template, Expr, Part, Reference, SpannedExpr};
use super::{NetworkSpec, ResourceSpec, Stack, StackError, StateLocation};
use crate::address::{is_valid_resource_name, Address};
use crate::driver::DriverRegistry;
use crate::graph::DependencyGraph;
use crate::schema::syntax::{is_match, NETWORK_ATTRIBUTES, STACK_ATTRIBUTES};
use crate::schema::{FieldKind, FieldSpec, References, ResourceSchema, RESOURCE_KEYS, RESOURCE_NAME_RULE, SECTIONS};
use crate::value::Value;

mod across;
mod checked;
mod guardrails;
mod moved;
mod notify;
mod own_network;
mod protect;
mod references;
mod sections;
mod sensitive;
mod state_only;
mod state_section;
mod suggest;
#[cfg(test)]
mod test_drivers;
mod values;

use checked::{entries, entry, literal};
use references::add_derived_fields;
use suggest::{suggestion_suffix, with_suggestion};
use values::{child_path, item_path, Rules};

#[derive(Clone, Debug, Default)]
pub struct LoadOptions {
    /// `--var KEY=VALUE` overrides, in the order given.
    pub variables: Vec<(String, String)>,
    /// Read only `[stack]`, `[variables]`, `[state]` and `[notify]` (see `state_only.rs`).
    pub state_only: bool,
}

pub fn load(path: &Path, options: &LoadOptions, drivers: &DriverRegistry) -> Result<Stack, StackError> {
    let source = std::fs::read_to_string(path).map_err(|error| StackError {
        path: path.to_path_buf(),
        source: String::new(),
        diagnostics: vec![Diagnostic::error(format!("cannot read stack file `{}`: {error}", path.display()), None)
            .hint("pass the stack file with `-f FILE` (default: `./stack.toml`)")],
    })?;
    load_source(path, source, options, drivers)
}

/// Loads a stack file's text as if read from `path` (which names it in errors and anchors relative
/// paths); nothing is read from disk.
pub fn load_source(
    path: &Path,
    source: String,
    options: &LoadOptions,
    drivers: &DriverRegistry,
) -> Result<Stack, StackError> {
    let table = match DeTable::parse(&source) {
        Ok(table) => table,
        Err(error) => {
            let diagnostic =
                Diagnostic::error(format!("invalid TOML: {}", error.message().trim_end()), error.span().or(Some(0..0)));
            return Err(StackError { path: path.to_path_buf(), source, diagnostics: vec![diagnostic] });
        }
    };
    let mut loader =
        Loader { diagnostics: Vec::new(), drivers, file: path, source: &source, sensitive: BTreeSet::new() };
    let stack = loader.stack(table.get_ref(), options);
    let diagnostics = loader.diagnostics;
    let errors: Vec<Diagnostic> = diagnostics.iter().filter(|d| d.is_error()).cloned().collect();
    match stack {
        Some(mut stack) if errors.is_empty() => {
            stack.warnings = diagnostics;
            Ok(stack)
        }
        _ => Err(StackError { path: path.to_path_buf(), source, diagnostics: errors }),
    }
}

struct Loader<'d> {
    diagnostics: Vec<Diagnostic>,
    drivers: &'d DriverRegistry,
    /// The stack file and its text, for messages that must not show an excerpt.
    file: &'d Path,
    source: &'d str,
    /// Variables whose values are secrets: declared `sensitive = true`, or used whole by a secret
    /// field. They may flow only into secret fields (`sensitive.rs`).
    sensitive: BTreeSet<String>,
}

/// The sections of a file, checked against their descriptors: what passed, by name, and which
/// were written at all.
struct Sections {
    checked: BTreeMap<&'static str, SpannedExpr>,
    written: BTreeSet<&'static str>,
}

impl Sections {
    fn get(&self, name: &str) -> Option<&SpannedExpr> {
        self.checked.get(name)
    }
}

impl Loader<'_> {
    fn error(&mut self, diagnostic: Diagnostic) {
        self.diagnostics.push(diagnostic);
    }

    fn stack(&mut self, root: &DeTable<'_>, options: &LoadOptions) -> Option<Stack> {
        let sections = self.sections(root, options.state_only);
        // Which variables hold secrets is known before any of them is used.
        self.sensitive = self.secret_field_variables(root);
        let variables = self.variables(sections.get("variables"), options);
        let header = self.stack_header(&sections, &variables)?;
        let state = match sections.get("state") {
            Some(section) => self.state(section, &header.name, &variables)?,
            None if sections.written.contains("state") => return None,
            None => StateLocation::Local(PathBuf::from("state").join(format!("{}.json", header.name))),
        };
        if options.state_only {
            return Some(self.state_only_stack(root, &sections, header, state, variables));
        }
        let network = self.network(sections.get("network"), &variables);
        let notify = sections.get("notify").and_then(|section| self.notify(section));
        let mut outputs = self.outputs(sections.get("outputs"));

        let mut resources = BTreeMap::new();
        for (key, value) in root.iter() {
            if let Some(driver) = self.drivers.get(key.get_ref()) {
                self.resources_of_type(driver.schema(), value, &variables, &header.tags, &mut resources);
            }
        }
        for resource in resources.values_mut() {
            add_derived_fields(self.drivers, resource);
        }
        if let Some(section) = sections.get("network") {
            self.place_in_own_network(&network, section, &mut resources, &mut outputs, &variables);
        }

        let moved = match sections.get("moved") {
            Some(section) => self.moved(section, &resources),
            None => Vec::new(),
        };
        let guardrails = match sections.get("guardrails") {
            Some(section) => self.guardrails(section, &resources),
            None => Vec::new(),
        };
        self.check_references(&resources, &outputs, &variables);
        self.check_sensitive_uses(&resources, &outputs);
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

        let deletion_settings = sensitive::deletion_settings(self.drivers, root, &variables);
        Some(Stack {
            path: self.file.to_path_buf(),
            source: self.source.to_string(),
            name: header.name,
            region: header.region,
            endpoint: header.endpoint,
            tags: header.tags,
            state,
            variables,
            sensitive_variables: std::mem::take(&mut self.sensitive),
            deletion_settings,
            network,
            outputs,
            resources,
            graph: graph?,
            moved,
            uses_network,
            warnings: Vec::new(),
            notify,
            guardrails,
            state_only: false,
        })
    }

    /// Every top-level table is a section or a resource type; each section is checked against its
    /// descriptor, keeping what passed so that one mistake does not hide the next. `state_only`
    /// reads only the sections of [`state_only::STATE_ONLY_SECTIONS`].
    fn sections(&mut self, root: &DeTable<'_>, state_only: bool) -> Sections {
        let mut sections = Sections { checked: BTreeMap::new(), written: BTreeSet::new() };
        for (key, value) in root.iter() {
            let name = key.get_ref().as_ref();
            if let Some(spec) = SECTIONS.iter().find(|section| section.name == name) {
                sections.written.insert(spec.name);
                if state_only && !state_only::STATE_ONLY_SECTIONS.contains(&spec.name) {
                    continue;
                }
                if let Some(checked) = self.section(spec, value) {
                    sections.checked.insert(spec.name, checked);
                }
            } else if self.drivers.get(name).is_none() {
                let mut known: Vec<&str> = SECTIONS.iter().map(|section| section.name).collect();
                known.extend(self.drivers.type_names());
                let diagnostic =
                    Diagnostic::error(format!("unknown section or resource type `{name}`"), Some(key.span())).shape();
                self.error(with_suggestion(diagnostic, name, &known, "resource types"));
            }
        }
        for spec in SECTIONS.iter().filter(|section| section.required && !sections.written.contains(section.name)) {
            self.error(
                Diagnostic::error(format!("the stack file has no `[{}]` table", spec.name), Some(0..0))
                    .hint(format!("add `[{}]` at the top: {}", spec.name, spec.description))
                    .shape(),
            );
        }
        sections
    }

    fn section(&mut self, spec: &'static FieldSpec, value: &Spanned<DeValue<'_>>) -> Option<SpannedExpr> {
        let path = format!("[{}]", spec.name);
        let rules = Rules::of(spec, References::Any);
        let span = value.span();
        let expr = match (&spec.kind, value.get_ref()) {
            (FieldKind::Table(fields), DeValue::Table(table)) => {
                Expr::Table(self.table_entries(&path, fields, rules.references, table, &span).0)
            }
            (FieldKind::Map(kind), DeValue::Table(table)) => {
                let mut checked = Vec::new();
                for (key, item) in table.iter() {
                    if let Some(expr) = self.typed_expr(&child_path(&path, key.get_ref()), kind, rules, item) {
                        checked.push((key.get_ref().to_string(), expr));
                    }
                }
                Expr::Table(checked)
            }
            (FieldKind::TableList(fields), DeValue::Array(items)) => {
                let mut checked = Vec::new();
                for (index, item) in items.iter().enumerate() {
                    let item_path = item_path(&path, index);
                    match item.get_ref().as_table() {
                        Some(table) => {
                            let item_entries =
                                self.table_entries(&item_path, fields, rules.references, table, &item.span()).0;
                            checked.push(SpannedExpr { expr: Expr::Table(item_entries), span: item.span() });
                        }
                        None => self.error(
                            Diagnostic::error(format!("each `{item_path}` entry must be a table"), Some(item.span()))
                                .shape(),
                        ),
                    }
                }
                Expr::List(checked)
            }
            // A section is a table as written, never a reference.
            (kind, other) => {
                let found = values::found(other);
                let diagnostic =
                    Diagnostic::error(format!("`{path}` must be {}, found {found}", kind.describe()), Some(span));
                self.error(diagnostic.shape());
                return None;
            }
        };
        Some(SpannedExpr { expr, span })
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
                    .hint(format!("write `[{}.NAME]`", schema.type_name))
                    .shape(),
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
                    .hint(format!("use {RESOURCE_NAME_RULE}"))
                    .shape(),
                );
                continue;
            }
            let address = Address::new(schema.type_name, name_text);
            let Some(fields) = body.get_ref().as_table() else {
                self.error(Diagnostic::error(format!("`{address}` must be a table"), Some(body.span())).shape());
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
                if let Some(spec) = schema.field(field_name) {
                    if let Some(expr) = self.field_expr(&address, spec, value) {
                        resource.fields.insert(field_name.to_string(), expr);
                    }
                } else if let Some(key) = RESOURCE_KEYS.iter().find(|key| key.name == field_name) {
                    let path = format!("{address}.{field_name}");
                    let Some(expr) = self.typed_expr(&path, &key.kind, Rules::of(key, References::Any), value) else {
                        continue;
                    };
                    self.resource_key(schema, &mut resource, field_name, &expr, variables, stack_tags);
                } else {
                    let mut known: Vec<&str> = schema.fields.iter().map(|f| f.name).collect();
                    known.extend(RESOURCE_KEYS.iter().map(|key| key.name));
                    let diagnostic =
                        Diagnostic::error(format!("unknown field `{field_name}` in `{address}`"), Some(field.span()))
                            .label(format!("not a field of `{}`", schema.type_name))
                            .shape();
                    self.error(with_suggestion(diagnostic, field_name, &known, "fields"));
                }
            }
            self.cross_field_checks(schema, &resource, variables);
            self.required_fields(&address.to_string(), schema.fields, fields, &name.span());
            resources.insert(address, resource);
        }
    }

    /// A key of [`RESOURCE_KEYS`], checked: what it means for the resource. A new key is read here.
    fn resource_key(
        &mut self,
        schema: &ResourceSchema,
        resource: &mut ResourceSpec,
        key: &str,
        expr: &SpannedExpr,
        variables: &BTreeMap<String, Value>,
        stack_tags: &BTreeMap<String, String>,
    ) {
        match key {
            "tags" => {
                resource.tags = self.resolved_tags(expr, variables);
                if schema.taggable {
                    let address = resource.address.to_string();
                    self.check_tag_count(&address, stack_tags.len(), resource.tags.len(), expr.span.clone());
                }
            }
            "depends_on" => {
                let Expr::List(items) = &expr.expr else { return };
                for item in items {
                    match literal(item).map(str::parse::<Address>) {
                        Some(Ok(address)) => resource.depends_on.push(address),
                        Some(Err(message)) => self.error(Diagnostic::error(message, Some(item.span.clone()))),
                        None => {}
                    }
                }
            }
            "protect" => resource.protect = self.protect(&resource.address, expr, variables),
            _ => {}
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
        // A secret's value stays out of the checks (and so out of their messages).
        let lookup = |reference: &Reference| match reference {
            Reference::Variable(name) if self.sensitive.contains(name) => Value::Unknown,
            Reference::Variable(name) => variables.get(name).cloned().unwrap_or(Value::Unknown),
            _ => Value::Unknown,
        };
        let mut values: BTreeMap<String, Value> =
            resource.fields.iter().map(|(name, expr)| (name.clone(), expr.resolve(&lookup))).collect();
        // A value from variables meets the rules a literal one met when it was read; one that
        // does not is reported here, and is unknown to the driver's checks (no second report).
        for (name, expr) in &resource.fields {
            let Some(spec) = schema.field(name).filter(|_| literal(expr).is_none()) else { continue };
            let Some(problem) = values.get(name).and_then(|value| crate::schema::value_problem(spec, value)) else {
                continue;
            };
            let (message, hint) = problem.split_once("\n\nhint: ").unwrap_or((&problem, ""));
            let mut diagnostic =
                Diagnostic::error(format!("`{}.{name}`{message}", resource.address), Some(expr.span.clone()));
            if !hint.is_empty() {
                diagnostic = diagnostic.hint(hint);
            }
            self.error(diagnostic);
            values.insert(name.clone(), Value::Unknown);
        }
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
}

/// A stack name as the spec allows it: a lowercase letter, then lowercase letters, digits and `-`,
/// at most 28 characters (it prefixes AWS names).
pub fn is_valid_stack_name(name: &str) -> bool {
    is_match(crate::schema::STACK_NAME_PATTERN, name)
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
