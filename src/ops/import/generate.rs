//! `provision import --generate FILE ADDR=ID …`: read existing resources, write them as a stack
//! file (with `${…}` references wherever one resource's id or ARN appears in another), and adopt them
//! into that stack's state, so `provision -f FILE plan` shows no changes.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{anyhow, bail, Result};
use serde_json::Value as Json;

use provision_aws::{AwsCloud, ConnectOptions};
use provision_core::address::Address;
use provision_core::cloud::Cloud;
use provision_core::driver::{DriverRegistry, StackInfo};
use provision_core::schema::{Default, ResourceSchema};
use provision_core::state::StateWriter;
use provision_core::value::JsonMap;

use super::{adopt, load_generated, parse_pairs, read_one};
use crate::ops::{backend_error, lock, read_state, state_backend, GlobalOptions};

pub async fn run(
    global: &GlobalOptions,
    file: &Path,
    name: Option<&str>,
    args: &[String],
    lock_timeout: std::time::Duration,
) -> Result<u8> {
    let cloud = AwsCloud::new(ConnectOptions {
        endpoint: global.endpoint.clone(),
        region: global.region.clone(),
        profile: global.profile.clone(),
    });
    let pairs = parse_pairs(cloud.drivers(), args)?;
    if file.exists() {
        bail!(
            "`{}` already exists; refusing to overwrite it\n\nhint: give `--generate` a new file name",
            file.display()
        );
    }
    let stack_name = match name {
        Some(name) => name.to_string(),
        None => stack_name_from(file),
    };
    let region = crate::ops::region(&cloud).await?;
    let directory = file.parent().map(Path::to_path_buf).unwrap_or_default();
    let info = StackInfo { name: stack_name.clone(), region, directory };

    let mut observed: Vec<(Address, JsonMap, JsonMap)> = Vec::new();
    for (address, id) in &pairs {
        let driver = cloud.drivers().get(&address.type_name).ok_or_else(|| anyhow!("unknown type"))?;
        let canonical = driver.import_id(id).await.map_err(|error| anyhow!("{address}: {error}"))?;
        let read = read_one(driver, &info, address, &canonical, &JsonMap::new())
            .await?
            .ok_or_else(|| anyhow!("{address}: no {} with id `{canonical}` exists", address.type_name))?;
        let mut inputs = driver.import_defaults();
        inputs.extend(read.inputs);
        let mut attributes = read.attributes;
        attributes.entry("id".to_string()).or_insert_with(|| Json::String(read.id.clone()));
        observed.push((address.clone(), inputs, attributes));
    }

    let text = render_stack(cloud.drivers(), &stack_name, &observed);
    std::fs::write(file, &text).map_err(|error| anyhow!("failed to write `{}`: {error}", file.display()))?;

    // Adopt everything into the new stack's state, dependencies first.
    let loaded = load_generated(global, file)?;
    let stack = &loaded.stack;
    let backend = state_backend(&loaded)?;
    let guard = lock(&backend, "import", lock_timeout).await?;
    let (mut state, version) = read_state(backend.as_ref(), stack).await?;
    let identity = loaded.cloud.identity().await.map_err(|error| anyhow!("checking the AWS account: {error}"))?;
    provision_core::engine::pin_identity(&mut state, &identity);
    let ids: BTreeMap<&Address, &String> = pairs.iter().map(|(a, id)| (a, id)).collect();
    for address in stack.graph.topological_order() {
        let Some(id) = ids.get(&address) else { continue };
        let entry = adopt(stack, &loaded.cloud, &mut state, &address, id).await?;
        state.resources.insert(address.clone(), entry);
    }
    let writer = StateWriter::start(backend.clone(), state, version, "import");
    writer.commit(|_| {}).await.map_err(|error| anyhow!("{error}"))?;
    writer.finish().await;
    guard.release().await.map_err(backend_error)?;
    println!(
        "Wrote `{}` ({} resources) and recorded them in the state `{}`.\nReview it, then `provision -f {} plan` shows what differs (nothing, until you edit it).",
        file.display(),
        pairs.len(),
        backend.location(),
        file.display()
    );
    Ok(0)
}

/// A stack name from a file name: `shop-dev.toml` → `shop-dev`.
fn stack_name_from(file: &Path) -> String {
    let stem = file.file_stem().map(|s| s.to_string_lossy().to_lowercase()).unwrap_or_default();
    let mut name: String = stem.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
    name = name.trim_matches('-').chars().take(28).collect();
    if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        name = format!("s-{name}").chars().take(28).collect();
    }
    name
}

