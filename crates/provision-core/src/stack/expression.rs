//! `${...}` references inside strings, and the expression tree a field's value is kept as until the
//! planner can resolve it.

use std::collections::BTreeMap;
use std::ops::Range;

use crate::address::Address;
use crate::value::Value;

/// What a `${...}` names.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Reference {
    /// `${TYPE.NAME.ATTRIBUTE}`
    Resource { address: Address, attribute: String },
    /// `${var.NAME}`
    Variable(String),
    /// `${network.vpc_id}`, `${network.subnet_ids}`
    Network(String),
    /// `${stack.name}`, `${stack.region}`
    Stack(String),
}

impl std::fmt::Display for Reference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reference::Resource { address, attribute } => write!(f, "{address}.{attribute}"),
            Reference::Variable(name) => write!(f, "var.{name}"),
            Reference::Network(name) => write!(f, "network.{name}"),
            Reference::Stack(name) => write!(f, "stack.{name}"),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Part {
    Literal(String),
    /// A reference and where it stands in the stack file.
    Reference(Reference, Range<usize>),
}

/// A field value as written in the stack file, with the position of every piece.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    Bool(bool),
    Int(i64),
    /// A string, possibly with references. Exactly one reference and nothing else stands for the
    /// referenced value itself (so `"${network.subnet_ids}"` is a list).
    Template(Vec<Part>),
    List(Vec<SpannedExpr>),
    Table(Vec<(String, SpannedExpr)>),
}

#[derive(Clone, Debug, PartialEq)]
pub struct SpannedExpr {
    pub expr: Expr,
    pub span: Range<usize>,
}

#[derive(Debug, PartialEq)]
pub struct SyntaxError {
    pub message: String,
    /// Byte offset within the string's source text.
    pub offset: usize,
}

/// Parses the text of a TOML string. `base` is the offset of its first character in the file, so
/// reference spans point into the stack file.
pub fn parse_template(text: &str, base: usize) -> Result<Vec<Part>, SyntaxError> {
    let mut parts = Vec::new();
    let mut literal = String::new();
    let mut rest = text;
    let mut position = 0;
    while let Some(start) = rest.find('$') {
        literal.push_str(&rest[..start]);
        let after = &rest[start..];
        if after.starts_with("$${") {
            literal.push_str("${");
            rest = &after[3..];
            position += start + 3;
            continue;
        }
        if !after.starts_with("${") {
            literal.push('$');
            rest = &after[1..];
            position += start + 1;
            continue;
        }
        let Some(end) = after.find('}') else {
            return Err(SyntaxError {
                message: "unclosed `${`; write `$${` for a literal `${`".into(),
                offset: position + start,
            });
        };
        if !literal.is_empty() {
            parts.push(Part::Literal(std::mem::take(&mut literal)));
        }
        let inner = after[2..end].trim();
        let span_start = base + position + start;
        let reference = parse_reference(inner).map_err(|message| SyntaxError { message, offset: position + start })?;
        parts.push(Part::Reference(reference, span_start..span_start + end + 1));
        rest = &after[end + 1..];
        position += start + end + 1;
    }
    literal.push_str(rest);
    if !literal.is_empty() || parts.is_empty() {
        parts.push(Part::Literal(literal));
    }
    Ok(parts)
}

fn parse_reference(inner: &str) -> Result<Reference, String> {
    let pieces: Vec<&str> = inner.split('.').collect();
    let valid = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !pieces.iter().all(|p| valid(p)) {
        return Err(format!("`${{{inner}}}` is not a reference; expected `${{TYPE.NAME.ATTRIBUTE}}`, `${{var.NAME}}`, `${{network.vpc_id}}` or `${{stack.name}}`"));
    }
    match pieces.as_slice() {
        ["var", name] => Ok(Reference::Variable(name.to_string())),
        ["network", name] => Ok(Reference::Network(name.to_string())),
        ["stack", name] => Ok(Reference::Stack(name.to_string())),
        [type_name, name, attribute] => Ok(Reference::Resource {
            address: Address::new(*type_name, *name),
            attribute: attribute.to_string(),
        }),
        _ => Err(format!("`${{{inner}}}` is not a reference; expected `${{TYPE.NAME.ATTRIBUTE}}`, `${{var.NAME}}`, `${{network.vpc_id}}` or `${{stack.name}}`")),
    }
}

impl SpannedExpr {
    /// Every reference in the expression, with its span.
    pub fn references(&self) -> Vec<(&Reference, &Range<usize>)> {
        let mut found = Vec::new();
        self.collect_references(&mut found);
        found
    }

