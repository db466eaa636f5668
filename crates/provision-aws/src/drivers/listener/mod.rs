//! `listener`: a port on a load balancer and what it does with requests.
//!
//! A stack file gives the default action as one of three simple choices: forward to a target group
//! (`forward`), redirect HTTP to HTTPS (`redirect_to_https`), or — with neither — answer 404. Reading
//! back maps the listener's real default action onto the same fields; an action set outside
//! provision that is none of the three shows in `forward` as a description, so it appears as drift
//! and the next apply puts the stack's action back.
//!
//! Listeners have no name, so an interrupted create is found by load balancer and port
//! (`<load balancer arn>:<port>` is the intended id), and the provision tags tell whether it is ours.
//!
//! A refresh costs one `DescribeListeners` for all listeners and one `DescribeTags` per 20.

mod api;

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::Value as Json;

use self::api::{DefaultAction, Snapshot};
use super::elbv2;
use super::*;
use provision_core::schema::{Default as FieldDefault, FieldKind, FieldSpec, ResourceSchema};
use provision_core::value::Value;

pub struct ListenerDriver;

const PROTOCOLS: &[&str] = &["HTTP", "HTTPS"];
/// TLS 1.3 and 1.2 only: the policy AWS recommends for new HTTPS listeners.
const DEFAULT_SSL_POLICY: &str = "ELBSecurityPolicy-TLS13-1-2-2021-06";

static SCHEMA: ResourceSchema = ResourceSchema {
    type_name: "listener",
    description: "A listener on an application load balancer: a port, a protocol and a default action.",
    fields: &[
        FieldSpec::new(
            "load_balancer",
            FieldKind::String,
            "The load balancer's ARN, usually `\"${load_balancer.NAME.arn}\"`.",
        )
        .required()
        .forces_replacement(),
        FieldSpec::new("port", FieldKind::Int, "The port the listener accepts connections on.")
            .required()
            .range(1, 65535),
        FieldSpec::new("protocol", FieldKind::Enum(PROTOCOLS), "The protocol clients use.")
            .default(FieldDefault::Str("HTTP")),
        FieldSpec::new(
            "certificate_arn",
            FieldKind::String,
            "The ACM certificate an HTTPS listener presents (required for HTTPS, not allowed for HTTP).",
        ),
        FieldSpec::new(
            "ssl_policy",
            FieldKind::String,
            "The TLS versions and ciphers an HTTPS listener accepts; default \
             `ELBSecurityPolicy-TLS13-1-2-2021-06` (TLS 1.3 and 1.2)",
        ),
        FieldSpec::new(
            "forward",
            FieldKind::String,
            "The target group ARN requests go to, usually `\"${target_group.NAME.arn}\"`. With neither \
             `forward` nor `redirect_to_https`, the listener answers 404.",
        ),
        FieldSpec::new(
            "redirect_to_https",
            FieldKind::Bool,
            "Answer every request with a permanent redirect (301) to the same URL over HTTPS (port 443). \
             Not together with `forward`.",
        )
        .default(FieldDefault::Bool(false)),
    ],
    attributes: &["arn"],
    taggable: true,
    derived: &[],
    create_before_destroy: false,
};

#[derive(Debug, Deserialize)]
struct ListenerConfig {
    load_balancer: String,
    port: i64,
    #[serde(default = "default_protocol")]
    protocol: String,
    #[serde(default)]
    certificate_arn: Option<String>,
    #[serde(default)]
    ssl_policy: Option<String>,
    #[serde(default)]
    forward: Option<String>,
    #[serde(default)]
    redirect_to_https: bool,
}

fn default_protocol() -> String {
    "HTTP".into()
}

impl ListenerConfig {
    fn from_inputs(inputs: &JsonMap) -> Result<ListenerConfig, DriverError> {
        elbv2::config_from("listener", inputs)
    }

    fn certificate_arn(&self) -> Option<&str> {
        self.certificate_arn.as_deref().filter(|arn| !arn.is_empty())
    }

