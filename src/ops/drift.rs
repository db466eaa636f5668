//! `provision drift`: refresh only, report every change made outside provision, write nothing. For a
//! nightly job: exit 2 when anything drifted, 0 when nothing did.

use anyhow::Result;
use provision_core::cloud::Cloud;
use provision_core::engine::make_plan;
use provision_core::plan::PlanOptions;
use provision_core::render::plan_text;

use super::{load, read_state, region, report_settled, state_backend, GlobalOptions};

pub async fn run(global: &GlobalOptions, json: bool) -> Result<u8> {
    let loaded = load(global)?;
    let (stack, cloud) = (&loaded.stack, &loaded.cloud);
    let backend = state_backend(&loaded)?;
    let (state, _) = read_state(backend.as_ref(), stack).await?;
    let options = PlanOptions { refresh_only: true, ..PlanOptions::default() };
    let region = region(cloud).await?;
    let planned = make_plan(stack, state, Some(cloud as &dyn Cloud), cloud.drivers(), region, &options).await?;
    report_settled(&planned);
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
