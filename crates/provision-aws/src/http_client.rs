//! The HTTP client every AWS client of a run shares: the SDK's own default (hyper 1 with rustls
//! and aws-lc, the proxy settings from the environment), with one cap on the requests in flight over
//! all services together.
//!
//! Why the cap: an HTTP/1.1 request in flight is a connection of its own, and each costs about
//! 35 KB (hyper's request channel and its read and write buffers). The per-service limits
//! ([`crate::concurrency`]) start at 64 calls each, and a read can make several requests at once
//! (a bucket's three), so a refresh of eight types reached ~510 requests at once — about 17 MB of
//! connections — while the server answered them a few at a time. A request past the cap waits here,
//! before a connection is opened; its answer is not delayed by anything but the requests ahead of
//! it. The SDK's retry, timeout and interceptor layers sit above this one: a retried attempt queues
//! again, and the attempt timeout counts the wait.

use std::sync::Arc;

use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
use aws_smithy_http_client::{Builder, ConnectorBuilder};
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use tokio::sync::Semaphore;

/// The most HTTP requests in flight at once, over all services, unless [`MOST_IN_FLIGHT_VARIABLE`]
/// says otherwise.
pub const MOST_IN_FLIGHT: usize = 256;

/// The environment variable that sets the cap: more requests at once for fewer round trips on a
/// large stack, at about 50 KB of memory each.
pub const MOST_IN_FLIGHT_VARIABLE: &str = "PROVISION_MAX_REQUESTS";

/// The largest cap accepted: far more requests than any machine keeps in flight (each holds a
/// connection and ~50 KB), and far below what a semaphore can count (2^61), whose constructor
/// panics beyond it.
pub const MOST_ALLOWED: usize = 65_536;

/// The SDK's default HTTPS client behind one cap of [`MOST_IN_FLIGHT`] requests (or what
/// [`MOST_IN_FLIGHT_VARIABLE`] says).
pub fn capped() -> anyhow::Result<Capped> {
    let most = most_in_flight(std::env::var(MOST_IN_FLIGHT_VARIABLE).ok().as_deref())?;
    Ok(Capped::new(sdk_default(), most))
}

/// The cap a value of [`MOST_IN_FLIGHT_VARIABLE`] sets; unset or empty is the default.
fn most_in_flight(value: Option<&str>) -> anyhow::Result<usize> {
    match value.map(str::trim).filter(|value| !value.is_empty()) {
        None => Ok(MOST_IN_FLIGHT),
        Some(text) => match text.parse::<usize>() {
            Ok(most) if (1..=MOST_ALLOWED).contains(&most) => Ok(most),
            _ => anyhow::bail!(
                "{MOST_IN_FLIGHT_VARIABLE}={text:?} is not a number of requests: give a whole number from 1 to \
                 {MOST_ALLOWED} (the default is {MOST_IN_FLIGHT}), or unset it"
            ),
        },
    }
}

/// What `aws-smithy-runtime` builds when no client is given (`default_https_client`).
fn sdk_default() -> SharedHttpClient {
    Builder::new().build_with_connector_fn(|settings, components| {
        let mut connector = ConnectorBuilder::default().tls_provider(Provider::Rustls(CryptoMode::AwsLc));
        connector.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            connector.set_sleep_impl(components.sleep_impl());
        }
        connector.set_proxy_config(Some(ProxyConfig::from_env()));
        connector.build()
    })
}

/// An HTTP client whose requests take a place before they are sent, and give it back when the
/// answer's headers arrive (the body of an API answer comes with them; the connection is released
/// once the SDK has read it).
#[derive(Debug, Clone)]
pub struct Capped {
    inner: SharedHttpClient,
    places: Arc<Semaphore>,
}

impl Capped {
    pub fn new(inner: SharedHttpClient, most: usize) -> Capped {
        Capped { inner, places: Arc::new(Semaphore::new(most.max(1))) }
    }

    /// The same client without the cap.
    pub fn uncapped(&self) -> SharedHttpClient {
        self.inner.clone()
    }
}

impl HttpClient for Capped {
    fn http_connector(&self, settings: &HttpConnectorSettings, components: &RuntimeComponents) -> SharedHttpConnector {
        SharedHttpConnector::new(Connector {
            inner: self.inner.http_connector(settings, components),
            places: self.places.clone(),
        })
    }
}

#[derive(Debug)]
struct Connector {
    inner: SharedHttpConnector,
    places: Arc<Semaphore>,
}

