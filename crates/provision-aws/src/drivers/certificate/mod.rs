//! `certificate`: an ACM certificate for a stack's domain, validated through DNS in a `dns_zone`.
//!
//! A create requests the certificate, writes the CNAMEs ACM chooses into the zone (see
//! `validation`), and waits until ACM has issued it, so that a listener or distribution that uses
//! it can be made right after. A delete removes the records (unless another certificate needs them)
//! and then the certificate, retrying while a listener or distribution still holds it.
//!
//! ACM certificates are regional and a CloudFront distribution only takes one from us-east-1, so
//! `region` picks the ACM endpoint; the state id is the ARN, which names its region, so every
//! later call goes to the right one whatever the stack's region is.
//!
//! A certificate has no name. The id recorded before the request is `REGION/DOMAIN/HASH` (the hash
//! of the names and region), and the request carries the stack's tags; a killed run's certificate
//! is the newest one with those tags whose names hash the same. Replacements (another domain,
//! other names, another region) create the new certificate first and move the listeners to it
//! before the old one goes — the two copies differ in exactly what the hash covers.
//!
//! An adopted certificate that ACM has not issued (a run killed while it waited) reads back with a
//! hidden input `validation` that is not `issued`; the plan then updates it, which writes the
//! records again and waits.

mod acm;
mod validation;
mod waiting;

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::Value as Json;
use sha2::{Digest, Sha256};

use self::acm::Snapshot;
use super::route53::{check_domain_name, normalise_name};
use super::*;
use provision_core::plan::Action;
use provision_core::schema::{Default as FieldDefault, FieldKind, FieldSpec, ResourceSchema};

pub struct CertificateDriver;

/// The hidden input that says the certificate must be issued.
const VALIDATION: &str = "validation";
const ISSUED: &str = "issued";
/// `validation` when a validation record is gone from the zone (ACM could not renew).
const RECORDS_MISSING: &str = "validation records missing";
/// ACM's default quota of names on one certificate.
const NAMES_QUOTA: usize = 10;

static SCHEMA: ResourceSchema = ResourceSchema {
    type_name: "certificate",
    description: "An ACM certificate, validated through DNS records that provision writes into a `dns_zone`; \
                  apply waits until it is issued. Replaced new-one-first, so listeners move over without a gap.",
    fields: &[
        FieldSpec::new("domain", FieldKind::String, "The main name on the certificate, e.g. `\"ws.${var.domain}\"`")
            .required()
            .forces_replacement()
            .check(check_domain_name),
        FieldSpec::new("alternative_names", FieldKind::StringList, "More names on it, e.g. `[\"*.${var.domain}\"]`")
            .default(FieldDefault::EmptyList)
            .forces_replacement(),
        FieldSpec::new(
            "zone",
            FieldKind::String,
            "The hosted zone (`\"${dns_zone.NAME.id}\"`) that answers for the names: the validation records go there",
        )
        .required(),
        FieldSpec::new(
            "region",
            FieldKind::String,
            "The ACM region; `\"us-east-1\"` for a CloudFront distribution. Default: the stack's region",
        )
        .forces_replacement()
        .check(check_region),
    ],
    attributes: &["arn", "status"],
    taggable: true,
    derived: &[],
    create_before_destroy: true,
};

fn check_region(region: &str) -> Result<(), String> {
    let parts: Vec<&str> = region.split('-').collect();
    let shaped = parts.len() >= 3
        && parts[..parts.len() - 1].iter().all(|part| !part.is_empty() && part.chars().all(|c| c.is_ascii_lowercase()))
        && parts.last().is_some_and(|part| !part.is_empty() && part.chars().all(|c| c.is_ascii_digit()));
    if shaped {
        Ok(())
    } else {
        Err(format!("`{region}` is not an AWS region (e.g. `us-east-1`)"))
    }
}

#[derive(Debug, Deserialize)]
struct CertificateConfig {
    domain: String,
    #[serde(default)]
    alternative_names: Vec<String>,
    #[serde(default)]
    zone: String,
    #[serde(default)]
    region: Option<String>,
}

impl CertificateConfig {
    fn from_inputs(inputs: &JsonMap) -> Result<CertificateConfig, DriverError> {
        super::elbv2::config_from("certificate", inputs)
    }

    fn region<'a>(&'a self, stack: &'a StackInfo) -> &'a str {
        self.region.as_deref().filter(|region| !region.is_empty()).unwrap_or(&stack.region)
    }
}

