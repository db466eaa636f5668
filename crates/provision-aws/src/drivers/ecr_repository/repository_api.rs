//! The ECR calls for a repository, each naming its operation when it fails.

use std::collections::BTreeMap;

use aws_sdk_ecr::types::{ImageScanningConfiguration, ImageTagMutability, Repository, Tag};
use aws_sdk_ecr::Client;
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_types::body::SdkBody;
use serde_json::Value as Json;

use super::lifecycle_policy;
use crate::drivers::DriverError;

/// DescribeRepositories takes at most 100 names.
const DESCRIBE_BATCH: usize = 100;

pub(super) struct Settings {
    pub scan_on_push: bool,
    pub immutable_tags: bool,
}

pub(super) async fn create(
    ecr: &Client,
    name: &str,
    settings: &Settings,
    tags: &BTreeMap<String, String>,
) -> Result<Repository, DriverError> {
    let output = ecr
        .create_repository()
        .repository_name(name)
        .image_scanning_configuration(scanning(settings.scan_on_push))
        .image_tag_mutability(mutability(settings.immutable_tags))
        .set_tags(Some(ecr_tags(tags)?))
        .send()
        .await
        .map_err(|error| crate::aws_error("CreateRepository", error))?;
    output.repository().cloned().ok_or_else(|| DriverError::invalid("CreateRepository answered without the repository"))
}

/// The repositories with these names, by name. Fails with `RepositoryNotFoundException` if any
/// one is missing.
pub(super) async fn describe(ecr: &Client, names: &[&str]) -> Result<BTreeMap<String, Repository>, DriverError> {
    let answers = crate::concurrency::in_batches(names, DESCRIBE_BATCH, |batch| {
        ecr.describe_repositories()
            .set_repository_names(Some(batch.iter().map(|name| name.to_string()).collect()))
            .send()
    })
    .await;
    let mut repositories = BTreeMap::new();
    for answer in answers {
        let output = answer.map_err(|error| crate::aws_error("DescribeRepositories", error))?;
        for repository in output.repositories() {
            if let Some(name) = repository.repository_name() {
                repositories.insert(name.to_string(), repository.clone());
            }
        }
    }
    Ok(repositories)
}

/// One repository, `None` when it does not exist.
pub(super) async fn describe_one(ecr: &Client, name: &str) -> Result<Option<Repository>, DriverError> {
    match describe(ecr, &[name]).await {
        Ok(mut repositories) => Ok(repositories.remove(name)),
        Err(error) if is_missing(&error) => Ok(None),
        Err(error) => Err(error),
    }
}

pub(super) fn is_missing(error: &DriverError) -> bool {
    error.code_is("RepositoryNotFoundException")
}

pub(super) async fn tags(ecr: &Client, arn: &str) -> Result<BTreeMap<String, String>, DriverError> {
    let output = ecr
        .list_tags_for_resource()
        .resource_arn(arn)
        .send()
        .await
        .map_err(|error| crate::aws_error("ListTagsForResource", error))?;
    Ok(output.tags().iter().map(|tag| (tag.key().to_string(), tag.value().to_string())).collect())
}

/// Writes `tags` (values may have changed) and removes the keys in `removed`.
pub(super) async fn put_tags(
    ecr: &Client,
    arn: &str,
    tags: &BTreeMap<String, String>,
    removed: &[String],
) -> Result<(), DriverError> {
    if !removed.is_empty() {
        ecr.untag_resource()
            .resource_arn(arn)
            .set_tag_keys(Some(removed.to_vec()))
            .send()
            .await
            .map_err(|error| crate::aws_error("UntagResource", error))?;
    }
    ecr.tag_resource()
        .resource_arn(arn)
        .set_tags(Some(ecr_tags(tags)?))
        .send()
        .await
        .map_err(|error| crate::aws_error("TagResource", error))?;
    Ok(())
}

/// The `keep_images` count of the repository's lifecycle policy; `None` when there is no policy
/// or one provision did not write.
pub(super) async fn keep_images(ecr: &Client, name: &str) -> Result<Option<i64>, DriverError> {
    match ecr.get_lifecycle_policy().repository_name(name).send().await {
        Ok(output) => Ok(output.lifecycle_policy_text().and_then(lifecycle_policy::keep_images)),
        Err(error) => {
            let error = crate::aws_error("GetLifecyclePolicy", error);
            if error.code_is("LifecyclePolicyNotFoundException") {
                Ok(None)
            } else {
                Err(error)
            }
        }
    }
}

