//! `cloudfront_distribution`: a CDN in front of one S3 bucket, optionally with an API origin.
//!
//! A distribution is several AWS objects that only make sense together: the distribution itself,
//! an origin access control (so CloudFront signs its requests to S3), and a statement in the
//! bucket's policy that lets exactly this distribution read the objects. The driver owns all three,
//! so a stack never needs a public bucket or a hand-written policy.
//!
//! CloudFront is slow and optimistic-locked: every change is a read-modify-write of the whole
//! config guarded by an ETag, and takes minutes to deploy. Updates therefore patch only the parts
//! of the config whose fields changed (keeping anything set outside provision), and a new upload
//! to the bucket (the hidden `origin_content` input) only creates an invalidation.
//!
//! Refresh lists all distributions once (one `ListDistributions` page per 100) rather than one
//! `GetDistribution` per resource, because the summaries carry every field the driver reads back.

mod bucket_policy;
mod creation;
mod deployment;
mod distribution_config;
mod emulator;
mod lifecycle;
mod observation;
mod origin_access_control;

use async_trait::async_trait;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use serde::Deserialize;

use super::*;
use provision_core::schema::{Default as FieldDefault, DerivedField, FieldKind, FieldSpec, ResourceSchema};

#[derive(Default)]
pub struct DistributionDriver {
    controls: origin_access_control::Controls,
}

const PRICE_CLASSES: &[&str] = &["PriceClass_100", "PriceClass_200", "PriceClass_All"];
const API_ORIGIN_PROTOCOLS: &[&str] = &["http", "https"];

static SCHEMA: ResourceSchema = ResourceSchema {
    type_name: "cloudfront_distribution",
    description: "A CloudFront distribution serving an S3 bucket through an origin access control, \
                  optionally routing an API path to a second origin",
    fields: &[
        FieldSpec::new(
            "origin_bucket",
            FieldKind::String,
            "The S3 bucket to serve, usually `\"${s3_bucket.NAME.name}\"`; its policy is managed so \
             that only this distribution can read it",
        )
        .required(),
        FieldSpec::new("default_root_object", FieldKind::String, "The object served for `/`")
            .default(FieldDefault::Str("index.html")),
        FieldSpec::new("price_class", FieldKind::Enum(PRICE_CLASSES), "Which edge locations serve the content")
            .default(FieldDefault::Str("PriceClass_100")),
        FieldSpec::new(
            "spa_fallback",
            FieldKind::Bool,
            "Answer 403 and 404 with `/index.html` and status 200, for single-page apps",
        )
        .default(FieldDefault::Bool(false)),
        FieldSpec::new(
            "api_origin",
            FieldKind::String,
            "A domain name (e.g. a load balancer's DNS name) that serves `api_path` without caching",
        ),
        FieldSpec::new("api_path", FieldKind::String, "The path pattern routed to `api_origin`")
            .default(FieldDefault::Str("/api/*")),
        FieldSpec::new(
            "api_origin_protocol",
            FieldKind::Enum(API_ORIGIN_PROTOCOLS),
            "How CloudFront reaches `api_origin`: `\"https\"` (the origin needs a certificate for that name); \
             plain HTTP when left out",
        ),
        FieldSpec::new("aliases", FieldKind::StringList, "Extra domain names (CNAMEs) the distribution answers for")
            .default(FieldDefault::EmptyList),
        FieldSpec::new(
            "certificate_arn",
            FieldKind::String,
            "An ACM certificate in us-east-1 for the aliases; without it the CloudFront default certificate",
        ),
        FieldSpec::new("wait", FieldKind::Bool, "Wait until the distribution is deployed")
            .default(FieldDefault::Bool(true)),
    ],
    attributes: &["id", "arn", "domain_name", "zone_id", "origin_access_control_id"],
    taggable: true,
    derived: &[DerivedField { name: "origin_content", from_field: "origin_bucket", attribute: "content_hash" }],
    create_before_destroy: false,
};

/// The driver's view of a distribution's inputs.
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
struct Settings {
    origin_bucket: String,
    default_root_object: String,
    price_class: String,
    spa_fallback: bool,
    api_origin: Option<String>,
    api_path: String,
    api_origin_protocol: Option<String>,
    aliases: Vec<String>,
    certificate_arn: Option<String>,
    wait: bool,
}

impl std::default::Default for Settings {
    fn default() -> Settings {
        Settings {
            origin_bucket: String::new(),
            default_root_object: "index.html".into(),
            price_class: "PriceClass_100".into(),
            spa_fallback: false,
            api_origin: None,
            api_path: "/api/*".into(),
            api_origin_protocol: None,
            aliases: Vec::new(),
            certificate_arn: None,
            wait: true,
        }
    }
}

