//! `db_instance`: an RDS database (MySQL, MariaDB or PostgreSQL).
//!
//! A database holds data no other resource does, so this driver leans towards keeping it: a delete
//! takes a final snapshot unless the stack says `skip_final_snapshot`, an instance with deletion
//! protection is refused rather than unprotected behind the user's back, and the plan says when a
//! change would replace the database or wait for the maintenance window.
//!
//! The master password is a secret field: the state and the plan only hold its salted hash, and
//! the clear value, handed over in `request.secrets`, goes only into the create or modify call that
//! sets it. A changed hash is what tells the planner the password changed. With
//! `manage_password = true` RDS keeps the password in Secrets Manager instead, and the secret's ARN
//! is the `master_secret_arn` attribute.
//!
//! Refresh describes all instances of the stack with one DescribeDBInstances call (a
//! `db-instance-id` filter of up to 100 identifiers); its answer carries the tags too.

mod api;
mod config;
mod observation;
pub(crate) mod tags;
mod waiting;

use std::collections::BTreeSet;

use async_trait::async_trait;
use serde_json::Value as Json;

use self::config::{InstanceConfig, ENGINES};
use crate::behaviours::adopt;
use crate::context::AwsContext;
use crate::drivers::{
    AwsDriver, DriverError, ExistingResource, FieldChange, Observed, ProgressSink, ResourceRequest, StackInfo,
};
use provision_core::address::Address;
use provision_core::plan::Action;
use provision_core::schema::{self, FieldKind, FieldSpec, ResourceSchema};
use provision_core::value::{JsonMap, Value};

pub struct InstanceDriver;

static SCHEMA: ResourceSchema = ResourceSchema {
    type_name: "db_instance",
    description: "An RDS database instance (MySQL, MariaDB or PostgreSQL) with its master user.",
    fields: &[
        FieldSpec::new("identifier", FieldKind::String, "The instance identifier, lowercase.")
            .default(schema::Default::AwsName { max_len: 63 })
            .forces_replacement()
            .check(config::check_identifier),
        FieldSpec::new("engine", FieldKind::Enum(ENGINES), "The database engine.")
            .default(schema::Default::Str("mysql"))
            .forces_replacement(),
        FieldSpec::new(
            "engine_version",
            FieldKind::String,
            "The engine version, e.g. `\"8.0\"` (any 8.0 release) or `\"8.0.35\"`; RDS's default when left out.",
        ),
        FieldSpec::new("instance_class", FieldKind::String, "The instance class (CPU and memory).")
            .default(schema::Default::Str("db.t3.micro")),
        FieldSpec::new("allocated_storage", FieldKind::Int, "Storage in GiB.").default(schema::Default::Int(20)),
        FieldSpec::new(
            "max_allocated_storage",
            FieldKind::Int,
            "Lets RDS grow the storage by itself up to this many GiB (storage autoscaling).",
        ),
        FieldSpec::new("storage_encrypted", FieldKind::Bool, "Encrypt the storage (with the AWS managed key).")
            .default(schema::Default::Bool(true))
            .forces_replacement(),
        FieldSpec::new("db_name", FieldKind::String, "A database to create in the instance.").forces_replacement(),
        FieldSpec::new("username", FieldKind::String, "The master user's name.")
            .default(schema::Default::Str("admin"))
            .forces_replacement(),
        FieldSpec::new(
            "password",
            FieldKind::Secret,
            "The master password, from the environment: `{ env = \"DB_PASSWORD\" }`. Only a salted hash is stored.",
        )
        .sensitive(),
        FieldSpec::new(
            "manage_password",
            FieldKind::Bool,
            "Let RDS generate the master password and keep it in Secrets Manager (instead of `password`).",
        )
        .default(schema::Default::Bool(false)),
        FieldSpec::new("multi_az", FieldKind::Bool, "Keep a standby copy in another availability zone.")
            .default(schema::Default::Bool(false)),
        FieldSpec::new(
            "subnet_group",
            FieldKind::String,
            "The DB subnet group name, usually `\"${db_subnet_group.NAME.name}\"`.",
        ),
        FieldSpec::new("security_groups", FieldKind::StringList, "VPC security group ids.")
            .default(schema::Default::EmptyList),
        FieldSpec::new("publicly_accessible", FieldKind::Bool, "Give the database a public address.")
            .default(schema::Default::Bool(false)),
        FieldSpec::new("backup_retention_days", FieldKind::Int, "Days of automated backups to keep, 0 to 35.")
            .default(schema::Default::Int(7)),
        FieldSpec::new("deletion_protection", FieldKind::Bool, "Refuse to delete the database while set.")
            .default(schema::Default::Bool(false)),
        FieldSpec::new(
            "skip_final_snapshot",
            FieldKind::Bool,
            "Delete without taking a final snapshot (`<identifier>-final-<time>`) first.",
        )
        .default(schema::Default::Bool(false)),
        FieldSpec::new(
            "apply_immediately",
            FieldKind::Bool,
            "Apply changes now rather than in the next maintenance window.",
        )
        .default(schema::Default::Bool(false)),
        FieldSpec::new(
            "port",
            FieldKind::Int,
            "The port the database listens on; 3306 (MySQL, MariaDB) or 5432 (PostgreSQL) when left out.",
        ),
    ],
    attributes: &["identifier", "arn", "address", "port", "endpoint", "master_secret_arn"],
    taggable: true,
    derived: &[],
    create_before_destroy: false,
};

