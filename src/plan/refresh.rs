//! Refresh: read every resource in the state from AWS, so plans compare against reality.
//!
//! Drivers read in batches (one call for many resources where the API allows) and all types are read
//! concurrently. A resource that is gone is dropped from the (in-memory) state, so the plan creates it
//! again; fields that differ from what was applied are reported as drift and replace the applied
//! values, so the plan's "before" is what really exists.

use std::collections::BTreeMap;

use anyhow::{anyhow, Result};

use super::{diff_inputs, Drift};
use crate::address::Address;
use crate::aws::AwsContext;
use crate::drivers::{self, ExistingResource, Observed, StackInfo};
use crate::state::{ResourceStatus, State};
use crate::value::Value;

#[derive(Debug, Default)]
pub struct RefreshReport {
    pub drift: Vec<Drift>,
    /// Resources whose create was interrupted and that were found and adopted.
    pub recovered: Vec<Address>,
    /// Resources whose create was interrupted before anything was made; they will be created.
    pub abandoned_creates: Vec<Address>,
}

pub async fn refresh(aws: &AwsContext, info: &StackInfo, state: &mut State) -> Result<RefreshReport> {
    let mut report = RefreshReport::default();

    // First settle creates that a killed run left unfinished.
    let interrupted: Vec<(Address, String)> = state
        .resources
        .iter()
        .filter(|(_, r)| r.status == ResourceStatus::Creating)
        .map(|(a, r)| (a.clone(), r.id.clone()))
        .collect();
    for (address, intended_id) in interrupted {
        let driver = drivers::driver_for(&address.type_name)
            .ok_or_else(|| anyhow!("{address}: the state holds an unknown resource type"))?;
        let found = driver
            .find_interrupted(aws, info, &address, &intended_id)
            .await
            .map_err(|error| anyhow!("{address}: looking for the resource an interrupted create made: {error}"))?;
        match found {
            Some(id) => {
                let entry = state.resources.get_mut(&address).expect("listed above");
                entry.id = id;
                entry.status = ResourceStatus::Created;
                report.recovered.push(address);
            }
            None => {
                state.resources.remove(&address);
                report.abandoned_creates.push(address);
            }
        }
    }

    // Then read everything, one batch per type, all types at once.
    let mut by_type: BTreeMap<String, Vec<Address>> = BTreeMap::new();
    for address in state.resources.keys() {
        by_type.entry(address.type_name.clone()).or_default().push(address.clone());
    }
    let reads = by_type.iter().map(|(type_name, addresses)| {
        let state = &*state;
        async move {
            let driver = drivers::driver_for(type_name)
                .ok_or_else(|| anyhow!("{}: the state holds an unknown resource type `{type_name}`", addresses[0]))?;
            let existing: Vec<ExistingResource<'_>> = addresses
                .iter()
                .map(|address| {
                    let entry = &state.resources[address];
                    ExistingResource { address, id: &entry.id, inputs: &entry.inputs, attributes: &entry.attributes }
                })
                .collect();
            let results = driver.read(aws, info, &existing).await;
            Ok::<_, anyhow::Error>(addresses.iter().cloned().zip(results).collect::<Vec<_>>())
        }
    });
    let batches = futures::future::join_all(reads).await;

    let mut observed: Vec<(Address, Option<Observed>)> = Vec::new();
    for batch in batches {
        for (address, result) in batch? {
            let read = result.map_err(|error| anyhow!("{address}: refresh failed: {error}"))?;
            observed.push((address, read));
        }
    }
    for (address, read) in observed {
        match read {
            None => {
                state.resources.remove(&address);
                report.drift.push(Drift { address, changes: Vec::new(), deleted: true });
            }
            Some(read) => {
                let driver = drivers::driver_for(&address.type_name).expect("checked above");
                let entry = state.resources.get_mut(&address).expect("read from the state");
                let applied = entry
                    .inputs
                    .iter()
                    .filter(|(k, _)| read.inputs.contains_key(*k))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                let now: BTreeMap<String, Value> =
                    read.inputs.iter().map(|(k, v)| (k.clone(), Value::from_json(v))).collect();
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
