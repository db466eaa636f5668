//! The test harness: a shared emulator for the whole test binary, and a fluent builder that runs the
//! real binary in a temporary project folder.
//!
//! The emulator is moto from the project's `.venv` (installed by `scripts/emulator install`, which
//! `scripts/test` runs), started once on a free 127.0.0.1 port and stopped when the test process
//! exits (a watcher shell kills it). Set `PROVISION_TEST_ENDPOINT` to use one already running.
//! Tests share it safely because every test uses its own stack name, so its own AWS names.
//!
//! `aws_world` puts provision-proxy's "AWS as it behaves" profile in front of that emulator for the
//! tests that run provision through it ([`Project::through`]); `inventory` counts what of a stack
//! exists, straight at the emulator.

pub mod aws_world;
pub mod emulator;
pub mod inventory;
pub mod schema_check;
pub mod webhook;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

pub use emulator::endpoint;

/// A temporary project: a folder with a stack file, where commands run.
pub struct Project {
    pub dir: tempfile::TempDir,
    pub stack_name: String,
    endpoint: Option<String>,
    /// Environment every run gets (e.g. `PROVISION_TIME_SCALE` in the time-scaled world).
    env: Vec<(String, String)>,
}

/// The result of one run of the binary.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    #[track_caller]
    pub fn success(self) -> Run {
        assert_eq!(self.code, 0, "expected success\n--- stdout\n{}\n--- stderr\n{}", self.stdout, self.stderr);
        self
    }

    #[track_caller]
    pub fn code(self, code: i32) -> Run {
        assert_eq!(self.code, code, "unexpected exit code\n--- stdout\n{}\n--- stderr\n{}", self.stdout, self.stderr);
        self
    }

    #[track_caller]
    pub fn stdout_has(self, text: &str) -> Run {
        assert!(
            self.stdout.contains(text),
            "stdout lacks {text:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout,
            self.stderr
        );
        self
    }

    #[track_caller]
    pub fn stderr_has(self, text: &str) -> Run {
        assert!(
            self.stderr.contains(text),
            "stderr lacks {text:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout,
            self.stderr
        );
        self
    }
}

/// A stack name no other test in this run uses (AWS names derive from it).
pub fn unique_stack_name(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let pid = std::process::id() % 100_000;
    format!("{prefix}-{pid}-{n}")
}

impl Project {
    /// A project whose stack file is `stack` with `{name}` replaced by a unique stack name.
    pub fn new(prefix: &str, stack: &str) -> Project {
        let dir = tempfile::tempdir().expect("temp dir");
        let stack_name = unique_stack_name(prefix);
        let project = Project { dir, stack_name, endpoint: None, env: Vec::new() };
        project.write_stack(stack);
        project
    }

    /// Runs against the shared emulator (starting it if needed).
    pub fn with_emulator(mut self) -> Project {
        self.endpoint = Some(endpoint().to_string());
        self
    }

    /// Runs through "AWS as it behaves" (see [`aws_world`]): provision talks to the world's proxy
    /// and scales its own waits by the world's time scale.
    pub fn through(mut self, world: &aws_world::AwsWorld) -> Project {
        self.endpoint = Some(world.endpoint());
        self.env.retain(|(name, _)| name != "PROVISION_TIME_SCALE");
        self.env.push(("PROVISION_TIME_SCALE".to_string(), world.time_scale().to_string()));
        self
    }

    /// Runs against this endpoint (e.g. a fault-injecting proxy in front of the emulator).
    pub fn with_endpoint(mut self, endpoint: &str) -> Project {
        self.endpoint = Some(endpoint.to_string());
        self
    }

    /// Another working folder with the same stack file and stack name: a second machine of the
    /// same team (what they share is only what the stack file points at, e.g. an S3 state).
    pub fn second_machine(&self) -> Project {
        let dir = tempfile::tempdir().expect("temp dir");
        let stack = std::fs::read_to_string(self.path("stack.toml")).expect("stack file");
        std::fs::write(dir.path().join("stack.toml"), stack).expect("write stack file");
        Project { dir, stack_name: self.stack_name.clone(), endpoint: self.endpoint.clone(), env: self.env.clone() }
    }

    /// Runs against an endpoint where nothing listens: any AWS call would fail.
    pub fn with_unreachable_endpoint(mut self) -> Project {
        self.endpoint = Some("http://127.0.0.1:9".to_string());
        self
    }

    pub fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    pub fn write_stack(&self, stack: &str) {
        self.write("stack.toml", &stack.replace("{name}", &self.stack_name));
    }

    /// Writes a file of the project; a stack file (`*.toml`) is also judged by the loader and the
    /// JSON Schema, which must agree on it (see `schema_check`).
    pub fn write(&self, relative: &str, contents: &str) {
        let path = self.path(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create folder");
        }
        std::fs::write(&path, contents).expect("write file");
        if relative.ends_with(".toml") {
            schema_check::assert_agree(&path);
        }
    }

    pub fn remove(&self, relative: &str) {
        std::fs::remove_file(self.path(relative)).expect("remove file");
    }

