//! `provision import --from-terraform FILE|s3://BUCKET/KEY`: a Terraform state (format version 4)
//! as an [`Inventory`]. Every `aws_*` resource of a type provision has becomes a provision resource
//! named after its Terraform address; Terraform's split-out sub-resources fold into their parent;
//! everything else is listed with its address and the reason. The state is only read.

mod mapping;
mod parts;
pub mod state_file;

use std::collections::BTreeMap;

use serde_json::json;

use super::inventory::{secret_variable, Found, Inventory, Names, Secret};
use super::network_fit::{self, Record};
use parts::Fold;
use state_file::{Instance, StateFile};

/// What the state held besides the inventory, for the report.
#[derive(Debug, Default)]
pub struct Summary {
    pub data_sources: usize,
}

/// Maps a parsed state. Fails only when there is nothing to adopt at all.
pub fn inventory(state: &StateFile, source: &str) -> Result<(Inventory, Summary), String> {
    let summary = Summary { data_sources: state.instances.iter().filter(|i| !i.managed).count() };
    if state.instances.iter().all(|i| !i.managed) {
        return Err(format!(
            "`{source}` holds no managed resources{}\n\nhint: is this the right state? A workspace's state in S3 is under `env:/WORKSPACE/KEY`",
            if summary.data_sources > 0 { " (only data sources)" } else { "" }
        ));
    }
    let mut inventory = Inventory::default();
    let mut names = Names::default();
    let mut parents: Vec<(&Instance, Vec<String>)> = Vec::new();
    let mut rejected: Vec<(&Instance, Vec<String>)> = Vec::new();
    let mut pending: Vec<(&Instance, parts::Part)> = Vec::new();
    let validations = validation_records(state);
    let records = network_records(state);
    let network = network_fit::judge(&records);
    match &network {
        network_fit::Network::Fits(fit) => {
            let address = names.address("vpc", &[&network_fit::vpc_name(fit.vpc)]);
            let mut found = Found::new(address, fit.vpc.text("id").unwrap_or_default(), &fit.vpc.address);
            found.fields = fit.fields.clone();
            found.folded = fit.parts.iter().map(|part| part.address.clone()).collect();
            let instance = state.instances.iter().find(|i| i.managed && i.address == fit.vpc.address);
            found.region = instance.and_then(|vpc| mapping::region(vpc, "vpc"));
            found.unless_repaired = Some(super::network::KEPT.replace("{tool}", "Terraform"));
            inventory.resources.push(found);
        }
        network_fit::Network::Kept(why) => inventory.network_kept = Some(why.clone()),
        network_fit::Network::None => {}
    }
    let folded_network = matches!(network, network_fit::Network::Fits(_));
    for instance in state.instances.iter().filter(|i| i.managed) {
        if let Some(reason) = not_adoptable(instance) {
            inventory.unmapped(&instance.address, reason);
            continue;
        }
        if network_fit::is_network(&instance.type_name) {
            if !folded_network {
                inventory.unmapped(&instance.address, super::network::KEPT.replace("{tool}", "Terraform"));
            }
            continue;
        }
        if let Some(certificate) = validations.get(&record_key(instance)) {
            pending.push((
                instance,
                parts::Part { parent_types: &["aws_acm_certificate"], keys: vec![certificate.clone()] },
            ));
            continue;
        }
        match mapping::map(instance, state) {
            Some(Ok(mapped)) => {
                let parts: Vec<&str> = name_parts(instance);
                let address = names.address(mapped.provision_type, &parts);
                let mut found = Found::new(address, mapped.id, &instance.address);
                found.fields = mapping::fields(instance, mapped.provision_type);
                found.region = mapping::region(instance, mapped.provision_type);
                if instance.type_name == "aws_db_instance"
                    && instance.boolean("manage_master_user_password") == Some(true)
                {
                    found.fields.insert("manage_password".into(), json!(true));
                }
                for (field, attribute) in mapping::secret_fields(mapped.provision_type) {
                    if let Some(value) = instance.text(attribute) {
                        let variable = secret_variable(&found.address, field);
                        found.secrets.push(Secret {
                            field: field.to_string(),
                            variable,
                            value: Some(value.to_string()),
                        });
                    }
                }
                if instance.tainted {
                    inventory.note(
                        &found.address,
                        format!(
                            "Terraform marked `{}` tainted (to be replaced); provision adopts it as it is",
                            instance.address
                        ),
                    );
                }
                inventory.resources.push(found);
                parents.push((instance, mapped.keys));
            }
            Some(Err(reason)) => {
                inventory.unmapped(&instance.address, reason);
                rejected.push((instance, mapping::keys(instance)));
            }
            None => match parts::part(instance) {
                Some(part) => pending.push((instance, part)),
                None => inventory.unmapped(&instance.address, other_reason(&instance.type_name)),
            },
        }
    }
    for (instance, part) in pending {
        fold(&mut inventory, &parents, &rejected, instance, &part);
    }
    zones_for_certificates(&mut inventory, &parents);
    private_buckets(&mut inventory, state);
    Ok((inventory, summary))
}

