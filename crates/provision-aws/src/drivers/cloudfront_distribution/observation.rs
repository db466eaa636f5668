//! Reading distributions back: what AWS has, in the stack file's shape.
//!
//! `ListDistributions` summaries carry the origins, behaviors, error responses, aliases, price
//! class and certificate, so one paginated listing serves every distribution in the stack; only
//! tags (and the origin bucket's policy) need a call per distribution, made alongside the listing.
//! Fields a summary does not carry (`default_root_object`) and inputs that are not AWS state
//! (`wait`, `origin_content`) are left out, so they never show as drift.

use std::collections::{HashMap, HashSet};

use aws_sdk_cloudfront::types::{
    CacheBehavior, CustomErrorResponses, DefaultCacheBehavior, Distribution, DistributionSummary, Origin, Origins,
};
use serde_json::{json, Value};

use super::bucket_policy;
use super::emulator::send_readable;
use crate::context::AwsContext;
use crate::drivers::{DriverError, ExistingResource, Observed, StackInfo};
use provision_core::value::JsonMap;

/// What the driver needs to know about a distribution between calls: a full `Distribution` when
/// AWS echoes one, else its listing summary.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Snapshot {
    pub id: String,
    pub arn: String,
    pub domain_name: String,
    pub status: String,
}

impl From<Distribution> for Snapshot {
    fn from(distribution: Distribution) -> Snapshot {
        let Distribution { id, arn, domain_name, status, .. } = distribution;
        Snapshot { id, arn, domain_name, status }
    }
}

impl From<DistributionSummary> for Snapshot {
    fn from(summary: DistributionSummary) -> Snapshot {
        let DistributionSummary { id, arn, domain_name, status, .. } = summary;
        Snapshot { id, arn, domain_name, status }
    }
}

/// The attributes every distribution exposes.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Attributes {
    pub id: String,
    pub arn: String,
    pub domain_name: String,
    pub origin_access_control_id: Option<String>,
}

impl Attributes {
    pub fn of(snapshot: &Snapshot, origin_access_control_id: Option<String>) -> Attributes {
        Attributes {
            id: snapshot.id.clone(),
            arn: snapshot.arn.clone(),
            domain_name: snapshot.domain_name.clone(),
            origin_access_control_id,
        }
    }

    /// The attributes recorded in the state, if they are complete.
    pub fn recorded(id: &str, attributes: &JsonMap) -> Option<Attributes> {
        let text = |name: &str| attributes.get(name).and_then(Value::as_str).map(str::to_string);
        Some(Attributes {
            id: id.to_string(),
            arn: text("arn")?,
            domain_name: text("domain_name")?,
            origin_access_control_id: text("origin_access_control_id"),
        })
    }

    pub fn to_json(&self) -> JsonMap {
        let mut map = JsonMap::new();
        map.insert("id".into(), json!(self.id));
        map.insert("arn".into(), json!(self.arn));
        map.insert("domain_name".into(), json!(self.domain_name));
        map.insert("zone_id".into(), json!(crate::drivers::route53::CLOUDFRONT_ZONE_ID));
        if let Some(id) = &self.origin_access_control_id {
            map.insert("origin_access_control_id".into(), json!(id));
        }
        map
    }
}

