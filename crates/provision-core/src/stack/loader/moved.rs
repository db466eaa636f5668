//! `[[moved]]`: a resource renamed in the file keeps its AWS resource. Checked here as far as the
//! file tells (the addresses parse, `to` is in the file, `from` is not, no address moves twice); the
//! planner checks `from` against the state.

use super::*;
use crate::stack::Moved;

impl Loader<'_> {
    pub(super) fn moved(&mut self, section: &SpannedExpr, resources: &BTreeMap<Address, ResourceSpec>) -> Vec<Moved> {
        let Expr::List(items) = &section.expr else { return Vec::new() };
        let mut moves: Vec<Moved> = Vec::new();
        for item in items {
            let address = |name: &str| {
                let value = entry(entries(item), name)?;
                Some((literal(value)?.parse::<Address>().ok()?, value.span.clone()))
            };
            // A missing or malformed `from` or `to` is reported by the descriptors already.
            let (Some((from, from_span)), Some((to, to_span))) = (address("from"), address("to")) else { continue };
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
