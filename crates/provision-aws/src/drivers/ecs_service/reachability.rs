//! Whether a service's tasks can start where they are placed, checked before any change.
//!
//! A Fargate task pulls its image from the registry, sends its output to CloudWatch Logs and reads
//! its secrets from Secrets Manager before its command runs. From a subnet whose internet traffic
//! goes to a NAT gateway it reaches them; from one whose traffic goes to an internet gateway only
//! with a public IP (`assign_public_ip`); from anywhere in a VPC that has interface endpoints for
//! them. Otherwise every task stops with `CannotPullContainerError` or `ResourceInitializationError`
//! and the apply fails after the circuit breaker or the 15-minute wait — long after the plan said
//! all was well, and never against the emulator, which runs no task. So the plan refuses it,
//! naming the service, its subnets and the three ways out:
//!
//! - in the stack's own network (`vpc`), offline, from the stack file (`check_in_stack`): private
//!   subnets and `nat = "none"` need the endpoints, public subnets need a public IP;
//! - in an existing VPC, from the route tables and endpoints the network look-up read (one read:
//!   `check_network`).

use std::collections::BTreeMap;

use provision_core::address::Address;
use provision_core::cloud::{Egress, Network};
use provision_core::stack::{Expr, Part, Reference, ResourceSpec, SpannedExpr};
use provision_core::value::JsonMap;
use serde_json::Value as Json;

use super::image::ecr_image;
use crate::drivers::Problem;

/// What a task must reach before its command runs, as endpoint service names; `None` when the
/// image comes from outside ECR (Docker Hub, GitHub), which no endpoint serves.
fn needs(from_ecr: Option<bool>, logs: bool, secrets: &[&str]) -> Option<Vec<&'static str>> {
    if from_ecr == Some(false) {
        return None;
    }
    let mut services = vec!["ecr.api", "ecr.dkr", "s3"];
    if logs {
        services.push("logs");
    }
    if secrets.iter().any(|arn| arn.contains(":secretsmanager:")) {
        services.push("secretsmanager");
    }
    if secrets.iter().any(|arn| arn.contains(":ssm:")) {
        services.push("ssm");
    }
    Some(services)
}

const THREE_WAYS: &str = "three ways out: (1) route the subnets' internet traffic through a NAT gateway (a `vpc` of \
     the stack: `nat = \"single\"`); (2) place the tasks in public subnets with a public IP (`subnets = \
     \"${network.public_subnet_ids}\"`, `assign_public_ip = true`); (3) give the VPC interface endpoints for ECR, \
     CloudWatch Logs and Secrets Manager (a `vpc` of the stack: `endpoints = [\"s3\", \"ecr\", \"logs\", \
     \"secretsmanager\"]`; an image from outside ECR needs (1) or (2))";

fn refusal(subnets: &str, why: &str) -> Problem {
    Problem::error(
        "subnets",
        format!("its tasks could not start: they could not pull their image, since {subnets} {why}"),
    )
    .hint(THREE_WAYS)
}

