//! The fake drivers and the fake cloud of the engine's tests, over the [`World`] and crash switch of
//! `world.rs`: resources with names, tokens and ids, and the parts drivers make on their way (a
//! bucket policy, an origin access control, task definition revisions).
//!
//! The fake drivers follow the same recovery rules the AWS drivers do, so the simulation proves
//! the engine's protocol with them: a name-addressed resource is found again by its name; a
//! token-addressed one by the token recorded in its intent; a part is named after its owner, adopted
//! when met again, and removed once nothing uses it.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{json, Value as Json};

use crate::address::Address;
use crate::cloud::{Cloud, Identity, Network, TaggedResource};
use crate::driver::{
    Driver, DriverError, DriverRegistry, ExistingResource, FieldChange, Observed, ProgressSink, ResourceRequest,
    StackInfo, TypicalDurations,
};
use crate::plan::Action;
use crate::schema::{self, FieldKind, FieldSpec, ResourceSchema};
use crate::stack::NetworkSpec;
use crate::value::JsonMap;

use super::world::{FakeResource, Part, Simulation, World};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Named: its id is its name. A `policy = true` bucket has a policy part named after it.
    Bucket,
    /// Token-addressed: the cloud picks the id; a creation token finds it again. Its origin access
    /// control is a part named `<stack>-<resource>-oac`, made before it and adopted when met again.
    Distribution,
    /// Named; every image is a new revision part `<name>:N`, and revisions it no longer uses are
    /// reported as drift so the next apply removes them.
    Service,
    /// Named with a hash of `port`; a port change is a create-before-destroy replacement.
    Group,
}

static BUCKET: ResourceSchema = ResourceSchema {
    type_name: "bucket",
    description: "A fake bucket.",
    fields: &[
        FieldSpec::new("name", FieldKind::String, "The name.")
            .default(schema::Default::AwsName { max_len: 63 })
            .forces_replacement(),
        FieldSpec::new("versioning", FieldKind::Bool, "Versioning.").default(schema::Default::Bool(false)),
        FieldSpec::new("policy", FieldKind::Bool, "A policy part.").default(schema::Default::Bool(false)),
    ],
    attributes: &["name", "arn"],
    taggable: true,
    derived: &[],
    create_before_destroy: false,
};

static DISTRIBUTION: ResourceSchema = ResourceSchema {
    type_name: "distribution",
    description: "A fake distribution.",
    fields: &[
        FieldSpec::new("origin", FieldKind::String, "The origin bucket.").required(),
        FieldSpec::new("comment", FieldKind::String, "A comment.").default(schema::Default::Str("")),
    ],
    attributes: &["id", "domain"],
    taggable: true,
    derived: &[],
    create_before_destroy: false,
};

static SERVICE: ResourceSchema = ResourceSchema {
    type_name: "service",
    description: "A fake service.",
    fields: &[
        FieldSpec::new("image", FieldKind::String, "The image.").required(),
        FieldSpec::new("group", FieldKind::String, "The group it is behind."),
    ],
    attributes: &["arn", "revision"],
    taggable: true,
    derived: &[],
    create_before_destroy: false,
};

static GROUP: ResourceSchema = ResourceSchema {
    type_name: "group",
    description: "A fake target group.",
    fields: &[
        FieldSpec::new("name", FieldKind::String, "The name.")
            .default(schema::Default::AwsNameHashing { max_len: 32, fields: &["port"] })
            .forces_replacement(),
        FieldSpec::new("port", FieldKind::Int, "The port.").required().forces_replacement(),
    ],
    attributes: &["arn", "name"],
    taggable: true,
    derived: &[],
    create_before_destroy: true,
};

pub struct FakeDriver {
    kind: Kind,
    sim: Arc<Simulation>,
}

fn text<'a>(inputs: &'a JsonMap, key: &str) -> &'a str {
    inputs.get(key).and_then(Json::as_str).unwrap_or_default()
}

fn oac_name(stack: &StackInfo, address: &Address) -> String {
    format!("{}-{}-oac", stack.name, address.name)
}

