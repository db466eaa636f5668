//! `target_group`: where a listener sends requests, with Fargate tasks registered by IP address.
//!
//! Port, protocol and VPC cannot change on a target group, so they force a replacement; the default
//! name hashes those three fields, so the replacement gets a new name and can exist next to the old
//! group. That lets the engine create the new group first, move the listener and the service over,
//! and only then delete the old one (`create_before_destroy`), without a moment where the listener
//! forwards nowhere.
//!
//! A refresh costs one `DescribeTargetGroups` for all groups, one `DescribeTags` per 20 groups and one
//! `DescribeTargetGroupAttributes` per group (deregistration delay and stickiness are attributes).

mod api;

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::Value as Json;

use self::api::{Attributes, Snapshot};
use super::elbv2;
use super::*;
use crate::behaviours;
use provision_core::schema::{Default as FieldDefault, FieldKind, FieldSpec, ResourceSchema};
use provision_core::value::Value;

pub struct TargetGroupDriver;

const PROTOCOLS: &[&str] = &["HTTP", "HTTPS"];

const HEALTH_CHECK: &[FieldSpec] = &[
    FieldSpec::new("path", FieldKind::String, "The path the load balancer requests on each target.")
        .default(FieldDefault::Str("/")),
    FieldSpec::new("interval", FieldKind::Int, "Seconds between two checks of one target (5 to 300).")
        .default(FieldDefault::Int(30))
        .range(5, 300),
    FieldSpec::new("timeout", FieldKind::Int, "Seconds without an answer that fail a check (2 to 120).")
        .default(FieldDefault::Int(5))
        .range(2, 120),
    FieldSpec::new("healthy_threshold", FieldKind::Int, "Checks in a row that make a target healthy (2 to 10).")
        .default(FieldDefault::Int(3))
        .range(2, 10),
    FieldSpec::new("unhealthy_threshold", FieldKind::Int, "Failed checks in a row that make it unhealthy (2 to 10).")
        .default(FieldDefault::Int(3))
        .range(2, 10),
    FieldSpec::new(
        "matcher",
        FieldKind::String,
        "HTTP codes that count as healthy: `\"200\"`, `\"200,204\"` or `\"200-399\"`.",
    )
    .default(FieldDefault::Str("200-399")),
];

static SCHEMA: ResourceSchema = ResourceSchema {
    type_name: "target_group",
    description: "A target group of IP targets (Fargate tasks) behind a load balancer listener.",
    fields: &[
        FieldSpec::new(
            "name",
            FieldKind::String,
            "The target group's name; by default it includes a hash of port, protocol and VPC, so that a \
             replacement gets a new name.",
        )
        .default(FieldDefault::AwsNameHashing { max_len: 32, fields: &["port", "protocol", "vpc"] })
        .forces_replacement()
        .check(elbv2::check_name),
        FieldSpec::new("port", FieldKind::Int, "The port the targets listen on.")
            .required()
            .forces_replacement()
            .range(1, 65535),
        FieldSpec::new("protocol", FieldKind::Enum(PROTOCOLS), "The protocol used to talk to the targets.")
            .default(FieldDefault::Str("HTTP"))
            .forces_replacement(),
        FieldSpec::new("vpc", FieldKind::String, "The VPC id; by default the `[network]` VPC.")
            .default(FieldDefault::NetworkVpcId)
            .forces_replacement(),
        FieldSpec::new("health_check", FieldKind::Table(HEALTH_CHECK), "How the load balancer checks each target."),
        FieldSpec::new(
            "deregistration_delay",
            FieldKind::Int,
            "Seconds a leaving target keeps serving requests in flight (0 to 3600).",
        )
        .default(FieldDefault::Int(300))
        .range(0, 3600),
        FieldSpec::new(
            "stickiness",
            FieldKind::Bool,
            "Send a client's requests to the same target (a load balancer cookie).",
        )
        .default(FieldDefault::Bool(false)),
    ],
    attributes: &["arn", "name"],
    taggable: true,
    derived: &[],
    create_before_destroy: true,
};

