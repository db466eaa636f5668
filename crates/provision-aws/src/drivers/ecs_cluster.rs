//! `ecs_cluster`: the ECS cluster that Fargate services run in.
//!
//! A Fargate cluster is little more than a name, a Container Insights switch and tags, so the driver
//! is small. Two things shape it. A deleted cluster lingers as `INACTIVE` (and can be described for a
//! while), so reading treats `INACTIVE` as gone. And the cluster is always created with tags: besides
//! being how `destroy --sweep` finds leftovers, an untagged cluster makes the emulator's tagging API
//! fail for every resource in the account.
//!
//! Settings change through `UpdateCluster` (which takes the same `settings` list) rather than
//! `UpdateClusterSettings`, which the emulator does not implement.
//!
//! A delete right after the stack's services were deleted meets their draining
//! (`ecs.cluster-contains-services`): it is retried for 10 minutes, as terraform-provider-aws does,
//! unless a service is still active — that one is not going away, and the error names it.
//!
//! The ECS tag helpers live here and are shared with `ecs_service`: both speak the same `Tag` shape.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_ecs::types::{Cluster, ClusterField, ClusterSetting, ClusterSettingName, Tag};
use aws_sdk_ecs::Client;
use serde::Deserialize;
use serde_json::Value as Json;

use super::*;
use crate::behaviours::{ecs as behaviour, Retry};
use provision_core::schema::{Default as FieldDefault, FieldKind, FieldSpec, ResourceSchema};

pub struct ClusterDriver;

static SCHEMA: ResourceSchema = ResourceSchema {
    type_name: "ecs_cluster",
    description: "An ECS cluster for Fargate services",
    fields: &[
        FieldSpec::new("name", FieldKind::String, "The cluster name, unique in the region")
            .default(FieldDefault::AwsName { max_len: 255 })
            .forces_replacement()
            .check(check_ecs_name),
        FieldSpec::new("container_insights", FieldKind::Bool, "Collect CloudWatch Container Insights metrics")
            .default(FieldDefault::Bool(false)),
    ],
    attributes: &["name", "arn"],
    taggable: true,
    derived: &[],
    create_before_destroy: false,
};

/// Clusters one `DescribeClusters` call accepts.
const DESCRIBE_BATCH: usize = 100;

/// ECS naming rules for clusters and services, so `validate` catches a bad name before AWS does.
pub(super) fn check_ecs_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 255 {
        return Err(format!("name `{name}` must be 1 to 255 characters long (ECS naming rules)"));
    }
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        return Err(format!("name `{name}` may contain only letters, digits, `-` and `_` (ECS naming rules)"));
    }
    Ok(())
}

#[derive(Debug, Deserialize)]
struct ClusterConfig {
    name: String,
    #[serde(default)]
    container_insights: bool,
}

impl ClusterConfig {
    fn from_inputs(inputs: &JsonMap) -> Result<ClusterConfig, DriverError> {
        serde_json::from_value(Json::Object(inputs.clone()))
            .map_err(|error| DriverError::invalid(format!("invalid `ecs_cluster` inputs: {error}")))
    }
}

