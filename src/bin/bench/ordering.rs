//! Stand-in mode (`--stand-in`): the order in which ready work starts, measured.
//!
//! Each example stack is applied and destroyed on the stand-in cloud (`stand_in.rs`: the AWS
//! drivers' offline halves, each action taking the profile's windows divided by the time scale),
//! through provision's own run sequence (`provision_core::run`) with a local state file,
//! once with the executor weighing the ready actions by the longest path of expected work behind
//! them (critical path first, what provision does) and once without the weights (ready actions in
//! address order, what it did before), at several numbers of places (`--parallelism`).
//!
//! Each run is printed against its lower bound: the critical path of AWS's waits through the
//! dependency graph (`aws_waits.rs`, reversed for a destroy), or the work divided by the places
//! when that is longer — no order can beat either. The stand-in takes exactly those windows, so the
//! ratio shows what the order loses and what provision adds (planning, state writes) on top.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use provision_core::address::Address;
use provision_core::driver::DriverRegistry;
use provision_core::executor::{Parallelism, Stop};
use provision_core::plan::{Plan, PlanOptions};
use provision_core::reporter::{Event, Reporter};
use provision_core::run::{Frontend, Run, RunOptions, Warning};
use provision_core::stack::{self, LoadOptions, Stack};
use provision_core::state::{LocalBackend, State};
use tokio::sync::watch;

use crate::aws_waits::{self, aws_time, Bound, Direction, Graph};
use crate::stand_in::StandInCloud;

pub struct Options {
    /// AWS seconds per real second.
    pub time_scale: f64,
    /// The stacks to run, by file name under `stacks/`.
    pub stacks: Vec<String>,
    /// The numbers of places to run each stack with.
    pub places: Vec<Parallelism>,
}

fn verb(direction: Direction) -> &'static str {
    match direction {
        Direction::Apply => "apply",
        Direction::Destroy => "destroy",
    }
}

/// What no order can beat with `places` actions at once: the critical path, or the work spread
/// over the places when that is longer.
fn lower_bound(bound: &Bound, places: Parallelism) -> Duration {
    match places {
        Parallelism::Fixed(n) => bound.total.max(bound.work / n as u32),
        Parallelism::Auto => bound.total,
    }
}

/// When each action started and finished, since the run began.
#[derive(Default)]
struct Timeline {
    began: Mutex<Option<Instant>>,
    started: Mutex<Vec<(Duration, Address)>>,
    failed: Mutex<Vec<String>>,
}

impl Reporter for Timeline {
    fn report(&self, event: &Event) {
        let began = *self.began.lock().unwrap().get_or_insert_with(Instant::now);
        match event {
            Event::Started { address, .. } => self.started.lock().unwrap().push((began.elapsed(), address.clone())),
            Event::Failed { address, message, .. } => {
                self.failed.lock().unwrap().push(format!("{address}: {message}"));
            }
            _ => {}
        }
    }
}

/// Approves everything, shows nothing, is never interrupted.
struct Unattended {
    stop: watch::Sender<Stop>,
}

impl Frontend for Unattended {
    fn settled(&self, _recovered: &[Address], _abandoned: &[(Address, String)]) {}
    fn show_plan(&self, _plan: &Plan) {}
    fn confirm(&self, _verb: &str) -> anyhow::Result<bool> {
        Ok(true)
    }
    fn stop_requests(&self) -> watch::Receiver<Stop> {
        self.stop.subscribe()
    }
    fn warning(&self, _warning: &Warning) {}
    fn keep_errored_state(&self, _state: &State) {}
}

struct Measured {
    wall: Duration,
    started: Vec<(Duration, Address)>,
}

/// One apply or destroy of `stack` on `cloud`, its state at `state`.
async fn run_once(
    stack: &Stack,
    cloud: &StandInCloud,
    state: &Path,
    direction: Direction,
    places: Parallelism,
) -> Result<Measured, String> {
    let run = Run { stack, backend: Arc::new(LocalBackend::new(state.to_path_buf())), cloud };
    let options = RunOptions {
        plan: PlanOptions { destroy: direction == Direction::Destroy, ..PlanOptions::default() },
        parallelism: places,
        auto_approve: true,
        ..RunOptions::default()
    };
    let timeline = Timeline::default();
    let frontend = Unattended { stop: watch::channel(Stop::No).0 };
    let started = Instant::now();
    let applied = run.apply(&options, &timeline, &frontend).await.map_err(|error| format!("{error:#}"))?;
    let wall = started.elapsed();
    if applied.exit_code() != 0 {
        return Err(format!("exit {}: {}", applied.exit_code(), timeline.failed.lock().unwrap().join("; ")));
    }
    let mut started = std::mem::take(&mut *timeline.started.lock().unwrap());
    started.sort();
    Ok(Measured { wall, started })
}

