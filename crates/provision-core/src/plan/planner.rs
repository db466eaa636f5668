//! The planner: desired stack + (refreshed) state → [`Plan`].

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{anyhow, Result};

use super::excluded;
use super::resolve::{desired_inputs, Resolver};
use super::{diff_inputs, Action, Drift, Plan, Planned, PlannedAction};
use crate::address::Address;
use crate::cloud::Network;
use crate::driver::{Driver, DriverRegistry, StackInfo};
use crate::stack::Stack;
use crate::state::{ResourceStatus, State};
use crate::value::{JsonMap, Value};

#[derive(Clone, Debug, Default)]
pub struct PlanOptions {
    /// Limit the plan to these resources (and what they depend on; for destroy, what depends on them).
    pub targets: Vec<Address>,
    /// Plan the deletion of everything in the state.
    pub destroy: bool,
    /// Replace these even though nothing about them changed (`--replace ADDR`).
    pub replace: Vec<Address>,
    /// Only accept what changed outside provision into the state; plan no action.
    pub refresh_only: bool,
    /// Leave these out (`--exclude ADDR`), with what depends on them (for destroy: what they need).
    pub exclude: Vec<Address>,
    /// Refuse a plan that sets back a change made outside provision (`apply --keep-drift`).
    pub keep_drift: bool,
    /// For an apply: a state that records no account and holds nothing yet is not checked against
    /// the account before planning (nothing in it can belong to another one), which takes the STS
    /// round trip off the first apply's path. [`crate::engine::Planned::account_unchecked`] then
    /// says the caller records the account once it is known.
    pub check_new_account_alongside: bool,
}

/// Everything the planner compares: the stack, the (refreshed) state, and what the cloud said.
pub struct PlanInputs<'a> {
    pub drivers: &'a DriverRegistry,
    pub stack: &'a Stack,
    pub info: &'a StackInfo,
    pub network: Option<&'a Network>,
    pub state: &'a State,
    pub drift: Vec<Drift>,
    pub refreshed: bool,
    /// Inputs drivers resolved against the cloud at plan time (an image tag's digest), by address.
    pub online: &'a BTreeMap<Address, JsonMap>,
}

