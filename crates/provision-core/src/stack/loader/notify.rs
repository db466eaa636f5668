//! `[notify]`: checked offline like every other section, so a typo in an event name fails
//! `validate`, not the first deploy. Messages about the webhook's value point at it by
//! `file:line:col` in the text instead of a source excerpt: the line holds the URL, a secret.

use super::*;
use crate::stack::notify::{url_problem, Notify, NotifyEvent, NotifyFormat, Webhook};

const FIELDS: &[&str] = &["webhook", "events", "format"];

impl Loader<'_> {
    pub(super) fn notify(&mut self, path: &Path, source: &str, (key, value): Entry<'_, '_>) -> Option<Notify> {
        let table = self.table(key, value)?;
        let mut webhook = None;
        let mut location = StackError::location(path, source, key.span().start);
        let mut events = NotifyEvent::DEFAULT.to_vec();
        let mut format = NotifyFormat::default();
        for (field, value) in table.iter() {
            match field.get_ref().as_ref() {
                "webhook" => {
                    location = StackError::location(path, source, value.span().start);
                    webhook = self.webhook(value, &location);
                }
                "events" => events = self.notify_events(value)?,
                "format" => format = self.notify_format(value)?,
                other => {
                    let diagnostic =
                        Diagnostic::error(format!("unknown field `{other}` in `[notify]`"), Some(field.span()));
                    self.error(with_suggestion(diagnostic, other, FIELDS, "fields"));
                }
            }
        }
        let Some(webhook) = webhook else {
            if !table.iter().any(|(k, _)| k.get_ref() == "webhook") {
                self.error(Diagnostic::error("`[notify]` has no `webhook`", Some(key.span())).hint(
                    "add `webhook = { env = \"DEPLOY_WEBHOOK_URL\" }` and set the variable when running provision",
                ));
            }
            return None;
        };
        Some(Notify { webhook, events, format, location })
    }

    fn webhook(&mut self, value: &Spanned<DeValue<'_>>, location: &str) -> Option<Webhook> {
        match value.get_ref() {
            DeValue::String(url) => match url_problem(url) {
                // No span: the excerpt would show the URL.
                Some(problem) => {
                    self.error(
                        Diagnostic::error(format!("{location}: `[notify] webhook`: {problem}"), None)
                            .hint("write the webhook's URL, or better `webhook = { env = \"VARIABLE\" }` to keep it out of the file"),
                    );
                    None
                }
                None => Some(Webhook::Url(url.to_string())),
            },
            DeValue::Table(table) => {
                let mut variable = None;
                let mut optional = false;
                for (field, item) in table.iter() {
                    match (field.get_ref().as_ref(), item.get_ref()) {
                        ("env", DeValue::String(name)) if is_variable_name(name) => variable = Some(name.to_string()),
                        ("env", _) => {
                            self.error(Diagnostic::error(
                                "`[notify] webhook.env` must name an environment variable, e.g. `\"DEPLOY_WEBHOOK_URL\"`",
                                Some(item.span()),
                            ));
                            return None;
                        }
                        ("optional", DeValue::Boolean(b)) => optional = *b,
                        ("optional", _) => {
                            self.error(Diagnostic::error(
                                "`[notify] webhook.optional` must be `true` or `false`",
                                Some(item.span()),
                            ));
                            return None;
                        }
                        (other, _) => {
                            let diagnostic = Diagnostic::error(
                                format!("unknown field `{other}` in `[notify] webhook`"),
                                Some(field.span()),
                            );
                            self.error(with_suggestion(diagnostic, other, &["env", "optional"], "fields"));
                            return None;
                        }
                    }
                }
                match variable {
                    Some(variable) => Some(Webhook::Env { variable, optional }),
                    None => {
                        self.error(Diagnostic::error("`[notify] webhook` has no `env`", Some(value.span())).hint(
                            "write `{ env = \"DEPLOY_WEBHOOK_URL\" }` (add `optional = true` to run without it)",
                        ));
                        None
                    }
                }
            }
            _ => {
                self.error(
                    Diagnostic::error(
                        "`[notify] webhook` must be a URL or `{ env = \"VARIABLE\" }`",
                        Some(value.span()),
                    )
                    .hint("write `webhook = { env = \"DEPLOY_WEBHOOK_URL\" }`"),
                );
                None
            }
        }
    }

    fn notify_events(&mut self, value: &Spanned<DeValue<'_>>) -> Option<Vec<NotifyEvent>> {
        let names: Vec<&str> = NotifyEvent::ALL.iter().map(|(name, _)| *name).collect();
        let Some(items) = value.get_ref().as_array() else {
            self.error(
                Diagnostic::error("`[notify] events` must be a list of event names", Some(value.span()))
                    .hint("write e.g. `events = [\"finished\", \"failed\", \"summary\"]`"),
            );
            return None;
        };
        let mut events = Vec::new();
        for item in items.iter() {
            let name = item.get_ref().as_str().unwrap_or_default();
            match NotifyEvent::ALL.iter().find(|(known, _)| *known == name) {
                Some((_, event)) if !events.contains(event) => events.push(*event),
                Some(_) => {}
                None => {
                    let diagnostic =
                        Diagnostic::error(format!("unknown event `{name}` in `[notify] events`"), Some(item.span()));
                    self.error(with_suggestion(diagnostic, name, &names, "events"));
                    return None;
                }
            }
        }
        if events.is_empty() {
            self.error(
                Diagnostic::error("`[notify] events` is empty: nothing would be sent", Some(value.span()))
                    .hint("list the events to send, or remove `[notify]`"),
            );
            return None;
        }
        Some(events)
    }

    fn notify_format(&mut self, value: &Spanned<DeValue<'_>>) -> Option<NotifyFormat> {
        let names: Vec<&str> = NotifyFormat::ALL.iter().map(|(name, _)| *name).collect();
        let name = value.get_ref().as_str().unwrap_or_default();
        match NotifyFormat::ALL.iter().find(|(known, _)| *known == name) {
            Some((_, format)) => Some(*format),
            None => {
                let diagnostic =
                    Diagnostic::error(format!("unknown format `{name}` in `[notify]`"), Some(value.span()));
                self.error(with_suggestion(diagnostic, name, &names, "formats"));
                None
            }
        }
    }
}

fn is_variable_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
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
        assert!(text.contains("stack.toml:5:11: unknown event `finishd`"), "{text}");
        assert!(text.contains("did you mean `finished`?"), "{text}");
        let text = error_text("[stack]\nname = \"n\"\n[notify]\nwebhook = { env = \"H\" }\nformat = \"teams\"\n");
        assert!(text.contains("stack.toml:5:10: unknown format `teams`"), "{text}");
        assert!(text.contains("`json`, `slack`, `discord`"), "{text}");
        let text = error_text("[stack]\nname = \"n\"\n[notify]\nwebhook = { env = \"H\", optinal = true }\n");
        assert!(text.contains("unknown field `optinal` in `[notify] webhook`"), "{text}");
        let text = error_text("[stack]\nname = \"n\"\n[notify]\nformat = \"json\"\n");
        assert!(text.contains("`[notify]` has no `webhook`"), "{text}");
    }

    #[test]
    fn a_bad_url_is_reported_without_showing_it() {
        let text = error_text("[stack]\nname = \"n\"\n[notify]\nwebhook = \"hooks.example.com/SECRET-TOKEN\"\n");
        assert!(text.contains("stack.toml:4:11: `[notify] webhook`: the URL must start with"), "{text}");
        assert!(!text.contains("SECRET-TOKEN"), "{text}");
    }
}
