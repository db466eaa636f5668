//! Trust boundaries (docs/security.md): a secret is never kept or shown in clear however it arrives;
//! nothing provision did not make is taken over, swept or deleted with more force than the stack file
//! asks; nothing is uploaded from outside its folder; no input panics or hangs; the files provision
//! writes are private and never written through a link; a saved plan applies only as it was made.
//! One test per way each promise was once broken, asserting what a user would notice.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::support::{block_on, s3, secretsmanager, Project, Run};

/// Every file under `dir`, as text (lossy), with its path: what provision left on disk.
fn files_under(dir: &Path) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for entry in walk(dir) {
        if let Ok(bytes) = std::fs::read(&entry) {
            found.push((entry.display().to_string(), String::from_utf8_lossy(&bytes).into_owned()));
        }
    }
    found
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            paths.extend(walk(&path));
        } else if entry.file_type().map(|t| t.is_file()).unwrap_or(false) {
            paths.push(path);
        }
    }
    paths
}

/// Fails naming every place `secret` appears: the runs' output and every file in the project.
#[track_caller]
fn assert_nowhere(secret: &str, project: &Project, output: &str) {
    for (number, line) in output.lines().enumerate() {
        assert!(!line.contains(secret), "printed line {number} holds the secret `{secret}`: {line}");
    }
    for (path, text) in files_under(project.dir.path()) {
        if path.ends_with("stack.toml") {
            continue;
        }
        assert!(!text.contains(secret), "`{path}` holds the secret `{secret}`");
    }
}

/// The text with runs of spaces made one: plan lines align their values in columns.
fn squashed(text: &str) -> String {
    text.split(' ').filter(|piece| !piece.is_empty()).collect::<Vec<_>>().join(" ")
}

fn keep(log: &mut String, run: Run) -> Run {
    log.push_str(&run.stdout);
    log.push('\n');
    log.push_str(&run.stderr);
    log.push('\n');
    run
}

fn secret_value(id: &str) -> Option<String> {
    block_on(async {
        let answer = secretsmanager().get_secret_value().secret_id(id).send().await.ok()?;
        answer.secret_string().map(str::to_string)
    })
}

const SECRETS: &str = r#"
[stack]
name = "{name}"

[variables]
pw = { sensitive = true }
given = "placeholder"
dev_default = { default = "DevDefault-5150", sensitive = true }

[secret.from_env]
value = { env = "PROVISION_TEST_SECRET_ENV" }
recovery_days = 0

[secret.from_var]
value = "${var.pw}"
recovery_days = 0

[secret.from_plain_var]
value = "${var.given}"
recovery_days = 0

[secret.from_default]
value = "${var.dev_default}"
recovery_days = 0
"#;

