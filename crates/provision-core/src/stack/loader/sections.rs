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
        for (name, expr) in section.map(entries).unwrap_or_default() {
            if let Some(value) = values::literal_value(expr) {
                variables.insert(name.clone(), value);
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
            header.endpoint = self.resolved_text(endpoint, variables, None).map(|(text, _)| text);
        }
        if let Some(tags) = entry(section, "tags") {
            header.tags = self.resolved_tags(tags, variables);
            self.check_tag_count("every resource", header.tags.len(), 0, tags.span.clone());
        }
        Some(header)
    }

    pub(super) fn network(&mut self, section: Option<&SpannedExpr>) -> NetworkSpec {
        let section = section.map(entries).unwrap_or_default();
        let vpc = entry(section, "vpc").and_then(literal).unwrap_or("default").to_string();
        let subnets = entry(section, "subnets").and_then(|subnets| match &subnets.expr {
            Expr::List(items) => items.iter().map(|item| literal(item).map(str::to_string)).collect(),
            _ => None,
        });
        NetworkSpec { vpc, subnets }
    }

    pub(super) fn outputs(&mut self, section: Option<&SpannedExpr>) -> Vec<Output> {
        let section = section.map(entries).unwrap_or_default();
        section.iter().map(|(name, value)| Output { name: name.clone(), value: value.clone() }).collect()
    }
}
