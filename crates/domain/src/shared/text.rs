//! Validation of free text fields, and the error every account field reports.

/// An account field failed validation; `field` is the contract's JSON name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct AccountValidationError {
    /// Field.
    pub field: &'static str,
    /// Message.
    pub message: String,
}

impl AccountValidationError {
    /// Creates it from its parts.
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self {
            field,
            message: message.into(),
        }
    }
}

/// Trims, turns blank into `None`, and enforces a length and no control characters.
pub(crate) fn optional_text(
    field: &'static str,
    text: Option<String>,
    max_chars: usize,
) -> Result<Option<String>, AccountValidationError> {
    let Some(text) = text.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    if text.chars().count() > max_chars {
        return Err(AccountValidationError::new(
            field,
            format!("must be at most {max_chars} characters"),
        ));
    }
    if text.chars().any(char::is_control) {
        return Err(AccountValidationError::new(
            field,
            "must not contain control characters",
        ));
    }
    Ok(Some(text))
}

/// A required single-line name: trimmed, 1..=`max_chars` characters, no control characters.
pub(crate) fn required_name(
    field: &'static str,
    text: &str,
    max_chars: usize,
) -> Result<String, AccountValidationError> {
    match optional_text(field, Some(text.to_owned()), max_chars)? {
        Some(name) => Ok(name),
        None => Err(AccountValidationError::new(
            field,
            format!("must be 1 to {max_chars} characters"),
        )),
    }
}