#[derive(Debug, Deserialize)]
struct TargetGroupConfig {
    name: String,
    port: i64,
    #[serde(default = "default_protocol")]
    protocol: String,
    vpc: String,
    #[serde(default)]
    health_check: HealthCheck,
    #[serde(default = "default_deregistration_delay")]
    deregistration_delay: i64,
    #[serde(default)]
    stickiness: bool,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default)]
struct HealthCheck {
    path: String,
    interval: i64,
    timeout: i64,
    healthy_threshold: i64,
    unhealthy_threshold: i64,
    matcher: String,
}

impl std::default::Default for HealthCheck {
    fn default() -> HealthCheck {
        HealthCheck {
            path: "/".into(),
            interval: 30,
            timeout: 5,
            healthy_threshold: 3,
            unhealthy_threshold: 3,
            matcher: "200-399".into(),
        }
    }
}

fn default_protocol() -> String {
    "HTTP".into()
}

fn default_deregistration_delay() -> i64 {
    300
}

impl TargetGroupConfig {
    fn from_inputs(inputs: &JsonMap) -> Result<TargetGroupConfig, DriverError> {
        elbv2::config_from("target_group", inputs)
    }
}

/// ELB's rule for `matcher`: one code, a comma-separated list, or one range, all within 200–499.
fn check_matcher(matcher: &str) -> Result<(), String> {
    let code = |text: &str| text.parse::<u16>().ok().filter(|code| (200..=499).contains(code));
    let valid = match matcher.split_once('-') {
        Some((low, high)) => matches!((code(low), code(high)), (Some(low), Some(high)) if low <= high),
        None => !matcher.is_empty() && matcher.split(',').all(|part| code(part).is_some()),
    };
    if valid {
        Ok(())
    } else {
        Err(format!(
            "matcher `{matcher}` must be HTTP codes from 200 to 499: one (\"200\"), a list (\"200,204\") or a range (\"200-399\")"
        ))
    }
}

fn check_health_check(check: &BTreeMap<String, Value>, problems: &mut Vec<Problem>) {
    let ranges =
        [("interval", 5..=300), ("timeout", 2..=120), ("healthy_threshold", 2..=10), ("unhealthy_threshold", 2..=10)];
    for (field, range) in ranges {
        if let Some(message) = elbv2::out_of_range(check, field, range) {
            problems.push(Problem::error(&format!("health_check.{field}"), message));
        }
    }
    if let (Some(Value::Int(interval)), Some(Value::Int(timeout))) = (check.get("interval"), check.get("timeout")) {
        if timeout >= interval {
            problems.push(Problem::error(
                "health_check.timeout",
                format!("must be shorter than the interval ({interval}s), got {timeout}s"),
            ));
        }
    }
    if let Some(Value::Str(path)) = check.get("path") {
        if !path.starts_with('/') || path.len() > 1024 {
            problems.push(Problem::error(
                "health_check.path",
                format!("must start with `/` and be at most 1024 characters, got `{path}`"),
            ));
        }
    }
    if let Some(Value::Str(matcher)) = check.get("matcher") {
        if let Err(message) = check_matcher(matcher) {
            problems.push(Problem::error("health_check.matcher", message));
        }
    }
}

