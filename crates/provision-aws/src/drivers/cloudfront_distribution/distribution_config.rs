//! Turning [`Settings`] into CloudFront's `DistributionConfig`, whole (create) or in part (update).
//!
//! Updates must send the complete config back, so they start from what AWS returned and replace
//! only the pieces whose fields changed; anything configured outside provision (WAF, logging,
//! geo restrictions) survives an apply. The pieces are built by the same functions in both cases,
//! which is what keeps a created distribution and an updated one identical.

use std::collections::BTreeSet;

use aws_sdk_cloudfront::types::{
    Aliases, AllowedMethods, CacheBehavior, CacheBehaviors, CachedMethods, CustomErrorResponse, CustomErrorResponses,
    CustomOriginConfig, DefaultCacheBehavior, DistributionConfig, HttpVersion, LoggingConfig, Method,
    MinimumProtocolVersion, Origin, OriginProtocolPolicy, OriginSslProtocols, Origins, PriceClass, S3OriginConfig,
    SslProtocol, SslSupportMethod, ViewerCertificate, ViewerProtocolPolicy,
};
use aws_smithy_types::error::operation::BuildError;

use super::Settings;
use crate::drivers::DriverError;

/// AWS managed cache policy `Managed-CachingOptimized`.
pub(super) const CACHING_OPTIMIZED: &str = "658327ea-f89d-4fab-a63d-7e88639e58f6";
/// AWS managed cache policy `Managed-CachingDisabled`.
pub(super) const CACHING_DISABLED: &str = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad";
/// AWS managed origin request policy `Managed-AllViewerExceptHostHeader`.
pub(super) const ALL_VIEWER_EXCEPT_HOST_HEADER: &str = "b689b0a8-53d0-40ab-baf2-68738e2966ac";

/// The inputs whose change needs an `UpdateDistribution` (tags, `wait` and `origin_content` do not).
pub(super) const CONFIG_FIELDS: &[&str] = &[
    "origin_bucket",
    "default_root_object",
    "price_class",
    "spa_fallback",
    "api_origin",
    "api_path",
    "api_origin_protocol",
    "aliases",
    "certificate_arn",
];

const ORIGIN_FIELDS: &[&str] = &["origin_bucket", "api_origin", "api_path", "api_origin_protocol"];

/// What a config needs besides the settings: who owns it and how it reaches the bucket.
pub(super) struct Placement<'a> {
    pub caller_reference: &'a str,
    pub comment: &'a str,
    pub origin_access_control_id: Option<&'a str>,
    pub region: &'a str,
}

/// The complete config of a new distribution.
pub(super) fn new_config(settings: &Settings, placement: &Placement<'_>) -> Result<DistributionConfig, DriverError> {
    DistributionConfig::builder()
        .caller_reference(placement.caller_reference)
        .comment(placement.comment)
        .enabled(true)
        .aliases(aliases(settings)?)
        .default_root_object(&settings.default_root_object)
        .origins(origins(settings, placement)?)
        .default_cache_behavior(default_cache_behavior(settings)?)
        .cache_behaviors(cache_behaviors(settings)?)
        .custom_error_responses(custom_error_responses(settings)?)
        .logging(logging_disabled())
        .price_class(PriceClass::from(settings.price_class.as_str()))
        .viewer_certificate(viewer_certificate(settings))
        .http_version(HttpVersion::Http2and3)
        .is_ipv6_enabled(true)
        .build()
        .map_err(config_error)
}

/// Rewrites the parts of `config` that the `changed` fields control.
pub(super) fn apply_changes(
    config: &mut DistributionConfig,
    settings: &Settings,
    changed: &BTreeSet<&str>,
    placement: &Placement<'_>,
) -> Result<(), DriverError> {
    if changed.contains("default_root_object") {
        config.default_root_object = Some(settings.default_root_object.clone());
    }
    if changed.contains("price_class") {
        config.price_class = Some(PriceClass::from(settings.price_class.as_str()));
    }
    if changed.contains("spa_fallback") {
        config.custom_error_responses = Some(custom_error_responses(settings)?);
    }
    if changed.contains("aliases") {
        config.aliases = Some(aliases(settings)?);
    }
    if changed.contains("certificate_arn") {
        config.viewer_certificate = Some(viewer_certificate(settings));
    }
    if ORIGIN_FIELDS.iter().any(|field| changed.contains(field)) {
        config.origins = Some(origins(settings, placement)?);
        config.cache_behaviors = Some(cache_behaviors(settings)?);
        match config.default_cache_behavior.as_mut() {
            Some(behavior) => behavior.target_origin_id = s3_origin_id(&settings.origin_bucket),
            None => config.default_cache_behavior = Some(default_cache_behavior(settings)?),
        }
    }
    Ok(())
}

