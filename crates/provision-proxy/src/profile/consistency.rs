//! Eventual consistency right after a create: for a window after the emulator made something,
//! calls that name it are answered as AWS answers while the new object has not reached every
//! server yet. Every matching call fails while the window is open (the clock decides, see the
//! module docs of `profile`).

use std::collections::HashMap;
use std::time::Duration;

use super::call::{Call, Wire};
use super::http::Response;
use super::shapes::error;
use super::{State, Turn};

#[derive(Debug, Default)]
pub(crate) struct Fresh {
    /// EC2 ids made through the proxy (`sg-`, `vpc-`, `subnet-`, `rtb-`, `igw-`, `nat-`, `eipalloc-`).
    ec2: HashMap<String, Duration>,
    buckets: HashMap<String, Duration>,
    /// By name and by ARN.
    clusters: HashMap<String, Duration>,
    /// Role ARNs.
    roles: HashMap<String, Duration>,
    /// Task definition (ARN, `family:revision`, `family`) → the roles it names.
    task_definition_roles: HashMap<String, Vec<String>>,
    /// Roles with a policy call in flight, since when (a lost call ends its claim after a minute).
    role_calls: HashMap<String, Duration>,
}

const ROLE_POLICY_CALLS: [&str; 4] = ["AttachRolePolicy", "DetachRolePolicy", "PutRolePolicy", "DeleteRolePolicy"];

fn open(turn: &Turn<'_>, id: &'static str, since: Option<&Duration>) -> bool {
    turn.on(id) && since.is_some_and(|since| turn.now < *since + turn.window(id, "window"))
}

pub(crate) fn before(turn: &mut Turn<'_>, state: &mut State, call: &Call) -> Option<Response> {
    let fresh = &mut state.consistency;
    match (call.service.as_str(), call.operation.as_str()) {
        ("ec2", operation) => {
            const GROUP_CALLS: [&str; 7] = [
                "AuthorizeSecurityGroupIngress",
                "AuthorizeSecurityGroupEgress",
                "RevokeSecurityGroupIngress",
                "RevokeSecurityGroupEgress",
                "CreateTags",
                "DescribeSecurityGroups",
                "UpdateSecurityGroupRuleDescriptionsIngress",
            ];
            let named: Vec<&String> = call
                .form
                .iter()
                // A tag's value is a string to EC2, whatever id it spells (`provision:vpc = vpc-…`).
                .filter(|(name, _)| {
                    name != "Action"
                        && !name.starts_with("Filter")
                        && !name.starts_with("TagSpecification")
                        && !name.starts_with("Tag.")
                })
                .map(|(_, value)| value)
                .collect();
            if GROUP_CALLS.contains(&operation) {
                const ID: &str = "ec2.group-not-found-after-create";
                if let Some(group) = named.iter().find(|v| v.starts_with("sg-") && open(turn, ID, fresh.ec2.get(**v))) {
                    turn.meet(ID);
                    let message = format!("The security group '{group}' does not exist");
                    return Some(error(call, 400, "InvalidGroup.NotFound", &message));
                }
            }
            const ID: &str = "ec2.network-not-found-after-create";
            let stale = named.iter().find(|v| network_code(v).is_some() && open(turn, ID, fresh.ec2.get(**v)))?;
            let (code, what) = network_code(stale)?;
            turn.meet(ID);
            Some(error(call, 400, code, &format!("The {what} ID '{stale}' does not exist")))
        }
        ("s3", operation)
            if call.method == "PUT"
                && (operation.starts_with("PutBucket")
                    || operation == "PutPublicAccessBlock"
                    || operation == "PutObject") =>
        {
            const ID: &str = "s3.no-such-bucket-after-create";
            let (bucket, _) = call.bucket_and_key();
            if !open(turn, ID, fresh.buckets.get(bucket)) {
                return None;
            }
            turn.meet(ID);
            let mut answer = error(call, 404, "NoSuchBucket", "The specified bucket does not exist");
            answer.body = String::from_utf8_lossy(&answer.body)
                .replace("</Message>", &format!("</Message><BucketName>{bucket}</BucketName>"))
                .into_bytes();
            Some(answer)
        }
        ("ecs", "CreateService" | "UpdateService" | "RunTask") => {
            if call.operation == "CreateService" {
                const ID: &str = "ecs.cluster-not-found-after-create";
                if open(turn, ID, fresh.clusters.get(call.json_str("cluster").unwrap_or("default"))) {
                    turn.meet(ID);
                    return Some(error(call, 400, "ClusterNotFoundException", "Cluster not found."));
                }
            }
            const ROLE: &str = "iam.role-not-assumable-after-create";
            let roles = call.json_str("taskDefinition").and_then(|t| fresh.task_definition_roles.get(t));
            if let Some(role) = roles.into_iter().flatten().find(|role| open(turn, ROLE, fresh.roles.get(*role))) {
                turn.meet(ROLE);
                let message = format!(
                    "ECS was unable to assume the role '{role}' that was provided for this task. Please verify that the role being passed has the proper trust relationship and permissions and that your IAM user has permissions to pass this role."
                );
                return Some(error(call, 400, "InvalidParameterException", &message));
            }
            if call.operation == "RunTask" {
                return None;
            }
            const TARGET: &str = "ecs.target-group-without-load-balancer";
            let load_balancers = call.json.get("loadBalancers").and_then(|l| l.as_array()).cloned().unwrap_or_default();
            for target_group in load_balancers.iter().filter_map(|lb| lb.get("targetGroupArn")?.as_str()) {
                let Some(associated) = state.usage.target_group_associated(target_group) else { continue };
                let associated_long_enough =
                    associated.is_some_and(|since| turn.now >= since + turn.window(TARGET, "window"));
                if turn.on(TARGET) && !associated_long_enough {
                    turn.meet(TARGET);
                    let message = format!(
                        "The target group with targetGroupArn {target_group} does not have an associated load balancer."
                    );
                    return Some(error(call, 400, "InvalidParameterException", &message));
                }
            }
            None
        }
        ("iam", operation) if ROLE_POLICY_CALLS.contains(&operation) => {
            const ID: &str = "iam.concurrent-modification";
            let role = call.param("RoleName")?.to_string();
            let busy = fresh.role_calls.get(&role).is_some_and(|since| turn.now < *since + Duration::from_secs(60));
            if busy && turn.on(ID) {
                turn.meet(ID);
                let message = format!(
                    "Cannot perform the operation on role {role} because another operation on it is in progress."
                );
                return Some(error(call, 409, "ConcurrentModification", &message));
            }
            fresh.role_calls.insert(role, turn.now);
            None
        }
        _ => None,
    }
}

