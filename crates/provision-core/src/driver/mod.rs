//! The [`Driver`] trait: what the engine asks of one resource type, and the registry of them.
//!
//! A driver is the only place that knows a cloud API. It receives fully resolved inputs (JSON, with
//! the schema's defaults filled in) and returns what it read back. Everything around it — planning,
//! ordering, state — is generic. Drivers are built once, holding their own clients, and handed to the
//! loader, planner and executor as a [`DriverRegistry`]: the AWS crate builds the real one, the
//! core's tests a fake one over an in-memory cloud.

mod error;
mod registry;
mod typical;

use std::path::PathBuf;

use async_trait::async_trait;

pub use error::DriverError;
pub use registry::DriverRegistry;
pub use typical::TypicalDurations;

use crate::address::Address;
use crate::schema::ResourceSchema;
use crate::value::JsonMap;

/// Facts about the whole stack that drivers need (tagging, relative paths).
#[derive(Clone, Debug)]
pub struct StackInfo {
    pub name: String,
    /// The AWS region the stack deploys to.
    pub region: String,
    /// The folder holding the stack file; relative paths in fields (e.g. `upload`) start here.
    pub directory: PathBuf,
    /// The lineage of the state this run works on, when known: what a resource must be tagged
    /// with (`provision:lineage`) to be taken for this state's own after a kill.
    pub lineage: Option<String>,
}

/// A resource as it exists in AWS, read back by a driver.
#[derive(Clone, Debug, Default)]
pub struct Observed {
    /// The AWS identifier recorded in the state (bucket name, distribution id, ARN …).
    pub id: String,
    /// Input fields as AWS reports them, in the stack file's shape. Only fields the driver can read
    /// back appear here; the planner compares them with the applied inputs to find drift.
    pub inputs: JsonMap,
    /// Attributes other resources may reference.
    pub attributes: JsonMap,
}

/// What the planner and executor hand a driver for one resource.
#[derive(Clone, Debug)]
pub struct ResourceRequest<'a> {
    pub address: &'a Address,
    pub stack: &'a StackInfo,
    /// Resolved inputs with defaults (and the driver's own `prepare` additions).
    pub inputs: &'a JsonMap,
    /// All tags the resource must carry: stack tags, resource tags and the `provision:*` tags.
    pub tags: &'a std::collections::BTreeMap<String, String>,
    /// Secret fields (`FieldKind::Secret`) in clear, by field name. `inputs` holds only their salted
    /// hashes. Never log, store or put these in an error.
    pub secrets: &'a std::collections::BTreeMap<String, String>,
    /// The intended id of this create as recorded in the state. `create` gets what
    /// [`Driver::intended_id`] returned. `intended_id` itself gets the id an earlier create of the
    /// resource recorded, when that create was interrupted and refresh found nothing it made: its
    /// request may still be on its way to AWS, so a driver that makes its create idempotent with a
    /// token (ACM, CloudFront) sends the same token again instead of making a second copy.
    /// `None` elsewhere.
    pub intent: Option<&'a str>,
}

impl<'a> ResourceRequest<'a> {
    /// A request with no recorded intent (set `intent` for a create).
    pub fn new(
        address: &'a Address,
        stack: &'a StackInfo,
        inputs: &'a JsonMap,
        tags: &'a std::collections::BTreeMap<String, String>,
        secrets: &'a std::collections::BTreeMap<String, String>,
    ) -> ResourceRequest<'a> {
        ResourceRequest { address, stack, inputs, tags, secrets, intent: None }
    }
}

/// An existing resource: its id and what the state recorded about it.
#[derive(Clone, Debug)]
pub struct ExistingResource<'a> {
    pub address: &'a Address,
    pub id: &'a str,
    pub inputs: &'a JsonMap,
    pub attributes: &'a JsonMap,
}

/// One field that changed, as the planner computed it.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldChange {
    pub path: String,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
}

/// A problem an offline check found in one field of a resource.
#[derive(Clone, Debug, PartialEq)]
pub struct Problem {
    pub field: String,
    pub message: String,
    pub hint: Option<String>,
    /// A warning does not stop the command.
    pub warning: bool,
}

impl Problem {
    pub fn error(field: &str, message: impl Into<String>) -> Problem {
        Problem { field: field.to_string(), message: message.into(), hint: None, warning: false }
    }

