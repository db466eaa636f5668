//! "AWS as it behaves" in front of the shared emulator: provision-proxy with its profile
//! (docs/aws-profile.md), in this test process, on one runtime started once.
//!
//! Each test that runs provision through the profile starts a world of its own ([`AwsWorld::start`]):
//! a proxy costs a listening socket, and a world of its own lets the test count the behaviours *its*
//! stack met ([`AwsWorld::met`]) while other tests run beside it. All worlds front the same moto, and
//! the tests' own reads of what exists go straight to moto (the `support` clients), never through the
//! profile: a check read through it would see a page of a listing or a resource "not found yet".
//!
//! The profile's clock runs `time_scale` AWS seconds per real second, and provision is told the same
//! scale (`PROVISION_TIME_SCALE`, see [`crate::support::Project::through`]), so the windows AWS keeps
//! open and provision's own patience shrink together.

use std::collections::BTreeMap;
use std::sync::{Mutex, OnceLock};

use provision_proxy::{ProfileOptions, Proxy};

use super::endpoint;

/// AWS seconds per real second in the test world, unless `PROVISION_TEST_TIME_SCALE` says otherwise.
/// At 60 one AWS minute passes in a second: a web app's first apply (a database `creating` then
/// `backing-up` for 7 AWS minutes) takes some 10 real seconds, and a call to moto (tens of
/// milliseconds) is a few AWS seconds, well inside the 10-second windows of eventual consistency.
pub const DEFAULT_TIME_SCALE: f64 = 60.0;

/// The share of mutating calls whose answer is lost after AWS acted, in an [`AwsWorld::unkind`].
pub const LOST_RESPONSES: f64 = 0.05;

/// The share of calls answered with a throttling error, in an [`AwsWorld::unkind`]: enough that
/// every example stack's life meets some, few enough that the SDK's retry quota is never spent.
pub const THROTTLED: f64 = 0.02;

/// The time scale of this run.
pub fn time_scale() -> f64 {
    std::env::var("PROVISION_TEST_TIME_SCALE")
        .ok()
        .and_then(|text| text.trim().parse::<f64>().ok())
        .filter(|scale| scale.is_finite() && *scale > 0.0)
        .unwrap_or(DEFAULT_TIME_SCALE)
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("aws-world")
            .enable_all()
            .build()
            .expect("the profile's runtime")
    })
}

/// A profiled proxy in front of the shared emulator; stops when dropped.
pub struct AwsWorld {
    proxy: Proxy,
    /// What the tests' own reads through the proxy met (see [`AwsWorld::read_aside`]).
    own_reads: Mutex<BTreeMap<&'static str, u64>>,
}

impl AwsWorld {
    /// A world with these options (their `time_scale` is what provision is told).
    pub fn start(options: ProfileOptions) -> AwsWorld {
        let proxy = runtime()
            .block_on(Proxy::start_with_profile(endpoint(), options))
            .expect("start provision-proxy with the AWS profile");
        AwsWorld { proxy, own_reads: Mutex::new(BTreeMap::new()) }
    }

    /// A world at the run's time scale with a share of lost answers (`lost`, drawn
    /// from `seed` so a run replays) and listings five items to a page.
    pub fn with_lost_responses(lost: f64, seed: u64) -> AwsWorld {
        AwsWorld::start(ProfileOptions {
            time_scale: time_scale(),
            lost_responses: lost,
            page_size: 5,
            seed,
            ..ProfileOptions::default()
        })
    }

    /// The world of the main scenarios and the kill test: [`LOST_RESPONSES`] of the answers lost
    /// and [`THROTTLED`] of all calls answered with their
    /// protocol's throttling error (`any.throttling`), all drawn from `seed`.
    pub fn unkind(seed: u64) -> AwsWorld {
        AwsWorld::start(ProfileOptions {
            time_scale: time_scale(),
            lost_responses: LOST_RESPONSES,
            throttling: THROTTLED,
            page_size: 5,
            seed,
        })
    }

    /// Loses the answers of the next `times` calls of `operation` that reach the emulator
    /// (`Profile::lose_answers_of`).
    pub fn lose_answers_of(&self, operation: &str, times: u64) {
        self.proxy.profile().expect("a profile").lose_answers_of(operation, times);
    }

    /// The endpoint to give provision.
    pub fn endpoint(&self) -> String {
        self.proxy.endpoint()
    }

    /// AWS seconds per real second on this world's clock.
    pub fn time_scale(&self) -> f64 {
        self.proxy.profile().expect("a profile").options().time_scale
    }

    /// How many of provision's calls the profile's rule `id` acted on in this world (the tests'
    /// own reads through [`AwsWorld::read_aside`] left out).
    pub fn met(&self, id: &str) -> u64 {
        let own = self.own_reads.lock().unwrap_or_else(|p| p.into_inner()).get(id).copied().unwrap_or(0);
        self.proxy.met(id).saturating_sub(own)
    }

    /// Runs a check that must read through the proxy (`read` gets its endpoint) while provision does
    /// not run; what the profile's rules did to those reads is not counted as met by provision.
    pub fn read_aside<T>(&self, read: impl FnOnce(&str) -> T) -> T {
        let profile = self.proxy.profile().expect("a profile");
        let before = profile.fired().len();
        let answer = read(&self.proxy.endpoint());
        let mut own = self.own_reads.lock().unwrap_or_else(|p| p.into_inner());
        for fired in profile.fired().iter().skip(before) {
            *own.entry(fired.id).or_default() += 1;
        }
        answer
    }

    /// One line per behaviour met, with its count and operations.
    pub fn summary(&self) -> String {
        self.proxy.summary()
    }

    /// The profile, to set a task's outcome or a window.
    pub fn profile(&self) -> &provision_proxy::Profile {
        self.proxy.profile().expect("a profile")
    }

    /// Every request the proxy saw so far.
    pub fn requests(&self) -> u64 {
        self.proxy.requests()
    }
}