#[test]
fn a_secret_is_hashed_wherever_it_comes_from_and_never_printed_or_written_even_at_vvv() {
    let project = Project::new("sec", SECRETS).with_emulator();
    let values = ["FromEnv-hunter2", "FromVar-hunter2", "Plain-hunter2", "DevDefault-5150"];
    let env = [("PROVISION_TEST_SECRET_ENV", values[0])];
    let vars = ["--var", "pw=FromVar-hunter2", "--var", "given=Plain-hunter2"];
    let with = |command: &[&str]| -> Vec<String> {
        let mut args: Vec<String> = vec!["-vvv".into()];
        args.extend(vars.iter().map(|s| s.to_string()));
        args.extend(command.iter().map(|s| s.to_string()));
        args
    };
    let run = |args: Vec<String>| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        project.run_with_env(&args, &env)
    };
    let mut log = String::new();

    let plan = keep(&mut log, run(with(&["plan", "--out", "saved.plan"]))).success();
    assert!(squashed(&plan.stdout).contains("value: (sensitive)"), "{}", plan.stdout);
    keep(&mut log, run(with(&["plan", "--json"]))).success();
    keep(&mut log, run(with(&["apply", "--auto-approve", "saved.plan"]))).success().stdout_has("4 added");
    let state = project.state();
    for address in ["secret.from_env", "secret.from_var", "secret.from_plain_var", "secret.from_default"] {
        let hash = state["resources"][address]["inputs"]["value"].as_str().expect("a hash");
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{address}: {hash}");
        keep(&mut log, run(with(&["state", "show", address]))).success();
    }
    keep(&mut log, run(with(&["state", "pull"]))).success();
    keep(&mut log, run(with(&["plan", "--detailed-exitcode"]))).code(0);
    for (address, value) in
        ["secret.from_env", "secret.from_var", "secret.from_plain_var", "secret.from_default"].iter().zip(values)
    {
        let arn = state["resources"][address]["id"].as_str().expect("arn");
        assert_eq!(secret_value(arn).as_deref(), Some(value), "AWS got the value of {address}");
    }
    for value in values {
        assert_nowhere(value, &project, &log);
    }

    // A changed value is sent (it once was skipped without a word).
    let changed = ["--var", "pw=Rotated-hunter3", "--var", "given=Plain-hunter2"];
    let mut args: Vec<&str> = vec!["-vvv"];
    args.extend(changed);
    args.extend(["apply", "--auto-approve"]);
    let rotate = keep(&mut log, project.run_with_env(&args, &env)).success().stdout_has("1 changed");
    assert!(squashed(&rotate.stdout).contains("value: (sensitive) -> (sensitive)"), "{}", rotate.stdout);
    let arn = project.state()["resources"]["secret.from_var"]["id"].as_str().expect("arn").to_string();
    assert_eq!(secret_value(&arn).as_deref(), Some("Rotated-hunter3"));
    assert_nowhere("Rotated-hunter3", &project, &log);

    let mut args: Vec<&str> = changed.to_vec();
    args.extend(["destroy", "--auto-approve"]);
    project.run_with_env(&args, &env).success();
}

#[test]
fn a_sensitive_variable_is_refused_where_it_would_be_kept_in_clear_and_its_value_never_echoed() {
    let stack = r#"
[stack]
name = "{name}"
[variables]
pw = { default = "x", sensitive = true }
[s3_bucket.site]
tags = { password = "${var.pw}" }
[log_group.api]
name = "/app/${var.pw}"
[outputs]
leak = "${var.pw}"
"#;
    let run =
        Project::new("sec", stack).with_unreachable_endpoint().run(&["--var", "pw=Hunter2-abc", "validate"]).code(1);
    assert!(run.stderr.contains("stack.toml:7:"), "{}", run.stderr);
    let run = run
        .stderr_has("`${var.pw}` is sensitive and cannot be used in this field")
        .stderr_has("`${var.pw}` is sensitive and cannot be used in `log_group.api.name`")
        .stderr_has("`${var.pw}` is sensitive and cannot be used in the output `leak`");
    assert!(!run.stderr.contains("Hunter2-abc") && !run.stdout.contains("Hunter2-abc"), "{}", run.stderr);

    let typed = "[stack]\nname = \"{name}\"\n[variables]\npin = { default = 1234, sensitive = true }\n";
    let run = Project::new("sec", typed).run(&["--var", "pin=Secret-99", "validate"]).code(1);
    assert!(run.stderr.contains("`--var pin=(sensitive)`: `pin` is an integer variable"), "{}", run.stderr);
    assert!(!run.stderr.contains("Secret-99"), "{}", run.stderr);
}

#[test]
fn a_state_with_old_sha256_hashes_is_rehashed_on_its_next_write_without_a_change() {
    use sha2::{Digest, Sha256};
    let stack =
        "[stack]\nname = \"{name}\"\n\n[secret.db]\nvalue = { env = \"PROVISION_TEST_OLD_HASH\" }\nrecovery_days = 0\n";
    let project = Project::new("sec", stack).with_emulator();
    let env = [("PROVISION_TEST_OLD_HASH", "Summer2024")];
    project.run_with_env(&["apply", "--auto-approve"], &env).success();
    // As a state written before Argon2id kept it: one SHA-256 of `salt:secret`.
    let mut state = project.state();
    let legacy = format!("sha256:abc:{}", hex::encode(Sha256::digest(b"abc:Summer2024")));
    state["resources"]["secret.db"]["inputs"]["value"] = serde_json::json!(legacy);
    std::fs::write(project.state_path(), serde_json::to_string_pretty(&state).unwrap()).unwrap();

    project.run_with_env(&["plan", "--detailed-exitcode"], &env).code(0);
    project.run_with_env(&["apply", "--auto-approve"], &env).success().stdout_has("No changes");
    let upgraded = project.state()["resources"]["secret.db"]["inputs"]["value"].as_str().unwrap().to_string();
    assert!(upgraded.starts_with("$argon2id$"), "re-hashed on the next write: {upgraded}");
    project.run_with_env(&["destroy", "--auto-approve"], &env).success();
}

