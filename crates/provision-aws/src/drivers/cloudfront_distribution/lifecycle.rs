//! Update and delete: read-modify-write under the config's ETag, and the order in which the
//! distribution, its origin access control and the bucket policy change, so that the bucket is never
//! readable by a distribution that is no longer ours and every step can run again after an interruption.
//!
//! Each write reads the config and its ETag afresh, so an ETag made stale by a change in between
//! (`cloudfront.stale-etag`) is met by reading again. A delete disables the distribution, waits for
//! that to deploy, deletes it (again while CloudFront answers `DistributionNotDisabled`), and waits
//! until it is gone; only then is its origin access control free to delete, as terraform-provider-aws
//! does (`resourceDistributionDelete`, `waitDistributionDeleted`).

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_cloudfront::types::{DistributionConfig, InvalidationBatch, Paths, Tag, TagKeys, Tags};
use serde_json::Value;

use super::deployment::{self, wait_until_deleted, wait_until_deployed, DEPLOYED};
use super::distribution_config::{self, Placement, CONFIG_FIELDS};
use super::emulator::send_readable;
use super::observation::{self, Attributes};
use super::{bucket_policy, origin_access_control, Settings};
use crate::behaviours::cloudfront as behaviour;
use crate::context::AwsContext;
use crate::drivers::{DriverError, ExistingResource, FieldChange, Observed, ProgressSink, ResourceRequest};
use provision_core::value::JsonMap;

pub(super) async fn update(
    aws: &AwsContext,
    prior: &ExistingResource<'_>,
    request: &ResourceRequest<'_>,
    changes: &[FieldChange],
    progress: &dyn ProgressSink,
) -> Result<Observed, DriverError> {
    let settings = Settings::from_inputs(request.address, request.inputs)?;
    let changed = changed_fields(changes);
    let recorded_control = prior.attributes.get("origin_access_control_id").and_then(Value::as_str);
    let mut attributes = match Attributes::recorded(prior.id, prior.attributes) {
        Some(attributes) => attributes,
        None => Attributes::of(&deployment::snapshot(aws, prior.id).await?, recorded_control.map(str::to_string)),
    };
    if CONFIG_FIELDS.iter().any(|field| changed.contains(field)) {
        let status = update_config(aws, prior.id, &settings, &changed, recorded_control).await?;
        if changed.contains("origin_bucket") {
            move_bucket_access(aws, prior, &settings, &attributes).await?;
        }
        if settings.wait && status != DEPLOYED {
            let deployed = wait_until_deployed(aws, request.address, prior.id, progress).await?;
            attributes = Attributes::of(&deployed, attributes.origin_access_control_id.clone());
        }
    }
    if changed.contains(observation::BUCKET_ACCESS) && !changed.contains("origin_bucket") {
        bucket_policy::grant(aws, &settings.origin_bucket, &attributes.id, &attributes.arn).await?;
    }
    reconcile_tags(aws, &attributes.arn, request.tags).await?;
    if changed.contains("origin_content") {
        invalidate_everything(aws, prior.id).await?;
    }
    Ok(Observed { id: prior.id.to_string(), inputs: JsonMap::new(), attributes: attributes.to_json() })
}

/// The top-level input names in `changes` (`tags.team` counts as `tags`).
fn changed_fields(changes: &[FieldChange]) -> BTreeSet<&str> {
    changes.iter().filter_map(|change| change.path.split(['.', '[']).next()).collect()
}

/// Read-modify-write of the config under its ETag; returns the status after it. A stale ETag, or
/// a certificate CloudFront does not see yet, is met by reading and writing again.
async fn update_config(
    aws: &AwsContext,
    id: &str,
    settings: &Settings,
    changed: &BTreeSet<&str>,
    recorded_control: Option<&str>,
) -> Result<String, DriverError> {
    behaviour::UPDATE.run(|| modify_config(aws, id, settings, changed, recorded_control)).await
}

