//! `provision import --from-cloudformation STACK`: a CloudFormation stack (an AWS Copilot
//! environment or service is one) as an [`Inventory`]. `ListStackResources` gives each resource's
//! type and physical id, which is what `import` takes; the template tells which resources belong
//! together (a task definition to the service that runs it, an ingress rule to its group), by the
//! `Ref` and `Fn::GetAtt` between them. The stack is only read.
//!
//! A network the stacks make is judged as a Terraform state's is (`network_fit.rs`, through
//! `network.rs`): laid out as provision's `vpc` type lays it out, it moves in as one `[vpc]` with
//! every part folded in; otherwise it stays with CloudFormation and the report says why.

mod network;

use std::collections::BTreeSet;

use serde_json::{json, Value as Json};

use provision_aws::cloudformation::StackResource;

use super::inventory::{Found, Inventory, Names};
use super::network_fit;

/// One stack as read: its name, resources and template.
pub struct StackRecords {
    pub name: String,
    pub resources: Vec<StackResource>,
    pub template: Json,
}

/// CloudFormation types that are provision resources.
fn provision_type(resource_type: &str) -> Option<&'static str> {
    Some(match resource_type {
        "AWS::S3::Bucket" => "s3_bucket",
        "AWS::CloudFront::Distribution" => "cloudfront_distribution",
        "AWS::EC2::SecurityGroup" => "security_group",
        "AWS::ElasticLoadBalancingV2::LoadBalancer" => "load_balancer",
        "AWS::ElasticLoadBalancingV2::TargetGroup" => "target_group",
        "AWS::ElasticLoadBalancingV2::Listener" => "listener",
        "AWS::ElasticLoadBalancingV2::ListenerRule" => "listener_rule",
        "AWS::ECR::Repository" => "ecr_repository",
        "AWS::IAM::Role" => "iam_role",
        "AWS::ECS::Cluster" => "ecs_cluster",
        "AWS::ECS::Service" => "ecs_service",
        "AWS::RDS::DBSubnetGroup" => "db_subnet_group",
        "AWS::RDS::DBInstance" => "db_instance",
        "AWS::ElastiCache::ReplicationGroup" => "elasticache_redis",
        "AWS::Logs::LogGroup" => "log_group",
        "AWS::SecretsManager::Secret" => "secret",
        "AWS::Route53::HostedZone" => "dns_zone",
        "AWS::CertificateManager::Certificate" => "certificate",
        "AWS::Route53::RecordSet" => "dns_record",
        _ => return None,
    })
}

/// Sub-resources: the CloudFormation types their parent may have, and a note for the user.
fn part(resource_type: &str) -> Option<(&'static [&'static str], Option<&'static str>)> {
    Some(match resource_type {
        "AWS::S3::BucketPolicy" => (
            &["AWS::S3::Bucket"],
            Some("the bucket policy stays as it is: provision edits only the statement a distribution of the stack needs"),
        ),
        "AWS::CloudFront::OriginAccessControl" => (&["AWS::CloudFront::Distribution"], None),
        "AWS::EC2::SecurityGroupIngress" => (&["AWS::EC2::SecurityGroup"], None),
        "AWS::EC2::SecurityGroupEgress" => (
            &["AWS::EC2::SecurityGroup"],
            Some("provision manages ingress only: this egress rule stays as it is"),
        ),
        "AWS::ECS::TaskDefinition" => (
            &["AWS::ECS::Service"],
            Some("the container, CPU, memory and roles are the service's fields; a change registers a revision in the family named after the service"),
        ),
        "AWS::IAM::Policy" => (
            &["AWS::IAM::Role"],
            Some("this inline policy stays on the role as it is: provision manages only its own inline policy (`inline_policy`)"),
        ),
        "AWS::ElastiCache::SubnetGroup" => (&["AWS::ElastiCache::ReplicationGroup"], None),
        _ => return None,
    })
}

