//! NAT gateways (`pending` → `available` after a create, `deleting` → `deleted` after a delete;
//! moto makes them `available` and `deleted` at once), interface endpoints (the same, `pending`
//! and `deleting`; moto: `available`, then `deleted`) and load balancers (`provisioning` →
//! `active`; moto says `active` from the first read).

use std::collections::HashMap;
use std::time::Duration;

use super::super::call::Call;
use super::super::http::Response;
use super::super::{State, Turn};

const NAT: &str = "ec2.nat-gateway-lifecycle";
const ENDPOINT: &str = "ec2.endpoint-lifecycle";
const LOAD_BALANCER: &str = "elbv2.load-balancer-provisioning";

#[derive(Debug, Default)]
pub(crate) struct Network {
    /// NAT gateway → (created, deleted).
    nat_gateways: HashMap<String, (Option<Duration>, Option<Duration>)>,
    /// Interface endpoint → (created, deleted).
    endpoints: HashMap<String, (Option<Duration>, Option<Duration>)>,
    /// Load balancer ARN → created.
    load_balancers: HashMap<String, Duration>,
}

/// The status of a NAT gateway or interface endpoint (rule `id`) as AWS shows it, where it is not
/// moto's.
fn shown_state(
    turn: &Turn<'_>,
    id: &'static str,
    (created, deleted): (Option<Duration>, Option<Duration>),
) -> Option<&'static str> {
    match (created, deleted) {
        (_, Some(deleted)) => {
            Some(if turn.now < deleted + turn.window(id, "deleting") { "deleting" } else { "deleted" })
        }
        (Some(created), None) if turn.now < created + turn.window(id, "pending") => Some("pending"),
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
        "CreateVpcEndpoint" | "DeleteVpcEndpoints" | "DescribeVpcEndpoints" => {
            (ENDPOINT, "vpcEndpoint", "vpcEndpointId", "state")
        }
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
        "CreateVpcEndpoint" => {
            // A gateway endpoint is only routes: AWS shows it `available` at once.
            if call.param("VpcEndpointType").is_some_and(|kind| kind.eq_ignore_ascii_case("interface")) {
                if let Some(endpoint) = root.texts_of("vpcEndpointId").into_iter().next() {
                    network.endpoints.insert(endpoint, (Some(now), None));
                }
            }
        }
        "DeleteVpcEndpoints" => {
            for endpoint in call.list("VpcEndpointId", "") {
                if let Some(times) = network.endpoints.get_mut(&endpoint) {
                    times.1 = Some(now);
                }
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
        let matches = element.name == item || (id != LOAD_BALANCER && element.name == "item");
        let Some(key) = element.child_text(field).filter(|_| matches) else { return };
        let status = if id == NAT {
            network.nat_gateways.get(&key).and_then(|times| shown_state(turn, id, *times))
        } else if id == ENDPOINT {
            network.endpoints.get(&key).and_then(|times| shown_state(turn, id, *times))
        } else {
            network
                .load_balancers
                .get(&key)
                .filter(|created| now < **created + turn.window(id, "window"))
                .map(|_| "provisioning")
        };
        if let Some(status) = status {
            let target = if id == LOAD_BALANCER { element.child_mut("State") } else { Some(element) };
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
