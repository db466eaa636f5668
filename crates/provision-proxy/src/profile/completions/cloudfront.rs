//! Origin access controls as AWS keeps them and moto 5.1.22 does not: a name is unique in the
//! account (a second `CreateOriginAccessControl` of it answers 409 `OriginAccessControlAlreadyExists`;
//! moto makes another), and a delete of a control that is gone answers 404
//! `NoSuchOriginAccessControl` (moto: HTTP 500 with an HTML page). Both are what the SDK's retry of a
//! create or a delete whose answer was lost (`any.response-lost`) meets on AWS.

use std::collections::{HashMap, HashSet};

use super::super::call::Call;
use super::super::http::Response;
use super::super::shapes::error;
use super::super::xml::Element;
use super::super::{State, Turn};

pub(crate) const ID: &str = "complete.cloudfront.origin-access-controls";

#[derive(Debug, Default)]
pub(crate) struct Controls {
    /// The controls made through the proxy and not deleted: name → id.
    names: HashMap<String, String>,
    deleted: HashSet<String>,
}

fn control_id(call: &Call) -> Option<&str> {
    call.path.trim_matches('/').split('/').nth(2)
}

pub(crate) fn before(turn: &mut Turn<'_>, state: &mut State, call: &Call) -> Option<Response> {
    if !turn.on(ID) {
        return None;
    }
    let controls = &state.completions.origin_access_controls;
    match call.operation.as_str() {
        "CreateOriginAccessControl" => {
            let name = Element::parse(&call.body_text())?.texts_of("Name").into_iter().next()?;
            if !controls.names.contains_key(&name) {
                return None;
            }
            turn.meet(ID);
            Some(error(
                call,
                409,
                "OriginAccessControlAlreadyExists",
                &format!("An origin access control with the name {name} already exists."),
            ))
        }
        "DeleteOriginAccessControl" => {
            if !controls.deleted.contains(control_id(call)?) {
                return None;
            }
            turn.meet(ID);
            Some(error(call, 404, "NoSuchOriginAccessControl", "The specified origin access control does not exist."))
        }
        _ => None,
    }
}

pub(crate) fn after(state: &mut State, call: &Call, response: &Response) {
    if !response.ok() {
        return;
    }
    let controls = &mut state.completions.origin_access_controls;
    match call.operation.as_str() {
        "CreateOriginAccessControl" => {
            let Some(root) = response.xml() else { return };
            let id = root.texts_of("Id").into_iter().next();
            let name = root.texts_of("Name").into_iter().next();
            if let (Some(id), Some(name)) = (id, name) {
                controls.deleted.remove(&id);
                controls.names.insert(name, id);
            }
        }
        "DeleteOriginAccessControl" => {
            let Some(id) = control_id(call) else { return };
            controls.names.retain(|_, known| known != id);
            controls.deleted.insert(id.to_string());
        }
        _ => {}
    }
}
