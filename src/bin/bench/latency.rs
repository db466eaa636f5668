//! Latency mode (`--latency 50ms`): every scenario runs through provision-proxy, which adds the
//! latency to each request and logs when each started and ended. From the log: the requests, the
//! *sequential round trips* (the longest chain of requests each starting after the previous ended),
//! the bound the scenario cannot beat, and the ratio. Setup and clean-up run with no latency.
//!
//! The proxy passes at most [`EMULATOR_QUEUE`] requests to the emulator at once, the others waiting
//! in order of arrival: moto's threads, given hundreds of connections, answer them in no particular
//! order, so a request sent late would overtake ones sent long before it — which AWS, answering each
//! in about its round trip, does not do — and the chain would count moto's scheduling.
//!
//! The seeds' way of deploying the static site, a sequential AWS CLI script, runs through the same
//! proxy in the same run, as the baseline.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use provision_proxy::Proxy;

use crate::measure::{measure, run, Measurement};
use crate::stacks;

/// Requests the proxy passes to the emulator at once by default (`--emulator-queue`).
pub const EMULATOR_QUEUE: Option<usize> = Some(32);

pub struct Options {
    pub latency: Duration,
    /// At most this many requests with the emulator at once, the others queued in arrival order
    /// (`--emulator-queue N`, `none`: all at once).
    pub emulator_queue: Option<usize>,
    /// The `aws` program (scripts/bench installs it into .venv), for the baseline.
    pub aws_cli: Option<PathBuf>,
    pub refresh_sizes: Vec<usize>,
    pub independent_size: usize,
    /// Further latencies the refresh scenarios run behind (`--refresh-latencies 500ms`).
    pub refresh_latencies: Vec<Duration>,
    /// Where to write each scenario's request log (`--spans DIR`): one CSV per scenario.
    pub spans_dir: Option<PathBuf>,
}

struct Figure {
    requests: usize,
    round_trips: usize,
    spans: Vec<provision_proxy::Span>,
    measurement: Measurement,
}

pub fn run_all(binary: &Path, upstream: &str, options: &Options) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a runtime for the proxy");
    let proxy = runtime.block_on(Proxy::start(upstream)).expect("start provision-proxy");
    proxy.set_upstream_limit(options.emulator_queue);
    let endpoint = proxy.endpoint();
    let latency_ms = options.latency.as_secs_f64() * 1000.0;
    println!("\n== latency mode: {latency_ms:.0} ms added to every request (provision-proxy at {endpoint}) ==");
    match options.emulator_queue {
        Some(n) => {
            println!("  (the proxy passes at most {n} requests to the emulator at once, the rest in order of arrival)")
        }
        None => println!("  (the proxy passes every request to the emulator at once)"),
    }
    println!(
        "  {:<38} {:>8} {:>8} {:>6} {:>7} {:>9} {:>8} {:>8} {:>8}",
        "scenario", "requests", "rounds", "bound", "ratio", "wall ms", "wall/bnd", "RSS MB", "retries"
    );
    let emulator_rate = emulator_throughput(upstream);

    let site = static_site(binary, &proxy, options);
    if let Some(aws_cli) = &options.aws_cli {
        let cli = aws_cli_site(aws_cli, &proxy, options);
        if let (Some(site), Some(cli)) = (site, cli) {
            println!(
                "  -> provision's static site apply is {:.1}x faster than the AWS CLI script ({:.0} ms vs {:.0} ms)",
                cli.as_secs_f64() / site.as_secs_f64(),
                site.as_secs_f64() * 1000.0,
                cli.as_secs_f64() * 1000.0
            );
        }
    } else {
        println!("  (no AWS CLI given: the seeds' baseline is skipped; scripts/bench installs it)");
    }
    if options.independent_size > 0 {
        independent_apply(binary, &proxy, options, emulator_rate);
    }
    for &size in &options.refresh_sizes {
        mixed_refresh(binary, &proxy, options, size, emulator_rate);
    }
}

/// Runs `what` behind the latency and returns the figure from the proxy's log.
fn behind_latency(proxy: &Proxy, latency: Duration, what: impl FnOnce() -> Measurement) -> Figure {
    proxy.reset_log();
    proxy.set_latency(latency);
    let measurement = what();
    proxy.set_latency(Duration::ZERO);
    let log = proxy.log();
    Figure { requests: log.len(), round_trips: provision_proxy::round_trips(&log), spans: log, measurement }
}

