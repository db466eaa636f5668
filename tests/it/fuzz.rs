//! Property-based fuzzing (proptest, on stable Rust) of what reads untrusted text: the stack loader
//! (with every resource type's real schema), the `${...}` expression parser, and the state reader
//! with the writer behind it. The saved-plan reader has its own target beside it
//! (`src/ops/plan_file.rs`). The properties: no input panics or hangs, every diagnostic renders, and
//! every span lies inside the file on a character boundary.
//!
//! Each target runs `PROVISION_FUZZ_CASES` cases (default 256: seconds, for CI); set it to 100000
//! or more to fuzz by hand. Inputs are example stacks and states mutated with fragments that have
//! broken things before (escapes, multi-byte characters, `${`, huge numbers and durations), plus
//! free-form text. Every crash found is kept below as a regression test with its input.

use std::collections::BTreeMap;
use std::path::Path;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use provision_aws::{AwsCloud, ConnectOptions};
use provision_core::cloud::Cloud;
use provision_core::driver::StackInfo;
use provision_core::plan::{resolve_inputs, Resolver};
use provision_core::stack::{self, expression::parse_template, LoadOptions, Reference};
use provision_core::state::State;
use provision_core::value::Value;

fn cases() -> u32 {
    std::env::var("PROVISION_FUZZ_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(256)
}

fn runner() -> TestRunner {
    TestRunner::new(Config { cases: cases(), failure_persistence: None, ..Config::default() })
}

/// Pieces that have broken parsers and renderers: quotes of every kind, escapes, characters of 2, 3
/// and 4 bytes, references good and bad, numbers and durations too large for their types.
const FRAGMENTS: &[&str] = &[
    "\"",
    "\"\"\"",
    "'",
    "'''",
    "\\t",
    "\\\\",
    "\\u00e9",
    "\\U0001F600",
    "é",
    "€",
    "𝄞",
    "\t",
    "\n",
    "\r\n",
    "${",
    "}",
    "${var.x}",
    "${var.nope}",
    "${var.pw}",
    "$${",
    "${stack.name}",
    "${network.vpc_id}",
    "${s3_bucket.site.name}",
    "${a.b.c.d}",
    "[",
    "]",
    "[[moved]]",
    "{",
    "=",
    "#",
    ",",
    "9999999999999999999999",
    "-1",
    "0x7fffffffffffffff",
    "true",
    "1.5",
    "1979-05-27",
    "{ env = \"PW\" }",
    "{ default = \"a\", sensitive = true }",
    "\"s3://a/b\"",
    "\"18446744073709551615\"",
    "\"999999999999999999h\"",
    "lock_ttl = \"1s\"",
    "vpc = \"defaul[\"",
    "endpoint = \"http://evil.example.com\"",
    "upload = \"/etc\"",
    "upload = \"..\"",
    "tags = { team = \"\\té${var.nope}\" }",
    "bucket = \"\"\"éa${x\"\"\"",
    "[variables]\n",
    "[stack]\n",
    "[s3_bucket.site]\n",
    "[secret.db]\n",
    "value = \"${var.pw}\"\n",
];

const SEED_SNIPPET: &str = r#"[stack]
name = "fuzz"
region = "us-east-1"
tags = { team = "web" }

[variables]
env = "dev"
pw = { default = "x", sensitive = true }
count = 2

[network]
vpc = "default"

[state]
path = "state/${stack.name}.json"

[s3_bucket.site]
versioning = true
tags = { env = "${var.env}" }

[secret.db]
value = "${var.pw}"

[log_group.api]
retention_days = 14

[outputs]
bucket = "${s3_bucket.site.name}"
"#;

fn seeds() -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("stacks");
    let mut seeds = vec![SEED_SNIPPET.to_string()];
    for entry in std::fs::read_dir(root).expect("stacks/").flatten() {
        if entry.path().extension().is_some_and(|e| e == "toml") {
            seeds.push(std::fs::read_to_string(entry.path()).expect("example stack"));
        }
    }
    seeds
}

/// One edit of a text at a character boundary.
#[derive(Clone, Debug)]
enum Edit {
    Insert(usize, String),
    Delete(usize, usize),
    Replace(usize, usize, String),
}

fn piece() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => proptest::sample::select(FRAGMENTS).prop_map(str::to_string),
        1 => "\\PC{0,6}",
        1 => any::<char>().prop_map(|c| c.to_string()),
    ]
}

fn edits() -> impl Strategy<Value = Vec<Edit>> {
    let edit = prop_oneof![
        3 => (any::<usize>(), piece()).prop_map(|(at, text)| Edit::Insert(at, text)),
        1 => (any::<usize>(), 0usize..40).prop_map(|(at, len)| Edit::Delete(at, len)),
        2 => (any::<usize>(), 0usize..12, piece()).prop_map(|(at, len, text)| Edit::Replace(at, len, text)),
    ];
    proptest::collection::vec(edit, 1..8)
}

