//! `elasticache_redis`: a Redis (or Valkey) replication group in its own cache subnet group.
//!
//! The resource is two ElastiCache objects: the replication group (cluster mode disabled: one
//! primary and `replicas` read replicas, no automatic failover) and the cache subnet group it lives
//! in. The subnet group is a part, named after the group (`<id>-subnets`) and made first, so a run
//! killed between the two creates finds it again by name and adopts it; a delete removes it last.
//!
//! Encryption in transit is on by default, and the auth token is a secret field: the state and the
//! plan hold only its salted hash, and the clear value, handed over in `request.secrets`, goes only
//! into the create or modify call that sets it. A changed hash is what tells the planner the token
//! changed, and an update rotates it.
//!
//! A cache holds data that a replacement loses, so the plan says so, and `final_snapshot = true`
//! makes a delete take a snapshot `<id>-final-<UTC time>` first. Refresh describes the stack's
//! groups with one DescribeReplicationGroups call (or one listing for several), then each group's
//! tags, primary node and subnet group, concurrently. A group being deleted counts as gone.

mod api;
mod config;
mod emulator;
mod lifecycle;
#[cfg(test)]
mod mock;
mod observation;
mod update;
mod waiting;

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use serde_json::Value as Json;

use self::config::{CacheConfig, ENGINES, ID_MAX_LEN, PORT};
use self::emulator::Emulator;
use self::observation::Reading;
use crate::behaviours::Retry;
use crate::context::AwsContext;
use crate::drivers::{
    AwsDriver, DriverError, ExistingResource, FieldChange, Leftover, Observed, Problem, ProgressSink, ResourceRequest,
    StackInfo, TaggedResource,
};
use provision_core::address::Address;
use provision_core::plan::Action;
use provision_core::schema::{self, FieldKind, FieldSpec, ResourceSchema};
use provision_core::value::{JsonMap, Value};

pub struct CacheDriver;

static SCHEMA: ResourceSchema = ResourceSchema {
    type_name: "elasticache_redis",
    description: "A Redis (or Valkey) replication group in its own cache subnet group, encrypted in transit.",
    fields: &[
        FieldSpec::new(
            "name",
            FieldKind::String,
            "The replication group id: 1 to 40 lowercase letters, digits and hyphens, starting with a letter.",
        )
        .default(schema::Default::AwsName { max_len: ID_MAX_LEN })
        .forces_replacement()
        .check(config::check_group_id),
        FieldSpec::new("engine", FieldKind::Enum(ENGINES), "The engine.")
            .default(schema::Default::Str("redis"))
            .forces_replacement(),
        FieldSpec::new(
            "engine_version",
            FieldKind::String,
            "The engine version, e.g. `\"7.1\"`; ElastiCache's default when left out.",
        ),
        FieldSpec::new("node_type", FieldKind::String, "The node type (CPU and memory) of every node.")
            .default(schema::Default::Str("cache.t3.micro"))
            .check(config::check_node_type),
        FieldSpec::new("replicas", FieldKind::Int, "Read replicas besides the primary, 0 to 5.")
            .default(schema::Default::Int(0)),
        FieldSpec::new("subnets", FieldKind::StringList, "Subnet ids for the cache subnet group.")
            .default(schema::Default::NetworkSubnetIds)
            .forces_replacement(),
        FieldSpec::new("security_groups", FieldKind::StringList, "VPC security group ids.")
            .default(schema::Default::EmptyList),
        FieldSpec::new("transit_encryption", FieldKind::Bool, "Encrypt connections (clients connect with TLS).")
            .default(schema::Default::Bool(true))
            .forces_replacement(),
        FieldSpec::new(
            "at_rest_encryption",
            FieldKind::Bool,
            "Encrypt the cache's data on disk (snapshots, swap) with an AWS-managed key. ElastiCache decides \
             this only when the cache is created: a change replaces it.",
        )
        .default(schema::Default::Bool(true))
        .forces_replacement(),
        FieldSpec::new(
            "auth_token",
            FieldKind::Secret,
            "The AUTH password clients send, from the environment: `{ env = \"REDIS_AUTH_TOKEN\" }` (16 to 128 \
             characters; needs `transit_encryption`). Only a salted hash is stored; a change rotates it.",
        )
        .sensitive(),
        FieldSpec::new("snapshot_retention_days", FieldKind::Int, "Days of automatic snapshots to keep, 0 to 35.")
            .default(schema::Default::Int(0)),
        FieldSpec::new(
            "final_snapshot",
            FieldKind::Bool,
            "Take a snapshot (`<name>-final-<time>`) before the cache is deleted.",
        )
        .default(schema::Default::Bool(false)),
    ],
    attributes: &["id", "arn", "address", "port", "endpoint"],
    taggable: true,
    derived: &[],
    create_before_destroy: false,
};

