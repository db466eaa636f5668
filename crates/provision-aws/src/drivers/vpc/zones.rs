//! Which availability zones a network uses.
//!
//! A zone's name (`us-west-1a`) means a different place in each account; its id (`usw1-az1`) is
//! the same everywhere, and it is by id that AWS says where a service runs. Fargate does not run in
//! every zone of every region (AWS's "Supported Regions for Amazon ECS on AWS Fargate": in
//! us-west-1 only `usw1-az1` and `usw1-az3`, in ap-northeast-1 not `apne1-az3`), and a subnet in
//! such a zone makes a service's tasks fail to start there. So a new network's zones, and the
//! default VPC's subnets a stack uses, are chosen among the zones where Fargate runs; then by name,
//! so the choice is stable.

use std::collections::BTreeMap;

use aws_sdk_ec2::Client;

use crate::drivers::DriverError;

/// Regions where Fargate runs only in some zones, by zone id (Linux containers).
const FARGATE_ZONES: &[(&str, &[&str])] =
    &[("us-west-1", &["usw1-az1", "usw1-az3"]), ("ap-northeast-1", &["apne1-az1", "apne1-az2", "apne1-az4"])];

/// Whether Fargate runs in the zone with this id.
pub(crate) fn fargate_runs_in(region: &str, zone_id: &str) -> bool {
    match FARGATE_ZONES.iter().find(|(name, _)| *name == region) {
        Some((_, zones)) => zones.contains(&zone_id),
        None => true,
    }
}

/// An availability zone by name and id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Zone {
    pub name: String,
    pub id: String,
}

/// The region's zones a new subnet may go to: regular zones (not Local or Wavelength zones, which
/// need opting in), available, where Fargate runs; in name order.
pub(super) async fn usable(ec2: &Client, region: &str) -> Result<Vec<Zone>, DriverError> {
    let answer = ec2
        .describe_availability_zones()
        .send()
        .await
        .map_err(|error| crate::aws_error("DescribeAvailabilityZones", error))?;
    let mut zones: Vec<Zone> = answer
        .availability_zones()
        .iter()
        .filter(|zone| zone.zone_type().is_none_or(|kind| kind == "availability-zone"))
        .filter(|zone| zone.state().is_none_or(|state| state.as_str() == "available"))
        .filter_map(|zone| Some(Zone { name: zone.zone_name()?.to_string(), id: zone.zone_id()?.to_string() }))
        .filter(|zone| fargate_runs_in(region, &zone.id))
        .collect();
    zones.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(zones)
}

/// The zone of each index `0..count`: the zones already in use keep their index, the others get
/// the first usable zones not in use.
pub(super) fn choose(
    count: usize,
    in_use: &BTreeMap<usize, Zone>,
    usable: &[Zone],
    region: &str,
) -> Result<Vec<Zone>, DriverError> {
    let mut free = usable.iter().filter(|zone| !in_use.values().any(|used| used.id == zone.id));
    (0..count)
        .map(|index| match in_use.get(&index) {
            Some(zone) => Ok(zone.clone()),
            None => free.next().cloned().ok_or_else(|| {
                DriverError::invalid(format!(
                    "{region} has {} availability zones where Fargate runs; the network asks for {count}",
                    usable.len()
                ))
                .with_hint(format!("set `azs = {}` or fewer", usable.len().max(2)))
            }),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zone(name: &str, id: &str) -> Zone {
        Zone { name: name.into(), id: id.into() }
    }

    #[test]
    fn fargate_zones_follow_aws_s_list() {
        assert!(fargate_runs_in("us-west-1", "usw1-az3"));
        assert!(!fargate_runs_in("us-west-1", "usw1-az2"));
        assert!(!fargate_runs_in("ap-northeast-1", "apne1-az3"));
        assert!(fargate_runs_in("eu-west-1", "euw1-az3"), "elsewhere every zone");
    }

    #[test]
    fn zones_in_use_keep_their_index_and_new_ones_come_in_order() {
        let usable =
            vec![zone("us-east-1a", "use1-az6"), zone("us-east-1b", "use1-az1"), zone("us-east-1c", "use1-az2")];
        let in_use = BTreeMap::from([(1, zone("us-east-1a", "use1-az6"))]);
        let chosen = choose(3, &in_use, &usable, "us-east-1").unwrap();
        let names: Vec<&str> = chosen.iter().map(|z| z.name.as_str()).collect();
        assert_eq!(names, vec!["us-east-1b", "us-east-1a", "us-east-1c"]);
        let error = choose(4, &in_use, &usable, "us-east-1").unwrap_err();
        assert!(error.message.contains("has 3 availability zones where Fargate runs"), "{error}");
    }
}
