//! `provision apply` and `provision destroy`: plan, show, confirm, execute, report.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Result};
use provision_core::address::Address;
use provision_core::cloud::Cloud;
use provision_core::engine::{make_plan, stack_info, Planned};
use provision_core::executor::{ExecutionOptions, Executor, Outcome, Parallelism};
use provision_core::plan::{Action, Plan, PlanOptions};
use provision_core::render::plan_text;
use provision_core::reporter::{Event, Reporter, Reporters, Summary};
use provision_core::state::{State, StateWriter, Version};

use super::notify::{Notifier, FINAL_WAIT};
use super::plan_file::PlanFile;
use super::{backend_error, load, lock, read_state, region, report_settled, state_backend, GlobalOptions, Loaded};

/// What `apply` and `destroy` were asked to do.
#[derive(Clone, Debug, Default)]
pub struct ApplyOptions {
    /// A plan saved with `plan --out`.
    pub plan_file: Option<PathBuf>,
    pub auto_approve: bool,
    pub targets: Vec<Address>,
    pub parallelism: Parallelism,
    pub json: bool,
    pub lock_timeout: Duration,
    /// `destroy`: plan the deletion of everything in the state.
    pub destroy: bool,
    /// `destroy --sweep`: also delete what is tagged with the stack but not in the state.
    pub sweep: bool,
    /// Replace these although nothing about them changed.
    pub replace: Vec<Address>,
    /// Only accept what changed outside provision into the state.
    pub refresh_only: bool,
    /// Leave these (and what depends on them; for destroy, what they need) out.
    pub exclude: Vec<Address>,
    /// Refuse to set back changes made outside provision.
    pub keep_drift: bool,
    /// `apply --ttl`: a preview environment that `sweep --expired` removes after this long.
    pub ttl: Option<Duration>,
}

pub async fn run(global: &GlobalOptions, options: &ApplyOptions, reporter: &dyn Reporter) -> Result<u8> {
    if let Some(path) = &options.plan_file {
        return apply_saved(global, options, path, reporter).await;
    }
    let verb = if options.destroy { "destroy" } else { "apply" };
    let plan_options = PlanOptions {
        targets: options.targets.clone(),
        destroy: options.destroy,
        replace: options.replace.clone(),
        refresh_only: options.refresh_only,
        check_new_account_alongside: !options.destroy && !options.refresh_only,
        exclude: options.exclude.clone(),
        keep_drift: options.keep_drift,
    };
    let code = execute(global, options, &plan_options, verb, reporter).await?;
    if !options.sweep || code != 0 {
        return Ok(code);
    }
    // `--json` keeps stdout to the destroy's events, the summary last: the sweep speaks on stderr.
    let sweep_reporter: &dyn Reporter = if options.json { &provision_core::reporter::NullReporter } else { reporter };
    super::orphans::sweep_stack(global, options, sweep_reporter).await
}

/// `reporter` and, when `[notify]` asks for it, the webhook notifier.
pub(super) fn with_notifier<'a>(reporter: &'a dyn Reporter, notifier: Option<&'a Notifier>) -> Reporters<'a> {
    let mut reporters: Vec<Box<dyn Reporter + 'a>> = vec![Box::new(reporter)];
    if let Some(notifier) = notifier {
        reporters.push(Box::new(notifier));
    }
    Reporters(reporters)
}

/// Waits briefly for the notifications still queued; warns about any not delivered.
pub(super) async fn finish_notifications(notifier: Option<&Notifier>) {
    if let Some(notifier) = notifier {
        if let Some(warning) = notifier.finish(FINAL_WAIT).await {
            eprintln!("warning: {warning}");
        }
    }
}

async fn execute(
    global: &GlobalOptions,
    options: &ApplyOptions,
    plan_options: &PlanOptions,
    verb: &str,
    reporter: &dyn Reporter,
) -> Result<u8> {
    let loaded = load(global)?;
    if !options.destroy {
        super::check_secret_environment(&loaded)?;
    }
    // Before any AWS call, so an unset webhook variable stops the run first.
    let notifier = Notifier::start(&loaded.stack)?;
    let reporters = with_notifier(reporter, notifier.as_ref());
    let result = execute_loaded(global, options, plan_options, verb, &loaded, &reporters).await;
    finish_notifications(notifier.as_ref()).await;
    result
}

