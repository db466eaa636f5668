//! `DeleteVpcEndpoints`: moto 5.1.22 fails with HTTP 500 for a gateway endpoint whose route it
//! cannot find to remove (AWS deletes it). The profile answers as AWS does and shows the endpoint
//! `deleted` afterwards.

use std::collections::HashSet;

use super::super::call::Call;
use super::super::http::Response;
use super::super::shapes::ec2_result;
use super::super::xml::Element;
use super::super::{State, Turn};

const ID: &str = "complete.ec2.delete-vpc-endpoints";

#[derive(Debug, Default)]
pub(crate) struct Endpoints {
    deleted: HashSet<String>,
}

pub(crate) fn after(turn: &mut Turn<'_>, state: &mut State, call: &Call, response: &mut Response) {
    let endpoints = &mut state.completions.endpoints;
    match call.operation.as_str() {
        "DeleteVpcEndpoints" if response.status >= 500 && turn.on(ID) => {
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
