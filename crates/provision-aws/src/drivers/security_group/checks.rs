//! What `validate` can tell about a security group before EC2 does: names and descriptions EC2
//! would refuse, rules that are malformed or repeat each other, and rules that expose a database
//! to the whole internet — legal, and almost always a mistake.

use std::collections::BTreeMap;
use std::net::IpAddr;

use super::rules::{self, ALL_PROTOCOLS};
use crate::drivers::Problem;
use provision_core::value::Value;

/// Ports of the databases a web stack runs, and what listens there.
const DATABASE_PORTS: &[(i64, &str)] = &[
    (1433, "SQL Server"),
    (1521, "Oracle"),
    (3306, "MySQL"),
    (5432, "PostgreSQL"),
    (6379, "Redis"),
    (27017, "MongoDB"),
];
const EVERYONE: &[&str] = &["0.0.0.0/0", "::/0"];

/// EC2's characters for VPC group names and descriptions.
fn allowed_character(c: char) -> bool {
    c.is_ascii_alphanumeric() || " ._-:/()#,@[]+=&;{}!$*".contains(c)
}

pub(super) fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 255 {
        Err(format!("security group name `{name}` must be 1 to 255 characters long"))
    } else if name.to_ascii_lowercase().starts_with("sg-") {
        Err(format!("security group name `{name}` must not start with `sg-` (EC2 keeps that for group ids)"))
    } else if !name.chars().all(allowed_character) {
        Err(format!(
            "security group name `{name}` may contain only letters, digits, spaces and `._-:/()#,@[]+=&;{{}}!$*`"
        ))
    } else {
        Ok(())
    }
}

pub(super) fn check_description(description: &str) -> Result<(), String> {
    if description.len() > 255 {
        Err("a security group description must be at most 255 characters long".into())
    } else if !description.chars().all(allowed_character) {
        Err(format!(
            "description `{description}` may contain only letters, digits, spaces and `._-:/()#,@[]+=&;{{}}!$*` (EC2 rules)"
        ))
    } else {
        Ok(())
    }
}

/// Checks every rule of `ingress`; values that are references (unknown) are skipped.
pub(super) fn check_ingress(inputs: &BTreeMap<String, Value>) -> Vec<Problem> {
    let Some(Value::List(items)) = inputs.get("ingress") else {
        return Vec::new();
    };
    let mut problems = Vec::new();
    let mut seen: Vec<(usize, rules::Rule)> = Vec::new();
    for (index, item) in items.iter().enumerate() {
        let Value::Map(rule) = item else { continue };
        let number = index + 1;
        check_rule(number, rule, &mut problems);
        let Some(canonical) = item.to_json().as_ref().and_then(rules::parse_one) else { continue };
        if let Some((first, _)) = seen.iter().find(|(_, other)| other.same_permission(&canonical)) {
            problems.push(
                Problem::error(
                    "ingress",
                    format!("rules {first} and {number} allow the same traffic from the same source"),
                )
                .hint("EC2 keeps one rule per protocol, port range and source; remove one of them"),
            );
        }
        seen.push((number, canonical));
    }
    problems
}

fn check_rule(number: usize, rule: &BTreeMap<String, Value>, problems: &mut Vec<Problem>) {
    let present = |key: &str| rule.get(key).is_some_and(|value| *value != Value::Null);
    match (present("cidr"), present("from")) {
        (true, true) => problems.push(
            Problem::error("ingress", format!("rule {number} has both `cidr` and `from`; a rule has one source"))
                .hint("write two rules, one with `cidr` and one with `from`"),
        ),
        (false, false) => {
            problems.push(Problem::error("ingress", format!("rule {number} has neither `cidr` nor `from`")).hint(
                "add `cidr = \"10.0.0.0/16\"` for an address range, or `from = \"${security_group.NAME.id}\"` \
                 for traffic from another group",
            ))
        }
        _ => {}
    }
    let text = |key: &str| match rule.get(key) {
        Some(Value::Str(text)) => Some(text.as_str()),
        _ => None,
    };
    if let Some(cidr) = text("cidr") {
        if !is_cidr(cidr) {
            problems.push(
                Problem::error("ingress", format!("rule {number}: `{cidr}` is not a CIDR block"))
                    .hint("write an address range like `10.0.0.0/16`, `0.0.0.0/0` or `::/0`"),
            );
        }
    }
    if let Some(group) = text("from").filter(|group| !group.starts_with("sg-")) {
        problems.push(
            Problem::error("ingress", format!("rule {number}: `from = \"{group}\"` is not a security group id"))
                .hint("write `from = \"${security_group.NAME.id}\"` or a group id like `sg-0123456789abcdef0`"),
        );
    }
    let protocol = match rule.get("protocol") {
        None => "tcp",
        Some(Value::Str(protocol)) => protocol.as_str(),
        Some(_) => return,
    };
    let port = match rule.get("port") {
        Some(Value::Int(port)) => *port,
        _ => return,
    };
    let to_port = match rule.get("to_port") {
        Some(Value::Int(to_port)) => Some(*to_port),
        None | Some(Value::Null) => None,
        Some(_) => return,
    };
    if let Some(problem) = port_problem(protocol, port, to_port) {
        problems.push(Problem::error("ingress", format!("rule {number}: {problem}")));
        return;
    }
    if text("cidr").is_some_and(|cidr| EVERYONE.contains(&cidr)) {
        let last = to_port.unwrap_or(port);
        let exposed: Vec<String> = DATABASE_PORTS
            .iter()
            .filter(|(db_port, _)| protocol == ALL_PROTOCOLS || (protocol == "tcp" && (port..=last).contains(db_port)))
            .map(|(db_port, name)| format!("{db_port} ({name})"))
            .collect();
        if !exposed.is_empty() {
            let ports = if exposed.len() == 1 { "port" } else { "ports" };
            problems.push(
                Problem::warning(
                    "ingress",
                    format!("rule {number} opens {ports} {} to the whole internet", exposed.join(", ")),
                )
                .hint("allow only the application's group: `from = \"${security_group.NAME.id}\"`"),
            );
        }
    }
}