/// The state's network resources (managed, not deposed) as the network judge reads them: a
/// state already speaks its vocabulary.
pub(super) fn network_records(state: &StateFile) -> Vec<Record> {
    let network = state.instances.iter().filter(|i| i.managed && !i.deposed && network_fit::is_network(&i.type_name));
    network
        .map(|i| Record {
            address: i.address.clone(),
            name: i.name.clone(),
            type_name: i.type_name.clone(),
            attributes: i.attributes.clone(),
        })
        .collect()
}

/// The name parts of an address: module names and keys, the resource name, its key.
fn name_parts(instance: &Instance) -> Vec<&str> {
    let mut parts: Vec<&str> = instance.module_path.iter().map(String::as_str).collect();
    parts.push(&instance.name);
    parts.extend(instance.key.as_deref());
    parts
}

fn not_adoptable(instance: &Instance) -> Option<String> {
    if instance.deposed {
        return Some("a deposed object: Terraform replaced it and has yet to delete it".into());
    }
    if instance.flat {
        return Some(
            "its attributes are in Terraform 0.11's flat form: refresh the state with Terraform 0.12 or later first"
                .into(),
        );
    }
    if !instance.type_name.starts_with("aws_") {
        let provider = instance.type_name.split('_').next().unwrap_or_default();
        return Some(format!("not an AWS resource (provider `{provider}`): nothing in AWS to adopt"));
    }
    None
}

fn fold(
    inventory: &mut Inventory,
    parents: &[(&Instance, Vec<String>)],
    rejected: &[(&Instance, Vec<String>)],
    instance: &Instance,
    part: &parts::Part,
) {
    let belongs = |(parent, keys): &&(&Instance, Vec<String>)| {
        part.parent_types.contains(&parent.type_name.as_str()) && keys.iter().any(|key| part.keys.contains(key))
    };
    let Some((parent, _)) = parents.iter().find(belongs) else {
        let reason = match rejected.iter().find(belongs) {
            Some((parent, _)) => format!("it belongs to `{}`, which is not adopted", parent.address),
            None => format!("its `{}` is not in the state", part.parent_types[0]),
        };
        inventory.unmapped(&instance.address, reason);
        return;
    };
    let fold = parts::fold(instance);
    let Some(found) = inventory.by_origin_mut(&parent.address) else {
        inventory.unmapped(&instance.address, format!("it belongs to `{}`, which is not adopted", parent.address));
        return;
    };
    let address = found.address.clone();
    match fold {
        Fold::Field => found.folded.push(instance.address.clone()),
        Fold::Note(message) => {
            found.folded.push(instance.address.clone());
            inventory.note(&address, format!("`{}`: {message}", instance.address));
        }
        Fold::Unmanaged(reason) => inventory.unmapped(&instance.address, reason),
    }
    if instance.type_name == "aws_route53_record" {
        if let (Some(zone), Some(found)) = (instance.text("zone_id"), inventory.by_origin_mut(&parent.address)) {
            found.fields.entry("zone").or_insert_with(|| json!(zone));
        }
    }
}

/// A record's identity for matching certificate validation records: `name TYPE`, lowercase, no
/// final dot.
fn record_key(instance: &Instance) -> String {
    if instance.type_name != "aws_route53_record" {
        return String::new();
    }
    let name = instance.text("fqdn").or_else(|| instance.text("name")).unwrap_or_default();
    format!("{} {}", name.trim_end_matches('.').to_ascii_lowercase(), instance.text("type").unwrap_or_default())
}

