//! How long the cloud usually takes to make, change and remove a resource of one type.
//!
//! The executor starts the ready actions with the longest path of expected work behind them first,
//! so that the cloud's long waits (a database being created, a distribution deploying) begin at
//! once and overlap, instead of starting after a queue of quick calls. The durations only order the
//! work: nothing waits for them and nothing times out by them.

use std::time::Duration;

use crate::plan::Action;

/// The cloud's usual time for each kind of action on one resource of a type, in the cloud's own
/// time (never scaled: only the ratio between types matters).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TypicalDurations {
    pub create: Duration,
    pub update: Duration,
    pub delete: Duration,
}

impl TypicalDurations {
    /// A few round trips and nothing to wait for: the default.
    pub const INSTANT: TypicalDurations =
        TypicalDurations { create: Duration::ZERO, update: Duration::ZERO, delete: Duration::ZERO };

    /// In whole seconds, for a driver's constant.
    pub const fn seconds(create: u64, update: u64, delete: u64) -> TypicalDurations {
        TypicalDurations {
            create: Duration::from_secs(create),
            update: Duration::from_secs(update),
            delete: Duration::from_secs(delete),
        }
    }

    /// What `action` usually takes; a replacement that deletes first is the delete and the create.
    pub fn of(&self, action: Action, create_before_destroy: bool) -> Duration {
        match action {
            Action::Create => self.create,
            Action::Update => self.update,
            Action::Replace if create_before_destroy => self.create,
            Action::Replace => self.delete + self.create,
            Action::Delete => self.delete,
        }
    }
}