    pub fn state_path(&self) -> PathBuf {
        self.path(&format!("state/{}.json", self.stack_name))
    }

    pub fn state(&self) -> serde_json::Value {
        let text = std::fs::read_to_string(self.state_path()).expect("state file exists");
        serde_json::from_str(&text).expect("state file is JSON")
    }

    /// Runs `provision ARGS` in the project folder, with no stdin.
    pub fn run(&self, args: &[&str]) -> Run {
        self.run_with_env(args, &[])
    }

    /// Runs `provision ARGS` with extra environment variables (e.g. a secret).
    pub fn run_with_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut command = self.command(args);
        command.envs(env.iter().copied());
        output_of(command)
    }
}

/// The binary under test; `PROVISION_TEST_BINARY` points at another build of it (e.g. a copy kept
/// out of a target folder that other builds share).
pub fn binary() -> String {
    std::env::var("PROVISION_TEST_BINARY")
        .ok()
        .filter(|path| !path.is_empty())
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_provision").to_string())
}

impl Project {
    /// The command `provision ARGS` in the project folder, set up as [`Project::run`] runs it, to
    /// spawn and watch (e.g. to kill it mid-apply).
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = command(self.dir.path(), self.endpoint.as_deref(), args);
        command.envs(self.env.iter().map(|(name, value)| (name, value)));
        command
    }
}

fn command(dir: &Path, endpoint: Option<&str>, args: &[&str]) -> Command {
    let mut command = Command::new(binary());
    command
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .env("NO_COLOR", "1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env_remove("AWS_PROFILE")
        .env_remove("PROVISION_LOG")
        .env_remove("PROVISION_TIME_SCALE")
        .env_remove("AWS_ENDPOINT_URL");
    if let Some(endpoint) = endpoint {
        command.env("AWS_ENDPOINT_URL", endpoint);
    }
    command
}

pub fn run_binary(dir: &Path, endpoint: Option<&str>, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut command = command(dir, endpoint, args);
    command.envs(env.iter().copied());
    output_of(command)
}

fn output_of(mut command: Command) -> Run {
    let output = command.output().expect("run provision");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// An S3 client for checking what really exists in the emulator (path-style: an IP endpoint).
pub fn s3() -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(s3_virtual_hosted().config().to_builder().force_path_style(true).build())
}

/// Runs a future to completion (tests are synchronous; the SDK is async).
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime").block_on(future)
}

/// `GET path` on the emulator, answered as text. For CloudFront reads whose answers the SDK cannot
/// parse on this emulator (it writes Python booleans, see docs/emulator.md); the emulator does not
/// check signatures, so an unsigned request reads the same API.
pub fn emulator_get(path: &str) -> String {
    use std::io::{Read, Write};
    let address = endpoint().trim_start_matches("http://").to_string();
    let mut stream = std::net::TcpStream::connect(&address).expect("connect to the emulator");
    // The emulator picks the service from the credential scope of the Authorization header.
    let authorization =
        "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/cloudfront/aws4_request, SignedHeaders=host, Signature=0";
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nAuthorization: {authorization}\r\nConnection: close\r\n\r\n"
    )
    .expect("send");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("read");
    answer.split_once("\r\n\r\n").map(|(_, body)| body.to_string()).unwrap_or(answer)
}

/// `client_at!(aws_sdk_ecs, endpoint)`: a client of that SDK crate in us-east-1 with the tests'
/// credentials, sending to `endpoint` (the emulator, or a world's proxy to act or read through it).
macro_rules! client_at {
    ($krate:ident, $endpoint:expr) => {{
        let config = $krate::config::Builder::new()
            .behavior_version($krate::config::BehaviorVersion::latest())
            .region($krate::config::Region::new("us-east-1"))
            .endpoint_url($endpoint)
            .credentials_provider($krate::config::Credentials::new("test", "test", None, None, "tests"))
            .build();
        $krate::Client::from_conf(config)
    }};
}
pub(crate) use client_at;

macro_rules! emulator_client {
    ($name:ident, $krate:ident) => {
        #[doc = concat!("A `", stringify!($krate), "` client for checking what really exists in the emulator.")]
        pub fn $name() -> $krate::Client {
            client_at!($krate, endpoint())
        }
    };
}

emulator_client!(s3_virtual_hosted, aws_sdk_s3);
emulator_client!(cloudfront, aws_sdk_cloudfront);
emulator_client!(rds, aws_sdk_rds);
emulator_client!(ecs, aws_sdk_ecs);
emulator_client!(elbv2, aws_sdk_elasticloadbalancingv2);
emulator_client!(ec2, aws_sdk_ec2);
emulator_client!(ecr, aws_sdk_ecr);
emulator_client!(iam, aws_sdk_iam);
emulator_client!(tagging, aws_sdk_resourcegroupstagging);
emulator_client!(elasticache, aws_sdk_elasticache);
emulator_client!(secretsmanager, aws_sdk_secretsmanager);
emulator_client!(logs, aws_sdk_cloudwatchlogs);

