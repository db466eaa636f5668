//! How the engine tells the outside world what it is doing. The core never touches the terminal:
//! it reports [`Event`]s to a [`Reporter`], which the CLI implements (live progress at a terminal,
//! plain lines in CI, NDJSON for `--json`, webhooks for `[notify]`) and tests implement with a
//! recorder. The events are the ones SPEC §1 and §6 name: the command reports [`Event::Plan`] before
//! the first action and [`Event::Summary`] after the last, so every reporter sees a whole run (a
//! progress bar knows its total, `--json` opens with the plan and closes with the result, a webhook
//! tells the channel how it ended).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use crate::address::Address;
use crate::plan::Action;

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// The plan about to be carried out, before anything starts (also when it is empty).
    Plan {
        /// How many steps will report `Started` (a create-before-destroy replacement is two: the
        /// new copy, then deleting the old one).
        steps: usize,
        /// The plan as `plan --json` shows it.
        plan: serde_json::Value,
    },
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
    /// The run is over: what it did, what failed, the outputs.
    Summary {
        summary: Summary,
    },
}

/// What an `apply` or `destroy` did, for the reporters that tell someone at the end.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Summary {
    /// `apply` or `destroy`.
    pub operation: String,
    pub added: usize,
    pub changed: usize,
    pub replaced: usize,
    pub destroyed: usize,
    pub failed: Vec<FailedAction>,
    /// Not attempted because something they depend on failed.
    pub skipped: Vec<Address>,
    /// Not started because the run was stopped.
    pub not_started: Vec<Address>,
    /// Stopped early (Ctrl-C, SIGTERM, a lost lock, a failed state write).
    pub interrupted: bool,
    /// Why it stopped early.
    pub stopped_because: Option<String>,
    /// The confirmation was declined: nothing was attempted.
    pub cancelled: bool,
    /// The state could not be written.
    pub state_error: Option<String>,
    pub success: bool,
    /// The stack's outputs as the state now records them.
    pub outputs: BTreeMap<String, serde_json::Value>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FailedAction {
    pub address: Address,
    pub action: Action,
    pub message: String,
    pub hint: Option<String>,
}

impl Summary {
    pub fn new(
        operation: &str,
        outcome: &crate::executor::Outcome,
        outputs: &BTreeMap<String, serde_json::Value>,
    ) -> Summary {
        let count = |action: Action| outcome.succeeded.iter().filter(|(_, a)| *a == action).count();
        Summary {
            operation: operation.to_string(),
            added: count(Action::Create),
            changed: count(Action::Update),
            replaced: count(Action::Replace),
            destroyed: count(Action::Delete),
            failed: outcome
                .failed
                .iter()
                .map(|f| FailedAction {
                    address: f.address.clone(),
                    action: f.action,
                    message: f.message.clone(),
                    hint: f.hint.clone(),
                })
                .collect(),
            skipped: outcome.skipped.clone(),
            not_started: outcome.not_started.clone(),
            interrupted: outcome.stopped.is_some(),
            stopped_because: outcome.stopped.clone(),
            cancelled: false,
            state_error: outcome.state_error.as_ref().map(|e| e.to_string()),
            success: outcome.is_success(),
            outputs: outputs.clone(),
        }
    }

    /// `3 added, 0 changed, 0 replaced, 1 destroyed`
    pub fn counts(&self) -> String {
        format!(
            "{} added, {} changed, {} replaced, {} destroyed",
            self.added, self.changed, self.replaced, self.destroyed
        )
    }

    /// One line saying how the run ended: `apply complete: 3 added, …`.
    pub fn headline(&self) -> String {
        let counts = self.counts();
        let operation = &self.operation;
        if self.cancelled {
            format!("{operation} cancelled; nothing was changed")
        } else if self.success {
            format!("{operation} complete: {counts}")
        } else if self.interrupted && self.failed.is_empty() {
            format!("{operation} interrupted: {counts}; {} not started", self.not_started.len())
        } else if self.failed.is_empty() && self.state_error.is_some() {
            format!("{operation} failed: {counts}; saving the state failed")
        } else {
            format!("{operation} failed: {counts}; {} failed", self.failed.len())
        }
    }
}

