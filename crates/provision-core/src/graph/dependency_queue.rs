//! A queue of work items that become ready once everything they depend on has finished.
//!
//! Modelled on cargo's `DependencyQueue`: `queue(key, deps)`, `dequeue()`, `finish(key)` → newly
//! ready. Reverse edges are kept so finishing an item costs only its own dependents, which keeps a
//! walk over thousands of resources linear.

use std::collections::{BTreeMap, BTreeSet};

use crate::address::Address;

#[derive(Debug, Default)]
pub struct DependencyQueue {
    /// Items not yet ready, with the queued dependencies they still wait for.
    waiting: BTreeMap<Address, BTreeSet<Address>>,
    /// For each item, the items that wait for it.
    dependents: BTreeMap<Address, Vec<Address>>,
    /// Dependencies as given, until readiness is first worked out.
    declared: Vec<(Address, Vec<Address>)>,
    /// Items whose dependencies have all finished, in a stable order.
    ready: BTreeSet<Address>,
    /// Everything queued and not finished, so dependencies outside the queue count as done.
    queued: BTreeSet<Address>,
}

impl DependencyQueue {
    pub fn new() -> DependencyQueue {
        DependencyQueue::default()
    }

    /// Adds `key`, to be handed out after each of `dependencies` that is (or will be) queued finishes.
    /// A dependency may be queued after its dependent: readiness is decided at the first `dequeue`.
    pub fn queue(&mut self, key: Address, dependencies: impl IntoIterator<Item = Address>) {
        self.queued.insert(key.clone());
        self.declared.push((key, dependencies.into_iter().collect()));
    }

    fn settle(&mut self) {
        for (key, dependencies) in std::mem::take(&mut self.declared) {
            let pending: BTreeSet<Address> =
                dependencies.into_iter().filter(|d| self.queued.contains(d) && *d != key).collect();
            for dependency in &pending {
                self.dependents.entry(dependency.clone()).or_default().push(key.clone());
            }
            if pending.is_empty() {
                self.ready.insert(key);
            } else {
                self.waiting.insert(key, pending);
            }
        }
    }

    /// The next item whose dependencies have all finished.
    pub fn dequeue(&mut self) -> Option<Address> {
        self.settle();
        self.ready.pop_first()
    }

    /// Marks `key` finished; returns the items that became ready because of it.
    pub fn finish(&mut self, key: &Address) -> Vec<Address> {
        self.settle();
        self.queued.remove(key);
        let mut newly = Vec::new();
        for dependent in self.dependents.remove(key).unwrap_or_default() {
            if let Some(pending) = self.waiting.get_mut(&dependent) {
                pending.remove(key);
                if pending.is_empty() {
                    self.waiting.remove(&dependent);
                    self.ready.insert(dependent.clone());
                    newly.push(dependent);
                }
            }
        }
        newly
    }

    /// Drops `key` and everything that (transitively) waits for it; returns what was dropped.
    pub fn abandon(&mut self, key: &Address) -> Vec<Address> {
        self.settle();
        self.queued.remove(key);
        let mut dropped = Vec::new();
        let mut stack = vec![key.clone()];
        while let Some(failed) = stack.pop() {
            for dependent in self.dependents.remove(&failed).unwrap_or_default() {
                if self.waiting.remove(&dependent).is_some() {
                    self.queued.remove(&dependent);
                    dropped.push(dependent.clone());
                    stack.push(dependent);
                }
            }
        }
        dropped
    }

    pub fn is_empty(&mut self) -> bool {
        self.settle();
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
    fn an_item_waits_for_all_its_dependencies() {
        let mut queue = DependencyQueue::new();
        queue.queue(a("x.c"), [a("x.a"), a("x.b")]);
        queue.queue(a("x.a"), []);
        queue.queue(a("x.b"), []);
        assert_eq!(queue.dequeue(), Some(a("x.a")));
        assert_eq!(queue.dequeue(), Some(a("x.b")));
        assert!(queue.finish(&a("x.a")).is_empty());
        assert_eq!(queue.finish(&a("x.b")), vec![a("x.c")]);
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
