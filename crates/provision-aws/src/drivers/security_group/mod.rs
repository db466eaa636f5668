//! `security_group`: a VPC security group with ingress rules; egress stays EC2's default (all).
//!
//! Rules change in place, one by one, so a rule edit never replaces the group — a replacement
//! would have to detach it from every load balancer, task and database that uses it. Only the
//! name, description and VPC, which EC2 cannot change, force a new group.
//!
//! A refresh of any number of groups is one `DescribeSecurityGroups` (rules, tags and description
//! all come with it); only when one of the groups is gone does it fall back to one call per group,
//! because EC2 then refuses the whole batch without saying which id was missing.
//!
//! Deleting waits out `DependencyViolation`: the network interfaces of a load balancer or task
//! that used the group linger for minutes after their owner is deleted.

mod checks;
mod group_api;
mod rules;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_sdk_ec2::types::SecurityGroup;
use serde::Deserialize;
use serde_json::Value as Json;

use self::rules::Rule;
use crate::context::AwsContext;
use crate::drivers::tags::{removed_tags, user_tags};
use crate::drivers::{
    AwsDriver, DriverError, ExistingResource, FieldChange, Observed, Problem, ProgressSink, ResourceRequest, StackInfo,
};
use provision_core::address::Address;
use provision_core::schema::{self, FieldKind, FieldSpec, ResourceSchema};
use provision_core::value::{JsonMap, Value};

pub struct SecurityGroupDriver;

const PROTOCOLS: &[&str] = &["tcp", "udp", "icmp", "-1"];
const DEFAULT_DESCRIPTION: &str = "Managed by provision";

static RULE_FIELDS: &[FieldSpec] = &[
    FieldSpec::new("port", FieldKind::Int, "The port, or the first port of a range (for ICMP: the type, -1 for all)")
        .required(),
    FieldSpec::new(
        "to_port",
        FieldKind::Int,
        "The last port of a range; default: `port` (for ICMP: the code, default -1 for all)",
    ),
    FieldSpec::new(
        "protocol",
        FieldKind::Enum(PROTOCOLS),
        "`\"tcp\"`, `\"udp\"`, `\"icmp\"`, or `\"-1\"` for all traffic (write `port = 0`)",
    )
    .default(schema::Default::Str("tcp")),
    FieldSpec::new("cidr", FieldKind::String, "An address range allowed in, e.g. `\"10.0.0.0/16\"` or `\"::/0\"`"),
    FieldSpec::new(
        "from",
        FieldKind::String,
        "A security group whose members are allowed in, e.g. `\"${security_group.NAME.id}\"`",
    ),
    FieldSpec::new("description", FieldKind::String, "What the rule is for").check(checks::check_description),
];

static SCHEMA: ResourceSchema = ResourceSchema {
    type_name: "security_group",
    description: "A VPC security group: ingress rules from address ranges or other groups; all egress allowed.",
    fields: &[
        FieldSpec::new("name", FieldKind::String, "The group name, unique in the VPC")
            .default(schema::Default::AwsNameHashing { max_len: 255, fields: &["description", "vpc"] })
            .forces_replacement()
            .check(checks::check_name),
        FieldSpec::new("description", FieldKind::String, "The group's description (EC2 cannot change it later)")
            .default(schema::Default::Str(DEFAULT_DESCRIPTION))
            .forces_replacement()
            .check(checks::check_description),
        FieldSpec::new("vpc", FieldKind::String, "The VPC id; default: the stack's `[network]` VPC")
            .default(schema::Default::NetworkVpcId)
            .forces_replacement(),
        FieldSpec::new(
            "ingress",
            FieldKind::TableList(RULE_FIELDS),
            "Traffic allowed in: each rule has a `port` (or range) and exactly one of `cidr` or `from`",
        )
        .default(schema::Default::EmptyList),
    ],
    attributes: &["id", "arn", "name"],
    taggable: true,
    derived: &[],
    create_before_destroy: true,
};

/// How long a delete waits for the network interfaces still using the group to go away.
const DELETE_TIMEOUT: Duration = Duration::from_secs(300);
const FIRST_POLL: Duration = Duration::from_secs(1);
const LONGEST_POLL: Duration = Duration::from_secs(5);

#[derive(Debug, Deserialize)]
struct GroupConfig {
    name: String,
    #[serde(default = "default_description")]
    description: String,
    #[serde(default)]
    vpc: Option<String>,
}

fn default_description() -> String {
    DEFAULT_DESCRIPTION.into()
}

