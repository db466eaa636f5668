//! `apply --json` / `destroy --json`: the run as newline-delimited JSON on stdout (SPEC §1), one
//! object a line, for CI systems. The first line is the `plan`, the last the `summary`; every
//! action's `started` comes before its `finished` or `failed`. Nothing else is written to stdout
//! (people's messages go to stderr), so `jq` or a line reader can consume it as it happens.

use std::collections::HashMap;
use std::io::Write;
use std::sync::Mutex;

use provision_core::address::Address;
use provision_core::plan::Action;
use provision_core::reporter::{Event, Reporter};
use serde_json::{json, Value};

#[derive(Default)]
pub struct JsonReporter {
    /// The planned action of each address, for lines that do not carry one (`skipped`).
    planned: Mutex<HashMap<String, Value>>,
}

impl JsonReporter {
    /// The line for an event, or `None` for events that are not part of the stream.
    pub fn line(&self, event: &Event) -> Option<Value> {
        let line = |kind: &str, address: &Address, action: Value, elapsed_s: Option<f64>, message: Option<&str>| {
            json!({
                "type": kind,
                "address": address.to_string(),
                "action": action,
                "elapsed_s": elapsed_s,
                "message": message,
            })
        };
        let action = |action: &Action| serde_json::to_value(action).unwrap_or(Value::Null);
        Some(match event {
            Event::Plan { steps, plan } => {
                if let Some(actions) = plan["actions"].as_array() {
                    let mut planned = self.planned.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                    for entry in actions {
                        if let Some(address) = entry["address"].as_str() {
                            planned.insert(address.to_string(), entry["action"].clone());
                        }
                    }
                }
                let mut object = serde_json::Map::new();
                object.insert("type".into(), json!("plan"));
                object.insert("steps".into(), json!(steps));
                if let Some(fields) = plan.as_object() {
                    object.extend(fields.iter().map(|(k, v)| (k.clone(), v.clone())));
                }
                Value::Object(object)
            }
            Event::Started { address, action: verb } => line("started", address, action(verb), None, None),
            Event::Progress { address, action: verb, message, elapsed_s } => {
                line("progress", address, action(verb), Some(*elapsed_s), Some(message))
            }
            Event::Finished { address, action: verb, elapsed_s } => {
                line("finished", address, action(verb), Some(*elapsed_s), None)
            }
            Event::Failed { address, action: verb, elapsed_s, message } => {
                line("failed", address, action(verb), Some(*elapsed_s), Some(message))
            }
            Event::Skipped { address, because } => {
                let planned = self.planned.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                let verb = planned.get(&address.to_string()).cloned().unwrap_or(Value::Null);
                let mut object =
                    line("skipped", address, verb, None, Some(&format!("skipped because `{because}` failed")));
                object["because"] = json!(because.to_string());
                object
            }
            // Said on stderr; the summary records that the run was interrupted.
            Event::Cancelling { .. } => return None,
            Event::Summary { summary } => {
                let mut object = serde_json::to_value(summary).unwrap_or_else(|_| json!({}));
                object["type"] = json!("summary");
                object["message"] = json!(summary.headline());
                // `type` first, as on every other line.
                let mut ordered = serde_json::Map::new();
                ordered.insert("type".into(), json!("summary"));
                if let Some(fields) = object.as_object() {
                    ordered.extend(fields.iter().filter(|(k, _)| *k != "type").map(|(k, v)| (k.clone(), v.clone())));
                }
                Value::Object(ordered)
            }
        })
    }
}

impl Reporter for JsonReporter {
    fn report(&self, event: &Event) {
        let Some(line) = self.line(event) else { return };
        let mut stdout = std::io::stdout().lock();
        // A closed stdout (the reader went away) must not stop the run.
        let _ = writeln!(stdout, "{line}").and_then(|()| stdout.flush());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use provision_core::reporter::Summary;

    #[test]
    fn every_line_names_its_type_address_and_action() {
        let reporter = JsonReporter::default();
        let plan = json!({"actions": [{"address": "s3_bucket.a", "action": "create"}], "summary": {"add": 1}});
        let first = reporter.line(&Event::Plan { steps: 1, plan }).unwrap();
        assert_eq!(first["type"], "plan");
        assert_eq!(first["actions"][0]["address"], "s3_bucket.a");
        let address: Address = "s3_bucket.a".parse().unwrap();
        let because: Address = "iam_role.r".parse().unwrap();
        let skipped = reporter.line(&Event::Skipped { address: address.clone(), because }).unwrap();
        assert_eq!(
            skipped,
            json!({"type": "skipped", "address": "s3_bucket.a", "action": "create", "elapsed_s": null, "message": "skipped because `iam_role.r` failed", "because": "iam_role.r"})
        );
        let finished = reporter.line(&Event::Finished { address, action: Action::Create, elapsed_s: 1.5 }).unwrap();
        assert_eq!(
            finished.to_string(),
            r#"{"type":"finished","address":"s3_bucket.a","action":"create","elapsed_s":1.5,"message":null}"#
        );
        let summary = Summary { operation: "apply".into(), added: 1, success: true, ..Summary::default() };
        let last = reporter.line(&Event::Summary { summary }).unwrap();
        assert!(last.to_string().starts_with(r#"{"type":"summary""#), "{last}");
        assert_eq!(last["message"], "apply complete: 1 added, 0 changed, 0 replaced, 0 destroyed");
        assert_eq!(last["interrupted"], false);
    }
}
