//! What a notification says: the JSON body for `format = "json"` (SPEC §6:
//! `{stack, event, address, action, elapsed_s, message, summary}`), or one line of text wrapped
//! the way Slack (`{"text": …}`) and Discord (`{"content": …}`) webhooks expect.

use provision_core::plan::Action;
use provision_core::reporter::{Event, Summary};
use provision_core::stack::notify::{NotifyEvent, NotifyFormat};
use serde_json::{json, Value};

/// Longest text line sent (Discord refuses more than 2,000 characters).
const MAX_TEXT: usize = 1_500;

/// The body to POST for `event`, if it is one `[notify]` can select.
pub fn body(format: NotifyFormat, stack: &str, event: &Event) -> Option<(NotifyEvent, Value)> {
    let kind = kind(event)?;
    let body = match format {
        NotifyFormat::Json => document(stack, kind, event),
        NotifyFormat::Slack => json!({ "text": text(stack, event) }),
        NotifyFormat::Discord => json!({ "content": text(stack, event) }),
    };
    Some((kind, body))
}

fn kind(event: &Event) -> Option<NotifyEvent> {
    Some(match event {
        Event::Started { .. } => NotifyEvent::Started,
        Event::Finished { .. } => NotifyEvent::Finished,
        Event::Failed { .. } => NotifyEvent::Failed,
        Event::Summary { .. } => NotifyEvent::Summary,
        _ => return None,
    })
}

fn document(stack: &str, kind: NotifyEvent, event: &Event) -> Value {
    let action = |action: &Action| serde_json::to_value(action).unwrap_or(Value::Null);
    let (address, verb, elapsed_s, message, summary) = match event {
        Event::Started { address, action: verb } => (Some(address), action(verb), None, None, None),
        Event::Finished { address, action: verb, elapsed_s } => {
            (Some(address), action(verb), Some(*elapsed_s), None, None)
        }
        Event::Failed { address, action: verb, elapsed_s, message } => {
            (Some(address), action(verb), Some(*elapsed_s), Some(message.clone()), None)
        }
        Event::Summary { summary } => (None, Value::Null, None, Some(summary.headline()), Some(summary)),
        _ => (None, Value::Null, None, None, None),
    };
    json!({
        "stack": stack,
        "event": kind.name(),
        "address": address.map(|a| a.to_string()),
        "action": verb,
        "elapsed_s": elapsed_s,
        "message": message,
        "summary": summary.map(|s| serde_json::to_value(s).unwrap_or(Value::Null)),
    })
}

/// One line: `shop-dev: ✓ s3_bucket.site created (1.2s)`.
pub fn text(stack: &str, event: &Event) -> String {
    let line = match event {
        Event::Started { address, action } => format!("{stack}: {address} {}…", doing(*action)),
        Event::Finished { address, action, elapsed_s } => {
            format!("{stack}: ✓ {address} {} ({elapsed_s:.1}s)", done(*action))
        }
        Event::Failed { address, action, message, .. } => {
            format!("{stack}: ✗ {address} {} failed: {}", action.verb(), first_line(message))
        }
        Event::Summary { summary } => format!("{stack}: {}", summary_text(summary)),
        _ => String::new(),
    };
    cut(&line)
}

fn summary_text(summary: &Summary) -> String {
    let mut text = format!("{} {}", if summary.success { "✓" } else { "✗" }, summary.headline());
    if let Some(first) = summary.failed.first() {
        text.push_str(&format!(" — {} {} failed: {}", first.address, first.action.verb(), first_line(&first.message)));
    }
    text
}

fn first_line(message: &str) -> &str {
    message.lines().next().unwrap_or_default()
}

fn cut(line: &str) -> String {
    if line.chars().count() <= MAX_TEXT {
        return line.to_string();
    }
    line.chars().take(MAX_TEXT - 1).collect::<String>() + "…"
}

fn doing(action: Action) -> &'static str {
    match action {
        Action::Create => "creating",
        Action::Update => "updating",
        Action::Replace => "replacing",
        Action::Delete => "deleting",
    }
}

fn done(action: Action) -> &'static str {
    match action {
        Action::Create => "created",
        Action::Update => "updated",
        Action::Replace => "replaced",
        Action::Delete => "deleted",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use provision_core::address::Address;
    use provision_core::reporter::FailedAction;

    fn address() -> Address {
        "s3_bucket.site".parse().expect("address")
    }

    #[test]
    fn json_bodies_carry_every_field() {
        let event = Event::Finished { address: address(), action: Action::Create, elapsed_s: 1.2 };
        let (kind, body) = body(NotifyFormat::Json, "shop", &event).expect("selectable");
        assert_eq!(kind, NotifyEvent::Finished);
        assert_eq!(
            body,
            json!({"stack": "shop", "event": "finished", "address": "s3_bucket.site", "action": "create", "elapsed_s": 1.2, "message": null, "summary": null})
        );
    }

    #[test]
    fn chat_formats_wrap_one_line() {
        let event = Event::Failed {
            address: address(),
            action: Action::Create,
            elapsed_s: 0.4,
            message: "CreateBucket: AccessDenied: no\nmore detail".into(),
        };
        let (_, slack) = body(NotifyFormat::Slack, "shop", &event).expect("selectable");
        assert_eq!(slack, json!({"text": "shop: ✗ s3_bucket.site create failed: CreateBucket: AccessDenied: no"}));
        let summary = Summary {
            operation: "apply".into(),
            added: 2,
            failed: vec![FailedAction {
                address: address(),
                action: Action::Create,
                message: "boom".into(),
                hint: None,
            }],
            ..Summary::default()
        };
        let (_, discord) = body(NotifyFormat::Discord, "shop", &Event::Summary { summary }).expect("selectable");
        assert_eq!(
            discord["content"],
            "shop: ✗ apply failed: 2 added, 0 changed, 0 replaced, 0 destroyed; 1 failed — s3_bucket.site create failed: boom"
        );
    }

    #[test]
    fn progress_is_not_sent() {
        let event = Event::Progress { address: address(), action: Action::Create, message: "x".into(), elapsed_s: 1.0 };
        assert!(body(NotifyFormat::Json, "shop", &event).is_none());
    }
}
