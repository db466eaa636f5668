//! Field values: TOML values checked against a field's type and turned into expressions.

use super::*;
use crate::stack::string_spans::StringSpans;

impl Loader<'_> {
    pub(super) fn field_expr(
        &mut self,
        address: &Address,
        spec: &FieldSpec,
        value: &Spanned<DeValue<'_>>,
    ) -> Option<SpannedExpr> {
        self.typed_expr(&format!("{address}.{}", spec.name), &spec.kind, spec.check, value)
    }

    /// Converts a TOML value to an expression, checking it against the field's type. A string that
    /// is a single reference may stand for any type; it is checked once resolved.
    pub(super) fn typed_expr(
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
    pub(super) fn any_expr(&mut self, value: &Spanned<DeValue<'_>>) -> Option<SpannedExpr> {
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

    pub(super) fn template(&mut self, text: &str, span: &Range<usize>) -> Option<Vec<Part>> {
        // Offsets are found in the decoded text and mapped back into the file, past the quotes and
        // any escapes, so that a diagnostic never points inside a character.
        let spans = StringSpans::new(self.source, span, text);
        match parse_template(text, 0) {
            Ok(parts) => Some(
                parts
                    .into_iter()
                    .map(|part| match part {
                        Part::Reference(reference, range) => Part::Reference(reference, spans.source_range(range)),
                        literal => literal,
                    })
                    .collect(),
            ),
            Err(error) => {
                let at = spans.source_range(error.offset..error.offset + 2);
                let at = at.start..at.end.min(span.end).max(at.start);
                self.error(Diagnostic::error(error.message, Some(at)));
                None
            }
        }
    }

    pub(super) fn string_with_variables(
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
                Part::Reference(Reference::Variable(name), reference_span) if self.sensitive.contains(&name) => {
                    self.error(super::sensitive::sensitive_misuse(&name, "this field", reference_span));
                    return None;
                }
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
    pub(super) fn string_map(
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
            let name = key.get_ref().as_ref();
            if let Some(problem) = tag_key_problem(name) {
                self.error(Diagnostic::error(format!("tag key `{name}` {problem}"), Some(key.span())).hint(
                    "tag keys are 1 to 128 characters and must not start with `aws:` (AWS's) or `provision:` (provision's own)",
                ));
            }
            if item.get_ref().as_str().is_none() {
                self.error(Diagnostic::error(format!("tag `{name}` must be a string"), Some(item.span())));
            } else if let Some((text, span)) = self.string_with_variables(item, variables) {
                if text.chars().count() > MAX_TAG_VALUE {
                    self.error(
                        Diagnostic::error(
                            format!("the value of tag `{name}` is {} characters long", text.chars().count()),
                            Some(span),
                        )
                        .hint(format!("AWS allows tag values of up to {MAX_TAG_VALUE} characters")),
                    );
                }
                map.insert(name.to_string(), text);
            }
        }
        map
    }

    /// AWS allows 50 tags per resource; provision adds its own two to the stack's and the resource's.
    pub(super) fn check_tag_count(&mut self, address: &str, stack_tags: usize, own: usize, span: Range<usize>) {
        let total = stack_tags + own + PROVISION_TAGS;
        if total > MAX_TAGS {
            self.error(
                Diagnostic::error(
                    format!(
                        "`{address}` would carry {total} tags ({stack_tags} from `[stack] tags`, {own} of its own, {PROVISION_TAGS} of provision's); AWS allows {MAX_TAGS}"
                    ),
                    Some(span),
                )
                .hint(format!("remove at least {} tag(s)", total - MAX_TAGS)),
            );
        }
    }

    pub(super) fn table<'a, 'i>(
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
}

/// AWS's limits for tags (the same for every service provision uses).
const MAX_TAGS: usize = 50;
const MAX_TAG_KEY: usize = 128;
const MAX_TAG_VALUE: usize = 256;
/// `provision:stack`, `provision:address` and `provision:lineage`.
const PROVISION_TAGS: usize = 3;

fn tag_key_problem(key: &str) -> Option<String> {
    let length = key.chars().count();
    if length == 0 {
        Some("is empty".into())
    } else if length > MAX_TAG_KEY {
        Some(format!("is {length} characters long"))
    } else if key.to_ascii_lowercase().starts_with("aws:") {
        Some("uses the `aws:` prefix, which AWS reserves".into())
    } else if key.starts_with("provision:") {
        Some("uses the `provision:` prefix, which provision reserves for its own tags".into())
    } else {
        None
    }
}

#[cfg(test)]
mod tag_tests {
    use super::tag_key_problem;

    #[test]
    fn tag_keys_follow_aws_rules() {
        assert_eq!(tag_key_problem("team"), None);
        assert!(tag_key_problem("aws:cloudformation:stack").unwrap().contains("`aws:`"));
        assert!(tag_key_problem("AWS:x").is_some());
        assert!(tag_key_problem("provision:stack").unwrap().contains("provision"));
        assert!(tag_key_problem(&"k".repeat(129)).unwrap().contains("129"));
    }
}
