//! Everything a plan is made from, put together: the region and account check, the network
//! look-up and the refresh — all in one round, since none waits for another — then the planner.
//!
//! The region a run is set for is known without a call, so a state made elsewhere is refused before
//! any. The account needs one call (STS); it runs alongside the refresh's reads, which change
//! nothing, and nothing is planned (so nothing is ever created) until it has answered and matched.

use std::collections::BTreeMap;

use anyhow::{anyhow, bail, Result};

use crate::address::Address;
use crate::cloud::{Cloud, Identity, Network};
use crate::driver::StackInfo;
use crate::plan::{self, resolve_inputs, Drift, Plan, PlanOptions, RefreshReport, Resolver};
use crate::stack::Stack;
use crate::state::State;
use crate::value::{JsonMap, Value};

/// Everything a plan was computed from, kept for executing it.
pub struct Planned {
    pub plan: Plan,
    /// The state after refresh (with the region and account this run found).
    pub state: State,
    pub info: StackInfo,
    pub network: Option<Network>,
    /// Interrupted creates whose resource was found and adopted.
    pub recovered: Vec<Address>,
    /// Interrupted creates that had made nothing refresh found, with the intended id each had
    /// recorded; they are planned again.
    pub abandoned_creates: Vec<(Address, String)>,
    /// The account was not asked for ([`PlanOptions::check_new_account_alongside`] and a new
    /// state): the caller asks while it applies and records it with [`pin_identity`].
    pub account_unchecked: bool,
}

pub fn stack_info(stack: &Stack, region: String) -> StackInfo {
    StackInfo { name: stack.name.clone(), region, directory: stack.directory(), lineage: None }
}

/// Refuses a run set for another region than the state was made in.
pub fn check_region(state: &State, region: &str) -> Result<()> {
    match &state.region {
        Some(recorded) if recorded != region => bail!(
            "the state was made in {recorded}{}, this run is set for {region}\n\nhint: run with `--region {recorded}` (or `AWS_REGION={recorded}`); to deploy the stack in {region} too, give that copy its own stack name or `[state]`",
            state.account.as_deref().map(|a| format!(" (account {a})")).unwrap_or_default()
        ),
        _ => Ok(()),
    }
}

/// Refuses a run in another account than the state was made in.
pub fn check_account(state: &State, identity: &Identity) -> Result<()> {
    match &state.account {
        Some(recorded) if recorded != &identity.account => bail!(
            "the state was made in account {recorded} ({}), this run's credentials are for account {} ({})\n\nhint: use the profile or credentials of account {recorded} (`--profile`, `AWS_PROFILE`)",
            state.region.as_deref().unwrap_or("?"),
            identity.account,
            identity.region
        ),
        _ => Ok(()),
    }
}

/// Records where the resources live, for states made before this was kept (adopted on their next
/// write) and new ones.
pub fn pin_identity(state: &mut State, identity: &Identity) {
    state.region.get_or_insert_with(|| identity.region.clone());
    state.account.get_or_insert_with(|| identity.account.clone());
}