/// Reads every resource with one listing plus, alongside it, one tag read and one read of the origin
/// bucket's policy each (by the ARN and bucket the state recorded; read again after the listing if
/// the distribution is listed with another).
pub(super) async fn read_many(
    aws: &AwsContext,
    stack: &StackInfo,
    resources: &[ExistingResource<'_>],
) -> Vec<Result<Option<Observed>, DriverError>> {
    if resources.is_empty() {
        return Vec::new();
    }
    let wanted: HashSet<&str> = resources.iter().map(|resource| resource.id).collect();
    let limiter = aws.limiter(crate::context::Service::CloudFront);
    let listing = list_summaries(aws, |summary| wanted.contains(summary.id()), wanted.len());
    let early = resources.iter().map(|resource| {
        let (arn, bucket) = (recorded(resource.attributes, "arn"), recorded(resource.inputs, "origin_bucket"));
        arn.map(|arn| move || read_extras(aws, arn, bucket.unwrap_or_default(), resource.id))
    });
    let (summaries, early) = limiter.alongside(listing, early).await;
    let summaries = match summaries {
        Ok(found) => found.into_iter().map(|summary| (summary.id.clone(), summary)).collect::<HashMap<_, _>>(),
        Err(error) => return resources.iter().map(|_| Err(error.clone())).collect(),
    };
    // Built up front (not in a `map` closure) so the future stays `Send` for any lifetimes.
    let reads: Vec<_> = resources
        .iter()
        .zip(early)
        .map(|(resource, extras)| {
            let summary = summaries.get(resource.id);
            let extras = extras.and_then(Result::ok).filter(|_| {
                summary.is_some_and(|summary| {
                    Some(summary.arn()) == recorded(resource.attributes, "arn")
                        && s3_origin(summary.origins(), summary.default_cache_behavior())
                            .and_then(|origin| bucket_from_domain(&origin.domain_name))
                            == recorded(resource.inputs, "origin_bucket")
                })
            });
            move || observe(aws, stack, resource, summary, extras)
        })
        .collect();
    limiter.all(reads).await
}

/// A non-empty text the state recorded under `key`.
fn recorded<'a>(map: &'a JsonMap, key: &str) -> Option<&'a str> {
    map.get(key).and_then(Value::as_str).filter(|text| !text.is_empty())
}

/// What a read needs besides the listing: the distribution's tags, and whether its origin bucket's
/// policy lets it in.
type Extras = (Vec<(String, String)>, bool);

async fn read_extras(aws: &AwsContext, arn: &str, bucket: &str, id: &str) -> Result<Extras, DriverError> {
    futures::try_join!(current_tags(aws, arn), async {
        if bucket.is_empty() {
            Ok(false)
        } else {
            bucket_policy::allows(aws, bucket, id).await
        }
    })
}

/// The newest distribution whose comment is `comment`.
pub(super) async fn find_by_comment(aws: &AwsContext, comment: &str) -> Result<Option<String>, DriverError> {
    Ok(all_with_comment(aws, comment).await?.into_iter().next().map(|summary| summary.id))
}

/// Every distribution whose comment is `comment`, newest first.
pub(super) async fn all_with_comment(aws: &AwsContext, comment: &str) -> Result<Vec<DistributionSummary>, DriverError> {
    let mut matching = list_summaries(aws, |summary| summary.comment() == comment, usize::MAX).await?;
    // Listed oldest first; reversing before the stable sort keeps that order right for equal times.
    matching.reverse();
    matching.sort_by_key(|summary| std::cmp::Reverse(summary.last_modified_time.as_nanos()));
    Ok(matching)
}

/// The ids of the distributions other than `except` whose origins use the origin access control.
pub(super) async fn users_of_control(
    aws: &AwsContext,
    control: &str,
    except: &str,
) -> Result<Vec<String>, DriverError> {
    let uses = |summary: &DistributionSummary| {
        summary.id != except
            && summary.origins().is_some_and(|origins| {
                origins.items().iter().any(|origin| origin.origin_access_control_id.as_deref() == Some(control))
            })
    };
    Ok(list_summaries(aws, uses, usize::MAX).await?.into_iter().map(|summary| summary.id).collect())
}

/// Lists distributions, keeping those `keep` accepts, and stops paging once `enough` are kept.
async fn list_summaries(
    aws: &AwsContext,
    keep: impl Fn(&DistributionSummary) -> bool,
    enough: usize,
) -> Result<Vec<DistributionSummary>, DriverError> {
    let mut kept = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let output = send_readable!(aws.cloudfront().list_distributions().set_marker(marker.take()))
            .map_err(|error| crate::aws_error("ListDistributions", error))?;
        let Some(list) = output.distribution_list else { return Ok(kept) };
        kept.extend(list.items.unwrap_or_default().into_iter().filter(|summary| keep(summary)));
        match list.next_marker {
            Some(next) if list.is_truncated && !next.is_empty() && kept.len() < enough => marker = Some(next),
            _ => return Ok(kept),
        }
    }
}