    fn collect_references<'a>(&'a self, found: &mut Vec<(&'a Reference, &'a Range<usize>)>) {
        match &self.expr {
            Expr::Template(parts) => {
                for part in parts {
                    if let Part::Reference(reference, span) = part {
                        found.push((reference, span));
                    }
                }
            }
            Expr::List(items) => items.iter().for_each(|item| item.collect_references(found)),
            Expr::Table(entries) => entries.iter().for_each(|(_, value)| value.collect_references(found)),
            Expr::Bool(_) | Expr::Int(_) => {}
        }
    }

    /// Replaces every reference `replace` answers for (the stack's own network stands in for
    /// `${network.*}`), keeping its span.
    pub fn replace_references(&mut self, replace: &dyn Fn(&Reference) -> Option<Reference>) {
        match &mut self.expr {
            Expr::Template(parts) => {
                for part in parts {
                    if let Part::Reference(reference, _) = part {
                        if let Some(new) = replace(reference) {
                            *reference = new;
                        }
                    }
                }
            }
            Expr::List(items) => items.iter_mut().for_each(|item| item.replace_references(replace)),
            Expr::Table(entries) => entries.iter_mut().for_each(|(_, value)| value.replace_references(replace)),
            Expr::Bool(_) | Expr::Int(_) => {}
        }
    }

    /// The value, asking `lookup` for each reference. A reference `lookup` cannot answer yet is
    /// `Value::Unknown`, and so is any string built from one.
    pub fn resolve(&self, lookup: &dyn Fn(&Reference) -> Value) -> Value {
        match &self.expr {
            Expr::Bool(b) => Value::Bool(*b),
            Expr::Int(i) => Value::Int(*i),
            Expr::Template(parts) => resolve_template(parts, lookup),
            Expr::List(items) => {
                // A list item that is itself a whole list (`["${network.subnet_ids}"]`) is flattened.
                let mut values = Vec::new();
                for item in items {
                    match item.resolve(lookup) {
                        Value::List(inner) if matches!(&item.expr, Expr::Template(p) if p.len() == 1) => {
                            values.extend(inner)
                        }
                        other => values.push(other),
                    }
                }
                Value::List(values)
            }
            Expr::Table(entries) => {
                Value::Map(entries.iter().map(|(k, v)| (k.clone(), v.resolve(lookup))).collect::<BTreeMap<_, _>>())
            }
        }
    }
}

fn resolve_template(parts: &[Part], lookup: &dyn Fn(&Reference) -> Value) -> Value {
    if let [Part::Reference(reference, _)] = parts {
        return lookup(reference);
    }
    let mut text = String::new();
    for part in parts {
        match part {
            Part::Literal(literal) => text.push_str(literal),
            Part::Reference(reference, _) => match lookup(reference) {
                Value::Unknown => return Value::Unknown,
                value => match value.interpolated() {
                    Some(piece) => text.push_str(&piece),
                    None => return Value::Unknown,
                },
            },
        }
    }
    Value::Str(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(text: &str) -> Vec<Part> {
        parse_template(text, 0).unwrap()
    }

    #[test]
    fn plain_strings_are_one_literal() {
        assert_eq!(template("hello"), vec![Part::Literal("hello".into())]);
        assert_eq!(template(""), vec![Part::Literal(String::new())]);
    }

    #[test]
    fn references_are_found_with_their_spans() {
        let parts = parse_template("https://${cloudfront_distribution.cdn.domain_name}/", 10).unwrap();
        assert_eq!(parts.len(), 3);
        let Part::Reference(Reference::Resource { address, attribute }, span) = &parts[1] else { panic!() };
        assert_eq!(address.to_string(), "cloudfront_distribution.cdn");
        assert_eq!(attribute, "domain_name");
        assert_eq!(span.clone(), 18..60);
    }

    #[test]
    fn dollar_dollar_is_a_literal() {
        assert_eq!(template("a$${b}"), vec![Part::Literal("a${b}".into())]);
        assert_eq!(template("cost: $5"), vec![Part::Literal("cost: $5".into())]);
    }

    #[test]
    fn malformed_references_are_errors() {
        assert!(parse_template("${var.x", 0).unwrap_err().message.contains("unclosed"));
        assert!(parse_template("${a.b.c.d}", 0).is_err());
        assert!(parse_template("${ }", 0).is_err());
    }

    #[test]
    fn a_lone_reference_keeps_its_type() {
        let expr = SpannedExpr { expr: Expr::Template(template("${network.subnet_ids}")), span: 0..1 };
        let list = Value::List(vec![Value::Str("a".into())]);
        assert_eq!(expr.resolve(&|_| list.clone()), list);
    }

    #[test]
    fn an_unknown_part_makes_the_string_unknown() {
        let expr = SpannedExpr { expr: Expr::Template(template("x-${s3_bucket.a.name}")), span: 0..1 };
        assert_eq!(expr.resolve(&|_| Value::Unknown), Value::Unknown);
        assert_eq!(expr.resolve(&|_| Value::Str("b".into())), Value::Str("x-b".into()));
    }
}
