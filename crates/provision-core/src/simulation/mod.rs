//! Deterministic crash simulation of the whole engine (FoundationDB's simulator and TigerBeetle's
//! VOPR, in small): the real loader, and the run's sequence as the binary runs it
//! ([`crate::run::Run::apply`]: lock, read, region and account checks, refresh and plan, execute
//! with the group-committing writer, record, release), against an in-memory cloud and backend
//! ([`fake_cloud`], [`fake_backend`]) that can "die" at any crash point — before and after every
//! cloud mutation and every state write. After each crash the run starts again from what was
//! persisted, as `provision apply` would after a `kill -9`, and goes on until a run succeeds. Then:
//!
//! - every desired resource exists exactly once, and the state names it;
//! - nothing exists that no state knows, parts included (policies, origin access controls, task
//!   definition revisions);
//! - the state parses, and one more run plans no changes.
//!
//! A crash just before a token-addressed create can also leave its request on its way, to land after
//! the next run's refresh found nothing ([`world::Faults::land_late`]). A destroy from the state
//! alone is crashed the same way, and must leave nothing behind.
//!
//! No emulator is involved: hundreds of crash points run in about a second. Time is tokio's paused
//! clock, so the seeded random interleavings replay exactly.

mod fake_backend;
mod fake_cloud;
mod pacing;
mod script;
mod sequence;
mod world;

use std::sync::Arc;

use fake_backend::{FakeBackend, Persisted};
use fake_cloud::FakeCloud;
use script::Script;
use world::{Rng, Simulation, World};

use crate::cloud::Cloud;
use crate::executor::Parallelism;
use crate::plan::PlanOptions;
use crate::reporter::{NullReporter, Reporter};
use crate::run::{Applied, Refresh, Run, RunOptions};
use crate::stack::{self, LoadOptions, Stack};
use crate::state::{ResourceStatus, StateBackend};

/// What exists before the scenario's change: 19 resources of the four fake types.
const BEFORE: &str = r#"
[stack]
name = "sim"

[bucket.b1]
policy = true
[bucket.b2]
[bucket.b3]
[bucket.b4]
[bucket.old1]
[bucket.old2]
[bucket.old3]
policy = true
[bucket.r1]
[bucket.r2]

[distribution.d1]
origin = "${bucket.b1.name}"
[distribution.d2]
origin = "${bucket.b2.name}"
[distribution.old4]
origin = "${bucket.old3.name}"

[group.g1]
port = 80
[group.g2]
port = 80

[service.s1]
image = "app:v1"
group = "${group.g1.arn}"
[service.s2]
image = "worker:v1"
group = "${group.g2.arn}"
"#;

/// The change: in-place updates (one adds a part, one makes a new revision), a plain replacement,
/// a create-before-destroy replacement that a service must follow, two deletes, creates with parts,
/// and one create that fails once.
const AFTER: &str = r#"
[stack]
name = "sim"

[bucket.b1]
policy = true
[bucket.b2]
versioning = true
[bucket.b3]
policy = true
[bucket.b4]
tags = { team = "web" }
[bucket.r1]
name = "sim-r1-renamed"
[bucket.r2]
name = "sim-r2-renamed"
policy = true
[bucket.b6]
[bucket.b7]
policy = true
[bucket.b8]
policy = true
[bucket.flaky]

[distribution.d1]
origin = "${bucket.b1.name}"
comment = "v2"
[distribution.d2]
origin = "${bucket.b2.name}"
[distribution.d3]
origin = "${bucket.b6.name}"
[distribution.d4]
origin = "${bucket.b7.name}"

[group.g1]
port = 8080
[group.g2]
port = 80
[group.g3]
port = 9000

[service.s1]
image = "app:v2"
group = "${group.g1.arn}"
[service.s2]
image = "worker:v1"
group = "${group.g2.arn}"
[service.s3]
image = "api:v1"
group = "${group.g3.arn}"
[service.s4]
image = "cron:v1"
group = "${group.g2.arn}"
"#;