/// The endpoint services missing from `have` for what the tasks need.
fn missing_endpoints(needed: &Option<Vec<&'static str>>, have: &[String]) -> Vec<&'static str> {
    match needed {
        None => vec!["(no endpoint serves a registry outside ECR)"],
        Some(services) => services.iter().filter(|s| !have.iter().any(|h| h == *s)).copied().collect(),
    }
}

fn list(items: &[&str]) -> String {
    items.iter().map(|i| format!("`{i}`")).collect::<Vec<_>>().join(", ")
}

/// In an existing VPC, with the route tables and endpoints the network look-up read.
pub(super) fn check_network(inputs: &JsonMap, network: &Network) -> Vec<Problem> {
    if network.egress.is_empty() {
        return Vec::new();
    }
    let subnets: Vec<&str> = inputs
        .get("subnets")
        .and_then(Json::as_array)
        .map(|s| s.iter().filter_map(Json::as_str).collect())
        .unwrap_or_default();
    let public_ip = inputs.get("assign_public_ip").and_then(Json::as_bool).unwrap_or(false);
    let container = inputs.get("container").and_then(Json::as_object);
    let image = container.and_then(|c| c.get("image")).and_then(Json::as_str);
    let logs = container.and_then(|c| c.get("log_group")).and_then(Json::as_str).is_some_and(|g| !g.is_empty());
    let secrets: Vec<&str> = container
        .and_then(|c| c.get("secrets"))
        .and_then(Json::as_object)
        .map(|s| s.values().filter_map(Json::as_str).collect())
        .unwrap_or_default();
    let stuck: Vec<&str> = subnets
        .iter()
        .copied()
        .filter(|subnet| match network.egress.get(*subnet) {
            Some(Egress::Nowhere) => true,
            Some(Egress::InternetGateway) => !public_ip,
            _ => false,
        })
        .collect();
    if stuck.is_empty() {
        return Vec::new();
    }
    let needed = needs(image.map(|i| ecr_image(i).is_some() || i.contains(".dkr.ecr.")), logs, &secrets);
    let missing = missing_endpoints(&needed, &network.endpoints);
    if missing.is_empty() {
        return Vec::new();
    }
    let to_internet = stuck.iter().any(|s| network.egress.get(*s) == Some(&Egress::InternetGateway));
    let why = if to_internet {
        format!("send internet traffic to an internet gateway while the tasks get no public IP (`assign_public_ip = false`), and VPC {} has no endpoint for {}", network.vpc_id, list(&missing))
    } else {
        format!(
            "route to no NAT gateway or internet gateway, and VPC {} has no endpoint for {}",
            network.vpc_id,
            list(&missing)
        )
    };
    vec![refusal(&format!("subnets {}", list(&stuck)), &why)]
}

/// The `vpc` resource and the role of the subnets a `subnets` field refers to.
fn own_subnets(expr: &SpannedExpr) -> Option<(&Address, bool)> {
    let Expr::Template(parts) = &expr.expr else { return None };
    let [Part::Reference(Reference::Resource { address, attribute }, _)] = parts.as_slice() else { return None };
    match (address.type_name.as_str(), attribute.as_str()) {
        ("vpc", "private_subnet_ids") => Some((address, false)),
        ("vpc", "public_subnet_ids") => Some((address, true)),
        _ => None,
    }
}

fn literal(expr: Option<&SpannedExpr>) -> Option<String> {
    match &expr?.expr {
        Expr::Template(parts) => match parts.as_slice() {
            [Part::Literal(text)] => Some(text.clone()),
            _ => None,
        },
        _ => None,
    }
}

fn table_entry<'a>(expr: Option<&'a SpannedExpr>, key: &str) -> Option<&'a SpannedExpr> {
    match &expr?.expr {
        Expr::Table(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
        _ => None,
    }
}