pub(super) async fn execute_loaded(
    global: &GlobalOptions,
    options: &ApplyOptions,
    plan_options: &PlanOptions,
    verb: &str,
    loaded: &Loaded,
    reporter: &dyn Reporter,
) -> Result<u8> {
    let Loaded { stack, cloud } = loaded;
    let backend = state_backend(loaded)?;
    let guard = lock(&backend, verb, options.lock_timeout).await?;
    let (state, version) = read_state(backend.as_ref(), stack).await?;
    let original = state.clone();
    let region = region(cloud).await?;
    let planned = make_plan(stack, state, Some(cloud), cloud.drivers(), region, plan_options).await?;
    report_settled(&planned);
    let Planned { plan, mut state, info, network, account_unchecked, .. } = planned;
    state.expires = expiry(options.ttl).or(state.expires);
    show_plan(global, options, &plan);
    reporter.report(&Event::plan(&plan));
    if plan.refresh_only && !plan.drift.is_empty() && !options.auto_approve && !confirm(verb, options.json)? {
        eprintln!("{} cancelled; nothing was changed.", capitalise(verb));
        guard.release().await.map_err(backend_error)?;
        return Ok(1);
    }
    if plan.is_empty() {
        // Nothing to do, but what refresh learned (a resource gone, drift, the account) is worth
        // recording — and with `--refresh-only` that is the whole point.
        let state =
            if state.same_resources(&original) { state } else { write_once(&backend, state, version, verb).await? };
        if plan.refresh_only && !options.json {
            println!("\nAccepted {} change(s) made outside provision into the state.", plan.drift.len());
        }
        reporter.report(&Event::Summary { summary: Summary::new(verb, &Outcome::default(), &state.outputs) });
        guard.release().await.map_err(backend_error)?;
        return Ok(0);
    }
    if !options.auto_approve && !confirm(verb, options.json)? {
        eprintln!("{} cancelled; nothing was changed.", capitalise(verb));
        let summary = Summary { cancelled: true, ..Summary::new(verb, &Outcome::default(), &state.outputs) };
        reporter.report(&Event::Summary { summary: Summary { success: false, ..summary } });
        guard.release().await.map_err(backend_error)?;
        return Ok(1);
    }
    let writer = StateWriter::start(backend.clone(), state, version, verb);
    let stop = super::signals::stop_requests(guard.lost());
    let executor =
        Executor { stack, info: &info, network: network.as_ref(), drivers: cloud.drivers(), writer: &writer, reporter };
    let throttling = || cloud.retry_count().1;
    let execution = ExecutionOptions { parallelism: options.parallelism, throttling: Some(&throttling) };
    // A new state's account is asked for while the apply runs, and recorded once known.
    let pin_account = async {
        if !account_unchecked {
            return;
        }
        match cloud.identity().await {
            Ok(identity) => {
                let _ = writer.commit(|state| provision_core::engine::pin_identity(state, &identity)).await;
            }
            Err(error) => {
                eprintln!("warning: could not check the AWS account ({error}); the state records it on the next run")
            }
        }
    };
    let (outcome, ()) = futures::join!(executor.execute(&plan, &execution, stop), pin_account);
    let (state, stats, _) = writer.finish().await;
    super::log_request_counts(cloud);
    tracing::info!(
        "state writes: {} for {} changes of {} actions, {} bytes, {:.1} ms writing",
        stats.writes,
        stats.changes,
        plan.actions.len(),
        stats.bytes,
        stats.time_writing.as_secs_f64() * 1000.0
    );
    if outcome.state_error.is_some() {
        keep_errored_state(&stack.name, &state);
    }
    let lock_lost = guard.is_lost();
    let _ = guard.release().await;
    finish(global, &outcome, &state, options.json, verb, reporter).map(|code| lock_lost_code(code, lock_lost))
}

