//! The built-in checks (SPEC §3 "Guardrails"), one function each.

use serde_json::Value as Json;

use super::{Check, Hit, Subject};

pub static CHECKS: &[Check] = &[
    Check {
        id: "open-port",
        summary: "a port other than 80/443 open to `0.0.0.0/0` or `::/0`",
        why: "anyone on the internet can reach it; SSH, RDP, database and Redis ports are found by scanners within minutes of opening",
        run: open_port,
    },
    Check {
        id: "public-database",
        summary: "a publicly accessible database",
        why: "the database gets a public address, and only its security group stands between the data and the internet",
        run: public_database,
    },
    Check {
        id: "unencrypted-storage",
        summary: "database or cache storage that is not encrypted at rest",
        why: "anyone who gets a copy of the disks, snapshots or backups can read the data; encryption cannot be turned on later without a new copy",
        run: unencrypted_storage,
    },
    Check {
        id: "no-backups",
        summary: "a database with no automated backups",
        why: "without backups there is no point-in-time restore: a bad migration or a dropped table is gone for good",
        run: no_backups,
    },
    Check {
        id: "http-not-redirected",
        summary: "an internet-facing HTTP listener that serves instead of redirecting while an HTTPS one exists",
        why: "visitors who follow an http:// link use the site unencrypted, passwords and cookies included, although HTTPS is there",
        run: http_not_redirected,
    },
    Check {
        id: "cloudfront-http-origin",
        summary: "CloudFront reaching its API origin over plain HTTP",
        why: "the browser talks HTTPS to CloudFront, but the API's requests, cookies and tokens included, cross the internet to the origin unencrypted",
        run: cloudfront_http_origin,
    },
    Check {
        id: "iam-wildcard-action",
        summary: "an IAM policy granting `*` actions",
        why: "whoever controls what runs with the role (a bug, a compromised dependency) can do anything in the account, delete the database included",
        run: iam_wildcard_action,
    },
];

const OPEN_TO_ALL: &[&str] = &["0.0.0.0/0", "::/0"];

/// Ports people open by mistake, named in the message.
const KNOWN_PORTS: &[(i64, &str)] = &[
    (22, "SSH"),
    (3389, "RDP"),
    (3306, "MySQL"),
    (5432, "PostgreSQL"),
    (6379, "Redis"),
    (1433, "SQL Server"),
    (1521, "Oracle"),
    (27017, "MongoDB"),
    (9200, "Elasticsearch"),
    (11211, "Memcached"),
];

fn open_port(subject: &Subject<'_>, _: &[Subject<'_>]) -> Vec<Hit> {
    if !subject.is("security_group") {
        return Vec::new();
    }
    let Some(rules) = subject.inputs.get("ingress").and_then(Json::as_array) else { return Vec::new() };
    let mut hits = Vec::new();
    for rule in rules {
        let Some(cidr) = rule.get("cidr").and_then(Json::as_str) else { continue };
        if !OPEN_TO_ALL.contains(&cidr) {
            continue;
        }
        let protocol = rule.get("protocol").and_then(Json::as_str).unwrap_or("tcp");
        let Some(first) = rule.get("port").and_then(Json::as_i64) else { continue };
        let last = rule.get("to_port").and_then(Json::as_i64).unwrap_or(first);
        let what = match protocol {
            "icmp" => continue,
            "-1" => "all traffic (every protocol and port)".to_string(),
            _ if first == last && (first == 80 || first == 443) => continue,
            _ if first == last => match KNOWN_PORTS.iter().find(|(port, _)| *port == first) {
                Some((_, name)) => format!("port {first} ({name})"),
                None => format!("port {first}"),
            },
            _ => {
                let named: Vec<String> = KNOWN_PORTS
                    .iter()
                    .filter(|(port, _)| (first..=last).contains(port))
                    .map(|(port, name)| format!("{port} {name}"))
                    .collect();
                let named = if named.is_empty() { String::new() } else { format!(", including {}", named.join(", ")) };
                format!("ports {first}-{last}{named}")
            }
        };
        hits.push(Hit {
            message: format!("{what} is open to `{cidr}`"),
            fix: "allow it only from another security group (`from = \"${security_group.NAME.id}\"`) or your own \
                  address range; reach servers through SSM Session Manager rather than an open SSH port"
                .to_string(),
        });
    }
    hits
}

