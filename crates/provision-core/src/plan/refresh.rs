//! Refresh: read every resource in the state from the cloud, so plans compare against reality.
//!
//! Drivers read in batches (one call for many resources where the API allows); all types are read
//! at once, and creates that a killed run left unsettled are looked for in the same round. A
//! resource that is gone is dropped from the (in-memory) state, so the plan creates it again;
//! fields that differ from what was applied are reported as drift and replace the applied values,
//! so the plan's "before" is what really exists.

use std::collections::BTreeMap;

use anyhow::{anyhow, Result};

use super::{diff_inputs, Drift};
use crate::address::Address;
use crate::driver::{DriverError, DriverRegistry, ExistingResource, Observed, StackInfo};
use crate::state::{ResourceStatus, State};
use crate::value::Value;

#[derive(Debug, Default)]
pub struct RefreshReport {
    pub drift: Vec<Drift>,
    /// Resources whose create was interrupted and that were found and adopted.
    pub recovered: Vec<Address>,
    /// Resources whose create was interrupted and made nothing refresh could find, with the intended
    /// id that create recorded; they will be created again (handing the driver that id).
    pub abandoned_creates: Vec<(Address, String)>,
    /// Resources found gone, as the state recorded them (already dropped from the state).
    pub gone: Vec<(Address, crate::state::ResourceState)>,
}

enum Found {
    Read(Vec<(Address, Result<Option<Observed>, DriverError>)>),
    Interrupted(Address, Result<Option<String>, DriverError>),
}

pub async fn refresh(drivers: &DriverRegistry, info: &StackInfo, state: &mut State) -> Result<RefreshReport> {
    let mut report = RefreshReport::default();
    for address in state.resources.keys() {
        if drivers.get(&address.type_name).is_none() {
            return Err(anyhow!("{address}: the state holds an unknown resource type `{}`", address.type_name));
        }
    }

    // One round: every type's batched read, and every interrupted create looked for, all at once.
    let mut by_type: BTreeMap<&str, Vec<Address>> = BTreeMap::new();
    let mut interrupted: Vec<(Address, String)> = Vec::new();
    for (address, entry) in &state.resources {
        if entry.status == ResourceStatus::Creating {
            interrupted.push((address.clone(), entry.id.clone()));
        } else {
            by_type.entry(address.type_name.as_str()).or_default().push(address.clone());
        }
    }
    let mut work: Vec<futures::future::BoxFuture<'_, Found>> = Vec::new();
    for (type_name, addresses) in &by_type {
        let driver = drivers.get(type_name).expect("checked above");
        let existing: Vec<ExistingResource<'_>> = addresses
            .iter()
            .map(|address| {
                let entry = &state.resources[address];
                ExistingResource { address, id: &entry.id, inputs: &entry.inputs, attributes: &entry.attributes }
            })
            .collect();
        work.push(Box::pin(async move {
            let results = driver.read(info, &existing).await;
            Found::Read(addresses.iter().cloned().zip(results).collect())
        }));
    }
    for (address, intended_id) in &interrupted {
        let driver = drivers.get(&address.type_name).expect("checked above");
        work.push(Box::pin(async move {
            Found::Interrupted(address.clone(), driver.find_interrupted(info, address, intended_id).await)
        }));
    }
    let results = futures::future::join_all(work).await;

    let mut observed: Vec<(Address, Option<Observed>)> = Vec::new();
    for result in results {
        match result {
            Found::Read(batch) => {
                for (address, read) in batch {
                    let read = read.map_err(|error| anyhow!("{address}: refresh failed: {error}"))?;
                    observed.push((address, read));
                }
            }
            Found::Interrupted(address, found) => {
                let found = found.map_err(|error| {
                    anyhow!("{address}: looking for the resource an interrupted create made: {error}")
                })?;
                match found {
                    Some(id) => {
                        if let Some(entry) = state.resources.get_mut(&address) {
                            entry.id = id;
                            entry.status = ResourceStatus::Created;
                        }
                        report.recovered.push(address);
                    }
                    None => {
                        if let Some(entry) = state.resources.remove(&address) {
                            report.abandoned_creates.push((address, entry.id));
                        }
                    }
                }
            }
        }
    }
    if !report.recovered.is_empty() {
        // What was adopted is read like everything else, so its attributes are real.
        let recovered: Vec<Address> = report.recovered.clone();
        let mut by_type: BTreeMap<&str, Vec<&Address>> = BTreeMap::new();
        for address in &recovered {
            by_type.entry(address.type_name.as_str()).or_default().push(address);
        }
        let reads = by_type.iter().map(|(type_name, addresses)| {
            let driver = drivers.get(type_name).expect("checked above");
            let state = &*state;
            async move {
                let existing: Vec<ExistingResource<'_>> = addresses
                    .iter()
                    .map(|address| {
                        let entry = &state.resources[*address];
                        ExistingResource {
                            address,
                            id: &entry.id,
                            inputs: &entry.inputs,
                            attributes: &entry.attributes,
                        }
                    })
                    .collect();
                let results = driver.read(info, &existing).await;
                addresses.iter().map(|a| (*a).clone()).zip(results).collect::<Vec<_>>()
            }
        });
        for batch in futures::future::join_all(reads).await {
            for (address, read) in batch {
                let read = read.map_err(|error| anyhow!("{address}: refresh failed: {error}"))?;
                match read {
                    // Found by its name or token, then gone: as if never made.
                    None => {
                        state.resources.remove(&address);
                        report.recovered.retain(|a| a != &address);
                        let intent = interrupted.iter().find(|(a, _)| a == &address).map(|(_, id)| id.clone());
                        report.abandoned_creates.push((address, intent.unwrap_or_default()));
                    }
                    // Compared like any other read: what the interrupted run did not finish (its
                    // tags, say) shows as a difference the plan makes good.
                    Some(read) => observed.push((address, Some(read))),
                }
            }
        }
    }
    for (address, read) in observed {
        match read {
            None => {
                if let Some(entry) = state.resources.remove(&address) {
                    report.gone.push((address.clone(), entry));
                }
                report.drift.push(Drift { address, changes: Vec::new(), deleted: true });
            }
            Some(read) => {
                let driver = drivers.get(&address.type_name).expect("checked above");
                let entry = state.resources.get_mut(&address).expect("read from the state");
                let applied = entry
                    .inputs
                    .iter()
                    .filter(|(k, _)| read.inputs.contains_key(*k))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                // Drift is a change to what was applied: a field the state never recorded (one a
                // newer provision reads) is taken as read, and the plan compares it with the stack.
                let now: BTreeMap<String, Value> = read
                    .inputs
                    .iter()
                    .filter(|(k, _)| entry.inputs.contains_key(*k))
                    .map(|(k, v)| (k.clone(), Value::from_json(v)))
                    .collect();
                let changes = diff_inputs(driver.schema(), &applied, &now);
                for (key, value) in read.inputs {
                    entry.inputs.insert(key, value);
                }
                if !read.id.is_empty() {
                    entry.id = read.id;
                }
                entry.attributes.extend(read.attributes);
                if !changes.is_empty() {
                    report.drift.push(Drift { address, changes, deleted: false });
                }
            }
        }
    }
    Ok(report)
}
