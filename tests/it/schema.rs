//! The JSON Schema (`provision schema`) and the loader agree: every example stack and every stack
//! `provision init` writes is accepted by both, and each file of a corpus of mistakes is refused by
//! both at the same field — by an independent validator (python-jsonschema, draft 2020-12) for
//! the schema, with `file:line:column` for the loader. (Every stack the other integration tests
//! write is judged the same way as it is written: `support::schema_check`.)

use serde_json::json;

use crate::support::schema_check::{judge, schema_text, Verdicts};

/// A stack text judged by both, from a file named `stack.toml` in a folder of its own.
fn judge_text(text: &str) -> Verdicts {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("stack.toml");
    std::fs::write(&path, text).expect("write stack");
    judge(&path)
}

#[track_caller]
fn assert_both_accept(what: &str, verdicts: &Verdicts) {
    assert!(verdicts.loader.is_ok(), "{what}: provision refuses it:\n{}", verdicts.loader_text());
    assert!(verdicts.schema.accepts(), "{what}: the JSON Schema refuses it: {:#?}", verdicts.schema);
}

#[test]
fn every_example_stack_is_valid_for_the_loader_and_the_schema() {
    let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("stacks");
    let mut judged = 0;
    for entry in std::fs::read_dir(&folder).expect("stacks/") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "toml") {
            assert_both_accept(&path.display().to_string(), &judge(&path));
            judged += 1;
        }
    }
    assert!(judged >= 6, "only {judged} example stacks");
}

