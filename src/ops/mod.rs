//! The commands, as functions the CLI calls with their own option structs and a reporter. Each
//! loads what it needs (the stack against the AWS drivers, the state backend), calls the engine,
//! and prints the result. Nothing here knows clap, and nothing here calls an AWS API itself.

pub mod apply;
pub mod drift;
pub mod force_unlock;
pub mod graph;
pub mod import;
pub mod init;
pub mod notify;
pub mod orphans;
pub mod output;
pub mod plan;
mod plan_file;
pub mod schema;
mod signals;
pub mod state;
mod state_migrate;
pub mod sweep;
pub mod templates;
mod terminal_frontend;
pub mod validate;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Result};
use provision_aws::{AwsCloud, ConnectOptions};
use provision_core::address::Address;
use provision_core::cloud::Cloud;
use provision_core::render::Paint;
use provision_core::stack::{self, LoadOptions, Stack, StackError, StateLocation};
use provision_core::state::{acquire_lock, LocalBackend, LockGuard, LockOptions, State, StateBackend, Version};

/// Flags every command shares.
#[derive(Clone, Debug)]
pub struct GlobalOptions {
    pub stack_file: PathBuf,
    /// Whether `-f` was given (rather than the default `stack.toml`).
    pub stack_file_given: bool,
    pub variables: Vec<(String, String)>,
    pub endpoint: Option<String>,
    pub region: Option<String>,
    pub profile: Option<String>,
    /// Colour for stdout.
    pub paint: Paint,
    /// Colour for stderr.
    pub error_paint: Paint,
    pub quiet: bool,
}

/// Prints an error the way every command does: stack errors with their source lines, others as
/// `error: …` with any `hint:` lines they carry.
pub fn print_error(error: &anyhow::Error, paint: Paint) {
    if let Some(stack_error) = error.downcast_ref::<StackError>() {
        eprint!("{}", stack_error.render(paint.enabled));
        return;
    }
    eprintln!("{} {error:#}", paint.red("error:"));
}

/// A backend error as a command error, with its hint.
pub use provision_core::run::backend_error;

/// The stack file loaded against the AWS drivers, and the cloud those drivers belong to (not yet
/// connected: nothing calls AWS until a command needs it).
pub struct Loaded {
    pub stack: Stack,
    pub cloud: AwsCloud,
}

pub fn load(global: &GlobalOptions) -> Result<Loaded> {
    load_with(global, false)
}

/// The stack file's `[stack]`, `[variables]`, `[state]` and `[notify]` alone, for the commands that
/// need only the state (`destroy`, `drift`, `output`, `state …`): nothing about its resources is
/// read, so a file whose resources no longer load or resolve still reaches its state.
pub fn load_state_only(global: &GlobalOptions) -> Result<Loaded> {
    load_with(global, true)
}

fn load_with(global: &GlobalOptions, state_only: bool) -> Result<Loaded> {
    if let Some(region) = &global.region {
        provision_core::run::check_region_name(region, "`--region`")?;
    }
    let cloud = AwsCloud::new(ConnectOptions::default());
    let options = LoadOptions { variables: global.variables.clone(), state_only };
    let stack = stack::load(&global.stack_file, &options, cloud.drivers())?;
    if !stack.warnings.is_empty() && !global.quiet {
        eprint!(
            "{}",
            stack::diagnostic::render(&stack.path, &stack.source, &stack.warnings, global.error_paint.enabled)
        );
    }
    cloud.session().configure(connect_options(global, &stack));
    Ok(Loaded { stack, cloud })
}

/// What the core's sequences work on: the loaded stack, its state backend, the cloud.
pub fn run_of(loaded: &Loaded) -> provision_core::run::Run<'_> {
    provision_core::run::Run {
        stack: &loaded.stack,
        backend: backend_for(&loaded.stack.state, &loaded.cloud),
        cloud: &loaded.cloud,
    }
}

pub fn connect_options(global: &GlobalOptions, stack: &Stack) -> ConnectOptions {
    ConnectOptions {
        endpoint: global.endpoint.clone().or_else(|| stack.endpoint.clone()),
        region: global.region.clone().or_else(|| stack.region.clone()),
        profile: global.profile.clone(),
    }
}