pub fn plan(inputs: PlanInputs<'_>, options: &PlanOptions) -> Result<Plan> {
    let PlanInputs { drivers, stack, info, network, state, drift, refreshed, online } = inputs;
    for target in &options.targets {
        if !stack.resources.contains_key(target) && !state.resources.contains_key(target) {
            return Err(anyhow!("`--target {target}` is neither in the stack file nor in the state"));
        }
    }
    for address in &options.exclude {
        if !stack.resources.contains_key(address) && !state.resources.contains_key(address) {
            return Err(anyhow!("`--exclude {address}` is neither in the stack file nor in the state"));
        }
    }
    for address in &options.replace {
        if !stack.resources.contains_key(address) {
            return Err(anyhow!("`--replace {address}` is not in the stack file"));
        }
        if !state.resources.contains_key(address) {
            return Err(anyhow!(
                "`--replace {address}` is not in the state: there is nothing to replace yet\n\nhint: `provision apply` creates it"
            ));
        }
    }
    let mut actions = Vec::new();
    let mut outputs = BTreeMap::new();
    let mut desired_known: BTreeMap<Address, JsonMap> = BTreeMap::new();
    if options.refresh_only {
        // Nothing is planned: applying only records what the refresh read.
    } else if options.destroy {
        let mut included = destroy_targets(state, &options.targets);
        // What an excluded resource uses must outlive it.
        for kept in excluded::needed_by(state, &options.exclude) {
            included.remove(&kept);
        }
        for address in state.deposed.keys() {
            let mut action = PlannedAction::new(address.clone(), Action::Delete, Vec::new(), Vec::new());
            action.deposed = true;
            actions.push(action);
        }
        for address in state.resources.keys().filter(|a| included.contains(*a)) {
            actions.push(PlannedAction::new(address.clone(), Action::Delete, Vec::new(), Vec::new()));
        }
    } else {
        let mut included = apply_targets(stack, &options.targets);
        let left_out = excluded::with_dependents(stack, state, &options.exclude);
        included.retain(|address| !left_out.contains(address));
        let resolver = Resolver { stack, info, network };
        let mut planned: BTreeMap<Address, BTreeMap<String, Value>> = BTreeMap::new();
        for address in stack.graph.topological_order() {
            let Some(resource) = stack.resources.get(&address) else { continue };
            let driver = drivers.get(&address.type_name).ok_or_else(|| anyhow!("{address}: unknown resource type"))?;
            let lookup = |a: &Address| planned.get(a).cloned();
            let forced = options.replace.contains(&address);
            // A forced create-before-destroy replacement needs a name the old copy does not have:
            // a new generation goes into the hashed default name.
            let bumped = state
                .resources
                .get(&address)
                .filter(|_| forced && driver.schema().create_before_destroy)
                .map(|r| next_generation(&r.inputs));
            let prior = bumped.as_ref().or_else(|| state.resources.get(&address).map(|r| &r.inputs));
            let mut desired = desired_inputs(&resolver, driver, resource, &lookup, prior).map_err(|e| anyhow!(e))?;
            match online.get(&address) {
                Some(resolved) => super::merge_resolved(&mut desired.values, resolved, None),
                None if driver.resolves_online() => super::keep_unresolved(driver.schema(), &mut desired.values, prior),
                None => {}
            }
            let known: JsonMap = desired.values.iter().filter_map(|(k, v)| Some((k.clone(), v.to_json()?))).collect();
            desired_known.insert(address.clone(), known.clone());
            let existing = state.resources.get(&address);
            let skip = !included.contains(&address);
            // An interrupted create is only settled by a refresh; until then it is still to do.
            let existing = existing.filter(|e| e.status == ResourceStatus::Created);
            let (action, attributes) = match existing {
                None => {
                    let changes = desired
                        .values
                        .iter()
                        .flat_map(|(k, v)| {
                            diff_inputs(driver.schema(), &JsonMap::new(), &BTreeMap::from([(k.clone(), v.clone())]))
                        })
                        .collect();
                    (Some((Action::Create, changes, Vec::new())), fresh_attributes(driver, info, &known))
                }
                Some(entry) if forced => {
                    let changes = diff_inputs(driver.schema(), &entry.inputs, &desired.values);
                    (
                        Some((Action::Replace, changes, vec![REPLACE_FLAG.to_string()])),
                        fresh_attributes(driver, info, &known),
                    )
                }
                Some(entry) => {
                    let changes = diff_inputs(driver.schema(), &entry.inputs, &desired.values);
                    let current: BTreeMap<String, Value> =
                        entry.attributes.iter().map(|(k, v)| (k.clone(), Value::from_json(v))).collect();
                    if changes.is_empty() {
                        (None, current)
                    } else if changes.iter().any(|c| c.forces_replacement) {
                        // A default name that hashes other fields changes because of them: the
                        // fields the user changed are the cause worth naming.
                        let derived_name = |field: &str| {
                            !resource.fields.contains_key(field)
                                && driver.schema().field(field).is_some_and(|spec| {
                                    matches!(spec.default, crate::schema::Default::AwsNameHashing { .. })
                                })
                        };
                        let mut forced_by: Vec<String> = changes
                            .iter()
                            .filter(|c| c.forces_replacement)
                            .map(|c| c.path.split(['.', '[']).next().unwrap_or(&c.path).to_string())
                            .collect();
                        forced_by.dedup();
                        if forced_by.iter().any(|f| !derived_name(f)) {
                            forced_by.retain(|f| !derived_name(f));
                        }
                        (Some((Action::Replace, changes, forced_by)), fresh_attributes(driver, info, &known))
                    } else {
                        let mut attributes = current;
                        let fields: Vec<&str> =
                            changes.iter().map(|c| c.path.split(['.', '[']).next().unwrap_or(&c.path)).collect();
                        for attribute in driver.attributes_changed_by(&fields) {
                            attributes.insert(attribute.to_string(), Value::Unknown);
                        }
                        for (k, v) in driver.planned_attributes(info, &known) {
                            attributes.insert(k, Value::from_json(&v));
                        }
                        (Some((Action::Update, changes, Vec::new())), attributes)
                    }
                }
            };
            match action {
                Some((action, changes, forced_by)) if !skip => {
                    if let Some(network) = network {
                        check_network(driver, &address, &known, network)?;
                    }
                    let mut planned_action = PlannedAction::new(address.clone(), action, changes, forced_by);
                    planned_action.create_before_destroy =
                        action == Action::Replace && driver.schema().create_before_destroy;
                    let changed: Vec<&str> = planned_action
                        .changes
                        .iter()
                        .map(|c| c.path.split(['.', '[']).next().unwrap_or(&c.path))
                        .collect();
                    planned_action.notes = driver.plan_notes(action, &known, &changed);
                    planned_action.inputs = known.clone();
                    actions.push(planned_action);
                    planned.insert(address, attributes);
                }
                // Skipped by `--target`: dependents see what exists today.
                _ => {
                    let current = existing
                        .map(|e| e.attributes.iter().map(|(k, v)| (k.clone(), Value::from_json(v))).collect())
                        .unwrap_or_default();
                    planned.insert(address, if skip { current } else { attributes });
                }
            }
        }
        for (address, entry) in &state.resources {
            if !stack.resources.contains_key(address)
                && included_for_delete(&options.targets, address)
                && !left_out.contains(address)
            {
                let _ = entry;
                actions.push(PlannedAction::new(address.clone(), Action::Delete, Vec::new(), Vec::new()));
            }
        }
        for address in state.deposed.keys() {
            let mut action = PlannedAction::new(address.clone(), Action::Delete, Vec::new(), Vec::new());
            action.deposed = true;
            actions.push(action);
        }
        for output in &stack.outputs {
            let value = resolver.resolve_expr(&output.value, &|a: &Address| planned.get(a).cloned());
            let planned_value = value.to_json().map(Planned::Known).unwrap_or(Planned::Unknown);
            outputs.insert(output.name.clone(), planned_value);
        }
    }
    actions.sort_by(|a, b| (&a.address, a.deposed).cmp(&(&b.address, b.deposed)));
    let undone =
        if options.refresh_only || options.destroy { Vec::new() } else { super::undone_drift(&drift, &actions) };
    if options.keep_drift && !undone.is_empty() {
        return Err(anyhow!(keep_drift_refusal(&undone)));
    }
    let cost = (!options.refresh_only).then(|| crate::cost::estimate(&info.region, &mut actions, state));
    let findings =
        if options.refresh_only || options.destroy { Vec::new() } else { guardrail_findings(stack, &desired_known) };
    Ok(Plan {
        stack: stack.name.clone(),
        lineage: Some(state.lineage.clone()),
        serial: Some(state.serial),
        refreshed,
        actions,
        drift,
        outputs,
        moves: Vec::new(),
        refresh_only: options.refresh_only,
        protection: Vec::new(),
        cost,
        findings,
        undone,
    })
}

