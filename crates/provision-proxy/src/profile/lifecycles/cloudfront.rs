//! CloudFront distributions: `InProgress` for minutes after a create or an update (a disable is an
//! update), then `Deployed`; a delete is refused until the distribution is disabled and that
//! disable has deployed; every version has its own ETag, and an update or delete that names an
//! older one is refused (moto keeps one ETag forever and ignores `If-Match`); an origin access
//! control is refused deletion while a distribution uses it.

use std::collections::HashMap;
use std::time::Duration;

use super::super::call::Call;
use super::super::http::Response;
use super::super::shapes::error;
use super::super::xml::Element;
use super::super::{State, Turn};

const IN_PROGRESS: &str = "cloudfront.in-progress";
const NOT_DISABLED: &str = "cloudfront.distribution-not-disabled";
const STALE_ETAG: &str = "cloudfront.stale-etag";
const OAC_IN_USE: &str = "cloudfront.origin-access-control-in-use";
const DELETED: &str = "cloudfront.distribution-deleted";

#[derive(Debug, Default)]
pub(crate) struct Distributions {
    distributions: HashMap<String, Distribution>,
    /// Origin access control → when the last distribution using it was gone.
    released: HashMap<String, Duration>,
    /// The last `GetDistribution` answer of each distribution, to answer with while it is deleting.
    last: HashMap<String, Response>,
    /// Distribution → when its delete was accepted.
    deleted: HashMap<String, Duration>,
}

#[derive(Debug)]
struct Distribution {
    changed: Duration,
    enabled: bool,
    version: u64,
    access_controls: Vec<String>,
}

impl Distribution {
    fn etag(&self, id: &str) -> String {
        format!("E{id}V{}", self.version)
    }
}

fn in_progress(turn: &Turn<'_>, distribution: &Distribution) -> bool {
    turn.on(IN_PROGRESS) && turn.now < distribution.changed + turn.window(IN_PROGRESS, "window")
}

/// The distribution id of a `/2020-05-31/distribution/ID[/config]` path.
fn distribution_id(call: &Call) -> Option<&str> {
    let mut segments = call.path.trim_matches('/').split('/');
    (segments.nth(1) == Some("distribution")).then(|| segments.next()).flatten()
}

pub(crate) fn before(turn: &mut Turn<'_>, state: &mut State, call: &Call) -> Option<Response> {
    let distributions = &state.lifecycles.cloudfront;
    match call.operation.as_str() {
        // moto forgets a deleted distribution at once; CloudFront still answers for it a while.
        "GetDistribution" if turn.on(DELETED) => {
            let id = distribution_id(call)?;
            let deleted = *distributions.deleted.get(id)?;
            if turn.now >= deleted + turn.window(DELETED, "window") {
                return None;
            }
            let answer = distributions.last.get(id)?.clone();
            turn.meet(DELETED);
            Some(answer)
        }
        "UpdateDistribution" | "DeleteDistribution" => {
            let id = distribution_id(call)?;
            let distribution = distributions.distributions.get(id)?;
            if turn.on(STALE_ETAG) {
                match call.header("if-match") {
                    None => {
                        turn.meet(STALE_ETAG);
                        return Some(error(
                            call,
                            400,
                            "InvalidIfMatchVersion",
                            "The If-Match version is missing or not valid for the resource.",
                        ));
                    }
                    Some(etag) if etag != distribution.etag(id) => {
                        turn.meet(STALE_ETAG);
                        let message =
                            "The precondition given in one or more of the request-header fields evaluated to false.";
                        return Some(error(call, 412, "PreconditionFailed", message));
                    }
                    Some(_) => {}
                }
            }
            if call.operation == "DeleteDistribution"
                && turn.on(NOT_DISABLED)
                && (distribution.enabled || in_progress(turn, distribution))
            {
                turn.meet(NOT_DISABLED);
                return Some(error(
                    call,
                    409,
                    "DistributionNotDisabled",
                    "The distribution you are trying to delete has not been disabled.",
                ));
            }
            None
        }
        "DeleteOriginAccessControl" if turn.on(OAC_IN_USE) => {
            let control = call.path.trim_matches('/').split('/').nth(2)?;
            let used = distributions.distributions.values().any(|d| d.access_controls.iter().any(|c| c == control));
            let recently = distributions
                .released
                .get(control)
                .is_some_and(|at| turn.now < *at + turn.window(OAC_IN_USE, "window"));
            if !used && !recently {
                return None;
            }
            turn.meet(OAC_IN_USE);
            Some(error(
                call,
                409,
                "OriginAccessControlInUse",
                "The origin access control is currently in use by a distribution.",
            ))
        }
        _ => None,
    }
}

