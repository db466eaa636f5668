//! The simulation's side of a run: a frontend that approves, hears the stop requests a test sends,
//! and keeps what a run could not write — where the CLI has a terminal.

use std::sync::Mutex;

use tokio::sync::watch;

use crate::address::Address;
use crate::executor::Stop;
use crate::plan::Plan;
use crate::reporter::{Event, Reporter};
use crate::run::{Frontend, Warning};
use crate::state::State;

pub struct Script {
    stop: watch::Receiver<Stop>,
    /// States the run could not write, as it handed them over.
    pub errored: Mutex<Vec<State>>,
    pub warnings: Mutex<Vec<Warning>>,
}

impl Script {
    /// A frontend no one interrupts.
    pub fn new() -> Script {
        Script::hearing(watch::channel(Stop::No).1)
    }

    /// A frontend whose stop requests are `stop`'s.
    pub fn hearing(stop: watch::Receiver<Stop>) -> Script {
        Script { stop, errored: Mutex::new(Vec::new()), warnings: Mutex::new(Vec::new()) }
    }
}

impl Default for Script {
    fn default() -> Script {
        Script::new()
    }
}

impl Frontend for Script {
    fn settled(&self, _recovered: &[Address], _abandoned: &[(Address, String)]) {}

    fn show_plan(&self, _plan: &Plan) {}

    fn confirm(&self, _verb: &str) -> anyhow::Result<bool> {
        Ok(true)
    }

    fn stop_requests(&self) -> watch::Receiver<Stop> {
        self.stop.clone()
    }

    fn warning(&self, warning: &Warning) {
        self.warnings.lock().unwrap().push(warning.clone());
    }

    fn keep_errored_state(&self, state: &State) {
        self.errored.lock().unwrap().push(state.clone());
    }
}

/// Sends the first stop request once six actions have started, the second at the next finish.
pub struct Interrupter {
    pub sender: watch::Sender<Stop>,
    pub started: std::sync::atomic::AtomicUsize,
}

impl Reporter for Interrupter {
    fn report(&self, event: &Event) {
        use std::sync::atomic::Ordering;
        match event {
            Event::Started { .. } => {
                if self.started.fetch_add(1, Ordering::SeqCst) + 1 == 6 {
                    let _ = self.sender.send(Stop::Finish("interrupted".into()));
                }
            }
            Event::Finished { .. } if *self.sender.borrow() != Stop::No => {
                let _ = self.sender.send(Stop::Now);
            }
            _ => {}
        }
    }
}
