//! Placeholder, replaced by the real driver.

use async_trait::async_trait;

use super::*;
use crate::schema::ResourceSchema;

pub struct BucketDriver;

static SCHEMA: ResourceSchema = ResourceSchema {
    type_name: "s3_bucket",
    description: "",
    fields: &[],
    attributes: &[],
    taggable: true,
    derived: &[],
};

#[async_trait]
impl Driver for BucketDriver {
    fn schema(&self) -> &'static ResourceSchema {
        &SCHEMA
    }
    fn intended_id(&self, _request: &ResourceRequest<'_>) -> String {
        String::new()
    }
    async fn read(
        &self,
        _aws: &AwsContext,
        _stack: &StackInfo,
        resources: &[ExistingResource<'_>],
    ) -> Vec<Result<Option<Observed>, DriverError>> {
        resources.iter().map(|_| Err(DriverError::invalid("unimplemented"))).collect()
    }
    async fn create(
        &self,
        _aws: &AwsContext,
        _request: &ResourceRequest<'_>,
        _progress: &dyn ProgressSink,
    ) -> Result<Observed, DriverError> {
        Err(DriverError::invalid("unimplemented"))
    }
    async fn update(
        &self,
        _aws: &AwsContext,
        _prior: &ExistingResource<'_>,
        _request: &ResourceRequest<'_>,
        _changes: &[FieldChange],
        _progress: &dyn ProgressSink,
    ) -> Result<Observed, DriverError> {
        Err(DriverError::invalid("unimplemented"))
    }
    async fn delete(
        &self,
        _aws: &AwsContext,
        _resource: &ExistingResource<'_>,
        _progress: &dyn ProgressSink,
    ) -> Result<(), DriverError> {
        Err(DriverError::invalid("unimplemented"))
    }
    async fn find_interrupted(
        &self,
        _aws: &AwsContext,
        _stack: &StackInfo,
        _address: &Address,
        _intended_id: &str,
    ) -> Result<Option<String>, DriverError> {
        Ok(None)
    }
}
