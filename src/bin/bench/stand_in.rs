//! A cloud that takes AWS's time and does nothing else, for the stand-in mode.
//!
//! Each resource type keeps its real driver for everything offline (schema, checks, ids, planned
//! attributes, the typical durations it reports to the executor); only the calls that would reach
//! AWS are stood in for, with the windows of provision-proxy's profile (`aws_waits.rs` names them),
//! divided by the time scale: a create first waits out what AWS still does after the resources it
//! uses were made (a role not yet assumable, a certificate not yet visible), measured from when
//! each of them finished, then takes its own time (a database `creating` and `backing-up`); a
//! delete likewise after the resources that used it went (a group's interfaces lingering). A read
//! answers from memory. So a run is provision's own sequence (load, plan, state writes, the
//! executor's order) in the profile's timing, and nothing else: no emulator, no round trips, no
//! retries.
//!
//! `weighted = false` hides the typical durations from the executor (the actions still take them):
//! the executor then starts ready actions in address order, the order it used before it weighed
//! them, which is what the comparison needs.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use provision_core::address::Address;
use provision_core::cloud::{Cloud, Identity, Network, TaggedResource};
use provision_core::driver::{
    Driver, DriverError, DriverRegistry, ExistingResource, FieldChange, Observed, Problem, ProgressSink,
    ResourceRequest, StackInfo, TypicalDurations,
};
use provision_core::plan::Action;
use provision_core::schema::ResourceSchema;
use provision_core::stack::{NetworkSpec, ResourceSpec};
use provision_core::value::{JsonMap, Value};

use crate::aws_waits::{self, Direction, Graph, Window};

const REGION: &str = "us-east-1";
const ACCOUNT: &str = "000000000000";

/// What the stand-in cloud holds: resources by id, and when each address was last made or removed.
#[derive(Default)]
struct Held {
    resources: Mutex<BTreeMap<String, (JsonMap, JsonMap)>>,
    made: Mutex<BTreeMap<String, Instant>>,
    removed: Mutex<BTreeMap<String, Instant>>,
    serial: AtomicU64,
}

/// The AWS drivers' offline halves over an in-memory world that takes their typical times.
pub struct StandInCloud {
    drivers: DriverRegistry,
}

impl StandInCloud {
    /// Stand-ins for every type of `real`, for a stack whose dependencies are `graph`; `scale` AWS
    /// seconds pass in one real second.
    pub fn new(real: &DriverRegistry, graph: Arc<Graph>, scale: f64, weighted: bool) -> StandInCloud {
        let held = Arc::new(Held::default());
        let drivers = real
            .type_names()
            .into_iter()
            .filter_map(|type_name| real.shared(type_name))
            .map(|real| {
                Arc::new(StandIn { real, held: held.clone(), graph: graph.clone(), scale, weighted }) as Arc<dyn Driver>
            })
            .collect();
        StandInCloud { drivers: DriverRegistry::new(drivers) }
    }
}

#[async_trait]
impl Cloud for StandInCloud {
    fn drivers(&self) -> &DriverRegistry {
        &self.drivers
    }

    async fn region(&self) -> Result<String, DriverError> {
        Ok(REGION.into())
    }

    async fn identity(&self) -> Result<Identity, DriverError> {
        Ok(Identity { region: REGION.into(), account: ACCOUNT.into() })
    }

    async fn network(&self, _spec: &NetworkSpec) -> Result<Network, DriverError> {
        // A default VPC's: public subnets, whose internet traffic goes to an internet gateway.
        let subnets: Vec<String> = vec!["subnet-0standina".into(), "subnet-0standinb".into()];
        Ok(Network {
            vpc_id: "vpc-0standin".into(),
            egress: subnets.iter().map(|s| (s.clone(), provision_core::cloud::Egress::InternetGateway)).collect(),
            public_subnet_ids: subnets.clone(),
            subnet_ids: subnets,
            ..Network::default()
        })
    }

    async fn tagged(&self, _stack: &str) -> Result<Vec<TaggedResource>, DriverError> {
        Ok(Vec::new())
    }
}

struct StandIn {
    real: Arc<dyn Driver>,
    held: Arc<Held>,
    graph: Arc<Graph>,
    scale: f64,
    weighted: bool,
}

impl StandIn {
    fn real_time(&self, aws: Duration) -> Duration {
        Duration::from_secs_f64(aws.as_secs_f64() / self.scale)
    }

    /// Waits out the windows after what `address` waits for (in `direction`), then its own.
    async fn take(&self, address: &Address, direction: Direction, own: &[Window]) {
        let key = address.to_string();
        let type_name = self.real.schema().type_name;
        let until = {
            let finished = match direction {
                Direction::Apply => self.held.made.lock().unwrap(),
                Direction::Destroy => self.held.removed.lock().unwrap(),
            };
            self.graph
                .before(&key, direction)
                .into_iter()
                .filter_map(|other| {
                    let gap = match direction {
                        Direction::Apply => aws_waits::after_making(type_name, aws_waits::type_of(other)),
                        Direction::Destroy => aws_waits::after_removing(type_name, aws_waits::type_of(other)),
                    };
                    Some(*finished.get(other)? + self.real_time(aws_waits::sum(gap)))
                })
                .max()
        };
        if let Some(until) = until {
            tokio::time::sleep_until(until.into()).await;
        }
        let own = self.real_time(aws_waits::sum(own));
        if !own.is_zero() {
            tokio::time::sleep(own).await;
        }
        let finished = match direction {
            Direction::Apply => &self.held.made,
            Direction::Destroy => &self.held.removed,
        };
        finished.lock().unwrap().insert(key, Instant::now());
    }