/// The driver's checks against the looked-up network (e.g. that a service's tasks can reach the
/// image registry): an error stops the plan, naming the resource and the field.
fn check_network(driver: &dyn Driver, address: &Address, known: &JsonMap, network: &Network) -> Result<()> {
    for problem in driver.check_network(known, network) {
        if problem.warning {
            tracing::warn!("`{address}.{}`: {}", problem.field, problem.message);
            continue;
        }
        let hint = problem.hint.map(|hint| format!("\n\nhint: {hint}")).unwrap_or_default();
        return Err(anyhow!("`{address}.{}`: {}{hint}", problem.field, problem.message));
    }
    Ok(())
}

/// The built-in guardrails, run on the stack as the plan leaves it: each resource's known inputs and
/// the resources its fields refer to.
fn guardrail_findings(stack: &Stack, desired: &BTreeMap<Address, JsonMap>) -> Vec<crate::guardrails::Finding> {
    let subjects: Vec<crate::guardrails::Subject<'_>> = desired
        .iter()
        .map(|(address, inputs)| {
            let mut refers_to: BTreeMap<String, Vec<Address>> = BTreeMap::new();
            if let Some(resource) = stack.resources.get(address) {
                for (field, expr) in &resource.fields {
                    for (reference, _) in expr.references() {
                        if let crate::stack::Reference::Resource { address, .. } = reference {
                            refers_to.entry(field.clone()).or_default().push(address.clone());
                        }
                    }
                }
            }
            crate::guardrails::Subject { address, inputs, refers_to }
        })
        .collect();
    crate::guardrails::check(&subjects, &stack.guardrails)
}