#[async_trait]
impl AwsDriver for ClusterDriver {
    fn schema(&self) -> &'static ResourceSchema {
        &SCHEMA
    }

    fn planned_attributes(&self, _stack: &StackInfo, inputs: &JsonMap) -> JsonMap {
        let mut attributes = JsonMap::new();
        if let Some(name) = inputs.get("name").and_then(Json::as_str) {
            attributes.insert("name".into(), name.into());
        }
        attributes
    }

    async fn import_id(&self, _aws: &AwsContext, id: &str) -> Result<String, DriverError> {
        let name = id.rsplit(":cluster/").next().unwrap_or(id);
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            return Err(DriverError::invalid(format!("`{id}` is not an ECS cluster name or ARN"))
                .with_hint("import a cluster by its name, e.g. `shop-main`"));
        }
        Ok(name.to_string())
    }

    fn id_from_arn(&self, arn: &str) -> Option<String> {
        arn.split_once(":cluster/").map(|(_, name)| name.to_string())
    }

    /// One `DescribeClusters` per 100 clusters, with tags and settings.
    async fn read(
        &self,
        aws: &AwsContext,
        _stack: &StackInfo,
        resources: &[ExistingResource<'_>],
    ) -> Vec<Result<Option<Observed>, DriverError>> {
        let answers = crate::concurrency::in_batches(resources, DESCRIBE_BATCH, |batch| async move {
            let ids: Vec<&str> = batch.iter().map(|resource| resource.id).collect();
            let answer = describe(aws.ecs(), &ids).await;
            (ids, answer)
        })
        .await;
        let mut results = Vec::with_capacity(resources.len());
        for (ids, answer) in answers {
            match answer {
                Ok(clusters) => results.extend(ids.iter().map(|id| {
                    let found = clusters.iter().find(|cluster| is_cluster(cluster, id));
                    Ok(found.filter(|cluster| cluster.status() != Some("INACTIVE")).map(observe))
                })),
                Err(error) => results.extend(ids.iter().map(|_| Err(error.clone()))),
            }
        }
        results
    }

    async fn create(
        &self,
        aws: &AwsContext,
        request: &ResourceRequest<'_>,
        _progress: &dyn ProgressSink,
    ) -> Result<Observed, DriverError> {
        let config = ClusterConfig::from_inputs(request.inputs)?;
        // `CreateCluster` of an existing name answers with that cluster, so a create whose answer was
        // lost meets nothing here; ECS's service-linked role may be moments old in a new account.
        let create = aws
            .ecs()
            .create_cluster()
            .cluster_name(&config.name)
            .settings(insights_setting(config.container_insights))
            .set_tags(Some(ecs_tags(request.tags)));
        let output = behaviour::CREATE_CLUSTER
            .run(|| {
                let create = create.clone();
                async move { create.send().await.map_err(|error| crate::aws_error("CreateCluster", error)) }
            })
            .await?;
        let arn = output.cluster().and_then(Cluster::cluster_arn).unwrap_or_default();
        Ok(observed(&config.name, arn))
    }

    async fn update(
        &self,
        aws: &AwsContext,
        prior: &ExistingResource<'_>,
        request: &ResourceRequest<'_>,
        changes: &[FieldChange],
        _progress: &dyn ProgressSink,
    ) -> Result<Observed, DriverError> {
        let config = ClusterConfig::from_inputs(request.inputs)?;
        let ecs = aws.ecs();
        let changed = |field: &str| changes.iter().any(|change| top_level_field(&change.path) == field);
        let mut arn = prior.attributes.get("arn").and_then(Json::as_str).unwrap_or_default().to_string();
        if changed("container_insights") {
            let output = ecs
                .update_cluster()
                .cluster(prior.id)
                .settings(insights_setting(config.container_insights))
                .send()
                .await
                .map_err(|error| crate::aws_error("UpdateCluster", error))?;
            if let Some(updated) = output.cluster().and_then(Cluster::cluster_arn) {
                arn = updated.to_string();
            }
        }
        if changed("tags") {
            if arn.is_empty() {
                let clusters = describe(ecs, &[prior.id]).await?;
                let found = clusters.iter().find(|cluster| is_cluster(cluster, prior.id));
                arn = found.and_then(Cluster::cluster_arn).unwrap_or_default().to_string();
            }
            sync_tags(ecs, &arn, prior.inputs, request.tags).await?;
        }
        Ok(observed(&config.name, &arn))
    }

    /// Retries while the services deleted just before drain and their tasks stop
    /// (`ecs.cluster-contains-services`); a service that is still active is not going away, and
    /// fails the delete at once.
    async fn delete(
        &self,
        aws: &AwsContext,
        resource: &ExistingResource<'_>,
        progress: &dyn ProgressSink,
    ) -> Result<(), DriverError> {
        delete_when_drained(aws.ecs(), resource, progress, behaviour::CLUSTER_DELETE).await
    }

    async fn find_interrupted(
        &self,
        aws: &AwsContext,
        stack: &StackInfo,
        _address: &Address,
        intended_id: &str,
    ) -> Result<Option<String>, DriverError> {
        let clusters = describe(aws.ecs(), &[intended_id]).await?;
        let ours = clusters.iter().any(|cluster| {
            is_cluster(cluster, intended_id)
                && cluster.status() != Some("INACTIVE")
                && tag_value(cluster.tags(), "provision:stack") == Some(stack.name.as_str())
        });
        Ok(ours.then(|| intended_id.to_string()))
    }
}

