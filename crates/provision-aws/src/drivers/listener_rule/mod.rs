//! `listener_rule`: a rule of a listener that sends the requests it matches (by path, host or
//! method) to a target group, so that one load balancer serves several services: `/api/*` to the
//! API, `/admin/*` to the admin app, `ws.example.com` to the websocket service. What no rule matches
//! gets the listener's default action.
//!
//! The conditions are three lists, each a set (AWS matches any of its values): they are sorted on
//! both sides, so an order AWS reports differently is no drift. A condition or action set outside
//! provision reads as a description in `path_patterns` or `forward`, shows as drift, and the next
//! apply puts the stack's back.
//!
//! Rules have no name, so the intent recorded before `CreateRule` is the listener's ARN, and an
//! interrupted create is found among the listener's rules by the provision tags `CreateRule` gave
//! it in the same call. A create whose answer was lost meets its own rule on the SDK's retry as
//! `PriorityInUse`, and adopts it the same way.
//!
//! A refresh costs one `DescribeRules` per 20 rules and one `DescribeTags` per 20.

mod api;

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::Value as Json;

use self::api::Snapshot;
use super::elbv2;
use super::*;
use provision_core::schema::{Default as FieldDefault, FieldKind, FieldSpec, ResourceSchema};
use provision_core::stack::{Expr, Part, ResourceSpec};
use provision_core::value::Value;

pub struct ListenerRuleDriver;

/// The condition fields, in the order a hint names them.
const CONDITIONS: [&str; 3] = ["path_patterns", "host_headers", "http_methods"];
/// AWS's quota "condition values per rule" (Application Load Balancers Guide, "Quotas for your
/// Application Load Balancers").
const MAX_CONDITION_VALUES: usize = 5;
/// The longest path pattern or host name AWS takes in a condition (ELBv2 API `PathPatternConditionConfig`,
/// `HostHeaderConditionConfig`).
const MAX_VALUE_LENGTH: usize = 128;

static SCHEMA: ResourceSchema = ResourceSchema {
    type_name: "listener_rule",
    description: "A rule of a load balancer listener: requests whose path, host or method match go to a target \
                  group instead of the listener's default action.",
    fields: &[
        FieldSpec::new("listener", FieldKind::String, "The listener's ARN, usually `\"${listener.NAME.arn}\"`.")
            .required()
            .forces_replacement(),
        FieldSpec::new(
            "priority",
            FieldKind::Int,
            "The order the listener evaluates its rules in, lowest first; no two rules of a listener share one.",
        )
        .required()
        .range(1, 50000),
        FieldSpec::new(
            "path_patterns",
            FieldKind::StringList,
            "Paths the rule matches, any of them, e.g. `[\"/api/*\"]` (`*` and `?` are wildcards, case sensitive).",
        )
        .default(FieldDefault::EmptyList),
        FieldSpec::new(
            "host_headers",
            FieldKind::StringList,
            "Host names the rule matches, any of them, e.g. `[\"ws.example.com\"]` (`*` and `?` are wildcards).",
        )
        .default(FieldDefault::EmptyList),
        FieldSpec::new(
            "http_methods",
            FieldKind::StringList,
            "HTTP methods the rule matches, any of them, e.g. `[\"GET\", \"HEAD\"]`. A rule needs at least one \
             condition; with several, a request must match each, and all hold at most 5 values together.",
        )
        .default(FieldDefault::EmptyList),
        FieldSpec::new(
            "forward",
            FieldKind::String,
            "The target group ARN matching requests go to, usually `\"${target_group.NAME.arn}\"`.",
        )
        .required(),
    ],
    attributes: &["arn"],
    taggable: true,
    derived: &[],
    create_before_destroy: false,
};

#[derive(Debug, Deserialize)]
struct RuleConfig {
    listener: String,
    priority: i64,
    #[serde(default)]
    path_patterns: Vec<String>,
    #[serde(default)]
    host_headers: Vec<String>,
    #[serde(default)]
    http_methods: Vec<String>,
    forward: String,
}

impl RuleConfig {
    fn from_inputs(inputs: &JsonMap) -> Result<RuleConfig, DriverError> {
        elbv2::config_from("listener_rule", inputs)
    }
}