    /// The policy to send: only an HTTPS listener has one.
    fn ssl_policy(&self) -> Option<&str> {
        let policy = self.ssl_policy.as_deref().filter(|policy| !policy.is_empty()).unwrap_or(DEFAULT_SSL_POLICY);
        (self.protocol == "HTTPS").then_some(policy)
    }

    /// `check` rules out `forward` together with `redirect_to_https`; should both arrive anyway,
    /// forwarding wins, as the safer of the two.
    fn default_action(&self) -> DefaultAction {
        match self.forward.as_deref().filter(|arn| !arn.is_empty()) {
            Some(target_group) => DefaultAction::Forward(target_group.to_string()),
            None if self.redirect_to_https => DefaultAction::RedirectToHttps,
            None => DefaultAction::NotFound,
        }
    }
}

/// A value that is set: a string (not empty) or a reference not resolved yet.
fn is_set(value: Option<&Value>) -> bool {
    match value {
        Some(Value::Str(text)) => !text.is_empty(),
        Some(Value::Null) | None => false,
        Some(_) => true,
    }
}

#[async_trait]
impl AwsDriver for ListenerDriver {
    fn schema(&self) -> &'static ResourceSchema {
        &SCHEMA
    }

    /// AWS: a listener on a certificate just issued waits until the load balancer sees it
    /// (`elbv2.certificate-not-found`).
    fn typical_durations(&self) -> super::TypicalDurations {
        super::TypicalDurations::seconds(30, 0, 0)
    }

    fn check(&self, values: &BTreeMap<String, Value>) -> Vec<Problem> {
        let mut problems = Vec::new();
        if let Some(message) = elbv2::out_of_range(values, "port", 1..=65535) {
            problems.push(Problem::error("port", message));
        }
        elbv2::check_arn(values, "load_balancer", "\"${load_balancer.web.arn}\"", &mut problems);
        elbv2::check_arn(values, "forward", "\"${target_group.api.arn}\"", &mut problems);
        elbv2::check_arn(values, "certificate_arn", "an ACM certificate ARN", &mut problems);
        let https = match values.get("protocol") {
            Some(Value::Str(protocol)) => Some(protocol == "HTTPS"),
            _ => None,
        };
        let certificate = is_set(values.get("certificate_arn"));
        if https == Some(true) && !certificate {
            problems.push(Problem::error("certificate_arn", "an HTTPS listener needs a certificate").hint(
                "set `certificate_arn` to an ACM certificate for the site's domain, or use `protocol = \"HTTP\"`",
            ));
        }
        if https == Some(false) && is_set(values.get("ssl_policy")) {
            problems.push(
                Problem::error("ssl_policy", "only an HTTPS listener takes an SSL policy")
                    .hint("set `protocol = \"HTTPS\"`, or remove `ssl_policy`"),
            );
        }
        if https == Some(false) && certificate {
            problems.push(
                Problem::error("certificate_arn", "only an HTTPS listener takes a certificate")
                    .hint("set `protocol = \"HTTPS\"`, or remove `certificate_arn`"),
            );
        }
        let redirect = values.get("redirect_to_https") == Some(&Value::Bool(true));
        if redirect && is_set(values.get("forward")) {
            problems.push(
                Problem::error(
                    "redirect_to_https",
                    "a listener has one default action: `forward` or `redirect_to_https`, not both",
                )
                .hint("forward on the HTTPS listener and redirect on the HTTP one"),
            );
        }
        if redirect && https == Some(true) {
            problems.push(
                Problem::error("redirect_to_https", "an HTTPS listener redirecting to HTTPS would redirect to itself")
                    .hint("set `redirect_to_https = true` on the HTTP (port 80) listener instead"),
            );
        }
        problems
    }

    /// An HTTPS listener without `ssl_policy` gets the default spelled out, so that the policy AWS
    /// reports reads back as no change.
    fn prepare(&self, _stack: &StackInfo, inputs: &mut JsonMap) -> Result<(), DriverError> {
        let https = inputs.get("protocol").and_then(Json::as_str) == Some("HTTPS");
        let unset = inputs.get("ssl_policy").and_then(Json::as_str).is_none_or(str::is_empty);
        if https && unset {
            inputs.insert("ssl_policy".into(), DEFAULT_SSL_POLICY.into());
        }
        Ok(())
    }

    async fn import_id(&self, _aws: &AwsContext, id: &str) -> Result<String, DriverError> {
        if id.starts_with("arn:") && id.contains(":listener/") {
            Ok(id.to_string())
        } else {
            Err(DriverError::invalid(format!("`{id}` is not a listener ARN"))
                .with_hint("import a listener by its ARN (`aws elbv2 describe-listeners` shows it)"))
        }
    }

    fn id_from_arn(&self, arn: &str) -> Option<String> {
        arn.contains(":listener/").then(|| arn.to_string())
    }

    fn intended_id(&self, request: &ResourceRequest<'_>) -> String {
        let load_balancer = request.inputs.get("load_balancer").and_then(Json::as_str).unwrap_or_default();
        let port = request.inputs.get("port").and_then(Json::as_i64).unwrap_or_default();
        format!("{load_balancer}:{port}")
    }

    async fn read(
        &self,
        aws: &AwsContext,
        _stack: &StackInfo,
        resources: &[ExistingResource<'_>],
    ) -> Vec<Result<Option<Observed>, DriverError>> {
        let elb = aws.elbv2();
        let arns: Vec<&str> = resources.iter().map(|resource| resource.id).collect();
        let arn_of: fn(&Snapshot) -> &str = |listener| &listener.arn;
        elbv2::read_tagged(elb, &arns, arns.len(), api::describe_by_arns(elb), arn_of, observe).await
    }

    async fn create(
        &self,
        aws: &AwsContext,
        request: &ResourceRequest<'_>,
        _progress: &dyn ProgressSink,
    ) -> Result<Observed, DriverError> {
        let config = ListenerConfig::from_inputs(request.inputs)?;
        let arn = match api::create(aws.elbv2(), &config, request.tags).await {
            Ok(listener) => listener.arn,
            // AWS answers the same settings with the existing listener; moto, and AWS for other
            // settings, answer `DuplicateListener`. One this create made (its answer lost) carries
            // this stack's and this address's tags and is this create's.
            Err(error) if crate::behaviours::adopt::ALREADY_EXISTS.matches(&error) => {
                let intended = self.intended_id(request);
                match self.find_interrupted(aws, request.stack, request.address, &intended).await? {
                    Some(arn) => arn,
                    None => {
                        let (address, port) = (request.address, config.port);
                        return Err(DriverError {
                            message: format!(
                                "the load balancer already has a listener on port {port} that was not made for `{address}`"
                            ),
                            ..error
                        }
                        .with_hint(format!(
                            "adopt it with `provision import {address} LISTENER_ARN`, or give `{address}` another `port`"
                        )));
                    }
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
        let config = ListenerConfig::from_inputs(request.inputs)?;
        let (elb, arn) = (aws.elbv2(), prior.id);
        let changed = elbv2::changed_fields(changes);
        let settings = ["port", "protocol", "certificate_arn", "ssl_policy", "forward", "redirect_to_https"];
        if settings.iter().any(|field| changed.contains(field)) {
            api::modify(elb, arn, &config).await?;
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
        let Some((load_balancer, port)) = intended_id.rsplit_once(':') else { return Ok(None) };
        let Ok(port) = port.parse::<i64>() else { return Ok(None) };
        let elb = aws.elbv2();
        let listeners = api::listeners_of(elb, load_balancer).await?;
        let Some(listener) = listeners.into_iter().find(|listener| listener.port == Some(port)) else {
            return Ok(None);
        };
        let tags = elbv2::tags_of(elb, &[listener.arn.as_str()]).await?;
        let ours = tags.get(&listener.arn).is_some_and(|tags| elbv2::made_by(tags, stack, address));
        Ok(ours.then_some(listener.arn))
    }
}

fn observe(listener: &Snapshot, tags: &BTreeMap<String, String>) -> Observed {
    let mut inputs = JsonMap::new();
    inputs.insert("load_balancer".into(), listener.load_balancer.clone().into());
    if let Some(port) = listener.port {
        inputs.insert("port".into(), port.into());
    }
    if let Some(protocol) = &listener.protocol {
        inputs.insert("protocol".into(), protocol.clone().into());
    }
    inputs.insert("certificate_arn".into(), listener.certificate_arn.clone().map_or(Json::Null, Json::from));
    // Only HTTPS listeners have a policy (the emulator reports its default on any listener).
    let https = listener.protocol.as_deref() == Some("HTTPS");
    let policy = listener.ssl_policy.clone().filter(|_| https);
    inputs.insert("ssl_policy".into(), policy.map_or(Json::Null, Json::from));
    let forward = match &listener.action {
        DefaultAction::Forward(target_group) => Json::from(target_group.clone()),
        DefaultAction::Other => Json::from("(another default action, set outside provision)"),
        DefaultAction::RedirectToHttps | DefaultAction::NotFound => Json::Null,
    };
    inputs.insert("forward".into(), forward);
    inputs.insert("redirect_to_https".into(), (listener.action == DefaultAction::RedirectToHttps).into());
    inputs.insert("tags".into(), elbv2::user_tags(tags));
    Observed { id: listener.arn.clone(), inputs, attributes: elbv2::arn_attributes(&listener.arn) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(json: Json) -> BTreeMap<String, Value> {
        json.as_object().expect("object").iter().map(|(k, v)| (k.clone(), Value::from_json(v))).collect()
    }

    fn problems(json: Json) -> Vec<String> {
        ListenerDriver.check(&values(json)).into_iter().map(|p| format!("{}: {}", p.field, p.message)).collect()
    }

    #[test]
    fn plain_listeners_pass() {
        assert!(problems(
            serde_json::json!({ "load_balancer": "arn:lb", "port": 80, "protocol": "HTTP", "redirect_to_https": true })
        )
        .is_empty());
        assert!(problems(serde_json::json!({
            "load_balancer": "arn:lb", "port": 443, "protocol": "HTTPS", "certificate_arn": "arn:cert",
            "forward": "arn:tg", "redirect_to_https": false
        }))
        .is_empty());
    }

    #[test]
    fn https_needs_a_certificate_and_http_takes_none() {
        assert_eq!(
            problems(serde_json::json!({ "port": 443, "protocol": "HTTPS" })),
            vec!["certificate_arn: an HTTPS listener needs a certificate"]
        );
        assert_eq!(
            problems(serde_json::json!({ "port": 80, "protocol": "HTTP", "certificate_arn": "arn:cert" })),
            vec!["certificate_arn: only an HTTPS listener takes a certificate"]
        );
        let mut unknown = values(serde_json::json!({ "port": 443, "protocol": "HTTPS" }));
        unknown.insert("certificate_arn".into(), Value::Unknown);
        assert!(ListenerDriver.check(&unknown).is_empty());
    }

    #[test]
    fn one_default_action_only() {
        let mut both = values(serde_json::json!({ "port": 80, "protocol": "HTTP", "redirect_to_https": true }));
        both.insert("forward".into(), Value::Unknown);
        let found: Vec<String> = ListenerDriver.check(&both).into_iter().map(|p| p.field).collect();
        assert_eq!(found, vec!["redirect_to_https"]);
        assert_eq!(
            problems(
                serde_json::json!({ "port": 443, "protocol": "HTTPS", "certificate_arn": "arn:c", "redirect_to_https": true })
            ),
            vec!["redirect_to_https: an HTTPS listener redirecting to HTTPS would redirect to itself"]
        );
    }

    #[test]
    fn literals_must_be_arns_and_ports_valid() {
        let found = problems(serde_json::json!({ "load_balancer": "web", "port": 70000, "forward": "api-tg" }));
        assert_eq!(found.len(), 3, "{found:?}");
    }

    #[test]
    fn default_action_follows_the_fields() {
        let config = |json: Json| ListenerConfig::from_inputs(json.as_object().expect("object")).expect("config");
        assert_eq!(
            config(serde_json::json!({ "load_balancer": "a", "port": 80 })).default_action(),
            DefaultAction::NotFound
        );
        assert_eq!(
            config(serde_json::json!({ "load_balancer": "a", "port": 80, "redirect_to_https": true })).default_action(),
            DefaultAction::RedirectToHttps
        );
        assert_eq!(
            config(serde_json::json!({ "load_balancer": "a", "port": 80, "forward": "arn:tg" })).default_action(),
            DefaultAction::Forward("arn:tg".into())
        );
    }

    #[test]
    fn observed_inputs_have_the_stack_file_shape() {
        let listener = Snapshot {
            arn: "arn:listener".into(),
            load_balancer: "arn:lb".into(),
            port: Some(80),
            protocol: Some("HTTP".into()),
            certificate_arn: None,
            ssl_policy: Some("ELBSecurityPolicy-2016-08".into()),
            action: DefaultAction::RedirectToHttps,
        };
        let observed = observe(&listener, &BTreeMap::new());
        assert_eq!(
            Json::Object(observed.inputs),
            serde_json::json!({
                "load_balancer": "arn:lb", "port": 80, "protocol": "HTTP", "certificate_arn": null,
                "ssl_policy": null, "forward": null, "redirect_to_https": true, "tags": {}
            })
        );
        let other = observe(&Snapshot { action: DefaultAction::Other, ..listener }, &BTreeMap::new());
        assert!(other.inputs["forward"].as_str().is_some_and(|text| text.contains("outside provision")));
    }

    #[test]
    fn https_listeners_get_the_default_ssl_policy_and_http_ones_none() {
        let stack = StackInfo { name: "shop".into(), region: "us-east-1".into(), directory: ".".into(), lineage: None };
        let mut https = serde_json::json!({ "load_balancer": "a", "port": 443, "protocol": "HTTPS" })
            .as_object()
            .cloned()
            .expect("object");
        ListenerDriver.prepare(&stack, &mut https).expect("prepare");
        assert_eq!(https["ssl_policy"], DEFAULT_SSL_POLICY);
        assert_eq!(ListenerConfig::from_inputs(&https).expect("config").ssl_policy(), Some(DEFAULT_SSL_POLICY));
        let mut http = serde_json::json!({ "load_balancer": "a", "port": 80, "protocol": "HTTP" })
            .as_object()
            .cloned()
            .expect("object");
        ListenerDriver.prepare(&stack, &mut http).expect("prepare");
        assert!(!http.contains_key("ssl_policy"));
        assert_eq!(ListenerConfig::from_inputs(&http).expect("config").ssl_policy(), None);
        assert_eq!(
            problems(serde_json::json!({ "port": 80, "protocol": "HTTP", "ssl_policy": "ELBSecurityPolicy-2016-08" })),
            vec!["ssl_policy: only an HTTPS listener takes an SSL policy"]
        );
    }

    #[test]
    fn intended_id_is_load_balancer_and_port() {
        let inputs = serde_json::json!({ "load_balancer": "arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/app/w/1", "port": 443 });
        let inputs = inputs.as_object().cloned().expect("object");
        let address = Address::new("listener", "https");
        let stack = StackInfo { name: "shop".into(), region: "us-east-1".into(), directory: ".".into(), lineage: None };
        let tags = BTreeMap::new();
        let secrets = BTreeMap::new();
        let request = ResourceRequest::new(&address, &stack, &inputs, &tags, &secrets);
        let id = ListenerDriver.intended_id(&request);
        assert_eq!(id, "arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/app/w/1:443");
        assert_eq!(id.rsplit_once(':').map(|(_, port)| port), Some("443"));
    }
}