pub(super) fn s3_origin_id(bucket: &str) -> String {
    format!("s3-{bucket}")
}

/// The bucket's regional REST endpoint (not the website endpoint: OAC signs S3 API requests).
pub(super) fn s3_origin_domain(bucket: &str, region: &str) -> String {
    format!("{bucket}.s3.{region}.amazonaws.com")
}

/// `origin-<domain>`, with anything CloudFront would not accept in an id replaced by `-`.
pub(super) fn api_origin_id(domain: &str) -> String {
    let sanitised: String =
        domain.chars().map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '-' { c } else { '-' }).collect();
    super::truncate(&format!("origin-{sanitised}"), 128)
}

fn origins(settings: &Settings, placement: &Placement<'_>) -> Result<Origins, DriverError> {
    let mut items = vec![s3_origin(settings, placement)?];
    if let Some(domain) = settings.api_origin() {
        items.push(api_origin(domain, settings.api_origin_https())?);
    }
    Origins::builder().quantity(len(&items)).set_items(Some(items)).build().map_err(config_error)
}

fn s3_origin(settings: &Settings, placement: &Placement<'_>) -> Result<Origin, DriverError> {
    Origin::builder()
        .id(s3_origin_id(&settings.origin_bucket))
        .domain_name(s3_origin_domain(&settings.origin_bucket, placement.region))
        // An empty identity is how the API says "no legacy OAI; the OAC signs instead".
        .s3_origin_config(S3OriginConfig::builder().origin_access_identity("").build())
        .set_origin_access_control_id(placement.origin_access_control_id.map(str::to_string))
        .build()
        .map_err(config_error)
}

fn api_origin(domain: &str, https: bool) -> Result<Origin, DriverError> {
    let policy = if https { OriginProtocolPolicy::HttpsOnly } else { OriginProtocolPolicy::HttpOnly };
    let protocols =
        OriginSslProtocols::builder().quantity(1).items(SslProtocol::TlSv12).build().map_err(config_error)?;
    let custom = CustomOriginConfig::builder()
        .http_port(80)
        .https_port(443)
        .origin_protocol_policy(policy)
        .origin_ssl_protocols(protocols)
        .build()
        .map_err(config_error)?;
    Origin::builder()
        .id(api_origin_id(domain))
        .domain_name(domain)
        .custom_origin_config(custom)
        .build()
        .map_err(config_error)
}

fn default_cache_behavior(settings: &Settings) -> Result<DefaultCacheBehavior, DriverError> {
    DefaultCacheBehavior::builder()
        .target_origin_id(s3_origin_id(&settings.origin_bucket))
        .viewer_protocol_policy(ViewerProtocolPolicy::RedirectToHttps)
        .allowed_methods(allowed_methods(&[Method::Get, Method::Head])?)
        .cache_policy_id(CACHING_OPTIMIZED)
        .compress(true)
        .smooth_streaming(false)
        .build()
        .map_err(config_error)
}

fn cache_behaviors(settings: &Settings) -> Result<CacheBehaviors, DriverError> {
    let items = match settings.api_origin() {
        Some(domain) => vec![api_cache_behavior(domain, &settings.api_path)?],
        None => Vec::new(),
    };
    CacheBehaviors::builder().quantity(len(&items)).set_items(non_empty(items)).build().map_err(config_error)
}

fn api_cache_behavior(domain: &str, path: &str) -> Result<CacheBehavior, DriverError> {
    let methods =
        [Method::Get, Method::Head, Method::Options, Method::Put, Method::Patch, Method::Post, Method::Delete];
    CacheBehavior::builder()
        .path_pattern(path)
        .target_origin_id(api_origin_id(domain))
        .viewer_protocol_policy(ViewerProtocolPolicy::RedirectToHttps)
        .allowed_methods(allowed_methods(&methods)?)
        .cache_policy_id(CACHING_DISABLED)
        .origin_request_policy_id(ALL_VIEWER_EXCEPT_HOST_HEADER)
        .compress(false)
        .smooth_streaming(false)
        .build()
        .map_err(config_error)
}

/// `methods`, of which GET and HEAD are cached (the rest are never cached by CloudFront).
fn allowed_methods(methods: &[Method]) -> Result<AllowedMethods, DriverError> {
    let cached = CachedMethods::builder()
        .quantity(2)
        .set_items(Some(vec![Method::Get, Method::Head]))
        .build()
        .map_err(config_error)?;
    AllowedMethods::builder()
        .quantity(len(methods))
        .set_items(Some(methods.to_vec()))
        .cached_methods(cached)
        .build()
        .map_err(config_error)
}

