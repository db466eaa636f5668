//! The executor: runs a plan's actions in dependency order, concurrently, recording every step in
//! the state before the next one that depends on it may start.
//!
//! Values that were `(known after apply)` in the plan are resolved just before each action, from
//! the attributes its dependencies returned; values the plan knew are used as planned (a file that
//! changed since the plan fails its action instead of uploading something nobody reviewed). A
//! failure stops only what depends on it: independent work goes on, and the state keeps everything
//! that succeeded. A stop request (Ctrl-C, SIGTERM, a lost lock, a failed state write) starts
//! nothing new but lets the actions in flight finish and be recorded; a second Ctrl-C writes the
//! state as it is and returns at once, leaving the interrupted creates for the next run to settle.
//!
//! When more actions are ready than may run at once, those with the longest path of expected work
//! behind them start first (each driver says what its type usually takes in the cloud), so the
//! cloud's long waits begin first and overlap.

mod parallelism;
mod steps;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::stream::{FuturesUnordered, StreamExt};
use tokio::sync::watch;

use crate::address::Address;
use crate::cloud::Network;
use crate::driver::{DriverRegistry, ProgressSink, StackInfo, TypicalDurations};
use crate::graph::DependencyQueue;
use crate::plan::{deposed_key, Action, Plan, PlannedAction, Resolver};
use crate::reporter::{seconds, Event, Reporter};
use crate::stack::Stack;
use crate::state::{BackendError, State, StateWriter};
use crate::value::Value;

pub use parallelism::{Parallelism, AUTO_MAX, AUTO_START};

#[derive(Default)]
pub struct ExecutionOptions<'a> {
    pub parallelism: Parallelism,
    /// Throttling answers the cloud gave so far; `Parallelism::Auto` halves when it grows.
    pub throttling: Option<&'a (dyn Fn() -> u64 + Sync)>,
}

/// What the run is asked to do about stopping.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum Stop {
    #[default]
    No,
    /// Start nothing new; finish and record what is in flight. The reason is shown.
    Finish(String),
    /// Write the state as it is and return at once.
    Now,
}

#[derive(Debug, Default)]
pub struct Outcome {
    pub succeeded: Vec<(Address, Action)>,
    pub failed: Vec<Failure>,
    /// Not attempted because something they depend on failed.
    pub skipped: Vec<Address>,
    /// Not started because the run was stopped.
    pub not_started: Vec<Address>,
    /// Why the run stopped early, if it did.
    pub stopped: Option<String>,
    /// Returned at once on a second interrupt, with actions still in flight.
    pub abandoned: Vec<Address>,
    /// The state could not be written; nothing was started after that.
    pub state_error: Option<Arc<BackendError>>,
    /// Resources renamed in the state (`[[moved]]`).
    pub moved: usize,
}

#[derive(Debug)]
pub struct Failure {
    pub address: Address,
    pub action: Action,
    pub message: String,
    pub hint: Option<String>,
}

impl Outcome {
    pub fn is_success(&self) -> bool {
        self.failed.is_empty() && self.stopped.is_none() && self.skipped.is_empty() && self.state_error.is_none()
    }
}

pub struct Executor<'a> {
    pub stack: &'a Stack,
    pub info: &'a StackInfo,
    pub network: Option<&'a Network>,
    pub drivers: &'a DriverRegistry,
    pub writer: &'a StateWriter,
    pub reporter: &'a dyn Reporter,
}

pub(crate) struct ActionError {
    message: String,
    hint: Option<String>,
}

impl ActionError {
    fn new(message: impl Into<String>) -> ActionError {
        ActionError { message: message.into(), hint: None }
    }
}

impl From<crate::driver::DriverError> for ActionError {
    fn from(error: crate::driver::DriverError) -> ActionError {
        ActionError { message: error.to_string(), hint: error.hint }
    }
}

impl From<crate::state::WriteFailed> for ActionError {
    fn from(error: crate::state::WriteFailed) -> ActionError {
        ActionError { message: error.to_string(), hint: error.0.hint() }
    }
}

/// Progress a driver reports during one action, as events.
struct ActionProgress<'a> {
    reporter: &'a dyn Reporter,
    action: Action,
    started: Instant,
}

impl ProgressSink for ActionProgress<'_> {
    fn waiting(&self, address: &Address, message: &str) {
        self.reporter.report(&Event::Progress {
            address: address.clone(),
            action: self.action,
            message: message.to_string(),
            elapsed_s: seconds(self.started.elapsed()),
        });
    }
}

/// Which part of a planned action a queue entry stands for.
#[derive(Clone, Copy, Debug)]
enum Step {
    Main,
    /// Deleting the old copy of a create-before-destroy replacement.
    DeleteOld,
}

