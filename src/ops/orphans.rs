//! Resources tagged as this state's (`provision:stack = <name>` and `provision:lineage = <the state's
//! lineage>`) that the state does not know: left by a run that was killed before it could record
//! them. `provision state orphans` lists them with the import command that would adopt each;
//! `provision destroy --sweep` lists them and asks before deleting them.
//!
//! The stack's name alone proves nothing (another team's stack, or an earlier copy of this one, may
//! share it), so what carries the name but no lineage is listed as unproven and never swept, and
//! what carries another lineage is not listed at all (`provision_core::state::ownership`).
//!
//! They are found with the Resource Groups Tagging API (one paginated call for every service it
//! covers) plus each driver's own listing for services it does not cover (IAM).

use std::collections::BTreeMap;

use anyhow::{anyhow, Result};

use provision_aws::AwsCloud;
use provision_core::address::Address;
use provision_core::cloud::{Cloud, TaggedResource};
use provision_core::driver::{ExistingResource, Leftover, ProgressSink, StackInfo};
use provision_core::state::{ownership, Ownership, State};
use provision_core::value::JsonMap;

#[derive(Clone, Debug)]
pub struct Orphan {
    pub address: Address,
    pub arn: String,
    /// The id the resource's driver records for it.
    pub id: String,
}

/// The order sweeping deletes in: what uses other resources goes first.
const DELETE_ORDER: &[&str] = &[
    "dns_record",
    "ecs_service",
    "listener_rule",
    "listener",
    "cloudfront_distribution",
    "db_instance",
    "load_balancer",
    "target_group",
    "ecs_cluster",
    "db_subnet_group",
    "elasticache_redis",
    "security_group",
    "ecr_repository",
    "iam_role",
    "s3_bucket",
    "log_group",
    "secret",
    // Last: every listener and distribution that may hold one is gone by then.
    "certificate",
];

/// Types that are never orphans and never swept: a hosted zone is the account's, not the stack's,
/// even if someone tagged it with the stack.
const NEVER_SWEPT: &[&str] = &["dns_zone"];

/// What belongs to the stack but not to its state.
#[derive(Debug, Default)]
pub struct Strays {
    /// Whole resources, with the import command that would adopt each.
    pub orphans: Vec<Orphan>,
    /// Tagged with the stack's name but no lineage: listed, never swept.
    pub unproven: Vec<Orphan>,
    /// Parts drivers made that nothing recorded uses, by resource type.
    pub leftovers: Vec<(String, Leftover)>,
}

impl Strays {
    pub fn is_empty(&self) -> bool {
        self.orphans.is_empty() && self.leftovers.is_empty()
    }

    pub fn len(&self) -> usize {
        self.orphans.len() + self.leftovers.len()
    }
}

pub async fn find(cloud: &AwsCloud, stack_name: &str, state: &State) -> Result<Strays> {
    let tagged = cloud
        .tagged(stack_name)
        .await
        .map_err(|error| anyhow!("looking for resources tagged with the stack: {error}"))?;
    let (orphans, unproven) = find_orphans(cloud, stack_name, state, &tagged).await?;
    // Parts found through tags count only when the tags say they are this state's.
    let ours: Vec<TaggedResource> = tagged
        .into_iter()
        .filter(|t| !t.tags.contains_key(provision_core::state::LINEAGE_TAG) || is_ours(&t.tags, stack_name, state))
        .collect();
    let leftovers = find_leftovers(cloud, stack_name, state, &ours).await?;
    Ok(Strays { orphans, unproven, leftovers })
}

/// Whether `tags` mark a resource as made by this state (the one rule, shared with adoption).
pub fn is_ours(tags: &std::collections::BTreeMap<String, String>, stack_name: &str, state: &State) -> bool {
    ownership(tags, stack_name, &state.lineage) == Ownership::Ours
}

