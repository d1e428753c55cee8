//! The customer's note on an order: free text the customer writes when ordering
//! (`notes` on `POST /api/orders`). It is the customer's own words, shown back to them
//! and to administrators; it is never mixed into the order's internal notes.

use std::fmt;

/// Longest customer note, in characters.
pub const MAX_CUSTOMER_NOTE_CHARS: usize = 2_000;

/// Why a customer note was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CustomerNoteError {
    /// Longer than [`MAX_CUSTOMER_NOTE_CHARS`] after trimming.
    #[error("must be at most 2000 characters")]
    TooLong,
    /// Holds a control character other than a line break or a tab.
    #[error("must not contain control characters")]
    ControlCharacter,
}

/// A customer's note: trimmed, non-blank, at most [`MAX_CUSTOMER_NOTE_CHARS`]
/// characters, no control characters but line breaks and tabs.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CustomerNote(String);

impl CustomerNote {
    /// The note in `text`, trimmed; `None` when it is blank.
    pub fn parse(text: &str) -> Result<Option<CustomerNote>, CustomerNoteError> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(None);
        }
        if text.chars().count() > MAX_CUSTOMER_NOTE_CHARS {
            return Err(CustomerNoteError::TooLong);
        }
        if text
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
        {
            return Err(CustomerNoteError::ControlCharacter);
        }
        Ok(Some(CustomerNote(text.to_owned())))
    }

    /// An optional note: `None` and blank text are no note.
    pub fn parse_optional(text: Option<&str>) -> Result<Option<CustomerNote>, CustomerNoteError> {
        text.map_or(Ok(None), CustomerNote::parse)
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CustomerNote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_and_drops_blank_notes() {
        assert_eq!(CustomerNote::parse("  \n\t ").unwrap(), None);
        assert_eq!(CustomerNote::parse_optional(None).unwrap(), None);
        let note = CustomerNote::parse("  please invoice\nmy company  ")
            .unwrap()
            .unwrap();
        assert_eq!(note.as_str(), "please invoice\nmy company");
    }

    #[test]
    fn refuses_long_notes_and_control_characters() {
        let limit = "é".repeat(MAX_CUSTOMER_NOTE_CHARS);
        assert!(CustomerNote::parse(&limit).unwrap().is_some());
        assert_eq!(
            CustomerNote::parse(&format!("{limit}x")),
            Err(CustomerNoteError::TooLong)
        );
        // Surrounding space does not count against the limit.
        assert!(CustomerNote::parse(&format!("  {limit}  "))
            .unwrap()
            .is_some());
        assert_eq!(
            CustomerNote::parse("bell\u{7}"),
            Err(CustomerNoteError::ControlCharacter)
        );
        assert!(CustomerNote::parse("tab\tand\r\nbreaks").unwrap().is_some());
    }
}
