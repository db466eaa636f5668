//! `provision plan`: what apply would do, as text or JSON, optionally saved.

use anyhow::Result;

use super::plan_file::PlanFile;
use super::{connect, load_stack, make_plan, offline_region, read_state, state_store, GlobalOptions};
use crate::cli::PlanArgs;
use crate::plan::PlanOptions;
use crate::render::{plan_json, plan_text};

pub async fn run(global: &GlobalOptions, args: &PlanArgs) -> Result<u8> {
    let stack = load_stack(global)?;
    super::check_secret_environment(&stack)?;
    let store = state_store(&stack)?;
    let state = read_state(&store, &stack)?;
    let options = PlanOptions { targets: args.targets.clone(), destroy: false };
    let aws = if args.refresh { Some(connect(global, &stack).await?) } else { None };
    let region = aws.as_ref().map(|a| a.region().to_string()).unwrap_or_else(|| offline_region(global, &stack));
    let planned = make_plan(&stack, state, aws.as_ref(), region.clone(), &options).await?;
    if let Some(aws) = &aws {
        tracing::info!("aws requests: {}", aws.request_count());
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&plan_json::render(&planned.plan))?);
    } else {
        print!("{}", plan_text::render(&planned.plan, global.paint));
    }
    if let Some(path) = &args.out {
        let file = PlanFile::new(
            &stack.path,
            &global.variables,
            region,
            planned.plan.clone(),
            planned.state,
            planned.network,
        )?;
        file.save(path)?;
        if !args.json {
            println!(
                "\nSaved the plan to `{}`; run `provision apply {}` to perform exactly these actions.",
                path.display(),
                path.display()
            );
        }
    }
    let changes = !planned.plan.is_empty();
    Ok(if args.detailed_exitcode && changes { 2 } else { 0 })
}