/// The alternative names as compared: normalised, sorted, without duplicates or the domain.
fn alternative_names(domain: &str, names: impl IntoIterator<Item = impl AsRef<str>>) -> Vec<String> {
    let domain = normalise_name(domain);
    let mut names: Vec<String> =
        names.into_iter().map(|name| normalise_name(name.as_ref())).filter(|name| *name != domain).collect();
    names.sort();
    names.dedup();
    names
}

/// `REGION/DOMAIN/HASH`: what a killed run's certificate is found by. The intent recorded in the
/// state adds `/TOKEN`, the request's idempotency token.
fn intended_id(domain: &str, names: &[String], region: &str) -> String {
    let domain = normalise_name(domain);
    let names = alternative_names(&domain, names);
    let digest = Sha256::digest(serde_json::json!([domain, names, region]).to_string().as_bytes());
    format!("{region}/{domain}/{}", &hex::encode(digest)[..16])
}

/// The idempotency token of an intent `BASE/TOKEN` for the certificate `base` names. ACM takes up
/// to 32 word characters.
fn token_of<'a>(intent: &'a str, base: &str) -> Option<&'a str> {
    let token = intent.strip_prefix(base)?.strip_prefix('/')?;
    let shaped = !token.is_empty() && token.len() <= 32 && token.chars().all(|c| c.is_ascii_alphanumeric());
    shaped.then_some(token)
}

/// The `REGION/DOMAIN/HASH` of an intent, with or without its token.
fn base_of(intent: &str) -> Option<(&str, &str, &str)> {
    let mut parts = intent.splitn(4, '/');
    let (region, domain, hash) = (parts.next()?, parts.next()?, parts.next()?);
    (!region.is_empty() && !domain.is_empty() && !hash.is_empty()).then_some((region, domain, hash))
}

fn new_token() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

fn attributes(snapshot: &Snapshot) -> JsonMap {
    let mut attributes = JsonMap::new();
    attributes.insert("arn".into(), snapshot.arn.clone().into());
    attributes.insert("status".into(), snapshot.status.clone().into());
    attributes
}

fn observed(snapshot: &Snapshot, tags: &BTreeMap<String, String>) -> Observed {
    let mut inputs = JsonMap::new();
    inputs.insert("domain".into(), normalise_name(&snapshot.domain).into());
    inputs.insert("alternative_names".into(), alternative_names(&snapshot.domain, &snapshot.names).into());
    if let Some(region) = acm::region_of(&snapshot.arn) {
        inputs.insert("region".into(), region.into());
    }
    inputs.insert("tags".into(), super::tags::user_tags(tags));
    let validation =
        if snapshot.status == "ISSUED" { ISSUED.to_string() } else { snapshot.status.to_ascii_lowercase() };
    inputs.insert(VALIDATION.into(), validation.into());
    Observed { id: snapshot.arn.clone(), inputs, attributes: attributes(snapshot) }
}

/// The ACM client for the region the ARN names (the stack's region if it names none).
fn client_for(aws: &AwsContext, arn: &str) -> aws_sdk_acm::Client {
    aws.acm_in(acm::region_of(arn).unwrap_or(aws.region()))
}

