//! `provision-proxy`: the proxy in front of an emulator, for scripts. Prints its endpoint
//! (`http://127.0.0.1:PORT`) as the first line on stdout and serves until SIGTERM or SIGINT, then
//! prints the profile's summary of the AWS behaviours met on stderr.
//!
//! ```text
//! provision-proxy --upstream http://127.0.0.1:5000 --profile aws --time-scale 60 \
//!     --lost-responses 0.05 --page-size 5 --seed 7 --disable s3.operation-aborted-on-recreate
//! provision-proxy --upstream http://127.0.0.1:5000 --only any.paged-listings --page-size 2
//! ```

use std::io::Write;

use clap::{Parser, ValueEnum};
use provision_proxy::{Profile, ProfileOptions, Proxy};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum ProfileName {
    /// Pass every request through unchanged.
    None,
    /// "AWS as it behaves": eventual consistency, objects in use, slow lifecycles, lost answers,
    /// paged listings.
    Aws,
}

#[derive(Debug, Parser)]
#[command(
    name = "provision-proxy",
    version,
    about = "A proxy in front of an AWS emulator that makes it behave as AWS does"
)]
struct Arguments {
    /// The emulator's endpoint (`http://127.0.0.1:PORT`; loopback only).
    #[arg(long)]
    upstream: String,
    #[arg(long, value_enum, default_value = "aws")]
    profile: ProfileName,
    /// AWS seconds per real second (60: one AWS minute passes in one second).
    #[arg(long, default_value_t = 60.0)]
    time_scale: f64,
    /// The share (0–1) of mutating calls whose answer is lost after the emulator acted.
    #[arg(long, default_value_t = 0.0)]
    lost_responses: f64,
    /// The share (0–1) of calls answered with the protocol's throttling error.
    #[arg(long, default_value_t = 0.0)]
    throttling: f64,
    /// At most this many items per page of a listing (0: no paging).
    #[arg(long, default_value_t = 5)]
    page_size: usize,
    /// Seeds the draws of lost and throttled calls.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// The port to listen on, on 127.0.0.1 (0: a free one).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Turn a rule off by id (repeatable).
    #[arg(long, value_name = "ID")]
    disable: Vec<String>,
    /// Turn every rule off but these (repeatable).
    #[arg(long, value_name = "ID")]
    only: Vec<String>,
    /// Print the rules (id, windows, what each does) and exit.
    #[arg(long)]
    list_rules: bool,
}

fn loopback(upstream: &str) -> bool {
    let host = upstream.trim_start_matches("http://").rsplit_once(':').map_or(upstream, |(host, _)| host);
    matches!(host, "127.0.0.1" | "localhost" | "[::1]")
}

fn share(name: &str, value: f64) -> Result<f64, String> {
    if (0.0..=1.0).contains(&value) {
        Ok(value)
    } else {
        Err(format!("`--{name}` is {value}, a share must be between 0 and 1\n\nhint: e.g. `--{name} 0.05` for one call in twenty"))
    }
}

fn run(arguments: Arguments) -> Result<(), String> {
    if arguments.list_rules {
        for rule in provision_proxy::profile::RULES {
            let windows: Vec<String> =
                rule.phases.iter().map(|(name, time)| format!("{name} {}s", time.as_secs())).collect();
            println!("{:<48} {:<40} {}", rule.id, windows.join(", "), rule.does);
        }
        return Ok(());
    }
    if !loopback(&arguments.upstream) {
        return Err(format!(
            "`--upstream {}` is not a loopback address\n\nhint: the proxy only fronts a local emulator, e.g. `--upstream http://127.0.0.1:5000`",
            arguments.upstream
        ));
    }
    if !(arguments.time_scale.is_finite() && arguments.time_scale > 0.0) {
        return Err(format!(
            "`--time-scale {}` must be a positive number\n\nhint: 60 makes one AWS minute pass in a second",
            arguments.time_scale
        ));
    }
    let options = ProfileOptions {
        time_scale: arguments.time_scale,
        lost_responses: share("lost-responses", arguments.lost_responses)?,
        throttling: share("throttling", arguments.throttling)?,
        page_size: arguments.page_size,
        seed: arguments.seed,
    };
    let profile = match arguments.profile {
        ProfileName::Aws => {
            let profile = Profile::new(options);
            if !arguments.only.is_empty() {
                let only: Vec<&str> = arguments.only.iter().map(String::as_str).collect();
                profile.only(&only).map_err(|error| error.to_string())?;
            }
            for id in &arguments.disable {
                profile.disable(id).map_err(|error| error.to_string())?;
            }
            Some(profile)
        }
        ProfileName::None => None,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|error| format!("cannot start the runtime: {error}"))?;
    runtime.block_on(async {
        let proxy = Proxy::bind(&arguments.upstream, arguments.port, profile).await.map_err(|error| {
            format!(
                "cannot listen on 127.0.0.1:{}: {error}\n\nhint: pick another `--port`, or 0 for a free one",
                arguments.port
            )
        })?;
        let mut stdout = std::io::stdout();
        let _ = writeln!(stdout, "{}", proxy.endpoint());
        let _ = stdout.flush();
        let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .map_err(|error| format!("cannot watch for SIGTERM: {error}"))?;
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = terminate.recv() => {}
        }
        eprint!("{}", proxy.summary());
        Ok(())
    })
}

fn main() {
    if let Err(message) = run(Arguments::parse()) {
        eprintln!("error: {message}");
        std::process::exit(1);
    }
}
