//! AWS SDK errors as the core's [`DriverError`]: the operation, AWS's error code and its message.

use std::fmt;

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use provision_core::driver::DriverError;

/// Wraps an SDK error, keeping the AWS error code and message.
pub fn aws_error<E, R>(operation: &str, error: SdkError<E, R>) -> DriverError
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
    DriverError::service(operation, code, message)
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