const REPLACE_NOTE: &str =
    "replacing a database deletes it and all its data (a final snapshot is taken unless skip_final_snapshot)";
const DEFERRED_NOTE: &str = "changes to the instance wait for the next maintenance window (apply_immediately = false)";

#[async_trait]
impl AwsDriver for InstanceDriver {
    fn schema(&self) -> &'static ResourceSchema {
        &SCHEMA
    }

    /// AWS: a db.t3.micro is `creating` ~5 min, then `backing-up` ~2; a change ~2, a delete ~4
    /// (`rds.instance-lifecycle`).
    fn typical_durations(&self) -> super::TypicalDurations {
        super::TypicalDurations::seconds(420, 120, 240)
    }

    fn check(&self, inputs: &std::collections::BTreeMap<String, Value>) -> Vec<crate::drivers::Problem> {
        config::check(inputs)
    }

    fn plan_notes(&self, action: Action, inputs: &JsonMap, changed: &[&str]) -> Vec<String> {
        let applies_now = inputs.get("apply_immediately").and_then(Json::as_bool).unwrap_or(false);
        // Tags and provision-side settings apply at once, whatever the maintenance window.
        let immediate = ["tags", "apply_immediately", "skip_final_snapshot", "deletion_protection"];
        let waits = changed.iter().any(|field| !immediate.contains(field));
        match action {
            Action::Replace => vec![REPLACE_NOTE.to_string()],
            Action::Update if !applies_now && waits => vec![DEFERRED_NOTE.to_string()],
            _ => Vec::new(),
        }
    }

    fn prepare(&self, _stack: &StackInfo, inputs: &mut JsonMap) -> Result<(), DriverError> {
        if let Some(Json::Array(groups)) = inputs.get_mut("security_groups") {
            groups.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
        }
        let engine = inputs.get("engine").and_then(Json::as_str).map(config::default_port);
        if let (Some(port), None | Some(Json::Null)) = (engine, inputs.get("port")) {
            inputs.insert("port".into(), port.into());
        }
        Ok(())
    }

    fn planned_attributes(&self, _stack: &StackInfo, inputs: &JsonMap) -> JsonMap {
        let mut attributes = JsonMap::new();
        for (attribute, field) in [("identifier", "identifier"), ("port", "port")] {
            if let Some(value) = inputs.get(field).filter(|value| !value.is_null()) {
                attributes.insert(attribute.into(), value.clone());
            }
        }
        if inputs.get("manage_password").and_then(Json::as_bool) == Some(false) {
            attributes.insert("master_secret_arn".into(), "".into());
        }
        attributes
    }

    async fn import_id(&self, _aws: &AwsContext, id: &str) -> Result<String, DriverError> {
        let id = id.rsplit(":db:").next().unwrap_or(id);
        if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(DriverError::invalid(format!("`{id}` is not a DB instance identifier"))
                .with_hint("import a database by its identifier, e.g. `shop-main` (or its ARN)"));
        }
        Ok(id.to_ascii_lowercase())
    }

    fn id_from_arn(&self, arn: &str) -> Option<String> {
        // Final snapshots carry the instance's tags too; they are not instances.
        arn.split_once(":db:").map(|(_, id)| id.to_string())
    }

    fn intended_id(&self, request: &ResourceRequest<'_>) -> String {
        request.inputs.get("identifier").and_then(Json::as_str).unwrap_or_default().to_string()
    }

    async fn read(
        &self,
        aws: &AwsContext,
        _stack: &StackInfo,
        resources: &[ExistingResource<'_>],
    ) -> Vec<Result<Option<Observed>, DriverError>> {
        if resources.is_empty() {
            return Vec::new();
        }
        let identifiers: Vec<String> = resources.iter().map(|resource| resource.id.to_ascii_lowercase()).collect();
        let found = match api::describe_many(aws.rds(), &identifiers).await {
            Ok(found) => found,
            Err(error) => return resources.iter().map(|_| Err(error.clone())).collect(),
        };
        resources
            .iter()
            .zip(&identifiers)
            .map(|(resource, identifier)| {
                Ok(found.get(identifier).map(|instance| observation::observe(instance, resource.inputs)))
            })
            .collect()
    }

    async fn create(
        &self,
        aws: &AwsContext,
        request: &ResourceRequest<'_>,
        progress: &dyn ProgressSink,
    ) -> Result<Observed, DriverError> {
        let config = InstanceConfig::from_inputs(request.inputs)?;
        let password = if config.manage_password { None } else { Some(master_password(request)?) };
        let rds = aws.rds();
        let created = match api::create(rds, &config, request.tags, password).await {
            Ok(created) => created,
            // The SDK's retry of a create whose answer was lost meets the instance it made
            // (`any.response-lost`): that one carries this stack's and address's tags.
            Err(error) if adopt::ALREADY_EXISTS.matches(&error) => {
                let existing = api::describe(rds, &config.identifier).await?;
                match existing {
                    Some(instance)
                        if adopt::made_by(
                            &tags::from_rds(instance.tag_list()),
                            &request.stack.name,
                            request.address,
                        ) && instance.db_instance_status() != Some("deleting") =>
                    {
                        instance
                    }
                    _ => {
                        let (id, kind) = (&config.identifier, "database instance");
                        return Err(adopt::name_taken(error, request.address, kind, id, id));
                    }
                }
            }
            Err(error) => return Err(emulator_hint(aws, &config, error).await),
        };
        let instance = waiting::until_available(rds, request.address, created, false, progress).await?;
        Ok(observation::observe(&instance, request.inputs))
    }

    async fn update(
        &self,
        aws: &AwsContext,
        prior: &ExistingResource<'_>,
        request: &ResourceRequest<'_>,
        changes: &[FieldChange],
        progress: &dyn ProgressSink,
    ) -> Result<Observed, DriverError> {
        let config = InstanceConfig::from_inputs(request.inputs)?;
        let changed = changed_fields(changes);
        let sets_password = changed.contains("password") || changed.contains("manage_password");
        let password = if sets_password && !config.manage_password { Some(master_password(request)?) } else { None };
        let rds = aws.rds();
        let modified = api::modify(rds, prior.id, &config, &changed, password).await?;
        let instance = match modified {
            Some(instance) if config.apply_immediately => {
                waiting::until_available(rds, request.address, instance, true, progress).await?
            }
            Some(instance) => instance,
            None => api::describe(rds, prior.id)
                .await?
                .ok_or_else(|| DriverError::invalid(format!("database `{}` no longer exists", prior.id)))?,
        };
        let mut observed = observation::observe(&instance, request.inputs);
        if changed.contains("tags") {
            let arn = instance.db_instance_arn().unwrap_or_default();
            tags::sync(rds, arn, prior.inputs, request.tags).await?;
            // The instance was described before its tags changed.
            observed.inputs.insert("tags".into(), tags::user_tags(request.tags));
        }
        Ok(observed)
    }

    async fn delete(
        &self,
        aws: &AwsContext,
        resource: &ExistingResource<'_>,
        progress: &dyn ProgressSink,
    ) -> Result<(), DriverError> {
        let rds = aws.rds();
        let identifier = resource.id;
        let Some(instance) = api::describe(rds, identifier).await? else { return Ok(()) };
        if instance.deletion_protection() == Some(true) {
            return Err(protected_error(identifier));
        }
        if instance.db_instance_status() != Some("deleting") {
            let skip = resource.inputs.get("skip_final_snapshot").and_then(Json::as_bool).unwrap_or(false);
            let snapshot = (!skip).then(|| config::final_snapshot_identifier(identifier, chrono::Utc::now()));
            // An instance still `creating`, `backing-up` or `modifying` is refused until that step
            // ends (`rds.instance-lifecycle`).
            let deleted = crate::behaviours::rds::INSTANCE_DELETE
                .run_reporting(resource.address, progress, || api::delete(rds, identifier, snapshot.clone()))
                .await;
            match deleted {
                // Protection switched on since the look above.
                Err(error) if error.code_is("InvalidParameterCombination") && error.message.contains("protect") => {
                    return Err(protected_error(identifier));
                }
                other => other?,
            }
        }
        waiting::until_gone(rds, resource.address, identifier, progress).await
    }

    async fn find_interrupted(
        &self,
        aws: &AwsContext,
        stack: &StackInfo,
        address: &Address,
        intended_id: &str,
    ) -> Result<Option<String>, DriverError> {
        let Some(instance) = api::describe(aws.rds(), intended_id).await? else { return Ok(None) };
        if !tags::made_by_stack(&tags::from_rds(instance.tag_list()), &stack.name) {
            return Ok(None);
        }
        // A create killed during its wait leaves the instance `creating`, without the endpoint that
        // what references it reads (a service's `DB_HOST`): the wait the create would have made is
        // finished here, so the instance is taken over as a completed create leaves it, never with
        // an empty address (`rds.instance-lifecycle`).
        let instance = waiting::until_available(aws.rds(), address, instance, false, &super::LoggedProgress).await?;
        Ok(Some(instance.db_instance_identifier().unwrap_or(intended_id).to_string()))
    }
}