fn other_reason(resource_type: &str) -> String {
    match resource_type {
        t if network::terraform_type(t, &Json::Null).is_some() => {
            super::network::KEPT.replace("{tool}", "CloudFormation")
        }
        "AWS::CloudFormation::Stack" => "a nested stack: move it in with its own `--from-cloudformation NAME`".into(),
        "AWS::CloudFormation::WaitConditionHandle" | "AWS::CloudFormation::WaitCondition" => {
            "CloudFormation's own bookkeeping: nothing in AWS to adopt".into()
        }
        t if t.starts_with("AWS::ServiceDiscovery::") => {
            "provision has no service discovery (Cloud Map) type: it stays in AWS as it is".into()
        }
        t if t.starts_with("AWS::ApplicationAutoScaling::") => {
            "provision has no auto scaling type: scaling stays as it is (the service's `desired_count` is what it set last)".into()
        }
        t if t.starts_with("Custom::") || t == "AWS::CloudFormation::CustomResource" => {
            "a custom resource (a function CloudFormation calls): nothing in AWS to adopt as such".into()
        }
        other => format!("provision has no resource type for `{other}`: it stays in AWS as it is"),
    }
}

/// Maps the stacks; `region` is the one they are in (what `AWS::Region` stands for).
pub fn inventory(stacks: &[StackRecords], region: &str) -> Result<Inventory, String> {
    let mut inventory = Inventory::default();
    let mut names = Names::default();
    let several = stacks.len() > 1;
    let folded_network = judge_network(stacks, region, &mut inventory, &mut names);
    for stack in stacks {
        if stack.resources.is_empty() {
            return Err(format!("CloudFormation stack `{}` has no resources", stack.name));
        }
        let template = &stack.template["Resources"];
        let values = network::Values::of(stack, region);
        let origin = |logical: &str| if several { format!("{}/{logical}", stack.name) } else { logical.to_string() };
        let mut parents: Vec<&StackResource> = Vec::new();
        let mut parts: Vec<&StackResource> = Vec::new();
        for resource in &stack.resources {
            let live = resource.status.ends_with("_COMPLETE") && !resource.status.starts_with("DELETE");
            if !live || resource.physical_id.is_empty() {
                inventory.unmapped(origin(&resource.logical_id), format!("its status is `{}`", resource.status));
                continue;
            }
            let properties = &template[&resource.logical_id]["Properties"];
            if let Some(provision_type) = provision_type(&resource.resource_type) {
                match check(&resource.resource_type, properties) {
                    Err(reason) => inventory.unmapped(origin(&resource.logical_id), reason),
                    Ok(()) => match import_id(resource, properties, &values) {
                        None => inventory.unmapped(
                            origin(&resource.logical_id),
                            "the template does not tell its hosted zone and type as plain values".to_string(),
                        ),
                        Some(id) => {
                            let address = names.address(provision_type, &[&snake(&resource.logical_id)]);
                            let mut found = Found::new(address, id, origin(&resource.logical_id));
                            found.fields = fields(provision_type, properties, &values);
                            inventory.resources.push(found);
                            parents.push(resource);
                        }
                    },
                }
            } else if folded_network && network::terraform_type(&resource.resource_type, properties).is_some() {
                continue;
            } else if part(&resource.resource_type).is_some() {
                parts.push(resource);
            } else {
                inventory.unmapped(origin(&resource.logical_id), other_reason(&resource.resource_type));
            }
        }
        for resource in parts {
            let (parent_types, note) = part(&resource.resource_type).expect("a part");
            let mine = references(&template[&resource.logical_id]);
            let parent = parents.iter().find(|parent| {
                parent_types.contains(&parent.resource_type.as_str())
                    && (mine.contains(parent.logical_id.as_str())
                        || references(&template[&parent.logical_id]).contains(resource.logical_id.as_str()))
            });
            let Some(parent) = parent else {
                inventory.unmapped(origin(&resource.logical_id), "the resource it belongs to is not adopted");
                continue;
            };
            let Some(found) = inventory.by_origin_mut(&origin(&parent.logical_id)) else { continue };
            found.folded.push(origin(&resource.logical_id));
            let address = found.address.clone();
            if let Some(note) = note {
                inventory.note(&address, format!("`{}`: {note}", origin(&resource.logical_id)));
            }
        }
    }
    Ok(inventory)
}

