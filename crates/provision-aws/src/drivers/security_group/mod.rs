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
//! EC2 is eventually consistent ([`behaviours::ec2`]): the rules of a group made a moment ago are
//! retried while EC2 answers that the group does not exist, and a delete waits out
//! `DependencyViolation` for as long as terraform-provider-aws does (15 minutes), because the network
//! interfaces of a load balancer, task, database or cache that used the group linger after their
//! owner is deleted. (The group is deleted only after everything that references it, and a load
//! balancer's delete itself waits for its interfaces to go; the retry covers what remains.)
//!
//! A create whose answer was lost meets its own group on the SDK's retry (`InvalidGroup.Duplicate`):
//! the group with this name and this stack's and address's tags is adopted, any other is refused
//! ([`behaviours::adopt`]).

mod checks;
mod group_api;
mod rules;

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_ec2::types::SecurityGroup;
use serde::Deserialize;
use serde_json::Value as Json;

use self::rules::Rule;
use crate::behaviours::{adopt, ec2 as behaviour, Look, Retry};
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
        super::TypicalDurations::seconds(10, 0, 190)
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
        progress: &dyn ProgressSink,
    ) -> Result<Observed, DriverError> {
        let config = GroupConfig::from_inputs(request.inputs)?;
        let rules = ingress(request.inputs)?;
        let ec2 = aws.ec2();
        let created = match group_api::create(
            ec2,
            &config.name,
            &config.description,
            config.vpc.as_deref(),
            request.tags,
        )
        .await
        {
            Ok(created) => created,
            Err(error) if adopt::ALREADY_EXISTS.matches(&error) => {
                let address = request.address.to_string();
                let tags = [(adopt::STACK_TAG, request.stack.name.as_str()), (adopt::ADDRESS_TAG, address.as_str())];
                match group_api::find_tagged(ec2, &config.name, &tags).await? {
                    Some(id) => group_api::Created { id, arn: None },
                    None => {
                        let found = group_api::find_tagged(ec2, &config.name, &[]).await?;
                        let id = found.unwrap_or_else(|| "GROUP_ID".to_string());
                        return Err(adopt::name_taken(error, request.address, "security group", &config.name, &id));
                    }
                }
            }
            Err(error) => return Err(error),
        };
        let rules_added = behaviour::NEW_GROUP
            .run_reporting(request.address, progress, || group_api::authorize(ec2, &created.id, &rules))
            .await;
        rules_added?;
        let arn = match created.arn {
            Some(arn) => arn,
            None => {
                let described = behaviour::NEW_GROUP.run(|| group_api::describe_existing(ec2, &created.id)).await?;
                group_arn(&described, &request.stack.region)
            }
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
        let ec2 = aws.ec2();
        match delete_when_unused(ec2, resource, progress, behaviour::GROUP_DELETE).await {
            Err(error) if group_api::is_missing_group(&error) => return Ok(()),
            other => other?,
        }
        // EC2 may list the group for moments after the delete; the next run must not find it.
        let subject = format!("security group {}", resource.id);
        behaviour::GROUP_GONE
            .until(resource.address, progress, &subject, || async {
                Ok(match group_api::describe_one(ec2, resource.id).await? {
                    None => Look::Done(()),
                    Some(_) => Look::Pending("still listed".to_string()),
                })
            })
            .await
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

/// `DeleteSecurityGroup`, retried while network interfaces or another group's rules still hold
/// the group ([`behaviour::GROUP_DELETE`]).
async fn delete_when_unused(
    ec2: &aws_sdk_ec2::Client,
    resource: &ExistingResource<'_>,
    progress: &dyn ProgressSink,
    retry: Retry,
) -> Result<(), DriverError> {
    retry.run_reporting(resource.address, progress, || group_api::delete(ec2, resource.id)).await
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
        StackInfo {
            name: "shop".into(),
            region: "eu-west-1".into(),
            directory: std::path::PathBuf::from("."),
            lineage: None,
        }
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

    fn ec2_error(code: &'static str) -> aws_smithy_types::error::ErrorMetadata {
        aws_smithy_types::error::ErrorMetadata::builder().code(code).message("the group is in use").build()
    }

    fn existing(address: &Address) -> ExistingResource<'_> {
        static EMPTY: std::sync::LazyLock<JsonMap> = std::sync::LazyLock::new(JsonMap::new);
        ExistingResource { address, id: "sg-1", inputs: &EMPTY, attributes: &EMPTY }
    }

    /// EC2's answers while a deleted load balancer's interfaces linger, played by the SDK's mocks
    /// (the emulator never refuses): `DependencyViolation`, then `InvalidGroup.InUse`, then done.
    #[tokio::test]
    async fn delete_waits_while_interfaces_still_hold_the_group() {
        use aws_sdk_ec2::operation::delete_security_group::{DeleteSecurityGroupError, DeleteSecurityGroupOutput};
        use aws_smithy_mocks::mock;
        let violation = mock!(aws_sdk_ec2::Client::delete_security_group)
            .then_error(|| DeleteSecurityGroupError::generic(ec2_error("DependencyViolation")));
        let in_use = mock!(aws_sdk_ec2::Client::delete_security_group)
            .then_error(|| DeleteSecurityGroupError::generic(ec2_error("InvalidGroup.InUse")));
        let deleted = mock!(aws_sdk_ec2::Client::delete_security_group)
            .then_output(|| DeleteSecurityGroupOutput::builder().build());
        let ec2 = mock_client!(aws_sdk_ec2, [&violation, &in_use, &deleted]);
        let address = Address::new("security_group", "web");
        let progress = Recorder(Default::default());
        let retry = behaviour::GROUP_DELETE.within(crate::behaviours::Bound::TEST);
        delete_when_unused(&ec2, &existing(&address), &progress, retry).await.expect("deleted once free");
        assert_eq!((violation.num_calls(), in_use.num_calls(), deleted.num_calls()), (1, 1, 1));
        let lines = progress.0.lock().expect("lock").clone();
        assert_eq!(lines.len(), 2, "one progress line per wait: {lines:?}");
        assert!(
            lines[0].contains("waiting for the network interfaces and rules that use the group to go"),
            "{lines:?}"
        );
    }

    #[tokio::test]
    async fn delete_gives_up_with_a_hint_when_the_group_stays_in_use() {
        use aws_sdk_ec2::operation::delete_security_group::DeleteSecurityGroupError;
        use aws_smithy_mocks::mock;
        let violation = mock!(aws_sdk_ec2::Client::delete_security_group)
            .sequence()
            .error(|| DeleteSecurityGroupError::generic(ec2_error("DependencyViolation")))
            .repeatedly()
            .build();
        let ec2 = mock_client!(aws_sdk_ec2, [&violation]);
        let address = Address::new("security_group", "web");
        let retry = behaviour::GROUP_DELETE.within(crate::behaviours::Bound::TEST);
        let error = delete_when_unused(&ec2, &existing(&address), &Recorder(Default::default()), retry)
            .await
            .expect_err("still in use");
        assert!(error.code_is("DependencyViolation"));
        assert!(error.hint.is_some_and(|hint| hint.contains("network interfaces")));
    }

    /// The rules of a group made a moment ago: EC2 answers `InvalidGroup.NotFound` once, then
    /// takes them.
    #[tokio::test]
    async fn rules_of_a_new_group_are_retried_until_ec2_sees_the_group() {
        use aws_sdk_ec2::operation::authorize_security_group_ingress::{
            AuthorizeSecurityGroupIngressError, AuthorizeSecurityGroupIngressOutput,
        };
        use aws_smithy_mocks::mock;
        let not_found = mock!(aws_sdk_ec2::Client::authorize_security_group_ingress).then_error(|| {
            AuthorizeSecurityGroupIngressError::generic(
                aws_smithy_types::error::ErrorMetadata::builder()
                    .code("InvalidGroup.NotFound")
                    .message("The security group 'sg-1' does not exist")
                    .build(),
            )
        });
        let authorized = mock!(aws_sdk_ec2::Client::authorize_security_group_ingress)
            .then_output(|| AuthorizeSecurityGroupIngressOutput::builder().build());
        let ec2 = mock_client!(aws_sdk_ec2, [&not_found, &authorized]);
        let rules = rules::from_inputs(Some(&json!([{ "port": 443, "cidr": "0.0.0.0/0" }]))).expect("rules");
        behaviour::NEW_GROUP
            .within(crate::behaviours::Bound::TEST)
            .run(|| group_api::authorize(&ec2, "sg-1", &rules))
            .await
            .expect("authorized once visible");
        assert_eq!((not_found.num_calls(), authorized.num_calls()), (1, 1));
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
