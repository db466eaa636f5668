//! The command line (SPEC §1): flags become options, and each command calls one function in
//! [`crate::ops`].

mod examples;
mod json_reporter;
mod live_reporter;
mod progress;
mod terminal_reporter;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

pub use progress::Progress;

use provision_core::address::Address;
use provision_core::executor::Parallelism;
use provision_core::render::Paint;

use crate::ops::{self, GlobalOptions};

#[derive(Parser, Debug)]
#[command(
    name = "provision",
    version,
    about = "Declarative AWS infrastructure for web apps: plan, apply, import, destroy",
    after_help = examples::PROVISION
)]
pub struct Cli {
    /// Stack file
    #[arg(short = 'f', long = "stack", global = true, default_value = "stack.toml", value_name = "FILE")]
    pub stack: PathBuf,
    /// Override a [variables] entry (repeatable)
    #[arg(long = "var", global = true, value_name = "KEY=VALUE", value_parser = parse_variable)]
    pub variables: Vec<(String, String)>,
    /// Send every AWS call to this endpoint (a local emulator)
    #[arg(long, global = true, env = "AWS_ENDPOINT_URL", value_name = "URL")]
    pub endpoint: Option<String>,
    /// AWS region (otherwise the stack file, then the AWS config chain)
    #[arg(long, global = true, value_name = "R")]
    pub region: Option<String>,
    /// AWS profile
    #[arg(long, global = true, value_name = "P")]
    pub profile: Option<String>,
    /// No colours (also NO_COLOR, or when stdout is not a terminal)
    #[arg(long = "no-color", global = true)]
    pub no_color: bool,
    /// Less output
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// More log (repeat for more); PROVISION_LOG=debug is the env form
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Check the stack file offline: syntax, types, references, cycles, AWS naming rules
    #[command(after_help = examples::VALIDATE)]
    Validate,
    /// Show what apply would do
    #[command(after_help = examples::PLAN)]
    Plan(PlanArgs),
    /// Make AWS match the stack file
    #[command(after_help = examples::APPLY)]
    Apply(ApplyArgs),
    /// Delete everything the state holds
    #[command(after_help = examples::DESTROY)]
    Destroy(DestroyArgs),
    /// Adopt an existing AWS resource into the state: `import ADDR ID`; write a stack file for
    /// existing resources and adopt them: `import --generate FILE ADDR=ID ...`; or move a whole
    /// Terraform or CloudFormation deployment in: `import --from-terraform STATE`
    #[command(after_help = examples::IMPORT)]
    Import {
        /// Write a new stack file describing the resources given as ADDR=ID
        #[arg(long, value_name = "FILE")]
        generate: Option<PathBuf>,
        /// Adopt every resource of a Terraform state (a file, or s3://BUCKET/KEY); it is only read
        #[arg(long, value_name = "STATE", conflicts_with = "generate")]
        from_terraform: Option<String>,
        /// Adopt every resource of a CloudFormation stack (repeatable); the stack is only read
        #[arg(long, value_name = "STACK", conflicts_with_all = ["generate", "from_terraform"])]
        from_cloudformation: Vec<String>,
        /// With --from-*: the stack file to write (default: the -f file, ./stack.toml)
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// With --generate or --from-*: the new stack's name (default: from the file, the folder or the CloudFormation stack)
        #[arg(long = "name", value_name = "STACK")]
        stack_name: Option<String>,
        /// `ADDR ID`, or with --generate `ADDR=ID ...`
        #[arg(required_unless_present_any = ["from_terraform", "from_cloudformation"])]
        args: Vec<String>,
        #[command(flatten)]
        lock: LockArgs,
    },
    /// Print the stack's outputs from the state
    #[command(after_help = examples::OUTPUT)]
    Output {
        /// One output
        name: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Inspect or change the state
    #[command(after_help = examples::STATE)]
    State {
        #[command(subcommand)]
        command: StateCommand,
        #[command(flatten)]
        lock: LockArgs,
    },
    /// Destroy every preview environment whose `apply --ttl` has passed (found by its state and its tags)
    #[command(after_help = examples::SWEEP)]
    Sweep(SweepArgs),
    /// Refresh only and report every change made outside provision; exit 2 when anything changed
    #[command(after_help = examples::DRIFT)]
    Drift {
        #[arg(long)]
        json: bool,
    },
    /// Remove a state lock its holder left (the id is printed in the "locked" error)
    #[command(name = "force-unlock", after_help = examples::FORCE_UNLOCK)]
    ForceUnlock {
        #[arg(value_name = "LOCK_ID")]
        lock_id: String,
    },
    /// The dependency graph as Graphviz DOT
    #[command(after_help = examples::GRAPH)]
    Graph,
    /// The JSON Schema of the stack format (for editors)
    #[command(after_help = examples::SCHEMA)]
    Schema {
        /// The resource reference as Markdown instead (docs/resources.md)
        #[arg(long)]
        markdown: bool,
    },
    /// Write a commented starter stack file (`-f`, default ./stack.toml) from an example stack
    #[command(after_help = examples::INIT)]
    Init {
        /// Which example stack to start from
        #[arg(long, value_name = "NAME", value_parser = template_names())]
        template: Option<String>,
        /// The stack's name (default: the current folder's name, made valid)
        #[arg(long, value_name = "STACK")]
        name: Option<String>,
    },
    /// Print a shell completion script
    #[command(after_help = examples::COMPLETIONS)]
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

/// `--template`'s values, with what each template makes (shown in `--help` and completions).
fn template_names() -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(
        ops::templates::TEMPLATES.iter().map(|t| clap::builder::PossibleValue::new(t.name).help(t.description)),
    )
}

#[derive(Args, Debug, Clone)]
pub struct LockArgs {
    /// How long to wait while another run holds the state lock (`30s`, `5m`; default: fail at once)
    #[arg(long = "lock-timeout", value_name = "DURATION", default_value = "0s", value_parser = parse_duration, global = true)]
    pub lock_timeout: std::time::Duration,
}

#[derive(Args, Debug)]
pub struct PlanArgs {
    /// Read every resource from AWS first (default true)
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub refresh: bool,
    /// Only this resource and what it depends on (repeatable)
    #[arg(long = "target", value_name = "ADDR")]
    pub targets: Vec<Address>,
    /// Save the plan for `provision apply FILE`
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    #[arg(long)]
    pub json: bool,
    /// Exit 2 when there are changes
    #[arg(long = "detailed-exitcode")]
    pub detailed_exitcode: bool,
    /// Plan to replace this resource although nothing about it changed (repeatable)
    #[arg(long = "replace", value_name = "ADDR")]
    pub replace: Vec<Address>,
    /// Only accept what changed outside provision into the state; change nothing in AWS
    #[arg(long = "refresh-only", conflicts_with_all = ["replace", "refresh"])]
    pub refresh_only: bool,
    /// `text`, `json` (as `--json`) or `markdown` (a pull-request comment, under GitHub's size limit)
    #[arg(long, value_enum, default_value = "text", conflicts_with = "json")]
    pub format: PlanFormat,
    /// Fail (exit 1) when a guardrail warns; `[guardrails] allow` accepts a finding with a reason
    #[arg(long = "deny-warnings")]
    pub deny_warnings: bool,
    /// Leave this resource, and what depends on it, out (repeatable)
    #[arg(long = "exclude", value_name = "ADDR")]
    pub exclude: Vec<Address>,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlanFormat {
    Text,
    Json,
    Markdown,
}

#[derive(Args, Debug)]
pub struct SweepArgs {
    /// Destroy the environments whose `apply --ttl` has passed (required: the only kind of sweep)
    #[arg(long, required = true)]
    pub expired: bool,
    /// Only stacks whose name starts with this, e.g. `shop-pr-` (default: every expired one)
    #[arg(long, value_name = "P", default_value = "")]
    pub prefix: String,
    #[arg(long = "auto-approve")]
    pub auto_approve: bool,
    /// How many actions may run at once: a number, or `auto`
    #[arg(long, default_value = "auto")]
    pub parallelism: Parallelism,
    #[command(flatten)]
    pub lock: LockArgs,
}

#[derive(Args, Debug)]
pub struct ApplyArgs {
    /// A plan saved with `plan --out`
    pub plan_file: Option<PathBuf>,
    #[arg(long = "auto-approve")]
    pub auto_approve: bool,
    #[arg(long = "target", value_name = "ADDR")]
    pub targets: Vec<Address>,
    /// How many actions may run at once: a number, or `auto` (start at 32, more while AWS keeps up,
    /// fewer when it throttles)
    #[arg(long, default_value = "auto")]
    pub parallelism: Parallelism,
    #[arg(long)]
    pub json: bool,
    /// Replace this resource although nothing about it changed (repeatable)
    #[arg(long = "replace", value_name = "ADDR")]
    pub replace: Vec<Address>,
    /// Only accept what changed outside provision into the state; change nothing in AWS
    #[arg(long = "refresh-only", conflicts_with = "replace")]
    pub refresh_only: bool,
    /// Leave this resource, and what depends on it, out (repeatable)
    #[arg(long = "exclude", value_name = "ADDR")]
    pub exclude: Vec<Address>,
    /// Refuse (exit 1) to set back anything changed outside provision
    #[arg(long = "keep-drift")]
    pub keep_drift: bool,
    /// A preview environment: record that `sweep --expired` may destroy it after this long (`72h`, `7d`)
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub ttl: Option<std::time::Duration>,
    #[command(flatten)]
    pub lock: LockArgs,
}

#[derive(Args, Debug)]
pub struct DestroyArgs {
    #[arg(long = "auto-approve")]
    pub auto_approve: bool,
    /// Also delete resources tagged with this stack that the state does not know
    #[arg(long)]
    pub sweep: bool,
    #[arg(long = "target", value_name = "ADDR")]
    pub targets: Vec<Address>,
    /// Keep this resource, and what it needs (repeatable)
    #[arg(long = "exclude", value_name = "ADDR")]
    pub exclude: Vec<Address>,
    /// How many actions may run at once: a number, or `auto`
    #[arg(long, default_value = "auto")]
    pub parallelism: Parallelism,
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub lock: LockArgs,
}

#[derive(Subcommand, Debug)]
pub enum StateCommand {
    /// Every address in the state
    #[command(after_help = examples::STATE_LIST)]
    List,
    /// One resource as recorded
    #[command(after_help = examples::STATE_SHOW)]
    Show { address: Address },
    /// Forget a resource (it stays in AWS)
    #[command(after_help = examples::STATE_RM)]
    Rm { address: Address },
    /// Print the whole state (or, with --serial, an earlier version)
    #[command(after_help = examples::STATE_PULL)]
    Pull {
        /// An earlier version, by its serial (`state history` lists them)
        #[arg(long, value_name = "N")]
        serial: Option<u64>,
    },
    /// Replace the state with a file (same lineage, newer serial)
    #[command(after_help = examples::STATE_PUSH)]
    Push {
        file: PathBuf,
        /// Also replace a state whose serial is the same or higher (after comparing the two)
        #[arg(long)]
        force: bool,
    },
    /// Resources tagged with this stack that the state does not know, with the import command for each
    #[command(after_help = examples::STATE_ORPHANS)]
    Orphans,
    /// The state's earlier versions, newest first: SERIAL  TIME  WHO  OPERATION
    #[command(after_help = examples::STATE_HISTORY)]
    History,
    /// Copy the state to another backend (a path or s3://BUCKET/KEY), both locked, and verify it
    #[command(after_help = examples::STATE_MIGRATE)]
    Migrate {
        /// Where to: `state/app.json` or `s3://BUCKET/KEY`
        #[arg(long, value_name = "LOCATION", value_parser = parse_location)]
        to: provision_core::stack::StateLocation,
        /// Make the S3 bucket (private, versioned, encrypted) if it does not exist
        #[arg(long = "create-bucket")]
        create_bucket: bool,
    },
}

fn parse_location(text: &str) -> Result<provision_core::stack::StateLocation, String> {
    provision_core::stack::StateLocation::parse(text)
}

/// `0s`, `30s`, `5m`, `1h`, or plain seconds; at most a year (the stack file's rule, shared).
pub fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let text = text.trim();
    // Days (`--ttl 7d`) are the command line's own; the rest is the stack file's rule.
    if let Some(days) =
        text.strip_suffix('d').filter(|days| !days.is_empty() && days.chars().all(|c| c.is_ascii_digit()))
    {
        let too_long = || format!("`{text}` is longer than provision waits for anything (a year at most)");
        let days: u64 = days.parse().map_err(|_| too_long())?;
        return match days.checked_mul(86_400).map(std::time::Duration::from_secs) {
            Some(duration) if duration <= provision_core::stack::MAX_DURATION => Ok(duration),
            _ => Err(too_long()),
        };
    }
    provision_core::stack::parse_duration(text)
}

fn parse_variable(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_string(), value.to_string())),
        _ => Err(format!("`{text}` is not KEY=VALUE")),
    }
}