/// In the stack's own network, from the stack file.
pub(super) fn check_in_stack(resource: &ResourceSpec, resources: &BTreeMap<Address, ResourceSpec>) -> Vec<Problem> {
    let Some((vpc_address, public)) = resource.fields.get("subnets").and_then(own_subnets) else { return Vec::new() };
    let Some(vpc) = resources.get(vpc_address) else { return Vec::new() };
    let public_ip = match resource.fields.get("assign_public_ip").map(|e| &e.expr) {
        None => Some(false),
        Some(Expr::Bool(value)) => Some(*value),
        Some(_) => None,
    };
    let nat = match vpc.fields.get("nat") {
        None => Some("single".to_string()),
        other => literal(other),
    };
    let endpoints: Option<Vec<String>> = match vpc.fields.get("endpoints").map(|e| &e.expr) {
        None => Some(vec!["s3".to_string()]),
        Some(Expr::List(items)) => items.iter().map(|item| literal(Some(item))).collect(),
        Some(_) => None,
    };
    let (Some(public_ip), Some(nat), Some(endpoints)) = (public_ip, nat, endpoints) else { return Vec::new() };
    let reaches = if public { public_ip } else { nat != "none" };
    if reaches {
        return Vec::new();
    }
    let services: Vec<String> = endpoints
        .iter()
        .filter_map(|name| crate::drivers::vpc::endpoint_kind(name))
        .flat_map(|kind| kind.services.iter().map(|s| s.to_string()))
        .collect();
    let container = resource.fields.get("container");
    let image = table_entry(container, "image");
    let from_ecr = image.and_then(|expr| match &expr.expr {
        Expr::Template(parts) => {
            let references_repository = parts.iter().any(|part| {
                matches!(part, Part::Reference(Reference::Resource { address, .. }, _) if address.type_name == "ecr_repository")
            });
            let literal_text: String = parts.iter().filter_map(|p| if let Part::Literal(t) = p { Some(t.as_str()) } else { None }).collect();
            if references_repository || literal_text.contains(".dkr.ecr.") {
                Some(true)
            } else if parts.iter().all(|p| matches!(p, Part::Literal(_))) {
                Some(false)
            } else {
                None
            }
        }
        _ => None,
    });
    let logs = table_entry(container, "log_group").is_some();
    let secret_sources: Vec<String> = match table_entry(container, "secrets").map(|e| &e.expr) {
        Some(Expr::Table(entries)) => entries
            .iter()
            .map(|(_, value)| match &value.expr {
                Expr::Template(parts) if parts.iter().any(|p| matches!(p, Part::Reference(Reference::Resource { address, .. }, _) if address.type_name == "secret" || address.type_name == "db_instance")) => {
                    ":secretsmanager:".to_string()
                }
                Expr::Template(parts) => parts.iter().filter_map(|p| if let Part::Literal(t) = p { Some(t.as_str()) } else { None }).collect(),
                _ => String::new(),
            })
            .collect(),
        _ => Vec::new(),
    };
    let secret_sources: Vec<&str> = secret_sources.iter().map(String::as_str).collect();
    let needed = needs(from_ecr, logs, &secret_sources);
    let missing = missing_endpoints(&needed, &services);
    if missing.is_empty() {
        return Vec::new();
    }
    let subnets = format!("`${{{vpc_address}.{}_subnet_ids}}`", if public { "public" } else { "private" });
    let why = if public {
        format!("send internet traffic to the internet gateway while the tasks get no public IP, and `{vpc_address}` has no endpoint for {}", list(&missing))
    } else {
        format!("have no NAT gateway (`{vpc_address}` has `nat = \"none\"`) and no endpoint for {}", list(&missing))
    };
    vec![refusal(&format!("its subnets {subnets}"), &why)]
}

#[cfg(test)]
mod tests {
    use super::*;
    use provision_core::stack::expression::parse_template;
    use serde_json::json;

    fn template(text: &str) -> SpannedExpr {
        SpannedExpr { expr: Expr::Template(parse_template(text, 0).unwrap()), span: 0..1 }
    }

    fn list(items: &[&str]) -> SpannedExpr {
        SpannedExpr { expr: Expr::List(items.iter().map(|i| template(i)).collect()), span: 0..1 }
    }

    fn spec(address: &str, fields: Vec<(&str, SpannedExpr)>) -> ResourceSpec {
        ResourceSpec {
            address: address.parse().unwrap(),
            span: 0..1,
            fields: fields.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
            tags: BTreeMap::new(),
            depends_on: Vec::new(),
            protect: false,
        }
    }

    fn stack(
        nat: &str,
        endpoints: &[&str],
        service_fields: Vec<(&str, SpannedExpr)>,
    ) -> (ResourceSpec, BTreeMap<Address, ResourceSpec>) {
        let vpc = spec("vpc.main", vec![("nat", template(nat)), ("endpoints", list(endpoints))]);
        let container = SpannedExpr {
            expr: Expr::Table(vec![
                ("image".into(), template("${ecr_repository.api.url}:v1")),
                ("log_group".into(), template("${log_group.api.name}")),
            ]),
            span: 0..1,
        };
        let mut fields = vec![("container", container)];
        fields.extend(service_fields);
        let service = spec("ecs_service.api", fields);
        let resources = BTreeMap::from([(vpc.address.clone(), vpc), (service.address.clone(), service.clone())]);
        (service, resources)
    }

