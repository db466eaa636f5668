//! `load_balancer`: an application load balancer in the stack's subnets.
//!
//! The scheme (internet-facing or internal) and the name cannot change on a running load balancer,
//! so they force a replacement; subnets, security groups and the idle timeout change in place.
//!
//! Subnets and security groups are sets to AWS, which answers them in its own order; `prepare`
//! sorts the desired lists so that only a real difference shows in a plan. A load balancer created
//! without security groups gets the VPC's default group from AWS, which the stack never named, so
//! that case is not compared.
//!
//! A refresh costs one `DescribeLoadBalancers` and one `DescribeTags` per 20 load balancers, plus one
//! `DescribeLoadBalancerAttributes` each (the idle timeout is not in the description).
//!
//! Deleting waits until the load balancer is really gone, and then until the network interfaces it
//! made are gone too (`elbv2.load-balancer-interfaces-linger`): until then they hold on to its
//! security groups and subnets, and deleting those (the usual next step of a destroy) would fail.
//! terraform-provider-aws does the same in `cleanupALBNetworkInterfaces`.

mod api;
mod interfaces;

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::Deserialize;

use self::api::{Snapshot, State};
use super::elbv2::{self, ARNS_PER_CALL};
use super::*;
use crate::behaviours::{elbv2 as behaviour, Look};
use provision_core::schema::{Default as FieldDefault, FieldKind, FieldSpec, ResourceSchema};
use provision_core::value::Value;

pub struct LoadBalancerDriver;

static SCHEMA: ResourceSchema = ResourceSchema {
    type_name: "load_balancer",
    description: "An application load balancer (HTTP/HTTPS) in the stack's network.",
    fields: &[
        FieldSpec::new("name", FieldKind::String, "The load balancer's name, unique in the account and region.")
            .default(FieldDefault::AwsName { max_len: 32 })
            .forces_replacement()
            .check(elbv2::check_name),
        FieldSpec::new(
            "internal",
            FieldKind::Bool,
            "Reachable only from inside the VPC (scheme `internal`) instead of from the internet.",
        )
        .default(FieldDefault::Bool(false))
        .forces_replacement(),
        FieldSpec::new(
            "subnets",
            FieldKind::StringList,
            "Subnet ids, in at least two availability zones; by default the `[network]`'s public subnets, or its \
             private ones for an internal load balancer.",
        )
        .default(FieldDefault::NetworkSubnetIdsUnless("internal")),
        FieldSpec::new(
            "security_groups",
            FieldKind::StringList,
            "Security group ids; when empty, AWS attaches the VPC's default group (and provision does \
             not compare the groups).",
        )
        .default(FieldDefault::EmptyList),
        FieldSpec::new(
            "idle_timeout",
            FieldKind::Int,
            "Seconds a connection may stay idle before the load balancer closes it (1 to 4000).",
        )
        .default(FieldDefault::Int(60))
        .range(1, 4000),
    ],
    attributes: &["arn", "dns_name", "zone_id", "name"],
    taggable: true,
    derived: &[],
    create_before_destroy: false,
};

/// The inputs of one load balancer, as the planner resolved them (or as the state recorded them).
#[derive(Debug, Deserialize)]
struct LoadBalancerConfig {
    name: String,
    #[serde(default)]
    internal: bool,
    #[serde(default)]
    subnets: Vec<String>,
    #[serde(default)]
    security_groups: Vec<String>,
    #[serde(default = "default_idle_timeout")]
    idle_timeout: i64,
}

fn default_idle_timeout() -> i64 {
    60
}

impl LoadBalancerConfig {
    fn from_inputs(inputs: &JsonMap) -> Result<LoadBalancerConfig, DriverError> {
        elbv2::config_from("load_balancer", inputs)
    }
}

