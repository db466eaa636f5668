//! The state bucket itself: whether it exists, making one (`state migrate --create-bucket`), and
//! the warning when its versioning is off.
//!
//! A state bucket made here is what docs/team-state.md recommends: every public access blocked,
//! ACLs disabled (objects owned by the bucket owner), versioning on (the state's history, and a way
//! back from a bad write), and default encryption (AES256, or the `kms_key` with a bucket key).

use aws_sdk_s3::types::{
    BucketLocationConstraint, BucketVersioningStatus, CreateBucketConfiguration, ObjectOwnership, OwnershipControls,
    OwnershipControlsRule, PublicAccessBlockConfiguration, ServerSideEncryption, ServerSideEncryptionByDefault,
    ServerSideEncryptionConfiguration, ServerSideEncryptionRule, VersioningConfiguration,
};
use provision_core::state::BackendError;

use super::object_io::{classify, Attempt, Encryption, ObjectStore, Refused};

fn failed(refused: Refused, what: &str) -> BackendError {
    match refused {
        Refused::Failed(error) => error,
        _ => BackendError::other(format!("{what} failed")),
    }
}

pub(super) async fn exists(store: &ObjectStore) -> Result<bool, BackendError> {
    let client = store.client().await?;
    let bucket = &store.bucket;
    let result = store
        .retrying(&format!("s3://{bucket}"), None, || async {
            client.head_bucket().bucket(bucket).send().await.map(|_| ()).map_err(|error| {
                // HeadBucket answers a bare 404 for a missing bucket.
                if error.raw_response().is_some_and(|r| r.status().as_u16() == 404) {
                    return Attempt::NotFound;
                }
                classify("HeadBucket", bucket, "", error)
            })
        })
        .await;
    match result {
        Ok(()) => Ok(true),
        Err(Refused::Missing) => Ok(false),
        Err(refused) => Err(failed(refused, "HeadBucket")),
    }
}

pub(super) async fn create(store: &ObjectStore) -> Result<(), BackendError> {
    let client = store.client().await?;
    let bucket = &store.bucket;
    let what = format!("s3://{bucket}");
    let region = client.config().region().map(|r| r.to_string()).unwrap_or_else(|| "us-east-1".into());
    store
        .retrying(&what, None, || async {
            let mut request = client.create_bucket().bucket(bucket);
            // us-east-1 is the one region that takes no location constraint.
            if region != "us-east-1" {
                let constraint = BucketLocationConstraint::from(region.as_str());
                request = request.create_bucket_configuration(
                    CreateBucketConfiguration::builder().location_constraint(constraint).build(),
                );
            }
            match request.send().await {
                Ok(_) => Ok(()),
                Err(error) if error.as_service_error().is_some_and(|e| e.is_bucket_already_owned_by_you()) => Ok(()),
                Err(error) if error.as_service_error().is_some_and(|e| e.is_bucket_already_exists()) => {
                    Err(Attempt::Fatal(BackendError::with_hint(
                        format!("the bucket `{bucket}` belongs to another AWS account"),
                        "bucket names are global; choose another name for the state bucket",
                    )))
                }
                Err(error) => Err(classify("CreateBucket", bucket, "", error)),
            }
        })
        .await
        .map_err(|refused| failed(refused, "CreateBucket"))?;

    let block = PublicAccessBlockConfiguration::builder()
        .block_public_acls(true)
        .ignore_public_acls(true)
        .block_public_policy(true)
        .restrict_public_buckets(true)
        .build();
    store
        .retrying(&what, None, || async {
            client
                .put_public_access_block()
                .bucket(bucket)
                .public_access_block_configuration(block.clone())
                .send()
                .await
                .map(|_| ())
                .map_err(|error| classify("PutPublicAccessBlock", bucket, "", error))
        })
        .await
        .map_err(|refused| failed(refused, "PutPublicAccessBlock"))?;

    let ownership = OwnershipControls::builder()
        .rules(
            OwnershipControlsRule::builder()
                .object_ownership(ObjectOwnership::BucketOwnerEnforced)
                .build()
                .map_err(|error| BackendError::other(format!("building the ownership rule failed: {error}")))?,
        )
        .build()
        .map_err(|error| BackendError::other(format!("building the ownership controls failed: {error}")))?;
    store
        .retrying(&what, None, || async {
            client
                .put_bucket_ownership_controls()
                .bucket(bucket)
                .ownership_controls(ownership.clone())
                .send()
                .await
                .map(|_| ())
                .map_err(|error| classify("PutBucketOwnershipControls", bucket, "", error))
        })
        .await
        .map_err(|refused| failed(refused, "PutBucketOwnershipControls"))?;

    store
        .retrying(&what, None, || async {
            client
                .put_bucket_versioning()
                .bucket(bucket)
                .versioning_configuration(
                    VersioningConfiguration::builder().status(BucketVersioningStatus::Enabled).build(),
                )
                .send()
                .await
                .map(|_| ())
                .map_err(|error| classify("PutBucketVersioning", bucket, "", error))
        })
        .await
        .map_err(|refused| failed(refused, "PutBucketVersioning"))?;

    let default = match &store.encryption {
        Encryption::S3Managed => ServerSideEncryptionByDefault::builder().sse_algorithm(ServerSideEncryption::Aes256),
        Encryption::Kms(key) => {
            ServerSideEncryptionByDefault::builder().sse_algorithm(ServerSideEncryption::AwsKms).kms_master_key_id(key)
        }
    }
    .build()
    .map_err(|error| BackendError::other(format!("building the encryption rule failed: {error}")))?;
    let rule = ServerSideEncryptionRule::builder()
        .apply_server_side_encryption_by_default(default)
        .bucket_key_enabled(matches!(store.encryption, Encryption::Kms(_)))
        .build();
    let encryption = ServerSideEncryptionConfiguration::builder()
        .rules(rule)
        .build()
        .map_err(|error| BackendError::other(format!("building the encryption configuration failed: {error}")))?;
    store
        .retrying(&what, None, || async {
            client
                .put_bucket_encryption()
                .bucket(bucket)
                .server_side_encryption_configuration(encryption.clone())
                .send()
                .await
                .map(|_| ())
                .map_err(|error| classify("PutBucketEncryption", bucket, "", error))
        })
        .await
        .map_err(|refused| failed(refused, "PutBucketEncryption"))?;
    Ok(())
}

/// A warning when the bucket keeps no versions; `None` when it does, or when it cannot be told
/// (no permission to ask: the least policy in docs/team-state.md includes it).
pub(super) async fn versioning_warning(store: &ObjectStore) -> Option<String> {
    let client = store.client().await.ok()?;
    let bucket = &store.bucket;
    let answer = store
        .retrying(&format!("s3://{bucket}"), None, || async {
            client
                .get_bucket_versioning()
                .bucket(bucket)
                .send()
                .await
                .map_err(|error| classify("GetBucketVersioning", bucket, "", error))
        })
        .await;
    match answer {
        Ok(answer) if answer.status() == Some(&BucketVersioningStatus::Enabled) => None,
        Ok(_) => Some(format!(
            "the state bucket `{bucket}` has versioning off: `state history` shows only the current version and a bad write cannot be undone\n\nhint: turn it on: `aws s3api put-bucket-versioning --bucket {bucket} --versioning-configuration Status=Enabled`"
        )),
        Err(refused) => {
            tracing::debug!("could not check the versioning of `{bucket}`: {:?}", refused);
            None
        }
    }
}