/// Certificate validation records (by [`record_key`]) → the certificate's ARN. provision's
/// `certificate` writes and removes its validation records itself, so they fold into it.
fn validation_records(state: &StateFile) -> BTreeMap<String, String> {
    let mut records = BTreeMap::new();
    for certificate in state.instances.iter().filter(|i| i.managed && i.type_name == "aws_acm_certificate") {
        let Some(arn) = certificate.text("arn").or_else(|| certificate.text("id")) else { continue };
        for option in certificate.blocks("domain_validation_options") {
            let name = option.get("resource_record_name").and_then(|v| v.as_str()).unwrap_or_default();
            let record_type = option.get("resource_record_type").and_then(|v| v.as_str()).unwrap_or("CNAME");
            if !name.is_empty() {
                records.insert(
                    format!("{} {record_type}", name.trim_end_matches('.').to_ascii_lowercase()),
                    arn.to_string(),
                );
            }
        }
    }
    records
}

/// A certificate's `zone`: where its validation records are, else the adopted hosted zone whose
/// name ends its domain. Without one it cannot be adopted (provision validates through a zone).
fn zones_for_certificates(inventory: &mut Inventory, parents: &[(&Instance, Vec<String>)]) {
    let zones: Vec<(String, String)> = parents
        .iter()
        .filter(|(i, _)| i.type_name == "aws_route53_zone")
        .filter_map(|(i, _)| {
            Some((
                i.text("name")?.trim_end_matches('.').to_ascii_lowercase(),
                i.text("zone_id").or(i.text("id"))?.to_string(),
            ))
        })
        .collect();
    let mut orphaned = Vec::new();
    for (instance, _) in parents.iter().filter(|(i, _)| i.type_name == "aws_acm_certificate") {
        let Some(found) = inventory.by_origin_mut(&instance.address) else { continue };
        if found.fields.contains_key("zone") {
            continue;
        }
        let domain = instance.text("domain_name").unwrap_or_default().trim_start_matches("*.").to_ascii_lowercase();
        let zone = zones
            .iter()
            .filter(|(name, _)| domain == *name || domain.ends_with(&format!(".{name}")))
            .max_by_key(|(name, _)| name.len());
        match zone {
            Some((_, id)) => {
                found.fields.insert("zone".into(), json!(id));
            }
            None => orphaned.push(instance.address.clone()),
        }
    }
    for origin in orphaned {
        inventory.resources.retain(|found| found.origin != origin);
        inventory.unmapped(
            origin,
            "provision validates a certificate through a Route 53 zone it knows, and no `aws_route53_zone` of the state holds its domain",
        );
    }
}

/// provision's buckets block all public access: a bucket whose access block Terraform did not
/// manage may get one on the first apply, which the user should see coming.
fn private_buckets(inventory: &mut Inventory, state: &StateFile) {
    let blocked: Vec<&str> = state
        .instances
        .iter()
        .filter(|i| i.managed && i.type_name == "aws_s3_bucket_public_access_block")
        .filter_map(|i| i.text("bucket"))
        .collect();
    let unblocked: Vec<_> = inventory
        .resources
        .iter()
        .filter(|found| found.address.type_name == "s3_bucket" && !blocked.contains(&found.id.as_str()))
        .map(|found| found.address.clone())
        .collect();
    for address in unblocked {
        inventory.note(
            address,
            "Terraform's state has no public access block for this bucket; provision keeps buckets private, so if AWS has none either the first plan turns all four blocks on",
        );
    }
}

/// Why a type that is neither a provision resource nor a known sub-resource is left alone.
fn other_reason(type_name: &str) -> String {
    match type_name {
        "aws_lb_target_group_attachment" | "aws_alb_target_group_attachment" => {
            "targets of an ECS service are registered by ECS: nothing to adopt".into()
        }
        "aws_s3_object" | "aws_s3_bucket_object" => {
            "an object in a bucket: give the bucket `upload = \"FOLDER\"` to sync the folder it comes from".into()
        }
        "aws_iam_policy" => {
            "provision has no customer managed policy type: it stays, and roles keep it attached by its ARN".into()
        }
        "aws_cloudfront_origin_access_identity" => {
            "provision serves buckets through an origin access control, not an identity: it stays as it is".into()
        }
        other => format!("provision has no resource type for `{other}`: it stays in AWS as it is"),
    }
}

#[cfg(test)]
mod tests;
