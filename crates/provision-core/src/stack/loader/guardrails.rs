//! `[guardrails] allow = [{ check = "ID", address = "TYPE.NAME", reason = "…" }]`: accepting a
//! guardrail finding on purpose, with a reason the plan prints. Checked offline, so a misspelt
//! check id or a resource that is not in the stack fails `validate`, not a review.

use super::*;
use crate::guardrails::{check_ids, Allow};

const ENTRY_FIELDS: &[&str] = &["check", "address", "reason"];

impl Loader<'_> {
    pub(super) fn guardrails(
        &mut self,
        (key, value): Entry<'_, '_>,
        resources: &BTreeMap<Address, ResourceSpec>,
    ) -> Vec<Allow> {
        let mut allowed = Vec::new();
        let Some(table) = self.table(key, value) else { return allowed };
        for (field, value) in table.iter() {
            if field.get_ref() != "allow" {
                let diagnostic = Diagnostic::error(
                    format!("unknown field `{}` in `[guardrails]`", field.get_ref()),
                    Some(field.span()),
                );
                self.error(with_suggestion(diagnostic, field.get_ref(), &["allow"], "fields"));
                continue;
            }
            let Some(items) = value.get_ref().as_array() else {
                self.error(Self::allow_shape(value.span()));
                continue;
            };
            for item in items.iter() {
                if let Some(allow) = self.allow_entry(item, resources) {
                    allowed.push(allow);
                }
            }
        }
        allowed
    }

    fn allow_entry(
        &mut self,
        item: &Spanned<DeValue<'_>>,
        resources: &BTreeMap<Address, ResourceSpec>,
    ) -> Option<Allow> {
        let Some(entry) = item.get_ref().as_table() else {
            self.error(Self::allow_shape(item.span()));
            return None;
        };
        let (mut check, mut address, mut reason) = (None, None, None);
        for (field, value) in entry.iter() {
            let Some(text) = value.get_ref().as_str() else {
                self.error(Diagnostic::error(
                    format!("`{}` in `[guardrails] allow` must be a string", field.get_ref()),
                    Some(value.span()),
                ));
                return None;
            };
            match field.get_ref().as_ref() {
                "check" => check = Some((text.to_string(), value.span())),
                "address" => address = Some((text.to_string(), value.span())),
                "reason" => reason = Some((text.trim().to_string(), value.span())),
                other => {
                    let diagnostic = Diagnostic::error(
                        format!("unknown field `{other}` in `[guardrails] allow`"),
                        Some(field.span()),
                    );
                    self.error(with_suggestion(diagnostic, other, ENTRY_FIELDS, "fields"));
                    return None;
                }
            }
        }
        let (Some((check, check_span)), Some((address, address_span))) = (check, address) else {
            self.error(Self::allow_shape(item.span()));
            return None;
        };
        let ids = check_ids();
        if !ids.contains(&check.as_str()) {
            let diagnostic = Diagnostic::error(format!("`{check}` is not a guardrail check"), Some(check_span));
            self.error(with_suggestion(diagnostic, &check, &ids, "checks"));
            return None;
        }
        let parsed = match address.parse::<Address>() {
            Ok(parsed) if resources.contains_key(&parsed) => parsed,
            Ok(_) => {
                let known: Vec<String> = resources.keys().map(Address::to_string).collect();
                let known: Vec<&str> = known.iter().map(String::as_str).collect();
                let diagnostic = Diagnostic::error(
                    format!("`[guardrails] allow` names `{address}`, which is not a resource of this stack"),
                    Some(address_span),
                );
                self.error(with_suggestion(diagnostic, &address, &known, "resources"));
                return None;
            }
            Err(problem) => {
                self.error(Diagnostic::error(problem, Some(address_span)));
                return None;
            }
        };
        match reason {
            Some((reason, _)) if !reason.is_empty() => Some(Allow { check, address: parsed, reason }),
            Some((_, span)) => {
                self.error(
                    Diagnostic::error("the `reason` of a `[guardrails] allow` is empty", Some(span))
                        .hint("say why this finding is acceptable here: the plan prints it for reviewers"),
                );
                None
            }
            None => {
                self.error(
                    Diagnostic::error("a `[guardrails] allow` needs a `reason`", Some(item.span()))
                        .hint("add `reason = \"…\"`: why this finding is acceptable here (the plan prints it)"),
                );
                None
            }
        }
    }

    fn allow_shape(span: std::ops::Range<usize>) -> Diagnostic {
        Diagnostic::error(
            "`[guardrails] allow` must be a list of `{ check = \"ID\", address = \"TYPE.NAME\", reason = \"…\" }`",
            Some(span),
        )
        .hint(format!("the checks are {}", check_ids().iter().map(|c| format!("`{c}`")).collect::<Vec<_>>().join(", ")))
    }
}
