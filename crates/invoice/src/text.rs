//! Text preparation: which characters the built-in PDF font can show, cleaning text
//! before layout, and line wrapping that never loses text.

use genpdf::fonts::{FontCache, FontData, FontFamily};
use genpdf::style::Style;
use genpdf::Mm;

/// True when `c` has a code in WinAnsiEncoding (Windows-1252), the encoding the PDF
/// built-in fonts are drawn with. It is exactly the set lopdf's encoder (which genpdf
/// uses) accepts; a unit test compares the two over the whole BMP.
pub(crate) fn is_win_ansi(c: char) -> bool {
    matches!(
        c,
        ' '..='~'
            // Latin-1 without NBSP (U+00A0) and the soft hyphen (U+00AD): lopdf's table
            // maps those codes to the plain space and hyphen instead.
            | '\u{A1}'..='\u{AC}'
            | '\u{AE}'..='\u{FF}'
            // What Windows-1252 puts in 0x80..0x9F.
            | '€' | '‚' | 'ƒ' | '„' | '…' | '†' | '‡' | 'ˆ' | '‰' | 'Š' | '‹' | 'Œ' | 'Ž'
            | '‘' | '’' | '“' | '”' | '•' | '–' | '—' | '˜' | '™' | 'š' | '›' | 'œ' | 'ž' | 'Ÿ'
    )
}

/// How a document's text is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FontMode {
    /// PDF built-in Helvetica: nothing embedded, a few KB per file. WinAnsi text only.
    Builtin,
    /// Liberation Sans embedded whole: Latin, Greek and Cyrillic, but ~470 KB per file.
    Embedded,
}

impl FontMode {
    /// The cheapest mode that can draw every (already cleaned) text.
    pub(crate) fn for_text(text: &str) -> FontMode {
        if text.chars().all(is_win_ansi) {
            FontMode::Builtin
        } else {
            FontMode::Embedded
        }
    }

    /// `Embedded` as soon as one of the two needs it.
    pub(crate) fn or(self, other: FontMode) -> FontMode {
        if self == FontMode::Embedded || other == FontMode::Embedded {
            FontMode::Embedded
        } else {
            FontMode::Builtin
        }
    }
}

/// Invisible characters that only steer shaping (joiners, direction marks, variation
/// selectors, BOM). genpdf does no shaping, so they are dropped instead of becoming `?`.
fn is_invisible_format(c: char) -> bool {
    matches!(
        c,
        '\u{AD}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}'
            | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}' | '\u{E0100}'..='\u{E01EF}'
    )
}

/// Cleans one piece of text for layout: every whitespace or control character becomes a
/// plain space, invisible format characters go, a non-breaking hyphen becomes `-`, and a
/// character `has_glyph` rejects (CJK, emoji...) becomes `?`, so no font ever meets a
/// character it cannot draw.
pub(crate) fn clean(text: &str, has_glyph: impl Fn(char) -> bool) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_whitespace() || c.is_control() {
            out.push(' ');
        } else if is_invisible_format(c) {
        } else if c == '\u{2011}' {
            out.push('-');
        } else if is_win_ansi(c) || has_glyph(c) {
            out.push(c);
        } else {
            out.push('?');
        }
    }
    out
}

/// Glyph metrics of Liberation Sans, which are those of Helvetica too: used for glyph
/// coverage and for wrapping before a genpdf document exists.
pub(crate) struct Metrics {
    cache: FontCache,
}

impl Metrics {
    pub(crate) fn new(family: FontFamily<FontData>) -> Metrics {
        Metrics {
            cache: FontCache::new(family),
        }
    }

    /// True when both the regular and the bold face have a glyph for `c`.
    pub(crate) fn has_glyph(&self, c: char) -> bool {
        let family = self.cache.default_font_family();
        [family.regular, family.bold]
            .into_iter()
            .all(|font| self.cache.get_rt_font(font).glyph(c).id().0 != 0)
    }

    /// The width genpdf computes for `s` (advances plus kerning).
    pub(crate) fn width(&self, s: &str, style: Style) -> Mm {
        style.str_width(&self.cache, s)
    }

    pub(crate) fn line_height(&self, style: Style) -> Mm {
        style.line_height(&self.cache)
    }