pub fn main() -> ExitCode {
    one_malloc_arena();
    let matches = <Cli as clap::CommandFactory>::command().get_matches();
    let cli = match <Cli as clap::FromArgMatches>::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(error) => error.exit(),
    };
    let stack_file_given = given_on_command_line(&matches, "stack");
    let stderr_color =
        !cli.no_color && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stderr().is_terminal();
    init_logging(cli.quiet, cli.verbose, stderr_color);
    let color =
        !cli.no_color && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stdout().is_terminal();
    let global = GlobalOptions {
        stack_file: cli.stack.clone(),
        stack_file_given,
        variables: cli.variables.clone(),
        endpoint: cli.endpoint.clone().filter(|e| !e.is_empty()),
        region: cli.region.clone(),
        profile: cli.profile.clone(),
        paint: Paint { enabled: color },
        error_paint: Paint {
            enabled: !cli.no_color
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                && std::io::stderr().is_terminal(),
        },
        quiet: cli.quiet,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(run(cli.command, &global));
    match result {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            ops::print_error(&error, global.error_paint);
            ExitCode::FAILURE
        }
    }
}

/// Whether a (global) flag was given on the command line, at whichever level it was written.
fn given_on_command_line(matches: &clap::ArgMatches, id: &str) -> bool {
    if matches.value_source(id) == Some(clap::parser::ValueSource::CommandLine) {
        return true;
    }
    matches.subcommand().is_some_and(|(_, sub)| given_on_command_line(sub, id))
}

