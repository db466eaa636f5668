//! What one resource costs a month, from its inputs (field names, not AWS calls): the fixed part,
//! itemised in cents, and the parts that depend on use, named.
//!
//! Each item is rounded to the cent on its own, so the figures a plan shows add up exactly and a
//! reader can check each one by hand: `hours_per_month × hourly price × quantity`.

use serde_json::Value as Json;

use super::price_table::{PriceTable, RegionPrices};
use crate::value::JsonMap;

/// One line of a resource's fixed monthly cost.
#[derive(Clone, Debug, PartialEq)]
pub struct CostItem {
    /// What is paid for, e.g. `3 tasks × (0.5 vCPU + 1 GB)`.
    pub what: String,
    pub cents: i64,
}

/// A resource's monthly cost as far as it is known.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ResourceCost {
    pub items: Vec<CostItem>,
    /// Charges that depend on use (traffic, requests, storage that grows), named.
    pub usage: Vec<&'static str>,
    /// Why the fixed part could not be priced (an unknown class, a value known only after apply).
    pub unpriced: Option<String>,
}

impl ResourceCost {
    pub fn cents(&self) -> i64 {
        self.items.iter().map(|item| item.cents).sum()
    }

    fn item(&mut self, what: impl Into<String>, monthly_dollars: f64) {
        // Half a cent rounds up, as by hand: the products of binary fractions first lose their
        // last-bit noise (0.036 × 2 × 730 × 100 is 5255.999999999999, not 5256).
        let cents = (monthly_dollars * 100.0 * 1e6).round() / 1e6;
        self.items.push(CostItem { what: what.into(), cents: cents.round() as i64 });
    }

    fn unpriced(reason: impl Into<String>) -> ResourceCost {
        ResourceCost { unpriced: Some(reason.into()), ..ResourceCost::default() }
    }
}

/// The monthly cost of a resource of `type_name` with these inputs, in a region of the table.
pub fn resource_cost(table: &PriceTable, prices: &RegionPrices, type_name: &str, inputs: &JsonMap) -> ResourceCost {
    let hours = table.hours_per_month;
    let mut cost = ResourceCost::default();
    match type_name {
        "ecs_service" => {
            let (Some(cpu), Some(memory), Some(count)) =
                (int(inputs, "cpu"), int(inputs, "memory"), int(inputs, "desired_count"))
            else {
                return ResourceCost::unpriced("its `cpu`, `memory` or `desired_count` is known only after apply");
            };
            let (vcpu, gb) = (cpu as f64 / 1024.0, memory as f64 / 1024.0);
            let hourly = vcpu * prices.fargate_vcpu_hour + gb * prices.fargate_gb_hour;
            cost.item(
                format!("{} × Fargate ({} vCPU, {} GB)", plural(count, "task"), number(vcpu), number(gb)),
                count as f64 * hourly * hours,
            );
            if boolean(inputs, "assign_public_ip") == Some(true) && count > 0 {
                cost.item(
                    format!("{} × public IPv4 address", count),
                    count as f64 * table.everywhere.public_ipv4_hour * hours,
                );
            }
            cost.usage.push("Fargate tasks above `desired_count` during a deployment");
            if inputs.contains_key("migration") {
                cost.usage.push("the migration task each release runs");
            }
        }
        "load_balancer" => {
            cost.item("load balancer hours", prices.load_balancer_hour * hours);
            cost.usage.push("load balancer capacity units (LCU-hours, by traffic)");
            if boolean(inputs, "internal") != Some(true) {
                cost.usage.push("an internet-facing load balancer's public IPv4 addresses (one or more per AZ)");
            }
        }
        "db_instance" => return database_cost(table, prices, inputs),
        "elasticache_redis" => {
            let Some(node_type) = text(inputs, "node_type") else {
                return ResourceCost::unpriced("its `node_type` is known only after apply");
            };
            let Some(mut hourly) = prices.cache_nodes.get(node_type).copied() else {
                return ResourceCost::unpriced(format!("`{node_type}` is not in the price table for this region"));
            };
            if text(inputs, "engine") == Some("valkey") {
                hourly *= table.everywhere.valkey_node_share;
            }
            let nodes = int(inputs, "replicas").unwrap_or(0) + 1;
            cost.item(format!("{} × {node_type}", plural(nodes, "node")), nodes as f64 * hourly * hours);
            if int(inputs, "snapshot_retention_days").unwrap_or(0) > 0 {
                cost.usage.push("cache snapshot storage");
            }
        }
        "vpc" => {
            let azs = int(inputs, "azs").unwrap_or(2);
            let nat_gateways = match text(inputs, "nat").unwrap_or("single") {
                "none" => 0,
                "per_az" => azs,
                _ => 1,
            };
            if nat_gateways > 0 {
                cost.item(
                    format!("{} × NAT gateway", nat_gateways),
                    nat_gateways as f64 * prices.nat_gateway_hour * hours,
                );
                cost.item(
                    format!("{} × public IPv4 address (the NAT gateways' Elastic IPs)", nat_gateways),
                    nat_gateways as f64 * table.everywhere.public_ipv4_hour * hours,
                );
                cost.usage.push("NAT gateway data processing (per GB)");
            }
            let interface_endpoints: i64 = strings(inputs, "endpoints")
                .unwrap_or_else(|| vec!["s3".to_string()])
                .iter()
                .map(|endpoint| match endpoint.as_str() {
                    // ECR needs two: the API (`ecr.api`) and the registry (`ecr.dkr`).
                    "ecr" => 2,
                    // Gateway endpoints (S3, DynamoDB) are free.
                    "s3" | "dynamodb" => 0,
                    _ => 1,
                })
                .sum();
            if interface_endpoints > 0 {
                cost.item(
                    format!("{} × interface endpoint × {}", interface_endpoints, plural(azs, "AZ")),
                    (interface_endpoints * azs) as f64 * prices.interface_endpoint_hour * hours,
                );
                cost.usage.push("interface endpoint data processing (per GB)");
            }
        }
        "secret" => cost.item("secret", table.everywhere.secret_month),
        "cloudfront_distribution" => cost.usage.push("CloudFront requests and data transfer"),
        "s3_bucket" => cost.usage.push("S3 storage and requests"),
        "ecr_repository" => cost.usage.push("ECR image storage"),
        "log_group" => cost.usage.push("CloudWatch Logs ingestion and storage"),
        "dns_record" => cost.usage.push("Route 53 queries (alias queries to AWS resources are free)"),
        "ecs_cluster" => {
            if boolean(inputs, "container_insights") == Some(true) {
                cost.usage.push("Container Insights metrics");
            }
        }
        // Looked up, never created: the zone's monthly charge is paid whether or not this stack exists.
        "dns_zone" => {}
        // No charge of their own.
        // A listener rule's evaluations past the first 10 count in the load balancer's capacity units,
        // which the load balancer already lists as billed by use.
        "security_group" | "iam_role" | "target_group" | "listener" | "listener_rule" | "db_subnet_group"
        | "certificate" => {}
        other => return ResourceCost::unpriced(format!("provision has no cost model for `{other}`")),
    }
    cost
}