fn custom_error_responses(settings: &Settings) -> Result<CustomErrorResponses, DriverError> {
    let items = if settings.spa_fallback {
        [403, 404].into_iter().map(spa_fallback_response).collect::<Result<Vec<_>, _>>()?
    } else {
        Vec::new()
    };
    CustomErrorResponses::builder().quantity(len(&items)).set_items(non_empty(items)).build().map_err(config_error)
}

fn spa_fallback_response(error_code: i32) -> Result<CustomErrorResponse, DriverError> {
    CustomErrorResponse::builder()
        .error_code(error_code)
        .response_page_path("/index.html")
        .response_code("200")
        .build()
        .map_err(config_error)
}

fn aliases(settings: &Settings) -> Result<Aliases, DriverError> {
    Aliases::builder()
        .quantity(len(&settings.aliases))
        .set_items(non_empty(settings.aliases.clone()))
        .build()
        .map_err(config_error)
}

fn viewer_certificate(settings: &Settings) -> ViewerCertificate {
    match settings.certificate_arn() {
        Some(arn) => ViewerCertificate::builder()
            .acm_certificate_arn(arn)
            .ssl_support_method(SslSupportMethod::SniOnly)
            .minimum_protocol_version(MinimumProtocolVersion::TlSv122021)
            .build(),
        None => ViewerCertificate::builder().cloud_front_default_certificate(true).build(),
    }
}

/// Logging off, spelled out: this is what AWS returns for a distribution without logging, and
/// sending it explicitly keeps the emulator from answering with Python booleans (`False`).
fn logging_disabled() -> LoggingConfig {
    LoggingConfig::builder().enabled(false).include_cookies(false).bucket("").prefix("").build()
}

fn non_empty<T>(items: Vec<T>) -> Option<Vec<T>> {
    (!items.is_empty()).then_some(items)
}

fn len<T>(items: &[T]) -> i32 {
    i32::try_from(items.len()).unwrap_or(i32::MAX)
}

