//! `[guardrails] allow = [{ check = "ID", address = "TYPE.NAME", reason = "…" }]`: accepting a
//! guardrail finding on purpose, with a reason the plan prints. The descriptors have checked the
//! shape (a known check id, an address, a reason); here the address must be a resource of this
//! stack, so a misspelt one fails `validate`, not a review.

use super::*;
use crate::guardrails::Allow;

impl Loader<'_> {
    pub(super) fn guardrails(
        &mut self,
        section: &SpannedExpr,
        resources: &BTreeMap<Address, ResourceSpec>,
    ) -> Vec<Allow> {
        let Some(list) = entry(entries(section), "allow") else { return Vec::new() };
        let Expr::List(items) = &list.expr else { return Vec::new() };
        let mut allowed = Vec::new();
        for item in items {
            let fields = entries(item);
            // A missing or malformed field is reported by the descriptors already.
            let (Some(check), Some(address_value), Some(reason_value)) =
                (entry(fields, "check"), entry(fields, "address"), entry(fields, "reason"))
            else {
                continue;
            };
            let (Some(check), Some(address), Some(reason)) =
                (literal(check), literal(address_value), literal(reason_value))
            else {
                continue;
            };
            if reason.trim().is_empty() {
                self.error(
                    Diagnostic::error(
                        "the `reason` of a `[guardrails] allow` is empty",
                        Some(reason_value.span.clone()),
                    )
                    .hint("say why this finding is acceptable here: the plan prints it for reviewers"),
                );
                continue;
            }
            let Ok(parsed) = address.parse::<Address>() else { continue };
            if !resources.contains_key(&parsed) {
                let known: Vec<String> = resources.keys().map(Address::to_string).collect();
                let known: Vec<&str> = known.iter().map(String::as_str).collect();
                let diagnostic = Diagnostic::error(
                    format!("`[guardrails] allow` names `{address}`, which is not a resource of this stack"),
                    Some(address_value.span.clone()),
                );
                self.error(with_suggestion(diagnostic, address, &known, "resources"));
                continue;
            }
            allowed.push(Allow { check: check.to_string(), address: parsed, reason: reason.trim().to_string() });
        }
        allowed
    }
}
