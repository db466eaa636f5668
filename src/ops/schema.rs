//! `provision schema`: the JSON Schema of the stack format, and its reference as Markdown. Both are
//! written by the core from the same descriptors that validate stack files (`provision_core::schema`),
//! so editors, the docs and `validate` can never disagree; this file only picks the AWS types.

use std::path::Path;

use anyhow::{Context, Result};
use serde_json::Value as Json;

use provision_core::driver::DriverRegistry;
use provision_core::schema::{json_schema, reference, ResourceSchema};

pub fn run(markdown: bool) -> Result<u8> {
    if markdown {
        print!("{}", resources_markdown());
    } else {
        println!("{}", schema_text());
    }
    Ok(0)
}

/// The JSON Schema as the file `provision schema` prints and `provision init` writes.
pub fn schema_text() -> String {
    serde_json::to_string_pretty(&stack_schema()).unwrap_or_default()
}

/// Writes the JSON Schema to `path` (for `provision init`).
pub fn write_schema(path: &Path) -> Result<()> {
    std::fs::write(path, schema_text() + "\n").with_context(|| format!("cannot write `{}`", path.display()))
}

pub fn stack_schema() -> Json {
    json_schema::stack_schema(&types(&drivers()))
}

fn resources_markdown() -> String {
    reference::resources_markdown(&types(&drivers()))
}

/// The AWS drivers, for their schemas (nothing connects).
fn drivers() -> DriverRegistry {
    provision_core::cloud::Cloud::drivers(&provision_aws::AwsCloud::new(provision_aws::ConnectOptions::default()))
        .clone()
}

fn types(drivers: &DriverRegistry) -> Vec<&'static ResourceSchema> {
    drivers.iter().map(|driver| driver.schema()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `docs/resources.md` and the generated tables of `docs/stack-format.md` are what the
    /// descriptors say. `PROVISION_UPDATE_DOCS=1` rewrites them instead of failing.
    #[test]
    fn the_committed_docs_are_up_to_date() {
        let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs");
        let resources = docs.join("resources.md");
        let stack_format = docs.join("stack-format.md");
        let committed_format = std::fs::read_to_string(&stack_format).expect("docs/stack-format.md");
        let expected = [
            (resources, resources_markdown()),
            (
                stack_format,
                reference::update_generated_blocks(&committed_format, &reference::stack_format_block)
                    .unwrap_or_else(|problem| panic!("docs/stack-format.md: {problem}")),
            ),
        ];
        let update = std::env::var_os("PROVISION_UPDATE_DOCS").is_some();
        for (path, text) in expected {
            let committed = std::fs::read_to_string(&path).unwrap_or_default();
            if committed == text {
                continue;
            }
            if update {
                std::fs::write(&path, text).expect("write docs");
            } else {
                panic!(
                    "{} is out of date with the stack format's descriptors: run `PROVISION_UPDATE_DOCS=1 cargo test --bin provision committed_docs` and commit the result",
                    path.display()
                );
            }
        }
    }

    #[test]
    fn every_type_is_in_the_schema_with_the_keys_every_resource_takes() {
        let schema = stack_schema();
        for driver in drivers().iter() {
            let type_name = driver.schema().type_name;
            let resource = &schema["properties"][type_name]["additionalProperties"];
            assert_eq!(resource["additionalProperties"], Json::Bool(false), "{type_name}");
            for key in provision_core::schema::RESOURCE_KEYS {
                assert!(resource["properties"].get(key.name).is_some(), "{type_name}.{}", key.name);
            }
        }
    }
}