#[async_trait]
impl AwsDriver for CertificateDriver {
    fn schema(&self) -> &'static ResourceSchema {
        &SCHEMA
    }

    /// AWS: DNS validation ~2 min once the record is written (`acm.pending-validation`); a delete waits for
    /// the services to release it (`acm.certificate-in-use`).
    fn typical_durations(&self) -> super::TypicalDurations {
        super::TypicalDurations::seconds(120, 0, 120)
    }

    fn check(&self, values: &BTreeMap<String, Value>) -> Vec<Problem> {
        let mut problems = Vec::new();
        if let Some(Value::Str(domain)) = values.get("domain") {
            if normalise_name(domain).len() > 64 {
                problems.push(
                    Problem::error(
                        "domain",
                        format!("ACM allows at most 64 characters in the main name, `{domain}` has more"),
                    )
                    .hint("put a shorter name in `domain` and this one in `alternative_names`"),
                );
            }
        }
        if let Some(Value::List(names)) = values.get("alternative_names") {
            for name in names {
                if let Value::Str(name) = name {
                    if let Err(message) = check_domain_name(name) {
                        problems.push(Problem::error("alternative_names", message));
                    }
                }
            }
            if names.len() + 1 > NAMES_QUOTA {
                problems.push(Problem::warning(
                    "alternative_names",
                    format!(
                        "{} names exceed ACM's default quota of {NAMES_QUOTA} per certificate; the request fails \
                         unless the account's quota was raised",
                        names.len() + 1
                    ),
                ));
            }
        }
        problems
    }

    /// Names as ACM reads them back, the region filled in, and the hidden `validation = "issued"`.
    fn prepare(&self, stack: &StackInfo, inputs: &mut JsonMap) -> Result<(), DriverError> {
        let domain = inputs.get("domain").and_then(Json::as_str).map(normalise_name);
        if let Some(domain) = &domain {
            inputs.insert("domain".into(), domain.clone().into());
            if let Some(Json::Array(names)) = inputs.get("alternative_names") {
                let names: Vec<&str> = names.iter().filter_map(Json::as_str).collect();
                inputs.insert("alternative_names".into(), alternative_names(domain, names).into());
            }
        }
        let region_missing = inputs.get("region").and_then(Json::as_str).is_none_or(str::is_empty);
        if region_missing && !stack.region.is_empty() {
            inputs.insert("region".into(), stack.region.clone().into());
        }
        inputs.insert(VALIDATION.into(), ISSUED.into());
        Ok(())
    }

    fn plan_notes(&self, action: Action, _inputs: &JsonMap, changed: &[&str]) -> Vec<String> {
        match action {
            Action::Create => {
                vec!["apply writes the DNS validation records and waits until ACM has issued the certificate".into()]
            }
            Action::Replace => vec![
                "a new certificate is requested and issued first; listeners and distributions move to it, then the \
                 old one is deleted"
                    .into(),
            ],
            Action::Update if changed.contains(&VALIDATION) => vec![
                "the certificate is not issued yet, or its validation records are gone from the zone (ACM renews only \
                 while they are there): they are written again and apply waits for ACM"
                    .into(),
            ],
            _ => Vec::new(),
        }
    }

    async fn import_id(&self, _aws: &AwsContext, id: &str) -> Result<String, DriverError> {
        match acm::region_of(id) {
            Some(_) => Ok(id.to_string()),
            None => Err(DriverError::invalid(format!("`{id}` is not an ACM certificate ARN"))
                .with_hint("import a certificate by its ARN (`aws acm list-certificates` shows it)")),
        }
    }

    fn id_from_arn(&self, arn: &str) -> Option<String> {
        acm::region_of(arn).map(|_| arn.to_string())
    }

    /// `REGION/DOMAIN/HASH/TOKEN`. After a create that was killed with its request perhaps still on
    /// its way (refresh found no certificate), the same token again: ACM then answers that request's
    /// certificate instead of issuing a second one.
    fn intended_id(&self, request: &ResourceRequest<'_>) -> String {
        let Ok(config) = CertificateConfig::from_inputs(request.inputs) else { return String::new() };
        let base = intended_id(&config.domain, &config.alternative_names, config.region(request.stack));
        match request.intent.filter(|earlier| token_of(earlier, &base).is_some()) {
            Some(earlier) => earlier.to_string(),
            None => format!("{base}/{}", new_token()),
        }
    }

    async fn read(
        &self,
        aws: &AwsContext,
        _stack: &StackInfo,
        resources: &[ExistingResource<'_>],
    ) -> Vec<Result<Option<Observed>, DriverError>> {
        let reads: Vec<_> = resources.iter().map(|resource| move || read_one(aws, resource)).collect();
        aws.limiter(crate::Service::Acm).all(reads).await
    }

    async fn create(
        &self,
        aws: &AwsContext,
        request: &ResourceRequest<'_>,
        progress: &dyn ProgressSink,
    ) -> Result<Observed, DriverError> {
        let config = CertificateConfig::from_inputs(request.inputs)?;
        let acm = aws.acm_in(config.region(request.stack));
        let names = alternative_names(&config.domain, &config.alternative_names);
        let mut requested: Vec<String> = names.clone();
        if !requested.is_empty() {
            // ACM wants the main name among the alternative names when there are any.
            requested.insert(0, normalise_name(&config.domain));
        }
        // The token recorded in the intent: the SDK's own retries of this request, and the next run's
        // request after a kill, get the certificate the first request made (a killed run's
        // certificate that has landed is found by its tags instead).
        let base = intended_id(&config.domain, &config.alternative_names, config.region(request.stack));
        let token = request.intent.and_then(|intent| token_of(intent, &base)).map_or_else(new_token, str::to_string);
        let arn = acm::request(&acm, &normalise_name(&config.domain), &requested, &token, request.tags).await?;
        let snapshot = validate(aws, &acm, &arn, &config.zone, request.address, progress).await?;
        Ok(Observed { id: arn, inputs: JsonMap::new(), attributes: attributes(&snapshot) })
    }

    async fn update(
        &self,
        aws: &AwsContext,
        prior: &ExistingResource<'_>,
        request: &ResourceRequest<'_>,
        changes: &[FieldChange],
        progress: &dyn ProgressSink,
    ) -> Result<Observed, DriverError> {
        let config = CertificateConfig::from_inputs(request.inputs)?;
        let acm = client_for(aws, prior.id);
        let changed = super::elbv2::changed_fields(changes);
        if changed.contains("tags") {
            acm::retag(&acm, prior.id, request.tags, &super::tags::removed_tags(prior.inputs, request.tags)).await?;
        }
        let previous_zone = prior.inputs.get("zone").and_then(Json::as_str).unwrap_or_default();
        let snapshot = if changed.contains("zone") || changed.contains(VALIDATION) {
            let snapshot = validate(aws, &acm, prior.id, &config.zone, request.address, progress).await?;
            if !previous_zone.is_empty() && previous_zone != config.zone {
                let shared = validation::names_of_other_certificates(&acm, prior.id).await?;
                let records = &snapshot.validation_records;
                validation::remove(aws.route53(), previous_zone, records, &shared, request.address, progress).await?;
            }
            snapshot
        } else {
            acm::describe(&acm, prior.id)
                .await?
                .ok_or_else(|| DriverError::invalid(format!("certificate `{}` no longer exists", prior.id)))?
        };
        Ok(Observed { id: prior.id.to_string(), inputs: JsonMap::new(), attributes: attributes(&snapshot) })
    }

    async fn delete(
        &self,
        aws: &AwsContext,
        resource: &ExistingResource<'_>,
        progress: &dyn ProgressSink,
    ) -> Result<(), DriverError> {
        let acm = client_for(aws, resource.id);
        let Some(snapshot) = acm::describe(&acm, resource.id).await? else { return Ok(()) };
        // The records first: were the run killed between the two, the certificate (still in the
        // state) is how the next run finds them again.
        let zone = resource.inputs.get("zone").and_then(Json::as_str).filter(|zone| !zone.is_empty());
        if let Some(zone) = zone {
            let shared = validation::names_of_other_certificates(&acm, resource.id).await?;
            let records = &snapshot.validation_records;
            validation::remove(aws.route53(), zone, records, &shared, resource.address, progress).await?;
        }
        let deleted = acm::delete(&acm, resource.id, resource.address, progress, crate::behaviours::acm::DELETE).await;
        if let (Err(_), Some(zone)) = (&deleted, zone) {
            // The certificate stays (still in use): so do the records it renews with.
            let _ = validation::write(aws.route53(), zone, &snapshot, resource.address, progress).await;
        }
        deleted
    }

    async fn find_interrupted(
        &self,
        aws: &AwsContext,
        stack: &StackInfo,
        address: &Address,
        intended: &str,
    ) -> Result<Option<String>, DriverError> {
        let Some((region, domain, hash)) = base_of(intended) else { return Ok(None) };
        let base = format!("{region}/{domain}/{hash}");
        let acm = aws.acm_in(region);
        let mut found: Vec<(i64, String)> = Vec::new();
        for summary in acm::list_all(&acm).await? {
            let arn = summary.certificate_arn().unwrap_or_default();
            if summary.domain_name().map(normalise_name).as_deref() != Some(domain) {
                continue;
            }
            let Some(tags) = acm::tags(&acm, arn).await? else { continue };
            if !super::elbv2::made_by(&tags, stack, address) {
                continue;
            }
            let Some(snapshot) = acm::describe(&acm, arn).await? else { continue };
            if intended_id(&snapshot.domain, &snapshot.names, region) == base {
                found.push((summary.created_at().map_or(0, |at| at.secs()), arn.to_string()));
            }
        }
        // A `--replace` of an unchanged certificate leaves two that match: the new one is the newest.
        found.sort();
        Ok(found.pop().map(|(_, arn)| arn))
    }
}

