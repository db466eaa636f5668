//! Team state on S3 (issue 10): two working folders are two machines sharing one stack name and
//! one `[state] s3 = …`. Concurrent applies, a holder killed mid-apply, `force-unlock`, a foreign
//! write between two of an apply's writes, history, migration and encryption. After each: no lost
//! update, no duplicate resource, the state parses, one more plan is empty. The faults injected
//! through the proxy are in `team_state_faults`.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::support::{block_on, s3, Project};

/// `[s3_bucket.b0]` … `[s3_bucket.b{n-1}]`.
pub fn buckets(n: usize) -> String {
    (0..n).map(|i| format!("[s3_bucket.b{i}]\n")).collect()
}

/// Two machines of one team, and the bucket their state lives in.
pub struct Team {
    pub bucket: String,
    pub a: Project,
    pub b: Project,
}

impl Team {
    /// A stack of `resources` whose state is `s3://<stack>-state/<stack>/prod.json` (`state_extra`
    /// adds lines to `[state]`), in a bucket made here (with versioning when `versioned`).
    pub fn new(prefix: &str, resources: &str, state_extra: &str, versioned: bool) -> Team {
        let stack = format!(
            "[stack]\nname = \"{{name}}\"\n\n[state]\ns3 = \"s3://{{name}}-state/{{name}}/prod.json\"\n{state_extra}\n\n{resources}"
        );
        let a = Project::new(prefix, &stack).with_emulator();
        let bucket = format!("{}-state", a.stack_name);
        make_bucket(&bucket, versioned);
        let b = a.second_machine();
        Team { bucket, a, b }
    }

    pub fn key(&self) -> String {
        format!("{}/prod.json", self.a.stack_name)
    }

    /// The state as stored in the bucket; panics unless it parses.
    pub fn stored(&self) -> serde_json::Value {
        let text = self.object(&self.key()).expect("the state object exists");
        serde_json::from_str(&text).expect("the stored state parses")
    }

    pub fn object(&self, key: &str) -> Option<String> {
        block_on(async {
            let answer = s3().get_object().bucket(&self.bucket).key(key).send().await.ok()?;
            let bytes = answer.body.collect().await.ok()?.into_bytes();
            Some(String::from_utf8_lossy(&bytes).into_owned())
        })
    }

    /// The lock object, if one is there.
    pub fn lock(&self) -> Option<serde_json::Value> {
        self.object(&format!("{}.lock", self.key())).map(|text| serde_json::from_str(&text).expect("lock is JSON"))
    }

    /// The stack's buckets (`<stack>-b…`) that exist in the emulator.
    pub fn buckets_made(&self) -> Vec<String> {
        let prefix = format!("{}-b", self.a.stack_name);
        block_on(async {
            let answer = s3().list_buckets().send().await.expect("ListBuckets");
            answer
                .buckets()
                .iter()
                .filter_map(|b| b.name())
                .filter(|n| n.starts_with(&prefix))
                .map(str::to_string)
                .collect()
        })
    }

    /// After a scenario: the state parses and records exactly the `expected` buckets, each made
    /// once and all of them there; no lock is left; one more plan is empty.
    #[track_caller]
    pub fn settled(&self, project: &Project, expected: usize) {
        let state = self.stored();
        let resources = state["resources"].as_object().expect("resources");
        assert_eq!(resources.len(), expected, "every resource recorded: {state:#}");
        assert!(resources.values().all(|r| r.get("status").is_none()), "nothing left half-made: {state:#}");
        let mut made = self.buckets_made();
        made.sort();
        made.dedup();
        assert_eq!(made.len(), expected, "each bucket made once, none missing: {made:?}");
        assert!(self.lock().is_none(), "no lock left behind: {:?}", self.lock());
        project.run(&["plan", "--detailed-exitcode"]).code(0).stdout_has("No changes");
    }
}

pub fn make_bucket(bucket: &str, versioned: bool) {
    block_on(async {
        s3().create_bucket().bucket(bucket).send().await.expect("CreateBucket");
        if versioned {
            let enabled = aws_sdk_s3::types::VersioningConfiguration::builder()
                .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                .build();
            s3().put_bucket_versioning()
                .bucket(bucket)
                .versioning_configuration(enabled)
                .send()
                .await
                .expect("versioning");
        }
    });
}

