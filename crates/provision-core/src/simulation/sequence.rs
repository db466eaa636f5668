//! The run's sequence around the execution, driven through [`crate::run::Run`] as the binary drives
//! it: a second interrupt, a state of another region or account, a new state's account, settling a
//! killed run's creates, a conflicting write, and a destroy from the state alone crashed at every
//! point.

use super::*;

use std::sync::atomic::AtomicUsize;

use tokio::sync::watch;

use super::script::Interrupter;

use crate::engine::make_plan;
use crate::executor::Stop;
use crate::state::{State, StateWriter};

/// The state after applying `BEFORE`, and a fresh simulation holding that world.
async fn started(scenario: &Scenario) -> (Arc<Simulation>, Arc<FakeBackend>) {
    let (world, persisted) = baseline(scenario).await;
    let sim = Arc::new(Simulation::default());
    *sim.world.lock().unwrap() = world;
    let backend = Arc::new(FakeBackend::new(sim.clone(), persisted));
    (sim, backend)
}

/// Replaces the stored state, as another run's write would.
async fn store(backend: &Arc<FakeBackend>, state: State) {
    let version = backend.read().await.unwrap().map(|stored| stored.version);
    let writer = StateWriter::start(backend.clone(), state, version, "apply");
    writer.commit(|_| {}).await.unwrap();
    writer.finish().await;
}