// ---- panics and hangs -------------------------------------------------------------------------

#[test]
fn stack_files_that_once_panicked_are_errors_with_a_place() {
    for (field, column) in [
        ("bucket = \"\"\"éa${x\"\"\"", "stack.toml:5:15"),
        ("bucket = \"\\té${var.nope}\"", "stack.toml:5:14"),
        ("tags = { team = \"\\té${var.nope}\" }", "stack.toml:5:21"),
    ] {
        let stack = format!("[stack]\nname = \"{{name}}\"\n\n[s3_bucket.site]\n{field}\n");
        let run = Project::new("pan", &stack).with_unreachable_endpoint().run(&["plan"]);
        assert_eq!(run.code, 1, "{field}: {}", run.stderr);
        assert!(run.stderr.contains(column), "{field}: {}", run.stderr);
    }
}

#[test]
fn durations_and_request_caps_too_large_for_their_types_are_errors() {
    let project = Project::new("pan", "[stack]\nname = \"{name}\"\n\n[s3_bucket.site]\n").with_unreachable_endpoint();
    for duration in ["18446744073709551615", "999999999999999999h"] {
        let run = project.run(&["apply", "--lock-timeout", duration]);
        assert_eq!(run.code, 2, "a usage error, not a panic: {}", run.stderr);
        assert!(run.stderr.contains("a year at most"), "{}", run.stderr);
    }
    let run = project.run_with_env(&["plan"], &[("PROVISION_MAX_REQUESTS", "2305843009213693952")]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("PROVISION_MAX_REQUESTS") && run.stderr.contains("65536"), "{}", run.stderr);
}

#[test]
fn a_vpc_id_of_the_wrong_shape_is_refused_before_any_aws_call() {
    let stack = "[stack]\nname = \"{name}\"\n\n[network]\nvpc = \"defaul[\"\n\n[security_group.web]\n";
    Project::new("pan", stack)
        .with_unreachable_endpoint()
        .run(&["plan"])
        .code(1)
        .stderr_has("stack.toml:5:7: `[network] vpc`: `defaul[` is not valid")
        .stderr_has("`vpc-` and 8 or 17 hexadecimal digits");
}

#[test]
fn a_stack_file_may_only_send_requests_to_a_loopback_endpoint() {
    let stack = "[stack]\nname = \"{name}\"\nendpoint = \"https://collector.example.com\"\n";
    Project::new("pan", stack)
        .run(&["validate"])
        .code(1)
        .stderr_has("stack.toml:3:12: `endpoint`: `https://collector.example.com` is not a loopback address")
        .stderr_has("--endpoint URL");
    let local = "[stack]\nname = \"{name}\"\nendpoint = \"http://127.0.0.1:9\"\n";
    Project::new("pan", local).run(&["validate"]).success();
}

// ---- files and locks ------------------------------------------------------------------------------

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).expect("metadata").permissions().mode() & 0o777
}

