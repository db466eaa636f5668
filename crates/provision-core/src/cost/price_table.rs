//! The price table (`prices.toml`), built into the binary: a plan's cost is computed offline, from
//! figures a reviewer can read and date, never from a call that could answer differently tomorrow.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::Deserialize;

/// Every price provision knows, as `prices.toml` holds them.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceTable {
    /// The day the figures were last checked (`YYYY-MM-DD`).
    pub as_of: String,
    pub hours_per_month: f64,
    pub everywhere: Everywhere,
    pub region: BTreeMap<String, RegionPrices>,
}

/// Prices that are the same in every region.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Everywhere {
    pub secret_month: f64,
    pub hosted_zone_month: f64,
    pub public_ipv4_hour: f64,
    pub valkey_node_share: f64,
}

/// One region's prices.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegionPrices {
    pub fargate_vcpu_hour: f64,
    pub fargate_gb_hour: f64,
    pub load_balancer_hour: f64,
    pub nat_gateway_hour: f64,
    /// Per interface endpoint per availability zone.
    pub interface_endpoint_hour: f64,
    /// General Purpose SSD per GB-month, one copy (Multi-AZ keeps two).
    pub rds_storage_gb_month: f64,
    /// Per instance class, single-AZ; also MariaDB's prices.
    pub rds_mysql: BTreeMap<String, f64>,
    pub rds_postgres: BTreeMap<String, f64>,
    /// Per ElastiCache node type, Redis OSS.
    pub cache_nodes: BTreeMap<String, f64>,
}

impl PriceTable {
    /// The table built into provision.
    pub fn builtin() -> &'static PriceTable {
        static TABLE: OnceLock<PriceTable> = OnceLock::new();
        TABLE.get_or_init(|| PriceTable::parse(include_str!("prices.toml")).expect("prices.toml parses (tested)"))
    }

    pub fn parse(text: &str) -> Result<PriceTable, toml::de::Error> {
        toml::from_str(text)
    }

    pub fn region(&self, region: &str) -> Option<&RegionPrices> {
        self.region.get(region)
    }

    pub fn regions(&self) -> impl Iterator<Item = &str> {
        self.region.keys().map(String::as_str)
    }
}

impl RegionPrices {
    /// The single-AZ hourly price of an RDS instance class for an engine.
    pub fn rds_instance_hour(&self, engine: &str, class: &str) -> Option<f64> {
        match engine {
            "mysql" | "mariadb" => self.rds_mysql.get(class).copied(),
            "postgres" => self.rds_postgres.get(class).copied(),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_table_covers_the_supported_regions() {
        let table = PriceTable::builtin();
        assert!(chrono::NaiveDate::parse_from_str(&table.as_of, "%Y-%m-%d").is_ok(), "{}", table.as_of);
        for region in ["us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-1"] {
            let prices = table.region(region).unwrap_or_else(|| panic!("{region} is in prices.toml"));
            // The defaults of the stack format are priced everywhere.
            assert!(prices.rds_instance_hour("mysql", "db.t3.micro").is_some(), "{region}");
            assert!(prices.rds_instance_hour("postgres", "db.t3.micro").is_some(), "{region}");
            assert!(prices.cache_nodes.contains_key("cache.t3.micro"), "{region}");
            for price in [
                prices.fargate_vcpu_hour,
                prices.fargate_gb_hour,
                prices.load_balancer_hour,
                prices.nat_gateway_hour,
                prices.interface_endpoint_hour,
                prices.rds_storage_gb_month,
            ] {
                assert!(price > 0.0 && price < 1.0, "{region}: {price}");
            }
        }
    }

    #[test]
    fn a_misspelt_price_is_an_error_not_a_silent_zero() {
        let text = include_str!("prices.toml").replace("nat_gateway_hour", "nat_gatway_hour");
        assert!(PriceTable::parse(&text).is_err());
    }
}
