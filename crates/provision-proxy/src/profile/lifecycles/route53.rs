//! Route 53 changes: `PENDING` for a window after `ChangeResourceRecordSets`, then `INSYNC`. moto
//! answers every change `INSYNC` under one fixed change id, so the profile gives each change an id
//! of its own and answers `GetChange` for it.

use std::collections::HashMap;
use std::time::Duration;

use super::super::call::Call;
use super::super::http::Response;
use super::super::xml::Element;
use super::super::{State, Turn};

pub(crate) const ID: &str = "route53.change-pending";

#[derive(Debug, Default)]
pub(crate) struct Changes {
    /// Change id (`/change/…`) → when it was submitted.
    submitted: HashMap<String, Duration>,
    next: u64,
}

fn status(turn: &Turn<'_>, submitted: Duration) -> &'static str {
    if turn.now < submitted + turn.window(ID, "window") {
        "PENDING"
    } else {
        "INSYNC"
    }
}

pub(crate) fn before(turn: &mut Turn<'_>, state: &mut State, call: &Call) -> Option<Response> {
    if call.operation != "GetChange" || !turn.on(ID) {
        return None;
    }
    let id = format!("/change/{}", call.path.trim_matches('/').split('/').nth(2)?);
    let submitted = *state.lifecycles.route53.submitted.get(&id)?;
    let status = status(turn, submitted);
    if status == "PENDING" {
        turn.meet(ID);
    }
    let mut root = Element::new("GetChangeResponse");
    root.attributes.push(("xmlns".to_string(), "https://route53.amazonaws.com/doc/2013-04-01/".to_string()));
    let mut info = Element::new("ChangeInfo");
    info.push(Element::text_element("Id", &id));
    info.push(Element::text_element("Status", status));
    info.push(Element::text_element("SubmittedAt", &super::iso_now()));
    root.push(info);
    let mut response = Response::new(200, "text/xml", Vec::new());
    response.set_xml(&root);
    Some(response)
}

pub(crate) fn after(turn: &mut Turn<'_>, state: &mut State, call: &Call, response: &mut Response) {
    if call.operation != "ChangeResourceRecordSets" || !response.ok() || !turn.on(ID) {
        return;
    }
    let Some(mut root) = response.xml() else { return };
    let Some(info) = root.child_mut("ChangeInfo") else { return };
    let changes = &mut state.lifecycles.route53;
    changes.next += 1;
    let id = format!("/change/CPROFILE{:06}", changes.next);
    info.set_child_text("Id", &id);
    info.set_child_text("Status", "PENDING");
    changes.submitted.insert(id, turn.now);
    turn.meet(ID);
    response.set_xml(&root);
}
