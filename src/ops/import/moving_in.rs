//! `provision import --from-terraform STATE` and `--from-cloudformation STACK`: move a whole
//! deployment another tool made under provision in one command. The other tool's records are read
//! (never written), mapped onto provision's types ([`super::terraform`], [`super::cloudformation`]),
//! and handed to the same generator as `import --generate`: every resource is read from AWS, one
//! stack file is written with references between them, and all are adopted into the new stack's
//! state. The report says what was left out and why, which secrets to set, and how to retire the
//! other tool's records.

use std::path::Path;

use anyhow::{anyhow, bail, Result};

use provision_aws::{AwsCloud, ConnectOptions};
use provision_core::stack::{is_valid_stack_name, parse_s3_url};

use super::adoption::{write_and_adopt, Adopted, Request};
use super::cloudformation::{self, StackRecords};
use super::inventory::Inventory;
use super::terraform;
use super::ImportOptions;
use crate::ops::GlobalOptions;

/// Where the resources came from, for the report.
enum Source {
    Terraform { location: String, version: String, serial: u64, lineage: String, data_sources: usize },
    CloudFormation { stacks: Vec<String> },
}

pub async fn run(global: &GlobalOptions, options: &ImportOptions) -> Result<u8> {
    let file = options.out.clone().unwrap_or_else(|| global.stack_file.clone());
    if file.exists() {
        bail!(
            "`{}` already exists; refusing to overwrite it\n\nhint: name the stack file to write with `--out FILE`",
            file.display()
        );
    }
    if let Some(name) = &options.stack_name {
        if !is_valid_stack_name(name) {
            bail!(
                "`{name}` is not a valid stack name\n\nhint: use 1 to 28 characters: a lowercase letter, then lowercase letters, digits or `-` (e.g. `{}`)",
                crate::ops::init::stack_name_from(name)
            );
        }
    }
    let cloud = AwsCloud::new(ConnectOptions {
        endpoint: global.endpoint.clone(),
        region: global.region.clone(),
        profile: global.profile.clone(),
    });
    let (mut inventory, source) = match &options.from_terraform {
        Some(location) => read_terraform(&cloud, location).await?,
        None => read_cloudformation(&cloud, &options.from_cloudformation).await?,
    };
    inventory.keep_to_region(&crate::ops::region(&cloud).await?);
    let stack_name = match (&options.stack_name, &source) {
        (Some(name), _) => name.clone(),
        (None, Source::CloudFormation { stacks }) => crate::ops::init::stack_name_from(&stacks[0]),
        (None, Source::Terraform { .. }) => {
            let folder = std::env::current_dir().map_err(|error| anyhow!("cannot read the current folder: {error}"))?;
            crate::ops::init::stack_name_from(
                &folder.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
            )
        }
    };
    print_source(&source, &inventory);
    if inventory.resources.is_empty() {
        print_unmapped(&inventory.unmapped);
        bail!("nothing there maps onto a provision resource type; nothing was written\n\nhint: the list above says why for each");
    }
    let header = header(&source);
    let request = Request {
        file: &file,
        stack_name: &stack_name,
        header: &header,
        lock_timeout: options.lock_timeout,
        all_or_nothing: false,
        point_at_network: true,
    };
    let adopted = write_and_adopt(global, &request, &inventory).await?;
    report(&source, &inventory, &adopted, &file, global);
    Ok(0)
}

