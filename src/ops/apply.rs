//! `provision apply` and `provision destroy`: plan, show, confirm, execute, report.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;

use anyhow::{bail, Result};

use super::plan_file::PlanFile;
use super::{connect, load_stack, make_plan, read_state, state_store, GlobalOptions, Planned};
use crate::cli::{ApplyArgs, DestroyArgs, TerminalReporter};
use crate::executor::{ExecutionOptions, Executor, Outcome};
use crate::plan::{Action, Plan, PlanOptions};
use crate::render::{plan_json, plan_text, Paint};
use crate::stack::{self, LoadOptions};
use crate::state::State;

pub async fn run(global: &GlobalOptions, args: &ApplyArgs) -> Result<u8> {
    match &args.plan_file {
        Some(path) => apply_saved(global, args, path).await,
        None => {
            let options = PlanOptions { targets: args.targets.clone(), destroy: false };
            execute(global, &options, args.auto_approve, args.parallelism, args.json, "apply").await
        }
    }
}

pub async fn destroy(global: &GlobalOptions, args: &DestroyArgs) -> Result<u8> {
    let options = PlanOptions { targets: args.targets.clone(), destroy: true };
    let code = execute(global, &options, args.auto_approve, args.parallelism, args.json, "destroy").await?;
    if !args.sweep || code != 0 {
        return Ok(code);
    }
    sweep(global).await
}

/// After a destroy: delete what is tagged with the stack but unknown to the state.
async fn sweep(global: &GlobalOptions) -> Result<u8> {
    let stack = load_stack(global)?;
    let store = state_store(&stack)?;
    let _lock = store.lock("destroy --sweep")?;
    let state = read_state(&store, &stack)?;
    let aws = connect(global, &stack).await?;
    let orphans = super::orphans::find(&aws, &stack.name, &state).await?;
    if orphans.is_empty() {
        println!("Sweep: nothing tagged `provision:stack = {}` is left.", stack.name);
        return Ok(0);
    }
    println!("Sweep: deleting {} resource(s) tagged with the stack that the state does not know.", orphans.len());
    let info = super::stack_info(&stack, aws.region().to_string());
    let reporter = TerminalReporter { paint: global.error_paint, quiet: global.quiet };
    let settings = |address: &crate::address::Address| stack_settings(&stack, &info, &state, address);
    let failures = super::orphans::sweep(&aws, &info, &orphans, &settings, &crate::executor::Progress(&reporter)).await;
    for (orphan, error) in &failures {
        eprintln!("{} {} (`{}`): delete failed: {error}", global.error_paint.red("error:"), orphan.address, orphan.id);
    }
    if failures.is_empty() {
        println!("Sweep complete: {} deleted.", orphans.len());
        Ok(0)
    } else {
        eprintln!(
            "Sweep: {} of {} could not be deleted; run `provision destroy --sweep` again after fixing the cause.",
            failures.len(),
            orphans.len()
        );
        Ok(1)
    }
}

/// The stack file's settings for an address (e.g. `force_destroy`), as far as they are known.
fn stack_settings(
    stack: &crate::stack::Stack,
    info: &crate::drivers::StackInfo,
    state: &State,
    address: &crate::address::Address,
) -> crate::value::JsonMap {
    let (Some(resource), Some(driver)) = (stack.resources.get(address), crate::drivers::driver_for(&address.type_name))
    else {
        return crate::value::JsonMap::new();
    };
    let resolver = crate::plan::Resolver { stack, info, network: state.network.as_ref() };
    let lookup = |_: &crate::address::Address| None;
    match crate::plan::desired_inputs(&resolver, driver, resource, &lookup, None) {
        Ok(desired) => desired.values.iter().filter_map(|(k, v)| Some((k.clone(), v.to_json()?))).collect(),
        Err(_) => crate::value::JsonMap::new(),
    }
}

async fn execute(
    global: &GlobalOptions,
    options: &PlanOptions,
    auto_approve: bool,
    parallelism: usize,
    json: bool,
    verb: &str,
) -> Result<u8> {
    let stack = load_stack(global)?;
    if !options.destroy {
        super::check_secret_environment(&stack)?;
    }
    let store = state_store(&stack)?;
    let _lock = store.lock(verb)?;
    let state = read_state(&store, &stack)?;
    let original = state.clone();
    let aws = connect(global, &stack).await?;
    let Planned { plan, state, info, network } =
        make_plan(&stack, state, Some(&aws), aws.region().to_string(), options).await?;
    if !json {
        print!("{}", plan_text::render(&plan, global.paint));
    }
    if plan.is_empty() {
        // Nothing to do, but what refresh learned (a resource gone, drift) is worth recording.
        if state.resources != original.resources || state.network != original.network {
            let mut state = state;
            state.serial += 1;
            store.write(&state)?;
        }
        if json {
            println!(
                "{}",
                serde_json::to_string_pretty(&result_json(&plan, &Outcome::default(), &state_outputs(&store)?))?
            );
        }
        return Ok(0);
    }
    if !auto_approve && !confirm(verb)? {
        eprintln!("{} cancelled; nothing was changed.", capitalise(verb));
        return Ok(1);
    }
    let reporter = TerminalReporter { paint: global.error_paint, quiet: global.quiet || json };
    let executor = Executor::new(&stack, &info, network.as_ref(), &aws, &store, &reporter, state);
    let (outcome, state) = executor.execute(&plan, &ExecutionOptions { parallelism }, ctrl_c()).await?;
    tracing::info!("aws requests: {}", aws.request_count());
    finish(global, &plan, &outcome, &state, json, verb)
}

