//! The origin access control through which CloudFront signs its requests to the bucket.
//!
//! Its name is unique per account and derived from the stack and the resource, so it is what finds
//! the control again: a create looks it up by name first and reuses it (a killed run's control, or
//! the old copy's during a replacement), a refresh that lost its id finds it by name, and a delete
//! only deletes it once its distribution is gone and no other distribution uses it (the new copy of a
//! replaced distribution shares it), retrying while CloudFront still counts it as in use
//! (`cloudfront.origin-access-control-in-use`). AWS also refuses a second control with the same
//! name; the emulator does not, so looking first is what keeps it from piling up.

use std::sync::Arc;

use aws_sdk_cloudfront::types::{
    OriginAccessControlConfig, OriginAccessControlOriginTypes, OriginAccessControlSigningBehaviors,
    OriginAccessControlSigningProtocols,
};
use tokio::sync::OnceCell;

use crate::behaviours::cloudfront as behaviour;
use crate::context::AwsContext;
use crate::drivers::{DriverError, ProgressSink};
use provision_core::address::Address;

/// The origin access controls this run makes, by name. A distribution's control needs nothing but
/// the stack and the address, so it is started when the run starts (`start_early`), alongside the
/// bucket it will serve; the create then picks it up. Both go through one find-or-create per name,
/// so they never make two controls.
#[derive(Default)]
pub(crate) struct Controls(std::sync::Mutex<std::collections::HashMap<String, Arc<OnceCell<String>>>>);

impl Controls {
    pub(super) async fn find_or_create(
        &self,
        aws: &AwsContext,
        name: &str,
        description: &str,
    ) -> Result<String, DriverError> {
        let cell = {
            let mut controls = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            controls.entry(name.to_string()).or_default().clone()
        };
        cell.get_or_try_init(|| create(aws, name, description)).await.cloned()
    }
}

/// Finds the control named `name`, or creates it.
async fn create(aws: &AwsContext, name: &str, description: &str) -> Result<String, DriverError> {
    if let Some(existing) = find_by_name(aws, name).await? {
        return Ok(existing);
    }
    let config = OriginAccessControlConfig::builder()
        .name(name)
        .description(description)
        .origin_access_control_origin_type(OriginAccessControlOriginTypes::S3)
        .signing_behavior(OriginAccessControlSigningBehaviors::Always)
        .signing_protocol(OriginAccessControlSigningProtocols::Sigv4)
        .build()
        .map_err(|error| DriverError::invalid(format!("cannot build the origin access control: {error}")))?;
    let created = aws.cloudfront().create_origin_access_control().origin_access_control_config(config).send().await;
    match created {
        Ok(output) => output
            .origin_access_control()
            .map(|control| control.id().to_string())
            .ok_or_else(|| DriverError::invalid("CreateOriginAccessControl returned no control")),
        Err(error) => {
            let error = crate::aws_error("CreateOriginAccessControl", error);
            if !error.code_is("OriginAccessControlAlreadyExists") {
                return Err(error);
            }
            find_by_name(aws, name).await?.ok_or(error)
        }
    }
}

pub(super) async fn find_by_name(aws: &AwsContext, name: &str) -> Result<Option<String>, DriverError> {
    let mut marker: Option<String> = None;
    loop {
        let output = aws
            .cloudfront()
            .list_origin_access_controls()
            .set_marker(marker.take())
            .send()
            .await
            .map_err(|error| crate::aws_error("ListOriginAccessControls", error))?;
        let Some(list) = output.origin_access_control_list else { return Ok(None) };
        if let Some(found) = list.items().iter().find(|control| control.name() == name) {
            return Ok(Some(found.id().to_string()));
        }
        match list.next_marker {
            Some(next) if list.is_truncated && !next.is_empty() => marker = Some(next),
            _ => return Ok(None),
        }
    }
}

/// Every control in the account as `(id, name, description)`.
pub(super) async fn list_all(aws: &AwsContext) -> Result<Vec<(String, String, String)>, DriverError> {
    let mut all = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let output = aws
            .cloudfront()
            .list_origin_access_controls()
            .set_marker(marker.take())
            .send()
            .await
            .map_err(|error| crate::aws_error("ListOriginAccessControls", error))?;
        let Some(list) = output.origin_access_control_list else { return Ok(all) };
        for control in list.items() {
            all.push((control.id().to_string(), control.name().to_string(), control.description().to_string()));
        }
        match list.next_marker {
            Some(next) if list.is_truncated && !next.is_empty() => marker = Some(next),
            _ => return Ok(all),
        }
    }
}

/// Deletes the control under its current ETag; one that is gone already counts as deleted. Any
/// other answer, `OriginAccessControlInUse` included, is returned.
pub(super) async fn delete(aws: &AwsContext, id: &str) -> Result<(), DriverError> {
    let etag = match aws.cloudfront().get_origin_access_control().id(id).send().await {
        Ok(output) => output.e_tag().map(str::to_string),
        Err(error) => {
            let error = crate::aws_error("GetOriginAccessControl", error);
            return if error.code_is("NoSuchOriginAccessControl") { Ok(()) } else { Err(error) };
        }
    };
    match aws.cloudfront().delete_origin_access_control().id(id).set_if_match(etag).send().await {
        Ok(_) => Ok(()),
        Err(error) => {
            let error = crate::aws_error("DeleteOriginAccessControl", error);
            if error.code_is("NoSuchOriginAccessControl") {
                Ok(())
            } else {
                Err(error)
            }
        }
    }
}

/// Deletes the control of a distribution that is gone: left alone while another distribution uses
/// it (the new copy of a replaced distribution), otherwise deleted, retried while CloudFront still
/// counts the gone distribution as its user.
pub(super) async fn delete_when_free(
    aws: &AwsContext,
    id: &str,
    address: &Address,
    distribution: &str,
    progress: &dyn ProgressSink,
) -> Result<(), DriverError> {
    let users = super::observation::users_of_control(aws, id, distribution).await?;
    if !users.is_empty() {
        tracing::info!("{address}: origin access control {id} is used by {}; left in place", users.join(", "));
        return Ok(());
    }
    behaviour::ORIGIN_ACCESS_CONTROL_DELETE.run_reporting(address, progress, || delete(aws, id)).await
}
