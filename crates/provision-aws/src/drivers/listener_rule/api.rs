//! Listener rule calls, and the translation between a rule's conditions and actions and the fields
//! (`path_patterns`, `host_headers`, `http_methods`, `forward`) that describe it in a stack file.

use std::collections::BTreeMap;

use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, HostHeaderConditionConfig, HttpRequestMethodConditionConfig, PathPatternConditionConfig,
    Rule, RuleCondition, RulePriorityPair,
};
use aws_sdk_elasticloadbalancingv2::Client;

use super::RuleConfig;
use crate::drivers::elbv2::{self, Describe};
use crate::drivers::DriverError;

/// What `forward` reads as when the rule's action is not a forward: never a target group ARN, so it
/// shows as drift and the next apply puts the forward back.
pub(super) const OTHER_ACTION: &str = "(another action, set outside provision)";

/// What the driver reads of one `Rule` answer.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Snapshot {
    pub arn: String,
    /// `None` for the listener's default rule (its priority is `default`).
    pub priority: Option<i64>,
    pub path_patterns: Vec<String>,
    pub host_headers: Vec<String>,
    pub http_methods: Vec<String>,
    /// The target group the rule forwards to, or a description of another action.
    pub forward: String,
}

impl Snapshot {
    pub(super) fn from_aws(rule: &Rule) -> Option<Snapshot> {
        let mut snapshot = Snapshot {
            arn: rule.rule_arn()?.to_string(),
            priority: rule.priority().and_then(|priority| priority.parse().ok()),
            path_patterns: Vec::new(),
            host_headers: Vec::new(),
            http_methods: Vec::new(),
            forward: forwarded_to(rule.actions()),
        };
        for condition in rule.conditions() {
            // AWS answers a condition with its values in `Values` and in the field's own config (a
            // rule made with the older form has only `Values`): both are read.
            let mut values: Vec<String> = condition.values().to_vec();
            let list = match condition.field().unwrap_or_default() {
                "path-pattern" => {
                    values.extend(condition.path_pattern_config().map(|c| c.values().to_vec()).unwrap_or_default());
                    &mut snapshot.path_patterns
                }
                "host-header" => {
                    values.extend(condition.host_header_config().map(|c| c.values().to_vec()).unwrap_or_default());
                    &mut snapshot.host_headers
                }
                "http-request-method" => {
                    let config = condition.http_request_method_config();
                    values.extend(config.map(|c| c.values().to_vec()).unwrap_or_default());
                    &mut snapshot.http_methods
                }
                // A header, query string or source address condition, set outside provision: shown in
                // `path_patterns`, where it reads as drift, and the next apply's conditions replace it.
                other => {
                    values = vec![format!("(a `{other}` condition, set outside provision)")];
                    &mut snapshot.path_patterns
                }
            };
            list.extend(values);
        }
        for list in [&mut snapshot.path_patterns, &mut snapshot.host_headers, &mut snapshot.http_methods] {
            list.sort();
            list.dedup();
        }
        Some(snapshot)
    }
}

/// The target group of the action that answers the request (the last by order), or
/// [`OTHER_ACTION`].
fn forwarded_to(actions: &[Action]) -> String {
    let last = actions.iter().enumerate().max_by_key(|(index, action)| (action.order(), *index));
    match last.map(|(_, action)| action) {
        Some(action) if action.r#type() == Some(&ActionTypeEnum::Forward) => match elbv2::forwarded_to(action) {
            groups if groups.is_empty() => OTHER_ACTION.to_string(),
            // Weighted forwarding to several groups reads as their list, which never equals one ARN.
            groups => groups.join(", "),
        },
        _ => OTHER_ACTION.to_string(),
    }
}

