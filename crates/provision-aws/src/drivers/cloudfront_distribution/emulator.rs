//! Reading the local emulator's CloudFront answers.
//!
//! moto 5.1.22 (the pinned emulator) accepts every distribution call but writes some answers in a
//! shape aws-sdk-rust refuses: Python booleans (`<Enabled>False</Enabled>` in every distribution,
//! `<Compress>True</Compress>` in every cache behavior) and `<CreateDistributionResult>` as the root
//! of a create's answer. The change has happened; only the echo cannot be read. [`send_readable!`]
//! sends a request and, when a 2xx answer cannot be read, replays that same answer — corrected —
//! through the SDK from memory, so the SDK's own deserializer still does all the reading.
//!
//! AWS's own answers never contain these spellings, so on AWS nothing is ever replayed.

use aws_sdk_cloudfront::config::Builder as CloudFrontConfig;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;

/// Sends a CloudFront fluent request (`send_readable!(client.get_distribution().id(id))`) and
/// reads an unreadable 2xx answer again after correcting the emulator's spellings.
macro_rules! send_readable {
    ($request:expr) => {{
        let request = $request;
        match request.clone().send().await {
            Err(error) => match $crate::drivers::cloudfront_distribution::emulator::corrected_answer(&error) {
                Some(replay) => request.customize().config_override(replay).send().await,
                None => Err(error),
            },
            answer => answer,
        }
    }};
}
pub(crate) use send_readable;

/// A client configuration that answers with `error`'s response, corrected, if the SDK failed to
/// read a successful answer that the corrections change.
pub(crate) fn corrected_answer<E>(error: &SdkError<E, HttpResponse>) -> Option<CloudFrontConfig> {
    let SdkError::ServiceError(service) = error else { return None };
    let raw = service.raw();
    if !raw.status().is_success() {
        return None;
    }
    let text = std::str::from_utf8(raw.body().bytes()?).ok()?;
    let corrected = correct(text);
    if corrected == text {
        return None;
    }
    let headers = raw.headers().iter().map(|(name, value)| (name.to_string(), value.to_string())).collect();
    let answer = CannedAnswer { status: raw.status(), headers, body: corrected };
    Some(aws_sdk_cloudfront::Config::builder().http_client(answer))
}

/// The emulator's answer as AWS would spell it.
fn correct(text: &str) -> String {
    text.replace(">True<", ">true<")
        .replace(">False<", ">false<")
        .replace("<CreateDistributionResult", "<Distribution")
        .replace("</CreateDistributionResult>", "</Distribution>")
}

/// An HTTP client that answers every request with one stored response.
#[derive(Clone, Debug)]
struct CannedAnswer {
    status: StatusCode,
    headers: Vec<(String, String)>,
    body: String,
}

impl HttpConnector for CannedAnswer {
    fn call(&self, _request: HttpRequest) -> HttpConnectorFuture {
        let mut response = HttpResponse::new(self.status, SdkBody::from(self.body.clone()));
        for (name, value) in &self.headers {
            // Headers came from a response that already parsed; none can be invalid.
            let _ = response.headers_mut().try_insert(name.clone(), value.clone());
        }
        HttpConnectorFuture::ready(Ok(response))
    }
}

impl HttpClient for CannedAnswer {
    fn http_connector(
        &self,
        _settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(self.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_booleans_and_the_create_root_are_corrected() {
        let answer =
            "<CreateDistributionResult><Compress>True</Compress><Enabled>False</Enabled></CreateDistributionResult>";
        assert_eq!(correct(answer), "<Distribution><Compress>true</Compress><Enabled>false</Enabled></Distribution>");
    }

    #[test]
    fn aws_answers_stay_as_they_are() {
        let answer = "<Distribution><Comment>True story</Comment><Enabled>true</Enabled></Distribution>";
        assert_eq!(correct(answer), answer);
    }
}