impl GroupConfig {
    fn from_inputs(inputs: &JsonMap) -> Result<GroupConfig, DriverError> {
        serde_json::from_value(Json::Object(inputs.clone()))
            .map_err(|error| DriverError::invalid(format!("invalid `security_group` inputs: {error}")))
    }
}

fn ingress(inputs: &JsonMap) -> Result<Vec<Rule>, DriverError> {
    rules::from_inputs(inputs.get("ingress")).map_err(DriverError::invalid)
}

#[async_trait]
impl AwsDriver for SecurityGroupDriver {
    fn schema(&self) -> &'static ResourceSchema {
        &SCHEMA
    }

    /// AWS: the rules wait until EC2 sees the new group (`ec2.group-not-found-after-create`); a delete waits
    /// ~3 min for the interfaces of what used the group (`ec2.group-in-use-while-interfaces-linger`).
    fn typical_durations(&self) -> super::TypicalDurations {
        super::TypicalDurations::seconds(10, 0, 180)
    }

    fn check(&self, inputs: &BTreeMap<String, Value>) -> Vec<Problem> {
        checks::check_ingress(inputs)
    }

    /// Rewrites `ingress` in the canonical form the read-back uses, so the two compare equal.
    fn prepare(&self, _stack: &StackInfo, inputs: &mut JsonMap) -> Result<(), DriverError> {
        if inputs.contains_key("ingress") {
            let rules = ingress(inputs)?;
            inputs.insert("ingress".into(), rules::to_json(&rules));
        }
        Ok(())
    }

    fn planned_attributes(&self, _stack: &StackInfo, inputs: &JsonMap) -> JsonMap {
        let mut attributes = JsonMap::new();
        if let Some(name) = inputs.get("name").and_then(Json::as_str) {
            attributes.insert("name".into(), name.into());
        }
        attributes
    }

    /// The group name: EC2 picks the id, and the name is what an interrupted create can be found by.
    async fn import_id(&self, _aws: &AwsContext, id: &str) -> Result<String, DriverError> {
        let id = id.rsplit(":security-group/").next().unwrap_or(id);
        if !id.starts_with("sg-") {
            return Err(DriverError::invalid(format!("`{id}` is not a security group id"))
                .with_hint("import a security group by its id, e.g. `sg-0123456789abcdef0`"));
        }
        Ok(id.to_string())
    }

    fn id_from_arn(&self, arn: &str) -> Option<String> {
        arn.split_once(":security-group/").map(|(_, id)| id.to_string())
    }

    async fn read(
        &self,
        aws: &AwsContext,
        stack: &StackInfo,
        resources: &[ExistingResource<'_>],
    ) -> Vec<Result<Option<Observed>, DriverError>> {
        if resources.is_empty() {
            return Vec::new();
        }
        let ec2 = aws.ec2();
        let ids: Vec<&str> = resources.iter().map(|resource| resource.id).collect();
        let groups = match group_api::describe(ec2, &ids).await {
            Ok(groups) => groups,
            Err(error) if group_api::is_missing_group(&error) => {
                let reads: Vec<_> = ids.iter().map(|id| move || group_api::describe_one(ec2, id)).collect();
                let found: Vec<_> = aws.limiter(crate::Service::Ec2).all(reads).await;
                return found
                    .into_iter()
                    .map(|group| group.map(|group| group.map(|group| observe(&group, &stack.region))))
                    .collect();
            }
            Err(error) => return resources.iter().map(|_| Err(error.clone())).collect(),
        };
        ids.iter().map(|id| Ok(groups.get(*id).map(|group| observe(group, &stack.region)))).collect()
    }

    async fn create(
        &self,
        aws: &AwsContext,
        request: &ResourceRequest<'_>,
        _progress: &dyn ProgressSink,
    ) -> Result<Observed, DriverError> {
        let config = GroupConfig::from_inputs(request.inputs)?;
        let rules = ingress(request.inputs)?;
        let ec2 = aws.ec2();
        let created =
            group_api::create(ec2, &config.name, &config.description, config.vpc.as_deref(), request.tags).await?;
        group_api::authorize(ec2, &created.id, &rules).await?;
        let arn = match created.arn {
            Some(arn) => arn,
            None => match group_api::describe_one(ec2, &created.id).await? {
                Some(group) => group_arn(&group, &request.stack.region),
                None => String::new(),
            },
        };
        Ok(Observed {
            id: created.id.clone(),
            inputs: JsonMap::new(),
            attributes: attributes(&created.id, &arn, &config.name),
        })
    }

    async fn update(
        &self,
        aws: &AwsContext,
        prior: &ExistingResource<'_>,
        request: &ResourceRequest<'_>,
        changes: &[FieldChange],
        _progress: &dyn ProgressSink,
    ) -> Result<Observed, DriverError> {
        let ec2 = aws.ec2();
        let changed = |field: &str| changes.iter().any(|change| change.path.split(['.', '[']).next() == Some(field));
        if changed("ingress") {
            let plan = rules::changes(&ingress(prior.inputs)?, &ingress(request.inputs)?);
            // New rules first, so traffic that moves from one rule to another is never cut off.
            group_api::authorize(ec2, prior.id, &plan.authorize).await?;
            group_api::update_descriptions(ec2, prior.id, &plan.describe).await?;
            group_api::revoke(ec2, prior.id, &plan.revoke).await?;
        }
        if changed("tags") {
            let removed = removed_tags(prior.inputs, request.tags);
            group_api::put_tags(ec2, prior.id, request.tags, &removed).await?;
        }
        Ok(Observed { id: prior.id.to_string(), inputs: JsonMap::new(), attributes: prior.attributes.clone() })
    }

    async fn delete(
        &self,
        aws: &AwsContext,
        resource: &ExistingResource<'_>,
        progress: &dyn ProgressSink,
    ) -> Result<(), DriverError> {
        let attempt = || group_api::delete(aws.ec2(), resource.id);
        match delete_when_unused(resource.address, progress, FIRST_POLL, DELETE_TIMEOUT, attempt).await {
            Err(error) if group_api::is_missing_group(&error) => Ok(()),
            other => other,
        }
    }

    async fn find_interrupted(
        &self,
        aws: &AwsContext,
        stack: &StackInfo,
        address: &Address,
        intended_id: &str,
    ) -> Result<Option<String>, DriverError> {
        let address = address.to_string();
        let tags = [("provision:stack", stack.name.as_str()), ("provision:address", address.as_str())];
        group_api::find_tagged(aws.ec2(), intended_id, &tags).await
    }
}

