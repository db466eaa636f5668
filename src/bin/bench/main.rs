//! `provision-bench`: how fast and how lean the engine is, as printed figures (never a timed test).
//!
//! For stacks of 100 and 1,000 generated resources it measures, by running the real `provision`
//! binary: `validate` and offline `plan --refresh=false` (median wall time of several runs, peak RSS
//! of the process). Given an emulator endpoint (`--endpoint URL` or `AWS_ENDPOINT_URL`) it also
//! applies the stack, then measures `plan` with refresh: wall time and the number of AWS requests
//! it made (per resource, too), and destroys the stack again.
//!
//! Run it with `scripts/bench`, which builds, starts the emulator and stops it afterwards.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

struct Measurement {
    wall: Duration,
    peak_rss_kib: i64,
    stderr: String,
    success: bool,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let endpoint = args
        .windows(2)
        .find(|w| w[0] == "--endpoint")
        .map(|w| w[1].clone())
        .or_else(|| std::env::var("AWS_ENDPOINT_URL").ok().filter(|e| !e.is_empty()));
    let sizes: Vec<usize> = args
        .windows(2)
        .find(|w| w[0] == "--sizes")
        .map(|w| w[1].split(',').filter_map(|s| s.parse().ok()).collect())
        .unwrap_or_else(|| vec![100, 1000]);
    let binary = provision_binary();
    println!("provision benchmark: {}", binary.display());
    println!(
        "machine: {} cores; emulator: {}",
        num_cpus(),
        endpoint.as_deref().unwrap_or("(none: offline figures only)")
    );
    for size in sizes {
        run_size(&binary, size, endpoint.as_deref());
    }
}

fn run_size(binary: &Path, size: usize, endpoint: Option<&str>) {
    let dir = std::env::temp_dir().join(format!("provision-bench-{}-{size}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("bench folder");
    let name = format!("bench{size}");
    std::fs::write(dir.join("stack.toml"), generate_stack(&name, size)).expect("write stack");

    println!("\n== {size} resources ==");
    let validate = median_of(5, || measure(binary, &dir, None, &["validate"]));
    report("validate", &validate);
    let offline = median_of(5, || measure(binary, &dir, None, &["plan", "--refresh=false"]));
    report("plan --refresh=false", &offline);

    let Some(endpoint) = endpoint else { return };
    let apply = measure(binary, &dir, Some(endpoint), &["-v", "apply", "--auto-approve", "--parallelism", "10"]);
    if !apply.success {
        println!("  apply failed; skipping the refresh figures:\n{}", apply.stderr);
        return;
    }
    println!(
        "  {:<28} {:>9.0} ms   {:>6} AWS requests (setup for the refresh figures)",
        "apply (create all)",
        apply.wall.as_secs_f64() * 1000.0,
        requests(&apply.stderr).map(|r| r.to_string()).unwrap_or_else(|| "?".into())
    );
    if let Some(writes) = apply.stderr.lines().rev().find_map(|line| line.split("state writes: ").nth(1)) {
        // Group commit: actions finishing while a write is in flight share the next write.
        println!("  {:<28} {writes}", "state writes (group commit)");
    }
    let refresh = median_of(3, || measure(binary, &dir, Some(endpoint), &["-v", "plan"]));
    let count = requests(&refresh.stderr);
    report("plan (with refresh)", &refresh);
    if let Some(count) = count {
        println!("  {:<28} {count} AWS requests, {:.2} per resource", "refresh requests", count as f64 / size as f64);
    }
    let destroy = measure(binary, &dir, Some(endpoint), &["destroy", "--auto-approve", "--parallelism", "10"]);
    println!(
        "  {:<28} {:>9.0} ms   {}",
        "destroy (clean-up)",
        destroy.wall.as_secs_f64() * 1000.0,
        if destroy.success { "ok" } else { "FAILED" }
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Buckets in a tree of dependencies, with every tenth resource a CloudFront distribution in front
/// of one of them: references, defaults and the graph all get exercised.
fn generate_stack(name: &str, size: usize) -> String {
    let mut text = format!("[stack]\nname = \"{name}\"\ntags = {{ purpose = \"benchmark\" }}\n\n");
    for i in 0..size {
        if i % 10 == 9 && !cfg_online_only_buckets() {
            text.push_str(&format!(
                "[cloudfront_distribution.cdn{i}]\norigin_bucket = \"${{s3_bucket.b{}.name}}\"\nwait = false\n\n",
                i - 1
            ));
        } else if i == 0 {
            text.push_str("[s3_bucket.b0]\nversioning = true\n\n");
        } else {
            let parent = (i - 1) / 2;
            let parent = if parent % 10 == 9 { parent - 1 } else { parent };
            text.push_str(&format!(
                "[s3_bucket.b{i}]\ntags = {{ index = \"{i}\" }}\ndepends_on = [\"s3_bucket.b{parent}\"]\n\n"
            ));
        }
    }
    text.push_str("[outputs]\nfirst_bucket = \"${s3_bucket.b0.name}\"\n");
    text
}

fn cfg_online_only_buckets() -> bool {
    std::env::var_os("PROVISION_BENCH_BUCKETS_ONLY").is_some()
}

fn measure(binary: &Path, dir: &Path, endpoint: Option<&str>, args: &[&str]) -> Measurement {
    let mut command = Command::new(binary);
    command
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .env("NO_COLOR", "1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env_remove("AWS_ENDPOINT_URL");
    if let Some(endpoint) = endpoint {
        command.env("AWS_ENDPOINT_URL", endpoint);
    }
    let started = Instant::now();
    let child = command.spawn().expect("run provision");
    let pid = child.id() as libc::pid_t;
    let stderr_pipe = child.stderr;
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        if let Some(mut pipe) = stderr_pipe {
            use std::io::Read;
            let _ = pipe.read_to_string(&mut text);
        }
        text
    });
    let mut status = 0;
    // SAFETY: a zeroed rusage is a valid value; wait4 fills it for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waits for the child spawned above, which has not been waited for.
    unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let wall = started.elapsed();
    let stderr = reader.join().unwrap_or_default();
    Measurement {
        wall,
        peak_rss_kib: usage.ru_maxrss,
        stderr,
        success: libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
    }
}

fn median_of(runs: usize, mut measure: impl FnMut() -> Measurement) -> Measurement {
    let mut all: Vec<Measurement> = (0..runs).map(|_| measure()).collect();
    all.sort_by_key(|m| m.wall);
    all.swap_remove(runs / 2)
}

fn report(label: &str, measurement: &Measurement) {
    println!(
        "  {label:<28} {:>9.1} ms   peak RSS {:>6.1} MB{}",
        measurement.wall.as_secs_f64() * 1000.0,
        measurement.peak_rss_kib as f64 / 1024.0,
        if measurement.success { String::new() } else { format!("   FAILED:\n{}", measurement.stderr) }
    );
}

fn requests(stderr: &str) -> Option<u64> {
    stderr.lines().rev().find_map(|line| line.split("aws requests: ").nth(1)?.trim().parse().ok())
}

fn provision_binary() -> PathBuf {
    let me = std::env::current_exe().expect("own path");
    let binary = me.with_file_name("provision");
    assert!(binary.exists(), "build the provision binary first: {}", binary.display());
    binary
}

fn num_cpus() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}