async fn read_terraform(cloud: &AwsCloud, location: &str) -> Result<(Inventory, Source)> {
    let text = if location.starts_with("s3://") {
        let (bucket, key) = parse_s3_url(location).map_err(|problem| anyhow!("`{location}`: {problem}"))?;
        let aws = cloud.session().context().await.map_err(|error| anyhow!("{error}"))?;
        let bytes = provision_aws::object_reader::read_object(aws, &bucket, &key)
            .await
            .map_err(|error| anyhow!("reading the Terraform state `{location}`: {error}"))?
            .ok_or_else(|| {
                anyhow!("there is no Terraform state at `{location}`\n\nhint: a workspace other than `default` keeps its state under `env:/WORKSPACE/{key}`")
            })?;
        String::from_utf8(bytes).map_err(|_| anyhow!("`{location}` is not a Terraform state: not text"))?
    } else {
        read_file(Path::new(location))?
    };
    let state = terraform::state_file::parse(&text, location).map_err(|message| anyhow!(message))?;
    let (inventory, summary) = terraform::inventory(&state, location).map_err(|message| anyhow!(message))?;
    let source = Source::Terraform {
        location: location.to_string(),
        version: state.terraform_version.clone(),
        serial: state.serial,
        lineage: state.lineage.clone(),
        data_sources: summary.data_sources,
    };
    Ok((inventory, source))
}

fn read_file(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|error| {
        let hint = if error.kind() == std::io::ErrorKind::NotFound {
            "give the path of `terraform.tfstate`, or save a remote state first: `terraform state pull > terraform.tfstate`"
        } else {
            "check the file's permissions"
        };
        anyhow!("cannot read the Terraform state `{}`: {error}\n\nhint: {hint}", path.display())
    })
}

async fn read_cloudformation(cloud: &AwsCloud, names: &[String]) -> Result<(Inventory, Source)> {
    let aws = cloud.session().context().await.map_err(|error| anyhow!("{error}"))?;
    let mut stacks = Vec::new();
    for name in names {
        let resources = provision_aws::cloudformation::stack_resources(aws, name).await.map_err(|error| {
            let hint = if error.code_is("ValidationError") {
                "\n\nhint: check the stack's name and the region (`--region`); `aws cloudformation list-stacks` lists them"
            } else {
                ""
            };
            anyhow!("reading CloudFormation stack `{name}`: {error}{hint}")
        })?;
        let template = provision_aws::cloudformation::template(aws, name)
            .await
            .map_err(|error| anyhow!("reading CloudFormation stack `{name}`: {error}"))?;
        stacks.push(StackRecords { name: name.clone(), resources, template });
    }
    let region = crate::ops::region(cloud).await?;
    let inventory = cloudformation::inventory(&stacks, &region).map_err(|message| anyhow!(message))?;
    Ok((inventory, Source::CloudFormation { stacks: names.to_vec() }))
}

fn header(source: &Source) -> String {
    let from = match source {
        Source::Terraform { location, .. } => format!("`provision import --from-terraform {location}`"),
        Source::CloudFormation { stacks } => format!(
            "`provision import{}`",
            stacks.iter().map(|s| format!(" --from-cloudformation {s}")).collect::<String>()
        ),
    };
    format!(
        "Written by {from} from resources that already exist in AWS.\n\
         Names are the ones AWS has (`name = …` keeps them); `provision plan` shows no change until you edit it.\n\
         Each resource says which of the other tool's resources it came from."
    )
}

fn print_source(source: &Source, inventory: &Inventory) {
    match source {
        Source::Terraform { location, version, serial, lineage, data_sources } => {
            let version = if version.is_empty() { String::new() } else { format!("Terraform {version}, ") };
            println!("Read the Terraform state `{location}` ({version}serial {serial}, lineage {lineage}).");
            if *data_sources > 0 {
                println!("Skipped {data_sources} data source(s): they read, they own nothing.");
            }
        }
        Source::CloudFormation { stacks } => {
            println!(
                "Read CloudFormation stack(s) {}.",
                stacks.iter().map(|s| format!("`{s}`")).collect::<Vec<_>>().join(", ")
            )
        }
    }
    println!("\nMaps onto {} provision resource(s):", inventory.resources.len());
    for found in &inventory.resources {
        let folded =
            if found.folded.is_empty() { String::new() } else { format!("  (with {})", found.folded.join(", ")) };
        println!("  {:<34} <- {}{folded}", found.address.to_string(), found.origin);
    }
}

