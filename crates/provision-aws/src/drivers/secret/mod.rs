//! `secret`: a Secrets Manager secret whose value provision never keeps.
//!
//! The value is either given, `value = { env = "VAR" }` (a secret field: the state and the plan
//! hold only its salted hash, and a changed hash is a `PutSecretValue` in place), or generated:
//! `generate = { length = 32, exclude = "\"@/\\" }` asks Secrets Manager for a random password
//! (`GetRandomPassword`) when the secret is created, hands it straight to `CreateSecret`, and forgets
//! it. Later plans never generate again: only a create (or `--replace`) makes a new value.
//!
//! The name is deterministic (`<stack>-<name>`), so a create killed mid-call is found again by name.
//! A deleted secret waits `recovery_days` before it is gone, keeping its name: a create that meets
//! this stack's own secret scheduled for deletion restores it and gives it the new value; someone
//! else's is reported with the commands that free the name.
//!
//! A refresh lists the stack's secrets with `ListSecrets` (a name filter of up to 10 names a call;
//! the answer carries description and tags). The state id is the secret's ARN.

mod api;

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::Value as Json;

use crate::context::AwsContext;
use crate::drivers::{
    AwsDriver, DriverError, ExistingResource, FieldChange, Observed, Problem, ProgressSink, ResourceRequest, StackInfo,
};
use provision_core::address::Address;
use provision_core::plan::Action;
use provision_core::schema::{self, FieldKind, FieldSpec, ResourceSchema};
use provision_core::value::{JsonMap, Value};

pub struct SecretDriver;

/// What `generate` makes when the stack file leaves a setting out.
pub const DEFAULT_LENGTH: i64 = 32;
pub const DEFAULT_EXCLUDE: &str = "\"@/\\";

static GENERATE_FIELDS: &[FieldSpec] = &[
    FieldSpec::new("length", FieldKind::Int, "How many characters (default 32)"),
    FieldSpec::new(
        "exclude",
        FieldKind::String,
        "Characters the value must not contain (default `\"@/\\`, which connection strings trip over)",
    ),
];

static SCHEMA: ResourceSchema = ResourceSchema {
    type_name: "secret",
    description: "A Secrets Manager secret: a value from the environment, or one generated once and never shown.",
    fields: &[
        FieldSpec::new("name", FieldKind::String, "The secret's name")
            .default(schema::Default::AwsName { max_len: 512 })
            .forces_replacement()
            .check(check_name),
        FieldSpec::new(
            "value",
            FieldKind::Secret,
            "The value, from the environment: `{ env = \"VARIABLE\" }`. Only a salted hash is stored.",
        )
        .sensitive(),
        FieldSpec::new(
            "generate",
            FieldKind::Table(GENERATE_FIELDS),
            "Generate a random value once, when the secret is created (instead of `value`); it is never shown \
             or stored by provision",
        ),
        FieldSpec::new("description", FieldKind::String, "A description shown in the Secrets Manager console"),
        FieldSpec::new(
            "recovery_days",
            FieldKind::Int,
            "Days a deleted secret can still be restored (7 to 30); `0` deletes it at once",
        )
        .default(schema::Default::Int(7)),
    ],
    attributes: &["name", "arn"],
    taggable: true,
    derived: &[],
    create_before_destroy: false,
};

/// Secrets Manager's rules for a secret name.
fn check_name(name: &str) -> Result<(), String> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || "/_+=.@-".contains(c);
    let problem = if name.is_empty() || name.len() > 512 {
        Some("must be 1 to 512 characters long")
    } else if !name.chars().all(allowed) {
        Some("may contain only letters, digits and `/_+=.@-`")
    } else {
        None
    };
    match problem {
        Some(problem) => Err(format!("secret name `{name}` {problem}")),
        None => Ok(()),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct GenerateConfig {
    pub length: Option<i64>,
    pub exclude: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(super) struct SecretConfig {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub generate: Option<GenerateConfig>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default = "default_recovery")]
    pub recovery_days: i64,
}