impl FakeDriver {
    fn kind_name(&self) -> &'static str {
        self.schema_static().type_name
    }

    fn schema_static(&self) -> &'static ResourceSchema {
        match self.kind {
            Kind::Bucket => &BUCKET,
            Kind::Distribution => &DISTRIBUTION,
            Kind::Service => &SERVICE,
            Kind::Group => &GROUP,
        }
    }

    fn observed(&self, id: &str, resource: &FakeResource, world: &World) -> Observed {
        let mut inputs = JsonMap::new();
        let mut attributes = JsonMap::new();
        let user_tags: JsonMap = resource
            .tags
            .iter()
            .filter(|(k, _)| !k.starts_with("provision:"))
            .map(|(k, v)| (k.clone(), Json::String(v.clone())))
            .collect();
        inputs.insert("tags".into(), Json::Object(user_tags));
        match self.kind {
            Kind::Bucket => {
                inputs.insert("versioning".into(), resource.inputs.get("versioning").cloned().unwrap_or(json!(false)));
                inputs.insert("policy".into(), json!(world.parts.contains_key(&format!("policy:{}", resource.name))));
                attributes.insert("name".into(), json!(resource.name));
                attributes.insert("arn".into(), json!(format!("arn:fake:bucket:{}", resource.name)));
            }
            Kind::Distribution => {
                for field in ["origin", "comment"] {
                    inputs.insert(field.into(), resource.inputs.get(field).cloned().unwrap_or(json!("")));
                }
                attributes.insert("id".into(), json!(id));
                attributes.insert("domain".into(), json!(format!("{id}.fake.net")));
                attributes.insert("oac".into(), resource.inputs.get("oac").cloned().unwrap_or(Json::Null));
            }
            Kind::Service => {
                let revision = resource.inputs.get("revision").and_then(Json::as_str).unwrap_or_default().to_string();
                inputs.insert("image".into(), resource.inputs.get("image").cloned().unwrap_or(json!("")));
                inputs.insert("group".into(), resource.inputs.get("group").cloned().unwrap_or(Json::Null));
                // Revisions of its family that it no longer uses: drift the next apply clears.
                let unused: Vec<Json> = world
                    .parts
                    .iter()
                    .filter(|(name, part)| part.kind == "revision" && part.owner == resource.name && **name != revision)
                    .map(|(name, _)| json!(name))
                    .collect();
                inputs.insert("unused_revisions".into(), Json::Array(unused));
                attributes.insert("arn".into(), json!(format!("arn:fake:service:{}", resource.name)));
                attributes.insert("revision".into(), json!(revision));
            }
            Kind::Group => {
                inputs.insert("port".into(), resource.inputs.get("port").cloned().unwrap_or(Json::Null));
                attributes.insert("arn".into(), json!(format!("arn:fake:group:{}", resource.name)));
                attributes.insert("name".into(), json!(resource.name));
            }
        }
        Observed { id: id.to_string(), inputs, attributes }
    }

    /// What the cloud takes for this kind: a distribution deploys for minutes (also to disable
    /// before its delete), a service rolls out or drains; buckets and groups are a call.
    fn typical(&self) -> TypicalDurations {
        match self.kind {
            Kind::Distribution => TypicalDurations::seconds(300, 300, 300),
            Kind::Service => TypicalDurations::seconds(180, 180, 180),
            Kind::Bucket | Kind::Group => TypicalDurations::INSTANT,
        }
    }

    /// With [`Simulation::paced`], takes the cloud's time for `action` (on the paused clock).
    async fn take_the_time(&self, action: Action) {
        if self.sim.paced.load(std::sync::atomic::Ordering::SeqCst) {
            tokio::time::sleep(self.typical().of(action, false)).await;
        }
    }

    /// Registers a new revision of the service's family and returns its name.
    async fn register_revision(&self, family: &str) -> Result<String, DriverError> {
        self.sim
            .mutate(|world| {
                let next = world.parts.keys().filter(|name| name.starts_with(&format!("{family}:"))).count() + 1;
                let mut name = format!("{family}:{next}");
                while world.parts.contains_key(&name) {
                    name.push('+');
                }
                world.parts.insert(name.clone(), Part { kind: "revision", owner: family.to_string() });
                Ok(name)
            })
            .await
    }

    /// Removes every revision of `family` except `keep` (all of them when `keep` is `None`).
    async fn deregister_unused(&self, family: &str, keep: Option<&str>) -> Result<(), DriverError> {
        let unused: Vec<String> = self
            .sim
            .look(|world| {
                world
                    .parts
                    .iter()
                    .filter(|(name, part)| {
                        part.kind == "revision" && part.owner == family && Some(name.as_str()) != keep
                    })
                    .map(|(name, _)| name.clone())
                    .collect()
            })
            .await?;
        for name in unused {
            self.sim
                .mutate(|world| {
                    world.parts.remove(&name);
                    Ok(())
                })
                .await?;
        }
        Ok(())
    }
}

