//! Which reporter a run gets: the live view at a terminal, plain lines elsewhere (CI logs, pipes,
//! `NO_COLOR`, `TERM=dumb`, `-v` logs that would tear a live view), NDJSON for `--json`.

use std::io::IsTerminal;

use provision_core::reporter::{Event, Reporter};
use tracing::level_filters::LevelFilter;

use super::json_reporter::JsonReporter;
use super::live_reporter::LiveReporter;
use super::terminal_reporter::TerminalReporter;
use crate::ops::GlobalOptions;

pub enum Progress {
    Live(LiveReporter),
    Plain(TerminalReporter),
    /// Events on stdout; failures and interruptions also said on stderr for people.
    Json(JsonReporter, TerminalReporter),
}

impl Progress {
    pub fn choose(global: &GlobalOptions, json: bool) -> Progress {
        if json {
            return Progress::Json(
                JsonReporter::default(),
                TerminalReporter { paint: global.error_paint, quiet: true },
            );
        }
        if live_view_possible(global) {
            return Progress::Live(LiveReporter::new());
        }
        Progress::Plain(TerminalReporter { paint: global.error_paint, quiet: global.quiet })
    }

    /// Leaves a clean terminal, whatever happened to the run.
    pub fn finish(&self) {
        if let Progress::Live(live) = self {
            live.finish();
        }
    }
}

/// A terminal on stderr that can take colour and cursor movement, and no log lines to interleave.
fn live_view_possible(global: &GlobalOptions) -> bool {
    // `error_paint` is off for `--no-color`, `NO_COLOR` and a stderr that is not a terminal.
    global.error_paint.enabled
        && std::io::stderr().is_terminal()
        && !global.quiet
        && std::env::var("TERM").is_ok_and(|term| !term.is_empty() && term != "dumb")
        && LevelFilter::current() <= LevelFilter::WARN
}

impl Reporter for Progress {
    fn report(&self, event: &Event) {
        match self {
            Progress::Live(live) => live.report(event),
            Progress::Plain(plain) => plain.report(event),
            Progress::Json(json, stderr) => {
                json.report(event);
                stderr.report(event);
            }
        }
    }
}
