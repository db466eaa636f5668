//! `provision import ADDR ID`: adopt a resource that already exists into the state;
//! `provision import --generate FILE ADDR=ID …`: write a stack file for existing resources and adopt
//! them all, so a hand-made environment comes under management in one step; and
//! `provision import --from-terraform STATE` / `--from-cloudformation STACK`: the same for a whole
//! deployment another tool made, found in that tool's records (see `moving_in`).

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};

use provision_aws::AwsCloud;
use provision_core::address::Address;
use provision_core::cloud::{Cloud, Network};
use provision_core::driver::{Driver, DriverRegistry, ExistingResource, Observed, StackInfo};
use provision_core::plan::{desired_inputs, Resolver};
use provision_core::stack::Stack;
use provision_core::state::{ResourceState, ResourceStatus, State, StateWriter};
use provision_core::value::{JsonMap, Value};

use super::{backend_error, load, lock, read_state, state_backend, GlobalOptions};

mod adoption;
mod cloudformation;
mod generate;
mod inventory;
mod moving_in;
mod network;
mod network_fit;
mod render;
mod terraform;

#[derive(Clone, Debug, Default)]
pub struct ImportOptions {
    /// Write a new stack file describing the resources given as `ADDR=ID`.
    pub generate: Option<std::path::PathBuf>,
    /// With `generate`: the new stack's name (default: from the file name).
    pub stack_name: Option<String>,
    /// `ADDR ID`, or with `generate` `ADDR=ID …`.
    pub args: Vec<String>,
    pub lock_timeout: std::time::Duration,
    /// A Terraform state to move in from: a path or `s3://BUCKET/KEY`.
    pub from_terraform: Option<String>,
    /// CloudFormation stacks to move in from.
    pub from_cloudformation: Vec<String>,
    /// With `from_*`: the stack file to write (default: the `-f` file).
    pub out: Option<std::path::PathBuf>,
}

pub async fn run(global: &GlobalOptions, options: &ImportOptions) -> Result<u8> {
    let args = options.args.as_slice();
    if options.from_terraform.is_some() || !options.from_cloudformation.is_empty() {
        if !args.is_empty() || options.generate.is_some() {
            bail!("`--from-terraform` and `--from-cloudformation` take no `ADDR ID` and no `--generate`\n\nhint: `provision import --from-terraform terraform.tfstate --out stack.toml`");
        }
        return moving_in::run(global, options).await;
    }
    match &options.generate {
        Some(file) => generate::run(global, file, options.stack_name.as_deref(), args, options.lock_timeout).await,
        None => match args {
            [address, id] => import_one(global, &parse_address(address)?, id, options.lock_timeout).await,
            _ => bail!("usage: `provision import ADDR ID`, e.g. `provision import s3_bucket.site my-bucket`"),
        },
    }
}

fn parse_address(text: &str) -> Result<Address> {
    text.parse::<Address>().map_err(|message| anyhow!(message))
}

async fn import_one(
    global: &GlobalOptions,
    address: &Address,
    id: &str,
    lock_timeout: std::time::Duration,
) -> Result<u8> {
    let loaded = load(global)?;
    let (stack, cloud) = (&loaded.stack, &loaded.cloud);
    if !stack.resources.contains_key(address) {
        bail!(
            "`{address}` is not in the stack file `{}`\n\nhint: add `[{address}]` to the stack file first (or write one with `provision import --generate FILE {address}={id}`)",
            stack.path.display()
        );
    }
    let backend = state_backend(&loaded)?;
    let guard = lock(&backend, "import", lock_timeout).await?;
    let (mut state, version) = read_state(backend.as_ref(), stack).await?;
    let identity = cloud.identity().await.map_err(|error| anyhow!("checking the AWS account: {error}"))?;
    provision_core::engine::check_region(&state, &identity.region)?;
    provision_core::engine::check_account(&state, &identity)?;
    provision_core::engine::pin_identity(&mut state, &identity);
    let entry = adopt(stack, cloud, &mut state, address, id, &BTreeMap::new()).await?;
    let recorded_id = entry.id.clone();
    let writer = StateWriter::start(backend.clone(), state, version, "import");
    writer
        .commit(|state| {
            state.resources.insert(address.clone(), entry);
        })
        .await
        .map_err(|error| anyhow!("{error}"))?;
    writer.finish().await;
    guard.release().await.map_err(backend_error)?;
    println!(
        "Imported `{address}` (id `{recorded_id}`). Run `provision plan` to see how it differs from the stack file."
    );
    Ok(0)
}