fn print_unmapped(unmapped: &[super::inventory::Unmapped]) {
    if unmapped.is_empty() {
        return;
    }
    println!("\nNot adopted ({}): left alone in AWS and in the other tool's records:", unmapped.len());
    for item in unmapped {
        println!("  {:<34} {}", item.origin, item.reason);
    }
}

fn report(source: &Source, inventory: &Inventory, adopted: &Adopted, file: &Path, global: &GlobalOptions) {
    let mut unmapped = inventory.unmapped.clone();
    unmapped.extend(adopted.gone.iter().cloned());
    print_unmapped(&unmapped);
    if !inventory.notes.is_empty() {
        println!("\nNotes:");
        for note in &inventory.notes {
            println!("  {}: {}", note.subject, note.message);
        }
    }
    println!(
        "\nWrote `{}` ({} resources) and recorded them in the state `{}`.",
        file.display(),
        adopted.addresses.len(),
        adopted.state
    );
    let tool = match source {
        Source::Terraform { .. } => "Terraform",
        Source::CloudFormation { .. } => "CloudFormation",
    };
    match &adopted.network {
        Some((vpc, Some(own))) => println!(
            "The network moved in as `{own}` (VPC `{vpc}`, with its subnets, gateways, route tables and endpoints); the stack lives in it (`[network]`)."
        ),
        Some((vpc, None)) => println!(
            "The network stays where it is: the stack lives in VPC `{vpc}` (`[network]`), and what is added to the file lands there."
        ),
        None => {}
    }
    if let Some(why) = adopted.network_kept.as_ref().or(inventory.network_kept.as_ref()) {
        println!("The network stays with {tool} because it does not fit provision's `vpc` type: {why}.");
    }
    if let Some(schema) = &adopted.schema {
        println!("Wrote `{}`: the stack format, for editors that read the file's `#:schema` line.", schema.display());
    }
    let secrets: Vec<_> = inventory
        .resources
        .iter()
        .filter(|found| adopted.addresses.contains(&found.address))
        .flat_map(|found| found.secrets.iter().map(move |secret| (found, secret)))
        .collect();
    if !secrets.is_empty() {
        println!(
            "\nSecrets are not in the stack file. Set these before `provision plan` (the values the other tool holds):"
        );
        for (found, secret) in &secrets {
            println!(
                "  export {}=…   # {}.{} (`{}`'s `{}`)",
                secret.variable, found.address, secret.field, found.origin, secret.field
            );
        }
    }
    let flag = if *file == global.stack_file { String::new() } else { format!(" -f {}", file.display()) };
    println!("\nNext:\n  provision{flag} plan      should show no change");
    match source {
        Source::Terraform { .. } => {
            let mut addresses: Vec<&str> = Vec::new();
            for found in inventory.resources.iter().filter(|f| adopted.addresses.contains(&f.address)) {
                addresses.push(&found.origin);
                addresses.extend(found.folded.iter().map(String::as_str));
            }
            let quoted: Vec<String> = addresses.iter().map(|a| format!("'{}'", a.replace('\'', "'\\''"))).collect();
            println!(
                "  then let Terraform forget what provision now manages (nothing in AWS changes), and delete those resources from the Terraform configuration:\n    terraform state rm {}",
                quoted.join(" ")
            );
        }
        Source::CloudFormation { stacks } => {
            let network = match &adopted.network {
                Some((_, Some(own))) => format!(", the network's parts included (they are `{own}`'s now)"),
                _ => String::new(),
            };
            for stack in stacks {
                println!(
                    "  then retire CloudFormation stack `{stack}` without deleting what it made: give every resource `DeletionPolicy: Retain`{network} (an update of the template), then `aws cloudformation delete-stack --stack-name {stack}` (docs/moving-in.md)"
                );
            }
        }
    }
}
