//! Ingress rules in one canonical shape, whichever side they come from.
//!
//! The planner compares `ingress` as a whole list, and EC2 answers with its own grouping (one
//! permission per protocol and port range, holding many sources). So both the stack's rules (in
//! `prepare`) and what `DescribeSecurityGroups` returns are flattened to one rule per source, with
//! defaults filled in, and sorted the same way: equal rule sets then compare equal, and a real
//! difference shows as one.

use aws_sdk_ec2::types::{IpPermission, IpRange, Ipv6Range, UserIdGroupPair};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use provision_core::value::Value;

/// "All traffic": EC2 ignores ports for it; stored as ports 0–0, as Terraform users know it.
pub(super) const ALL_PROTOCOLS: &str = "-1";

/// A rule as the stack file writes it (some fields left out).
#[derive(Debug, Deserialize)]
struct RuleInput {
    port: i32,
    #[serde(default)]
    to_port: Option<i32>,
    #[serde(default = "default_protocol")]
    protocol: String,
    #[serde(default)]
    cidr: Option<String>,
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    description: Option<String>,
}

fn default_protocol() -> String {
    "tcp".into()
}

/// One rule: a protocol, a port range and exactly one source. Field order is the sort order.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub(super) struct Rule {
    pub protocol: String,
    pub port: i32,
    pub to_port: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cidr: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl Rule {
    fn canonical(input: RuleInput) -> Rule {
        let (port, to_port) = match input.protocol.as_str() {
            ALL_PROTOCOLS => (0, 0),
            // For ICMP `port` is the type and `to_port` the code; no code means all of them.
            "icmp" => (input.port, input.to_port.unwrap_or(-1)),
            _ => (input.port, input.to_port.unwrap_or(input.port)),
        };
        Rule {
            protocol: input.protocol,
            port,
            to_port,
            // EC2 answers IPv6 blocks in lowercase.
            cidr: input.cidr.map(|cidr| cidr.to_ascii_lowercase()),
            from: input.from,
            description: input.description.filter(|text| !text.is_empty()),
        }
    }

    /// Whether EC2 sees the two as the same rule (it does not tell rules apart by description).
    pub fn same_permission(&self, other: &Rule) -> bool {
        (&self.protocol, self.port, self.to_port, &self.cidr, &self.from)
            == (&other.protocol, other.port, other.to_port, &other.cidr, &other.from)
    }

    /// The rule as one EC2 permission; `with_description` is off for revoking, which matches without it.
    pub fn to_permission(&self, with_description: bool) -> IpPermission {
        let description = if with_description { self.description.clone() } else { None };
        let mut permission = IpPermission::builder().ip_protocol(&self.protocol);
        if self.protocol != ALL_PROTOCOLS {
            permission = permission.from_port(self.port).to_port(self.to_port);
        }
        permission = match (&self.cidr, &self.from) {
            (Some(cidr), _) if cidr.contains(':') => {
                permission.ipv6_ranges(Ipv6Range::builder().cidr_ipv6(cidr).set_description(description).build())
            }
            (Some(cidr), _) => {
                permission.ip_ranges(IpRange::builder().cidr_ip(cidr).set_description(description).build())
            }
            (None, Some(group)) => permission
                .user_id_group_pairs(UserIdGroupPair::builder().group_id(group).set_description(description).build()),
            (None, None) => permission,
        };
        permission.build()
    }
}

/// The stack's `ingress` list in canonical form: defaults filled in, sorted.
pub(super) fn from_inputs(ingress: Option<&Json>) -> Result<Vec<Rule>, String> {
    let Some(ingress) = ingress.filter(|value| !value.is_null()) else {
        return Ok(Vec::new());
    };
    let inputs: Vec<RuleInput> =
        serde_json::from_value(ingress.clone()).map_err(|error| format!("invalid `ingress` rules: {error}"))?;
    let mut rules: Vec<Rule> = inputs.into_iter().map(Rule::canonical).collect();
    rules.sort();
    Ok(rules)
}

/// One rule, canonical, if the JSON is a complete rule (used by the offline checks).
pub(super) fn parse_one(rule: &Json) -> Option<Rule> {
    serde_json::from_value(rule.clone()).ok().map(Rule::canonical)
}

/// The rules as JSON with each rule's keys sorted, as the engine orders every table it resolves,
/// so both sides of a plan line read alike.
pub(super) fn to_json(rules: &[Rule]) -> Json {
    let sorted = |rule: &Rule| serde_json::to_value(rule).ok().and_then(|json| Value::from_json(&json).to_json());
    Json::Array(rules.iter().filter_map(sorted).collect())
}

/// EC2's permissions flattened to one rule per source, sorted. Prefix-list sources have no
/// place in the stack's shape and are left out.
pub(super) fn from_permissions(permissions: &[IpPermission]) -> Vec<Rule> {
    let mut rules = Vec::new();
    for permission in permissions {
        let protocol = protocol_name(permission.ip_protocol().unwrap_or(ALL_PROTOCOLS));
        let (port, to_port) = if protocol == ALL_PROTOCOLS {
            (0, 0)
        } else {
            (permission.from_port().unwrap_or(0), permission.to_port().unwrap_or(0))
        };
        let rule = |cidr: Option<&str>, from: Option<&str>, description: Option<&str>| Rule {
            protocol: protocol.clone(),
            port,
            to_port,
            cidr: cidr.map(str::to_ascii_lowercase),
            from: from.map(str::to_string),
            description: description.filter(|text| !text.is_empty()).map(str::to_string),
        };
        for range in permission.ip_ranges() {
            rules.push(rule(range.cidr_ip(), None, range.description()));
        }
        for range in permission.ipv6_ranges() {
            rules.push(rule(range.cidr_ipv6(), None, range.description()));
        }
        for pair in permission.user_id_group_pairs() {
            rules.push(rule(None, pair.group_id(), pair.description()));
        }
    }
    rules.sort();
    rules
}

