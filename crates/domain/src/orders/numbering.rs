//! Invoice numbers: a tiny formatter for patterns such as `INV-{year}-{seq:06}`.

use std::fmt::Write as _;

/// A number pattern: literal text with `{year}` and `{seq}` or `{seq:0N}` (zero-padded
/// to N digits) placeholders. Both are required: sequences restart every calendar year,
/// so a pattern without the year would repeat last year's numbers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvoiceNumberFormat {
    pattern: String,
    pieces: Vec<Piece>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Piece {
    Literal(String),
    Year,
    Seq { width: usize },
}

/// A pattern that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invoice number format `{pattern}`: {reason}")]
pub struct InvalidNumberFormat {
    /// Pattern.
    pub pattern: String,
    /// Reason.
    pub reason: String,
}

/// The default pattern.
pub const DEFAULT_NUMBER_FORMAT: &str = "INV-{year}-{seq:06}";

const MAX_WIDTH: usize = 18;

impl InvoiceNumberFormat {
    /// Parses and validates text.
    pub fn parse(pattern: &str) -> Result<InvoiceNumberFormat, InvalidNumberFormat> {
        let fail = |reason: &str| InvalidNumberFormat {
            pattern: pattern.to_owned(),
            reason: reason.to_owned(),
        };
        let mut pieces = Vec::new();
        let mut literal = String::new();
        let mut rest = pattern;
        while let Some(open) = rest.find(['{', '}']) {
            literal.push_str(&rest[..open]);
            if rest[open..].starts_with('}') {
                return Err(fail("a `}` without its `{`"));
            }
            let close = rest[open..]
                .find('}')
                .ok_or_else(|| fail("a `{` without its `}`"))?;
            let name = &rest[open + 1..open + close];
            let piece = match name {
                "year" => Piece::Year,
                "seq" => Piece::Seq { width: 0 },
                _ => match name.strip_prefix("seq:0") {
                    Some(digits)
                        if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) =>
                    {
                        let width: usize =
                            digits.parse().map_err(|_| fail("bad {seq:0N} width"))?;
                        if width == 0 || width > MAX_WIDTH {
                            return Err(fail("the {seq:0N} width must be 1 to 18"));
                        }
                        Piece::Seq { width }
                    }
                    _ => return Err(fail("only {year}, {seq} and {seq:0N} are known")),
                },
            };
            if !literal.is_empty() {
                pieces.push(Piece::Literal(std::mem::take(&mut literal)));
            }
            pieces.push(piece);
            rest = &rest[open + close + 1..];
        }
        literal.push_str(rest);
        if !literal.is_empty() {
            pieces.push(Piece::Literal(literal));
        }
        if !pieces.iter().any(|p| matches!(p, Piece::Seq { .. })) {
            return Err(fail("it must contain {seq} or {seq:0N}"));
        }
        if !pieces.contains(&Piece::Year) {
            return Err(fail(
                "it must contain {year} (sequences restart every year)",
            ));
        }
        Ok(InvoiceNumberFormat {
            pattern: pattern.to_owned(),
            pieces,
        })
    }

    /// The number for sequence `seq` of `year`.
    pub fn render(&self, year: i32, seq: i64) -> String {
        let mut out = String::new();
        for piece in &self.pieces {
            // Writing to a String cannot fail.
            let _ = match piece {
                Piece::Literal(text) => out.write_str(text),
                Piece::Year => write!(out, "{year}"),
                Piece::Seq { width } => write!(out, "{seq:0width$}"),
            };
        }
        out
    }

    /// The numbers of `year` as text around one zero-padded sequence number: `render(year,
    /// seq)` is `before + seq padded to width + after`. `None` when the pattern holds the
    /// sequence more than once. Lets a database compute a number in the same statement that
    /// takes its sequence.
    pub fn around_seq(&self, year: i32) -> Option<SeqSlot> {
        let mut slot = SeqSlot::default();
        let mut seen_seq = false;
        for piece in &self.pieces {
            let side = if seen_seq {
                &mut slot.after
            } else {
                &mut slot.before
            };
            // Writing to a String cannot fail.
            let _ = match piece {
                Piece::Literal(text) => side.write_str(text),
                Piece::Year => write!(side, "{year}"),
                Piece::Seq { .. } if seen_seq => return None,
                Piece::Seq { width } => {
                    seen_seq = true;
                    slot.width = *width;
                    Ok(())
                }
            };
        }
        seen_seq.then_some(slot)
    }

    /// The pattern.
    pub fn pattern(&self) -> &str {
        &self.pattern
    }
}

