//! `provision-bench`: how fast and how lean the engine is, as printed figures (never a timed test).
//!
//! For stacks of 100 and 1,000 generated resources it measures, by running the real `provision`
//! binary: `validate` and offline `plan --refresh=false` (median wall time of several runs, peak RSS
//! of the process). Given an emulator endpoint (`--endpoint URL` or `AWS_ENDPOINT_URL`) it also
//! applies the stack, then measures `plan` with refresh: wall time and the number of AWS requests
//! it made (per resource, too), and destroys the stack again.
//!
//! With `--latency 50ms` it runs the latency scenarios instead (see `latency.rs`): round trips
//! measured through provision-proxy, each against the bound it cannot beat, with the AWS CLI script
//! of the static site (`--aws-cli PATH`) as the seeds' baseline in the same run.
//!
//! With `--time-scale 60` it runs the time-scaled scenario instead (see `paced.rs`): the example
//! web app and websocket platform applied and destroyed behind provision-proxy's "AWS as it
//! behaves" profile, each against the critical path of AWS's own waits (`aws_waits.rs`).
//!
//! With `--stand-in` it runs the order scenario instead (see `ordering.rs`): the example stacks
//! applied and destroyed on a stand-in cloud whose actions take AWS's time (the profile's windows,
//! scaled by `--time-scale`, default 60), critical path first against ready order, at several
//! `--places` (default 1,2,4,auto), each against its lower bound. It needs no emulator.
//!
//! Run it with `scripts/bench`, which builds, starts the emulator and stops it afterwards.

mod aws_waits;
mod images;
mod latency;
mod measure;
mod ordering;
mod paced;
mod stacks;
mod stand_in;

use std::path::{Path, PathBuf};
use std::time::Duration;

use measure::{measure, median_of, report};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |flag: &str| args.windows(2).find(|w| w[0] == flag).map(|w| w[1].clone());
    let endpoint = value("--endpoint").or_else(|| std::env::var("AWS_ENDPOINT_URL").ok().filter(|e| !e.is_empty()));
    let list = |text: String| -> Vec<usize> { text.split(',').filter_map(|s| s.parse().ok()).collect() };
    let names = |text: String| -> Vec<String> {
        text.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect()
    };
    let example_stacks = || vec!["webapp".to_string(), "websocket-platform".to_string()];
    if args.iter().any(|arg| arg == "--stand-in") {
        let time_scale = match value("--time-scale").map(|text| text.parse::<f64>()) {
            None => 60.0,
            Some(Ok(scale)) if scale >= 1.0 => scale,
            Some(_) => {
                eprintln!("provision-bench: --time-scale takes AWS seconds per real second (1 or more), such as 60");
                std::process::exit(2);
            }
        };
        let places = value("--places").unwrap_or_else(|| "1,2,4,auto".into());
        let Ok(places) = names(places).iter().map(|text| text.parse()).collect::<Result<Vec<_>, _>>() else {
            eprintln!("provision-bench: --places takes numbers of actions at once or `auto`, such as 1,2,4,auto");
            std::process::exit(2);
        };
        println!("provision benchmark (stand-in mode): {} cores", num_cpus());
        let options = ordering::Options {
            time_scale,
            stacks: value("--stacks").map(names).unwrap_or_else(example_stacks),
            places,
        };
        ordering::run_all(&options);
        return;
    }
    let binary = provision_binary();
    println!("provision benchmark: {}", binary.display());
    println!(
        "machine: {} cores; emulator: {}",
        num_cpus(),
        endpoint.as_deref().unwrap_or("(none: offline figures only)")
    );
    if let Some(scale) = value("--time-scale") {
        let Some(time_scale) = scale.parse::<f64>().ok().filter(|scale| *scale >= 1.0) else {
            eprintln!("provision-bench: --time-scale takes AWS seconds per real second (1 or more), such as 60");
            std::process::exit(2);
        };
        let Some(endpoint) = endpoint else {
            eprintln!("provision-bench: --time-scale needs the emulator (--endpoint URL)");
            std::process::exit(2);
        };
        let options = paced::Options {
            time_scale,
            disable: value("--disable").map(names).unwrap_or_default(),
            parallelism: value("--parallelism"),
            stacks: value("--stacks").map(names).unwrap_or_else(example_stacks),
        };
        paced::run_all(&binary, &endpoint, &options);
        return;
    }
    if let Some(latency) = value("--latency") {
        let Some(latency) = parse_duration(&latency) else {
            eprintln!("provision-bench: --latency takes a duration such as 50ms");
            std::process::exit(2);
        };
        let Some(endpoint) = endpoint else {
            eprintln!("provision-bench: --latency needs the emulator (--endpoint URL)");
            std::process::exit(2);
        };
        let refresh_latencies = match value("--refresh-latencies").as_deref() {
            None => vec![Duration::from_millis(500)],
            Some("none") => Vec::new(),
            Some(text) => match text.split(',').map(parse_duration).collect::<Option<Vec<_>>>() {
                Some(latencies) => latencies,
                None => {
                    eprintln!("provision-bench: --refresh-latencies takes durations such as 500ms,1s, or none");
                    std::process::exit(2);
                }
            },
        };
        let emulator_queue = match value("--emulator-queue").as_deref() {
            None => latency::EMULATOR_QUEUE,
            Some("none") => None,
            Some(text) => match text.parse::<usize>() {
                Ok(n) if n > 0 => Some(n),
                _ => {
                    eprintln!("provision-bench: --emulator-queue takes a number of requests at once, or none");
                    std::process::exit(2);
                }
            },
        };
        let options = latency::Options {
            latency,
            emulator_queue,
            aws_cli: value("--aws-cli").map(PathBuf::from),
            refresh_sizes: value("--refresh-sizes").map(list).unwrap_or_else(|| vec![300, 1000]),
            independent_size: value("--independent").and_then(|n| n.parse().ok()).unwrap_or(300),
            refresh_latencies,
            spans_dir: value("--spans").map(PathBuf::from),
        };
        latency::run_all(&binary, &endpoint, &options);
        return;
    }
    let sizes = value("--sizes").map(list).unwrap_or_else(|| vec![100, 1000]);
    for size in sizes {
        run_size(&binary, size, endpoint.as_deref());
    }
}