#[cfg(unix)]
#[test]
fn a_plan_written_over_a_readable_file_becomes_private_and_links_are_never_followed() {
    use std::os::unix::fs::PermissionsExt;
    let project = Project::new("fil", "[stack]\nname = \"{name}\"\n\n[s3_bucket.site]\n").with_emulator();
    let plan = project.path("review.plan");
    std::fs::write(&plan, "old").unwrap();
    std::fs::set_permissions(&plan, std::fs::Permissions::from_mode(0o644)).unwrap();
    project.run(&["plan", "--out", "review.plan"]).success();
    assert_eq!(mode(&plan), 0o600, "the saved plan is private");

    // A state path that is a link is refused before anything is made; its target is untouched.
    let elsewhere = project.path("elsewhere.json");
    std::fs::write(&elsewhere, "precious").unwrap();
    std::fs::create_dir_all(project.path("state")).unwrap();
    std::os::unix::fs::symlink(&elsewhere, project.state_path()).unwrap();
    project.run(&["apply", "--auto-approve"]).code(1).stderr_has("is a symbolic link");
    assert_eq!(std::fs::read_to_string(&elsewhere).unwrap(), "precious");
    assert!(block_on(async {
        s3().head_bucket().bucket(format!("{}-site", project.stack_name)).send().await.is_err()
    }));

    // A link planted where the state's temp file goes is replaced, not written through.
    std::fs::remove_file(project.state_path()).unwrap();
    let temp = format!("{}.tmp", project.state_path().display());
    std::os::unix::fs::symlink(&elsewhere, &temp).unwrap();
    project.run(&["apply", "--auto-approve"]).success();
    assert_eq!(std::fs::read_to_string(&elsewhere).unwrap(), "precious");
    assert_eq!(mode(&project.state_path()), 0o600);
    project.run(&["destroy", "--auto-approve"]).success();
}

#[cfg(unix)]
#[test]
fn init_refuses_a_dangling_link_where_the_stack_file_goes() {
    let project = Project::new("fil", "");
    std::fs::remove_file(project.path("stack.toml")).unwrap();
    let target = project.path("somewhere/else.toml");
    std::os::unix::fs::symlink(&target, project.path("stack.toml")).unwrap();
    project.run(&["init"]).code(1).stderr_has("already exists");
    assert!(!target.exists(), "nothing was written through the link");
}

#[test]
fn a_lease_shorter_than_thirty_seconds_is_refused() {
    let stack = "[stack]\nname = \"{name}\"\n\n[state]\ns3 = \"s3://team-state/app.json\"\nlock_ttl = \"1s\"\n";
    Project::new("fil", stack).run(&["validate"]).code(1).stderr_has("is too short").stderr_has("at least `30s`");
}

#[test]
fn a_state_whose_serial_is_at_its_largest_fails_clearly_instead_of_panicking_or_hanging() {
    let project = Project::new("fil", "[stack]\nname = \"{name}\"\n\n[s3_bucket.site]\n").with_unreachable_endpoint();
    let state = serde_json::json!({
        "version": 1, "lineage": "l", "serial": u64::MAX, "stack": project.stack_name,
        "resources": { "s3_bucket.site": { "type": "s3_bucket", "id": "x", "inputs": {}, "attributes": {}, "dependencies": [] } }
    });
    std::fs::create_dir_all(project.path("state")).unwrap();
    std::fs::write(project.state_path(), serde_json::to_string(&state).unwrap()).unwrap();
    let started = Instant::now();
    let run = project.run(&["state", "rm", "s3_bucket.site"]);
    assert!(started.elapsed() < Duration::from_secs(30), "no hang");
    assert_eq!(run.code, 1, "an error, not a panic: {}", run.stderr);
    assert!(run.stderr.contains("the largest there is"), "{}", run.stderr);
    assert_eq!(project.state()["serial"], serde_json::json!(u64::MAX), "the state is left as it was");
}

// ---- saved plans ------------------------------------------------------------------------------------

