//! A VPC's `tags` or `name` changed: every part carries the tags, and a name after the VPC's.

use aws_sdk_ec2::types::Tag;

use super::converge::Work;
use super::layout::{Layout, TableRole};
use crate::drivers::DriverError;

/// Gives every part the tags and names the request carries now (the VPC's `tags` or `name`
/// changed), and removes the user tags no longer wanted.
pub(super) async fn retag(work: &Work<'_>, layout: &Layout, removed: &[String]) -> Result<(), DriverError> {
    let named = part_names(layout);
    let ids: Vec<String> =
        std::iter::once(layout.vpc_id.clone()).chain(named.iter().map(|(id, _)| id.clone())).collect();
    let tags: Vec<Tag> = work.tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect();
    for batch in ids.chunks(TAG_BATCH) {
        work.ec2
            .create_tags()
            .set_resources(Some(batch.to_vec()))
            .set_tags(Some(tags.clone()))
            .send()
            .await
            .map_err(|error| crate::aws_error("CreateTags", error))?;
        if !removed.is_empty() {
            let keys: Vec<Tag> = removed.iter().map(|k| Tag::builder().key(k).build()).collect();
            work.ec2
                .delete_tags()
                .set_resources(Some(batch.to_vec()))
                .set_tags(Some(keys))
                .send()
                .await
                .map_err(|error| crate::aws_error("DeleteTags", error))?;
        }
    }
    let names = std::iter::once((layout.vpc_id.clone(), work.name.to_string()))
        .chain(named.into_iter().map(|(id, suffix)| (id, format!("{}-{suffix}", work.name))));
    for (id, name) in names {
        work.ec2
            .create_tags()
            .resources(id)
            .tags(Tag::builder().key("Name").value(name).build())
            .send()
            .await
            .map_err(|error| crate::aws_error("CreateTags", error))?;
    }
    Ok(())
}

/// Resources one `CreateTags` call names at most (EC2 takes up to 1,000).
const TAG_BATCH: usize = 500;

/// provision's parts of the VPC, each with the name it carries after the VPC's.
fn part_names(layout: &Layout) -> Vec<(String, String)> {
    let mut named = Vec::new();
    for gateway in &layout.gateways {
        named.push((gateway.id.clone(), "igw".to_string()));
    }
    for subnet in layout.subnets.iter().filter(|s| s.ours) {
        named.push((subnet.id.clone(), format!("{}-{}", subnet.role.as_str(), subnet.zone.name)));
    }
    for table in layout.tables.iter().filter(|t| t.ours) {
        let name = match table.role {
            Some(TableRole::Private(i)) => format!("private-{}", layout.zone_label(i)),
            _ => "public".to_string(),
        };
        named.push((table.id.clone(), name));
    }
    for nat in layout.nats.iter().filter(|n| n.ours) {
        named.push((nat.id.clone(), format!("nat-{}", nat.index.map(|i| layout.zone_label(i)).unwrap_or_default())));
    }
    for address in layout.addresses.iter().filter(|a| a.ours) {
        let zone = address.index.map(|i| layout.zone_label(i)).unwrap_or_default();
        named.push((address.allocation_id.clone(), format!("nat-{zone}")));
    }
    for endpoint in layout.endpoints.iter().filter(|e| e.ours) {
        named.push((endpoint.id.clone(), endpoint.service.clone()));
    }
    if let Some(group) = &layout.endpoint_group {
        named.push((group.clone(), "endpoints".to_string()));
    }
    named
}
