//! `protect = true` (or a `${var.NAME}` holding a boolean, e.g. one per environment) on any
//! resource. It is known when the file is loaded, so the plan can refuse a destroy, a replacement
//! or a removal of the resource before anything happens.

use super::*;

const HINT: &str =
    "write `protect = true`, `false`, or a variable that holds one, e.g. `protect = \"${var.production}\"`";

impl Loader<'_> {
    pub(super) fn protect(
        &mut self,
        address: &Address,
        value: &Spanned<DeValue<'_>>,
        variables: &BTreeMap<String, Value>,
    ) -> bool {
        let span = value.span();
        let text = match value.get_ref() {
            DeValue::Boolean(on) => return *on,
            DeValue::String(text) => text,
            _ => {
                self.error(Diagnostic::error(format!("`{address}.protect` must be a boolean"), Some(span)).hint(HINT));
                return false;
            }
        };
        let Some(parts) = self.template(text, &span) else { return false };
        let [Part::Reference(Reference::Variable(name), _)] = parts.as_slice() else {
            self.error(
                Diagnostic::error(format!("`{address}.protect` must be a boolean or one `${{var.NAME}}`"), Some(span))
                    .hint(HINT),
            );
            return false;
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
            // An unknown variable is reported with the other references.
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
        assert!(error.contains("`ecs_service.api.protect` must be a boolean or one `${var.NAME}`"), "{error}");
        let error = protected(&stack("\"${var.prod}\""), &[]).unwrap_err();
        assert!(error.contains("unknown variable `prod`") && error.contains("production"), "{error}");
    }
}