/// Judges the stacks' network: one that fits becomes the inventory's `vpc` with every part folded
/// in (and `true`); one that does not leaves the reason. A stack with no VPC has no network to
/// judge: its network parts, if any, are listed as kept.
fn judge_network(stacks: &[StackRecords], region: &str, inventory: &mut Inventory, names: &mut Names) -> bool {
    let has_vpc = stacks.iter().flat_map(|s| &s.resources).any(|r| r.resource_type == "AWS::EC2::VPC");
    if !has_vpc {
        return false;
    }
    let records = match network::records(stacks, region) {
        Ok(records) => records,
        Err(why) => {
            inventory.network_kept = Some(why);
            return false;
        }
    };
    match network_fit::judge(&records) {
        network_fit::Network::Fits(fit) => {
            let address = names.address("vpc", &[&network_fit::vpc_name(fit.vpc)]);
            let mut found = Found::new(address, fit.vpc.text("id").unwrap_or_default(), &fit.vpc.address);
            found.fields = fit.fields.clone();
            found.folded = fit.parts.iter().map(|part| part.address.clone()).collect();
            found.unless_repaired = Some(super::network::KEPT.replace("{tool}", "CloudFormation"));
            inventory.resources.push(found);
            true
        }
        network_fit::Network::Kept(why) => {
            inventory.network_kept = Some(why);
            false
        }
        network_fit::Network::None => false,
    }
}

/// Shapes of a provision type that its resource cannot hold.
fn check(resource_type: &str, properties: &Json) -> Result<(), String> {
    let text = |name: &str| properties[name].as_str();
    match resource_type {
        "AWS::ElasticLoadBalancingV2::LoadBalancer" => match text("Type").unwrap_or("application") {
            "application" => Ok(()),
            other => {
                Err(format!("a `{other}` load balancer; provision's `load_balancer` is an application load balancer"))
            }
        },
        "AWS::ElasticLoadBalancingV2::TargetGroup" => match text("TargetType").unwrap_or("instance") {
            "ip" => Ok(()),
            other => Err(format!("target type `{other}`; provision's `target_group` holds IP targets (Fargate tasks)")),
        },
        "AWS::ElasticLoadBalancingV2::ListenerRule" => {
            let actions = properties["Actions"].as_array().map(Vec::as_slice).unwrap_or_default();
            if !matches!(actions, [action] if action["Type"].as_str() == Some("forward")) {
                return Err(
                    "its actions are not one forward; provision's `listener_rule` forwards to a target group".into()
                );
            }
            let conditions = properties["Conditions"].as_array().map(Vec::as_slice).unwrap_or_default();
            match conditions
                .iter()
                .filter_map(|c| c["Field"].as_str())
                .find(|field| !matches!(*field, "path-pattern" | "host-header" | "http-request-method"))
            {
                Some(field) => {
                    Err(format!("a `{field}` condition; provision's `listener_rule` matches paths, hosts and methods"))
                }
                None => Ok(()),
            }
        }
        "AWS::ECS::Service" => match text("LaunchType") {
            Some(launch) if launch != "FARGATE" => {
                Err(format!("launch type `{launch}`; provision's `ecs_service` runs on Fargate"))
            }
            _ => Ok(()),
        },
        _ => Ok(()),
    }
}

/// The id `import` takes: the physical id, except for a record set, whose physical id is only
/// its name (its zone and type come from the template).
fn import_id(resource: &StackResource, properties: &Json, values: &network::Values) -> Option<String> {
    if resource.resource_type != "AWS::Route53::RecordSet" {
        return Some(resource.physical_id.clone());
    }
    let zone = values.text(&properties["HostedZoneId"])?;
    let record_type = properties["Type"].as_str()?;
    Some(format!("{zone}/{}/{record_type}", resource.physical_id.trim_end_matches('.')))
}

