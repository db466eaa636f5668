//! The plan as a pull-request comment (`plan --format markdown`, SPEC §3): a one-line summary with
//! the cost change, destroys and replacements first with the field that forces each, guardrail
//! findings, undone drift, then the full plan folded in `<details>`.
//!
//! GitHub refuses a comment over 65,536 characters, and a workflow that fails to post its plan is
//! worse than a shorter plan: every section is capped, the full plan gets what room is left, and
//! the comment says what it cut. The text is CommonMark with GitHub's tables and `<details>`
//! blocks; anything that comes from the stack file is escaped.

use crate::cost::{dollars, signed_dollars};
use crate::plan::{Action, Plan, PlannedAction};

use super::review_text::{cost_headline, UNDONE_HEADING};
use super::{plan_text, Paint};

/// GitHub's limit on an issue or pull-request comment.
pub const COMMENT_LIMIT: usize = 65_536;

/// Rows each list shows at most before it says how many more there are.
const ROWS: usize = 50;
/// Room kept for the closing lines after the full plan.
const CLOSING_ROOM: usize = 1_000;
/// Room the lists leave for the folded full plan, whatever they hold.
const PLAN_ROOM: usize = 1_500;
/// Characters of one value or reason shown in a list; the full plan has the rest.
const VALUE_LENGTH: usize = 300;

/// The marker a workflow can look for to update its earlier comment instead of adding one.
pub fn marker(plan: &Plan) -> String {
    format!("<!-- provision plan: {} -->", escape_html(&plan.stack))
}

/// The comment, under GitHub's limit.
pub fn render(plan: &Plan) -> String {
    render_within(plan, COMMENT_LIMIT)
}

/// The comment in at most `limit` bytes (so at most that many characters).
pub fn render_within(plan: &Plan, limit: usize) -> String {
    let mut out = String::new();
    out.push_str(&marker(plan));
    out.push('\n');
    out.push_str(&headline(plan));
    out.push_str("\n\n");
    if let Some(cost) = &plan.cost {
        out.push_str(&cost_paragraph(cost));
    }
    let mut room = limit.saturating_sub(out.len() + PLAN_ROOM + CLOSING_ROOM);
    out.push_str(&destructive_section(plan, &mut room));
    out.push_str(&findings_section(plan, &mut room));
    out.push_str(&undone_section(plan, &mut room));
    out.push_str(&full_plan(plan, limit.saturating_sub(out.len() + CLOSING_ROOM)));
    out
}

fn headline(plan: &Plan) -> String {
    let counts = if plan.refresh_only {
        format!("refresh only, {} change(s) made outside provision to accept", plan.drift.len())
    } else if plan.is_empty() {
        "no changes".to_string()
    } else {
        plan_text::summary(plan, Paint::plain()).trim_start_matches("Plan: ").trim_end_matches('.').to_string()
    };
    let cost = match &plan.cost {
        Some(cost) if cost.priced && cost.change() != 0 => format!(" · {}/month", signed_dollars(cost.change())),
        Some(cost) if cost.priced && !plan.is_empty() && cost.after == 0 => " · no fixed monthly cost".to_string(),
        Some(cost) if cost.priced && !plan.is_empty() => format!(" · no cost change ({}/month)", dollars(cost.after)),
        _ => String::new(),
    };
    let warnings = crate::guardrails::warnings(&plan.findings).count();
    let warnings = if warnings > 0 { format!(" · {warnings} guardrail warning(s)") } else { String::new() };
    format!("### provision plan for {}: {counts}{cost}{warnings}", code(&plan.stack))
}

