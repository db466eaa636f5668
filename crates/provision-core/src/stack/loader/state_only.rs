//! Loading for the commands that need only the state: `destroy`, `drift`, `output`, `state …`.
//!
//! They read `[stack]` (the name, region and endpoint), `[variables]` (which those and `[state]`
//! may use), `[state]` and `[notify]` (a destroy's notifications); resources, outputs, `[network]`
//! and `[[moved]]` are not read at all. So a preview environment whose image tag was never pushed,
//! whose file refers to something since removed, or whose resource sections no longer load can
//! still be torn down: what to delete, and how, is in the state.

use super::sections::Header;
use super::*;
use crate::graph::DependencyGraph;

/// The sections a state-only load reads (and checks); the others are neither read nor checked.
pub(super) const STATE_ONLY_SECTIONS: &[&str] = &["stack", "variables", "state", "notify"];

impl Loader<'_> {
    /// The stack with only its header, variables, state location and notifications.
    pub(super) fn state_only_stack(
        &mut self,
        root: &DeTable<'_>,
        sections: &Sections,
        header: Header,
        state: StateLocation,
        variables: BTreeMap<String, Value>,
    ) -> Stack {
        let notify = sections.get("notify").and_then(|section| self.notify(section));
        // What a delete may destroy besides the resource comes from the file, even here.
        let deletion_settings = super::sensitive::deletion_settings(self.drivers, root, &variables);
        Stack {
            path: self.file.to_path_buf(),
            source: self.source.to_string(),
            name: header.name,
            region: header.region,
            endpoint: header.endpoint,
            tags: header.tags,
            state,
            variables,
            sensitive_variables: std::mem::take(&mut self.sensitive),
            deletion_settings,
            network: NetworkSpec { vpc: "default".into(), subnets: None, own: None },
            outputs: Vec::new(),
            resources: BTreeMap::new(),
            graph: DependencyGraph::default(),
            moved: Vec::new(),
            uses_network: false,
            warnings: Vec::new(),
            notify,
            guardrails: Vec::new(),
            state_only: true,
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::driver::DriverRegistry;
    use crate::stack::{load, LoadOptions};

    #[test]
    fn the_sections_a_state_only_load_does_not_read_are_not_checked_either() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("stack.toml");
        let text = "[stack]\nname = \"shop\"\n[network]\nsubnet = [\"a\"]\n[outputs]\nwhen = 2024-01-01\n";
        std::fs::write(&path, text).expect("write");
        let drivers = DriverRegistry::new(Vec::new());
        let options = LoadOptions { state_only: true, ..LoadOptions::default() };
        let stack = load(&path, &options, &drivers).expect("a state-only load reads only what it needs");
        assert_eq!(stack.name, "shop");
        assert!(load(&path, &LoadOptions::default(), &drivers).is_err(), "a full load checks every section");
    }
}
