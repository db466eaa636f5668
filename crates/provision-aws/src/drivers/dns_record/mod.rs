//! `dns_record`: one Route 53 record set: a name and type in a hosted zone, answering either with
//! an alias to an AWS resource (a load balancer, a CloudFront distribution) or with values and a TTL.
//!
//! A record has no id of its own and no tags: it is its zone, name and type, so the state id is
//! `ZONE/NAME/TYPE`, known before the create call (a killed run finds the record by it). A create
//! is a `CREATE`, which Route 53 refuses when the name and type are taken: a record someone made by
//! hand (the production `www`) is never silently taken over — and later deleted by a destroy. The
//! refusal names `provision import`; `allow_overwrite = true` takes such a record over on purpose
//! (`UPSERT`). A record that holds exactly what this create sends is this create's own (a retried
//! call, or a killed run's request that landed late), and is adopted; the intent a create records
//! carries a fingerprint of those values, so a refresh after a kill adopts only that record too.
//! Updates of a record provision holds are `UPSERT`s. A delete sends the record exactly as Route 53
//! holds it at that moment, which is what a `DELETE` must name.
//!
//! Values are a set (Route 53 answers them in its own order), compared sorted; TXT values are
//! quoted for Route 53 and read back without the quotes.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_route53::types::ChangeAction;
use serde::Deserialize;
use serde_json::Value as Json;

use super::route53::{self, check_domain_name, normalise_name, Alias, RecordSet};
use super::*;
use provision_core::schema::{Default as FieldDefault, FieldKind, FieldSpec, ResourceSchema};

pub struct RecordDriver;

const TYPES: &[&str] = &["A", "AAAA", "CNAME", "TXT", "MX"];

static ALIAS_FIELDS: &[FieldSpec] = &[
    FieldSpec::new(
        "name",
        FieldKind::String,
        "The target's DNS name: `\"${load_balancer.NAME.dns_name}\"` or `\"${cloudfront_distribution.NAME.domain_name}\"`",
    )
    .required(),
    FieldSpec::new(
        "zone_id",
        FieldKind::String,
        "The target's hosted zone: `\"${load_balancer.NAME.zone_id}\"` or `\"${cloudfront_distribution.NAME.zone_id}\"`",
    )
    .required(),
    FieldSpec::new(
        "evaluate_target_health",
        FieldKind::Bool,
        "Answer only while the target is healthy (default false)",
    ),
];

static SCHEMA: ResourceSchema = ResourceSchema {
    type_name: "dns_record",
    description: "A Route 53 record in an existing hosted zone: an alias to a load balancer or CloudFront \
                  distribution, or plain values with a TTL. An existing record of the same name and type stops \
                  the create (adopt it with `provision import`) unless `allow_overwrite = true`.",
    fields: &[
        FieldSpec::new("zone", FieldKind::String, "The hosted zone id, usually `\"${dns_zone.NAME.id}\"`")
            .required()
            .forces_replacement(),
        FieldSpec::new("name", FieldKind::String, "The record's full name, e.g. `\"ws.${var.domain}\"`")
            .required()
            .forces_replacement()
            .check(check_domain_name),
        FieldSpec::new("type", FieldKind::Enum(TYPES), "The record type")
            .default(FieldDefault::Str("A"))
            .forces_replacement(),
        FieldSpec::new(
            "alias",
            FieldKind::Table(ALIAS_FIELDS),
            "Answer with the addresses of an AWS resource (A and AAAA records); not together with `records`",
        ),
        FieldSpec::new("records", FieldKind::StringList, "The values (addresses, a CNAME target, TXT strings …)")
            .default(FieldDefault::EmptyList),
        FieldSpec::new("ttl", FieldKind::Int, "Seconds resolvers may cache `records` (aliases have no TTL)")
            .default(FieldDefault::Int(300)),
        FieldSpec::new(
            "allow_overwrite",
            FieldKind::Bool,
            "Take over a record of this name and type that already exists (its values are replaced, and a \
             destroy deletes it); otherwise such a record stops the create",
        )
        .default(FieldDefault::Bool(false)),
    ],
    attributes: &["fqdn"],
    taggable: false,
    derived: &[],
    create_before_destroy: false,
};

