//! One driver per AWS resource type. Each implements [`AwsDriver`] — the core's
//! [`provision_core::driver::Driver`] with the run's [`AwsContext`] passed in — and [`registry`]
//! binds them all to one [`AwsSession`], which connects on first use (so `validate` never does).
//!
//! A driver is the only place that knows an AWS API. It receives fully resolved inputs (JSON, with
//! the schema's defaults filled in) and returns what it read back.

mod bound;

pub mod certificate;
pub mod cloudfront_distribution;
pub mod db_instance;
pub mod db_subnet_group;
pub mod dns_record;
pub mod dns_zone;
pub mod ecr_repository;
pub mod ecs_cluster;
pub mod ecs_service;
pub mod elasticache_redis;
mod elbv2;
pub mod iam_role;
pub mod listener;
pub mod listener_rule;
pub mod load_balancer;
pub mod log_group;
pub(crate) mod paging;
mod route53;
pub mod s3_bucket;
pub mod secret;
pub mod security_group;
pub mod tags;
pub mod target_group;
pub mod vpc;

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;

use provision_core::address::Address;
pub use provision_core::cloud::TaggedResource;
use provision_core::driver::DriverRegistry;
pub use provision_core::driver::TypicalDurations;
pub use provision_core::driver::{
    DriverError, ExistingResource, FieldChange, Leftover, Observed, Problem, ProgressSink, ResourceRequest, StackInfo,
};
use provision_core::plan::Action;
use provision_core::schema::ResourceSchema;
use provision_core::value::{JsonMap, Value};

use crate::context::{AwsContext, AwsSession};

/// Progress of a wait no action owns (finishing what an interrupted create started, during a
/// plan's refresh), told to the log: `-v` shows it.
pub(crate) struct LoggedProgress;

impl ProgressSink for LoggedProgress {
    fn waiting(&self, address: &Address, message: &str) {
        tracing::info!("{address}: {message}");
    }
}
use bound::Bound;

