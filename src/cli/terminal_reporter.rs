//! Progress for people: one line per event on stderr, so it reads the same in a terminal and a CI log.

use provision_core::plan::Action;
use provision_core::render::Paint;
use provision_core::reporter::{Event, Reporter};

pub struct TerminalReporter {
    pub paint: Paint,
    pub quiet: bool,
}

pub(super) fn doing(action: Action) -> &'static str {
    match action {
        Action::Create => "creating",
        Action::Update => "updating",
        Action::Replace => "replacing",
        Action::Delete => "deleting",
    }
}

pub(super) fn done(action: Action) -> &'static str {
    match action {
        Action::Create => "created",
        Action::Update => "updated",
        Action::Replace => "replaced",
        Action::Delete => "deleted",
    }
}

impl Reporter for TerminalReporter {
    fn report(&self, event: &Event) {
        let bold = |address: &provision_core::address::Address| self.paint.bold(&address.to_string());
        match event {
            Event::Started { address, action } if !self.quiet => eprintln!("{}: {}…", bold(address), doing(*action)),
            Event::Progress { address, message, .. } if !self.quiet => {
                eprintln!("{}: {}", bold(address), self.paint.dim(message))
            }
            Event::Finished { address, action, elapsed_s } if !self.quiet => {
                eprintln!("{}: {} ({elapsed_s:.1}s)", bold(address), self.paint.green(done(*action)))
            }
            Event::Failed { address, action, message, .. } => {
                eprintln!("{}: {} failed: {message}", bold(address), self.paint.red(doing(*action)))
            }
            Event::Skipped { address, because } => {
                eprintln!("{}: skipped because `{because}` failed", bold(address))
            }
            Event::Cancelling { in_flight, reason } => {
                let what = if reason == "interrupted" {
                    "Interrupt received".to_string()
                } else {
                    format!("Stopping ({reason})")
                };
                eprintln!("{what}: starting nothing new; finishing {in_flight} action(s) in flight…")
            }
            _ => {}
        }
    }
}
