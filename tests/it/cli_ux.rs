//! The command line as people and CI systems meet it: the live view at a terminal (checked on
//! the screen a terminal would show, rebuilt from the bytes with `vt100`), plain lines without
//! one, `--json` as NDJSON, shell completions, `init`, and examples in `--help`.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::{binary, block_on, endpoint, s3, Project};

const SPINNER: &[char] = &['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

fn have_script() -> bool {
    let present = Command::new("script").arg("--version").output().is_ok();
    if !present {
        eprintln!("skipped: `script` (util-linux) is not installed");
    }
    present
}

/// `provision ARGS` under a pseudo-terminal of `rows` × 120 (util-linux `script`), colours on;
/// then the shell command `then`, if any, on the same terminal.
fn under_terminal(project: &Project, rows: u16, args: &str, then: Option<&str>) -> Command {
    let inner = match then {
        None => format!("stty rows {rows} cols 120; exec {} {args}", binary()),
        Some(then) => format!("stty rows {rows} cols 120; {} {args}; code=$?; {then}; exit $code", binary()),
    };
    let mut command = Command::new("script");
    command
        .args(["-qfec", &inner, "/dev/null"])
        .current_dir(project.dir.path())
        .env("TERM", "xterm-256color")
        .env_remove("NO_COLOR")
        .env_remove("PROVISION_LOG")
        .env("AWS_ENDPOINT_URL", endpoint())
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1");
    command
}

/// The screen a terminal shows after `bytes`, one string per row, trailing blanks cut. (Rows,
/// not logical lines: the live view fills each row to the edge and lets the terminal wrap.)
fn screen(bytes: &[u8], rows: u16) -> Vec<String> {
    let size = |n: u16| std::num::NonZeroU16::new(n).expect("a screen has rows and columns");
    let mut parser = vt100::Parser::new(size(rows), size(120), 0);
    parser.process(bytes);
    parser.screen().rows(0, 120).map(|row| row.trim_end().to_string()).collect()
}

fn buckets(count: usize) -> String {
    let mut stack = String::from("[stack]\nname = \"{name}\"\n\n");
    for i in 0..count {
        stack.push_str(&format!("[s3_bucket.b{i}]\n\n"));
    }
    stack
}

#[track_caller]
fn assert_clean_screen(rows: &[String], text: &str) {
    assert!(!rows.iter().any(|row| row.contains(SPINNER)), "a spinner was left on the screen:\n{text}");
    assert!(!rows.iter().any(|row| row.contains("creating…")), "an in-flight line was left:\n{text}");
    assert!(!rows.iter().any(|row| row.contains("=>") || row.contains("===")), "the bar was left:\n{text}");
}

#[test]
fn at_a_terminal_the_live_view_shows_every_action_once_and_leaves_a_clean_screen() {
    if !have_script() {
        return;
    }
    let project = Project::new("live", &buckets(3)).with_emulator();
    let output = under_terminal(&project, 100, "apply --auto-approve", Some("stty -a"))
        .stdin(Stdio::null())
        .output()
        .expect("script");
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stdout));
    let raw = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(raw.contains("\x1b[2K") || raw.contains("\x1b[1A"), "the live view moves the cursor: {raw:?}");
    let rows = screen(&output.stdout, 100);
    let text = rows.join("\n");
    for i in 0..3 {
        let finished = rows.iter().filter(|row| row.starts_with(&format!("✓ s3_bucket.b{i} ")));
        assert_eq!(finished.count(), 1, "one line for s3_bucket.b{i}:\n{text}");
    }
    assert!(rows.iter().any(|row| row.starts_with("✓ s3_bucket.b0") && row.contains("created (")), "{text}");
    assert_clean_screen(&rows, &text);
    assert!(text.contains("Apply complete! 3 added"), "{text}");
    // The view turned off the echo of `^C` while it ran, and turned it back on.
    assert!(text.contains(" echoctl") && !text.contains("-echoctl"), "terminal settings restored:\n{text}");

    // Nothing to do: no view is drawn at all.
    let again =
        under_terminal(&project, 100, "apply --auto-approve", None).stdin(Stdio::null()).output().expect("script");
    let raw = String::from_utf8_lossy(&again.stdout);
    assert!(raw.contains("No changes.") && !raw.contains("\x1b[2K") && !raw.contains("0/0"), "{raw:?}");
    project.run(&["destroy", "--auto-approve"]).success();
}

