//! `apply`, `destroy` and `apply PLANFILE`: lock, read, check, plan (or take the saved plan), show,
//! confirm, execute, record, summarise, release.

use std::sync::Arc;

use anyhow::Result;

use super::frontend::{Frontend, Warning};
use super::stop::stop_signal;
use super::{backend_error, Applied, Ended, Run, RunOptions};
use crate::cloud::Network;
use crate::driver::StackInfo;
use crate::engine::{check_region, make_plan, pin_identity, stack_info, Planned};
use crate::executor::{ExecutionOptions, Executor, Outcome};
use crate::plan::{Plan, PlanOptions};
use crate::reporter::{Event, Reporter, Summary};
use crate::state::{LockGuard, State, StateBackend, StateWriter, Version};

/// A plan saved by `plan --out`, with what it was computed from.
pub struct SavedPlan {
    pub plan: Plan,
    /// The refreshed state the plan was made against.
    pub state: State,
    pub network: Option<Network>,
    /// The region the plan was made for.
    pub region: String,
    /// The AWS account the plan was made for (`None` for an offline plan of a new state).
    pub account: Option<String>,
}

impl Run<'_> {
    /// `apply` and `destroy` (and `apply --refresh-only`): the whole sequence, from taking the
    /// lock to releasing it. Errors before the first change (a lock held by another run, a state
    /// of another stack, region or account, the plan) are returned as errors; once the run has
    /// started, how it went is in the result.
    pub async fn apply(
        &self,
        options: &RunOptions,
        reporter: &dyn Reporter,
        frontend: &dyn Frontend,
    ) -> Result<Applied> {
        let verb = options.verb();
        let plan_options = PlanOptions {
            // A new state's account is asked for while the apply runs, and recorded once known.
            check_new_account_alongside: !options.plan.destroy && !options.plan.refresh_only,
            ..options.plan.clone()
        };
        let guard = self.lock(verb, options.lock_timeout, frontend).await?;
        let (state, version) = self.read_state().await?;
        let original = state.clone();
        let region = self.region().await?;
        let planned =
            make_plan(self.stack, state, Some(self.cloud), self.cloud.drivers(), region, &plan_options).await?;
        frontend.settled(&planned.recovered, &planned.abandoned_creates);
        let Planned { plan, mut state, info, network, account_unchecked, .. } = planned;
        state.expires = options.expires.clone().or(state.expires);
        frontend.show_plan(&plan);
        reporter.report(&Event::plan(&plan));
        let applied = |ended, state| Applied {
            verb,
            ended,
            plan: plan.clone(),
            outcome: Outcome::default(),
            state,
            lock_lost: false,
        };
        if plan.refresh_only && !plan.drift.is_empty() && !options.auto_approve && !frontend.confirm(verb)? {
            guard.release().await.map_err(backend_error)?;
            return Ok(applied(Ended::Cancelled, state));
        }
        if plan.is_empty() {
            // Nothing to do, but what refresh learned (a resource gone, drift, the account) is worth
            // recording — and with `--refresh-only` that is the whole point.
            let state = if state.same_resources(&original) {
                state
            } else {
                write_once(&self.backend, state, version, verb).await?
            };
            reporter.report(&Event::Summary { summary: Summary::new(verb, &Outcome::default(), &state.outputs) });
            guard.release().await.map_err(backend_error)?;
            return Ok(applied(Ended::NothingToDo, state));
        }
        if !options.auto_approve && !frontend.confirm(verb)? {
            let summary = Summary { cancelled: true, ..Summary::new(verb, &Outcome::default(), &state.outputs) };
            reporter.report(&Event::Summary { summary: Summary { success: false, ..summary } });
            guard.release().await.map_err(backend_error)?;
            return Ok(applied(Ended::Cancelled, state));
        }
        let planned = Execution { plan: &plan, info: &info, network: network.as_ref(), account_unchecked };
        let (outcome, state, lock_lost) =
            self.execute(planned, state, version, guard, options, verb, reporter, frontend).await;
        Ok(Applied { verb, ended: Ended::Executed, plan, outcome, state, lock_lost })
    }

    /// `apply PLANFILE`: the saved plan, exactly, once `check` (given the state as it is now and
    /// the plan's stack info) has found nothing moved on since it was made. Never asks: the plan
    /// was reviewed when it was saved.
    pub async fn apply_saved(
        &self,
        saved: SavedPlan,
        check: &(dyn Fn(&State, &StackInfo) -> Result<()> + Sync),
        options: &RunOptions,
        reporter: &dyn Reporter,
        frontend: &dyn Frontend,
    ) -> Result<Applied> {
        let verb = "apply";
        let guard = self.lock(verb, options.lock_timeout, frontend).await?;
        let (current, version) = self.read_state().await?;
        let mut info = stack_info(self.stack, saved.region.clone());
        info.lineage = Some(current.lineage.clone());
        check(&current, &info)?;
        let region = self.region().await?;
        check_region(&current, &region)?;
        if region != saved.region {
            anyhow::bail!(
                "the saved plan was made for {}, this run is set for {region}\n\nhint: run with `--region {}`, or make a new plan",
                saved.region,
                saved.region
            );
        }
        // The account, like the region, before anything is changed: a plan reviewed for staging is
        // never applied with production's credentials.
        let identity =
            self.cloud.identity().await.map_err(|error| anyhow::anyhow!("checking the AWS account: {error}"))?;
        crate::engine::check_account(&current, &identity)?;
        if let Some(planned) = saved.account.as_ref().filter(|planned| **planned != identity.account) {
            anyhow::bail!(
                "the saved plan was made for account {planned} ({}), this run's credentials are for account {}\n\nhint: use the credentials of account {planned}, or make a new plan in this account",
                saved.region,
                identity.account
            );
        }
        let SavedPlan { plan, mut state, network, .. } = saved;
        state.lineage = current.lineage.clone();
        state.expires = options.expires.clone().or(state.expires);
        frontend.show_plan(&plan);
        reporter.report(&Event::plan(&plan));
        if plan.is_empty() {
            reporter.report(&Event::Summary { summary: Summary::new(verb, &Outcome::default(), &current.outputs) });
            guard.release().await.map_err(backend_error)?;
            return Ok(Applied {
                verb,
                ended: Ended::NothingToDo,
                plan,
                outcome: Outcome::default(),
                state: current,
                lock_lost: false,
            });
        }
        let planned = Execution { plan: &plan, info: &info, network: network.as_ref(), account_unchecked: false };
        let (outcome, state, lock_lost) =
            self.execute(planned, state, version, guard, options, verb, reporter, frontend).await;
        Ok(Applied { verb, ended: Ended::Executed, plan, outcome, state, lock_lost })
    }

    /// Carries out a plan under the lock `guard` holds: executes it with the group-committing
    /// writer, records a new state's account alongside, keeps the state when it could not be
    /// written, releases the lock and reports the summary.
    #[allow(clippy::too_many_arguments)]
    async fn execute(
        &self,
        planned: Execution<'_>,
        state: State,
        version: Option<Version>,
        guard: LockGuard,
        options: &RunOptions,
        verb: &str,
        reporter: &dyn Reporter,
        frontend: &dyn Frontend,
    ) -> (Outcome, State, bool) {
        let Execution { plan, info, network, account_unchecked } = planned;
        let cloud = self.cloud;
        let writer = StateWriter::start(self.backend.clone(), state, version, verb);
        let stop = stop_signal(frontend.stop_requests(), guard.lost());
        let executor =
            Executor { stack: self.stack, info, network, drivers: cloud.drivers(), writer: &writer, reporter };
        let throttling = || cloud.retry_count().1;
        let execution = ExecutionOptions { parallelism: options.parallelism, throttling: Some(&throttling) };
        let pin_account = async {
            if !account_unchecked {
                return;
            }
            match cloud.identity().await {
                Ok(identity) => {
                    let _ = writer.commit(|state| pin_identity(state, &identity)).await;
                }
                Err(error) => frontend.warning(&Warning::AccountUnchecked(error.to_string())),
            }
        };
        let (outcome, ()) = futures::join!(executor.execute(plan, &execution, stop.receiver.clone()), pin_account);
        drop(stop);
        let (state, stats, _) = writer.finish().await;
        let (retries, throttled) = cloud.retry_count();
        tracing::info!("aws requests: {}", cloud.request_count());
        tracing::info!("aws retries: {retries} ({throttled} throttling answers)");
        tracing::info!(
            "state writes: {} for {} changes of {} actions, {} bytes, {:.1} ms writing",
            stats.writes,
            stats.changes,
            plan.actions.len(),
            stats.bytes,
            stats.time_writing.as_secs_f64() * 1000.0
        );
        if outcome.state_error.is_some() {
            frontend.keep_errored_state(&state);
        }
        let lock_lost = guard.is_lost();
        let _ = guard.release().await;
        // Last: a live view clears itself on the summary, before the caller prints its text.
        reporter.report(&Event::Summary { summary: Summary::new(verb, &outcome, &state.outputs) });
        (outcome, state, lock_lost)
    }
}

/// What a plan is carried out with.
struct Execution<'a> {
    plan: &'a Plan,
    info: &'a StackInfo,
    network: Option<&'a Network>,
    /// A new state's account is still to be asked for and recorded.
    account_unchecked: bool,
}

/// One write outside an execution (what a refresh learned).
async fn write_once(
    backend: &Arc<dyn StateBackend>,
    state: State,
    version: Option<Version>,
    verb: &str,
) -> Result<State> {
    let writer = StateWriter::start(backend.clone(), state, version, verb);
    writer.commit(|_| {}).await.map_err(|error| anyhow::anyhow!("{error}"))?;
    Ok(writer.finish().await.0)
}