pub(super) async fn put_keep_images(ecr: &Client, name: &str, keep_images: i64) -> Result<(), DriverError> {
    ecr.put_lifecycle_policy()
        .repository_name(name)
        .lifecycle_policy_text(lifecycle_policy::policy_text(keep_images))
        .send()
        .await
        .map_err(|error| crate::aws_error("PutLifecyclePolicy", error))?;
    Ok(())
}

/// A policy that is already gone counts as deleted.
pub(super) async fn delete_lifecycle_policy(ecr: &Client, name: &str) -> Result<(), DriverError> {
    match ecr.delete_lifecycle_policy().repository_name(name).send().await {
        Ok(_) => Ok(()),
        Err(error) => {
            let error = crate::aws_error("DeleteLifecyclePolicy", error);
            if error.code_is("LifecyclePolicyNotFoundException") {
                Ok(())
            } else {
                Err(error)
            }
        }
    }
}

pub(super) async fn put_scan_on_push(ecr: &Client, name: &str, scan_on_push: bool) -> Result<(), DriverError> {
    let request = ecr
        .put_image_scanning_configuration()
        .repository_name(name)
        .image_scanning_configuration(scanning(scan_on_push));
    let sent = if scan_on_push {
        request.send().await
    } else {
        request.customize().mutate_request(spell_out_scan_on_push_off).send().await
    };
    sent.map_err(|error| crate::aws_error("PutImageScanningConfiguration", error))?;
    Ok(())
}

/// aws-sdk-ecr leaves `"scanOnPush": false` out of the body, as a default value. AWS reads the
/// missing member as false; moto 5.1.22 reads the then empty configuration as "no change" and
/// keeps scanning on. Written out, both read it the same way.
fn spell_out_scan_on_push_off(request: &mut HttpRequest) {
    let Some(mut body) = request.body().bytes().and_then(|bytes| serde_json::from_slice::<Json>(bytes).ok()) else {
        return;
    };
    let Some(fields) = body.as_object_mut() else { return };
    fields.insert("imageScanningConfiguration".into(), serde_json::json!({ "scanOnPush": false }));
    let bytes = body.to_string().into_bytes();
    request.headers_mut().insert("content-length", bytes.len().to_string());
    *request.body_mut() = SdkBody::from(bytes);
}

pub(super) async fn put_immutable_tags(ecr: &Client, name: &str, immutable: bool) -> Result<(), DriverError> {
    ecr.put_image_tag_mutability()
        .repository_name(name)
        .image_tag_mutability(mutability(immutable))
        .send()
        .await
        .map_err(|error| crate::aws_error("PutImageTagMutability", error))?;
    Ok(())
}

pub(super) async fn delete(ecr: &Client, name: &str, force: bool) -> Result<(), DriverError> {
    ecr.delete_repository()
        .repository_name(name)
        .force(force)
        .send()
        .await
        .map_err(|error| crate::aws_error("DeleteRepository", error))?;
    Ok(())
}

/// Tags are immutable under both `IMMUTABLE` settings (with or without exclusion filters).
pub(super) fn has_immutable_tags(repository: &Repository) -> bool {
    matches!(
        repository.image_tag_mutability(),
        Some(ImageTagMutability::Immutable | ImageTagMutability::ImmutableWithExclusion)
    )
}

pub(super) fn scans_on_push(repository: &Repository) -> bool {
    repository.image_scanning_configuration().is_some_and(ImageScanningConfiguration::scan_on_push)
}

fn scanning(scan_on_push: bool) -> ImageScanningConfiguration {
    ImageScanningConfiguration::builder().scan_on_push(scan_on_push).build()
}

fn mutability(immutable: bool) -> ImageTagMutability {
    if immutable {
        ImageTagMutability::Immutable
    } else {
        ImageTagMutability::Mutable
    }
}

fn ecr_tags(tags: &BTreeMap<String, String>) -> Result<Vec<Tag>, DriverError> {
    tags.iter()
        .map(|(key, value)| Tag::builder().key(key).value(value).build())
        .collect::<Result<_, _>>()
        .map_err(|error| DriverError::invalid(format!("invalid repository tag: {error}")))
}