/// A run of the binary in the background, its stderr watched line by line.
pub struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
    stdout: std::thread::JoinHandle<String>,
    pub stderr: String,
}

impl Running {
    pub fn start(project: &Project, args: &[&str], env: &[(&str, &str)]) -> Running {
        let mut command = project.command(args);
        command.envs(env.iter().copied()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = command.spawn().expect("start provision");
        let stderr = child.stderr.take().expect("stderr");
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        let mut out = child.stdout.take().expect("stdout");
        let stdout = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = out.read_to_string(&mut text);
            text
        });
        Running { child, lines, stdout, stderr: String::new() }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits (up to a minute) for a stderr line containing `text`.
    #[track_caller]
    pub fn wait_for(&mut self, text: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while let Ok(line) = self.lines.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            self.stderr.push_str(&line);
            self.stderr.push('\n');
            if line.contains(text) {
                return;
            }
        }
        panic!("no line with {text:?} appeared\n--- stderr\n{}", self.stderr);
    }

    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().expect("try_wait").is_none()
    }

    /// `kill -9`: no chance to release anything.
    pub fn kill(mut self) {
        self.child.kill().expect("kill -9");
        let _ = self.child.wait();
    }

    /// Waits for the end: exit code, stdout, all of stderr.
    pub fn finish(mut self) -> (i32, String, String) {
        let status = self.child.wait().expect("wait");
        for line in self.lines.iter() {
            self.stderr.push_str(&line);
            self.stderr.push('\n');
        }
        let stdout = self.stdout.join().unwrap_or_default();
        (status.code().unwrap_or(-1), stdout, self.stderr)
    }
}

/// The lock id in a "locked" error: ``(lock id `…`)``.
pub fn lock_id_in(stderr: &str) -> String {
    let start = stderr.find("lock id `").expect("the error names the lock id") + "lock id `".len();
    stderr[start..].split('`').next().unwrap_or_default().to_string()
}

#[test]
fn every_command_reads_and_writes_the_bucket_and_nothing_is_written_locally() {
    let team = Team::new("tstate", &buckets(2), "", true);
    let a = &team.a;
    a.run(&["apply", "--auto-approve"]).success().stdout_has("Apply complete! 2 added");
    assert!(!a.path("state").exists(), "no local state folder");
    assert_eq!(std::fs::read_dir(a.dir.path()).unwrap().count(), 1, "only the stack file in the folder");
    team.b.run(&["plan", "--detailed-exitcode"]).code(0).stdout_has("No changes");
    team.b.run(&["state", "list"]).success().stdout_has("s3_bucket.b0");
    team.b.run(&["state", "rm", "s3_bucket.b1"]).success();
    a.run(&["import", "s3_bucket.b1", &format!("{}-b1", a.stack_name)]).success();

    // The history comes from the bucket's versions, newest first, one line each.
    let history = a.run(&["state", "history"]).success().stdout;
    let serials: Vec<u64> =
        history.lines().map(|l| l.split_whitespace().next().unwrap().parse().expect("a serial first")).collect();
    let current = team.stored()["serial"].as_u64().unwrap();
    assert_eq!(serials.first(), Some(&current), "{history}");
    assert!(serials.windows(2).all(|w| w[0] > w[1]), "newest first: {history}");
    assert!(history.contains("import") && history.contains("state rm") && history.contains("apply"), "{history}");
    let first: serde_json::Value =
        serde_json::from_str(&a.run(&["state", "pull", "--serial", "1"]).success().stdout).unwrap();
    assert_eq!(first["serial"], 1);
    a.run(&["state", "pull", "--serial", "999"]).code(1).stderr_has("no version with serial 999");

    // Encrypted, with who wrote it as metadata; the lock's `who` is user@host, never credentials.
    let head = block_on(s3().head_object().bucket(&team.bucket).key(team.key()).send()).expect("HeadObject");
    assert_eq!(head.server_side_encryption(), Some(&aws_sdk_s3::types::ServerSideEncryption::Aes256));
    assert_eq!(head.metadata().and_then(|m| m.get("provision-serial")), Some(&current.to_string()));
    team.settled(a, 2);
}

