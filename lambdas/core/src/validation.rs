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

/// Checks a required single-line text: trimmed length within `min..=max` characters, no
/// control characters. Returns the trimmed text.
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
    } else if trimmed.chars().any(char::is_control) {
        errors.add(field, "must be a single line without control characters");
    }
    trimmed.to_owned()
}