/// `apply --keep-drift`'s refusal, naming every change it would undo.
fn keep_drift_refusal(undone: &[super::UndoneChange]) -> String {
    let shown = |value: &Option<Planned>| match value {
        Some(value) => crate::render::plan_text::planned_text(value),
        None => "(removed)".to_string(),
    };
    let lines: Vec<String> = undone
        .iter()
        .map(|u| {
            format!(
                "  {}  {}: {} (set outside provision) -> {}",
                u.address,
                u.path,
                shown(&u.outside),
                shown(&u.restored)
            )
        })
        .collect();
    format!(
        "this apply would undo {} change(s) made outside provision, and `--keep-drift` refuses to:\n{}\n\nhint: make the stack file say the same (then nothing is set back), or accept them into the state with `provision apply --refresh-only`; run without `--keep-drift` to set them back",
        undone.len(),
        lines.join("\n")
    )
}

/// What `forced_by` names when `--replace` asked for the replacement.
pub const REPLACE_FLAG: &str = "--replace";

/// `inputs` with the replacement generation one higher (see `resolve::hashed_name`).
fn next_generation(inputs: &JsonMap) -> JsonMap {
    let mut bumped = inputs.clone();
    let generation = inputs.get(super::resolve::GENERATION).and_then(serde_json::Value::as_u64).unwrap_or(0);
    bumped.insert(super::resolve::GENERATION.into(), serde_json::Value::from(generation + 1));
    bumped
}

/// Attributes of a resource about to be created: what the inputs already tell, the rest unknown.
fn fresh_attributes(driver: &dyn Driver, info: &StackInfo, known: &JsonMap) -> BTreeMap<String, Value> {
    let mut attributes: BTreeMap<String, Value> =
        driver.schema().attributes.iter().map(|a| (a.to_string(), Value::Unknown)).collect();
    for (k, v) in driver.planned_attributes(info, known) {
        attributes.insert(k, Value::from_json(&v));
    }
    attributes
}

fn apply_targets(stack: &Stack, targets: &[Address]) -> BTreeSet<Address> {
    if targets.is_empty() {
        return stack.resources.keys().cloned().collect();
    }
    let mut included = BTreeSet::new();
    let mut pending: Vec<Address> = targets.to_vec();
    while let Some(address) = pending.pop() {
        if included.insert(address.clone()) {
            pending.extend(stack.graph.dependencies(&address).cloned());
        }
    }
    included
}

fn included_for_delete(targets: &[Address], address: &Address) -> bool {
    targets.is_empty() || targets.contains(address)
}

fn destroy_targets(state: &State, targets: &[Address]) -> BTreeSet<Address> {
    if targets.is_empty() {
        return state.resources.keys().cloned().collect();
    }
    let mut included = BTreeSet::new();
    let mut pending: Vec<Address> = targets.to_vec();
    while let Some(address) = pending.pop() {
        if included.insert(address.clone()) {
            for (other, entry) in &state.resources {
                if entry.dependencies.contains(&address) {
                    pending.push(other.clone());
                }
            }
        }
    }
    included
}