    #[test]
    fn private_tasks_behind_a_nat_gateway_start() {
        let (service, resources) =
            stack("single", &["s3"], vec![("subnets", template("${vpc.main.private_subnet_ids}"))]);
        assert!(check_in_stack(&service, &resources).is_empty());
    }

    #[test]
    fn private_tasks_without_nat_need_the_endpoints() {
        let (service, resources) =
            stack("none", &["s3"], vec![("subnets", template("${vpc.main.private_subnet_ids}"))]);
        let problems = check_in_stack(&service, &resources);
        assert_eq!(problems.len(), 1);
        let message = &problems[0].message;
        assert!(message.contains("`${vpc.main.private_subnet_ids}`"), "{message}");
        assert!(message.contains("`nat = \"none\"`") && message.contains("`ecr.api`, `ecr.dkr`, `logs`"), "{message}");
        let hint = problems[0].hint.as_deref().unwrap_or_default();
        assert!(
            hint.contains("NAT gateway") && hint.contains("assign_public_ip = true") && hint.contains("\"ecr\""),
            "{hint}"
        );
        let (service, resources) =
            stack("none", &["s3", "ecr", "logs"], vec![("subnets", template("${vpc.main.private_subnet_ids}"))]);
        assert!(check_in_stack(&service, &resources).is_empty(), "the endpoints are a way out");
    }

    #[test]
    fn public_subnets_need_a_public_ip() {
        let subnets = ("subnets", template("${vpc.main.public_subnet_ids}"));
        let (service, resources) = stack("none", &["s3"], vec![subnets.clone()]);
        assert!(check_in_stack(&service, &resources)[0].message.contains("no public IP"));
        let public_ip = ("assign_public_ip", SpannedExpr { expr: Expr::Bool(true), span: 0..1 });
        let (service, resources) = stack("none", &["s3"], vec![subnets, public_ip]);
        assert!(check_in_stack(&service, &resources).is_empty());
    }

    fn network(egress: &[(&str, Egress)], endpoints: &[&str]) -> Network {
        Network {
            vpc_id: "vpc-1".into(),
            subnet_ids: egress.iter().map(|(s, _)| s.to_string()).collect(),
            egress: egress.iter().map(|(s, e)| (s.to_string(), *e)).collect(),
            endpoints: endpoints.iter().map(|e| e.to_string()).collect(),
            ..Network::default()
        }
    }

    fn inputs(subnets: &[&str], public_ip: bool) -> JsonMap {
        json!({
            "subnets": subnets, "assign_public_ip": public_ip,
            "container": { "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/shop:v1" },
        })
        .as_object()
        .cloned()
        .unwrap()
    }

    #[test]
    fn in_an_existing_vpc_each_way_out_is_enough() {
        let nat = network(&[("subnet-a", Egress::NatGateway)], &[]);
        assert!(check_network(&inputs(&["subnet-a"], false), &nat).is_empty(), "a NAT gateway");
        let public = network(&[("subnet-a", Egress::InternetGateway)], &[]);
        assert!(check_network(&inputs(&["subnet-a"], true), &public).is_empty(), "a public IP");
        let isolated = network(&[("subnet-a", Egress::Nowhere)], &["ecr.api", "ecr.dkr", "s3"]);
        assert!(check_network(&inputs(&["subnet-a"], false), &isolated).is_empty(), "the endpoints");
    }

    #[test]
    fn in_an_existing_vpc_a_stuck_service_is_refused_naming_its_subnets() {
        let public = network(&[("subnet-a", Egress::InternetGateway), ("subnet-b", Egress::InternetGateway)], &["s3"]);
        let problems = check_network(&inputs(&["subnet-a", "subnet-b"], false), &public);
        let message = &problems[0].message;
        assert!(message.contains("subnets `subnet-a`, `subnet-b`"), "{message}");
        assert!(
            message.contains("`assign_public_ip = false`") && message.contains("`ecr.api`, `ecr.dkr`"),
            "{message}"
        );
        let isolated = network(&[("subnet-a", Egress::Nowhere)], &[]);
        assert!(check_network(&inputs(&["subnet-a"], false), &isolated)[0].message.contains("route to no NAT gateway"));
    }
}
