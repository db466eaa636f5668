//! `[variables]`, `[stack]`, `[network]` and `[outputs]`: their meaning, read from values already
//! checked against the section descriptors (`crate::schema::SECTIONS`). What is left to check
//! here is what depends on more than one value: a name built from variables, the tag count.

use super::*;
use crate::stack::Output;

#[derive(Default)]
pub(super) struct Header {
    pub(super) name: String,
    pub(super) region: Option<String>,
    pub(super) endpoint: Option<String>,
    pub(super) tags: BTreeMap<String, String>,
}

impl Loader<'_> {
    pub(super) fn variables(
        &mut self,
        section: Option<&SpannedExpr>,
        options: &LoadOptions,
    ) -> BTreeMap<String, Value> {
        let mut variables = BTreeMap::new();
        // Declared without a default: `--var` must give it.
        let mut needed = Vec::new();
        for (name, expr) in section.map(entries).unwrap_or_default() {
            if let Expr::Table(_) = &expr.expr {
                match self.variable_declaration(name, expr) {
                    Some(default) => {
                        variables.insert(name.clone(), default);
                    }
                    None => {
                        needed.push((name.clone(), expr.span.clone()));
                        variables.insert(name.clone(), Value::Str(String::new()));
                    }
                }
            } else if let Some(value) = checked::literal_value(expr) {
                variables.insert(name.clone(), value);
            }
        }
        self.unknown_overrides(options, &variables);
        for (name, text) in &options.variables {
            let Some(declared) = variables.get(name) else { continue };
            // A secret's value is never repeated back, not even in an error about it.
            let shown = if self.sensitive.contains(name) { "(sensitive)" } else { text.as_str() };
            let value = match declared {
                Value::Int(_) => match text.parse::<i64>() {
                    Ok(i) => Value::Int(i),
                    Err(_) => {
                        self.error(Diagnostic::error(
                            format!("`--var {name}={shown}`: `{name}` is an integer variable"),
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
                            format!("`--var {name}={shown}`: `{name}` is a boolean variable; use `true` or `false`"),
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
        for (name, span) in needed {
            if !options.variables.iter().any(|(given, _)| *given == name) {
                self.error(
                    Diagnostic::error(format!("variable `{name}` has no default and no value"), Some(span))
                        .hint(format!("pass `--var {name}=…`, or give it a `default`")),
                );
            }
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

    /// `[stack]`; `None` when it has no valid name (its problems are reported already).
    pub(super) fn stack_header(&mut self, sections: &Sections, variables: &BTreeMap<String, Value>) -> Option<Header> {
        let section = entries(sections.get("stack")?);
        let mut header = Header::default();
        let (name, span) = self.resolved_text(entry(section, "name")?, variables, None)?;
        if !is_valid_stack_name(&name) {
            self.error(
                Diagnostic::error(format!("stack name `{name}` is not valid"), Some(span))
                    .hint(format!("use {}", crate::schema::STACK_NAME_RULE)),
            );
        }
        header.name = name;
        if let Some(region) = entry(section, "region") {
            header.region = self.resolved_text(region, variables, None).map(|(text, span)| {
                if let Some(problem) = super::super::region::region_problem(&text) {
                    self.error(
                        Diagnostic::error(problem, Some(span))
                            .hint("set `region` to the AWS region to deploy to, e.g. `us-east-1`"),
                    );
                }
                text
            });
        }
        if let Some(endpoint) = entry(section, "endpoint") {
            header.endpoint = self.resolved_text(endpoint, variables, None).and_then(|(text, span)| {
                match super::super::endpoint::loopback_problem(&text) {
                    None => Some(text),
                    Some(problem) => {
                        self.error(Diagnostic::error(format!("`endpoint`: {problem}"), Some(span)).hint(
                            "a stack file may only name a local emulator (`http://127.0.0.1:PORT` or `http://localhost:PORT`); give any other endpoint with `--endpoint URL` or `AWS_ENDPOINT_URL`",
                        ));
                        None
                    }
                }
            });
        }
        if let Some(tags) = entry(section, "tags") {
            header.tags = self.resolved_tags(tags, variables);
            self.check_tag_count("every resource", header.tags.len(), 0, tags.span.clone());
        }
        Some(header)
    }

    /// `[network]`. `vpc` is `"default"`, a VPC id, the stack's own network (`${vpc.NAME.id}`), or
    /// text built from variables that gives one of the first two (a VPC per environment); the
    /// same for each of `subnets`, or one list variable for all of them.
    pub(super) fn network(
        &mut self,
        section: Option<&SpannedExpr>,
        variables: &BTreeMap<String, Value>,
    ) -> NetworkSpec {
        let section = section.map(entries).unwrap_or_default();
        let written = entry(section, "vpc");
        let from_variables = written.filter(|vpc| only_variables(vpc));
        let own = match written {
            Some(vpc) if from_variables.is_none() => self.own_network_reference(vpc),
            _ => None,
        };
        let vpc = match (&own, from_variables) {
            (Some(address), _) => format!("${{{address}.id}}"),
            (None, Some(vpc)) => match self.resolved_text(vpc, variables, None) {
                Some((text, span)) => {
                    self.check_vpc_id(&text, span);
                    text
                }
                None => "default".to_string(),
            },
            (None, None) => written.and_then(literal).unwrap_or("default").to_string(),
        };
        let subnets = entry(section, "subnets").and_then(|subnets| self.subnet_ids(subnets, variables));
        NetworkSpec { vpc, subnets, own }
    }

    /// A VPC id that came from a variable, checked as the schema checks a written one.
    fn check_vpc_id(&mut self, text: &str, span: Range<usize>) {
        if !crate::schema::syntax::is_match(crate::schema::VPC_PATTERN, text) {
            self.error(
                Diagnostic::error(format!("`[network] vpc`: `{text}` (from a variable) is not valid"), Some(span))
                    .hint(format!("use {}", crate::schema::VPC_RULE)),
            );
        }
    }

    /// `subnets`: a list of ids, each maybe built from variables, or one list variable.
    fn subnet_ids(&mut self, subnets: &SpannedExpr, variables: &BTreeMap<String, Value>) -> Option<Vec<String>> {
        match &subnets.expr {
            Expr::List(items) => items
                .iter()
                .map(|item| match literal(item) {
                    Some(text) => Some(text.to_string()),
                    None => self.resolved_text(item, variables, None).map(|(text, _)| text),
                })
                .collect(),
            Expr::Template(parts) => {
                let [Part::Reference(Reference::Variable(name), span)] = parts.as_slice() else { return None };
                match variables.get(name) {
                    Some(Value::List(items)) if !items.is_empty() => {
                        items.iter().map(|item| item.interpolated()).collect::<Option<Vec<_>>>().or_else(|| {
                            self.error(Diagnostic::error(
                                format!("variable `{name}` must be a list of subnet ids"),
                                Some(span.clone()),
                            ));
                            None
                        })
                    }
                    _ => {
                        self.error(
                            Diagnostic::error(
                                format!("`[network] subnets`: variable `{name}` is not a list of subnet ids"),
                                Some(span.clone()),
                            )
                            .hint(format!("declare it as a list: `{name} = [\"subnet-…\", \"subnet-…\"]`")),
                        );
                        None
                    }
                }
            }
            _ => None,
        }
    }

    pub(super) fn outputs(&mut self, section: Option<&SpannedExpr>) -> Vec<Output> {
        let section = section.map(entries).unwrap_or_default();
        section.iter().map(|(name, value)| Output { name: name.clone(), value: value.clone() }).collect()
    }
}

/// Whether a string holds references, all of them to variables (`${var.NAME}`).
fn only_variables(expr: &SpannedExpr) -> bool {
    let Expr::Template(parts) = &expr.expr else { return false };
    let references: Vec<&Reference> = parts
        .iter()
        .filter_map(|part| match part {
            Part::Reference(reference, _) => Some(reference),
            Part::Literal(_) => None,
        })
        .collect();
    !references.is_empty() && references.iter().all(|reference| matches!(reference, Reference::Variable(_)))
}

#[cfg(test)]
mod tests {
    use crate::driver::DriverRegistry;
    use crate::stack::{load, LoadOptions, Stack, StackError, StateLocation};
    use crate::value::Value;

    fn load_text(text: &str) -> Result<Stack, StackError> {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("stack.toml");
        std::fs::write(&path, text).expect("write");
        load(&path, &LoadOptions::default(), &DriverRegistry::new(Vec::new()))
    }

    #[test]
    fn one_mistake_does_not_hide_the_next_and_each_is_a_rule_of_the_schema() {
        let error = load_text(
            "[stack]\nname = \"shop\"\nregoin = \"us-east-1\"\n[network]\nsubnet = [\"a\"]\n[notify]\nformat = 5\n",
        )
        .unwrap_err();
        let messages: Vec<&str> = error.diagnostics.iter().map(|d| d.message.as_str()).collect();
        assert_eq!(
            messages,
            [
                "unknown field `regoin` in `[stack]`",
                "unknown field `subnet` in `[network]`",
                "`[notify] format` must be one of `\"json\"`, `\"slack\"`, `\"discord\"`, found an integer",
                "`[notify]` is missing the required field `webhook`",
            ]
        );
        assert!(error.diagnostics.iter().all(|d| d.shape), "{error}");
    }

    #[test]
    fn sections_take_the_references_they_can_resolve() {
        let stack = load_text(
            "[stack]\nname = \"shop-${var.env}\"\ntags = { env = \"${var.env}\" }\n[variables]\nenv = \"dev\"\n[state]\npath = \"state/${stack.name}.json\"\n",
        )
        .unwrap();
        assert_eq!(stack.name, "shop-dev");
        assert_eq!(stack.tags["env"], "dev");
        assert_eq!(stack.state, StateLocation::Local("state/shop-dev.json".into()));
        let error = load_text("[stack]\nname = \"shop\"\nregion = \"${stack.name}\"\n").unwrap_err();
        assert!(error.diagnostics[0].message.contains("`${stack.name}` cannot be used in `[stack] region`"), "{error}");
        assert!(error.diagnostics[0].shape);
    }

    #[test]
    fn a_name_built_from_variables_is_checked_once_resolved() {
        let error = load_text("[stack]\nname = \"${var.env}\"\n[variables]\nenv = \"Prod\"\n").unwrap_err();
        assert!(error.to_string().contains("stack.toml:2:8: stack name `Prod` is not valid"), "{error}");
        assert!(!error.diagnostics[0].shape, "the schema cannot know the variable's value");
    }

    fn load_with(text: &str, vars: &[(&str, &str)]) -> Result<Stack, StackError> {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("stack.toml");
        std::fs::write(&path, text).expect("write");
        let options = LoadOptions {
            variables: vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            ..LoadOptions::default()
        };
        load(&path, &options, &DriverRegistry::new(Vec::new()))
    }

    /// One file for every environment: each names its own VPC and subnets with `--var`.
    #[test]
    fn the_network_of_each_environment_comes_from_variables() {
        let text = "[stack]\nname = \"shop\"\n[variables]\nvpc = \"default\"\nsubnets = [\"subnet-0a\", \"subnet-0b\"]\nzone = \"0a\"\n\
                    [network]\nvpc = \"${var.vpc}\"\nsubnets = \"${var.subnets}\"\n";
        let stack = load_with(text, &[]).unwrap();
        assert_eq!(stack.network.vpc, "default");
        assert_eq!(stack.network.subnets, Some(vec!["subnet-0a".to_string(), "subnet-0b".to_string()]));
        assert!(stack.network.own.is_none());

        let prod = load_with(text, &[("vpc", "vpc-0123456789abcdef0"), ("subnets", "subnet-1, subnet-2")]).unwrap();
        assert_eq!(prod.network.vpc, "vpc-0123456789abcdef0");
        assert_eq!(prod.network.subnets, Some(vec!["subnet-1".to_string(), "subnet-2".to_string()]));

        let items = text.replace("subnets = \"${var.subnets}\"\n", "subnets = [\"subnet-${var.zone}\"]\n");
        assert_eq!(load_with(&items, &[]).unwrap().network.subnets, Some(vec!["subnet-0a".to_string()]));

        let error = load_with(text, &[("vpc", "vpc-prod")]).unwrap_err();
        assert!(
            error.to_string().contains("stack.toml:8:7: `[network] vpc`: `vpc-prod` (from a variable) is not valid"),
            "{error}"
        );
        assert!(error.to_string().contains("`vpc-` and 8 or 17 hexadecimal digits"), "{error}");

        let not_a_list = text.replace("subnets = [\"subnet-0a\", \"subnet-0b\"]", "subnets = \"subnet-0a\"");
        let error = load_with(&not_a_list, &[]).unwrap_err();
        assert!(error.to_string().contains("variable `subnets` is not a list of subnet ids"), "{error}");

        let error = load_text("[stack]\nname = \"shop\"\n[network]\nvpc = \"${stack.name}\"\n").unwrap_err();
        assert!(error.to_string().contains("`${stack.name}` cannot be used in `[network] vpc`"), "{error}");
    }

    #[test]
    fn variables_and_outputs_keep_their_types() {
        let stack = load_text(
            "[stack]\nname = \"shop\"\n[variables]\ncount = 2\non = true\nzones = [\"a\", [\"b\"]]\n[outputs]\nplain = 3\ntable = { a = { b = \"${var.count}\" } }\n",
        )
        .unwrap();
        assert_eq!(stack.variables["count"], Value::Int(2));
        assert_eq!(stack.variables["on"], Value::Bool(true));
        let nested = Value::List(vec![Value::Str("a".into()), Value::List(vec![Value::Str("b".into())])]);
        assert_eq!(stack.variables["zones"], nested);
        let names: Vec<&str> = stack.outputs.iter().map(|o| o.name.as_str()).collect();
        assert_eq!(names, ["plain", "table"]);
    }
}
