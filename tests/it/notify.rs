//! `[notify]` webhooks against a receiver on 127.0.0.1: which events arrive and in what shape
//! (json, slack, discord), that a failing or unreachable webhook is one warning and never fails
//! the run, and that the URL — a secret — shows up nowhere: not in the state, a plan, `-vv` logs
//! or an error.

use crate::support::webhook::{unreachable_url, WebhookReceiver};
use crate::support::{block_on, s3, Project};

/// The part of every test URL that must never be shown.
const TOKEN: &str = "T0SECRET-B0TOKEN";

fn stack(webhook: &str, extra: &str) -> String {
    format!(
        "[stack]\nname = \"{{name}}\"\n\n[notify]\nwebhook = {webhook}\n{extra}\n[s3_bucket.logs]\n\n[s3_bucket.data]\ndepends_on = [\"s3_bucket.logs\"]\n"
    )
}

const FROM_ENV: &str = "{ env = \"HOOK_URL\" }";

fn events_of<'a>(received: &'a [crate::support::webhook::Received], kind: &str) -> Vec<&'a serde_json::Value> {
    received.iter().map(|r| &r.body).filter(|b| b["event"] == kind).collect()
}

#[test]
fn json_notifications_carry_each_selected_event_and_the_url_stays_secret() {
    let receiver = WebhookReceiver::start(200);
    let url = receiver.url(&format!("/hooks/{TOKEN}"));
    let project =
        Project::new("hook", &stack(FROM_ENV, "events = [\"started\", \"finished\", \"failed\", \"summary\"]\n"))
            .with_emulator();
    let env = [("HOOK_URL", url.as_str())];

    let apply = project.run_with_env(&["-vv", "apply", "--auto-approve"], &env).success();
    let received = receiver.received();
    assert!(received.iter().all(|r| r.path == format!("/hooks/{TOKEN}")), "{received:?}");
    assert!(received.iter().all(|r| r.content_type == "application/json"), "{received:?}");
    assert_eq!(events_of(&received, "started").len(), 2, "{received:?}");
    assert_eq!(events_of(&received, "finished").len(), 2, "{received:?}");
    let last = &received.last().expect("notifications").body;
    assert_eq!(last["event"], "summary", "the summary comes last: {received:?}");
    assert_eq!(last["summary"]["added"], 2);
    assert_eq!(last["message"], "apply complete: 2 added, 0 changed, 0 replaced, 0 destroyed");
    for body in received.iter().map(|r| &r.body) {
        let keys: Vec<&str> = body.as_object().expect("object").keys().map(String::as_str).collect();
        assert_eq!(keys, ["stack", "event", "address", "action", "elapsed_s", "message", "summary"], "{body}");
        assert_eq!(body["stack"], project.stack_name.as_str());
    }
    let logs = events_of(&received, "finished")[0];
    assert_eq!(logs["address"], "s3_bucket.logs", "logs is made first: data depends on it");
    assert_eq!(logs["action"], "create");
    assert!(logs["elapsed_s"].is_number());

    // The URL is in no output, the state, a plan or a saved plan.
    let plan = project.run_with_env(&["-vv", "plan", "--out", "saved.plan"], &env).success();
    let plan_json = project.run_with_env(&["plan", "--json"], &env).success();
    let state = std::fs::read_to_string(project.state_path()).expect("state");
    let saved = std::fs::read_to_string(project.path("saved.plan")).expect("saved plan");
    for (what, text) in [
        ("apply stdout", &apply.stdout),
        ("apply -vv stderr", &apply.stderr),
        ("plan", &plan.stdout),
        ("plan -vv stderr", &plan.stderr),
        ("plan --json", &plan_json.stdout),
        ("state", &state),
        ("saved plan", &saved),
    ] {
        assert!(!text.contains(TOKEN), "the webhook URL is in the {what}:\n{text}");
    }

    // A failure is sent as such; `skipped` is not an event `[notify]` sends.
    let bucket = format!("{}-data", project.stack_name);
    block_on(async { s3().put_object().bucket(&bucket).key("x").body(b"x".to_vec().into()).send().await })
        .expect("put");
    let before = receiver.received().len();
    let destroy = project.run_with_env(&["-vv", "destroy", "--auto-approve"], &env).code(1);
    assert!(!destroy.stderr.contains(TOKEN), "{}", destroy.stderr);
    let received = receiver.received()[before..].to_vec();
    let failed = events_of(&received, "failed");
    assert_eq!(failed.len(), 1, "{received:?}");
    assert_eq!(failed[0]["address"], "s3_bucket.data");
    assert!(failed[0]["message"].as_str().unwrap().contains("BucketNotEmpty"), "{}", failed[0]);
    let summary = &received.last().expect("summary").body;
    assert_eq!(summary["summary"]["success"], false);
    assert_eq!(summary["summary"]["skipped"], serde_json::json!(["s3_bucket.logs"]));
    assert!(received.iter().all(|r| r.body["event"] != "skipped"));

    block_on(async { s3().delete_object().bucket(&bucket).key("x").send().await }).expect("delete");
    project.run_with_env(&["destroy", "--auto-approve"], &env).success();
}