impl<'a> Executor<'a> {
    /// Runs the plan until it is done or `stop` says otherwise.
    pub async fn execute(
        &self,
        plan: &Plan,
        options: &ExecutionOptions<'_>,
        mut stop: watch::Receiver<Stop>,
    ) -> Outcome {
        let mut queue = DependencyQueue::new();
        self.writer.read(|state| {
            for action in &plan.actions {
                let typical = self.typical(action);
                let main = if action.deposed {
                    typical.delete
                } else {
                    typical.of(action.action, action.create_before_destroy)
                };
                queue.queue_weighted(action.key(), self.ordering(plan, action, state), main);
                if action.create_before_destroy {
                    queue.queue_weighted(
                        deposed_key(&action.address),
                        self.deposed_ordering(plan, action, state),
                        typical.delete,
                    );
                }
            }
        });
        // Each queue key and what to do for it.
        let mut steps: BTreeMap<Address, (&PlannedAction, Step)> = BTreeMap::new();
        for action in &plan.actions {
            let step = if action.deposed { Step::DeleteOld } else { Step::Main };
            steps.insert(action.key(), (action, step));
            if action.create_before_destroy {
                steps.insert(deposed_key(&action.address), (action, Step::DeleteOld));
            }
        }
        let mut outcome = Outcome::default();
        if !plan.moves.is_empty() || !plan.protection.is_empty() {
            // The renames and `protect` flags (already in the writer's state) are recorded before
            // any action.
            if let Err(error) = self.writer.commit(|_| {}).await {
                outcome.state_error = Some(error.0);
                return outcome;
            }
            outcome.moved = plan.moves.len();
        }
        // Parts of creates that need nothing from their dependencies, started at once.
        let early =
            plan.actions.iter().filter(|action| action.action == Action::Create && !action.deposed).filter_map(
                |action| self.drivers.get(&action.address.type_name).map(|driver| (driver, &action.address)),
            );
        let mut early =
            futures::future::join_all(early.map(|(driver, address)| driver.start_early(self.info, address)));
        let mut early_done = false;
        let mut running = FuturesUnordered::new();
        let mut limit = parallelism::Limit::new(options.parallelism, options.throttling);
        let mut in_flight: Vec<Address> = Vec::new();
        loop {
            if outcome.state_error.is_none() {
                if let Some(error) = self.writer.failure() {
                    outcome.state_error = Some(error.clone());
                    self.stop_starting(&mut outcome, running.len(), format!("saving the state failed: {error}"));
                }
            }
            while outcome.stopped.is_none() && running.len() < limit.current() {
                let Some(key) = queue.dequeue() else { break };
                let (action, step) = steps[&key];
                let (shown, verb) = match step {
                    Step::Main => (action.address.clone(), action.action),
                    Step::DeleteOld => (deposed_key(&action.address), Action::Delete),
                };
                in_flight.push(key.clone());
                running.push(async move {
                    let started = Instant::now();
                    self.reporter.report(&Event::Started { address: shown.clone(), action: verb });
                    let progress = ActionProgress { reporter: self.reporter, action: verb, started };
                    let result = self.run(action, step, &progress).await;
                    (key, shown, verb, action, result, started.elapsed())
                });
            }
            if running.is_empty() {
                break;
            }
            tokio::select! {
                // Finished actions first: a stop request never hides a result that is in.
                biased;
                Some((key, shown, verb, action, result, elapsed)) = running.next() => {
                    in_flight.retain(|k| k != &key);
                    if result.is_ok() {
                        limit.finished();
                    }
                    self.record(&key, &shown, verb, action, result, elapsed, &mut queue, &mut outcome);
                }
                _ = &mut early, if !early_done => early_done = true,
                changed = stop.changed() => {
                    let request = if changed.is_ok() { stop.borrow_and_update().clone() } else { Stop::No };
                    match request {
                        Stop::No => {}
                        Stop::Finish(reason) => self.stop_starting(&mut outcome, running.len(), reason),
                        Stop::Now => {
                            if outcome.stopped.is_none() {
                                outcome.stopped = Some("interrupted".into());
                            }
                            outcome.abandoned = std::mem::take(&mut in_flight);
                            break;
                        }
                    }
                }
            }
        }
        drop(running);
        while let Some(address) = queue.dequeue() {
            if !outcome.abandoned.contains(&address) {
                outcome.not_started.push(address.clone());
            }
            queue.finish(&address);
        }
        if outcome.abandoned.is_empty() && outcome.state_error.is_none() {
            if let Err(error) = self.save_outputs().await {
                outcome.state_error = Some(error.0);
            }
        }
        // Whatever happened, what the run knows is written before it returns.
        if let Err(error) = self.writer.flush().await {
            outcome.state_error.get_or_insert(error.0);
        }
        outcome
    }