fn database_cost(table: &PriceTable, prices: &RegionPrices, inputs: &JsonMap) -> ResourceCost {
    let hours = table.hours_per_month;
    let mut cost = ResourceCost::default();
    let engine = text(inputs, "engine").unwrap_or("mysql");
    let Some(class) = text(inputs, "instance_class") else {
        return ResourceCost::unpriced("its `instance_class` is known only after apply");
    };
    let Some(hourly) = prices.rds_instance_hour(engine, class) else {
        return ResourceCost::unpriced(format!("`{class}` ({engine}) is not in the price table for this region"));
    };
    let multi_az = boolean(inputs, "multi_az") == Some(true);
    let copies = if multi_az { 2.0 } else { 1.0 };
    let deployment = if multi_az { "Multi-AZ" } else { "single-AZ" };
    cost.item(format!("{class} {engine}, {deployment}"), copies * hourly * hours);
    let storage = int(inputs, "allocated_storage").unwrap_or(20);
    cost.item(format!("{storage} GB storage, {deployment}"), copies * storage as f64 * prices.rds_storage_gb_month);
    if boolean(inputs, "manage_password") == Some(true) {
        cost.item("the master password's secret", table.everywhere.secret_month);
    }
    cost.usage.push("database backup storage beyond the database's size");
    if class.starts_with("db.t") {
        cost.usage.push("CPU credits above the baseline (burstable classes run unlimited)");
    }
    if inputs.get("max_allocated_storage").is_some_and(|v| !v.is_null()) {
        cost.usage.push("database storage that grows up to `max_allocated_storage`");
    }
    cost
}

fn int(inputs: &JsonMap, field: &str) -> Option<i64> {
    inputs.get(field).and_then(Json::as_i64)
}

fn boolean(inputs: &JsonMap, field: &str) -> Option<bool> {
    inputs.get(field).and_then(Json::as_bool)
}

fn text<'a>(inputs: &'a JsonMap, field: &str) -> Option<&'a str> {
    inputs.get(field).and_then(Json::as_str)
}

fn strings(inputs: &JsonMap, field: &str) -> Option<Vec<String>> {
    inputs.get(field)?.as_array()?.iter().map(|v| v.as_str().map(str::to_string)).collect()
}

fn plural(count: i64, noun: &str) -> String {
    if count == 1 {
        format!("1 {noun}")
    } else {
        format!("{count} {noun}s")
    }
}

