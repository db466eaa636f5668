//! How the engine tells the outside world what it is doing. The core never touches the terminal:
//! it reports [`Event`]s to a [`Reporter`], which the CLI implements (live progress at a terminal,
//! plain lines in CI, NDJSON for `--json`, webhooks for `[notify]`) and tests implement with a
//! recorder. The events are the ones SPEC §1 and §6 name.

use std::time::Duration;

use serde::Serialize;

use crate::address::Address;
use crate::plan::Action;

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// An action began.
    Started {
        address: Address,
        action: Action,
    },
    /// A long wait inside an action (a distribution deploying, tasks turning healthy).
    Progress {
        address: Address,
        action: Action,
        message: String,
        elapsed_s: f64,
    },
    Finished {
        address: Address,
        action: Action,
        elapsed_s: f64,
    },
    Failed {
        address: Address,
        action: Action,
        elapsed_s: f64,
        message: String,
    },
    /// Not attempted because `because` failed.
    Skipped {
        address: Address,
        because: Address,
    },
    /// Ctrl-C (or SIGTERM, or a lost lock): starting nothing new; `in_flight` actions are finishing.
    Cancelling {
        in_flight: usize,
        reason: String,
    },
}

impl Event {
    pub fn address(&self) -> Option<&Address> {
        match self {
            Event::Started { address, .. }
            | Event::Progress { address, .. }
            | Event::Finished { address, .. }
            | Event::Failed { address, .. }
            | Event::Skipped { address, .. } => Some(address),
            Event::Cancelling { .. } => None,
        }
    }
}

pub trait Reporter: Send + Sync {
    fn report(&self, event: &Event);
}

/// Reports nothing.
pub struct NullReporter;

impl Reporter for NullReporter {
    fn report(&self, _: &Event) {}
}

/// Hands every event to each of several reporters (the terminal and a webhook, say).
pub struct Reporters(pub Vec<Box<dyn Reporter>>);

impl Reporter for Reporters {
    fn report(&self, event: &Event) {
        for reporter in &self.0 {
            reporter.report(event);
        }
    }
}

pub fn seconds(elapsed: Duration) -> f64 {
    (elapsed.as_secs_f64() * 10.0).round() / 10.0
}