fn boundary(text: &str, at: usize) -> usize {
    let mut at = if text.is_empty() { 0 } else { at % (text.len() + 1) };
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

fn apply(mut text: String, edits: &[Edit]) -> String {
    for edit in edits {
        match edit {
            Edit::Insert(at, piece) => {
                let at = boundary(&text, *at);
                text.insert_str(at, piece);
            }
            Edit::Delete(at, len) | Edit::Replace(at, len, _) => {
                let start = boundary(&text, *at);
                let end = boundary(&text, start.saturating_add(*len).min(text.len()));
                let with = if let Edit::Replace(_, _, piece) = edit { piece.as_str() } else { "" };
                text.replace_range(start..end, with);
            }
        }
    }
    text
}

/// Loads the text; renders every diagnostic; resolves every resource's inputs offline.
fn load_and_use(cloud: &AwsCloud, text: &str, variables: &[(String, String)]) {
    let path = Path::new("fuzz/stack.toml");
    let options = LoadOptions { variables: variables.to_vec(), ..LoadOptions::default() };
    match stack::load_source(path, text.to_string(), &options, cloud.drivers()) {
        Err(error) => {
            for diagnostic in &error.diagnostics {
                if let Some(span) = &diagnostic.span {
                    StackErrorSpan::check(&error.source, span);
                }
            }
            let _ = error.render(true);
            let _ = error.to_string();
        }
        Ok(stack) => {
            let _ = stack::diagnostic::render(&stack.path, &stack.source, &stack.warnings, false);
            let info = StackInfo {
                name: stack.name.clone(),
                region: "us-east-1".into(),
                directory: ".".into(),
                lineage: None,
            };
            let resolver = Resolver { stack: &stack, info: &info, network: None };
            for resource in stack.resources.values() {
                let Some(driver) = cloud.drivers().get(&resource.address.type_name) else { continue };
                let _ = resolve_inputs(&resolver, driver, resource, &|_| None::<BTreeMap<String, Value>>, None);
            }
        }
    }
}

/// A span that a diagnostic carries must lie inside the source, on character boundaries — the
/// renderer is forgiving now, but a span inside a character is still a wrong place to point at.
struct StackErrorSpan;

impl StackErrorSpan {
    fn check(source: &str, span: &std::ops::Range<usize>) {
        assert!(
            span.start <= span.end && span.end <= source.len(),
            "span {span:?} outside the file of {}",
            source.len()
        );
        assert!(
            source.is_char_boundary(span.start) && source.is_char_boundary(span.end),
            "span {span:?} cuts a character in {source:?}"
        );
    }
}

#[test]
fn the_stack_loader_never_panics_and_every_span_is_a_real_place() {
    let cloud = AwsCloud::new(ConnectOptions::default());
    let seeds = seeds();
    let variables = vec![("pw".to_string(), "hunter2".to_string())];
    let strategy = (proptest::sample::select(seeds), edits());
    runner()
        .run(&strategy, |(seed, edits)| {
            load_and_use(&cloud, &apply(seed, &edits), &variables);
            Ok(())
        })
        .unwrap();
    // Free-form text too, not only mutated stacks.
    runner()
        .run(&"\\PC{0,200}", |text| {
            load_and_use(&cloud, &text, &[]);
            Ok(())
        })
        .unwrap();
}

#[test]
fn the_expression_parser_never_panics_and_its_spans_stay_in_the_text() {
    let text = prop_oneof!["\\PC{0,60}", proptest::collection::vec(piece(), 0..10).prop_map(|pieces| pieces.concat()),];
    runner()
        .run(&(text, 0usize..1_000_000), |(text, base)| {
            if let Ok(parts) = parse_template(&text, base) {
                for part in &parts {
                    if let stack::Part::Reference(_, span) = part {
                        prop_assert!(span.start >= base && span.end <= base + text.len(), "{span:?} in {text:?}");
                        prop_assert!(
                            text.is_char_boundary(span.start - base) && text.is_char_boundary(span.end - base)
                        );
                    }
                }
                let expr = stack::SpannedExpr { expr: stack::Expr::Template(parts), span: 0..text.len() };
                let lookup = |reference: &Reference| match reference {
                    Reference::Variable(_) => Value::List(vec![Value::Str("a".into())]),
                    Reference::Network(_) => Value::Unknown,
                    _ => Value::Str(text.clone()),
                };
                let _ = expr.resolve(&lookup);
            }
            Ok(())
        })
        .unwrap();
}

const SEED_STATE: &str = r#"{
  "version": 1,
  "lineage": "1b4e28ba-2fa1-11d2-883f-0016d3cca427",
  "serial": 7,
  "stack": "fuzz",
  "resources": {
    "s3_bucket.site": {
      "type": "s3_bucket",
      "id": "fuzz-site",
      "inputs": { "bucket": "fuzz-site", "force_destroy": false, "tags": { "team": "web" } },
      "attributes": { "name": "fuzz-site", "arn": "arn:aws:s3:::fuzz-site" },
      "dependencies": []
    },
    "secret.db": {
      "type": "secret",
      "id": "arn:aws:secretsmanager:us-east-1:123456789012:secret:fuzz-db-AbCdEf",
      "status": "creating",
      "inputs": { "value": "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaA" },
      "attributes": {},
      "dependencies": ["s3_bucket.site"]
    }
  },
  "outputs": { "site": "fuzz-site" },
  "region": "us-east-1",
  "account": "123456789012"
}
"#;