/// When a preview environment applied now with `--ttl` expires (RFC 3339, UTC).
fn expiry(ttl: Option<Duration>) -> Option<String> {
    let ttl = chrono::Duration::from_std(ttl?).ok()?;
    Some((chrono::Utc::now() + ttl).to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

/// A run stopped because its lock was lost failed (exit 1); 130 is for Ctrl-C.
fn lock_lost_code(code: u8, lock_lost: bool) -> u8 {
    if lock_lost && code == 130 {
        1
    } else {
        code
    }
}

/// One write outside an execution (what a refresh learned).
async fn write_once(
    backend: &std::sync::Arc<dyn provision_core::state::StateBackend>,
    state: State,
    version: Option<Version>,
    verb: &str,
) -> Result<State> {
    let writer = StateWriter::start(backend.clone(), state, version, verb);
    writer.commit(|_| {}).await.map_err(|error| anyhow::anyhow!("{error}"))?;
    Ok(writer.finish().await.0)
}

/// When the state could not be written (someone else wrote it), what this run knows is kept
/// beside the stack as `<stack>.errored.json`, private, for the user to reconcile.
fn keep_errored_state(stack: &str, state: &State) {
    let path = PathBuf::from(format!("{stack}.errored.json"));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(&path).and_then(|mut file| file.write_all(&state.to_document())) {
        Ok(()) => eprintln!(
            "This run's view of the state was kept in `{}` (it includes what this run made). Compare it with `provision state pull`; to record it in place of what is stored now, `provision state push --force {}`; then `provision plan` shows what is left to do.",
            path.display(),
            path.display()
        ),
        Err(error) => eprintln!("error: could not keep this run's state in `{}`: {error}", path.display()),
    }
}

async fn apply_saved(
    global: &GlobalOptions,
    options: &ApplyOptions,
    path: &Path,
    reporter: &dyn Reporter,
) -> Result<u8> {
    let file = PlanFile::load(path)?;
    let mut saved_global = global.clone();
    saved_global.stack_file = file.stack_file.clone();
    saved_global.variables = file.variables.clone();
    let loaded = load(&saved_global)?;
    let notifier = Notifier::start(&loaded.stack)?;
    let reporters = with_notifier(reporter, notifier.as_ref());
    let result = apply_loaded_plan(global, options, path, file, &loaded, &reporters).await;
    finish_notifications(notifier.as_ref()).await;
    result
}

async fn apply_loaded_plan(
    global: &GlobalOptions,
    options: &ApplyOptions,
    path: &Path,
    file: PlanFile,
    loaded: &Loaded,
    reporter: &dyn Reporter,
) -> Result<u8> {
    let Loaded { stack, cloud } = loaded;
    let backend = state_backend(loaded)?;
    let guard = lock(&backend, "apply", options.lock_timeout).await?;
    let (current, version) = read_state(backend.as_ref(), stack).await?;
    file.check_state(&current, path)?;
    let info = stack_info(stack, file.region.clone());
    file.check_inputs(stack, cloud.drivers(), &info, path)?;
    super::check_secret_environment(loaded)?;
    let region = region(cloud).await?;
    provision_core::engine::check_region(&current, &region)?;
    let mut state = file.state;
    state.lineage = current.lineage.clone();
    state.expires = expiry(options.ttl).or(state.expires);
    show_plan(global, options, &file.plan);
    reporter.report(&Event::plan(&file.plan));
    if file.plan.is_empty() {
        reporter.report(&Event::Summary { summary: Summary::new("apply", &Outcome::default(), &current.outputs) });
        guard.release().await.map_err(backend_error)?;
        return Ok(0);
    }
    let writer = StateWriter::start(backend.clone(), state, version, "apply");
    let stop = super::signals::stop_requests(guard.lost());
    let executor = Executor {
        stack,
        info: &info,
        network: file.network.as_ref(),
        drivers: cloud.drivers(),
        writer: &writer,
        reporter,
    };
    let throttling = || cloud.retry_count().1;
    let execution = ExecutionOptions { parallelism: options.parallelism, throttling: Some(&throttling) };
    let outcome = executor.execute(&file.plan, &execution, stop).await;
    let (state, _, _) = writer.finish().await;
    if outcome.state_error.is_some() {
        keep_errored_state(&stack.name, &state);
    }
    let lock_lost = guard.is_lost();
    let _ = guard.release().await;
    finish(global, &outcome, &state, options.json, verb_of(options), reporter)
        .map(|code| lock_lost_code(code, lock_lost))
}

fn verb_of(options: &ApplyOptions) -> &'static str {
    if options.destroy {
        "destroy"
    } else {
        "apply"
    }
}

/// The plan for people: on stdout, or with `--json` on stderr and only when they are asked to
/// confirm it (stdout carries the events alone).
fn show_plan(global: &GlobalOptions, options: &ApplyOptions, plan: &Plan) {
    if !options.json {
        print!("{}", plan_text::render(plan, global.paint));
    } else if !options.auto_approve && (!plan.is_empty() || (plan.refresh_only && !plan.drift.is_empty())) {
        eprint!("{}", plan_text::render(plan, global.error_paint));
    }
}

fn finish(
    global: &GlobalOptions,
    outcome: &Outcome,
    state: &State,
    json: bool,
    verb: &str,
    reporter: &dyn Reporter,
) -> Result<u8> {
    // First: a live view clears itself on the summary, before the text below.
    reporter.report(&Event::Summary { summary: Summary::new(verb, outcome, &state.outputs) });
    if json {
        // The summary event said it all on stdout; failures were reported on stderr as they happened.
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
    Ok(if outcome.stopped.is_some() && outcome.state_error.is_none() && outcome.failed.is_empty() {
        130
    } else if outcome.is_success() {
        0
    } else {
        1
    })
}

fn print_summary(
    paint: provision_core::render::Paint,
    error_paint: provision_core::render::Paint,
    outcome: &Outcome,
    verb: &str,
) {
    let count = |action: Action| outcome.succeeded.iter().filter(|(_, a)| *a == action).count();
    let counts = format!(
        "{} added, {} changed, {} replaced, {} destroyed",
        count(Action::Create),
        count(Action::Update),
        count(Action::Replace),
        count(Action::Delete)
    );
    let counts = if outcome.moved > 0 { format!("{counts}, {} moved", outcome.moved) } else { counts };
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
    if let Some(error) = &outcome.state_error {
        eprintln!("{} {}", error_paint.red("error:"), error);
        if let Some(hint) = error.hint() {
            eprintln!("\nhint: {hint}");
        }
    }
    if !outcome.skipped.is_empty() {
        let skipped: Vec<String> = outcome.skipped.iter().map(|a| a.to_string()).collect();
        eprintln!("Skipped because something they depend on failed: {}", skipped.join(", "));
    }
    if let Some(reason) = &outcome.stopped {
        let not_started: Vec<String> = outcome.not_started.iter().map(|a| a.to_string()).collect();
        let mut line = format!(
            "Interrupted ({reason}): {counts}; not started: {}.",
            if not_started.is_empty() { "none".into() } else { not_started.join(", ") }
        );
        if !outcome.abandoned.is_empty() {
            let abandoned: Vec<String> = outcome.abandoned.iter().map(|a| a.to_string()).collect();
            line.push_str(&format!(" Left in flight: {}; the next run settles them.", abandoned.join(", ")));
        }
        eprintln!("{line}");
    } else if outcome.state_error.is_none() {
        eprintln!(
            "{} {counts}; {} failed.",
            error_paint.red(&format!("{} failed:", capitalise(verb))),
            outcome.failed.len()
        );
    }
    eprintln!("The state records everything that succeeded; run `provision {verb}` again after fixing the cause.");
}

pub(super) fn confirm(verb: &str, json: bool) -> Result<bool> {
    if !std::io::stdin().is_terminal() {
        bail!("refusing to {verb} without confirmation: stdin is not a terminal\n\nhint: review the plan above and pass `--auto-approve`");
    }
    let question = "\nDo you want to perform these actions? (yes/no) ";
    if json {
        eprint!("{question}");
        std::io::stderr().flush()?;
    } else {
        print!("{question}");
        std::io::stdout().flush()?;
    }
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(answer.trim() == "yes")
}

pub fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map(|c| c.to_uppercase().collect::<String>() + chars.as_str()).unwrap_or_default()
}