struct Scenario {
    before: Stack,
    after: Stack,
    /// `AFTER` as `destroy` loads it: its state and nothing else.
    state_only: Stack,
    _dir: tempfile::TempDir,
}

fn load(dir: &std::path::Path, name: &str, text: &str, cloud: &FakeCloud, options: &LoadOptions) -> Stack {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    stack::load(&path, options, cloud.drivers()).unwrap_or_else(|e| panic!("{}", e.render(false)))
}

impl Scenario {
    fn new() -> Scenario {
        let dir = tempfile::tempdir().unwrap();
        let cloud = FakeCloud::new(Arc::new(Simulation::default()));
        let everything = LoadOptions::default();
        let before = load(dir.path(), "before.toml", BEFORE, &cloud, &everything);
        let after = load(dir.path(), "after.toml", AFTER, &cloud, &everything);
        let state_only =
            load(dir.path(), "after.toml", AFTER, &cloud, &LoadOptions { state_only: true, ..LoadOptions::default() });
        Scenario { before, after, state_only, _dir: dir }
    }
}

/// How one run ended.
#[derive(Debug, PartialEq)]
enum Ended {
    /// Everything planned succeeded.
    Done,
    /// Some action failed (the run itself completed).
    Failed,
    /// The simulated process died.
    Killed,
}

/// One run of the binary's sequence over the simulation: `apply`, or with `options.plan.destroy`,
/// `destroy`.
async fn run_sequence(
    sim: &Arc<Simulation>,
    backend: &Arc<FakeBackend>,
    stack: &Stack,
    options: &RunOptions,
    reporter: &dyn Reporter,
    frontend: &Script,
) -> (Ended, Option<Applied>) {
    let cloud = FakeCloud::new(sim.clone());
    let run = Run { stack, backend: backend.clone(), cloud: &cloud };
    match run.apply(options, reporter, frontend).await {
        Err(_) if sim.crashed() => (Ended::Killed, None),
        Err(error) => panic!("the run failed without a crash: {error:#}"),
        Ok(applied) if sim.crashed() => (Ended::Killed, Some(applied)),
        Ok(applied) if applied.exit_code() == 0 => (Ended::Done, Some(applied)),
        Ok(applied) => (Ended::Failed, Some(applied)),
    }
}

fn run_options(parallelism: usize, destroy: bool) -> RunOptions {
    RunOptions {
        plan: PlanOptions { destroy, ..PlanOptions::default() },
        parallelism: Parallelism::Fixed(parallelism),
        auto_approve: true,
        ..RunOptions::default()
    }
}

/// One `provision apply`.
async fn apply(sim: &Arc<Simulation>, backend: &Arc<FakeBackend>, stack: &Stack, parallelism: usize) -> Ended {
    let options = run_options(parallelism, false);
    run_sequence(sim, backend, stack, &options, &NullReporter, &Script::new()).await.0
}

/// One `provision destroy`, with the stack loaded as destroy loads it.
async fn destroy(sim: &Arc<Simulation>, backend: &Arc<FakeBackend>, stack: &Stack, parallelism: usize) -> Ended {
    let options = run_options(parallelism, true);
    run_sequence(sim, backend, stack, &options, &NullReporter, &Script::new()).await.0
}

/// A fresh single-threaded runtime on a paused clock. Every simulated history gets its own, so its
/// timers line up the same way each time (tokio orders timers that fire together by where they sit
/// in its timer wheel, which depends on the clock's absolute position).
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap()
}

fn simulate<T>(history: impl std::future::Future<Output = T>) -> T {
    runtime().block_on(history)
}

/// The world and state after applying `BEFORE` without faults: where each scenario starts.
async fn baseline(scenario: &Scenario) -> (World, Persisted) {
    let sim = Arc::new(Simulation::default());
    sim.world.lock().unwrap().fail_once.insert("sim-flaky".into());
    let backend = Arc::new(FakeBackend::new(sim.clone(), Persisted::default()));
    assert_eq!(apply(&sim, &backend, &scenario.before, 4).await, Ended::Done);
    let world = sim.world.lock().unwrap().clone();
    (world, backend.snapshot())
}