async fn apply_saved(global: &GlobalOptions, args: &ApplyArgs, path: &Path) -> Result<u8> {
    let file = PlanFile::load(path)?;
    let stack = stack::load(&file.stack_file, &LoadOptions { variables: file.variables.clone() })?;
    let store = state_store(&stack)?;
    let _lock = store.lock("apply")?;
    let current = read_state(&store, &stack)?;
    file.check_state(&current, path)?;
    let aws = connect(global, &stack).await?;
    let info = super::stack_info(&stack, file.region.clone());
    let mut state = file.state;
    state.lineage = current.lineage.clone();
    if !args.json {
        print!("{}", plan_text::render(&file.plan, global.paint));
    }
    if file.plan.is_empty() {
        return Ok(0);
    }
    let reporter = TerminalReporter { paint: global.error_paint, quiet: global.quiet || args.json };
    let executor = Executor::new(&stack, &info, file.network.as_ref(), &aws, &store, &reporter, state);
    let (outcome, state) =
        executor.execute(&file.plan, &ExecutionOptions { parallelism: args.parallelism }, ctrl_c()).await?;
    finish(global, &file.plan, &outcome, &state, args.json, "apply")
}

fn finish(global: &GlobalOptions, plan: &Plan, outcome: &Outcome, state: &State, json: bool, verb: &str) -> Result<u8> {
    if json {
        println!("{}", serde_json::to_string_pretty(&result_json(plan, outcome, &state.outputs))?);
    } else {
        print_summary(global.paint, global.error_paint, outcome, verb);
        if verb == "apply" && !state.outputs.is_empty() && outcome.failed.is_empty() {
            println!("\nOutputs:");
            let width = state.outputs.keys().map(String::len).max().unwrap_or(0);
            for (key, value) in &state.outputs {
                println!("  {key:<width$} = {value}");
            }
        }
    }
    Ok(if outcome.cancelled {
        130
    } else if outcome.is_success() {
        0
    } else {
        1
    })
}

fn print_summary(paint: Paint, error_paint: Paint, outcome: &Outcome, verb: &str) {
    let count = |action: Action| outcome.succeeded.iter().filter(|(_, a)| *a == action).count();
    let counts = format!(
        "{} added, {} changed, {} replaced, {} destroyed",
        count(Action::Create),
        count(Action::Update),
        count(Action::Replace),
        count(Action::Delete)
    );
    println!();
    if outcome.is_success() {
        println!("{} {counts}.", paint.green(&format!("{} complete!", capitalise(verb))));
        return;
    }
    for failure in &outcome.failed {
        eprintln!(
            "{} {}: {} failed: {}",
            error_paint.red("error:"),
            failure.address,
            failure.action.verb(),
            failure.message
        );
        if let Some(hint) = &failure.hint {
            eprintln!("\nhint: {hint}");
        }
    }
    if !outcome.skipped.is_empty() {
        let skipped: Vec<String> = outcome.skipped.iter().map(|a| a.to_string()).collect();
        eprintln!("Skipped because something they depend on failed: {}", skipped.join(", "));
    }
    if outcome.cancelled {
        let not_started: Vec<String> = outcome.not_started.iter().map(|a| a.to_string()).collect();
        eprintln!(
            "Interrupted: {counts}; not started: {}.",
            if not_started.is_empty() { "none".into() } else { not_started.join(", ") }
        );
    } else {
        eprintln!(
            "{} {counts}; {} failed.",
            error_paint.red(&format!("{} failed:", capitalise(verb))),
            outcome.failed.len()
        );
    }
    eprintln!("The state records everything that succeeded; run `provision {verb}` again after fixing the cause.");
}

fn result_json(
    plan: &Plan,
    outcome: &Outcome,
    outputs: &std::collections::BTreeMap<String, serde_json::Value>,
) -> serde_json::Value {
    serde_json::json!({
        "plan": plan_json::render(plan),
        "succeeded": outcome.succeeded.iter().map(|(a, action)| serde_json::json!({"address": a.to_string(), "action": action})).collect::<Vec<_>>(),
        "failed": outcome.failed.iter().map(|f| serde_json::json!({"address": f.address.to_string(), "action": f.action, "error": f.message, "hint": f.hint})).collect::<Vec<_>>(),
        "skipped": outcome.skipped.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
        "cancelled": outcome.cancelled,
        "outputs": outputs,
    })
}

fn state_outputs(
    store: &crate::state::LocalStateStore,
) -> Result<std::collections::BTreeMap<String, serde_json::Value>> {
    Ok(store.read()?.map(|s| s.outputs).unwrap_or_default())
}

fn confirm(verb: &str) -> Result<bool> {
    if !std::io::stdin().is_terminal() {
        bail!("refusing to {verb} without confirmation: stdin is not a terminal\n\nhint: review the plan above and pass `--auto-approve`");
    }
    print!("\nDo you want to perform these actions? (yes/no) ");
    std::io::stdout().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(answer.trim() == "yes")
}

async fn ctrl_c() {
    if tokio::signal::ctrl_c().await.is_err() {
        // No signal handling available: never cancel.
        std::future::pending::<()>().await;
    }
}

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map(|c| c.to_uppercase().collect::<String>() + chars.as_str()).unwrap_or_default()
}