/// Refreshes (when `cloud` is given) and plans. Offline (`cloud` = `None`), `region` is the
/// configured one and the network is what the state last recorded.
pub async fn make_plan(
    stack: &Stack,
    mut state: State,
    cloud: Option<&dyn Cloud>,
    drivers: &crate::driver::DriverRegistry,
    region: String,
    options: &PlanOptions,
) -> Result<Planned> {
    if stack.state_only && !options.destroy && !options.refresh_only {
        // Its resources were not read: planned against them, everything would be deleted.
        bail!("the stack file was loaded without its resources, which only `destroy` and a refresh can plan with");
    }
    let mut info = stack_info(stack, region.clone());
    info.lineage = Some(state.lineage.clone());
    check_region(&state, &region)?;
    if !options.destroy {
        preflight(drivers, stack, &info, &state)?;
    }
    let moves = if options.destroy { Vec::new() } else { apply_moves(stack, &mut state)? };
    let protected = plan::protection::protected(&state);
    let mut drift: Vec<Drift> = Vec::new();
    let mut network = state.network.clone();
    let mut recovered = Vec::new();
    let mut abandoned_creates = Vec::new();
    let account_unchecked = cloud.is_some()
        && options.check_new_account_alongside
        && !options.destroy
        && state.account.is_none()
        && state.resources.is_empty()
        && state.deposed.is_empty();
    if let Some(cloud) = cloud {
        let identity = async {
            if account_unchecked {
                Ok(None)
            } else {
                cloud.identity().await.map(Some)
            }
        };
        let look_up = async {
            // A destroy needs nothing of the stack file: it deletes what the state records.
            if stack.uses_network && !options.destroy {
                cloud.network(&stack.network).await.map(Some).map_err(|error| anyhow::anyhow!("[network]: {error}"))
            } else {
                Ok(None)
            }
        };
        // The account and region checks read only where the state was made, so the refresh works on
        // the state itself rather than on a copy of it (2.6 MB for 1,000 resources).
        let mut made_in = State::new(&state.stack);
        made_in.account = state.account.clone();
        made_in.region = state.region.clone();
        let mut refreshed = std::mem::replace(&mut state, made_in);
        let refresh = async {
            if refreshed.resources.is_empty() {
                Ok(RefreshReport::default())
            } else {
                plan::refresh(drivers, &info, &mut refreshed).await
            }
        };
        let (identity, found, report) = futures::join!(identity, look_up, refresh);
        let identity = identity.map_err(|error| anyhow::anyhow!("checking the AWS account: {error}"))?;
        if let Some(identity) = &identity {
            check_account(&state, identity)?;
            if identity.region != region {
                check_region(&state, &identity.region)?;
            }
        }
        let report = report?;
        state = refreshed;
        if let Some(identity) = &identity {
            pin_identity(&mut state, identity);
        }
        if let Some(found) = found? {
            network = Some(found);
        }
        // A resource found gone that the stack no longer wants is still deleted: its delete finds it
        // gone and removes the parts it may have left (an origin access control, old revisions).
        for (address, entry) in report.gone {
            if !options.refresh_only && (!stack.resources.contains_key(&address) || options.destroy) {
                state.resources.insert(address, entry);
            }
        }
        drift = report.drift;
        recovered = report.recovered;
        abandoned_creates = report.abandoned_creates;
    }
    if network.is_some() {
        state.network = network.clone();
    }
    if !options.destroy {
        plan::upgrade_secret_hashes(drivers, stack, &info, &mut state);
    }
    let online = match cloud {
        Some(_) if !options.destroy => resolve_online(drivers, stack, &info, network.as_ref(), &state).await?,
        _ => BTreeMap::new(),
    };
    let protection =
        if options.destroy || options.refresh_only { Vec::new() } else { plan::protection::record(stack, &mut state) };
    let inputs = plan::PlanInputs {
        drivers,
        stack,
        info: &info,
        network: network.as_ref(),
        state: &state,
        drift,
        refreshed: cloud.is_some(),
        online: &online,
    };
    let mut plan = plan::plan(inputs, options)?;
    plan::protection::refuse(&plan, &protected, (!options.destroy).then_some(stack), options.destroy)?;
    plan.moves = moves;
    plan.protection = protection;
    for action in &mut plan.actions {
        if action.action == plan::Action::Create && !action.deposed {
            let earlier = abandoned_creates.iter().find(|(address, _)| address == &action.address);
            action.earlier_intent = earlier.map(|(_, intent)| intent.clone()).filter(|intent| !intent.is_empty());
        }
    }
    Ok(Planned { plan, state, info, network, recovered, abandoned_creates, account_unchecked })
}