fn default_recovery() -> i64 {
    7
}

impl SecretConfig {
    fn from_inputs(inputs: &JsonMap) -> Result<SecretConfig, DriverError> {
        serde_json::from_value(provision_core::value::without_nulls(&Json::Object(inputs.clone())))
            .map_err(|error| DriverError::invalid(format!("invalid `secret` inputs: {error}")))
    }
}

/// What the new secret holds: the given value, or a generated one.
async fn initial_value(aws: &AwsContext, request: &ResourceRequest<'_>) -> Result<String, DriverError> {
    if let Some(value) = request.secrets.get("value") {
        return Ok(value.clone());
    }
    let config = SecretConfig::from_inputs(request.inputs)?;
    let generate = config.generate.ok_or_else(|| {
        DriverError::invalid("the secret has neither `value` nor `generate`")
            .with_hint("set `value = { env = \"VARIABLE\" }` or `generate = { length = 32 }`")
    })?;
    api::random_password(aws.secretsmanager(), &generate).await
}

#[async_trait]
impl AwsDriver for SecretDriver {
    fn schema(&self) -> &'static ResourceSchema {
        &SCHEMA
    }

    /// An adopted secret keeps the value it has: `generate` is what says "never set it" (it is
    /// generated only when provision creates the secret).
    fn import_defaults(&self) -> JsonMap {
        let mut defaults = JsonMap::new();
        defaults.insert("generate".into(), serde_json::json!({ "length": 32 }));
        defaults
    }

    fn check(&self, inputs: &BTreeMap<String, Value>) -> Vec<Problem> {
        let mut problems = Vec::new();
        let set = |name: &str| inputs.get(name).is_some_and(|value| !matches!(value, Value::Null));
        match (set("value"), set("generate")) {
            (true, true) => problems.push(
                Problem::error("generate", "a secret takes either `value` or `generate`, not both")
                    .hint("remove `generate` to store the value from the environment, or `value` to generate one"),
            ),
            (false, false) => problems.push(
                Problem::error("value", "a secret needs a value")
                    .hint("set `value = { env = \"VARIABLE\" }`, or `generate = { length = 32 }` to generate one"),
            ),
            _ => {}
        }
        if let Some(Value::Map(generate)) = inputs.get("generate") {
            if let Some(Value::Int(length)) = generate.get("length").filter(|l| !matches!(l, Value::Int(4..=4096))) {
                problems.push(Problem::error(
                    "generate",
                    format!("`generate.length` {length} is outside 4..=4096 (what Secrets Manager generates)"),
                ));
            }
        }
        if let Some(Value::Int(days)) = inputs.get("recovery_days").filter(|d| !matches!(d, Value::Int(0 | 7..=30))) {
            problems
                .push(Problem::error("recovery_days", format!("`recovery_days` {days} is not 0 or 7 to 30")).hint(
                    "Secrets Manager keeps a deleted secret restorable for 7 to 30 days; `0` deletes it at once",
                ));
        }
        problems
    }

    fn plan_notes(&self, action: Action, inputs: &JsonMap, changed: &[&str]) -> Vec<String> {
        let generated = inputs.get("generate").is_some_and(|g| !g.is_null()) && !inputs.contains_key("value");
        let mut notes = Vec::new();
        if action == Action::Update && changed.contains(&"generate") && !changed.contains(&"value") {
            notes.push(
                "the secret keeps its value: `generate` only applies when it is created (`--replace` makes a new one)"
                    .to_string(),
            );
        }
        if action == Action::Replace && generated {
            notes.push("the new secret gets a newly generated value".to_string());
        }
        notes
    }

    fn planned_attributes(&self, _stack: &StackInfo, inputs: &JsonMap) -> JsonMap {
        let mut attributes = JsonMap::new();
        if let Some(name) = inputs.get("name").and_then(Json::as_str) {
            attributes.insert("name".into(), name.into());
        }
        attributes
    }

    async fn import_id(&self, aws: &AwsContext, id: &str) -> Result<String, DriverError> {
        if id.is_empty() {
            return Err(DriverError::invalid("an empty secret name").with_hint("import a secret by its name or ARN"));
        }
        match api::describe(aws.secretsmanager(), id).await? {
            Some(found) if found.deleted_date().is_none() => Ok(found.arn().unwrap_or(id).to_string()),
            Some(_) => Err(DriverError::invalid(format!("secret `{id}` is scheduled for deletion"))
                .with_hint(format!("restore it first: `aws secretsmanager restore-secret --secret-id {id}`"))),
            None => Err(DriverError::invalid(format!("no secret `{id}` exists"))
                .with_hint("import a secret by its name or ARN")),
        }
    }

    fn id_from_arn(&self, arn: &str) -> Option<String> {
        arn.contains(":secret:").then(|| arn.to_string())
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
        let names: Vec<String> = resources.iter().map(|resource| recorded_name(resource).to_string()).collect();
        let listed = match api::list_by_name(aws, &names).await {
            Ok(listed) => listed,
            Err(error) => return resources.iter().map(|_| Err(error.clone())).collect(),
        };
        resources
            .iter()
            .zip(&names)
            .map(|(resource, name)| {
                // A secret of the same name with another ARN is not the one provision made.
                let found = listed.get(name).filter(|entry| entry.arn == resource.id || !resource.id.contains(':'));
                Ok(found.map(api::Listed::observed))
            })
            .collect()
    }

    async fn create(
        &self,
        aws: &AwsContext,
        request: &ResourceRequest<'_>,
        _progress: &dyn ProgressSink,
    ) -> Result<Observed, DriverError> {
        let config = SecretConfig::from_inputs(request.inputs)?;
        let client = aws.secretsmanager();
        let value = initial_value(aws, request).await?;
        let error = match api::create(client, &config, &value, request.tags).await {
            Ok(arn) => return Ok(observed(&config.name, &arn)),
            Err(error) => error,
        };
        // The name is taken: by a secret waiting out its recovery window (AWS answers
        // InvalidRequestException, the emulator ResourceExistsException), or by a live one.
        let taken = error.code_is("ResourceExistsException") || error.code_is("InvalidRequestException");
        let existing = if taken { api::describe(client, &config.name).await? } else { None };
        match existing {
            Some(found) if found.deleted_date().is_some() => {
                let arn = api::restore_own(client, request, &found).await?;
                api::put_value(client, &arn, &value).await?;
                api::update_description(client, &arn, config.description.as_deref()).await?;
                api::sync_tags(client, &arn, &JsonMap::new(), request.tags).await?;
                Ok(observed(&config.name, &arn))
            }
            Some(_) if error.code_is("ResourceExistsException") => {
                Err(DriverError { message: format!("a secret named `{}` already exists", config.name), ..error }
                    .with_hint(format!(
                        "adopt it with `provision import {} {}`, or set `name` to another one",
                        request.address, config.name
                    )))
            }
            _ => Err(error),
        }
    }

    async fn update(
        &self,
        aws: &AwsContext,
        prior: &ExistingResource<'_>,
        request: &ResourceRequest<'_>,
        changes: &[FieldChange],
        _progress: &dyn ProgressSink,
    ) -> Result<Observed, DriverError> {
        let config = SecretConfig::from_inputs(request.inputs)?;
        let client = aws.secretsmanager();
        let changed = changed_fields(changes);
        let arn = prior.id;
        if changed.contains("value") {
            match request.secrets.get("value") {
                Some(value) => api::put_value(client, arn, value).await?,
                // A new value the run was not handed is an error, never a change skipped in silence.
                None if request.inputs.get("value").is_some_and(|v| !v.is_null()) => {
                    return Err(DriverError::invalid(format!(
                        "`{}.value` changed but its new value was not given to provision",
                        request.address
                    ))
                    .with_hint("set the environment variable or `--var` the stack file names for it"))
                }
                None => {}
            }
        }
        if changed.contains("description") {
            api::update_description(client, arn, config.description.as_deref()).await?;
        }
        if changed.contains("tags") {
            api::sync_tags(client, arn, prior.inputs, request.tags).await?;
        }
        Ok(observed(&config.name, arn))
    }

    async fn delete(
        &self,
        aws: &AwsContext,
        resource: &ExistingResource<'_>,
        _progress: &dyn ProgressSink,
    ) -> Result<(), DriverError> {
        // Unreadable inputs keep the default recovery window rather than deleting at once.
        let recovery_days = SecretConfig::from_inputs(resource.inputs).map(|c| c.recovery_days).unwrap_or(7);
        api::delete(aws.secretsmanager(), resource.id, recovery_days).await
    }

    async fn find_interrupted(
        &self,
        aws: &AwsContext,
        stack: &StackInfo,
        address: &Address,
        intended_id: &str,
    ) -> Result<Option<String>, DriverError> {
        let Some(found) = api::describe(aws.secretsmanager(), intended_id).await? else { return Ok(None) };
        let ours = api::made_by(found.tags(), stack, address) && found.deleted_date().is_none();
        Ok(ours.then(|| found.arn().unwrap_or(intended_id).to_string()))
    }
}

