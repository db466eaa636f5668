//! Resources tagged `provision:stack = <name>` that the state does not know: left by a run that was
//! killed before it could record them, or by a state that was lost. `provision state orphans` lists
//! them with the import command that would adopt each; `provision destroy --sweep` deletes them.
//!
//! They are found with the Resource Groups Tagging API (one paginated call for every service it
//! covers) plus each driver's own listing for services it does not cover (IAM).

use std::collections::BTreeMap;

use anyhow::{anyhow, Result};

use provision_aws::AwsCloud;
use provision_core::address::Address;
use provision_core::cloud::{Cloud, TaggedResource};
use provision_core::driver::{ExistingResource, ProgressSink, StackInfo};
use provision_core::state::State;
use provision_core::value::JsonMap;

#[derive(Clone, Debug)]
pub struct Orphan {
    pub address: Address,
    pub arn: String,
    /// The id the resource's driver records for it.
    pub id: String,
}

/// The order sweeping deletes in: what uses other resources goes first.
const DELETE_ORDER: &[&str] = &[
    "dns_record",
    "ecs_service",
    "listener",
    "cloudfront_distribution",
    "db_instance",
    "load_balancer",
    "target_group",
    "ecs_cluster",
    "db_subnet_group",
    "security_group",
    "ecr_repository",
    "iam_role",
    "s3_bucket",
    // Last: every listener and distribution that may hold one is gone by then.
    "certificate",
];

/// Types that are never orphans and never swept: a hosted zone is the account's, not the stack's,
/// even if someone tagged it with the stack.
const NEVER_SWEPT: &[&str] = &["dns_zone"];

pub async fn find(cloud: &AwsCloud, stack_name: &str, state: &State) -> Result<Vec<Orphan>> {
    let tagged = cloud
        .tagged(stack_name)
        .await
        .map_err(|error| anyhow!("looking for resources tagged with the stack: {error}"))?;
    let drivers = cloud.drivers();
    let mut candidates = Vec::new();
    for TaggedResource { arn, tags } in tagged {
        if tags.get("provision:stack").map(String::as_str) != Some(stack_name) {
            continue;
        }
        let Some(address) = tags.get("provision:address").and_then(|a| a.parse::<Address>().ok()) else { continue };
        if NEVER_SWEPT.contains(&address.type_name.as_str()) {
            continue;
        }
        let Some(driver) = drivers.get(&address.type_name) else { continue };
        // Other things a driver tags (task definitions, snapshots) are not resources of its type.
        let Some(id) = driver.id_from_arn(&arn) else { continue };
        if !is_known(state, &address, &id, &arn) {
            candidates.push(Orphan { address, arn, id });
        }
    }
    let mut orphans = still_existing(cloud, stack_name, candidates).await?;
    orphans.sort_by(|a, b| {
        (delete_rank(&a.address), &a.address, &a.id).cmp(&(delete_rank(&b.address), &b.address, &b.id))
    });
    Ok(orphans)
}

/// Only what still exists: tag listings can lag behind deletes (and the emulator keeps listing
/// inactive ECS services), so each candidate is read by its driver, one batch per type.
async fn still_existing(cloud: &AwsCloud, stack_name: &str, candidates: Vec<Orphan>) -> Result<Vec<Orphan>> {
    let region = cloud.region().await.map_err(|error| anyhow!("{error}"))?;
    let info = StackInfo { name: stack_name.to_string(), region, directory: ".".into() };
    let mut by_type: BTreeMap<String, Vec<Orphan>> = BTreeMap::new();
    for candidate in candidates {
        by_type.entry(candidate.address.type_name.clone()).or_default().push(candidate);
    }
    let mut existing = Vec::new();
    let empty = JsonMap::new();
    for (type_name, candidates) in by_type {
        let Some(driver) = cloud.drivers().get(&type_name) else { continue };
        let mut attributes: Vec<JsonMap> = Vec::new();
        for candidate in &candidates {
            let mut map = JsonMap::new();
            map.insert("arn".into(), serde_json::Value::String(candidate.arn.clone()));
            attributes.push(map);
        }
        let resources: Vec<ExistingResource<'_>> = candidates
            .iter()
            .zip(&attributes)
            .map(|(c, attributes)| ExistingResource { address: &c.address, id: &c.id, inputs: &empty, attributes })
            .collect();
        let reads = driver.read(&info, &resources).await;
        for (candidate, read) in candidates.iter().zip(reads) {
            match read {
                Ok(Some(_)) => existing.push(candidate.clone()),
                Ok(None) => {}
                Err(error) => return Err(anyhow!("{}: reading `{}` failed: {error}", candidate.address, candidate.id)),
            }
        }
    }
    Ok(existing)
}