    pub fn warning(field: &str, message: impl Into<String>) -> Problem {
        Problem { field: field.to_string(), message: message.into(), hint: None, warning: true }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Problem {
        self.hint = Some(hint.into());
        self
    }
}

/// A part a driver made on its way that nothing recorded uses any more (an origin access control
/// whose distribution is gone, a task definition revision no service runs). Untaggable or not, it is
/// found by how the driver names or marks it, so `state orphans` lists it and `destroy --sweep`
/// removes it.
#[derive(Clone, Debug, PartialEq)]
pub struct Leftover {
    /// What it is, for people: `origin access control`, `task definition revision`.
    pub kind: String,
    /// The id or ARN the driver deletes it by.
    pub id: String,
    /// The resource it was made for, when its name or tags tell.
    pub owner: Option<Address>,
}

/// Progress that a long-running driver call reports while it waits (e.g. CloudFront deploying).
pub trait ProgressSink: Send + Sync {
    fn waiting(&self, address: &Address, message: &str);
}

#[async_trait]
pub trait Driver: Send + Sync {
    fn schema(&self) -> &'static ResourceSchema;

    /// Checks across fields that AWS would otherwise reject late (e.g. Fargate CPU/memory pairs), and
    /// warnings about risky settings. Runs offline in `validate` with the stack file's literal values
    /// (references are `Value::Unknown`, defaults filled in), and again once values are resolved.
    fn check(&self, _inputs: &std::collections::BTreeMap<String, crate::value::Value>) -> Vec<Problem> {
        Vec::new()
    }

    /// Checks that need other resources of the stack, as the stack file writes them (references
    /// unresolved): e.g. that the role a service runs with may read the secrets it is given. Runs
    /// offline when the stack is loaded. A problem's `field` may be a path into a table
    /// (`container.secrets.KEY`), which is where the diagnostic points.
    fn check_in_stack(
        &self,
        _resource: &crate::stack::ResourceSpec,
        _resources: &std::collections::BTreeMap<Address, crate::stack::ResourceSpec>,
    ) -> Vec<Problem> {
        Vec::new()
    }

    /// Checks that need the looked-up `[network]` (where each subnet sends internet traffic, which
    /// endpoints the VPC has): e.g. that a service's tasks can reach the image registry. Runs when
    /// a plan creates, updates or replaces the resource, with its known inputs; an error fails the
    /// plan before anything changes. Not run for a stack in its own network (`check_in_stack` sees
    /// that one in the stack file).
    fn check_network(&self, _inputs: &JsonMap, _network: &crate::cloud::Network) -> Vec<Problem> {
        Vec::new()
    }

    /// Resources of the stack this one must come after although it names none of them, because
    /// AWS needs them first: an ECS service after the listener that forwards to its target group
    /// (ECS refuses a target group no load balancer uses). Runs offline when the stack is loaded, on
    /// the stack file as written; the edges join the dependency graph like `depends_on`, so a
    /// destroy deletes in the reverse order. Default: none.
    fn implicit_dependencies(
        &self,
        _resource: &crate::stack::ResourceSpec,
        _resources: &std::collections::BTreeMap<Address, crate::stack::ResourceSpec>,
    ) -> Vec<Address> {
        Vec::new()
    }

    /// Notes the plan shows under this resource's action, e.g. that a change waits for a maintenance
    /// window, or that a replacement loses data. `inputs` are the known desired inputs, `changed` the
    /// top-level fields the action changes.
    fn plan_notes(&self, _action: crate::plan::Action, _inputs: &JsonMap, _changed: &[&str]) -> Vec<String> {
        Vec::new()
    }

    /// Adds inputs the driver derives from the resolved ones before planning, e.g. the content
    /// hashes of the files in an `upload` folder. Runs offline.
    fn prepare(&self, _stack: &StackInfo, _inputs: &mut JsonMap) -> Result<(), DriverError> {
        Ok(())
    }

    /// Whether [`Driver::prepare`] reads local files (the executor then runs it off the task that
    /// drives the actions).
    fn prepare_reads_files(&self) -> bool {
        false
    }

    /// Inputs a stack file written by `import --generate` gets for fields the cloud cannot tell (a
    /// secret's value, which provision then keeps as it is).
    fn import_defaults(&self) -> JsonMap {
        JsonMap::new()
    }

    /// Whether [`Driver::resolve`] looks anything up.
    fn resolves_online(&self) -> bool {
        false
    }