async fn modify_config(
    aws: &AwsContext,
    id: &str,
    settings: &Settings,
    changed: &BTreeSet<&str>,
    recorded_control: Option<&str>,
) -> Result<String, DriverError> {
    let (mut config, etag) = current_config(aws, id).await?;
    let current_control = current_control(&config);
    let (caller_reference, comment) = (config.caller_reference.clone(), config.comment.clone());
    let placement = Placement {
        caller_reference: &caller_reference,
        comment: &comment,
        origin_access_control_id: recorded_control.or(current_control.as_deref()),
        region: aws.region(),
    };
    distribution_config::apply_changes(&mut config, settings, changed, &placement)?;
    send_config(aws, id, config, etag).await
}

fn current_control(config: &DistributionConfig) -> Option<String> {
    observation::s3_origin(config.origins.as_ref(), config.default_cache_behavior.as_ref())
        .and_then(|origin| origin.origin_access_control_id.clone())
        .filter(|id| !id.is_empty())
}

pub(super) async fn current_config(
    aws: &AwsContext,
    id: &str,
) -> Result<(DistributionConfig, Option<String>), DriverError> {
    let output = send_readable!(aws.cloudfront().get_distribution_config().id(id))
        .map_err(|error| crate::aws_error("GetDistributionConfig", error))?;
    let etag = output.e_tag.clone();
    let config =
        output.distribution_config.ok_or_else(|| DriverError::invalid("GetDistributionConfig returned no config"))?;
    Ok((config, etag))
}

/// `UpdateDistribution`; returns the status it reports.
async fn send_config(
    aws: &AwsContext,
    id: &str,
    config: DistributionConfig,
    etag: Option<String>,
) -> Result<String, DriverError> {
    let request = aws.cloudfront().update_distribution().id(id).distribution_config(config).set_if_match(etag);
    let output = send_readable!(request).map_err(|error| crate::aws_error("UpdateDistribution", error))?;
    output
        .distribution
        .map(|distribution| distribution.status)
        .ok_or_else(|| DriverError::invalid("UpdateDistribution returned no distribution"))
}

/// Grants the new bucket before revoking the old one, so no request is refused in between.
async fn move_bucket_access(
    aws: &AwsContext,
    prior: &ExistingResource<'_>,
    settings: &Settings,
    attributes: &Attributes,
) -> Result<(), DriverError> {
    bucket_policy::grant(aws, &settings.origin_bucket, &attributes.id, &attributes.arn).await?;
    let old_bucket = prior.inputs.get("origin_bucket").and_then(Value::as_str);
    if let Some(old_bucket) = old_bucket.filter(|old| *old != settings.origin_bucket) {
        if let Err(error) = bucket_policy::revoke(aws, old_bucket, &attributes.id).await {
            tracing::warn!("could not remove the distribution's statement from bucket `{old_bucket}`: {error}");
        }
    }
    Ok(())
}

/// Makes the distribution's tags exactly `desired`.
async fn reconcile_tags(aws: &AwsContext, arn: &str, desired: &BTreeMap<String, String>) -> Result<(), DriverError> {
    let current: BTreeMap<String, String> = observation::current_tags(aws, arn).await?.into_iter().collect();
    let missing: BTreeMap<String, String> = desired
        .iter()
        .filter(|(key, value)| current.get(*key) != Some(*value))
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    let extra: Vec<String> = current.keys().filter(|key| !desired.contains_key(*key)).cloned().collect();
    if !missing.is_empty() {
        aws.cloudfront()
            .tag_resource()
            .resource(arn)
            .tags(tags(&missing)?)
            .send()
            .await
            .map_err(|error| crate::aws_error("TagResource", error))?;
    }
    if !extra.is_empty() {
        aws.cloudfront()
            .untag_resource()
            .resource(arn)
            .tag_keys(TagKeys::builder().set_items(Some(extra)).build())
            .send()
            .await
            .map_err(|error| crate::aws_error("UntagResource", error))?;
    }
    Ok(())
}