/// `PriorityInUse` with the address's fix: AWS's code and message stay as they are.
fn priority_in_use(error: DriverError, address: &Address, priority: i64) -> DriverError {
    error.with_hint(format!(
        "another rule of the listener has priority {priority}: give `{address}` a `priority` no other rule of the \
         listener has (`aws elbv2 describe-rules --listener-arn ARN` lists theirs)"
    ))
}

/// The offline checks of the conditions: at least one, at most five values together, and each value
/// of a shape AWS takes. Lists not known yet (references) are left to AWS.
fn check_conditions(values: &BTreeMap<String, Value>, problems: &mut Vec<Problem>) {
    let mut total = 0;
    let mut unknown = false;
    let mut first_set = None;
    for field in CONDITIONS {
        match values.get(field) {
            Some(Value::List(items)) => {
                total += items.len();
                if !items.is_empty() && first_set.is_none() {
                    first_set = Some(field);
                }
                for item in items {
                    match item {
                        Value::Str(text) => check_value(field, text, problems),
                        Value::Unknown => {}
                        _ => {}
                    }
                }
            }
            None | Some(Value::Null) => {}
            Some(_) => unknown = true,
        }
    }
    if total == 0 && !unknown {
        problems.push(Problem::error("path_patterns", "a listener rule needs at least one condition").hint(
            "set `path_patterns = [\"/api/*\"]`, `host_headers = [\"api.example.com\"]` or `http_methods = [\"GET\"]`",
        ));
    }
    if total > MAX_CONDITION_VALUES {
        problems.push(
            Problem::error(
                first_set.unwrap_or("path_patterns"),
                format!(
                    "the rule's conditions hold {total} values together; AWS allows at most {MAX_CONDITION_VALUES} \
                     per rule"
                ),
            )
            .hint("split them over two rules with the same `forward` and different `priority`"),
        );
    }
}

fn check_value(field: &str, text: &str, problems: &mut Vec<Problem>) {
    let problem = match field {
        "http_methods" => {
            let valid = !text.is_empty()
                && text.len() <= 40
                && text.chars().all(|c| c.is_ascii_uppercase() || c == '-' || c == '_');
            (!valid).then(|| {
                Problem::error(field, format!("`{text}` is not an HTTP method AWS matches"))
                    .hint("use upper-case letters, `-` and `_` only, at most 40, e.g. `\"GET\"` or `\"POST\"`")
            })
        }
        _ if text.is_empty() => Some(Problem::error(field, "holds an empty value").hint("remove it")),
        _ if text.len() > MAX_VALUE_LENGTH => Some(
            Problem::error(field, format!("`{text}` is {} characters long", text.len()))
                .hint(format!("AWS takes at most {MAX_VALUE_LENGTH} characters per value")),
        ),
        _ => None,
    };
    problems.extend(problem);
}

/// A `listener` field as written, spans left out, so that two rules naming the same listener compare
/// equal wherever they stand in the file.
fn listener_as_written(resource: &ResourceSpec) -> Option<Vec<Part>> {
    match &resource.fields.get("listener")?.expr {
        Expr::Template(parts) => Some(
            parts
                .iter()
                .map(|part| match part {
                    Part::Reference(reference, _) => Part::Reference(reference.clone(), 0..0),
                    Part::Literal(text) => Part::Literal(text.clone()),
                })
                .collect(),
        ),
        _ => None,
    }
}

fn priority_as_written(resource: &ResourceSpec) -> Option<i64> {
    match resource.fields.get("priority")?.expr {
        Expr::Int(priority) => Some(priority),
        _ => None,
    }
}

/// Two rules of the stack on the same listener with the same priority: AWS would refuse the second
/// (`PriorityInUse`), so `validate` says so first.
fn priority_taken_in_stack(resource: &ResourceSpec, resources: &BTreeMap<Address, ResourceSpec>) -> Vec<Problem> {
    let (Some(listener), Some(priority)) = (listener_as_written(resource), priority_as_written(resource)) else {
        return Vec::new();
    };
    resources
        .values()
        .filter(|other| other.address != resource.address && other.address.type_name == SCHEMA.type_name)
        .filter(|other| priority_as_written(other) == Some(priority))
        .filter(|other| listener_as_written(other).as_ref() == Some(&listener))
        .map(|other| {
            Problem::error("priority", format!("`{}` has priority {priority} on the same listener", other.address))
                .hint("no two rules of a listener share a priority: give one of them another `priority`")
        })
        .collect()
}

