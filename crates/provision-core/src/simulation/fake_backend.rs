//! A state backend in memory that dies with the simulation: a write after the crash point is lost,
//! like a write the kernel never saw.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use super::world::Simulation;
use crate::state::{BackendError, Lease, LockInfo, State, StateBackend, Stored, Version, Written};

#[derive(Clone, Debug, Default)]
pub struct Persisted {
    pub bytes: Option<Vec<u8>>,
    pub version: u64,
}

pub struct FakeBackend {
    sim: Arc<Simulation>,
    pub stored: Mutex<Persisted>,
}

impl FakeBackend {
    pub fn new(sim: Arc<Simulation>, stored: Persisted) -> FakeBackend {
        FakeBackend { sim, stored: Mutex::new(stored) }
    }

    pub fn snapshot(&self) -> Persisted {
        self.stored.lock().unwrap().clone()
    }
}

fn killed() -> BackendError {
    BackendError::other("the process was killed")
}

#[async_trait]
impl StateBackend for FakeBackend {
    fn location(&self) -> String {
        "memory".into()
    }

    async fn read(&self) -> Result<Option<Stored>, BackendError> {
        let stored = self.stored.lock().unwrap().clone();
        let Some(bytes) = stored.bytes else { return Ok(None) };
        let text = String::from_utf8(bytes).map_err(|e| BackendError::other(e.to_string()))?;
        let state = State::parse(&text, "memory")?;
        Ok(Some(Stored { state, version: Version(stored.version.to_string()) }))
    }

    async fn write(&self, state: &State, expected: Option<&Version>) -> Result<Written, BackendError> {
        self.sim.point().map_err(|_| killed())?;
        let bytes = state.to_document();
        let version = {
            let mut stored = self.stored.lock().unwrap();
            let current = stored.bytes.as_ref().map(|_| Version(stored.version.to_string()));
            if current.as_ref() != expected {
                return Err(BackendError::Conflict { location: "memory".into(), detail: String::new() });
            }
            stored.version += 1;
            stored.bytes = Some(bytes.clone());
            stored.version
        };
        self.sim.point().map_err(|_| killed())?;
        Ok(Written { version: Version(version.to_string()), bytes: bytes.len() as u64 })
    }

    async fn lock(&self, operation: &str) -> Result<Lease, BackendError> {
        Ok(Lease { info: LockInfo::new(operation), token: String::new() })
    }

    async fn renew(&self, _lease: &mut Lease) -> Result<(), BackendError> {
        Ok(())
    }

    async fn unlock(&self, _lease: &Lease) -> Result<(), BackendError> {
        Ok(())
    }

    async fn force_unlock(&self, _id: &str) -> Result<(), BackendError> {
        Ok(())
    }
}
