//! A named AWS answer: the error codes (and, where the code says too little, a part of the message)
//! by which AWS says "not yet" or "still in use" rather than "wrong".

use provision_core::driver::DriverError;

/// One answer AWS gives while it catches up, by its catalogue id.
#[derive(Clone, Copy, Debug)]
pub struct Answer {
    /// The behaviour's id in `docs/aws-behaviours.md` and in the proxy's profile.
    pub id: &'static str,
    /// The AWS error codes that carry it (any one).
    pub codes: &'static [&'static str],
    /// A lowercase part of the message, when the code alone says too little.
    pub message: Option<&'static str>,
    /// What provision waits for meanwhile, for the progress line: "the IAM role to propagate".
    pub waiting_for: &'static str,
    /// What to do when AWS still answers it after the bound.
    pub hint: &'static str,
}

impl Answer {
    /// Whether `error` is this answer.
    pub fn matches(&self, error: &DriverError) -> bool {
        self.codes.iter().any(|code| error.code_is(code))
            && self.message.is_none_or(|part| error.message.to_ascii_lowercase().contains(part))
    }

    /// The first of `answers` that `error` is.
    pub fn find<'a>(answers: &'a [Answer], error: &DriverError) -> Option<&'a Answer> {
        answers.iter().find(|answer| answer.matches(error))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IN_USE: Answer = Answer {
        id: "test.in-use",
        codes: &["ResourceInUse", "InUse"],
        message: Some("listener"),
        waiting_for: "the listener to let go",
        hint: "",
    };

    #[test]
    fn an_answer_needs_its_code_and_its_message_part() {
        let error = |code: &str, message: &str| DriverError::service("Delete", Some(code.into()), message);
        assert!(IN_USE.matches(&error("ResourceInUse", "In use by a Listener or a rule")));
        assert!(IN_USE.matches(&error("InUse", "the LISTENER holds it")));
        assert!(!IN_USE.matches(&error("ResourceInUse", "in use by a service")));
        assert!(!IN_USE.matches(&error("ValidationError", "listener")));
        assert!(!IN_USE.matches(&DriverError::invalid("listener")));
    }
}
