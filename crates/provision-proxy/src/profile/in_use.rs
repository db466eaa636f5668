//! Objects in use during teardown: what uses what, learnt from the calls that make and change
//! things, so a delete can be refused as AWS refuses it — a security group while the network
//! interfaces of a deleted load balancer, service, database or cache linger, a group another
//! group's rule names, a target group or certificate a listener held moments ago, a bucket name
//! just given back, a subnet or VPC with interfaces or a NAT gateway still in it. A load
//! balancer's own interfaces (moto makes none) are shown to `DescribeNetworkInterfaces` by their
//! description, `ELB app/NAME/ID`, one per subnet, while it lives and while they linger.
//!
//! Only what was made through the proxy is known; anything else passes to the emulator as is.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use super::call::Call;
use super::http::Response;
use super::shapes::{ec2_result, error};
use super::xml::Element;
use super::{State, Turn};

/// Something with network interfaces: a load balancer, service, database, cache, endpoint or NAT
/// gateway.
#[derive(Debug, Default, Clone)]
struct Owner {
    groups: Vec<String>,
    subnets: Vec<String>,
    /// A NAT gateway's VPC and address.
    vpc: Option<String>,
    allocation: Option<String>,
    /// When its interfaces started to go (its delete, or the end of its deleting lifecycle).
    gone_at: Option<Duration>,
    /// Whether its interfaces outlive it (all but NAT gateways, whose `deleted` frees them).
    lingers: bool,
}

/// A listener or a listener rule: what it forwards to and which certificates it holds.
#[derive(Debug, Default, Clone)]
struct Listener {
    load_balancer: String,
    target_groups: Vec<String>,
    certificates: Vec<String>,
    created: Duration,
}

#[derive(Debug, Default)]
pub(crate) struct Usage {
    owners: HashMap<String, Owner>,
    /// Group → (rule id → the group that rule names).
    references: HashMap<String, BTreeMap<String, String>>,
    target_groups: HashSet<String>,
    listeners: HashMap<String, Listener>,
    /// When the last listener forwarding to a target group went.
    target_group_released: HashMap<String, Duration>,
    /// Distribution id → the certificate it holds.
    distribution_certificates: HashMap<String, String>,
    certificate_released: HashMap<String, Duration>,
    deleted_buckets: HashMap<String, Duration>,
    subnet_vpc: HashMap<String, String>,
    /// Subnet group (RDS or ElastiCache) → its subnets.
    subnet_groups: HashMap<String, Vec<String>>,
}

const LINGER: &str = "ec2.group-in-use-while-interfaces-linger";
const LOAD_BALANCER_INTERFACES: &str = "elbv2.load-balancer-interfaces-linger";

/// The interfaces ELB made for a load balancer, asked for by their description (`ELB app/NAME/ID`):
/// one per subnet while it lives and, after its delete, as long as they linger.
fn load_balancer_interfaces(turn: &mut Turn<'_>, usage: &Usage, call: &Call) -> Option<Response> {
    if !turn.on(LOAD_BALANCER_INTERFACES) {
        return None;
    }
    let description = (1..=10).find_map(|n| {
        (call.param(&format!("Filter.{n}.Name")) == Some("description"))
            .then(|| call.param(&format!("Filter.{n}.Value.1")))
            .flatten()
    })?;
    let resource = description.strip_prefix("ELB ")?;
    let suffix = format!(":loadbalancer/{resource}");
    let owner = usage.owners.iter().find(|(key, _)| key.starts_with("lb:") && key.ends_with(&suffix))?.1;
    let mut set = Element::new("networkInterfaceSet");
    if Usage::present(owner, turn) {
        let tail: String = resource.chars().rev().take(12).collect::<String>().chars().rev().collect();
        for (n, subnet) in owner.subnets.iter().enumerate() {
            let mut item = Element::new("item");
            item.push(Element::text_element("networkInterfaceId", &format!("eni-{tail}{n:02}")));
            item.push(Element::text_element("subnetId", subnet));
            item.push(Element::text_element("description", description));
            item.push(Element::text_element("requesterId", "amazon-elb"));
            item.push(Element::text_element("status", "in-use"));
            let mut groups = Element::new("groupSet");
            for group in &owner.groups {
                let mut pair = Element::new("item");
                pair.push(Element::text_element("groupId", group));
                groups.push(pair);
            }
            item.push(groups);
            set.push(item);
        }
        if owner.gone_at.is_some() {
            turn.meet(LOAD_BALANCER_INTERFACES);
        }
    }
    Some(ec2_result(call, vec![set]))
}

