//! Values checked against their descriptor ([`FieldSpec`]) and turned into expressions: the one
//! place that enforces what the JSON Schema states (types, unknown and missing fields, allowed
//! values, patterns, ranges, which references a string may hold), for resources and sections
//! alike. Its problems are marked [`Diagnostic::shape`]; an AWS rule a field's `check` adds is not.

use super::suggest::did_you_mean;
use super::*;
use crate::schema::syntax::is_match;
use crate::schema::tags::{tag_key_problem, MAX_TAG_VALUE};
use crate::schema::{Check, Pattern, References, ENV_NAME_PATTERN};
use crate::stack::string_spans::StringSpans;

/// What a field's descriptor asks of its value, handed down to list items, map values and the
/// alternatives of a [`FieldKind::OneOf`] (a nested table's fields bring their own).
#[derive(Clone, Copy)]
pub(super) struct Rules {
    check: Option<Check>,
    pattern: Option<Pattern>,
    range: Option<(i64, i64)>,
    non_empty: bool,
    sensitive: bool,
    pub(super) references: References,
}

impl Rules {
    /// `spec`'s rules; its references are `inherited` unless it names its own.
    pub(super) fn of(spec: &FieldSpec, inherited: References) -> Rules {
        Rules {
            check: spec.check,
            pattern: spec.pattern,
            range: spec.range,
            non_empty: spec.non_empty,
            sensitive: spec.sensitive,
            references: spec.references.unwrap_or(inherited),
        }
    }

    fn inner(self) -> Rules {
        Rules { non_empty: false, ..self }
    }
}

/// `[notify]` + `webhook` → `[notify] webhook`; `s3_bucket.site` + `bucket` → `s3_bucket.site.bucket`.
pub(super) fn child_path(path: &str, name: &str) -> String {
    if path.starts_with('[') && path.ends_with(']') {
        format!("{path} {name}")
    } else {
        format!("{path}.{name}")
    }
}

/// `[moved]` → `[[moved]]` (each entry of a list section); `x.ingress` → `x.ingress[0]`.
pub(super) fn item_path(path: &str, index: usize) -> String {
    if path.starts_with('[') && path.ends_with(']') && !path.contains(' ') {
        format!("[{path}]")
    } else {
        format!("{path}[{index}]")
    }
}

/// Whether a value of this TOML type can be of `kind` (how a [`FieldKind::OneOf`] picks).
fn takes(kind: &FieldKind, value: &DeValue<'_>) -> bool {
    match value {
        DeValue::String(_) => {
            matches!(kind, FieldKind::String | FieldKind::Json | FieldKind::Enum(_) | FieldKind::Value | FieldKind::Any)
        }
        DeValue::Integer(_) => matches!(kind, FieldKind::Int | FieldKind::Value | FieldKind::Any),
        DeValue::Boolean(_) => matches!(kind, FieldKind::Bool | FieldKind::Value | FieldKind::Any),
        DeValue::Array(_) => matches!(
            kind,
            FieldKind::StringList | FieldKind::TableList(_) | FieldKind::List(_) | FieldKind::Value | FieldKind::Any
        ),
        DeValue::Table(_) => matches!(
            kind,
            FieldKind::StringMap
                | FieldKind::Map(_)
                | FieldKind::Table(_)
                | FieldKind::Tags
                | FieldKind::Secret
                | FieldKind::Any
        ),
        DeValue::Float(_) | DeValue::Datetime(_) => false,
    }
}

fn allows(references: References, reference: &Reference) -> bool {
    match references {
        References::Any => true,
        References::Variables => matches!(reference, Reference::Variable(_)),
        References::VariablesAndStackName => {
            matches!(reference, Reference::Variable(_)) || matches!(reference, Reference::Stack(name) if name == "name")
        }
        References::VariablesOrResources => {
            matches!(reference, Reference::Variable(_) | Reference::Resource { .. })
        }
        References::None => false,
    }
}