fn config_error(error: BuildError) -> DriverError {
    DriverError::invalid(format!("cannot build the distribution config: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Settings {
        Settings { origin_bucket: "shop-site".into(), ..Settings::default() }
    }

    fn placement() -> Placement<'static> {
        Placement {
            caller_reference: "ref-1",
            comment: "provision shop cloudfront_distribution.cdn",
            origin_access_control_id: Some("OAC123"),
            region: "eu-west-1",
        }
    }

    fn origins_of(config: &DistributionConfig) -> &[Origin] {
        config.origins.as_ref().map(|o| o.items.as_slice()).unwrap_or_default()
    }

    #[test]
    fn plain_config_serves_the_bucket_through_the_origin_access_control() {
        let config = new_config(&settings(), &placement()).unwrap();
        let origins = origins_of(&config);
        assert_eq!(origins.len(), 1);
        assert_eq!(origins[0].id, "s3-shop-site");
        assert_eq!(origins[0].domain_name, "shop-site.s3.eu-west-1.amazonaws.com");
        assert_eq!(origins[0].origin_access_control_id.as_deref(), Some("OAC123"));
        let behavior = config.default_cache_behavior.as_ref().unwrap();
        assert_eq!(behavior.target_origin_id, "s3-shop-site");
        assert_eq!(behavior.cache_policy_id.as_deref(), Some(CACHING_OPTIMIZED));
        assert_eq!(behavior.viewer_protocol_policy, ViewerProtocolPolicy::RedirectToHttps);
        assert_eq!(config.cache_behaviors.as_ref().unwrap().quantity, 0);
        assert_eq!(config.custom_error_responses.as_ref().unwrap().quantity, 0);
        assert_eq!(config.default_root_object.as_deref(), Some("index.html"));
        assert_eq!(config.price_class, Some(PriceClass::PriceClass100));
        assert_eq!(config.comment, "provision shop cloudfront_distribution.cdn");
        assert!(config.enabled);
        assert_eq!(config.viewer_certificate.as_ref().unwrap().cloud_front_default_certificate, Some(true));
    }

    #[test]
    fn spa_fallback_answers_403_and_404_with_the_index() {
        let config = new_config(&Settings { spa_fallback: true, ..settings() }, &placement()).unwrap();
        let responses = config.custom_error_responses.unwrap();
        assert_eq!(responses.quantity, 2);
        let items = responses.items.unwrap();
        assert_eq!(items.iter().map(|r| r.error_code).collect::<Vec<_>>(), [403, 404]);
        assert!(items.iter().all(|r| r.response_page_path.as_deref() == Some("/index.html")));
        assert!(items.iter().all(|r| r.response_code.as_deref() == Some("200")));
    }

    #[test]
    fn api_origin_adds_an_uncached_origin_and_behavior() {
        let api = Settings { api_origin: Some("my-alb-1.eu-west-1.elb.amazonaws.com".into()), ..settings() };
        let config = new_config(&api, &placement()).unwrap();
        let origins = origins_of(&config);
        assert_eq!(origins.len(), 2);
        assert_eq!(origins[1].id, "origin-my-alb-1.eu-west-1.elb.amazonaws.com");
        let custom = origins[1].custom_origin_config.as_ref().unwrap();
        assert_eq!(custom.origin_protocol_policy, OriginProtocolPolicy::HttpOnly);
        let behaviors = config.cache_behaviors.as_ref().unwrap().items.as_ref().unwrap();
        assert_eq!(behaviors.len(), 1);
        assert_eq!(behaviors[0].path_pattern, "/api/*");
        assert_eq!(behaviors[0].target_origin_id, origins[1].id);
        assert_eq!(behaviors[0].cache_policy_id.as_deref(), Some(CACHING_DISABLED));
        assert_eq!(behaviors[0].origin_request_policy_id.as_deref(), Some(ALL_VIEWER_EXCEPT_HOST_HEADER));
        assert_eq!(behaviors[0].allowed_methods.as_ref().unwrap().quantity, 7);
    }

    #[test]
    fn api_origin_protocol_https_reaches_the_origin_over_https_only() {
        let api = Settings {
            api_origin: Some("api.example.com".into()),
            api_origin_protocol: Some("https".into()),
            ..settings()
        };
        let config = new_config(&api, &placement()).unwrap();
        let custom = origins_of(&config)[1].custom_origin_config.clone().unwrap();
        assert_eq!(custom.origin_protocol_policy, OriginProtocolPolicy::HttpsOnly);
    }

    #[test]
    fn certificate_switches_to_acm_with_sni() {
        let arn = "arn:aws:acm:us-east-1:123456789012:certificate/abc";
        let with_cert =
            Settings { certificate_arn: Some(arn.into()), aliases: vec!["www.shop.com".into()], ..settings() };
        let config = new_config(&with_cert, &placement()).unwrap();
        let certificate = config.viewer_certificate.unwrap();
        assert_eq!(certificate.acm_certificate_arn.as_deref(), Some(arn));
        assert_eq!(certificate.ssl_support_method, Some(SslSupportMethod::SniOnly));
        assert_eq!(certificate.minimum_protocol_version, Some(MinimumProtocolVersion::TlSv122021));
        assert_eq!(certificate.cloud_front_default_certificate, None);
        assert_eq!(config.aliases.unwrap().items.unwrap(), ["www.shop.com"]);
    }

    #[test]
    fn origin_ids_are_sanitised() {
        assert_eq!(api_origin_id("api.example.com:8080/x"), "origin-api.example.com-8080-x");
    }

    #[test]
    fn apply_changes_touches_only_changed_parts() {
        let mut config = new_config(&settings(), &placement()).unwrap();
        config.web_acl_id = Some("set-outside-provision".into());
        let changed = Settings {
            price_class: "PriceClass_All".into(),
            spa_fallback: true,
            default_root_object: "home.html".into(),
            ..settings()
        };
        apply_changes(&mut config, &changed, &BTreeSet::from(["price_class"]), &placement()).unwrap();
        assert_eq!(config.price_class, Some(PriceClass::PriceClassAll));
        assert_eq!(config.custom_error_responses.as_ref().unwrap().quantity, 0);
        assert_eq!(config.default_root_object.as_deref(), Some("index.html"));
        assert_eq!(config.web_acl_id.as_deref(), Some("set-outside-provision"));
    }

    #[test]
    fn apply_changes_moves_origins_to_a_new_bucket_and_api() {
        let mut config = new_config(&settings(), &placement()).unwrap();
        let moved =
            Settings { origin_bucket: "other-site".into(), api_origin: Some("api.example.com".into()), ..settings() };
        apply_changes(&mut config, &moved, &BTreeSet::from(["origin_bucket", "api_origin"]), &placement()).unwrap();
        let ids: Vec<&str> = origins_of(&config).iter().map(|o| o.id.as_str()).collect();
        assert_eq!(ids, ["s3-other-site", "origin-api.example.com"]);
        assert_eq!(config.default_cache_behavior.unwrap().target_origin_id, "s3-other-site");
        assert_eq!(config.cache_behaviors.unwrap().quantity, 1);
    }
}