/// glibc gives each thread that allocates its own arena (up to eight per core), and each arena keeps
/// what was freed in it: an apply of 1,000 resources, whose answers are parsed on whichever thread
/// polls them, peaked at 90 MB with a heap of 37 MB. Two arenas brought it to 75 MB, and one (the
/// main arena, shared by the runtime's workers) takes another 4 MB off the size-optimised build's
/// 58 MB; the calls are network-bound, so the threads hardly wait on each other for `malloc`.
/// `MALLOC_ARENA_MAX` or `GLIBC_TUNABLES`, when set, still decide.
fn one_malloc_arena() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() && std::env::var_os("GLIBC_TUNABLES").is_none() {
        // SAFETY: mallopt only sets a parameter of the allocator; called before any other thread exists.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 1);
        }
    }
}

async fn run(command: Command, global: &GlobalOptions) -> anyhow::Result<u8> {
    match command {
        Command::Validate => ops::validate::run(global),
        Command::Plan(args) => {
            let command = ops::plan::PlanCommand {
                refresh: args.refresh,
                targets: args.targets,
                out: args.out,
                json: args.json || args.format == PlanFormat::Json,
                detailed_exitcode: args.detailed_exitcode,
                replace: args.replace,
                refresh_only: args.refresh_only,
                markdown: args.format == PlanFormat::Markdown,
                deny_warnings: args.deny_warnings,
                exclude: args.exclude,
            };
            ops::plan::run(global, &command).await
        }
        Command::Apply(args) => {
            let options = ops::apply::ApplyOptions {
                plan_file: args.plan_file,
                auto_approve: args.auto_approve,
                targets: args.targets,
                parallelism: args.parallelism,
                json: args.json,
                lock_timeout: args.lock.lock_timeout,
                destroy: false,
                sweep: false,
                replace: args.replace,
                refresh_only: args.refresh_only,
                exclude: args.exclude,
                keep_drift: args.keep_drift,
                ttl: args.ttl,
            };
            let progress = Progress::choose(global, args.json);
            let result = ops::apply::run(global, &options, &progress).await;
            progress.finish();
            result
        }
        Command::Destroy(args) => {
            let options = ops::apply::ApplyOptions {
                plan_file: None,
                auto_approve: args.auto_approve,
                targets: args.targets,
                parallelism: args.parallelism,
                json: args.json,
                lock_timeout: args.lock.lock_timeout,
                destroy: true,
                sweep: args.sweep,
                replace: Vec::new(),
                refresh_only: false,
                exclude: args.exclude,
                keep_drift: false,
                ttl: None,
            };
            let progress = Progress::choose(global, args.json);
            let result = ops::apply::run(global, &options, &progress).await;
            progress.finish();
            result
        }
        Command::Import { generate, from_terraform, from_cloudformation, out, stack_name, args, lock } => {
            let options = ops::import::ImportOptions {
                generate,
                stack_name,
                args,
                lock_timeout: lock.lock_timeout,
                from_terraform,
                from_cloudformation,
                out,
            };
            ops::import::run(global, &options).await
        }
        Command::Output { name, json } => ops::output::run(global, name.as_deref(), json).await,
        Command::State { command, lock } => {
            let command = match command {
                StateCommand::List => ops::state::StateCommand::List,
                StateCommand::Show { address } => ops::state::StateCommand::Show(address),
                StateCommand::Rm { address } => ops::state::StateCommand::Rm(address),
                StateCommand::Pull { serial: None } => ops::state::StateCommand::Pull,
                StateCommand::Pull { serial: Some(serial) } => ops::state::StateCommand::PullSerial(serial),
                StateCommand::Push { file, force } => ops::state::StateCommand::Push { file, force },
                StateCommand::Orphans => ops::state::StateCommand::Orphans,
                StateCommand::History => ops::state::StateCommand::History,
                StateCommand::Migrate { to, create_bucket } => {
                    ops::state::StateCommand::Migrate(ops::state::MigrateOptions { to, create_bucket })
                }
            };
            ops::state::run(global, command, lock.lock_timeout).await
        }
        Command::Sweep(args) => {
            let options = ops::sweep::SweepOptions {
                prefix: args.prefix,
                auto_approve: args.auto_approve,
                parallelism: args.parallelism,
                lock_timeout: args.lock.lock_timeout,
            };
            let progress = Progress::choose(global, false);
            let result = ops::sweep::run(global, &options, &progress).await;
            progress.finish();
            result
        }
        Command::Drift { json } => ops::drift::run(global, json).await,
        Command::ForceUnlock { lock_id } => ops::force_unlock::run(global, &lock_id).await,
        Command::Graph => ops::graph::run(global),
        Command::Schema { markdown } => ops::schema::run(markdown),
        Command::Init { template, name } => {
            ops::init::run(&ops::init::InitOptions { file: global.stack_file.clone(), template, name })
        }
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut <Cli as clap::CommandFactory>::command(),
                "provision",
                &mut std::io::stdout(),
            );
            Ok(0)
        }
    }
}

fn init_logging(quiet: bool, verbose: u8, color: bool) {
    use tracing_subscriber::EnvFilter;
    let default = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "provision=info",
        (false, 2) => "provision=debug",
        _ => "debug",
    };
    let filter = std::env::var("PROVISION_LOG")
        .ok()
        .filter(|v| !v.is_empty())
        .map(|v| if v.contains('=') || v.contains(',') { v } else { format!("provision={v}") })
        .unwrap_or_else(|| default.to_string());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .with_ansi(color)
        .with_target(false)
        .without_time()
        .try_init();
}