/// Ctrl-C typed at the terminal (the pty turns `^C` into SIGINT): what is in flight finishes,
/// the run exits 130, and the screen holds the finished lines and no half-drawn view.
#[test]
fn ctrl_c_during_the_live_view_leaves_a_clean_terminal() {
    if !have_script() {
        return;
    }
    let project = Project::new("livec", &buckets(60)).with_emulator();
    let mut child = under_terminal(&project, 400, "apply --auto-approve --parallelism 1", None)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("script");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let mut stdout = child.stdout.take().expect("stdout");
    let reader = {
        let seen = seen.clone();
        std::thread::spawn(move || {
            let mut buffer = [0u8; 4096];
            while let Ok(n) = stdout.read(&mut buffer) {
                if n == 0 {
                    break;
                }
                seen.lock().expect("lock").extend_from_slice(&buffer[..n]);
            }
        })
    };
    let started = Instant::now();
    // `✓` starts a finished line (colour codes stand between it and the address).
    while !String::from_utf8_lossy(&seen.lock().expect("lock")).contains('✓') {
        assert!(started.elapsed() < Duration::from_secs(120), "nothing finished");
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(b"\x03").expect("type Ctrl-C");
    let status = child.wait().expect("wait");
    reader.join().expect("reader");
    let bytes = seen.lock().expect("lock").clone();
    let rows = screen(&bytes, 400);
    let text = rows.join("\n");
    assert_eq!(status.code(), Some(130), "{text}");
    assert!(text.contains("Interrupt received"), "{text}");
    assert_clean_screen(&rows, &text);
    let finished = rows.iter().filter(|row| row.starts_with("✓ s3_bucket.")).count();
    let recorded = project.state()["resources"].as_object().expect("resources").len();
    assert_eq!(finished, recorded, "every recorded create is on the screen once:\n{text}");
    assert!(recorded < 60, "the run stopped early");
    project.run(&["destroy", "--auto-approve"]).success();
}

#[test]
fn without_a_terminal_progress_is_plain_lines_without_control_sequences() {
    let project = Project::new("plain", &buckets(2)).with_emulator();
    // Colours allowed and a capable TERM: only the missing terminal turns the live view off.
    let output = Command::new(binary())
        .args(["apply", "--auto-approve"])
        .current_dir(project.dir.path())
        .env_remove("NO_COLOR")
        .env("TERM", "xterm-256color")
        .env("AWS_ENDPOINT_URL", endpoint())
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .stdin(Stdio::null())
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains('\x1b') && !stderr.contains('\r'), "control sequences in stderr: {stderr:?}");
    assert!(!stdout.contains('\x1b'), "colour in piped stdout: {stdout:?}");
    assert!(stderr.contains("s3_bucket.b0: creating…") && stderr.contains("s3_bucket.b0: created ("), "{stderr}");
    project.run(&["destroy", "--auto-approve"]).success();
}

/// Each stdout line as JSON; panics naming the line that is not.
fn ndjson(stdout: &str) -> Vec<serde_json::Value> {
    stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line:?}\n{stdout}")))
        .collect()
}

/// Plan first, summary last, and each address's `started` before its `finished`/`failed`.
#[track_caller]
fn assert_event_order(events: &[serde_json::Value]) {
    let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().expect("type")).collect();
    assert_eq!(types.first(), Some(&"plan"), "{types:?}");
    assert_eq!(types.last(), Some(&"summary"), "{types:?}");
    assert_eq!(types.iter().filter(|t| **t == "plan" || **t == "summary").count(), 2, "{types:?}");
    for (index, event) in events.iter().enumerate() {
        if event["type"] == "finished" || event["type"] == "failed" {
            let started = events[..index]
                .iter()
                .any(|e| e["type"] == "started" && e["address"] == event["address"] && e["action"] == event["action"]);
            assert!(started, "{} {} before it started: {types:?}", event["type"], event["address"]);
        }
    }
}

const TWO_TIER: &str = r#"
[stack]
name = "{name}"

[s3_bucket.site]

[cloudfront_distribution.cdn]
origin_bucket = "${s3_bucket.site.name}"

[outputs]
bucket = "${s3_bucket.site.name}"
"#;

