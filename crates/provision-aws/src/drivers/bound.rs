//! A driver bound to the run's AWS session: the core's `Driver`, connecting on first use.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use provision_core::address::Address;
use provision_core::driver::{
    Driver, DriverError, ExistingResource, FieldChange, Leftover, Observed, Problem, ProgressSink, ResourceRequest,
    StackInfo,
};
use provision_core::plan::Action;
use provision_core::schema::ResourceSchema;
use provision_core::value::{JsonMap, Value};

use super::AwsDriver;
use crate::context::AwsSession;

pub struct Bound<D> {
    driver: D,
    session: Arc<AwsSession>,
}

impl<D> Bound<D> {
    pub fn new(driver: D, session: Arc<AwsSession>) -> Bound<D> {
        Bound { driver, session }
    }
}

#[async_trait]
impl<D: AwsDriver> Driver for Bound<D> {
    fn schema(&self) -> &'static ResourceSchema {
        self.driver.schema()
    }

    fn check(&self, inputs: &BTreeMap<String, Value>) -> Vec<Problem> {
        self.driver.check(inputs)
    }

    fn check_in_stack(
        &self,
        resource: &provision_core::stack::ResourceSpec,
        resources: &BTreeMap<Address, provision_core::stack::ResourceSpec>,
    ) -> Vec<Problem> {
        self.driver.check_in_stack(resource, resources)
    }

    fn check_network(&self, inputs: &JsonMap, network: &provision_core::cloud::Network) -> Vec<Problem> {
        self.driver.check_network(inputs, network)
    }

    fn implicit_dependencies(
        &self,
        resource: &provision_core::stack::ResourceSpec,
        resources: &BTreeMap<Address, provision_core::stack::ResourceSpec>,
    ) -> Vec<Address> {
        self.driver.implicit_dependencies(resource, resources)
    }

    fn plan_notes(&self, action: Action, inputs: &JsonMap, changed: &[&str]) -> Vec<String> {
        self.driver.plan_notes(action, inputs, changed)
    }

    fn prepare(&self, stack: &StackInfo, inputs: &mut JsonMap) -> Result<(), DriverError> {
        self.driver.prepare(stack, inputs)
    }

    fn prepare_reads_files(&self) -> bool {
        self.driver.prepare_reads_files()
    }

    fn import_defaults(&self) -> JsonMap {
        self.driver.import_defaults()
    }

    fn resolves_online(&self) -> bool {
        self.driver.resolves_online()
    }

    async fn resolve(&self, stack: &StackInfo, inputs: &JsonMap) -> Result<JsonMap, DriverError> {
        let aws = self.session.context().await?;
        self.driver.resolve(aws, stack, inputs).await
    }

    fn planned_attributes(&self, stack: &StackInfo, inputs: &JsonMap) -> JsonMap {
        self.driver.planned_attributes(stack, inputs)
    }

    fn attributes_changed_by(&self, fields: &[&str]) -> Vec<&'static str> {
        self.driver.attributes_changed_by(fields)
    }

    fn intended_id(&self, request: &ResourceRequest<'_>) -> String {
        self.driver.intended_id(request)
    }

    async fn read(
        &self,
        stack: &StackInfo,
        resources: &[ExistingResource<'_>],
    ) -> Vec<Result<Option<Observed>, DriverError>> {
        match self.session.context().await {
            Ok(aws) => self.driver.read(aws, stack, resources).await,
            Err(error) => resources.iter().map(|_| Err(error.clone())).collect(),
        }
    }

    async fn create(
        &self,
        request: &ResourceRequest<'_>,
        progress: &dyn ProgressSink,
    ) -> Result<Observed, DriverError> {
        let aws = self.session.context().await?;
        self.driver.create(aws, request, progress).await
    }

    async fn update(
        &self,
        prior: &ExistingResource<'_>,
        request: &ResourceRequest<'_>,
        changes: &[FieldChange],
        progress: &dyn ProgressSink,
    ) -> Result<Observed, DriverError> {
        let aws = self.session.context().await?;
        self.driver.update(aws, prior, request, changes, progress).await
    }

    async fn delete(&self, resource: &ExistingResource<'_>, progress: &dyn ProgressSink) -> Result<(), DriverError> {
        let aws = self.session.context().await?;
        self.driver.delete(aws, resource, progress).await
    }

    fn typical_durations(&self) -> provision_core::driver::TypicalDurations {
        self.driver.typical_durations()
    }

    async fn start_early(&self, stack: &StackInfo, address: &Address) {
        if let Ok(aws) = self.session.context().await {
            self.driver.start_early(aws, stack, address).await;
        }
    }

    async fn find_interrupted(
        &self,
        stack: &StackInfo,
        address: &Address,
        intended_id: &str,
    ) -> Result<Option<String>, DriverError> {
        let aws = self.session.context().await?;
        self.driver.find_interrupted(aws, stack, address, intended_id).await
    }

    async fn import_id(&self, id: &str) -> Result<String, DriverError> {
        let aws = self.session.context().await?;
        self.driver.import_id(aws, id).await
    }

    fn id_from_arn(&self, arn: &str) -> Option<String> {
        self.driver.id_from_arn(arn)
    }

    async fn leftovers(
        &self,
        stack: &StackInfo,
        recorded: &[ExistingResource<'_>],
        tagged: &[provision_core::cloud::TaggedResource],
    ) -> Result<Vec<Leftover>, DriverError> {
        let aws = self.session.context().await?;
        self.driver.leftovers(aws, stack, recorded, tagged).await
    }

    async fn delete_leftover(&self, leftover: &Leftover) -> Result<(), DriverError> {
        let aws = self.session.context().await?;
        self.driver.delete_leftover(aws, leftover).await
    }

    async fn list_tagged(&self, stack: &str) -> Option<Result<Vec<(String, BTreeMap<String, String>)>, DriverError>> {
        let aws = match self.session.context().await {
            Ok(aws) => aws,
            Err(error) => return Some(Err(error)),
        };
        self.driver.list_tagged(aws, stack).await
    }
}