/// The name the state recorded: the `name` input, else the part of the ARN before its suffix.
fn recorded_name<'a>(resource: &'a ExistingResource<'_>) -> &'a str {
    if let Some(name) = resource.inputs.get("name").and_then(Json::as_str).filter(|name| !name.is_empty()) {
        return name;
    }
    api::name_from_arn(resource.id).unwrap_or(resource.id)
}

fn observed(name: &str, arn: &str) -> Observed {
    let mut attributes = JsonMap::new();
    attributes.insert("name".into(), name.into());
    attributes.insert("arn".into(), arn.into());
    Observed { id: arn.to_string(), inputs: JsonMap::new(), attributes }
}

/// The top-level fields that really changed: null on one side and missing on the other is none.
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

    fn values(json: Json) -> BTreeMap<String, Value> {
        match Value::from_json(&json) {
            Value::Map(map) => map,
            _ => panic!("an object"),
        }
    }

    #[test]
    fn a_secret_takes_a_value_or_generates_one() {
        let both = SecretDriver.check(&values(serde_json::json!({ "value": "sha256:x", "generate": {} })));
        assert_eq!(both.len(), 1);
        assert!(both[0].message.contains("not both"));
        let neither = SecretDriver.check(&values(serde_json::json!({ "recovery_days": 7 })));
        assert_eq!(neither[0].field, "value");
        assert!(SecretDriver.check(&values(serde_json::json!({ "generate": { "length": 32 } }))).is_empty());
        assert!(SecretDriver.check(&values(serde_json::json!({ "value": "sha256:x" }))).is_empty());
    }

    #[test]
    fn limits_are_checked_offline() {
        let short = SecretDriver.check(&values(serde_json::json!({ "generate": { "length": 2 } })));
        assert!(short[0].message.contains("4..=4096"), "{}", short[0].message);
        let recovery = SecretDriver.check(&values(serde_json::json!({ "generate": {}, "recovery_days": 3 })));
        assert_eq!(recovery[0].field, "recovery_days");
        assert!(SecretDriver.check(&values(serde_json::json!({ "generate": {}, "recovery_days": 0 }))).is_empty());
    }

    #[test]
    fn names_follow_the_secrets_manager_rules() {
        assert!(check_name("shop-dev-session").is_ok());
        assert!(check_name("prod/db+main@x").is_ok());
        assert!(check_name("with space").is_err());
        assert!(check_name("").is_err());
    }

    #[test]
    fn a_generate_change_says_the_value_stays() {
        let inputs = serde_json::json!({ "generate": { "length": 40 } }).as_object().cloned().expect("object");
        let notes = SecretDriver.plan_notes(Action::Update, &inputs, &["generate"]);
        assert!(notes[0].contains("keeps its value"), "{notes:?}");
        assert!(SecretDriver.plan_notes(Action::Update, &inputs, &["description"]).is_empty());
    }
}
