//! `provision apply` and `provision destroy`: options for the core's run, the terminal as its
//! frontend, and the result printed.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Result;
use provision_core::address::Address;
use provision_core::cloud::Cloud;
use provision_core::executor::{Outcome, Parallelism};
use provision_core::plan::{Action, PlanOptions};
use provision_core::reporter::{Reporter, Reporters};
use provision_core::run::{Applied, Ended, RunOptions, SavedPlan};

use super::notify::{Notifier, FINAL_WAIT};
use super::plan_file::PlanFile;
use super::terminal_frontend::{capitalise, TerminalFrontend};
use super::{load, load_state_only, run_of, GlobalOptions};

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

impl ApplyOptions {
    fn run_options(&self) -> RunOptions {
        RunOptions {
            plan: PlanOptions {
                targets: self.targets.clone(),
                destroy: self.destroy,
                replace: self.replace.clone(),
                refresh_only: self.refresh_only,
                exclude: self.exclude.clone(),
                keep_drift: self.keep_drift,
                ..PlanOptions::default()
            },
            parallelism: self.parallelism,
            lock_timeout: self.lock_timeout,
            auto_approve: self.auto_approve,
            expires: expiry(self.ttl),
        }
    }

    fn frontend<'a>(&self, global: &'a GlobalOptions) -> TerminalFrontend<'a> {
        TerminalFrontend { global, json: self.json, auto_approve: self.auto_approve }
    }
}

pub async fn run(global: &GlobalOptions, options: &ApplyOptions, reporter: &dyn Reporter) -> Result<u8> {
    if let Some(path) = &options.plan_file {
        return apply_saved(global, options, path, reporter).await;
    }
    let code = apply(global, options, reporter).await?;
    if !options.sweep || code != 0 {
        return Ok(code);
    }
    // `--json` keeps stdout to the destroy's events, the summary last: the sweep speaks on stderr.
    let sweep_reporter: &dyn Reporter = if options.json { &provision_core::reporter::NullReporter } else { reporter };
    super::orphans::sweep_stack(global, options, sweep_reporter).await
}

/// When a preview environment applied now with `--ttl` expires (RFC 3339, UTC).
fn expiry(ttl: Option<Duration>) -> Option<String> {
    let ttl = chrono::Duration::from_std(ttl?).ok()?;
    Some((chrono::Utc::now() + ttl).to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
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

async fn apply(global: &GlobalOptions, options: &ApplyOptions, reporter: &dyn Reporter) -> Result<u8> {
    // A destroy needs only the state: nothing about the file's resources is read or resolved.
    let loaded = if options.destroy { load_state_only(global)? } else { load(global)? };
    if !options.destroy {
        super::check_secret_environment(&loaded)?;
    }
    // Before any AWS call, so an unset webhook variable stops the run first.
    let notifier = Notifier::start(&loaded.stack)?;
    let reporters = with_notifier(reporter, notifier.as_ref());
    let result = run_of(&loaded)
        .apply(&options.run_options(), &reporters, &options.frontend(global))
        .await
        .map(|applied| print_result(global, options.json, &applied, false));
    finish_notifications(notifier.as_ref()).await;
    result
}

/// An apply or destroy of a stack already loaded, reporting to `reporter` (`sweep --expired` runs
/// one destroy per environment); returns the exit code.
pub(super) async fn run_loaded(
    global: &GlobalOptions,
    options: &ApplyOptions,
    loaded: &super::Loaded,
    reporter: &dyn Reporter,
) -> Result<u8> {
    run_of(loaded)
        .apply(&options.run_options(), reporter, &options.frontend(global))
        .await
        .map(|applied| print_result(global, options.json, &applied, false))
}

async fn apply_saved(
    global: &GlobalOptions,
    options: &ApplyOptions,
    path: &Path,
    reporter: &dyn Reporter,
) -> Result<u8> {
    let file = PlanFile::load(path)?;
    let mut saved_global = global.clone();
    saved_global.variables = file.variables_for(global, path)?;
    saved_global.stack_file = file.stack_file.clone();
    let loaded = load(&saved_global)?;
    let notifier = Notifier::start(&loaded.stack)?;
    let reporters = with_notifier(reporter, notifier.as_ref());
    let saved = SavedPlan {
        plan: file.plan.clone(),
        state: file.state.clone(),
        network: file.network.clone(),
        region: file.region.clone(),
        account: file.account.clone(),
    };
    let check = |current: &provision_core::state::State, info: &provision_core::driver::StackInfo| {
        file.check_state(current, path)?;
        file.check_inputs(&loaded.stack, loaded.cloud.drivers(), info, path)?;
        super::check_secret_environment(&loaded)
    };
    let result = run_of(&loaded)
        .apply_saved(saved, &check, &options.run_options(), &reporters, &options.frontend(global))
        .await
        .map(|applied| print_result(global, options.json, &applied, true));
    finish_notifications(notifier.as_ref()).await;
    result
}

/// What the run did, for people (with `--json`, the summary event said it all on stdout and
/// failures were reported on stderr as they happened); returns the exit code.
fn print_result(global: &GlobalOptions, json: bool, applied: &Applied, saved: bool) -> u8 {
    match applied.ended {
        // The frontend said so when the answer was not `yes`.
        Ended::Cancelled => {}
        Ended::NothingToDo => {
            if applied.plan.refresh_only && !json && !saved {
                println!("\nAccepted {} change(s) made outside provision into the state.", applied.plan.drift.len());
            }
        }
        Ended::Executed if json => {}
        Ended::Executed => {
            let (outcome, state, verb) = (&applied.outcome, &applied.state, applied.verb);
            print_summary(global.paint, global.error_paint, outcome, verb);
            if verb == "apply" && !state.outputs.is_empty() && outcome.failed.is_empty() {
                println!("\nOutputs:");
                let width = state.outputs.keys().map(String::len).max().unwrap_or(0);
                for (key, value) in &state.outputs {
                    println!("  {key:<width$} = {value}");
                }
            }
        }
    }
    applied.exit_code()
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
