//! The bound of the time-scaled scenario: the critical path of AWS's own waits.
//!
//! Each resource weighs the time AWS takes to make it, or to remove it — a database `creating` then
//! `backing-up`, a distribution `InProgress`, a certificate waiting for its validation, a service
//! rolling out or draining — and some resources must wait a while after another: a service after
//! its cluster, role and listener are made, a listener after its certificate is issued, a security
//! group after the load balancer, service or database that used it is gone (their network
//! interfaces linger). Every one of those times is a window of provision-proxy's "AWS as it
//! behaves" profile, read here from its catalogue by rule and phase, so the bound and the world the
//! run meets have one source. A resource AWS makes at once weighs nothing: the bound is AWS's
//! waits alone, and the ratio shows what provision adds on top (round trips, polls, its own start).
//!
//! The bound is the longest path through the dependency graph (`provision graph`) with those
//! weights, in AWS time: whatever the order and however many actions run at once, the run cannot
//! end sooner. Divided by the profile's time scale it is the wall time to compare with.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use provision_proxy::profile::catalogue;

/// A window of the profile's catalogue: a rule and one of its phases.
pub type Window = (&'static str, &'static str);

/// Which way the graph is walked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Dependencies first.
    Apply,
    /// Users first: a resource goes once everything that used it is gone.
    Destroy,
}

/// What AWS takes to make one resource of a type, from the call that starts it.
pub fn making(type_name: &str) -> &'static [Window] {
    match type_name {
        "db_instance" => &[("rds.instance-lifecycle", "creating"), ("rds.instance-lifecycle", "backing-up")],
        "cloudfront_distribution" => &[("cloudfront.in-progress", "window")],
        "certificate" => &[("acm.pending-validation", "window")],
        "ecs_service" => &[("ecs.deployment-in-progress", "window")],
        "load_balancer" => &[("elbv2.load-balancer-provisioning", "window")],
        "elasticache_redis" => &[("elasticache.group-lifecycle", "creating")],
        // A network's NAT gateways are `pending` before the private routes point at them.
        "vpc" => &[("ec2.nat-gateway-lifecycle", "pending")],
        // Their own configuration calls right after the create meet the new object missing.
        "security_group" => &[("ec2.group-not-found-after-create", "window")],
        "s3_bucket" => &[("s3.no-such-bucket-after-create", "window")],
        _ => &[],
    }
}

/// What AWS takes to remove one resource of a type, from the call that starts it.
pub fn removing(type_name: &str) -> &'static [Window] {
    match type_name {
        "db_instance" => &[("rds.instance-lifecycle", "deleting")],
        // Disabled and deployed, deleted and still answered until gone; its origin access control
        // is in use for a moment after.
        "cloudfront_distribution" => &[
            ("cloudfront.in-progress", "window"),
            ("cloudfront.distribution-deleted", "window"),
            ("cloudfront.origin-access-control-in-use", "window"),
        ],
        // Its delete waits until the interfaces ELB made are gone (they hold its groups and
        // subnets); `DescribeLoadBalancers` forgets it sooner.
        "load_balancer" => &[("ec2.group-in-use-while-interfaces-linger", "window")],
        "ecs_service" => &[("ecs.service-draining", "window")],
        "elasticache_redis" => &[("elasticache.group-lifecycle", "deleting")],
        "vpc" => &[("ec2.nat-gateway-lifecycle", "deleting")],
        // Still listed for moments after its delete; waited out (as terraform-provider-aws's
        // `resourceSecurityGroupDelete` does) before the groups it referenced go.
        "security_group" => &[("ec2.group-gone-after-delete", "window")],
        _ => &[],
    }
}

