//! Terraform resource types that are provision resources: which provision type each becomes, the id
//! `import` takes for it, the variants provision cannot hold (a network load balancer, a service
//! with a sidecar), and the settings only Terraform's records know.
//!
//! Attribute names are the AWS provider's (`internal/service/<service>/<resource>.go` in
//! terraform-provider-aws). Since provider 5.0 an `aws_db_instance`'s `id` is its resource id
//! (`db-…`) and its name is `identifier`.

use serde_json::{json, Value as Json};

use super::state_file::{Instance, StateFile};

/// A Terraform resource provision can adopt.
#[derive(Debug)]
pub struct Mapping {
    pub provision_type: &'static str,
    /// What `provision import` takes for this type.
    pub id: String,
    /// Values sub-resources name their parent by (a bucket's name, a role's name, a group's id).
    pub keys: Vec<String>,
}

/// `None`: not a resource type provision has (maybe a sub-resource); `Some(Err)`: a type provision
/// has, in a shape it cannot hold, with the reason.
pub fn map(instance: &Instance, state: &StateFile) -> Option<Result<Mapping, String>> {
    let provision_type = match instance.type_name.as_str() {
        "aws_s3_bucket" => "s3_bucket",
        "aws_cloudfront_distribution" => "cloudfront_distribution",
        "aws_security_group" => "security_group",
        "aws_lb" | "aws_alb" => "load_balancer",
        "aws_lb_target_group" | "aws_alb_target_group" => "target_group",
        "aws_lb_listener" | "aws_alb_listener" => "listener",
        "aws_lb_listener_rule" | "aws_alb_listener_rule" => "listener_rule",
        "aws_ecr_repository" => "ecr_repository",
        "aws_iam_role" => "iam_role",
        "aws_ecs_cluster" => "ecs_cluster",
        "aws_ecs_service" => "ecs_service",
        "aws_db_subnet_group" => "db_subnet_group",
        "aws_db_instance" => "db_instance",
        "aws_elasticache_replication_group" => "elasticache_redis",
        "aws_cloudwatch_log_group" => "log_group",
        "aws_secretsmanager_secret" => "secret",
        "aws_route53_zone" => "dns_zone",
        "aws_acm_certificate" => "certificate",
        "aws_route53_record" => "dns_record",
        _ => return None,
    };
    Some(check(instance, state).and_then(|()| {
        let id = import_id(instance, provision_type)
            .ok_or_else(|| "its id is missing from the state (was it ever created?)".to_string())?;
        Ok(Mapping { provision_type, id, keys: keys(instance) })
    }))
}

/// Values sub-resources name a parent by: its id, ARN, name, and what its own sub-resources use
/// (a distribution's origin access controls, a service's task definition).
pub fn keys(instance: &Instance) -> Vec<String> {
    let mut keys: Vec<String> =
        ["id", "arn", "name", "bucket"].iter().filter_map(|a| instance.text(a)).map(str::to_string).collect();
    match instance.type_name.as_str() {
        "aws_cloudfront_distribution" => keys.extend(
            instance.blocks("origin").iter().filter_map(|o| text(o, "origin_access_control_id")).map(str::to_string),
        ),
        "aws_ecs_service" => keys.extend(instance.text("task_definition").map(str::to_string)),
        "aws_elasticache_replication_group" => keys.extend(instance.text("subnet_group_name").map(str::to_string)),
        _ => {}
    }
    keys
}

fn text<'a>(map: &'a serde_json::Map<String, Json>, name: &str) -> Option<&'a str> {
    map.get(name).and_then(Json::as_str).filter(|text| !text.is_empty())
}

fn import_id(instance: &Instance, provision_type: &str) -> Option<String> {
    let id = match provision_type {
        "db_instance" => {
            instance.text("identifier").or_else(|| instance.text("id").filter(|id| !id.starts_with("db-")))
        }
        "ecs_service" => instance.text("id").filter(|id| id.starts_with("arn:")).or_else(|| instance.text("arn")),
        "dns_zone" => instance.text("zone_id").or_else(|| instance.text("id")),
        "dns_record" => {
            let zone = instance.text("zone_id")?;
            let name = instance.text("fqdn").or_else(|| instance.text("name"))?;
            let record_type = instance.text("type")?;
            return Some(format!("{zone}/{}/{record_type}", name.trim_end_matches('.')));
        }
        "elasticache_redis" => instance.text("replication_group_id").or_else(|| instance.text("id")),
        _ => instance.text("id").or_else(|| instance.text("arn")),
    };
    let id = id?.to_string();
    // An ECS service recorded by an old provider as its name alone needs its cluster.
    if provision_type == "ecs_service" && !id.starts_with("arn:") {
        let cluster = instance.text("cluster")?;
        return Some(format!("{}/{id}", cluster.rsplit('/').next().unwrap_or(cluster)));
    }
    Some(id)
}

