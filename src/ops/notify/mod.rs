//! `[notify]`: a [`Reporter`] that POSTs the selected events to a webhook (SPEC §6).
//!
//! A deploy must never wait for a chat server. Events go into a bounded queue that one background
//! task drains in order (so a channel reads them in the order they happened); each POST has a short
//! timeout and a few retries, and after a few events in a row fail the rest are not tried. At the
//! end the command waits briefly ([`FINAL_WAIT`]) for what is still queued, then reports anything
//! not delivered as one warning on stderr. A full queue drops the event rather than block.
//!
//! The URL is a secret: it lives in the background task and in no message; messages say
//! `webhook (from $VAR)`.

mod http;
mod message;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{anyhow, Result};
use provision_core::reporter::{Event, Reporter};
use provision_core::stack::notify::{NotifyEvent, NotifyFormat, Webhook};
use provision_core::stack::Stack;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use http::WebhookClient;

/// How long the end of a run waits for notifications still queued.
pub const FINAL_WAIT: Duration = Duration::from_secs(3);
const QUEUE: usize = 256;
/// Events in a row that failed every attempt before the rest are given up.
const GIVE_UP_AFTER: usize = 3;

pub struct Notifier {
    sender: Mutex<Option<mpsc::Sender<serde_json::Value>>>,
    task: Mutex<Option<JoinHandle<()>>>,
    events: Vec<NotifyEvent>,
    format: NotifyFormat,
    stack: String,
    /// `webhook (from $VAR)`
    name: String,
    queued: AtomicUsize,
    dropped: AtomicUsize,
    delivery: Arc<Mutex<Delivery>>,
}

#[derive(Default)]
struct Delivery {
    sent: usize,
    failed: usize,
    last_error: Option<String>,
}

impl Notifier {
    /// The notifier `[notify]` asks for, started; `None` without `[notify]` or when its optional
    /// variable is unset. A required variable that is unset is an error: checked before any AWS call.
    pub fn start(stack: &Stack) -> Result<Option<Notifier>> {
        let Some(notify) = &stack.notify else { return Ok(None) };
        let name = notify.webhook.describe();
        let url = match notify.webhook.url() {
            Ok(Some(url)) => url,
            Ok(None) => {
                tracing::info!("{name} is not set: no notifications");
                return Ok(None);
            }
            Err(problem) => {
                let hint = match &notify.webhook {
                    Webhook::Env { variable, .. } if std::env::var_os(variable).is_none() => format!(
                        "`export {variable}=…` before running provision (the URL is never stored or shown), or write `webhook = {{ env = \"{variable}\", optional = true }}` to run without notifications"
                    ),
                    _ => "the webhook must be its whole URL, e.g. `https://hooks.slack.com/services/…`".to_string(),
                };
                return Err(anyhow!("{}: {problem}\n\nhint: {hint}", notify.location));
            }
        };
        let (sender, receiver) = mpsc::channel(QUEUE);
        let delivery = Arc::new(Mutex::new(Delivery::default()));
        let task = tokio::spawn(deliver(url, receiver, delivery.clone()));
        Ok(Some(Notifier {
            sender: Mutex::new(Some(sender)),
            task: Mutex::new(Some(task)),
            events: notify.events.clone(),
            format: notify.format,
            stack: stack.name.clone(),
            name,
            queued: AtomicUsize::new(0),
            dropped: AtomicUsize::new(0),
            delivery,
        }))
    }

    /// Waits up to `wait` for the queue to drain; the warning to show when something was not delivered.
    pub async fn finish(&self, wait: Duration) -> Option<String> {
        drop(self.sender.lock().unwrap_or_else(|p| p.into_inner()).take());
        let task = self.task.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(mut task) = task {
            if tokio::time::timeout(wait, &mut task).await.is_err() {
                task.abort();
            }
        }
        let queued = self.queued.load(Ordering::SeqCst);
        let dropped = self.dropped.load(Ordering::SeqCst);
        let delivery = self.delivery.lock().unwrap_or_else(|p| p.into_inner());
        let missing = queued + dropped - delivery.sent.min(queued);
        if missing == 0 {
            return None;
        }
        let mut warning = format!("{}: {missing} of {} notification(s) not delivered", self.name, queued + dropped);
        match &delivery.last_error {
            Some(error) => warning.push_str(&format!(" ({error})")),
            None if delivery.sent + delivery.failed < queued => {
                warning.push_str(&format!(" (still sending after {}s)", wait.as_secs()))
            }
            None => {}
        }
        warning.push_str("; the run itself was not affected");
        Some(warning)
    }
}

impl Reporter for Notifier {
    fn report(&self, event: &Event) {
        let Some((kind, body)) = message::body(self.format, &self.stack, event) else { return };
        if !self.events.contains(&kind) {
            return;
        }
        let sender = self.sender.lock().unwrap_or_else(|p| p.into_inner());
        let Some(sender) = sender.as_ref() else { return };
        match sender.try_send(body) {
            Ok(()) => {
                self.queued.fetch_add(1, Ordering::SeqCst);
            }
            Err(_) => {
                self.dropped.fetch_add(1, Ordering::SeqCst);
            }
        }
    }
}

/// The background task: POSTs each queued body in order.
async fn deliver(url: String, mut receiver: mpsc::Receiver<serde_json::Value>, delivery: Arc<Mutex<Delivery>>) {
    let client = match tokio::task::spawn_blocking(move || WebhookClient::new(url)).await {
        Ok(client) => client,
        Err(_) => return,
    };
    let mut failures_in_a_row = 0;
    while let Some(body) = receiver.recv().await {
        let result =
            if failures_in_a_row >= GIVE_UP_AFTER { Err(None) } else { client.post(&body).await.map_err(Some) };
        let mut delivery = delivery.lock().unwrap_or_else(|p| p.into_inner());
        match result {
            Ok(()) => {
                failures_in_a_row = 0;
                delivery.sent += 1;
            }
            Err(error) => {
                failures_in_a_row += 1;
                delivery.failed += 1;
                if let Some(error) = error {
                    tracing::debug!("notification not delivered: {error}");
                    delivery.last_error = Some(error);
                }
            }
        }
    }
}