#[test]
fn init_writes_the_schema_beside_a_stack_that_points_at_it() {
    let root = tempfile::tempdir().expect("temp dir");
    for template in ["static-site", "websocket-platform"] {
        let dir = root.path().join(template);
        std::fs::create_dir_all(&dir).expect("folder");
        let name = crate::support::unique_stack_name("schema");
        let init = crate::support::run_binary(&dir, None, &["init", "--template", template, "--name", &name], &[]);
        assert_eq!(init.code, 0, "{template}: {}", init.stderr);
        assert!(init.stdout.contains("stack.schema.json"), "{}", init.stdout);
        let stack = dir.join("stack.toml");
        let text = std::fs::read_to_string(&stack).expect("stack.toml");
        assert_eq!(text.lines().next(), Some("#:schema ./stack.schema.json"), "{template}");
        let written = std::fs::read_to_string(dir.join("stack.schema.json")).expect("stack.schema.json written");
        assert_eq!(written.trim_end(), schema_text().trim_end(), "init writes what `provision schema` prints");
        assert_both_accept(template, &judge(&stack));
    }
    // A schema file already there is kept, not overwritten, and not an error.
    let dir = root.path().join("static-site");
    std::fs::write(dir.join("stack.schema.json"), "{}").expect("write");
    let again = crate::support::run_binary(&dir, None, &["-f", "other.toml", "init", "--template", "api-service"], &[]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(std::fs::read_to_string(dir.join("stack.schema.json")).unwrap(), "{}");
}

/// `websocket-platform.toml` has `[notify]`; the schema of old did not know it.
#[test]
fn notify_moved_and_every_section_are_in_the_schema() {
    let stack = r#"
[stack]
name = "sections"
region = "eu-west-1"
tags = { team = "web", env = "${var.env}" }
endpoint = "http://127.0.0.1:5000"

[state]
s3 = "s3://team-state/${stack.name}/${var.env}.json"
region = "eu-west-1"
lock_ttl = "2m"
kms_key = "alias/state"

[variables]
env = "dev"
replicas = 2
production = false
zones = ["a", "b"]

[network]
vpc = "default"
subnets = ["subnet-1", "subnet-2"]

[notify]
webhook = { env = "DEPLOY_WEBHOOK_URL", optional = true }
events = ["started", "failed"]
format = "slack"

[[moved]]
from = "s3_bucket.old"
to = "s3_bucket.site"

[s3_bucket.site]
versioning = "${var.production}"
tags = { owner = "${var.env}" }
depends_on = ["s3_bucket.logs"]

[s3_bucket.logs]
force_destroy = true

[outputs]
bucket = "${s3_bucket.site.name}"
count = 3
list = ["${s3_bucket.site.arn}", 1, true]
table = { a = "b", nested = { c = 1 } }
"#;
    assert_both_accept("every section", &judge_text(stack));
}

/// A reference stands for a value of any type where the loader takes one: one reference, alone.
#[test]
fn a_lone_reference_stands_for_a_boolean_an_integer_or_a_list() {
    let stack = r#"
[stack]
name = "refs"

[variables]
production = true
idle = 120
port = 8080

[security_group.lb]
ingress = [{ port = "${var.port}", cidr = "0.0.0.0/0" }]

[load_balancer.web]
internal = "${var.production}"
idle_timeout = "${var.idle}"
subnets = "${network.subnet_ids}"
security_groups = ["${security_group.lb.id}"]
"#;
    assert_both_accept("references", &judge_text(stack));
    for (field, value) in [("internal", "\"x${var.production}\""), ("idle_timeout", "\"${var.idle} s\"")] {
        let text = stack.replace(&format!("{field} = "), &format!("{field} = {value}\n# "));
        let verdicts = judge_text(&text);
        assert!(verdicts.loader.is_err(), "{field} = {value}: provision accepts it");
        assert!(verdicts.schema.refuses_at(&json!(["load_balancer", "web", field])), "{field}: {:#?}", verdicts.schema);
    }
}

/// A stack in a network of its own: `[network] vpc` takes the one reference that names it, and
/// `protect` a boolean or a variable holding one.
#[test]
fn an_own_network_and_protect_are_in_the_schema() {
    let stack = r#"
[stack]
name = "own"

[variables]
production = false

[network]
vpc = "${vpc.main.id}"

[vpc.main]
nat = "none"
endpoints = ["s3", "ecr", "logs"]
protect = "${var.production}"

[load_balancer.web]
protect = true

[outputs]
public = "${network.public_subnet_ids}"
"#;
    assert_both_accept("own network", &judge_text(stack));
}

/// One mistake each: the loader refuses it with `file:line:column` and a message, and the JSON
/// Schema refuses the value at `path`.
struct Mistake {
    what: &'static str,
    stack: &'static str,
    path: serde_json::Value,
    loader: &'static str,
}

fn mistakes() -> Vec<Mistake> {
    let m = |what, stack, path, loader| Mistake { what, stack, path, loader };
    vec![
        m(
            "unknown section",
            "[stack]\nname = \"shop\"\n\n[stak]\nname = \"x\"\n",
            json!([]),
            "stack.toml:4:2: unknown section or resource type `stak`",
        ),
        m("no [stack]", "[variables]\nenv = \"dev\"\n", json!([]), "stack.toml:1:1: the stack file has no `[stack]` table"),
        m(
            "unknown field in [stack]",
            "[stack]\nname = \"shop\"\nregoin = \"us-east-1\"\n",
            json!(["stack"]),
            "stack.toml:3:1: unknown field `regoin` in `[stack]`",
        ),
        m(
            "unknown field in [state]",
            "[stack]\nname = \"shop\"\n[state]\nlock_tll = \"5m\"\n",
            json!(["state"]),
            "stack.toml:4:1: unknown field `lock_tll` in `[state]`",
        ),
        m(
            "unknown field in [network]",
            "[stack]\nname = \"shop\"\n[network]\nsubnet = [\"subnet-1\"]\n",
            json!(["network"]),
            "stack.toml:4:1: unknown field `subnet` in `[network]`",
        ),
        m(
            "unknown field in [notify]",
            "[stack]\nname = \"shop\"\n[notify]\nwebhook = { env = \"HOOK\" }\nevent = [\"failed\"]\n",
            json!(["notify"]),
            "stack.toml:5:1: unknown field `event` in `[notify]`",
        ),
        m(
            "unknown field in [notify] webhook",
            "[stack]\nname = \"shop\"\n[notify]\nwebhook = { env = \"HOOK\", optinal = true }\n",
            json!(["notify", "webhook"]),
            "stack.toml:4:27: unknown field `optinal` in `[notify] webhook`",
        ),
        m(
            "unknown field in [[moved]]",
            "[stack]\nname = \"shop\"\n[[moved]]\nform = \"s3_bucket.a\"\nto = \"s3_bucket.b\"\n[s3_bucket.b]\n",
            json!(["moved", 0]),
            "stack.toml:4:1: unknown field `form` in `[[moved]]`",
        ),
        m(
            "unknown field in a resource",
            "[stack]\nname = \"shop\"\n\n[s3_bucket.site]\nversionin = true\n",
            json!(["s3_bucket", "site"]),
            "stack.toml:5:1: unknown field `versionin` in `s3_bucket.site`",
        ),
        m(
            "unknown field in a nested table",
            "[stack]\nname = \"shop\"\n\n[target_group.api]\nport = 8080\nhealth_check = { pth = \"/\" }\n",
            json!(["target_group", "api", "health_check"]),
            "stack.toml:6:18: unknown field `pth` in `target_group.api.health_check`",
        ),
        m(
            "unknown field in a [TYPE.NAME.TABLE] table",
            "[stack]\nname = \"shop\"\n\n[ecs_cluster.main]\n\n[ecs_service.api]\ncluster = \"${ecs_cluster.main.arn}\"\n\n[ecs_service.api.container]\nimage = \"nginx:1\"\nimag = \"nginx:2\"\n",
            json!(["ecs_service", "api", "container"]),
            "stack.toml:11:1: unknown field `imag` in `ecs_service.api.container`",
        ),
        m(
            "a string for a boolean",
            "[stack]\nname = \"shop\"\n\n[s3_bucket.site]\nversioning = \"yes\"\n",
            json!(["s3_bucket", "site", "versioning"]),
            "stack.toml:5:14: `s3_bucket.site.versioning` must be a boolean, found a string",
        ),
        m(
            "an integer for a string",
            "[stack]\nname = 5\n",
            json!(["stack", "name"]),
            "stack.toml:2:8: `[stack] name` must be a string, found an integer",
        ),
        m(
            "a decimal number for an integer",
            "[stack]\nname = \"shop\"\n\n[load_balancer.web]\nidle_timeout = 60.5\n",
            json!(["load_balancer", "web", "idle_timeout"]),
            "stack.toml:5:16: `load_balancer.web.idle_timeout` must be an integer, found a decimal number",
        ),
        m(
            "a decimal number for a variable",
            "[stack]\nname = \"shop\"\n[variables]\nratio = 1.5\n",
            json!(["variables", "ratio"]),
            "stack.toml:4:9: `[variables] ratio` must be a string, integer, boolean or list or a table, found a decimal number",
        ),
        m(
            "a date for an output",
            "[stack]\nname = \"shop\"\n[outputs]\nwhen = 2024-01-01\n",
            json!(["outputs", "when"]),
            "stack.toml:4:8: `[outputs] when` must be a string, integer, boolean, list or table, found a date",
        ),
        m(
            "an integer out of range",
            "[stack]\nname = \"shop\"\n\n[target_group.api]\nport = 70000\n",
            json!(["target_group", "api", "port"]),
            "stack.toml:5:8: `target_group.api.port` is 70000; it must be from 1 to 65535",
        ),
        m(
            "a nested integer out of range",
            "[stack]\nname = \"shop\"\n\n[target_group.api]\nport = 80\nhealth_check = { interval = 1 }\n",
            json!(["target_group", "api", "health_check", "interval"]),
            "stack.toml:6:29: `target_group.api.health_check.interval` is 1; it must be from 5 to 300",
        ),
        m(
            "a value not in the list",
            "[stack]\nname = \"shop\"\n\n[cloudfront_distribution.cdn]\norigin_bucket = \"b\"\nprice_class = \"PriceClass_1\"\n",
            json!(["cloudfront_distribution", "cdn", "price_class"]),
            "stack.toml:6:15: `cloudfront_distribution.cdn.price_class` must be one of",
        ),
        m(
            "an event that does not exist",
            "[stack]\nname = \"shop\"\n[notify]\nwebhook = { env = \"HOOK\" }\nevents = [\"finishd\"]\n",
            json!(["notify", "events", 0]),
            "stack.toml:5:11: `[notify] events[0]` must be one of",
        ),
        m(
            "a format that does not exist",
            "[stack]\nname = \"shop\"\n[notify]\nwebhook = { env = \"HOOK\" }\nformat = \"teams\"\n",
            json!(["notify", "format"]),
            "stack.toml:5:10: `[notify] format` must be one of",
        ),
        m(
            "no events",
            "[stack]\nname = \"shop\"\n[notify]\nwebhook = { env = \"HOOK\" }\nevents = []\n",
            json!(["notify", "events"]),
            "stack.toml:5:10: `[notify] events` is empty",
        ),
        m(
            "a webhook that is not a URL",
            "[stack]\nname = \"shop\"\n[notify]\nwebhook = \"hooks.example.com/T0\"\n",
            json!(["notify", "webhook"]),
            "stack.toml:4:11: `[notify] webhook`: the URL must start with",
        ),
        m(
            "a webhook variable that is not a name",
            "[stack]\nname = \"shop\"\n[notify]\nwebhook = { env = \"1HOOK\" }\n",
            json!(["notify", "webhook", "env"]),
            "stack.toml:4:19: `[notify] webhook.env`: `1HOOK` is not valid",
        ),
        m(
            "no webhook",
            "[stack]\nname = \"shop\"\n[notify]\nformat = \"json\"\n",
            json!(["notify"]),
            "`[notify]` is missing the required field `webhook`",
        ),
        m(
            "a stack name that is not valid",
            "[stack]\nname = \"Shop\"\n",
            json!(["stack", "name"]),
            "stack.toml:2:8: `[stack] name`: `Shop` is not valid",
        ),
        m(
            "a stack name that is too long",
            "[stack]\nname = \"a-name-that-is-far-too-long-for-aws\"\n",
            json!(["stack", "name"]),
            "stack.toml:2:8: `[stack] name`: `a-name-that-is-far-too-long-for-aws` is not valid",
        ),
        m(
            "no stack name",
            "[stack]\nregion = \"us-east-1\"\n",
            json!(["stack"]),
            "`[stack]` is missing the required field `name`",
        ),
        m(
            "a region that does not exist",
            "[stack]\nname = \"shop\"\nregion = \"mars-north-9\"\n",
            json!(["stack", "region"]),
            "stack.toml:3:10: `[stack] region`: `mars-north-9` is not an AWS region",
        ),
        m(
            "a reference [stack] cannot hold",
            "[stack]\nname = \"shop\"\nregion = \"${stack.name}\"\n",
            json!(["stack", "region"]),
            "stack.toml:3:11: `${stack.name}` cannot be used in `[stack] region`",
        ),
        m(
            "a reserved tag key",
            "[stack]\nname = \"shop\"\ntags = { \"aws:owner\" = \"me\" }\n",
            json!(["stack", "tags"]),
            "stack.toml:3:10: tag key `aws:owner` uses the `aws:` prefix",
        ),
        m(
            "tags given as a reference",
            "[stack]\nname = \"shop\"\n[variables]\nteam = \"web\"\n\n[s3_bucket.site]\ntags = \"${var.team}\"\n",
            json!(["s3_bucket", "site", "tags"]),
            "stack.toml:7:8: `s3_bucket.site.tags` must be a table of strings, found a string",
        ),
        m(
            "a state bucket that is not valid",
            "[stack]\nname = \"shop\"\n[state]\ns3 = \"s3://Team_State/prod.json\"\n",
            json!(["state", "s3"]),
            "stack.toml:4:6: `[state] s3`: `s3://Team_State/prod.json`: `Team_State` is not a valid bucket name",
        ),
        m(
            "a lease that is not a duration",
            "[stack]\nname = \"shop\"\n[state]\ns3 = \"s3://team-state/p.json\"\nlock_ttl = \"5 minutes\"\n",
            json!(["state", "lock_ttl"]),
            "stack.toml:5:12: `[state] lock_ttl`: `5 minutes` is not a duration",
        ),
        m(
            "a resource name that is not valid",
            "[stack]\nname = \"shop\"\n\n[s3_bucket.Site]\n",
            json!(["s3_bucket"]),
            "stack.toml:4:12: `s3_bucket.Site`: resource names must match",
        ),
        m(
            "a resource that is not a table",
            "s3_bucket = 5\n[stack]\nname = \"shop\"\n",
            json!(["s3_bucket"]),
            "stack.toml:1:13: `s3_bucket` must be a table of resources",
        ),
        m(
            "a depends_on entry that is not an address",
            "[stack]\nname = \"shop\"\n\n[s3_bucket.site]\ndepends_on = [\"bucket\"]\n",
            json!(["s3_bucket", "site", "depends_on", 0]),
            "stack.toml:5:15: `s3_bucket.site.depends_on[0]`: `bucket` is not valid",
        ),
        m(
            "a [[moved]] address that is not one",
            "[stack]\nname = \"shop\"\n[[moved]]\nfrom = \"bucket\"\nto = \"s3_bucket.b\"\n[s3_bucket.b]\n",
            json!(["moved", 0, "from"]),
            "stack.toml:4:8: `[[moved]] from`: `bucket` is not valid",
        ),
        m(
            "a secret written in the file",
            "[stack]\nname = \"shop\"\n\n[secret.session]\nvalue = \"hunter2\"\n",
            json!(["secret", "session", "value"]),
            "stack.toml:5:9: `secret.session.value` is a secret and cannot be written in the stack file",
        ),
        m(
            "a required field left out",
            "[stack]\nname = \"shop\"\n\n[target_group.api]\nprotocol = \"HTTP\"\n",
            json!(["target_group", "api"]),
            "`target_group.api` is missing the required field `port`",
        ),
        m(
            "a protect flag that is not a boolean",
            "[stack]\nname = \"shop\"\n\n[s3_bucket.site]\nprotect = \"yes\"\n",
            json!(["s3_bucket", "site", "protect"]),
            "stack.toml:5:11: `s3_bucket.site.protect` must be a boolean, found a string",
        ),
        m(
            "a [network] vpc given by the stack's name",
            "[stack]\nname = \"shop\"\n[network]\nvpc = \"${stack.name}\"\n",
            json!(["network", "vpc"]),
            "stack.toml:4:8: `${stack.name}` cannot be used in `[network] vpc`",
        ),
        m(
            "a network in too many zones",
            "[stack]\nname = \"shop\"\n\n[vpc.main]\nazs = 7\n",
            json!(["vpc", "main", "azs"]),
            "stack.toml:5:7: `vpc.main.azs` is 7; it must be from 2 to 6",
        ),
        m(
            "an endpoint provision does not make",
            "[stack]\nname = \"shop\"\n\n[vpc.main]\nendpoints = [\"s3\", \"docker\"]\n",
            json!(["vpc", "main", "endpoints", 1]),
            "stack.toml:5:20: `vpc.main.endpoints[1]` must be one of",
        ),
        m(
            "a network range that is too large",
            "[stack]\nname = \"shop\"\n\n[vpc.main]\ncidr = \"10.0.0.0/8\"\n",
            json!(["vpc", "main", "cidr"]),
            "stack.toml:5:8: `vpc.main.cidr`: `10.0.0.0/8`: a VPC's range must be a /16 to a /24",
        ),
        m(
            "an unclosed reference",
            "[stack]\nname = \"shop\"\n\n[s3_bucket.site]\nupload = \"${var.dir\"\n",
            json!(["s3_bucket", "site", "upload"]),
            "stack.toml:5:11: unclosed `${`",
        ),
    ]
}

#[test]
fn each_mistake_is_refused_by_both_at_its_field() {
    for mistake in mistakes() {
        let verdicts = judge_text(mistake.stack);
        let loader = verdicts.loader_text();
        assert!(loader.contains("stack.toml:"), "{}: no `file:line:column`:\n{loader}", mistake.what);
        assert!(
            loader.contains(mistake.loader),
            "{}: provision should say {:?}, says:\n{loader}",
            mistake.what,
            mistake.loader
        );
        assert!(!verdicts.loader_shape_errors().is_empty(), "{}: not a rule of the schema:\n{loader}", mistake.what);
        assert!(
            verdicts.schema.refuses_at(&mistake.path),
            "{}: the JSON Schema should refuse the value at {}, says: {:#?}",
            mistake.what,
            mistake.path,
            verdicts.schema
        );
    }
}

/// What a reference stands for is known only to the loader: the schema accepts the reference, the
/// loader checks the value it resolves to against the same descriptor, once.
#[test]
fn a_value_from_a_variable_is_checked_by_the_loader_once_resolved() {
    let verdicts = judge_text(
        "[stack]\nname = \"shop\"\n[variables]\nport = 70000\n\n[target_group.api]\nport = \"${var.port}\"\n",
    );
    assert!(verdicts.schema.accepts(), "{:#?}", verdicts.schema);
    let loader = verdicts.loader_text();
    assert!(
        loader.contains("stack.toml:7:8: `target_group.api.port` is 70000; it must be from 1 to 65535"),
        "{loader}"
    );
    assert_eq!(loader.matches("70000").count(), 1, "reported once:\n{loader}");
    assert!(verdicts.loader_shape_errors().is_empty(), "{loader}");
}