fn fields(provision_type: &str, properties: &Json, values: &network::Values) -> serde_json::Map<String, Json> {
    let mut fields = serde_json::Map::new();
    if provision_type == "certificate" {
        let zone = properties["DomainValidationOptions"]
            .as_array()
            .and_then(|options| options.iter().find_map(|option| values.text(&option["HostedZoneId"])));
        if let Some(zone) = zone {
            fields.insert("zone".into(), json!(zone));
        }
    }
    fields
}

/// The logical ids a template entry names through `Ref`, `Fn::GetAtt` or `${…}` in `Fn::Sub`.
fn references(value: &Json) -> BTreeSet<&str> {
    let mut found = BTreeSet::new();
    collect(value, &mut found);
    found
}

fn collect<'a>(value: &'a Json, found: &mut BTreeSet<&'a str>) {
    match value {
        Json::Object(map) => {
            for (key, inner) in map {
                match (key.as_str(), inner) {
                    ("Ref", Json::String(target)) => {
                        found.insert(target);
                    }
                    ("Fn::GetAtt", Json::Array(parts)) => {
                        found.extend(parts.first().and_then(Json::as_str));
                    }
                    ("Fn::GetAtt", Json::String(text)) => {
                        found.insert(text.split('.').next().unwrap_or(text));
                    }
                    ("Fn::Sub", sub) => {
                        let text = sub.as_str().or_else(|| sub.get(0).and_then(Json::as_str)).unwrap_or_default();
                        for piece in text.split("${").skip(1) {
                            let name = piece.split('}').next().unwrap_or_default();
                            found.insert(name.split('.').next().unwrap_or(name));
                        }
                        collect(sub, found);
                    }
                    _ => collect(inner, found),
                }
            }
        }
        Json::Array(items) => items.iter().for_each(|item| collect(item, found)),
        _ => {}
    }
}

