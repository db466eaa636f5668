//! Problems found in a stack file, each pointing at a place in it.
//!
//! Rendering uses `codespan-reporting`, so an error shows the offending line with a caret, and the
//! header names `file:line:column` for editors and `grep`.

use std::ops::Range;
use std::path::{Path, PathBuf};

use codespan_reporting::diagnostic::{Diagnostic as Report, Label};
use codespan_reporting::files::SimpleFile;
use codespan_reporting::term::{self, termcolor};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

#[derive(Clone, Debug)]
pub struct Diagnostic {
    pub severity: Severity,
    pub message: String,
    pub span: Option<Range<usize>>,
    /// Short text under the caret.
    pub label: Option<String>,
    /// How to fix it, shown as a `hint:` line.
    pub hint: Option<String>,
    /// The problem breaks a rule the JSON Schema (`provision schema`) states too: an unknown
    /// field, a wrong type, a value outside the allowed ones. Editors show it as well.
    pub shape: bool,
}

impl Diagnostic {
    pub fn error(message: impl Into<String>, span: Option<Range<usize>>) -> Diagnostic {
        Diagnostic { severity: Severity::Error, message: message.into(), span, label: None, hint: None, shape: false }
    }

    pub fn warning(message: impl Into<String>, span: Option<Range<usize>>) -> Diagnostic {
        Diagnostic { severity: Severity::Warning, message: message.into(), span, label: None, hint: None, shape: false }
    }

    pub fn label(mut self, label: impl Into<String>) -> Diagnostic {
        self.label = Some(label.into());
        self
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Diagnostic {
        self.hint = Some(hint.into());
        self
    }

    /// Marks a problem the JSON Schema finds too (see [`Diagnostic::shape`]).
    pub fn shape(mut self) -> Diagnostic {
        self.shape = true;
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// The problems found in one stack file, with the text needed to show where they are.
#[derive(Debug)]
pub struct StackError {
    pub path: PathBuf,
    pub source: String,
    pub diagnostics: Vec<Diagnostic>,
}

impl StackError {
    /// `path:line:column` of a byte offset (1-based, columns in characters).
    pub fn location(path: &Path, source: &str, offset: usize) -> String {
        let (line, column) = line_column(source, offset);
        format!("{}:{line}:{column}", path.display())
    }

    /// The diagnostics as text; `color` adds ANSI colours.
    pub fn render(&self, color: bool) -> String {
        render(&self.path, &self.source, &self.diagnostics, color)
    }
}

impl std::fmt::Display for StackError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.render(false).trim_end())
    }
}

impl std::error::Error for StackError {}

pub fn line_column(source: &str, offset: usize) -> (usize, usize) {
    let before = &source[..char_boundary(source, offset)];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map(|s| s.chars().count()).unwrap_or(0) + 1;
    (line, column)
}

/// `offset` moved back to the start of the character it falls in (and into the text): a span must
/// never cut a character, or slicing and rendering the source would panic.
pub fn char_boundary(source: &str, offset: usize) -> usize {
    let mut offset = offset.min(source.len());
    while !source.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

pub fn render(path: &Path, source: &str, diagnostics: &[Diagnostic], color: bool) -> String {
    let file = SimpleFile::new(path.display().to_string(), source);
    let mut buffer = if color { termcolor::Buffer::ansi() } else { termcolor::Buffer::no_color() };
    let config = term::Config::default();
    for diagnostic in diagnostics {
        let mut message = diagnostic.message.clone();
        if let Some(span) = &diagnostic.span {
            message = format!("{}: {message}", StackError::location(path, source, span.start));
        }
        let mut report = match diagnostic.severity {
            Severity::Error => Report::error(),
            Severity::Warning => Report::warning(),
        }
        .with_message(message);
        if let Some(span) = &diagnostic.span {
            let start = char_boundary(source, span.start);
            let span = start..char_boundary(source, span.end).max(start);
            let mut label = Label::primary((), span);
            if let Some(text) = &diagnostic.label {
                label = label.with_message(text.clone());
            }
            report = report.with_labels(vec![label]);
        }
        if let Some(hint) = &diagnostic.hint {
            report = report.with_notes(vec![format!("hint: {hint}")]);
        }
        let _ = term::emit(&mut buffer, &config, &file, &report);
    }
    String::from_utf8_lossy(buffer.as_slice()).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_are_one_based() {
        let source = "a = 1\nbb = 2\n";
        assert_eq!(line_column(source, 0), (1, 1));
        assert_eq!(line_column(source, 6), (2, 1));
        assert_eq!(line_column(source, 8), (2, 3));
    }

    #[test]
    fn a_span_inside_a_character_never_panics() {
        let source = "bucket = \"é\"\n";
        assert_eq!(line_column(source, 11), (1, 11));
        let error = StackError {
            path: PathBuf::from("stack.toml"),
            source: source.into(),
            diagnostics: vec![Diagnostic::error("bad", Some(11..12))],
        };
        assert!(error.to_string().contains("stack.toml:1:11: bad"), "{error}");
    }

    #[test]
    fn rendered_errors_name_file_line_and_column_and_the_hint() {
        let error = StackError {
            path: PathBuf::from("stack.toml"),
            source: "[s3_bucket.site]\nversionin = true\n".into(),
            diagnostics: vec![Diagnostic::error("unknown field `versionin`", Some(17..26))
                .label("not a field of `s3_bucket`")
                .hint("did you mean `versioning`?")],
        };
        let text = error.to_string();
        assert!(text.contains("stack.toml:2:1: unknown field `versionin`"), "{text}");
        assert!(text.contains("hint: did you mean `versioning`?"), "{text}");
    }
}
