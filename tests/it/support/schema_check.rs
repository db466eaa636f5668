//! The stack format's two judges side by side: provision's loader (in process, offline) and an
//! independent JSON Schema validator — python-jsonschema (draft 2020-12) from the project's
//! `.venv`, given what `provision schema` prints. [`assert_agree`] runs on every stack file a test
//! writes (see `Project::write`): a stack the schema refuses must be refused by the loader, and a
//! stack the loader refuses for a rule the schema states (a [`Diagnostic::shape`] problem) must be
//! refused by the schema.
//!
//! The validator is one Python process for the whole test run, started on first use: it reads the
//! schema, checks it against the draft's meta-schema, then answers one stack path per line. It ends
//! when this process does (its stdin closes).
//!
//! [`Diagnostic::shape`]: provision_core::stack::Diagnostic::shape

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Mutex, OnceLock};

use provision_core::cloud::Cloud;
use provision_core::driver::DriverRegistry;
use provision_core::stack::{load, LoadOptions, StackError};

/// What python-jsonschema says of a stack file.
#[derive(Debug)]
pub struct SchemaVerdict {
    /// The file is not TOML (the loader refuses it for that too).
    pub toml_error: Option<String>,
    /// Each error with the path of the value it is about, e.g. `["notify", "events", 0]`, and the
    /// reasons each alternative of a failed `anyOf` gives.
    pub errors: Vec<(Vec<serde_json::Value>, String)>,
}

impl SchemaVerdict {
    pub fn accepts(&self) -> bool {
        self.toml_error.is_none() && self.errors.is_empty()
    }

    /// Whether one of the errors is about the value at `path`.
    pub fn refuses_at(&self, path: &serde_json::Value) -> bool {
        self.errors.iter().any(|(at, _)| &serde_json::Value::Array(at.clone()) == path)
    }
}

/// Both verdicts on one file.
pub struct Verdicts {
    pub loader: Result<(), StackError>,
    pub schema: SchemaVerdict,
}

impl Verdicts {
    /// The loader's rendered errors (empty when it accepts).
    pub fn loader_text(&self) -> String {
        self.loader.as_ref().err().map(|error| error.render(false)).unwrap_or_default()
    }

    /// The loader's problems that break a rule the JSON Schema states too.
    pub fn loader_shape_errors(&self) -> Vec<String> {
        match &self.loader {
            Ok(()) => Vec::new(),
            Err(error) => error.diagnostics.iter().filter(|d| d.shape).map(|d| d.message.clone()).collect(),
        }
    }
}

pub fn judge(path: &Path) -> Verdicts {
    let loader = load(path, &LoadOptions::default(), drivers()).map(|_| ());
    Verdicts { loader, schema: validate(path) }
}

/// Panics, naming the file and both verdicts, when the loader and the JSON Schema disagree.
#[track_caller]
pub fn assert_agree(path: &Path) {
    let verdicts = judge(path);
    if verdicts.schema.toml_error.is_some() {
        assert!(verdicts.loader.is_err(), "{} is not TOML to python, but provision loads it", path.display());
        return;
    }
    let text = std::fs::read_to_string(path).unwrap_or_default();
    if !verdicts.schema.accepts() {
        assert!(
            verdicts.loader.is_err(),
            "the JSON Schema refuses a stack file that provision accepts\n--- file\n{text}\n--- schema errors\n{:#?}",
            verdicts.schema.errors
        );
    }
    let shape = verdicts.loader_shape_errors();
    assert!(
        shape.is_empty() || !verdicts.schema.accepts(),
        "provision refuses a stack file for rules the JSON Schema states, but the schema accepts it\n--- file\n{text}\n--- provision\n{}",
        verdicts.loader_text()
    );
}

