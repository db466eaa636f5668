//! The executor: runs a plan's actions in dependency order, concurrently, saving the state after
//! every single action.
//!
//! Values that were `(known after apply)` in the plan are resolved just before each action, from
//! the attributes its dependencies returned. A failure stops only what depends on it: independent
//! work goes on, and the state keeps everything that succeeded. A cancel (Ctrl-C) starts nothing
//! new but lets the actions in flight finish and be recorded.

mod reporter;

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::Result;
use futures::stream::{FuturesUnordered, StreamExt};

pub use reporter::{NullReporter, Reporter};

use crate::address::Address;
use crate::aws::network::Network;
use crate::aws::AwsContext;
use crate::drivers::{self, Driver, ExistingResource, FieldChange, ProgressSink, ResourceRequest, StackInfo};
use crate::graph::DependencyQueue;
use crate::plan::{deposed_key, desired_inputs, Action, Plan, PlannedAction, Resolver};
use crate::stack::Stack;
use crate::state::{LocalStateStore, ResourceState, ResourceStatus, State};
use crate::value::{JsonMap, Value};

pub struct ExecutionOptions {
    pub parallelism: usize,
}

#[derive(Debug, Default)]
pub struct Outcome {
    pub succeeded: Vec<(Address, Action)>,
    pub failed: Vec<Failure>,
    /// Not attempted because something they depend on failed.
    pub skipped: Vec<Address>,
    /// Not started because the run was cancelled.
    pub not_started: Vec<Address>,
    pub cancelled: bool,
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
        self.failed.is_empty() && !self.cancelled && self.skipped.is_empty()
    }
}

pub struct Executor<'a> {
    pub stack: &'a Stack,
    pub info: &'a StackInfo,
    pub network: Option<&'a Network>,
    pub aws: &'a AwsContext,
    pub store: &'a LocalStateStore,
    pub reporter: &'a dyn Reporter,
    state: Mutex<State>,
}

struct ActionError {
    message: String,
    hint: Option<String>,
}

impl From<drivers::DriverError> for ActionError {
    fn from(error: drivers::DriverError) -> ActionError {
        ActionError { message: error.to_string(), hint: error.hint }
    }
}

impl From<anyhow::Error> for ActionError {
    fn from(error: anyhow::Error) -> ActionError {
        ActionError { message: format!("{error:#}"), hint: None }
    }
}

/// A reporter seen as the progress sink drivers write to.
pub struct Progress<'a>(pub &'a dyn Reporter);

impl ProgressSink for Progress<'_> {
    fn waiting(&self, address: &Address, message: &str) {
        self.0.waiting(address, message);
    }
}

