//! Resources tagged `provision:stack = <name>` that the state does not know: left by a run that was
//! killed before it could record them, or by a state that was lost. `provision state orphans` lists
//! them with the import command that would adopt each; `provision destroy --sweep` deletes them.
//!
//! They are found with the Resource Groups Tagging API (one paginated call for every service it
//! covers) plus each driver's own listing for services it does not cover (IAM).

use std::collections::BTreeMap;

use anyhow::{anyhow, Result};

use crate::address::Address;
use crate::aws::AwsContext;
use crate::drivers::{self, ExistingResource, ProgressSink};
use crate::state::State;
use crate::value::JsonMap;

#[derive(Clone, Debug)]
pub struct Orphan {
    pub address: Address,
    pub arn: String,
    /// The id the resource's driver records for it.
    pub id: String,
}

/// The order sweeping deletes in: what uses other resources goes first.
const DELETE_ORDER: &[&str] = &[
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
];

pub async fn find(aws: &AwsContext, stack_name: &str, state: &State) -> Result<Vec<Orphan>> {
    let mut tagged: Vec<(String, BTreeMap<String, String>)> = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let answer = aws
            .tagging()
            .get_resources()
            .tag_filters(
                aws_sdk_resourcegroupstagging::types::TagFilter::builder()
                    .key("provision:stack")
                    .values(stack_name)
                    .build(),
            )
            .set_pagination_token(token.clone())
            .send()
            .await
            .map_err(|error| {
                anyhow!(
                    "looking for resources tagged with the stack: {}",
                    drivers::DriverError::aws("GetResources", error)
                )
            })?;
        for mapping in answer.resource_tag_mapping_list() {
            let Some(arn) = mapping.resource_arn() else { continue };
            let tags = mapping.tags().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect();
            tagged.push((arn.to_string(), tags));
        }
        token = answer.pagination_token().filter(|t| !t.is_empty()).map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    for driver in drivers::registry() {
        if let Some(listed) = driver.list_tagged(aws, stack_name).await {
            let listed =
                listed.map_err(|error| anyhow!("listing `{}` resources: {error}", driver.schema().type_name))?;
            tagged.extend(listed);
        }
    }

    let mut candidates = Vec::new();
    for (arn, tags) in tagged {
        if tags.get("provision:stack").map(String::as_str) != Some(stack_name) {
            continue;
        }
        let Some(address) = tags.get("provision:address").and_then(|a| a.parse::<Address>().ok()) else { continue };
        let Some(driver) = drivers::driver_for(&address.type_name) else { continue };
        // Other things a driver tags (task definitions, snapshots) are not resources of its type.
        let Some(id) = driver.id_from_arn(&arn) else { continue };
        if !is_known(state, &address, &id, &arn) {
            candidates.push(Orphan { address, arn, id });
        }
    }
    let mut orphans = still_existing(aws, stack_name, candidates).await?;
    orphans.sort_by(|a, b| {
        (delete_rank(&a.address), &a.address, &a.id).cmp(&(delete_rank(&b.address), &b.address, &b.id))
    });
    Ok(orphans)
}

/// Only what still exists: tag listings can lag behind deletes (and the emulator keeps listing
/// inactive ECS services), so each candidate is read by its driver, one batch per type.
async fn still_existing(aws: &AwsContext, stack_name: &str, candidates: Vec<Orphan>) -> Result<Vec<Orphan>> {
    let info =
        drivers::StackInfo { name: stack_name.to_string(), region: aws.region().to_string(), directory: ".".into() };
    let mut by_type: BTreeMap<String, Vec<Orphan>> = BTreeMap::new();
    for candidate in candidates {
        by_type.entry(candidate.address.type_name.clone()).or_default().push(candidate);
    }
    let mut existing = Vec::new();
    let empty = JsonMap::new();
    for (type_name, candidates) in by_type {
        let Some(driver) = drivers::driver_for(&type_name) else { continue };
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
        let reads = driver.read(aws, &info, &resources).await;
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
    let matches = |entry: &crate::state::ResourceState| {
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
    aws: &AwsContext,
    info: &drivers::StackInfo,
    orphans: &[Orphan],
    inputs: &dyn Fn(&Address) -> JsonMap,
    progress: &dyn ProgressSink,
) -> Vec<(Orphan, String)> {
    let _ = info;
    let mut failures = Vec::new();
    for orphan in orphans {
        let Some(driver) = drivers::driver_for(&orphan.address.type_name) else { continue };
        let inputs = inputs(&orphan.address);
        let mut attributes = JsonMap::new();
        attributes.insert("arn".into(), serde_json::Value::String(orphan.arn.clone()));
        let existing =
            ExistingResource { address: &orphan.address, id: &orphan.id, inputs: &inputs, attributes: &attributes };
        progress.waiting(&orphan.address, &format!("sweeping `{}`, which the state does not know", orphan.id));
        if let Err(error) = driver.delete(aws, &existing, progress).await {
            failures.push((orphan.clone(), error.to_string()));
        }
    }
    failures
}
