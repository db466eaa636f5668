//! What EC2 and ELB still list moments after a delete: a security group (`DescribeSecurityGroups`)
//! and a load balancer (`DescribeLoadBalancers`) asked for by id are still answered, as last seen,
//! for a window after their delete succeeded — moto forgets both at once. A caller that waits for
//! them to be gone (terraform-provider-aws's `RetryUntilNotFound` after each delete) meets it.

use std::collections::HashMap;
use std::time::Duration;

use super::super::call::Call;
use super::super::http::Response;
use super::super::shapes::{ec2_result, query_result};
use super::super::xml::Element;
use super::super::{State, Turn};

const GROUP: &str = "ec2.group-gone-after-delete";
const LOAD_BALANCER: &str = "elbv2.load-balancer-deleted";

#[derive(Debug, Default)]
pub(crate) struct Listed {
    /// Security group id → its last `<item>`; load balancer ARN → its last `<member>`.
    last: HashMap<String, Element>,
    /// Id or ARN → when its delete succeeded.
    deleted: HashMap<String, Duration>,
}

/// The rule, the named objects and what names them in a describe call.
fn describe(call: &Call) -> Option<(&'static str, Vec<String>)> {
    match (call.service.as_str(), call.operation.as_str()) {
        ("ec2", "DescribeSecurityGroups") => Some((GROUP, call.list("GroupId", ""))),
        ("elasticloadbalancing", "DescribeLoadBalancers") => Some((LOAD_BALANCER, call.list("LoadBalancerArns", ""))),
        _ => None,
    }
}

pub(crate) fn before(turn: &mut Turn<'_>, state: &mut State, call: &Call) -> Option<Response> {
    let (id, named) = describe(call)?;
    if named.is_empty() || !turn.on(id) {
        return None;
    }
    let listed = &state.lifecycles.listed;
    let window = turn.window(id, "window");
    let recent = |key: &String| listed.deleted.get(key).is_some_and(|at| turn.now < *at + window);
    if !named.iter().all(recent) {
        return None;
    }
    let items: Vec<Element> = named.iter().filter_map(|key| listed.last.get(key).cloned()).collect();
    turn.meet(id);
    Some(if id == GROUP {
        let mut info = Element::new("securityGroupInfo");
        items.into_iter().for_each(|item| info.push(item));
        ec2_result(call, vec![info])
    } else {
        let mut list = Element::new("LoadBalancers");
        items.into_iter().for_each(|item| list.push(item));
        query_result(call, vec![list])
    })
}

pub(crate) fn after(turn: &mut Turn<'_>, state: &mut State, call: &Call, response: &Response) {
    if !response.ok() {
        return;
    }
    let listed = &mut state.lifecycles.listed;
    let deleted = match (call.service.as_str(), call.operation.as_str()) {
        ("ec2", "DeleteSecurityGroup") if turn.on(GROUP) => call.param("GroupId"),
        ("elasticloadbalancing", "DeleteLoadBalancer") if turn.on(LOAD_BALANCER) => call.param("LoadBalancerArn"),
        _ => None,
    };
    if let Some(key) = deleted {
        if listed.last.contains_key(key) {
            listed.deleted.insert(key.to_string(), turn.now);
        }
        return;
    }
    let (item, key) = match describe(call) {
        Some((GROUP, _)) => ("item", "groupId"),
        Some(_) => ("member", "LoadBalancerArn"),
        None => return,
    };
    let Some(root) = response.xml() else { return };
    let list = if item == "item" { "securityGroupInfo" } else { "LoadBalancers" };
    root.visit(&mut |element| {
        if element.name != list {
            return;
        }
        for found in element.elements().filter(|e| e.name == item) {
            if let Some(id) = found.child_text(key) {
                listed.deleted.remove(&id);
                listed.last.insert(id, found.clone());
            }
        }
    });
}
