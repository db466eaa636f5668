//! The dependency graph between resources, and the work queue that walks it.
//!
//! One graph serves every command: `apply` walks it dependencies-first, `destroy` walks the reverse,
//! `graph` prints it. Edges come from `${TYPE.NAME.…}` references and `depends_on`.

mod dependency_queue;

use std::collections::{BTreeMap, BTreeSet};

pub use dependency_queue::DependencyQueue;

use crate::address::Address;

#[derive(Clone, Debug, Default)]
pub struct DependencyGraph {
    /// Each node and the nodes it depends on.
    dependencies: BTreeMap<Address, BTreeSet<Address>>,
}

impl DependencyGraph {
    pub fn add_node(&mut self, node: Address) {
        self.dependencies.entry(node).or_default();
    }

    /// `from` depends on `to`.
    pub fn add_edge(&mut self, from: Address, to: Address) {
        self.add_node(to.clone());
        self.dependencies.entry(from).or_default().insert(to);
    }

    pub fn nodes(&self) -> impl Iterator<Item = &Address> {
        self.dependencies.keys()
    }

    pub fn dependencies(&self, node: &Address) -> impl Iterator<Item = &Address> {
        self.dependencies.get(node).into_iter().flatten()
    }

    pub fn dependents<'a>(&'a self, node: &'a Address) -> impl Iterator<Item = &'a Address> + 'a {
        self.dependencies.iter().filter(move |(_, deps)| deps.contains(node)).map(|(n, _)| n)
    }

    /// Nodes in an order where every node comes after its dependencies.
    pub fn topological_order(&self) -> Vec<Address> {
        let mut queue = DependencyQueue::new();
        for (node, deps) in &self.dependencies {
            queue.queue(node.clone(), deps.iter().cloned());
        }
        let mut order = Vec::new();
        while let Some(node) = queue.dequeue() {
            queue.finish(&node);
            order.push(node);
        }
        order
    }

    /// A cycle as a path that starts and ends at the same node, if there is one.
    pub fn find_cycle(&self) -> Option<Vec<Address>> {
        #[derive(Clone, Copy, PartialEq)]
        enum Mark {
            Visiting,
            Done,
        }
        fn visit(
            graph: &DependencyGraph,
            node: &Address,
            marks: &mut BTreeMap<Address, Mark>,
            path: &mut Vec<Address>,
        ) -> Option<Vec<Address>> {
            match marks.get(node) {
                Some(Mark::Done) => return None,
                Some(Mark::Visiting) => {
                    let start = path.iter().position(|n| n == node).unwrap_or(0);
                    let mut cycle = path[start..].to_vec();
                    cycle.push(node.clone());
                    return Some(cycle);
                }
                None => {}
            }
            marks.insert(node.clone(), Mark::Visiting);
            path.push(node.clone());
            for dependency in graph.dependencies(node) {
                if let Some(cycle) = visit(graph, dependency, marks, path) {
                    return Some(cycle);
                }
            }
            path.pop();
            marks.insert(node.clone(), Mark::Done);
            None
        }
        let mut marks = BTreeMap::new();
        for node in self.dependencies.keys() {
            if let Some(cycle) = visit(self, node, &mut marks, &mut Vec::new()) {
                return Some(cycle);
            }
        }
        None
    }

    /// Graphviz DOT: an arrow from each resource to what it depends on.
    pub fn to_dot(&self) -> String {
        let mut dot = String::from("digraph provision {\n  rankdir = \"RL\";\n  node [shape = box];\n");
        for node in self.dependencies.keys() {
            dot.push_str(&format!("  \"{node}\";\n"));
        }
        for (node, deps) in &self.dependencies {
            for dependency in deps {
                dot.push_str(&format!("  \"{node}\" -> \"{dependency}\";\n"));
            }
        }
        dot.push_str("}\n");
        dot
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(text: &str) -> Address {
        text.parse().unwrap()
    }

    #[test]
    fn order_puts_dependencies_first() {
        let mut graph = DependencyGraph::default();
        graph.add_edge(a("cloudfront_distribution.cdn"), a("s3_bucket.site"));
        graph.add_node(a("s3_bucket.logs"));
        let order = graph.topological_order();
        let position = |n: &str| order.iter().position(|x| *x == a(n)).unwrap();
        assert!(position("s3_bucket.site") < position("cloudfront_distribution.cdn"));
        assert_eq!(order.len(), 3);
    }

    #[test]
    fn cycles_are_reported_as_a_closed_path() {
        let mut graph = DependencyGraph::default();
        graph.add_edge(a("x.a"), a("x.b"));
        graph.add_edge(a("x.b"), a("x.c"));
        graph.add_edge(a("x.c"), a("x.a"));
        let cycle = graph.find_cycle().unwrap();
        assert_eq!(cycle.first(), cycle.last());
        assert_eq!(cycle.len(), 4);
    }

    #[test]
    fn dot_has_one_edge_per_dependency() {
        let mut graph = DependencyGraph::default();
        graph.add_edge(a("x.a"), a("x.b"));
        assert!(graph.to_dot().contains("\"x.a\" -> \"x.b\";"));
    }
}
