//! Several services behind one load balancer: `listener_rule`s send `/api/*` to one target group
//! and a host to another, while the listener's default action takes the rest. Checked through
//! ELBv2's own answers: the rules AWS holds, their priorities, conditions and tags.

use std::collections::BTreeMap;

use crate::support::{block_on, elbv2, inventory, live_tagged_with, Project};

const ROUTED: &str = r#"
[stack]
name = "{name}"

[security_group.lb]
description = "HTTP"
ingress = [{ port = 80, cidr = "0.0.0.0/0" }]

[load_balancer.web]
security_groups = ["${security_group.lb.id}"]

[target_group.site]
port = 8080

[target_group.api]
port = 8081

[target_group.ws]
port = 8082

[listener.http]
load_balancer = "${load_balancer.web.arn}"
port = 80
forward = "${target_group.site.arn}"

[listener_rule.api]
listener = "${listener.http.arn}"
priority = 10
path_patterns = ["/v2/*", "/api/*"]
forward = "${target_group.api.arn}"

[listener_rule.ws]
listener = "${listener.http.arn}"
priority = 20
host_headers = ["ws.example.com"]
http_methods = ["GET"]
forward = "${target_group.ws.arn}"
tags = { service = "websocket" }
"#;

/// A rule as ELBv2 reports it: priority, conditions by field (values sorted), forward target, tags.
#[derive(Debug)]
struct SeenRule {
    priority: String,
    conditions: BTreeMap<String, Vec<String>>,
    forward: Vec<String>,
    tags: BTreeMap<String, String>,
}

/// The listener's rules other than its default one, by priority.
fn rules_of(listener: &str) -> Vec<SeenRule> {
    block_on(async {
        let answer = elbv2().describe_rules().listener_arn(listener).send().await.expect("DescribeRules");
        let mut seen = Vec::new();
        for rule in answer.rules().iter().filter(|rule| rule.is_default() != Some(true)) {
            let arn = rule.rule_arn().expect("arn");
            let mut conditions = BTreeMap::new();
            for condition in rule.conditions() {
                let mut values: Vec<String> = condition.values().to_vec();
                values.extend(condition.path_pattern_config().map(|c| c.values().to_vec()).unwrap_or_default());
                values.extend(condition.host_header_config().map(|c| c.values().to_vec()).unwrap_or_default());
                values.extend(condition.http_request_method_config().map(|c| c.values().to_vec()).unwrap_or_default());
                values.sort();
                conditions.insert(condition.field().unwrap_or_default().to_string(), values);
            }
            let forward = rule.actions().iter().filter_map(|a| a.target_group_arn().map(str::to_string)).collect();
            let tags = elbv2().describe_tags().resource_arns(arn).send().await.expect("DescribeTags");
            let tags = tags.tag_descriptions()[0]
                .tags()
                .iter()
                .map(|t| (t.key().unwrap_or_default().to_string(), t.value().unwrap_or_default().to_string()))
                .collect();
            seen.push(SeenRule {
                priority: rule.priority().unwrap_or_default().to_string(),
                conditions,
                forward,
                tags,
            });
        }
        seen.sort_by_key(|rule| rule.priority.parse::<i64>().unwrap_or_default());
        seen
    })
}

fn values(list: &[&str]) -> Vec<String> {
    list.iter().map(|value| value.to_string()).collect()
}

