//! The steps of one action, each recorded in the state before whatever depends on it.
//!
//! - create: the intent (`creating`, with the name or token the call will use) is durable before
//!   the call; the result after it. A run killed in between leaves the intent, which the next
//!   refresh settles: the resource is adopted if the call made it, forgotten if not.
//! - create-before-destroy: the old copy is moved aside (`deposed`, durable) before the new one is
//!   created, and deleted once everything that used it has moved over.
//! - delete: the record goes once the delete call succeeded.

use std::collections::BTreeMap;

use super::{ActionError, ActionProgress, Executor, Step};
use crate::address::Address;
use crate::driver::{Driver, ExistingResource, FieldChange, ResourceRequest};
use crate::plan::{
    known_parts, merge_resolved, prepare_inputs, resolve_inputs, Action, DesiredInputs, PlannedAction, Resolver,
};
use crate::state::{ResourceState, ResourceStatus, LINEAGE_TAG};
use crate::value::{JsonMap, Value};

impl Executor<'_> {
    pub(super) async fn run(
        &self,
        action: &PlannedAction,
        step: Step,
        progress: &ActionProgress<'_>,
    ) -> Result<(), ActionError> {
        let address = &action.address;
        let driver = self
            .drivers
            .get(&address.type_name)
            .ok_or_else(|| ActionError::new(format!("unknown resource type `{}`", address.type_name)))?;
        match (step, action.action) {
            (Step::DeleteOld, _) => self.delete_deposed(driver, address, progress).await,
            (Step::Main, Action::Create) => self.create(driver, action, progress).await,
            (Step::Main, Action::Update) => self.update(driver, action, progress).await,
            (Step::Main, Action::Replace) if action.create_before_destroy => {
                // Keep the old copy aside (recorded, so an interrupted run still deletes it).
                self.writer
                    .commit(|state| {
                        if let Some(old) = state.resources.remove(address) {
                            state.deposed.insert(address.clone(), old);
                        }
                    })
                    .await?;
                self.create(driver, action, progress).await
            }
            (Step::Main, Action::Replace) => {
                self.delete(driver, address, progress).await?;
                self.create(driver, action, progress).await
            }
            (Step::Main, Action::Delete) => self.delete(driver, address, progress).await,
        }
    }

    async fn delete_deposed(
        &self,
        driver: &dyn Driver,
        address: &Address,
        progress: &ActionProgress<'_>,
    ) -> Result<(), ActionError> {
        let (old, live_id) = self
            .writer
            .read(|state| (state.deposed.get(address).cloned(), state.resources.get(address).map(|r| r.id.clone())));
        let Some(old) = old else { return Ok(()) };
        // A replacement that kept the same id (an interrupted run adopted the old copy as the new
        // one) has nothing old to delete: deleting it would delete the live resource.
        if live_id.as_deref() != Some(old.id.as_str()) {
            let inputs = crate::plan::deletion_inputs(self.stack, driver, address, &old.inputs);
            let existing = ExistingResource { address, id: &old.id, inputs: &inputs, attributes: &old.attributes };
            driver.delete(&existing, progress).await?;
        }
        self.writer
            .commit(|state| {
                state.deposed.remove(address);
            })
            .await?;
        Ok(())
    }

    /// The resource's inputs now that everything it depends on is applied, and its secrets in clear
    /// (for the driver only). Values the plan derived from local files or the environment must
    /// still be what the plan showed.
    async fn inputs(
        &self,
        driver: &dyn Driver,
        action: &PlannedAction,
    ) -> Result<(JsonMap, BTreeMap<String, String>), ActionError> {
        let address = &action.address;
        let resource = self
            .stack
            .resources
            .get(address)
            .ok_or_else(|| ActionError::new("the resource is not in the stack file"))?;
        let resolver = Resolver { stack: self.stack, info: self.info, network: self.network };
        let resolved = self.writer.read(|state| {
            let lookup = |a: &Address| {
                state
                    .resources
                    .get(a)
                    .map(|r| r.attributes.iter().map(|(k, v)| (k.clone(), Value::from_json(v))).collect())
            };
            // The salts of the hashes the plan showed, so an unchanged secret hashes the same.
            let prior = if action.inputs.is_empty() {
                state.resources.get(address).or_else(|| state.deposed.get(address)).map(|r| &r.inputs)
            } else {
                Some(&action.inputs)
            };
            resolve_inputs(&resolver, driver, resource, &lookup, prior)
        });
        let mut desired = resolved.map_err(ActionError::new)?;
        if driver.prepare_reads_files() {
            // Local file I/O belongs on the blocking pool, not on the task that drives the actions.
            let shared = self
                .drivers
                .shared(&address.type_name)
                .ok_or_else(|| ActionError::new(format!("unknown resource type `{}`", address.type_name)))?;
            let (info, owned_address) = (self.info.clone(), address.clone());
            desired = tokio::task::spawn_blocking(move || {
                prepare_inputs(&info, shared.as_ref(), &owned_address, &mut desired).map(|()| desired)
            })
            .await
            .map_err(|error| ActionError::new(format!("preparing the inputs failed: {error}")))?
            .map_err(ActionError::new)?;
        } else {
            prepare_inputs(self.info, driver, address, &mut desired).map_err(ActionError::new)?;
        }
        if driver.resolves_online() {
            // What the plan looked up stays as planned; what it could not know is looked up now.
            let extra = driver.resolve(self.info, &known_parts(&desired.values)).await?;
            merge_resolved(&mut desired.values, &extra, Some(&action.inputs));
        }
        check_against_plan(driver, action, &desired)?;
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
        // Which state made it: two stacks of the same name (two teams, two accounts' worth of
        // copies) never take each other's resources for their own.
        tags.insert(LINEAGE_TAG.into(), self.writer.read(|state| state.lineage.clone()));
        // A preview environment's expiry (`apply --ttl`), so `sweep --expired` finds it by its tags.
        if let Some(expires) = self.writer.read(|state| state.expires.clone()) {
            tags.insert(crate::state::EXPIRES_TAG.into(), expires);
        }
        tags
    }

    async fn create(
        &self,
        driver: &dyn Driver,
        action: &PlannedAction,
        progress: &ActionProgress<'_>,
    ) -> Result<(), ActionError> {
        let address = &action.address;
        let (inputs, secrets) = self.inputs(driver, action).await?;
        let tags = self.all_tags(address, &inputs);
        let request = ResourceRequest {
            intent: action.earlier_intent.as_deref(),
            ..ResourceRequest::new(address, self.info, &inputs, &tags, &secrets)
        };
        let dependencies: Vec<Address> = self.stack.graph.dependencies(address).cloned().collect();
        // Record the intent first: a run killed during the call leaves the name to look for.
        let intended_id = driver.intended_id(&request);
        let request = ResourceRequest { intent: Some(&intended_id), ..request };
        let intent = ResourceState {
            type_name: address.type_name.clone(),
            id: intended_id.clone(),
            status: ResourceStatus::Creating,
            inputs: inputs.clone(),
            attributes: JsonMap::new(),
            dependencies,
            protect: self.stack.resources.get(address).is_some_and(|resource| resource.protect),
        };
        self.writer
            .commit(|state| {
                state.resources.insert(address.clone(), intent);
            })
            .await?;
        // On failure the intent stays: the next refresh finds out whether anything was made.
        let observed = driver.create(&request, progress).await?;
        self.writer
            .commit(|state| {
                if let Some(entry) = state.resources.get_mut(address) {
                    entry.status = ResourceStatus::Created;
                    entry.id = observed.id;
                    entry.attributes = observed.attributes;
                }
            })
            .await?;
        Ok(())
    }

    async fn update(
        &self,
        driver: &dyn Driver,
        action: &PlannedAction,
        progress: &ActionProgress<'_>,
    ) -> Result<(), ActionError> {
        let address = &action.address;
        let (inputs, secrets) = self.inputs(driver, action).await?;
        let tags = self.all_tags(address, &inputs);
        let prior = self
            .writer
            .read(|state| state.resources.get(address).cloned())
            .ok_or_else(|| ActionError::new("the resource is not in the state"))?;
        let changes = field_changes(&prior.inputs, &inputs);
        let existing =
            ExistingResource { address, id: &prior.id, inputs: &prior.inputs, attributes: &prior.attributes };
        let request = ResourceRequest::new(address, self.info, &inputs, &tags, &secrets);
        let observed = driver.update(&existing, &request, &changes, progress).await?;
        let dependencies: Vec<Address> = self.stack.graph.dependencies(address).cloned().collect();
        self.writer
            .commit(|state| {
                if let Some(entry) = state.resources.get_mut(address) {
                    entry.inputs = inputs;
                    if !observed.id.is_empty() {
                        entry.id = observed.id;
                    }
                    entry.attributes.extend(observed.attributes);
                    entry.dependencies = dependencies;
                }
            })
            .await?;
        Ok(())
    }

    async fn delete(
        &self,
        driver: &dyn Driver,
        address: &Address,
        progress: &ActionProgress<'_>,
    ) -> Result<(), ActionError> {
        let Some(prior) = self.writer.read(|state| state.resources.get(address).cloned()) else { return Ok(()) };
        let inputs = crate::plan::deletion_inputs(self.stack, driver, address, &prior.inputs);
        let existing = ExistingResource { address, id: &prior.id, inputs: &inputs, attributes: &prior.attributes };
        driver.delete(&existing, progress).await?;
        self.writer
            .commit(|state| {
                state.resources.remove(address);
            })
            .await?;
        Ok(())
    }
}

/// The inputs a plan derived from local files or the environment (an upload folder's hashes, a
/// secret's hash) must be what it showed: otherwise what runs is not what was reviewed.
fn check_against_plan(driver: &dyn Driver, action: &PlannedAction, desired: &DesiredInputs) -> Result<(), ActionError> {
    let schema = driver.schema();
    for (key, planned) in &action.inputs {
        // Hidden inputs the driver's `prepare` adds; derived fields follow other resources instead.
        let derived_by_driver =
            schema.field(key).is_none() && key != "tags" && !schema.derived.iter().any(|d| d.name == key);
        let from_outside = desired.secrets.contains_key(key) || derived_by_driver;
        if !from_outside {
            continue;
        }
        let now = desired.values.get(key).and_then(Value::to_json);
        if now.as_ref().is_some_and(|now| now != planned) {
            let what = if desired.secrets.contains_key(key) {
                format!("the secret `{key}` (its environment variable or `--var`) changed")
            } else {
                format!("`{key}` (read from local files) changed")
            };
            return Err(ActionError {
                message: format!("{what} since the plan was made; nothing was changed for this resource"),
                hint: Some("run `provision plan` again to review the new values".into()),
            });
        }
    }
    Ok(())
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