#[test]
fn a_second_interrupt_writes_the_state_at_once_and_the_next_run_settles_what_was_in_flight() {
    let scenario = Scenario::new();
    runtime().block_on(async {
        let (sim, backend) = started(&scenario).await;
        sim.faults.lock().unwrap().delays = Some(Rng::new(7));
        // Ctrl-C once after a few actions started, and again as soon as one of them finishes.
        let (sender, stop) = watch::channel(Stop::No);
        let interrupter = Interrupter { sender, started: AtomicUsize::new(0) };
        let options = run_options(10, false);
        let (ended, applied) =
            run_sequence(&sim, &backend, &scenario.after, &options, &interrupter, &Script::hearing(stop)).await;
        let applied = applied.expect("the run completed");
        assert_eq!(ended, Ended::Failed);
        assert_eq!(applied.outcome.stopped.as_deref(), Some("interrupted"), "{:?}", applied.outcome);
        assert!(!applied.outcome.abandoned.is_empty(), "the second interrupt left actions in flight: {applied:?}");
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

#[test]
fn a_state_made_in_another_region_or_account_is_refused_before_any_change() {
    let scenario = Scenario::new();
    runtime().block_on(async {
        let (sim, backend) = started(&scenario).await;
        let mut state = backend.read().await.unwrap().unwrap().state;
        assert_eq!(state.region.as_deref(), Some("us-east-1"), "the first apply pinned the region");
        assert_eq!(state.account.as_deref(), Some("000000000000"), "and the account");
        let world = sim.world.lock().unwrap().clone();

        let elsewhere = FakeCloud::in_region(sim.clone(), "eu-west-1");
        let run = Run { stack: &scenario.after, backend: backend.clone(), cloud: &elsewhere };
        let error = run.apply(&run_options(10, false), &NullReporter, &Script::new()).await.err().expect("refused");
        let text = format!("{error:#}");
        assert!(text.contains("made in us-east-1") && text.contains("set for eu-west-1"), "{text}");

        // An apply checks a state that records an account first, even though it would leave a new
        // state's check for later.
        state.account = Some("111111111111".into());
        store(&backend, state).await;
        let stored = backend.snapshot();
        let cloud = FakeCloud::new(sim.clone());
        let run = Run { stack: &scenario.after, backend: backend.clone(), cloud: &cloud };
        let error = run.apply(&run_options(10, false), &NullReporter, &Script::new()).await.err().expect("refused");
        let text = format!("{error:#}");
        assert!(text.contains("account 111111111111") && text.contains("account 000000000000"), "{text}");

        assert_eq!(*sim.world.lock().unwrap(), world, "nothing was changed in the cloud");
        assert_eq!(backend.snapshot().bytes, stored.bytes, "nor in the state");
    });
}

/// A new state holds nothing another account could own: an apply plans it without waiting for the
/// account, and records the account alongside. `plan` asks first.
#[test]
fn a_new_states_account_is_left_for_the_apply_to_record_alongside() {
    let scenario = Scenario::new();
    runtime().block_on(async {
        let sim = Arc::new(Simulation::default());
        let cloud = FakeCloud::new(sim.clone());
        let apply_options = PlanOptions { check_new_account_alongside: true, ..PlanOptions::default() };
        let planned = make_plan(
            &scenario.before,
            State::new("sim"),
            Some(&cloud),
            cloud.drivers(),
            "us-east-1".into(),
            &apply_options,
        )
        .await
        .expect("planned");
        assert!(planned.account_unchecked);
        assert_eq!(planned.state.account, None);
        assert!(!planned.plan.is_empty());

        let backend = Arc::new(FakeBackend::new(sim.clone(), Persisted::default()));
        let run = Run { stack: &scenario.before, backend: backend.clone(), cloud: &cloud };
        let planned = run.plan(&PlanOptions::default(), &Refresh::Online, &|_| Ok(())).await.expect("planned");
        assert!(!planned.account_unchecked);
        assert_eq!(planned.state.account.as_deref(), Some("000000000000"));

        assert_eq!(apply(&sim, &backend, &scenario.before, 4).await, Ended::Done);
        let state = backend.read().await.unwrap().unwrap().state;
        assert_eq!(state.account.as_deref(), Some("000000000000"), "the apply recorded the account");
    });
}

#[test]
fn an_old_copy_with_the_live_copys_id_is_forgotten_not_deleted() {
    let scenario = Scenario::new();
    runtime().block_on(async {
        let (sim, backend) = started(&scenario).await;
        let mut state = backend.read().await.unwrap().unwrap().state;
        let group = crate::address::Address::new("group", "g2");
        let live = state.resources[&group].clone();
        // A replacement whose new copy turned out to be the old one (adopted by its name).
        state.deposed.insert(group.clone(), live.clone());
        store(&backend, state).await;
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

/// Another run wrote the state while this one applied: this one starts nothing more, hands what it
/// knows (including what it made) to the frontend to keep, and fails.
#[test]
fn a_conflicting_write_stops_the_run_and_keeps_what_it_knows() {
    let scenario = Scenario::new();
    runtime().block_on(async {
        let (sim, backend) = started(&scenario).await;
        // The other run writes as soon as this one has finished its first action.
        struct Intruder<'a>(&'a FakeBackend, std::sync::Mutex<Option<(crate::address::Address, crate::plan::Action)>>);
        impl Reporter for Intruder<'_> {
            fn report(&self, event: &crate::reporter::Event) {
                if let crate::reporter::Event::Finished { address, action, .. } = event {
                    let mut first = self.1.lock().unwrap();
                    if first.is_none() {
                        *first = Some((address.clone(), *action));
                        self.0.stored.lock().unwrap().version += 1;
                    }
                }
            }
        }
        let intruder = Intruder(&backend, Default::default());
        let script = Script::new();
        let (ended, applied) =
            run_sequence(&sim, &backend, &scenario.after, &run_options(1, false), &intruder, &script).await;
        let applied = applied.expect("the run completed");
        assert_eq!(ended, Ended::Failed);
        assert!(applied.outcome.state_error.is_some(), "{:?}", applied.outcome);
        assert!(!applied.outcome.not_started.is_empty(), "nothing more was started");
        assert_eq!(applied.exit_code(), 1);
        let errored = script.errored.lock().unwrap();
        assert_eq!(errored.len(), 1, "the run's state was handed over to be kept");
        assert_eq!(errored[0], applied.state);
        let (address, action) = intruder.1.lock().unwrap().clone().expect("an action finished");
        let recorded = errored[0].resources.get(&address);
        match action {
            crate::plan::Action::Delete => assert!(recorded.is_none(), "{address} was deleted"),
            _ => assert_eq!(recorded.map(|r| r.status), Some(ResourceStatus::Created), "{address} was made"),
        }
    });
}

/// Crash points in one uncrashed destroy from the baseline.
async fn destroy_crash_points(scenario: &Scenario, start: &(World, Persisted), parallelism: usize) -> u64 {
    let sim = Arc::new(Simulation::default());
    *sim.world.lock().unwrap() = start.0.clone();
    let backend = Arc::new(FakeBackend::new(sim.clone(), start.1.clone()));
    assert_eq!(destroy(&sim, &backend, &scenario.state_only, parallelism).await, Ended::Done);
    let steps = sim.faults.lock().unwrap().steps;
    steps
}

/// Destroys from the baseline with a crash at `crash`, then without faults until a destroy
/// succeeds; then nothing may be left, in the cloud or the state.
async fn destroy_crashed_at(
    scenario: &Scenario,
    start: &(World, Persisted),
    crash: u64,
    parallelism: usize,
) -> Result<(), String> {
    let sim = Arc::new(Simulation::default());
    *sim.world.lock().unwrap() = start.0.clone();
    let backend = Arc::new(FakeBackend::new(sim.clone(), start.1.clone()));
    sim.faults.lock().unwrap().crash_at = Some(crash);
    let ended = destroy(&sim, &backend, &scenario.state_only, parallelism).await;
    if ended != Ended::Killed {
        return Err(format!("crash point {crash} was never reached ({ended:?})"));
    }
    *sim.faults.lock().unwrap() = Default::default();
    match destroy(&sim, &backend, &scenario.state_only, parallelism).await {
        Ended::Done => {}
        other => return Err(format!("the destroy after the crash ended {other:?}")),
    }
    let world = sim.world.lock().unwrap().clone();
    if !world.resources.is_empty() || !world.parts.is_empty() {
        return Err(format!("left behind: {:?} and parts {:?}", world.resources.keys(), world.parts.keys()));
    }
    let state = backend.read().await.map_err(|e| e.to_string())?.ok_or("no state")?.state;
    if !state.resources.is_empty() || !state.deposed.is_empty() || !state.outputs.is_empty() {
        return Err(format!("the state still records {:?}", state.resources.keys()));
    }
    Ok(())
}

/// `destroy` reads only the state (the stack as `destroy` loads it has no resources): crashed at
/// each of its points in turn, the next destroy removes everything, parts included.
#[test]
fn a_destroy_from_the_state_alone_crashed_at_every_point_leaves_nothing() {
    let scenario = Scenario::new();
    assert!(scenario.state_only.resources.is_empty());
    let start = simulate(baseline(&scenario));
    let mut checked = 0;
    for parallelism in [1, 10] {
        let points = simulate(destroy_crash_points(&scenario, &start, parallelism));
        assert!(points > 40, "only {points} crash points in the destroy");
        for crash in 1..=points {
            if let Err(problem) = simulate(destroy_crashed_at(&scenario, &start, crash, parallelism)) {
                panic!("destroy crashed at point {crash} of {points} (parallelism {parallelism}): {problem}");
            }
            checked += 1;
        }
    }
    eprintln!("simulation: {checked} destroy crash points checked");
}

#[test]
fn a_seed_replays_the_same_history() {
    let scenario = Scenario::new();
    let start = simulate(baseline(&scenario));
    let counts: Vec<u64> = (0..4).map(|_| simulate(crash_points(&scenario, &start, 10, Some(17)))).collect();
    assert!(counts.iter().all(|c| *c == counts[0]), "{counts:?}");
}