#[test]
fn slack_and_discord_get_one_line_of_text_in_their_own_shape() {
    let receiver = WebhookReceiver::start(200);
    let url = receiver.url(&format!("/services/{TOKEN}"));
    let env = [("HOOK_URL", url.as_str())];
    let project = Project::new("slack", &stack(FROM_ENV, "format = \"slack\"\n")).with_emulator();
    project.run_with_env(&["apply", "--auto-approve"], &env).success();
    let received = receiver.received();
    // Default events: finished, failed, summary — two creates and the summary.
    assert_eq!(received.len(), 3, "{received:?}");
    for body in received.iter().map(|r| &r.body) {
        let text = body["text"].as_str().unwrap_or_else(|| panic!("slack bodies are {{\"text\": …}}: {body}"));
        assert_eq!(body.as_object().unwrap().len(), 1, "{body}");
        assert!(!text.contains('\n') && text.starts_with(&format!("{}: ", project.stack_name)), "{text}");
    }
    assert!(received[0].body["text"].as_str().unwrap().contains("✓ s3_bucket.logs created ("), "{received:?}");
    assert!(received[2].body["text"].as_str().unwrap().contains("apply complete: 2 added"), "{received:?}");

    let discord = stack(FROM_ENV, "format = \"discord\"\n").replace("{name}", &project.stack_name);
    project.write("stack.toml", &discord);
    project.run_with_env(&["destroy", "--auto-approve"], &env).success();
    let received = receiver.received()[3..].to_vec();
    assert_eq!(received.len(), 3, "{received:?}");
    for body in received.iter().map(|r| &r.body) {
        assert!(body["content"].is_string() && body.as_object().unwrap().len() == 1, "discord: {body}");
    }
    assert!(received[0].body["content"].as_str().unwrap().contains("✓ s3_bucket.data deleted ("), "{received:?}");
    assert!(received[2].body["content"]
        .as_str()
        .unwrap()
        .contains("destroy complete: 0 added, 0 changed, 0 replaced, 2 destroyed"));
}

#[test]
fn a_failing_or_unreachable_webhook_is_one_warning_and_never_fails_the_run() {
    let project = Project::new("hookdown", &stack(FROM_ENV, "")).with_emulator();
    let unreachable = unreachable_url(&format!("/hooks/{TOKEN}"));
    let apply = project.run_with_env(&["apply", "--auto-approve"], &[("HOOK_URL", &unreachable)]).success();
    assert!(apply.stdout.contains("Apply complete! 2 added"), "{}", apply.stdout);
    let warnings: Vec<&str> = apply.stderr.lines().filter(|l| l.starts_with("warning:")).collect();
    assert_eq!(warnings.len(), 1, "{}", apply.stderr);
    assert!(
        warnings[0].starts_with("warning: webhook (from $HOOK_URL): 3 of 3 notification(s) not delivered"),
        "{}",
        warnings[0]
    );
    assert!(warnings[0].contains("the run itself was not affected"), "{}", warnings[0]);
    assert!(!apply.stderr.contains(TOKEN), "{}", apply.stderr);

    // A webhook that answers 500 is retried, then given up on, with the same single warning.
    let failing = WebhookReceiver::start(500);
    let url = failing.url(&format!("/hooks/{TOKEN}"));
    let destroy = project.run_with_env(&["destroy", "--auto-approve"], &[("HOOK_URL", &url)]).success();
    assert!(destroy.stdout.contains("Destroy complete!"), "{}", destroy.stdout);
    let warning = destroy.stderr.lines().find(|l| l.starts_with("warning:")).unwrap_or_default();
    assert!(warning.contains("not delivered") && warning.contains("500"), "{}", destroy.stderr);
    assert!(!destroy.stderr.contains(TOKEN), "{}", destroy.stderr);
    let received = failing.received();
    let first = &received.first().expect("tried").body;
    assert!(received.iter().filter(|r| &r.body == first).count() > 1, "retried: {received:?}");
}

#[test]
fn an_unset_webhook_variable_stops_the_run_before_any_aws_call_unless_optional() {
    // Nothing listens at the endpoint: had the run reached AWS, the error would be a connection one.
    let required = Project::new("hookenv", &stack(FROM_ENV, "")).with_unreachable_endpoint();
    required
        .run(&["apply", "--auto-approve"])
        .code(1)
        .stderr_has("stack.toml:5:11: the environment variable `HOOK_URL` (`[notify] webhook`) is not set")
        .stderr_has("optional = true");
    // Offline commands do not need it.
    required.run(&["validate"]).success();
    required.run(&["plan", "--refresh=false"]).success();

    let optional = Project::new("hookopt", &stack("{ env = \"HOOK_URL\", optional = true }", "")).with_emulator();
    let apply = optional.run(&["apply", "--auto-approve"]).success();
    assert!(!apply.stderr.contains("warning"), "{}", apply.stderr);
    optional.run(&["destroy", "--auto-approve"]).success();
}

#[test]
fn a_webhook_written_in_the_file_is_used_and_not_repeated_in_messages() {
    let receiver = WebhookReceiver::start(200);
    let url = receiver.url(&format!("/hooks/{TOKEN}"));
    let project = Project::new("hookfile", &stack(&format!("\"{url}\""), "events = [\"summary\"]\n")).with_emulator();
    let apply = project.run(&["-vv", "apply", "--auto-approve"]).success();
    assert!(!apply.stderr.contains(TOKEN), "{}", apply.stderr);
    let received = receiver.received();
    assert_eq!(received.len(), 1, "{received:?}");
    assert_eq!(received[0].body["event"], "summary");
    project.run(&["destroy", "--auto-approve"]).success();

    let bad = Project::new("hookbad", &stack(&format!("\"ftp://example.com/{TOKEN}\""), ""));
    let run = bad.run(&["validate"]).code(1).stderr_has("stack.toml:5:11: `[notify] webhook`: the URL must start with");
    assert!(!run.stderr.contains(TOKEN), "{}", run.stderr);
}