#[test]
fn rules_route_by_path_and_host_change_in_place_refuse_a_taken_priority_and_go_away() {
    let project = Project::new("rules", ROUTED).with_emulator();
    project.run(&["apply", "--auto-approve"]).success();
    let state = project.state();
    let id = |address: &str| state["resources"][address]["id"].as_str().expect("an id").to_string();
    let listener = id("listener.http");

    let rules = rules_of(&listener);
    assert_eq!(rules.len(), 2, "{rules:?}");
    assert_eq!(rules[0].priority, "10");
    assert_eq!(rules[0].conditions["path-pattern"], values(&["/api/*", "/v2/*"]));
    assert_eq!(rules[0].forward, vec![id("target_group.api")]);
    assert_eq!(rules[1].priority, "20");
    assert_eq!(rules[1].conditions["host-header"], values(&["ws.example.com"]));
    assert_eq!(rules[1].conditions["http-request-method"], values(&["GET"]));
    assert_eq!(rules[1].forward, vec![id("target_group.ws")]);
    assert_eq!(rules[1].tags.get("service").map(String::as_str), Some("websocket"));
    assert_eq!(rules[1].tags.get("provision:address").map(String::as_str), Some("listener_rule.ws"));
    assert_eq!(rules[0].tags.get("provision:stack"), Some(&project.stack_name));

    // The paths were written in another order than AWS keeps them: a set, no drift.
    project.run(&["plan", "--detailed-exitcode"]).code(0);

    // A new priority and path, in place: the rule keeps its ARN.
    let moved = ROUTED.replace(
        "priority = 10\npath_patterns = [\"/v2/*\", \"/api/*\"]",
        "priority = 15\npath_patterns = [\"/api/*\"]",
    );
    project.write_stack(&moved);
    let plan = project.run(&["plan", "--detailed-exitcode"]).code(2);
    assert!(plan.stdout.contains("~ listener_rule.api"), "{}", plan.stdout);
    assert!(!plan.stdout.contains("-/+"), "changed in place, not replaced:\n{}", plan.stdout);
    project.run(&["apply", "--auto-approve"]).success();
    assert_eq!(
        project.state()["resources"]["listener_rule.api"]["id"].as_str(),
        Some(id("listener_rule.api").as_str())
    );
    let rules = rules_of(&listener);
    assert_eq!((rules[0].priority.as_str(), &rules[0].conditions["path-pattern"]), ("15", &values(&["/api/*"])));
    project.run(&["plan", "--detailed-exitcode"]).code(0);

    // Two rules of the stack with one priority on one listener: refused offline, before any call.
    let twice = moved.replace("priority = 20", "priority = 15");
    project.write_stack(&twice);
    project
        .run(&["validate"])
        .code(1)
        .stderr_has("`listener_rule.ws` has priority 15 on the same listener")
        .stderr_has("hint:");

    // A priority a rule made outside the stack holds: AWS's answer, with the address and the fix.
    let outside = block_on(async {
        let condition = aws_sdk_elasticloadbalancingv2::types::RuleCondition::builder()
            .field("path-pattern")
            .values("/ops/*")
            .build();
        let forward = aws_sdk_elasticloadbalancingv2::types::Action::builder()
            .r#type(aws_sdk_elasticloadbalancingv2::types::ActionTypeEnum::Forward)
            .target_group_arn(id("target_group.site"))
            .build();
        let answer = elbv2()
            .create_rule()
            .listener_arn(&listener)
            .priority(30)
            .conditions(condition)
            .actions(forward)
            .send()
            .await
            .expect("CreateRule");
        answer.rules()[0].rule_arn().expect("arn").to_string()
    });
    let clash = format!(
        "{moved}\n[listener_rule.admin]\nlistener = \"${{listener.http.arn}}\"\npriority = 30\npath_patterns = [\"/admin/*\"]\nforward = \"${{target_group.api.arn}}\"\n"
    );
    project.write_stack(&clash);
    project
        .run(&["apply", "--auto-approve"])
        .code(1)
        .stderr_has("listener_rule.admin")
        .stderr_has("CreateRule")
        .stderr_has("PriorityInUse")
        .stderr_has("another rule of the listener has priority 30");
    assert_eq!(rules_of(&listener).len(), 3, "nothing was made");
    block_on(async { elbv2().delete_rule().rule_arn(&outside).send().await.expect("DeleteRule") });
    project.run(&["apply", "--auto-approve"]).success();
    assert_eq!(rules_of(&listener).iter().map(|r| r.priority.as_str()).collect::<Vec<_>>(), ["15", "20", "30"]);

    // A rule left out of the stack file is deleted; the listener and the other rules stay.
    let without_ws = moved.split("[listener_rule.ws]").next().expect("the stack before the rule");
    project.write_stack(without_ws);
    project.run(&["apply", "--auto-approve"]).success();
    let left: Vec<String> = rules_of(&listener).into_iter().map(|rule| rule.priority).collect();
    assert_eq!(left, ["15"]);
    project.run(&["plan", "--detailed-exitcode"]).code(0);

    project.run(&["destroy", "--auto-approve"]).success();
    let counts = inventory::count(&project.stack_name, None);
    assert!(counts.values().all(|count| *count == 0), "destroy leaves nothing: {counts:?}");
    assert_eq!(live_tagged_with(&project.stack_name), Vec::<String>::new());
}

