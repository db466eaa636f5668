//! Loading for the commands that need only the state: `destroy`, `drift`, `output`, `state …`.
//!
//! They read `[stack]` (the name, region and endpoint), `[variables]` (which those and `[state]`
//! may use), `[state]` and `[notify]` (a destroy's notifications); resources, outputs, `[network]`
//! and `[[moved]]` are not read at all. So a preview environment whose image tag was never pushed,
//! whose file refers to something since removed, or whose resource sections no longer load can
//! still be torn down: what to delete, and how, is in the state.

use super::*;
use crate::graph::DependencyGraph;

impl Loader<'_> {
    /// The stack with only its header, variables, state location and notifications.
    pub(super) fn state_only_stack(
        &mut self,
        path: &Path,
        source: &str,
        root: &DeTable<'_>,
        header: Header,
        state: StateLocation,
        variables: BTreeMap<String, Value>,
    ) -> Stack {
        let notify =
            root.iter().find(|(key, _)| key.get_ref() == "notify").and_then(|entry| self.notify(path, source, entry));
        Stack {
            path: path.to_path_buf(),
            source: source.to_string(),
            name: header.name,
            region: header.region,
            endpoint: header.endpoint,
            tags: header.tags,
            state,
            variables,
            network: NetworkSpec { vpc: "default".into(), subnets: None },
            outputs: Vec::new(),
            resources: BTreeMap::new(),
            graph: DependencyGraph::default(),
            moved: Vec::new(),
            uses_network: false,
            warnings: Vec::new(),
            notify,
            state_only: true,
        }
    }
}