    /// Splits cleaned `text` into lines no wider than `max`. genpdf's own wrapper silently
    /// drops a word wider than its column (and all text after it), so every paragraph is
    /// pre-wrapped here and drawn one line per element: widths are summed word by word,
    /// each with its trailing space, exactly as genpdf sums them, so genpdf never wraps a
    /// line again; a word wider than `max` is cut between characters.
    pub(crate) fn wrap(&self, text: &str, max: Mm, style: Style) -> Vec<String> {
        // Column widths reach genpdf through float divisions: keep clear of rounding.
        let max = max - Mm::from(0.05);
        let mut lines = Vec::new();
        let mut line = String::new();
        // Width of `line` counted the genpdf way: each word with its trailing space.
        let mut x = Mm::default();
        for word in text.split_whitespace() {
            if !line.is_empty() && x + self.width(word, style) <= max {
                line.push(' ');
                line.push_str(word);
                x += self.width(&format!("{word} "), style);
                continue;
            }
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            let mut rest = word;
            while self.width(rest, style) > max {
                let cut = self.fitting_prefix(rest, max, style);
                lines.push(rest[..cut].to_owned());
                rest = &rest[cut..];
            }
            line.push_str(rest);
            x = self.width(&format!("{rest} "), style);
        }
        if !line.is_empty() {
            lines.push(line);
        }
        lines
    }

    /// Byte length of the longest prefix of `word` that fits in `max`, at least one
    /// character so wrapping always advances.
    fn fitting_prefix(&self, word: &str, max: Mm, style: Style) -> usize {
        // Grow by advance widths (linear), then shrink while kerning pushes it over.
        let mut end = 0;
        let mut width = Mm::default();
        for (at, c) in word.char_indices() {
            width += style.char_width(&self.cache, c);
            if width > max {
                break;
            }
            end = at + c.len_utf8();
        }
        while end > 0 && self.width(&word[..end], style) > max {
            end = word[..end].char_indices().last().map_or(0, |(at, _)| at);
        }
        if end == 0 {
            end = word.chars().next().map_or(word.len(), char::len_utf8);
        }
        end
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn win_ansi_table_matches_the_encoder_genpdf_uses() {
        for code in 0_u32..=0xFFFF {
            let Some(c) = char::from_u32(code) else {
                continue;
            };
            let encoded = lopdf::Document::encode_text(Some("WinAnsiEncoding"), &c.to_string());
            let encodable = encoded.len() == 1;
            assert_eq!(is_win_ansi(c), encodable, "U+{code:04X} {c:?}");
        }
    }

    #[test]
    fn win_ansi_covers_western_text_and_nothing_else() {
        assert!("Zoë Müller-Łukasz".chars().any(|c| !is_win_ansi(c)));
        for c in "Zoë Müller, 12 € – “quoted” ™ ß Œ".chars() {
            assert!(is_win_ansi(c), "{c:?}");
        }
        for c in "ДмитрийΩμέγα漢🙂\u{A0}\u{AD}\n".chars() {
            assert!(!is_win_ansi(c), "{c:?}");
        }
    }

    #[test]
    fn font_mode_falls_back_to_embedded_only_when_needed() {
        assert_eq!(FontMode::for_text("Acme GmbH, 9.99 €"), FontMode::Builtin);
        assert_eq!(FontMode::for_text("Дмитрий Ωμέγα"), FontMode::Embedded);
        assert_eq!(FontMode::for_text("Łódź"), FontMode::Embedded);
        assert_eq!(FontMode::Builtin.or(FontMode::Embedded), FontMode::Embedded);
        assert_eq!(FontMode::Builtin.or(FontMode::Builtin), FontMode::Builtin);
    }

    #[test]
    fn clean_replaces_what_no_font_has() {
        let cyrillic_and_greek = |c: char| matches!(c, '\u{370}'..='\u{4FF}');
        assert_eq!(clean("a\tb\r\nc\u{A0}d", cyrillic_and_greek), "a b  c d");
        assert_eq!(clean("Дмитрий Ωμέγα", cyrillic_and_greek), "Дмитрий Ωμέγα");
        assert_eq!(clean("山田 太郎 🙂", cyrillic_and_greek), "?? ?? ?");
        assert_eq!(
            clean("soft\u{AD}hyphen\u{200D}", cyrillic_and_greek),
            "softhyphen"
        );
        assert_eq!(clean("a\u{2011}b", cyrillic_and_greek), "a-b");
        // Cleaned CJK needs no embedded font: `?` is WinAnsi.
        assert_eq!(
            FontMode::for_text(&clean("山田", cyrillic_and_greek)),
            FontMode::Builtin
        );
    }
}
