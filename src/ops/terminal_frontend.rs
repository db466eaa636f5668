//! The run's frontend at a terminal (or in CI): the plan on stdout (with `--json`, on stderr and
//! only when someone is asked to confirm it), the `yes/no` question, Ctrl-C and SIGTERM, warnings
//! on stderr, and the state a run could not write kept beside the stack.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

use anyhow::{bail, Result};
use provision_core::address::Address;
use provision_core::executor::Stop;
use provision_core::plan::Plan;
use provision_core::render::plan_text;
use provision_core::run::{Frontend, Warning};
use provision_core::state::State;
use tokio::sync::watch;

use super::GlobalOptions;

pub struct TerminalFrontend<'a> {
    pub global: &'a GlobalOptions,
    /// `--json`: stdout carries the events alone.
    pub json: bool,
    /// `--auto-approve`: no one is asked, so no one needs the plan on stderr.
    pub auto_approve: bool,
}

impl Frontend for TerminalFrontend<'_> {
    fn settled(&self, recovered: &[Address], abandoned: &[(Address, String)]) {
        super::report_settled(recovered, abandoned);
    }

    /// The plan for people: on stdout, or with `--json` on stderr and only when they are asked to
    /// confirm it.
    fn show_plan(&self, plan: &Plan) {
        if !self.json {
            print!("{}", plan_text::render(plan, self.global.paint));
        } else if !self.auto_approve && (!plan.is_empty() || (plan.refresh_only && !plan.drift.is_empty())) {
            eprint!("{}", plan_text::render(plan, self.global.error_paint));
        }
    }

    fn confirm(&self, verb: &str) -> Result<bool> {
        if !std::io::stdin().is_terminal() {
            bail!("refusing to {verb} without confirmation: stdin is not a terminal\n\nhint: review the plan above and pass `--auto-approve`");
        }
        let question = "\nDo you want to perform these actions? (yes/no) ";
        if self.json {
            eprint!("{question}");
            std::io::stderr().flush()?;
        } else {
            print!("{question}");
            std::io::stdout().flush()?;
        }
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        let yes = answer.trim() == "yes";
        if !yes {
            eprintln!("{} cancelled; nothing was changed.", capitalise(verb));
        }
        Ok(yes)
    }

    fn stop_requests(&self) -> watch::Receiver<Stop> {
        super::signals::stop_requests()
    }

    fn warning(&self, warning: &Warning) {
        match warning {
            Warning::BackendSetup(text) => super::print_setup_warning(text),
            other => eprintln!("warning: {other}"),
        }
    }

    /// Kept beside the stack as `<stack>.errored.json`, private: the user compares it with what is
    /// stored and pushes it if it is right.
    fn keep_errored_state(&self, state: &State) {
        let path = PathBuf::from(format!("{}.errored.json", state.stack));
        // A new private file renamed into place: never left readable, never written through a link.
        match provision_core::state::private_file::write(&path, &state.to_document()) {
            Ok(()) => eprintln!(
                "This run's view of the state was kept in `{}` (it includes what this run made). Compare it with `provision state pull`; to record it in place of what is stored now, `provision state push --force {}`; then `provision plan` shows what is left to do.",
                path.display(),
                path.display()
            ),
            Err(error) => eprintln!("error: could not keep this run's state in `{}`: {error}", path.display()),
        }
    }
}

pub fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map(|c| c.to_uppercase().collect::<String>() + chars.as_str()).unwrap_or_default()
}