/// The core's [`provision_core::driver::Driver`], with the run's [`AwsContext`] handed to every
/// call that reaches AWS. Each method means what the core trait's method of the same name says.
#[async_trait]
pub trait AwsDriver: Send + Sync + 'static {
    fn schema(&self) -> &'static ResourceSchema;

    fn check(&self, _inputs: &BTreeMap<String, Value>) -> Vec<Problem> {
        Vec::new()
    }

    fn check_in_stack(
        &self,
        _resource: &provision_core::stack::ResourceSpec,
        _resources: &BTreeMap<Address, provision_core::stack::ResourceSpec>,
    ) -> Vec<Problem> {
        Vec::new()
    }

    fn check_network(&self, _inputs: &JsonMap, _network: &provision_core::cloud::Network) -> Vec<Problem> {
        Vec::new()
    }

    fn implicit_dependencies(
        &self,
        _resource: &provision_core::stack::ResourceSpec,
        _resources: &BTreeMap<Address, provision_core::stack::ResourceSpec>,
    ) -> Vec<Address> {
        Vec::new()
    }

    fn plan_notes(&self, _action: Action, _inputs: &JsonMap, _changed: &[&str]) -> Vec<String> {
        Vec::new()
    }

    fn prepare(&self, _stack: &StackInfo, _inputs: &mut JsonMap) -> Result<(), DriverError> {
        Ok(())
    }

    fn prepare_reads_files(&self) -> bool {
        false
    }

    fn import_defaults(&self) -> JsonMap {
        JsonMap::new()
    }

    fn resolves_online(&self) -> bool {
        false
    }

    async fn resolve(&self, _aws: &AwsContext, _stack: &StackInfo, _inputs: &JsonMap) -> Result<JsonMap, DriverError> {
        Ok(JsonMap::new())
    }

    fn planned_attributes(&self, _stack: &StackInfo, _inputs: &JsonMap) -> JsonMap {
        JsonMap::new()
    }

    fn attributes_changed_by(&self, _fields: &[&str]) -> Vec<&'static str> {
        Vec::new()
    }

    /// What the state records before the create call, to find the object again after a crash:
    /// by default the `name` input, since most types are named by the stack.
    fn intended_id(&self, request: &ResourceRequest<'_>) -> String {
        request.inputs.get("name").and_then(serde_json::Value::as_str).unwrap_or_default().to_string()
    }

    async fn read(
        &self,
        aws: &AwsContext,
        stack: &StackInfo,
        resources: &[ExistingResource<'_>],
    ) -> Vec<Result<Option<Observed>, DriverError>>;

    async fn create(
        &self,
        aws: &AwsContext,
        request: &ResourceRequest<'_>,
        progress: &dyn ProgressSink,
    ) -> Result<Observed, DriverError>;

    async fn update(
        &self,
        aws: &AwsContext,
        prior: &ExistingResource<'_>,
        request: &ResourceRequest<'_>,
        changes: &[FieldChange],
        progress: &dyn ProgressSink,
    ) -> Result<Observed, DriverError>;

    async fn delete(
        &self,
        aws: &AwsContext,
        resource: &ExistingResource<'_>,
        progress: &dyn ProgressSink,
    ) -> Result<(), DriverError>;

    /// See the core `Driver::typical_durations`.
    fn typical_durations(&self) -> TypicalDurations {
        TypicalDurations::INSTANT
    }

    /// See the core `Driver::start_early`.
    async fn start_early(&self, _aws: &AwsContext, _stack: &StackInfo, _address: &Address) {}

    async fn find_interrupted(
        &self,
        aws: &AwsContext,
        stack: &StackInfo,
        address: &Address,
        intended_id: &str,
    ) -> Result<Option<String>, DriverError>;

    async fn import_id(&self, _aws: &AwsContext, id: &str) -> Result<String, DriverError> {
        Ok(id.to_string())
    }

    fn id_from_arn(&self, arn: &str) -> Option<String> {
        Some(arn.to_string())
    }

    async fn leftovers(
        &self,
        _aws: &AwsContext,
        _stack: &StackInfo,
        _recorded: &[ExistingResource<'_>],
        _tagged: &[TaggedResource],
    ) -> Result<Vec<Leftover>, DriverError> {
        Ok(Vec::new())
    }

    async fn delete_leftover(&self, _aws: &AwsContext, _leftover: &Leftover) -> Result<(), DriverError> {
        Ok(())
    }

    async fn list_tagged(
        &self,
        _aws: &AwsContext,
        _stack: &str,
    ) -> Option<Result<Vec<(String, BTreeMap<String, String>)>, DriverError>> {
        None
    }
}

/// Every driver provision knows, bound to one session.
pub fn registry(session: Arc<AwsSession>) -> DriverRegistry {
    let bind = |driver: Arc<dyn provision_core::driver::Driver>| driver;
    DriverRegistry::new(vec![
        bind(Arc::new(Bound::new(s3_bucket::BucketDriver, session.clone()))),
        bind(Arc::new(Bound::new(cloudfront_distribution::DistributionDriver::default(), session.clone()))),
        bind(Arc::new(Bound::new(vpc::VpcDriver, session.clone()))),
        bind(Arc::new(Bound::new(security_group::SecurityGroupDriver, session.clone()))),
        bind(Arc::new(Bound::new(iam_role::RoleDriver, session.clone()))),
        bind(Arc::new(Bound::new(ecr_repository::RepositoryDriver, session.clone()))),
        bind(Arc::new(Bound::new(load_balancer::LoadBalancerDriver, session.clone()))),
        bind(Arc::new(Bound::new(target_group::TargetGroupDriver, session.clone()))),
        bind(Arc::new(Bound::new(listener::ListenerDriver, session.clone()))),
        bind(Arc::new(Bound::new(listener_rule::ListenerRuleDriver, session.clone()))),
        bind(Arc::new(Bound::new(ecs_cluster::ClusterDriver, session.clone()))),
        bind(Arc::new(Bound::new(ecs_service::ServiceDriver, session.clone()))),
        bind(Arc::new(Bound::new(db_subnet_group::SubnetGroupDriver, session.clone()))),
        bind(Arc::new(Bound::new(db_instance::InstanceDriver, session.clone()))),
        bind(Arc::new(Bound::new(elasticache_redis::CacheDriver, session.clone()))),
        bind(Arc::new(Bound::new(log_group::LogGroupDriver, session.clone()))),
        bind(Arc::new(Bound::new(secret::SecretDriver, session.clone()))),
        bind(Arc::new(Bound::new(dns_zone::ZoneDriver, session.clone()))),
        bind(Arc::new(Bound::new(certificate::CertificateDriver, session.clone()))),
        bind(Arc::new(Bound::new(dns_record::RecordDriver, session))),
    ])
}
