//! The error every driver returns: which operation failed, with the service's own code and message.

use std::fmt;

#[derive(Debug, Clone)]
pub struct DriverError {
    /// The cloud operation, e.g. `CreateBucket`; empty for errors found before any call.
    pub operation: String,
    pub code: Option<String>,
    pub message: String,
    /// What the user can do about it, shown as a `hint:` line.
    pub hint: Option<String>,
}

impl DriverError {
    /// An error found by the driver itself (not returned by the cloud).
    pub fn invalid(message: impl Into<String>) -> DriverError {
        DriverError { operation: String::new(), code: None, message: message.into(), hint: None }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> DriverError {
        self.hint = Some(hint.into());
        self
    }

    /// An error a cloud API answered: the operation, the service's error code and its message.
    pub fn service(operation: &str, code: Option<String>, message: impl Into<String>) -> DriverError {
        DriverError { operation: operation.to_string(), code, message: message.into(), hint: None }
    }

    pub fn code_is(&self, code: &str) -> bool {
        self.code.as_deref() == Some(code)
    }
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
