//! Running the real `provision` binary once and measuring it: wall time, peak RSS (from `wait4`),
//! its stderr (where `-v` prints the request and retry counts).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub struct Measurement {
    pub wall: Duration,
    pub peak_rss_kib: i64,
    pub stderr: String,
    pub success: bool,
}

impl Measurement {
    pub fn peak_rss_mb(&self) -> f64 {
        self.peak_rss_kib as f64 / 1024.0
    }

    /// `aws requests: N` from a `-v` run.
    pub fn requests(&self) -> Option<u64> {
        counter(&self.stderr, "aws requests: ")
    }

    /// `aws retries: N` from a `-v` run.
    pub fn retries(&self) -> Option<u64> {
        counter(&self.stderr, "aws retries: ")
    }
}

/// The number after `label` on the last line of `stderr` that has it (`aws retries: N`).
pub fn counter(stderr: &str, label: &str) -> Option<u64> {
    stderr.lines().rev().find_map(|line| line.split(label).nth(1)?.split_whitespace().next()?.parse().ok())
}

/// Runs `binary args` in `dir` with the emulator's dummy credentials, against `endpoint` if given.
pub fn measure(binary: &Path, dir: &Path, endpoint: Option<&str>, args: &[&str]) -> Measurement {
    let mut command = Command::new(binary);
    command.args(args);
    run(command, dir, endpoint)
}

/// The emulator's dummy credentials and region for `command`, and `endpoint` if given (none of
/// the caller's AWS profile or endpoint).
pub fn against_emulator(command: &mut Command, endpoint: Option<&str>) {
    command
        .env("NO_COLOR", "1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_ENDPOINT_URL");
    if let Some(endpoint) = endpoint {
        command.env("AWS_ENDPOINT_URL", endpoint);
    }
}

/// Runs any command the same way (the AWS CLI script).
pub fn run(mut command: Command, dir: &Path, endpoint: Option<&str>) -> Measurement {
    command.current_dir(dir).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped());
    against_emulator(&mut command, endpoint);
    let started = Instant::now();
    let child = command.spawn().expect("run the command");
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

pub fn median_of(runs: usize, mut measure: impl FnMut() -> Measurement) -> Measurement {
    let mut all: Vec<Measurement> = (0..runs).map(|_| measure()).collect();
    all.sort_by_key(|m| m.wall);
    all.swap_remove(runs / 2)
}

pub fn report(label: &str, measurement: &Measurement) {
    println!(
        "  {label:<28} {:>9.1} ms   peak RSS {:>6.1} MB{}",
        measurement.wall.as_secs_f64() * 1000.0,
        measurement.peak_rss_mb(),
        if measurement.success { String::new() } else { format!("   FAILED:\n{}", measurement.stderr) }
    );
}
