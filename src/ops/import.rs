//! `provision import ADDR ID`: adopt a resource that already exists into the state, and
//! `provision import --generate FILE ADDR=ID …`: write a stack file for existing resources and adopt
//! them all, so a hand-made environment comes under management in one step.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};

use super::{connect, load_stack, read_state, state_store, GlobalOptions};
use crate::address::Address;
use crate::aws::network::Network;
use crate::aws::AwsContext;
use crate::drivers::{self, ExistingResource, Observed, StackInfo};
use crate::plan::{desired_inputs, Resolver};
use crate::stack::{self, LoadOptions, Stack};
use crate::state::{ResourceState, ResourceStatus, State};
use crate::value::{JsonMap, Value};

mod generate;

pub async fn run(global: &GlobalOptions, generate: Option<&Path>, name: Option<&str>, args: &[String]) -> Result<u8> {
    match generate {
        Some(file) => generate::run(global, file, name, args).await,
        None => match args {
            [address, id] => import_one(global, &parse_address(address)?, id).await,
            _ => bail!("usage: `provision import ADDR ID`, e.g. `provision import s3_bucket.site my-bucket`"),
        },
    }
}

fn parse_address(text: &str) -> Result<Address> {
    text.parse::<Address>().map_err(|message| anyhow!(message))
}

async fn import_one(global: &GlobalOptions, address: &Address, id: &str) -> Result<u8> {
    let stack = load_stack(global)?;
    if !stack.resources.contains_key(address) {
        bail!(
            "`{address}` is not in the stack file `{}`\n\nhint: add `[{address}]` to the stack file first (or write one with `provision import --generate FILE {address}={id}`)",
            stack.path.display()
        );
    }
    let store = state_store(&stack)?;
    let _lock = store.lock("import")?;
    let mut state = read_state(&store, &stack)?;
    let aws = connect(global, &stack).await?;
    let entry = adopt(&stack, &aws, &mut state, address, id).await?;
    let recorded_id = entry.id.clone();
    state.resources.insert(address.clone(), entry);
    state.serial += 1;
    store.write(&state)?;
    println!(
        "Imported `{address}` (id `{recorded_id}`). Run `provision plan` to see how it differs from the stack file."
    );
    Ok(0)
}

/// Reads the existing resource `id` and returns its state entry under `address`. Inputs the
/// driver cannot read back (provision-side settings like `force_destroy`) are taken from the stack
/// file, so the next plan shows only real differences.
pub async fn adopt(
    stack: &Stack,
    aws: &AwsContext,
    state: &mut State,
    address: &Address,
    id: &str,
) -> Result<ResourceState> {
    if let Some(existing) = state.resources.get(address) {
        bail!(
            "`{address}` is already in the state (id `{}`)\n\nhint: `provision state rm {address}` first to adopt another resource under this address",
            existing.id
        );
    }
    let driver = drivers::driver_for(&address.type_name)
        .ok_or_else(|| anyhow!("unknown resource type `{}`", address.type_name))?;
    let resource = stack.resources.get(address).ok_or_else(|| anyhow!("`{address}` is not in the stack file"))?;
    let info = StackInfo { name: stack.name.clone(), region: aws.region().to_string(), directory: stack.directory() };
    let network = stack_network(stack, aws, state).await?;
    let canonical = driver.import_id(aws, id).await.map_err(|error| anyhow!("{address}: {error}"))?;

    let resolver = Resolver { stack, info: &info, network: network.as_ref() };
    let lookup = |a: &Address| {
        state.resources.get(a).map(|r| r.attributes.iter().map(|(k, v)| (k.clone(), Value::from_json(v))).collect())
    };
    let desired = desired_inputs(&resolver, driver, resource, &lookup, None).map_err(|e| anyhow!(e))?;
    // A field that refers to a resource not imported yet is not known; it is passed as null so the
    // driver still reads it back (drivers report optional fields the inputs name), and what AWS
    // reports is recorded. That makes the order of imports irrelevant.
    let known: JsonMap = desired.values.iter().map(|(k, v)| (k.clone(), v.to_json_lossy())).collect();

    let observed = read_one(driver, aws, &info, address, &canonical, &known).await?.ok_or_else(|| {
        anyhow!(
            "{address}: no {} with id `{canonical}` exists\n\nhint: check the id and the region (`{}`)",
            address.type_name,
            aws.region()
        )
    })?;
    let mut inputs = known;
    inputs.extend(observed.inputs);
    let serde_json::Value::Object(inputs) = crate::value::without_nulls(&serde_json::Value::Object(inputs)) else {
        unreachable!("a table stays a table")
    };
    Ok(ResourceState {
        type_name: address.type_name.clone(),
        id: if observed.id.is_empty() { canonical } else { observed.id },
        status: ResourceStatus::Created,
        inputs,
        attributes: observed.attributes,
        dependencies: stack.graph.dependencies(address).cloned().collect(),
    })
}

pub async fn read_one(
    driver: &dyn drivers::Driver,
    aws: &AwsContext,
    info: &StackInfo,
    address: &Address,
    id: &str,
    inputs: &JsonMap,
) -> Result<Option<Observed>> {
    let attributes = JsonMap::new();
    let existing = [ExistingResource { address, id, inputs, attributes: &attributes }];
    let mut results = driver.read(aws, info, &existing).await;
    let result = results.pop().ok_or_else(|| anyhow!("{address}: the driver returned no answer"))?;
    result.map_err(|error| anyhow!("{address}: reading `{id}` failed: {error}"))
}

async fn stack_network(stack: &Stack, aws: &AwsContext, state: &mut State) -> Result<Option<Network>> {
    if let Some(found) = super::look_up_network(stack, aws).await? {
        state.network = Some(found);
    }
    Ok(state.network.clone())
}

/// Loads a stack file written by `--generate`, for adopting what it describes.
fn load_generated(path: &Path, variables: &[(String, String)]) -> Result<Stack> {
    stack::load(path, &LoadOptions { variables: variables.to_vec() })
        .with_context(|| format!("the generated stack file `{}` does not load", path.display()))
}

/// `ADDR=ID` pairs.
fn parse_pairs(args: &[String]) -> Result<Vec<(Address, String)>> {
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
        if drivers::driver_for(&address.type_name).is_none() {
            bail!("unknown resource type `{}` in `{arg}`", address.type_name);
        }
        if seen.insert(address.clone(), ()).is_some() {
            bail!("`{address}` is given twice");
        }
        pairs.push((address, id.to_string()));
    }
    Ok(pairs)
}
