//! Custom domains with HTTPS: a hosted zone made beforehand (as a user would), then certificates
//! validated through it, an HTTPS listener, HTTP redirected to HTTPS, and alias records to the load
//! balancer and to a distribution, all checked through the AWS APIs — through changes in place, a
//! replacement, imports and a destroy that keeps the zone.
//!
//! The stack lives in eu-west-1 while the distribution's certificate lives in us-east-1, so both
//! ACM regions are in play.

use aws_sdk_route53::types::{ResourceRecordSet, RrType};

use crate::support::{acm_in, block_on, emulator_get, endpoint, route53, Project};

const REGION: &str = "eu-west-1";

fn elbv2_in(region: &str) -> aws_sdk_elasticloadbalancingv2::Client {
    use aws_sdk_elasticloadbalancingv2::config::{BehaviorVersion, Builder, Credentials, Region};
    let config = Builder::new()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region.to_string()))
        .endpoint_url(endpoint())
        .credentials_provider(Credentials::new("test", "test", None, None, "tests"))
        .build();
    aws_sdk_elasticloadbalancingv2::Client::from_conf(config)
}

/// Makes the hosted zone the stack uses, as a user does once per domain; returns its id.
fn create_zone(name: &str) -> String {
    block_on(async {
        let answer = route53()
            .create_hosted_zone()
            .name(name)
            .caller_reference(format!("test-{name}"))
            .send()
            .await
            .expect("CreateHostedZone");
        answer.hosted_zone().expect("a zone").id().trim_start_matches("/hostedzone/").to_string()
    })
}

fn records(zone: &str) -> Vec<ResourceRecordSet> {
    block_on(async {
        let answer =
            route53().list_resource_record_sets().hosted_zone_id(zone).send().await.expect("ListResourceRecordSets");
        answer.resource_record_sets().to_vec()
    })
}

fn record<'a>(sets: &'a [ResourceRecordSet], name: &str, record_type: RrType) -> Option<&'a ResourceRecordSet> {
    let name = format!("{}.", name.trim_end_matches('.'));
    sets.iter().find(|set| set.name() == name && *set.r#type() == record_type)
}

fn certificate(region: &str, arn: &str) -> Option<aws_sdk_acm::types::CertificateDetail> {
    block_on(async {
        match acm_in(region).describe_certificate().certificate_arn(arn).send().await {
            Ok(answer) => answer.certificate().cloned(),
            Err(error) => {
                let code = aws_sdk_acm::error::ProvideErrorMetadata::code(&error).map(str::to_string);
                assert_eq!(code.as_deref(), Some("ResourceNotFoundException"), "{error:?}");
                None
            }
        }
    })
}

/// The validation CNAMEs ACM chose for a certificate, as `(name, value)`.
fn validation_records(detail: &aws_sdk_acm::types::CertificateDetail) -> Vec<(String, String)> {
    detail
        .domain_validation_options()
        .iter()
        .filter_map(|option| option.resource_record())
        .map(|record| (record.name().to_string(), record.value().to_string()))
        .collect()
}

