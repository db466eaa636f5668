//! The network a moved-in stack lives in. Moving in leaves the other tool's network where it is
//! (provision's `vpc` type holds only its own layout), so the stack file points at it instead:
//! `[network] vpc = "vpc-…"`, and the adopted resources' VPC and subnet ids become
//! `${network.vpc_id}`, `${network.subnet_ids}` and `${network.public_subnet_ids}` wherever they
//! are exactly what the network gives. A resource added to the file later then lands in that
//! network beside the others, not in the account's default VPC.
//!
//! `subnets` is written only when the look-up would choose other subnets than the adopted
//! services use (in a default VPC, every zone's public subnet): it pins where new services go.

use std::collections::BTreeSet;

use anyhow::{anyhow, Result};
use serde_json::Value as Json;

use provision_core::address::Address;
use provision_core::cloud::{Cloud, Network};
use provision_core::stack::NetworkSpec;

use super::render::Observation;

/// Why a part of the network (a VPC, subnet, gateway, route table, endpoint …) is not adopted;
/// `{tool}` is the other tool's name.
pub const KEPT: &str = "part of the network, which stays where it is, with {tool}: the stack lives in it (`[network] vpc`) and names its VPC and subnets; provision's `vpc` type holds only the layout it makes itself";

/// `[network]` for the generated stack file, and what its references stand for.
#[derive(Debug, Clone, PartialEq)]
pub struct NetworkChoice {
    pub vpc: String,
    /// Written as `subnets = [...]` when set.
    pub subnets: Option<Vec<String>>,
    pub found: Network,
    /// The stack's own `vpc` resource, when the network was adopted as one: `[network]` then
    /// names it, and ids become references to its attributes.
    pub own: Option<Address>,
}

impl NetworkChoice {
    /// The network adopted as the stack's `vpc` resource `observation`.
    pub fn own(observation: &Observation) -> NetworkChoice {
        let text = |name: &str| observation.attributes.get(name).and_then(Json::as_str).unwrap_or_default().to_string();
        let list = |name: &str| -> Vec<String> {
            let items = observation.attributes.get(name).and_then(Json::as_array);
            items.into_iter().flatten().filter_map(Json::as_str).map(str::to_string).collect()
        };
        NetworkChoice {
            vpc: text("id"),
            subnets: None,
            found: Network {
                vpc_id: text("id"),
                subnet_ids: list("private_subnet_ids"),
                public_subnet_ids: list("public_subnet_ids"),
                ..Network::default()
            },
            own: Some(observation.address.clone()),
        }
    }

    /// The reference a value stands for, if it is exactly what the network gives: `${network.…}`,
    /// or the attribute of the stack's own `vpc`.
    pub fn reference(&self, value: &Json) -> Option<String> {
        let named = |network: &str, own: &str| match &self.own {
            Some(address) => format!("${{{address}.{own}}}"),
            None => format!("${{network.{network}}}"),
        };
        match value {
            Json::String(text) if *text == self.found.vpc_id => Some(named("vpc_id", "id")),
            Json::Array(items) if !items.is_empty() => {
                let list: BTreeSet<&str> = items.iter().filter_map(Json::as_str).collect();
                let same = |ids: &[String]| {
                    list.len() == items.len()
                        && ids.len() == list.len()
                        && ids.iter().all(|id| list.contains(id.as_str()))
                };
                if same(&self.found.subnet_ids) {
                    Some(named("subnet_ids", "private_subnet_ids"))
                } else if same(self.found.public_subnets()) {
                    Some(named("public_subnet_ids", "public_subnet_ids"))
                } else {
                    None
                }
            }
            _ => None,
        }
    }
}

/// The one VPC the adopted resources name (`vpc` fields), looked up as `[network]` would be.
/// `None` when they name none (nothing in a network) or several (the file keeps literal ids).
pub async fn choose(cloud: &dyn Cloud, observations: &[Observation]) -> Result<Option<NetworkChoice>> {
    let vpcs: BTreeSet<&str> = observations
        .iter()
        .filter_map(|o| o.inputs.get("vpc").and_then(Json::as_str))
        .filter(|vpc| vpc.starts_with("vpc-"))
        .collect();
    let [vpc] = vpcs.into_iter().collect::<Vec<_>>()[..] else { return Ok(None) };
    let look_up = |subnets: Option<Vec<String>>| async move {
        let spec = NetworkSpec { vpc: vpc.to_string(), subnets, own: None };
        cloud.network(&spec).await.map_err(|error| anyhow!("looking up the network `{vpc}`: {error}"))
    };
    let found = look_up(None).await?;
    let used = most_used_subnets(observations);
    match used {
        Some(used) if choice_differs(&used, &found.subnet_ids) => {
            let found = look_up(Some(used.clone())).await?;
            Ok(Some(NetworkChoice { vpc: vpc.to_string(), subnets: Some(used), found, own: None }))
        }
        _ => Ok(Some(NetworkChoice { vpc: vpc.to_string(), subnets: None, found, own: None })),
    }
}

/// Whether the look-up's subnets are another set than `used` (sorted).
fn choice_differs(used: &[String], found: &[String]) -> bool {
    let mut found = found.to_vec();
    found.sort();
    used != found
}