#[async_trait]
impl Driver for FakeDriver {
    fn schema(&self) -> &'static ResourceSchema {
        self.schema_static()
    }

    fn prepare(&self, _stack: &StackInfo, inputs: &mut JsonMap) -> Result<(), DriverError> {
        if self.kind == Kind::Service {
            inputs.insert("unused_revisions".into(), json!([]));
        }
        Ok(())
    }

    fn planned_attributes(&self, _stack: &StackInfo, inputs: &JsonMap) -> JsonMap {
        let mut attributes = JsonMap::new();
        if matches!(self.kind, Kind::Bucket | Kind::Group) {
            if let Some(name) = inputs.get("name").and_then(Json::as_str) {
                attributes.insert("name".into(), json!(name));
                attributes.insert("arn".into(), json!(format!("arn:fake:{}:{name}", self.kind_name())));
            }
        }
        attributes
    }

    fn attributes_changed_by(&self, fields: &[&str]) -> Vec<&'static str> {
        if self.kind == Kind::Service && fields.contains(&"image") {
            vec!["revision"]
        } else {
            Vec::new()
        }
    }

    fn typical_durations(&self) -> TypicalDurations {
        if self.sim.unweighted.load(std::sync::atomic::Ordering::SeqCst) {
            TypicalDurations::INSTANT
        } else {
            self.typical()
        }
    }

    fn intended_id(&self, request: &ResourceRequest<'_>) -> String {
        match self.kind {
            Kind::Bucket | Kind::Group => text(request.inputs, "name").to_string(),
            Kind::Service => format!("{}-{}", request.stack.name, request.address.name),
            // The creation token: unique per attempt, recorded before the call — except after an
            // interrupted attempt that refresh found nothing of, whose token is sent again.
            Kind::Distribution => {
                let prefix = format!("token-{}-", request.address.name);
                match request.intent.filter(|earlier| earlier.starts_with(&prefix)) {
                    Some(earlier) => earlier.to_string(),
                    None => format!("{prefix}{}", uuid::Uuid::new_v4().simple()),
                }
            }
        }
    }

    async fn read(
        &self,
        _stack: &StackInfo,
        resources: &[ExistingResource<'_>],
    ) -> Vec<Result<Option<Observed>, DriverError>> {
        let answer = self
            .sim
            .look(|world| {
                resources
                    .iter()
                    .map(|existing| {
                        world
                            .resources
                            .get(existing.id)
                            .filter(|r| r.kind == self.kind_name())
                            .map(|r| self.observed(existing.id, r, world))
                    })
                    .collect::<Vec<_>>()
            })
            .await;
        match answer {
            Ok(found) => found.into_iter().map(Ok).collect(),
            Err(error) => resources.iter().map(|_| Err(error.clone())).collect(),
        }
    }

    async fn create(
        &self,
        request: &ResourceRequest<'_>,
        _progress: &dyn ProgressSink,
    ) -> Result<Observed, DriverError> {
        self.take_the_time(Action::Create).await;
        let kind = self.kind_name();
        let inputs = request.inputs.clone();
        let tags = request.tags.clone();
        let name = match self.kind {
            Kind::Bucket | Kind::Group => text(&inputs, "name").to_string(),
            Kind::Service => format!("{}-{}", request.stack.name, request.address.name),
            Kind::Distribution => String::new(),
        };
        let failing = self.sim.look(|world| world.fail_once.contains(&name) && !world.failed.contains(&name)).await?;
        if failing {
            self.sim.world.lock().unwrap().failed.insert(name.clone());
            return Err(DriverError::service("Create", Some("ServiceUnavailable".into()), "try again later"));
        }
        let id = match self.kind {
            Kind::Bucket | Kind::Group => {
                let id = self
                    .sim
                    .mutate(|world| {
                        if world.by_name(kind, &name).is_some() {
                            return Err(DriverError::service("Create", Some("AlreadyExists".into()), name.clone()));
                        }
                        world.resources.insert(name.clone(), FakeResource { kind, name: name.clone(), inputs, tags });
                        Ok(name.clone())
                    })
                    .await?;
                if self.kind == Kind::Bucket && request.inputs.get("policy") == Some(&json!(true)) {
                    self.sim
                        .mutate(|world| {
                            world.parts.insert(format!("policy:{name}"), Part { kind: "policy", owner: name.clone() });
                            Ok(())
                        })
                        .await?;
                }
                id
            }
            Kind::Distribution => {
                let control = oac_name(request.stack, request.address);
                let exists = self.sim.look(|world| world.parts.contains_key(&control)).await?;
                if !exists {
                    self.sim
                        .mutate(|world| {
                            if world.parts.contains_key(&control) {
                                return Err(DriverError::service("CreateOac", Some("AlreadyExists".into()), ""));
                            }
                            world.parts.insert(control.clone(), Part { kind: "oac", owner: control.clone() });
                            Ok(())
                        })
                        .await?;
                }
                // The token the executor recorded in the intent before this call.
                let token = request.intent.unwrap_or_default().to_string();
                let mut inputs = inputs;
                inputs.insert("oac".into(), json!(control));
                let resource = FakeResource { kind, name: token.clone(), inputs, tags };
                match self.sim.create_by_token(resource).await {
                    // A killed run's request with this token landed after this run's refresh.
                    Err(error) if error.code_is("AlreadyExists") => self
                        .sim
                        .look(|world| world.by_name(kind, &token))
                        .await?
                        .ok_or_else(|| DriverError::invalid("refused as existing, then not found"))?,
                    other => other?,
                }
            }
            Kind::Service => {
                let revision = self.register_revision(&name).await?;
                let id = self
                    .sim
                    .mutate(|world| {
                        if world.by_name(kind, &name).is_some() {
                            return Err(DriverError::service("Create", Some("AlreadyExists".into()), name.clone()));
                        }
                        let mut inputs = inputs;
                        inputs.insert("revision".into(), json!(revision));
                        world.resources.insert(name.clone(), FakeResource { kind, name: name.clone(), inputs, tags });
                        Ok(name.clone())
                    })
                    .await?;
                self.deregister_unused(&name, Some(&revision)).await?;
                id
            }
        };
        let observed = self
            .sim
            .look(|world| world.resources.get(&id).map(|r| self.observed(&id, r, world)))
            .await?
            .ok_or_else(|| DriverError::invalid("created, then gone"))?;
        Ok(observed)
    }

    async fn update(
        &self,
        prior: &ExistingResource<'_>,
        request: &ResourceRequest<'_>,
        changes: &[FieldChange],
        _progress: &dyn ProgressSink,
    ) -> Result<Observed, DriverError> {
        self.take_the_time(Action::Update).await;
        let id = prior.id.to_string();
        let changed = |field: &str| changes.iter().any(|c| c.path == field);
        if self.kind == Kind::Service && (changed("image") || changed("unused_revisions")) {
            let family = id.clone();
            let revision = if changed("image") { Some(self.register_revision(&family).await?) } else { None };
            let inputs = request.inputs.clone();
            let current = self
                .sim
                .mutate(|world| {
                    let resource = world.resources.get_mut(&id).ok_or_else(|| DriverError::invalid("gone"))?;
                    if let Some(revision) = &revision {
                        resource.inputs.insert("revision".into(), json!(revision));
                    }
                    for field in ["image", "group"] {
                        if let Some(value) = inputs.get(field) {
                            resource.inputs.insert(field.into(), value.clone());
                        }
                    }
                    Ok(resource.inputs.get("revision").and_then(Json::as_str).unwrap_or_default().to_string())
                })
                .await?;
            self.deregister_unused(&family, Some(&current)).await?;
        } else {
            let inputs = request.inputs.clone();
            let tags = request.tags.clone();
            let policy_wanted = request.inputs.get("policy") == Some(&json!(true));
            self.sim
                .mutate(|world| {
                    let resource = world.resources.get_mut(&id).ok_or_else(|| DriverError::invalid("gone"))?;
                    for (key, value) in &inputs {
                        if key != "unused_revisions" {
                            resource.inputs.insert(key.clone(), value.clone());
                        }
                    }
                    resource.tags = tags;
                    Ok(())
                })
                .await?;
            if self.kind == Kind::Bucket && changed("policy") {
                let part = format!("policy:{id}");
                self.sim
                    .mutate(|world| {
                        if policy_wanted {
                            world.parts.insert(part, Part { kind: "policy", owner: id.clone() });
                        } else {
                            world.parts.remove(&part);
                        }
                        Ok(())
                    })
                    .await?;
            }
        }
        let observed = self
            .sim
            .look(|world| world.resources.get(prior.id).map(|r| self.observed(prior.id, r, world)))
            .await?
            .ok_or_else(|| DriverError::invalid("updated, then gone"))?;
        Ok(observed)
    }

    async fn delete(&self, resource: &ExistingResource<'_>, _progress: &dyn ProgressSink) -> Result<(), DriverError> {
        self.take_the_time(Action::Delete).await;
        let id = resource.id.to_string();
        if self.kind == Kind::Bucket {
            let part = format!("policy:{id}");
            self.sim
                .mutate(|world| {
                    world.parts.remove(&part);
                    Ok(())
                })
                .await?;
        }
        let removed = self.sim.mutate(|world| Ok(world.resources.remove(&id))).await?;
        match self.kind {
            // Its control goes with it, even when the distribution itself was gone already.
            Kind::Distribution => {
                let recorded = resource.attributes.get("oac").and_then(Json::as_str).map(str::to_string);
                let control = removed
                    .as_ref()
                    .and_then(|r| r.inputs.get("oac").and_then(Json::as_str).map(str::to_string))
                    .or(recorded)
                    .unwrap_or_default();
                self.sim
                    .mutate(|world| {
                        world.parts.remove(&control);
                        Ok(())
                    })
                    .await?;
            }
            Kind::Service => self.deregister_unused(&id, None).await?,
            _ => {}
        }
        Ok(())
    }

    async fn find_interrupted(
        &self,
        _stack: &StackInfo,
        _address: &Address,
        intended_id: &str,
    ) -> Result<Option<String>, DriverError> {
        // Named resources by their name, distributions by their token: both are the intent.
        let kind = self.kind_name();
        self.sim.look(|world| world.by_name(kind, intended_id)).await
    }
}