/// The bill, then what it leaves out (provision's own words, Markdown as written).
fn cost_paragraph(cost: &crate::cost::PlanCost) -> String {
    let mut out = format!("**{}**\n\n", escape_text(&cost_headline(cost)));
    if cost.priced {
        if !cost.usage.is_empty() {
            out.push_str(&format!("Not included, billed by use: {}. ", cost.usage.join("; ")));
        }
        out.push_str(&format!(
            "Prices: AWS on-demand list prices for {}, as of {}.\n\n",
            escape_text(&cost.region),
            escape_text(&cost.prices_as_of)
        ));
    }
    if !cost.unpriced.is_empty() {
        let items: Vec<String> = cost
            .unpriced
            .iter()
            .take(ROWS)
            .map(|(a, why)| format!("{} ({})", code(&a.to_string()), escape_text(&shorten(why))))
            .collect();
        let more = cost.unpriced.len().saturating_sub(ROWS);
        let more = if more > 0 { format!(" and {more} more") } else { String::new() };
        out.push_str(&format!("Not priced: {}{more}.\n\n", items.join(", ")));
    }
    out
}

fn destructive_section(plan: &Plan, room: &mut usize) -> String {
    let destructive: Vec<&PlannedAction> =
        plan.actions.iter().filter(|a| matches!(a.action, Action::Delete | Action::Replace)).collect();
    let rows = destructive.iter().map(|action| {
        let why = match action.action {
            Action::Replace if action.forced_by == [crate::plan::REPLACE_FLAG] => "asked with `--replace`".to_string(),
            Action::Replace => {
                let fields: Vec<String> = action.forced_by.iter().map(|f| code(f)).collect();
                let verb = if fields.len() == 1 { "forces" } else { "force" };
                format!("{} {verb} replacement", fields.join(", "))
            }
            _ if action.deposed => "the old copy an interrupted replacement left".to_string(),
            _ if plan.actions.iter().all(|a| a.action == Action::Delete) => "destroy".to_string(),
            _ => "no longer in the stack file".to_string(),
        };
        let mut notes: Vec<String> = action.notes.iter().map(|n| escape_text(&shorten(n))).collect();
        notes.insert(0, why);
        let cost = action.monthly_cost.map(|c| c.change()).filter(|c| *c != 0);
        format!(
            "| `{}` | {} | {} | {} |\n",
            action.action.symbol(),
            code(&action.key().to_string()),
            cell(&notes.join("<br>")),
            cost.map(|c| format!("{}/mo", signed_dollars(c))).unwrap_or_default()
        )
    });
    section(
        &format!(
            "#### Destroys and replacements ({})\n\n| | resource | why | monthly cost |\n| --- | --- | --- | --- |\n",
            destructive.len()
        ),
        rows.collect(),
        "",
        room,
    )
}

fn findings_section(plan: &Plan, room: &mut usize) -> String {
    let warnings = crate::guardrails::warnings(&plan.findings).count();
    let rows = plan.findings.iter().map(|finding| {
        let head = format!("{} {} {}", code(&finding.address.to_string()), code(&finding.check), finding.message);
        match &finding.allowed {
            None => format!("- **warning** {head}<br>Why: {}.<br>Fix: {}.\n", escape_text(&finding.why), finding.fix),
            Some(reason) => format!("- allowed: {head}<br>Reason: {}\n", escape_text(&shorten(reason))),
        }
    });
    let title = format!("#### Guardrails: {warnings} warning(s), {} allowed\n\n", plan.findings.len() - warnings);
    section(&title, rows.collect(), "", room)
}

fn undone_section(plan: &Plan, room: &mut usize) -> String {
    let shown = |value: &Option<crate::plan::Planned>| {
        value.as_ref().map(plan_text::planned_text).map(|v| code(&shorten(&v))).unwrap_or_else(|| "(removed)".into())
    };
    let rows = plan.undone.iter().map(|change| {
        format!(
            "| {} | {} | {} | {} |\n",
            code(&change.address.to_string()),
            code(&change.path),
            cell(&shown(&change.outside)),
            cell(&shown(&change.restored))
        )
    });
    let title = format!(
        "#### {UNDONE_HEADING} ({})\n\n| resource | field | set outside provision | after apply |\n| --- | --- | --- | --- |\n",
        plan.undone.len()
    );
    let footer =
        "\n`provision apply --keep-drift` refuses to set these back; `provision plan --refresh-only` accepts them.\n";
    section(&title, rows.collect(), footer, room)
}