#[async_trait]
impl AwsDriver for TargetGroupDriver {
    fn schema(&self) -> &'static ResourceSchema {
        &SCHEMA
    }

    /// AWS: a delete waits while the load balancer still counts the listener that forwarded to it
    /// (`elbv2.target-group-in-use`).
    fn typical_durations(&self) -> super::TypicalDurations {
        super::TypicalDurations::seconds(0, 0, 30)
    }

    fn check(&self, values: &BTreeMap<String, Value>) -> Vec<Problem> {
        let mut problems = Vec::new();
        if let Some(Value::Str(name)) = values.get("name") {
            if let Err(message) = elbv2::check_name(name) {
                problems.push(Problem::error("name", message).hint("set `name = \"...\"` to a valid name"));
            }
        }
        if let Some(message) = elbv2::out_of_range(values, "port", 1..=65535) {
            problems.push(Problem::error("port", message));
        }
        if let Some(message) = elbv2::out_of_range(values, "deregistration_delay", 0..=3600) {
            problems.push(Problem::error("deregistration_delay", message));
        }
        if let Some(Value::Map(check)) = values.get("health_check") {
            check_health_check(check, &mut problems);
        }
        problems
    }

    fn planned_attributes(&self, _stack: &StackInfo, inputs: &JsonMap) -> JsonMap {
        let mut attributes = JsonMap::new();
        if let Some(name) = inputs.get("name").filter(|name| name.is_string()) {
            attributes.insert("name".into(), name.clone());
        }
        attributes
    }

    async fn import_id(&self, aws: &AwsContext, id: &str) -> Result<String, DriverError> {
        if let Some(arn) = elbv2::imported_arn(id, ":targetgroup/", "target group") {
            return arn;
        }
        let answer = aws
            .elbv2()
            .describe_target_groups()
            .names(id)
            .send()
            .await
            .map_err(|e| crate::aws_error("DescribeTargetGroups", e))?;
        answer
            .target_groups()
            .first()
            .and_then(|tg| tg.target_group_arn())
            .map(str::to_string)
            .ok_or_else(|| DriverError::invalid(format!("no target group is named `{id}`")))
    }

    fn id_from_arn(&self, arn: &str) -> Option<String> {
        arn.contains(":targetgroup/").then(|| arn.to_string())
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
        let elb = aws.elbv2();
        let arns: Vec<&str> = resources.iter().map(|resource| resource.id).collect();
        let described = elbv2::describe_many(&arns, arns.len(), api::describe_by_arns(elb)).await;
        let found: Vec<&str> = described
            .iter()
            .filter_map(|group| group.as_ref().ok()?.as_ref().map(|group| group.arn.as_str()))
            .collect();
        let tags = elbv2::tags_of(elb, &found).await;
        let reads: Vec<_> = described
            .iter()
            .map(|described| {
                let tags = &tags;
                move || finish_read(elb, described, tags)
            })
            .collect();
        aws.limiter(crate::Service::Elbv2).all(reads).await
    }

    async fn create(
        &self,
        aws: &AwsContext,
        request: &ResourceRequest<'_>,
        _progress: &dyn ProgressSink,
    ) -> Result<Observed, DriverError> {
        let config = TargetGroupConfig::from_inputs(request.inputs)?;
        let elb = aws.elbv2();
        let arn = match api::create(elb, &config, request.tags).await {
            Ok(arn) => arn,
            // AWS answers the same settings with the existing group, other settings with
            // `DuplicateTargetGroupName`; either way, a group this create made (its answer lost)
            // carries this stack's and this address's tags and is this create's.
            Err(error) if behaviours::adopt::ALREADY_EXISTS.matches(&error) => {
                match self.find_interrupted(aws, request.stack, request.address, &config.name).await? {
                    Some(arn) => arn,
                    None => {
                        let import =
                            format!("arn:aws:elasticloadbalancing:REGION:ACCOUNT:targetgroup/{}/ID", config.name);
                        return Err(behaviours::adopt::name_taken(
                            error,
                            request.address,
                            "target group",
                            &config.name,
                            &import,
                        ));
                    }
                }
            }
            Err(error) => return Err(error),
        };
        api::set_attributes(elb, &arn, &config).await?;
        Ok(Observed { attributes: attributes(&arn, &config.name), id: arn, inputs: JsonMap::new() })
    }

    async fn update(
        &self,
        aws: &AwsContext,
        prior: &ExistingResource<'_>,
        request: &ResourceRequest<'_>,
        changes: &[FieldChange],
        _progress: &dyn ProgressSink,
    ) -> Result<Observed, DriverError> {
        let config = TargetGroupConfig::from_inputs(request.inputs)?;
        let (elb, arn) = (aws.elbv2(), prior.id);
        let changed = elbv2::changed_fields(changes);
        if changed.contains("health_check") {
            api::modify_health_check(elb, arn, &config.health_check).await?;
        }
        if changed.contains("deregistration_delay") || changed.contains("stickiness") {
            api::set_attributes(elb, arn, &config).await?;
        }
        if changed.contains("tags") {
            elbv2::retag(elb, arn, prior.inputs, request.tags).await?;
        }
        Ok(Observed { id: arn.to_string(), inputs: JsonMap::new(), attributes: attributes(arn, &config.name) })
    }

    /// A listener may still forward to the group for a moment (a replacement moves it just before),
    /// so `ResourceInUse` is retried for a short while before it becomes the error.
    async fn delete(
        &self,
        aws: &AwsContext,
        resource: &ExistingResource<'_>,
        progress: &dyn ProgressSink,
    ) -> Result<(), DriverError> {
        let (elb, arn) = (aws.elbv2(), resource.id);
        behaviours::elbv2::TARGET_GROUP_DELETE.run_reporting(resource.address, progress, || api::delete(elb, arn)).await
    }

    async fn find_interrupted(
        &self,
        aws: &AwsContext,
        stack: &StackInfo,
        address: &Address,
        intended_id: &str,
    ) -> Result<Option<String>, DriverError> {
        let elb = aws.elbv2();
        let Some(group) = api::describe_by_name(elb, intended_id).await? else { return Ok(None) };
        let tags = elbv2::tags_of(elb, &[group.arn.as_str()]).await?;
        let ours = tags.get(&group.arn).is_some_and(|tags| elbv2::made_by(tags, stack, address));
        Ok(ours.then_some(group.arn))
    }
}