/// Reads one certificate. ACM does not say which zone validated it: a certificate being adopted
/// (no `zone` known yet, as in `import --generate`) gets the public zone that answers for its name.
async fn read_one(aws: &AwsContext, resource: &ExistingResource<'_>) -> Result<Option<Observed>, DriverError> {
    let arn = resource.id;
    let acm = client_for(aws, arn);
    let Some(snapshot) = acm::describe(&acm, arn).await? else { return Ok(None) };
    let Some(tags) = acm::tags(&acm, arn).await? else { return Ok(None) };
    let mut observed = observed(&snapshot, &tags);
    let zone = resource.inputs.get("zone").and_then(Json::as_str).filter(|zone| !zone.is_empty());
    match zone {
        Some(zone) => {
            if !snapshot.validation_records.is_empty()
                && !validation::all_in_zone(aws.route53(), zone, &snapshot).await?
            {
                observed.inputs.insert(VALIDATION.into(), RECORDS_MISSING.into());
            }
        }
        None => {
            if let Some(zone) = super::dns_zone::answering_for(aws, &snapshot.domain).await? {
                observed.inputs.insert("zone".into(), zone.into());
            }
        }
    }
    Ok(Some(observed))
}

/// Writes the validation records into `zone` and waits until the certificate is issued.
async fn validate(
    aws: &AwsContext,
    acm: &aws_sdk_acm::Client,
    arn: &str,
    zone: &str,
    address: &Address,
    progress: &dyn ProgressSink,
) -> Result<Snapshot, DriverError> {
    let snapshot =
        waiting::until_records_chosen(acm, arn, address, progress, crate::behaviours::acm::RECORDS_CHOSEN).await?;
    if waiting::FINAL.contains(&snapshot.status.as_str()) {
        return Err(waiting::not_issuable(address, &snapshot));
    }
    if snapshot.status == "ISSUED" && snapshot.validation_records.is_empty() {
        return Ok(snapshot);
    }
    if zone.is_empty() {
        return Err(DriverError::invalid("the certificate has no `zone` to write its validation records to")
            .with_hint("set `zone = \"${dns_zone.NAME.id}\"`"));
    }
    validation::write(aws.route53(), zone, &snapshot, address, progress).await?;
    waiting::until_issued(acm, arn, address, progress, crate::behaviours::acm::ISSUED).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stack() -> StackInfo {
        StackInfo { name: "shop".into(), region: "eu-west-1".into(), directory: ".".into(), lineage: None }
    }

    fn values(json: Json) -> BTreeMap<String, Value> {
        json.as_object().expect("object").iter().map(|(k, v)| (k.clone(), Value::from_json(v))).collect()
    }

    #[test]
    fn prepare_fills_the_region_and_spells_the_names_as_acm_reads_them() {
        let mut inputs = serde_json::json!({
            "domain": "WS.Example.com", "alternative_names": ["www.example.com", "ws.example.com", "a.example.com"],
            "zone": "Z1"
        })
        .as_object()
        .cloned()
        .unwrap();
        CertificateDriver.prepare(&stack(), &mut inputs).unwrap();
        assert_eq!(inputs["domain"], "ws.example.com");
        assert_eq!(inputs["alternative_names"], serde_json::json!(["a.example.com", "www.example.com"]));
        assert_eq!(inputs["region"], "eu-west-1");
        assert_eq!(inputs[VALIDATION], ISSUED);
        let mut cloudfront =
            serde_json::json!({ "domain": "a.b", "region": "us-east-1" }).as_object().cloned().unwrap();
        CertificateDriver.prepare(&stack(), &mut cloudfront).unwrap();
        assert_eq!(cloudfront["region"], "us-east-1");
    }

    #[test]
    fn the_intended_id_differs_between_the_copies_of_a_replacement() {
        let one = intended_id("ws.example.com", &[], "us-east-1");
        assert!(one.starts_with("us-east-1/ws.example.com/"), "{one}");
        assert_eq!(one, intended_id("WS.example.com.", &["ws.example.com".into()], "us-east-1"));
        assert_ne!(one, intended_id("ws.example.com", &["www.example.com".into()], "us-east-1"));
        assert_ne!(one, intended_id("ws.example.com", &[], "eu-west-1"));
    }

    fn request<'a>(
        inputs: &'a JsonMap,
        stack: &'a StackInfo,
        address: &'a Address,
        none: &'a BTreeMap<String, String>,
        intent: Option<&'a str>,
    ) -> ResourceRequest<'a> {
        ResourceRequest { intent, ..ResourceRequest::new(address, stack, inputs, none, none) }
    }

    /// A run killed while its request was on its way leaves an intent refresh finds nothing for;
    /// the next create sends that intent's token again, so ACM answers with the first request's
    /// certificate. Another certificate (other names) gets a token of its own.
    #[test]
    fn a_create_after_an_interrupted_one_sends_the_same_token() {
        let (stack, address, none) = (stack(), Address::new("certificate", "api"), BTreeMap::new());
        let inputs = serde_json::json!({ "domain": "api.example.com", "zone": "Z1", "region": "us-east-1" })
            .as_object()
            .cloned()
            .unwrap();
        let fresh = CertificateDriver.intended_id(&request(&inputs, &stack, &address, &none, None));
        let base = intended_id("api.example.com", &[], "us-east-1");
        let token = token_of(&fresh, &base).expect("the intent ends in a token");
        assert_eq!(token.len(), 32);
        let again = CertificateDriver.intended_id(&request(&inputs, &stack, &address, &none, None));
        assert_ne!(again, fresh, "a new create gets a new token");
        let after_kill = CertificateDriver.intended_id(&request(&inputs, &stack, &address, &none, Some(&fresh)));
        assert_eq!(after_kill, fresh);
        let other = serde_json::json!({ "domain": "www.example.com", "zone": "Z1", "region": "us-east-1" })
            .as_object()
            .cloned()
            .unwrap();
        let other_intent = CertificateDriver.intended_id(&request(&other, &stack, &address, &none, Some(&fresh)));
        assert!(other_intent.starts_with("us-east-1/www.example.com/") && !other_intent.ends_with(token));
        // An intent recorded before tokens were (three parts) is still looked for by its base.
        assert_eq!(base_of(&base), base_of(&fresh));
        assert_eq!(token_of(&base, &base), None);
    }

    #[test]
    fn a_certificate_not_issued_reads_back_as_needing_validation() {
        let snapshot = Snapshot {
            arn: "arn:aws:acm:us-east-1:1:certificate/a".into(),
            domain: "ws.example.com".into(),
            names: vec!["ws.example.com".into(), "www.example.com".into()],
            status: "PENDING_VALIDATION".into(),
            failure_reason: None,
            validation_records: vec![],
            awaiting_records: 0,
        };
        let tags = BTreeMap::from([("provision:stack".to_string(), "shop".to_string()), ("team".into(), "web".into())]);
        let read = observed(&snapshot, &tags);
        assert_eq!(
            Json::Object(read.inputs),
            serde_json::json!({
                "domain": "ws.example.com", "alternative_names": ["www.example.com"], "region": "us-east-1",
                "tags": { "team": "web" }, "validation": "pending_validation"
            })
        );
        assert_eq!(read.attributes["status"], "PENDING_VALIDATION");
        let issued = observed(&Snapshot { status: "ISSUED".into(), ..snapshot }, &tags);
        assert_eq!(issued.inputs[VALIDATION], ISSUED);
    }

    #[test]
    fn checks_catch_what_acm_would_refuse() {
        let long = format!("{}.example.com", "a".repeat(60));
        let found =
            CertificateDriver.check(&values(serde_json::json!({ "domain": long, "alternative_names": ["bad name"] })));
        let fields: Vec<(&str, bool)> = found.iter().map(|p| (p.field.as_str(), p.warning)).collect();
        assert_eq!(fields, [("domain", false), ("alternative_names", false)]);
        let many: Vec<String> = (0..10).map(|i| format!("n{i}.example.com")).collect();
        let found =
            CertificateDriver.check(&values(serde_json::json!({ "domain": "example.com", "alternative_names": many })));
        assert!(found.iter().all(|p| p.warning) && found.len() == 1, "{found:?}");
        assert!(check_region("us-east-1").is_ok() && check_region("ap-southeast-2").is_ok());
        assert!(check_region("useast1").is_err() && check_region("US-EAST-1").is_err());
    }

    #[test]
    fn imports_take_certificate_arns() {
        assert_eq!(
            CertificateDriver.id_from_arn("arn:aws:acm:us-east-1:1:certificate/a").as_deref(),
            Some("arn:aws:acm:us-east-1:1:certificate/a")
        );
        assert_eq!(CertificateDriver.id_from_arn("arn:aws:elasticloadbalancing:us-east-1:1:listener/x"), None);
        assert!(SCHEMA.create_before_destroy);
    }
}
