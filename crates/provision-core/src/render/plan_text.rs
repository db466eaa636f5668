//! The plan as people read it (SPEC §3). Readable without colour: every line starts with its symbol.

use crate::plan::{Action, Change, Plan, Planned, PlannedAction};
use crate::value::display_json;

use super::{review_text, Paint};

pub const UNKNOWN: &str = "(known after apply)";
pub const SENSITIVE: &str = "(sensitive)";

pub fn render(plan: &Plan, paint: Paint) -> String {
    let mut out = String::new();
    let width = plan
        .actions
        .iter()
        .map(|a| a.address.to_string().len())
        .chain(plan.drift.iter().map(|d| d.address.to_string().len()))
        .max()
        .unwrap_or(0)
        .max(32)
        + 2;
    if plan.is_empty() && plan.drift.is_empty() {
        out.push_str(&paint.green("No changes."));
        out.push_str(" The infrastructure matches the stack file.\n");
        out.push_str(&review_text::findings_lines(&plan.findings, paint));
        return out;
    }
    if plan.is_empty() {
        out.push_str("provision found changes made outside provision:\n\n");
    } else {
        out.push_str("provision will perform the following actions:\n\n");
    }
    for moved in &plan.moves {
        out.push_str(&format!(
            "  {} {} has moved to {}\n",
            paint.cyan("→"),
            moved.from,
            paint.bold(&moved.to.to_string())
        ));
    }
    for protection in &plan.protection {
        let what = if protection.protect {
            "protect: false -> true (from now on destroying or replacing it is refused)"
        } else {
            "protect: true -> false (it may be destroyed or replaced again)"
        };
        out.push_str(&format!("  {} {:<width$} {what}\n", paint.yellow("~"), protection.address.to_string()));
    }
    for action in &plan.actions {
        render_action(&mut out, action, width, paint);
    }
    out.push_str(&drift_lines(&plan.drift, width, paint));
    out.push_str(&review_text::undone_lines(&plan.undone, paint));
    out.push_str(&review_text::findings_lines(&plan.findings, paint));
    out.push('\n');
    if plan.refresh_only {
        out.push_str(&format!(
            "Refresh only: applying this plan records these {} change(s) in the state; nothing in AWS changes.\n",
            plan.drift.len()
        ));
    } else if plan.is_empty() {
        out.push_str(&format!(
            "{} The stack file already matches; applying records what AWS reports.\n",
            paint.green("No changes.")
        ));
    } else {
        out.push_str(&summary(plan, paint));
        out.push('\n');
        if let Some(cost) = &plan.cost {
            out.push_str(&review_text::cost_lines(cost, paint));
        }
    }
    if !plan.outputs.is_empty() && !plan.is_empty() {
        out.push_str("\nOutputs after apply:\n");
        let name_width = plan.outputs.keys().map(String::len).max().unwrap_or(0);
        for (name, value) in &plan.outputs {
            out.push_str(&format!("  {name:<name_width$} = {}\n", planned_text(value)));
        }
    }
    out
}

/// Only the changes made outside provision (`provision drift`).
pub fn render_drift(drift: &[crate::plan::Drift], paint: Paint) -> String {
    let width = drift.iter().map(|d| d.address.to_string().len()).max().unwrap_or(0).max(32) + 2;
    format!("provision found changes made outside provision:\n\n{}", drift_lines(drift, width, paint))
}

fn drift_lines(drift: &[crate::plan::Drift], width: usize, paint: Paint) -> String {
    let mut out = String::new();
    for drift in drift {
        let what = if drift.deleted {
            "deleted outside provision".to_string()
        } else {
            let fields: Vec<String> = drift.changes.iter().map(|c| c.path.replace('_', " ")).collect();
            format!("changed outside provision: {}", fields.join(", "))
        };
        let symbol = paint.magenta("!");
        out.push_str(&format!("  {symbol} {:<width$} {what}\n", drift.address.to_string()));
        for change in &drift.changes {
            out.push_str(&format!("      {}\n", change_line(change, 0, paint)));
        }
    }
    out
}

pub fn summary(plan: &Plan, paint: Paint) -> String {
    let mut moved = if plan.moves.is_empty() { String::new() } else { format!(" {} to move.", plan.moves.len()) };
    if !plan.protection.is_empty() {
        moved.push_str(&format!(" {} protect flag(s) to record.", plan.protection.len()));
    }
    format!(
        "{} {} to add, {} to change, {} to replace, {} to destroy.{moved}",
        paint.bold("Plan:"),
        plan.count(Action::Create),
        plan.count(Action::Update),
        plan.count(Action::Replace),
        plan.count(Action::Delete)
    )
}

