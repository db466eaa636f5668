//! Deterministic crash simulation of the whole engine (FoundationDB's simulator and TigerBeetle's
//! VOPR, in small): the real loader, planner, refresh, executor and state writer run against an
//! in-memory cloud and backend ([`fake_cloud`], [`fake_backend`]) that can "die" at any crash point
//! — before and after every cloud mutation and every state write. After each crash the run starts
//! again from what was persisted, as `provision apply` would after a `kill -9`, and goes on until a
//! run succeeds. Then:
//!
//! - every desired resource exists exactly once, and the state names it;
//! - nothing exists that no state knows, parts included (policies, origin access controls, task
//!   definition revisions);
//! - the state parses, and one more run plans no changes.
//!
//! A crash just before a token-addressed create can also leave its request on its way, to land after
//! the next run's refresh found nothing ([`world::Faults::land_late`]).
//!
//! No emulator is involved: hundreds of crash points run in about a second. Time is tokio's paused
//! clock, so the seeded random interleavings replay exactly.

mod fake_backend;
mod fake_cloud;
mod world;

use std::sync::Arc;

use tokio::sync::watch;

use fake_backend::{FakeBackend, Persisted};
use fake_cloud::FakeCloud;
use world::{Rng, Simulation, World};

use crate::cloud::Cloud;
use crate::engine::make_plan;
use crate::executor::{ExecutionOptions, Executor, Parallelism, Stop};
use crate::plan::PlanOptions;
use crate::reporter::NullReporter;
use crate::stack::{self, LoadOptions, Stack};
use crate::state::{ResourceStatus, State, StateBackend, StateWriter};

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
    _dir: tempfile::TempDir,
}

fn load(dir: &std::path::Path, name: &str, text: &str, cloud: &FakeCloud) -> Stack {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    stack::load(&path, &LoadOptions::default(), cloud.drivers()).unwrap_or_else(|e| panic!("{}", e.render(false)))
}