#[test]
fn a_second_apply_fails_at_once_naming_the_holder_and_with_lock_timeout_waits_its_turn() {
    let faults = crate::team_state_faults::Faults::start();
    faults.proxy.set_latency(Duration::from_millis(20));
    let mut team = Team::new("tconc", &buckets(16), "", true);
    team.a = team.a.with_endpoint(&faults.proxy.endpoint());
    let mut first = Running::start(&team.a, &["apply", "--auto-approve", "--parallelism", "1"], &[]);
    first.wait_for(": created");

    let started = Instant::now();
    let refused = team.b.run(&["apply", "--auto-approve"]).code(1);
    assert!(started.elapsed() < Duration::from_secs(15), "fails at once, not after waiting");
    for part in ["is locked", "`apply` by ", &format!("(pid {})", first.pid()), "lock id `", "force-unlock"] {
        assert!(refused.stderr.contains(part), "{part:?} in\n{}", refused.stderr);
    }
    assert!(first.is_running(), "the first apply is still going");

    let mut second = Running::start(&team.b, &["-v", "apply", "--auto-approve", "--lock-timeout", "5m"], &[]);
    second.wait_for("waiting");
    let (code, _, stderr) = first.finish();
    assert_eq!(code, 0, "{stderr}");
    let (code, stdout, stderr) = second.finish();
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stdout.contains("No changes"), "the second planned against the first one's result:\n{stdout}");
    team.settled(&team.b, 16);
}

#[test]
fn a_killed_holders_lease_runs_out_and_the_next_run_takes_it_over() {
    let faults = crate::team_state_faults::Faults::start();
    faults.proxy.set_latency(Duration::from_millis(20));
    let mut team = Team::new("tkill", &buckets(16), "lock_ttl = \"30s\"", true);
    team.a = team.a.with_endpoint(&faults.proxy.endpoint());
    let secret = ("AWS_SECRET_ACCESS_KEY", "team-secret-Xy9-never-stored");
    let mut holder = Running::start(
        &team.a,
        &["apply", "--auto-approve", "--parallelism", "1"],
        &[secret, ("AWS_ACCESS_KEY_ID", "AKIATEAMTEST")],
    );
    holder.wait_for(": created");
    holder.kill();

    let lock = team.lock().expect("the killed run's lock is still there");
    let lock_text = lock.to_string();
    assert!(lock["who"].as_str().is_some_and(|who| who.contains('@')), "{lock_text}");
    assert!(!lock_text.contains(secret.1) && !lock_text.contains("AKIATEAMTEST"), "no credentials: {lock_text}");
    assert!(lock["expires"].is_string() && lock["operation"] == "apply", "{lock_text}");

    team.b.run(&["apply", "--auto-approve"]).code(1).stderr_has("is locked");
    let taken = team.b.run(&["apply", "--auto-approve", "--lock-timeout", "60s"]).success();
    assert!(taken.stderr.contains("taking over the state lock"), "{}", taken.stderr);
    team.settled(&team.b, 16);
}

#[test]
fn force_unlock_frees_a_dead_holders_lock_at_once() {
    let faults = crate::team_state_faults::Faults::start();
    faults.proxy.set_latency(Duration::from_millis(20));
    let mut team = Team::new("tforce", &buckets(12), "", true);
    team.a = team.a.with_endpoint(&faults.proxy.endpoint());
    let mut holder = Running::start(&team.a, &["apply", "--auto-approve", "--parallelism", "1"], &[]);
    holder.wait_for(": created");
    holder.kill();

    let refused = team.b.run(&["apply", "--auto-approve"]).code(1);
    let id = lock_id_in(&refused.stderr);
    team.b.run(&["force-unlock", "not-the-id"]).code(1).stderr_has(&format!("has id `{id}`"));
    team.b.run(&["force-unlock", &id]).success().stdout_has(&format!("Removed the lock `{id}`"));
    team.b.run(&["apply", "--auto-approve"]).success();
    team.settled(&team.b, 12);
}

