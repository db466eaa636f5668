//! `--exclude ADDR`, the complement of `--target`: leave a resource out of this run, and with it
//! whatever could not be done without it.
//!
//! For plan and apply that is what depends on it (a service cannot be created against a load
//! balancer this run leaves out). For destroy it is what the excluded resource needs: deleting
//! the security group a kept database uses would fail, so the group is kept too.

use std::collections::BTreeSet;

use crate::address::Address;
use crate::stack::Stack;
use crate::state::State;

/// `excluded` and everything that depends on it, by the stack file's references and the state's
/// recorded dependencies (for resources the file no longer has).
pub fn with_dependents(stack: &Stack, state: &State, excluded: &[Address]) -> BTreeSet<Address> {
    let mut left_out = BTreeSet::new();
    let mut pending: Vec<Address> = excluded.to_vec();
    while let Some(address) = pending.pop() {
        if !left_out.insert(address.clone()) {
            continue;
        }
        if stack.resources.contains_key(&address) {
            pending.extend(stack.graph.dependents(&address).cloned());
        }
        for (other, entry) in &state.resources {
            if entry.dependencies.contains(&address) {
                pending.push(other.clone());
            }
        }
    }
    left_out
}

/// `excluded` and everything it needs, by the state's recorded dependencies.
pub fn needed_by(state: &State, excluded: &[Address]) -> BTreeSet<Address> {
    let mut kept = BTreeSet::new();
    let mut pending: Vec<Address> = excluded.to_vec();
    while let Some(address) = pending.pop() {
        if kept.insert(address.clone()) {
            if let Some(entry) = state.resources.get(&address) {
                pending.extend(entry.dependencies.iter().cloned());
            }
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{ResourceState, ResourceStatus};

    fn entry(dependencies: &[&Address]) -> ResourceState {
        ResourceState {
            type_name: "t".into(),
            id: "id".into(),
            status: ResourceStatus::Created,
            inputs: Default::default(),
            attributes: Default::default(),
            dependencies: dependencies.iter().map(|a| (*a).clone()).collect(),
            protect: false,
        }
    }

    #[test]
    fn destroy_keeps_what_an_excluded_resource_needs() {
        let group = Address::new("security_group", "db");
        let subnets = Address::new("db_subnet_group", "main");
        let database = Address::new("db_instance", "main");
        let service = Address::new("ecs_service", "api");
        let mut state = State::new("shop");
        state.resources.insert(group.clone(), entry(&[]));
        state.resources.insert(subnets.clone(), entry(&[]));
        state.resources.insert(database.clone(), entry(&[&group, &subnets]));
        state.resources.insert(service.clone(), entry(&[&database]));
        let kept = needed_by(&state, std::slice::from_ref(&database));
        assert_eq!(kept, BTreeSet::from([group, subnets, database]));
        assert!(!kept.contains(&service));
    }
}