#[derive(Debug, Deserialize)]
struct AliasConfig {
    name: String,
    zone_id: String,
    #[serde(default)]
    evaluate_target_health: bool,
}

#[derive(Debug, Deserialize)]
struct RecordConfig {
    zone: String,
    name: String,
    #[serde(rename = "type", default = "default_type")]
    record_type: String,
    #[serde(default)]
    alias: Option<AliasConfig>,
    #[serde(default)]
    records: Vec<String>,
    #[serde(default = "default_ttl")]
    ttl: i64,
    #[serde(default)]
    allow_overwrite: bool,
}

fn default_type() -> String {
    "A".into()
}

fn default_ttl() -> i64 {
    300
}

impl RecordConfig {
    fn from_inputs(inputs: &JsonMap) -> Result<RecordConfig, DriverError> {
        super::elbv2::config_from("dns_record", inputs)
    }

    fn id(&self) -> String {
        record_id(&self.zone, &self.name, &self.record_type)
    }

    /// The record set to send: TXT values quoted, as Route 53 wants them.
    fn record_set(&self) -> RecordSet {
        let alias = self.alias.as_ref().map(|alias| Alias {
            name: normalise_name(&alias.name),
            zone_id: alias.zone_id.clone(),
            evaluate_target_health: alias.evaluate_target_health,
        });
        let values = if alias.is_some() {
            Vec::new()
        } else {
            self.records.iter().map(|value| to_route53_value(&self.record_type, value)).collect()
        };
        RecordSet {
            name: normalise_name(&self.name),
            record_type: self.record_type.clone(),
            ttl: Some(self.ttl),
            values,
            alias,
        }
    }
}

/// `ZONE/NAME/TYPE`, the record's state id.
fn record_id(zone: &str, name: &str, record_type: &str) -> String {
    format!("{}/{}/{}", route53::bare_zone_id(zone), normalise_name(name), record_type.to_ascii_uppercase())
}

fn parse_id(id: &str) -> Option<(&str, &str, &str)> {
    // An intent may carry `#FINGERPRINT` of the values its create sends.
    let id = id.split_once('#').map_or(id, |(id, _)| id);
    let (zone, rest) = id.split_once('/')?;
    let (name, record_type) = rest.rsplit_once('/')?;
    (!zone.is_empty() && !name.is_empty() && !record_type.is_empty()).then_some((zone, name, record_type))
}

/// A short hash of what a record answers (values or alias, and TTL), in the shape a read gives:
/// equal for the record a create sends and the record Route 53 holds afterwards.
fn fingerprint(id: &str, set: &RecordSet) -> String {
    use sha2::{Digest, Sha256};
    let inputs = observed(id, set).inputs;
    let answer = serde_json::json!([inputs.get("alias"), inputs.get("records"), inputs.get("ttl")]);
    hex::encode(&Sha256::digest(answer.to_string().as_bytes())[..8])
}

/// A TXT value is one quoted string for Route 53; the stack file writes it without quotes.
fn to_route53_value(record_type: &str, value: &str) -> String {
    if record_type == "TXT" && !(value.starts_with('"') && value.ends_with('"') && value.len() >= 2) {
        format!("\"{}\"", value.replace('"', "\\\""))
    } else {
        value.to_string()
    }
}

fn from_route53_value(record_type: &str, value: &str) -> String {
    match value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
        Some(inner) if record_type == "TXT" => inner.replace("\\\"", "\""),
        _ => value.to_string(),
    }
}

fn observed(id: &str, set: &RecordSet) -> Observed {
    let mut inputs = JsonMap::new();
    if let Some((zone, _, _)) = parse_id(id) {
        inputs.insert("zone".into(), zone.into());
    }
    inputs.insert("name".into(), set.name.clone().into());
    inputs.insert("type".into(), set.record_type.clone().into());
    match &set.alias {
        Some(alias) => {
            inputs.insert(
                "alias".into(),
                serde_json::json!({
                    "name": alias.name, "zone_id": alias.zone_id,
                    "evaluate_target_health": alias.evaluate_target_health,
                }),
            );
            inputs.insert("records".into(), Json::Array(Vec::new()));
        }
        None => {
            let mut values: Vec<String> =
                set.values.iter().map(|value| from_route53_value(&set.record_type, value)).collect();
            values.sort();
            inputs.insert("alias".into(), Json::Null);
            inputs.insert("records".into(), values.into());
            if let Some(ttl) = set.ttl {
                inputs.insert("ttl".into(), ttl.into());
            }
        }
    }
    Observed { id: id.to_string(), inputs, attributes: attributes(&set.name) }
}