/// Reads the existing resource `id` and returns its state entry under `address`. Inputs the
/// driver cannot read back (provision-side settings like `force_destroy`) are taken from the stack
/// file, so the next plan shows only real differences. `secrets` are secret fields whose value
/// another tool recorded (what AWS holds now): their salted hashes go into the state instead of the
/// environment variable's, so the next plan shows a change only when the variable differs.
pub async fn adopt(
    stack: &Stack,
    cloud: &AwsCloud,
    state: &mut State,
    address: &Address,
    id: &str,
    secrets: &BTreeMap<String, String>,
) -> Result<ResourceState> {
    if let Some(existing) = state.resources.get(address) {
        bail!(
            "`{address}` is already in the state (id `{}`)\n\nhint: `provision state rm {address}` first to adopt another resource under this address",
            existing.id
        );
    }
    let driver = cloud
        .drivers()
        .get(&address.type_name)
        .ok_or_else(|| anyhow!("unknown resource type `{}`", address.type_name))?;
    let mut resource =
        stack.resources.get(address).ok_or_else(|| anyhow!("`{address}` is not in the stack file"))?.clone();
    // A secret whose value is known stands in for its environment variable (which need not be
    // set to adopt): resolved like any secret value, it reaches the inputs only as its hash.
    for (field, value) in secrets {
        if let Some(expr) = resource.fields.get_mut(field) {
            expr.expr =
                provision_core::stack::Expr::Template(vec![provision_core::stack::Part::Literal(value.clone())]);
        }
    }
    let region = super::region(cloud).await?;
    let info = StackInfo {
        name: stack.name.clone(),
        region: region.clone(),
        directory: stack.directory(),
        lineage: Some(state.lineage.clone()),
    };
    let network = stack_network(stack, cloud, state).await?;
    let canonical = driver.import_id(id).await.map_err(|error| anyhow!("{address}: {error}"))?;

    let resolver = Resolver { stack, info: &info, network: network.as_ref() };
    let lookup = |a: &Address| {
        state.resources.get(a).map(|r| r.attributes.iter().map(|(k, v)| (k.clone(), Value::from_json(v))).collect())
    };
    let desired = desired_inputs(&resolver, driver, &resource, &lookup, None).map_err(|e| anyhow!(e))?;
    // A field that refers to a resource not imported yet is not known; it is passed as null so the
    // driver still reads it back (drivers report optional fields the inputs name), and what AWS
    // reports is recorded. That makes the order of imports irrelevant.
    let known: JsonMap = desired.values.iter().map(|(k, v)| (k.clone(), v.to_json_lossy())).collect();

    let observed = read_one(driver, &info, address, &canonical, &known).await?.ok_or_else(|| {
        anyhow!(
            "{address}: no {} with id `{canonical}` exists\n\nhint: check the id and the region (`{region}`)",
            address.type_name
        )
    })?;
    let mut inputs = known;
    inputs.extend(observed.inputs);
    // `aws:` tags are AWS's own (CloudFormation tags what it makes): not the stack's to compare.
    if let Some(serde_json::Value::Object(tags)) = inputs.get_mut("tags") {
        tags.retain(|key, _| !key.to_ascii_lowercase().starts_with("aws:"));
    }
    let serde_json::Value::Object(inputs) = provision_core::value::without_nulls(&serde_json::Value::Object(inputs))
    else {
        unreachable!("a table stays a table")
    };
    Ok(ResourceState {
        type_name: address.type_name.clone(),
        id: if observed.id.is_empty() { canonical } else { observed.id },
        status: ResourceStatus::Created,
        inputs,
        attributes: observed.attributes,
        dependencies: stack.graph.dependencies(address).cloned().collect(),
        protect: resource.protect,
    })
}

pub async fn read_one(
    driver: &dyn Driver,
    info: &StackInfo,
    address: &Address,
    id: &str,
    inputs: &JsonMap,
) -> Result<Option<Observed>> {
    let attributes = JsonMap::new();
    let existing = [ExistingResource { address, id, inputs, attributes: &attributes }];
    let mut results = driver.read(info, &existing).await;
    let result = results.pop().ok_or_else(|| anyhow!("{address}: the driver returned no answer"))?;
    result.map_err(|error| anyhow!("{address}: reading `{id}` failed: {error}"))
}

async fn stack_network(stack: &Stack, cloud: &AwsCloud, state: &mut State) -> Result<Option<Network>> {
    if stack.uses_network {
        let found = cloud.network(&stack.network).await.map_err(|error| anyhow!("[network]: {error}"))?;
        state.network = Some(found);
    }
    Ok(state.network.clone())
}

/// Loads a stack file written by `--generate`, for adopting what it describes.
fn load_generated(global: &GlobalOptions, path: &Path) -> Result<super::Loaded> {
    let mut options = global.clone();
    options.stack_file = path.to_path_buf();
    options.variables = Vec::new();
    load(&options).with_context(|| format!("the generated stack file `{}` does not load", path.display()))
}

/// `ADDR=ID` pairs.
fn parse_pairs(drivers: &DriverRegistry, args: &[String]) -> Result<Vec<(Address, String)>> {
    if args.is_empty() {
        bail!("usage: `provision import --generate FILE ADDR=ID …`, e.g. `s3_bucket.site=my-bucket`");
    }
    let mut pairs = Vec::new();
    let mut seen = BTreeMap::new();
    for arg in args {
        let Some((address, id)) = arg.split_once('=') else {
            bail!("`{arg}` is not `ADDR=ID`, e.g. `s3_bucket.site=my-bucket`");
        };
        let address = parse_address(address)?;
        if drivers.get(&address.type_name).is_none() {
            bail!("unknown resource type `{}` in `{arg}`", address.type_name);
        }
        if seen.insert(address.clone(), ()).is_some() {
            bail!("`{address}` is given twice");
        }
        pairs.push((address, id.to_string()));
    }
    Ok(pairs)
}
