//! Reading the local emulator's Route 53 answers.
//!
//! moto 5.1.22 (the pinned emulator) writes every record value as `<Value><![CDATA[…]]></Value>`,
//! and aws-sdk-rust's XML reader reads a CDATA section as an empty string: every value (an address,
//! a CNAME target, a TXT string) would read back as `""`. That breaks more than drift: a Route 53
//! `DELETE` must name the record's current values, so nothing could be deleted either.
//!
//! Against an `http://` endpoint the Route 53 client therefore goes through [`CdataAsText`], which
//! rewrites CDATA sections as ordinary escaped text before the SDK reads the answer; the SDK's own
//! deserializer still does all the reading. AWS's answers contain no CDATA and AWS is never reached
//! over plain HTTP, so nothing changes there.

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::byte_stream::ByteStream;

/// An HTTP client whose answers have their CDATA sections rewritten as text: a plain-HTTP one of
/// its own ([`CdataAsText::new`], for tests) or the run's shared one ([`CdataAsText::around`]).
#[derive(Debug, Clone)]
pub struct CdataAsText {
    inner: SharedHttpClient,
}

impl CdataAsText {
    pub fn new() -> CdataAsText {
        CdataAsText::around(aws_smithy_http_client::Builder::new().build_http())
    }

    /// The rewriting on top of `inner` (the run's shared client, so Route 53 calls count against its
    /// cap like every other).
    pub fn around(inner: SharedHttpClient) -> CdataAsText {
        CdataAsText { inner }
    }
}

impl Default for CdataAsText {
    fn default() -> CdataAsText {
        CdataAsText::new()
    }
}

impl HttpClient for CdataAsText {
    fn http_connector(&self, settings: &HttpConnectorSettings, components: &RuntimeComponents) -> SharedHttpConnector {
        SharedHttpConnector::new(Connector { inner: self.inner.http_connector(settings, components) })
    }
}

#[derive(Debug)]
struct Connector {
    inner: SharedHttpConnector,
}

impl HttpConnector for Connector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let inner = self.inner.clone();
        HttpConnectorFuture::new(async move {
            let mut response = inner.call(request).await?;
            let body = ByteStream::new(response.take_body())
                .collect()
                .await
                .map_err(|error| ConnectorError::io(error.into()))?
                .into_bytes();
            let body = match std::str::from_utf8(&body) {
                Ok(text) if text.contains("<![CDATA[") => SdkBody::from(cdata_as_text(text)),
                _ => SdkBody::from(body),
            };
            response.headers_mut().remove("content-length");
            *response.body_mut() = body;
            Ok(response)
        })
    }
}

/// `<![CDATA[a<b]]>` as `a&lt;b`.
fn cdata_as_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("<![CDATA[") {
        out.push_str(&rest[..start]);
        let inside = &rest[start + "<![CDATA[".len()..];
        let Some(end) = inside.find("]]>") else {
            out.push_str(&rest[start..]);
            return out;
        };
        let content = &inside[..end];
        out.push_str(&content.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;"));
        rest = &inside[end + "]]>".len()..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cdata_sections_become_escaped_text() {
        assert_eq!(
            cdata_as_text("<Value><![CDATA[\"v=spf1 <all>\"]]></Value><Value><![CDATA[a&b]]></Value>"),
            "<Value>\"v=spf1 &lt;all&gt;\"</Value><Value>a&amp;b</Value>"
        );
        assert_eq!(cdata_as_text("<Value>plain</Value>"), "<Value>plain</Value>");
        assert_eq!(cdata_as_text("<![CDATA[unterminated"), "<![CDATA[unterminated");
    }
}
