//! A queue of work items that become ready once everything they depend on has finished.

use std::collections::{BTreeMap, BTreeSet};

use crate::address::Address;

#[derive(Debug, Default)]
pub struct DependencyQueue {
    /// Items not yet handed out, with the dependencies they still wait for.
    waiting: BTreeMap<Address, BTreeSet<Address>>,
    /// Items whose dependencies have all finished, in a stable order.
    ready: BTreeSet<Address>,
    /// Everything queued, so dependencies outside the queue count as already finished.
    queued: BTreeSet<Address>,
    /// Items were queued since readiness was last worked out (a dependency may be queued after its
    /// dependent, so readiness is decided at the first `dequeue`).
    dirty: bool,
}

impl DependencyQueue {
    pub fn new() -> DependencyQueue {
        DependencyQueue::default()
    }

    /// Adds `key`, to be handed out after each of `dependencies` that is (or will be) queued finishes.
    pub fn queue(&mut self, key: Address, dependencies: impl IntoIterator<Item = Address>) {
        self.queued.insert(key.clone());
        self.waiting.insert(key, dependencies.into_iter().collect());
        self.dirty = true;
    }

    fn recompute_ready(&mut self) {
        let queued = &self.queued;
        let newly: Vec<Address> = self
            .waiting
            .iter()
            .filter(|(_, deps)| deps.iter().all(|d| !queued.contains(d)))
            .map(|(k, _)| k.clone())
            .collect();
        for key in newly {
            self.waiting.remove(&key);
            self.ready.insert(key);
        }
    }

    /// The next item whose dependencies have all finished.
    pub fn dequeue(&mut self) -> Option<Address> {
        if self.dirty {
            self.dirty = false;
            self.recompute_ready();
        }
        self.ready.pop_first()
    }

    /// Marks `key` finished; returns the items that became ready because of it.
    pub fn finish(&mut self, key: &Address) -> Vec<Address> {
        self.queued.remove(key);
        let mut newly = Vec::new();
        for (waiting, deps) in self.waiting.iter_mut() {
            if deps.remove(key) && deps.iter().all(|d| !self.queued.contains(d)) {
                newly.push(waiting.clone());
            }
        }
        for key in &newly {
            self.waiting.remove(key);
            self.ready.insert(key.clone());
        }
        newly
    }

    /// Drops `key` and everything that (transitively) waits for it; returns what was dropped.
    pub fn abandon(&mut self, key: &Address) -> Vec<Address> {
        let mut dropped = Vec::new();
        let mut stack = vec![key.clone()];
        while let Some(failed) = stack.pop() {
            let dependents: Vec<Address> =
                self.waiting.iter().filter(|(_, deps)| deps.contains(&failed)).map(|(k, _)| k.clone()).collect();
            for dependent in dependents {
                self.waiting.remove(&dependent);
                self.queued.remove(&dependent);
                dropped.push(dependent.clone());
                stack.push(dependent);
            }
        }
        self.queued.remove(key);
        dropped
    }

    pub fn is_empty(&mut self) -> bool {
        if self.dirty {
            self.dirty = false;
            self.recompute_ready();
        }
        self.waiting.is_empty() && self.ready.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(text: &str) -> Address {
        text.parse().unwrap()
    }

    #[test]
    fn items_wait_for_their_dependencies() {
        let mut queue = DependencyQueue::new();
        queue.queue(a("x.child"), [a("x.parent")]);
        queue.queue(a("x.parent"), []);
        assert_eq!(queue.dequeue(), Some(a("x.parent")));
        assert_eq!(queue.dequeue(), None);
        assert_eq!(queue.finish(&a("x.parent")), vec![a("x.child")]);
        assert_eq!(queue.dequeue(), Some(a("x.child")));
        queue.finish(&a("x.child"));
        assert!(queue.is_empty());
    }

    #[test]
    fn dependencies_outside_the_queue_do_not_block() {
        let mut queue = DependencyQueue::new();
        queue.queue(a("x.child"), [a("x.unchanged")]);
        assert_eq!(queue.dequeue(), Some(a("x.child")));
    }

    #[test]
    fn abandoning_drops_everything_downstream() {
        let mut queue = DependencyQueue::new();
        queue.queue(a("x.a"), []);
        queue.queue(a("x.b"), [a("x.a")]);
        queue.queue(a("x.c"), [a("x.b")]);
        queue.queue(a("x.d"), []);
        let first = queue.dequeue().unwrap();
        assert_eq!(first, a("x.a"));
        let mut dropped = queue.abandon(&first);
        dropped.sort();
        assert_eq!(dropped, vec![a("x.b"), a("x.c")]);
        assert_eq!(queue.dequeue(), Some(a("x.d")));
    }
}