async fn finish_read(
    elb: &aws_sdk_elasticloadbalancingv2::Client,
    described: &Result<Option<Snapshot>, DriverError>,
    tags: &Result<BTreeMap<String, BTreeMap<String, String>>, DriverError>,
) -> Result<Option<Observed>, DriverError> {
    let Some(group) = described.clone()? else { return Ok(None) };
    let tags = tags.as_ref().map_err(Clone::clone)?.get(&group.arn).cloned().unwrap_or_default();
    let settings = match api::attributes(elb, &group.arn).await {
        // Deleted between the description and this call.
        Err(error) if elbv2::is_not_found(&error) => return Ok(None),
        other => other?,
    };
    Ok(Some(observe(&group, &settings, &tags)))
}

fn observe(group: &Snapshot, settings: &Attributes, tags: &BTreeMap<String, String>) -> Observed {
    let mut inputs = JsonMap::new();
    put(&mut inputs, "name", Some(group.name.clone().into()));
    put(&mut inputs, "port", group.port.map(Json::from));
    put(&mut inputs, "protocol", group.protocol.clone().map(Json::from));
    put(&mut inputs, "vpc", group.vpc.clone().map(Json::from));
    let mut check = JsonMap::new();
    put(&mut check, "path", group.path.clone().map(Json::from));
    put(&mut check, "interval", group.interval.map(Json::from));
    put(&mut check, "timeout", group.timeout.map(Json::from));
    put(&mut check, "healthy_threshold", group.healthy_threshold.map(Json::from));
    put(&mut check, "unhealthy_threshold", group.unhealthy_threshold.map(Json::from));
    put(&mut check, "matcher", group.matcher.clone().map(Json::from));
    inputs.insert("health_check".into(), Json::Object(check));
    put(&mut inputs, "deregistration_delay", settings.deregistration_delay.map(Json::from));
    put(&mut inputs, "stickiness", settings.stickiness.map(Json::from));
    inputs.insert("tags".into(), elbv2::user_tags(tags));
    Observed { id: group.arn.clone(), inputs, attributes: attributes(&group.arn, &group.name) }
}

/// Inserts what was read; leaves out what the answer did not hold.
fn put(map: &mut JsonMap, key: &str, value: Option<Json>) {
    if let Some(value) = value {
        map.insert(key.into(), value);
    }
}

