//! "AWS as it behaves": a profile of the proxy that makes the emulator answer as AWS does.
//!
//! moto answers every call at once and consistently, never says "in use" and never runs a
//! container. AWS does all of that, and those answers decide whether a first apply and destroy
//! succeed. The profile sits between the caller and moto, reads every request and every answer,
//! keeps what it learns (which group was created when, which listener forwards to which target
//! group, which database is deleting …) and, per rule of [`catalogue::RULES`]:
//!
//! - answers instead of moto, in the protocol's own error shape (`InvalidGroup.NotFound`,
//!   `DependencyViolation`, `OperationAborted` …) while a rule's window is open;
//! - rewrites moto's answers (statuses `creating`, `InProgress`, `PENDING_VALIDATION`, ECS
//!   deployments `IN_PROGRESS`, a deleted database still `deleting`);
//! - completes what moto lacks (ElastiCache modifications, Fargate tasks, gateway endpoint deletes);
//! - refuses what AWS never allows but moto takes (a tag key under `aws:`);
//! - loses a share of answers after moto acted, throttles a share of calls, and pages listings.
//!
//! Windows are AWS time on a scaled [`Clock`] (`time_scale` AWS seconds per real second). A rule
//! that answers instead of moto does so for **every** matching call while its window is open, so
//! what a caller sees depends only on the clock; tests that must be exact pause the clock and
//! move it by hand. Every rule that fires is counted ([`Profile::met`]) so a test can assert that
//! it really met the behaviour.

mod call;
pub mod catalogue;
mod clock;
mod completions;
mod consistency;
mod http;
mod in_use;
mod lifecycles;
mod owned_buckets;
mod paging;
mod reserved_tags;
mod shapes;
mod xml;

pub use catalogue::{RuleSpec, RULES};
pub use clock::Clock;
pub use completions::tasks::TaskOutcome;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

pub(crate) use call::Call;
pub(crate) use http::Response;

/// The profile's knobs.
#[derive(Clone, Debug)]
pub struct ProfileOptions {
    /// AWS seconds per real second (60: one AWS minute passes in one second).
    pub time_scale: f64,
    /// The share (0.0–1.0) of mutating calls whose answer is lost after the emulator acted.
    pub lost_responses: f64,
    /// The share (0.0–1.0) of calls answered with the protocol's throttling error.
    pub throttling: f64,
    /// At most this many items per page of a listing (0: listings are not paged).
    pub page_size: usize,
    /// Seeds the draws of lost and throttled calls, so a run can be replayed.
    pub seed: u64,
}

impl Default for ProfileOptions {
    fn default() -> ProfileOptions {
        ProfileOptions { time_scale: 60.0, lost_responses: 0.0, throttling: 0.0, page_size: 5, seed: 0 }
    }
}

/// A rule id the catalogue does not have.
#[derive(Debug, PartialEq, Eq)]
pub struct UnknownRule(pub String);

impl std::fmt::Display for UnknownRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the profile has no rule `{}`\n\nhint: the ids are listed in docs/aws-profile.md", self.0)
    }
}

impl std::error::Error for UnknownRule {}

/// How many [`Fired`] entries are kept (the counts go on past it).
const FIRED_KEPT: usize = 100_000;

/// A rule that fired: which, for which operation, at what AWS time.
#[derive(Clone, Debug, PartialEq)]
pub struct Fired {
    pub id: &'static str,
    pub operation: String,
    pub at: Duration,
}

/// What tests and the binary can change while the profile runs.
#[derive(Debug, Default)]
pub(crate) struct Settings {
    disabled: BTreeSet<&'static str>,
    windows: BTreeMap<(&'static str, &'static str), Duration>,
    pub(crate) task_outcomes: BTreeMap<String, TaskOutcome>,
    /// Operations whose next answers are lost, and how many more (see [`Profile::lose_answers_of`]).
    lose_next: BTreeMap<String, u64>,
}

/// Everything the profile has learnt, by concern.
#[derive(Debug, Default)]
pub(crate) struct State {
    pub consistency: consistency::Fresh,
    pub usage: in_use::Usage,
    pub lifecycles: lifecycles::Lifecycles,
    pub completions: completions::Completions,
    pub pages: paging::Pages,
    pub owned_buckets: owned_buckets::Owned,
}

#[derive(Debug, Default)]
struct World {
    settings: Settings,
    state: State,
}

/// One exchange's view of the settings and the clock, and the rules it met.
pub(crate) struct Turn<'a> {
    pub now: Duration,
    settings: &'a Settings,
    page_size: usize,
    scale: f64,
    met: Vec<&'static str>,
}