pub(super) fn found(value: &DeValue<'_>) -> &'static str {
    match value {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a decimal number",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a date",
        DeValue::Array(_) => "a list",
        DeValue::Table(_) => "a table",
    }
}

impl Loader<'_> {
    pub(super) fn field_expr(
        &mut self,
        address: &Address,
        spec: &FieldSpec,
        value: &Spanned<DeValue<'_>>,
    ) -> Option<SpannedExpr> {
        self.typed_expr(&format!("{address}.{}", spec.name), &spec.kind, Rules::of(spec, References::Any), value)
    }

    /// Converts a TOML value to an expression, checking it against the field's kind and rules. A
    /// string that is a single reference may stand for any kind; it is checked once resolved.
    pub(super) fn typed_expr(
        &mut self,
        path: &str,
        kind: &FieldKind,
        rules: Rules,
        value: &Spanned<DeValue<'_>>,
    ) -> Option<SpannedExpr> {
        let span = value.span();
        let mismatch = |found: &str| {
            Diagnostic::error(format!("`{path}` must be {}, found {found}", kind.describe()), Some(span.clone()))
                .shape()
        };
        if let FieldKind::OneOf(kinds) = kind {
            let single_reference =
                matches!(value.get_ref(), DeValue::String(text) if text.trim_start().starts_with("${"));
            let chosen =
                kinds.iter().find(|k| takes(k, value.get_ref())).or(kinds.first().filter(|_| single_reference));
            let Some(chosen) = chosen else {
                self.error(mismatch(found(value.get_ref())));
                return None;
            };
            return self.typed_expr(path, chosen, rules, value);
        }
        let expr = match value.get_ref() {
            // Tags are a table as written (no value could stand for one).
            DeValue::String(_) if matches!(kind, FieldKind::Tags) => {
                self.error(mismatch("a string"));
                return None;
            }
            DeValue::String(text) => {
                let parts = self.string_parts(path, text, rules, &span)?;
                match parts.as_slice() {
                    [Part::Literal(literal)] => match kind {
                        FieldKind::String | FieldKind::Json => self.literal_rules(path, literal, rules, &span)?,
                        FieldKind::Enum(options) if !options.contains(&literal.as_str()) => {
                            self.error(did_you_mean(mismatch(&format!("`\"{literal}\"`")), literal, options));
                            return None;
                        }
                        FieldKind::Enum(_) | FieldKind::Value | FieldKind::Any => {}
                        FieldKind::Secret => return self.secret_in_file(path, &span),
                        _ => {
                            self.error(mismatch("a string"));
                            return None;
                        }
                    },
                    // One reference stands for a value of any kind.
                    [Part::Reference(..)] => {}
                    _ => match kind {
                        FieldKind::String
                        | FieldKind::Json
                        | FieldKind::Enum(_)
                        | FieldKind::Value
                        | FieldKind::Any => {}
                        FieldKind::Secret => return self.secret_in_file(path, &span),
                        _ => {
                            self.error(mismatch("a string"));
                            return None;
                        }
                    },
                }
                Expr::Template(parts)
            }
            DeValue::Integer(integer) => {
                if !matches!(kind, FieldKind::Int | FieldKind::Value | FieldKind::Any) {
                    self.error(mismatch("an integer"));
                    return None;
                }
                let Ok(number) = i64::from_str_radix(&integer.as_str().replace('_', ""), integer.radix()) else {
                    self.error(Diagnostic::error(format!("`{path}`: integer out of range"), Some(span)).shape());
                    return None;
                };
                if let (FieldKind::Int, Some((min, max))) = (kind, rules.range) {
                    if !(min..=max).contains(&number) {
                        self.error(
                            Diagnostic::error(
                                format!("`{path}` is {number}; it must be from {min} to {max}"),
                                Some(span),
                            )
                            .shape(),
                        );
                        return None;
                    }
                }
                Expr::Int(number)
            }
            DeValue::Boolean(b) => {
                if !matches!(kind, FieldKind::Bool | FieldKind::Value | FieldKind::Any) {
                    self.error(mismatch("a boolean"));
                    return None;
                }
                Expr::Bool(*b)
            }
            DeValue::Array(items) => {
                let table;
                let item_kind = match kind {
                    FieldKind::StringList => &FieldKind::String,
                    FieldKind::TableList(fields) => {
                        table = FieldKind::Table(fields);
                        &table
                    }
                    FieldKind::List(item) => *item,
                    FieldKind::Value => &FieldKind::Value,
                    FieldKind::Any => &FieldKind::Any,
                    _ => {
                        self.error(mismatch("a list"));
                        return None;
                    }
                };
                if rules.non_empty && items.is_empty() {
                    self.error(
                        Diagnostic::error(format!("`{path}` is empty"), Some(span))
                            .hint("list at least one, or leave the field out")
                            .shape(),
                    );
                    return None;
                }
                let mut exprs = Vec::new();
                let mut valid = true;
                for (index, item) in items.iter().enumerate() {
                    match self.typed_expr(&item_path(path, index), item_kind, rules.inner(), item) {
                        Some(expr) => exprs.push(expr),
                        None => valid = false,
                    }
                }
                if !valid {
                    return None;
                }
                Expr::List(exprs)
            }
            DeValue::Table(table) => match kind {
                FieldKind::Secret => self.secret(path, table, &span)?,
                FieldKind::StringMap => {
                    Expr::Table(self.map_entries(path, &FieldKind::String, rules.inner(), table)?)
                }
                FieldKind::Map(value_kind) => Expr::Table(self.map_entries(path, value_kind, rules.inner(), table)?),
                FieldKind::Any => Expr::Table(self.map_entries(path, &FieldKind::Any, rules.inner(), table)?),
                FieldKind::Tags => Expr::Table(self.tags(path, rules.inner(), table)?),
                FieldKind::Table(fields) => {
                    let (entries, valid) = self.table_entries(path, fields, rules.references, table, &span);
                    if !valid {
                        return None;
                    }
                    Expr::Table(entries)
                }
                _ => {
                    self.error(mismatch("a table"));
                    return None;
                }
            },
            DeValue::Float(_) | DeValue::Datetime(_) => {
                self.error(mismatch(found(value.get_ref())));
                return None;
            }
        };
        Some(SpannedExpr { expr, span })
    }

    /// A table's fields checked against their descriptors: every problem is reported, and the
    /// entries that passed are kept (`false` when any did not).
    pub(super) fn table_entries(
        &mut self,
        path: &str,
        fields: &[FieldSpec],
        references: References,
        table: &DeTable<'_>,
        span: &Range<usize>,
    ) -> (Vec<(String, SpannedExpr)>, bool) {
        let mut entries = Vec::new();
        let mut valid = true;
        for (key, item) in table.iter() {
            let name = key.get_ref().as_ref();
            let Some(spec) = fields.iter().find(|f| f.name == name) else {
                let known: Vec<&str> = fields.iter().map(|f| f.name).collect();
                let diagnostic =
                    Diagnostic::error(format!("unknown field `{name}` in `{path}`"), Some(key.span())).shape();
                self.error(with_suggestion(diagnostic, name, &known, "fields"));
                valid = false;
                continue;
            };
            match self.typed_expr(&child_path(path, name), &spec.kind, Rules::of(spec, references), item) {
                Some(expr) => entries.push((name.to_string(), expr)),
                None => valid = false,
            }
        }
        valid &= self.required_fields(path, fields, table, span);
        (entries, valid)
    }

    /// Reports each required field the table does not have (one written but not valid was
    /// reported already); `false` when any is missing.
    pub(super) fn required_fields(
        &mut self,
        path: &str,
        fields: &[FieldSpec],
        table: &DeTable<'_>,
        span: &Range<usize>,
    ) -> bool {
        let mut complete = true;
        for spec in fields.iter().filter(|f| f.required) {
            if !table.iter().any(|(key, _)| key.get_ref() == spec.name) {
                self.error(
                    Diagnostic::error(
                        format!("`{path}` is missing the required field `{}`", spec.name),
                        Some(span.clone()),
                    )
                    .hint(format!("add `{} = …`: {}", spec.name, spec.description))
                    .shape(),
                );
                complete = false;
            }
        }
        complete
    }

    /// The entries of a table with any keys whose values are of `kind` (`None` if one is not).
    fn map_entries(
        &mut self,
        path: &str,
        kind: &FieldKind,
        rules: Rules,
        table: &DeTable<'_>,
    ) -> Option<Vec<(String, SpannedExpr)>> {
        let mut entries = Vec::new();
        let mut valid = true;
        for (key, item) in table.iter() {
            match self.typed_expr(&child_path(path, key.get_ref()), kind, rules, item) {
                Some(expr) => entries.push((key.get_ref().to_string(), expr)),
                None => valid = false,
            }
        }
        valid.then_some(entries)
    }

    /// Tags: strings under keys AWS allows, values no longer than AWS allows.
    fn tags(&mut self, path: &str, rules: Rules, table: &DeTable<'_>) -> Option<Vec<(String, SpannedExpr)>> {
        let mut valid = true;
        for (key, _) in table.iter() {
            let name = key.get_ref().as_ref();
            if let Some(problem) = tag_key_problem(name) {
                self.error(Diagnostic::error(format!("tag key `{name}` {problem}"), Some(key.span())).hint(
                    "tag keys are 1 to 128 characters and must not start with `aws:` (AWS's) or `provision:` (provision's own)",
                ).shape());
                valid = false;
            }
        }
        let entries = self.map_entries(path, &FieldKind::String, rules, table)?;
        for (name, expr) in &entries {
            if let Some(text) = literal(expr) {
                valid &= self.check_tag_value(name, text, expr.span.clone(), true);
            }
        }
        valid.then_some(entries)
    }

    /// A tag's value is at most 256 characters (literal ones are a rule of the JSON Schema too).
    pub(super) fn check_tag_value(&mut self, name: &str, text: &str, span: Range<usize>, literal: bool) -> bool {
        let length = text.chars().count();
        if length <= MAX_TAG_VALUE {
            return true;
        }
        let diagnostic =
            Diagnostic::error(format!("the value of tag `{name}` is {length} characters long"), Some(span))
                .hint(format!("AWS allows tag values of up to {MAX_TAG_VALUE} characters"));
        self.error(if literal { diagnostic.shape() } else { diagnostic });
        false
    }

    /// `{ env = "VARIABLE" }`.
    fn secret(&mut self, path: &str, table: &DeTable<'_>, span: &Range<usize>) -> Option<Expr> {
        let env = table.iter().find(|(k, _)| k.get_ref() == "env");
        let name = env.and_then(|(_, v)| v.get_ref().as_str());
        let valid = table.len() == 1 && name.is_some_and(|name| is_match(ENV_NAME_PATTERN, name));
        if !valid {
            self.error(
                Diagnostic::error(format!("`{path}` must be a secret from the environment"), Some(span.clone()))
                    .hint("write `{ env = \"VARIABLE\" }`; the value is never stored, only a salted hash")
                    .shape(),
            );
            return None;
        }
        let value = SpannedExpr {
            expr: Expr::Template(vec![Part::Literal(name.unwrap_or_default().to_string())]),
            span: span.clone(),
        };
        Some(Expr::Table(vec![("env".to_string(), value)]))
    }

    fn secret_in_file(&mut self, path: &str, span: &Range<usize>) -> Option<SpannedExpr> {
        self.error(
            Diagnostic::error(
                format!("`{path}` is a secret and cannot be written in the stack file"),
                Some(span.clone()),
            )
            .hint("write `{ env = \"VARIABLE\" }` and set the variable when running provision")
            .shape(),
        );
        None
    }

    /// A string's parts: references parsed where the field allows them, and only those it allows.
    fn string_parts(&mut self, path: &str, text: &str, rules: Rules, span: &Range<usize>) -> Option<Vec<Part>> {
        if rules.references == References::None {
            return Some(vec![Part::Literal(text.to_string())]);
        }
        let parts = self.template(text, span)?;
        for part in &parts {
            if let Part::Reference(reference, reference_span) = part {
                if !allows(rules.references, reference) {
                    self.error(
                        Diagnostic::error(
                            format!("`${{{reference}}}` cannot be used in `{path}`"),
                            Some(reference_span.clone()),
                        )
                        .hint(format!("`{path}` may hold {}", rules.references.describe()))
                        .shape(),
                    );
                    return None;
                }
            }
        }
        Some(parts)
    }

    /// A literal string's rules: not empty, the field's AWS check, its pattern. A sensitive field's
    /// problems name its place in the text and never show the value.
    fn literal_rules(&mut self, path: &str, literal: &str, rules: Rules, span: &Range<usize>) -> Option<()> {
        let hint = rules.pattern.map(|pattern| format!("use {}", pattern.rule));
        let pattern_ok = rules.pattern.is_none_or(|pattern| is_match(pattern.regex, literal));
        let problem = if rules.non_empty && literal.is_empty() {
            Some((format!("`{path}` is empty"), true))
        } else if let Some(Err(message)) = rules.check.map(|check| check(literal)) {
            // The AWS rule says best what is wrong; the schema sees it too when the pattern fails.
            Some((format!("`{path}`: {message}"), !pattern_ok))
        } else if !pattern_ok {
            let shown = if rules.sensitive { "the value".to_string() } else { format!("`{literal}`") };
            Some((format!("`{path}`: {shown} is not valid"), true))
        } else {
            None
        };
        let Some((message, shape)) = problem else { return Some(()) };
        let mut diagnostic = if rules.sensitive {
            // No excerpt: the line would show the value.
            let location = StackError::location(self.file, self.source, span.start);
            Diagnostic::error(format!("{location}: {message}"), None)
        } else {
            Diagnostic::error(message, Some(span.clone()))
        };
        if let Some(hint) = hint {
            diagnostic = diagnostic.hint(hint);
        }
        self.error(if shape { diagnostic.shape() } else { diagnostic });
        None
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
                self.error(Diagnostic::error(error.message, Some(at)).shape());
                None
            }
        }
    }
}