    /// What the cloud usually takes for this resource's type: ready actions with the longest path
    /// of such work behind them start first (see `DependencyQueue`).
    fn typical(&self, action: &PlannedAction) -> TypicalDurations {
        self.drivers.get(&action.address.type_name).map(|driver| driver.typical_durations()).unwrap_or_default()
    }

    fn stop_starting(&self, outcome: &mut Outcome, in_flight: usize, reason: String) {
        if outcome.stopped.is_none() {
            self.reporter.report(&Event::Cancelling { in_flight, reason: reason.clone() });
            outcome.stopped = Some(reason);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn record(
        &self,
        key: &Address,
        shown: &Address,
        verb: Action,
        action: &PlannedAction,
        result: Result<(), ActionError>,
        elapsed: Duration,
        queue: &mut DependencyQueue,
        outcome: &mut Outcome,
    ) {
        match result {
            Ok(()) => {
                self.reporter.report(&Event::Finished {
                    address: shown.clone(),
                    action: verb,
                    elapsed_s: seconds(elapsed),
                });
                queue.finish(key);
                if key == &action.key() {
                    outcome.succeeded.push((action.address.clone(), action.action));
                }
            }
            Err(error) => {
                self.reporter.report(&Event::Failed {
                    address: shown.clone(),
                    action: verb,
                    elapsed_s: seconds(elapsed),
                    message: error.message.clone(),
                });
                for dependent in queue.abandon(key) {
                    self.reporter.report(&Event::Skipped { address: dependent.clone(), because: shown.clone() });
                    outcome.skipped.push(dependent);
                }
                outcome.failed.push(Failure {
                    address: shown.clone(),
                    action: verb,
                    message: error.message,
                    hint: error.hint,
                });
            }
        }
    }

    /// What must finish before the old copy of a create-before-destroy replacement is deleted: the
    /// new copy, and every resource that used the old one having moved to the new one.
    fn deposed_ordering(&self, plan: &Plan, action: &PlannedAction, state: &State) -> Vec<Address> {
        let in_plan = |a: &Address| plan.action_for(a).is_some();
        let mut after = vec![action.address.clone()];
        after.extend(self.stack.graph.dependents(&action.address).filter(|a| in_plan(a)).cloned());
        after.extend(users_of(state, &action.address).into_iter().filter(|a| in_plan(a)));
        after.sort();
        after.dedup();
        after
    }

    /// What must finish before `action` may start.
    fn ordering(&self, plan: &Plan, action: &PlannedAction, state: &State) -> Vec<Address> {
        let in_plan = |a: &Address| plan.action_for(a).is_some();
        if action.deposed {
            return users_of(state, &action.address).into_iter().filter(|a| in_plan(a)).collect();
        }
        match action.action {
            // After the resources it uses are in place.
            Action::Create | Action::Update | Action::Replace => {
                let mut after: Vec<Address> =
                    self.stack.graph.dependencies(&action.address).filter(|a| in_plan(a)).cloned().collect();
                if action.action == Action::Replace && !action.create_before_destroy {
                    // Its old self is deleted first, so whatever used it must have let go.
                    after.extend(
                        users_of(state, &action.address)
                            .into_iter()
                            .filter(|a| in_plan(a) && plan.action_for(a).is_some_and(|p| p.action == Action::Delete)),
                    );
                }
                after
            }
            // After everything that used it has been deleted or changed to stop using it.
            Action::Delete => users_of(state, &action.address).into_iter().filter(|a| in_plan(a)).collect(),
        }
    }

    async fn save_outputs(&self) -> Result<(), crate::state::WriteFailed> {
        let resolver = Resolver { stack: self.stack, info: self.info, network: self.network };
        let outputs = self.writer.read(|state| {
            if self.stack.state_only {
                // The file's `[outputs]` were not read (a destroy from the state alone): the ones
                // recorded stay until nothing is left for them to describe.
                return (state.resources.is_empty() && !state.outputs.is_empty()).then(BTreeMap::new);
            }
            let mut outputs = BTreeMap::new();
            for output in &self.stack.outputs {
                let lookup = |a: &Address| {
                    state
                        .resources
                        .get(a)
                        .map(|r| r.attributes.iter().map(|(k, v)| (k.clone(), Value::from_json(v))).collect())
                };
                if let Some(json) = resolver.resolve_expr(&output.value, &lookup).to_json() {
                    outputs.insert(output.name.clone(), json);
                }
            }
            (state.outputs != outputs).then_some(outputs)
        });
        match outputs {
            Some(outputs) => self.writer.commit(|state| state.outputs = outputs).await,
            None => Ok(()),
        }
    }
}

/// Resources whose recorded dependencies include `address`.
fn users_of(state: &State, address: &Address) -> Vec<Address> {
    state.resources.iter().filter(|(_, r)| r.dependencies.contains(address)).map(|(a, _)| a.clone()).collect()
}