fn print(label: &str, figure: &Figure, bound: usize, bound_time: Duration, options: &Options) {
    if let Some(dir) = &options.spans_dir {
        write_spans(dir, label, &figure.spans);
    }
    let wall = figure.measurement.wall;
    println!(
        "  {:<38} {:>8} {:>8} {:>6} {:>6.2}x {:>9.0} {:>7.2}x {:>8.1} {:>8}{}",
        label,
        figure.requests,
        figure.round_trips,
        bound,
        figure.round_trips as f64 / bound as f64,
        wall.as_secs_f64() * 1000.0,
        wall.as_secs_f64() / bound_time.as_secs_f64(),
        figure.measurement.peak_rss_mb(),
        figure.measurement.retries().map(|r| r.to_string()).unwrap_or_else(|| "-".into()),
        if figure.measurement.success { String::new() } else { format!("   FAILED:\n{}", figure.measurement.stderr) }
    );
    // The requests it waited for, one round trip after another.
    let chain: Vec<String> =
        provision_proxy::critical_chain(&figure.spans).iter().map(|span| short_operation(&span.operation)).collect();
    if !chain.is_empty() {
        println!("      chain: {}", chain.join(" → "));
    }
    // Where the requests went: the operations that made most of them.
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for span in &figure.spans {
        *counts.entry(short_operation(&span.operation)).or_default() += 1;
    }
    let mut counts: Vec<(String, usize)> = counts.into_iter().collect();
    counts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    if counts.len() > 1 {
        let most: Vec<String> = counts.iter().take(8).map(|(operation, n)| format!("{operation} {n}")).collect();
        println!("      most requests: {}", most.join(", "));
    }
}

/// The request log as `start_ms,end_ms,operation`, in order of start, to `DIR/<label>.csv`.
fn write_spans(dir: &Path, label: &str, spans: &[provision_proxy::Span]) {
    let name: String = label.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
    let mut sorted: Vec<&provision_proxy::Span> = spans.iter().collect();
    sorted.sort_by_key(|span| span.start);
    let mut text = String::from("start_ms,end_ms,operation\n");
    for span in sorted {
        text.push_str(&format!(
            "{:.1},{:.1},{}\n",
            span.start.as_secs_f64() * 1000.0,
            span.end.as_secs_f64() * 1000.0,
            span.operation.replace(',', "%2C")
        ));
    }
    let path = dir.join(format!("{name}.csv"));
    match std::fs::create_dir_all(dir).and_then(|()| std::fs::write(&path, text)) {
        Ok(()) => println!("      requests logged to {}", path.display()),
        Err(error) => println!("      (could not write {}: {error})", path.display()),
    }
}

/// `GetRole` as it is; REST requests without their bucket or id (`PUT /b/k?tagging` → `PUT ?tagging`,
/// `PUT /b/index.html?x-id=PutObject` → `PutObject`).
fn short_operation(operation: &str) -> String {
    let Some((method, target)) = operation.split_once(' ') else { return operation.to_string() };
    if let Some((_, id)) = target.split_once("x-id=") {
        return id.split('&').next().unwrap_or(id).to_string();
    }
    match target.split_once('?') {
        Some((path, query)) if path.starts_with("/20") => format!("{method} {path}?{query}"),
        Some((_, query)) => format!("{method} ?{}", query.split('&').next().unwrap_or(query)),
        None if target.starts_with("/20") => {
            let kept: Vec<&str> = target.split('/').take(3).collect();
            format!("{method} {}", kept.join("/"))
        }
        None => format!("{method} /bucket"),
    }
}

fn scenario_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("provision-bench-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("bench folder");
    dir
}

fn write_site_files(dir: &Path) {
    std::fs::create_dir_all(dir.join("site")).expect("site folder");
    for (name, content) in stacks::SITE_FILES {
        std::fs::write(dir.join("site").join(name), content).expect("site file");
    }
}

/// The critical path of the static site: CreateBucket → CreateDistribution → PutBucketPolicy → the
/// distribution read back (deployed). Everything else can run alongside these four.
const SITE_BOUND: usize = 4;