/// A Route 53 client for the emulator, reading its record values as the driver does (moto writes
/// them as CDATA, which the SDK reads as empty; see docs/emulator.md).
pub fn route53() -> aws_sdk_route53::Client {
    let config = aws_sdk_route53::config::Builder::new()
        .behavior_version(aws_sdk_route53::config::BehaviorVersion::latest())
        .region(aws_sdk_route53::config::Region::new("us-east-1"))
        .endpoint_url(endpoint())
        .credentials_provider(aws_sdk_route53::config::Credentials::new("test", "test", None, None, "tests"))
        .http_client(provision_aws::route53_emulator::CdataAsText::new())
        .build();
    aws_sdk_route53::Client::from_conf(config)
}

/// An ACM client in `region` (certificates are regional; CloudFront's live in us-east-1).
pub fn acm_in(region: &str) -> aws_sdk_acm::Client {
    let config = aws_sdk_acm::config::Builder::new()
        .behavior_version(aws_sdk_acm::config::BehaviorVersion::latest())
        .region(aws_sdk_acm::config::Region::new(region.to_string()))
        .endpoint_url(endpoint())
        .credentials_provider(aws_sdk_acm::config::Credentials::new("test", "test", None, None, "tests"))
        .build();
    aws_sdk_acm::Client::from_conf(config)
}

/// The example stack `stacks/FILE` with its stack name replaced by `{name}` (a unique one per test).
pub fn example_stack(file: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("stacks").join(file);
    let text = std::fs::read_to_string(&path).expect("example stack");
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    if let Some(line) = lines.iter_mut().find(|l| l.starts_with("name = ")) {
        *line = "name = \"{name}\"".to_string();
    }
    lines.join("\n") + "\n"
}

/// ARNs the Resource Groups Tagging API lists with `provision:stack = stack`, leaving out ECS
/// resources the emulator keeps listing after they are gone (INACTIVE services and clusters,
/// deregistered task definitions; see docs/emulator.md), deleted NAT gateways, and final DB snapshots, which destroy keeps
/// on purpose unless `skip_final_snapshot = true`. IAM roles, which the tagging API does not cover,
/// come from IAM's own listing.
pub fn live_tagged_with(stack: &str) -> Vec<String> {
    block_on(async {
        let filter =
            aws_sdk_resourcegroupstagging::types::TagFilter::builder().key("provision:stack").values(stack).build();
        let answer = tagging().get_resources().tag_filters(filter).send().await.expect("GetResources");
        let mut live = Vec::new();
        for arn in answer.resource_tag_mapping_list().iter().filter_map(|m| m.resource_arn()) {
            let gone = if arn.contains(":task-definition/") || arn.contains(":snapshot:") {
                true
            } else if arn.contains(":service/") {
                let cluster = arn.split('/').nth(1).unwrap_or_default();
                let services = ecs().describe_services().cluster(cluster).services(arn).send().await;
                services.map(|s| s.services().iter().all(|s| s.status() == Some("INACTIVE"))).unwrap_or(true)
            } else if arn.contains(":cluster/") {
                let clusters = ecs().describe_clusters().clusters(arn).send().await;
                clusters.map(|c| c.clusters().iter().all(|c| c.status() == Some("INACTIVE"))).unwrap_or(true)
            } else if let Some(id) = arn.split(":natgateway/").nth(1) {
                // A deleted NAT gateway stays listed, `deleted`, for about an hour (as on AWS).
                let nats = ec2().describe_nat_gateways().nat_gateway_ids(id).send().await;
                nats.map(|n| n.nat_gateways().iter().all(|g| g.state().is_some_and(|s| s.as_str() == "deleted")))
                    .unwrap_or(true)
            } else {
                false
            };
            if !gone {
                live.push(arn.to_string());
            }
        }
        // IAM is not in the tagging API: its own listing, by the stack's name prefix.
        let roles = iam().list_roles().send().await.expect("ListRoles");
        live.extend(
            roles
                .roles()
                .iter()
                .filter(|r| r.role_name().starts_with(&format!("{stack}-")))
                .map(|r| r.arn().to_string()),
        );
        live
    })
}

/// Pushes an image manifest into an ECR repository under `tag` and returns its digest. `seed`
/// makes a distinct image. The digest is sent with the manifest: the emulator stores the digest of
/// the empty string otherwise (see docs/emulator.md).
pub fn push_image(repository: &str, tag: &str, seed: &str) -> String {
    use sha2::{Digest, Sha256};
    let config = format!("sha256:{}", hex::encode(Sha256::digest(seed.as_bytes())));
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{{"mediaType":"application/vnd.docker.container.image.v1+json","size":2,"digest":"{config}"}},"layers":[]}}"#
    );
    let digest = format!("sha256:{}", hex::encode(Sha256::digest(manifest.as_bytes())));
    block_on(async {
        ecr()
            .put_image()
            .repository_name(repository)
            .image_manifest(&manifest)
            .image_digest(&digest)
            .image_tag(tag)
            .send()
            .await
            .expect("PutImage")
    });
    digest
}