impl Usage {
    /// For a target group made through the proxy: since when a live listener forwards to it
    /// (`None`: none does). `None` for target groups the proxy never saw made.
    pub(crate) fn target_group_associated(&self, target_group: &str) -> Option<Option<Duration>> {
        if !self.target_groups.contains(target_group) {
            return None;
        }
        Some(
            self.listeners
                .values()
                .filter(|listener| listener.target_groups.iter().any(|t| t == target_group))
                .map(|listener| listener.created)
                .min(),
        )
    }

    /// Sets (or clears) the certificate a distribution holds.
    pub(crate) fn distribution_holds(&mut self, distribution: &str, certificate: Option<String>, now: Duration) {
        let before = match certificate {
            Some(certificate) => self.distribution_certificates.insert(distribution.to_string(), certificate.clone()),
            None => self.distribution_certificates.remove(distribution),
        };
        if let Some(released) = before {
            self.certificate_released.insert(released, now);
        }
    }

    /// Marks an owner of interfaces gone at `gone_at` (its delete, or the end of its deleting).
    pub(crate) fn owner_gone(&mut self, key: &str, gone_at: Duration) {
        if let Some(owner) = self.owners.get_mut(key) {
            owner.gone_at.get_or_insert(gone_at);
        }
    }

    fn present(owner: &Owner, turn: &Turn<'_>) -> bool {
        let linger = if owner.lingers && turn.on(LINGER) { turn.window(LINGER, "window") } else { Duration::ZERO };
        owner.gone_at.is_none_or(|gone| turn.now < gone + linger)
    }

    fn release_listener(&mut self, arn: &str, now: Duration) {
        if let Some(listener) = self.listeners.remove(arn) {
            for target_group in listener.target_groups {
                self.target_group_released.insert(target_group, now);
            }
            for certificate in listener.certificates {
                self.certificate_released.insert(certificate, now);
            }
        }
    }
}

fn dependency_violation(call: &Call, message: String) -> Option<Response> {
    Some(error(call, 400, "DependencyViolation", &message))
}

