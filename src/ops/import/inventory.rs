//! What another tool's records say exists, in provision's terms: the one shape the readers (a
//! Terraform state, a CloudFormation stack) produce and the generator consumes. The generator reads
//! each resource from AWS by its id, so what a reader adds is only what AWS cannot answer: which
//! resources belong together, the other tool's names for them, provision-side settings (a bucket's
//! `force_destroy`), and the secrets the other tool kept.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use provision_core::address::Address;
use provision_core::value::JsonMap;

/// Everything one reader found.
#[derive(Debug, Default)]
pub struct Inventory {
    pub resources: Vec<Found>,
    /// Left alone: listed with the other tool's address and why.
    pub unmapped: Vec<Unmapped>,
    /// Things the user should know about a mapped resource (a setting provision does not manage).
    pub notes: Vec<Note>,
    /// Why the network stays with the other tool, when its records hold one that does not fit
    /// provision's `vpc` type: the first thing that does not.
    pub network_kept: Option<String>,
}

/// One resource provision has a type for.
#[derive(Debug)]
pub struct Found {
    pub address: Address,
    /// What `provision import ADDR ID` takes for this type.
    pub id: String,
    /// The other tool's address (`module.web.aws_lb.this`, a CloudFormation logical id).
    pub origin: String,
    /// The other tool's sub-resources whose settings are fields of this resource.
    pub folded: Vec<String>,
    /// Fields AWS cannot answer for, from the other tool's records.
    pub fields: JsonMap,
    pub secrets: Vec<Secret>,
    /// The region the other tool's records place it in, where they say and the type is regional
    /// (a Terraform provider alias may put a resource in another region than the rest).
    pub region: Option<String>,
    /// A whole network (a `vpc` and its folded parts): adopted only when the driver's read shows
    /// the first apply would change nothing in it (no `repairs`); otherwise listed, with every
    /// folded part, under this reason.
    pub unless_repaired: Option<String>,
}

impl Found {
    pub fn new(address: Address, id: impl Into<String>, origin: impl Into<String>) -> Found {
        Found {
            address,
            id: id.into(),
            origin: origin.into(),
            folded: Vec::new(),
            fields: JsonMap::new(),
            secrets: Vec::new(),
            region: None,
            unless_repaired: None,
        }
    }
}