impl HttpConnector for Connector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let (inner, places) = (self.inner.clone(), self.places.clone());
        HttpConnectorFuture::new(async move {
            // The semaphore is never closed, so acquiring cannot fail; the error is mapped all the same.
            let _place = places.acquire_owned().await.map_err(|error| ConnectorError::other(error.into(), None))?;
            inner.call(request).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
    use aws_smithy_runtime_api::client::runtime_components::RuntimeComponentsBuilder;
    use aws_smithy_types::body::SdkBody;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[test]
    fn the_cap_comes_from_the_environment_and_a_bad_value_names_the_variable() {
        assert_eq!(most_in_flight(None).unwrap(), MOST_IN_FLIGHT);
        assert_eq!(most_in_flight(Some(" ")).unwrap(), MOST_IN_FLIGHT);
        assert_eq!(most_in_flight(Some("512")).unwrap(), 512);
        assert_eq!(most_in_flight(Some("65536")).unwrap(), 65_536);
        for bad in ["0", "-3", "many", "65537", "2305843009213693952", "18446744073709551615"] {
            let message = most_in_flight(Some(bad)).unwrap_err().to_string();
            assert!(message.contains("PROVISION_MAX_REQUESTS") && message.contains(bad), "{message}");
        }
    }

    /// A server that answers every request after 50 ms and counts how many it holds at once.
    #[derive(Debug, Clone, Default)]
    struct SlowServer {
        now: Arc<AtomicUsize>,
        most: Arc<AtomicUsize>,
    }

    impl HttpConnector for SlowServer {
        fn call(&self, _request: HttpRequest) -> HttpConnectorFuture {
            let server = self.clone();
            HttpConnectorFuture::new(async move {
                let now = server.now.fetch_add(1, Ordering::SeqCst) + 1;
                server.most.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(50)).await;
                server.now.fetch_sub(1, Ordering::SeqCst);
                Ok(HttpResponse::new(200.try_into().expect("200 is a status"), SdkBody::from("ok")))
            })
        }
    }

    impl HttpClient for SlowServer {
        fn http_connector(&self, _: &HttpConnectorSettings, _: &RuntimeComponents) -> SharedHttpConnector {
            SharedHttpConnector::new(self.clone())
        }
    }

    fn connector(client: &impl HttpClient) -> SharedHttpConnector {
        let components = RuntimeComponentsBuilder::for_tests().build().expect("test components");
        client.http_connector(&HttpConnectorSettings::builder().build(), &components)
    }

    /// Twenty requests at once through a cap of 8: the server never holds more than 8, every
    /// request is answered, and they go in three waves of 50 ms (8 + 8 + 4), not one after another.
    #[tokio::test(start_paused = true)]
    async fn no_more_than_the_cap_reach_the_server_and_every_request_is_answered() {
        let server = SlowServer::default();
        let capped = Capped::new(SharedHttpClient::new(server.clone()), 8);
        let (first, second) = (connector(&capped), connector(&capped));
        let started = tokio::time::Instant::now();
        let calls = (0..20).map(|n| {
            let connector = if n % 2 == 0 { first.clone() } else { second.clone() };
            async move { connector.call(HttpRequest::get("http://aws.test/").expect("a request")).await }
        });
        let answers = futures::future::join_all(calls).await;
        assert_eq!(
            answers.iter().filter(|answer| answer.as_ref().is_ok_and(|a| a.status().as_u16() == 200)).count(),
            20
        );
        assert_eq!(server.most.load(Ordering::SeqCst), 8, "two connectors of one client share the cap");
        assert_eq!(started.elapsed(), Duration::from_millis(150));
    }

    /// The state bucket's client goes around the cap: it is answered while the cap is full.
    #[tokio::test(start_paused = true)]
    async fn the_uncapped_client_is_not_held_by_a_full_cap() {
        let server = SlowServer::default();
        let capped = Capped::new(SharedHttpClient::new(server.clone()), 1);
        let busy = connector(&capped).call(HttpRequest::get("http://aws.test/").expect("a request"));
        let queued = connector(&capped).call(HttpRequest::get("http://aws.test/").expect("a request"));
        let started = tokio::time::Instant::now();
        let around = connector(&capped.uncapped()).call(HttpRequest::get("http://aws.test/").expect("a request"));
        let (_, _, around) = tokio::join!(busy, queued, async {
            let answer = around.await;
            (answer, started.elapsed())
        });
        assert!(around.0.is_ok());
        assert_eq!(around.1, Duration::from_millis(50), "answered in the first wave, not after the queued one");
    }
}
