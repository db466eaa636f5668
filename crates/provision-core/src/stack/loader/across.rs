//! Checks that look at two resources at once (a service and the role it runs with), asked of each
//! resource's driver once the whole stack is read. Their problems point at the field they name,
//! down into tables (`container.secrets.KEY`).

use std::ops::Range;

use super::*;

impl Loader<'_> {
    pub(super) fn checks_across_resources(&mut self, resources: &BTreeMap<Address, ResourceSpec>) {
        for resource in resources.values() {
            let Some(driver) = self.drivers.get(&resource.address.type_name) else { continue };
            for problem in driver.check_in_stack(resource, resources) {
                let span = field_span(resource, &problem.field).unwrap_or_else(|| resource.span.clone());
                let message = format!("`{}.{}`: {}", resource.address, problem.field, problem.message);
                let mut diagnostic = if problem.warning {
                    Diagnostic::warning(message, Some(span))
                } else {
                    Diagnostic::error(message, Some(span))
                };
                if let Some(hint) = problem.hint {
                    diagnostic = diagnostic.hint(hint);
                }
                self.error(diagnostic);
            }
        }
    }
}

/// Where `field` (`name` or `table.key.key`) stands in the stack file: the deepest part found.
fn field_span(resource: &ResourceSpec, field: &str) -> Option<Range<usize>> {
    let mut parts = field.split('.');
    let mut expr = resource.fields.get(parts.next()?)?;
    for part in parts {
        let Expr::Table(entries) = &expr.expr else { break };
        match entries.iter().find(|(key, _)| key == part) {
            Some((_, inner)) => expr = inner,
            None => break,
        }
    }
    Some(expr.span.clone())
}