fn parse_duration(text: &str) -> Option<Duration> {
    if let Some(ms) = text.strip_suffix("ms") {
        return ms.parse().ok().map(Duration::from_millis);
    }
    text.strip_suffix('s').unwrap_or(text).parse::<f64>().ok().map(Duration::from_secs_f64)
}

fn run_size(binary: &Path, size: usize, endpoint: Option<&str>) {
    let dir = std::env::temp_dir().join(format!("provision-bench-{}-{size}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("bench folder");
    let name = format!("bench{size}");
    std::fs::write(dir.join("stack.toml"), stacks::tree(&name, size)).expect("write stack");

    println!("\n== {size} resources ==");
    let validate = median_of(5, || measure(binary, &dir, None, &["validate"]));
    report("validate", &validate);
    let offline = median_of(5, || measure(binary, &dir, None, &["plan", "--refresh=false"]));
    report("plan --refresh=false", &offline);

    let Some(endpoint) = endpoint else { return };
    let apply = measure(binary, &dir, Some(endpoint), &["-v", "apply", "--auto-approve"]);
    if !apply.success {
        println!("  apply failed; skipping the refresh figures:\n{}", apply.stderr);
        return;
    }
    println!(
        "  {:<28} {:>9.0} ms   {:>6} AWS requests, peak RSS {:.1} MB (setup for the refresh figures)",
        "apply (create all)",
        apply.wall.as_secs_f64() * 1000.0,
        apply.requests().map(|r| r.to_string()).unwrap_or_else(|| "?".into()),
        apply.peak_rss_mb()
    );
    if let Some(writes) = apply.stderr.lines().rev().find_map(|line| line.split("state writes: ").nth(1)) {
        // Group commit: actions finishing while a write is in flight share the next write.
        println!("  {:<28} {writes}", "state writes (group commit)");
    }
    let refresh = median_of(3, || measure(binary, &dir, Some(endpoint), &["-v", "plan"]));
    report("plan (with refresh)", &refresh);
    if let Some(count) = refresh.requests() {
        println!("  {:<28} {count} AWS requests, {:.2} per resource", "refresh requests", count as f64 / size as f64);
    }
    let destroy = measure(binary, &dir, Some(endpoint), &["destroy", "--auto-approve"]);
    println!(
        "  {:<28} {:>9.0} ms   {}",
        "destroy (clean-up)",
        destroy.wall.as_secs_f64() * 1000.0,
        if destroy.success { "ok" } else { "FAILED" }
    );
    let _ = std::fs::remove_dir_all(&dir);
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
