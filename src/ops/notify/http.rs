//! One webhook POST, with a short timeout and a few retries.
//!
//! The HTTP stack is the one the AWS SDK already builds (hyper 1 with hyper-util's client and
//! rustls through hyper-rustls, with the same features), so notifications add no HTTP client to
//! the build; `http://` and `https://` take the same path. Errors are described in our own words
//! from the error chain, and anything that could carry the URL (a secret) is cut out of them.

use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// Per attempt.
const TIMEOUT: Duration = Duration::from_secs(5);
/// Pauses before the second and third attempts.
const BACKOFF: &[Duration] = &[Duration::from_millis(250), Duration::from_millis(750)];

pub struct WebhookClient {
    client: Result<Client<HttpsConnector<HttpConnector>, Full<Bytes>>, String>,
    url: String,
}

impl WebhookClient {
    /// Loads the system's root certificates for an `https://` URL (a blocking read of files: call
    /// it off the async threads).
    pub fn new(url: String) -> WebhookClient {
        let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let builder = if url.starts_with("https://") {
            hyper_rustls::HttpsConnectorBuilder::new()
                .with_provider_and_native_roots(provider)
                .map_err(|error| format!("cannot load the system's root certificates: {error}"))
        } else {
            // Plain HTTP needs no certificates (a machine without any can still notify).
            rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map(|config| {
                    let config = config.with_root_certificates(rustls::RootCertStore::empty()).with_no_client_auth();
                    hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(config)
                })
                .map_err(|error| format!("cannot set up TLS: {error}"))
        };
        let client = builder.map(|builder| {
            let connector = builder.https_or_http().enable_http1().build();
            Client::builder(TokioExecutor::new()).build(connector)
        });
        WebhookClient { client, url }
    }

    /// POSTs `body`, retrying a connection failure, a timeout, 429 and 5xx answers.
    pub async fn post(&self, body: &serde_json::Value) -> Result<(), String> {
        let bytes = Bytes::from(body.to_string());
        let mut attempt = 0;
        loop {
            let result = self.attempt(bytes.clone()).await;
            match result {
                Ok(()) => return Ok(()),
                Err((message, retry)) => {
                    if !retry || attempt >= BACKOFF.len() {
                        return Err(self.redact(&message));
                    }
                    tokio::time::sleep(BACKOFF[attempt]).await;
                    attempt += 1;
                }
            }
        }
    }

    /// One try: `Err((what went wrong, worth retrying))`.
    async fn attempt(&self, body: Bytes) -> Result<(), (String, bool)> {
        let client = self.client.as_ref().map_err(|error| (error.clone(), false))?;
        let request = hyper::Request::post(self.url.as_str())
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .header(hyper::header::USER_AGENT, concat!("provision/", env!("CARGO_PKG_VERSION")))
            .body(Full::new(body))
            .map_err(|_| ("the URL is not a valid HTTP URL".to_string(), false))?;
        let response = match tokio::time::timeout(TIMEOUT, client.request(request)).await {
            Err(_) => return Err((format!("no answer within {}s", TIMEOUT.as_secs()), true)),
            Ok(Err(error)) => return Err((describe(&error), true)),
            Ok(Ok(response)) => response,
        };
        let status = response.status();
        // Read the answer so the connection can be reused; its content does not matter.
        let _ = tokio::time::timeout(TIMEOUT, response.into_body().collect()).await;
        if status.is_success() {
            Ok(())
        } else {
            let retry = status.is_server_error() || status == hyper::StatusCode::TOO_MANY_REQUESTS;
            Err((format!("the webhook answered {status}"), retry))
        }
    }

    fn redact(&self, message: &str) -> String {
        let mut message = message.replace(&self.url, "<webhook URL>");
        if let Some((_, path)) = self.url.split_once("://").and_then(|(_, rest)| rest.split_once('/')) {
            if !path.is_empty() {
                message = message.replace(path, "…");
            }
        }
        message
    }
}

/// The error and its causes, innermost last: `connection error: Connection refused (os error 111)`.
fn describe(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![error.to_string()];
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = cause.source();
    }
    parts.join(": ")
}
