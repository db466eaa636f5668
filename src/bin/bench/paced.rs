//! Time-scaled mode (`--time-scale 60`): the example stacks applied and destroyed against the
//! emulator behind provision-proxy's "AWS as it behaves" profile, which makes moto take AWS's time
//! (a database `creating` for minutes, a distribution `InProgress`, a service rolling out, security
//! groups in use while interfaces linger …), scaled: `time_scale` AWS seconds pass in one real
//! second, and provision scales its own waits and polls by the same factor
//! (`PROVISION_TIME_SCALE`). Each run is printed against its bound, the critical path of AWS's own
//! waits through the stack's dependency graph (`aws_waits.rs`), with the ratio and, action by
//! action, when it started, when it could have started at the earliest, and how long it took.
//!
//! Each stack runs once first at ten times the scale, unmeasured: moto loads a service's code on
//! its first request, which would otherwise fall on the measured run.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use provision_proxy::{ProfileOptions, Proxy};

use crate::aws_waits::{self, aws_time, Bound, Direction, Graph};
use crate::images;
use crate::measure::{against_emulator, counter};

pub struct Options {
    /// AWS seconds per real second, for the profile and for provision.
    pub time_scale: f64,
    /// Profile rules turned off (`--disable ID,ID`).
    pub disable: Vec<String>,
    /// `--parallelism` for provision (its default, `auto`, when `None`).
    pub parallelism: Option<String>,
    /// The stacks to run, by file name under `stacks/` (`--stacks webapp`).
    pub stacks: Vec<String>,
}

/// The ratio of wall time to the bound the runs aim at.
const TARGET: f64 = 1.1;

/// One action of a run: when it started (since the process did), how long it took.
struct Step {
    address: String,
    action: String,
    started: Duration,
    took: Option<Duration>,
    failed: Option<String>,
}

struct TimedRun {
    wall: Duration,
    success: bool,
    steps: Vec<Step>,
    stderr: String,
}

pub fn run_all(binary: &Path, upstream: &str, options: &Options) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a runtime for the proxy");
    println!(
        "\n== time-scaled mode: AWS as it behaves (provision-proxy's profile), {:.0} AWS seconds a second ==",
        options.time_scale
    );
    if !options.disable.is_empty() {
        println!("  (rules turned off, weighing nothing in the bounds too: {})", options.disable.join(", "));
    }
    if let Some(parallelism) = &options.parallelism {
        println!("  (provision runs with --parallelism {parallelism})");
    }
    let mut rows = Vec::new();
    for name in &options.stacks {
        rows.extend(stack(binary, upstream, &runtime, options, name));
    }
    if !rows.is_empty() {
        println!("\n  {:<34} {:>9} {:>9} {:>7}   target ≤ {TARGET}×", "run", "wall s", "bound s", "ratio");
        for (label, wall, bound) in rows {
            let ratio = wall / bound;
            let verdict = if ratio <= TARGET { "met" } else { "NOT met" };
            println!("  {label:<34} {wall:>9.2} {bound:>9.2} {ratio:>6.2}×   {verdict}");
        }
    }
}