impl<'a> Executor<'a> {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        stack: &'a Stack,
        info: &'a StackInfo,
        network: Option<&'a Network>,
        aws: &'a AwsContext,
        store: &'a LocalStateStore,
        reporter: &'a dyn Reporter,
        state: State,
    ) -> Executor<'a> {
        Executor { stack, info, network, aws, store, reporter, state: Mutex::new(state) }
    }

    /// Runs the plan; `cancel` resolving means Ctrl-C. Returns the outcome and the final state.
    pub async fn execute(
        self,
        plan: &Plan,
        options: &ExecutionOptions,
        cancel: impl std::future::Future<Output = ()>,
    ) -> Result<(Outcome, State)> {
        let mut queue = DependencyQueue::new();
        {
            let state = self.state.lock().expect("state lock");
            for action in &plan.actions {
                queue.queue(action.key(), self.ordering(plan, action, &state));
                if action.create_before_destroy {
                    queue.queue(deposed_key(&action.address), self.deposed_ordering(plan, action, &state));
                }
            }
        }
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
        let this = &self;
        let mut running = FuturesUnordered::new();
        let parallelism = options.parallelism.max(1);
        tokio::pin!(cancel);
        loop {
            while !outcome.cancelled && running.len() < parallelism {
                let Some(address) = queue.dequeue() else { break };
                let (action, step) = steps[&address];
                running.push(async move {
                    let started = Instant::now();
                    let (shown, verb) = match step {
                        Step::Main => (action.address.clone(), action.action),
                        Step::DeleteOld => (deposed_key(&action.address), Action::Delete),
                    };
                    this.reporter.started(&shown, verb);
                    let result = this.run(action, step).await;
                    (address, shown, verb, action, result, started.elapsed())
                });
            }
            if running.is_empty() {
                break;
            }
            tokio::select! {
                Some((key, shown, verb, action, result, elapsed)) = running.next() => {
                    self.record(&key, &shown, verb, action, result, elapsed, &mut queue, &mut outcome);
                }
                () = &mut cancel, if !outcome.cancelled => {
                    outcome.cancelled = true;
                    self.reporter.cancelling(running.len());
                }
            }
        }
        while let Some(address) = queue.dequeue() {
            outcome.not_started.push(address.clone());
            queue.finish(&address);
        }
        drop(running);
        self.save_outputs()?;
        let state = self.state.into_inner().expect("state lock");
        Ok((outcome, state))
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
                self.reporter.finished(shown, verb, elapsed);
                queue.finish(key);
                if key == &action.key() {
                    outcome.succeeded.push((action.address.clone(), action.action));
                }
            }
            Err(error) => {
                self.reporter.failed(shown, verb, &error.message);
                for dependent in queue.abandon(key) {
                    self.reporter.skipped(&dependent, shown);
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

    async fn run(&self, action: &PlannedAction, step: Step) -> Result<(), ActionError> {
        let address = &action.address;
        let driver = drivers::driver_for(&address.type_name).ok_or_else(|| ActionError {
            message: format!("unknown resource type `{}`", address.type_name),
            hint: None,
        })?;
        match (step, action.action) {
            (Step::DeleteOld, _) => self.delete_deposed(driver, address).await,
            (Step::Main, Action::Create) => self.create(driver, address).await,
            (Step::Main, Action::Update) => self.update(driver, address).await,
            (Step::Main, Action::Replace) if action.create_before_destroy => {
                // Keep the old copy aside (recorded, so an interrupted run still deletes it).
                self.save(|state| {
                    if let Some(old) = state.resources.remove(address) {
                        state.deposed.insert(address.clone(), old);
                    }
                })?;
                self.create(driver, address).await
            }
            (Step::Main, Action::Replace) => {
                self.delete(driver, address).await?;
                self.create(driver, address).await
            }
            (Step::Main, Action::Delete) => self.delete(driver, address).await,
        }
    }

    async fn delete_deposed(&self, driver: &dyn Driver, address: &Address) -> Result<(), ActionError> {
        let old = self.state.lock().expect("state lock").deposed.get(address).cloned();
        let Some(old) = old else { return Ok(()) };
        let existing = ExistingResource { address, id: &old.id, inputs: &old.inputs, attributes: &old.attributes };
        driver.delete(self.aws, &existing, &Progress(self.reporter)).await?;
        self.save(|state| {
            state.deposed.remove(address);
        })?;
        Ok(())
    }

    /// The resource's inputs, now that everything it depends on is applied.
    /// The resource's inputs and its secrets in clear (for the driver only).
    fn inputs(
        &self,
        driver: &dyn Driver,
        address: &Address,
    ) -> Result<(JsonMap, BTreeMap<String, String>), ActionError> {
        let resource = self
            .stack
            .resources
            .get(address)
            .ok_or_else(|| ActionError { message: "the resource is not in the stack file".into(), hint: None })?;
        let resolver = Resolver { stack: self.stack, info: self.info, network: self.network };
        let state = self.state.lock().expect("state lock");
        let lookup = |a: &Address| {
            state.resources.get(a).map(|r| r.attributes.iter().map(|(k, v)| (k.clone(), Value::from_json(v))).collect())
        };
        let prior = state.resources.get(address).or_else(|| state.deposed.get(address)).map(|r| &r.inputs);
        let desired = desired_inputs(&resolver, driver, resource, &lookup, prior)
            .map_err(|message| ActionError { message, hint: None })?;
        let secrets = desired.secrets.clone();
        let inputs = desired.to_json().ok_or_else(|| {
            let unknown: Vec<&String> = desired.values.iter().filter(|(_, v)| !v.is_known()).map(|(k, _)| k).collect();
            ActionError {
                message: format!("these inputs are still unknown after their dependencies were applied: {unknown:?}"),
                hint: Some("check that every referenced attribute is one the referenced resource sets".into()),
            }
        })?;
        Ok((inputs, secrets))
    }

    fn all_tags(&self, address: &Address, inputs: &JsonMap) -> BTreeMap<String, String> {
        let mut tags: BTreeMap<String, String> = inputs
            .get("tags")
            .and_then(|t| t.as_object())
            .map(|t| t.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string()))).collect())
            .unwrap_or_default();
        tags.insert("provision:stack".into(), self.stack.name.clone());
        tags.insert("provision:address".into(), address.to_string());
        tags
    }

    async fn create(&self, driver: &dyn Driver, address: &Address) -> Result<(), ActionError> {
        let (inputs, secrets) = self.inputs(driver, address)?;
        let tags = self.all_tags(address, &inputs);
        let request = ResourceRequest { address, stack: self.info, inputs: &inputs, tags: &tags, secrets: &secrets };
        let dependencies: Vec<Address> = self.stack.graph.dependencies(address).cloned().collect();
        // Record the intent first: a run killed during the call leaves the name to look for.
        self.save(|state| {
            state.resources.insert(
                address.clone(),
                ResourceState {
                    type_name: address.type_name.clone(),
                    id: driver.intended_id(&request),
                    status: ResourceStatus::Creating,
                    inputs: inputs.clone(),
                    attributes: JsonMap::new(),
                    dependencies: dependencies.clone(),
                },
            );
        })?;
        // On failure the intent stays: the next refresh finds out whether anything was made.
        let observed = driver.create(self.aws, &request, &Progress(self.reporter)).await?;
        self.save(|state| {
            if let Some(entry) = state.resources.get_mut(address) {
                entry.status = ResourceStatus::Created;
                entry.id = observed.id.clone();
                entry.attributes = observed.attributes.clone();
            }
        })?;
        Ok(())
    }

    async fn update(&self, driver: &dyn Driver, address: &Address) -> Result<(), ActionError> {
        let (inputs, secrets) = self.inputs(driver, address)?;
        let tags = self.all_tags(address, &inputs);
        let prior = self
            .state
            .lock()
            .expect("state lock")
            .resources
            .get(address)
            .cloned()
            .ok_or_else(|| ActionError { message: "the resource is not in the state".into(), hint: None })?;
        let changes = field_changes(&prior.inputs, &inputs);
        let existing =
            ExistingResource { address, id: &prior.id, inputs: &prior.inputs, attributes: &prior.attributes };
        let request = ResourceRequest { address, stack: self.info, inputs: &inputs, tags: &tags, secrets: &secrets };
        let observed = driver.update(self.aws, &existing, &request, &changes, &Progress(self.reporter)).await?;
        let dependencies: Vec<Address> = self.stack.graph.dependencies(address).cloned().collect();
        self.save(|state| {
            if let Some(entry) = state.resources.get_mut(address) {
                entry.inputs = inputs.clone();
                if !observed.id.is_empty() {
                    entry.id = observed.id.clone();
                }
                entry.attributes.extend(observed.attributes.clone());
                entry.dependencies = dependencies.clone();
            }
        })?;
        Ok(())
    }

    async fn delete(&self, driver: &dyn Driver, address: &Address) -> Result<(), ActionError> {
        let prior = self.state.lock().expect("state lock").resources.get(address).cloned();
        let Some(prior) = prior else { return Ok(()) };
        let existing =
            ExistingResource { address, id: &prior.id, inputs: &prior.inputs, attributes: &prior.attributes };
        driver.delete(self.aws, &existing, &Progress(self.reporter)).await?;
        self.save(|state| {
            state.resources.remove(address);
        })?;
        Ok(())
    }

    /// Changes the state and writes it, as one step.
    fn save(&self, change: impl FnOnce(&mut State)) -> Result<(), ActionError> {
        let mut state = self.state.lock().expect("state lock");
        change(&mut state);
        state.serial += 1;
        self.store.write(&state).map_err(ActionError::from)
    }

    fn save_outputs(&self) -> Result<()> {
        let resolver = Resolver { stack: self.stack, info: self.info, network: self.network };
        let mut state = self.state.lock().expect("state lock");
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
        if state.outputs != outputs {
            state.outputs = outputs;
            state.serial += 1;
            self.store.write(&state)?;
        }
        Ok(())
    }
}

/// Which part of a planned action a queue entry stands for.
#[derive(Clone, Copy, Debug)]
enum Step {
    Main,
    /// Deleting the old copy of a create-before-destroy replacement.
    DeleteOld,
}

/// Resources whose recorded dependencies include `address`.
fn users_of(state: &State, address: &Address) -> Vec<Address> {
    state.resources.iter().filter(|(_, r)| r.dependencies.contains(address)).map(|(a, _)| a.clone()).collect()
}

/// The top-level fields that differ, for the driver's update.
fn field_changes(before: &JsonMap, after: &JsonMap) -> Vec<FieldChange> {
    let mut keys: Vec<&String> = before.keys().chain(after.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|k| {
            before.get(*k).unwrap_or(&serde_json::Value::Null) != after.get(*k).unwrap_or(&serde_json::Value::Null)
        })
        .map(|k| FieldChange { path: k.clone(), before: before.get(k).cloned(), after: after.get(k).cloned() })
        .collect()
}
