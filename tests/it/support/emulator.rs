//! One moto server for the whole test run.

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

static ENDPOINT: OnceLock<String> = OnceLock::new();

/// The emulator's endpoint URL, starting it on first use.
pub fn endpoint() -> &'static str {
    ENDPOINT.get_or_init(|| {
        let endpoint = match std::env::var("PROVISION_TEST_ENDPOINT") {
            Ok(endpoint) if !endpoint.is_empty() => endpoint,
            _ => start(),
        };
        default_vpc_like_aws(&endpoint);
        endpoint
    })
}

/// moto's default VPC has no internet gateway and its main route table no `0.0.0.0/0` route; an
/// account's default VPC has both, which is what makes its subnets public (AWS: "Default VPCs",
/// "an internet gateway … the main route table sends all IPv4 traffic to it"). The emulator's is
/// made so once, as `scripts/emulator start` does for the demo; provision itself is not told.
fn default_vpc_like_aws(endpoint: &str) {
    use aws_sdk_ec2::types::Filter;
    let endpoint = endpoint.to_string();
    // A thread of its own: the first caller may be inside a runtime already.
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        runtime.block_on(async {
            let config = aws_sdk_ec2::config::Builder::new()
                .behavior_version(aws_sdk_ec2::config::BehaviorVersion::latest())
                .region(aws_sdk_ec2::config::Region::new("us-east-1"))
                .endpoint_url(&endpoint)
                .credentials_provider(aws_sdk_ec2::config::Credentials::new("test", "test", None, None, "tests"))
                .build();
            let ec2 = aws_sdk_ec2::Client::from_conf(config);
            let default = Filter::builder().name("is-default").values("true").build();
            let vpcs = ec2.describe_vpcs().filters(default).send().await.expect("DescribeVpcs");
            let vpc = vpcs.vpcs().first().and_then(|v| v.vpc_id()).expect("the default VPC").to_string();
            let attached = Filter::builder().name("attachment.vpc-id").values(&vpc).build();
            let gateways =
                ec2.describe_internet_gateways().filters(attached).send().await.expect("DescribeInternetGateways");
            if !gateways.internet_gateways().is_empty() {
                return;
            }
            let gateway = ec2.create_internet_gateway().send().await.expect("CreateInternetGateway");
            let gateway = gateway.internet_gateway().and_then(|g| g.internet_gateway_id()).expect("id").to_string();
            ec2.attach_internet_gateway()
                .internet_gateway_id(&gateway)
                .vpc_id(&vpc)
                .send()
                .await
                .expect("AttachInternetGateway");
            let main = Filter::builder().name("association.main").values("true").build();
            let in_vpc = Filter::builder().name("vpc-id").values(&vpc).build();
            let tables =
                ec2.describe_route_tables().filters(main).filters(in_vpc).send().await.expect("DescribeRouteTables");
            let table = tables.route_tables().first().and_then(|t| t.route_table_id()).expect("the main route table");
            ec2.create_route()
                .route_table_id(table)
                .destination_cidr_block("0.0.0.0/0")
                .gateway_id(&gateway)
                .send()
                .await
                .expect("CreateRoute");
        })
    })
    .join()
    .expect("prepare the emulator's default VPC");
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
