//! How the executor tells the outside world what it is doing. The core never touches the terminal;
//! the CLI implements this with progress lines, tests with a recorder.

use std::time::Duration;

use crate::address::Address;
use crate::plan::Action;

pub trait Reporter: Send + Sync {
    fn started(&self, address: &Address, action: Action);
    /// A long wait inside an action (e.g. a distribution deploying).
    fn waiting(&self, address: &Address, message: &str);
    fn finished(&self, address: &Address, action: Action, elapsed: Duration);
    fn failed(&self, address: &Address, action: Action, message: &str);
    fn skipped(&self, address: &Address, because: &Address);
    /// Ctrl-C was pressed; `in_flight` actions are being finished.
    fn cancelling(&self, in_flight: usize);
}

/// Reports nothing.
pub struct NullReporter;

impl Reporter for NullReporter {
    fn started(&self, _: &Address, _: Action) {}
    fn waiting(&self, _: &Address, _: &str) {}
    fn finished(&self, _: &Address, _: Action, _: Duration) {}
    fn failed(&self, _: &Address, _: Action, _: &str) {}
    fn skipped(&self, _: &Address, _: &Address) {}
    fn cancelling(&self, _: usize) {}
}