#[async_trait]
impl AwsDriver for ListenerRuleDriver {
    fn schema(&self) -> &'static ResourceSchema {
        &SCHEMA
    }

    fn check(&self, values: &BTreeMap<String, Value>) -> Vec<Problem> {
        let mut problems = Vec::new();
        elbv2::check_arn(values, "listener", "\"${listener.https.arn}\"", &mut problems);
        elbv2::check_arn(values, "forward", "\"${target_group.api.arn}\"", &mut problems);
        check_conditions(values, &mut problems);
        problems
    }

    fn check_in_stack(&self, resource: &ResourceSpec, resources: &BTreeMap<Address, ResourceSpec>) -> Vec<Problem> {
        priority_taken_in_stack(resource, resources)
    }

    /// The conditions are sets: sorted and without repeats, as they are read back.
    fn prepare(&self, _stack: &StackInfo, inputs: &mut JsonMap) -> Result<(), DriverError> {
        for field in CONDITIONS {
            elbv2::sort_list(inputs, field);
            if let Some(Json::Array(items)) = inputs.get_mut(field) {
                items.dedup();
            }
        }
        Ok(())
    }

    async fn import_id(&self, _aws: &AwsContext, id: &str) -> Result<String, DriverError> {
        match self.id_from_arn(id) {
            Some(arn) => Ok(arn),
            None => Err(DriverError::invalid(format!("`{id}` is not a listener rule ARN"))
                .with_hint("import a rule by its ARN (`aws elbv2 describe-rules --listener-arn ARN` shows it)")),
        }
    }

    fn id_from_arn(&self, arn: &str) -> Option<String> {
        (arn.starts_with("arn:") && arn.contains(":listener-rule/")).then(|| arn.to_string())
    }

    /// The listener: the rule is found among its rules by its tags.
    fn intended_id(&self, request: &ResourceRequest<'_>) -> String {
        request.inputs.get("listener").and_then(Json::as_str).unwrap_or_default().to_string()
    }

    async fn read(
        &self,
        aws: &AwsContext,
        _stack: &StackInfo,
        resources: &[ExistingResource<'_>],
    ) -> Vec<Result<Option<Observed>, DriverError>> {
        let elb = aws.elbv2();
        let arns: Vec<&str> = resources.iter().map(|resource| resource.id).collect();
        let arn_of: fn(&Snapshot) -> &str = |rule| &rule.arn;
        elbv2::read_tagged(elb, &arns, elbv2::ARNS_PER_CALL, api::describe_by_arns(elb), arn_of, observe).await
    }

    async fn create(
        &self,
        aws: &AwsContext,
        request: &ResourceRequest<'_>,
        _progress: &dyn ProgressSink,
    ) -> Result<Observed, DriverError> {
        let config = RuleConfig::from_inputs(request.inputs)?;
        let arn = match api::create(aws.elbv2(), &config, request.tags).await {
            Ok(rule) => rule.arn,
            // The priority is taken: by this create's own rule when its answer was lost and the SDK
            // sent it again (it carries this stack's and this address's tags), or by another rule.
            Err(error) if error.code_is("PriorityInUse") => {
                let intended = self.intended_id(request);
                match self.find_interrupted(aws, request.stack, request.address, &intended).await? {
                    Some(arn) => arn,
                    None => return Err(priority_in_use(error, request.address, config.priority)),
                }
            }
            Err(error) => return Err(error),
        };
        Ok(Observed { attributes: elbv2::arn_attributes(&arn), id: arn, inputs: JsonMap::new() })
    }

    async fn update(
        &self,
        aws: &AwsContext,
        prior: &ExistingResource<'_>,
        request: &ResourceRequest<'_>,
        changes: &[FieldChange],
        _progress: &dyn ProgressSink,
    ) -> Result<Observed, DriverError> {
        let config = RuleConfig::from_inputs(request.inputs)?;
        let (elb, arn) = (aws.elbv2(), prior.id);
        let changed = elbv2::changed_fields(changes);
        if ["path_patterns", "host_headers", "http_methods", "forward"].iter().any(|field| changed.contains(field)) {
            api::modify(elb, arn, &config).await?;
        }
        if changed.contains("priority") {
            api::set_priority(elb, arn, &config).await.map_err(|error| {
                if error.code_is("PriorityInUse") {
                    priority_in_use(error, request.address, config.priority)
                } else {
                    error
                }
            })?;
        }
        if changed.contains("tags") {
            elbv2::retag(elb, arn, prior.inputs, request.tags).await?;
        }
        Ok(Observed { id: arn.to_string(), inputs: JsonMap::new(), attributes: elbv2::arn_attributes(arn) })
    }

    async fn delete(
        &self,
        aws: &AwsContext,
        resource: &ExistingResource<'_>,
        _progress: &dyn ProgressSink,
    ) -> Result<(), DriverError> {
        api::delete(aws.elbv2(), resource.id).await
    }

    async fn find_interrupted(
        &self,
        aws: &AwsContext,
        stack: &StackInfo,
        address: &Address,
        intended_id: &str,
    ) -> Result<Option<String>, DriverError> {
        if intended_id.is_empty() {
            return Ok(None);
        }
        let elb = aws.elbv2();
        let rules = api::rules_of(elb, intended_id).await?;
        let arns: Vec<&str> = rules.iter().map(|rule| rule.arn.as_str()).collect();
        let tags = elbv2::tags_of(elb, &arns).await?;
        Ok(arns
            .into_iter()
            .find(|arn| tags.get(*arn).is_some_and(|tags| elbv2::made_by(tags, stack, address)))
            .map(str::to_string))
    }
}

