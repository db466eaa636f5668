//! `[notify]`: checked offline like every other section, so a typo in an event name fails
//! `validate`, not the first deploy. Messages about the webhook's value point at it by
//! `file:line:col` in the text instead of a source excerpt (the field is `sensitive`): the line
//! holds the URL, a secret.

use super::*;
use crate::stack::notify::{Notify, NotifyEvent, NotifyFormat, Webhook};

impl Loader<'_> {
    /// `[notify]` from its checked values: the descriptors have refused unknown fields, events and
    /// formats, and a malformed URL (without showing it); `None` when there is no valid webhook.
    pub(super) fn notify(&mut self, section: &SpannedExpr) -> Option<Notify> {
        let section = entries(section);
        let webhook_value = entry(section, "webhook")?;
        let location = StackError::location(self.file, self.source, webhook_value.span.start);
        let webhook = match &webhook_value.expr {
            Expr::Table(fields) => Webhook::Env {
                variable: entry(fields, "env").and_then(literal)?.to_string(),
                optional: matches!(entry(fields, "optional").map(|o| &o.expr), Some(Expr::Bool(true))),
            },
            _ => Webhook::Url(literal(webhook_value)?.to_string()),
        };
        let mut events = Vec::new();
        match entry(section, "events").map(|e| &e.expr) {
            Some(Expr::List(items)) => {
                for name in items.iter().filter_map(literal) {
                    let event = NotifyEvent::ALL.iter().find(|(known, _)| *known == name).map(|(_, event)| *event);
                    if let Some(event) = event.filter(|event| !events.contains(event)) {
                        events.push(event);
                    }
                }
            }
            _ => events = NotifyEvent::DEFAULT.to_vec(),
        }
        let format = entry(section, "format")
            .and_then(literal)
            .and_then(|name| NotifyFormat::ALL.iter().find(|(known, _)| *known == name))
            .map(|(_, format)| *format)
            .unwrap_or_default();
        Some(Notify { webhook, events, format, location })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_text(text: &str) -> Result<Stack, StackError> {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("stack.toml");
        std::fs::write(&path, text).expect("write");
        let drivers = DriverRegistry::new(Vec::new());
        load(&path, &LoadOptions::default(), &drivers)
    }

    fn error_text(text: &str) -> String {
        match load_text(text) {
            Ok(_) => panic!("expected an error for:\n{text}"),
            Err(error) => error.render(false),
        }
    }

    #[test]
    fn defaults_are_the_finishes_failures_and_summary_as_json() {
        let stack = load_text("[stack]\nname = \"n\"\n\n[notify]\nwebhook = { env = \"HOOK\" }\n").unwrap();
        let notify = stack.notify.expect("notify");
        assert_eq!(notify.webhook, Webhook::Env { variable: "HOOK".into(), optional: false });
        assert_eq!(notify.events, NotifyEvent::DEFAULT);
        assert_eq!(notify.format, NotifyFormat::Json);
        assert!(notify.location.ends_with("stack.toml:5:11"), "{}", notify.location);
    }

    #[test]
    fn events_format_and_an_optional_variable_are_read() {
        let stack = load_text(
            "[stack]\nname = \"n\"\n[notify]\nwebhook = { env = \"HOOK\", optional = true }\nevents = [\"started\", \"summary\", \"started\"]\nformat = \"discord\"\n",
        )
        .unwrap();
        let notify = stack.notify.expect("notify");
        assert_eq!(notify.webhook, Webhook::Env { variable: "HOOK".into(), optional: true });
        assert_eq!(notify.events, vec![NotifyEvent::Started, NotifyEvent::Summary]);
        assert_eq!(notify.format, NotifyFormat::Discord);
    }

    #[test]
    fn unknown_fields_events_and_formats_name_the_place() {
        let text = error_text("[stack]\nname = \"n\"\n[notify]\nwebhook = { env = \"H\" }\nevent = [\"failed\"]\n");
        assert!(text.contains("stack.toml:5:1: unknown field `event` in `[notify]`"), "{text}");
        assert!(text.contains("did you mean `events`?"), "{text}");
        let text = error_text("[stack]\nname = \"n\"\n[notify]\nwebhook = { env = \"H\" }\nevents = [\"finishd\"]\n");
        assert!(text.contains("stack.toml:5:11: `[notify] events[0]` must be one of `\"started\"`"), "{text}");
        assert!(text.contains("did you mean `finished`?"), "{text}");
        let text = error_text("[stack]\nname = \"n\"\n[notify]\nwebhook = { env = \"H\" }\nformat = \"teams\"\n");
        assert!(text.contains("stack.toml:5:10: `[notify] format` must be one of `\"json\"`, `\"slack\"`, `\"discord\"`, found `\"teams\"`"), "{text}");
        let text = error_text("[stack]\nname = \"n\"\n[notify]\nwebhook = { env = \"H\", optinal = true }\n");
        assert!(text.contains("unknown field `optinal` in `[notify] webhook`"), "{text}");
        let text = error_text("[stack]\nname = \"n\"\n[notify]\nformat = \"json\"\n");
        assert!(text.contains("`[notify]` is missing the required field `webhook`"), "{text}");
    }

    #[test]
    fn a_bad_url_is_reported_without_showing_it() {
        let text = error_text("[stack]\nname = \"n\"\n[notify]\nwebhook = \"hooks.example.com/SECRET-TOKEN\"\n");
        assert!(text.contains("stack.toml:4:11: `[notify] webhook`: the URL must start with"), "{text}");
        assert!(text.contains("hint: use a URL starting with"), "{text}");
        assert!(!text.contains("SECRET-TOKEN"), "{text}");
    }
}