/// Checks what must hold once a run succeeded; the message says what does not.
async fn check_invariants(sim: &Arc<Simulation>, backend: &Arc<FakeBackend>, stack: &Stack) -> Result<(), String> {
    let state = backend.read().await.map_err(|e| format!("the state does not parse: {e}"))?.ok_or("no state")?.state;
    let world = sim.world.lock().unwrap().clone();
    for address in stack.resources.keys() {
        let made: Vec<&String> = world
            .resources
            .iter()
            .filter(|(_, r)| r.tags.get("provision:address") == Some(&address.to_string()))
            .map(|(id, _)| id)
            .collect();
        if made.len() != 1 {
            return Err(format!("{address} exists {} times: {made:?}", made.len()));
        }
        let recorded = state.resources.get(address).ok_or(format!("{address} is not in the state"))?;
        if &recorded.id != made[0] || recorded.status != ResourceStatus::Created {
            return Err(format!(
                "{address} is recorded as {} ({:?}), exists as {}",
                recorded.id, recorded.status, made[0]
            ));
        }
    }
    for (id, resource) in &world.resources {
        if !state.resources.values().any(|r| &r.id == id && r.type_name == resource.kind) {
            return Err(format!("{} `{id}` exists but no state knows it", resource.kind));
        }
    }
    if !state.deposed.is_empty() {
        return Err(format!("old copies are still recorded: {:?}", state.deposed.keys().collect::<Vec<_>>()));
    }
    for (name, part) in &world.parts {
        let in_use = world.resources.values().any(|r| match part.kind {
            "policy" => r.kind == "bucket" && name == &format!("policy:{}", r.name),
            "oac" => r.kind == "distribution" && r.inputs.get("oac").and_then(|v| v.as_str()) == Some(name),
            _ => r.kind == "service" && r.inputs.get("revision").and_then(|v| v.as_str()) == Some(name),
        });
        if !in_use {
            return Err(format!("the {} `{name}` is left over: nothing uses it", part.kind));
        }
    }
    // One more run plans nothing.
    let cloud = FakeCloud::new(sim.clone());
    let run = Run { stack, backend: backend.clone(), cloud: &cloud };
    let planned =
        run.plan(&PlanOptions::default(), &Refresh::Online, &|_| Ok(())).await.map_err(|e| format!("{e:#}"))?;
    if !planned.plan.is_empty() {
        let actions: Vec<String> =
            planned.plan.actions.iter().map(|a| format!("{} {:?}", a.address, a.action)).collect();
        return Err(format!("one more run still plans {actions:?}"));
    }
    Ok(())
}

/// Runs `AFTER` from the baseline with crashes at `crashes` (one per run, in turn), then without
/// faults until a run succeeds, and checks the invariants. With `land_late`, a crash just before a
/// token-addressed create leaves the request on its way ([`world::Faults::land_late`]). Returns how many
/// such requests landed late.
async fn crash_and_recover(
    scenario: &Scenario,
    start: &(World, Persisted),
    crashes: &[u64],
    parallelism: usize,
    delays: Option<u64>,
    land_late: bool,
) -> Result<u64, String> {
    let sim = Arc::new(Simulation::default());
    *sim.world.lock().unwrap() = start.0.clone();
    let backend = Arc::new(FakeBackend::new(sim.clone(), start.1.clone()));
    let mut rng = delays.map(Rng::new);
    for (round, crash) in crashes.iter().enumerate() {
        {
            let mut faults = sim.faults.lock().unwrap();
            *faults = Default::default();
            faults.crash_at = Some(*crash);
            faults.delays = rng.as_mut().map(|r| Rng::new(r.next()));
            faults.land_late = land_late;
        }
        let ended = apply(&sim, &backend, &scenario.after, parallelism).await;
        if ended != Ended::Killed && round == 0 {
            return Err(format!("crash point {crash} was never reached ({ended:?})"));
        }
    }
    for attempt in 0..4 {
        {
            let mut faults = sim.faults.lock().unwrap();
            *faults = Default::default();
            faults.delays = rng.as_mut().map(|r| Rng::new(r.next()));
        }
        match apply(&sim, &backend, &scenario.after, parallelism).await {
            Ended::Done => {
                check_invariants(&sim, &backend, &scenario.after).await?;
                return Ok(sim.world.lock().unwrap().landed_late);
            }
            Ended::Failed if attempt < 3 => continue,
            other => return Err(format!("recovery run {attempt} ended {other:?}")),
        }
    }
    Err("no recovery run succeeded".into())
}

