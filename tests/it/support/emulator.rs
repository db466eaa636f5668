//! One moto server for the whole test run.

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

static ENDPOINT: OnceLock<String> = OnceLock::new();

/// The emulator's endpoint URL, starting it on first use.
pub fn endpoint() -> &'static str {
    ENDPOINT.get_or_init(|| match std::env::var("PROVISION_TEST_ENDPOINT") {
        Ok(endpoint) if !endpoint.is_empty() => endpoint,
        _ => start(),
    })
}

fn repository_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("bind a free port").local_addr().expect("local address").port()
}

fn start() -> String {
    let server = repository_root().join(".venv/bin/moto_server");
    assert!(
        server.exists(),
        "the emulator is not installed at {}; run `scripts/emulator install` (scripts/test does)",
        server.display()
    );
    let port = free_port();
    let log = std::env::temp_dir().join(format!("provision-tests-moto-{port}.log"));
    // A watcher shell owns the server and kills it once this test process is gone, so no server
    // outlives the tests even when they panic.
    let script = format!(
        "\"{server}\" -H 127.0.0.1 -p {port} >\"{log}\" 2>&1 & child=$!; \
         while kill -0 {parent} 2>/dev/null; do sleep 0.5; done; kill $child 2>/dev/null; \
         sleep 2; kill -9 $child 2>/dev/null",
        server = server.display(),
        log = log.display(),
        parent = std::process::id(),
    );
    Command::new("bash")
        .arg("-c")
        .arg(script)
        .env("MOTO_ECS_SERVICE_RUNNING", "10")
        .env("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
        // DNS-validated certificates turn ISSUED after 2 s instead of 60 (docs/emulator.md).
        .env("MOTO_ACM_VALIDATION_WAIT", "2")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the emulator");
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return format!("http://127.0.0.1:{port}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("the emulator did not start on port {port}; see {}", log.display());
}
