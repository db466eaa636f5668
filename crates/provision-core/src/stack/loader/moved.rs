//! `[[moved]]`: a resource renamed in the file keeps its AWS resource. Checked here as far as the
//! file tells (the addresses parse, `to` is in the file, `from` is not, no address moves twice); the
//! planner checks `from` against the state.

use super::*;
use crate::stack::Moved;

impl Loader<'_> {
    pub(super) fn moved(
        &mut self,
        value: &Spanned<DeValue<'_>>,
        resources: &BTreeMap<Address, ResourceSpec>,
    ) -> Vec<Moved> {
        let Some(entries) = value.get_ref().as_array() else {
            self.error(
                Diagnostic::error("`moved` must be a list of tables: `[[moved]]`", Some(value.span()))
                    .hint("write `[[moved]]` with `from = \"TYPE.OLD\"` and `to = \"TYPE.NEW\"`"),
            );
            return Vec::new();
        };
        let mut moves: Vec<Moved> = Vec::new();
        for entry in entries.iter() {
            let Some(table) = entry.get_ref().as_table() else {
                self.error(Diagnostic::error("each `[[moved]]` entry must be a table", Some(entry.span())));
                continue;
            };
            let mut from = None;
            let mut to = None;
            for (key, value) in table.iter() {
                let slot = match key.get_ref().as_ref() {
                    "from" => &mut from,
                    "to" => &mut to,
                    other => {
                        let diagnostic =
                            Diagnostic::error(format!("unknown field `{other}` in `[[moved]]`"), Some(key.span()));
                        self.error(with_suggestion(diagnostic, other, &["from", "to"], "fields"));
                        continue;
                    }
                };
                match value.get_ref().as_str().map(str::parse::<Address>) {
                    Some(Ok(address)) => *slot = Some((address, value.span())),
                    Some(Err(message)) => self.error(Diagnostic::error(message, Some(value.span()))),
                    None => self
                        .error(Diagnostic::error("expected an address like `\"s3_bucket.site\"`", Some(value.span()))),
                }
            }
            let (Some((from, from_span)), Some((to, to_span))) = (from, to) else {
                self.error(
                    Diagnostic::error("`[[moved]]` needs both `from` and `to`", Some(entry.span()))
                        .hint("write `from = \"TYPE.OLD\"` and `to = \"TYPE.NEW\"`"),
                );
                continue;
            };
            if from.type_name != to.type_name {
                self.error(
                    Diagnostic::error(
                        format!("`{from}` cannot move to `{to}`: a resource keeps its type"),
                        Some(to_span.clone()),
                    )
                    .hint("only the name may change; a different type is a new resource"),
                );
            }
            if !resources.contains_key(&to) {
                self.error(
                    Diagnostic::error(
                        format!("`[[moved]]` names `{to}`, which is not in the stack file"),
                        Some(to_span.clone()),
                    )
                    .hint(format!("`to` is the resource's new name: add `[{to}]` or fix the address")),
                );
            }
            if resources.contains_key(&from) {
                self.error(
                    Diagnostic::error(format!("`{from}` is still in the stack file"), Some(from_span.clone()))
                        .hint(format!("a moved resource has one name: remove `[{from}]` (now `[{to}]`)")),
                );
            }
            if moves.iter().any(|m| m.from == from || m.to == to) {
                self.error(Diagnostic::error(
                    format!("`{from}` → `{to}` overlaps another `[[moved]]` entry"),
                    Some(from_span.clone()),
                ));
            }
            moves.push(Moved { from, to, span: from_span });
        }
        moves
    }
}