/// Applies and destroys one example stack; returns `(label, wall s, bound s)` per measured run.
fn stack(
    binary: &Path,
    upstream: &str,
    runtime: &tokio::runtime::Runtime,
    options: &Options,
    name: &str,
) -> Vec<(String, f64, f64)> {
    let dir = prepare(name);
    let mut extra: Vec<String> = Vec::new();
    let mut zone = None;
    if stack_text(&dir).contains("${var.domain}") {
        // The hosted zone exists before the stack, as its comment asks of a user.
        let domain = format!("bench{}.example.com", std::process::id());
        zone = create_zone(upstream, &domain);
        extra.extend(["--var".into(), format!("domain={domain}")]);
    }
    let args = |command: &str| -> Vec<String> {
        let mut args: Vec<String> = vec!["-v".into(), command.into(), "--auto-approve".into(), "--json".into()];
        if let Some(parallelism) = &options.parallelism {
            args.extend(["--parallelism".into(), parallelism.clone()]);
        }
        args.extend(extra.iter().cloned());
        args
    };
    let graph = Graph::from_dot(&graph_dot(binary, &dir, &extra));
    println!("\n  {name} ({} resources)", graph.len());

    // Warm: the same runs at ten times the scale, not measured.
    let warm_scale = options.time_scale * 10.0;
    let proxy = start_proxy(runtime, upstream, warm_scale, options);
    let images = images::deployed_by_digest(&dir);
    let push = |endpoint: &str, scale: f64| {
        if images.is_empty() {
            return;
        }
        // The repositories first, then the images a user would push: the plan reads their digests.
        let mut targeted = args("apply");
        for image in &images {
            targeted.extend(["--target".into(), format!("ecr_repository.{}", image.repository)]);
        }
        let run = timed_run(binary, &dir, endpoint, scale, &targeted);
        if !run.success {
            println!("    (could not make the image repositories:\n{})", indent(&run.stderr, "      "));
        } else if let Err(error) = images::push(upstream, &dir, &images) {
            println!("    (could not push the images: {error})");
        }
    };
    push(&proxy.endpoint(), warm_scale);
    let warm_apply = timed_run(binary, &dir, &proxy.endpoint(), warm_scale, &args("apply"));
    let warm_destroy = timed_run(binary, &dir, &proxy.endpoint(), warm_scale, &args("destroy"));
    println!(
        "    (warm-up at {warm_scale:.0}×: apply {:.2} s{}, destroy {:.2} s{})",
        warm_apply.wall.as_secs_f64(),
        if warm_apply.success { "" } else { " FAILED" },
        warm_destroy.wall.as_secs_f64(),
        if warm_destroy.success { "" } else { " FAILED" },
    );
    drop(proxy);

    let proxy = start_proxy(runtime, upstream, options.time_scale, options);
    let enabled = |rule: &str| proxy.profile().is_some_and(|profile| profile.is_enabled(rule));
    let mut rows = Vec::new();
    let mut applied = false;
    for (command, direction) in [("apply", Direction::Apply), ("destroy", Direction::Destroy)] {
        let bound = aws_waits::critical_path(&graph, direction, &enabled);
        if direction == Direction::Apply {
            push(&proxy.endpoint(), options.time_scale);
        }
        let run = timed_run(binary, &dir, &proxy.endpoint(), options.time_scale, &args(command));
        let bound_s = bound.total.as_secs_f64() / options.time_scale;
        if direction == Direction::Destroy && !applied {
            // What a failed apply left is removed, but it is not the stack's destroy.
            println!("    destroy of what the failed apply made (not measured): {}", outcome(&run));
            continue;
        }
        print_run(command, &run, &bound, options.time_scale);
        applied = run.success;
        if run.success {
            rows.push((format!("{name} {command}"), run.wall.as_secs_f64(), bound_s));
        }
    }
    let summary = proxy.summary();
    if !summary.is_empty() {
        println!("    what the profile answered in those two runs:");
        for line in summary.lines() {
            println!("      {line}");
        }
    }
    drop(proxy);
    if let Some(zone) = zone {
        delete_zone(upstream, &zone);
    }
    let _ = std::fs::remove_dir_all(&dir);
    rows
}

fn start_proxy(runtime: &tokio::runtime::Runtime, upstream: &str, scale: f64, options: &Options) -> Proxy {
    let profile = ProfileOptions { time_scale: scale, ..ProfileOptions::default() };
    let proxy = runtime.block_on(Proxy::start_with_profile(upstream, profile)).expect("start provision-proxy");
    if let Some(profile) = proxy.profile() {
        for rule in &options.disable {
            if let Err(error) = profile.disable(rule) {
                eprintln!("provision-bench: {error}");
                std::process::exit(2);
            }
        }
    }
    proxy
}

fn outcome(run: &TimedRun) -> String {
    if run.success {
        format!("{:.2} s", run.wall.as_secs_f64())
    } else {
        format!("FAILED:\n{}", indent(&run.stderr, "        "))
    }
}

fn print_run(command: &str, run: &TimedRun, bound: &Bound, scale: f64) {
    let real = |aws: Duration| aws.as_secs_f64() / scale;
    let wall = run.wall.as_secs_f64();
    let bound_s = real(bound.total);
    println!(
        "    {command:<8} wall {wall:.2} s, bound {bound_s:.2} s ({} of AWS time), ratio {:.2}×{}",
        aws_time(bound.total),
        wall / bound_s,
        if run.success { String::new() } else { "   FAILED".into() }
    );
    let path: Vec<String> =
        bound.path.iter().map(|timing| format!("{} {}", timing.address, aws_time(timing.own))).collect();
    println!("      critical path: {}", path.join(" → "));
    println!("      {:>8} {:>8} {:>8} {:>8}   action (* on the critical path)", "started", "earliest", "took", "AWS's");
    let on_path = |address: &str| bound.path.iter().any(|timing| timing.address == address);
    let mut steps: Vec<&Step> = run.steps.iter().collect();
    steps.sort_by_key(|step| step.started);
    for step in steps {
        let timing = bound.timings.get(&step.address);
        println!(
            "      {:>8.2} {:>8} {:>8} {:>8}   {}{} {}{}",
            step.started.as_secs_f64(),
            timing.map(|t| format!("{:.2}", real(t.earliest_start))).unwrap_or_else(|| "-".into()),
            step.took.map(|took| format!("{:.2}", took.as_secs_f64())).unwrap_or_else(|| "-".into()),
            timing.map(|t| format!("{:.2}", real(t.own))).unwrap_or_else(|| "-".into()),
            if on_path(&step.address) { "*" } else { " " },
            step.address,
            step.action,
            step.failed.as_deref().map(|message| format!("   FAILED: {message}")).unwrap_or_default(),
        );
    }
    if !run.success {
        println!("      stderr:\n{}", indent(&run.stderr, "        "));
    } else if let Some(retries) = counter(&run.stderr, "aws retries: ") {
        println!("      AWS retries: {retries}");
    }
}