/// A titled list: as many rows as `room` holds (at most [`ROWS`]), then how many more there are.
/// Nothing at all when there are no rows, or no room for the title.
fn section(title: &str, rows: Vec<String>, footer: &str, room: &mut usize) -> String {
    const MORE_ROOM: usize = 100;
    if rows.is_empty() || title.len() + footer.len() + MORE_ROOM > *room {
        return String::new();
    }
    let mut out = title.to_string();
    let mut used = title.len() + footer.len() + MORE_ROOM;
    let mut shown = 0;
    for row in rows.iter().take(ROWS) {
        if used + row.len() > *room {
            break;
        }
        used += row.len();
        out.push_str(row);
        shown += 1;
    }
    if shown < rows.len() {
        out.push_str(&format!("\n…and {} more, listed in the full plan below.\n", rows.len() - shown));
    }
    out.push_str(footer);
    out.push('\n');
    *room = room.saturating_sub(out.len());
    out
}

/// The whole text plan in a folded block, cut at a line to fit `room` bytes.
fn full_plan(plan: &Plan, room: usize) -> String {
    let text = plan_text::render(plan, Paint::plain());
    let fence = "`".repeat(longest_backtick_run(&text).max(2) + 1);
    let summary =
        format!("<details>\n<summary>Full plan ({} action(s))</summary>\n\n{fence}text\n", plan.actions.len());
    let closing = format!("{fence}\n\n</details>\n");
    let total_lines = text.lines().count();
    let budget = room.saturating_sub(summary.len() + closing.len() + 100);
    let mut body = String::new();
    let mut shown_lines = 0;
    for line in text.lines() {
        if body.len() + line.len() + 1 > budget {
            break;
        }
        body.push_str(line);
        body.push('\n');
        shown_lines += 1;
    }
    let mut out = format!("{summary}{body}");
    if shown_lines < total_lines {
        out.push_str(&format!("… {} more line(s) cut here\n", total_lines - shown_lines));
    }
    out.push_str(&closing);
    if shown_lines < total_lines {
        out.push_str(&format!(
            "\nThis comment was cut to fit GitHub's {COMMENT_LIMIT}-character limit: the full plan above shows {shown_lines} of its {total_lines} lines. `provision plan` shows all of it (the workflow's log has it too).\n"
        ));
    }
    out
}

/// At most [`VALUE_LENGTH`] characters, cut with `…`.
fn shorten(text: &str) -> String {
    match text.char_indices().nth(VALUE_LENGTH) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_string(),
    }
}

fn longest_backtick_run(text: &str) -> usize {
    let (mut longest, mut current) = (0, 0);
    for c in text.chars() {
        current = if c == '`' { current + 1 } else { 0 };
        longest = longest.max(current);
    }
    longest
}

/// Inline code that holds any text: the fence is longer than any backtick run inside.
fn code(text: &str) -> String {
    let fence = "`".repeat(longest_backtick_run(text) + 1);
    let pad = if text.starts_with('`') || text.ends_with('`') { " " } else { "" };
    format!("{fence}{pad}{text}{pad}{fence}")
}

/// A table cell: a `|` would end it, even inside code, and a line break would end the row.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// Text from the stack file or the cloud, shown as plain text: nothing in it is Markdown or HTML.
fn escape_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '#' | '~' | '!' => {
                out.push('\\');
                out.push(c);
            }
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\n' => out.push(' '),
            other => out.push(other),
        }
    }
    out
}

fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace("--", "-&#45;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_spans_hold_backticks_and_cells_hold_pipes() {
        assert_eq!(code("a`b"), "``a`b``");
        assert_eq!(code("`x"), "`` `x ``");
        assert_eq!(cell("`a|b`"), "`a\\|b`");
        assert_eq!(escape_text("<b>*x*</b>"), "&lt;b&gt;\\*x\\*&lt;/b&gt;");
    }
}