/// The subnet list (sorted) most of the adopted resources outside load balancers run in (services,
/// databases' subnet groups, caches); ties go to the first met.
fn most_used_subnets(observations: &[Observation]) -> Option<Vec<String>> {
    let mut counts: Vec<(Vec<String>, usize)> = Vec::new();
    for observation in observations.iter().filter(|o| o.address.type_name != "load_balancer") {
        let Some(Json::Array(items)) = observation.inputs.get("subnets") else { continue };
        let mut list: Vec<String> = items.iter().filter_map(Json::as_str).map(str::to_string).collect();
        if list.is_empty() || list.len() != items.len() {
            continue;
        }
        list.sort();
        match counts.iter_mut().find(|(seen, _)| *seen == list) {
            Some((_, count)) => *count += 1,
            None => counts.push((list, 1)),
        }
    }
    let best = counts.iter().map(|(_, count)| *count).max()?;
    counts.into_iter().find(|(_, count)| *count == best).map(|(list, _)| list)
}

/// The `[network]` table: `vpc` first, then `subnets` where written.
pub fn section(choice: &NetworkChoice) -> String {
    let vpc = match &choice.own {
        Some(address) => format!("${{{address}.id}}"),
        None => choice.vpc.clone(),
    };
    let mut text = format!("[network]\nvpc = {}\n", toml::Value::String(vpc));
    if let Some(subnets) = &choice.subnets {
        let list: Vec<String> = subnets.iter().map(|id| toml::Value::String(id.clone()).to_string()).collect();
        text.push_str(&format!("subnets = [{}]\n", list.join(", ")));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn observation(type_name: &str, inputs: Json) -> Observation {
        Observation {
            address: Address::new(type_name, "x"),
            inputs: inputs.as_object().cloned().unwrap(),
            attributes: Default::default(),
            secrets: Vec::new(),
            comment: None,
        }
    }

    #[test]
    fn the_services_subnets_are_the_ones_most_resources_outside_load_balancers_use() {
        let observations = [
            observation("load_balancer", json!({"subnets": ["subnet-p1", "subnet-p2"]})),
            observation("load_balancer", json!({"subnets": ["subnet-p1", "subnet-p2"]})),
            observation("ecs_service", json!({"subnets": ["subnet-q1", "subnet-q2"]})),
            observation("db_subnet_group", json!({"subnets": ["subnet-q1", "subnet-q2"]})),
            observation("elasticache_redis", json!({"subnets": ["subnet-q2"]})),
        ];
        assert_eq!(most_used_subnets(&observations), Some(vec!["subnet-q1".into(), "subnet-q2".into()]));
        assert_eq!(most_used_subnets(&observations[..2]), None, "load balancers alone say nothing");
    }

    #[test]
    fn only_exactly_what_the_network_gives_becomes_a_reference() {
        let choice = NetworkChoice {
            vpc: "vpc-1".into(),
            subnets: None,
            found: Network {
                vpc_id: "vpc-1".into(),
                subnet_ids: vec!["subnet-q1".into(), "subnet-q2".into()],
                public_subnet_ids: vec!["subnet-p1".into(), "subnet-p2".into()],
                ..Network::default()
            },
            own: None,
        };
        assert_eq!(choice.reference(&json!("vpc-1")).as_deref(), Some("${network.vpc_id}"));
        assert_eq!(choice.reference(&json!("vpc-2")), None);
        assert_eq!(choice.reference(&json!(["subnet-q1", "subnet-q2"])).as_deref(), Some("${network.subnet_ids}"));
        assert_eq!(
            choice.reference(&json!(["subnet-p1", "subnet-p2"])).as_deref(),
            Some("${network.public_subnet_ids}")
        );
        assert_eq!(
            choice.reference(&json!(["subnet-q2", "subnet-q1"])).as_deref(),
            Some("${network.subnet_ids}"),
            "subnets are a set: AWS reads them back in its own order"
        );
        assert_eq!(choice.reference(&json!(["subnet-q1"])), None);
        assert_eq!(
            section(&choice),
            "[network]\nvpc = \"vpc-1\"\n",
            "no `subnets` when the look-up finds the services' own"
        );
    }

    #[test]
    fn an_adopted_network_is_named_by_the_stack_s_own_vpc() {
        let vpc = Observation {
            address: Address::new("vpc", "main"),
            inputs: Default::default(),
            attributes: json!({"id": "vpc-1", "private_subnet_ids": ["subnet-q1", "subnet-q2"], "public_subnet_ids": ["subnet-p1", "subnet-p2"]})
                .as_object()
                .cloned()
                .unwrap(),
            secrets: Vec::new(),
            comment: None,
        };
        let choice = NetworkChoice::own(&vpc);
        assert_eq!(choice.reference(&json!("vpc-1")).as_deref(), Some("${vpc.main.id}"));
        assert_eq!(
            choice.reference(&json!(["subnet-q2", "subnet-q1"])).as_deref(),
            Some("${vpc.main.private_subnet_ids}")
        );
        assert_eq!(
            choice.reference(&json!(["subnet-p1", "subnet-p2"])).as_deref(),
            Some("${vpc.main.public_subnet_ids}")
        );
        assert_eq!(section(&choice), "[network]\nvpc = \"${vpc.main.id}\"\n");
    }
}
