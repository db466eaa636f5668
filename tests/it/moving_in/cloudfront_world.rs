//! A CloudFront distribution with an origin access control, made with the SDK as Terraform's
//! provider makes them. The emulator answers CloudFront writes in a shape the SDK cannot read
//! (docs/emulator.md), so the ids are read back from its listing as text.

use aws_sdk_cloudfront::types::{
    DefaultCacheBehavior, DistributionConfig, Origin, OriginAccessControlConfig, OriginAccessControlOriginTypes,
    OriginAccessControlSigningBehaviors, OriginAccessControlSigningProtocols, Origins, PriceClass, S3OriginConfig,
    ViewerProtocolPolicy,
};

use crate::support::{cloudfront, emulator_get};

/// CloudFront's managed `CachingOptimized` policy.
const CACHING_OPTIMIZED: &str = "658327ea-f89d-4fab-a63d-7e88639e58f6";

/// Makes `{p}-webapp`'s origin access control and a distribution serving `bucket` through it;
/// returns (control id, distribution id, distribution domain).
pub async fn distribution(p: &str, bucket: &str) -> (String, String, String) {
    let control = OriginAccessControlConfig::builder()
        .name(format!("{p}-webapp"))
        .origin_access_control_origin_type(OriginAccessControlOriginTypes::S3)
        .signing_behavior(OriginAccessControlSigningBehaviors::Always)
        .signing_protocol(OriginAccessControlSigningProtocols::Sigv4)
        .build()
        .expect("control config");
    let _ = cloudfront().create_origin_access_control().origin_access_control_config(control).send().await;
    let listing = emulator_get("/2020-05-31/origin-access-control");
    let control_id = item_with(&listing, "OriginAccessControlSummary", &format!("<Name>{p}-webapp</Name>"), "Id");

    let origin = Origin::builder()
        .id("s3-webapp")
        .domain_name(format!("{bucket}.s3.us-east-1.amazonaws.com"))
        .origin_access_control_id(&control_id)
        .s3_origin_config(S3OriginConfig::builder().origin_access_identity("").build())
        .build()
        .expect("origin");
    let behavior = DefaultCacheBehavior::builder()
        .target_origin_id("s3-webapp")
        .viewer_protocol_policy(ViewerProtocolPolicy::RedirectToHttps)
        .cache_policy_id(CACHING_OPTIMIZED)
        .build()
        .expect("behavior");
    let config = DistributionConfig::builder()
        .caller_reference(format!("terraform-{p}"))
        .comment(p)
        .enabled(true)
        .default_root_object("index.html")
        .origins(Origins::builder().quantity(1).items(origin).build().expect("origins"))
        .default_cache_behavior(behavior)
        .price_class(PriceClass::PriceClass100)
        .build()
        .expect("distribution config");
    // The change happens; the emulator's answer is what the SDK cannot read.
    let _ = cloudfront().create_distribution().distribution_config(config).send().await;
    let listing = emulator_get("/2020-05-31/distribution");
    let comment = format!("<Comment>{p}</Comment>");
    let id = item_with(&listing, "DistributionSummary", &comment, "Id");
    let domain = item_with(&listing, "DistributionSummary", &comment, "DomainName");
    (control_id, id, domain)
}

/// The text of `<field>` in the `<item>` element of `xml` that contains `marker`.
fn item_with(xml: &str, item: &str, marker: &str, field: &str) -> String {
    let open = format!("<{item}>");
    let block = xml
        .split(&open)
        .skip(1)
        .find(|block| block.split(&format!("</{item}>")).next().unwrap_or_default().contains(marker))
        .unwrap_or_else(|| panic!("no {item} with {marker} in the emulator's listing:\n{xml}"));
    let start = block.find(&format!("<{field}>")).expect("field") + field.len() + 2;
    let end = block[start..].find('<').expect("end of field") + start;
    block[start..end].to_string()
}