/// What AWS takes to change one resource of a type in place, from the call that starts it.
pub fn changing(type_name: &str) -> &'static [Window] {
    match type_name {
        "db_instance" => &[("rds.instance-lifecycle", "modifying")],
        "cloudfront_distribution" => &[("cloudfront.in-progress", "window")],
        "ecs_service" => &[("ecs.deployment-in-progress", "window")],
        "elasticache_redis" => &[("elasticache.group-lifecycle", "modifying")],
        // A NAT gateway added (`nat = "per_az"`, a repair) is `pending` before routes move to it.
        "vpc" => &[("ec2.nat-gateway-lifecycle", "pending")],
        _ => &[],
    }
}

/// What a resource of type `dependent` waits, after one of type `dependency` that it uses was made.
pub fn after_making(dependent: &str, dependency: &str) -> &'static [Window] {
    match (dependent, dependency) {
        ("ecs_service", "ecs_cluster") => &[("ecs.cluster-not-found-after-create", "window")],
        ("ecs_service", "iam_role") => &[("iam.role-not-assumable-after-create", "window")],
        ("ecs_service", "listener" | "listener_rule") => &[("ecs.target-group-without-load-balancer", "window")],
        ("listener", "certificate") => &[("elbv2.certificate-not-found", "window")],
        ("cloudfront_distribution", "certificate") => &[("cloudfront.certificate-not-visible", "window")],
        _ => &[],
    }
}

/// What a resource of type `used` waits, after one of type `user` that used it was removed.
pub fn after_removing(used: &str, user: &str) -> &'static [Window] {
    match (used, user) {
        // A load balancer's delete has waited out its interfaces already.
        ("security_group", "ecs_service" | "db_instance" | "elasticache_redis") => {
            &[("ec2.group-in-use-while-interfaces-linger", "window")]
        }
        ("target_group", "listener" | "listener_rule") => &[("elbv2.target-group-in-use", "window")],
        ("certificate", "listener" | "cloudfront_distribution") => &[("acm.certificate-in-use", "window")],
        _ => &[],
    }
}

/// The windows' lengths added up (AWS time).
pub fn sum(windows: &[Window]) -> Duration {
    windows.iter().map(|window| window_length(*window)).sum()
}

/// The window's length in the catalogue (AWS time).
pub fn window_length((rule, phase): Window) -> Duration {
    catalogue::spec(rule)
        .and_then(|spec| spec.phases.iter().find(|(name, _)| *name == phase))
        .map(|(_, length)| *length)
        .unwrap_or_else(|| panic!("the profile's catalogue has no phase `{phase}` of `{rule}`"))
}

/// Resources and what each depends on, as `provision graph` prints them.
#[derive(Debug, Default)]
pub struct Graph {
    dependencies: BTreeMap<String, BTreeSet<String>>,
}

impl Graph {
    /// Reads the DOT of `provision graph`: a `"node";` line per resource, `"a" -> "b";` when a uses b.
    pub fn from_dot(dot: &str) -> Graph {
        let mut graph = Graph::default();
        for line in dot.lines() {
            let quoted: Vec<&str> = line.split('"').skip(1).step_by(2).collect();
            match (quoted.as_slice(), line.contains("->")) {
                ([node], false) if line.trim_start().starts_with('"') => {
                    graph.dependencies.entry(node.to_string()).or_default();
                }
                ([from, to], true) => {
                    graph.dependencies.entry(to.to_string()).or_default();
                    graph.dependencies.entry(from.to_string()).or_default().insert(to.to_string());
                }
                _ => {}
            }
        }
        graph
    }

    /// The graph of a loaded stack, as `provision graph` would print it.
    pub fn from_stack(stack: &provision_core::stack::Stack) -> Graph {
        let mut graph = Graph::default();
        for node in stack.graph.nodes() {
            let dependencies = stack.graph.dependencies(node).map(|dependency| dependency.to_string()).collect();
            graph.dependencies.insert(node.to_string(), dependencies);
        }
        graph
    }

    pub fn len(&self) -> usize {
        self.dependencies.len()
    }

