//! The text rules of the stack format as regular expressions: the references a string may hold
//! (for the JSON Schema, which cannot run the loader's parser) and the patterns of the
//! descriptors (which the loader runs too, so that neither accepts what the other refuses).
//!
//! The expressions use only what ECMA 262, Python's `re` and Rust's `regex` agree on (no
//! look-around), because editors validate with any of them.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use super::References;

/// `${network.ATTRIBUTE}` names these.
pub const NETWORK_ATTRIBUTES: &[&str] = &["vpc_id", "subnet_ids", "public_subnet_ids"];
/// `${stack.ATTRIBUTE}` names these.
pub const STACK_ATTRIBUTES: &[&str] = &["name", "region"];

/// One dot-separated piece of a reference, as the parser allows it.
const PIECE: &str = "[A-Za-z0-9_-]+";

/// A string that holds at least one reference: a `${` not written as `$${`.
pub const CONTAINS_REFERENCE: &str = r"(^|[^$])\$\{";

/// The inside of `${…}` (without the braces) that `references` allows; `None` when it allows none.
fn reference(references: References) -> Option<String> {
    let variable = format!(r"var\.{PIECE}");
    Some(match references {
        References::None => return None,
        References::Variables => variable,
        References::VariablesAndStackName => format!(r"{variable}|stack\.name"),
        References::VariablesOrResources => format!(r"{variable}|{PIECE}\.{PIECE}\.{PIECE}"),
        References::Any => format!(
            r"{variable}|network\.(?:{})|stack\.(?:{})|{PIECE}\.{PIECE}\.{PIECE}",
            NETWORK_ATTRIBUTES.join("|"),
            STACK_ATTRIBUTES.join("|")
        ),
    })
}

/// A string that is exactly one reference (it stands for the value itself, of any type).
pub fn single_reference(references: References) -> Option<String> {
    reference(references).map(|inner| format!(r"^\$\{{\s*(?:{inner})\s*\}}$"))
}

/// A string whose every `${…}` is a reference allowed here: the template parser's grammar. A run
/// of two or more `$` before `{` is literal (`$${` is the escape); one `$` before `{` opens a
/// reference; any other `$` is literal.
pub fn template(references: References) -> Option<String> {
    reference(references).map(|inner| format!(r"^(?:[^$]|\$\$+\{{|\$+[^{{$]|\$+$|\$\{{\s*(?:{inner})\s*\}})*$"))
}

/// Whether `text` matches `regex` (searched for, as JSON Schema does). Expressions are compiled
/// once. One that does not compile refuses nothing (a unit test compiles every descriptor's).
pub fn is_match(regex: &'static str, text: &str) -> bool {
    static CACHE: OnceLock<Mutex<HashMap<&'static str, Option<regex_lite::Regex>>>> = OnceLock::new();
    let mut cache = CACHE.get_or_init(Default::default).lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let compiled = cache.entry(regex).or_insert_with(|| regex_lite::Regex::new(regex).ok());
    compiled.as_ref().is_none_or(|compiled| compiled.is_match(text))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stack::expression::{parse_template, Part};

    fn matches(regex: &str, text: &str) -> bool {
        regex_lite::Regex::new(regex).unwrap().is_match(text)
    }

    /// The template expression accepts exactly what the parser accepts (and, with
    /// `CONTAINS_REFERENCE`, sees a reference exactly where the parser finds one).
    #[test]
    fn the_template_expression_agrees_with_the_parser() {
        let any = template(References::Any).unwrap();
        let texts = [
            "plain",
            "",
            "cost: $5",
            "$",
            "a$",
            "$$",
            "$${x}",
            "$$${x}",
            "$$$${x}",
            "$${${var.x}",
            "${var.x}",
            "${ var.x }",
            "https://${cloudfront_distribution.cdn.domain_name}/",
            "${network.subnet_ids}",
            "${network.nope}",
            "${stack.name}-${stack.region}",
            "${var.x",
            "${a.b.c.d}",
            "${ }",
            "${aws:username}",
            "x-$${aws:username}",
            "${s3_bucket.site.name}${var.b}",
            "{}$}{",
        ];
        for text in texts {
            let parsed = parse_template(text, 0);
            let network_or_stack_ok = !text.contains("network.nope");
            assert_eq!(matches(&any, text), parsed.is_ok() && network_or_stack_ok, "{text:?}");
            if let Ok(parts) = parsed {
                let has_reference = parts.iter().any(|p| matches!(p, Part::Reference(..)));
                assert_eq!(matches(CONTAINS_REFERENCE, text), has_reference, "{text:?}");
            }
        }
    }

    #[test]
    fn policies_narrow_the_references() {
        let variables = template(References::Variables).unwrap();
        assert!(matches(&variables, "shop-${var.env}"));
        assert!(!matches(&variables, "shop-${stack.name}"));
        let state = template(References::VariablesAndStackName).unwrap();
        assert!(matches(&state, "state/${stack.name}.json"));
        assert!(!matches(&state, "state/${stack.region}.json"));
        let single = single_reference(References::Any).unwrap();
        assert!(matches(&single, "${var.production}"));
        assert!(matches(&single, "${network.subnet_ids}"));
        assert!(!matches(&single, "x${var.production}"));
        assert!(template(References::None).is_none());
    }
}