/// Every secret the stack reads from the environment must be set: checked before any AWS call.
pub fn check_secret_environment(loaded: &Loaded) -> Result<()> {
    use provision_core::schema::FieldKind;
    use provision_core::stack::{Expr, Part};
    let stack = &loaded.stack;
    for resource in stack.resources.values() {
        let Some(driver) = loaded.cloud.drivers().get(&resource.address.type_name) else { continue };
        for field in driver.schema().fields.iter().filter(|f| matches!(f.kind, FieldKind::Secret)) {
            let Some(expr) = resource.fields.get(field.name) else { continue };
            let Expr::Table(entries) = &expr.expr else { continue };
            for (_, value) in entries {
                if let Expr::Template(parts) = &value.expr {
                    if let [Part::Literal(variable)] = parts.as_slice() {
                        if std::env::var_os(variable).is_none() {
                            bail!(
                                "{}: `{}.{}` reads the environment variable `{variable}`, which is not set\n\nhint: `export {variable}=…` before running provision; the value is never stored",
                                stack.location(expr.span.start),
                                resource.address,
                                field.name
                            );
                        }
                    }
                }
            }
        }
    }
    Ok(())
}

/// The stack's state backend (`[state]`): a local file, or S3 over the run's AWS session.
/// Nothing connects until the backend is first used.
pub fn state_backend(loaded: &Loaded) -> Result<Arc<dyn StateBackend>> {
    Ok(backend_for(&loaded.stack.state, &loaded.cloud))
}

/// The backend for any state location (`state migrate --to` names a second one).
pub fn backend_for(location: &StateLocation, cloud: &AwsCloud) -> Arc<dyn StateBackend> {
    match location {
        StateLocation::Local(path) => Arc::new(LocalBackend::new(path.clone())),
        StateLocation::S3(s3) => Arc::new(provision_aws::S3Backend::new(cloud.session().clone(), s3.clone())),
    }
}

/// Reads the state, or starts a new one; refuses a state that belongs to another stack.
pub async fn read_state(backend: &dyn StateBackend, stack: &Stack) -> Result<(State, Option<Version>)> {
    provision_core::run::read_state(backend, &stack.name).await
}

/// Takes the state lock for `operation`, waiting up to `timeout` while another run holds it.
/// Every command that writes the state takes it, so this is where a warning about how the
/// backend is set up (an S3 bucket without versioning) is printed, once per command.
pub async fn lock(backend: &Arc<dyn StateBackend>, operation: &str, timeout: Duration) -> Result<LockGuard> {
    let guard = acquire_lock(backend.clone(), operation, &LockOptions { timeout }).await.map_err(backend_error)?;
    warn_about_setup(backend.as_ref()).await;
    Ok(guard)
}

static WARNED_ABOUT_SETUP: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Prints the backend's set-up warning, if it has one, the first time a command asks.
pub async fn warn_about_setup(backend: &dyn StateBackend) {
    if WARNED_ABOUT_SETUP.load(std::sync::atomic::Ordering::Relaxed) {
        return;
    }
    if let Some(warning) = backend.check_setup().await {
        print_setup_warning(&warning);
    }
}

/// Prints a set-up warning unless this command printed one already.
pub fn print_setup_warning(warning: &str) {
    if !WARNED_ABOUT_SETUP.swap(true, std::sync::atomic::Ordering::Relaxed) {
        eprintln!("warning: {warning}");
    }
}

/// The region without asking AWS (offline commands).
pub fn offline_region(global: &GlobalOptions, stack: &Stack) -> String {
    global
        .region
        .clone()
        .or_else(|| stack.region.clone())
        .or_else(|| std::env::var("AWS_REGION").ok())
        .or_else(|| std::env::var("AWS_DEFAULT_REGION").ok())
        .unwrap_or_else(|| "us-east-1".to_string())
}

/// The region the cloud is set for (loads the AWS configuration; no request), refused when it is
/// not a region name — before any request is sent.
pub async fn region(cloud: &AwsCloud) -> Result<String> {
    provision_core::run::configured_region(cloud).await
}

/// Says what refresh settled of a killed run's unfinished creates.
pub fn report_settled(recovered: &[Address], abandoned_creates: &[(Address, String)]) {
    for address in recovered {
        eprintln!("{address}: found the resource an interrupted create made; adopting it");
    }
    for (address, _) in abandoned_creates {
        eprintln!("{address}: an interrupted create made nothing; it will be created");
    }
}

/// The `-v` summary of what a command asked of AWS: requests, and of them the retries (each retry
/// was logged as it happened) and throttling answers.
pub fn log_request_counts(cloud: &dyn provision_core::cloud::Cloud) {
    let (retries, throttled) = cloud.retry_count();
    tracing::info!("aws requests: {}", cloud.request_count());
    tracing::info!("aws retries: {retries} ({throttled} throttling answers)");
}
