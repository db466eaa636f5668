//! `provision drift`: refresh only, report every change made outside provision, write nothing. For a
//! nightly job: exit 2 when anything drifted, 0 when nothing did. It needs the state and the drivers
//! only, so it works while the stack file's resources do not load.

use anyhow::Result;
use provision_core::render::plan_text;

use super::{load_state_only, report_settled, run_of, GlobalOptions};

pub async fn run(global: &GlobalOptions, json: bool) -> Result<u8> {
    // Drift compares what the state recorded with what exists: the file's resources are not read.
    let loaded = load_state_only(global)?;
    let planned = run_of(&loaded).drift().await?;
    report_settled(&planned.recovered, &planned.abandoned_creates);
    let drift = &planned.plan.drift;
    if json {
        println!("{}", serde_json::to_string_pretty(&serde_json::json!({ "drift": drift }))?);
    } else if drift.is_empty() {
        println!(
            "{} Nothing changed outside provision: every resource in the state is as it was applied.",
            global.paint.green("No drift.")
        );
    } else {
        print!("{}", plan_text::render_drift(drift, global.paint));
        println!(
            "\n{} resource(s) changed outside provision. `provision plan` shows what apply would change back; `provision apply --refresh-only` accepts them into the state.",
            drift.len()
        );
    }
    Ok(if drift.is_empty() { 0 } else { 2 })
}