fn attributes(fqdn: &str) -> JsonMap {
    let mut attributes = JsonMap::new();
    attributes.insert("fqdn".into(), fqdn.into());
    attributes
}

/// Set (not a string, not null) or not known yet.
fn is_set(value: Option<&Value>) -> bool {
    match value {
        None | Some(Value::Null) => false,
        Some(Value::List(items)) => !items.is_empty(),
        Some(_) => true,
    }
}

#[async_trait]
impl AwsDriver for RecordDriver {
    fn schema(&self) -> &'static ResourceSchema {
        &SCHEMA
    }

    fn check(&self, values: &BTreeMap<String, Value>) -> Vec<Problem> {
        let mut problems = Vec::new();
        let record_type = match values.get("type") {
            Some(Value::Str(text)) => Some(text.as_str()),
            _ => None,
        };
        let (alias, records) = (is_set(values.get("alias")), is_set(values.get("records")));
        if alias && records {
            problems.push(
                Problem::error("records", "a record answers with an `alias` or with `records`, not both")
                    .hint("remove `records` to point at the resource, or `alias` to answer with fixed values"),
            );
        }
        if !alias && !records {
            problems.push(Problem::error("records", "the record has nothing to answer with").hint(
                "set `alias = { name = \"${load_balancer.web.dns_name}\", zone_id = \"${load_balancer.web.zone_id}\" }`, \
                 or `records = [\"192.0.2.1\"]`",
            ));
        }
        if alias && record_type.is_some_and(|t| !matches!(t, "A" | "AAAA")) {
            problems.push(
                Problem::error("alias", "only `A` and `AAAA` records can be aliases here")
                    .hint("use `type = \"A\"` for an alias to a load balancer or distribution"),
            );
        }
        if let Some(Value::Int(ttl)) = values.get("ttl") {
            if !(0..=2_147_483_647).contains(ttl) {
                problems.push(Problem::error("ttl", format!("must be between 0 and 2147483647 seconds, got {ttl}")));
            }
        }
        if let (Some(record_type), Some(Value::List(items))) = (record_type, values.get("records")) {
            if record_type == "CNAME" && items.len() > 1 {
                problems.push(Problem::error("records", "a CNAME record has exactly one value"));
            }
            for item in items {
                let Value::Str(text) = item else { continue };
                let wrong = match record_type {
                    "A" => text.parse::<std::net::Ipv4Addr>().is_err().then_some("an IPv4 address"),
                    "AAAA" => text.parse::<std::net::Ipv6Addr>().is_err().then_some("an IPv6 address"),
                    _ => None,
                };
                if let Some(expected) = wrong {
                    problems.push(
                        Problem::error(
                            "records",
                            format!("`{text}` is not {expected}, as a `{record_type}` record needs"),
                        )
                        .hint("for a name, use an `alias` (AWS resources) or `type = \"CNAME\"`"),
                    );
                }
            }
        }
        problems
    }

    /// Names in Route 53's spelling, values sorted (a set), TXT values without their quotes, and
    /// the alias's `evaluate_target_health` spelled out, so what is read back compares equal.
    fn prepare(&self, _stack: &StackInfo, inputs: &mut JsonMap) -> Result<(), DriverError> {
        if let Some(zone) =
            inputs.get("zone").and_then(Json::as_str).map(|zone| route53::bare_zone_id(zone).to_string())
        {
            inputs.insert("zone".into(), zone.into());
        }
        if let Some(name) = inputs.get("name").and_then(Json::as_str).map(normalise_name) {
            inputs.insert("name".into(), name.into());
        }
        let record_type = inputs.get("type").and_then(Json::as_str).unwrap_or("A").to_string();
        if let Some(Json::Array(values)) = inputs.get_mut("records") {
            for value in values.iter_mut() {
                if let Some(text) = value.as_str() {
                    *value = from_route53_value(&record_type, text).into();
                }
            }
            values.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
            values.dedup();
        }
        if let Some(Json::Object(alias)) = inputs.get_mut("alias") {
            if let Some(name) = alias.get("name").and_then(Json::as_str).map(normalise_name) {
                alias.insert("name".into(), name.into());
            }
            alias.entry("evaluate_target_health").or_insert(Json::Bool(false));
        }
        Ok(())
    }

    fn planned_attributes(&self, _stack: &StackInfo, inputs: &JsonMap) -> JsonMap {
        match inputs.get("name").and_then(Json::as_str) {
            Some(name) => attributes(&normalise_name(name)),
            None => JsonMap::new(),
        }
    }

    async fn import_id(&self, _aws: &AwsContext, id: &str) -> Result<String, DriverError> {
        match parse_id(id) {
            Some((zone, name, record_type)) if TYPES.contains(&record_type.to_ascii_uppercase().as_str()) => {
                Ok(record_id(zone, name, record_type))
            }
            _ => Err(DriverError::invalid(format!("`{id}` is not `ZONE/NAME/TYPE`"))
                .with_hint("import a record as `Z0123456789ABC/ws.example.com/A`")),
        }
    }

    /// Records carry no tags, so the tagging API never lists one.
    fn id_from_arn(&self, _arn: &str) -> Option<String> {
        None
    }

    fn intended_id(&self, request: &ResourceRequest<'_>) -> String {
        let text = |field: &str| request.inputs.get(field).and_then(Json::as_str).unwrap_or_default();
        let id = record_id(text("zone"), text("name"), if text("type").is_empty() { "A" } else { text("type") });
        match RecordConfig::from_inputs(request.inputs) {
            Ok(config) if !config.allow_overwrite => format!("{id}#{}", fingerprint(&id, &config.record_set())),
            _ => id,
        }
    }

    async fn read(
        &self,
        aws: &AwsContext,
        _stack: &StackInfo,
        resources: &[ExistingResource<'_>],
    ) -> Vec<Result<Option<Observed>, DriverError>> {
        let reads: Vec<_> = resources.iter().map(|resource| move || read_one(aws, resource.id)).collect();
        aws.limiter(crate::Service::Route53).all(reads).await
    }

    async fn create(
        &self,
        aws: &AwsContext,
        request: &ResourceRequest<'_>,
        progress: &dyn ProgressSink,
    ) -> Result<Observed, DriverError> {
        write(aws, request, progress, true).await
    }

    async fn update(
        &self,
        aws: &AwsContext,
        _prior: &ExistingResource<'_>,
        request: &ResourceRequest<'_>,
        _changes: &[FieldChange],
        progress: &dyn ProgressSink,
    ) -> Result<Observed, DriverError> {
        write(aws, request, progress, false).await
    }

    async fn delete(
        &self,
        aws: &AwsContext,
        resource: &ExistingResource<'_>,
        progress: &dyn ProgressSink,
    ) -> Result<(), DriverError> {
        let Some((zone, name, record_type)) = parse_id(resource.id) else { return Ok(()) };
        // The current record, exactly: a DELETE that names other values than Route 53 holds fails.
        let Some(current) = route53::find(aws.route53(), zone, name, record_type).await? else { return Ok(()) };
        route53::delete_exact(aws.route53(), zone, vec![current], resource.address, progress).await
    }

    async fn find_interrupted(
        &self,
        aws: &AwsContext,
        _stack: &StackInfo,
        _address: &Address,
        intended_id: &str,
    ) -> Result<Option<String>, DriverError> {
        let Some((zone, name, record_type)) = parse_id(intended_id) else { return Ok(None) };
        let id = record_id(zone, name, record_type);
        let Some(found) = route53::find(aws.route53(), zone, name, record_type).await? else { return Ok(None) };
        // Only a record holding what the create sent is its doing; any other was there before.
        match intended_id.split_once('#') {
            Some((_, wanted)) if fingerprint(&id, &RecordSet::from_aws(&found)) != wanted => Ok(None),
            _ => Ok(Some(id)),
        }
    }
}