/// Renames the state entries that `[[moved]]` names, so the planner sees each resource under its
/// new address (and plans no replacement). A move whose `to` is already recorded was done by an
/// earlier apply and is skipped; a `from` the state never had is an error naming its line — unless
/// the state is empty (a new copy of the stack, where there is nothing to move).
pub fn apply_moves(stack: &Stack, state: &mut State) -> Result<Vec<plan::Move>> {
    let mut moves = Vec::new();
    for moved in &stack.moved {
        let (from, to) = (&moved.from, &moved.to);
        match (state.resources.contains_key(from), state.resources.contains_key(to)) {
            (true, true) => bail!(
                "{}: `[[moved]]` from `{from}` to `{to}`, but the state holds both\n\nhint: `provision state rm` the one that is not wanted, or remove this `[[moved]]` entry",
                stack.location(moved.span.start)
            ),
            (false, true) => continue,
            (false, false) if state.resources.is_empty() => continue,
            (false, false) => bail!(
                "{}: `[[moved]]` from `{from}`, which is not in the state\n\nhint: `provision state list` shows the recorded addresses; remove the entry once the move is applied",
                stack.location(moved.span.start)
            ),
            (true, false) => {}
        }
        if let Some(entry) = state.resources.remove(from) {
            state.resources.insert(to.clone(), entry);
        }
        if let Some(entry) = state.deposed.remove(from) {
            state.deposed.insert(to.clone(), entry);
        }
        for entry in state.resources.values_mut().chain(state.deposed.values_mut()) {
            for dependency in &mut entry.dependencies {
                if dependency == from {
                    *dependency = to.clone();
                }
            }
        }
        moves.push(plan::Move { from: from.clone(), to: to.clone() });
    }
    Ok(moves)
}

/// Everything about the inputs that can be known without the cloud — field values, the drivers'
/// own rules, an `upload` folder that must exist — checked before the first call, so a plan never
/// makes calls and then fails on something it could have known first.
pub fn preflight(
    drivers: &crate::driver::DriverRegistry,
    stack: &Stack,
    info: &StackInfo,
    state: &State,
) -> Result<()> {
    let resolver = Resolver { stack, info, network: state.network.as_ref() };
    let lookup = |a: &Address| {
        state.resources.get(a).map(|r| r.attributes.iter().map(|(k, v)| (k.clone(), Value::from_json(v))).collect())
    };
    for (address, resource) in &stack.resources {
        let Some(driver) = drivers.get(&address.type_name) else { continue };
        let prior = state.resources.get(address).map(|r| &r.inputs);
        plan::desired_inputs(&resolver, driver, resource, &lookup, prior).map_err(|error| anyhow!(error))?;
    }
    Ok(())
}

/// Asks the drivers that look things up at plan time (an image tag's digest), all at once, with
/// each resource's inputs as far as the state already tells them (unknown ones left out). A driver
/// that cannot tell yet (its image refers to a repository this apply creates) answers nothing, and
/// the executor asks again just before the action.
async fn resolve_online(
    drivers: &crate::driver::DriverRegistry,
    stack: &Stack,
    info: &StackInfo,
    network: Option<&Network>,
    state: &State,
) -> Result<BTreeMap<Address, JsonMap>> {
    let resolver = Resolver { stack, info, network };
    let lookup = |a: &Address| {
        state.resources.get(a).map(|r| r.attributes.iter().map(|(k, v)| (k.clone(), Value::from_json(v))).collect())
    };
    let mut lookups = Vec::new();
    for (address, resource) in &stack.resources {
        let Some(driver) = drivers.get(&address.type_name).filter(|d| d.resolves_online()) else { continue };
        let prior = state.resources.get(address).map(|r| &r.inputs);
        let Ok(desired) = resolve_inputs(&resolver, driver, resource, &lookup, prior) else { continue };
        let known = plan::known_parts(&desired.values);
        lookups.push(async move { (address.clone(), driver.resolve(info, &known).await) });
    }
    let mut online = BTreeMap::new();
    for (address, result) in futures::future::join_all(lookups).await {
        let extra = result.map_err(|error| anyhow!("{address}: {error}"))?;
        if !extra.is_empty() {
            online.insert(address, extra);
        }
    }
    Ok(online)
}
