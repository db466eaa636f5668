//! Secret values that come through variables.
//!
//! A secret is a property of the value, not of how it is written: `password = { env = "PW" }`
//! and `password = "${var.pw}"` must both keep the password out of the state, plans, logs and
//! errors. So a variable is *sensitive* when it is declared `{ default = "…", sensitive = true }`
//! or when a secret field takes it whole; a sensitive variable may then flow only into secret
//! fields, which the resolver hashes. Anywhere else — a plain field, a tag, the stack's name, an
//! output — it would be shown and stored in clear, so it is refused with the place it was used.

use super::*;

impl Loader<'_> {
    /// Variables that a secret field takes whole (`password = "${var.pw}"`), found before anything
    /// uses a variable, so that every use of them is checked.
    pub(super) fn secret_field_variables(&self, root: &DeTable<'_>) -> BTreeSet<String> {
        let mut found = BTreeSet::new();
        for (type_name, resources) in root.iter() {
            let Some(driver) = self.drivers.get(type_name.get_ref()) else { continue };
            let Some(resources) = resources.get_ref().as_table() else { continue };
            for (_, body) in resources.iter() {
                let Some(fields) = body.get_ref().as_table() else { continue };
                for (field, value) in fields.iter() {
                    let secret = driver.schema().field(field.get_ref()).is_some_and(|f| is_secret(&f.kind));
                    let Some(text) = value.get_ref().as_str().filter(|_| secret) else { continue };
                    if let Ok(parts) = parse_template(text, 0) {
                        for part in parts {
                            if let Part::Reference(Reference::Variable(name), _) = part {
                                found.insert(name);
                            }
                        }
                    }
                }
            }
        }
        found
    }

    /// `NAME = { default = …, sensitive = true }`, already checked against its descriptor
    /// (`crate::schema::SECTIONS`): the default, or `None` when there is none (the value must come
    /// from `--var`). Marks the variable sensitive when it says so.
    pub(super) fn variable_declaration(&mut self, name: &str, declaration: &SpannedExpr) -> Option<Value> {
        let fields = checked::entries(declaration);
        if matches!(checked::entry(fields, "sensitive").map(|e| &e.expr), Some(Expr::Bool(true))) {
            self.sensitive.insert(name.to_string());
        }
        let default = checked::entry(fields, "default").and_then(checked::literal_value);
        if default.is_none() && !self.sensitive.contains(name) {
            self.error(
                Diagnostic::error(
                    format!("variable `{name}` declares neither a `default` nor `sensitive = true`"),
                    Some(declaration.span.clone()),
                )
                .hint(format!("write `{name} = \"value\"`, or `{name} = {{ default = \"value\", sensitive = true }}`")),
            );
            return Some(Value::Str(String::new()));
        }
        default
    }

    /// Refuses a sensitive variable anywhere it would be kept or shown in clear: a field that is not
    /// a secret, or an output.
    pub(super) fn check_sensitive_uses(
        &mut self,
        resources: &BTreeMap<Address, ResourceSpec>,
        outputs: &[crate::stack::Output],
    ) {
        if self.sensitive.is_empty() {
            return;
        }
        let mut misuses = Vec::new();
        for resource in resources.values() {
            let Some(driver) = self.drivers.get(&resource.address.type_name) else { continue };
            for (field, expr) in &resource.fields {
                if driver.schema().field(field).is_some_and(|f| is_secret(&f.kind)) {
                    continue;
                }
                for (reference, span) in expr.references() {
                    if let Reference::Variable(name) = reference {
                        if self.sensitive.contains(name.as_str()) {
                            misuses.push((format!("`{}.{field}`", resource.address), name.clone(), span.clone()));
                        }
                    }
                }
            }
        }
        for output in outputs {
            for (reference, span) in output.value.references() {
                if let Reference::Variable(name) = reference {
                    if self.sensitive.contains(name.as_str()) {
                        misuses.push((format!("the output `{}`", output.name), name.clone(), span.clone()));
                    }
                }
            }
        }
        for (place, name, span) in misuses {
            self.error(sensitive_misuse(&name, &place, span));
        }
    }
}

/// The error for a sensitive variable used where its value would be kept or shown in clear.
pub(super) fn sensitive_misuse(name: &str, place: &str, span: Range<usize>) -> Diagnostic {
    Diagnostic::error(
        format!("`${{var.{name}}}` is sensitive and cannot be used in {place}: its value would be shown and stored in clear"),
        Some(span),
    )
    .label("a secret")
    .hint("use it only in a secret field (`secret.value`, `db_instance.password`, `elasticache_redis.auth_token`); a container reads a secret through `container.secrets` and a `secret` resource's ARN")
}

fn is_secret(kind: &FieldKind) -> bool {
    matches!(kind, FieldKind::Secret)
}

/// Each resource's destructive settings as the file writes them (`crate::plan::DESTRUCTIVE_FIELDS`):
/// a literal, or a `${var.NAME}` alone. Read leniently from the TOML — a state-only load (destroy)
/// checks nothing else of the resources — so a value of the wrong type is simply absent, and the
/// delete falls back to the field's safe default.
pub(super) fn deletion_settings(
    drivers: &DriverRegistry,
    root: &DeTable<'_>,
    variables: &BTreeMap<String, Value>,
) -> BTreeMap<Address, BTreeMap<String, Value>> {
    let mut settings = BTreeMap::new();
    for (type_name, resources) in root.iter() {
        let Some(driver) = drivers.get(type_name.get_ref()) else { continue };
        let Some(resources) = resources.get_ref().as_table() else { continue };
        for (name, body) in resources.iter() {
            let Some(fields) = body.get_ref().as_table() else { continue };
            let mut found = BTreeMap::new();
            for field in crate::plan::DESTRUCTIVE_FIELDS {
                let Some(value) = fields.get(*field).map(|value| value.get_ref()) else { continue };
                if driver.schema().field(field).is_none() {
                    continue;
                }
                let value = match value {
                    DeValue::Boolean(b) => Some(Value::Bool(*b)),
                    DeValue::Integer(i) => {
                        i64::from_str_radix(&i.as_str().replace('_', ""), i.radix()).ok().map(Value::Int)
                    }
                    DeValue::String(text) => match parse_template(text, 0).ok().as_deref() {
                        Some([Part::Reference(Reference::Variable(variable), _)]) => variables.get(variable).cloned(),
                        Some([Part::Literal(text)]) => Some(Value::Str(text.clone())),
                        _ => None,
                    },
                    _ => None,
                };
                if let Some(value) = value {
                    found.insert(field.to_string(), value);
                }
            }
            if !found.is_empty() {
                settings.insert(Address::new(driver.schema().type_name, name.get_ref().as_ref()), found);
            }
        }
    }
    settings
}