async fn read_one(aws: &AwsContext, id: &str) -> Result<Option<Observed>, DriverError> {
    let Some((zone, name, record_type)) = parse_id(id) else {
        return Err(DriverError::invalid(format!("the state holds `{id}`, which is not `ZONE/NAME/TYPE`")));
    };
    let found = route53::find(aws.route53(), zone, name, record_type).await?;
    Ok(found.map(|set| observed(id, &RecordSet::from_aws(&set))))
}

/// Writes the record: a create sends `CREATE` (or `UPSERT` with `allow_overwrite`), an update
/// `UPSERT`.
async fn write(
    aws: &AwsContext,
    request: &ResourceRequest<'_>,
    progress: &dyn ProgressSink,
    create: bool,
) -> Result<Observed, DriverError> {
    let config = RecordConfig::from_inputs(request.inputs)?;
    let set = config.record_set();
    let comment = format!("provision: {} {}", request.stack.name, request.address);
    let action = if create && !config.allow_overwrite { ChangeAction::Create } else { ChangeAction::Upsert };
    if action == ChangeAction::Create {
        // Look first: AWS refuses a `CREATE` of a name and type that exist, but the emulator
        // accepts one whose values differ; looking first refuses it the same way everywhere.
        if let Some(answer) = existing(aws, &config, &set, request.address).await? {
            return answer;
        }
    }
    let outcome = route53::change(
        aws.route53(),
        &config.zone,
        vec![(action.clone(), set.to_aws()?)],
        &comment,
        request.address,
        progress,
    )
    .await;
    let Err(error) = outcome else {
        return Ok(Observed { id: config.id(), inputs: JsonMap::new(), attributes: attributes(&set.name) });
    };
    if action == ChangeAction::Create && is_taken(&error) {
        // Made between the look and the create.
        if let Some(answer) = existing(aws, &config, &set, request.address).await? {
            return answer;
        }
    }
    Err(match error.code.as_deref() {
        Some("InvalidChangeBatch") => error.with_hint(format!(
            "check that `{}` is inside the zone `{}` and that the alias target exists",
            set.name, config.zone
        )),
        Some("NoSuchHostedZone") => {
            error.with_hint("the zone is gone; check the `dns_zone` it comes from (`provision plan` looks again)")
        }
        _ => error,
    })
}