/// `DeleteCluster`, retried while its deleted services drain ([`behaviour::CLUSTER_DELETE`]).
async fn delete_when_drained(
    ecs: &Client,
    resource: &ExistingResource<'_>,
    progress: &dyn ProgressSink,
    retry: Retry,
) -> Result<(), DriverError> {
    let attempt = || async {
        let error = match ecs.delete_cluster().cluster(resource.id).send().await {
            Ok(_) => return Ok(()),
            Err(error) => crate::aws_error("DeleteCluster", error),
        };
        if error.code_is("ClusterContainsServicesException") {
            let active = active_services(ecs, resource.id).await?;
            if !active.is_empty() {
                return Err(DriverError { code: Some("ClusterContainsActiveServices".into()), ..error }.with_hint(
                    format!(
                        "the cluster still runs services that this stack does not manage ({}); delete them first",
                        active.join(", ")
                    ),
                ));
            }
        }
        Err(error)
    };
    match retry.run_reporting(resource.address, progress, attempt).await {
        Err(error) if error.code_is("ClusterNotFoundException") => Ok(()),
        Err(error) if error.code_is("ClusterContainsActiveServices") => {
            Err(DriverError { code: Some("ClusterContainsServicesException".into()), ..error })
        }
        other => other,
    }
}

/// The names of the cluster's services that are `ACTIVE` (not draining after a delete).
async fn active_services(ecs: &Client, cluster: &str) -> Result<Vec<String>, DriverError> {
    let listed =
        ecs.list_services().cluster(cluster).send().await.map_err(|error| crate::aws_error("ListServices", error))?;
    let arns = listed.service_arns().to_vec();
    if arns.is_empty() {
        return Ok(Vec::new());
    }
    let described = ecs
        .describe_services()
        .cluster(cluster)
        .set_services(Some(arns.into_iter().take(10).collect()))
        .send()
        .await
        .map_err(|error| crate::aws_error("DescribeServices", error))?;
    Ok(described
        .services()
        .iter()
        .filter(|service| service.status() == Some("ACTIVE"))
        .filter_map(|service| service.service_name().map(str::to_string))
        .collect())
}

/// The clusters among `ids` (names or ARNs) that ECS knows; missing ones are simply absent.
async fn describe(ecs: &Client, ids: &[&str]) -> Result<Vec<Cluster>, DriverError> {
    let output = ecs
        .describe_clusters()
        .set_clusters(Some(ids.iter().map(|id| id.to_string()).collect()))
        .include(ClusterField::Tags)
        .include(ClusterField::Settings)
        .send()
        .await
        .map_err(|error| crate::aws_error("DescribeClusters", error))?;
    Ok(output.clusters.unwrap_or_default())
}

/// Whether `cluster` is the one `id` (a name or an ARN) names.
fn is_cluster(cluster: &Cluster, id: &str) -> bool {
    cluster.cluster_arn() == Some(id) || cluster.cluster_name() == Some(id.rsplit('/').next().unwrap_or(id))
}

fn observe(cluster: &Cluster) -> Observed {
    let name = cluster.cluster_name().unwrap_or_default();
    let mut result = observed(name, cluster.cluster_arn().unwrap_or_default());
    result.inputs.insert("name".into(), name.into());
    // `enhanced` is Container Insights with more detail: still on.
    let insights = cluster
        .settings()
        .iter()
        .find(|setting| setting.name() == Some(&ClusterSettingName::ContainerInsights))
        .and_then(ClusterSetting::value);
    if let Some(value) = insights {
        result.inputs.insert("container_insights".into(), (value != "disabled").into());
    }
    result.inputs.insert("tags".into(), user_tags(cluster.tags()));
    result
}

