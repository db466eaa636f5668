//! Every stack in `stacks/` validates and plans against the emulator, so none of them rots.

use crate::support::{run_binary, Project};

fn stack_files() -> Vec<std::path::PathBuf> {
    let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("stacks");
    let mut files: Vec<_> = std::fs::read_dir(&folder)
        .expect("stacks folder")
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_example_stack_validates_and_plans() {
    let files = stack_files();
    assert!(files.len() >= 6, "one stack per system we deploy: {files:?}");
    let project = Project::new("stacks", "").with_emulator();
    let secrets =
        [("FLASK_DB_PASSWORD", "example-only-Secret-9"), ("STARWARS_REDIS_AUTH_TOKEN", "example-only-Redis-token-9")];
    for file in files {
        let path = file.display().to_string();
        let validate = run_binary(project.dir.path(), None, &["-f", &path, "validate"], &[]);
        assert_eq!(validate.code, 0, "{path} does not validate:\n{}", validate.stderr);
        let plan = run_binary(project.dir.path(), Some(crate::support::endpoint()), &["-f", &path, "plan"], &secrets);
        assert_eq!(plan.code, 0, "{path} does not plan:\n{}\n{}", plan.stdout, plan.stderr);
        assert!(plan.stdout.contains("to add, 0 to change, 0 to replace, 0 to destroy."), "{path}:\n{}", plan.stdout);
        assert!(!plan.stdout.contains("example-only-Secret-9"));
        assert!(!plan.stdout.contains("example-only-Redis-token-9"));
    }
}