/// A secret field: written into the stack file as `{ env = "VARIABLE" }`, never in clear.
pub struct Secret {
    pub field: String,
    pub variable: String,
    /// The value the other tool recorded (what AWS holds now). Only its salted hash goes into the
    /// state, so the first plan shows no change when the variable holds this same value.
    pub value: Option<String>,
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let value = if self.value.is_some() { "(sensitive)" } else { "none" };
        write!(f, "Secret {{ field: {:?}, variable: {:?}, value: {value} }}", self.field, self.variable)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Unmapped {
    pub origin: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Note {
    /// The provision address (or, for the other tool's sub-resource, its address).
    pub subject: String,
    pub message: String,
}

impl Inventory {
    pub fn unmapped(&mut self, origin: impl Into<String>, reason: impl Into<String>) {
        self.unmapped.push(Unmapped { origin: origin.into(), reason: reason.into() });
    }

    pub fn note(&mut self, subject: impl fmt::Display, message: impl Into<String>) {
        self.notes.push(Note { subject: subject.to_string(), message: message.into() });
    }

    /// Lists the resources placed in another region than `region` (and what folded into them)
    /// instead of adopting them: a stack manages one region, and reading them here would only find
    /// them missing.
    pub fn keep_to_region(&mut self, region: &str) {
        let (here, elsewhere): (Vec<Found>, Vec<Found>) = std::mem::take(&mut self.resources)
            .into_iter()
            .partition(|found| found.region.as_deref().is_none_or(|r| r == region));
        self.resources = here;
        for found in elsewhere {
            let other = found.region.as_deref().unwrap_or_default();
            self.unmapped(
                &found.origin,
                format!(
                    "it is in region `{other}` and this run works in `{region}`: move it in as a stack of its own with `--region {other} --out FILE`"
                ),
            );
            for part in &found.folded {
                self.unmapped(part, format!("it belongs to `{}`, which is in region `{other}`", found.origin));
            }
        }
    }

    /// The resource found under `origin`, for folding a sub-resource into it.
    pub fn by_origin_mut(&mut self, origin: &str) -> Option<&mut Found> {
        self.resources.iter_mut().find(|found| found.origin == origin)
    }
}

/// Gives each resource a provision name (`^[a-z][a-z0-9_]*$`) from the other tool's name parts,
/// unique per type: `module.web.aws_lb.this` → `web_this`, `aws_subnet.private[0]` → `private_0`,
/// `aws_iam_role.x["api"]` → `x_api`, `my-site` → `my_site`.
#[derive(Debug, Default)]
pub struct Names {
    taken: BTreeMap<String, BTreeSet<String>>,
}

impl Names {
    pub fn address(&mut self, type_name: &str, parts: &[&str]) -> Address {
        let base = resource_name(parts);
        let taken = self.taken.entry(type_name.to_string()).or_default();
        let mut name = base.clone();
        let mut n = 2;
        while taken.contains(&name) {
            name = format!("{base}_{n}");
            n += 1;
        }
        taken.insert(name.clone());
        Address::new(type_name, &name)
    }
}

/// The parts joined by `_`, each lowercased with every run of other characters as one `_`.
pub fn resource_name(parts: &[&str]) -> String {
    let mut name = String::new();
    for part in parts {
        let mut cleaned = String::new();
        for c in part.chars().flat_map(char::to_lowercase) {
            if c.is_ascii_lowercase() || c.is_ascii_digit() {
                cleaned.push(c);
            } else if !cleaned.is_empty() && !cleaned.ends_with('_') {
                cleaned.push('_');
            }
        }
        let cleaned = cleaned.trim_end_matches('_');
        if cleaned.is_empty() {
            continue;
        }
        if !name.is_empty() {
            name.push('_');
        }
        name.push_str(cleaned);
    }
    if name.is_empty() {
        return "main".to_string();
    }
    if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        name.insert_str(0, "r_");
    }
    name
}

/// An environment variable name for a secret field: `db_instance.main` `password` →
/// `DB_INSTANCE_MAIN_PASSWORD`.
pub fn secret_variable(address: &Address, field: &str) -> String {
    format!("{}_{}_{}", address.type_name, address.name, field).to_ascii_uppercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn other_tools_names_become_readable_unique_provision_names() {
        let mut names = Names::default();
        assert_eq!(names.address("s3_bucket", &["my-site"]).name, "my_site");
        assert_eq!(names.address("load_balancer", &["web", "this"]).name, "web_this");
        assert_eq!(names.address("security_group", &["private", "0"]).name, "private_0");
        assert_eq!(names.address("iam_role", &["x", "api"]).name, "x_api");
        assert_eq!(names.address("iam_role", &["x_api"]).name, "x_api_2", "unique per type");
        assert_eq!(names.address("ecs_cluster", &["x_api"]).name, "x_api", "another type may reuse it");
        assert_eq!(names.address("s3_bucket", &["Web", "eu-west-1", "Logs.Bucket"]).name, "web_eu_west_1_logs_bucket");
        assert_eq!(names.address("s3_bucket", &["_", "--"]).name, "main");
        assert_eq!(names.address("s3_bucket", &["0", "a"]).name, "r_0_a");
    }

    #[test]
    fn resources_of_another_region_are_listed_with_their_parts() {
        let mut inventory = Inventory::default();
        let mut here = Found::new(Address::new("s3_bucket", "site"), "site", "aws_s3_bucket.site");
        here.region = Some("eu-west-1".into());
        let mut elsewhere = Found::new(Address::new("s3_bucket", "replica"), "replica", "aws_s3_bucket.replica");
        elsewhere.region = Some("us-west-2".into());
        elsewhere.folded.push("aws_s3_bucket_versioning.replica".into());
        let global = Found::new(Address::new("iam_role", "task"), "task", "aws_iam_role.task");
        inventory.resources = vec![here, elsewhere, global];
        inventory.keep_to_region("eu-west-1");
        let kept: Vec<String> = inventory.resources.iter().map(|f| f.address.to_string()).collect();
        assert_eq!(kept, ["s3_bucket.site", "iam_role.task"]);
        assert_eq!(inventory.unmapped.len(), 2);
        assert_eq!(inventory.unmapped[0].origin, "aws_s3_bucket.replica");
        assert!(inventory.unmapped[0].reason.contains("`--region us-west-2 --out FILE`"), "{:?}", inventory.unmapped);
        assert_eq!(inventory.unmapped[1].origin, "aws_s3_bucket_versioning.replica");
    }

    #[test]
    fn secret_values_never_show_in_debug_output() {
        let secret = Secret { field: "password".into(), variable: "X".into(), value: Some("hunter2".into()) };
        assert!(!format!("{secret:?}").contains("hunter2"));
        assert_eq!(secret_variable(&Address::new("db_instance", "main"), "password"), "DB_INSTANCE_MAIN_PASSWORD");
    }
}
