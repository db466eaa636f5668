//! Creating a distribution: origin access control first (usually already made by `start_early`),
//! then the distribution while the bucket policy is read, then the policy written with the
//! distribution's statement, then (optionally) the wait for `Deployed`.
//!
//! `CreateDistribution` is not idempotent and slow to undo, so an answer that does not say what
//! happened (a timeout, a 2xx whose body cannot be read) is not taken as a failure: the driver looks
//! for the distribution carrying its own caller reference and carries on with it.

use aws_sdk_cloudfront::types::DistributionConfigWithTags;

use super::deployment::{wait_until_deployed, DEPLOYED};
use super::distribution_config::{self, Placement};
use super::emulator::send_readable;
use super::lifecycle::{current_config, tags};
use super::observation::{self, Attributes, Snapshot};
use super::{
    bucket_policy, origin_access_control, origin_access_control_name, outcome_unknown, ownership_comment, Settings,
};
use crate::behaviours::cloudfront as behaviour;
use crate::context::AwsContext;
use crate::drivers::{DriverError, Observed, ProgressSink, ResourceRequest};
use provision_core::value::JsonMap;

/// CloudFront's answer to a caller reference it has seen with another configuration (AWS answers
/// the same one with the first distribution; the emulator always refuses).
const ALREADY_EXISTS: &str = "DistributionAlreadyExists";

pub(super) async fn create(
    aws: &AwsContext,
    controls: &origin_access_control::Controls,
    request: &ResourceRequest<'_>,
    progress: &dyn ProgressSink,
) -> Result<Observed, DriverError> {
    let settings = Settings::from_inputs(request.address, request.inputs)?;
    let comment = ownership_comment(request.stack, request.address);
    let control_name = origin_access_control_name(request.stack, request.address);
    let control_id = Box::pin(controls.find_or_create(aws, &control_name, &comment)).await?;
    // The bucket policy does not depend on the distribution: it is read while CloudFront creates
    // it, and written with the distribution's statement once its ARN is known.
    let edit = bucket_policy::Edit::begin(&settings.origin_bucket).await;
    // The calls before the wait are boxed: a create waits minutes for the deployment, and the
    // future held all that time is only as large as its largest step kept inline (19 KB unboxed).
    let (policy, created) = Box::pin(async {
        futures::join!(edit.current(aws), create_distribution(aws, request, &settings, &comment, &control_id))
    })
    .await;
    let created = created?;
    let policy = policy.map_err(|error| created_but(error, &created.id))?;
    Box::pin(edit.grant(aws, policy.as_deref(), &created.id, &created.arn))
        .await
        .map_err(|error| created_but(error, &created.id))?;
    drop(edit);
    let created = if settings.wait && created.status != DEPLOYED {
        Box::pin(wait_until_deployed(aws, request.address, &created.id, progress)).await?
    } else {
        created
    };
    let attributes = Attributes::of(&created, Some(control_id));
    Ok(Observed { id: created.id.clone(), inputs: JsonMap::new(), attributes: attributes.to_json() })
}

async fn create_distribution(
    aws: &AwsContext,
    request: &ResourceRequest<'_>,
    settings: &Settings,
    comment: &str,
    control_id: &str,
) -> Result<Snapshot, DriverError> {
    // The intent recorded in the state: after a kill, the next run sends the same reference, and
    // CloudFront refuses a second distribution for it (see below).
    let caller_reference = super::caller_reference(request.intent);
    let placement = Placement {
        caller_reference: &caller_reference,
        comment,
        origin_access_control_id: Some(control_id),
        region: aws.region(),
    };
    let config = DistributionConfigWithTags::builder()
        .distribution_config(distribution_config::new_config(settings, &placement)?)
        .tags(tags(request.tags)?)
        .build();
    // A certificate issued moments ago may not be visible to CloudFront yet
    // (`cloudfront.certificate-not-visible`): that refusal made nothing, and is tried again.
    let sent = behaviour::CREATE
        .run(|| async {
            let request =
                aws.cloudfront().create_distribution_with_tags().distribution_config_with_tags(config.clone());
            match send_readable!(request) {
                Ok(output) => Ok(Ok(output)),
                Err(error) if outcome_unknown(&error) => Ok(Err(crate::aws_error("CreateDistributionWithTags", error))),
                Err(error) => Err(crate::aws_error("CreateDistributionWithTags", error)),
            }
        })
        .await;
    match sent {
        Ok(Ok(output)) => output
            .distribution
            .map(Snapshot::from)
            .ok_or_else(|| DriverError::invalid("CreateDistributionWithTags returned no distribution")),
        Ok(Err(error)) => match find_created(aws, comment, &caller_reference).await {
            Ok(Some(created)) => Ok(created),
            Ok(None) => Err(error),
            Err(lookup) => Err(error.with_hint(format!("could not check whether it was created: {lookup}"))),
        },
        Err(error) => {
            if error.code_is(ALREADY_EXISTS) {
                // A killed run's request with this reference landed after this run's refresh looked
                // (or AWS kept an answer this run lost): that distribution is this create's.
                if let Some(created) = find_created(aws, comment, &caller_reference).await? {
                    return Ok(created);
                }
                return Err(error);
            }
            // AWS refused, so nothing uses the control; leaving it would make the next attempt reuse a stray.
            if let Err(cleanup) = origin_access_control::delete(aws, control_id).await {
                tracing::warn!("could not remove origin access control {control_id}: {cleanup}");
            }
            Err(error)
        }
    }
}

/// The distribution created with `caller_reference`, if the create went through after all.
async fn find_created(
    aws: &AwsContext,
    comment: &str,
    caller_reference: &str,
) -> Result<Option<Snapshot>, DriverError> {
    for candidate in observation::all_with_comment(aws, comment).await? {
        let (config, _) = current_config(aws, &candidate.id).await?;
        if config.caller_reference == caller_reference {
            return Ok(Some(Snapshot::from(candidate)));
        }
    }
    Ok(None)
}

/// A failure after the distribution exists: say which one, since the create as a whole failed.
fn created_but(error: DriverError, id: &str) -> DriverError {
    error.with_hint(format!("distribution {id} was created before this failed; it is not recorded as applied"))
}