async fn observe(
    aws: &AwsContext,
    stack: &StackInfo,
    resource: &ExistingResource<'_>,
    summary: Option<&DistributionSummary>,
    extras: Option<Extras>,
) -> Result<Option<Observed>, DriverError> {
    let Some(summary) = summary else { return Ok(None) };
    let mut inputs = observed_inputs(summary);
    if aws.is_emulator().await {
        // The emulator drops custom error responses (docs/emulator.md): what it answers for
        // `spa_fallback` says nothing about what was applied.
        inputs.remove("spa_fallback");
    }
    let (tags, access) = match extras {
        Some(extras) => extras,
        None => {
            let bucket = inputs.get("origin_bucket").and_then(Value::as_str).unwrap_or_default();
            read_extras(aws, summary.arn(), bucket, &summary.id).await?
        }
    };
    inputs.insert("tags".into(), Value::Object(user_tags(&tags)));
    // The bucket policy statement that lets this distribution read the bucket: someone removing it
    // breaks the site without touching the distribution, so it is drift like any other.
    inputs.insert(BUCKET_ACCESS.into(), Value::Bool(access));
    let recorded_control = resource.attributes.get("origin_access_control_id").and_then(Value::as_str);
    let mut control = s3_origin(summary.origins(), summary.default_cache_behavior())
        .and_then(|origin| origin.origin_access_control_id.clone())
        .filter(|id| !id.is_empty())
        .or(recorded_control.map(str::to_string));
    if control.is_none() {
        // Not recorded (an interrupted create was adopted) and not answered (the emulator drops
        // it): the control is found by the name this driver gives it.
        let name = super::origin_access_control_name(stack, resource.address);
        control = super::origin_access_control::find_by_name(aws, &name).await?;
    }
    let attributes = Attributes {
        id: summary.id.clone(),
        arn: summary.arn.clone(),
        domain_name: summary.domain_name.clone(),
        origin_access_control_id: control,
    };
    Ok(Some(Observed { id: summary.id.clone(), inputs, attributes: attributes.to_json() }))
}

/// The hidden input saying the origin bucket's policy lets the distribution in; always wanted.
pub(super) const BUCKET_ACCESS: &str = "bucket_access";

/// The input fields a summary answers for (all but `tags`).
pub(super) fn observed_inputs(summary: &DistributionSummary) -> JsonMap {
    let mut inputs = JsonMap::new();
    if let Some(bucket) = s3_origin(summary.origins(), summary.default_cache_behavior())
        .and_then(|origin| bucket_from_domain(&origin.domain_name))
    {
        inputs.insert("origin_bucket".into(), json!(bucket));
    }
    inputs.insert("price_class".into(), json!(summary.price_class().as_str()));
    inputs.insert("aliases".into(), json!(sorted_aliases(summary.aliases().map(|a| a.items()).unwrap_or_default())));
    inputs.insert("spa_fallback".into(), json!(has_spa_fallback(summary.custom_error_responses())));
    if let Some((behavior, origin)) = api_route(summary) {
        inputs.insert("api_origin".into(), json!(origin.domain_name));
        inputs.insert("api_path".into(), json!(behavior.path_pattern));
        // Plain HTTP is what leaving the field out means, so only HTTPS is an answer.
        let policy = origin.custom_origin_config().map(|c| &c.origin_protocol_policy);
        if policy == Some(&aws_sdk_cloudfront::types::OriginProtocolPolicy::HttpsOnly) {
            inputs.insert("api_origin_protocol".into(), json!("https"));
        }
    }
    if let Some(arn) = summary.viewer_certificate().and_then(|c| c.acm_certificate_arn()).filter(|a| !a.is_empty()) {
        inputs.insert("certificate_arn".into(), json!(arn));
    }
    inputs
}

