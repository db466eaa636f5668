//! Where a character of a TOML string's *value* stands in the stack file.
//!
//! The TOML parser hands over a string decoded: `"\té${x}"` is the text `⇥é${x}`, one byte shorter
//! than its source, and `"""…"""` starts three bytes after its span. References are found in the
//! decoded text, but a diagnostic must point into the file, at a character boundary (a span that
//! lands inside `é` makes the renderer panic). [`StringSpans`] maps each decoded byte back to the
//! source byte its character came from, escapes and delimiters included; when the source does not
//! decode to the text given (it cannot happen with a well-formed file), every offset maps to the
//! string's start, which is still a valid place to point at.

use std::ops::Range;

pub struct StringSpans {
    /// Source offset of every decoded byte, then the offset just past the last character.
    offsets: Vec<usize>,
    /// The string's span in the file (quotes included).
    span: Range<usize>,
}

impl StringSpans {
    /// The map for the string at `span` of `source` whose decoded value is `decoded`.
    pub fn new(source: &str, span: &Range<usize>, decoded: &str) -> StringSpans {
        let fallback = StringSpans { offsets: Vec::new(), span: span.clone() };
        let Some(raw) = source.get(span.clone()) else { return fallback };
        match decode_offsets(raw) {
            Some(offsets) if offsets.len() == decoded.len() + 1 => {
                StringSpans { offsets: offsets.into_iter().map(|o| o + span.start).collect(), span: span.clone() }
            }
            _ => fallback,
        }
    }

    /// The source offset of decoded byte `offset` (the end of the string for offsets past it).
    pub fn source_offset(&self, offset: usize) -> usize {
        if self.offsets.is_empty() {
            return self.span.start;
        }
        self.offsets[offset.min(self.offsets.len() - 1)]
    }

    /// A decoded range as a source range.
    pub fn source_range(&self, range: Range<usize>) -> Range<usize> {
        let start = self.source_offset(range.start);
        let end = self.source_offset(range.end).max(start);
        start..end
    }
}

/// For each byte of the decoded value of the TOML string `raw` (delimiters included), the offset in
/// `raw` of the character it comes from, plus one entry for the end. `None` when `raw` is not a
/// string this understands.
fn decode_offsets(raw: &str) -> Option<Vec<usize>> {
    let (delimiter, basic) = if raw.starts_with("\"\"\"") {
        ("\"\"\"", true)
    } else if raw.starts_with("'''") {
        ("'''", false)
    } else if raw.starts_with('"') {
        ("\"", true)
    } else if raw.starts_with('\'') {
        ("'", false)
    } else {
        return None;
    };
    let multiline = delimiter.len() == 3;
    let body_end = raw.len().checked_sub(delimiter.len()).filter(|end| *end >= delimiter.len())?;
    let body = raw.get(..body_end)?;
    let mut position = delimiter.len();
    // A newline right after the opening delimiter of a multi-line string is not part of it.
    if multiline {
        if body[position..].starts_with("\r\n") {
            position += 2;
        } else if body[position..].starts_with('\n') {
            position += 1;
        }
    }
    let mut offsets = Vec::new();
    while position < body.len() {
        let rest = &body[position..];
        let c = rest.chars().next()?;
        if basic && c == '\\' {
            let escape = rest[1..].chars().next()?;
            let (length, decoded_len) = match escape {
                'u' => (6, char_len(rest.get(2..6)?)?),
                'U' => (10, char_len(rest.get(2..10)?)?),
                'x' => (4, char_len(rest.get(2..4)?)?),
                ' ' | '\t' | '\n' | '\r' if multiline => {
                    // A line-ending backslash: it and all whitespace after it vanish.
                    let skipped = rest[1..].find(|c: char| !c.is_whitespace()).map(|i| i + 1).unwrap_or(rest.len());
                    position += skipped;
                    continue;
                }
                _ => (1 + escape.len_utf8(), 1),
            };
            offsets.extend(std::iter::repeat_n(position, decoded_len));
            position += length;
        } else {
            offsets.extend(std::iter::repeat_n(position, c.len_utf8()));
            position += c.len_utf8();
        }
    }
    offsets.push(body_end);
    Some(offsets)
}

/// The UTF-8 length of the character whose code point is the hex text.
fn char_len(hex: &str) -> Option<usize> {
    u32::from_str_radix(hex, 16).ok().and_then(char::from_u32).map(char::len_utf8)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(source: &str, decoded: &str) -> StringSpans {
        StringSpans::new(source, &(0..source.len()), decoded)
    }

    #[test]
    fn escapes_and_delimiters_map_back_to_their_source() {
        // `"\té${x}"`: the decoded `$` (byte 3) stands at source byte 5.
        let spans = map("\"\\té${x}\"", "\té${x}");
        assert_eq!(spans.source_offset(0), 1);
        assert_eq!(spans.source_offset(1), 3);
        assert_eq!(spans.source_offset(3), 5);
        assert_eq!(spans.source_range(3..7), 5..9);
        let triple = map("\"\"\"éa${x\"\"\"", "éa${x");
        assert_eq!(triple.source_offset(3), 6);
        let unicode = map("\"\\u00e9${x}\"", "é${x}");
        assert_eq!(unicode.source_offset(2), 7);
        let literal = map("'é${x}'", "é${x}");
        assert_eq!(literal.source_offset(2), 3);
    }

    #[test]
    fn multi_line_strings_drop_their_first_newline_and_line_ending_backslashes() {
        let source = "\"\"\"\nab \\\n   c${x}\"\"\"";
        let spans = map(source, "ab c${x}");
        assert_eq!(&source[spans.source_offset(3)..spans.source_offset(3) + 1], "c");
        assert_eq!(&source[spans.source_offset(4)..spans.source_offset(4) + 1], "$");
    }

    #[test]
    fn a_source_that_does_not_decode_to_the_text_points_at_the_string() {
        let spans = StringSpans::new("x = \"abc\"", &(4..9), "something else");
        assert_eq!(spans.source_offset(5), 4);
        let outside = StringSpans::new("é", &(1..5), "x");
        assert_eq!(outside.source_offset(0), 1);
    }
}