#[test]
fn a_foreign_write_between_two_writes_is_refused_and_this_runs_view_kept_aside() {
    let faults = crate::team_state_faults::Faults::start();
    faults.proxy.set_latency(Duration::from_millis(20));
    let mut team = Team::new("tforeign", &buckets(16), "", true);
    team.a = team.a.with_endpoint(&faults.proxy.endpoint());
    let mut run = Running::start(&team.a, &["apply", "--auto-approve", "--parallelism", "1"], &[]);
    run.wait_for(": created");

    // Someone writes the state behind the running apply's back (no lock, no condition).
    let mut theirs = team.stored();
    // Well ahead of this run's serial: the run may write once more between this read and the put
    // below, and that write is overwritten (as a foreign write does).
    theirs["serial"] = serde_json::json!(theirs["serial"].as_u64().unwrap() + 100);
    theirs["written_by"] =
        serde_json::json!({"who": "intruder@elsewhere", "operation": "by hand", "time": "2026-12-01T00:00:00Z"});
    let body = serde_json::to_vec_pretty(&theirs).unwrap();
    block_on(s3().put_object().bucket(&team.bucket).key(team.key()).body(body.into()).send()).expect("PutObject");

    let (code, _, stderr) = run.finish();
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("changed by someone else") && stderr.contains("intruder@elsewhere"), "{stderr}");
    let errored = team.a.path(&format!("{}.errored.json", team.a.stack_name));
    assert!(stderr.contains("state push --force"), "says how to reconcile: {stderr}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&errored).expect("errored state kept").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    // Not overwritten; and the run started nothing after the refused write.
    assert_eq!(team.stored()["written_by"]["who"], "intruder@elsewhere");
    let kept: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&errored).unwrap()).unwrap();
    let kept_ids: Vec<&str> =
        kept["resources"].as_object().unwrap().values().filter_map(|r| r["id"].as_str()).collect();
    let made = team.buckets_made();
    assert!(made.iter().all(|bucket| kept_ids.contains(&bucket.as_str())), "all it made is in the kept view: {kept:#}");
    let made = made.len();
    assert!(made < 16, "it stopped: {made}");

    // Reconciling as the message says: record this run's view, then finish.
    let name = format!("{}.errored.json", team.a.stack_name);
    team.a.run(&["state", "push", &name]).code(1).stderr_has("--force");
    team.a.run(&["state", "push", "--force", &name]).success();
    team.a.run(&["apply", "--auto-approve"]).success();
    team.settled(&team.b, 16);
}

#[test]
fn a_bucket_without_versioning_gets_a_warning_naming_the_fix_and_a_missing_bucket_says_how_to_make_one() {
    let team = Team::new("tnover", &buckets(1), "", false);
    let applied = team.a.run(&["apply", "--auto-approve"]).success();
    assert!(
        applied.stderr.contains("versioning off") && applied.stderr.contains("put-bucket-versioning"),
        "{}",
        applied.stderr
    );
    assert_eq!(applied.stderr.matches("versioning off").count(), 1, "printed once");
    team.settled(&team.a, 1);

    let missing =
        Project::new("tnobucket", "[stack]\nname = \"{name}\"\n[state]\ns3 = \"s3://{name}-none/prod.json\"\n")
            .with_emulator();
    let run = missing.run(&["plan"]).code(1);
    assert!(run.stderr.contains("does not exist") && run.stderr.contains("--create-bucket"), "{}", run.stderr);
}

#[test]
fn an_error_after_the_lock_is_taken_releases_it_at_once() {
    let team = Team::new("trelease", &buckets(1), "", true);
    // The key holds another stack's state: apply takes the lock, reads, and refuses.
    let foreign = serde_json::json!({"version": 1, "lineage": "l", "serial": 3, "stack": "another-stack"});
    let body = serde_json::to_vec(&foreign).unwrap();
    block_on(s3().put_object().bucket(&team.bucket).key(team.key()).body(body.into()).send()).expect("PutObject");
    team.a.run(&["apply", "--auto-approve"]).code(1).stderr_has("belongs to stack `another-stack`");
    assert!(team.lock().is_none(), "not left to run out: {:?}", team.lock());
}