/// `0.5`, `1`, `0.25`: a quantity without trailing zeros.
fn number(value: f64) -> String {
    let text = format!("{value:.3}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cost(type_name: &str, inputs: Json) -> ResourceCost {
        let table = PriceTable::builtin();
        resource_cost(table, table.region("us-east-1").unwrap(), type_name, inputs.as_object().unwrap())
    }

    // Each figure below is worked out by hand from prices.toml's us-east-1 rows and 730 hours.

    #[test]
    fn a_fargate_service_costs_its_tasks_vcpu_and_memory_hours() {
        // 2 × (0.5 × $0.04048 + 1 × $0.004445) × 730 = 2 × $0.024685 × 730 = $36.0401
        let service = cost("ecs_service", json!({"cpu": 512, "memory": 1024, "desired_count": 2}));
        assert_eq!(service.cents(), 3604);
        assert_eq!(service.items[0].what, "2 tasks × Fargate (0.5 vCPU, 1 GB)");
        // With a public IP each: + 2 × $0.005 × 730 = $7.30
        let public =
            cost("ecs_service", json!({"cpu": 512, "memory": 1024, "desired_count": 2, "assign_public_ip": true}));
        assert_eq!(public.cents(), 3604 + 730);
    }

    #[test]
    fn a_migration_task_adds_nothing_fixed_but_is_named() {
        let service = cost(
            "ecs_service",
            json!({"cpu": 256, "memory": 512, "desired_count": 1, "migration": {"command": ["./migrate"]}}),
        );
        // 1 × (0.25 × $0.04048 + 0.5 × $0.004445) × 730 = $0.0123425 × 730 = $9.010025
        assert_eq!(service.cents(), 901);
        assert!(service.usage.contains(&"the migration task each release runs"));
    }

    #[test]
    fn databases_double_for_multi_az_and_count_their_storage_and_secret() {
        // $0.017 × 730 = $12.41; 20 GB × $0.115 = $2.30; the managed password's secret $0.40
        let single =
            cost("db_instance", json!({"engine": "mysql", "instance_class": "db.t3.micro", "allocated_storage": 20}));
        assert_eq!(single.cents(), 1241 + 230);
        let multi = cost(
            "db_instance",
            json!({"engine": "postgres", "instance_class": "db.t3.small", "allocated_storage": 100,
                   "multi_az": true, "manage_password": true}),
        );
        // 2 × $0.036 × 730 = $52.56; 2 × 100 × $0.115 = $23.00; $0.40
        assert_eq!(multi.cents(), 5256 + 2300 + 40);
        assert!(multi.usage.iter().any(|u| u.contains("CPU credits")));
    }

    #[test]
    fn caches_count_every_node_and_valkey_is_cheaper() {
        // 3 × $0.017 × 730 = $37.23
        let redis = cost("elasticache_redis", json!({"node_type": "cache.t3.micro", "replicas": 2}));
        assert_eq!(redis.cents(), 3723);
        // 0.8 × $0.017 × 730 = $9.928
        let valkey = cost("elasticache_redis", json!({"node_type": "cache.t3.micro", "engine": "valkey"}));
        assert_eq!(valkey.cents(), 993);
    }

    #[test]
    fn a_vpc_pays_for_nat_gateways_their_addresses_and_interface_endpoints_per_az() {
        // One NAT: $0.045 × 730 = $32.85, its Elastic IP $0.005 × 730 = $3.65.
        let single = cost("vpc", json!({"azs": 2, "nat": "single", "endpoints": ["s3"]}));
        assert_eq!(single.cents(), 3285 + 365);
        // Per AZ in 3 AZs: 3 × ($32.85 + $3.65); ecr (2) + logs + secretsmanager = 4 endpoints × 3 AZs
        // × $0.01 × 730 = $87.60.
        let full =
            cost("vpc", json!({"azs": 3, "nat": "per_az", "endpoints": ["s3", "ecr", "logs", "secretsmanager"]}));
        assert_eq!(full.cents(), 3 * (3285 + 365) + 8760);
        let none = cost("vpc", json!({"azs": 2, "nat": "none", "endpoints": ["s3", "dynamodb"]}));
        assert_eq!(none.cents(), 0, "gateway endpoints are free");
    }

    #[test]
    fn what_cannot_be_priced_says_why() {
        let unknown = cost("db_instance", json!({"engine": "mysql", "instance_class": "db.x2iedn.32xlarge"}));
        assert!(unknown.unpriced.unwrap().contains("db.x2iedn.32xlarge"));
        let later = cost("ecs_service", json!({"cpu": 256, "memory": 512}));
        assert!(later.unpriced.unwrap().contains("after apply"));
        assert_eq!(cost("iam_role", json!({})), ResourceCost::default());
    }

    #[test]
    fn other_regions_use_their_own_rows() {
        let table = PriceTable::builtin();
        let frankfurt = table.region("eu-central-1").unwrap();
        let lb = resource_cost(table, frankfurt, "load_balancer", json!({}).as_object().unwrap());
        // $0.027 × 730 = $19.71
        assert_eq!(lb.cents(), 1971);
    }
}
