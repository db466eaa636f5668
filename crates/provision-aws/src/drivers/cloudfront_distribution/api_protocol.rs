//! How a distribution reaches its API origin: over HTTPS when it can.
//!
//! Between CloudFront and the origin travel the same requests, cookies and tokens as between the
//! browser and CloudFront; over plain HTTP they cross the network unencrypted. When `api_origin` is
//! a load balancer of the stack, the stack file says whether it can answer HTTPS (it has a listener
//! with `protocol = "HTTPS"`): then CloudFront uses HTTPS, otherwise plain HTTP with a guardrail
//! warning that says how to fix it. Any other origin is reached over HTTPS unless the file says
//! `api_protocol = "http"`.

use std::collections::BTreeMap;

use provision_core::address::Address;
use provision_core::stack::{Expr, Part, Reference, ResourceSpec};
use provision_core::value::Value;

use crate::drivers::Problem;

pub(super) const FIELD: &str = "api_protocol";
pub(super) const CHOICES: &[&str] = &["https", "http"];

/// `api_protocol` where the file leaves it out and sets `api_origin`.
pub(super) fn default_in_stack(
    resource: &ResourceSpec,
    resources: &BTreeMap<Address, ResourceSpec>,
) -> Vec<(&'static str, Value)> {
    let Some(origin) = resource.fields.get("api_origin") else { return Vec::new() };
    let https = match origin_load_balancer(&origin.expr) {
        Some(load_balancer) => has_https_listener(load_balancer, resources),
        None => true,
    };
    vec![(FIELD, Value::Str(if https { "https" } else { "http" }.into()))]
}

/// The guardrail: an API origin reached over plain HTTP.
pub(super) fn check_in_stack(resource: &ResourceSpec) -> Vec<Problem> {
    let plain = resource.fields.get(FIELD).is_some_and(|expr| {
        matches!(&expr.expr, Expr::Template(parts) if matches!(parts.as_slice(), [Part::Literal(text)] if text == "http"))
    });
    if !plain || !resource.fields.contains_key("api_origin") {
        return Vec::new();
    }
    vec![Problem::warning(
        FIELD,
        "CloudFront reaches its API origin over plain HTTP: requests, cookies and tokens cross the network \
         unencrypted between CloudFront and the origin",
    )
    .hint(
        "give the load balancer an HTTPS listener (`[listener.NAME] protocol = \"HTTPS\"` with a `certificate_arn`): \
         CloudFront then reaches it over HTTPS",
    )]
}

/// The load balancer `"${load_balancer.NAME.dns_name}"` names.
fn origin_load_balancer(expr: &Expr) -> Option<&Address> {
    match expr {
        Expr::Template(parts) => match parts.as_slice() {
            [Part::Reference(Reference::Resource { address, attribute }, _)]
                if address.type_name == "load_balancer" && attribute == "dns_name" =>
            {
                Some(address)
            }
            _ => None,
        },
        _ => None,
    }
}

/// Whether a listener of the stack on `load_balancer` answers HTTPS.
fn has_https_listener(load_balancer: &Address, resources: &BTreeMap<Address, ResourceSpec>) -> bool {
    resources.values().filter(|r| r.address.type_name == "listener").any(|listener| {
        let on_it = listener.fields.get("load_balancer").is_some_and(|expr| {
            expr.references().iter().any(|(reference, _)| {
                matches!(reference, Reference::Resource { address, .. } if address == load_balancer)
            })
        });
        let https = listener.fields.get("protocol").is_some_and(|expr| {
            matches!(&expr.expr, Expr::Template(parts) if matches!(parts.as_slice(), [Part::Literal(text)] if text == "HTTPS"))
        });
        on_it && https
    })
}