fn attributes(arn: &str, name: &str) -> JsonMap {
    let mut attributes = JsonMap::new();
    attributes.insert("arn".into(), arn.into());
    attributes.insert("name".into(), name.into());
    attributes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(json: Json) -> BTreeMap<String, Value> {
        json.as_object().expect("object").iter().map(|(k, v)| (k.clone(), Value::from_json(v))).collect()
    }

    fn defaults() -> Json {
        serde_json::json!({
            "name": "shop-api-1a2b3c", "port": 8080, "protocol": "HTTP", "vpc": "vpc-1",
            "health_check": { "path": "/", "interval": 30, "timeout": 5, "healthy_threshold": 3,
                              "unhealthy_threshold": 3, "matcher": "200-399" },
            "deregistration_delay": 300, "stickiness": false
        })
    }

    #[test]
    fn check_accepts_the_defaults() {
        assert!(TargetGroupDriver.check(&values(defaults())).is_empty());
    }

    #[test]
    fn check_reports_health_check_settings_aws_would_reject() {
        let mut inputs = defaults();
        inputs["health_check"] = serde_json::json!({
            "path": "health", "interval": 10, "timeout": 10, "healthy_threshold": 1,
            "unhealthy_threshold": 3, "matcher": "200-600"
        });
        inputs["port"] = 0.into();
        let problems = TargetGroupDriver.check(&values(inputs));
        let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(
            fields,
            vec![
                "port",
                "health_check.healthy_threshold",
                "health_check.timeout",
                "health_check.path",
                "health_check.matcher"
            ]
        );
    }

    #[test]
    fn matchers_follow_the_elb_rules() {
        for good in ["200", "200,204", "200-399", "499"] {
            assert!(check_matcher(good).is_ok(), "{good}");
        }
        for bad in ["", "100", "200-", "399-200", "200,abc", "200-299,302", "500"] {
            assert!(check_matcher(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn config_takes_defaults_for_a_partial_health_check() {
        let inputs = serde_json::json!({ "name": "x", "port": 80, "vpc": "vpc-1", "health_check": { "path": "/up" } });
        let config = TargetGroupConfig::from_inputs(inputs.as_object().expect("object")).expect("config");
        assert_eq!(config.protocol, "HTTP");
        assert_eq!(config.deregistration_delay, 300);
        assert_eq!(config.health_check, HealthCheck { path: "/up".into(), ..HealthCheck::default() });
    }

    #[test]
    fn observed_inputs_match_the_applied_shape() {
        let group = Snapshot {
            arn: "arn:tg".into(),
            name: "shop-api-1a2b3c".into(),
            port: Some(8080),
            protocol: Some("HTTP".into()),
            vpc: Some("vpc-1".into()),
            path: Some("/".into()),
            interval: Some(30),
            timeout: Some(5),
            healthy_threshold: Some(3),
            unhealthy_threshold: Some(3),
            matcher: Some("200-399".into()),
        };
        let settings = Attributes { deregistration_delay: Some(300), stickiness: Some(false) };
        let tags: BTreeMap<String, String> = [("provision:address".to_string(), "target_group.api".to_string())].into();
        let observed = observe(&group, &settings, &tags);
        let mut expected = defaults();
        expected["tags"] = serde_json::json!({});
        assert_eq!(Json::Object(observed.inputs), expected);
        assert_eq!(
            Json::Object(observed.attributes),
            serde_json::json!({ "arn": "arn:tg", "name": "shop-api-1a2b3c" })
        );
    }

    #[test]
    fn unread_values_are_not_reported() {
        let group = Snapshot { arn: "arn:tg".into(), name: "tg".into(), ..Snapshot::default() };
        let observed = observe(&group, &Attributes::default(), &BTreeMap::new());
        let keys: Vec<&String> = observed.inputs.keys().collect();
        assert_eq!(keys, vec!["name", "health_check", "tags"]);
        assert_eq!(observed.inputs["health_check"], serde_json::json!({}));
    }
}
