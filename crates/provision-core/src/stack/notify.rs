//! `[notify]` (SPEC §2, §6): where to tell someone what a run does, and which events.
//!
//! The webhook URL is a secret (a Slack or Discord webhook URL is a bearer token): it is read from
//! the environment at run time or from the file, held only here, and never shown — `Debug` and
//! every message name where it comes from (`webhook (from $VAR)`), never the URL itself.

/// What `[notify]` asks for.
#[derive(Clone, Debug, PartialEq)]
pub struct Notify {
    pub webhook: Webhook,
    /// Which events are sent, in the order given, without duplicates.
    pub events: Vec<NotifyEvent>,
    pub format: NotifyFormat,
    /// `file:line:col` of `webhook`, for messages about it.
    pub location: String,
}

/// Where the webhook URL comes from.
#[derive(Clone, PartialEq)]
pub enum Webhook {
    /// Written in the stack file.
    Url(String),
    /// `{ env = "VAR" }`; with `optional = true` an unset variable turns notifications off.
    Env { variable: String, optional: bool },
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl Webhook {
    /// How messages name the webhook: never its URL.
    pub fn describe(&self) -> String {
        match self {
            Webhook::Url(_) => "webhook (from the stack file)".to_string(),
            Webhook::Env { variable, .. } => format!("webhook (from ${variable})"),
        }
    }

    /// The URL, read from the environment if it comes from there: `Ok(None)` when an optional
    /// variable is unset (no notifications), an error naming the variable when a required one is.
    pub fn url(&self) -> Result<Option<String>, String> {
        match self {
            Webhook::Url(url) => Ok(Some(url.clone())),
            Webhook::Env { variable, optional } => match std::env::var(variable) {
                Ok(url) if !url.is_empty() => match url_problem(&url) {
                    Some(problem) => Err(format!("{}: {problem}", self.describe())),
                    None => Ok(Some(url)),
                },
                _ if *optional => Ok(None),
                _ => Err(format!("the environment variable `{variable}` (`[notify] webhook`) is not set")),
            },
        }
    }
}

/// [`url_problem`]'s rule for the JSON Schema and the loader's pattern check: a scheme, a host, no
/// space or control character.
pub const URL_PATTERN: &str = r"^https?://[^/?#\s\x00-\x1f\x7f-\x9f][^\s\x00-\x1f\x7f-\x9f]*$";

/// [`url_problem`] as a descriptor's check.
pub fn check_url(url: &str) -> Result<(), String> {
    url_problem(url).map_or(Ok(()), |problem| Err(problem.to_string()))
}

/// What is wrong with a webhook URL, in words that do not repeat it.
pub fn url_problem(url: &str) -> Option<&'static str> {
    let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"));
    match rest {
        None => Some("the URL must start with `https://` or `http://`"),
        Some(rest) if rest.split(['/', '?', '#']).next().unwrap_or_default().is_empty() => Some("the URL has no host"),
        Some(rest) if rest.chars().any(|c| c.is_whitespace() || c.is_control()) => {
            Some("the URL contains a space or control character")
        }
        Some(_) => None,
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotifyEvent {
    Started,
    Finished,
    Failed,
    Summary,
}

impl NotifyEvent {
    pub const ALL: &'static [(&'static str, NotifyEvent)] = &[
        ("started", NotifyEvent::Started),
        ("finished", NotifyEvent::Finished),
        ("failed", NotifyEvent::Failed),
        ("summary", NotifyEvent::Summary),
    ];
    pub const DEFAULT: &'static [NotifyEvent] = &[NotifyEvent::Finished, NotifyEvent::Failed, NotifyEvent::Summary];
    /// The names of [`NotifyEvent::ALL`] and of [`NotifyEvent::DEFAULT`], for the stack format's descriptors.
    pub const NAMES: &'static [&'static str] = &["started", "finished", "failed", "summary"];
    pub const DEFAULT_NAMES: &'static [&'static str] = &["finished", "failed", "summary"];

    pub fn name(self) -> &'static str {
        NotifyEvent::ALL.iter().find(|(_, e)| *e == self).map(|(n, _)| *n).unwrap_or("summary")
    }
}

/// The body each POST carries.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum NotifyFormat {
    /// `{stack, event, address, action, elapsed_s, message, summary}`
    #[default]
    Json,
    /// `{"text": "…"}`
    Slack,
    /// `{"content": "…"}`
    Discord,
}

impl NotifyFormat {
    pub const ALL: &'static [(&'static str, NotifyFormat)] =
        &[("json", NotifyFormat::Json), ("slack", NotifyFormat::Slack), ("discord", NotifyFormat::Discord)];
    /// The names of [`NotifyFormat::ALL`], for the stack format's descriptors.
    pub const NAMES: &'static [&'static str] = &["json", "slack", "discord"];
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_is_never_shown() {
        let webhook = Webhook::Url("https://hooks.example.com/T000/SECRET".into());
        assert_eq!(format!("{webhook:?}"), "webhook (from the stack file)");
        let from_env = Webhook::Env { variable: "HOOK".into(), optional: false };
        assert_eq!(format!("{from_env:?}"), "webhook (from $HOOK)");
    }

    #[test]
    fn the_names_are_those_of_the_events_and_formats() {
        let names: Vec<&str> = NotifyEvent::ALL.iter().map(|(name, _)| *name).collect();
        assert_eq!(names, NotifyEvent::NAMES);
        let defaults: Vec<&str> = NotifyEvent::DEFAULT.iter().map(|event| event.name()).collect();
        assert_eq!(defaults, NotifyEvent::DEFAULT_NAMES);
        let formats: Vec<&str> = NotifyFormat::ALL.iter().map(|(name, _)| *name).collect();
        assert_eq!(formats, NotifyFormat::NAMES);
    }

    #[test]
    fn the_url_pattern_is_the_same_rule() {
        let pattern = regex_lite::Regex::new(URL_PATTERN).unwrap();
        for url in [
            "https://hooks.slack.com/services/x",
            "http://127.0.0.1:9/x",
            "hooks.slack.com/x",
            "https:///x",
            "https://a b/",
            "https://a/\u{7}",
            "ftp://x/",
            "https://?x",
        ] {
            assert_eq!(pattern.is_match(url), url_problem(url).is_none(), "{url}");
        }
    }

    #[test]
    fn urls_need_a_scheme_and_a_host() {
        assert_eq!(url_problem("https://hooks.slack.com/services/x"), None);
        assert_eq!(url_problem("http://127.0.0.1:9/x"), None);
        assert!(url_problem("hooks.slack.com/x").is_some());
        assert!(url_problem("https:///x").is_some());
        assert!(url_problem("https://a b/").is_some());
    }

    #[test]
    fn an_unset_variable_is_an_error_unless_optional() {
        let variable = "PROVISION_TEST_UNSET_WEBHOOK_VARIABLE".to_string();
        let required = Webhook::Env { variable: variable.clone(), optional: false };
        assert!(required.url().unwrap_err().contains(&variable));
        let optional = Webhook::Env { variable, optional: true };
        assert_eq!(optional.url(), Ok(None));
    }
}