    /// Values of the type's attributes in the shapes the drivers' checks accept.
    fn attributes(&self, address: &Address, id: &str) -> JsonMap {
        let type_name = self.real.schema().type_name;
        let name = address.name.replace('_', "-");
        let serial = self.held.serial.fetch_add(1, Ordering::SeqCst);
        self.real
            .schema()
            .attributes
            .iter()
            .map(|attribute| {
                let value = match *attribute {
                    "id" if type_name == "security_group" => format!("sg-0{serial:016x}"),
                    "id" if type_name == "dns_zone" => format!("Z0STANDIN{serial}"),
                    other if other.ends_with("secret_arn") => {
                        format!("arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{name}-{serial}")
                    }
                    other if other.ends_with("arn") => {
                        format!("arn:aws:{type_name}:{REGION}:{ACCOUNT}:{name}-{serial}")
                    }
                    "url" => format!("{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{name}"),
                    "id" => id.to_string(),
                    "zone_id" => "Z0STANDIN".to_string(),
                    other if other.ends_with("name") || other.ends_with("domain") || other == "endpoint" => {
                        format!("{name}-{serial}.standin.example.com")
                    }
                    other => format!("{name}-{other}-{serial}"),
                };
                (attribute.to_string(), serde_json::Value::String(value))
            })
            .collect()
    }

    fn observed(&self, id: &str) -> Option<Observed> {
        let resources = self.held.resources.lock().unwrap();
        resources.get(id).map(|(inputs, attributes)| Observed {
            id: id.to_string(),
            inputs: inputs.clone(),
            attributes: attributes.clone(),
        })
    }

    fn keep(&self, id: &str, inputs: &JsonMap, attributes: JsonMap) -> Observed {
        self.held.resources.lock().unwrap().insert(id.to_string(), (inputs.clone(), attributes.clone()));
        Observed { id: id.to_string(), inputs: inputs.clone(), attributes }
    }
}

#[async_trait]
impl Driver for StandIn {
    fn schema(&self) -> &'static ResourceSchema {
        self.real.schema()
    }

    fn check(&self, inputs: &BTreeMap<String, Value>) -> Vec<Problem> {
        self.real.check(inputs)
    }

    fn check_in_stack(&self, resource: &ResourceSpec, resources: &BTreeMap<Address, ResourceSpec>) -> Vec<Problem> {
        self.real.check_in_stack(resource, resources)
    }

    /// The real driver's ordering (a service after the listener that forwards to it), so the
    /// benchmark's graph is the one an apply against AWS runs.
    fn implicit_dependencies(
        &self,
        resource: &ResourceSpec,
        resources: &BTreeMap<Address, ResourceSpec>,
    ) -> Vec<Address> {
        self.real.implicit_dependencies(resource, resources)
    }

    fn plan_notes(&self, action: Action, inputs: &JsonMap, changed: &[&str]) -> Vec<String> {
        self.real.plan_notes(action, inputs, changed)
    }

    fn prepare(&self, stack: &StackInfo, inputs: &mut JsonMap) -> Result<(), DriverError> {
        self.real.prepare(stack, inputs)
    }

    fn prepare_reads_files(&self) -> bool {
        self.real.prepare_reads_files()
    }

    fn planned_attributes(&self, stack: &StackInfo, inputs: &JsonMap) -> JsonMap {
        self.real.planned_attributes(stack, inputs)
    }

    fn attributes_changed_by(&self, fields: &[&str]) -> Vec<&'static str> {
        self.real.attributes_changed_by(fields)
    }

    fn intended_id(&self, request: &ResourceRequest<'_>) -> String {
        self.real.intended_id(request)
    }

    fn typical_durations(&self) -> TypicalDurations {
        if self.weighted {
            self.real.typical_durations()
        } else {
            TypicalDurations::INSTANT
        }
    }

    async fn read(
        &self,
        _stack: &StackInfo,
        resources: &[ExistingResource<'_>],
    ) -> Vec<Result<Option<Observed>, DriverError>> {
        resources.iter().map(|resource| Ok(self.observed(resource.id))).collect()
    }

    async fn create(
        &self,
        request: &ResourceRequest<'_>,
        _progress: &dyn ProgressSink,
    ) -> Result<Observed, DriverError> {
        self.take(request.address, Direction::Apply, aws_waits::making(self.real.schema().type_name)).await;
        let id = request.intent.map(str::to_string).unwrap_or_else(|| self.real.intended_id(request));
        let mut attributes = self.attributes(request.address, &id);
        // What the plan already knew keeps its value, as AWS would report it.
        attributes.extend(self.real.planned_attributes(request.stack, request.inputs));
        Ok(self.keep(&id, request.inputs, attributes))
    }

    async fn update(
        &self,
        prior: &ExistingResource<'_>,
        request: &ResourceRequest<'_>,
        _changes: &[FieldChange],
        _progress: &dyn ProgressSink,
    ) -> Result<Observed, DriverError> {
        // In place: its own time, with nothing new to wait for.
        tokio::time::sleep(self.real_time(aws_waits::sum(aws_waits::changing(self.real.schema().type_name)))).await;
        Ok(self.keep(prior.id, request.inputs, prior.attributes.clone()))
    }

    async fn delete(&self, resource: &ExistingResource<'_>, _progress: &dyn ProgressSink) -> Result<(), DriverError> {
        self.take(resource.address, Direction::Destroy, aws_waits::removing(self.real.schema().type_name)).await;
        self.held.resources.lock().unwrap().remove(resource.id);
        Ok(())
    }

    async fn find_interrupted(
        &self,
        _stack: &StackInfo,
        _address: &Address,
        intended_id: &str,
    ) -> Result<Option<String>, DriverError> {
        Ok(self.observed(intended_id).map(|observed| observed.id))
    }
}