fn public_database(subject: &Subject<'_>, _: &[Subject<'_>]) -> Vec<Hit> {
    if !subject.is("db_instance") || flag(subject, "publicly_accessible") != Some(true) {
        return Vec::new();
    }
    vec![Hit {
        message: "the database is publicly accessible (`publicly_accessible = true`)".into(),
        fix: "set `publicly_accessible = false` and reach it from the stack's services, or from your machine through \
              an SSM port forward"
            .into(),
    }]
}

fn unencrypted_storage(subject: &Subject<'_>, _: &[Subject<'_>]) -> Vec<Hit> {
    let (field, what) = match subject.address.type_name.as_str() {
        "db_instance" => ("storage_encrypted", "the database's storage"),
        "elasticache_redis" => ("at_rest_encryption", "the cache's storage and snapshots"),
        _ => return Vec::new(),
    };
    if flag(subject, field) != Some(false) {
        return Vec::new();
    }
    vec![Hit {
        message: format!("{what} is not encrypted at rest (`{field} = false`)"),
        fix: format!(
            "set `{field} = true` (the default); for a resource that exists, that is a new copy: restore an \
             encrypted snapshot into it"
        ),
    }]
}

fn no_backups(subject: &Subject<'_>, _: &[Subject<'_>]) -> Vec<Hit> {
    if !subject.is("db_instance") || number(subject, "backup_retention_days") != Some(0) {
        return Vec::new();
    }
    vec![Hit {
        message: "the database keeps no automated backups (`backup_retention_days = 0`)".into(),
        fix: "set `backup_retention_days` to 1-35 days (the default is 7)".into(),
    }]
}

fn http_not_redirected(subject: &Subject<'_>, all: &[Subject<'_>]) -> Vec<Hit> {
    if !subject.is("listener") || protocol(subject) != "HTTP" || flag(subject, "redirect_to_https") == Some(true) {
        return Vec::new();
    }
    // The load balancer, by the stack's reference to it (its ARN is not known before it exists) or by
    // the ARN itself.
    let same_balancer = |other: &Subject<'_>| match (
        subject.refers_to.get("load_balancer").and_then(|a| a.first()),
        other.refers_to.get("load_balancer").and_then(|a| a.first()),
    ) {
        (Some(mine), Some(theirs)) => mine == theirs,
        (None, None) => {
            text(subject, "load_balancer").is_some() && text(subject, "load_balancer") == text(other, "load_balancer")
        }
        _ => false,
    };
    let https = all.iter().find(|other| other.is("listener") && protocol(other) == "HTTPS" && same_balancer(*other));
    let Some(https) = https else { return Vec::new() };
    let internal = subject
        .refers_to
        .get("load_balancer")
        .and_then(|a| a.first())
        .and_then(|balancer| all.iter().find(|other| other.address == balancer))
        .and_then(|balancer| flag(balancer, "internal"));
    if internal == Some(true) {
        return Vec::new();
    }
    vec![Hit {
        message: format!("HTTP on port {} serves the site although `{}` serves HTTPS", port(subject), https.address),
        fix: "redirect instead: `redirect_to_https = true` in place of `forward`".into(),
    }]
}

fn cloudfront_http_origin(subject: &Subject<'_>, _: &[Subject<'_>]) -> Vec<Hit> {
    // The origin is often a load balancer's name, known only once it exists: the reference counts.
    let has_origin =
        subject.inputs.get("api_origin").is_some_and(|v| !v.is_null()) || subject.refers_to.contains_key("api_origin");
    if !subject.is("cloudfront_distribution") || !has_origin || text(subject, "api_origin_protocol") == Some("https") {
        return Vec::new();
    }
    vec![Hit {
        message: "CloudFront sends `api_path` requests to `api_origin` over plain HTTP".into(),
        fix: "give the load balancer an HTTPS listener with a certificate for a name of yours, point `api_origin` at \
              that name and set `api_origin_protocol = \"https\"`"
            .into(),
    }]
}

