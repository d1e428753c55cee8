//! One-byte codes for text outside WinAnsi.
//!
//! genpdf can draw a font two ways: embedded whole as a CID font (printpdf then builds
//! its glyph map by asking the font about all 1.1 million code points, ~50 ms per face)
//! or as a PDF built-in font, which it encodes in WinAnsi, one byte per character. Text
//! that needs more than WinAnsi is drawn the second way with per-document codes: every
//! distinct character of a face gets a byte, ASCII keeping its own; the text is handed
//! to genpdf as the WinAnsi characters of those bytes (the "carrier" text) and measured
//! with a font whose character map sends each carrier character to the real glyph.
//! After genpdf, the built-in font's dictionary is replaced by an embedded subset that
//! maps the same bytes to the same glyphs, with a `ToUnicode` map back to the real
//! characters, so the PDF shows and copies the real text (see `embed`).

use std::collections::BTreeMap;
use std::sync::LazyLock;

use crate::text::is_win_ansi;

/// The character genpdf turns into each byte, for every byte WinAnsi can produce.
static CARRIERS: LazyLock<[Option<char>; 256]> = LazyLock::new(|| {
    let mut table = [None; 256];
    let candidates = (' '..='~')
        .chain('\u{A0}'..='\u{FF}')
        .chain("€‚ƒ„…†‡ˆ‰Š‹ŒŽ‘’“”•–—˜™š›œžŸ".chars());
    for c in candidates.filter(|&c| is_win_ansi(c)) {
        if let [byte] = lopdf::Document::encode_text(Some("WinAnsiEncoding"), &c.to_string())[..] {
            table[usize::from(byte)] = Some(c);
        }
    }
    table
});

/// The character that genpdf encodes as `code`, if WinAnsi has one.
pub(crate) fn carrier(code: u8) -> Option<char> {
    CARRIERS[usize::from(code)]
}

/// Codes handed out to characters that are not ASCII, in this order: the upper half
/// first, then ASCII codes the document does not use itself.
fn spare_codes() -> impl Iterator<Item = u8> {
    (0x80..=0xFF)
        .chain(0x21..=0x7E)
        .filter(|&code| carrier(code).is_some())
}

/// The codes of one embedded face in one document.
#[derive(Clone, Debug, Default)]
pub(crate) struct CodeTable {
    codes: BTreeMap<char, u8>,
}

impl CodeTable {
    /// Codes for `chars` (a face's characters in one document). ASCII keeps its own code;
    /// the others take spare ones. Characters beyond the ~220 codes a byte offers come
    /// back in the second list (they are drawn as `?`).
    pub(crate) fn assign(chars: impl IntoIterator<Item = char>) -> (CodeTable, Vec<char>) {
        // `?` stands in for characters without a code and genpdf joins words with
        // spaces, so both always have their own codes.
        let mut codes = BTreeMap::from([('?', b'?'), (' ', b' ')]);
        let mut others = Vec::new();
        for c in chars {
            if c == ' ' || c.is_ascii_graphic() {
                codes.insert(c, c as u8);
            } else {
                others.push(c);
            }
        }
        let spare: Vec<u8> = spare_codes()
            .filter(|code| !codes.values().any(|used| used == code))
            .collect();
        let mut spare = spare.into_iter();
        let mut overflow = Vec::new();
        for c in others {
            match spare.next() {
                Some(code) => {
                    codes.insert(c, code);
                }
                None => overflow.push(c),
            }
        }
        (CodeTable { codes }, overflow)
    }

    pub(crate) fn code(&self, c: char) -> Option<u8> {
        self.codes.get(&c).copied()
    }

    /// `text` as the carrier characters genpdf encodes to this table's codes; a
    /// character without a code becomes `?`.
    pub(crate) fn carrier_text(&self, text: &str) -> String {
        text.chars()
            .map(|c| self.code(c).and_then(carrier).unwrap_or('?'))
            .collect()
    }

    /// Every (real character, code) pair.
    pub(crate) fn entries(&self) -> impl Iterator<Item = (char, u8)> + '_ {
        self.codes.iter().map(|(&c, &code)| (c, code))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spare_code_round_trips_through_the_encoder() {
        let mut count = 0;
        for code in spare_codes() {
            let c = carrier(code).unwrap();
            let encoded = lopdf::Document::encode_text(Some("WinAnsiEncoding"), &c.to_string());
            assert_eq!(encoded, vec![code], "{c:?}");
            count += 1;
        }
        // 94 printable ASCII and the WinAnsi upper half without its gaps.
        assert!(count >= 210, "{count}");
        assert_eq!(carrier(b' '), Some(' '));
    }

    #[test]
    fn ascii_keeps_its_codes_and_others_share_the_rest() {
        let text = "Дмитрий Ωμέγα AB 12";
        let (table, overflow) = CodeTable::assign(text.chars());
        assert!(overflow.is_empty());
        assert_eq!(table.code('A'), Some(b'A'));
        assert_eq!(table.code(' '), Some(b' '));
        let mut used: Vec<u8> = table.entries().map(|(_, code)| code).collect();
        used.sort_unstable();
        used.dedup();
        assert_eq!(used.len(), table.entries().count(), "codes are unique");
        let carried = table.carrier_text("AД ?");
        assert_eq!(carried.chars().count(), 4);
        assert!(carried.chars().all(is_win_ansi));
    }

    #[test]
    fn too_many_characters_overflow_instead_of_sharing_codes() {
        let many = ('\u{4E00}'..'\u{4F00}').collect::<Vec<_>>();
        let (table, overflow) = CodeTable::assign(many.iter().copied());
        assert!(!overflow.is_empty());
        // `?` and the space always have codes of their own.
        assert_eq!(table.entries().count() - 2 + overflow.len(), many.len());
    }
}