/// The conditions to send, each in its field's own config (the form that takes several values).
fn conditions(config: &RuleConfig) -> Vec<RuleCondition> {
    let mut conditions = Vec::new();
    if !config.path_patterns.is_empty() {
        let values = PathPatternConditionConfig::builder().set_values(Some(config.path_patterns.clone())).build();
        conditions.push(RuleCondition::builder().field("path-pattern").path_pattern_config(values).build());
    }
    if !config.host_headers.is_empty() {
        let values = HostHeaderConditionConfig::builder().set_values(Some(config.host_headers.clone())).build();
        conditions.push(RuleCondition::builder().field("host-header").host_header_config(values).build());
    }
    if !config.http_methods.is_empty() {
        let values = HttpRequestMethodConditionConfig::builder().set_values(Some(config.http_methods.clone())).build();
        conditions
            .push(RuleCondition::builder().field("http-request-method").http_request_method_config(values).build());
    }
    conditions
}

fn forward(config: &RuleConfig) -> Action {
    Action::builder().r#type(ActionTypeEnum::Forward).target_group_arn(&config.forward).build()
}

fn priority(config: &RuleConfig) -> Result<i32, DriverError> {
    i32::try_from(config.priority)
        .map_err(|_| DriverError::invalid(format!("`priority` is out of range: {}", config.priority)))
}

/// The listener a rule belongs to, from the rule's ARN (`…:listener-rule/app/LB/ID/LISTENER/RULE`
/// belongs to `…:listener/app/LB/ID/LISTENER`): `DescribeRules` does not say. terraform-provider-aws
/// `listenerARNFromRuleARN` reads it the same way.
pub(super) fn listener_of(rule_arn: &str) -> Option<String> {
    let (listener, _rule) = rule_arn.rsplit_once('/')?;
    rule_arn.contains(":listener-rule/").then(|| listener.replacen(":listener-rule/", ":listener/", 1))
}

fn snapshots(rules: &[Rule]) -> Vec<(String, Snapshot)> {
    rules
        .iter()
        .filter(|rule| rule.is_default() != Some(true))
        .filter_map(Snapshot::from_aws)
        .map(|rule| (rule.arn.clone(), rule))
        .collect()
}

/// `DescribeRules` for any number of rule ARNs (following pages), for [`elbv2::describe_many`].
pub(super) fn describe_by_arns(elb: &Client) -> Describe<'_, Snapshot> {
    Box::new(move |arns| {
        Box::pin(async move {
            let mut found = Vec::new();
            let mut marker = None;
            loop {
                let page = elb
                    .describe_rules()
                    .set_rule_arns(Some(arns.clone()))
                    .set_marker(marker)
                    .send()
                    .await
                    .map_err(|error| crate::aws_error("DescribeRules", error))?;
                found.extend(snapshots(page.rules()));
                marker = page.next_marker().map(str::to_string);
                if marker.is_none() {
                    return Ok(found);
                }
            }
        })
    })
}

/// The rules of one listener (its default rule left out); none when the listener is gone.
pub(super) async fn rules_of(elb: &Client, listener: &str) -> Result<Vec<Snapshot>, DriverError> {
    let mut found = Vec::new();
    let mut marker = None;
    loop {
        let page = match elb.describe_rules().listener_arn(listener).set_marker(marker).send().await {
            Ok(page) => page,
            Err(error) => {
                let error = crate::aws_error("DescribeRules", error);
                return if elbv2::is_not_found(&error) { Ok(Vec::new()) } else { Err(error) };
            }
        };
        found.extend(snapshots(page.rules()).into_iter().map(|(_, rule)| rule));
        marker = page.next_marker().map(str::to_string);
        if marker.is_none() {
            return Ok(found);
        }
    }
}

/// Creates the rule with its tags in the same call, so that it is never untagged.
pub(super) async fn create(
    elb: &Client,
    config: &RuleConfig,
    tags: &BTreeMap<String, String>,
) -> Result<Snapshot, DriverError> {
    let output = elb
        .create_rule()
        .listener_arn(&config.listener)
        .priority(priority(config)?)
        .set_conditions(Some(conditions(config)))
        .actions(forward(config))
        .set_tags(Some(elbv2::tag_list(tags)))
        .send()
        .await
        .map_err(|error| crate::aws_error("CreateRule", error))?;
    output
        .rules()
        .first()
        .and_then(Snapshot::from_aws)
        .ok_or_else(|| DriverError::invalid("CreateRule answered without a rule"))
}