    /// What must be done before `node` can start, walking in `direction`.
    pub fn before(&self, node: &str, direction: Direction) -> Vec<&str> {
        match direction {
            Direction::Apply => self.dependencies.get(node).into_iter().flatten().map(String::as_str).collect(),
            Direction::Destroy => self
                .dependencies
                .iter()
                .filter(|(_, dependencies)| dependencies.contains(node))
                .map(|(user, _)| user.as_str())
                .collect(),
        }
    }
}

pub fn type_of(address: &str) -> &str {
    address.split('.').next().unwrap_or(address)
}

/// One resource on the way: when it can start at the earliest, and the waits that are its own.
#[derive(Debug, Clone)]
pub struct Timing {
    pub address: String,
    /// The earliest it can start (after what it waits for, and the windows after them).
    pub earliest_start: Duration,
    /// AWS's own time for it.
    pub own: Duration,
    /// The resource that set `earliest_start`, if any.
    pub after: Option<String>,
}

impl Timing {
    pub fn earliest_end(&self) -> Duration {
        self.earliest_start + self.own
    }
}

/// The critical path and every resource's earliest start, in AWS time.
#[derive(Debug)]
pub struct Bound {
    pub total: Duration,
    /// From the first resource of the critical path to its last.
    pub path: Vec<Timing>,
    pub timings: BTreeMap<String, Timing>,
    /// Every resource's own time added up: with N places, no order ends before work / N.
    pub work: Duration,
}

/// The longest path through `graph` in `direction`, each resource weighing AWS's time for it and
/// each edge the window a resource waits after the other; rules `enabled` says are off weigh nothing.
pub fn critical_path(graph: &Graph, direction: Direction, enabled: &dyn Fn(&str) -> bool) -> Bound {
    let weigh = |windows: &[Window]| -> Duration {
        windows.iter().filter(|(rule, _)| enabled(rule)).map(|window| window_length(*window)).sum()
    };
    let mut timings: BTreeMap<String, Timing> = BTreeMap::new();
    // Dependencies before dependents (or the reverse): repeat until every node is placed.
    let mut left: Vec<&String> = graph.dependencies.keys().collect();
    while !left.is_empty() {
        let before_count = left.len();
        left.retain(|node| {
            let before = graph.before(node, direction);
            if !before.iter().all(|other| timings.contains_key(*other)) {
                return true;
            }
            let node_type = type_of(node);
            let mut earliest = Duration::ZERO;
            let mut after = None;
            for other in before {
                let gap = match direction {
                    Direction::Apply => weigh(after_making(node_type, type_of(other))),
                    Direction::Destroy => weigh(after_removing(node_type, type_of(other))),
                };
                let ready = timings[other].earliest_end() + gap;
                if after.is_none() || ready > earliest {
                    earliest = ready;
                    after = Some(other.to_string());
                }
            }
            let own = match direction {
                Direction::Apply => weigh(making(node_type)),
                Direction::Destroy => weigh(removing(node_type)),
            };
            timings
                .insert(node.to_string(), Timing { address: node.to_string(), earliest_start: earliest, own, after });
            false
        });
        assert!(left.len() < before_count, "the graph has a cycle through {left:?}");
    }
    let last = timings.values().max_by_key(|timing| (timing.earliest_end(), std::cmp::Reverse(&timing.address)));
    let total = last.map(Timing::earliest_end).unwrap_or_default();
    let mut path = Vec::new();
    let mut at = last.cloned();
    while let Some(timing) = at {
        at = timing.after.as_ref().map(|previous| timings[previous].clone());
        path.push(timing);
    }
    path.reverse();
    let work = timings.values().map(|timing| timing.own).sum();
    Bound { total, path, timings, work }
}