/// The stack file text: one table per resource, schema defaults left out, references where a value
/// is another imported resource's attribute.
fn render_stack(drivers: &DriverRegistry, stack_name: &str, observed: &[(Address, JsonMap, JsonMap)]) -> String {
    let mut references: BTreeMap<String, String> = BTreeMap::new();
    for (address, _, attributes) in observed {
        for (attribute, value) in attributes {
            if let Some(text) = value.as_str().filter(|t| t.len() > 3) {
                references.entry(text.to_string()).or_insert_with(|| format!("${{{address}.{attribute}}}"));
            }
        }
    }
    let mut root = toml::Table::new();
    let mut header = toml::Table::new();
    header.insert("name".into(), toml::Value::String(stack_name.to_string()));
    root.insert("stack".into(), toml::Value::Table(header));
    for (address, inputs, _) in observed {
        let Some(driver) = drivers.get(&address.type_name) else { continue };
        let schema = driver.schema();
        let mut table = toml::Table::new();
        for (field, value) in inputs {
            if field != "tags" && (schema.field(field).is_none() || is_default(schema, field, value)) {
                continue;
            }
            if field == "tags" && value.as_object().is_none_or(|t| t.is_empty()) {
                continue;
            }
            let own = format!("${{{address}.");
            if let Some(value) = to_toml(value, &references, &own) {
                table.insert(field.clone(), value);
            }
        }
        let types = root.entry(address.type_name.clone()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
        if let toml::Value::Table(types) = types {
            types.insert(address.name.clone(), toml::Value::Table(table));
        }
    }
    let body = toml::to_string(&root).unwrap_or_default();
    format!(
        "# Written by `provision import --generate` from resources that already exist.\n\
         # Review it; `provision -f FILE plan` shows no changes until you edit it.\n\n{}\n",
        body.trim_end()
    )
}

fn is_default(schema: &ResourceSchema, field: &str, value: &Json) -> bool {
    let Some(spec) = schema.field(field) else { return false };
    match (&spec.default, value) {
        (Default::Bool(b), Json::Bool(v)) => b == v,
        (Default::Int(i), Json::Number(n)) => n.as_i64() == Some(*i),
        (Default::Str(s), Json::String(v)) => s == v,
        (Default::EmptyList, Json::Array(items)) => items.is_empty(),
        (Default::EmptyMap, Json::Object(map)) => map.is_empty(),
        (Default::StrList(defaults), Json::Array(items)) => {
            items.len() == defaults.len()
                && items.iter().zip(defaults.iter()).all(|(item, d)| item.as_str() == Some(*d))
        }
        _ => false,
    }
}

fn to_toml(value: &Json, references: &BTreeMap<String, String>, own: &str) -> Option<toml::Value> {
    Some(match value {
        Json::Null => return None,
        Json::Bool(b) => toml::Value::Boolean(*b),
        Json::Number(n) => toml::Value::Integer(n.as_i64()?),
        Json::String(text) => match references.get(text).filter(|r| !r.starts_with(own)) {
            Some(reference) => toml::Value::String(reference.clone()),
            None => toml::Value::String(text.replace("${", "$${")),
        },
        Json::Array(items) => toml::Value::Array(items.iter().filter_map(|i| to_toml(i, references, own)).collect()),
        Json::Object(map) => toml::Value::Table(
            map.iter().filter_map(|(k, v)| Some((k.clone(), to_toml(v, references, own)?))).collect(),
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn stack_names_come_from_the_file_name() {
        assert_eq!(stack_name_from(Path::new("envs/Shop_Dev.toml")), "shop-dev");
        assert_eq!(stack_name_from(Path::new("2024.toml")), "s-2024");
    }

    #[test]
    fn values_that_are_another_resources_attribute_become_references() {
        let bucket = (
            Address::new("s3_bucket", "site"),
            json!({"bucket": "my-site", "versioning": false}).as_object().unwrap().clone(),
            json!({"name": "my-site", "arn": "arn:aws:s3:::my-site"}).as_object().unwrap().clone(),
        );
        let cdn = (
            Address::new("cloudfront_distribution", "cdn"),
            json!({"origin_bucket": "my-site", "price_class": "PriceClass_All", "tags": {}})
                .as_object()
                .unwrap()
                .clone(),
            json!({"id": "E123"}).as_object().unwrap().clone(),
        );
        let cloud = AwsCloud::new(ConnectOptions::default());
        let text = render_stack(cloud.drivers(), "shop", &[bucket, cdn]);
        assert!(text.contains("origin_bucket = \"${s3_bucket.site.name}\""), "{text}");
        assert!(text.contains("bucket = \"my-site\""), "the bucket's own name stays literal:\n{text}");
        assert!(!text.contains("versioning"), "defaults are left out:\n{text}");
        assert!(text.contains("price_class = \"PriceClass_All\""), "{text}");
        assert!(!text.contains("tags"), "{text}");
    }
}