fn indent(text: &str, prefix: &str) -> String {
    text.lines().map(|line| format!("{prefix}{line}")).collect::<Vec<_>>().join("\n")
}

/// A copy of `stacks/NAME.toml` and its upload folder in a folder of its own (the state lands
/// there). Services deploy their images by digest as the stacks say: the images are pushed before
/// each apply (`images.rs`).
fn prepare(name: &str) -> PathBuf {
    let stacks = Path::new(env!("CARGO_MANIFEST_DIR")).join("stacks");
    let dir = std::env::temp_dir().join(format!("provision-bench-{}-paced-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("bench folder");
    let text = std::fs::read_to_string(stacks.join(format!("{name}.toml"))).expect("read the example stack");
    std::fs::write(dir.join("stack.toml"), text).expect("write the stack");
    let uploads = stacks.join(name);
    if uploads.is_dir() {
        copy_folder(&uploads, &dir.join(name));
    }
    dir
}

fn stack_text(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("stack.toml")).unwrap_or_default()
}

fn copy_folder(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("upload folder");
    for entry in std::fs::read_dir(from).expect("read the upload folder").flatten() {
        let path = entry.path();
        if path.is_dir() {
            copy_folder(&path, &to.join(entry.file_name()));
        } else {
            std::fs::copy(&path, to.join(entry.file_name())).expect("copy an upload");
        }
    }
}

/// `provision graph` (offline).
fn graph_dot(binary: &Path, dir: &Path, extra: &[String]) -> String {
    let mut args = vec!["graph".to_string()];
    args.extend(extra.iter().cloned());
    let output = Command::new(binary).args(&args).current_dir(dir).env("NO_COLOR", "1").output().expect("run graph");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Runs `provision ARGS` (with `--json`) against `endpoint`, noting when each action started.
fn timed_run(binary: &Path, dir: &Path, endpoint: &str, scale: f64, args: &[String]) -> TimedRun {
    let mut command = Command::new(binary);
    command.args(args).current_dir(dir).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    against_emulator(&mut command, Some(endpoint));
    command.env("PROVISION_TIME_SCALE", format!("{scale}")).env_remove("DEPLOY_WEBHOOK_URL");
    let started = Instant::now();
    let mut child = command.spawn().expect("run provision");
    let mut stderr_pipe = child.stderr.take().expect("stderr");
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr_pipe.read_to_string(&mut text);
        text
    });
    let mut steps: Vec<Step> = Vec::new();
    for line in BufReader::new(child.stdout.take().expect("stdout")).lines().map_while(Result::ok) {
        let at = started.elapsed();
        let Ok(event) = serde_json::from_str::<serde_json::Value>(&line) else { continue };
        let text = |key: &str| event[key].as_str().unwrap_or_default().to_string();
        let address = text("address");
        match event["type"].as_str() {
            Some("started") => {
                steps.push(Step { address, action: text("action"), started: at, took: None, failed: None })
            }
            Some(kind @ ("finished" | "failed")) => {
                if let Some(step) = steps.iter_mut().rev().find(|step| step.address == address && step.took.is_none()) {
                    step.took = Some(at - step.started);
                    if kind == "failed" {
                        step.failed = Some(text("message"));
                    }
                }
            }
            _ => {}
        }
    }
    let status = child.wait().expect("wait for provision");
    let wall = started.elapsed();
    TimedRun { wall, success: status.success(), steps, stderr: reader.join().unwrap_or_default() }
}

/// Makes the hosted zone straight at the emulator (not through the proxy: a user's zone is old);
/// returns its id.
fn create_zone(upstream: &str, domain: &str) -> Option<String> {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><CreateHostedZoneRequest \
         xmlns=\"https://route53.amazonaws.com/doc/2013-04-01/\"><Name>{domain}</Name>\
         <CallerReference>provision-bench-{domain}</CallerReference></CreateHostedZoneRequest>"
    );
    match route53(upstream, "POST", "/2013-04-01/hostedzone", &body) {
        Ok(answer) => {
            let id = answer.split("<Id>").nth(1).and_then(|rest| rest.split("</Id>").next());
            let id = id.map(|id| id.trim_start_matches("/hostedzone/").to_string());
            if id.is_none() {
                println!("    (could not create the hosted zone {domain}: {answer})");
            }
            id
        }
        Err(error) => {
            println!("    (could not create the hosted zone {domain}: {error})");
            None
        }
    }
}

fn delete_zone(upstream: &str, id: &str) {
    let _ = route53(upstream, "DELETE", &format!("/2013-04-01/hostedzone/{id}"), "");
}

/// One Route 53 request to the emulator; returns the answer's body.
fn route53(upstream: &str, method: &str, path: &str, body: &str) -> std::io::Result<String> {
    images::emulator_request(upstream, "route53", method, path, &[("Content-Type", "text/xml")], body)
}