impl Turn<'_> {
    pub(crate) fn on(&self, id: &'static str) -> bool {
        !self.settings.disabled.contains(id)
    }

    /// The window `phase` of rule `id`: the table's, unless a test set another.
    pub(crate) fn window(&self, id: &'static str, phase: &'static str) -> Duration {
        self.settings.windows.get(&(id, phase)).copied().unwrap_or_else(|| catalogue::window(id, phase))
    }

    /// Records that rule `id` acted on this call.
    pub(crate) fn meet(&mut self, id: &'static str) {
        if !self.met.contains(&id) {
            self.met.push(id);
        }
    }

    pub(crate) fn page_size(&self) -> usize {
        self.page_size
    }

    pub(crate) fn settings(&self) -> &Settings {
        self.settings
    }

    /// AWS seconds per real second.
    pub(crate) fn time_scale(&self) -> f64 {
        self.scale
    }
}

/// The "AWS as it behaves" profile: its clock, knobs, rules and what it has seen.
pub struct Profile {
    clock: Clock,
    options: ProfileOptions,
    world: Mutex<World>,
    met: Mutex<(BTreeMap<&'static str, u64>, Vec<Fired>)>,
    draws: AtomicU64,
}

/// What the profile decided before the call reaches the emulator.
pub(crate) enum Before {
    Answer(Response),
    /// Pass the call on (with `body` in place of its own, when the profile rewrote it).
    Forward {
        lose: bool,
        body: Option<Vec<u8>>,
    },
}

impl Profile {
    pub fn new(options: ProfileOptions) -> Profile {
        Profile {
            clock: Clock::new(options.time_scale),
            options,
            world: Mutex::new(World::default()),
            met: Mutex::new((BTreeMap::new(), Vec::new())),
            draws: AtomicU64::new(0),
        }
    }

    pub fn options(&self) -> &ProfileOptions {
        &self.options
    }

    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    fn world(&self) -> std::sync::MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Turns rule `id` off (its behaviour is then moto's).
    pub fn disable(&self, id: &str) -> Result<(), UnknownRule> {
        let spec = catalogue::spec(id).ok_or_else(|| UnknownRule(id.to_string()))?;
        self.world().settings.disabled.insert(spec.id);
        Ok(())
    }

    pub fn enable(&self, id: &str) -> Result<(), UnknownRule> {
        let spec = catalogue::spec(id).ok_or_else(|| UnknownRule(id.to_string()))?;
        self.world().settings.disabled.remove(spec.id);
        Ok(())
    }

    /// Turns every rule off except these.
    pub fn only(&self, ids: &[&str]) -> Result<(), UnknownRule> {
        let specs: Vec<&'static RuleSpec> = ids
            .iter()
            .map(|id| catalogue::spec(id).ok_or_else(|| UnknownRule(id.to_string())))
            .collect::<Result<_, _>>()?;
        let mut world = self.world();
        world.settings.disabled = RULES.iter().map(|rule| rule.id).collect();
        for spec in specs {
            world.settings.disabled.remove(spec.id);
        }
        Ok(())
    }

    pub fn is_enabled(&self, id: &str) -> bool {
        catalogue::spec(id).is_some_and(|spec| !self.world().settings.disabled.contains(spec.id))
    }

    /// Sets window `phase` (`"window"` for most rules) of rule `id`, in AWS time.
    pub fn set_window(&self, id: &str, phase: &str, aws: Duration) -> Result<(), UnknownRule> {
        let spec = catalogue::spec(id).ok_or_else(|| UnknownRule(id.to_string()))?;
        let phase =
            spec.phases.iter().find(|(name, _)| *name == phase).ok_or_else(|| UnknownRule(format!("{id} {phase}")))?;
        self.world().settings.windows.insert((spec.id, phase.0), aws);
        Ok(())
    }

    /// How Fargate tasks of this task definition family end (see [`TaskOutcome`]).
    pub fn set_task_outcome(&self, family: &str, outcome: TaskOutcome) {
        self.world().settings.task_outcomes.insert(family.to_string(), outcome);
    }

    /// Loses the answers of the next `times` calls of `operation` (e.g. `CreateInternetGateway`, as
    /// the summary names it) that reach the emulator, as `any.response-lost` does to a seeded share:
    /// the emulator acts, the caller never hears. A call the profile answers itself (a throttling,
    /// a resource not found yet) does not count, so the loss meets a call AWS acted on.
    pub fn lose_answers_of(&self, operation: &str, times: u64) {
        self.world().settings.lose_next.insert(operation.to_string(), times);
    }

    /// Whether this call's answer is one [`Profile::lose_answers_of`] asked to lose (using it up).
    fn lose_targeted(&self, call: &Call) -> bool {
        let mut world = self.world();
        match world.settings.lose_next.get_mut(&call.operation) {
            Some(left) if *left > 0 => {
                *left -= 1;
                true
            }
            _ => false,
        }
    }

    /// How many calls rule `id` acted on.
    pub fn met(&self, id: &str) -> u64 {
        self.met.lock().unwrap_or_else(|p| p.into_inner()).0.get(id).copied().unwrap_or(0)
    }

    /// Every rule that fired, in order (the first 100,000).
    pub fn fired(&self) -> Vec<Fired> {
        self.met.lock().unwrap_or_else(|p| p.into_inner()).1.clone()
    }

    /// One line per rule that fired: `id  count  operations`.
    pub fn summary(&self) -> String {
        let met = self.met.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = String::from("provision-proxy: AWS behaviours met\n");
        if met.0.is_empty() {
            out.push_str("  (none)\n");
        }
        for (id, count) in &met.0 {
            let mut operations: Vec<&str> =
                met.1.iter().filter(|fired| fired.id == *id).map(|fired| fired.operation.as_str()).collect();
            operations.sort_unstable();
            operations.dedup();
            out.push_str(&format!("  {id:<48} {count:>5}  {}\n", operations.join(", ")));
        }
        out
    }

    fn record(&self, call: &Call, met: Vec<&'static str>, at: Duration) {
        if met.is_empty() {
            return;
        }
        let mut record = self.met.lock().unwrap_or_else(|p| p.into_inner());
        for id in met {
            *record.0.entry(id).or_default() += 1;
            if record.1.len() < FIRED_KEPT {
                record.1.push(Fired { id, operation: call.operation.clone(), at });
            }
        }
    }

    /// A number in [0, 1), the same sequence for the same seed.
    fn draw(&self) -> f64 {
        let n = self.draws.fetch_add(1, Ordering::Relaxed);
        crate::rules::unit(n ^ self.options.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15))
    }