/// Each driver's parts that nothing in the state uses, all types at once.
async fn find_leftovers(
    cloud: &AwsCloud,
    stack_name: &str,
    state: &State,
    tagged: &[TaggedResource],
) -> Result<Vec<(String, Leftover)>> {
    let region = cloud.region().await.map_err(|error| anyhow!("{error}"))?;
    let info = StackInfo { name: stack_name.to_string(), region, directory: ".".into(), lineage: None };
    let lookups = cloud.drivers().iter().map(|driver| {
        let type_name = driver.schema().type_name;
        let recorded: Vec<ExistingResource<'_>> = state
            .resources
            .iter()
            .chain(&state.deposed)
            .filter(|(address, _)| address.type_name == type_name)
            .map(|(address, entry)| ExistingResource {
                address,
                id: &entry.id,
                inputs: &entry.inputs,
                attributes: &entry.attributes,
            })
            .collect();
        let info = &info;
        async move { (type_name, driver.leftovers(info, &recorded, tagged).await) }
    });
    let mut leftovers = Vec::new();
    for (type_name, found) in futures::future::join_all(lookups).await {
        let found = found.map_err(|error| anyhow!("looking for leftover `{type_name}` parts: {error}"))?;
        leftovers.extend(found.into_iter().map(|leftover| (type_name.to_string(), leftover)));
    }
    Ok(leftovers)
}

async fn find_orphans(
    cloud: &AwsCloud,
    stack_name: &str,
    state: &State,
    tagged: &[TaggedResource],
) -> Result<(Vec<Orphan>, Vec<Orphan>)> {
    let drivers = cloud.drivers();
    let mut candidates = Vec::new();
    let mut unproven_candidates = Vec::new();
    for TaggedResource { arn, tags } in tagged {
        let arn = arn.clone();
        let owner = ownership(tags, stack_name, &state.lineage);
        if owner == Ownership::Other {
            continue;
        }
        let Some(address) = tags.get("provision:address").and_then(|a| a.parse::<Address>().ok()) else { continue };
        if NEVER_SWEPT.contains(&address.type_name.as_str()) {
            continue;
        }
        let Some(driver) = drivers.get(&address.type_name) else { continue };
        // Other things a driver tags (task definitions, snapshots) are not resources of its type.
        let Some(id) = driver.id_from_arn(&arn) else { continue };
        if !is_known(state, &address, &id, &arn) {
            match owner {
                Ownership::Ours => candidates.push(Orphan { address, arn, id }),
                _ => unproven_candidates.push(Orphan { address, arn, id }),
            }
        }
    }
    let order = |a: &Orphan, b: &Orphan| {
        (delete_rank(&a.address), &a.address, &a.id).cmp(&(delete_rank(&b.address), &b.address, &b.id))
    };
    let mut orphans = still_existing(cloud, stack_name, candidates).await?;
    orphans.sort_by(order);
    let mut unproven = still_existing(cloud, stack_name, unproven_candidates).await?;
    unproven.sort_by(order);
    Ok((orphans, unproven))
}

/// Only what still exists: tag listings can lag behind deletes (and the emulator keeps listing
/// inactive ECS services), so each candidate is read by its driver, one batch per type.
async fn still_existing(cloud: &AwsCloud, stack_name: &str, candidates: Vec<Orphan>) -> Result<Vec<Orphan>> {
    let region = cloud.region().await.map_err(|error| anyhow!("{error}"))?;
    let info = StackInfo { name: stack_name.to_string(), region, directory: ".".into(), lineage: None };
    let mut by_type: BTreeMap<String, Vec<Orphan>> = BTreeMap::new();
    for candidate in candidates {
        by_type.entry(candidate.address.type_name.clone()).or_default().push(candidate);
    }
    let mut existing = Vec::new();
    let empty = JsonMap::new();
    for (type_name, candidates) in by_type {
        let Some(driver) = cloud.drivers().get(&type_name) else { continue };
        let mut attributes: Vec<JsonMap> = Vec::new();
        for candidate in &candidates {
            let mut map = JsonMap::new();
            map.insert("arn".into(), serde_json::Value::String(candidate.arn.clone()));
            attributes.push(map);
        }
        let resources: Vec<ExistingResource<'_>> = candidates
            .iter()
            .zip(&attributes)
            .map(|(c, attributes)| ExistingResource { address: &c.address, id: &c.id, inputs: &empty, attributes })
            .collect();
        let reads = driver.read(&info, &resources).await;
        for (candidate, read) in candidates.iter().zip(reads) {
            match read {
                Ok(Some(_)) => existing.push(candidate.clone()),
                Ok(None) => {}
                Err(error) => return Err(anyhow!("{}: reading `{}` failed: {error}", candidate.address, candidate.id)),
            }
        }
    }
    Ok(existing)
}

