//! From an [`Inventory`] to a stack under management: read every resource from AWS by its id,
//! write the stack file (with references between them), and adopt them all into the new stack's
//! state in one locked write. Nothing is written until every read has succeeded, and the stack
//! file is taken back if the adoption fails, so a failed run can simply be run again.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{anyhow, bail, Result};
use futures::StreamExt;
use serde_json::Value as Json;

use provision_aws::{AwsCloud, ConnectOptions};
use provision_core::address::Address;
use provision_core::cloud::Cloud;
use provision_core::driver::StackInfo;
use provision_core::state::StateWriter;
use provision_core::value::JsonMap;

use super::inventory::{Inventory, Unmapped};
use super::render::{render_stack, Observation};
use super::{adopt, load_generated, read_one};
use crate::ops::{backend_error, lock, read_state, state_backend, GlobalOptions};

/// Reads at once against AWS (each is a few requests; the drivers' limiters pace them further).
const READS_IN_FLIGHT: usize = 8;

pub struct Request<'a> {
    pub file: &'a Path,
    pub stack_name: &'a str,
    /// Comment lines at the top of the stack file.
    pub header: &'a str,
    pub lock_timeout: std::time::Duration,
    /// Whether a resource AWS does not have (or provision cannot hold) fails the command instead
    /// of being listed: the user named each one (`--generate`).
    pub all_or_nothing: bool,
    /// Whether the stack file points at the network the resources sit in (`[network]`, see
    /// `network.rs`), as moving in does.
    pub point_at_network: bool,
}

/// What was adopted.
#[derive(Debug)]
pub struct Adopted {
    pub state: String,
    pub addresses: Vec<Address>,
    /// Resources the other tool's records name that AWS no longer has.
    pub gone: Vec<Unmapped>,
    /// The stack format written beside the stack file (none if one was there already).
    pub schema: Option<std::path::PathBuf>,
    /// The VPC the stack file's `[network]` names, and the stack's `vpc` resource when the network
    /// was adopted as one.
    pub network: Option<(String, Option<Address>)>,
    /// Why the network the records hold was not adopted after all: what the driver's read found
    /// the first apply would change.
    pub network_kept: Option<String>,
}

