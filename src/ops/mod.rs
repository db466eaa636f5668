//! The commands, as functions the CLI calls. Each loads what it needs (stack, state, AWS), calls the
//! engine, and prints the result; none of them knows an AWS API.

pub mod apply;
pub mod graph;
pub mod import;
pub mod orphans;
pub mod output;
pub mod plan;
mod plan_file;
pub mod schema;
pub mod state;
pub mod validate;

use std::path::PathBuf;

use anyhow::{bail, Result};

use crate::aws::network::{self, Network};
use crate::aws::{AwsContext, ConnectOptions};
use crate::drivers::StackInfo;
use crate::plan::{self as planner, Drift, Plan, PlanOptions, RefreshReport};
use crate::render::Paint;
use crate::stack::{self, LoadOptions, Stack, StackError, StateLocation};
use crate::state::{LocalStateStore, State};

/// Flags every command shares.
#[derive(Clone, Debug)]
pub struct GlobalOptions {
    pub stack_file: PathBuf,
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

pub fn load_stack(global: &GlobalOptions) -> Result<Stack> {
    let stack = stack::load(&global.stack_file, &LoadOptions { variables: global.variables.clone() })?;
    if !stack.warnings.is_empty() && !global.quiet {
        eprint!(
            "{}",
            stack::diagnostic::render(&stack.path, &stack.source, &stack.warnings, global.error_paint.enabled)
        );
    }
    Ok(stack)
}

/// Every secret the stack reads from the environment must be set: checked before any AWS call.
pub fn check_secret_environment(stack: &Stack) -> Result<()> {
    use crate::schema::FieldKind;
    use crate::stack::{Expr, Part};
    for resource in stack.resources.values() {
        let Some(driver) = crate::drivers::driver_for(&resource.address.type_name) else { continue };
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

pub fn state_store(stack: &Stack) -> Result<LocalStateStore> {
    match &stack.state {
        StateLocation::Local(path) => Ok(LocalStateStore::new(path.clone())),
        StateLocation::S3 { bucket, key } => bail!(
            "the S3 state backend (`s3://{bucket}/{key}`) is not supported by this version\n\nhint: use `[state] path = \"…\"` for a local state file"
        ),
    }
}

/// Reads the state, or starts a new one; refuses a state that belongs to another stack.
pub fn read_state(store: &LocalStateStore, stack: &Stack) -> Result<State> {
    match store.read()? {
        Some(state) if state.stack != stack.name => bail!(
            "the state `{}` belongs to stack `{}`, not `{}`\n\nhint: give this stack its own `[state] path`",
            store.path().display(),
            state.stack,
            stack.name
        ),
        Some(state) => Ok(state),
        None => Ok(State::new(&stack.name)),
    }
}

pub async fn connect(global: &GlobalOptions, stack: &Stack) -> Result<AwsContext> {
    let options = ConnectOptions {
        endpoint: global.endpoint.clone().or_else(|| stack.endpoint.clone()),
        region: global.region.clone().or_else(|| stack.region.clone()),
        profile: global.profile.clone(),
    };
    let aws = AwsContext::connect(&options).await?;
    tracing::info!(region = aws.region(), endpoint = aws.endpoint().unwrap_or("(AWS)"), "connected");
    Ok(aws)
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

pub fn stack_info(stack: &Stack, region: String) -> StackInfo {
    StackInfo { name: stack.name.clone(), region, directory: stack.directory() }
}

/// The stack's `[network]` as it is in AWS; `None` when nothing in the stack uses it.
pub async fn look_up_network(stack: &Stack, aws: &AwsContext) -> Result<Option<Network>> {
    if !stack.uses_network() {
        return Ok(None);
    }
    let found = network::look_up(aws, &stack.network.vpc, stack.network.subnets.as_deref())
        .await
        .map_err(|error| anyhow::anyhow!("[network]: {error}"))?;
    Ok(Some(found))
}

/// Everything a plan was computed from, kept for executing it.
pub struct Planned {
    pub plan: Plan,
    /// The state after refresh.
    pub state: State,
    pub info: StackInfo,
    pub network: Option<Network>,
}

/// Refreshes (when asked) and plans. `aws` is `None` for offline plans.
pub async fn make_plan(
    stack: &Stack,
    mut state: State,
    aws: Option<&AwsContext>,
    region: String,
    options: &PlanOptions,
) -> Result<Planned> {
    let info = stack_info(stack, region);
    let mut drift: Vec<Drift> = Vec::new();
    let mut network = state.network.clone();
    if let Some(aws) = aws {
        if let Some(found) = look_up_network(stack, aws).await? {
            network = Some(found);
        }
        if !state.resources.is_empty() {
            let RefreshReport { drift: found, recovered, abandoned_creates } =
                planner::refresh(aws, &info, &mut state).await?;
            for address in recovered {
                eprintln!("{address}: found the resource an interrupted create made; adopting it");
            }
            for address in abandoned_creates {
                eprintln!("{address}: an interrupted create made nothing; it will be created");
            }
            drift = found;
        }
    }
    if network.is_some() {
        state.network = network.clone();
    }
    let plan = planner::plan(stack, &info, network.as_ref(), &state, drift, aws.is_some(), options)?;
    Ok(Planned { plan, state, info, network })
}
