//! The GitHub Actions workflow of docs/ci.md, run as written against the emulator: every step that
//! runs provision is taken from the document (so the document cannot drift from what works) and
//! run by bash with the environment GitHub would give it, in the order a pull request's life runs
//! them: plan and preview, merge, close, then the nightly drift report and sweep.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use crate::support::webhook::WebhookReceiver;
use crate::support::{binary, block_on, endpoint, live_tagged_with, logs, s3, unique_stack_name};

/// The `run:` scripts of the document's workflow that run provision, by job, in document order.
fn workflow_steps() -> BTreeMap<String, Vec<(String, String)>> {
    let document =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/ci.md")).expect("docs/ci.md");
    let yaml = document.split("```yaml\n").nth(1).and_then(|rest| rest.split("```").next()).expect("a yaml block");
    let lines: Vec<&str> = yaml.lines().collect();
    let indent = |line: &str| line.len() - line.trim_start().len();
    let mut steps: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    let (mut in_jobs, mut job, mut name) = (false, String::new(), String::new());
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let trimmed = line.trim();
        if line == "jobs:" {
            in_jobs = true;
        } else if in_jobs && indent(line) == 2 && trimmed.ends_with(':') {
            job = trimmed.trim_end_matches(':').to_string();
        } else if let Some(step) = trimmed.strip_prefix("- name: ") {
            name = step.to_string();
        } else if trimmed == "run: |" {
            let body_indent = lines.get(i + 1).map(|l| indent(l)).unwrap_or(0);
            let mut script = String::new();
            while i + 1 < lines.len() && (lines[i + 1].trim().is_empty() || indent(lines[i + 1]) >= body_indent) {
                i += 1;
                script.push_str(lines[i].get(body_indent..).unwrap_or(""));
                script.push('\n');
            }
            if script.contains("provision -f") {
                steps.entry(job.clone()).or_default().push((name.clone(), script));
            }
        }
        i += 1;
    }
    steps
}

struct Workflow {
    dir: tempfile::TempDir,
    bin: tempfile::TempDir,
    env: Vec<(String, String)>,
    steps: BTreeMap<String, Vec<(String, String)>>,
}

impl Workflow {
    /// Runs the job's step as GitHub would (bash -e, the job's environment); returns its output.
    fn step(&self, job: &str, name: &str) -> (i32, String, String) {
        let script = self.steps[job].iter().find(|(n, _)| n == name).map(|(_, s)| s.clone());
        let script = script.unwrap_or_else(|| panic!("docs/ci.md has no step `{name}` in job `{job}`"));
        let path = format!("{}:{}", self.bin.path().display(), std::env::var("PATH").unwrap_or_default());
        let output = Command::new("bash")
            .args(["--noprofile", "--norc", "-eo", "pipefail", "-c", &script])
            .current_dir(self.dir.path())
            .env("PATH", path)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env_remove("AWS_PROFILE")
            .env_remove("PROVISION_LOG")
            .output()
            .expect("run bash");
        let (stdout, stderr) = (
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        );
        (output.status.code().unwrap_or(-1), stdout, stderr)
    }

    #[track_caller]
    fn step_succeeds(&self, job: &str, name: &str) -> String {
        let (code, stdout, stderr) = self.step(job, name);
        assert_eq!(code, 0, "{job} / {name} failed\n--- stdout\n{stdout}\n--- stderr\n{stderr}");
        stdout
    }
}

#[test]
fn the_documented_workflow_runs_a_pull_request_from_plan_to_sweep() {
    let steps = workflow_steps();
    assert_eq!(steps.keys().collect::<Vec<_>>(), vec!["apply", "close", "nightly", "plan"]);

    let prefix = unique_stack_name("ci");
    let bucket = format!("{prefix}-state");
    block_on(async { s3().create_bucket().bucket(&bucket).send().await.expect("state bucket") });
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("stack.toml"),
        format!(
            r#"[stack]
name = "{prefix}-${{var.env}}"

[variables]
env = "prod"

[state]
s3 = "s3://{bucket}/shop/${{stack.name}}.json"

[notify]
webhook = {{ env = "DEPLOY_WEBHOOK_URL", optional = true }}
format = "slack"

[log_group.app]
retention_days = 7

[security_group.web]
description = "Public HTTPS"
ingress = [{{ port = 443, cidr = "0.0.0.0/0" }}]
"#
        ),
    )
    .expect("stack file");
    let bin = tempfile::tempdir().expect("bin dir");
    std::os::unix::fs::symlink(binary(), bin.path().join("provision")).expect("provision on the PATH");
    let webhook = WebhookReceiver::start(200);
    let github_output = dir.path().join("github_output");
    let env: Vec<(String, String)> = [
        ("PROVISION_STACK", "stack.toml".to_string()),
        ("PREVIEW_PREFIX", format!("{prefix}-pr-")),
        ("AWS_REGION", "us-east-1".into()),
        ("NO_COLOR", "1".into()),
        ("PR", "42".into()),
        ("DEPLOY_WEBHOOK_URL", webhook.url("/hook")),
        ("GITHUB_OUTPUT", github_output.display().to_string()),
        ("AWS_ENDPOINT_URL", endpoint().to_string()),
        ("AWS_ACCESS_KEY_ID", "test".into()),
        ("AWS_SECRET_ACCESS_KEY", "test".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let workflow = Workflow { dir, bin, env, steps };

    // A pull request: the plan of production as a comment, then its preview environment.
    workflow.step_succeeds("plan", "Plan production");
    let comment = std::fs::read_to_string(workflow.dir.path().join("plan.md")).expect("plan.md");
    assert!(comment.starts_with(&format!("<!-- provision plan: {prefix}-prod -->")), "{comment}");
    assert!(comment.contains("2 to add, 0 to change, 0 to replace, 0 to destroy"), "{comment}");
    assert!(comment.contains("<details>"), "{comment}");
    assert_eq!(std::fs::read_to_string(&github_output).expect("step output").trim(), "status=0");
    workflow.step_succeeds("plan", "Apply the preview environment");
    assert!(!live_tagged_with(&format!("{prefix}-pr-42")).is_empty());

    // The merge applies production; the close destroys the preview.
    workflow.step_succeeds("apply", "Apply production");
    workflow.step_succeeds("close", "Destroy the preview environment");
    assert_eq!(live_tagged_with(&format!("{prefix}-pr-42")), Vec::<String>::new());

    // Someone changes production by hand; the nightly run reports it to the webhook, and the
    // sweep finds no expired preview (this one was destroyed on close).
    block_on(async {
        logs()
            .put_retention_policy()
            .log_group_name(format!("/provision/{prefix}-prod/app"))
            .retention_in_days(14)
            .send()
            .await
            .expect("change the retention by hand")
    });
    let drift = workflow.step_succeeds("nightly", "Drift");
    assert!(drift.contains("retention_days: 7 -> 14"), "{drift}");
    let posted: Vec<String> =
        webhook.received().iter().filter_map(|r| r.body["text"].as_str().map(str::to_string)).collect();
    assert!(
        posted.iter().any(|text| text.starts_with("provision drift: changes made outside provision")
            && text.contains("log_group.app")),
        "{posted:?}"
    );
    let sweep = workflow.step_succeeds("nightly", "Sweep expired previews");
    assert!(sweep.contains("No expired preview environments"), "{sweep}");

    let done = crate::support::run_binary(
        workflow.dir.path(),
        Some(endpoint()),
        &["-f", "stack.toml", "destroy", "--auto-approve"],
        &[],
    );
    assert_eq!(done.code, 0, "{}", done.stderr);
}