fn observe(rule: &Snapshot, tags: &BTreeMap<String, String>) -> Observed {
    let mut inputs = JsonMap::new();
    inputs.insert("listener".into(), api::listener_of(&rule.arn).map_or(Json::Null, Json::from));
    inputs.insert("priority".into(), rule.priority.map_or(Json::Null, Json::from));
    inputs.insert("path_patterns".into(), rule.path_patterns.clone().into());
    inputs.insert("host_headers".into(), rule.host_headers.clone().into());
    inputs.insert("http_methods".into(), rule.http_methods.clone().into());
    inputs.insert("forward".into(), rule.forward.clone().into());
    inputs.insert("tags".into(), elbv2::user_tags(tags));
    Observed { id: rule.arn.clone(), inputs, attributes: elbv2::arn_attributes(&rule.arn) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(json: Json) -> BTreeMap<String, Value> {
        json.as_object().expect("object").iter().map(|(k, v)| (k.clone(), Value::from_json(v))).collect()
    }

    fn problems(json: Json) -> Vec<String> {
        ListenerRuleDriver.check(&values(json)).into_iter().map(|p| format!("{}: {}", p.field, p.message)).collect()
    }

    #[test]
    fn a_rule_by_path_or_host_passes() {
        assert!(problems(serde_json::json!({
            "listener": "arn:l", "priority": 10, "path_patterns": ["/api/*"], "host_headers": [], "http_methods": [],
            "forward": "arn:tg"
        }))
        .is_empty());
        assert!(problems(serde_json::json!({ "host_headers": ["ws.example.com"], "http_methods": ["GET", "HEAD"] }))
            .is_empty());
    }

    #[test]
    fn a_rule_needs_a_condition_unless_one_is_not_known_yet() {
        let found = problems(serde_json::json!({ "path_patterns": [], "host_headers": [], "http_methods": [] }));
        assert_eq!(found, ["path_patterns: a listener rule needs at least one condition"]);
        let mut later = values(serde_json::json!({ "path_patterns": [] }));
        later.insert("host_headers".into(), Value::Unknown);
        assert!(ListenerRuleDriver.check(&later).is_empty());
    }

    #[test]
    fn at_most_five_condition_values_together() {
        let found = problems(serde_json::json!({
            "path_patterns": ["/a", "/b", "/c"], "host_headers": ["x.example.com", "y.example.com"], "http_methods": ["GET"]
        }));
        assert_eq!(
            found,
            ["path_patterns: the rule's conditions hold 6 values together; AWS allows at most 5 per rule"]
        );
        let hint = ListenerRuleDriver
            .check(&values(serde_json::json!({ "host_headers": ["a", "b", "c", "d", "e", "f"] })))
            .remove(0);
        assert_eq!(hint.field, "host_headers");
        assert!(hint.hint.is_some_and(|hint| hint.contains("two rules")));
    }

    #[test]
    fn values_of_a_shape_aws_refuses_are_found_offline() {
        let long = format!("/{}", "a".repeat(128));
        let found = problems(serde_json::json!({
            "listener": "web", "path_patterns": [long], "http_methods": ["get"], "forward": "api"
        }));
        assert_eq!(found.len(), 4, "{found:?}");
        assert!(found.iter().any(|p| p.starts_with("http_methods: `get` is not an HTTP method")), "{found:?}");
    }

    #[test]
    fn conditions_are_sets() {
        let stack = StackInfo { name: "shop".into(), region: "us-east-1".into(), directory: ".".into(), lineage: None };
        let mut inputs = serde_json::json!({ "path_patterns": ["/b", "/a", "/b"], "host_headers": [] })
            .as_object()
            .cloned()
            .expect("object");
        ListenerRuleDriver.prepare(&stack, &mut inputs).expect("prepare");
        assert_eq!(inputs["path_patterns"], serde_json::json!(["/a", "/b"]));
    }

    #[test]
    fn observed_inputs_have_the_stack_file_shape() {
        let rule = Snapshot {
            arn: "arn:aws:elasticloadbalancing:us-east-1:1:listener-rule/app/web/1/2/3".into(),
            priority: Some(10),
            path_patterns: vec!["/api/*".into()],
            host_headers: Vec::new(),
            http_methods: Vec::new(),
            forward: "arn:tg".into(),
        };
        let tags: BTreeMap<String, String> = [("provision:stack", "shop"), ("team", "web")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let observed = observe(&rule, &tags);
        assert_eq!(
            Json::Object(observed.inputs),
            serde_json::json!({
                "listener": "arn:aws:elasticloadbalancing:us-east-1:1:listener/app/web/1/2", "priority": 10,
                "path_patterns": ["/api/*"], "host_headers": [], "http_methods": [], "forward": "arn:tg",
                "tags": { "team": "web" }
            })
        );
    }

    #[test]
    fn two_rules_of_the_stack_with_one_priority_on_one_listener_are_found_offline() {
        use crate::context::{AwsSession, ConnectOptions};
        use provision_core::stack::{load, LoadOptions};

        let stack = r#"
[stack]
name = "shop"
region = "us-east-1"

[load_balancer.web]

[target_group.api]
port = 8080

[listener.http]
load_balancer = "${load_balancer.web.arn}"
port = 80

[listener.admin]
load_balancer = "${load_balancer.web.arn}"
port = 8080

[listener_rule.api]
listener = "${listener.http.arn}"
priority = 10
path_patterns = ["/api/*"]
forward = "${target_group.api.arn}"

[listener_rule.docs]
listener = "${listener.http.arn}"
priority = 10
path_patterns = ["/docs/*"]
forward = "${target_group.api.arn}"

[listener_rule.other_listener]
listener = "${listener.admin.arn}"
priority = 10
path_patterns = ["/admin/*"]
forward = "${target_group.api.arn}"
"#;
        let folder = tempfile::tempdir().expect("a folder");
        let path = folder.path().join("stack.toml");
        std::fs::write(&path, stack).expect("write the stack");
        let drivers = crate::drivers::registry(AwsSession::new(ConnectOptions::default()));
        let error = load(&path, &LoadOptions::default(), &drivers).err().expect("refused").to_string();
        assert!(error.contains("`listener_rule.docs` has priority 10 on the same listener"), "{error}");
        assert!(error.contains("`listener_rule.api` has priority 10 on the same listener"), "{error}");
        assert!(!error.contains("other_listener"), "another listener's priorities are its own: {error}");
    }

    #[test]
    fn only_rule_arns_are_rules() {
        let rule = "arn:aws:elasticloadbalancing:us-east-1:1:listener-rule/app/web/1/2/3";
        assert_eq!(ListenerRuleDriver.id_from_arn(rule).as_deref(), Some(rule));
        assert_eq!(
            ListenerRuleDriver.id_from_arn("arn:aws:elasticloadbalancing:us-east-1:1:listener/app/web/1/2"),
            None
        );
    }

    #[test]
    fn a_taken_priority_names_it_and_the_address() {
        let error = DriverError {
            operation: "CreateRule".into(),
            code: Some("PriorityInUse".into()),
            message: "Priority '10' is currently in use".into(),
            hint: None,
        };
        let error = priority_in_use(error, &Address::new("listener_rule", "api"), 10);
        assert_eq!(error.code.as_deref(), Some("PriorityInUse"));
        let hint = error.hint.expect("a hint");
        assert!(hint.contains("priority 10") && hint.contains("`listener_rule.api`"), "{hint}");
    }
}
