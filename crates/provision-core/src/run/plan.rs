//! `plan` and `drift`: read the state (no lock: they write nothing), check the region, refresh and
//! plan. The caller shows the result, and `plan --out` saves it.

use anyhow::Result;

use super::Run;
use crate::engine::{make_plan, Planned};
use crate::plan::PlanOptions;
use crate::state::State;

/// Whether a plan reads every resource from the cloud first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refresh {
    /// Refresh, with the region the cloud is set for, and check the account.
    Online,
    /// Plan from the state alone (`--refresh=false`), for this region (as configured: no call).
    Offline { region: String },
}

impl Run<'_> {
    /// `plan`: the plan an apply with these options would make now. `check` may refuse the state
    /// as read, before anything is refreshed (a plan to be saved refuses unsettled creates it could
    /// not settle offline).
    pub async fn plan(
        &self,
        options: &PlanOptions,
        refresh: &Refresh,
        check: &(dyn Fn(&State) -> Result<()> + Sync),
    ) -> Result<Planned> {
        let (state, _) = self.read_state().await?;
        check(&state)?;
        // `plan` checks the credentials and the account even for a new state.
        let options = PlanOptions { check_new_account_alongside: false, ..options.clone() };
        let (region, online) = match refresh {
            Refresh::Online => (self.region().await?, Some(self.cloud)),
            Refresh::Offline { region } => (region.clone(), None),
        };
        make_plan(self.stack, state, online, self.cloud.drivers(), region, &options).await
    }

    /// `drift`: refresh only, and what changed outside provision (in [`Planned::plan`]'s `drift`).
    /// Needs the state and the drivers, nothing of the stack file's resources.
    pub async fn drift(&self) -> Result<Planned> {
        let (state, _) = self.read_state().await?;
        let options = PlanOptions { refresh_only: true, ..PlanOptions::default() };
        let region = self.region().await?;
        make_plan(self.stack, state, Some(self.cloud), self.cloud.drivers(), region, &options).await
    }
}