pub(crate) fn before(turn: &mut Turn<'_>, state: &mut State, call: &Call) -> Option<Response> {
    let usage = &state.usage;
    match (call.service.as_str(), call.operation.as_str()) {
        ("ec2", "DescribeNetworkInterfaces") => load_balancer_interfaces(turn, usage, call),
        ("ec2", "DeleteSecurityGroup") => {
            let group = call.param("GroupId")?;
            if turn.on(LINGER)
                && usage
                    .owners
                    .values()
                    .any(|owner| owner.groups.iter().any(|g| g == group) && Usage::present(owner, turn))
            {
                turn.meet(LINGER);
                return dependency_violation(call, format!("resource {group} has a dependent object"));
            }
            const REFERENCED: &str = "ec2.group-referenced-by-another";
            let referenced =
                usage.references.iter().any(|(other, rules)| other != group && rules.values().any(|g| g == group));
            if referenced && turn.on(REFERENCED) {
                turn.meet(REFERENCED);
                return dependency_violation(call, format!("resource {group} has a dependent object"));
            }
            None
        }
        ("ec2", "DeleteSubnet" | "DetachInternetGateway" | "DeleteVpc" | "ReleaseAddress") => {
            const ID: &str = "ec2.network-in-use";
            if !turn.on(ID) {
                return None;
            }
            let present: Vec<&Owner> = usage.owners.values().filter(|owner| Usage::present(owner, turn)).collect();
            let vpc_of = |owner: &Owner| {
                owner.vpc.clone().or_else(|| owner.subnets.iter().find_map(|s| usage.subnet_vpc.get(s).cloned()))
            };
            let answer = match call.operation.as_str() {
                "DeleteSubnet" => {
                    let subnet = call.param("SubnetId")?;
                    present.iter().any(|owner| owner.subnets.iter().any(|s| s == subnet)).then(|| {
                        error(
                            call,
                            400,
                            "DependencyViolation",
                            &format!("The subnet '{subnet}' has dependencies and cannot be deleted."),
                        )
                    })
                }
                "DetachInternetGateway" => {
                    let vpc = call.param("VpcId")?;
                    present.iter().any(|owner| owner.allocation.is_some() && vpc_of(owner).as_deref() == Some(vpc)).then(|| {
                        let message = format!(
                            "Network {vpc} has some mapped public address(es). Please unmap those public address(es) before detaching the gateway."
                        );
                        error(call, 400, "DependencyViolation", &message)
                    })
                }
                "DeleteVpc" => {
                    let vpc = call.param("VpcId")?;
                    present.iter().any(|owner| vpc_of(owner).as_deref() == Some(vpc)).then(|| {
                        error(
                            call,
                            400,
                            "DependencyViolation",
                            &format!("The vpc '{vpc}' has dependencies and cannot be deleted."),
                        )
                    })
                }
                _ => {
                    let allocation = call.param("AllocationId")?;
                    present.iter().any(|owner| owner.allocation.as_deref() == Some(allocation)).then(|| {
                        error(call, 400, "InvalidIPAddress.InUse", &format!("Address {allocation} is in use."))
                    })
                }
            };
            if answer.is_some() {
                turn.meet(ID);
            }
            answer
        }
        ("s3", "CreateBucket") => {
            const ID: &str = "s3.operation-aborted-on-recreate";
            let bucket = call.bucket_and_key().0;
            let deleted = usage.deleted_buckets.get(bucket)?;
            if !turn.on(ID) || turn.now >= *deleted + turn.window(ID, "window") {
                return None;
            }
            turn.meet(ID);
            Some(error(
                call,
                409,
                "OperationAborted",
                "A conflicting conditional operation is currently in progress against this resource. Please try again.",
            ))
        }
        ("elasticloadbalancing", "DeleteTargetGroup") => {
            const ID: &str = "elbv2.target-group-in-use";
            let target_group = call.param("TargetGroupArn")?;
            let released = usage.target_group_released.get(target_group)?;
            if !turn.on(ID) || turn.now >= *released + turn.window(ID, "window") {
                return None;
            }
            turn.meet(ID);
            let message = format!("Target group '{target_group}' is currently in use by a listener or a rule");
            Some(error(call, 400, "ResourceInUse", &message))
        }
        ("acm", "DeleteCertificate") => {
            const ID: &str = "acm.certificate-in-use";
            let certificate = call.json_str("CertificateArn")?;
            let held = usage.listeners.values().any(|l| l.certificates.iter().any(|c| c == certificate))
                || usage.distribution_certificates.values().any(|c| c == certificate);
            let recently = usage
                .certificate_released
                .get(certificate)
                .is_some_and(|at| turn.now < *at + turn.window(ID, "window"));
            if !turn.on(ID) || !(held || recently) {
                return None;
            }
            turn.meet(ID);
            Some(error(call, 400, "ResourceInUseException", &format!("Certificate {certificate} in use.")))
        }
        _ => None,
    }
}

/// The target groups and certificates a CreateListener/ModifyListener/CreateRule call names.
fn forwards(call: &Call) -> (Vec<String>, Vec<String>) {
    let named = |suffix: &str| -> Vec<String> {
        let mut values: Vec<String> = call.values_named(suffix).into_iter().filter(|v| !v.is_empty()).collect();
        values.sort();
        values.dedup();
        values
    };
    (named("TargetGroupArn"), named("CertificateArn"))
}