const STATE_FRAGMENTS: &[&str] = &[
    "18446744073709551615",
    "18446744073709551616",
    "-1",
    "1e999",
    "null",
    "\"\"",
    "{}",
    "[]",
    "\"type\"",
    ":",
    ",",
    "\"serial\": 18446744073709551615",
    "\"version\": 4294967295",
    "\"status\": \"deleting\"",
    "\"é\"",
    "\\u0000",
    "\"s3_bucket.\"",
    "\"a.b.c\"",
    "\"$argon2id$\"",
    "\"sha256:x\"",
];

#[test]
fn the_state_reader_and_writer_never_panic() {
    let piece = prop_oneof![
        3 => proptest::sample::select(STATE_FRAGMENTS).prop_map(str::to_string),
        1 => "\\PC{0,6}",
    ];
    let edit = prop_oneof![
        3 => (any::<usize>(), piece.clone()).prop_map(|(at, text)| Edit::Insert(at, text)),
        1 => (any::<usize>(), 0usize..30).prop_map(|(at, len)| Edit::Delete(at, len)),
        2 => (any::<usize>(), 0usize..12, piece).prop_map(|(at, len, text)| Edit::Replace(at, len, text)),
    ];
    let dir = tempfile::tempdir().expect("temp dir");
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("runtime");
    runner()
        .run(&proptest::collection::vec(edit, 0..6), |edits| {
            let text = apply(SEED_STATE.to_string(), &edits);
            let Ok(state) = State::parse(&text, "fuzz.json") else { return Ok(()) };
            let again = State::parse(&String::from_utf8_lossy(&state.to_document()), "again")
                .expect("a written state reads back");
            prop_assert!(again.same_resources(&state));
            // Written through the real writer: a hostile serial must fail the write, not the process.
            let path = dir.path().join("state.json");
            let _ = std::fs::remove_file(&path);
            runtime.block_on(async {
                let backend = std::sync::Arc::new(provision_core::state::LocalBackend::new(path.clone()));
                let writer = provision_core::state::StateWriter::start(backend, state, None, "fuzz");
                let _ = writer.commit(|state| state.outputs.clear()).await;
                writer.finish().await;
            });
            Ok(())
        })
        .unwrap();
}

/// Regression tests: inputs that crashed provision, each kept with what it must do now.
mod found {
    use super::*;

    fn error_of(text: &str) -> String {
        let cloud = AwsCloud::new(ConnectOptions::default());
        let options = LoadOptions::default();
        match stack::load_source(Path::new("stack.toml"), text.to_string(), &options, cloud.drivers()) {
            Ok(_) => panic!("expected an error for {text:?}"),
            Err(error) => {
                for diagnostic in &error.diagnostics {
                    if let Some(span) = &diagnostic.span {
                        StackErrorSpan::check(&error.source, span);
                    }
                }
                error.to_string()
            }
        }
    }

    #[test]
    fn an_unclosed_reference_after_a_multibyte_character_in_a_triple_quoted_string() {
        let error = error_of("[stack]\nname = \"f\"\n[s3_bucket.site]\nbucket = \"\"\"éa${x\"\"\"\n");
        assert!(error.contains("stack.toml:4:15: unclosed `${`"), "{error}");
    }

    #[test]
    fn an_unknown_variable_after_an_escape_and_a_multibyte_character() {
        let error = error_of("[stack]\nname = \"f\"\n[s3_bucket.site]\nbucket = \"\\té${var.nope}\"\n");
        assert!(error.contains("stack.toml:4:14:"), "{error}");
        assert!(error.contains("unknown variable `nope`"), "{error}");
    }

    #[test]
    fn an_unknown_variable_in_a_tag_after_an_escape_and_a_multibyte_character() {
        let error = error_of("[stack]\nname = \"f\"\n[s3_bucket.site]\ntags = { team = \"\\té${var.nope}\" }\n");
        assert!(error.contains("stack.toml:4:21:"), "{error}");
    }
}
