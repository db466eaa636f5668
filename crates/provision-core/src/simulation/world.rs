//! What the simulated cloud holds, and the switch that crashes it: the resources and parts that
//! exist ([`World`]), where the run is in its sequence of mutations and writes ([`Faults`]), and the
//! two shared by the fake drivers and the fake backend ([`Simulation`]).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use crate::driver::DriverError;
use crate::value::JsonMap;

/// SplitMix64: small, seeded, and the same everywhere.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct FakeResource {
    pub kind: &'static str,
    /// The name (buckets, groups, services) or the creation token (distributions).
    pub name: String,
    pub inputs: JsonMap,
    pub tags: BTreeMap<String, String>,
}

/// A part a driver makes on its way, owned by the resource named `owner`.
#[derive(Clone, Debug, PartialEq)]
pub struct Part {
    pub kind: &'static str,
    pub owner: String,
}

/// What exists. Cloned whole to restart a scenario from the same point.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct World {
    next_id: u64,
    /// By id.
    pub resources: BTreeMap<String, FakeResource>,
    /// By unique part name.
    pub parts: BTreeMap<String, Part>,
    /// Names whose first create attempt fails (a transient error), and those that failed once.
    pub fail_once: BTreeSet<String>,
    pub(super) failed: BTreeSet<String>,
    /// Token-addressed creates a crashed run had sent that have not landed yet (see
    /// [`Faults::land_late`]).
    pub in_flight: Vec<FakeResource>,
    /// How many of those landed.
    pub landed_late: u64,
}

impl World {
    pub(super) fn new_id(&mut self, prefix: &str) -> String {
        self.next_id += 1;
        format!("{prefix}-{:04}", self.next_id)
    }

    pub(super) fn by_name(&self, kind: &str, name: &str) -> Option<String> {
        self.resources.iter().find(|(_, r)| r.kind == kind && r.name == name).map(|(id, _)| id.clone())
    }
}

/// Where the run is in its sequence of mutations and writes, and whether it has "crashed".
#[derive(Debug, Default)]
pub struct Faults {
    /// Crash points passed so far.
    pub steps: u64,
    /// Crash when this point is reached (counted from 1).
    pub crash_at: Option<u64>,
    pub crashed: bool,
    /// Random pauses before each call, for varied interleavings.
    pub delays: Option<Rng>,
    /// A crash just before a token-addressed create leaves its request on its way rather than
    /// unsent: it lands when the next run makes its first change, after that run's refresh looked
    /// and found nothing. The cloud refuses a second resource with a token it has (as ACM and
    /// CloudFront do).
    pub land_late: bool,
}

/// The world and the fault switch, shared by the fake cloud, its drivers and the fake backend.
#[derive(Debug, Default)]
pub struct Simulation {
    pub world: Mutex<World>,
    pub faults: Mutex<Faults>,
    /// The fake drivers take their type's typical time for each action (on tokio's paused clock),
    /// for tests of the order in which work starts. Off for the crash tests.
    pub paced: std::sync::atomic::AtomicBool,
    /// The fake drivers keep their typical times to themselves (they still take them when paced):
    /// the executor then starts ready work in address order, as it did before it weighed it.
    pub unweighted: std::sync::atomic::AtomicBool,
}

pub fn dead() -> DriverError {
    DriverError::invalid("the process was killed")
}

impl Simulation {
    /// One crash point: fails (and stays failed) once the crash point is reached.
    pub fn point(&self) -> Result<(), DriverError> {
        let mut faults = self.faults.lock().unwrap();
        if faults.crashed {
            return Err(dead());
        }
        faults.steps += 1;
        if faults.crash_at == Some(faults.steps) {
            faults.crashed = true;
            return Err(dead());
        }
        Ok(())
    }

    pub fn crashed(&self) -> bool {
        self.faults.lock().unwrap().crashed
    }

    /// Lets other tasks run a random number of times first. Yields, not timers: tokio orders
    /// timers that fire together by their place in its timer wheel, which would make a seed's
    /// history differ from run to run.
    async fn pause(&self) {
        let turns = self.faults.lock().unwrap().delays.as_mut().map(|rng| rng.below(12)).unwrap_or(0);
        for _ in 0..turns {
            tokio::task::yield_now().await;
        }
    }

    /// A cloud mutation: a crash point before it and one after (done, but its answer lost).
    pub(super) async fn mutate<T>(
        &self,
        change: impl FnOnce(&mut World) -> Result<T, DriverError>,
    ) -> Result<T, DriverError> {
        self.pause().await;
        self.land_in_flight();
        self.point()?;
        let result = change(&mut self.world.lock().unwrap());
        self.point()?;
        result
    }

    /// A token-addressed create (`resource.name` is the token): refused with `AlreadyExists` when
    /// the token has made one already. Crash points as in [`Simulation::mutate`]; with
    /// [`Faults::land_late`], a crash at the first one leaves the request in flight.
    pub(super) async fn create_by_token(&self, resource: FakeResource) -> Result<String, DriverError> {
        self.pause().await;
        self.land_in_flight();
        let crashing_here = {
            let faults = self.faults.lock().unwrap();
            faults.land_late && !faults.crashed && faults.crash_at == Some(faults.steps + 1)
        };
        if let Err(dead) = self.point() {
            if crashing_here {
                self.world.lock().unwrap().in_flight.push(resource);
            }
            return Err(dead);
        }
        let result = Self::land(&mut self.world.lock().unwrap(), resource);
        self.point()?;
        result
    }

    fn land(world: &mut World, resource: FakeResource) -> Result<String, DriverError> {
        if let Some(id) = world.by_name(resource.kind, &resource.name) {
            return Err(DriverError::service("Create", Some("AlreadyExists".into()), id));
        }
        let id = world.new_id("dist");
        world.resources.insert(id.clone(), resource);
        Ok(id)
    }

    /// What a crashed run sent lands now (once the run that sent it is gone).
    pub(super) fn land_in_flight(&self) {
        if self.crashed() {
            return;
        }
        let mut world = self.world.lock().unwrap();
        for resource in std::mem::take(&mut world.in_flight) {
            world.landed_late += 1;
            let _ = Self::land(&mut world, resource);
        }
    }

    pub(super) async fn look<T>(&self, read: impl FnOnce(&World) -> T) -> Result<T, DriverError> {
        self.pause().await;
        if self.crashed() {
            return Err(dead());
        }
        Ok(read(&self.world.lock().unwrap()))
    }
}
