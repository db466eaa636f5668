//! `provision plan`: what apply would do, as text, JSON or a pull-request comment, optionally saved.

use anyhow::Result;
use provision_core::address::Address;
use provision_core::plan::PlanOptions;
use provision_core::render::{plan_json, plan_markdown, plan_text};
use provision_core::run::Refresh;
use std::path::PathBuf;

use super::plan_file::{refuse_unsettled, PlanFile};
use super::{load, offline_region, report_settled, run_of, GlobalOptions};

#[derive(Clone, Debug, Default)]
pub struct PlanCommand {
    /// Read every resource from AWS first.
    pub refresh: bool,
    pub targets: Vec<Address>,
    /// Save the plan for `provision apply FILE`.
    pub out: Option<PathBuf>,
    pub json: bool,
    /// Exit 2 when there are changes.
    pub detailed_exitcode: bool,
    /// Replace these although nothing about them changed.
    pub replace: Vec<Address>,
    /// Only accept what changed outside provision.
    pub refresh_only: bool,
    /// `--format markdown`: the plan as a pull-request comment.
    pub markdown: bool,
    /// Fail (exit 1) when a guardrail warns.
    pub deny_warnings: bool,
    /// Leave these (and what depends on them) out.
    pub exclude: Vec<Address>,
}

pub async fn run(global: &GlobalOptions, command: &PlanCommand) -> Result<u8> {
    let loaded = load(global)?;
    super::check_secret_environment(&loaded)?;
    let (stack, cloud) = (&loaded.stack, &loaded.cloud);
    let options = PlanOptions {
        targets: command.targets.clone(),
        replace: command.replace.clone(),
        refresh_only: command.refresh_only,
        exclude: command.exclude.clone(),
        ..PlanOptions::default()
    };
    let refresh =
        if command.refresh { Refresh::Online } else { Refresh::Offline { region: offline_region(global, stack) } };
    let saving = command.out.is_some();
    let check = |state: &provision_core::state::State| {
        if saving {
            refuse_unsettled(state, command.refresh)?;
        }
        Ok(())
    };
    let planned = run_of(&loaded).plan(&options, &refresh, &check).await?;
    report_settled(&planned.recovered, &planned.abandoned_creates);
    if command.refresh {
        super::log_request_counts(cloud);
    }
    if command.json {
        println!("{}", serde_json::to_string_pretty(&plan_json::render(&planned.plan))?);
    } else if command.markdown {
        print!("{}", plan_markdown::render(&planned.plan));
    } else {
        print!("{}", plan_text::render(&planned.plan, global.paint));
    }
    if let Some(path) = &command.out {
        let file = PlanFile::new(
            stack,
            &global.variables,
            planned.info.region.clone(),
            planned.plan.clone(),
            planned.state,
            planned.network,
        )?;
        file.save(path)?;
        if !command.json && !command.markdown {
            println!(
                "\nSaved the plan to `{}`; run `provision apply {}` to perform exactly these actions.",
                path.display(),
                path.display()
            );
        }
    }
    let warnings = provision_core::guardrails::warnings(&planned.plan.findings).count();
    if command.deny_warnings && warnings > 0 {
        anyhow::bail!(
            "{warnings} guardrail warning(s), and `--deny-warnings` fails the plan on any\n\nhint: fix them, or accept one on purpose with `[guardrails] allow = [{{ check = \"ID\", address = \"TYPE.NAME\", reason = \"…\" }}]`"
        );
    }
    let changes = !planned.plan.is_empty() || (command.refresh_only && !planned.plan.drift.is_empty());
    Ok(if command.detailed_exitcode && changes { 2 } else { 0 })
}