impl Scenario {
    fn new() -> Scenario {
        let dir = tempfile::tempdir().unwrap();
        let cloud = FakeCloud::new(Arc::new(Simulation::default()));
        let before = load(dir.path(), "before.toml", BEFORE, &cloud);
        let after = load(dir.path(), "after.toml", AFTER, &cloud);
        Scenario { before, after, _dir: dir }
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

/// One `provision apply`: read the state, refresh and plan, execute, write.
async fn apply(sim: &Arc<Simulation>, backend: &Arc<FakeBackend>, stack: &Stack, parallelism: usize) -> Ended {
    let cloud = FakeCloud::new(sim.clone());
    let stored = match backend.read().await {
        Ok(stored) => stored,
        Err(error) => panic!("the persisted state does not read: {error}"),
    };
    let (state, version) = match stored {
        Some(stored) => (stored.state, Some(stored.version)),
        None => (State::new("sim"), None),
    };
    let original = state.clone();
    let planned =
        match make_plan(stack, state, Some(&cloud), cloud.drivers(), "us-east-1".into(), &PlanOptions::default()).await
        {
            Ok(planned) => planned,
            Err(_) if sim.crashed() => return Ended::Killed,
            Err(error) => panic!("planning failed without a crash: {error:#}"),
        };
    let writer = StateWriter::start(backend.clone(), planned.state.clone(), version, "apply");
    if planned.plan.is_empty() {
        if !planned.state.same_resources(&original) {
            let _ = writer.commit(|_| {}).await;
        }
        writer.finish().await;
        return if sim.crashed() { Ended::Killed } else { Ended::Done };
    }
    let (_stop, stop) = watch::channel(Stop::No);
    let executor = Executor {
        stack,
        info: &planned.info,
        network: planned.network.as_ref(),
        drivers: cloud.drivers(),
        writer: &writer,
        reporter: &NullReporter,
    };
    let outcome = executor
        .execute(
            &planned.plan,
            &ExecutionOptions { parallelism: Parallelism::Fixed(parallelism), ..Default::default() },
            stop,
        )
        .await;
    writer.finish().await;
    if sim.crashed() {
        Ended::Killed
    } else if outcome.is_success() {
        Ended::Done
    } else {
        Ended::Failed
    }
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
    let planned = make_plan(stack, state, Some(&cloud), cloud.drivers(), "us-east-1".into(), &PlanOptions::default())
        .await
        .map_err(|e| format!("{e:#}"))?;
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

/// The state after applying `BEFORE`, and a fresh simulation holding that world.
async fn started(scenario: &Scenario) -> (Arc<Simulation>, Arc<FakeBackend>) {
    let (world, persisted) = baseline(scenario).await;
    let sim = Arc::new(Simulation::default());
    *sim.world.lock().unwrap() = world;
    let backend = Arc::new(FakeBackend::new(sim.clone(), persisted));
    (sim, backend)
}

#[test]
fn a_second_interrupt_writes_the_state_at_once_and_the_next_run_settles_what_was_in_flight() {
    let scenario = Scenario::new();
    runtime().block_on(async {
        let (sim, backend) = started(&scenario).await;
        sim.faults.lock().unwrap().delays = Some(Rng::new(7));
        let cloud = FakeCloud::new(sim.clone());
        let state = backend.read().await.unwrap().unwrap();
        let planned = make_plan(
            &scenario.after,
            state.state,
            Some(&cloud),
            cloud.drivers(),
            "us-east-1".into(),
            &PlanOptions::default(),
        )
        .await
        .unwrap();
        let writer = StateWriter::start(backend.clone(), planned.state.clone(), Some(state.version), "apply");
        let (stop_sender, stop) = watch::channel(Stop::No);
        // Ctrl-C once after a few actions started, and again as soon as one of them finishes.
        let interrupter = Interrupter { sender: stop_sender, started: Default::default() };
        let executor = Executor {
            stack: &scenario.after,
            info: &planned.info,
            network: planned.network.as_ref(),
            drivers: cloud.drivers(),
            writer: &writer,
            reporter: &interrupter,
        };
        let outcome = executor
            .execute(
                &planned.plan,
                &ExecutionOptions { parallelism: Parallelism::Fixed(10), ..Default::default() },
                stop,
            )
            .await;
        writer.finish().await;
        assert!(outcome.stopped.is_some());
        assert!(!outcome.abandoned.is_empty(), "the second interrupt left actions in flight: {outcome:?}");
        // The abandoned calls are gone with the process; the next runs settle them.
        sim.faults.lock().unwrap().delays = None;
        let mut ended = Ended::Failed;
        for _ in 0..3 {
            ended = apply(&sim, &backend, &scenario.after, 10).await;
            if ended == Ended::Done {
                break;
            }
        }
        assert_eq!(ended, Ended::Done);
        check_invariants(&sim, &backend, &scenario.after).await.unwrap();
    });
}

/// Sends the first stop request once six actions have started, the second at the next finish.
struct Interrupter {
    sender: watch::Sender<Stop>,
    started: std::sync::atomic::AtomicUsize,
}

impl crate::reporter::Reporter for Interrupter {
    fn report(&self, event: &crate::reporter::Event) {
        use std::sync::atomic::Ordering;
        match event {
            crate::reporter::Event::Started { .. } => {
                if self.started.fetch_add(1, Ordering::SeqCst) + 1 == 6 {
                    let _ = self.sender.send(Stop::Finish("interrupted".into()));
                }
            }
            crate::reporter::Event::Finished { .. } if *self.sender.borrow() != Stop::No => {
                let _ = self.sender.send(Stop::Now);
            }
            _ => {}
        }
    }
}

#[test]
fn a_state_made_in_another_region_or_account_is_refused_before_any_change() {
    let scenario = Scenario::new();
    runtime().block_on(async {
        let (sim, backend) = started(&scenario).await;
        let cloud = FakeCloud::new(sim.clone());
        let mut state = backend.read().await.unwrap().unwrap().state;
        assert_eq!(state.region.as_deref(), Some("us-east-1"), "the first apply pinned the region");
        assert_eq!(state.account.as_deref(), Some("000000000000"), "and the account");

        let error = make_plan(
            &scenario.after,
            state.clone(),
            Some(&cloud),
            cloud.drivers(),
            "eu-west-1".into(),
            &PlanOptions::default(),
        )
        .await
        .err()
        .expect("another region is refused");
        let text = format!("{error:#}");
        assert!(text.contains("made in us-east-1") && text.contains("set for eu-west-1"), "{text}");

        state.account = Some("111111111111".into());
        // An apply checks a state that records an account first, even when it would leave a new
        // state's check for later.
        let apply = PlanOptions { check_new_account_alongside: true, ..PlanOptions::default() };
        let error = make_plan(&scenario.after, state, Some(&cloud), cloud.drivers(), "us-east-1".into(), &apply)
            .await
            .err()
            .expect("another account is refused");
        let text = format!("{error:#}");
        assert!(text.contains("account 111111111111") && text.contains("account 000000000000"), "{text}");
    });
}

/// A new state holds nothing another account could own: an apply plans it without waiting for the
/// account, and says that the account is still to be recorded. `plan` asks first.
#[test]
fn a_new_states_account_is_left_for_the_apply_to_record_alongside() {
    let scenario = Scenario::new();
    runtime().block_on(async {
        let sim = Arc::new(Simulation::default());
        let cloud = FakeCloud::new(sim.clone());
        let apply = PlanOptions { check_new_account_alongside: true, ..PlanOptions::default() };
        let planned =
            make_plan(&scenario.before, State::new("sim"), Some(&cloud), cloud.drivers(), "us-east-1".into(), &apply)
                .await
                .expect("planned");
        assert!(planned.account_unchecked);
        assert_eq!(planned.state.account, None);
        assert!(!planned.plan.is_empty());

        let planned = make_plan(
            &scenario.before,
            State::new("sim"),
            Some(&cloud),
            cloud.drivers(),
            "us-east-1".into(),
            &PlanOptions::default(),
        )
        .await
        .expect("planned");
        assert!(!planned.account_unchecked);
        assert_eq!(planned.state.account.as_deref(), Some("000000000000"));
    });
}

#[test]
fn an_old_copy_with_the_live_copys_id_is_forgotten_not_deleted() {
    let scenario = Scenario::new();
    runtime().block_on(async {
        let (sim, backend) = started(&scenario).await;
        let stored = backend.read().await.unwrap().unwrap();
        let mut state = stored.state;
        let group = crate::address::Address::new("group", "g2");
        let live = state.resources[&group].clone();
        // A replacement whose new copy turned out to be the old one (adopted by its name).
        state.deposed.insert(group.clone(), live.clone());
        let writer = StateWriter::start(backend.clone(), state, Some(stored.version), "apply");
        writer.commit(|_| {}).await.unwrap();
        writer.finish().await;
        assert_eq!(apply(&sim, &backend, &scenario.before, 4).await, Ended::Done);
        assert!(sim.world.lock().unwrap().resources.contains_key(&live.id), "the live group still exists");
        let state = backend.read().await.unwrap().unwrap().state;
        assert!(state.deposed.is_empty());
        assert_eq!(state.resources[&group].id, live.id);
    });
}

#[test]
fn interrupted_creates_are_settled_in_the_same_round_as_the_reads() {
    let scenario = Scenario::new();
    runtime().block_on(async {
        let (sim, backend) = started(&scenario).await;
        // Kill the change's run at the first point that leaves intents behind.
        let start = (sim.world.lock().unwrap().clone(), backend.snapshot());
        let mut unsettled = 0;
        let mut state = None;
        for crash in 1..200 {
            *sim.world.lock().unwrap() = start.0.clone();
            *backend.stored.lock().unwrap() = start.1.clone();
            *sim.faults.lock().unwrap() = Default::default();
            sim.faults.lock().unwrap().crash_at = Some(crash);
            assert_eq!(apply(&sim, &backend, &scenario.after, 10).await, Ended::Killed);
            let persisted = backend.read().await.unwrap().unwrap().state;
            unsettled = persisted.resources.values().filter(|r| r.status == ResourceStatus::Creating).count();
            if unsettled > 1 {
                state = Some(persisted);
                break;
            }
        }
        *sim.faults.lock().unwrap() = Default::default();
        let state = state.expect("some crash leaves several creates unsettled");
        let cloud = FakeCloud::new(sim.clone());
        let mut refreshed = state.clone();
        let report = crate::plan::refresh(
            cloud.drivers(),
            &crate::engine::stack_info(&scenario.after, "us-east-1".into()),
            &mut refreshed,
        )
        .await
        .unwrap();
        assert_eq!(report.recovered.len() + report.abandoned_creates.len(), unsettled);
        assert!(refreshed.resources.values().all(|r| r.status == ResourceStatus::Created));
    });
}

#[test]
fn a_seed_replays_the_same_history() {
    let scenario = Scenario::new();
    let start = simulate(baseline(&scenario));
    let counts: Vec<u64> = (0..4).map(|_| simulate(crash_points(&scenario, &start, 10, Some(17)))).collect();
    assert!(counts.iter().all(|c| *c == counts[0]), "{counts:?}");
}
