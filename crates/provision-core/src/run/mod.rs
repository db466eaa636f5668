//! The sequence of a run, in one place: what `plan`, `drift`, `apply`, `apply PLANFILE` and
//! `destroy` do between reading the stack file and printing the result.
//!
//! An apply takes the state lock, reads the state and refuses one that belongs to another stack,
//! checks the region (and the account, alongside the refresh), plans, shows the plan, asks, executes
//! with the group-committing writer (recording a new state's account while it runs), keeps the
//! state this run knows when it could not be written, reports the summary and releases the lock. A
//! lock lost on the way stops the run as Ctrl-C would, and fails it. Each of those steps used to sit
//! in the command that needed it; here they are written once, so the binary and the deterministic
//! simulation (which drives these same functions) run the same sequence.
//!
//! The caller hands in what a run works on ([`Run`]: the loaded stack, the state backend, the
//! cloud and its drivers), the options ([`RunOptions`]), a [`Reporter`] for progress and a
//! [`Frontend`] for what a person sees, answers and interrupts; it gets back a value ([`Applied`],
//! or the [`Planned`] of a plan) that says how the run ended and which exit code that means. Nothing
//! here prints: the CLI turns the result into text.

mod apply;
mod frontend;
mod plan;
mod stop;

use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Result};

pub use apply::SavedPlan;
pub use frontend::{Frontend, Warning};
pub use plan::Refresh;

use crate::cloud::Cloud;
use crate::executor::{Outcome, Parallelism};
use crate::plan::{Plan, PlanOptions};
use crate::stack::Stack;
use crate::state::{acquire_lock, BackendError, LockGuard, LockOptions, State, StateBackend, Version};

#[doc(inline)]
pub use crate::engine::Planned;
#[doc(inline)]
pub use crate::reporter::Reporter;

/// What a run works on: the stack file as loaded, where its state lives, and the cloud (with its
/// drivers) the resources live in. Nothing is asked of the cloud or the backend until a sequence
/// needs it.
pub struct Run<'a> {
    pub stack: &'a Stack,
    pub backend: Arc<dyn StateBackend>,
    pub cloud: &'a dyn Cloud,
}

/// What `apply` and `destroy` are asked to do.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// What to plan: targets, replacements, `destroy`, `refresh_only` …
    pub plan: PlanOptions,
    pub parallelism: Parallelism,
    /// How long to wait while another run holds the state lock (`--lock-timeout`).
    pub lock_timeout: Duration,
    /// Carry out the plan without asking.
    pub auto_approve: bool,
    /// `apply --ttl`: when this preview environment expires (RFC 3339), recorded in the state and
    /// tagged on what the apply makes, for `sweep --expired`.
    pub expires: Option<String>,
}

impl RunOptions {
    /// `apply` or `destroy`: the lock's operation, the state writes' and the summary's.
    pub fn verb(&self) -> &'static str {
        if self.plan.destroy {
            "destroy"
        } else {
            "apply"
        }
    }
}

/// How an apply or a destroy ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ended {
    /// The confirmation was declined: nothing was changed.
    Cancelled,
    /// The plan held nothing to do. What refresh learned (a resource gone, drift accepted with
    /// `--refresh-only`, the account) was recorded.
    NothingToDo,
    /// The plan was carried out; [`Applied::outcome`] says how that went.
    Executed,
}

/// The result of an apply or a destroy, for the CLI to print.
#[derive(Debug)]
pub struct Applied {
    /// `apply` or `destroy`.
    pub verb: &'static str,
    pub ended: Ended,
    /// The plan shown (and, unless cancelled, carried out).
    pub plan: Plan,
    /// What each action did; empty unless [`Ended::Executed`].
    pub outcome: Outcome,
    /// The state as this run leaves it.
    pub state: State,
    /// The lease on the state lock could not be renewed: the run stopped as after Ctrl-C.
    pub lock_lost: bool,
}

impl Applied {
    /// 0 when everything planned succeeded (or there was nothing to do), 130 when Ctrl-C or
    /// SIGTERM stopped the run cleanly, 1 otherwise (a failure, a declined confirmation, a state
    /// that could not be written, a lost lock).
    pub fn exit_code(&self) -> u8 {
        match self.ended {
            Ended::Cancelled => 1,
            Ended::NothingToDo => 0,
            Ended::Executed => {
                let outcome = &self.outcome;
                if outcome.stopped.is_some() && outcome.state_error.is_none() && outcome.failed.is_empty() {
                    // Stopped because the lock was lost is a failure, not an interrupt.
                    if self.lock_lost {
                        1
                    } else {
                        130
                    }
                } else if outcome.is_success() {
                    0
                } else {
                    1
                }
            }
        }
    }
}