/// The fake cloud: the fake drivers over one simulation.
pub struct FakeCloud {
    sim: Arc<Simulation>,
    drivers: DriverRegistry,
    /// The region the run is set for; the account's resources are in us-east-1.
    region: String,
}

impl FakeCloud {
    pub fn new(sim: Arc<Simulation>) -> FakeCloud {
        FakeCloud::in_region(sim, "us-east-1")
    }

    /// A cloud whose configuration names `region` (a wrong `AWS_REGION`, say).
    pub fn in_region(sim: Arc<Simulation>, region: &str) -> FakeCloud {
        let driver = |kind| -> Arc<dyn Driver> { Arc::new(FakeDriver { kind, sim: sim.clone() }) };
        let drivers = DriverRegistry::new(vec![
            driver(Kind::Bucket),
            driver(Kind::Distribution),
            driver(Kind::Service),
            driver(Kind::Group),
        ]);
        FakeCloud { sim, drivers, region: region.to_string() }
    }
}

#[async_trait]
impl Cloud for FakeCloud {
    fn drivers(&self) -> &DriverRegistry {
        &self.drivers
    }

    async fn region(&self) -> Result<String, DriverError> {
        Ok(self.region.clone())
    }

    async fn identity(&self) -> Result<Identity, DriverError> {
        self.sim.look(|_| Identity { region: "us-east-1".into(), account: "000000000000".into() }).await
    }

    async fn network(&self, _spec: &NetworkSpec) -> Result<Network, DriverError> {
        Ok(Network { vpc_id: "vpc-1".into(), subnet_ids: vec!["subnet-1".into()], ..Network::default() })
    }

    async fn tagged(&self, stack: &str) -> Result<Vec<TaggedResource>, DriverError> {
        self.sim
            .look(|world| {
                world
                    .resources
                    .values()
                    .filter(|r| r.tags.get("provision:stack").map(String::as_str) == Some(stack))
                    .map(|r| TaggedResource { arn: r.name.clone(), tags: r.tags.clone() })
                    .collect()
            })
            .await
    }
}