impl Event {
    /// The plan event for `plan`.
    pub fn plan(plan: &crate::plan::Plan) -> Event {
        let extra = plan.actions.iter().filter(|a| a.create_before_destroy && !a.deposed).count();
        Event::Plan { steps: plan.actions.len() + extra, plan: crate::render::plan_json::render(plan) }
    }
}

impl Event {
    pub fn address(&self) -> Option<&Address> {
        match self {
            Event::Started { address, .. }
            | Event::Progress { address, .. }
            | Event::Finished { address, .. }
            | Event::Failed { address, .. }
            | Event::Skipped { address, .. } => Some(address),
            Event::Plan { .. } | Event::Cancelling { .. } | Event::Summary { .. } => None,
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
pub struct Reporters<'a>(pub Vec<Box<dyn Reporter + 'a>>);

impl Reporter for Reporters<'_> {
    fn report(&self, event: &Event) {
        for reporter in &self.0 {
            reporter.report(event);
        }
    }
}

/// Any reference to a reporter is one (so a borrowed reporter can join [`Reporters`]).
impl<R: Reporter + ?Sized> Reporter for &R {
    fn report(&self, event: &Event) {
        (**self).report(event)
    }
}

pub fn seconds(elapsed: Duration) -> f64 {
    (elapsed.as_secs_f64() * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::executor::{Failure, Outcome};
    use crate::plan::{Plan, PlannedAction};

    fn address(text: &str) -> Address {
        text.parse().expect("address")
    }

    #[test]
    fn the_plan_event_counts_each_step_that_will_start() {
        let mut replaced = PlannedAction::new(address("s3_bucket.b"), Action::Replace, Vec::new(), Vec::new());
        replaced.create_before_destroy = true;
        let plan = Plan {
            actions: vec![PlannedAction::new(address("s3_bucket.a"), Action::Create, Vec::new(), Vec::new()), replaced],
            stack: "shop".into(),
            lineage: None,
            serial: None,
            refreshed: false,
            drift: Vec::new(),
            outputs: BTreeMap::new(),
            moves: Vec::new(),
            protection: Vec::new(),
            refresh_only: false,
            cost: None,
            findings: Vec::new(),
            undone: Vec::new(),
        };
        let Event::Plan { steps, plan } = Event::plan(&plan) else { panic!("a plan event") };
        assert_eq!(steps, 3, "a create-before-destroy replacement also deletes the old copy");
        assert_eq!(plan["actions"][0]["address"], "s3_bucket.a");
    }

    #[test]
    fn the_summary_says_how_the_run_ended_in_one_line() {
        let mut outcome = Outcome::default();
        outcome.succeeded.push((address("s3_bucket.a"), Action::Create));
        let done = Summary::new("apply", &outcome, &BTreeMap::new());
        assert!(done.success);
        assert_eq!(done.headline(), "apply complete: 1 added, 0 changed, 0 replaced, 0 destroyed");

        outcome.failed.push(Failure {
            address: address("s3_bucket.b"),
            action: Action::Delete,
            message: "BucketNotEmpty".into(),
            hint: None,
        });
        outcome.skipped.push(address("iam_role.r"));
        let failed = Summary::new("destroy", &outcome, &BTreeMap::new());
        assert!(!failed.success);
        assert_eq!(failed.headline(), "destroy failed: 1 added, 0 changed, 0 replaced, 0 destroyed; 1 failed");
        assert_eq!(failed.skipped, vec![address("iam_role.r")]);

        let stopped = Outcome {
            stopped: Some("interrupted".into()),
            not_started: vec![address("s3_bucket.c")],
            ..Outcome::default()
        };
        let interrupted = Summary::new("apply", &stopped, &BTreeMap::new());
        assert!(interrupted.interrupted);
        assert_eq!(
            interrupted.headline(),
            "apply interrupted: 0 added, 0 changed, 0 replaced, 0 destroyed; 1 not started"
        );
    }
}
