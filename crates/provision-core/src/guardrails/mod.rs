//! Guardrails without a policy language: built-in checks for the mistakes that cost web apps their
//! data or their bill, run on every plan against what the stack will look like after it.
//!
//! Each check has an id, and each finding names the address, why it matters and the fix. A finding
//! is a warning: it never stops a plan unless `--deny-warnings` asks it to, and a stack accepts one
//! with `[guardrails] allow = [{ check, address, reason }]`, whose reason the plan prints. The
//! checks read field names and values, never the cloud, so they run offline and in the core.

mod checks;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::address::Address;
use crate::value::JsonMap;

pub use checks::CHECKS;

/// One built-in check.
pub struct Check {
    pub id: &'static str,
    /// What it looks for, for docs and `--help`.
    pub summary: &'static str,
    pub why: &'static str,
    pub run: fn(&Subject<'_>, &[Subject<'_>]) -> Vec<Hit>,
}

/// What a check found on one resource: what is wrong, and the fix for it.
pub struct Hit {
    pub message: String,
    pub fix: String,
}

/// A resource as the plan leaves it: its known inputs, and which resources its fields refer to in
/// the stack file (values such as an ARN are not known before the resource they come from exists).
pub struct Subject<'a> {
    pub address: &'a Address,
    pub inputs: &'a JsonMap,
    pub refers_to: BTreeMap<String, Vec<Address>>,
}

impl Subject<'_> {
    pub fn is(&self, type_name: &str) -> bool {
        self.address.type_name == type_name
    }
}

/// `[guardrails] allow = [{ check = "ID", address = "TYPE.NAME", reason = "…" }]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Allow {
    pub check: String,
    pub address: Address,
    pub reason: String,
}

/// A guardrail finding, as plans carry it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub check: String,
    pub address: Address,
    pub message: String,
    pub why: String,
    pub fix: String,
    /// The stack file's reason for accepting it, when `[guardrails] allow` does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed: Option<String>,
}

/// Runs every check on every subject; findings come sorted by address, then check.
pub fn check(subjects: &[Subject<'_>], allow: &[Allow]) -> Vec<Finding> {
    let mut findings = Vec::new();
    for subject in subjects {
        for check in CHECKS {
            for hit in (check.run)(subject, subjects) {
                let allowed = allow
                    .iter()
                    .find(|a| a.check == check.id && &a.address == subject.address)
                    .map(|a| a.reason.clone());
                findings.push(Finding {
                    check: check.id.to_string(),
                    address: subject.address.clone(),
                    message: hit.message,
                    why: check.why.to_string(),
                    fix: hit.fix,
                    allowed,
                });
            }
        }
    }
    findings.sort_by(|a, b| (&a.address, &a.check).cmp(&(&b.address, &b.check)));
    findings
}

/// The ids of the built-in checks, as the stack format's `[guardrails] allow` descriptor lists them
/// (a test keeps it in step with [`CHECKS`]).
pub const CHECK_IDS: &[&str] = &[
    "open-port",
    "public-database",
    "unencrypted-storage",
    "no-backups",
    "http-not-redirected",
    "cloudfront-http-origin",
    "iam-wildcard-action",
];

/// The ids of the built-in checks.
pub fn check_ids() -> Vec<&'static str> {
    CHECKS.iter().map(|c| c.id).collect()
}

/// Findings that no `allow` accepts: what `--deny-warnings` fails on.
pub fn warnings(findings: &[Finding]) -> impl Iterator<Item = &Finding> {
    findings.iter().filter(|f| f.allowed.is_none())
}