/// Runs `attempt` until EC2 no longer answers `DependencyViolation`, polling from `first_poll`
/// up to [`LONGEST_POLL`] apart, for at most `timeout`.
async fn delete_when_unused<F, A>(
    address: &Address,
    progress: &dyn ProgressSink,
    first_poll: Duration,
    timeout: Duration,
    mut attempt: F,
) -> Result<(), DriverError>
where
    F: FnMut() -> A,
    A: std::future::Future<Output = Result<(), DriverError>>,
{
    let deadline = Instant::now() + timeout;
    let mut pause = first_poll;
    loop {
        match attempt().await {
            Err(error) if error.code_is("DependencyViolation") => {
                if Instant::now() + pause > deadline {
                    return Err(error.with_hint(
                        "something still uses the group: the network interfaces of a load balancer or task \
                         (they linger for minutes after their owner is deleted), or a rule of another group; \
                         run the command again later",
                    ));
                }
                progress.waiting(address, "waiting for the network interfaces that use the group to go away");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(LONGEST_POLL);
            }
            other => return other,
        }
    }
}

/// The inputs the planner compares, as EC2 reports them, and the attributes.
fn observe(group: &SecurityGroup, region: &str) -> Observed {
    let id = group.group_id().unwrap_or_default();
    let name = group.group_name().unwrap_or_default();
    let tags: BTreeMap<String, String> = group
        .tags()
        .iter()
        .filter_map(|tag| Some((tag.key()?.to_string(), tag.value().unwrap_or_default().to_string())))
        .collect();
    let mut inputs = JsonMap::new();
    inputs.insert("name".into(), name.into());
    inputs.insert("description".into(), group.description().unwrap_or_default().into());
    if let Some(vpc) = group.vpc_id() {
        inputs.insert("vpc".into(), vpc.into());
    }
    inputs.insert("ingress".into(), rules::to_json(&rules::from_permissions(group.ip_permissions())));
    inputs.insert("tags".into(), user_tags(&tags));
    Observed { id: id.to_string(), inputs, attributes: attributes(id, &group_arn(group, region), name) }
}

/// `arn:aws:ec2:REGION:ACCOUNT:security-group/ID`, the account being the group's owner.
fn group_arn(group: &SecurityGroup, region: &str) -> String {
    match (group.owner_id(), group.group_id()) {
        (Some(owner), Some(id)) => format!("arn:aws:ec2:{region}:{owner}:security-group/{id}"),
        _ => group.security_group_arn().unwrap_or_default().to_string(),
    }
}