fn iam_wildcard_action(subject: &Subject<'_>, _: &[Subject<'_>]) -> Vec<Hit> {
    if !subject.is("iam_role") {
        return Vec::new();
    }
    let mut hits = Vec::new();
    let fix = "name the actions the role needs (e.g. `\"secretsmanager:GetSecretValue\"`) and the resources they \
               apply to";
    let admin = subject.inputs.get("managed_policies").and_then(Json::as_array).is_some_and(|policies| {
        policies.iter().any(|p| p.as_str().is_some_and(|p| p.ends_with(":policy/AdministratorAccess")))
    });
    if admin {
        hits.push(Hit {
            message: "the role has `AdministratorAccess`, which allows every action (`*`)".into(),
            fix: format!("attach a policy that allows only what it uses: {fix}"),
        });
    }
    let document = match subject.inputs.get("inline_policy") {
        Some(Json::String(text)) => serde_json::from_str::<Json>(text).ok(),
        Some(other @ Json::Object(_)) => Some(other.clone()),
        _ => None,
    };
    let statements = match document.as_ref().and_then(|d| d.get("Statement")) {
        Some(Json::Array(items)) => items.clone(),
        Some(one @ Json::Object(_)) => vec![one.clone()],
        _ => Vec::new(),
    };
    for statement in statements {
        if statement.get("Effect").and_then(Json::as_str) != Some("Allow") {
            continue;
        }
        let actions = |key: &str| -> Vec<String> {
            match statement.get(key) {
                Some(Json::String(action)) => vec![action.clone()],
                Some(Json::Array(items)) => items.iter().filter_map(|a| a.as_str().map(str::to_string)).collect(),
                _ => Vec::new(),
            }
        };
        if actions("Action").iter().any(|a| a == "*" || a == "*:*") {
            hits.push(Hit {
                message: "the inline policy allows every action (`\"Action\": \"*\"`)".into(),
                fix: fix.to_string(),
            });
        } else if statement.get("NotAction").is_some() {
            hits.push(Hit {
                message: "the inline policy allows every action but those under `NotAction`".into(),
                fix: fix.to_string(),
            });
        }
    }
    hits
}

fn flag(subject: &Subject<'_>, field: &str) -> Option<bool> {
    subject.inputs.get(field).and_then(Json::as_bool)
}

fn number(subject: &Subject<'_>, field: &str) -> Option<i64> {
    subject.inputs.get(field).and_then(Json::as_i64)
}

fn text<'a>(subject: &'a Subject<'_>, field: &str) -> Option<&'a str> {
    subject.inputs.get(field).and_then(Json::as_str)
}

fn protocol<'a>(subject: &'a Subject<'_>) -> &'a str {
    text(subject, "protocol").unwrap_or("HTTP")
}