fn static_site(binary: &Path, proxy: &Proxy, options: &Options) -> Option<Duration> {
    let dir = scenario_dir("site");
    write_site_files(&dir);
    let endpoint = proxy.endpoint();
    // Once with no latency first, then destroyed: moto loads a service's code on its first request,
    // and that first time would otherwise fall on provision's run and not on the AWS CLI's after it.
    let warm_up = format!("provision-bench-warm-{}", std::process::id());
    std::fs::write(dir.join("stack.toml"), stacks::static_site("benchwarm", &warm_up)).expect("write stack");
    for command in [&["apply", "--auto-approve"][..], &["destroy", "--auto-approve"]] {
        let step = measure(binary, &dir, Some(&endpoint), command);
        if !step.success {
            println!("  static site warm-up {} FAILED:\n{}", command[0], step.stderr);
        }
    }
    let bucket = format!("provision-bench-site-{}", std::process::id());
    std::fs::write(dir.join("stack.toml"), stacks::static_site("benchsite", &bucket)).expect("write stack");
    let figure = behind_latency(proxy, options.latency, || {
        measure(binary, &dir, Some(&endpoint), &["-v", "apply", "--auto-approve"])
    });
    print("static site apply (bucket+3 files+CDN)", &figure, SITE_BOUND, options.latency * SITE_BOUND as u32, options);
    let destroy = measure(binary, &dir, Some(&endpoint), &["destroy", "--auto-approve"]);
    if !destroy.success {
        println!("  static site destroy FAILED:\n{}", destroy.stderr);
    }
    let _ = std::fs::remove_dir_all(&dir);
    figure.measurement.success.then_some(figure.measurement.wall)
}

/// The same site the way the seeds deploy it: one AWS CLI command after another.
fn aws_cli_site(aws_cli: &Path, proxy: &Proxy, options: &Options) -> Option<Duration> {
    let dir = scenario_dir("site-cli");
    write_site_files(&dir);
    let bucket = format!("provision-bench-cli-{}", std::process::id());
    let script = format!(
        r#"set -euo pipefail
aws() {{ "{aws}" "$@"; }}
aws s3api create-bucket --bucket {bucket} >/dev/null
aws s3api put-public-access-block --bucket {bucket} --public-access-block-configuration BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=true,RestrictPublicBuckets=true
aws s3 cp site/index.html s3://{bucket}/index.html >/dev/null
aws s3 cp site/site.css s3://{bucket}/site.css >/dev/null
aws s3 cp site/app.js s3://{bucket}/app.js >/dev/null
arn="$(aws cloudfront create-distribution --origin-domain-name {bucket}.s3.us-east-1.amazonaws.com --default-root-object index.html --query Distribution.ARN --output text)"
aws s3api put-bucket-policy --bucket {bucket} --policy "{{\"Version\":\"2012-10-17\",\"Statement\":[{{\"Effect\":\"Allow\",\"Principal\":{{\"Service\":\"cloudfront.amazonaws.com\"}},\"Action\":\"s3:GetObject\",\"Resource\":\"arn:aws:s3:::{bucket}/*\",\"Condition\":{{\"StringEquals\":{{\"AWS:SourceArn\":\"$arn\"}}}}}}]}}"
"#,
        aws = aws_cli.display()
    );
    std::fs::write(dir.join("deploy.sh"), script).expect("write script");
    let endpoint = proxy.endpoint();
    let figure = behind_latency(proxy, options.latency, || {
        let mut command = Command::new("bash");
        command.arg("deploy.sh");
        run(command, &dir, Some(&endpoint))
    });
    print("static site by AWS CLI script (seeds)", &figure, SITE_BOUND, options.latency * SITE_BOUND as u32, options);
    let _ = std::fs::remove_dir_all(&dir);
    figure.measurement.success.then_some(figure.measurement.wall)
}