fn stack(domain: &str, txt: &str, ttl: u32, ws_names: &str) -> String {
    format!(
        r#"
[stack]
name = "{{name}}"
region = "{REGION}"

[variables]
domain = "{domain}"

[dns_zone.main]
name = "${{var.domain}}"

[certificate.ws]
domain = "ws.${{var.domain}}"
alternative_names = {ws_names}
zone = "${{dns_zone.main.id}}"

[certificate.cdn]
domain = "www.${{var.domain}}"
zone = "${{dns_zone.main.id}}"
region = "us-east-1"

[security_group.lb]
description = "Public web traffic"
ingress = [{{ port = 80, cidr = "0.0.0.0/0" }}, {{ port = 443, cidr = "0.0.0.0/0" }}]

[load_balancer.web]
security_groups = ["${{security_group.lb.id}}"]

[target_group.web]
port = 8080

[listener.https]
load_balancer = "${{load_balancer.web.arn}}"
port = 443
protocol = "HTTPS"
certificate_arn = "${{certificate.ws.arn}}"
forward = "${{target_group.web.arn}}"

[listener.http]
load_balancer = "${{load_balancer.web.arn}}"
port = 80
redirect_to_https = true

[dns_record.ws]
zone = "${{dns_zone.main.id}}"
name = "ws.${{var.domain}}"
alias = {{ name = "${{load_balancer.web.dns_name}}", zone_id = "${{load_balancer.web.zone_id}}" }}

[s3_bucket.site]
force_destroy = true

[cloudfront_distribution.cdn]
origin_bucket = "${{s3_bucket.site.name}}"
aliases = ["www.${{var.domain}}"]
certificate_arn = "${{certificate.cdn.arn}}"

[dns_record.www]
zone = "${{dns_zone.main.id}}"
name = "www.${{var.domain}}"
alias = {{ name = "${{cloudfront_distribution.cdn.domain_name}}", zone_id = "${{cloudfront_distribution.cdn.zone_id}}" }}

[dns_record.info]
zone = "${{dns_zone.main.id}}"
name = "info.${{var.domain}}"
type = "TXT"
records = ["{txt}"]
ttl = {ttl}
"#
    )
}

