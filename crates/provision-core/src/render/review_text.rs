//! The parts of a plan that help a reviewer decide, as text: the bill, the guardrails' findings and
//! the outside changes an apply would undo. Shared by the terminal plan and the pull-request comment.

use crate::cost::{dollars, signed_dollars, PlanCost};
use crate::guardrails::Finding;
use crate::plan::UndoneChange;

use super::plan_text::planned_text;
use super::Paint;

/// The heading of the undone-drift section (SPEC §3).
pub const UNDONE_HEADING: &str = "Changes made outside provision that apply would undo";

/// `Cost: +$51.20/month (from $12.00 to $63.20)`, or why there is no figure.
pub fn cost_headline(cost: &PlanCost) -> String {
    if !cost.priced {
        return format!("Cost: not estimated: the price table has no prices for `{}` (see docs/cost.md)", cost.region);
    }
    match cost.change() {
        0 if cost.after == 0 => "Cost: $0.00/month (nothing here has a fixed monthly price)".to_string(),
        0 => format!("Cost: no change ({}/month)", dollars(cost.after)),
        change => {
            format!("Cost: {}/month (from {} to {})", signed_dollars(change), dollars(cost.before), dollars(cost.after))
        }
    }
}

/// The cost headline and, indented under it, what it leaves out and where the prices come from.
pub fn cost_lines(cost: &PlanCost, paint: Paint) -> String {
    let mut out = format!("{}\n", paint.bold(&cost_headline(cost)));
    if !cost.priced {
        return out;
    }
    if !cost.usage.is_empty() {
        out.push_str(&format!("  not included, billed by use: {}\n", cost.usage.join("; ")));
    }
    for (address, reason) in &cost.unpriced {
        out.push_str(&format!("  not priced: {address}: {reason}\n"));
    }
    out.push_str(&format!(
        "  {}\n",
        paint
            .dim(&format!("AWS on-demand list prices for {}, as of {} (docs/cost.md)", cost.region, cost.prices_as_of))
    ));
    out
}

/// `  ~ ecs_service.api  desired_count: 6 -> 3`, one line a field.
pub fn undone_lines(undone: &[UndoneChange], paint: Paint) -> String {
    if undone.is_empty() {
        return String::new();
    }
    let width = undone.iter().map(|u| u.address.to_string().len()).max().unwrap_or(0);
    let mut out = format!("\n{}:\n", paint.bold(UNDONE_HEADING));
    for change in undone {
        out.push_str(&format!(
            "  {} {:<width$}  {}: {} -> {}\n",
            paint.magenta("!"),
            change.address.to_string(),
            change.path,
            change.outside.as_ref().map(planned_text).unwrap_or_else(|| "(removed)".into()),
            change.restored.as_ref().map(planned_text).unwrap_or_else(|| "(removed)".into()),
        ));
    }
    out.push_str(
        "  `apply --keep-drift` refuses to set these back; `plan --refresh-only` accepts them into the state.\n",
    );
    out
}

/// Every finding with its id, address, why it matters and the fix; accepted ones with their reason.
pub fn findings_lines(findings: &[Finding], paint: Paint) -> String {
    if findings.is_empty() {
        return String::new();
    }
    let warnings = findings.iter().filter(|f| f.allowed.is_none()).count();
    let allowed = findings.len() - warnings;
    let mut counts = vec![format!("{warnings} warning(s)")];
    if allowed > 0 {
        counts.push(format!("{allowed} allowed"));
    }
    let mut out = format!("\n{} {}\n", paint.bold("Guardrails:"), counts.join(", "));
    for finding in findings {
        match &finding.allowed {
            None => {
                out.push_str(&format!(
                    "  {} {} [{}]: {}\n",
                    paint.yellow("warning"),
                    finding.address,
                    finding.check,
                    finding.message
                ));
                out.push_str(&format!("      why: {}\n", finding.why));
                out.push_str(&format!("      fix: {}\n", finding.fix));
            }
            Some(reason) => {
                out.push_str(&format!(
                    "  {} {} [{}]: {}\n",
                    paint.dim("allowed"),
                    finding.address,
                    finding.check,
                    finding.message
                ));
                out.push_str(&format!("      reason: {reason}\n"));
            }
        }
    }
    out
}
