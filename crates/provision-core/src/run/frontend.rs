//! What a run shows to, asks of and hears from whoever started it, apart from progress events (a
//! [`crate::reporter::Reporter`]'s). The CLI implements it over the terminal: it prints the plan,
//! asks `yes/no` (and refuses when stdin is not a terminal), turns Ctrl-C and SIGTERM into stop
//! requests, and keeps the state a run could not write beside the stack. The simulation implements
//! it with a script.
//!
//! The calls come in the order the run makes them, so what the CLI prints stays where a person
//! expects it: the settled creates and the plan before the question, the warnings where they arise.

use std::fmt;

use tokio::sync::watch;

use crate::address::Address;
use crate::executor::Stop;
use crate::plan::Plan;
use crate::state::State;

pub trait Frontend: Send + Sync {
    /// What refresh made of the creates a killed run left unsettled: `recovered` were found and
    /// are adopted; `abandoned` (with the id each had recorded) made nothing and are planned again.
    fn settled(&self, recovered: &[Address], abandoned: &[(Address, String)]);

    /// The plan about to be confirmed and carried out (also when it is empty), before the run
    /// reports it as an event.
    fn show_plan(&self, plan: &Plan);

    /// Whether to carry out the plan just shown (`verb` is `apply` or `destroy`). Not asked with
    /// `auto_approve`. An error refuses the run (there is no one to ask).
    fn confirm(&self, verb: &str) -> anyhow::Result<bool>;

    /// Stop requests from now on: asked once, just before the first action. Before that, an
    /// interrupt ends the process as usual (nothing has changed yet).
    fn stop_requests(&self) -> watch::Receiver<Stop>;

    /// Something worth saying that does not stop the run.
    fn warning(&self, warning: &Warning);

    /// The state could not be written (someone else wrote it): this is what the run knows,
    /// including what it made, for the user to compare and reconcile.
    fn keep_errored_state(&self, state: &State);
}

/// A warning a run gives on its way.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Warning {
    /// How the state backend is set up puts the state at risk (an S3 bucket without versioning);
    /// worth saying once per command, however many times it takes the lock.
    BackendSetup(String),
    /// A new state's account could not be asked for while the apply ran.
    AccountUnchecked(String),
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Warning::BackendSetup(warning) => write!(f, "{warning}"),
            Warning::AccountUnchecked(error) => {
                write!(f, "could not check the AWS account ({error}); the state records it on the next run")
            }
        }
    }
}