pub(super) fn tags(tags: &BTreeMap<String, String>) -> Result<Tags, DriverError> {
    let items = tags
        .iter()
        .map(|(key, value)| Tag::builder().key(key).value(value).build())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| DriverError::invalid(format!("invalid tag: {error}")))?;
    Ok(Tags::builder().set_items(Some(items)).build())
}

/// New content in the bucket: drop every cached object. Each upload is a new batch, hence a fresh
/// caller reference (reusing one would make CloudFront treat it as a repeat of an old batch).
async fn invalidate_everything(aws: &AwsContext, id: &str) -> Result<(), DriverError> {
    let build_error = |error| DriverError::invalid(format!("cannot build the invalidation: {error}"));
    let paths = Paths::builder().quantity(1).items("/*").build().map_err(build_error)?;
    let batch = InvalidationBatch::builder()
        .paths(paths)
        .caller_reference(uuid::Uuid::new_v4().to_string())
        .build()
        .map_err(build_error)?;
    aws.cloudfront()
        .create_invalidation()
        .distribution_id(id)
        .invalidation_batch(batch)
        .send()
        .await
        .map_err(|error| crate::aws_error("CreateInvalidation", error))?;
    Ok(())
}

pub(super) async fn delete(
    aws: &AwsContext,
    resource: &ExistingResource<'_>,
    progress: &dyn ProgressSink,
) -> Result<(), DriverError> {
    let config = disable_and_delete(aws, resource, progress).await?;
    let control = resource
        .attributes
        .get("origin_access_control_id")
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| config.as_ref().and_then(current_control));
    if let Some(control) = control {
        origin_access_control::delete_when_free(aws, &control, resource.address, resource.id, progress).await?;
    }
    if let Some(bucket) = resource.inputs.get("origin_bucket").and_then(Value::as_str) {
        bucket_policy::revoke(aws, bucket, resource.id).await?;
    }
    Ok(())
}

/// Disables the distribution, waits for that to deploy, deletes it, and waits until it is gone.
/// Returns the config it had, or `None` when it was already gone.
async fn disable_and_delete(
    aws: &AwsContext,
    resource: &ExistingResource<'_>,
    progress: &dyn ProgressSink,
) -> Result<Option<DistributionConfig>, DriverError> {
    let gone = |error: &DriverError| error.code_is("NoSuchDistribution");
    let config = match behaviour::UPDATE.run(|| disable(aws, resource.id)).await {
        Ok((config, _)) => config,
        Err(error) if gone(&error) => return Ok(None),
        Err(error) => return Err(error),
    };
    match wait_until_deployed(aws, resource.address, resource.id, progress).await {
        Err(error) if gone(&error) => return Ok(Some(config)),
        other => other?,
    };
    // Each attempt reads the ETag afresh (the disable changed it) and disables again should
    // someone have enabled the distribution meanwhile.
    let attempt = || async {
        let (_, etag) = disable(aws, resource.id).await?;
        let deleted = aws.cloudfront().delete_distribution().id(resource.id).set_if_match(etag).send().await;
        deleted.map(|_| ()).map_err(|error| crate::aws_error("DeleteDistribution", error))
    };
    match behaviour::DELETE.run_reporting(resource.address, progress, attempt).await {
        Err(error) if gone(&error) => return Ok(Some(config)),
        other => other?,
    }
    wait_until_deleted(aws, resource.address, resource.id, progress).await?;
    Ok(Some(config))
}