#[test]
fn a_saved_plan_applies_only_with_the_file_vars_and_account_it_was_made_with() {
    let stack = "[stack]\nname = \"{name}\"\n\n[variables]\nenv = \"dev\"\n\n[s3_bucket.site]\ntags = { env = \"${var.env}\" }\n";
    let project = Project::new("pln", stack).with_emulator();
    project.write("other.toml", &stack.replace("{name}", &format!("{}-o", project.stack_name)));
    project.run(&["--var", "env=review", "plan", "--out", "saved.plan"]).success();

    project
        .run(&["--var", "env=prod", "apply", "saved.plan"])
        .code(1)
        .stderr_has("does not match `--var env=prod`: it was made with `--var env=review`");
    project.run(&["-f", "other.toml", "apply", "saved.plan"]).code(1).stderr_has("was made from");
    // Another account: as if the plan had been made with other credentials.
    let mut saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(project.path("saved.plan")).unwrap()).unwrap();
    let account = saved["account"].clone();
    assert_eq!(account, serde_json::json!("123456789012"), "the plan records the account");
    saved["account"] = serde_json::json!("999999999999");
    std::fs::write(project.path("other-account.plan"), serde_json::to_string(&saved).unwrap()).unwrap();
    project
        .run(&["apply", "other-account.plan"])
        .code(1)
        .stderr_has("was made for account 999999999999")
        .stderr_has("credentials are for account 123456789012");
    assert!(block_on(async {
        s3().head_bucket().bucket(format!("{}-site", project.stack_name)).send().await.is_err()
    }));

    project.run(&["apply", "saved.plan"]).success().stdout_has("1 added");
    project.run(&["destroy", "--auto-approve"]).success();
}

#[test]
fn a_saved_plan_keeps_a_sensitive_var_only_as_a_hash_and_needs_it_again() {
    let stack = "[stack]\nname = \"{name}\"\n\n[variables]\npw = { sensitive = true }\n\n[secret.db]\nvalue = \"${var.pw}\"\nrecovery_days = 0\n";
    let project = Project::new("pln", stack).with_emulator();
    project.run(&["--var", "pw=Plan-hunter2", "plan", "--out", "saved.plan"]).success();
    let saved = std::fs::read_to_string(project.path("saved.plan")).unwrap();
    assert!(!saved.contains("Plan-hunter2"), "{saved}");
    project.run(&["apply", "saved.plan"]).code(1).stderr_has("give it again: `provision apply --var pw=…");
    project
        .run(&["--var", "pw=other", "apply", "saved.plan"])
        .code(1)
        .stderr_has("does not match `--var pw=(sensitive)`");
    project.run(&["--var", "pw=Plan-hunter2", "apply", "saved.plan"]).success().stdout_has("1 added");
    project.run(&["--var", "pw=Plan-hunter2", "destroy", "--auto-approve"]).success();
}

// ---- hostile state ------------------------------------------------------------------------------------

#[test]
fn a_planted_state_entry_is_deleted_with_the_stack_files_care_not_the_states() {
    let project = Project::new("hst", "[stack]\nname = \"{name}\"\n\n[s3_bucket.site]\n").with_emulator();
    project.run(&["apply", "--auto-approve"]).success();
    // Someone else's bucket, with data in it.
    let victim = format!("{}-payroll", project.stack_name);
    block_on(async {
        s3().create_bucket().bucket(&victim).send().await.expect("create");
        s3().put_object().bucket(&victim).key("2026.csv").body(b"salaries".to_vec().into()).send().await.expect("put");
    });
    // Planted in the state by someone who can write it: the bucket, with `force_destroy` claimed.
    let mut state = project.state();
    state["resources"]["s3_bucket.payroll"] = serde_json::json!({
        "type": "s3_bucket", "id": victim,
        "inputs": { "bucket": victim, "force_destroy": true, "versioning": false },
        "attributes": { "name": victim }, "dependencies": []
    });
    std::fs::write(project.state_path(), serde_json::to_string_pretty(&state).unwrap()).unwrap();

    project.run(&["apply", "--auto-approve"]).code(1).stderr_has("s3_bucket.payroll").stderr_has("force_destroy");
    let kept = block_on(async { s3().get_object().bucket(&victim).key("2026.csv").send().await.is_ok() });
    assert!(kept, "the data is still there: the state's `force_destroy` was not believed");
    project.run(&["state", "rm", "s3_bucket.payroll"]).success();
    project.run(&["destroy", "--auto-approve"]).success();
}

// ---- upload --------------------------------------------------------------------------------------------