/// Crash points in one uncrashed run of `AFTER` from the baseline.
async fn crash_points(scenario: &Scenario, start: &(World, Persisted), parallelism: usize, delays: Option<u64>) -> u64 {
    let sim = Arc::new(Simulation::default());
    *sim.world.lock().unwrap() = start.0.clone();
    // The same pauses the first round of `crash_and_recover` draws for this seed.
    sim.faults.lock().unwrap().delays = delays.map(|seed| Rng::new(Rng::new(seed).next()));
    let backend = Arc::new(FakeBackend::new(sim.clone(), start.1.clone()));
    apply(&sim, &backend, &scenario.after, parallelism).await;
    let steps = sim.faults.lock().unwrap().steps;
    steps
}

#[test]
fn the_change_applies_cleanly_without_faults() {
    let scenario = Scenario::new();
    let start = simulate(baseline(&scenario));
    simulate(crash_and_recover(&scenario, &start, &[], 10, None, false)).unwrap();
}

#[test]
fn a_crash_at_every_point_in_turn_is_recovered_from() {
    let scenario = Scenario::new();
    let start = simulate(baseline(&scenario));
    let mut checked = 0;
    for parallelism in [1, 10] {
        let points = simulate(crash_points(&scenario, &start, parallelism, None));
        assert!(points > 80, "only {points} crash points: the scenario is too small");
        eprintln!("simulation: parallelism {parallelism}: {points} crash points");
        for crash in 1..=points {
            if let Err(problem) = simulate(crash_and_recover(&scenario, &start, &[crash], parallelism, None, false)) {
                panic!("after a crash at point {crash} of {points} (parallelism {parallelism}): {problem}");
            }
            checked += 1;
        }
    }
    eprintln!("simulation: {checked} crash points checked");
}

/// Distributions have no name: a crash just before one's create may leave the request on its way,
/// to land after the next run's refresh found nothing. That run sends the token the crashed one
/// recorded, so the cloud refuses the second copy and the run adopts the first: at every crash
/// point, the distribution exists once.
#[test]
fn a_create_on_its_way_at_a_crash_lands_once_at_every_point() {
    let scenario = Scenario::new();
    let start = simulate(baseline(&scenario));
    let mut landed_late = 0;
    for parallelism in [1, 10] {
        let points = simulate(crash_points(&scenario, &start, parallelism, None));
        for crash in 1..=points {
            match simulate(crash_and_recover(&scenario, &start, &[crash], parallelism, None, true)) {
                Ok(landed) => landed_late += landed,
                Err(problem) => panic!(
                    "after a crash at point {crash} of {points} (parallelism {parallelism}), requests on their way: \
                     {problem}"
                ),
            }
        }
    }
    assert!(landed_late >= 4, "only {landed_late} requests landed late: the scenario creates too few distributions");
    eprintln!("simulation: {landed_late} creates landed after the next run's refresh, each made once");
}

#[test]
fn seeded_interleavings_with_two_crashes_are_recovered_from() {
    let scenario = Scenario::new();
    let start = simulate(baseline(&scenario));
    for seed in 0..60u64 {
        let points = simulate(crash_points(&scenario, &start, 10, Some(seed)));
        let mut rng = Rng::new(seed ^ 0x5eed);
        let crashes = [rng.below(points) + 1, rng.below(points) + 1];
        if let Err(problem) = simulate(crash_and_recover(&scenario, &start, &crashes, 10, Some(seed), false)) {
            panic!("seed {seed}, crashes at {crashes:?} of {points}: {problem}");
        }
    }
}