pub(crate) fn after(turn: &mut Turn<'_>, state: &mut State, call: &Call, response: &mut Response) {
    if !response.ok() {
        return;
    }
    let now = turn.now;
    let store = &mut state.lifecycles.cloudfront;
    match call.operation.as_str() {
        "CreateDistribution" | "UpdateDistribution" => {
            let Some(mut root) = response.xml() else { return };
            let id = match distribution_id(call) {
                Some(id) => id.to_string(),
                None => root.texts_of("Id").into_iter().next().unwrap_or_default(),
            };
            let config = Element::parse(&call.body_text()).unwrap_or_default();
            let enabled = config.texts_of("Enabled").first().is_some_and(|e| e.eq_ignore_ascii_case("true"));
            let access_controls: Vec<String> =
                config.texts_of("OriginAccessControlId").into_iter().filter(|c| !c.is_empty()).collect();
            let certificate = config.texts_of("ACMCertificateArn").into_iter().find(|c| !c.is_empty());
            let version = store.distributions.get(&id).map_or(1, |d| d.version + 1);
            let distribution = Distribution { changed: now, enabled, version, access_controls };
            state.usage.distribution_holds(&id, certificate, now);
            response.set_header("ETag", &distribution.etag(&id));
            if turn.on(IN_PROGRESS) {
                root.visit_mut(&mut |element| {
                    if element.name == "Status" {
                        element.set_text("InProgress");
                    }
                });
                response.set_xml(&root);
                turn.meet(IN_PROGRESS);
            }
            store.distributions.insert(id, distribution);
        }
        "GetDistribution" | "GetDistributionConfig" => {
            let Some(id) = distribution_id(call) else { return };
            let Some(distribution) = store.distributions.get(id) else { return };
            response.set_header("ETag", &distribution.etag(id));
            if call.operation == "GetDistribution" && turn.on(IN_PROGRESS) {
                let status = if in_progress(turn, distribution) { "InProgress" } else { "Deployed" };
                if let Some(mut root) = response.xml() {
                    root.set_child_text("Status", status);
                    response.set_xml(&root);
                    if status == "InProgress" {
                        turn.meet(IN_PROGRESS);
                    }
                }
            }
            if call.operation == "GetDistribution" {
                store.last.insert(id.to_string(), response.clone());
            }
        }
        "ListDistributions" if turn.on(IN_PROGRESS) => {
            let Some(mut root) = response.xml() else { return };
            let mut met = false;
            if let Some(items) = root.child_mut("Items") {
                for summary in items.elements_mut() {
                    let id = summary.child_text("Id").unwrap_or_default();
                    if let Some(distribution) = store.distributions.get(&id) {
                        let progressing = in_progress(turn, distribution);
                        summary.set_child_text("Status", if progressing { "InProgress" } else { "Deployed" });
                        met |= progressing;
                    }
                }
            }
            if met {
                turn.meet(IN_PROGRESS);
            }
            response.set_xml(&root);
        }
        "DeleteDistribution" => {
            let Some(id) = distribution_id(call) else { return };
            // Gone once CloudFront stops answering for it (`cloudfront.distribution-deleted`).
            let gone = match turn.on(DELETED) && store.last.contains_key(id) {
                true => {
                    store.deleted.insert(id.to_string(), now);
                    now + turn.window(DELETED, "window")
                }
                false => now,
            };
            if let Some(distribution) = store.distributions.remove(id) {
                for control in distribution.access_controls {
                    store.released.insert(control, gone);
                }
            }
            state.usage.distribution_holds(id, None, gone);
        }
        _ => {}
    }
}