/// Panics unless both judges accept a stack file provision wrote, and its `#:schema` line points
/// at the stack format beside it, as `provision schema` prints it (what an editor then checks).
#[track_caller]
pub fn assert_valid(path: &Path) {
    let text = std::fs::read_to_string(path).unwrap_or_else(|_| panic!("no {}", path.display()));
    let first = text.lines().next().unwrap_or_default();
    let named = first.strip_prefix("#:schema ").unwrap_or_else(|| panic!("no `#:schema` line first:\n{text}"));
    let beside = path.parent().unwrap_or(Path::new(".")).join(named);
    let schema =
        std::fs::read_to_string(&beside).unwrap_or_else(|_| panic!("no {} beside the stack", beside.display()));
    assert_eq!(schema.trim_end(), schema_text().trim_end(), "{} is what `provision schema` prints", beside.display());
    let verdicts = judge(path);
    assert!(
        verdicts.loader.is_ok(),
        "provision refuses the stack file\n--- file\n{text}\n--- provision\n{}",
        verdicts.loader_text()
    );
    assert!(
        verdicts.schema.accepts(),
        "the JSON Schema refuses the stack file\n--- file\n{text}\n--- schema errors\n{:#?}",
        verdicts.schema.errors
    );
}

/// The AWS drivers, for their schemas (nothing connects).
fn drivers() -> &'static DriverRegistry {
    static DRIVERS: OnceLock<DriverRegistry> = OnceLock::new();
    DRIVERS.get_or_init(|| provision_aws::AwsCloud::new(provision_aws::ConnectOptions::default()).drivers().clone())
}

struct Validator {
    _child: Child,
    input: ChildStdin,
    output: BufReader<ChildStdout>,
}

const SCRIPT: &str = r#"
import json, sys, tomllib
from jsonschema import Draft202012Validator
with open(sys.argv[1]) as f:
    schema = json.load(f)
Draft202012Validator.check_schema(schema)
validator = Draft202012Validator(schema)
print(json.dumps({"ready": True}), flush=True)
for line in sys.stdin:
    path = line.rstrip("\n")
    try:
        with open(path, "rb") as f:
            document = tomllib.load(f)
    except Exception as error:
        print(json.dumps({"toml_error": str(error)}), flush=True)
        continue
    errors = []
    def add(error):
        # An `anyOf` that fails says why for each alternative: those are about deeper values.
        errors.append({"path": list(error.absolute_path), "message": error.message})
        for inner in error.context or []:
            add(inner)
    for error in validator.iter_errors(document):
        add(error)
    print(json.dumps({"errors": errors}, default=str), flush=True)
"#;

/// The JSON Schema as `provision schema` prints it.
pub fn schema_text() -> String {
    let run = super::run_binary(&std::env::temp_dir(), None, &["schema"], &[]);
    assert_eq!(run.code, 0, "provision schema failed: {}", run.stderr);
    run.stdout
}

fn start() -> Validator {
    let python = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
    assert!(python.exists(), "no {}; run `scripts/emulator install` (scripts/test does)", python.display());
    let schema = std::env::temp_dir().join(format!("provision-it-schema-{}.json", std::process::id()));
    std::fs::write(&schema, schema_text()).expect("write the schema");
    let mut child = Command::new(&python)
        .args(["-c", SCRIPT])
        .arg(&schema)
        .env_remove("PYTHONPATH")
        .env_remove("PYTHONHOME")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start python");
    let input = child.stdin.take().expect("stdin");
    let mut output = BufReader::new(child.stdout.take().expect("stdout"));
    let mut ready = String::new();
    output.read_line(&mut ready).expect("read from python");
    let _ = std::fs::remove_file(&schema);
    assert!(
        ready.contains("ready"),
        "python-jsonschema did not start (is it installed? `scripts/emulator install`), or the schema is not valid draft 2020-12; see the error above"
    );
    Validator { _child: child, input, output }
}

fn validate(path: &Path) -> SchemaVerdict {
    static VALIDATOR: OnceLock<Mutex<Validator>> = OnceLock::new();
    let mut validator = VALIDATOR.get_or_init(|| Mutex::new(start())).lock().unwrap_or_else(|p| p.into_inner());
    let absolute = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    writeln!(validator.input, "{}", absolute.display()).expect("ask python");
    validator.input.flush().expect("ask python");
    let mut line = String::new();
    validator.output.read_line(&mut line).expect("read python's answer");
    let answer: serde_json::Value = serde_json::from_str(&line).unwrap_or_else(|_| panic!("python answered {line:?}"));
    let errors = answer["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|e| {
                    (
                        e["path"].as_array().cloned().unwrap_or_default(),
                        e["message"].as_str().unwrap_or_default().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    SchemaVerdict { toml_error: answer["toml_error"].as_str().map(str::to_string), errors }
}