/// `Invalid…ID.NotFound` and the noun AWS's message uses, by id prefix.
fn network_code(id: &str) -> Option<(&'static str, &'static str)> {
    let (prefix, _) = id.split_once('-')?;
    Some(match prefix {
        "vpc" => ("InvalidVpcID.NotFound", "vpc"),
        "subnet" => ("InvalidSubnetID.NotFound", "subnet"),
        "rtb" => ("InvalidRouteTableID.NotFound", "routeTable"),
        "igw" => ("InvalidInternetGatewayID.NotFound", "internetGateway"),
        "nat" => ("InvalidNatGatewayID.NotFound", "natGateway"),
        "eipalloc" => ("InvalidAllocationID.NotFound", "allocation"),
        _ => return None,
    })
}

pub(crate) fn after(turn: &mut Turn<'_>, state: &mut State, call: &Call, response: &Response) {
    let fresh = &mut state.consistency;
    if call.service == "iam" && ROLE_POLICY_CALLS.contains(&call.operation.as_str()) {
        if let Some(role) = call.param("RoleName") {
            fresh.role_calls.remove(role);
        }
    }
    if !response.ok() {
        return;
    }
    let now = turn.now;
    match (call.wire, call.service.as_str(), call.operation.as_str()) {
        (Wire::Ec2, _, operation) => {
            let field = match operation {
                "CreateSecurityGroup" => "groupId",
                "CreateVpc" => "vpcId",
                "CreateSubnet" => "subnetId",
                "CreateRouteTable" => "routeTableId",
                "CreateInternetGateway" => "internetGatewayId",
                "CreateNatGateway" => "natGatewayId",
                "AllocateAddress" => "allocationId",
                _ => return,
            };
            if let Some(id) = response.xml().and_then(|root| root.texts_of(field).into_iter().next()) {
                fresh.ec2.insert(id, now);
            }
        }
        (_, "s3", "CreateBucket") => {
            fresh.buckets.insert(call.bucket_and_key().0.to_string(), now);
        }
        (_, "s3", "DeleteBucket") => {
            fresh.buckets.remove(call.bucket_and_key().0);
        }
        (_, "ecs", "CreateCluster") => {
            let answer = response.json().unwrap_or_default();
            for key in ["clusterName", "clusterArn"] {
                if let Some(value) = answer.pointer(&format!("/cluster/{key}")).and_then(|v| v.as_str()) {
                    fresh.clusters.insert(value.to_string(), now);
                }
            }
        }
        (_, "ecs", "RegisterTaskDefinition" | "DescribeTaskDefinition") => {
            let answer = response.json().unwrap_or_default();
            let definition = &answer["taskDefinition"];
            let roles: Vec<String> = ["executionRoleArn", "taskRoleArn"]
                .iter()
                .filter_map(|key| definition.get(*key)?.as_str().map(str::to_string))
                .collect();
            let (Some(arn), Some(family)) = (definition["taskDefinitionArn"].as_str(), definition["family"].as_str())
            else {
                return;
            };
            let revision = definition["revision"].as_i64().unwrap_or_default();
            for key in [arn.to_string(), format!("{family}:{revision}"), family.to_string()] {
                fresh.task_definition_roles.insert(key, roles.clone());
            }
        }
        (_, "iam", "CreateRole") => {
            if let Some(arn) = response.xml().and_then(|root| root.texts_of("Arn").into_iter().next()) {
                fresh.roles.insert(arn, now);
            }
        }
        _ => {}
    }
}