/// A year's invoice numbers split around their one sequence number (see
/// [`InvoiceNumberFormat::around_seq`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SeqSlot {
    /// Before.
    pub before: String,
    /// Zero-pad the sequence number to at least this many digits (0: no padding).
    pub width: usize,
    /// After.
    pub after: String,
}

impl SeqSlot {
    /// The number for `seq`; equal to the format's `render(year, seq)`.
    pub fn render(&self, seq: i64) -> String {
        let width = self.width;
        format!("{}{seq:0width$}{}", self.before, self.after)
    }
}

impl Default for InvoiceNumberFormat {
    fn default() -> Self {
        InvoiceNumberFormat {
            pattern: DEFAULT_NUMBER_FORMAT.to_owned(),
            pieces: vec![
                Piece::Literal("INV-".into()),
                Piece::Year,
                Piece::Literal("-".into()),
                Piece::Seq { width: 6 },
            ],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_format() {
        let format = InvoiceNumberFormat::default();
        assert_eq!(format.render(2026, 1), "INV-2026-000001");
        assert_eq!(format.render(2026, 1_234_567), "INV-2026-1234567");
        assert_eq!(
            InvoiceNumberFormat::parse(DEFAULT_NUMBER_FORMAT).unwrap(),
            format
        );
    }

    #[test]
    fn custom_formats() {
        let f = InvoiceNumberFormat::parse("{year}/{seq}").unwrap();
        assert_eq!(f.render(2027, 42), "2027/42");
        let f = InvoiceNumberFormat::parse("ACME {seq:04} ({year})").unwrap();
        assert_eq!(f.render(2026, 7), "ACME 0007 (2026)");
        let f = InvoiceNumberFormat::parse("R{year}{seq:08}").unwrap();
        assert_eq!(f.render(2026, 15), "R202600000015");
    }

    #[test]
    fn numbers_split_around_their_one_sequence() {
        for pattern in [
            DEFAULT_NUMBER_FORMAT,
            "{year}/{seq}",
            "ACME {seq:04} ({year})",
            "R{year}{seq:08}",
        ] {
            let format = InvoiceNumberFormat::parse(pattern).unwrap();
            let slot = format.around_seq(2026).unwrap();
            for seq in [1, 42, 123_456, 1_234_567_890] {
                assert_eq!(slot.render(seq), format.render(2026, seq), "{pattern}");
            }
        }
        let slot = InvoiceNumberFormat::default().around_seq(2027).unwrap();
        assert_eq!((slot.before.as_str(), slot.width), ("INV-2027-", 6));
        assert_eq!(slot.after, "");
        let twice = InvoiceNumberFormat::parse("{year}-{seq}-{seq:03}").unwrap();
        assert_eq!(twice.around_seq(2026), None);
    }

    #[test]
    fn bad_formats_are_refused() {
        for bad in [
            "INV-{seq:06}",
            "INV-{year}",
            "{year}-{seq:6}",
            "{year}-{seq:00}",
            "{year}-{seq:019}",
            "{year}-{nr}",
            "{year}-{seq",
            "{year}}-{seq}",
            "",
        ] {
            assert!(InvoiceNumberFormat::parse(bad).is_err(), "{bad}");
        }
    }
}