pub fn run_all(options: &Options) {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a runtime");
    // Only the drivers' offline halves are used: the session never connects.
    let aws = provision_aws::AwsCloud::new(provision_aws::ConnectOptions::default());
    let real = provision_core::cloud::Cloud::drivers(&aws);
    println!(
        "\n== stand-in mode: each action takes AWS's time (the profile's windows), {:.0} AWS seconds a second ==",
        options.time_scale
    );
    println!("  (no emulator, no round trips: provision's own run over AWS's waits alone)");
    let mut rows = Vec::new();
    for name in &options.stacks {
        rows.extend(runtime.block_on(one_stack(real, options, name)));
    }
    if rows.is_empty() {
        return;
    }
    println!(
        "\n  {:<30} {:>6}   {:>11} {:>11} {:>7}   {:>11} {:>7}",
        "run", "places", "bound s", "critical s", "ratio", "ready-order s", "ratio"
    );
    for row in rows {
        println!(
            "  {:<30} {:>6}   {:>11.2} {:>11.2} {:>6.2}×   {:>13.2} {:>6.2}×",
            row.label,
            places_label(row.places),
            row.bound,
            row.critical_first,
            row.critical_first / row.bound,
            row.ready_order,
            row.ready_order / row.bound
        );
    }
}

struct Row {
    label: String,
    places: Parallelism,
    /// Seconds, real time.
    bound: f64,
    critical_first: f64,
    ready_order: f64,
}

fn places_label(places: Parallelism) -> String {
    match places {
        Parallelism::Fixed(n) => n.to_string(),
        Parallelism::Auto => "auto".into(),
    }
}