#[cfg(unix)]
#[test]
fn upload_sends_only_regular_files_inside_its_folder() {
    let stack = "[stack]\nname = \"{name}\"\n\n[s3_bucket.site]\nupload = \"site\"\nforce_destroy = true\n";
    let project = Project::new("upl", stack).with_unreachable_endpoint();
    project.write("site/index.html", "<h1>hi</h1>");
    project.write("outside/credentials", "aws_secret_access_key = x");
    std::os::unix::fs::symlink(project.path("outside/credentials"), project.path("site/.env")).unwrap();
    project.run(&["plan", "--refresh=false"]).code(1).stderr_has("`.env`").stderr_has("outside the folder");
    std::fs::remove_file(project.path("site/.env")).unwrap();

    for (upload, problem) in [
        ("/etc/ssl", "is an absolute path"),
        ("/etc/hostname", "is an absolute path"),
        ("../x", "leaves the stack's folder"),
    ] {
        project.write_stack(&stack.replace("upload = \"site\"", &format!("upload = \"{upload}\"")));
        project.run(&["validate"]).code(1).stderr_has(problem);
    }

    // A fifo is skipped with a warning; the plan does not wait on it.
    project.write_stack(stack);
    let fifo = std::ffi::CString::new(project.path("site/pipe").to_str().unwrap()).unwrap();
    // SAFETY: mkfifo only reads the path it is given.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
    let started = Instant::now();
    let plan = project.run(&["plan", "--refresh=false"]).success().stdout_has("files: + index.html");
    assert!(started.elapsed() < Duration::from_secs(30));
    assert!(plan.stderr.contains("skipped") && plan.stderr.contains("pipe"), "{}", plan.stderr);
    assert!(!plan.stdout.contains("pipe"), "{}", plan.stdout);
}

// ---- sweep ------------------------------------------------------------------------------------------

#[test]
fn sweep_deletes_only_this_states_resources_and_lists_them_first() {
    let stack = "[stack]\nname = \"{name}\"\n\n[state]\npath = \"state/{which}.json\"\n\n[log_group.api]\n";
    let ours = Project::new("swp", &stack.replace("{which}", "ours")).with_emulator();
    // Another state of a stack with the same name (another team's copy): same tags but its lineage.
    let theirs = Project::new("swp", "").with_emulator();
    theirs.write(
        "stack.toml",
        &stack
            .replace("{name}", &ours.stack_name)
            .replace("{which}", "theirs")
            .replace("[log_group.api]", "[log_group.theirs]"),
    );
    theirs.run(&["apply", "--auto-approve"]).success();
    ours.run(&["apply", "--auto-approve"]).success();
    // An orphan of ours: recorded nowhere any more.
    let orphan = format!("/provision/{}/api", ours.stack_name);
    ours.run(&["state", "rm", "log_group.api"]).success();
    ours.write_stack(&stack.replace("{which}", "ours").replace("[log_group.api]", "[log_group.kept]"));

    let orphans = ours.run(&["state", "orphans"]).success();
    assert!(orphans.stdout.contains("log_group.api"), "{}", orphans.stdout);
    assert!(!orphans.stdout.contains("log_group.theirs"), "another lineage is not an orphan: {}", orphans.stdout);

    // Without a terminal and `--auto-approve` it lists what it would delete and refuses.
    let run = ours.run(&["destroy", "--sweep"]).code(1).stderr_has("refusing to sweep without confirmation");
    assert!(run.stdout.contains(&format!("log_group.api  `{orphan}`")), "{}", run.stdout);
    assert!(!run.stdout.contains("theirs"), "{}", run.stdout);
    let run = ours.run(&["destroy", "--sweep", "--auto-approve"]).success();
    assert!(
        run.stdout.contains("sweeping deletes:") && run.stdout.contains(&format!("log_group.api  `{orphan}`")),
        "{}",
        run.stdout
    );
    let groups = block_on(async {
        crate::support::logs()
            .describe_log_groups()
            .log_group_name_prefix(format!("/provision/{}/", ours.stack_name))
            .send()
            .await
            .expect("describe")
    });
    let names: Vec<&str> = groups.log_groups().iter().filter_map(|g| g.log_group_name()).collect();
    assert!(!names.contains(&orphan.as_str()), "our orphan was swept: {names:?}");
    assert!(names.iter().any(|n| n.ends_with("/theirs")), "the other state's group is untouched: {names:?}");
    theirs.run(&["destroy", "--auto-approve"]).success();
}

// ---- taking over what exists ------------------------------------------------------------------------