/// Variants of a type provision has that its resource cannot hold; the reason names the setting.
fn check(instance: &Instance, state: &StateFile) -> Result<(), String> {
    match instance.type_name.as_str() {
        "aws_lb" | "aws_alb" => match instance.text("load_balancer_type").unwrap_or("application") {
            "application" => Ok(()),
            other => {
                Err(format!("a `{other}` load balancer; provision's `load_balancer` is an application load balancer"))
            }
        },
        "aws_lb_target_group" | "aws_alb_target_group" => match instance.text("target_type").unwrap_or("instance") {
            "ip" => match instance.text("protocol").unwrap_or("HTTP") {
                "HTTP" | "HTTPS" => Ok(()),
                other => Err(format!("protocol `{other}`; provision's `target_group` speaks HTTP or HTTPS")),
            },
            other => Err(format!("target type `{other}`; provision's `target_group` holds IP targets (Fargate tasks)")),
        },
        "aws_lb_listener" | "aws_alb_listener" => {
            let actions = instance.blocks("default_action");
            match actions.as_slice() {
                [action] if matches!(text(action, "type"), Some("forward" | "redirect" | "fixed-response")) => Ok(()),
                _ => Err("its default action is not one forward or redirect; provision's `listener` has one".into()),
            }
        }
        "aws_lb_listener_rule" | "aws_alb_listener_rule" => listener_rule_shape(instance),
        "aws_iam_role" => {
            let policy = instance.text("assume_role_policy").unwrap_or_default();
            let document: Json = serde_json::from_str(policy).unwrap_or(Json::Null);
            let statements = match &document["Statement"] {
                Json::Array(items) => items.clone(),
                Json::Null => Vec::new(),
                single => vec![single.clone()],
            };
            let only_services = !statements.is_empty()
                && statements.iter().all(|statement| {
                    statement["Principal"].as_object().is_some_and(|p| p.keys().all(|k| k == "Service"))
                });
            if only_services {
                Ok(())
            } else {
                Err("its trust policy lets more than AWS services assume it (an account, a federated identity); provision's `iam_role` trusts one AWS service".into())
            }
        }
        "aws_ecs_service" => {
            if let Some(launch) = instance.text("launch_type").filter(|l| *l != "FARGATE") {
                return Err(format!("launch type `{launch}`; provision's `ecs_service` runs on Fargate"));
            }
            let strategies = instance.blocks("capacity_provider_strategy");
            if strategies.iter().any(|s| !text(s, "capacity_provider").unwrap_or("").starts_with("FARGATE")) {
                return Err("a capacity provider other than Fargate; provision's `ecs_service` runs on Fargate".into());
            }
            if let Some(task) = task_definition_of(instance, state) {
                let containers = task
                    .text("container_definitions")
                    .and_then(|text| serde_json::from_str::<Vec<Json>>(text).ok())
                    .map_or(0, |list| list.len());
                if containers > 1 {
                    return Err(format!(
                        "its task definition `{}` runs {containers} containers; provision's `ecs_service` runs one",
                        task.address
                    ));
                }
            }
            Ok(())
        }
        "aws_db_instance" => match instance.text("engine").unwrap_or_default() {
            "mysql" | "mariadb" | "postgres" => Ok(()),
            other => Err(format!("engine `{other}`; provision's `db_instance` runs mysql, mariadb or postgres")),
        },
        "aws_elasticache_replication_group" => {
            let shards = instance.integer("num_node_groups").unwrap_or(1);
            if instance.text("engine").is_some_and(|e| e != "redis" && e != "valkey") {
                Err("an engine other than Redis or Valkey".into())
            } else if shards > 1 || instance.boolean("cluster_mode").unwrap_or(false) {
                Err("cluster mode (several shards); provision's `elasticache_redis` is one shard".into())
            } else {
                Ok(())
            }
        }
        "aws_route53_record" => {
            let record_type = instance.text("type").unwrap_or_default();
            if !matches!(record_type, "A" | "AAAA" | "CNAME" | "TXT" | "MX") {
                Err(format!("record type `{record_type}`; provision's `dns_record` writes A, AAAA, CNAME, TXT or MX"))
            } else if instance.text("set_identifier").is_some() {
                Err("a routing policy (`set_identifier`); provision's `dns_record` is a simple record".into())
            } else {
                Ok(())
            }
        }
        _ => Ok(()),
    }
}