/// A backend error as a command error, with its hint.
pub fn backend_error(error: BackendError) -> anyhow::Error {
    match error.hint() {
        Some(hint) => anyhow!("{error}\n\nhint: {hint}"),
        None => anyhow!("{error}"),
    }
}

impl Run<'_> {
    /// Reads the state, or starts a new one; refuses a state that belongs to another stack.
    pub async fn read_state(&self) -> Result<(State, Option<Version>)> {
        read_state(self.backend.as_ref(), &self.stack.name).await
    }

    /// The region the cloud is set for (configuration only, no request), refused when it is not a
    /// region name — before any request is sent.
    pub async fn region(&self) -> Result<String> {
        configured_region(self.cloud).await
    }

    /// Takes the state lock for `operation`, waiting up to `timeout` while another run holds it,
    /// and passes on the backend's warning about how it is set up (an S3 bucket without
    /// versioning).
    async fn lock(&self, operation: &str, timeout: Duration, frontend: &dyn Frontend) -> Result<LockGuard> {
        let guard =
            acquire_lock(self.backend.clone(), operation, &LockOptions { timeout }).await.map_err(backend_error)?;
        if let Some(warning) = self.backend.check_setup().await {
            frontend.warning(&Warning::BackendSetup(warning));
        }
        Ok(guard)
    }
}

/// Reads the state at `backend`, or starts a new one for `stack`; refuses a state that belongs
/// to another stack.
pub async fn read_state(backend: &dyn StateBackend, stack: &str) -> Result<(State, Option<Version>)> {
    match backend.read().await.map_err(backend_error)? {
        Some(stored) if stored.state.stack != stack => bail!(
            "the state `{}` belongs to stack `{}`, not `{stack}`\n\nhint: give this stack its own `[state]` (a `path`, or another `s3` key)",
            backend.location(),
            stored.state.stack,
        ),
        Some(stored) => Ok((stored.state, Some(stored.version))),
        None => Ok((State::new(stack), None)),
    }
}

/// The region `cloud` is set for (configuration only, no request), refused when it is not a
/// region name.
pub async fn configured_region(cloud: &dyn Cloud) -> Result<String> {
    let region = cloud.region().await.map_err(|error| anyhow!("{error}"))?;
    check_region_name(&region, "the AWS configuration (`--region`, `AWS_REGION` or the profile)")?;
    Ok(region)
}

/// Refuses a region that is not a region's name; `source` says where it came from.
pub fn check_region_name(region: &str, source: &str) -> Result<()> {
    match crate::stack::region::region_problem(region) {
        Some(problem) => bail!("{problem} (from {source})\n\nhint: use a region such as `us-east-1`"),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::executor::Failure;
    use crate::plan::Action;

    fn applied(outcome: Outcome, lock_lost: bool) -> Applied {
        Applied {
            verb: "apply",
            ended: Ended::Executed,
            plan: Plan {
                stack: "shop".into(),
                lineage: None,
                serial: None,
                refreshed: true,
                actions: Vec::new(),
                drift: Vec::new(),
                outputs: Default::default(),
                moves: Vec::new(),
                refresh_only: false,
                protection: Vec::new(),
                cost: None,
                findings: Vec::new(),
                undone: Vec::new(),
            },
            outcome,
            state: State::new("shop"),
            lock_lost,
        }
    }

    #[test]
    fn the_exit_code_says_how_the_run_ended() {
        assert_eq!(applied(Outcome::default(), false).exit_code(), 0);
        let interrupted = || Outcome { stopped: Some("interrupted".into()), ..Outcome::default() };
        assert_eq!(applied(interrupted(), false).exit_code(), 130, "Ctrl-C");
        assert_eq!(applied(interrupted(), true).exit_code(), 1, "a lost lock fails the run");
        let failed = Outcome {
            failed: vec![Failure {
                address: "s3_bucket.a".parse().unwrap(),
                action: Action::Create,
                message: "AccessDenied".into(),
                hint: None,
            }],
            ..Outcome::default()
        };
        assert_eq!(applied(failed, false).exit_code(), 1);
        let cancelled = Applied { ended: Ended::Cancelled, ..applied(Outcome::default(), false) };
        assert_eq!(cancelled.exit_code(), 1, "a declined confirmation");
    }
}
