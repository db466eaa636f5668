//! Reading values the descriptors have checked: a table's entries, literal text, and the
//! `${var.NAME}` (and `${stack.name}`) a section's strings resolve to at once, since sections are
//! read before anything else exists.

use super::*;

/// The entries of a checked table (a section, `[TYPE.NAME.container]`), or none.
pub(super) fn entries(expr: &SpannedExpr) -> &[(String, SpannedExpr)] {
    match &expr.expr {
        Expr::Table(entries) => entries,
        _ => &[],
    }
}

pub(super) fn entry<'a>(entries: &'a [(String, SpannedExpr)], name: &str) -> Option<&'a SpannedExpr> {
    entries.iter().find(|(key, _)| key == name).map(|(_, value)| value)
}

/// The text of a string written without references.
pub(super) fn literal(expr: &SpannedExpr) -> Option<&str> {
    match &expr.expr {
        Expr::Template(parts) => match parts.as_slice() {
            [Part::Literal(text)] => Some(text),
            _ => None,
        },
        _ => None,
    }
}

/// A value written without references (`[variables]`).
pub(super) fn literal_value(expr: &SpannedExpr) -> Option<Value> {
    Some(match &expr.expr {
        Expr::Bool(b) => Value::Bool(*b),
        Expr::Int(i) => Value::Int(*i),
        Expr::Template(_) => Value::Str(literal(expr)?.to_string()),
        Expr::List(items) => Value::List(items.iter().map(literal_value).collect::<Option<_>>()?),
        Expr::Table(_) => return None,
    })
}

impl Loader<'_> {
    /// A checked string with its `${var.NAME}` (and, given the stack's name, `${stack.name}`)
    /// references filled in: sections are read before anything else exists.
    pub(super) fn resolved_text(
        &mut self,
        expr: &SpannedExpr,
        variables: &BTreeMap<String, Value>,
        stack_name: Option<&str>,
    ) -> Option<(String, Range<usize>)> {
        let Expr::Template(parts) = &expr.expr else { return None };
        let mut result = String::new();
        for part in parts {
            match part {
                Part::Literal(literal) => result.push_str(literal),
                Part::Reference(Reference::Variable(name), reference_span) if self.sensitive.contains(name) => {
                    self.error(super::sensitive::sensitive_misuse(name, "this field", reference_span.clone()));
                    return None;
                }
                Part::Reference(Reference::Variable(name), reference_span) => match variables.get(name) {
                    Some(value) => match value.interpolated() {
                        Some(piece) => result.push_str(&piece),
                        None => {
                            self.error(Diagnostic::error(
                                format!("variable `{name}` is not a string"),
                                Some(reference_span.clone()),
                            ));
                            return None;
                        }
                    },
                    None => {
                        let known: Vec<&str> = variables.keys().map(String::as_str).collect();
                        let diagnostic =
                            Diagnostic::error(format!("unknown variable `{name}`"), Some(reference_span.clone()))
                                .hint(format!("declare it in `[variables]`: `{name} = \"…\"`"));
                        self.error(with_suggestion(diagnostic, name, &known, "variables"));
                        return None;
                    }
                },
                Part::Reference(Reference::Stack(attribute), _) if attribute == "name" && stack_name.is_some() => {
                    result.push_str(stack_name.unwrap_or_default())
                }
                Part::Reference(reference, reference_span) => {
                    self.error(Diagnostic::error(
                        format!("`${{{reference}}}` cannot be used here"),
                        Some(reference_span.clone()),
                    ));
                    return None;
                }
            }
        }
        Some((result, expr.span.clone()))
    }

    /// Checked tags with their variables filled in.
    pub(super) fn resolved_tags(
        &mut self,
        expr: &SpannedExpr,
        variables: &BTreeMap<String, Value>,
    ) -> BTreeMap<String, String> {
        let mut tags = BTreeMap::new();
        for (name, value) in entries(expr) {
            if let Some((text, span)) = self.resolved_text(value, variables, None) {
                if literal(value).is_some() || self.check_tag_value(name, &text, span, false) {
                    tags.insert(name.clone(), text);
                }
            }
        }
        tags
    }

    /// AWS allows 50 tags per resource; provision adds its own two to the stack's and the resource's.
    pub(super) fn check_tag_count(&mut self, address: &str, stack_tags: usize, own: usize, span: Range<usize>) {
        use crate::schema::tags::{MAX_TAGS, PROVISION_TAGS};
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
}
