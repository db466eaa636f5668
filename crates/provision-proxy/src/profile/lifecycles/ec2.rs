//! NAT gateways (`pending` → `available` after a create, `deleting` → `deleted` after a delete;
//! moto makes them `available` and `deleted` at once) and load balancers (`provisioning` →
//! `active`; moto says `active` from the first read).

use std::collections::HashMap;
use std::time::Duration;

use super::super::call::Call;
use super::super::http::Response;
use super::super::{State, Turn};

const NAT: &str = "ec2.nat-gateway-lifecycle";
const LOAD_BALANCER: &str = "elbv2.load-balancer-provisioning";

#[derive(Debug, Default)]
pub(crate) struct Network {
    /// NAT gateway → (created, deleted).
    nat_gateways: HashMap<String, (Option<Duration>, Option<Duration>)>,
    /// Load balancer ARN → created.
    load_balancers: HashMap<String, Duration>,
}

fn nat_state(turn: &Turn<'_>, (created, deleted): (Option<Duration>, Option<Duration>)) -> Option<&'static str> {
    match (created, deleted) {
        (_, Some(deleted)) => {
            Some(if turn.now < deleted + turn.window(NAT, "deleting") { "deleting" } else { "deleted" })
        }
        (Some(created), None) if turn.now < created + turn.window(NAT, "pending") => Some("pending"),
        _ => None,
    }
}

pub(crate) fn after(turn: &mut Turn<'_>, state: &mut State, call: &Call, response: &mut Response) {
    if !response.ok() {
        return;
    }
    let network = &mut state.lifecycles.ec2;
    let now = turn.now;
    let (id, item, field, state_field) = match call.operation.as_str() {
        "CreateNatGateway" | "DeleteNatGateway" | "DescribeNatGateways" => (NAT, "natGateway", "natGatewayId", "state"),
        "CreateLoadBalancer" | "DescribeLoadBalancers" => (LOAD_BALANCER, "member", "LoadBalancerArn", "Code"),
        _ => return,
    };
    if !turn.on(id) {
        return;
    }
    let Some(mut root) = response.xml() else { return };
    match call.operation.as_str() {
        "CreateNatGateway" => {
            if let Some(nat) = root.texts_of("natGatewayId").into_iter().next() {
                network.nat_gateways.insert(nat, (Some(now), None));
            }
        }
        "DeleteNatGateway" => {
            if let Some(nat) = call.param("NatGatewayId") {
                network.nat_gateways.entry(nat.to_string()).or_default().1 = Some(now);
            }
            return;
        }
        "CreateLoadBalancer" => {
            if let Some(arn) = root.texts_of("LoadBalancerArn").into_iter().next() {
                network.load_balancers.insert(arn, now);
            }
        }
        _ => {}
    }
    let mut met = false;
    root.visit_mut(&mut |element| {
        let matches = element.name == item || (item == "natGateway" && element.name == "item");
        let Some(key) = element.child_text(field).filter(|_| matches) else { return };
        let status = if id == NAT {
            network.nat_gateways.get(&key).and_then(|times| nat_state(turn, *times))
        } else {
            network
                .load_balancers
                .get(&key)
                .filter(|created| now < **created + turn.window(id, "window"))
                .map(|_| "provisioning")
        };
        if let Some(status) = status {
            let target = if id == NAT { Some(element) } else { element.child_mut("State") };
            if let Some(target) = target {
                target.set_child_text(state_field, status);
                met = true;
            }
        }
    });
    if met {
        turn.meet(id);
        response.set_xml(&root);
    }
}
