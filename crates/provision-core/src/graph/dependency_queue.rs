//! A queue of work items that become ready once everything they depend on has finished.
//!
//! Modelled on cargo's `DependencyQueue`: `queue(key, deps)`, `dequeue()`, `finish(key)` → newly
//! ready. Reverse edges are kept so finishing an item costs only its own dependents, which keeps a
//! walk over thousands of resources linear.
//!
//! When more items are ready than may run, the one on the longest remaining path goes first
//! (critical-path scheduling, as cargo orders its ready units by what waits behind them): each item
//! weighs what it is expected to take ([`DependencyQueue::queue_weighted`]), and its priority is
//! its own weight plus the heaviest chain of items waiting for it. So a database that takes minutes
//! and has a service behind it starts before a dozen buckets that take a round trip each, and the
//! long waits overlap instead of queueing behind quick work. Items of equal priority go in address
//! order, as they did before weights existed.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::address::Address;

#[derive(Debug, Default)]
pub struct DependencyQueue {
    /// Items not yet ready, with the queued dependencies they still wait for.
    waiting: BTreeMap<Address, BTreeSet<Address>>,
    /// For each item, the items that wait for it.
    dependents: BTreeMap<Address, Vec<Address>>,
    /// Dependencies as given, until readiness is first worked out.
    declared: Vec<(Address, Vec<Address>)>,
    /// What each item is expected to take.
    weights: BTreeMap<Address, Duration>,
    /// Each item's weight plus the heaviest chain of items waiting for it.
    priorities: BTreeMap<Address, Duration>,
    /// Items whose dependencies have all finished: the longest remaining path first, then by address.
    ready: BTreeSet<(Reverse<Duration>, Address)>,
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
        self.queue_weighted(key, dependencies, Duration::ZERO);
    }

    /// [`DependencyQueue::queue`], with what the item is expected to take: only the order in which
    /// ready items are handed out depends on it.
    pub fn queue_weighted(&mut self, key: Address, dependencies: impl IntoIterator<Item = Address>, weight: Duration) {
        self.queued.insert(key.clone());
        self.weights.insert(key.clone(), weight);
        self.declared.push((key, dependencies.into_iter().collect()));
    }

    fn settle(&mut self) {
        if self.declared.is_empty() {
            return;
        }
        let mut ready = Vec::new();
        for (key, dependencies) in std::mem::take(&mut self.declared) {
            let pending: BTreeSet<Address> =
                dependencies.into_iter().filter(|d| self.queued.contains(d) && *d != key).collect();
            for dependency in &pending {
                self.dependents.entry(dependency.clone()).or_default().push(key.clone());
            }
            if pending.is_empty() {
                ready.push(key);
            } else {
                self.waiting.insert(key, pending);
            }
        }
        self.prioritise();
        ready.extend(std::mem::take(&mut self.ready).into_iter().map(|(_, key)| key));
        for key in ready {
            self.make_ready(key);
        }
    }

    /// Works out every queued item's priority: its weight plus the heaviest of its dependents'.
    /// Dependents come before their dependencies in a reverse topological walk, so one pass does.
    fn prioritise(&mut self) {
        // Kahn's order over the queued items (dependencies first), then walked backwards.
        let mut remaining: BTreeMap<&Address, usize> = self.queued.iter().map(|key| (key, 0)).collect();
        for (key, pending) in &self.waiting {
            if let Some(count) = remaining.get_mut(key) {
                *count = pending.len();
            }
        }
        let mut order: Vec<&Address> = remaining.iter().filter(|(_, count)| **count == 0).map(|(k, _)| *k).collect();
        let mut next = 0;
        while next < order.len() {
            let key = order[next];
            next += 1;
            for dependent in self.dependents.get(key).into_iter().flatten() {
                if let Some(count) = remaining.get_mut(dependent) {
                    *count -= 1;
                    if *count == 0 {
                        order.push(dependent);
                    }
                }
            }
        }
        let mut priorities: BTreeMap<Address, Duration> = BTreeMap::new();
        for key in order.into_iter().rev() {
            let behind = self
                .dependents
                .get(key)
                .into_iter()
                .flatten()
                .filter_map(|dependent| priorities.get(dependent))
                .max()
                .copied()
                .unwrap_or_default();
            let own = self.weights.get(key).copied().unwrap_or_default();
            priorities.insert(key.clone(), own + behind);
        }
        self.priorities = priorities;
    }

    fn make_ready(&mut self, key: Address) {
        let priority = self.priorities.get(&key).copied().unwrap_or_default();
        self.ready.insert((Reverse(priority), key));
    }

    /// The next item whose dependencies have all finished: of those, the one with the longest path
    /// of expected work still behind it.
    pub fn dequeue(&mut self) -> Option<Address> {
        self.settle();
        self.ready.pop_first().map(|(_, key)| key)
    }

    /// The item's weight plus the heaviest chain of queued items waiting for it.
    pub fn priority(&mut self, key: &Address) -> Duration {
        self.settle();
        self.priorities.get(key).copied().unwrap_or_default()
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
                    self.make_ready(dependent.clone());
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

    fn minutes(n: u64) -> Duration {
        Duration::from_secs(n * 60)
    }

    #[test]
    fn the_longest_remaining_path_goes_first() {
        // A quick group in front of a slow database and the service behind it, beside quick buckets
        // that sort first by address: the group goes first, because seven minutes wait behind it.
        let mut queue = DependencyQueue::new();
        queue.queue_weighted(a("bucket.a"), [], Duration::ZERO);
        queue.queue_weighted(a("bucket.b"), [], Duration::ZERO);
        queue.queue_weighted(a("group.db"), [], Duration::from_secs(10));
        queue.queue_weighted(a("database.main"), [a("group.db")], minutes(5));
        queue.queue_weighted(a("service.api"), [a("database.main")], minutes(2));
        queue.queue_weighted(a("distribution.cdn"), [a("bucket.b")], minutes(5));
        assert_eq!(queue.priority(&a("group.db")), minutes(7) + Duration::from_secs(10));
        assert_eq!(queue.priority(&a("bucket.b")), minutes(5));
        assert_eq!(queue.priority(&a("bucket.a")), Duration::ZERO);
        assert_eq!(queue.dequeue(), Some(a("group.db")));
        assert_eq!(queue.dequeue(), Some(a("bucket.b")));
        assert_eq!(queue.dequeue(), Some(a("bucket.a")));
        assert_eq!(queue.finish(&a("group.db")), vec![a("database.main")]);
        assert_eq!(queue.finish(&a("bucket.b")), vec![a("distribution.cdn")]);
        // Both ready now: the database has the service behind it.
        assert_eq!(queue.dequeue(), Some(a("database.main")));
        assert_eq!(queue.dequeue(), Some(a("distribution.cdn")));
    }

    #[test]
    fn the_heaviest_dependent_chain_counts_not_the_sum_of_them() {
        let mut queue = DependencyQueue::new();
        queue.queue_weighted(a("x.root"), [], minutes(1));
        queue.queue_weighted(a("x.short1"), [a("x.root")], minutes(2));
        queue.queue_weighted(a("x.short2"), [a("x.root")], minutes(2));
        queue.queue_weighted(a("x.long"), [a("x.root")], minutes(3));
        queue.queue_weighted(a("x.tail"), [a("x.short1"), a("x.long")], minutes(1));
        assert_eq!(queue.priority(&a("x.root")), minutes(5), "root, long, tail");
        assert_eq!(queue.priority(&a("x.short2")), minutes(2));
    }

    #[test]
    fn without_weights_ready_items_go_in_address_order() {
        let mut queue = DependencyQueue::new();
        for name in ["x.c", "x.a", "x.b"] {
            queue.queue(a(name), []);
        }
        let order: Vec<Address> = std::iter::from_fn(|| queue.dequeue()).collect();
        assert_eq!(order, vec![a("x.a"), a("x.b"), a("x.c")]);
    }
}
