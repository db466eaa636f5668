//! The drivers of one run, by resource type name.

use std::sync::Arc;

use super::Driver;

/// Every driver a run knows. Built once (with the drivers' clients) and handed to the stack loader,
/// the planner, refresh and the executor, so tests can hand in other drivers.
#[derive(Clone, Default)]
pub struct DriverRegistry {
    drivers: Vec<Arc<dyn Driver>>,
}

impl DriverRegistry {
    pub fn new(drivers: Vec<Arc<dyn Driver>>) -> DriverRegistry {
        DriverRegistry { drivers }
    }

    pub fn get(&self, type_name: &str) -> Option<&dyn Driver> {
        self.drivers.iter().find(|driver| driver.schema().type_name == type_name).map(|driver| driver.as_ref())
    }

    /// The driver as a shared handle, for work that must own it (the blocking pool).
    pub fn shared(&self, type_name: &str) -> Option<Arc<dyn Driver>> {
        self.drivers.iter().find(|driver| driver.schema().type_name == type_name).cloned()
    }

    pub fn iter(&self) -> impl Iterator<Item = &dyn Driver> {
        self.drivers.iter().map(|driver| driver.as_ref())
    }

    pub fn type_names(&self) -> Vec<&'static str> {
        self.drivers.iter().map(|driver| driver.schema().type_name).collect()
    }
}

impl std::fmt::Debug for DriverRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.type_names()).finish()
    }
}