/// EC2 may answer with protocol numbers; the stack names them.
fn protocol_name(protocol: &str) -> String {
    match protocol {
        "6" => "tcp",
        "17" => "udp",
        "1" => "icmp",
        other => other,
    }
    .to_string()
}

/// What an update does to go from one rule set to another without replacing the group.
#[derive(Debug, Default, PartialEq)]
pub(super) struct RuleChanges {
    pub authorize: Vec<Rule>,
    pub revoke: Vec<Rule>,
    /// Same permission, new description: changed in place, the rule never goes away.
    pub describe: Vec<Rule>,
}

pub(super) fn changes(prior: &[Rule], desired: &[Rule]) -> RuleChanges {
    let mut removed: Vec<Rule> = prior.iter().filter(|rule| !desired.contains(rule)).cloned().collect();
    let mut result = RuleChanges::default();
    for rule in desired.iter().filter(|rule| !prior.contains(rule)) {
        match removed.iter().position(|old| old.same_permission(rule)) {
            Some(index) => {
                removed.remove(index);
                result.describe.push(rule.clone());
            }
            None => result.authorize.push(rule.clone()),
        }
    }
    result.revoke = removed;
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn stack_rules_get_defaults_and_a_stable_order() {
        let rules = from_inputs(Some(&json!([
            { "port": 443, "cidr": "0.0.0.0/0" },
            { "port": 80, "cidr": "0.0.0.0/0", "description": "" },
            { "port": 0, "protocol": "-1", "to_port": 65535, "from": "sg-1" },
            { "port": 8, "protocol": "icmp", "cidr": "10.0.0.0/8" },
        ])))
        .expect("rules");
        assert_eq!(
            to_json(&rules),
            json!([
                { "protocol": "-1", "port": 0, "to_port": 0, "from": "sg-1" },
                { "protocol": "icmp", "port": 8, "to_port": -1, "cidr": "10.0.0.0/8" },
                { "protocol": "tcp", "port": 80, "to_port": 80, "cidr": "0.0.0.0/0" },
                { "protocol": "tcp", "port": 443, "to_port": 443, "cidr": "0.0.0.0/0" },
            ])
        );
    }

    #[test]
    fn permissions_flatten_to_one_rule_per_source() {
        let permission = IpPermission::builder()
            .ip_protocol("tcp")
            .from_port(80)
            .to_port(80)
            .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").description("web").build())
            .ipv6_ranges(Ipv6Range::builder().cidr_ipv6("2001:DB8::/32").build())
            .user_id_group_pairs(UserIdGroupPair::builder().group_id("sg-9").user_id("123").build())
            .build();
        let everything = IpPermission::builder().ip_protocol("-1").build();
        let rules = from_permissions(&[permission, everything]);
        assert_eq!(
            to_json(&rules),
            json!([
                { "protocol": "tcp", "port": 80, "to_port": 80, "from": "sg-9" },
                { "protocol": "tcp", "port": 80, "to_port": 80, "cidr": "0.0.0.0/0", "description": "web" },
                { "protocol": "tcp", "port": 80, "to_port": 80, "cidr": "2001:db8::/32" },
            ])
        );
    }

    #[test]
    fn read_back_rules_equal_the_stack_rules_they_came_from() {
        let stack = from_inputs(Some(&json!([
            { "port": 5432, "from": "sg-app", "description": "app" },
            { "port": 0, "protocol": "-1", "cidr": "10.0.0.0/8" },
            { "port": 3000, "to_port": 3010, "protocol": "udp", "cidr": "::/0" },
        ])))
        .expect("rules");
        let permissions: Vec<IpPermission> = stack.iter().map(|rule| rule.to_permission(true)).collect();
        assert_eq!(from_permissions(&permissions), stack);
    }

    #[test]
    fn a_new_description_is_changed_in_place() {
        let rule = |port: i32, cidr: &str, description: Option<&str>| Rule {
            protocol: "tcp".into(),
            port,
            to_port: port,
            cidr: Some(cidr.into()),
            from: None,
            description: description.map(str::to_string),
        };
        let prior =
            vec![rule(22, "10.0.0.0/8", None), rule(80, "0.0.0.0/0", Some("old")), rule(443, "0.0.0.0/0", None)];
        let desired =
            vec![rule(80, "0.0.0.0/0", Some("new")), rule(443, "0.0.0.0/0", None), rule(8080, "10.0.0.0/8", None)];
        assert_eq!(
            changes(&prior, &desired),
            RuleChanges {
                authorize: vec![rule(8080, "10.0.0.0/8", None)],
                revoke: vec![rule(22, "10.0.0.0/8", None)],
                describe: vec![rule(80, "0.0.0.0/0", Some("new"))],
            }
        );
    }
}