#[test]
fn migrate_moves_a_local_state_to_s3_and_back_and_plan_shows_no_changes() {
    let project = Project::new("tmigr", &format!("[stack]\nname = \"{{name}}\"\n\n{}", buckets(2))).with_emulator();
    project.run(&["apply", "--auto-approve"]).success();
    let bucket = format!("{}-mig", project.stack_name);
    let url = format!("s3://{bucket}/{}.json", project.stack_name);

    project.run(&["state", "migrate", "--to", &url]).code(1).stderr_has("--create-bucket");
    let moved = project.run(&["state", "migrate", "--to", &url, "--create-bucket"]).success();
    assert!(moved.stdout.contains("the copy is identical"), "{}", moved.stdout);
    assert!(moved.stdout.contains(&format!("s3 = \"{url}\"")), "prints the [state] edit: {}", moved.stdout);
    block_on(async {
        let versioning = s3().get_bucket_versioning().bucket(&bucket).send().await.expect("versioning");
        assert_eq!(versioning.status(), Some(&aws_sdk_s3::types::BucketVersioningStatus::Enabled));
        let block = s3().get_public_access_block().bucket(&bucket).send().await.expect("public access block");
        let block = block.public_access_block_configuration().expect("configured");
        assert_eq!(block.block_public_acls(), Some(true));
        assert_eq!(block.restrict_public_buckets(), Some(true));
        let encryption = s3().get_bucket_encryption().bucket(&bucket).send().await.expect("encryption");
        assert!(encryption.server_side_encryption_configuration().is_some());
    });
    let local = project.state();

    // The stack file edited as printed: plan sees the same state there.
    let stack = std::fs::read_to_string(project.path("stack.toml")).unwrap();
    project.write("stack.toml", &format!("{stack}\n[state]\ns3 = \"{url}\"\n"));
    project.run(&["plan", "--detailed-exitcode"]).code(0).stdout_has("No changes");
    let history = project.run(&["state", "history"]).success().stdout;
    assert!(history.starts_with(&local["serial"].to_string()) && history.contains("state migrate"), "{history}");

    // Another state with resources at the destination is never overwritten.
    let other = Project::new("tmigo", &format!("[stack]\nname = \"{{name}}\"\n\n{}", buckets(1))).with_emulator();
    other.run(&["apply", "--auto-approve"]).success();
    let mut other_stack = std::fs::read_to_string(other.path("stack.toml")).unwrap();
    other_stack.push_str(&format!("\n[state]\npath = \"state/{}.json\"\n", other.stack_name));
    other.write("stack.toml", &other_stack);
    other.run(&["state", "migrate", "--to", &url]).code(1).stderr_has("already holds another state").stderr_has(&url);

    // And back to a file.
    project.run(&["state", "migrate", "--to", "state/back.json"]).success().stdout_has("path = \"state/back.json\"");
    project.write("stack.toml", &format!("{stack}\n[state]\npath = \"state/back.json\"\n"));
    project.run(&["plan", "--detailed-exitcode"]).code(0).stdout_has("No changes");
    let back: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(project.path("state/back.json")).unwrap()).unwrap();
    assert_eq!((&back["lineage"], &back["resources"]), (&local["lineage"], &local["resources"]));
}

#[test]
fn a_kms_key_encrypts_the_state_and_no_secret_is_in_it_in_clear() {
    let resources = r#"
[db_subnet_group.main]

[db_instance.main]
engine = "mysql"
engine_version = "8.0"
db_name = "app"
username = "app"
password = { env = "PROVISION_TEST_DB_PASSWORD" }
subnet_group = "${db_subnet_group.main.name}"
skip_final_snapshot = true
"#;
    let team = Team::new("tkms", resources, "kms_key = \"alias/provision-test-state\"", true);
    let password = "team-Secret-pw-31337";
    team.a.run_with_env(&["apply", "--auto-approve"], &[("PROVISION_TEST_DB_PASSWORD", password)]).success();
    let head = block_on(s3().head_object().bucket(&team.bucket).key(team.key()).send()).expect("HeadObject");
    assert_eq!(head.server_side_encryption(), Some(&aws_sdk_s3::types::ServerSideEncryption::AwsKms));
    assert_eq!(head.ssekms_key_id(), Some("alias/provision-test-state"));
    let text = team.object(&team.key()).unwrap();
    assert!(!text.contains(password), "the password is only hashed");
    team.b
        .run_with_env(&["plan", "--detailed-exitcode"], &[("PROVISION_TEST_DB_PASSWORD", password)])
        .code(0)
        .stdout_has("No changes");
    team.a.run_with_env(&["destroy", "--auto-approve"], &[("PROVISION_TEST_DB_PASSWORD", password)]).success();
}