#[async_trait]
impl AwsDriver for LoadBalancerDriver {
    fn schema(&self) -> &'static ResourceSchema {
        &SCHEMA
    }

    /// AWS: `provisioning` ~3 min (`elbv2.load-balancer-provisioning`).
    fn typical_durations(&self) -> super::TypicalDurations {
        super::TypicalDurations::seconds(180, 0, 0)
    }

    fn check(&self, values: &BTreeMap<String, Value>) -> Vec<Problem> {
        let mut problems = Vec::new();
        if let Some(Value::Str(name)) = values.get("name") {
            if let Err(message) = elbv2::check_name(name) {
                problems.push(Problem::error("name", message).hint("set `name = \"...\"` to a valid name"));
            }
        }
        if let Some(message) = elbv2::out_of_range(values, "idle_timeout", 1..=4000) {
            problems.push(Problem::error("idle_timeout", message));
        }
        if let Some(Value::List(subnets)) = values.get("subnets") {
            if subnets.iter().all(Value::is_known) && subnets.len() < 2 {
                problems.push(
                    Problem::error(
                        "subnets",
                        format!(
                            "an application load balancer needs subnets in at least two availability zones, got {}",
                            subnets.len()
                        ),
                    )
                    .hint("list two or more subnets in different availability zones, or leave `subnets` out to use the `[network]` subnets"),
                );
            }
        }
        problems
    }

    fn prepare(&self, _stack: &StackInfo, inputs: &mut JsonMap) -> Result<(), DriverError> {
        elbv2::sort_list(inputs, "subnets");
        elbv2::sort_list(inputs, "security_groups");
        Ok(())
    }

    fn planned_attributes(&self, _stack: &StackInfo, inputs: &JsonMap) -> JsonMap {
        let mut attributes = JsonMap::new();
        if let Some(name) = inputs.get("name").filter(|name| name.is_string()) {
            attributes.insert("name".into(), name.clone());
        }
        attributes
    }

    async fn import_id(&self, aws: &AwsContext, id: &str) -> Result<String, DriverError> {
        if let Some(arn) = elbv2::imported_arn(id, ":loadbalancer/app/", "load balancer") {
            return arn;
        }
        let answer = aws
            .elbv2()
            .describe_load_balancers()
            .names(id)
            .send()
            .await
            .map_err(|e| crate::aws_error("DescribeLoadBalancers", e))?;
        answer
            .load_balancers()
            .first()
            .and_then(|lb| lb.load_balancer_arn())
            .map(str::to_string)
            .ok_or_else(|| DriverError::invalid(format!("no load balancer is named `{id}`")))
    }

    fn id_from_arn(&self, arn: &str) -> Option<String> {
        arn.contains(":loadbalancer/app/").then(|| arn.to_string())
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
        let described = elbv2::describe_many(&arns, ARNS_PER_CALL, api::describe_by_arns(elb)).await;
        let found: Vec<&str> =
            described.iter().filter_map(|lb| lb.as_ref().ok()?.as_ref().map(|lb| lb.arn.as_str())).collect();
        let tags = elbv2::tags_of(elb, &found).await;
        let reads: Vec<_> = resources
            .iter()
            .zip(described.iter())
            .map(|(resource, described)| {
                let tags = &tags;
                move || finish_read(elb, resource, described, tags)
            })
            .collect();
        aws.limiter(crate::Service::Elbv2).all(reads).await
    }

    async fn create(
        &self,
        aws: &AwsContext,
        request: &ResourceRequest<'_>,
        progress: &dyn ProgressSink,
    ) -> Result<Observed, DriverError> {
        let config = LoadBalancerConfig::from_inputs(request.inputs)?;
        let elb = aws.elbv2();
        let created = api::create(elb, &config, request.tags).await?;
        api::set_idle_timeout(elb, &created.arn, config.idle_timeout).await?;
        let ready = wait_until_ready(elb, request.address, created, progress).await?;
        Ok(Observed { id: ready.arn.clone(), inputs: JsonMap::new(), attributes: attributes(&ready) })
    }

    async fn update(
        &self,
        aws: &AwsContext,
        prior: &ExistingResource<'_>,
        request: &ResourceRequest<'_>,
        changes: &[FieldChange],
        _progress: &dyn ProgressSink,
    ) -> Result<Observed, DriverError> {
        let config = LoadBalancerConfig::from_inputs(request.inputs)?;
        let (elb, arn) = (aws.elbv2(), prior.id);
        let changed = elbv2::changed_fields(changes);
        if changed.contains("subnets") {
            api::set_subnets(elb, arn, &config.subnets).await?;
        }
        if changed.contains("security_groups") {
            api::set_security_groups(elb, arn, &config.security_groups).await?;
        }
        if changed.contains("idle_timeout") {
            api::set_idle_timeout(elb, arn, config.idle_timeout).await?;
        }
        if changed.contains("tags") {
            elbv2::retag(elb, arn, prior.inputs, request.tags).await?;
        }
        let lb = api::describe_one(elb, arn).await?.ok_or_else(|| {
            DriverError::invalid(format!("load balancer {arn} no longer exists"))
                .with_hint("run `provision apply` again to create it anew")
        })?;
        Ok(Observed { id: lb.arn.clone(), inputs: JsonMap::new(), attributes: attributes(&lb) })
    }

    async fn delete(
        &self,
        aws: &AwsContext,
        resource: &ExistingResource<'_>,
        progress: &dyn ProgressSink,
    ) -> Result<(), DriverError> {
        let (elb, arn) = (aws.elbv2(), resource.id);
        api::delete(elb, arn).await?;
        let subject = format!("load balancer {arn}");
        behaviour::DELETED
            .until(resource.address, progress, &subject, || async {
                Ok(match api::describe_one(elb, arn).await? {
                    None => Look::Done(()),
                    Some(_) => Look::Pending("still listed".to_string()),
                })
            })
            .await?;
        interfaces::wait_until_gone(aws.ec2(), resource.address, arn, behaviour::INTERFACES_GONE, progress).await
    }

    /// The name is unique per account and region; the provision tags tell whether this stack's
    /// resource made it or someone else did.
    async fn find_interrupted(
        &self,
        aws: &AwsContext,
        stack: &StackInfo,
        address: &Address,
        intended_id: &str,
    ) -> Result<Option<String>, DriverError> {
        let elb = aws.elbv2();
        let Some(lb) = api::describe_by_name(elb, intended_id).await? else { return Ok(None) };
        let tags = elbv2::tags_of(elb, &[lb.arn.as_str()]).await?;
        let ours = tags.get(&lb.arn).is_some_and(|tags| elbv2::made_by(tags, stack, address));
        Ok(ours.then_some(lb.arn))
    }
}