/// Disables the distribution unless it is disabled already; returns its config as it was and the
/// ETag it has now.
async fn disable(aws: &AwsContext, id: &str) -> Result<(DistributionConfig, Option<String>), DriverError> {
    let (config, etag) = current_config(aws, id).await?;
    if !config.enabled {
        return Ok((config, etag));
    }
    let mut disabled = config.clone();
    disabled.enabled = false;
    let request = aws.cloudfront().update_distribution().id(id).distribution_config(disabled).set_if_match(etag);
    let output = send_readable!(request).map_err(|error| crate::aws_error("UpdateDistribution", error))?;
    Ok((config, output.e_tag))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(path: &str) -> FieldChange {
        FieldChange { path: path.into(), before: None, after: None }
    }

    #[test]
    fn nested_changes_count_as_their_top_level_field() {
        let changes = [change("tags.team"), change("aliases[0]"), change("origin_content")];
        assert_eq!(changed_fields(&changes), BTreeSet::from(["tags", "aliases", "origin_content"]));
    }

    #[test]
    fn content_and_tag_changes_need_no_config_update() {
        let changes = [change("origin_content"), change("tags"), change("wait")];
        let changed = changed_fields(&changes);
        assert!(!CONFIG_FIELDS.iter().any(|field| changed.contains(field)));
    }

    #[test]
    fn tags_carry_every_key_and_value() {
        let desired = BTreeMap::from([("provision:stack".to_string(), "shop".to_string())]);
        let built = tags(&desired).unwrap();
        assert_eq!(built.items()[0].key(), "provision:stack");
        assert_eq!(built.items()[0].value(), Some("shop"));
    }

    /// A delete as CloudFront answers it, played by the SDK's mocks (the emulator deletes at once):
    /// disabled and deployed; refused as not disabled yet, then with a stale ETag; deleted; listed
    /// for a moment more; and only then its origin access control, once no longer in use.
    #[tokio::test]
    async fn a_delete_waits_out_every_answer_and_frees_the_control_last() {
        use aws_sdk_cloudfront::operation::delete_distribution::{DeleteDistributionError, DeleteDistributionOutput};
        use aws_sdk_cloudfront::operation::delete_origin_access_control::{
            DeleteOriginAccessControlError, DeleteOriginAccessControlOutput,
        };
        use aws_sdk_cloudfront::operation::get_distribution::{GetDistributionError, GetDistributionOutput};
        use aws_sdk_cloudfront::operation::get_distribution_config::GetDistributionConfigOutput;
        use aws_sdk_cloudfront::operation::get_origin_access_control::GetOriginAccessControlOutput;
        use aws_sdk_cloudfront::operation::list_distributions::ListDistributionsOutput;
        use aws_sdk_cloudfront::operation::update_distribution::UpdateDistributionOutput;
        use aws_sdk_cloudfront::types::error::{
            DistributionNotDisabled, NoSuchDistribution, OriginAccessControlInUse, PreconditionFailed,
        };
        use aws_sdk_cloudfront::types::{
            DefaultCacheBehavior, Distribution, DistributionList, Origins, ViewerProtocolPolicy,
        };
        use aws_sdk_cloudfront::Client;
        use aws_smithy_mocks::{mock, Rule};
        use aws_smithy_types::error::ErrorMetadata;

        fn config(enabled: bool) -> DistributionConfig {
            DistributionConfig::builder()
                .caller_reference("ref")
                .comment("provision shop cloudfront_distribution.cdn")
                .enabled(enabled)
                .origins(Origins::builder().quantity(0).set_items(Some(Vec::new())).build().unwrap())
                .default_cache_behavior(
                    DefaultCacheBehavior::builder()
                        .target_origin_id("s3")
                        .viewer_protocol_policy(ViewerProtocolPolicy::RedirectToHttps)
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap()
        }
        fn read(enabled: bool, etag: &'static str) -> Rule {
            mock!(Client::get_distribution_config).then_output(move || {
                GetDistributionConfigOutput::builder().distribution_config(config(enabled)).e_tag(etag).build()
            })
        }
        fn status(status: &'static str) -> Rule {
            mock!(Client::get_distribution).then_output(move || {
                let distribution = Distribution::builder()
                    .id("E1")
                    .arn("arn:aws:cloudfront::1:distribution/E1")
                    .status(status)
                    .domain_name("d1.cloudfront.net")
                    .last_modified_time(aws_smithy_types::DateTime::from_secs(0))
                    .in_progress_invalidation_batches(0)
                    .distribution_config(config(false))
                    .build()
                    .unwrap();
                GetDistributionOutput::builder().distribution(distribution).build()
            })
        }
        fn meta(code: &str) -> ErrorMetadata {
            ErrorMetadata::builder().code(code).message(code).build()
        }

        let enabled = read(true, "E1-1");
        let disabled = mock!(Client::update_distribution)
            .then_output(|| UpdateDistributionOutput::builder().e_tag("E1-2").build());
        let deployed = status("Deployed");
        let still_disabling = read(false, "E1-2");
        let not_disabled = mock!(Client::delete_distribution).then_error(|| {
            DeleteDistributionError::DistributionNotDisabled(
                DistributionNotDisabled::builder().meta(meta("DistributionNotDisabled")).build(),
            )
        });
        let stale_read = read(false, "E1-2");
        let stale = mock!(Client::delete_distribution).then_error(|| {
            DeleteDistributionError::PreconditionFailed(
                PreconditionFailed::builder().meta(meta("PreconditionFailed")).build(),
            )
        });
        let fresh = read(false, "E1-3");
        let deleted = mock!(Client::delete_distribution).then_output(|| DeleteDistributionOutput::builder().build());
        let still_listed = status("Deployed");
        let gone = mock!(Client::get_distribution).then_error(|| {
            GetDistributionError::NoSuchDistribution(
                NoSuchDistribution::builder().meta(meta("NoSuchDistribution")).build(),
            )
        });
        let nobody_else = mock!(Client::list_distributions).then_output(|| {
            ListDistributionsOutput::builder()
                .distribution_list(
                    DistributionList::builder()
                        .marker("")
                        .max_items(100)
                        .is_truncated(false)
                        .quantity(0)
                        .build()
                        .unwrap(),
                )
                .build()
        });
        let control = || {
            mock!(Client::get_origin_access_control)
                .then_output(|| GetOriginAccessControlOutput::builder().e_tag("O1").build())
        };
        let (control_first, control_again) = (control(), control());
        let in_use = mock!(Client::delete_origin_access_control).then_error(|| {
            DeleteOriginAccessControlError::OriginAccessControlInUse(
                OriginAccessControlInUse::builder().meta(meta("OriginAccessControlInUse")).build(),
            )
        });
        let control_deleted = mock!(Client::delete_origin_access_control)
            .then_output(|| DeleteOriginAccessControlOutput::builder().build());
        let rules = [
            &enabled,
            &disabled,
            &deployed,
            &still_disabling,
            &not_disabled,
            &stale_read,
            &stale,
            &fresh,
            &deleted,
            &still_listed,
            &gone,
            &nobody_else,
            &control_first,
            &in_use,
            &control_again,
            &control_deleted,
        ];
        let cloudfront = mock_client!(aws_sdk_cloudfront, rules);
        let aws = AwsContext::mocked().with_cloudfront(cloudfront);
        let address = provision_core::address::Address::new("cloudfront_distribution", "cdn");
        let mut attributes = JsonMap::new();
        attributes.insert("origin_access_control_id".into(), "OAC1".into());
        let inputs = JsonMap::new();
        let resource = ExistingResource { address: &address, id: "E1", inputs: &inputs, attributes: &attributes };
        struct Quiet;
        impl ProgressSink for Quiet {
            fn waiting(&self, _address: &provision_core::address::Address, _message: &str) {}
        }
        tokio::time::pause();
        delete(&aws, &resource, &Quiet).await.expect("deleted");
        for rule in rules {
            assert_eq!(rule.num_calls(), 1);
        }
    }
}