pub async fn write_and_adopt(global: &GlobalOptions, request: &Request<'_>, inventory: &Inventory) -> Result<Adopted> {
    let file = request.file;
    if file.exists() {
        bail!(
            "`{}` already exists; refusing to overwrite it\n\nhint: name a new file with `--out FILE` (or move the existing one away)",
            file.display()
        );
    }
    let cloud = AwsCloud::new(ConnectOptions {
        endpoint: global.endpoint.clone(),
        region: global.region.clone(),
        profile: global.profile.clone(),
    });
    let region = crate::ops::region(&cloud).await?;
    let directory = file.parent().map(Path::to_path_buf).unwrap_or_default();
    let info = StackInfo { name: request.stack_name.to_string(), region, directory, lineage: None };

    let reads = futures::stream::iter(inventory.resources.iter().map(|found| {
        let (cloud, info) = (&cloud, &info);
        async move {
            let driver = cloud
                .drivers()
                .get(&found.address.type_name)
                .ok_or_else(|| anyhow!("unknown type `{}`", found.address))?;
            let canonical = driver.import_id(&found.id).await.map_err(|error| anyhow!("{}: {error}", found.address))?;
            // Every field named (null where unknown): drivers report the optional fields the
            // inputs name, and a new stack file should hold all that AWS can tell.
            let mut inputs: JsonMap =
                driver.schema().fields.iter().map(|field| (field.name.to_string(), Json::Null)).collect();
            inputs.extend(found.fields.clone());
            let read = read_one(driver, info, &found.address, &canonical, &inputs).await?;
            Ok::<_, anyhow::Error>((found, read))
        }
    }))
    .buffered(READS_IN_FLIGHT)
    .collect::<Vec<_>>()
    .await;

    let mut observations = Vec::new();
    let mut ids = BTreeMap::new();
    let mut secrets: BTreeMap<Address, BTreeMap<String, String>> = BTreeMap::new();
    let mut gone = Vec::new();
    let mut network_kept = None;
    for result in reads {
        let (found, read) = result?;
        let Some(read) = read else {
            gone.push(Unmapped {
                origin: found.origin.clone(),
                reason: format!(
                    "no longer in AWS (no {} `{}`): the other tool's records are out of date",
                    found.address.type_name, found.id
                ),
            });
            continue;
        };
        if let (Some(kept), Some(repair)) = (&found.unless_repaired, first_repair(&read.inputs)) {
            network_kept = Some(format!("provision's `{}` would change it: {repair}", found.address.type_name));
            for origin in std::iter::once(&found.origin).chain(&found.folded) {
                gone.push(Unmapped { origin: origin.clone(), reason: kept.clone() });
            }
            continue;
        }
        let driver = cloud.drivers().get(&found.address.type_name).expect("read above");
        let mut inputs = driver.import_defaults();
        inputs.extend(found.fields.clone());
        inputs.extend(read.inputs);
        drop_aws_tags(&mut inputs);
        name_from_attributes(driver.schema(), &mut inputs, &read.attributes);
        if let Some(missing) = missing_required(driver.schema(), &inputs) {
            gone.push(Unmapped {
                origin: origin_or_address(found),
                reason: format!(
                    "provision's `{}` needs `{missing}`, which AWS does not show for it: it stays as it is",
                    found.address.type_name
                ),
            });
            continue;
        }
        let mut attributes = read.attributes;
        attributes.entry("id".to_string()).or_insert_with(|| Json::String(read.id.clone()));
        ids.insert(found.address.clone(), if read.id.is_empty() { found.id.clone() } else { read.id.clone() });
        let known: BTreeMap<String, String> =
            found.secrets.iter().filter_map(|s| Some((s.field.clone(), s.value.clone()?))).collect();
        secrets.insert(found.address.clone(), known);
        observations.push(Observation {
            address: found.address.clone(),
            inputs,
            attributes,
            secrets: found.secrets.iter().map(|s| (s.field.clone(), s.variable.clone())).collect(),
            comment: comment(&found.origin, &found.folded),
        });
    }
    if request.all_or_nothing {
        if let Some(first) = gone.first() {
            bail!(
                "{}: {}; nothing was written\n\nhint: check the id and the region (`--region`)",
                first.origin,
                first.reason
            );
        }
    }
    if observations.is_empty() {
        bail!("none of the resources found is in AWS any more; nothing was written\n\nhint: check the region (`--region`) and the account the AWS configuration points at");
    }

    let own = inventory
        .resources
        .iter()
        .filter(|found| found.unless_repaired.is_some())
        .find_map(|found| observations.iter().find(|o| o.address == found.address));
    let network = match own {
        Some(vpc) if request.point_at_network => Some(super::network::NetworkChoice::own(vpc)),
        _ if request.point_at_network => super::network::choose(&cloud, &observations).await?,
        _ => None,
    };
    let text = render_stack(cloud.drivers(), request.stack_name, request.header, &observations, network.as_ref());
    write_new(file, &text)?;
    let schema = info.directory.join(crate::ops::init::SCHEMA_FILE);
    let wrote_schema = !schema.exists();
    if wrote_schema {
        if let Err(error) = crate::ops::schema::write_schema(&schema) {
            let _ = std::fs::remove_file(file);
            return Err(error);
        }
    }
    let adopted = adopt_all(global, file, request.lock_timeout, &ids, &secrets).await;
    match adopted {
        Ok(state) => Ok(Adopted {
            state,
            addresses: ids.into_keys().collect(),
            gone,
            schema: wrote_schema.then_some(schema),
            network: network.map(|n| (n.vpc, n.own)),
            network_kept,
        }),
        Err(error) => {
            let kept = error.chain().any(|cause| cause.to_string().contains("does not load"));
            if !kept {
                let _ = std::fs::remove_file(file);
                if wrote_schema {
                    let _ = std::fs::remove_file(&schema);
                }
            }
            Err(error)
        }
    }
}

/// The resource's own name field (`identifier`, `name`), when the driver does not report it, from
/// the attribute of the same meaning: the stack file keeps the name AWS has, never a default.
fn name_from_attributes(schema: &provision_core::schema::ResourceSchema, inputs: &mut JsonMap, attributes: &JsonMap) {
    use provision_core::schema::Default;
    for field in schema.fields {
        let named =
            matches!(field.default, Default::AwsName { .. } | Default::AwsNameHashing { .. } | Default::Pattern(_));
        if !named || inputs.get(field.name).is_some_and(|value| !value.is_null()) {
            continue;
        }
        let value = attributes.get(field.name).or_else(|| attributes.get("name")).filter(|v| v.is_string());
        if let Some(value) = value {
            inputs.insert(field.name.to_string(), value.clone());
        }
    }
}

