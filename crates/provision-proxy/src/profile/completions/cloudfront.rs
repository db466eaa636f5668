//! Origin access controls as AWS keeps them and moto 5.1.22 does not: a name is unique in the
//! account (a second `CreateOriginAccessControl` of it answers 409 `OriginAccessControlAlreadyExists`;
//! moto makes another), and a delete of a control that is gone answers 404
//! `NoSuchOriginAccessControl` (moto: HTTP 500 with an HTML page). Both are what the SDK's retry of a
//! create or a delete whose answer was lost (`any.response-lost`) meets on AWS. And moto forgets an
//! origin's `OriginAccessControlId`: its reads of a distribution (`GetDistribution`,
//! `GetDistributionConfig`, `ListDistributions`) show it again as the last create or update set it,
//! so a caller that writes back what it read keeps the control, and the profile knows which
//! distribution holds which control (`cloudfront.origin-access-control-in-use`).

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
    /// Distribution id → its origins' controls (origin id → control id), as last written.
    origins: HashMap<String, HashMap<String, String>>,
}

fn distribution_id(call: &Call) -> Option<&str> {
    let mut segments = call.path.trim_matches('/').split('/');
    (segments.nth(1) == Some("distribution")).then(|| segments.next()).flatten()
}

/// The controls of the origins of a distribution config: origin id → control id.
fn controls_of(config: &Element) -> HashMap<String, String> {
    let mut found = HashMap::new();
    config.visit(&mut |element| {
        if element.name == "Origin" {
            let control = element.child_text("OriginAccessControlId").filter(|control| !control.is_empty());
            if let (Some(origin), Some(control)) = (element.child_text("Id"), control) {
                found.insert(origin, control);
            }
        }
    });
    found
}

/// Puts each origin's control back where moto's answer left it out; whether anything changed.
fn restore(element: &mut Element, controls: &HashMap<String, String>) -> bool {
    let mut changed = false;
    element.visit_mut(&mut |element| {
        if element.name != "Origin" || element.child_text("OriginAccessControlId").is_some_and(|c| !c.is_empty()) {
            return;
        }
        if let Some(control) = element.child_text("Id").and_then(|origin| controls.get(&origin)) {
            element.set_child_text("OriginAccessControlId", control);
            changed = true;
        }
    });
    changed
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

pub(crate) fn after(turn: &mut Turn<'_>, state: &mut State, call: &Call, response: &mut Response) {
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
        "CreateDistribution" | "UpdateDistribution" => {
            let Some(config) = Element::parse(&call.body_text()) else { return };
            let id = match distribution_id(call) {
                Some(id) => Some(id.to_string()),
                None => response.xml().and_then(|root| root.texts_of("Id").into_iter().next()),
            };
            if let Some(id) = id {
                controls.origins.insert(id, controls_of(&config));
            }
        }
        "DeleteDistribution" => {
            if let Some(id) = distribution_id(call) {
                controls.origins.remove(id);
            }
        }
        "GetDistribution" | "GetDistributionConfig" if turn.on(ID) => {
            let Some(known) = distribution_id(call).and_then(|id| controls.origins.get(id)) else { return };
            let Some(mut root) = response.xml() else { return };
            if restore(&mut root, known) {
                turn.meet(ID);
                response.set_xml(&root);
            }
        }
        "ListDistributions" if turn.on(ID) && !controls.origins.is_empty() => {
            let Some(mut root) = response.xml() else { return };
            let mut changed = false;
            root.visit_mut(&mut |element| {
                if element.name != "DistributionSummary" {
                    return;
                }
                if let Some(known) = element.child_text("Id").and_then(|id| controls.origins.get(&id)) {
                    changed |= restore(element, known);
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
