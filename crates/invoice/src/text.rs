//! Text preparation: which characters the built-in PDF font can show, cleaning text
//! before layout, and line wrapping that never loses text.

use genpdf::fonts::{Font, FontCache, FontData, FontFamily};
use genpdf::style::Style;
use genpdf::Mm;

use crate::fonts::Source;

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
    /// Subsets of Liberation Sans (and of the extra font) embedded: any text the fonts
    /// cover, tens of KB per file.
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

/// Glyph metrics of Liberation Sans, which are those of Helvetica too, and of the extra
/// font: used for glyph coverage and for wrapping before a genpdf document exists.
pub(crate) struct Metrics {
    cache: FontCache,
    /// The extra font's family in `cache`.
    extra: Option<FontFamily<Font>>,
}

impl Metrics {
    pub(crate) fn new(
        family: FontFamily<FontData>,
        extra: Option<FontFamily<FontData>>,
    ) -> Metrics {
        let mut cache = FontCache::new(family);
        let extra = extra.map(|family| cache.add_font_family(family));
        Metrics { cache, extra }
    }

    /// Which font draws `c`: Liberation Sans when both its faces have a glyph, else the
    /// extra font when it has one.
    pub(crate) fn source_of(&self, c: char) -> Option<Source> {
        let family = self.cache.default_font_family();
        let has = |font| self.cache.get_rt_font(font).glyph(c).id().0 != 0;
        if has(family.regular) && has(family.bold) {
            return Some(Source::Primary);
        }
        self.extra
            .filter(|extra| has(extra.regular))
            .map(|_| Source::Extra)
    }

    pub(crate) fn has_glyph(&self, c: char) -> bool {
        self.source_of(c).is_some()
    }

    /// `text` cut where the font drawing it changes (a character no font has goes with
    /// its neighbours; cleaned text has none).
    pub(crate) fn runs<'t>(&self, text: &'t str) -> Vec<(Source, &'t str)> {
        let mut runs: Vec<(Source, &'t str)> = Vec::new();
        let mut start = 0;
        let mut current: Option<Source> = None;
        for (at, c) in text.char_indices() {
            // Spaces and ASCII punctuation are in every font: they never cut a run.
            let source = if c == ' ' {
                current
            } else {
                self.source_of(c).or(current)
            };
            if let (Some(previous), Some(now)) = (current, source) {
                if previous != now {
                    runs.push((previous, &text[start..at]));
                    start = at;
                }
            }
            current = source.or(current);
        }
        if start < text.len() {
            runs.push((current.unwrap_or(Source::Primary), &text[start..]));
        }
        runs
    }

    /// `style` for text of `source` (the extra font's family for its runs).
    pub(crate) fn style_for(&self, source: Source, style: Style) -> Style {
        match (source, self.extra) {
            (Source::Extra, Some(family)) => style.with_font_family(family),
            _ => style,
        }
    }

    /// The width genpdf computes for `s` (advances plus kerning, run by run).
    pub(crate) fn width(&self, s: &str, style: Style) -> Mm {
        if self.extra.is_none() {
            return style.str_width(&self.cache, s);
        }
        self.runs(s)
            .into_iter()
            .map(|(source, run)| self.style_for(source, style).str_width(&self.cache, run))
            .fold(Mm::default(), |sum, width| sum + width)
    }

    fn char_width(&self, c: char, style: Style) -> Mm {
        let source = self.source_of(c).unwrap_or(Source::Primary);
        self.style_for(source, style).char_width(&self.cache, c)
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
            width += self.char_width(c, style);
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