fn create_zone(name: &str) -> String {
    block_on(async {
        let answer = crate::support::route53()
            .create_hosted_zone()
            .name(name)
            .caller_reference(format!("sec-{name}"))
            .send()
            .await
            .expect("CreateHostedZone");
        answer.hosted_zone().expect("a zone").id().trim_start_matches("/hostedzone/").to_string()
    })
}

/// The values of the `A` record `name` in `zone`.
fn a_record(zone: &str, name: &str) -> Option<Vec<String>> {
    block_on(async {
        let answer = crate::support::route53()
            .list_resource_record_sets()
            .hosted_zone_id(zone)
            .send()
            .await
            .expect("ListResourceRecordSets");
        let name = format!("{name}.");
        answer
            .resource_record_sets()
            .iter()
            .find(|set| set.name() == name && set.r#type().as_str() == "A")
            .map(|set| set.resource_records().iter().map(|r| r.value().to_string()).collect())
    })
}

#[test]
fn an_existing_record_is_not_taken_over_unless_allow_overwrite() {
    use aws_sdk_route53::types::{Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet, RrType};
    let project = Project::new("dns", "").with_emulator();
    let domain = format!("{}.example.com", project.stack_name);
    let zone = create_zone(&domain);
    let www = format!("www.{domain}");
    // Production's `www`, made by hand.
    block_on(async {
        let set = ResourceRecordSet::builder()
            .name(&www)
            .r#type(RrType::A)
            .ttl(60)
            .resource_records(ResourceRecord::builder().value("192.0.2.10").build().unwrap())
            .build()
            .unwrap();
        let change = Change::builder().action(ChangeAction::Create).resource_record_set(set).build().unwrap();
        crate::support::route53()
            .change_resource_record_sets()
            .hosted_zone_id(&zone)
            .change_batch(ChangeBatch::builder().changes(change).build().unwrap())
            .send()
            .await
            .expect("ChangeResourceRecordSets")
    });
    let stack = format!(
        "[stack]\nname = \"{{name}}\"\n\n[dns_record.www]\nzone = \"{zone}\"\nname = \"{www}\"\nrecords = [\"198.51.100.7\"]\n"
    );
    project.write_stack(&stack);
    project
        .run(&["apply", "--auto-approve"])
        .code(1)
        .stderr_has(&format!("a `A` record `{www}` already exists"))
        .stderr_has(&format!("provision import dns_record.www {zone}/{www}/A"))
        .stderr_has("allow_overwrite = true");
    assert_eq!(a_record(&zone, &www), Some(vec!["192.0.2.10".to_string()]), "production's record is untouched");
    // The refresh after the failed create does not adopt it either.
    let plan = project.run(&["plan"]).success().stdout_has("+ dns_record.www");
    assert!(plan.stderr.contains("made nothing"), "not adopted: {}", plan.stderr);

    // On purpose: `allow_overwrite` takes it over (and the plan said it would).
    project.write_stack(&stack.replace("records =", "allow_overwrite = true\nrecords ="));
    project.run(&["apply", "--auto-approve"]).success().stdout_has("1 added");
    assert_eq!(a_record(&zone, &www), Some(vec!["198.51.100.7".to_string()]));
    project.run(&["destroy", "--auto-approve"]).success();
    assert_eq!(a_record(&zone, &www), None);
}

/// A bucket made outside provision, with an object in it.
fn foreign_bucket(name: &str) {
    block_on(async {
        s3().create_bucket().bucket(name).send().await.expect("create");
        s3().put_object().bucket(name).key("data.csv").body(b"theirs".to_vec().into()).send().await.expect("put");
    })
}

fn bucket_tags(name: &str) -> Vec<(String, String)> {
    block_on(async {
        match s3().get_bucket_tagging().bucket(name).send().await {
            Ok(answer) => answer.tag_set().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect(),
            Err(_) => Vec::new(),
        }
    })
}

fn object_count(name: &str) -> usize {
    block_on(async {
        s3().list_objects_v2().bucket(name).send().await.expect("list").key_count().unwrap_or(0) as usize
    })
}

#[test]
fn a_bucket_the_account_already_owns_is_refused_and_left_untouched() {
    let stack = "[stack]\nname = \"{name}\"\nregion = \"us-east-1\"\n\n[s3_bucket.site]\nupload = \"site\"\nforce_destroy = true\n";
    let project = Project::new("own", stack).with_emulator();
    project.write("site/index.html", "<h1>ours</h1>");
    let name = format!("{}-site", project.stack_name);
    foreign_bucket(&name);
    // S3 keeps creation times to the second: let the bucket be plainly older than the create.
    std::thread::sleep(Duration::from_secs(3));
    project
        .run(&["apply", "--auto-approve"])
        .code(1)
        .stderr_has(&format!("the bucket `{name}` already exists in this account and provision did not make it"))
        .stderr_has(&format!("provision import s3_bucket.site {name}"));
    assert!(bucket_tags(&name).is_empty(), "not re-tagged: {:?}", bucket_tags(&name));
    assert_eq!(object_count(&name), 1, "nothing synced into it");
    // The next run does not adopt it through the interrupted-create rule either.
    project.run(&["apply", "--auto-approve"]).code(1).stderr_has("already exists in this account");
    project.run(&["destroy", "--auto-approve"]).success();
    assert_eq!(object_count(&name), 1, "a destroy leaves it alone");
}

#[test]
fn an_untagged_bucket_that_was_there_before_an_interrupted_create_is_not_adopted() {
    let stack = "[stack]\nname = \"{name}\"\n\n[s3_bucket.site]\nforce_destroy = true\n";
    let project = Project::new("own", stack).with_emulator();
    let name = format!("{}-site", project.stack_name);
    foreign_bucket(&name);
    // What a run killed during the create leaves: the intent, recorded after the bucket was made
    // (a bucket that existed for days looks the same; S3 keeps creation times to the second).
    std::thread::sleep(Duration::from_secs(3));
    let later = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let state = serde_json::json!({
        "version": 1, "lineage": "11111111-2222-3333-4444-555555555555", "serial": 1, "stack": project.stack_name,
        "resources": { "s3_bucket.site": {
            "type": "s3_bucket", "id": format!("{name}@{later}"), "status": "creating",
            "inputs": { "bucket": name, "force_destroy": true }, "attributes": {}, "dependencies": [] } }
    });
    std::fs::create_dir_all(project.path("state")).unwrap();
    std::fs::write(project.state_path(), serde_json::to_string_pretty(&state).unwrap()).unwrap();
    let plan = project.run(&["plan"]).success();
    assert!(plan.stderr.contains("made nothing"), "not adopted: {}", plan.stderr);
    project.run(&["apply", "--auto-approve"]).code(1).stderr_has("already exists in this account");
    assert_eq!(object_count(&name), 1);
    assert!(bucket_tags(&name).is_empty());
}

#[test]
fn default_names_that_collide_across_stacks_stop_the_second_create() {
    // `NAME` + `dev_site` and `NAME-dev` + `site` both default to `NAME-dev-site`.
    let first = Project::new("col", "[stack]\nname = \"{name}\"\n\n[log_group.x]\n").with_emulator();
    let base = first.stack_name.clone();
    first.write_stack(&format!("[stack]\nname = \"{base}\"\n\n[s3_bucket.dev_site]\nforce_destroy = true\n"));
    first.run(&["apply", "--auto-approve"]).success();
    let bucket = format!("{base}-dev-site");
    block_on(async {
        s3().put_object().bucket(&bucket).key("orders.db").body(b"first's".to_vec().into()).send().await.expect("put")
    });

    let second = Project::new("col", "").with_emulator();
    second.write("stack.toml", &format!("[stack]\nname = \"{base}-dev\"\n\n[s3_bucket.site]\nforce_destroy = true\n"));
    second
        .run(&["apply", "--auto-approve"])
        .code(1)
        .stderr_has(&format!("the bucket `{bucket}` already exists"))
        .stderr_has("`s3_bucket.dev_site` of stack");
    second.run(&["destroy", "--auto-approve"]).success();
    assert_eq!(object_count(&bucket), 1, "the first stack's bucket and data are untouched");
    first.run(&["destroy", "--auto-approve"]).success();
}