/// Aliases are a set to CloudFront, which answers them in its own order: sorted (and without
/// repeats) on both sides of the comparison, only a real difference shows in a plan.
pub(super) fn sorted_aliases(aliases: &[String]) -> Vec<String> {
    let mut sorted = aliases.to_vec();
    sorted.sort();
    sorted.dedup();
    sorted
}

/// The origin the default behavior serves from: the bucket.
pub(super) fn s3_origin<'a>(
    origins: Option<&'a Origins>,
    default_behavior: Option<&DefaultCacheBehavior>,
) -> Option<&'a Origin> {
    let target = default_behavior?.target_origin_id();
    origins?.items().iter().find(|origin| origin.id == target)
}

/// The behavior routed to another origin than the bucket, with that origin.
fn api_route(summary: &DistributionSummary) -> Option<(&CacheBehavior, &Origin)> {
    let bucket_origin = summary.default_cache_behavior()?.target_origin_id();
    let origins = summary.origins()?.items();
    summary.cache_behaviors()?.items().iter().find_map(|behavior| {
        let origin = origins.iter().find(|origin| origin.id == behavior.target_origin_id)?;
        (origin.id != bucket_origin).then_some((behavior, origin))
    })
}

fn has_spa_fallback(responses: Option<&CustomErrorResponses>) -> bool {
    let items = responses.map(|r| r.items()).unwrap_or_default();
    [403, 404].iter().all(|code| {
        items.iter().any(|response| {
            response.error_code == *code
                && response.response_page_path() == Some("/index.html")
                && response.response_code() == Some("200")
        })
    })
}

/// `site` from `site.s3.eu-west-1.amazonaws.com` (or the legacy `site.s3.amazonaws.com`,
/// `site.s3-eu-west-1.amazonaws.com`); bucket names may hold dots, so the last `.s3` counts.
pub(super) fn bucket_from_domain(domain: &str) -> Option<&str> {
    if !domain.ends_with(".amazonaws.com") {
        return None;
    }
    let end = [".s3.", ".s3-"].iter().filter_map(|marker| domain.rfind(marker)).max()?;
    (end > 0).then(|| &domain[..end])
}

/// The tags on a distribution right now.
pub(super) async fn current_tags(aws: &AwsContext, arn: &str) -> Result<Vec<(String, String)>, DriverError> {
    let output = aws
        .cloudfront()
        .list_tags_for_resource()
        .resource(arn)
        .send()
        .await
        .map_err(|error| crate::aws_error("ListTagsForResource", error))?;
    let items = output.tags().map(|tags| tags.items()).unwrap_or_default();
    Ok(items.iter().map(|tag| (tag.key().to_string(), tag.value().unwrap_or_default().to_string())).collect())
}