const REPLACE_NOTE: &str =
    "replacing a cache deletes it and all its data (a final snapshot is taken when final_snapshot = true)";
const TOKEN_REMOVAL_NOTE: &str = "ElastiCache cannot remove an auth token in place: this update will fail";

#[async_trait]
impl AwsDriver for CacheDriver {
    fn schema(&self) -> &'static ResourceSchema {
        &SCHEMA
    }

    /// AWS: a replication group is `creating` ~6 min, `modifying` ~3, `deleting` ~4 (`elasticache.group-
    /// lifecycle`).
    fn typical_durations(&self) -> super::TypicalDurations {
        super::TypicalDurations::seconds(360, 180, 240)
    }

    fn check(&self, inputs: &BTreeMap<String, Value>) -> Vec<Problem> {
        config::check(inputs)
    }

    fn plan_notes(&self, action: Action, inputs: &JsonMap, changed: &[&str]) -> Vec<String> {
        match action {
            Action::Replace => vec![REPLACE_NOTE.to_string()],
            Action::Update if changed.contains(&"auth_token") && !CacheConfig::has_auth_token(inputs) => {
                vec![TOKEN_REMOVAL_NOTE.to_string()]
            }
            _ => Vec::new(),
        }
    }

    fn prepare(&self, _stack: &StackInfo, inputs: &mut JsonMap) -> Result<(), DriverError> {
        for list in ["subnets", "security_groups"] {
            if let Some(Json::Array(items)) = inputs.get_mut(list) {
                items.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
            }
        }
        Ok(())
    }

    fn planned_attributes(&self, _stack: &StackInfo, inputs: &JsonMap) -> JsonMap {
        let mut attributes = JsonMap::new();
        if let Some(name) = inputs.get("name").and_then(Json::as_str) {
            attributes.insert("id".into(), name.into());
        }
        attributes.insert("port".into(), PORT.into());
        attributes
    }

    async fn import_id(&self, _aws: &AwsContext, id: &str) -> Result<String, DriverError> {
        import_id(id)
    }

    fn id_from_arn(&self, arn: &str) -> Option<String> {
        // Its subnet group and snapshots carry the group's tags too; they are not caches.
        arn.split_once(":replicationgroup:").map(|(_, id)| id.to_string())
    }

    async fn read(
        &self,
        aws: &AwsContext,
        _stack: &StackInfo,
        resources: &[ExistingResource<'_>],
    ) -> Vec<Result<Option<Observed>, DriverError>> {
        if resources.is_empty() {
            return Vec::new();
        }
        let ec = aws.elasticache();
        let ids: Vec<String> = resources.iter().map(|resource| resource.id.to_ascii_lowercase()).collect();
        let mut groups = match api::describe_groups(ec, &ids).await {
            Ok(groups) => groups,
            Err(error) => return resources.iter().map(|_| Err(error.clone())).collect(),
        };
        // Built before streaming: a closure inside the stream would not prove `Send` for every lifetime.
        let reads: Vec<_> = resources
            .iter()
            .zip(&ids)
            .map(|(resource, id)| {
                let group = groups.remove(id);
                move || read_details(ec, group, resource.inputs)
            })
            .collect();
        aws.limiter(crate::Service::ElastiCache).all(reads).await
    }

    async fn create(
        &self,
        aws: &AwsContext,
        request: &ResourceRequest<'_>,
        progress: &dyn ProgressSink,
    ) -> Result<Observed, DriverError> {
        lifecycle::create(
            aws.elasticache(),
            Emulator::of(aws).await,
            request,
            crate::behaviours::elasticache::LIFECYCLE,
            progress,
        )
        .await
    }

    async fn update(
        &self,
        aws: &AwsContext,
        prior: &ExistingResource<'_>,
        request: &ResourceRequest<'_>,
        changes: &[FieldChange],
        progress: &dyn ProgressSink,
    ) -> Result<Observed, DriverError> {
        let config = CacheConfig::from_inputs(request.inputs)?;
        let changed = changed_fields(changes);
        let prior_replicas = prior.inputs.get("replicas").and_then(Json::as_i64);
        let token_wanted = CacheConfig::has_auth_token(request.inputs);
        let steps = update::decide(&config, prior_replicas, &changed, token_wanted)?;
        let token = if steps.rotate_token { lifecycle::auth_token(request)? } else { None };
        let target = update::Target {
            address: request.address,
            id: prior.id,
            auth_token: token,
            prior_inputs: prior.inputs,
            tags: request.tags,
        };
        let ec = aws.elasticache();
        let emulator = Emulator::of(aws).await;
        let group = update::apply(ec, &target, &steps, crate::behaviours::elasticache::LIFECYCLE, progress)
            .await
            .map_err(|error| emulator.explain_unimplemented(error))?;
        if steps.tags {
            // The group's subnet group carries the same tags.
            let subnet_group = config::subnet_group_name(prior.id);
            if let Some(found) = api::describe_subnet_group(ec, &subnet_group).await? {
                api::sync_tags(ec, found.arn().unwrap_or_default(), prior.inputs, request.tags).await?;
            }
        }
        Ok(Observed { id: prior.id.to_string(), inputs: JsonMap::new(), attributes: observation::attributes(&group) })
    }

    async fn delete(
        &self,
        aws: &AwsContext,
        resource: &ExistingResource<'_>,
        progress: &dyn ProgressSink,
    ) -> Result<(), DriverError> {
        lifecycle::delete(
            aws.elasticache(),
            Emulator::of(aws).await,
            resource,
            crate::behaviours::elasticache::LIFECYCLE,
            progress,
        )
        .await
    }

    /// Cache subnet groups tagged with the stack whose replication group the state does not hold:
    /// a create killed between the subnet group and the group, then taken out of the stack file.
    async fn leftovers(
        &self,
        aws: &AwsContext,
        _stack: &StackInfo,
        recorded: &[ExistingResource<'_>],
        tagged: &[TaggedResource],
    ) -> Result<Vec<Leftover>, DriverError> {
        if !Emulator::of(aws).await.lists_subnet_group_leftovers() {
            return Ok(Vec::new());
        }
        let mut leftovers = Vec::new();
        for resource in tagged {
            let Some((_, name)) = resource.arn.split_once(":subnetgroup:") else { continue };
            let owned = recorded.iter().any(|r| config::subnet_group_name(r.id) == name);
            if owned || api::describe_subnet_group(aws.elasticache(), name).await?.is_none() {
                continue;
            }
            let owner = resource.tags.get("provision:address").and_then(|a| a.parse::<Address>().ok());
            leftovers.push(Leftover { kind: "cache subnet group".into(), id: name.to_string(), owner });
        }
        Ok(leftovers)
    }

    async fn delete_leftover(&self, aws: &AwsContext, leftover: &Leftover) -> Result<(), DriverError> {
        api::delete_subnet_group(aws.elasticache(), &leftover.id, Emulator::of(aws).await, Retry::NEVER).await
    }

    async fn find_interrupted(
        &self,
        aws: &AwsContext,
        stack: &StackInfo,
        address: &Address,
        intended_id: &str,
    ) -> Result<Option<String>, DriverError> {
        let ec = aws.elasticache();
        let Some(group) = api::describe_group(ec, intended_id).await? else { return Ok(None) };
        match api::list_tags(ec, group.arn().unwrap_or_default()).await {
            Ok(tags) if crate::drivers::tags::made_by(&tags, stack, address) => {
                // As a database's: a group still `creating` has no endpoint yet; the create's wait is
                // finished before the group is taken over (`elasticache.group-lifecycle`).
                let lifecycle = crate::behaviours::elasticache::LIFECYCLE;
                waiting::until_available(ec, address, group, lifecycle, &super::LoggedProgress).await?;
                Ok(Some(intended_id.to_string()))
            }
            Ok(_) => Ok(None),
            Err(error) if error.code_is(api::GROUP_NOT_FOUND) => Ok(None),
            Err(error) => Err(error),
        }
    }
}

/// A replication group id (or its ARN) as typed for `provision import`, lowercased as ElastiCache
/// stores it.
fn import_id(id: &str) -> Result<String, DriverError> {
    let id = id.rsplit(":replicationgroup:").next().unwrap_or(id).to_ascii_lowercase();
    config::check_group_id(&id).map_err(|message| {
        // The expected shape is in the message: `provision import` shows only that.
        DriverError::invalid(format!(
            "`{id}` is not a replication group id ({message}); expected the id, e.g. `shop-sessions`, or its ARN"
        ))
        .with_hint("import a cache by its replication group id, e.g. `shop-sessions` (or its ARN)")
    })?;
    Ok(id)
}

/// The group listed by the refresh with its tags, primary node and subnet group.
async fn read_details(
    ec: &aws_sdk_elasticache::Client,
    group: Option<aws_sdk_elasticache::types::ReplicationGroup>,
    applied: &JsonMap,
) -> Result<Option<Observed>, DriverError> {
    let Some(group) = group else { return Ok(None) };
    // Being deleted is as good as gone: its data is going, and nothing can be changed any more. A
    // destroy still calls delete for a resource found gone, which waits for the end and then
    // removes the subnet group.
    if group.status() == Some("deleting") {
        return Ok(None);
    }
    let id = group.replication_group_id().unwrap_or_default().to_string();
    let tags = async {
        match api::list_tags(ec, group.arn().unwrap_or_default()).await {
            // Deleted between the listing and the tags.
            Err(error) if error.code_is(api::GROUP_NOT_FOUND) => Ok(None),
            other => other.map(Some),
        }
    };
    let placement = async {
        let primary = api::primary_cluster(ec, &group).await?;
        let name = primary
            .as_ref()
            .and_then(|primary| primary.cache_subnet_group_name())
            .map(str::to_string)
            .unwrap_or_else(|| config::subnet_group_name(&id));
        let subnet_group = api::describe_subnet_group(ec, &name).await?;
        Ok::<_, DriverError>((primary, subnet_group))
    };
    let (tags, placement) = futures::join!(tags, placement);
    let Some(tags) = tags? else { return Ok(None) };
    let (primary, subnet_group) = placement?;
    let reading = Reading { group, primary, subnet_group, tags };
    Ok(Some(observation::observe(&reading, applied)))
}

/// The top-level fields that really changed: a field that is null on one side and missing on the
/// other is no change.
fn changed_fields(changes: &[FieldChange]) -> BTreeSet<&str> {
    let present = |value: &Option<Json>| value.as_ref().filter(|value| !value.is_null()).cloned();
    changes
        .iter()
        .filter(|change| present(&change.before) != present(&change.after))
        .map(|change| change.path.split(['.', '[']).next().unwrap_or(&change.path))
        .collect()
}

#[cfg(test)]
mod tests;