#[test]
fn apply_json_streams_ndjson_from_the_plan_to_the_summary() {
    let project = Project::new("json", TWO_TIER).with_emulator();
    let run = project.run(&["apply", "--auto-approve", "--json"]).success();
    let events = ndjson(&run.stdout);
    assert_event_order(&events);
    let plan = &events[0];
    assert_eq!(plan["actions"].as_array().expect("actions").len(), 2);
    assert_eq!(plan["summary"]["add"], 2);
    for address in ["s3_bucket.site", "cloudfront_distribution.cdn"] {
        let of = |kind: &str| events.iter().filter(|e| e["type"] == kind && e["address"] == address).count();
        assert_eq!((of("started"), of("finished")), (1, 1), "{address}: {}", run.stdout);
    }
    let finished = events.iter().find(|e| e["type"] == "finished").expect("finished");
    assert_eq!(finished["action"], "create");
    assert!(finished["elapsed_s"].is_number(), "{finished}");
    // The distribution is created after the bucket it serves.
    let position = |kind: &str, address: &str| {
        events.iter().position(|e| e["type"] == kind && e["address"] == address).expect("event")
    };
    assert!(position("finished", "s3_bucket.site") < position("started", "cloudfront_distribution.cdn"));
    let summary = events.last().expect("summary");
    assert_eq!(summary["success"], true);
    assert_eq!(summary["added"], 2);
    assert_eq!(summary["interrupted"], false);
    assert_eq!(summary["outputs"]["bucket"], format!("{}-site", project.stack_name));
    assert!(!run.stdout.contains("Apply complete"), "no summary text on stdout");

    // Nothing to do: still a plan and a summary, nothing else.
    let again = project.run(&["apply", "--auto-approve", "--json"]).success();
    let types: Vec<String> = ndjson(&again.stdout).iter().map(|e| e["type"].as_str().unwrap().to_string()).collect();
    assert_eq!(types, ["plan", "summary"]);

    let destroy = project.run(&["destroy", "--auto-approve", "--json"]).success();
    let events = ndjson(&destroy.stdout);
    assert_event_order(&events);
    assert!(events[0]["actions"].as_array().unwrap().iter().all(|a| a["action"] == "delete"));
    assert_eq!(events.last().unwrap()["destroyed"], 2);
}

#[test]
fn destroy_json_reports_a_failure_and_what_it_skipped() {
    let stack =
        "[stack]\nname = \"{name}\"\n\n[s3_bucket.logs]\n\n[s3_bucket.data]\ndepends_on = [\"s3_bucket.logs\"]\n";
    let project = Project::new("jsonf", stack).with_emulator();
    project.run(&["apply", "--auto-approve"]).success();
    let bucket = format!("{}-data", project.stack_name);
    block_on(async { s3().put_object().bucket(&bucket).key("x.txt").body(b"x".to_vec().into()).send().await })
        .expect("put");

    let run = project.run(&["destroy", "--auto-approve", "--json"]).code(1);
    let events = ndjson(&run.stdout);
    assert_event_order(&events);
    let failed = events.iter().find(|e| e["type"] == "failed").expect("a failed line");
    assert_eq!(failed["address"], "s3_bucket.data");
    assert!(failed["message"].as_str().unwrap().contains("BucketNotEmpty"), "{failed}");
    let skipped = events.iter().find(|e| e["type"] == "skipped").expect("a skipped line");
    assert_eq!(skipped["address"], "s3_bucket.logs");
    assert_eq!(skipped["action"], "delete");
    assert_eq!(skipped["because"], "s3_bucket.data");
    let summary = events.last().unwrap();
    assert_eq!(summary["success"], false);
    assert_eq!(summary["failed"][0]["address"], "s3_bucket.data");
    assert_eq!(summary["skipped"], serde_json::json!(["s3_bucket.logs"]));
    // People still read the failure on stderr.
    assert!(run.stderr.contains("s3_bucket.data") && run.stderr.contains("BucketNotEmpty"), "{}", run.stderr);

    block_on(async { s3().delete_object().bucket(&bucket).key("x.txt").send().await }).expect("delete");
    project.run(&["destroy", "--auto-approve", "--json"]).success();
}

#[test]
fn completions_are_generated_for_bash_zsh_and_fish() {
    let project = Project::new("compl", "");
    for shell in ["bash", "zsh", "fish"] {
        let run = project.run(&["completions", shell]).success();
        assert!(run.stdout.len() > 1000, "{shell}: {}", run.stdout);
        for command in ["apply", "destroy", "plan", "init", "completions", "orphans"] {
            assert!(run.stdout.contains(command), "{shell} completions lack `{command}`");
        }
        assert!(run.stdout.contains("static-site"), "{shell} completes template names");
    }
    project.run(&["completions", "tcsh"]).code(2);
}