fn port(subject: &Subject<'_>) -> String {
    number(subject, "port").map(|p| p.to_string()).unwrap_or_else(|| "?".into())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::super::{check, Allow, Finding};
    use super::*;
    use crate::address::Address;
    use crate::value::JsonMap;

    struct Resource {
        address: Address,
        inputs: JsonMap,
        refers_to: BTreeMap<String, Vec<Address>>,
    }

    fn resource(address: &str, inputs: Json) -> Resource {
        Resource {
            address: address.parse().unwrap(),
            inputs: inputs.as_object().unwrap().clone(),
            refers_to: BTreeMap::new(),
        }
    }

    fn referring(mut resource: Resource, field: &str, to: &str) -> Resource {
        resource.refers_to.insert(field.into(), vec![to.parse().unwrap()]);
        resource
    }

    fn findings(resources: &[Resource], allow: &[Allow]) -> Vec<Finding> {
        let subjects: Vec<Subject<'_>> = resources
            .iter()
            .map(|r| Subject { address: &r.address, inputs: &r.inputs, refers_to: r.refers_to.clone() })
            .collect();
        check(&subjects, allow)
    }

    fn ids(resources: &[Resource]) -> Vec<(String, String)> {
        findings(resources, &[]).into_iter().map(|f| (f.check, f.address.to_string())).collect()
    }

    #[test]
    fn open_port_flags_everything_but_web_ports_open_to_the_world() {
        let group = resource(
            "security_group.admin",
            json!({"ingress": [
                {"port": 80, "cidr": "0.0.0.0/0"},
                {"port": 443, "cidr": "::/0"},
                {"port": 22, "cidr": "0.0.0.0/0"},
                {"port": 5432, "cidr": "10.0.0.0/16"},
                {"port": 6000, "to_port": 6400, "cidr": "::/0"},
                {"port": 0, "protocol": "-1", "cidr": "0.0.0.0/0"},
                {"port": 8, "protocol": "icmp", "cidr": "0.0.0.0/0"},
                {"port": 3306, "from": "sg-123"}
            ]}),
        );
        let found = findings(&[group], &[]);
        let messages: Vec<&str> = found.iter().map(|f| f.message.as_str()).collect();
        assert_eq!(
            messages,
            vec![
                "port 22 (SSH) is open to `0.0.0.0/0`",
                "ports 6000-6400, including 6379 Redis is open to `::/0`",
                "all traffic (every protocol and port) is open to `0.0.0.0/0`",
            ]
        );
        assert!(found.iter().all(|f| f.check == "open-port" && f.fix.contains("from =")));
    }

    #[test]
    fn public_database_flags_publicly_accessible_instances() {
        assert_eq!(
            ids(&[
                resource("db_instance.open", json!({"publicly_accessible": true})),
                resource("db_instance.closed", json!({"publicly_accessible": false})),
            ]),
            vec![("public-database".into(), "db_instance.open".into())]
        );
    }

    #[test]
    fn unencrypted_storage_flags_databases_and_caches() {
        assert_eq!(
            ids(&[
                resource("db_instance.plain", json!({"storage_encrypted": false})),
                resource("db_instance.sealed", json!({"storage_encrypted": true})),
                resource("elasticache_redis.plain", json!({"at_rest_encryption": false})),
            ]),
            vec![
                ("unencrypted-storage".into(), "db_instance.plain".into()),
                ("unencrypted-storage".into(), "elasticache_redis.plain".into()),
            ]
        );
    }

    #[test]
    fn no_backups_flags_a_retention_of_zero() {
        assert_eq!(
            ids(&[
                resource("db_instance.none", json!({"backup_retention_days": 0})),
                resource("db_instance.week", json!({"backup_retention_days": 7})),
            ]),
            vec![("no-backups".into(), "db_instance.none".into())]
        );
    }

    #[test]
    fn http_not_redirected_needs_an_https_listener_on_the_same_public_balancer() {
        let balancer = resource("load_balancer.web", json!({"internal": false}));
        let https = referring(
            resource("listener.https", json!({"port": 443, "protocol": "HTTPS"})),
            "load_balancer",
            "load_balancer.web",
        );
        let serving = referring(resource("listener.http", json!({"port": 80})), "load_balancer", "load_balancer.web");
        let found = findings(&[balancer, https, serving], &[]);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].check, "http-not-redirected");
        assert_eq!(found[0].message, "HTTP on port 80 serves the site although `listener.https` serves HTTPS");

        // Redirecting, without an HTTPS listener, or on an internal balancer: nothing to say.
        let redirect = referring(
            resource("listener.http", json!({"port": 80, "redirect_to_https": true})),
            "load_balancer",
            "load_balancer.web",
        );
        let https = referring(
            resource("listener.https", json!({"port": 443, "protocol": "HTTPS"})),
            "load_balancer",
            "load_balancer.web",
        );
        assert!(ids(&[redirect, https]).is_empty());
        let alone = referring(resource("listener.http", json!({"port": 80})), "load_balancer", "load_balancer.web");
        assert!(ids(&[alone]).is_empty());
        let internal = resource("load_balancer.web", json!({"internal": true}));
        let https = referring(
            resource("listener.https", json!({"port": 443, "protocol": "HTTPS"})),
            "load_balancer",
            "load_balancer.web",
        );
        let serving = referring(resource("listener.http", json!({"port": 80})), "load_balancer", "load_balancer.web");
        assert!(ids(&[internal, https, serving]).is_empty());
    }

    #[test]
    fn cloudfront_http_origin_flags_an_api_origin_without_https() {
        let plain = referring(resource("cloudfront_distribution.cdn", json!({})), "api_origin", "load_balancer.web");
        let secure = resource(
            "cloudfront_distribution.secure",
            json!({"api_origin": "api.example.com", "api_origin_protocol": "https"}),
        );
        let static_only = resource("cloudfront_distribution.site", json!({"origin_bucket": "b"}));
        assert_eq!(
            ids(&[plain, secure, static_only]),
            vec![("cloudfront-http-origin".into(), "cloudfront_distribution.cdn".into())]
        );
    }

    #[test]
    fn iam_wildcard_action_flags_star_actions_not_action_and_administrator_access() {
        let star = resource(
            "iam_role.star",
            json!({"inline_policy": r#"{"Statement":[{"Action":"*","Effect":"Allow","Resource":"*"}],"Version":"2012-10-17"}"#}),
        );
        let not_action = resource(
            "iam_role.not",
            json!({"inline_policy": r#"{"Statement":{"Effect":"Allow","NotAction":"iam:*","Resource":"*"}}"#}),
        );
        let admin =
            resource("iam_role.admin", json!({"managed_policies": ["arn:aws:iam::aws:policy/AdministratorAccess"]}));
        let narrow = resource(
            "iam_role.narrow",
            json!({"inline_policy": r#"{"Statement":[{"Action":"secretsmanager:GetSecretValue","Effect":"Allow","Resource":"*"}]}"#}),
        );
        let deny = resource(
            "iam_role.deny",
            json!({"inline_policy": r#"{"Statement":[{"Action":"*","Effect":"Deny","Resource":"*"}]}"#}),
        );
        assert_eq!(
            ids(&[star, not_action, admin, narrow, deny]),
            vec![
                ("iam-wildcard-action".into(), "iam_role.admin".into()),
                ("iam-wildcard-action".into(), "iam_role.not".into()),
                ("iam-wildcard-action".into(), "iam_role.star".into()),
            ]
        );
    }

    #[test]
    fn an_allow_accepts_one_finding_with_its_reason() {
        let resources = [
            resource("db_instance.a", json!({"backup_retention_days": 0})),
            resource("db_instance.b", json!({"backup_retention_days": 0})),
        ];
        let allow = [Allow {
            check: "no-backups".into(),
            address: "db_instance.a".parse().unwrap(),
            reason: "a scratch copy, rebuilt nightly".into(),
        }];
        let found = findings(&resources, &allow);
        assert_eq!(found[0].allowed.as_deref(), Some("a scratch copy, rebuilt nightly"));
        assert_eq!(found[1].allowed, None);
        assert_eq!(super::super::warnings(&found).count(), 1);
    }

    #[test]
    fn every_check_has_a_distinct_id_and_says_why() {
        let mut ids: Vec<&str> = CHECKS.iter().map(|c| c.id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), CHECKS.len());
        assert_eq!(
            CHECKS.iter().map(|c| c.id).collect::<Vec<_>>(),
            super::super::CHECK_IDS,
            "the stack format's list of check ids names every check, in order"
        );
        assert!(CHECKS.iter().all(|c| !c.why.is_empty() && !c.summary.is_empty()));
    }
}