fn is_known(state: &State, address: &Address, id: &str, arn: &str) -> bool {
    let matches = |entry: &provision_core::state::ResourceState| {
        entry.id == id || entry.id == arn || entry.attributes.get("arn").and_then(|a| a.as_str()) == Some(arn)
    };
    state.resources.get(address).is_some_and(matches) || state.deposed.get(address).is_some_and(matches)
}

fn delete_rank(address: &Address) -> usize {
    DELETE_ORDER.iter().position(|t| *t == address.type_name).unwrap_or(DELETE_ORDER.len())
}

/// Deletes the orphans, most dependent first. `inputs` gives the stack file's settings for an
/// address (e.g. `force_destroy`) where it still has one. Returns the failures.
pub async fn sweep(
    cloud: &AwsCloud,
    info: &StackInfo,
    orphans: &[Orphan],
    inputs: &dyn Fn(&Address) -> JsonMap,
    progress: &dyn ProgressSink,
) -> Vec<(Orphan, String)> {
    let _ = info;
    let mut failures = Vec::new();
    for orphan in orphans {
        let Some(driver) = cloud.drivers().get(&orphan.address.type_name) else { continue };
        let inputs = inputs(&orphan.address);
        let mut attributes = JsonMap::new();
        attributes.insert("arn".into(), serde_json::Value::String(orphan.arn.clone()));
        let existing =
            ExistingResource { address: &orphan.address, id: &orphan.id, inputs: &inputs, attributes: &attributes };
        progress.waiting(&orphan.address, &format!("sweeping `{}`, which the state does not know", orphan.id));
        if let Err(error) = driver.delete(&existing, progress).await {
            failures.push((orphan.clone(), error.to_string()));
        }
    }
    failures
}

/// `destroy --sweep`, after the destroy: deletes what is tagged with the stack but unknown to the
/// state.
pub async fn sweep_stack(
    global: &super::GlobalOptions,
    options: &super::apply::ApplyOptions,
    reporter: &dyn provision_core::reporter::Reporter,
) -> Result<u8> {
    let loaded = super::load(global)?;
    let (stack, cloud) = (&loaded.stack, &loaded.cloud);
    let backend = super::state_backend(stack)?;
    let guard = super::lock(&backend, "destroy --sweep", options.lock_timeout).await?;
    let (state, _) = super::read_state(backend.as_ref(), stack).await?;
    let orphans = find(cloud, &stack.name, &state).await?;
    if orphans.is_empty() {
        println!("Sweep: nothing tagged `provision:stack = {}` is left.", stack.name);
        guard.release().await.map_err(super::backend_error)?;
        return Ok(0);
    }
    println!("Sweep: deleting {} resource(s) tagged with the stack that the state does not know.", orphans.len());
    let info = provision_core::engine::stack_info(stack, super::region(cloud).await?);
    let settings = |address: &Address| stack_settings(&loaded, &info, &state, address);
    let progress = SweepProgress(reporter);
    let failures = sweep(cloud, &info, &orphans, &settings, &progress).await;
    guard.release().await.map_err(super::backend_error)?;
    for (orphan, error) in &failures {
        eprintln!("{} {} (`{}`): delete failed: {error}", global.error_paint.red("error:"), orphan.address, orphan.id);
    }
    if failures.is_empty() {
        println!("Sweep complete: {} deleted.", orphans.len());
        Ok(0)
    } else {
        eprintln!(
            "Sweep: {} of {} could not be deleted; run `provision destroy --sweep` again after fixing the cause.",
            failures.len(),
            orphans.len()
        );
        Ok(1)
    }
}

/// Sweeping's waits, reported as the executor reports an action's.
struct SweepProgress<'a>(&'a dyn provision_core::reporter::Reporter);

impl ProgressSink for SweepProgress<'_> {
    fn waiting(&self, address: &Address, message: &str) {
        self.0.report(&provision_core::reporter::Event::Progress {
            address: address.clone(),
            action: provision_core::plan::Action::Delete,
            message: message.to_string(),
            elapsed_s: 0.0,
        });
    }
}

/// The stack file's settings for an address (e.g. `force_destroy`), as far as they are known.
fn stack_settings(loaded: &super::Loaded, info: &StackInfo, state: &State, address: &Address) -> JsonMap {
    let stack = &loaded.stack;
    let (Some(resource), Some(driver)) = (stack.resources.get(address), loaded.cloud.drivers().get(&address.type_name))
    else {
        return JsonMap::new();
    };
    let resolver = provision_core::plan::Resolver { stack, info, network: state.network.as_ref() };
    let lookup = |_: &Address| None;
    match provision_core::plan::resolve_inputs(&resolver, driver, resource, &lookup, None) {
        Ok(desired) => desired.values.iter().filter_map(|(k, v)| Some((k.clone(), v.to_json()?))).collect(),
        Err(_) => JsonMap::new(),
    }
}
