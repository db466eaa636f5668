//! ELBv2's idempotent creates, which moto 5.1.22 does not keep: a `CreateLoadBalancer` of a name
//! that exists, or a `CreateListener` on a port of a load balancer that has one, answers the
//! existing load balancer or listener (AWS: "if you attempt to create multiple … with the same
//! settings, each call succeeds"); moto makes a second load balancer of the name, and a second
//! listener. This is what the SDK's retry of a create whose answer was lost meets on AWS.

use std::collections::HashMap;

use super::super::call::Call;
use super::super::http::Response;
use super::super::{State, Turn};

pub(crate) const ID: &str = "complete.elbv2.idempotent-creates";

#[derive(Debug, Default)]
pub(crate) struct Creates {
    /// `lb NAME` or `listener LB-ARN PORT` → the answer to its create, and the ARN it made.
    made: HashMap<String, (Response, String)>,
}

fn key(call: &Call) -> Option<String> {
    match call.operation.as_str() {
        "CreateLoadBalancer" => Some(format!("lb {}", call.param("Name")?)),
        "CreateListener" => Some(format!("listener {} {}", call.param("LoadBalancerArn")?, call.param("Port")?)),
        _ => None,
    }
}

pub(crate) fn before(turn: &mut Turn<'_>, state: &mut State, call: &Call) -> Option<Response> {
    if !turn.on(ID) {
        return None;
    }
    let (answer, _) = state.completions.creates.made.get(&key(call)?)?;
    turn.meet(ID);
    Some(answer.clone())
}

pub(crate) fn after(state: &mut State, call: &Call, response: &Response) {
    if !response.ok() {
        return;
    }
    let creates = &mut state.completions.creates;
    match call.operation.as_str() {
        "CreateLoadBalancer" | "CreateListener" => {
            let Some(key) = key(call) else { return };
            let field = if call.operation == "CreateListener" { "ListenerArn" } else { "LoadBalancerArn" };
            let Some(arn) = response.xml().and_then(|root| root.texts_of(field).into_iter().next()) else { return };
            creates.made.insert(key, (response.clone(), arn));
        }
        "DeleteLoadBalancer" => {
            let Some(arn) = call.param("LoadBalancerArn") else { return };
            creates.made.retain(|key, (_, made)| made != arn && !key.starts_with(&format!("listener {arn} ")));
        }
        // A listener moved to another port no longer answers for the one it had.
        "DeleteListener" | "ModifyListener" => {
            let Some(arn) = call.param("ListenerArn") else { return };
            creates.made.retain(|_, (_, made)| made != arn);
        }
        _ => {}
    }
}
