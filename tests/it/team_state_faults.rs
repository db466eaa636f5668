//! Team state on S3 through the project's fault-injecting proxy in front of the emulator: 500s and
//! 409s on the state and lock writes (retried with backoff), a connection reset after S3 stored a
//! conditional write (the retry meets 412 from its own success and must recognise itself — the
//! OpenTofu#4405 bug), a lock renewal that keeps failing (the run finishes what is in flight and
//! stops), and slow answers. After each: no lost update, no duplicate resource, the state parses,
//! one more plan is empty.

use std::time::Duration;

use provision_proxy::{Fault, Matcher, Proxy, Rule};

use crate::support::endpoint;
use crate::team_state::{buckets, Running, Team};

/// A proxy in front of the emulator, on a runtime of its own that lives as long as it does.
pub struct Faults {
    pub proxy: Proxy,
    _runtime: tokio::runtime::Runtime,
}

impl Faults {
    pub fn start() -> Faults {
        let runtime =
            tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
        let proxy = runtime.block_on(Proxy::start(endpoint())).expect("start the proxy");
        Faults { proxy, _runtime: runtime }
    }
}

/// `PutObject` of the state object (not its lock). The SDK sends `?x-id=PutObject` after the key,
/// which tells `prod.json?…` from `prod.json.lock?…`.
fn state_put() -> Matcher {
    Matcher::any().method("PUT").path("prod.json?x-id=PutObject")
}

fn lock_put() -> Matcher {
    Matcher::any().method("PUT").path("prod.json.lock?x-id=PutObject")
}

/// A team whose machine `a` talks to the emulator through `faults`.
fn team_behind(faults: &Faults, prefix: &str, resources: usize, state_extra: &str) -> Team {
    let mut team = Team::new(prefix, &buckets(resources), state_extra, true);
    team.a = team.a.with_endpoint(&faults.proxy.endpoint());
    team
}

#[test]
fn a_500_and_a_409_on_the_state_put_are_retried() {
    let faults = Faults::start();
    let team = team_behind(&faults, "fstate", 3, "");
    faults.proxy.add_rule(Rule::new(state_put().header("if-match"), Fault::s3_error(500, "InternalError")).times(1));
    faults.proxy.add_rule(
        Rule::new(state_put().header("if-match"), Fault::s3_error(409, "ConditionalRequestConflict")).times(1),
    );
    faults.proxy.add_rule(Rule::new(state_put().header("if-none-match"), Fault::s3_error(503, "SlowDown")).times(1));
    team.a.run(&["apply", "--auto-approve"]).success();
    assert_eq!(faults.proxy.faults(), 3, "every fault was met, and retried past");
    team.settled(&team.b, 3);
}

#[test]
fn a_500_and_a_409_on_the_lock_put_are_retried() {
    let faults = Faults::start();
    let team = team_behind(&faults, "flock", 2, "");
    faults.proxy.add_rule(Rule::new(lock_put(), Fault::s3_error(500, "InternalError")).times(1));
    faults.proxy.add_rule(Rule::new(lock_put(), Fault::s3_error(409, "ConditionalRequestConflict")).times(1));
    team.a.run(&["apply", "--auto-approve"]).success();
    assert_eq!(faults.proxy.faults(), 2);
    team.settled(&team.b, 2);
}

#[test]
fn a_reset_after_a_stored_state_write_is_recognised_as_its_own_success() {
    let faults = Faults::start();
    let team = team_behind(&faults, "freset", 3, "");
    // The first write ever (If-None-Match) and a later one (If-Match) are both stored by S3, and
    // their answers lost: each retry meets 412 from its own success.
    faults.proxy.add_rule(Rule::new(state_put().header("if-none-match"), Fault::ResetAfter).times(1));
    faults.proxy.add_rule(Rule::new(state_put().header("if-match"), Fault::ResetAfter).times(1));
    let run = team.a.run(&["apply", "--auto-approve"]).success();
    assert!(!run.stderr.contains("someone else"), "not taken for another writer:\n{}", run.stderr);
    assert_eq!(faults.proxy.faults(), 2);
    assert!(!team.a.path(&format!("{}.errored.json", team.a.stack_name)).exists());
    team.settled(&team.b, 3);
}

#[test]
fn a_reset_after_a_stored_lock_write_is_recognised_by_the_lock_id() {
    let faults = Faults::start();
    let team = team_behind(&faults, "flreset", 2, "");
    faults.proxy.add_rule(Rule::new(lock_put().header("if-none-match"), Fault::ResetAfter).times(1));
    let run = team.a.run(&["apply", "--auto-approve"]).success();
    assert!(!run.stderr.contains("is locked"), "its own lock, not another's:\n{}", run.stderr);
    assert_eq!(faults.proxy.faults(), 1);
    team.settled(&team.b, 2);
}

#[test]
fn a_lock_renewal_that_fails_finishes_what_is_in_flight_and_stops() {
    let faults = Faults::start();
    // Every request 100 ms late, so 60 buckets one at a time take half a minute: the run outlasts
    // the first failed renewal however fast the emulator is.
    faults.proxy.set_latency(Duration::from_millis(100));
    // The shortest lease there is (30 s), renewed every 10 s.
    let team = team_behind(&faults, "frenew", 60, "lock_ttl = \"30s\"");
    let mut run = Running::start(&team.a, &["apply", "--auto-approve", "--parallelism", "1"], &[]);
    run.wait_for(": created");
    // From now on every renewal fails (the lock's If-Match PUT); creating it is long done.
    faults.proxy.add_rule(Rule::new(lock_put().header("if-match"), Fault::s3_error(500, "InternalError")));
    let (code, _, stderr) = run.finish();
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("the state lock was lost"), "{stderr}");
    faults.proxy.clear_rules();

    // What it made is recorded (each action in flight finished and was written), no more.
    let state = team.stored();
    let recorded = state["resources"].as_object().expect("resources").len();
    assert_eq!(recorded, team.buckets_made().len(), "{stderr}");
    assert!(recorded < 60, "it stopped early: {recorded}");
    team.b.run(&["apply", "--auto-approve", "--lock-timeout", "60s"]).success();
    team.settled(&team.b, 60);
}

#[test]
fn slow_answers_slow_the_run_down_but_break_neither_the_lease_nor_the_writes() {
    let faults = Faults::start();
    faults.proxy.set_latency(Duration::from_millis(100));
    let team = team_behind(&faults, "fslow", 4, "lock_ttl = \"30s\"");
    faults.proxy.add_rule(Rule::new(state_put(), Fault::Delay(Duration::from_secs(3))).times(2));
    faults.proxy.add_rule(Rule::new(lock_put().header("if-match"), Fault::Delay(Duration::from_secs(1))).times(2));
    team.a.run(&["apply", "--auto-approve"]).success();
    assert!(faults.proxy.faults() >= 2, "the slow answers happened");
    team.settled(&team.b, 4);
}