#[test]
fn a_custom_domain_serves_https_through_changes_replacement_import_and_destroy() {
    let project = Project::new("dom", "").with_emulator();
    let domain = format!("{}.example.com", project.stack_name);
    let zone = create_zone(&domain);
    project.write_stack(&stack(&domain, "hello", 300, "[]"));

    let plan = project.run(&["plan"]).success();
    assert!(plan.stdout.contains("looks up the existing hosted zone; nothing is created"), "{}", plan.stdout);
    assert!(plan.stdout.contains("waits until ACM has issued the certificate"), "{}", plan.stdout);
    project.run(&["apply", "--auto-approve"]).success().stdout_has("Apply complete! 13 added");
    let state = project.state();
    let attribute = |address: &str, name: &str| {
        state["resources"][address]["attributes"][name].as_str().unwrap_or_default().to_string()
    };
    assert_eq!(attribute("dns_zone.main", "id"), zone);
    assert_eq!(attribute("cloudfront_distribution.cdn", "zone_id"), "Z2FDTNDATAQYW2");

    // Both certificates are issued, each in its region, with their validation records in the zone.
    let ws_arn = attribute("certificate.ws", "arn");
    let cdn_arn = attribute("certificate.cdn", "arn");
    assert!(ws_arn.starts_with(&format!("arn:aws:acm:{REGION}:")), "{ws_arn}");
    assert!(cdn_arn.starts_with("arn:aws:acm:us-east-1:"), "{cdn_arn}");
    assert_eq!(attribute("certificate.ws", "status"), "ISSUED");
    let ws_certificate = certificate(REGION, &ws_arn).expect("the ws certificate");
    assert_eq!(ws_certificate.status().map(|s| s.as_str()), Some("ISSUED"));
    let cdn_certificate = certificate("us-east-1", &cdn_arn).expect("the cdn certificate");
    assert_eq!(cdn_certificate.status().map(|s| s.as_str()), Some("ISSUED"));
    let sets = records(&zone);
    let ws_validation = validation_records(&ws_certificate);
    assert_eq!(ws_validation.len(), 1);
    for (name, value) in ws_validation.iter().chain(&validation_records(&cdn_certificate)) {
        let set = record(&sets, name, RrType::Cname).unwrap_or_else(|| panic!("validation record {name} in the zone"));
        assert_eq!(set.resource_records().iter().map(|r| r.value()).collect::<Vec<_>>(), [value.as_str()]);
    }

    // HTTPS on 443 with the certificate and a TLS 1.2+ policy; HTTP on 80 redirects to HTTPS.
    let load_balancer = attribute("load_balancer.web", "arn");
    let listeners = block_on(async {
        let answer = elbv2_in(REGION).describe_listeners().load_balancer_arn(&load_balancer).send().await;
        answer.expect("DescribeListeners").listeners().to_vec()
    });
    let https = listeners.iter().find(|l| l.port() == Some(443)).expect("an HTTPS listener");
    assert_eq!(https.protocol().map(|p| p.as_str()), Some("HTTPS"));
    assert_eq!(https.certificates().first().and_then(|c| c.certificate_arn()), Some(ws_arn.as_str()));
    assert_eq!(https.ssl_policy(), Some("ELBSecurityPolicy-TLS13-1-2-2021-06"));
    assert_eq!(
        https.default_actions().first().and_then(|a| a.target_group_arn()),
        Some(attribute("target_group.web", "arn").as_str())
    );
    let http = listeners.iter().find(|l| l.port() == Some(80)).expect("an HTTP listener");
    let redirect = http.default_actions().first().and_then(|a| a.redirect_config()).expect("a redirect");
    assert_eq!((redirect.protocol(), redirect.port()), (Some("HTTPS"), Some("443")));

    // The alias records point at the load balancer and at the distribution; the TXT record is quoted.
    let ws = record(&sets, &format!("ws.{domain}"), RrType::A).expect("ws record");
    let target = ws.alias_target().expect("an alias");
    assert_eq!(target.dns_name().trim_end_matches('.'), attribute("load_balancer.web", "dns_name").to_lowercase());
    assert_eq!(target.hosted_zone_id(), attribute("load_balancer.web", "zone_id"));
    let www = record(&sets, &format!("www.{domain}"), RrType::A).expect("www record");
    let target = www.alias_target().expect("an alias");
    assert_eq!(target.dns_name().trim_end_matches('.'), attribute("cloudfront_distribution.cdn", "domain_name"));
    assert_eq!(target.hosted_zone_id(), "Z2FDTNDATAQYW2");
    let info = record(&sets, &format!("info.{domain}"), RrType::Txt).expect("TXT record");
    assert_eq!(info.ttl(), Some(300));
    assert_eq!(info.resource_records().iter().map(|r| r.value()).collect::<Vec<_>>(), ["\"hello\""]);

    // The distribution answers for the alias with the us-east-1 certificate, SNI, TLS 1.2 (2021).
    let config =
        emulator_get(&format!("/2020-05-31/distribution/{}/config", attribute("cloudfront_distribution.cdn", "id")));
    assert!(config.contains(&format!("<CNAME>www.{domain}</CNAME>")), "{config}");
    assert!(config.contains(&cdn_arn), "{config}");
    assert!(config.contains("sni-only") && config.contains("TLSv1.2_2021"), "{config}");

    project.run(&["plan"]).success().stdout_has("No changes.");

    // In place: a record's values and TTL.
    project.write_stack(&stack(&domain, "world", 60, "[]"));
    project
        .run(&["plan"])
        .success()
        .stdout_has("~ dns_record.info")
        .stdout_has("ttl:")
        .stdout_has("0 to add, 1 to change, 0 to replace, 0 to destroy.");
    project.run(&["apply", "--auto-approve"]).success();
    let sets = records(&zone);
    let info = record(&sets, &format!("info.{domain}"), RrType::Txt).expect("TXT record");
    assert_eq!(info.ttl(), Some(60));
    assert_eq!(info.resource_records().iter().map(|r| r.value()).collect::<Vec<_>>(), ["\"world\""]);

    // Replaced, the new one first: another name on the certificate; the listener moves to it.
    project.write_stack(&stack(&domain, "world", 60, "[\"api.${var.domain}\"]"));
    project
        .run(&["plan"])
        .success()
        .stdout_has("-/+ certificate.ws")
        .stdout_has("alternative_names forces replacement), the new one first");
    project.run(&["apply", "--auto-approve"]).success();
    let state = project.state();
    let new_arn = state["resources"]["certificate.ws"]["attributes"]["arn"].as_str().expect("an ARN").to_string();
    assert_ne!(new_arn, ws_arn);
    assert!(certificate(REGION, &ws_arn).is_none(), "the old certificate is deleted");
    let new_certificate = certificate(REGION, &new_arn).expect("the new certificate");
    assert_eq!(new_certificate.status().map(|s| s.as_str()), Some("ISSUED"));
    let listeners = block_on(async {
        let answer = elbv2_in(REGION).describe_listeners().load_balancer_arn(&load_balancer).send().await;
        answer.expect("DescribeListeners").listeners().to_vec()
    });
    let https = listeners.iter().find(|l| l.port() == Some(443)).expect("an HTTPS listener");
    assert_eq!(https.certificates().first().and_then(|c| c.certificate_arn()), Some(new_arn.as_str()));
    let sets = records(&zone);
    let new_validation = validation_records(&new_certificate);
    assert_eq!(new_validation.len(), 2);
    for (name, _) in &new_validation {
        assert!(
            record(&sets, name, RrType::Cname).is_some(),
            "{name}: the new certificate's records stay, also the one it shares with the old one"
        );
    }

    // Imported: a record by ZONE/NAME/TYPE and a certificate by ARN plan no changes.
    project.run(&["state", "rm", "dns_record.ws"]).success();
    project.run(&["state", "rm", "certificate.cdn"]).success();
    project.run(&["import", "dns_record.ws", &format!("{zone}/ws.{domain}/A")]).success();
    project.run(&["import", "certificate.cdn", &cdn_arn]).success();
    project.run(&["plan"]).success().stdout_has("No changes.");

    // Destroyed: records and certificates gone, the zone kept with only its own records.
    project.run(&["destroy", "--auto-approve"]).success();
    assert!(certificate(REGION, &new_arn).is_none());
    assert!(certificate("us-east-1", &cdn_arn).is_none());
    let left: Vec<String> =
        records(&zone).iter().map(|set| format!("{} {}", set.name(), set.r#type().as_str())).collect();
    assert_eq!(left, [format!("{domain}. NS"), format!("{domain}. SOA")], "only the zone's own records are left");
    block_on(async { route53().get_hosted_zone().id(&zone).send().await.expect("the zone is kept") });
}

#[test]
fn a_zone_that_does_not_exist_fails_saying_how_to_create_it() {
    let project = Project::new("nozone", "").with_emulator();
    let domain = format!("{}.example.com", project.stack_name);
    project.write_stack(&format!(
        "[stack]\nname = \"{{name}}\"\n\n[dns_zone.main]\nname = \"{domain}\"\n\n[dns_record.www]\n\
         zone = \"${{dns_zone.main.id}}\"\nname = \"www.{domain}\"\nrecords = [\"192.0.2.10\"]\n"
    ));
    project
        .run(&["apply", "--auto-approve"])
        .code(1)
        .stderr_has(&format!("there is no public Route 53 hosted zone `{domain}` in this account"))
        .stderr_has(&format!("aws route53 create-hosted-zone --name {domain}"));
    assert!(project.state()["resources"].get("dns_record.www").is_none(), "nothing depending on the zone was made");
}

#[test]
fn offline_checks_name_the_field_and_the_fix() {
    let project = Project::new("domchk", "");
    project.write_stack(
        r#"
[stack]
name = "{name}"

[dns_zone.main]
name = "example.com"

[dns_record.both]
zone = "${dns_zone.main.id}"
name = "www.example.com"
records = ["192.0.2.1"]
alias = { name = "d1.cloudfront.net", zone_id = "Z2FDTNDATAQYW2" }

[listener.web]
load_balancer = "arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/app/w/1"
port = 443
protocol = "HTTPS"
"#,
    );
    project
        .run(&["validate"])
        .code(1)
        .stderr_has("an `alias` or with `records`, not both")
        .stderr_has("an HTTPS listener needs a certificate");
}