/// `7 min`, `10 s`, `10 min 30 s`.
pub fn aws_time(duration: Duration) -> String {
    let seconds = duration.as_secs();
    match (seconds / 60, seconds % 60) {
        (0, s) => format!("{s} s"),
        (m, 0) => format!("{m} min"),
        (m, s) => format!("{m} min {s} s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOT: &str = r#"digraph provision {
  rankdir = "RL";
  node [shape = box];
  "db_instance.main";
  "ecs_cluster.main";
  "ecs_service.api";
  "security_group.db";
  "s3_bucket.logs";
  "ecs_service.api" -> "db_instance.main";
  "ecs_service.api" -> "ecs_cluster.main";
  "db_instance.main" -> "security_group.db";
}
"#;

    fn minutes(n: u64) -> Duration {
        Duration::from_secs(n * 60)
    }

    #[test]
    fn the_apply_bound_is_the_longest_chain_of_windows() {
        let graph = Graph::from_dot(DOT);
        assert_eq!(graph.len(), 5);
        let bound = critical_path(&graph, Direction::Apply, &|_| true);
        // The group's 10 s, the database's 5 + 2 minutes, the service's 3 minutes rolling out.
        assert_eq!(bound.total, Duration::from_secs(10) + minutes(7) + minutes(3));
        let path: Vec<&str> = bound.path.iter().map(|t| t.address.as_str()).collect();
        assert_eq!(path, ["security_group.db", "db_instance.main", "ecs_service.api"]);
        // The cluster is made at once; the service could go 10 s after it, but waits for the database.
        assert_eq!(bound.timings["ecs_service.api"].earliest_start, Duration::from_secs(10) + minutes(7));
        assert_eq!(bound.timings["s3_bucket.logs"].own, Duration::from_secs(10));
    }

    #[test]
    fn the_destroy_bound_counts_the_windows_after_a_user_is_gone() {
        let graph = Graph::from_dot(DOT);
        let bound = critical_path(&graph, Direction::Destroy, &|_| true);
        // Draining 3 minutes, the database deleting 4, its interfaces lingering 3 before the group goes,
        // and the group still listed for 10 s after its delete.
        assert_eq!(bound.total, minutes(3) + minutes(4) + minutes(3) + Duration::from_secs(10));
        assert_eq!(bound.timings["security_group.db"].earliest_start, minutes(10));
        assert_eq!(bound.path.last().unwrap().address, "security_group.db");
    }

    /// The executor orders work by what each driver says its type takes (`typical_durations`);
    /// those figures are the profile's windows that one action meets: its own, and the longest it
    /// waits right after something it uses was made (or, deleting, after something that used it
    /// went), as it does when it starts the moment that finished.
    #[test]
    fn every_drivers_typical_durations_are_the_profiles_windows() {
        let aws = provision_aws::AwsCloud::new(provision_aws::ConnectOptions::default());
        let drivers = provision_core::cloud::Cloud::drivers(&aws);
        let types = drivers.type_names();
        let longest = |gap: &dyn Fn(&str) -> &'static [Window]| -> Duration {
            types.iter().map(|other| sum(gap(other))).max().unwrap_or_default()
        };
        for driver in drivers.iter() {
            let type_name = driver.schema().type_name;
            let typical = driver.typical_durations();
            let create = sum(making(type_name)) + longest(&|other| after_making(type_name, other));
            let delete = sum(removing(type_name)) + longest(&|other| after_removing(type_name, other));
            assert_eq!(typical.create, create, "{type_name}: a create meets {create:?} of the profile's windows");
            assert_eq!(typical.update, sum(changing(type_name)), "{type_name}: an update");
            assert_eq!(typical.delete, delete, "{type_name}: a delete meets {delete:?} of the profile's windows");
        }
    }

    #[test]
    fn rules_turned_off_weigh_nothing() {
        let graph = Graph::from_dot(DOT);
        let bound = critical_path(&graph, Direction::Apply, &|rule| rule != "rds.instance-lifecycle");
        assert_eq!(bound.total, Duration::from_secs(10) + minutes(3));
    }
}