/// The rest of one load balancer's read, once the batched calls answered.
async fn finish_read(
    elb: &aws_sdk_elasticloadbalancingv2::Client,
    resource: &ExistingResource<'_>,
    described: &Result<Option<Snapshot>, DriverError>,
    tags: &Result<BTreeMap<String, BTreeMap<String, String>>, DriverError>,
) -> Result<Option<Observed>, DriverError> {
    let Some(lb) = described.clone()? else { return Ok(None) };
    let tags = tags.as_ref().map_err(Clone::clone)?.get(&lb.arn).cloned().unwrap_or_default();
    let idle_timeout = match api::idle_timeout(elb, &lb.arn).await {
        // Deleted between the description and this call.
        Err(error) if elbv2::is_not_found(&error) => return Ok(None),
        other => other?,
    };
    // Compared when the stack names groups (null: an import before the groups it refers to).
    let compare_groups = resource
        .inputs
        .get("security_groups")
        .is_some_and(|groups| groups.is_null() || groups.as_array().is_some_and(|groups| !groups.is_empty()));
    Ok(Some(observe(&lb, idle_timeout, &tags, compare_groups)))
}

fn observe(
    lb: &Snapshot,
    idle_timeout: Option<i64>,
    tags: &BTreeMap<String, String>,
    compare_groups: bool,
) -> Observed {
    let mut inputs = JsonMap::new();
    inputs.insert("name".into(), lb.name.clone().into());
    if let Some(internal) = lb.internal {
        inputs.insert("internal".into(), internal.into());
    }
    inputs.insert("subnets".into(), lb.subnets.clone().into());
    if compare_groups {
        inputs.insert("security_groups".into(), lb.security_groups.clone().into());
    }
    if let Some(seconds) = idle_timeout {
        inputs.insert("idle_timeout".into(), seconds.into());
    }
    inputs.insert("tags".into(), elbv2::user_tags(tags));
    Observed { id: lb.arn.clone(), inputs, attributes: attributes(lb) }
}

fn attributes(lb: &Snapshot) -> JsonMap {
    let mut attributes = JsonMap::new();
    attributes.insert("arn".into(), lb.arn.clone().into());
    attributes.insert("dns_name".into(), lb.dns_name.clone().into());
    attributes.insert("zone_id".into(), lb.zone_id.clone().into());
    attributes.insert("name".into(), lb.name.clone().into());
    attributes
}