pub(crate) fn after(turn: &mut Turn<'_>, state: &mut State, call: &Call, response: &Response) {
    if !response.ok() {
        return;
    }
    let now = turn.now;
    let usage = &mut state.usage;
    let xml_text = |name: &str| response.xml().and_then(|root| root.texts_of(name).into_iter().next());
    match (call.service.as_str(), call.operation.as_str()) {
        ("ec2", "CreateSubnet") => {
            if let (Some(subnet), Some(vpc)) = (xml_text("subnetId"), xml_text("vpcId")) {
                usage.subnet_vpc.insert(subnet, vpc);
            }
        }
        ("ec2", "AuthorizeSecurityGroupIngress" | "AuthorizeSecurityGroupEgress") => {
            let (Some(group), Some(root)) = (call.param("GroupId"), response.xml()) else { return };
            let mut rules = Vec::new();
            root.visit(&mut |element| {
                if element.name == "item" {
                    if let (Some(rule), Some(named)) = (
                        element.child_text("securityGroupRuleId"),
                        element.find(&["referencedGroupInfo", "groupId"]).map(|e| e.text()),
                    ) {
                        rules.push((rule, named));
                    }
                }
            });
            if rules.is_empty() {
                // An answer without rule ids: key the references by the group they name.
                rules = referenced_groups(call).into_iter().map(|named| (format!("named:{named}"), named)).collect();
            }
            usage.references.entry(group.to_string()).or_default().extend(rules);
        }
        ("ec2", "RevokeSecurityGroupIngress" | "RevokeSecurityGroupEgress") => {
            let Some(group) = call.param("GroupId") else { return };
            let (rule_ids, named) = (call.list("SecurityGroupRuleId", ""), referenced_groups(call));
            if let Some(rules) = usage.references.get_mut(group) {
                rules.retain(|rule, target| !rule_ids.contains(rule) && !named.contains(target));
            }
        }
        ("ec2", "DeleteSecurityGroup") => {
            if let Some(group) = call.param("GroupId") {
                usage.references.remove(group);
            }
        }
        ("ec2", "CreateVpcEndpoint") => {
            let groups = call.list("SecurityGroupId", "");
            let subnets = call.list("SubnetId", "");
            if let Some(endpoint) = xml_text("vpcEndpointId").filter(|_| !subnets.is_empty()) {
                let owner = Owner { groups, subnets, lingers: true, ..Owner::default() };
                usage.owners.insert(format!("vpce:{endpoint}"), owner);
            }
        }
        ("ec2", "DeleteVpcEndpoints") => {
            for endpoint in call.list("VpcEndpointId", "") {
                usage.owner_gone(&format!("vpce:{endpoint}"), now);
            }
        }
        ("ec2", "CreateNatGateway") => {
            if let Some(nat) = xml_text("natGatewayId") {
                let subnets: Vec<String> = call.param("SubnetId").map(str::to_string).into_iter().collect();
                let vpc = xml_text("vpcId").or_else(|| subnets.first().and_then(|s| usage.subnet_vpc.get(s).cloned()));
                let allocation = call.param("AllocationId").map(str::to_string);
                usage.owners.insert(format!("nat:{nat}"), Owner { subnets, vpc, allocation, ..Owner::default() });
            }
        }
        ("ec2", "DeleteNatGateway") => {
            const NAT: &str = "ec2.nat-gateway-lifecycle";
            let deleting = if turn.on(NAT) { turn.window(NAT, "deleting") } else { Duration::ZERO };
            if let Some(nat) = call.param("NatGatewayId") {
                usage.owner_gone(&format!("nat:{nat}"), now + deleting);
            }
        }
        ("elasticloadbalancing", "CreateLoadBalancer") => {
            if let Some(arn) = xml_text("LoadBalancerArn") {
                let mut subnets = call.list("Subnets", "");
                subnets.extend(call.list("SubnetMappings", "SubnetId"));
                let owner =
                    Owner { groups: call.list("SecurityGroups", ""), subnets, lingers: true, ..Owner::default() };
                usage.owners.insert(format!("lb:{arn}"), owner);
            }
        }
        ("elasticloadbalancing", "SetSecurityGroups") => {
            if let Some(owner) =
                call.param("LoadBalancerArn").and_then(|arn| usage.owners.get_mut(&format!("lb:{arn}")))
            {
                owner.groups = call.list("SecurityGroups", "");
            }
        }
        ("elasticloadbalancing", "DeleteLoadBalancer") => {
            let Some(arn) = call.param("LoadBalancerArn") else { return };
            usage.owner_gone(&format!("lb:{arn}"), now);
            let listeners: Vec<String> =
                usage.listeners.iter().filter(|(_, l)| l.load_balancer == arn).map(|(key, _)| key.clone()).collect();
            for listener in listeners {
                usage.release_listener(&listener, now);
            }
        }
        ("elasticloadbalancing", "CreateTargetGroup") => {
            if let Some(arn) = xml_text("TargetGroupArn") {
                usage.target_groups.insert(arn);
            }
        }
        ("elasticloadbalancing", "CreateListener" | "CreateRule") => {
            let key = if call.operation == "CreateListener" { "ListenerArn" } else { "RuleArn" };
            let Some(arn) = xml_text(key) else { return };
            let load_balancer = call
                .param("LoadBalancerArn")
                .map(str::to_string)
                .or_else(|| {
                    call.param("ListenerArn").and_then(|l| usage.listeners.get(l)).map(|l| l.load_balancer.clone())
                })
                .unwrap_or_default();
            let (target_groups, certificates) = forwards(call);
            usage.listeners.insert(arn, Listener { load_balancer, target_groups, certificates, created: now });
        }
        ("elasticloadbalancing", "ModifyListener" | "ModifyRule" | "AddListenerCertificates") => {
            let key = if call.operation == "ModifyRule" { "RuleArn" } else { "ListenerArn" };
            let Some(arn) = call.param(key) else { return };
            let (target_groups, certificates) = forwards(call);
            let Some(listener) = usage.listeners.get_mut(arn) else { return };
            let mut released = Vec::new();
            if call.operation == "AddListenerCertificates" {
                listener.certificates.extend(certificates);
            } else {
                if call.form.iter().any(|(name, _)| name.starts_with("DefaultActions") || name.starts_with("Actions")) {
                    released = std::mem::replace(&mut listener.target_groups, target_groups);
                    released.retain(|t| !listener.target_groups.contains(t));
                }
                if call.form.iter().any(|(name, _)| name.starts_with("Certificates")) {
                    let before = std::mem::replace(&mut listener.certificates, certificates);
                    for certificate in before.into_iter().filter(|c| !listener.certificates.contains(c)) {
                        usage.certificate_released.insert(certificate, now);
                    }
                }
            }
            for target_group in released {
                usage.target_group_released.insert(target_group, now);
            }
        }
        ("elasticloadbalancing", "DeleteListener" | "DeleteRule") => {
            let key = if call.operation == "DeleteListener" { "ListenerArn" } else { "RuleArn" };
            if let Some(arn) = call.param(key) {
                usage.release_listener(arn, now);
            }
        }
        ("ecs", "CreateService" | "UpdateService") => {
            let answer = response.json().unwrap_or_default();
            let Some(arn) = answer.pointer("/service/serviceArn").and_then(|v| v.as_str()) else { return };
            let Some(network) = call.json.pointer("/networkConfiguration/awsvpcConfiguration") else { return };
            let strings = |key: &str| -> Vec<String> {
                network
                    .get(key)
                    .and_then(|v| v.as_array())
                    .into_iter()
                    .flatten()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            };
            let owner = Owner {
                groups: strings("securityGroups"),
                subnets: strings("subnets"),
                lingers: true,
                ..Owner::default()
            };
            let entry = usage.owners.entry(format!("svc:{arn}")).or_default();
            if call.operation == "CreateService" && entry.gone_at.is_some() {
                // A service made again under a deleted one's name (and ARN): a new owner, whose
                // interfaces go from its own delete, not from the old one's.
                *entry = Owner::default();
            }
            entry.groups.extend(owner.groups);
            entry.subnets.extend(owner.subnets);
            entry.lingers = true;
        }
        ("ecs", "DeleteService") => {
            const DRAINING: &str = "ecs.service-draining";
            let drain = if turn.on(DRAINING) { turn.window(DRAINING, "window") } else { Duration::ZERO };
            let answer = response.json().unwrap_or_default();
            if let Some(arn) = answer.pointer("/service/serviceArn").and_then(|v| v.as_str()) {
                usage.owner_gone(&format!("svc:{arn}"), now + drain);
            }
        }
        ("rds", "CreateDBSubnetGroup") | ("elasticache", "CreateCacheSubnetGroup") => {
            let name = call.param("DBSubnetGroupName").or(call.param("CacheSubnetGroupName"));
            if let Some(name) = name {
                usage.subnet_groups.insert(format!("{}:{name}", call.service), call.list("SubnetIds", ""));
            }
        }
        ("rds", "CreateDBInstance") => {
            let Some(id) = call.param("DBInstanceIdentifier") else { return };
            let subnets = response.xml().map(|root| root.texts_of("SubnetIdentifier")).unwrap_or_default();
            let owner =
                Owner { groups: call.list("VpcSecurityGroupIds", ""), subnets, lingers: true, ..Owner::default() };
            usage.owners.insert(format!("db:{id}"), owner);
        }
        ("rds", "ModifyDBInstance") => {
            let groups = call.list("VpcSecurityGroupIds", "");
            let owner = call.param("DBInstanceIdentifier").and_then(|id| usage.owners.get_mut(&format!("db:{id}")));
            if let (Some(owner), false) = (owner, groups.is_empty()) {
                owner.groups.extend(groups);
            }
        }
        ("rds", "DeleteDBInstance") => {
            const LIFECYCLE: &str = "rds.instance-lifecycle";
            let deleting = if turn.on(LIFECYCLE) { turn.window(LIFECYCLE, "deleting") } else { Duration::ZERO };
            if let Some(id) = call.param("DBInstanceIdentifier") {
                usage.owner_gone(&format!("db:{id}"), now + deleting);
            }
        }
        ("elasticache", "CreateReplicationGroup") => {
            let Some(id) = call.param("ReplicationGroupId") else { return };
            let subnets = call
                .param("CacheSubnetGroupName")
                .and_then(|name| usage.subnet_groups.get(&format!("elasticache:{name}")).cloned())
                .unwrap_or_default();
            let owner = Owner { groups: call.list("SecurityGroupIds", ""), subnets, lingers: true, ..Owner::default() };
            usage.owners.insert(format!("cache:{id}"), owner);
        }
        ("elasticache", "ModifyReplicationGroup") => {
            let groups = call.list("SecurityGroupIds", "");
            let owner = call.param("ReplicationGroupId").and_then(|id| usage.owners.get_mut(&format!("cache:{id}")));
            if let (Some(owner), false) = (owner, groups.is_empty()) {
                owner.groups.extend(groups);
            }
        }
        ("elasticache", "DeleteReplicationGroup") => {
            const LIFECYCLE: &str = "elasticache.group-lifecycle";
            let deleting = if turn.on(LIFECYCLE) { turn.window(LIFECYCLE, "deleting") } else { Duration::ZERO };
            if let Some(id) = call.param("ReplicationGroupId") {
                usage.owner_gone(&format!("cache:{id}"), now + deleting);
            }
        }
        ("s3", "DeleteBucket") => {
            usage.deleted_buckets.insert(call.bucket_and_key().0.to_string(), now);
        }
        _ => {}
    }
}

/// The groups the rules of an Authorize/Revoke call name (`IpPermissions.N.Groups.M.GroupId`).
fn referenced_groups(call: &Call) -> Vec<String> {
    call.form
        .iter()
        .filter(|(name, _)| name.starts_with("IpPermissions.") && name.ends_with(".GroupId"))
        .map(|(_, value)| value.clone())
        .collect()
}