    /// Inputs that depend on what the cloud holds now, looked up at plan time with the known inputs
    /// (an image tag to the digest it points at): merged into the desired inputs, so a change shows
    /// in the plan. When the plan could not know them (the repository is created by the same apply),
    /// the executor resolves them just before the action. An error fails the plan naming the resource.
    async fn resolve(&self, _stack: &StackInfo, _inputs: &JsonMap) -> Result<JsonMap, DriverError> {
        Ok(JsonMap::new())
    }

    /// Attributes that are already known from the inputs before the resource is applied (a bucket's
    /// name and ARN). The rest show as `(known after apply)`.
    fn planned_attributes(&self, _stack: &StackInfo, _inputs: &JsonMap) -> JsonMap {
        JsonMap::new()
    }

    /// Attributes an in-place update of these top-level fields gives new values (an ECS service's
    /// task definition ARN when its container changes): the plan shows them as known after apply.
    fn attributes_changed_by(&self, _fields: &[&str]) -> Vec<&'static str> {
        Vec::new()
    }

    /// The AWS identifier a create will use, recorded in the state before the create call, so that
    /// a run killed mid-call can find the resource again with [`Driver::find_interrupted`].
    fn intended_id(&self, request: &ResourceRequest<'_>) -> String;

    /// Reads many resources of this type at once; one entry per input, `None` when it no longer
    /// exists. Implementations batch where the AWS API allows.
    async fn read(
        &self,
        stack: &StackInfo,
        resources: &[ExistingResource<'_>],
    ) -> Vec<Result<Option<Observed>, DriverError>>;

    async fn create(&self, request: &ResourceRequest<'_>, progress: &dyn ProgressSink)
        -> Result<Observed, DriverError>;

    /// Changes the resource in place. `changes` lists the fields that differ from `prior`.
    async fn update(
        &self,
        prior: &ExistingResource<'_>,
        request: &ResourceRequest<'_>,
        changes: &[FieldChange],
        progress: &dyn ProgressSink,
    ) -> Result<Observed, DriverError>;

    async fn delete(&self, resource: &ExistingResource<'_>, progress: &dyn ProgressSink) -> Result<(), DriverError>;

    /// How long the cloud usually takes to create, update and delete one resource of this type. The
    /// executor starts the ready actions with the most expected work behind them first; nothing
    /// else depends on it. Default: instant.
    fn typical_durations(&self) -> TypicalDurations {
        TypicalDurations::INSTANT
    }

    /// Work a create may begin when the run starts, before its dependencies are done: parts named
    /// only by the stack and the address (a distribution's origin access control), so that a run
    /// killed here leaves nothing the next one cannot find by name. The create picks the result
    /// up; a failure here is the create's to meet again, never the run's. Default: nothing.
    async fn start_early(&self, _stack: &StackInfo, _address: &Address) {}

    /// After a run was interrupted between recording the intent and the create call's answer:
    /// the id of the resource that call made, if it exists.
    async fn find_interrupted(
        &self,
        stack: &StackInfo,
        address: &Address,
        intended_id: &str,
    ) -> Result<Option<String>, DriverError>;

    /// The id to record for `provision import ADDR ID`: checks the shape of what the user typed and
    /// turns an accepted alias (a name where an ARN is recorded) into the id `read` expects. An id of
    /// the wrong shape is an error that says what shape is expected.
    async fn import_id(&self, id: &str) -> Result<String, DriverError> {
        Ok(id.to_string())
    }

    /// The state id of a resource of this type, from its ARN (resources found by their tags).
    fn id_from_arn(&self, arn: &str) -> Option<String> {
        Some(arn.to_string())
    }

    /// Parts of this type's resources in `stack` that none of `recorded` (the resources of this
    /// type the state holds) uses. `tagged` is what the cloud lists as tagged with the stack.
    async fn leftovers(
        &self,
        _stack: &StackInfo,
        _recorded: &[ExistingResource<'_>],
        _tagged: &[crate::cloud::TaggedResource],
    ) -> Result<Vec<Leftover>, DriverError> {
        Ok(Vec::new())
    }

    /// Removes a part [`Driver::leftovers`] found.
    async fn delete_leftover(&self, _leftover: &Leftover) -> Result<(), DriverError> {
        Ok(())
    }

    /// Resources of this type tagged `provision:stack = stack` that the Resource Groups Tagging API
    /// does not list (IAM), as `(ARN, tags)`. `None` for types the tagging API covers.
    async fn list_tagged(
        &self,
        _stack: &str,
    ) -> Option<Result<Vec<(String, std::collections::BTreeMap<String, String>)>, DriverError>> {
        None
    }
}