/// A rule has no name: a killed run's `CreateRule` still on its way when the next run looks finds
/// nothing, and lands later. provision-proxy holds the first `CreateRule` for four seconds; the run
/// is killed while it is held and run again at once. Whichever lands first, the listener ends with
/// one rule per priority: the later create meets `PriorityInUse`, and the driver adopts the rule
/// its own tags name (or AWS refuses the held request outright).
#[test]
fn a_rule_still_on_its_way_when_apply_is_killed_is_not_made_twice() {
    use std::process::Stdio;
    use std::time::{Duration, Instant};

    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("runtime");
    let proxy =
        runtime.block_on(provision_proxy::Proxy::start(crate::support::endpoint())).expect("start provision-proxy");
    let hold = provision_proxy::Fault::Delay(Duration::from_secs(4));
    let create_rule = provision_proxy::Matcher::any().operation("CreateRule");
    proxy.add_rule(provision_proxy::Rule::new(create_rule, hold).times(1));

    let project = Project::new("rulekill", ROUTED).with_endpoint(&proxy.endpoint());
    let mut child = project
        .command(&["apply", "--auto-approve"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start provision");
    let deadline = Instant::now() + Duration::from_secs(60);
    let creating = || -> bool {
        let text = std::fs::read_to_string(project.state_path()).unwrap_or_default();
        let state: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        ["listener_rule.api", "listener_rule.ws"]
            .iter()
            .any(|address| state["resources"][address]["status"] == "creating")
    };
    while !creating() {
        assert!(Instant::now() < deadline, "no rule's create started");
        assert!(child.try_wait().expect("wait").is_none(), "apply ended before a rule's create was sent");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(500));
    child.kill().expect("SIGKILL");
    child.wait().expect("reap");
    let killed = Instant::now();

    project.run(&["apply", "--auto-approve"]).success();
    // The held request lands now, if it has not yet.
    std::thread::sleep(Duration::from_secs(5).saturating_sub(killed.elapsed()));
    std::thread::sleep(Duration::from_millis(500));
    let listener = project.state()["resources"]["listener.http"]["id"].as_str().expect("the listener").to_string();
    let rules = rules_of(&listener);
    let priorities: Vec<&str> = rules.iter().map(|rule| rule.priority.as_str()).collect();
    assert_eq!(priorities, ["10", "20"], "one rule per priority: {rules:?}");
    project.run(&["plan", "--detailed-exitcode"]).code(0);
    project.run(&["destroy", "--auto-approve"]).success();
    assert_eq!(live_tagged_with(&project.stack_name), Vec::<String>::new());
}

/// `CreateRule` makes the rule but its answer never arrives (the connection is reset after the
/// emulator handled it): the SDK's retry meets the rule it made as `PriorityInUse`, and the driver
/// adopts it by its tags instead of failing (`any.response-lost`).
#[test]
fn a_rule_whose_create_answer_was_lost_is_adopted() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("runtime");
    let proxy =
        runtime.block_on(provision_proxy::Proxy::start(crate::support::endpoint())).expect("start provision-proxy");
    let create_rule = provision_proxy::Matcher::any().operation("CreateRule");
    proxy.add_rule(provision_proxy::Rule::new(create_rule, provision_proxy::Fault::ResetAfter).times(1));

    let project = Project::new("rulelost", ROUTED).with_endpoint(&proxy.endpoint());
    project.run(&["apply", "--auto-approve"]).success();
    assert_eq!(proxy.faults(), 1, "one answer was lost");
    let creates = proxy.log().iter().filter(|span| span.operation == "CreateRule").count();
    assert_eq!(creates, 3, "two rules, one of them sent again");
    let state = project.state();
    let listener = state["resources"]["listener.http"]["id"].as_str().expect("the listener").to_string();
    let rules = rules_of(&listener);
    let priorities: Vec<&str> = rules.iter().map(|rule| rule.priority.as_str()).collect();
    assert_eq!(priorities, ["10", "20"], "{rules:?}");
    project.run(&["plan", "--detailed-exitcode"]).code(0);
    project.run(&["destroy", "--auto-approve"]).success();
}