impl Settings {
    fn from_inputs(address: &Address, inputs: &JsonMap) -> Result<Settings, DriverError> {
        let settings: Settings = serde_json::from_value(serde_json::Value::Object(inputs.clone()))
            .map_err(|error| DriverError::invalid(format!("`{address}` has invalid inputs: {error}")))?;
        if settings.origin_bucket.is_empty() {
            return Err(DriverError::invalid(format!("`{address}` has no `origin_bucket`"))
                .with_hint("set `origin_bucket = \"${s3_bucket.NAME.name}\"`"));
        }
        Ok(settings)
    }

    fn api_origin(&self) -> Option<&str> {
        self.api_origin.as_deref().filter(|domain| !domain.is_empty())
    }

    /// CloudFront reaches the API origin over HTTPS (`api_origin_protocol = "https"`).
    fn api_origin_https(&self) -> bool {
        self.api_origin_protocol.as_deref() == Some("https")
    }

    fn certificate_arn(&self) -> Option<&str> {
        self.certificate_arn.as_deref().filter(|arn| !arn.is_empty())
    }
}

/// Aliases need a certificate that covers them, and CloudFront takes certificates only from ACM in
/// us-east-1: both would otherwise fail the create minutes in, or serve the aliases with the
/// default certificate's name mismatch.
fn check_certificate(values: &std::collections::BTreeMap<String, provision_core::value::Value>) -> Vec<Problem> {
    use provision_core::value::Value;
    let mut problems = Vec::new();
    let certificate = values.get("certificate_arn");
    let has_certificate = match certificate {
        None | Some(Value::Null) => false,
        Some(Value::Str(arn)) => !arn.is_empty(),
        Some(_) => true,
    };
    let has_aliases = match values.get("aliases") {
        Some(Value::List(aliases)) => !aliases.is_empty(),
        None | Some(Value::Null) => false,
        Some(_) => true,
    };
    if has_aliases && !has_certificate {
        problems.push(
            Problem::error("aliases", "a distribution with aliases needs a `certificate_arn` that covers them").hint(
                "add a `certificate` with `region = \"us-east-1\"` for the alias names and set \
                       `certificate_arn = \"${certificate.NAME.arn}\"`",
            ),
        );
    }
    if let Some(Value::Str(arn)) = certificate {
        let region = arn.split(':').nth(3).unwrap_or_default();
        if !arn.is_empty() && (!arn.starts_with("arn:") || !arn.contains(":acm:") || region != "us-east-1") {
            problems.push(
                Problem::error("certificate_arn", format!("`{arn}` is not an ACM certificate in us-east-1"))
                    .hint("CloudFront only uses ACM certificates from us-east-1: set `region = \"us-east-1\"` on the `certificate`"),
            );
        }
    }
    problems
}

/// The comment that marks a distribution as provision's, and lets an interrupted create find it.
fn ownership_comment(stack: &StackInfo, address: &Address) -> String {
    truncate(&format!("provision {} {address}", stack.name), 128)
}

/// `<stack>-<resource name>`, the origin access control's name (unique per account).
fn origin_access_control_name(stack: &StackInfo, address: &Address) -> String {
    truncate(&format!("{}-{}", stack.name, address.name.replace('_', "-")), 64)
}

fn truncate(text: &str, max_chars: usize) -> String {
    text.chars().take(max_chars).collect()
}

/// The caller reference of a create: the intent's when it is one (a uuid), else a new one.
fn caller_reference(intent: Option<&str>) -> String {
    match intent.filter(|intent| uuid::Uuid::parse_str(intent).is_ok()) {
        Some(intent) => intent.to_string(),
        None => uuid::Uuid::new_v4().to_string(),
    }
}

/// The request may have been carried out although no answer says so: it timed out, or AWS
/// accepted it (2xx) but the answer could not be read.
fn outcome_unknown<E>(error: &SdkError<E, HttpResponse>) -> bool {
    let accepted =
        matches!(error, SdkError::ServiceError(_)) && error.raw_response().is_some_and(|raw| raw.status().is_success());
    accepted || matches!(error, SdkError::TimeoutError(_) | SdkError::ResponseError(_))
}

