//! `DeleteVpcEndpoints`: moto 5.1.22 fails with HTTP 500 for a gateway endpoint whose route it
//! cannot find to remove, and with `InvalidRoute.NotFound` when the endpoint's route is already
//! gone (a second delete of it); AWS deletes it, or answers a deleted one as such. The profile
//! answers as AWS does and shows the endpoint `deleted` afterwards.
//!
//! Client tokens: moto 5.1.22 ignores an EC2 call's `ClientToken` (`CreateRouteTable`,
//! `CreateNatGateway`, `CreateVpcEndpoint` make a second object when called again with the same
//! one). AWS answers a repeat of a call with the same token with the first call's result and makes
//! nothing ("Ensuring idempotency in Amazon EC2 API requests"), which is what the SDK's retry of a
//! create whose answer was lost meets. The profile keeps each successful answer by operation and
//! token and gives it again.

use std::collections::{HashMap, HashSet};

use super::super::call::Call;
use super::super::http::Response;
use super::super::shapes::ec2_result;
use super::super::xml::Element;
use super::super::{State, Turn};

const ID: &str = "complete.ec2.delete-vpc-endpoints";
pub(crate) const TOKEN_ID: &str = "complete.ec2.client-token";

#[derive(Debug, Default)]
pub(crate) struct Endpoints {
    deleted: HashSet<String>,
}

/// The answers to calls that carried a client token, by operation and token.
#[derive(Debug, Default)]
pub(crate) struct Tokens {
    answers: HashMap<(String, String), Response>,
}

fn token_key(call: &Call) -> Option<(String, String)> {
    Some((call.operation.clone(), call.param("ClientToken")?.to_string()))
}

/// A repeat of a call with a client token already answered: the first answer again.
pub(crate) fn before(turn: &mut Turn<'_>, state: &mut State, call: &Call) -> Option<Response> {
    if !turn.on(TOKEN_ID) {
        return None;
    }
    let answer = state.completions.tokens.answers.get(&token_key(call)?)?.clone();
    turn.meet(TOKEN_ID);
    Some(answer)
}

pub(crate) fn after(turn: &mut Turn<'_>, state: &mut State, call: &Call, response: &mut Response) {
    if response.ok() {
        if let Some(key) = token_key(call) {
            state.completions.tokens.answers.insert(key, response.clone());
        }
    }
    let endpoints = &mut state.completions.endpoints;
    match call.operation.as_str() {
        // moto's own trouble removing a gateway endpoint's routes: HTTP 500, or (a second delete
        // of it, after a lost answer) `InvalidRoute.NotFound` for the route the first one removed.
        "DeleteVpcEndpoints"
            if (response.status >= 500 || response.text().contains("<Code>InvalidRoute.NotFound</Code>"))
                && turn.on(ID) =>
        {
            endpoints.deleted.extend(call.list("VpcEndpointId", ""));
            turn.meet(ID);
            *response = ec2_result(call, vec![Element::new("unsuccessful")]);
        }
        "DescribeVpcEndpoints" if response.ok() && !endpoints.deleted.is_empty() => {
            let Some(mut root) = response.xml() else { return };
            let mut changed = false;
            root.visit_mut(&mut |element| {
                if element.name == "item" {
                    if let Some(id) = element.child_text("vpcEndpointId") {
                        if endpoints.deleted.contains(&id) {
                            element.set_child_text("state", "deleted");
                            changed = true;
                        }
                    }
                }
            });
            if changed {
                turn.meet(ID);
                response.set_xml(&root);
            }
        }
        _ => {}
    }
}