/// Sets the conditions and the action together (`ModifyRule` replaces both lists).
pub(super) async fn modify(elb: &Client, arn: &str, config: &RuleConfig) -> Result<(), DriverError> {
    elb.modify_rule()
        .rule_arn(arn)
        .set_conditions(Some(conditions(config)))
        .actions(forward(config))
        .send()
        .await
        .map_err(|error| crate::aws_error("ModifyRule", error))?;
    Ok(())
}

pub(super) async fn set_priority(elb: &Client, arn: &str, config: &RuleConfig) -> Result<(), DriverError> {
    let pair = RulePriorityPair::builder().rule_arn(arn).priority(priority(config)?).build();
    elb.set_rule_priorities()
        .rule_priorities(pair)
        .send()
        .await
        .map_err(|error| crate::aws_error("SetRulePriorities", error))?;
    Ok(())
}

/// Deletes the rule; one already gone (with its listener, say) counts as deleted.
pub(super) async fn delete(elb: &Client, arn: &str) -> Result<(), DriverError> {
    match elb.delete_rule().rule_arn(arn).send().await {
        Ok(_) => Ok(()),
        Err(error) => elbv2::gone_is_deleted(crate::aws_error("DeleteRule", error)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(json: serde_json::Value) -> RuleConfig {
        RuleConfig::from_inputs(json.as_object().expect("object")).expect("config")
    }

    #[test]
    fn the_listener_comes_from_the_rule_arn() {
        let rule = "arn:aws:elasticloadbalancing:us-east-1:1:listener-rule/app/web/50dc6c495c0c9188/f2f7dc8efc522ab2/9683b2d02a6cabee";
        assert_eq!(
            listener_of(rule).as_deref(),
            Some("arn:aws:elasticloadbalancing:us-east-1:1:listener/app/web/50dc6c495c0c9188/f2f7dc8efc522ab2")
        );
        assert_eq!(listener_of("arn:aws:elasticloadbalancing:us-east-1:1:listener/app/web/1/2"), None);
    }

    #[test]
    fn conditions_and_the_forward_survive_a_round_trip() {
        let config = config(serde_json::json!({
            "listener": "arn:l", "priority": 10, "path_patterns": ["/b/*", "/a/*"], "host_headers": ["api.example.com"],
            "http_methods": ["GET"], "forward": "arn:tg"
        }));
        let rule = Rule::builder()
            .rule_arn("arn:rule")
            .priority("10")
            .set_conditions(Some(conditions(&config)))
            .actions(forward(&config))
            .build();
        let snapshot = Snapshot::from_aws(&rule).expect("a snapshot");
        assert_eq!(snapshot.priority, Some(10));
        assert_eq!(snapshot.path_patterns, ["/a/*", "/b/*"], "sorted: AWS matches any of them");
        assert_eq!(snapshot.host_headers, ["api.example.com"]);
        assert_eq!(snapshot.http_methods, ["GET"]);
        assert_eq!(snapshot.forward, "arn:tg");
    }

    #[test]
    fn values_of_the_older_form_and_other_conditions_and_actions_are_read() {
        let rule = Rule::builder()
            .rule_arn("arn:rule")
            .priority("100")
            .conditions(RuleCondition::builder().field("path-pattern").values("/*").build())
            .conditions(RuleCondition::builder().field("source-ip").build())
            .actions(Action::builder().r#type(ActionTypeEnum::FixedResponse).build())
            .build();
        let snapshot = Snapshot::from_aws(&rule).expect("a snapshot");
        assert_eq!(snapshot.path_patterns[0], "(a `source-ip` condition, set outside provision)");
        assert_eq!(snapshot.path_patterns[1], "/*");
        assert_eq!(snapshot.forward, OTHER_ACTION);
        let default = Rule::builder().rule_arn("arn:default").priority("default").is_default(true).build();
        assert!(snapshots(&[default]).is_empty(), "the listener's default rule is the listener's");
    }
}