    /// Runs `f` with the state and a turn at the clock's time, and records what it met.
    fn with_turn<T>(&self, call: &Call, f: impl FnOnce(&mut Turn<'_>, &mut State) -> T) -> T {
        let now = self.clock.now();
        let (value, met) = {
            let mut world = self.world();
            let World { settings, state } = &mut *world;
            let mut turn =
                Turn { now, settings, page_size: self.options.page_size, scale: self.clock.scale(), met: Vec::new() };
            let value = f(&mut turn, state);
            (value, turn.met)
        };
        self.record(call, met, now);
        value
    }

    /// Before the emulator: an answer of the profile's own, or pass the call on (and maybe lose
    /// the answer).
    pub(crate) fn before(&self, call: &Call) -> Before {
        if self.is_enabled("any.throttling") && self.options.throttling > 0.0 && self.draw() < self.options.throttling {
            self.with_turn(call, |turn, _| turn.meet("any.throttling"));
            return Before::Answer(shapes::throttling(call));
        }
        let answer = self.with_turn(call, |turn, state| {
            reserved_tags::before(turn, call)
                .or_else(|| consistency::before(turn, state, call))
                .or_else(|| in_use::before(turn, state, call))
                .or_else(|| lifecycles::before(turn, state, call))
                .or_else(|| completions::before(turn, state, call))
                .or_else(|| paging::before(turn, state, call))
        });
        if let Some(answer) = answer {
            return Before::Answer(answer);
        }
        let body = self.with_turn(call, |turn, state| completions::rewrite(turn, state, call));
        let lose = call.mutates()
            && self.is_enabled("any.response-lost")
            && (self.lose_targeted(call)
                || (self.options.lost_responses > 0.0 && self.draw() < self.options.lost_responses));
        if lose {
            self.with_turn(call, |turn, _| turn.meet("any.response-lost"));
        }
        Before::Forward { lose, body }
    }

    /// A call the profile needs answered by the emulator before it can handle `call` (e.g. the
    /// task definition of a task to run), as a request head and body.
    pub(crate) fn prerequisite(&self, call: &Call) -> Option<(String, Vec<u8>)> {
        if let Some(head) = owned_buckets::prerequisite(call) {
            return Some((head, Vec::new()));
        }
        let world = self.world();
        completions::prerequisite(&world.state, call)
    }

    /// Learns from the answer to a [`Profile::prerequisite`] call.
    pub(crate) fn learn(&self, call: &Call, response: &Response) {
        let mut world = self.world();
        owned_buckets::learn(&mut world.state, call, response);
        completions::learn(&mut world.state, call, response);
    }

    /// After the emulator: learn from the answer and rewrite it as AWS would have answered.
    pub(crate) fn after(&self, call: &Call, mut response: Response) -> Response {
        self.with_turn(call, |turn, state| {
            consistency::after(turn, state, call, &response);
            in_use::after(turn, state, call, &response);
            owned_buckets::after(turn, state, call, &response);
            completions::after(turn, state, call, &mut response);
            lifecycles::after(turn, state, call, &mut response);
            paging::after(turn, state, call, &mut response);
        });
        response
    }
}

#[cfg(test)]
mod tests;