fn observed(name: &str, arn: &str) -> Observed {
    let mut attributes = JsonMap::new();
    attributes.insert("name".into(), name.into());
    attributes.insert("arn".into(), arn.into());
    Observed { id: name.to_string(), inputs: JsonMap::new(), attributes }
}

fn insights_setting(enabled: bool) -> ClusterSetting {
    ClusterSetting::builder()
        .name(ClusterSettingName::ContainerInsights)
        .value(if enabled { "enabled" } else { "disabled" })
        .build()
}

/// `tags.team` changes the top-level field `tags`.
pub(super) fn top_level_field(path: &str) -> &str {
    path.split(['.', '[']).next().unwrap_or(path)
}

pub(super) fn ecs_tags(tags: &BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter().map(|(key, value)| Tag::builder().key(key).value(value).build()).collect()
}

/// The user's tags (without `provision:*`), as the stack file writes them.
pub(super) fn user_tags(tags: &[Tag]) -> Json {
    let tags =
        tags.iter().filter_map(|tag| Some((tag.key()?.to_string(), tag.value().unwrap_or_default().to_string())));
    crate::drivers::tags::user_tags(&tags.collect())
}

pub(super) fn tag_value<'a>(tags: &'a [Tag], key: &str) -> Option<&'a str> {
    tags.iter().find(|tag| tag.key() == Some(key)).and_then(Tag::value)
}