/// Polls until the new load balancer is active; the create's own answer may already say so.
async fn wait_until_ready(
    elb: &aws_sdk_elasticloadbalancingv2::Client,
    address: &Address,
    created: Snapshot,
    progress: &dyn ProgressSink,
) -> Result<Snapshot, DriverError> {
    let arn = created.arn.clone();
    let mut current = Some(created);
    let subject = format!("load balancer {arn}");
    behaviour::PROVISIONING
        .until(address, progress, &subject, || {
            let at_hand = current.take();
            let arn = &arn;
            async move {
                let now = match at_hand {
                    Some(snapshot) => snapshot,
                    None => api::describe_one(elb, arn).await?.ok_or_else(|| {
                        DriverError::invalid(format!("load balancer {arn} disappeared while it was provisioning"))
                    })?,
                };
                match &now.state {
                    State::Ready => Ok(Look::Done(now)),
                    State::Failed(reason) => {
                        Err(DriverError::invalid(format!("load balancer {arn} failed to provision: {reason}"))
                            .with_hint(
                            "delete it (`provision destroy --target ...`) and check the subnets and security groups",
                        ))
                    }
                    State::Provisioning => Ok(Look::Pending("`provisioning`".to_string())),
                }
            }
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value as Json;

    fn values(json: Json) -> BTreeMap<String, Value> {
        json.as_object().expect("object").iter().map(|(k, v)| (k.clone(), Value::from_json(v))).collect()
    }

    fn snapshot() -> Snapshot {
        Snapshot {
            arn: "arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/app/shop-web/1".into(),
            name: "shop-web".into(),
            dns_name: "shop-web-1.us-east-1.elb.amazonaws.com".into(),
            zone_id: "Z35SXDOTRQ7X7K".into(),
            internal: Some(false),
            subnets: vec!["subnet-a".into(), "subnet-b".into()],
            security_groups: vec!["sg-1".into()],
            state: State::Ready,
        }
    }

    #[test]
    fn check_accepts_a_plain_load_balancer() {
        let problems = LoadBalancerDriver.check(&values(serde_json::json!({
            "name": "shop-web", "subnets": ["subnet-a", "subnet-b"], "idle_timeout": 60
        })));
        assert!(problems.is_empty(), "{problems:?}");
    }

    #[test]
    fn check_reports_name_timeout_and_single_subnet() {
        let problems = LoadBalancerDriver.check(&values(serde_json::json!({
            "name": "internal-web", "subnets": ["subnet-a"], "idle_timeout": 0
        })));
        let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(fields, vec!["name", "idle_timeout", "subnets"]);
        assert!(problems.iter().all(|p| !p.warning));
    }

    #[test]
    fn check_skips_unknown_values() {
        let mut values = values(serde_json::json!({ "name": "shop-web" }));
        values.insert("subnets".into(), Value::Unknown);
        values.insert("idle_timeout".into(), Value::Unknown);
        assert!(LoadBalancerDriver.check(&values).is_empty());
    }

    #[test]
    fn prepare_sorts_subnets_and_groups() {
        let mut inputs =
            serde_json::json!({ "subnets": ["subnet-b", "subnet-a"], "security_groups": ["sg-2", "sg-1"] })
                .as_object()
                .cloned()
                .expect("object");
        let stack = StackInfo { name: "shop".into(), region: "us-east-1".into(), directory: ".".into(), lineage: None };
        LoadBalancerDriver.prepare(&stack, &mut inputs).expect("prepare");
        assert_eq!(inputs["subnets"], serde_json::json!(["subnet-a", "subnet-b"]));
        assert_eq!(inputs["security_groups"], serde_json::json!(["sg-1", "sg-2"]));
    }

    #[test]
    fn observed_inputs_have_the_stack_file_shape() {
        let tags: BTreeMap<String, String> =
            [("provision:stack".to_string(), "shop".to_string()), ("team".to_string(), "web".to_string())]
                .into_iter()
                .collect();
        let observed = observe(&snapshot(), Some(120), &tags, true);
        assert_eq!(
            Json::Object(observed.inputs),
            serde_json::json!({
                "name": "shop-web", "internal": false, "subnets": ["subnet-a", "subnet-b"],
                "security_groups": ["sg-1"], "idle_timeout": 120, "tags": { "team": "web" }
            })
        );
        assert_eq!(observed.attributes["zone_id"], "Z35SXDOTRQ7X7K");
        assert_eq!(observed.attributes["dns_name"], "shop-web-1.us-east-1.elb.amazonaws.com");
        assert_eq!(observed.id, snapshot().arn);
    }

    #[test]
    fn unread_values_are_not_reported() {
        let observed = observe(&Snapshot { internal: None, ..snapshot() }, None, &BTreeMap::new(), false);
        for field in ["internal", "idle_timeout", "security_groups"] {
            assert!(!observed.inputs.contains_key(field), "{field}");
        }
    }

    #[test]
    fn config_takes_defaults() {
        let inputs = serde_json::json!({ "name": "shop-web" }).as_object().cloned().expect("object");
        let config = LoadBalancerConfig::from_inputs(&inputs).expect("config");
        assert!(!config.internal);
        assert_eq!(config.idle_timeout, 60);
        assert!(config.subnets.is_empty());
    }

    #[test]
    fn planned_attributes_know_the_name() {
        let stack = StackInfo { name: "shop".into(), region: "us-east-1".into(), directory: ".".into(), lineage: None };
        let inputs = serde_json::json!({ "name": "shop-web" }).as_object().cloned().expect("object");
        let planned = LoadBalancerDriver.planned_attributes(&stack, &inputs);
        assert_eq!(Json::Object(planned), serde_json::json!({ "name": "shop-web" }));
    }
}