#[async_trait]
impl AwsDriver for DistributionDriver {
    fn schema(&self) -> &'static ResourceSchema {
        &SCHEMA
    }

    /// AWS: a create or change deploys ~5 min (`cloudfront.in-progress`), a create naming a certificate just
    /// issued first waits to see it (`cloudfront.certificate-not-visible`); a delete deploys the disable,
    /// then its origin access control is in use a moment longer (`cloudfront.origin-access-control-in-use`).
    fn typical_durations(&self) -> super::TypicalDurations {
        super::TypicalDurations::seconds(330, 300, 330)
    }

    fn prepare(&self, _stack: &StackInfo, inputs: &mut JsonMap) -> Result<(), DriverError> {
        // Wanted: the origin bucket lets this distribution in (refresh reads whether it still does).
        inputs.insert(observation::BUCKET_ACCESS.into(), serde_json::Value::Bool(true));
        // A set to CloudFront: compared in the order refresh reads it back.
        if let Some(serde_json::Value::Array(aliases)) = inputs.get("aliases") {
            let names: Option<Vec<String>> = aliases.iter().map(|alias| alias.as_str().map(str::to_string)).collect();
            if let Some(names) = names {
                inputs.insert("aliases".into(), serde_json::json!(observation::sorted_aliases(&names)));
            }
        }
        Ok(())
    }

    fn check(&self, values: &std::collections::BTreeMap<String, provision_core::value::Value>) -> Vec<Problem> {
        check_certificate(values)
    }

    /// CloudFront's hosted zone, the same for every distribution, is known before it exists: a
    /// `dns_record` alias can name it at plan time.
    fn planned_attributes(&self, _stack: &StackInfo, _inputs: &JsonMap) -> JsonMap {
        let mut attributes = JsonMap::new();
        attributes.insert("zone_id".into(), crate::drivers::route53::CLOUDFRONT_ZONE_ID.into());
        attributes
    }

    async fn import_id(&self, _aws: &AwsContext, id: &str) -> Result<String, DriverError> {
        let id = id.rsplit('/').next().unwrap_or(id);
        if id.is_empty() || !id.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()) {
            return Err(DriverError::invalid(format!("`{id}` is not a CloudFront distribution id"))
                .with_hint("import a distribution by its id, e.g. `E2QWRUHAPOMQZL` (or its ARN)"));
        }
        Ok(id.to_string())
    }

    fn id_from_arn(&self, arn: &str) -> Option<String> {
        arn.rsplit_once(":distribution/").map(|(_, id)| id.to_string())
    }

    fn intended_id(&self, request: &ResourceRequest<'_>) -> String {
        // The distribution id is only known once created; the intent is the caller reference the
        // create sends (the ownership comment is what `find_interrupted` matches on). After a create
        // killed with its request perhaps on its way, the same reference again.
        caller_reference(request.intent)
    }

    async fn read(
        &self,
        aws: &AwsContext,
        stack: &StackInfo,
        resources: &[ExistingResource<'_>],
    ) -> Vec<Result<Option<Observed>, DriverError>> {
        observation::read_many(aws, stack, resources).await
    }

    async fn create(
        &self,
        aws: &AwsContext,
        request: &ResourceRequest<'_>,
        progress: &dyn ProgressSink,
    ) -> Result<Observed, DriverError> {
        creation::create(aws, &self.controls, request, progress).await
    }

    async fn update(
        &self,
        aws: &AwsContext,
        prior: &ExistingResource<'_>,
        request: &ResourceRequest<'_>,
        changes: &[FieldChange],
        progress: &dyn ProgressSink,
    ) -> Result<Observed, DriverError> {
        lifecycle::update(aws, prior, request, changes, progress).await
    }

    async fn delete(
        &self,
        aws: &AwsContext,
        resource: &ExistingResource<'_>,
        progress: &dyn ProgressSink,
    ) -> Result<(), DriverError> {
        lifecycle::delete(aws, resource, progress).await
    }

    /// The origin access control, alongside the bucket the distribution will serve: it is named by
    /// the stack and the address alone (and found by that name if this run dies).
    async fn start_early(&self, aws: &AwsContext, stack: &StackInfo, address: &Address) {
        let (name, comment) = (origin_access_control_name(stack, address), ownership_comment(stack, address));
        if let Err(error) = self.controls.find_or_create(aws, &name, &comment).await {
            tracing::debug!(
                "{address}: the origin access control was not made early ({error}); the create tries again"
            );
        }
    }

    async fn find_interrupted(
        &self,
        aws: &AwsContext,
        stack: &StackInfo,
        address: &Address,
        _intended_id: &str,
    ) -> Result<Option<String>, DriverError> {
        observation::find_by_comment(aws, &ownership_comment(stack, address)).await
    }

    /// Origin access controls this stack made (their description is the ownership comment) for a
    /// distribution the state does not hold: a create killed before the distribution existed, or a
    /// delete killed between the distribution and its control. Controls cannot be tagged.
    async fn leftovers(
        &self,
        aws: &AwsContext,
        stack: &StackInfo,
        recorded: &[ExistingResource<'_>],
        _tagged: &[TaggedResource],
    ) -> Result<Vec<Leftover>, DriverError> {
        let prefix = format!("provision {} ", stack.name);
        let mut leftovers = Vec::new();
        for (id, _name, description) in origin_access_control::list_all(aws).await? {
            let Some(owner) = description.strip_prefix(&prefix).and_then(|a| a.parse::<Address>().ok()) else {
                continue;
            };
            let used = recorded.iter().any(|resource| {
                resource.address == &owner
                    || resource.attributes.get("origin_access_control_id").and_then(serde_json::Value::as_str)
                        == Some(id.as_str())
            });
            if !used {
                leftovers.push(Leftover { kind: "origin access control".into(), id, owner: Some(owner) });
            }
        }
        Ok(leftovers)
    }

    async fn delete_leftover(&self, aws: &AwsContext, leftover: &Leftover) -> Result<(), DriverError> {
        origin_access_control::delete(aws, &leftover.id).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stack() -> StackInfo {
        StackInfo { name: "shop-dev".into(), region: "eu-west-1".into(), directory: ".".into(), lineage: None }
    }

    #[test]
    fn settings_take_schema_defaults_and_treat_empty_optionals_as_absent() {
        let inputs = serde_json::json!({ "origin_bucket": "site", "api_origin": "", "tags": {"a": "b"} });
        let address = Address::new("cloudfront_distribution", "cdn");
        let settings = Settings::from_inputs(&address, inputs.as_object().unwrap()).unwrap();
        assert_eq!(settings.default_root_object, "index.html");
        assert_eq!(settings.price_class, "PriceClass_100");
        assert!(settings.wait);
        assert_eq!(settings.api_origin(), None);
    }

    #[test]
    fn missing_origin_bucket_is_an_error_with_a_hint() {
        let address = Address::new("cloudfront_distribution", "cdn");
        let error = Settings::from_inputs(&address, &JsonMap::new()).unwrap_err();
        assert!(error.message.contains("origin_bucket"));
        assert!(error.hint.is_some());
    }

    fn values(json: serde_json::Value) -> std::collections::BTreeMap<String, provision_core::value::Value> {
        json.as_object().unwrap().iter().map(|(k, v)| (k.clone(), provision_core::value::Value::from_json(v))).collect()
    }

    #[test]
    fn aliases_are_a_set_so_their_order_is_no_change() {
        let stack = StackInfo { name: "shop".into(), region: "us-east-1".into(), directory: ".".into(), lineage: None };
        let mut inputs = serde_json::json!({ "aliases": ["www.shop.com", "shop.com", "www.shop.com"] })
            .as_object()
            .cloned()
            .expect("object");
        DistributionDriver::default().prepare(&stack, &mut inputs).expect("prepare");
        assert_eq!(inputs["aliases"], serde_json::json!(["shop.com", "www.shop.com"]));
        let answered = ["www.shop.com".to_string(), "shop.com".to_string()];
        assert_eq!(serde_json::json!(observation::sorted_aliases(&answered)), inputs["aliases"]);
    }

    #[test]
    fn aliases_need_a_us_east_1_certificate() {
        let fields = |json| check_certificate(&values(json)).into_iter().map(|p| p.field).collect::<Vec<_>>();
        assert_eq!(fields(serde_json::json!({ "aliases": ["www.shop.com"] })), ["aliases"]);
        assert!(fields(serde_json::json!({ "aliases": [] })).is_empty());
        let east = "arn:aws:acm:us-east-1:123456789012:certificate/abc";
        assert!(fields(serde_json::json!({ "aliases": ["www.shop.com"], "certificate_arn": east })).is_empty());
        let west = "arn:aws:acm:eu-west-1:123456789012:certificate/abc";
        assert_eq!(
            fields(serde_json::json!({ "aliases": ["www.shop.com"], "certificate_arn": west })),
            ["certificate_arn"]
        );
        let mut unknown = values(serde_json::json!({ "aliases": ["www.shop.com"] }));
        unknown.insert("certificate_arn".into(), provision_core::value::Value::Unknown);
        assert!(check_certificate(&unknown).is_empty(), "a certificate known after apply is a certificate");
    }

    #[test]
    fn names_follow_stack_and_resource() {
        let address = Address::new("cloudfront_distribution", "web_cdn");
        assert_eq!(ownership_comment(&stack(), &address), "provision shop-dev cloudfront_distribution.web_cdn");
        assert_eq!(origin_access_control_name(&stack(), &address), "shop-dev-web-cdn");
        let long = Address::new("cloudfront_distribution", "x".repeat(80));
        assert_eq!(origin_access_control_name(&stack(), &long).len(), 64);
    }
}