fn port_problem(protocol: &str, port: i64, to_port: Option<i64>) -> Option<String> {
    match protocol {
        ALL_PROTOCOLS => None,
        "icmp" => {
            let valid = |value: i64| (-1..=255).contains(&value);
            (!valid(port) || !to_port.is_none_or(valid))
                .then(|| "an ICMP type (`port`) and code (`to_port`) are -1 (all) or 0 to 255".to_string())
        }
        _ => {
            let valid = |value: i64| (0..=65535).contains(&value);
            if !valid(port) || !to_port.is_none_or(valid) {
                Some("ports are 0 to 65535".to_string())
            } else if to_port.is_some_and(|to_port| to_port < port) {
                Some(format!("`to_port` ({}) is below `port` ({port})", to_port.unwrap_or_default()))
            } else {
                None
            }
        }
    }
}

fn is_cidr(text: &str) -> bool {
    let Some((address, prefix)) = text.split_once('/') else { return false };
    let Ok(prefix) = prefix.parse::<u8>() else { return false };
    match address.parse::<IpAddr>() {
        Ok(IpAddr::V4(_)) => prefix <= 32,
        Ok(IpAddr::V6(_)) => prefix <= 128,
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value as Json};

    /// The values `check` receives for a JSON fixture.
    fn values(json: Json) -> BTreeMap<String, Value> {
        json.as_object()
            .map(|map| map.iter().map(|(key, value)| (key.clone(), Value::from_json(value))).collect())
            .unwrap_or_default()
    }

    fn messages(json: Json) -> Vec<(bool, String)> {
        check_ingress(&values(json)).into_iter().map(|problem| (problem.warning, problem.message)).collect()
    }

    #[test]
    fn a_rule_needs_exactly_one_source() {
        assert_eq!(
            messages(json!({ "ingress": [
                { "port": 80, "cidr": "0.0.0.0/0", "from": "sg-1" },
                { "port": 80 },
            ]})),
            vec![
                (false, "rule 1 has both `cidr` and `from`; a rule has one source".to_string()),
                (false, "rule 2 has neither `cidr` nor `from`".to_string()),
            ]
        );
    }

    #[test]
    fn a_reference_counts_as_a_source() {
        let mut inputs = values(json!({ "ingress": [] }));
        let rule = Value::Map([("port".to_string(), Value::Int(80)), ("from".to_string(), Value::Unknown)].into());
        inputs.insert("ingress".into(), Value::List(vec![rule]));
        assert!(check_ingress(&inputs).is_empty());
    }

    #[test]
    fn database_ports_open_to_everyone_are_a_warning() {
        let problems = check_ingress(&values(json!({ "ingress": [
            { "port": 3306, "cidr": "0.0.0.0/0" },
            { "port": 5432, "cidr": "10.0.0.0/8" },
            { "port": 443, "cidr": "::/0" },
            { "port": 5000, "to_port": 7000, "cidr": "::/0" },
        ]})));
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems.iter().all(|problem| problem.warning));
        assert_eq!(problems[0].message, "rule 1 opens port 3306 (MySQL) to the whole internet");
        assert_eq!(problems[1].message, "rule 4 opens ports 5432 (PostgreSQL), 6379 (Redis) to the whole internet");
        assert!(problems[0].hint.as_deref().is_some_and(|hint| hint.contains("${security_group.NAME.id}")));
    }

    #[test]
    fn bad_ports_sources_and_repeats_are_errors() {
        assert_eq!(
            messages(json!({ "ingress": [
                { "port": 90, "to_port": 80, "cidr": "10.0.0.0/8" },
                { "port": 70000, "cidr": "10.0.0.0/8" },
                { "port": 80, "cidr": "10.0.0/8" },
                { "port": 80, "from": "web" },
                { "port": 22, "cidr": "10.0.0.0/8" },
                { "port": 22, "protocol": "tcp", "to_port": 22, "cidr": "10.0.0.0/8", "description": "ssh" },
            ]})),
            vec![
                (false, "rule 1: `to_port` (80) is below `port` (90)".to_string()),
                (false, "rule 2: ports are 0 to 65535".to_string()),
                (false, "rule 3: `10.0.0/8` is not a CIDR block".to_string()),
                (false, "rule 4: `from = \"web\"` is not a security group id".to_string()),
                (false, "rules 5 and 6 allow the same traffic from the same source".to_string()),
            ]
        );
    }

    #[test]
    fn names_and_descriptions_follow_the_ec2_rules() {
        assert!(check_name("shop-dev-web").is_ok());
        assert!(check_name("sg-web").unwrap_err().contains("`sg-`"));
        assert!(check_description("Managed by provision").is_ok());
        assert!(check_description("café").unwrap_err().contains("may contain only"));
    }
}
