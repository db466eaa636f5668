//! The error every driver returns: which AWS operation failed, with AWS's own code and message.

use std::fmt;

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_smithy_runtime_api::client::result::SdkError;

#[derive(Debug, Clone)]
pub struct DriverError {
    /// The AWS operation, e.g. `CreateBucket`; empty for errors found before any call.
    pub operation: String,
    pub code: Option<String>,
    pub message: String,
    /// What the user can do about it, shown as a `hint:` line.
    pub hint: Option<String>,
}

impl DriverError {
    /// An error found by the driver itself (not returned by AWS).
    pub fn invalid(message: impl Into<String>) -> DriverError {
        DriverError { operation: String::new(), code: None, message: message.into(), hint: None }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> DriverError {
        self.hint = Some(hint.into());
        self
    }

    /// Wraps an SDK error, keeping the AWS error code and message.
    pub fn aws<E, R>(operation: &str, error: SdkError<E, R>) -> DriverError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: fmt::Debug,
    {
        let (code, message) = match &error {
            SdkError::ServiceError(service) => {
                let inner = service.err();
                let code = inner.code().map(str::to_string);
                let message = match (inner.message(), &code) {
                    (Some(message), _) => message.to_string(),
                    // No code and no message: an answer the SDK could not read; its causes say why.
                    (None, None) => describe_transport_error(&error),
                    (None, Some(_)) => inner.to_string(),
                };
                (code, message)
            }
            other => (None, describe_transport_error(other)),
        };
        DriverError { operation: operation.to_string(), code, message, hint: None }
    }

    pub fn code_is(&self, code: &str) -> bool {
        self.code.as_deref() == Some(code)
    }
}

fn describe_transport_error<E: std::error::Error + 'static, R: fmt::Debug>(error: &SdkError<E, R>) -> String {
    // The Display of SdkError is terse ("dispatch failure"); the source chain says why.
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

impl fmt::Display for DriverError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.operation.is_empty() {
            write!(f, "{} failed: ", self.operation)?;
        }
        if let Some(code) = &self.code {
            write!(f, "{code}: ")?;
        }
        write!(f, "{}", self.message)
    }
}

impl std::error::Error for DriverError {}