/// The clear master password, which the engine hands over only with the request.
fn master_password<'a>(request: &'a ResourceRequest<'_>) -> Result<&'a str, DriverError> {
    request.secrets.get("password").map(String::as_str).ok_or_else(|| {
        DriverError::invalid(format!("`{}` has no master password", request.address))
            .with_hint("set `password = { env = \"DB_PASSWORD\" }`, or `manage_password = true`")
    })
}

/// moto 5.1.22 knows no default MariaDB version: without `engine_version` its create fails with an
/// HTTP 500 page (no AWS error code). AWS picks its default version and never answers like that.
async fn emulator_hint(aws: &AwsContext, config: &InstanceConfig, error: DriverError) -> DriverError {
    let versionless_mariadb = config.engine == "mariadb" && config.engine_version.is_none();
    if versionless_mariadb && error.code.is_none() && aws.is_emulator().await {
        error.with_hint("the local emulator needs `engine_version` for MariaDB, e.g. \"10.11\"")
    } else {
        error
    }
}

fn protected_error(identifier: &str) -> DriverError {
    DriverError::invalid(format!("database `{identifier}` has deletion protection, so it was not deleted"))
        .with_hint("set `deletion_protection = false`, run `provision apply`, then destroy")
}

/// The top-level fields that really changed: a field that is null on one side and missing on the
/// other is no change.
fn changed_fields(changes: &[FieldChange]) -> BTreeSet<&str> {
    let present = |value: &Option<Json>| value.as_ref().filter(|value| !value.is_null()).cloned();
    changes
        .iter()
        .filter(|change| present(&change.before) != present(&change.after))
        .map(|change| change.path.split(['.', '[']).next().unwrap_or(&change.path))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs(json: Json) -> JsonMap {
        json.as_object().cloned().expect("an object")
    }

    fn stack() -> StackInfo {
        StackInfo { name: "shop".into(), region: "us-east-1".into(), directory: ".".into(), lineage: None }
    }

    #[test]
    fn replacing_warns_about_the_data() {
        let notes = InstanceDriver.plan_notes(Action::Replace, &inputs(serde_json::json!({})), &["engine"]);
        assert_eq!(notes, [REPLACE_NOTE]);
        assert!(notes[0].contains("skip_final_snapshot"));
    }

    #[test]
    fn deferred_updates_say_they_wait_for_the_maintenance_window() {
        let later = inputs(serde_json::json!({ "apply_immediately": false }));
        assert_eq!(InstanceDriver.plan_notes(Action::Update, &later, &["instance_class"]), [DEFERRED_NOTE]);
        assert!(InstanceDriver.plan_notes(Action::Update, &later, &["tags"]).is_empty(), "tags apply at once");
        let now = inputs(serde_json::json!({ "apply_immediately": true }));
        assert!(InstanceDriver.plan_notes(Action::Update, &now, &["instance_class"]).is_empty());
        assert!(InstanceDriver.plan_notes(Action::Create, &later, &[]).is_empty());
        assert!(InstanceDriver.plan_notes(Action::Delete, &later, &[]).is_empty());
    }

    #[test]
    fn prepare_fills_the_engine_port_and_sorts_security_groups() {
        let mut postgres = inputs(serde_json::json!({ "engine": "postgres", "security_groups": ["sg-b", "sg-a"] }));
        InstanceDriver.prepare(&stack(), &mut postgres).expect("prepare");
        assert_eq!(postgres["port"], 5432);
        assert_eq!(postgres["security_groups"], serde_json::json!(["sg-a", "sg-b"]));

        let mut mysql = inputs(serde_json::json!({ "engine": "mysql", "port": Json::Null }));
        InstanceDriver.prepare(&stack(), &mut mysql).expect("prepare");
        assert_eq!(mysql["port"], 3306);

        let mut own_port = inputs(serde_json::json!({ "engine": "mysql", "port": 3307 }));
        InstanceDriver.prepare(&stack(), &mut own_port).expect("prepare");
        assert_eq!(own_port["port"], 3307);
    }

    #[test]
    fn planned_attributes_come_from_the_inputs() {
        let planned = InstanceDriver.planned_attributes(
            &stack(),
            &inputs(serde_json::json!({ "identifier": "shop-db", "port": 3306, "manage_password": false })),
        );
        assert_eq!(planned["identifier"], "shop-db");
        assert_eq!(planned["port"], 3306);
        assert_eq!(planned["master_secret_arn"], "");
        assert!(!planned.contains_key("address"));
    }

    #[test]
    fn the_password_hash_changing_is_a_change_and_null_is_none() {
        let change =
            |path: &str, before: Option<Json>, after: Option<Json>| FieldChange { path: path.into(), before, after };
        let changes = [
            change("password", Some("sha256:a:1".into()), Some("sha256:a:2".into())),
            change("max_allocated_storage", Some(Json::Null), None),
            change("tags", None, Some(serde_json::json!({ "team": "data" }))),
        ];
        assert_eq!(changed_fields(&changes), BTreeSet::from(["password", "tags"]));
    }

    #[test]
    fn the_deletion_protection_refusal_says_how_to_proceed() {
        let error = protected_error("shop-db");
        assert!(error.message.contains("deletion protection"));
        assert_eq!(
            error.hint.as_deref(),
            Some("set `deletion_protection = false`, run `provision apply`, then destroy")
        );
    }
}