/// Writes `wanted` (the full set) and removes the user tags the state knew that are no longer wanted.
pub(super) async fn sync_tags(
    ecs: &Client,
    arn: &str,
    prior_inputs: &JsonMap,
    wanted: &BTreeMap<String, String>,
) -> Result<(), DriverError> {
    let stale: Vec<String> = prior_inputs
        .get("tags")
        .and_then(Json::as_object)
        .map(|tags| tags.keys().filter(|key| !wanted.contains_key(*key)).cloned().collect())
        .unwrap_or_default();
    if !stale.is_empty() {
        ecs.untag_resource()
            .resource_arn(arn)
            .set_tag_keys(Some(stale))
            .send()
            .await
            .map_err(|error| crate::aws_error("UntagResource", error))?;
    }
    if !wanted.is_empty() {
        ecs.tag_resource()
            .resource_arn(arn)
            .set_tags(Some(ecs_tags(wanted)))
            .send()
            .await
            .map_err(|error| crate::aws_error("TagResource", error))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster(name: &str, status: &str, insights: &str) -> Cluster {
        Cluster::builder()
            .cluster_name(name)
            .cluster_arn(format!("arn:aws:ecs:us-east-1:123456789012:cluster/{name}"))
            .status(status)
            .settings(ClusterSetting::builder().name(ClusterSettingName::ContainerInsights).value(insights).build())
            .tags(Tag::builder().key("provision:stack").value("shop").build())
            .tags(Tag::builder().key("team").value("web").build())
            .build()
    }

    #[test]
    fn names_follow_the_ecs_rules() {
        assert!(check_ecs_name("shop-dev_main").is_ok());
        assert!(check_ecs_name("shop.dev").unwrap_err().contains("letters, digits"));
        assert!(check_ecs_name(&"a".repeat(256)).unwrap_err().contains("1 to 255"));
    }

    #[test]
    fn a_cluster_is_found_by_name_or_arn() {
        let main = cluster("main", "ACTIVE", "disabled");
        assert!(is_cluster(&main, "main"));
        assert!(is_cluster(&main, "arn:aws:ecs:us-east-1:123456789012:cluster/main"));
        assert!(!is_cluster(&main, "other"));
    }

    #[test]
    fn observed_inputs_have_the_stack_shape_without_provision_tags() {
        let observed = observe(&cluster("main", "ACTIVE", "enhanced"));
        assert_eq!(observed.id, "main");
        assert_eq!(observed.inputs["name"], "main");
        assert_eq!(observed.inputs["container_insights"], true);
        assert_eq!(observed.inputs["tags"], serde_json::json!({ "team": "web" }));
        assert_eq!(observed.attributes["arn"], "arn:aws:ecs:us-east-1:123456789012:cluster/main");
        let disabled = observe(&cluster("main", "ACTIVE", "disabled"));
        assert_eq!(disabled.inputs["container_insights"], false);
    }

    fn existing(address: &Address) -> ExistingResource<'_> {
        static EMPTY: std::sync::LazyLock<JsonMap> = std::sync::LazyLock::new(JsonMap::new);
        ExistingResource { address, id: "shop", inputs: &EMPTY, attributes: &EMPTY }
    }

    fn contains_services() -> aws_sdk_ecs::operation::delete_cluster::DeleteClusterError {
        use aws_sdk_ecs::types::error::ClusterContainsServicesException;
        let message = "The Cluster cannot be deleted while Services are active.";
        aws_sdk_ecs::operation::delete_cluster::DeleteClusterError::ClusterContainsServicesException(
            ClusterContainsServicesException::builder()
                .message(message)
                .meta(
                    aws_smithy_types::error::ErrorMetadata::builder()
                        .code("ClusterContainsServicesException")
                        .message(message)
                        .build(),
                )
                .build(),
        )
    }

    fn services(status: &str) -> aws_sdk_ecs::operation::describe_services::DescribeServicesOutput {
        aws_sdk_ecs::operation::describe_services::DescribeServicesOutput::builder()
            .services(aws_sdk_ecs::types::Service::builder().service_name("shop-api").status(status).build())
            .build()
    }

    fn listed() -> aws_sdk_ecs::operation::list_services::ListServicesOutput {
        aws_sdk_ecs::operation::list_services::ListServicesOutput::builder()
            .service_arns("arn:aws:ecs:us-east-1:1:service/shop/shop-api")
            .build()
    }

    struct Quiet;
    impl ProgressSink for Quiet {
        fn waiting(&self, _address: &Address, _message: &str) {}
    }

    /// ECS's answers while a deleted service drains, played by the SDK's mocks (the emulator
    /// deletes services at once): refused, the service is `DRAINING`, then deleted.
    #[tokio::test]
    async fn a_cluster_waits_while_its_deleted_service_drains() {
        use aws_smithy_mocks::mock;
        let refused = mock!(Client::delete_cluster).then_error(contains_services);
        let list = mock!(Client::list_services).then_output(listed);
        let draining = mock!(Client::describe_services).then_output(|| services("DRAINING"));
        let deleted = mock!(Client::delete_cluster)
            .then_output(|| aws_sdk_ecs::operation::delete_cluster::DeleteClusterOutput::builder().build());
        let ecs = mock_client!(aws_sdk_ecs, [&refused, &list, &draining, &deleted]);
        let address = Address::new("ecs_cluster", "main");
        let retry = behaviour::CLUSTER_DELETE.within(crate::behaviours::Bound::TEST);
        delete_when_drained(&ecs, &existing(&address), &Quiet, retry).await.expect("deleted once drained");
        assert_eq!(deleted.num_calls(), 1);
    }

    /// A service that is still active is not draining: the delete fails at once, naming it.
    #[tokio::test]
    async fn a_cluster_with_an_active_service_fails_at_once_naming_it() {
        use aws_smithy_mocks::mock;
        let refused = mock!(Client::delete_cluster).then_error(contains_services);
        let list = mock!(Client::list_services).then_output(listed);
        let active = mock!(Client::describe_services).then_output(|| services("ACTIVE"));
        let never = mock!(Client::delete_cluster)
            .then_output(|| aws_sdk_ecs::operation::delete_cluster::DeleteClusterOutput::builder().build());
        let ecs = mock_client!(aws_sdk_ecs, [&refused, &list, &active, &never]);
        let address = Address::new("ecs_cluster", "main");
        let retry = behaviour::CLUSTER_DELETE.within(crate::behaviours::Bound::TEST);
        let error = delete_when_drained(&ecs, &existing(&address), &Quiet, retry).await.expect_err("refused");
        assert!(error.code_is("ClusterContainsServicesException"));
        assert!(error.hint.expect("a hint").contains("(shop-api)"));
        assert_eq!(never.num_calls(), 0);
    }
}
