//! `provision import --generate FILE ADDR=ID …`: read existing resources, write them as a stack
//! file (with `${…}` references wherever one resource's id or ARN appears in another), and adopt them
//! into that stack's state, so `provision -f FILE plan` shows no changes.

use std::path::Path;

use anyhow::Result;

use provision_aws::{AwsCloud, ConnectOptions};
use provision_core::cloud::Cloud;

use super::adoption::{write_and_adopt, Request};
use super::inventory::{Found, Inventory};
use super::parse_pairs;
use crate::ops::GlobalOptions;

pub async fn run(
    global: &GlobalOptions,
    file: &Path,
    name: Option<&str>,
    args: &[String],
    lock_timeout: std::time::Duration,
) -> Result<u8> {
    let cloud = AwsCloud::new(ConnectOptions::default());
    let pairs = parse_pairs(cloud.drivers(), args)?;
    let stack_name = match name {
        Some(name) => name.to_string(),
        None => stack_name_from(file),
    };
    let inventory = Inventory {
        resources: pairs.into_iter().map(|(address, id)| Found::new(address, id, "")).collect(),
        ..Inventory::default()
    };
    let header = "Written by `provision import --generate` from resources that already exist.\n\
                  Review it; `provision -f FILE plan` shows no changes until you edit it.";
    let request =
        Request { file, stack_name: &stack_name, header, lock_timeout, all_or_nothing: true, point_at_network: false };
    let adopted = write_and_adopt(global, &request, &inventory).await?;
    println!(
        "Wrote `{}` ({} resources) and recorded them in the state `{}`.\nReview it, then `provision -f {} plan` shows what differs (nothing, until you edit it).",
        file.display(),
        adopted.addresses.len(),
        adopted.state,
        file.display()
    );
    if let Some(schema) = &adopted.schema {
        println!("Wrote `{}`: the stack format, for editors that read the file's `#:schema` line.", schema.display());
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stack_names_come_from_the_file_name() {
        assert_eq!(stack_name_from(Path::new("envs/Shop_Dev.toml")), "shop-dev");
        assert_eq!(stack_name_from(Path::new("2024.toml")), "s-2024");
    }
}
