//! Right-to-left text in visual order. PDF draws glyphs left to right as given, and
//! genpdf does no bidirectional layout, so each line (already wrapped, in logical
//! order) is reordered with the Unicode Bidirectional Algorithm (`unicode-bidi`) before
//! it is drawn: Hebrew runs reversed, numbers and Latin inside them kept left to right,
//! brackets in right-to-left runs mirrored. The line's base direction follows its first
//! strong character, as in a plain-text paragraph.

use unicode_bidi::{bidi_class, BidiClass, BidiInfo};

/// True when `text` has a character of a right-to-left script.
fn has_right_to_left(text: &str) -> bool {
    text.chars()
        .any(|c| matches!(bidi_class(c), BidiClass::R | BidiClass::AL))
}

/// The mirrored form of a paired punctuation character (Bidi_Mirroring_Glyph for the
/// ones invoices contain).
fn mirrored(c: char) -> char {
    match c {
        '(' => ')',
        ')' => '(',
        '[' => ']',
        ']' => '[',
        '{' => '}',
        '}' => '{',
        '<' => '>',
        '>' => '<',
        '«' => '»',
        '»' => '«',
        '‹' => '›',
        '›' => '‹',
        '≤' => '≥',
        '≥' => '≤',
        other => other,
    }
}

/// One line in the order its characters are drawn, left to right.
pub(crate) fn visual(line: &str) -> String {
    if !has_right_to_left(line) {
        return line.to_owned();
    }
    let info = BidiInfo::new(line, None);
    let Some(paragraph) = info.paragraphs.first() else {
        return line.to_owned();
    };
    let (levels, runs) = info.visual_runs(paragraph, paragraph.range.clone());
    let mut out = String::with_capacity(line.len());
    for run in runs {
        let text = &line[run.clone()];
        if levels[run.start].is_rtl() {
            out.extend(text.chars().rev().map(mirrored));
        } else {
            out.push_str(text);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn left_to_right_text_is_untouched() {
        assert_eq!(
            visual("Invoice 2026-000001 (paid)"),
            "Invoice 2026-000001 (paid)"
        );
        assert_eq!(visual("Дмитрий Ωμέγα"), "Дмитрий Ωμέγα");
    }

    #[test]
    fn hebrew_is_reversed_and_numbers_are_not() {
        // "shalom" then a number: the Hebrew run is drawn right to left, the digits
        // keep their order, and in a right-to-left line the number comes first.
        assert_eq!(visual("שלום 123"), "123 םולש");
        assert_eq!(visual("רחוב הרצל 12, תל אביב"), "ביבא לת ,12 לצרה בוחר");
    }

    #[test]
    fn hebrew_inside_a_left_to_right_line_stays_in_place() {
        assert_eq!(visual("Buyer: שלום (VIP)"), "Buyer: םולש (VIP)");
        assert_eq!(visual("שלום (VIP)"), "(VIP) םולש");
    }
}