/// What a create does about a record of its name and type that exists already: one holding exactly
/// what it sends is its own earlier attempt (a retried call, a killed run's request that landed) and
/// is adopted; any other was made by someone else and stops the create, naming `provision import`.
/// `None` when there is no such record.
async fn existing(
    aws: &AwsContext,
    config: &RecordConfig,
    set: &RecordSet,
    address: &Address,
) -> Result<Option<Result<Observed, DriverError>>, DriverError> {
    let id = config.id();
    let (zone, name, record_type) = parse_id(&id).unwrap_or_default();
    let Some(found) = route53::find(aws.route53(), zone, name, record_type).await? else { return Ok(None) };
    if fingerprint(&id, &RecordSet::from_aws(&found)) == fingerprint(&id, set) {
        return Ok(Some(Ok(Observed { id, inputs: JsonMap::new(), attributes: attributes(&set.name) })));
    }
    let error = DriverError::service(
        "ChangeResourceRecordSets",
        Some("InvalidChangeBatch".into()),
        format!(
            "a `{}` record `{}` already exists in the hosted zone `{}`; provision did not make it and leaves it as it is",
            config.record_type, set.name, config.zone
        ),
    )
    .with_hint(format!(
        "adopt it with `provision import {address} {id}`, or set `allow_overwrite = true` to replace it with this one (a destroy then deletes it)"
    ));
    Ok(Some(Err(error)))
}

/// Route 53's answer to a `CREATE` of a name and type that exist.
fn is_taken(error: &DriverError) -> bool {
    error.code_is("InvalidChangeBatch") && error.message.contains("already exists")
}

#[cfg(test)]
mod tests;