async fn one_stack(real: &DriverRegistry, options: &Options, name: &str) -> Vec<Row> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("stacks").join(format!("{name}.toml"));
    let probe = StandInCloud::new(real, Arc::new(Graph::default()), options.time_scale, true);
    let load_options = LoadOptions { variables: Vec::new(), state_only: false };
    let stack = match stack::load(&path, &load_options, provision_core::cloud::Cloud::drivers(&probe)) {
        Ok(stack) => stack,
        Err(error) => {
            println!("\n  {name}: does not load:\n{}", error.render(false));
            return Vec::new();
        }
    };
    let scale = options.time_scale;
    let real_s = |aws: Duration| aws.as_secs_f64() / scale;
    let graph = Arc::new(Graph::from_stack(&stack));
    println!("\n  {name} ({} resources)", stack.resources.len());
    let bounds: Vec<(Direction, Bound)> = [Direction::Apply, Direction::Destroy]
        .into_iter()
        .map(|direction| (direction, aws_waits::critical_path(&graph, direction, &|_| true)))
        .collect();
    for (direction, bound) in &bounds {
        let chain: Vec<String> = bound
            .path
            .iter()
            .map(|timing| {
                let waited = timing.earliest_start.saturating_sub(
                    timing.after.as_ref().map(|after| bound.timings[after].earliest_end()).unwrap_or_default(),
                );
                let waited = if waited.is_zero() { String::new() } else { format!("after {}, ", aws_time(waited)) };
                format!("{} ({waited}{})", timing.address, aws_time(timing.own))
            })
            .collect();
        println!(
            "    {:<8} critical path {}: {}; work {}",
            verb(*direction),
            aws_time(bound.total),
            chain.join(" → "),
            aws_time(bound.work)
        );
    }
    let mut rows = Vec::new();
    for &places in &options.places {
        let mut walls: BTreeMap<(bool, &'static str), Measured> = BTreeMap::new();
        for weighted in [true, false] {
            let cloud = StandInCloud::new(real, graph.clone(), scale, weighted);
            let dir = std::env::temp_dir().join(format!("provision-bench-{}-stand-in-{name}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).expect("bench folder");
            let state = dir.join("state.json");
            for (direction, _) in &bounds {
                match run_once(&stack, &cloud, &state, *direction, places).await {
                    Ok(measured) => {
                        walls.insert((weighted, verb(*direction)), measured);
                    }
                    Err(error) => {
                        println!("    {} FAILED ({}): {error}", verb(*direction), places_label(places));
                        break;
                    }
                }
            }
            let _ = std::fs::remove_dir_all(&dir);
        }
        for (direction, bound) in &bounds {
            let verb = verb(*direction);
            let (Some(first), Some(ready)) = (walls.get(&(true, verb)), walls.get(&(false, verb))) else { continue };
            if places != Parallelism::Auto {
                print_starts(verb, places, first, ready, bound, scale);
            }
            rows.push(Row {
                label: format!("{name} {verb}"),
                places,
                bound: real_s(lower_bound(bound, places)),
                critical_first: first.wall.as_secs_f64(),
                ready_order: ready.wall.as_secs_f64(),
            });
        }
    }
    rows
}

/// When each order started the actions that take AWS time: where the difference is.
fn print_starts(verb: &str, places: Parallelism, first: &Measured, ready: &Measured, bound: &Bound, scale: f64) {
    let show = |measured: &Measured| -> String {
        measured
            .started
            .iter()
            .filter(|(_, address)| bound.timings.get(&address.to_string()).is_some_and(|timing| !timing.own.is_zero()))
            .map(|(at, address)| format!("{address}@{:.1}", at.as_secs_f64() * scale / 60.0))
            .collect::<Vec<_>>()
            .join(" ")
    };
    println!("    {verb} on {} places, the long actions started at (AWS minute):", places_label(places));
    println!("      critical path first: {}", show(first));
    println!("      ready order:         {}", show(ready));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn with_places_for_everything_the_bound_is_the_critical_path_else_the_work_may_be_longer() {
        let bound = Bound {
            total: Duration::from_secs(600),
            path: Vec::new(),
            timings: BTreeMap::new(),
            work: Duration::from_secs(1500),
        };
        assert_eq!(lower_bound(&bound, Parallelism::Auto), Duration::from_secs(600));
        assert_eq!(lower_bound(&bound, Parallelism::Fixed(4)), Duration::from_secs(600));
        assert_eq!(lower_bound(&bound, Parallelism::Fixed(2)), Duration::from_secs(750));
        assert_eq!(lower_bound(&bound, Parallelism::Fixed(1)), Duration::from_secs(1500));
    }

    /// The stand-in takes the profile's windows, so a run with every action ready at once takes
    /// the critical path and little more (provision's own planning and state writes).
    #[test]
    fn an_unhindered_apply_on_the_stand_in_takes_its_critical_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stack.toml");
        std::fs::write(&path, STACK).unwrap();
        let aws = provision_aws::AwsCloud::new(provision_aws::ConnectOptions::default());
        let real = provision_core::cloud::Cloud::drivers(&aws);
        let probe = StandInCloud::new(real, Arc::new(Graph::default()), 6000.0, true);
        let stack = stack::load(&path, &LoadOptions::default(), provision_core::cloud::Cloud::drivers(&probe))
            .unwrap_or_else(|error| panic!("{}", error.render(false)));
        let graph = Arc::new(Graph::from_stack(&stack));
        let bound = aws_waits::critical_path(&graph, Direction::Apply, &|_| true);
        // The group (its rules wait for EC2 to see it), then the database creating and backing up.
        assert_eq!(bound.total, Duration::from_secs(10 + 7 * 60));
        let cloud = StandInCloud::new(real, graph, 6000.0, true);
        let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
        let measured = runtime
            .block_on(run_once(&stack, &cloud, &dir.path().join("state.json"), Direction::Apply, Parallelism::Auto))
            .unwrap();
        let floor = Duration::from_secs_f64(bound.total.as_secs_f64() / 6000.0);
        assert!(measured.wall >= floor, "no faster than AWS: {:?} < {floor:?}", measured.wall);
        let database = measured.started.iter().find(|(_, address)| address.to_string() == "db_instance.main");
        assert!(database.is_some(), "the database was made: {:?}", measured.started);
    }

    const STACK: &str = r#"
[stack]
name = "pace"

[network]
vpc = "default"

[security_group.db]
description = "the database"

[db_subnet_group.main]
description = "the database's subnets"

[db_instance.main]
engine = "mysql"
engine_version = "8.0"
instance_class = "db.t3.micro"
allocated_storage = 20
db_name = "app"
username = "app"
manage_password = true
subnet_group = "${db_subnet_group.main.name}"
security_groups = ["${security_group.db.id}"]
skip_final_snapshot = true

[ecs_cluster.main]
"#;
}