/// Independent buckets: the round-trip bound is the account check, CreateBucket, then its public
/// access block and tags together (3); the emulator's own throughput is the other limit (against
/// AWS, the account's rate limits are).
fn independent_apply(binary: &Path, proxy: &Proxy, options: &Options, emulator_rate: f64) {
    let size = options.independent_size;
    let dir = scenario_dir("independent");
    std::fs::write(dir.join("stack.toml"), stacks::independent(&format!("ind{size}"), size)).expect("write stack");
    let endpoint = proxy.endpoint();
    let figure = behind_latency(proxy, options.latency, || {
        measure(binary, &dir, Some(&endpoint), &["-v", "apply", "--auto-approve"])
    });
    let bound = 3;
    let bound_time = time_bound(&figure, bound, options.latency, emulator_rate);
    print(&format!("independent apply ({size} buckets)"), &figure, bound, bound_time, options);
    print_time_bound(&figure, bound, options.latency, emulator_rate);
    let destroy = measure(binary, &dir, Some(&endpoint), &["destroy", "--auto-approve"]);
    if !destroy.success {
        println!("  independent destroy FAILED:\n{}", destroy.stderr);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A refresh reads every type at once: one round of lists and one of batched reads (2). Behind the
/// main latency the emulator's throughput is the other limit, as for the independent apply, and the
/// chain of round trips then counts how its queue interleaved the requests; behind each of
/// `--refresh-latencies` (default 500 ms, where 256 requests in flight ask for fewer a second than
/// the emulator serves) the round trips are the refresh's own, as against AWS.
fn mixed_refresh(binary: &Path, proxy: &Proxy, options: &Options, size: usize, emulator_rate: f64) {
    let dir = scenario_dir(&format!("mixed{size}"));
    std::fs::write(dir.join("stack.toml"), stacks::mixed(&format!("mix{size}"), size)).expect("write stack");
    let endpoint = proxy.endpoint();
    let setup = measure(binary, &dir, Some(&endpoint), &["-v", "apply", "--auto-approve"]);
    if !setup.success {
        println!("  setup of the {size}-resource mixed stack FAILED:\n{}", setup.stderr);
        return;
    }
    println!(
        "  (setup: {size}-resource apply, no latency: {:.1} s, peak RSS {:.1} MB)",
        setup.wall.as_secs_f64(),
        setup.peak_rss_mb()
    );
    let bound = 2;
    for (index, &latency) in std::iter::once(&options.latency).chain(&options.refresh_latencies).enumerate() {
        let figure = behind_latency(proxy, latency, || measure(binary, &dir, Some(&endpoint), &["-v", "plan"]));
        let bound_time = time_bound(&figure, bound, latency, emulator_rate);
        let label = if index == 0 {
            format!("refresh ({size} resources, 8 types)")
        } else {
            format!("  the {size}, behind {:.0} ms", latency.as_secs_f64() * 1000.0)
        };
        print(&label, &figure, bound, bound_time, options);
        print_time_bound(&figure, bound, latency, emulator_rate);
    }
    let destroy = measure(binary, &dir, Some(&endpoint), &["destroy", "--auto-approve"]);
    if !destroy.success {
        println!("  mixed destroy FAILED:\n{}", destroy.stderr);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// What a scenario's wall time cannot beat: its bound's round trips, or its requests at the
/// emulator's rate (against AWS, the account's rate limits), whichever is longer.
fn time_bound(figure: &Figure, bound: usize, latency: Duration, emulator_rate: f64) -> Duration {
    (latency * bound as u32).max(Duration::from_secs_f64(figure.requests as f64 / emulator_rate))
}

fn print_time_bound(figure: &Figure, bound: usize, latency: Duration, emulator_rate: f64) {
    println!(
        "  -> its time bound: max({bound} round trips = {:.0} ms, {} requests at the emulator's {:.0} requests/s = {:.0} ms)",
        (latency * bound as u32).as_secs_f64() * 1000.0,
        figure.requests,
        emulator_rate,
        figure.requests as f64 / emulator_rate * 1000.0
    );
}

/// Requests per second the emulator serves with 32 connections at once: a CreateBucket, a
/// PutBucketTagging and a DeleteBucket for each of 128 probe buckets, straight to the emulator.
/// Measured the second time: the first loads moto's S3 code, which a fresh emulator does on its
/// first S3 request, and would count a one-off cost as the rate.
fn emulator_throughput(upstream: &str) -> f64 {
    let address = upstream.trim_start_matches("http://").trim_end_matches('/').to_string();
    probe_emulator(&address);
    let rate = probe_emulator(&address);
    println!("  (the emulator serves {rate:.0} requests/s: S3 bucket calls, 32 at once, no latency)");
    rate
}

fn probe_emulator(address: &str) -> f64 {
    let probes = 128;
    let started = Instant::now();
    let mut requests = 0usize;
    for (method, query, body) in [
        ("PUT", "", ""),
        ("PUT", "?tagging", "<Tagging><TagSet><Tag><Key>a</Key><Value>b</Value></Tag></TagSet></Tagging>"),
        ("DELETE", "", ""),
    ] {
        let chunks: Vec<Vec<usize>> = (0..probes).collect::<Vec<_>>().chunks(probes / 32).map(|c| c.to_vec()).collect();
        let threads: Vec<_> = chunks
            .into_iter()
            .map(|chunk| {
                let address = address.to_string();
                std::thread::spawn(move || {
                    for n in chunk {
                        let path = format!("/provision-bench-probe-{}-{n}{query}", std::process::id());
                        let _ = http(&address, method, &path, body);
                    }
                })
            })
            .collect();
        for thread in threads {
            let _ = thread.join();
        }
        requests += probes;
    }
    requests as f64 / started.elapsed().as_secs_f64()
}

fn http(address: &str, method: &str, path: &str, body: &str) -> std::io::Result<()> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(address)?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer)?;
    Ok(())
}