/// A rule provision's `listener_rule` holds: one forward action, conditions on paths, hosts or
/// methods only.
fn listener_rule_shape(instance: &Instance) -> Result<(), String> {
    let actions = instance.blocks("action");
    if !matches!(actions.as_slice(), [action] if text(action, "type") == Some("forward")) {
        return Err("its actions are not one forward; provision's `listener_rule` forwards to a target group".into());
    }
    const HELD: &[&str] = &["path_pattern", "host_header", "http_request_method"];
    for condition in instance.blocks("condition") {
        let other = condition.iter().find(|(name, value)| {
            !HELD.contains(&name.as_str()) && value.as_array().is_some_and(|blocks| !blocks.is_empty())
        });
        if let Some((name, _)) = other {
            return Err(format!("a `{name}` condition; provision's `listener_rule` matches paths, hosts and methods"));
        }
    }
    Ok(())
}

/// The `aws_ecs_task_definition` a service runs: its `task_definition` names it by ARN, by
/// `family:revision` or by family.
pub fn task_definition_of<'a>(service: &Instance, state: &'a StateFile) -> Option<&'a Instance> {
    let wanted = service.text("task_definition")?;
    state
        .instances
        .iter()
        .filter(|i| i.managed && !i.deposed && i.type_name == "aws_ecs_task_definition")
        .find(|task| task_definition_names(task).iter().any(|name| name == wanted))
}

/// Every way a service may name a task definition.
pub fn task_definition_names(task: &Instance) -> Vec<String> {
    let mut names: Vec<String> =
        ["arn", "arn_without_revision", "family"].iter().filter_map(|a| task.text(a)).map(str::to_string).collect();
    if let (Some(family), Some(revision)) = (task.text("family"), task.integer("revision")) {
        names.push(format!("{family}:{revision}"));
    }
    names
}

/// The region a regional resource is in: the `region` attribute (an S3 bucket's always; every
/// regional resource's since provider 6.0), else its ARN's region. `None` for global types, and for
/// a certificate, which provision reaches in the region its ARN names (one for CloudFront sits in
/// `us-east-1` whatever the stack's region).
pub fn region(instance: &Instance, provision_type: &str) -> Option<String> {
    if matches!(provision_type, "iam_role" | "cloudfront_distribution" | "dns_zone" | "dns_record" | "certificate") {
        return None;
    }
    let from_arn = || instance.text("arn").and_then(|arn| arn.split(':').nth(3)).filter(|r| !r.is_empty());
    instance.text("region").or_else(from_arn).map(str::to_string)
}

/// Fields provision keeps that AWS cannot answer for, from the Terraform attributes.
pub fn fields(instance: &Instance, provision_type: &str) -> serde_json::Map<String, Json> {
    let mut fields = serde_json::Map::new();
    let mut set = |field: &str, value: Json| {
        fields.insert(field.to_string(), value);
    };
    match provision_type {
        "s3_bucket" if instance.boolean("force_destroy") == Some(true) => set("force_destroy", json!(true)),
        "ecr_repository" if instance.boolean("force_delete") == Some(true) => set("force_destroy", json!(true)),
        "db_instance" => {
            if let Some(version) = instance.text("engine_version") {
                set("engine_version", json!(version));
            }
            for field in ["skip_final_snapshot", "apply_immediately"] {
                if instance.boolean(field) == Some(true) {
                    set(field, json!(true));
                }
            }
        }
        "elasticache_redis" if instance.text("final_snapshot_identifier").is_some() => {
            set("final_snapshot", json!(true))
        }
        "secret" => {
            if let Some(days) = instance.integer("recovery_window_in_days") {
                set("recovery_days", json!(days));
            }
        }
        "log_group" if instance.boolean("skip_destroy") == Some(true) => set("force_destroy", json!(false)),
        "cloudfront_distribution" if instance.boolean("wait_for_deployment") == Some(false) => {
            set("wait", json!(false))
        }
        _ => {}
    }
    fields
}

/// Secret fields: (provision field, Terraform attribute).
pub fn secret_fields(provision_type: &str) -> &'static [(&'static str, &'static str)] {
    match provision_type {
        "db_instance" => &[("password", "password")],
        "elasticache_redis" => &[("auth_token", "auth_token")],
        _ => &[],
    }
}
