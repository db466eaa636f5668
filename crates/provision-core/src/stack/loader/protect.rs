//! `protect = true` (or a `${var.NAME}` holding a boolean, e.g. one per environment) on any
//! resource. It is known when the file is loaded, so the plan can refuse a destroy, a replacement
//! or a removal of the resource before anything happens.

use super::*;

const HINT: &str =
    "write `protect = true`, `false`, or a variable that holds one, e.g. `protect = \"${var.production}\"`";

impl Loader<'_> {
    /// The value of a `protect` key its descriptor has checked: a boolean, or one `${var.NAME}`.
    pub(super) fn protect(
        &mut self,
        address: &Address,
        expr: &SpannedExpr,
        variables: &BTreeMap<String, Value>,
    ) -> bool {
        let span = expr.span.clone();
        let name = match &expr.expr {
            Expr::Bool(on) => return *on,
            Expr::Template(parts) => match parts.as_slice() {
                [Part::Reference(Reference::Variable(name), _)] => name,
                // The descriptor lets nothing else through (`schema::RESOURCE_KEYS`).
                _ => return false,
            },
            _ => return false,
        };
        match variables.get(name) {
            Some(Value::Bool(on)) => *on,
            Some(Value::Str(text)) if text == "true" || text == "false" => text == "true",
            Some(other) => {
                self.error(
                    Diagnostic::error(
                        format!("`{address}.protect`: `${{var.{name}}}` is {}, not a boolean", other.type_name()),
                        Some(span),
                    )
                    .hint(HINT),
                );
                false
            }
            None => {
                let known: Vec<&str> = variables.keys().map(String::as_str).collect();
                let diagnostic = Diagnostic::error(format!("unknown variable `{name}`"), Some(span))
                    .hint(format!("declare it in `[variables]`: `{name} = false`"));
                self.error(with_suggestion(diagnostic, name, &known, "variables"));
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_drivers::load_text;

    fn protected(text: &str, variables: &[(&str, &str)]) -> Result<bool, String> {
        let stack = load_text(text, variables)?;
        Ok(stack.resources[&"ecs_service.api".parse().unwrap()].protect)
    }

    #[test]
    fn protect_is_a_boolean_or_a_variable_holding_one() {
        let stack = |value: &str| {
            format!("[stack]\nname = \"shop\"\n[variables]\nproduction = false\n[ecs_service.api]\nprotect = {value}\n")
        };
        assert_eq!(protected(&stack("true"), &[]), Ok(true));
        assert_eq!(protected(&stack("\"${var.production}\""), &[]), Ok(false));
        assert_eq!(protected(&stack("\"${var.production}\""), &[("production", "true")]), Ok(true));
        let error = protected(&stack("\"yes\""), &[]).unwrap_err();
        assert!(error.contains("`ecs_service.api.protect` must be a boolean, found a string"), "{error}");
        let error = protected(&stack("\"${ecs_service.other.arn}\""), &[]).unwrap_err();
        assert!(error.contains("cannot be used in `ecs_service.api.protect`"), "{error}");
        let error = protected(&stack("\"${var.prod}\""), &[]).unwrap_err();
        assert!(error.contains("unknown variable `prod`") && error.contains("production"), "{error}");
    }
}
