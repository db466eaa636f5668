//! The order AWS needs that the stack file does not say: a service after the listener or listener
//! rule that forwards to its target group.
//!
//! ECS refuses a service whose target group no load balancer uses yet ("The target group … does not
//! have an associated load balancer", `ecs.target-group-without-load-balancer`). A stack file
//! references the target group from both the listener and the service, so nothing orders the two,
//! and users rightly write no `depends_on` (references define the order). So the service names the
//! listeners and listener rules of the stack whose `forward` references its target group, and the
//! graph orders it after them — and, on destroy, deletes it before them.

use std::collections::BTreeMap;

use provision_core::address::Address;
use provision_core::stack::{Reference, ResourceSpec, SpannedExpr};

/// The resources of the stack that `expr` references.
fn referenced(expr: Option<&SpannedExpr>) -> Vec<&Address> {
    let references = expr.map(SpannedExpr::references).unwrap_or_default();
    references
        .into_iter()
        .filter_map(|(reference, _)| match reference {
            Reference::Resource { address, .. } => Some(address),
            _ => None,
        })
        .collect()
}

/// The listeners and listener rules of the stack that forward to the target group `service` uses.
pub(super) fn listeners_forwarding_to_its_target_group(
    service: &ResourceSpec,
    resources: &BTreeMap<Address, ResourceSpec>,
) -> Vec<Address> {
    let target_groups = referenced(service.fields.get("target_group"));
    if target_groups.is_empty() {
        return Vec::new();
    }
    resources
        .values()
        .filter(|resource| matches!(resource.address.type_name.as_str(), "listener" | "listener_rule"))
        .filter(|listener| referenced(listener.fields.get("forward")).iter().any(|group| target_groups.contains(group)))
        .map(|listener| listener.address.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use provision_core::stack::{load, LoadOptions};

    use crate::context::{AwsSession, ConnectOptions};

    const STACK: &str = r#"
[stack]
name = "shop"
region = "us-east-1"

[load_balancer.web]

[target_group.api]
port = 8080

[target_group.other]
port = 9090

[listener.http]
load_balancer = "${load_balancer.web.arn}"
port = 80
forward = "${target_group.api.arn}"

[listener.admin]
load_balancer = "${load_balancer.web.arn}"
port = 8443
forward = "${target_group.other.arn}"

[target_group.admin]
port = 8081

[listener_rule.admin]
listener = "${listener.http.arn}"
priority = 10
path_patterns = ["/admin/*"]
forward = "${target_group.admin.arn}"

[ecs_service.admin]
cluster = "${ecs_cluster.main.name}"
cpu = 256
memory = 512
target_group = "${target_group.admin.arn}"
container_port = 8081

[ecs_service.admin.container]
image = "nginx:1.27"
port = 8081

[ecs_cluster.main]

[ecs_service.api]
cluster = "${ecs_cluster.main.name}"
cpu = 256
memory = 512
target_group = "${target_group.api.arn}"
container_port = 8080

[ecs_service.api.container]
image = "nginx:1.27"
port = 8080
"#;

    /// Offline: the loader asks the driver, and the graph has the edge no reference made.
    #[test]
    fn a_service_comes_after_the_listener_that_forwards_to_its_target_group_without_depends_on() {
        let folder = tempfile::tempdir().expect("a folder");
        let path = folder.path().join("stack.toml");
        std::fs::write(&path, STACK).expect("write the stack");
        let drivers = crate::drivers::registry(AwsSession::new(ConnectOptions::default()));
        let stack = load(&path, &LoadOptions::default(), &drivers).expect("the stack loads");
        let service: provision_core::address::Address = "ecs_service.api".parse().expect("address");
        let after: Vec<String> = stack.graph.dependencies(&service).map(ToString::to_string).collect();
        assert!(after.contains(&"listener.http".to_string()), "{after:?}");
        assert!(!after.contains(&"listener.admin".to_string()), "only the listener of its own group: {after:?}");
        let order = stack.graph.topological_order();
        let position = |name: &str| order.iter().position(|a| a.to_string() == name).expect("in the graph");
        assert!(position("listener.http") < position("ecs_service.api"));
    }

    /// A service behind a path on a shared listener comes after the rule that sends it requests.
    #[test]
    fn a_service_comes_after_the_listener_rule_that_forwards_to_its_target_group() {
        let folder = tempfile::tempdir().expect("a folder");
        let path = folder.path().join("stack.toml");
        std::fs::write(&path, STACK).expect("write the stack");
        let drivers = crate::drivers::registry(AwsSession::new(ConnectOptions::default()));
        let stack = load(&path, &LoadOptions::default(), &drivers).expect("the stack loads");
        let service: provision_core::address::Address = "ecs_service.admin".parse().expect("address");
        let after: Vec<String> = stack.graph.dependencies(&service).map(ToString::to_string).collect();
        assert!(after.contains(&"listener_rule.admin".to_string()), "{after:?}");
        assert!(!after.contains(&"listener.admin".to_string()), "{after:?}");
        let order = stack.graph.topological_order();
        let position = |name: &str| order.iter().position(|a| a.to_string() == name).expect("in the graph");
        assert!(position("listener_rule.admin") < position("ecs_service.admin"));
    }
}