/// Whether the state holds the resource, under its tagged address or any other of its type: a
/// resource renamed with `[[moved]]` still carries its old address in its tags.
fn is_known(state: &State, address: &Address, id: &str, arn: &str) -> bool {
    let matches = |entry: &provision_core::state::ResourceState| {
        entry.id == id || entry.id == arn || entry.attributes.get("arn").and_then(|a| a.as_str()) == Some(arn)
    };
    state
        .resources
        .iter()
        .chain(&state.deposed)
        .any(|(recorded, entry)| recorded.type_name == address.type_name && matches(entry))
}

fn delete_rank(address: &Address) -> usize {
    DELETE_ORDER.iter().position(|t| *t == address.type_name).unwrap_or(DELETE_ORDER.len())
}

/// Removes the leftover parts (after the orphans, which may still use some). Returns the failures.
pub async fn sweep_leftovers(cloud: &AwsCloud, leftovers: &[(String, Leftover)]) -> Vec<(String, String)> {
    let mut failures = Vec::new();
    for (type_name, leftover) in leftovers {
        let Some(driver) = cloud.drivers().get(type_name) else { continue };
        if let Err(error) = driver.delete_leftover(leftover).await {
            failures.push((format!("{} `{}`", leftover.kind, leftover.id), error.to_string()));
        }
    }
    failures
}

/// Deletes the orphans, most dependent first. `inputs` gives the stack file's settings for an
/// address (e.g. `force_destroy`) where it still has one. Returns the failures.
pub async fn sweep(
    cloud: &AwsCloud,
    info: &StackInfo,
    orphans: &[Orphan],
    inputs: &dyn Fn(&Address) -> JsonMap,
    progress: &dyn ProgressSink,
) -> Vec<(Orphan, String)> {
    let _ = info;
    let mut failures = Vec::new();
    for orphan in orphans {
        let Some(driver) = cloud.drivers().get(&orphan.address.type_name) else { continue };
        let inputs = inputs(&orphan.address);
        let mut attributes = JsonMap::new();
        attributes.insert("arn".into(), serde_json::Value::String(orphan.arn.clone()));
        let existing =
            ExistingResource { address: &orphan.address, id: &orphan.id, inputs: &inputs, attributes: &attributes };
        progress.waiting(&orphan.address, &format!("sweeping `{}`, which the state does not know", orphan.id));
        if let Err(error) = driver.delete(&existing, progress).await {
            failures.push((orphan.clone(), error.to_string()));
        }
    }
    failures
}

/// `destroy --sweep`, after the destroy: deletes what is tagged with the stack but unknown to the
/// state.
pub async fn sweep_stack(
    global: &super::GlobalOptions,
    options: &super::apply::ApplyOptions,
    reporter: &dyn provision_core::reporter::Reporter,
) -> Result<u8> {
    let loaded = super::load(global)?;
    sweep_loaded(global, options, &loaded, reporter).await
}

/// [`sweep_stack`] for a stack already loaded (`sweep --expired` loads one per environment).
pub(super) async fn sweep_loaded(
    global: &super::GlobalOptions,
    options: &super::apply::ApplyOptions,
    loaded: &super::Loaded,
    reporter: &dyn provision_core::reporter::Reporter,
) -> Result<u8> {
    let backend = super::state_backend(loaded)?;
    let guard = super::lock(&backend, "destroy --sweep", options.lock_timeout).await?;
    let (state, _) = super::read_state(backend.as_ref(), &loaded.stack).await?;
    let code = remove_strays(global, options, loaded, &state, reporter).await;
    guard.release().await.map_err(super::backend_error)?;
    code
}