fn attributes(id: &str, arn: &str, name: &str) -> JsonMap {
    let mut attributes = JsonMap::new();
    attributes.insert("id".into(), id.into());
    attributes.insert("arn".into(), arn.into());
    attributes.insert("name".into(), name.into());
    attributes
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn stack() -> StackInfo {
        StackInfo { name: "shop".into(), region: "eu-west-1".into(), directory: std::path::PathBuf::from(".") }
    }

    #[test]
    fn prepare_puts_ingress_in_the_read_back_shape() {
        let mut inputs = json!({
            "name": "shop-web",
            "ingress": [{ "port": 443, "cidr": "0.0.0.0/0" }, { "port": 80, "protocol": "tcp", "cidr": "0.0.0.0/0" }],
        })
        .as_object()
        .cloned()
        .expect("an object");
        SecurityGroupDriver.prepare(&stack(), &mut inputs).expect("prepare");
        assert_eq!(
            inputs["ingress"],
            json!([
                { "protocol": "tcp", "port": 80, "to_port": 80, "cidr": "0.0.0.0/0" },
                { "protocol": "tcp", "port": 443, "to_port": 443, "cidr": "0.0.0.0/0" },
            ])
        );
    }

    #[test]
    fn an_observed_group_reports_rules_tags_and_its_arn() {
        use aws_sdk_ec2::types::{IpPermission, IpRange, Tag};
        let group = SecurityGroup::builder()
            .group_id("sg-1")
            .group_name("shop-web")
            .description("Managed by provision")
            .vpc_id("vpc-1")
            .owner_id("123456789012")
            .tags(Tag::builder().key("provision:stack").value("shop").build())
            .tags(Tag::builder().key("team").value("web").build())
            .ip_permissions(
                IpPermission::builder()
                    .ip_protocol("tcp")
                    .from_port(80)
                    .to_port(80)
                    .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
                    .build(),
            )
            .build();
        let observed = observe(&group, "eu-west-1");
        assert_eq!(observed.id, "sg-1");
        assert_eq!(observed.inputs["tags"], json!({ "team": "web" }));
        assert_eq!(
            observed.inputs["ingress"],
            json!([{ "protocol": "tcp", "port": 80, "to_port": 80, "cidr": "0.0.0.0/0" }])
        );
        assert_eq!(observed.attributes["arn"], "arn:aws:ec2:eu-west-1:123456789012:security-group/sg-1");
    }

    struct Recorder(std::sync::Mutex<Vec<String>>);

    impl ProgressSink for Recorder {
        fn waiting(&self, _address: &Address, message: &str) {
            self.0.lock().expect("lock").push(message.to_string());
        }
    }

    fn in_use() -> DriverError {
        DriverError {
            operation: "DeleteSecurityGroup".into(),
            code: Some("DependencyViolation".into()),
            message: "in use".into(),
            hint: None,
        }
    }

    #[tokio::test]
    async fn delete_waits_while_the_group_is_in_use() {
        let address = Address::new("security_group", "web");
        let progress = Recorder(Default::default());
        let mut answers = vec![Ok(()), Err(in_use()), Err(in_use())];
        let attempt = || std::future::ready(answers.pop().unwrap_or(Ok(())));
        let outcome =
            delete_when_unused(&address, &progress, Duration::from_millis(1), Duration::from_secs(5), attempt).await;
        assert!(outcome.is_ok());
        assert_eq!(progress.0.lock().expect("lock").len(), 2, "one progress line per wait");
    }

    #[tokio::test]
    async fn delete_gives_up_with_a_hint_when_the_group_stays_in_use() {
        let address = Address::new("security_group", "web");
        let progress = Recorder(Default::default());
        let attempt = || std::future::ready(Err(in_use()));
        let error =
            delete_when_unused(&address, &progress, Duration::from_millis(20), Duration::from_millis(50), attempt)
                .await
                .expect_err("still in use");
        assert!(error.code_is("DependencyViolation"));
        assert!(error.hint.is_some_and(|hint| hint.contains("network interfaces")));
    }

    #[test]
    fn only_user_tags_that_went_away_are_removed() {
        let prior = json!({ "tags": { "team": "web", "old": "x" } }).as_object().cloned().expect("an object");
        let wanted: BTreeMap<String, String> = [("team", "api"), ("provision:stack", "shop")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(removed_tags(&prior, &wanted), vec!["old".to_string()]);
    }
}