/// A required field the read did not answer for (a role no single service may assume has no
/// `service`): such a resource would make a stack file that does not load.
fn missing_required(schema: &provision_core::schema::ResourceSchema, inputs: &JsonMap) -> Option<&'static str> {
    schema
        .fields
        .iter()
        .find(|field| field.required && inputs.get(field.name).is_none_or(Json::is_null))
        .map(|f| f.name)
}

fn origin_or_address(found: &super::inventory::Found) -> String {
    if found.origin.is_empty() {
        found.address.to_string()
    } else {
        found.origin.clone()
    }
}

/// The first of the hidden input `repairs` a read reports (what the next apply would make or
/// remove: the `vpc` type's parts that differ from its layout).
fn first_repair(inputs: &JsonMap) -> Option<String> {
    inputs.get("repairs")?.as_array()?.first().map(|repair| repair.as_str().unwrap_or_default().to_string())
}

/// `aws:` tags are AWS's own (CloudFormation's `aws:cloudformation:stack-name`): no stack file
/// may set them.
fn drop_aws_tags(inputs: &mut JsonMap) {
    if let Some(Json::Object(tags)) = inputs.get_mut("tags") {
        tags.retain(|key, _| !key.to_ascii_lowercase().starts_with("aws:"));
    }
}

fn comment(origin: &str, folded: &[String]) -> Option<String> {
    if origin.is_empty() {
        return None;
    }
    Some(match folded {
        [] => format!("from {origin}"),
        _ => format!("from {origin} (with {})", folded.join(", ")),
    })
}

fn write_new(file: &Path, text: &str) -> Result<()> {
    use std::io::Write;
    if let Some(parent) = file.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|error| anyhow!("cannot create `{}`: {error}", parent.display()))?;
    }
    let mut handle = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(file)
        .map_err(|error| anyhow!("cannot write `{}`: {error}", file.display()))?;
    handle.write_all(text.as_bytes()).map_err(|error| anyhow!("cannot write `{}`: {error}", file.display()))
}

/// Adopts every resource of the written stack into its state (dependencies first) and writes the
/// state once. Returns where the state is.
async fn adopt_all(
    global: &GlobalOptions,
    file: &Path,
    lock_timeout: std::time::Duration,
    ids: &BTreeMap<Address, String>,
    secrets: &BTreeMap<Address, BTreeMap<String, String>>,
) -> Result<String> {
    let loaded = load_generated(global, file).map_err(|error| {
        anyhow!(
            "{error:#}\n\nhint: this is a bug in the generator; the file is kept for inspection: remove `{}` before running again",
            file.display()
        )
    })?;
    let stack = &loaded.stack;
    let backend = state_backend(&loaded)?;
    let guard = lock(&backend, "import", lock_timeout).await?;
    let (mut state, version) = read_state(backend.as_ref(), stack).await?;
    if !state.resources.is_empty() {
        guard.release().await.map_err(backend_error)?;
        bail!(
            "the state `{}` of stack `{}` already holds {} resources; adopting into it could take over what it manages\n\nhint: give the new stack its own name with `--name STACK` (or `provision state list` to see what it holds)",
            backend.location(),
            stack.name,
            state.resources.len()
        );
    }
    let identity = loaded.cloud.identity().await.map_err(|error| anyhow!("checking the AWS account: {error}"))?;
    provision_core::engine::pin_identity(&mut state, &identity);
    let none = BTreeMap::new();
    for address in stack.graph.topological_order() {
        let Some(id) = ids.get(&address) else { continue };
        let known = secrets.get(&address).unwrap_or(&none);
        let entry = adopt(stack, &loaded.cloud, &mut state, &address, id, known).await?;
        state.resources.insert(address.clone(), entry);
    }
    let writer = StateWriter::start(backend.clone(), state, version, "import");
    writer.commit(|_| {}).await.map_err(|error| anyhow!("{error}"))?;
    writer.finish().await;
    guard.release().await.map_err(backend_error)?;
    Ok(backend.location())
}