/// Tags as the stack file writes them: without the `provision:*` tags the driver adds itself.
pub(super) fn user_tags(tags: &[(String, String)]) -> JsonMap {
    match crate::drivers::tags::user_tags(&tags.iter().cloned().collect()) {
        Value::Object(user) => user,
        _ => JsonMap::new(),
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_cloudfront::types::{Aliases, CacheBehaviors, CustomErrorResponse, PriceClass};

    use super::*;

    fn origin(id: &str, domain: &str) -> Origin {
        Origin::builder().id(id).domain_name(domain).build().unwrap()
    }

    fn summary(behaviors: Vec<CacheBehavior>, errors: Vec<CustomErrorResponse>) -> DistributionSummary {
        let origins =
            vec![origin("s3-my.site", "my.site.s3.eu-west-1.amazonaws.com"), origin("origin-alb", "alb.example.com")];
        DistributionSummary::builder()
            .id("E1")
            .arn("arn:aws:cloudfront::1:distribution/E1")
            .status("Deployed")
            .last_modified_time(aws_smithy_types::DateTime::from_secs(0))
            .domain_name("d1.cloudfront.net")
            .comment("")
            .enabled(true)
            .web_acl_id("")
            .is_ipv6_enabled(true)
            .staging(false)
            .http_version(aws_sdk_cloudfront::types::HttpVersion::Http2and3)
            .price_class(PriceClass::PriceClass200)
            .aliases(Aliases::builder().quantity(1).items("www.site.com").build().unwrap())
            .origins(Origins::builder().quantity(2).set_items(Some(origins)).build().unwrap())
            .default_cache_behavior(
                DefaultCacheBehavior::builder()
                    .target_origin_id("s3-my.site")
                    .viewer_protocol_policy(aws_sdk_cloudfront::types::ViewerProtocolPolicy::RedirectToHttps)
                    .build()
                    .unwrap(),
            )
            .cache_behaviors(CacheBehaviors::builder().quantity(1).set_items(Some(behaviors)).build().unwrap())
            .custom_error_responses(
                CustomErrorResponses::builder().quantity(2).set_items(Some(errors)).build().unwrap(),
            )
            .build()
            .unwrap()
    }

    fn api_behavior() -> CacheBehavior {
        CacheBehavior::builder()
            .path_pattern("/v1/*")
            .target_origin_id("origin-alb")
            .viewer_protocol_policy(aws_sdk_cloudfront::types::ViewerProtocolPolicy::RedirectToHttps)
            .build()
            .unwrap()
    }

    fn fallback(code: i32) -> CustomErrorResponse {
        CustomErrorResponse::builder()
            .error_code(code)
            .response_page_path("/index.html")
            .response_code("200")
            .build()
            .unwrap()
    }

    #[test]
    fn summary_reads_back_the_stack_fields() {
        let inputs = observed_inputs(&summary(vec![api_behavior()], vec![fallback(403), fallback(404)]));
        assert_eq!(inputs["origin_bucket"], "my.site");
        assert_eq!(inputs["price_class"], "PriceClass_200");
        assert_eq!(inputs["aliases"], json!(["www.site.com"]));
        assert_eq!(inputs["spa_fallback"], true);
        assert_eq!(inputs["api_origin"], "alb.example.com");
        assert_eq!(inputs["api_path"], "/v1/*");
        assert!(!inputs.contains_key("certificate_arn"));
        assert!(!inputs.contains_key("wait"));
        assert!(!inputs.contains_key("origin_content"));
    }

    #[test]
    fn one_error_response_is_not_a_spa_fallback_and_no_behavior_is_no_api() {
        let inputs = observed_inputs(&summary(vec![], vec![fallback(404)]));
        assert_eq!(inputs["spa_fallback"], false);
        assert!(!inputs.contains_key("api_origin"));
        assert!(!inputs.contains_key("api_path"));
    }

    #[test]
    fn bucket_names_come_from_s3_domains_only() {
        assert_eq!(bucket_from_domain("site.s3.eu-west-1.amazonaws.com"), Some("site"));
        assert_eq!(bucket_from_domain("a.s3.b.s3.us-east-1.amazonaws.com"), Some("a.s3.b"));
        assert_eq!(bucket_from_domain("site.s3.amazonaws.com"), Some("site"));
        assert_eq!(bucket_from_domain("site.s3-us-west-2.amazonaws.com"), Some("site"));
        assert_eq!(bucket_from_domain("alb.example.com"), None);
    }

    #[test]
    fn provision_tags_are_not_user_tags() {
        let tags = [("provision:stack".to_string(), "shop".to_string()), ("team".to_string(), "web".to_string())];
        assert_eq!(Value::Object(user_tags(&tags)), json!({ "team": "web" }));
    }

    #[test]
    fn recorded_attributes_round_trip() {
        let attributes = Attributes {
            id: "E1".into(),
            arn: "arn:aws:cloudfront::1:distribution/E1".into(),
            domain_name: "d1.cloudfront.net".into(),
            origin_access_control_id: Some("OAC1".into()),
        };
        assert_eq!(Attributes::recorded("E1", &attributes.to_json()), Some(attributes));
    }
}
