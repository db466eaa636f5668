//! Progress for people: one line per event on stderr, so it reads the same in a terminal and a CI log.

use std::time::Duration;

use crate::address::Address;
use crate::executor::Reporter;
use crate::plan::Action;
use crate::render::Paint;

pub struct TerminalReporter {
    pub paint: Paint,
    pub quiet: bool,
}

fn doing(action: Action) -> &'static str {
    match action {
        Action::Create => "creating",
        Action::Update => "updating",
        Action::Replace => "replacing",
        Action::Delete => "deleting",
    }
}

fn done(action: Action) -> &'static str {
    match action {
        Action::Create => "created",
        Action::Update => "updated",
        Action::Replace => "replaced",
        Action::Delete => "deleted",
    }
}

impl Reporter for TerminalReporter {
    fn started(&self, address: &Address, action: Action) {
        if !self.quiet {
            eprintln!("{}: {}…", self.paint.bold(&address.to_string()), doing(action));
        }
    }

    fn waiting(&self, address: &Address, message: &str) {
        if !self.quiet {
            eprintln!("{}: {}", self.paint.bold(&address.to_string()), self.paint.dim(message));
        }
    }

    fn finished(&self, address: &Address, action: Action, elapsed: Duration) {
        if !self.quiet {
            eprintln!(
                "{}: {} ({:.1}s)",
                self.paint.bold(&address.to_string()),
                self.paint.green(done(action)),
                elapsed.as_secs_f64()
            );
        }
    }

    fn failed(&self, address: &Address, action: Action, message: &str) {
        eprintln!("{}: {} failed: {message}", self.paint.bold(&address.to_string()), self.paint.red(doing(action)));
    }

    fn skipped(&self, address: &Address, because: &Address) {
        eprintln!("{}: skipped because `{because}` failed", self.paint.bold(&address.to_string()));
    }

    fn cancelling(&self, in_flight: usize) {
        eprintln!("Interrupt received: starting nothing new; finishing {in_flight} action(s) in flight…");
    }
}
