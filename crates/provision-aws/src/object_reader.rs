//! Reading one S3 object with the run's AWS session: another tool's state (`provision import
//! --from-terraform s3://BUCKET/KEY`). Only `GetObject`: the object is never written.

use provision_core::driver::DriverError;

use crate::context::AwsContext;

/// The object's bytes; `Ok(None)` when there is no such key (or bucket).
pub async fn read_object(aws: &AwsContext, bucket: &str, key: &str) -> Result<Option<Vec<u8>>, DriverError> {
    let answer = aws.s3().get_object().bucket(bucket).key(key).send().await;
    let output = match answer.map_err(|error| crate::aws_error("GetObject", error)) {
        Ok(output) => output,
        Err(error) if error.code_is("NoSuchKey") || error.code_is("NoSuchBucket") => return Ok(None),
        Err(error) => return Err(error),
    };
    let bytes = output
        .body
        .collect()
        .await
        .map_err(|error| DriverError::service("GetObject", None, format!("reading the body: {error}")))?;
    Ok(Some(bytes.into_bytes().to_vec()))
}