#[test]
fn every_template_initialises_a_stack_that_validates_and_plans() {
    let root = tempfile::tempdir().expect("temp dir");
    let templates = ["static-site", "api-service", "flask-postgres", "starwars-api", "webapp", "websocket-platform"];
    for template in templates {
        let dir = root.path().join(template);
        std::fs::create_dir_all(&dir).expect("folder");
        let name = crate::support::unique_stack_name("init");
        let init = crate::support::run_binary(&dir, None, &["init", "--template", template, "--name", &name], &[]);
        assert_eq!(init.code, 0, "{template}: {}", init.stderr);
        let text = std::fs::read_to_string(dir.join("stack.toml")).expect("stack.toml written");
        assert!(
            text.starts_with("#:schema ./stack.schema.json\n# Written by `provision init --template"),
            "{template}"
        );
        assert!(text.contains(&format!("name = \"{name}\"")), "{template}");
        let validate = crate::support::run_binary(&dir, None, &["validate"], &[]);
        assert_eq!(validate.code, 0, "{template} does not validate:\n{}", validate.stderr);
        let secrets = [
            ("FLASK_DB_PASSWORD", "example-only-Secret-9"),
            ("STARWARS_REDIS_AUTH_TOKEN", "example-only-Redis-token-9"),
        ];
        let plan = crate::support::run_binary(&dir, Some(endpoint()), &["plan", "--refresh=false"], &secrets);
        assert_eq!(plan.code, 0, "{template} does not plan:\n{}\n{}", plan.stdout, plan.stderr);
        assert!(plan.stdout.contains("to add, 0 to change"), "{template}: {}", plan.stdout);
    }
    let site = root.path().join("static-site");
    for file in ["static-site/index.html", "static-site/css/site.css", "static-site/js/app.js"] {
        assert!(site.join(file).is_file(), "{file} was copied");
    }
    assert!(root.path().join("webapp/webapp/index.html").is_file());
}

#[test]
fn init_names_the_stack_after_the_folder_and_never_overwrites() {
    let root = tempfile::tempdir().expect("temp dir");
    let dir = root.path().join("My Shop_2");
    std::fs::create_dir_all(&dir).expect("folder");
    let run = crate::support::run_binary(&dir, None, &["init"], &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("stack `my-shop-2` from the `static-site` template"), "{}", run.stdout);
    let written = std::fs::read_to_string(dir.join("stack.toml")).expect("written");

    let again = crate::support::run_binary(&dir, None, &["init", "--template", "webapp"], &[]);
    assert_eq!(again.code, 1);
    assert!(again.stderr.contains("`stack.toml` already exists; nothing was written"), "{}", again.stderr);
    assert_eq!(std::fs::read_to_string(dir.join("stack.toml")).unwrap(), written);
    assert!(!dir.join("webapp").exists(), "nothing of the second template was written");

    // `-f` picks another file; a name that is not valid is refused with one that is.
    let other = crate::support::run_binary(&dir, None, &["-f", "infra/web.toml", "init", "--template", "webapp"], &[]);
    assert_eq!(other.code, 0, "{}", other.stderr);
    assert!(dir.join("infra/web.toml").is_file() && dir.join("infra/webapp/index.html").is_file());
    assert!(other.stdout.contains("provision -f infra/web.toml validate"), "{}", other.stdout);
    let bad = crate::support::run_binary(&dir, None, &["-f", "x.toml", "init", "--name", "Shop"], &[]);
    assert_eq!(bad.code, 1);
    assert!(bad.stderr.contains("`Shop` is not a valid stack name") && bad.stderr.contains("`shop`"), "{}", bad.stderr);

    let unknown = crate::support::run_binary(&dir, None, &["-f", "y.toml", "init", "--template", "wordpress"], &[]);
    assert_eq!(unknown.code, 2);
    assert!(
        unknown.stderr.contains("static-site") && unknown.stderr.contains("websocket-platform"),
        "{}",
        unknown.stderr
    );
}

#[test]
fn help_ends_with_examples() {
    let project = Project::new("help", "");
    for command in [&["--help"][..], &["apply", "--help"], &["destroy", "-h"], &["state", "rm", "--help"]] {
        let run = project.run(command).success();
        assert!(run.stdout.contains("\nExamples:\n  provision"), "{command:?}: {}", run.stdout);
    }
    let init = project.run(&["init", "--help"]).success();
    insta::assert_snapshot!("init_help", init.stdout);
}
