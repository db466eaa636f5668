//! The order in which ready work starts, on the fake cloud with its types' typical times (a
//! distribution deploys for five minutes, a service rolls out or drains for three) and tokio's
//! paused clock: with fewer places than ready actions, the one with the longest path of work
//! behind it starts first, so the long waits overlap and the run takes its critical path.

use super::*;

use std::sync::atomic::Ordering;
use std::sync::Mutex;
use std::time::Duration;

use crate::address::Address;
use crate::reporter::Event;

/// Records when each action started, on the run's clock.
#[derive(Default)]
struct Starts {
    began: Mutex<Option<tokio::time::Instant>>,
    started: Mutex<Vec<(Duration, Address)>>,
}

impl Reporter for Starts {
    fn report(&self, event: &Event) {
        if let Event::Started { address, .. } = event {
            let now = tokio::time::Instant::now();
            let began = *self.began.lock().unwrap().get_or_insert(now);
            self.started.lock().unwrap().push((now - began, address.clone()));
        }
    }
}

fn minutes(n: u64) -> Duration {
    Duration::from_secs(n * 60)
}

/// Runs `stack` (apply, or destroy) on the paced fake cloud with two places; returns the run's
/// time on the paused clock and when each action started.
async fn paced_run(
    sim: &Arc<Simulation>,
    backend: &Arc<FakeBackend>,
    stack: &Stack,
    destroy: bool,
) -> (Duration, Vec<(Duration, Address)>) {
    sim.paced.store(true, Ordering::SeqCst);
    let starts = Starts::default();
    let began = tokio::time::Instant::now();
    let (ended, _) = run_sequence(sim, backend, stack, &run_options(2, destroy), &starts, &Script::new()).await;
    assert_eq!(ended, Ended::Done);
    sim.paced.store(false, Ordering::SeqCst);
    (began.elapsed(), starts.started.into_inner().unwrap())
}

fn load_text(name: &str, text: &str) -> (Stack, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let cloud = FakeCloud::new(Arc::new(Simulation::default()));
    (load(dir.path(), name, text, &cloud, &LoadOptions::default()), dir)
}

fn a(text: &str) -> Address {
    text.parse().unwrap()
}

/// Three quick-to-name services (3 minutes each) and, behind a service that sorts last, a
/// distribution (5 minutes): 8 minutes of critical path among 14 of work, on two places.
const APPLY: &str = r#"
[stack]
name = "pace"

[service.a]
image = "a:1"
[service.b]
image = "b:1"
[service.c]
image = "c:1"
[service.z]
image = "z:1"

[distribution.cdn]
origin = "${service.z.arn}"
"#;

#[test]
fn an_apply_starts_the_longest_path_first_and_takes_its_critical_path() {
    let (stack, _dir) = load_text("apply.toml", APPLY);
    simulate(async {
        let sim = Arc::new(Simulation::default());
        let backend = Arc::new(FakeBackend::new(sim.clone(), Persisted::default()));
        let (took, started) = paced_run(&sim, &backend, &stack, false).await;
        // In address order, `service.a` and `service.b` would take the two places, and the
        // distribution would start only after `service.z` at 6 minutes: 11 minutes in all.
        let first: Vec<&Address> = started.iter().take(2).map(|(_, address)| address).collect();
        assert!(first.contains(&&a("service.z")), "the service the distribution waits for starts first: {started:?}");
        let cdn = started.iter().find(|(_, address)| *address == a("distribution.cdn")).unwrap().0;
        assert_eq!(cdn, minutes(3), "the distribution starts as soon as its service is up: {started:?}");
        // z and a (0–3), cdn and b (3–8 and 3–6), c (6–9): the critical path is 8, the work 17
        // minutes on two places, so 9 is the least possible.
        assert_eq!(took, minutes(9), "{started:?}");
    });
}

#[test]
fn in_plain_ready_order_the_same_apply_takes_two_minutes_longer() {
    let (stack, _dir) = load_text("apply.toml", APPLY);
    simulate(async {
        let sim = Arc::new(Simulation::default());
        sim.unweighted.store(true, Ordering::SeqCst);
        let backend = Arc::new(FakeBackend::new(sim.clone(), Persisted::default()));
        let (took, started) = paced_run(&sim, &backend, &stack, false).await;
        // a and b (0–3), c and z (3–6), the distribution after z (6–11).
        let first: Vec<&Address> = started.iter().take(2).map(|(_, address)| address).collect();
        assert_eq!(first, [&a("service.a"), &a("service.b")], "{started:?}");
        assert_eq!(took, minutes(11), "{started:?}");
    });
}

/// For a destroy the users go first: the service behind the distribution (3 minutes to drain)
/// must be gone before the distribution (5 minutes to disable and delete), beside three others.
const DESTROY: &str = r#"
[stack]
name = "pace"

[service.a]
image = "a:1"
[service.b]
image = "b:1"
[service.c]
image = "c:1"
[service.z]
image = "z:${distribution.cdn.domain}"

[distribution.cdn]
origin = "site"
"#;

#[test]
fn a_destroy_starts_the_longest_path_first_and_takes_its_critical_path() {
    let (stack, _dir) = load_text("destroy.toml", DESTROY);
    simulate(async {
        let sim = Arc::new(Simulation::default());
        let backend = Arc::new(FakeBackend::new(sim.clone(), Persisted::default()));
        assert_eq!(apply(&sim, &backend, &stack, 8).await, Ended::Done);
        let (took, started) = paced_run(&sim, &backend, &stack, true).await;
        let first: Vec<&Address> = started.iter().take(2).map(|(_, address)| address).collect();
        assert!(first.contains(&&a("service.z")), "the distribution's user is deleted first: {started:?}");
        assert_eq!(took, minutes(9), "{started:?}");
        assert!(sim.world.lock().unwrap().resources.is_empty());
    });
}

#[test]
fn with_places_for_everything_the_run_takes_its_critical_path() {
    let (stack, _dir) = load_text("apply.toml", APPLY);
    simulate(async {
        let sim = Arc::new(Simulation::default());
        let backend = Arc::new(FakeBackend::new(sim.clone(), Persisted::default()));
        sim.paced.store(true, Ordering::SeqCst);
        let began = tokio::time::Instant::now();
        assert_eq!(apply(&sim, &backend, &stack, 8).await, Ended::Done);
        assert_eq!(began.elapsed(), minutes(8), "service.z then the distribution; the rest alongside");
    });
}
