//! Throttling survived: provision-proxy answers a fifth of all requests with each protocol's
//! throttling error (`Throttling` for the query protocol, `ThrottlingException` for JSON, S3's
//! `SlowDown` 503), and apply, refresh and destroy of a mixed stack still succeed — slower — with
//! every retry reported at `-v`. No timing is asserted: a benchmark measures speed, this test
//! measures that nothing fails.

use provision_proxy::{Fault, Matcher, Protocol, Proxy, Rule};

use crate::support::{block_on, ecr, endpoint, iam, s3, Project};

const STACK: &str = r#"
[stack]
name = "{name}"
tags = { purpose = "throttling" }

[s3_bucket.data]
force_destroy = true
upload = "files"
tags = { tier = "data" }

[iam_role.task]
service = "ecs-tasks.amazonaws.com"

[log_group.app]
retention_days = 7

[ecr_repository.images]
force_destroy = true
"#;

/// A proxy in front of the emulator throttling a fifth of the requests of every protocol.
fn throttling_proxy(runtime: &tokio::runtime::Runtime) -> Proxy {
    let proxy = runtime.block_on(Proxy::start(endpoint())).expect("start provision-proxy");
    proxy.add_rule(
        Rule::new(Matcher::any().protocol(Protocol::Json), Fault::json_error(400, "ThrottlingException")).share(0.2),
    );
    proxy.add_rule(
        Rule::new(Matcher::any().protocol(Protocol::Query), Fault::query_error(400, "Throttling")).share(0.2),
    );
    proxy.add_rule(Rule::new(Matcher::any().protocol(Protocol::Rest), Fault::s3_error(503, "SlowDown")).share(0.2));
    proxy
}

#[track_caller]
fn assert_retries_reported(stderr: &str, what: &str) {
    assert!(stderr.contains("retrying "), "{what}: -v shows no retry\n{stderr}");
    let summary = stderr.lines().find(|line| line.contains("aws retries: ")).unwrap_or_else(|| {
        panic!("{what}: -v has no retry summary\n{stderr}");
    });
    assert!(!summary.contains("aws retries: 0 "), "{what}: the summary counts no retry: {summary}");
}

#[test]
fn apply_refresh_and_destroy_succeed_through_a_fifth_of_requests_throttled() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("runtime");
    let proxy = throttling_proxy(&runtime);
    let project = Project::new("throttle", STACK).with_endpoint(&proxy.endpoint());
    project.write("files/index.html", "<h1>hello</h1>\n");
    project.write("files/app.js", "console.log('hello');\n");

    let apply = project.run(&["-v", "apply", "--auto-approve"]).success();
    assert_retries_reported(&apply.stderr, "apply");
    assert!(proxy.faults() > 0, "the proxy throttled nothing");

    // What the apply made really exists, checked past the proxy.
    let state = project.state();
    let bucket = state["resources"]["s3_bucket.data"]["id"].as_str().expect("bucket id").to_string();
    let role = state["resources"]["iam_role.task"]["id"].as_str().expect("role id").to_string();
    let repository = state["resources"]["ecr_repository.images"]["id"].as_str().expect("repository id").to_string();
    block_on(async {
        s3().head_object().bucket(&bucket).key("app.js").send().await.expect("the upload exists");
        iam().get_role().role_name(&role).send().await.expect("the role exists");
        ecr().describe_repositories().repository_names(&repository).send().await.expect("the repository exists");
    });

    // A refresh through the same throttling finds everything as it was.
    let before = proxy.faults();
    let plan = project.run(&["-v", "plan"]).success().stdout_has("No changes.");
    assert_retries_reported(&plan.stderr, "refresh");
    assert!(proxy.faults() > before, "the refresh was not throttled");

    project.run(&["-v", "destroy", "--auto-approve"]).success();
    assert_eq!(project.state()["resources"], serde_json::json!({}));
    block_on(async {
        assert!(s3().head_bucket().bucket(&bucket).send().await.is_err(), "the bucket is gone");
    });
}