fn render_action(out: &mut String, action: &PlannedAction, width: usize, paint: Paint) {
    let symbol = match action.action {
        Action::Create => paint.green("+"),
        Action::Update => paint.yellow("~"),
        Action::Replace => paint.red("-/+"),
        Action::Delete => paint.red("-"),
    };
    let mut verb = action.action.verb().to_string();
    if action.action == Action::Replace && action.forced_by == [crate::plan::REPLACE_FLAG] {
        verb = "replace (as asked with `--replace`)".into();
    } else if action.action == Action::Replace && !action.forced_by.is_empty() {
        let fields = action.forced_by.iter().map(|f| f.as_str()).collect::<Vec<_>>().join(", ");
        let forces = if action.forced_by.len() == 1 { "forces" } else { "force" };
        verb = format!("replace ({fields} {forces} replacement)");
    }
    if action.create_before_destroy {
        verb.push_str(", the new one first");
    }
    if action.deposed {
        verb = "delete (the old copy an interrupted replacement left)".into();
    }
    if let Some(change) = action.monthly_cost.map(|c| c.change()).filter(|c| *c != 0) {
        verb.push_str(&format!("  {}/mo", crate::cost::signed_dollars(change)));
    }
    let pad = if action.action == Action::Replace { width.saturating_sub(2) } else { width };
    out.push_str(&format!("  {symbol} {:<pad$} {verb}\n", action.key().to_string()));
    let hidden = |c: &Change| c.hidden;
    let (files, fields): (Vec<&Change>, Vec<&Change>) =
        action.changes.iter().partition(|c| hidden(c) && !split_entry(&c.path).1.is_empty());
    // Inputs the engine derives itself (a content hash) mean nothing as values: an update says that
    // they changed, a create does not list them.
    let (derived, fields): (Vec<&Change>, Vec<&Change>) = fields.into_iter().partition(|c| hidden(c));
    let path_width = fields.iter().map(|c| c.path.len() + 1).max().unwrap_or(0);
    for change in fields {
        out.push_str(&format!("      {}\n", change_line(change, path_width, paint)));
    }
    for note in &action.notes {
        let loud = action.action == Action::Replace || action.action == Action::Delete;
        let note = if loud { paint.red(&format!("! {note}")) } else { paint.yellow(&format!("note: {note}")) };
        out.push_str(&format!("      {note}\n"));
    }
    if action.action != Action::Create {
        for change in derived {
            // A flag or a count reads plainly (`public_access_blocked: false -> true`); a hash only as
            // changed.
            let plain = |p: &Option<Planned>| {
                matches!(p, Some(Planned::Known(serde_json::Value::Bool(_) | serde_json::Value::Number(_))))
            };
            if (change.before.is_none() || plain(&change.before)) && plain(&change.after) {
                out.push_str(&format!("      {}\n", change_line(change, 0, paint)));
            } else {
                out.push_str(&format!("      {}: {}\n", change.path, paint.yellow("changed")));
            }
        }
    }
    // Entries of derived tables (e.g. the files of an upload) read as a file list, not hashes.
    for change in files {
        let (field, key) = split_entry(&change.path);
        let mark = match (&change.before, &change.after) {
            (None, _) => paint.green("+"),
            (_, None) => paint.red("-"),
            _ => paint.yellow("~"),
        };
        out.push_str(&format!("      {field}: {mark} {key}\n"));
    }
}

/// True for an input that is not a schema field: the engine or the driver derived it.
fn split_entry(path: &str) -> (&str, String) {
    if let Some(index) = path.find(['.', '[']) {
        let field = &path[..index];
        let rest = &path[index..];
        let key = if let Some(quoted) = rest.strip_prefix('[') {
            serde_json::from_str::<String>(quoted.trim_end_matches(']')).unwrap_or_else(|_| quoted.to_string())
        } else {
            rest[1..].to_string()
        };
        (field, key)
    } else {
        (path, String::new())
    }
}

fn change_line(change: &Change, path_width: usize, paint: Paint) -> String {
    let label = format!("{}:", change.path);
    let label = format!("{label:<path_width$}");
    let forced = if change.forces_replacement { paint.red(" (forces replacement)") } else { String::new() };
    match (&change.before, &change.after) {
        (None, Some(after)) => format!("{label} {}", planned_text(after)),
        (Some(before), None) => format!("{label} {} -> {}", planned_text(before), paint.dim("(removed)")),
        (Some(before), Some(after)) => format!("{label} {} -> {}{forced}", planned_text(before), planned_text(after)),
        (None, None) => label,
    }
}

pub fn planned_text(value: &Planned) -> String {
    match value {
        Planned::Known(json) => display_json(json),
        Planned::Unknown => UNKNOWN.to_string(),
        Planned::Sensitive => SENSITIVE.to_string(),
    }
}
