//! Validation errors that name the field at fault, so an API can say exactly what to fix.

use std::fmt;

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: &'static str,
    pub message: String,
}

/// Every problem found in one input, in field order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(transparent)]
pub struct ValidationErrors(pub Vec<FieldError>);

impl ValidationErrors {
    pub fn add(&mut self, field: &'static str, message: impl Into<String>) {
        self.0.push(FieldError {
            field,
            message: message.into(),
        });
    }

    pub fn fields(&self) -> Vec<&'static str> {
        self.0.iter().map(|error| error.field).collect()
    }

    pub fn into_result<T>(self, value: impl FnOnce() -> T) -> Result<T, Self> {
        if self.0.is_empty() {
            Ok(value())
        } else {
            Err(self)
        }
    }
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|error| format!("{}: {}", error.field, error.message))
            .collect();
        f.write_str(&parts.join("; "))
    }
}

/// The explicit bidirectional formatting characters that open or close a run (embeddings,
/// overrides, isolates: U+202A–U+202E, U+2066–U+2069). One left open reorders whatever is shown
/// after the text (a ticket's, a list's, a CSV's next column), so text that goes on one line
/// has none. The implicit marks (U+200E, U+200F, U+061C) open nothing and are kept.
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Checks a required single-line text: trimmed length within `1..=max` characters, no
/// control characters and no bidi controls ([`is_bidi_control`]). Returns the trimmed text.
pub(crate) fn single_line(
    errors: &mut ValidationErrors,
    field: &'static str,
    text: &str,
    max: usize,
) -> String {
    let trimmed = text.trim();
    let length = trimmed.chars().count();
    if length == 0 {
        errors.add(field, "is required");
    } else if length > max {
        errors.add(
            field,
            format!("must be at most {max} characters (got {length})"),
        );
    } else if trimmed
        .chars()
        .any(|c| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}'))
    {
        // U+2028/U+2029 are line and paragraph separators, though not control characters.
        errors.add(field, "must be a single line without control characters");
    } else if trimmed.chars().any(is_bidi_control) {
        errors.add(field, BIDI_MESSAGE);
    }
    trimmed.to_owned()
}

/// Checks an optional multi-line text: trimmed length at most `max` characters; line breaks
/// and tabs are kept, other control characters and bidi controls refused (a paragraph cannot
/// isolate them either: an override left open runs on into what follows it on the page).
/// Returns the trimmed text.
pub(crate) fn multi_line(
    errors: &mut ValidationErrors,
    field: &'static str,
    text: &str,
    max: usize,
) -> String {
    let trimmed = text.trim();
    let length = trimmed.chars().count();
    if length > max {
        errors.add(
            field,
            format!("must be at most {max} characters (got {length})"),
        );
    } else if trimmed
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        errors.add(
            field,
            "must not contain control characters other than line breaks and tabs",
        );
    } else if trimmed.chars().any(is_bidi_control) {
        errors.add(field, BIDI_MESSAGE);
    }
    trimmed.to_owned()
}

const BIDI_MESSAGE: &str =
    "must not contain bidirectional control characters (U+202A to U+202E, U+2066 to U+2069)";

#[cfg(test)]
mod tests {
    use super::*;

    fn single(text: &str) -> Vec<String> {
        let mut errors = ValidationErrors::default();
        single_line(&mut errors, "title", text, 10);
        errors.0.into_iter().map(|error| error.message).collect()
    }

    fn multi(text: &str) -> Vec<String> {
        let mut errors = ValidationErrors::default();
        multi_line(&mut errors, "description", text, 10);
        errors.0.into_iter().map(|error| error.message).collect()
    }

    #[test]
    fn every_bidi_control_is_refused_and_nothing_next_to_them() {
        let controls: Vec<char> = ('\u{2000}'..='\u{206F}')
            .filter(|&c| is_bidi_control(c))
            .collect();
        assert_eq!(
            controls,
            [
                '\u{202A}', '\u{202B}', '\u{202C}', '\u{202D}', '\u{202E}', '\u{2066}', '\u{2067}',
                '\u{2068}', '\u{2069}'
            ]
        );
        for c in controls {
            assert_eq!(single(&format!("a{c}b")), [BIDI_MESSAGE], "{c:?}");
            assert_eq!(multi(&format!("a{c}b")), [BIDI_MESSAGE], "{c:?}");
        }
        // Right-to-left text and the implicit marks are fine.
        for text in [
            "\u{5E9}\u{5DC}\u{5D5}\u{5DD}",
            "a\u{200F}b",
            "a\u{200E}b",
            "a\u{61C}b",
        ] {
            assert!(single(text).is_empty(), "{text:?}");
            assert!(multi(text).is_empty(), "{text:?}");
        }
    }

    #[test]
    fn multi_line_text_keeps_line_breaks_and_tabs_only() {
        assert!(multi("a\r\nb\tc").is_empty());
        assert!(multi("").is_empty());
        assert_eq!(multi("a\u{0}b").len(), 1);
        assert_eq!(multi("a\u{1B}b").len(), 1);
        assert_eq!(multi("a\u{85}b").len(), 1);
        assert_eq!(
            multi(&"x".repeat(11)),
            ["must be at most 10 characters (got 11)"]
        );
        for broken in ["a\nb", "a\u{2028}b", "a\u{2029}b", "a\u{85}b"] {
            assert_eq!(
                single(broken),
                ["must be a single line without control characters"],
                "{broken:?}"
            );
        }
    }
}