/// `PublicLoadBalancer` → `public_load_balancer`, `HTTPListener` → `http_listener`.
fn snake(logical_id: &str) -> String {
    let chars: Vec<char> = logical_id.chars().collect();
    let mut out = String::new();
    for (i, c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            let previous = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
            if previous.is_ascii_lowercase()
                || previous.is_ascii_digit()
                || (previous.is_ascii_uppercase() && next_lower)
            {
                out.push('_');
            }
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resource(logical: &str, kind: &str, physical: &str) -> StackResource {
        StackResource {
            logical_id: logical.into(),
            physical_id: physical.into(),
            resource_type: kind.into(),
            status: "CREATE_COMPLETE".into(),
        }
    }

    #[test]
    fn logical_ids_become_snake_case_names() {
        assert_eq!(snake("PublicLoadBalancer"), "public_load_balancer");
        assert_eq!(snake("HTTPListener"), "http_listener");
        assert_eq!(snake("Subnet1"), "subnet1");
        assert_eq!(snake("ECSCluster"), "ecs_cluster");
    }

    #[test]
    fn a_copilot_service_stack_maps_with_its_parts_folded() {
        let template = json!({"Resources": {
            "Service": {"Type": "AWS::ECS::Service", "Properties": {"TaskDefinition": {"Ref": "TaskDefinition"}, "LaunchType": "FARGATE"}},
            "TaskDefinition": {"Type": "AWS::ECS::TaskDefinition", "Properties": {"ExecutionRoleArn": {"Fn::GetAtt": ["ExecutionRole", "Arn"]}}},
            "ExecutionRole": {"Type": "AWS::IAM::Role", "Properties": {}},
            "TargetGroup": {"Type": "AWS::ElasticLoadBalancingV2::TargetGroup", "Properties": {"TargetType": "ip"}},
            "HTTPListenerRule": {"Type": "AWS::ElasticLoadBalancingV2::ListenerRule", "Properties": {
                "ListenerArn": {"Ref": "ListenerArn"}, "Priority": 100,
                "Conditions": [{"Field": "path-pattern", "Values": ["/*"]}],
                "Actions": [{"TargetGroupArn": {"Ref": "TargetGroup"}, "Type": "forward"}]}},
            "RedirectRule": {"Type": "AWS::ElasticLoadBalancingV2::ListenerRule", "Properties": {
                "Conditions": [{"Field": "host-header", "Values": ["old.example.com"]}],
                "Actions": [{"Type": "redirect", "RedirectConfig": {"Host": "example.com", "StatusCode": "HTTP_301"}}]}},
            "SourceRule": {"Type": "AWS::ElasticLoadBalancingV2::ListenerRule", "Properties": {
                "Conditions": [{"Field": "source-ip", "SourceIpConfig": {"Values": ["10.0.0.0/8"]}}],
                "Actions": [{"TargetGroupArn": {"Ref": "TargetGroup"}, "Type": "forward"}]}},
            "LogGroup": {"Type": "AWS::Logs::LogGroup", "Properties": {}},
            "EnvControllerAction": {"Type": "Custom::EnvControllerFunction", "Properties": {}}
        }});
        let stack = StackRecords {
            name: "app-test-api".into(),
            resources: vec![
                resource("Service", "AWS::ECS::Service", "arn:aws:ecs:us-east-1:1:service/c/api"),
                resource("TaskDefinition", "AWS::ECS::TaskDefinition", "arn:aws:ecs:us-east-1:1:task-definition/api:1"),
                resource("ExecutionRole", "AWS::IAM::Role", "app-test-api-ExecutionRole-1"),
                resource("TargetGroup", "AWS::ElasticLoadBalancingV2::TargetGroup", "arn:tg"),
                resource("HTTPListenerRule", "AWS::ElasticLoadBalancingV2::ListenerRule", "arn:rule"),
                resource("RedirectRule", "AWS::ElasticLoadBalancingV2::ListenerRule", "arn:redirect-rule"),
                resource("SourceRule", "AWS::ElasticLoadBalancingV2::ListenerRule", "arn:source-rule"),
                resource("LogGroup", "AWS::Logs::LogGroup", "/copilot/app-test-api"),
                resource("EnvControllerAction", "Custom::EnvControllerFunction", "env-controller"),
            ],
            template,
        };
        let inventory = inventory(&[stack], "us-east-1").expect("maps");
        let addresses: Vec<String> = inventory.resources.iter().map(|f| f.address.to_string()).collect();
        assert_eq!(
            addresses,
            [
                "ecs_service.service",
                "iam_role.execution_role",
                "target_group.target_group",
                "listener_rule.http_listener_rule",
                "log_group.log_group"
            ]
        );
        assert_eq!(inventory.resources[0].folded, ["TaskDefinition"]);
        let unmapped: Vec<&str> = inventory.unmapped.iter().map(|u| u.origin.as_str()).collect();
        assert_eq!(unmapped, ["RedirectRule", "SourceRule", "EnvControllerAction"]);
        assert!(inventory.unmapped[0].reason.contains("not one forward"), "{:?}", inventory.unmapped);
        assert!(inventory.unmapped[1].reason.contains("`source-ip` condition"), "{:?}", inventory.unmapped);
    }

    #[test]
    fn shapes_provision_cannot_hold_are_listed() {
        let template = json!({"Resources": {"NLB": {"Type": "AWS::ElasticLoadBalancingV2::LoadBalancer", "Properties": {"Type": "network"}}}});
        let stack = StackRecords {
            name: "s".into(),
            resources: vec![resource("NLB", "AWS::ElasticLoadBalancingV2::LoadBalancer", "arn:lb")],
            template,
        };
        let inventory = inventory(&[stack], "us-east-1").expect("maps");
        assert!(inventory.resources.is_empty());
        assert!(inventory.unmapped[0].reason.contains("`network` load balancer"), "{:?}", inventory.unmapped);
    }
}