/// Deletes what is tagged with the stack, or was made for it, that `state` does not know.
pub(super) async fn remove_strays(
    global: &super::GlobalOptions,
    options: &super::apply::ApplyOptions,
    loaded: &super::Loaded,
    state: &State,
    reporter: &dyn provision_core::reporter::Reporter,
) -> Result<u8> {
    // With `--json`, stdout holds the destroy's events alone: the sweep speaks on stderr.
    let say = |line: String| if options.json { eprintln!("{line}") } else { println!("{line}") };
    let (stack, cloud) = (&loaded.stack, &loaded.cloud);
    let strays = find(cloud, &stack.name, state).await?;
    for orphan in &strays.unproven {
        eprintln!(
            "warning: {} `{}` is tagged `provision:stack = {}` but carries no `provision:lineage`, so it cannot be told to be this state's; it was left alone (adopt it with `provision import {} {}`)",
            orphan.address, orphan.id, stack.name, orphan.address, orphan.id
        );
    }
    if strays.is_empty() {
        say(format!("Sweep: nothing tagged as this state's (`provision:lineage = {}`) is left.", state.lineage));
        return Ok(0);
    }
    let info = provision_core::engine::stack_info(stack, super::region(cloud).await?);
    say(sweep_list(loaded, state, &strays));
    if !options.auto_approve {
        use provision_core::run::Frontend;
        let frontend = super::terminal_frontend::TerminalFrontend { global, json: options.json, auto_approve: false };
        if !frontend.confirm("sweep")? {
            return Ok(1);
        }
    }
    let settings = |address: &Address| stack_settings(loaded, address);
    let progress = SweepProgress(reporter);
    let mut failures: Vec<(String, String)> = sweep(cloud, &info, &strays.orphans, &settings, &progress)
        .await
        .into_iter()
        .map(|(orphan, error)| (format!("{} (`{}`)", orphan.address, orphan.id), error))
        .collect();
    failures.extend(sweep_leftovers(cloud, &strays.leftovers).await);
    for (what, error) in &failures {
        eprintln!("{} {what}: delete failed: {error}", global.error_paint.red("error:"));
    }
    if failures.is_empty() {
        say(format!("Sweep complete: {} deleted.", strays.len()));
        Ok(0)
    } else {
        eprintln!(
            "Sweep: {} of {} could not be deleted; run `provision destroy --sweep` again after fixing the cause.",
            failures.len(),
            strays.len()
        );
        Ok(1)
    }
}

/// Sweeping's waits, reported as the executor reports an action's.
struct SweepProgress<'a>(&'a dyn provision_core::reporter::Reporter);

impl ProgressSink for SweepProgress<'_> {
    fn waiting(&self, address: &Address, message: &str) {
        self.0.report(&provision_core::reporter::Event::Progress {
            address: address.clone(),
            action: provision_core::plan::Action::Delete,
            message: message.to_string(),
            elapsed_s: 0.0,
        });
    }
}

/// What a sweep will delete, one line each, with what each delete takes with it.
fn sweep_list(loaded: &super::Loaded, state: &State, strays: &Strays) -> String {
    let mut lines = vec![format!(
        "Sweep: {} resource(s) and {} leftover part(s) are tagged as this state's (`provision:lineage = {}`) but the state does not know them; sweeping deletes:",
        strays.orphans.len(),
        strays.leftovers.len(),
        state.lineage
    )];
    for orphan in &strays.orphans {
        let settings = stack_settings(loaded, &orphan.address);
        let mut extra = Vec::new();
        if settings.get("force_destroy").and_then(|v| v.as_bool()) == Some(true) {
            extra.push("`force_destroy`: with everything it holds");
        }
        if settings.get("skip_final_snapshot").and_then(|v| v.as_bool()) == Some(true) {
            extra.push("`skip_final_snapshot`: no final snapshot");
        }
        let extra = if extra.is_empty() { String::new() } else { format!("  ({})", extra.join("; ")) };
        lines.push(format!("  - {}  `{}`{extra}", orphan.address, orphan.id));
    }
    for (type_name, leftover) in &strays.leftovers {
        let owner = leftover.owner.as_ref().map(|a| a.to_string()).unwrap_or_else(|| type_name.clone());
        lines.push(format!("  - {owner}: {} `{}`", leftover.kind, leftover.id));
    }
    lines.join("\n")
}

/// The settings a sweep deletes an address with: the stack file's destructive ones (e.g.
/// `force_destroy`) where it names the address, the safe defaults otherwise — never the state's.
fn stack_settings(loaded: &super::Loaded, address: &Address) -> JsonMap {
    let Some(driver) = loaded.cloud.drivers().get(&address.type_name) else { return JsonMap::new() };
    provision_core::plan::deletion_inputs(&loaded.stack, driver, address, &JsonMap::new())
}
