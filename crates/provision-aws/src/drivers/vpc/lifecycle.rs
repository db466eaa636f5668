//! Waiting out the lifecycles of a VPC's slow parts with `behaviours::ec2`'s waits: NAT gateways
//! and interface endpoints are `pending` for a while after their create and `deleting` after their
//! delete (`ec2.nat-gateway-lifecycle`, `ec2.endpoint-lifecycle`). Each wait looks at all the parts
//! one step made or deleted at once and reports the statuses still pending.

use aws_sdk_ec2::types::NatGatewayState;
use aws_sdk_ec2::Client;

use crate::behaviours::ec2::{ENDPOINT_AVAILABLE, ENDPOINT_DELETED, NAT_AVAILABLE, NAT_DELETED};
use crate::behaviours::Look;
use crate::drivers::{DriverError, ProgressSink};
use provision_core::address::Address;

/// Until the NAT gateways `ids`, just made, are `available`; `failed` ends the wait.
pub(super) async fn nats_available(
    ec2: &Client,
    address: &Address,
    progress: &dyn ProgressSink,
    ids: &[String],
) -> Result<(), DriverError> {
    let subject = format!("NAT gateway(s) {}", ids.join(", "));
    NAT_AVAILABLE
        .until(address, progress, &subject, || async {
            let answer = ec2
                .describe_nat_gateways()
                .set_nat_gateway_ids(Some(ids.to_vec()))
                .send()
                .await
                .map_err(|error| crate::aws_error("DescribeNatGateways", error));
            let answer = match answer {
                // Not yet known to EC2's reads (`ec2.network-not-found-after-create`): still pending.
                Err(error) if error.code_is("NatGatewayNotFound") || error.code_is("InvalidNatGatewayID.NotFound") => {
                    return Ok(Look::Pending("not visible yet".into()))
                }
                other => other?,
            };
            let gateways = answer.nat_gateways();
            if let Some(failed) = gateways.iter().find(|n| n.state() == Some(&NatGatewayState::Failed)) {
                return Err(DriverError::service(
                    "CreateNatGateway",
                    failed.failure_code().map(str::to_string),
                    format!(
                        "NAT gateway {} failed: {}",
                        failed.nat_gateway_id().unwrap_or_default(),
                        failed.failure_message().unwrap_or_default()
                    ),
                )
                .with_hint("apply again: the failed NAT gateway is removed and a new one made"));
            }
            let all_available =
                gateways.len() == ids.len() && gateways.iter().all(|n| n.state() == Some(&NatGatewayState::Available));
            Ok(if all_available {
                Look::Done(())
            } else {
                Look::Pending(states(gateways.iter().map(|n| n.state().map(|s| s.as_str()))))
            })
        })
        .await
}

/// Until the NAT gateways `ids`, just deleted, are `deleted` (or unknown).
pub(super) async fn nats_deleted(
    ec2: &Client,
    address: &Address,
    progress: &dyn ProgressSink,
    ids: &[String],
) -> Result<(), DriverError> {
    let subject = format!("NAT gateway(s) {}", ids.join(", "));
    NAT_DELETED
        .until(address, progress, &subject, || async {
            let answer = ec2
                .describe_nat_gateways()
                .set_nat_gateway_ids(Some(ids.to_vec()))
                .send()
                .await
                .map_err(|error| crate::aws_error("DescribeNatGateways", error));
            let answer = match answer {
                Err(error) if error.code_is("NatGatewayNotFound") => return Ok(Look::Done(())),
                other => other?,
            };
            let left: Vec<_> =
                answer.nat_gateways().iter().filter(|n| n.state().is_none_or(|s| s.as_str() != "deleted")).collect();
            Ok(if left.is_empty() {
                Look::Done(())
            } else {
                Look::Pending(states(left.iter().map(|n| n.state().map(|s| s.as_str()))))
            })
        })
        .await
}

/// Until the interface endpoints `ids`, just made, are `available`; `failed` or `rejected` ends
/// the wait.
pub(super) async fn endpoints_available(
    ec2: &Client,
    address: &Address,
    progress: &dyn ProgressSink,
    ids: &[String],
) -> Result<(), DriverError> {
    let subject = format!("interface endpoint(s) {}", ids.join(", "));
    ENDPOINT_AVAILABLE
        .until(address, progress, &subject, || async {
            let answer = ec2
                .describe_vpc_endpoints()
                .set_vpc_endpoint_ids(Some(ids.to_vec()))
                .send()
                .await
                .map_err(|error| crate::aws_error("DescribeVpcEndpoints", error))?;
            let seen: Vec<String> = answer
                .vpc_endpoints()
                .iter()
                .map(|e| e.state().map(|s| s.as_str().to_ascii_lowercase()).unwrap_or_default())
                .collect();
            if let Some(failed) = seen.iter().find(|s| matches!(s.as_str(), "failed" | "rejected")) {
                return Err(DriverError::invalid(format!("an interface endpoint is `{failed}`"))
                    .with_hint("the service may not be offered in one of the network's zones; check `endpoints`"));
            }
            let available = seen.len() == ids.len() && seen.iter().all(|s| s == "available");
            Ok(if available { Look::Done(()) } else { Look::Pending(states(seen.iter().map(|s| Some(s.as_str())))) })
        })
        .await
}

/// Until the endpoints `ids`, just deleted, are `deleted` (or unknown).
pub(super) async fn endpoints_deleted(
    ec2: &Client,
    address: &Address,
    progress: &dyn ProgressSink,
    ids: &[String],
) -> Result<(), DriverError> {
    let subject = format!("interface endpoint(s) {}", ids.join(", "));
    ENDPOINT_DELETED
        .until(address, progress, &subject, || async {
            let answer = ec2
                .describe_vpc_endpoints()
                .set_vpc_endpoint_ids(Some(ids.to_vec()))
                .send()
                .await
                .map_err(|error| crate::aws_error("DescribeVpcEndpoints", error));
            let answer = match answer {
                Err(error) if error.code.as_deref().is_some_and(|code| code.contains("NotFound")) => {
                    return Ok(Look::Done(()))
                }
                other => other?,
            };
            let endpoints = answer.vpc_endpoints();
            let gone = endpoints.iter().all(|e| e.state().is_some_and(|s| s.as_str().eq_ignore_ascii_case("deleted")));
            Ok(if gone {
                Look::Done(())
            } else {
                Look::Pending(states(
                    endpoints
                        .iter()
                        .filter(|e| e.state().is_none_or(|s| !s.as_str().eq_ignore_ascii_case("deleted")))
                        .map(|e| e.state().map(|s| s.as_str())),
                ))
            })
        })
        .await
}

/// The statuses of the parts waited for, for a progress line: "`pending`" or "`pending`, `available`".
fn states<'a>(states: impl Iterator<Item = Option<&'a str>>) -> String {
    let mut seen: Vec<String> = Vec::new();
    for state in states {
        let state = format!("`{}`", state.unwrap_or("unknown"));
        if !seen.contains(&state) {
            seen.push(state);
        }
    }
    if seen.is_empty() {
        "not visible yet".to_string()
    } else {
        seen.join(", ")
    }
}
