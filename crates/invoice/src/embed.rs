//! The PDF objects of an embedded font subset: a simple TrueType font whose one-byte
//! codes are those genpdf wrote for a built-in "carrier" font (see `encoding`), its
//! descriptor, the subset font program and the `ToUnicode` map back to the real text.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::encoding::CodeTable;
use crate::truetype::{self, Face, FontError, SubsetMap};

/// One face of one document, embedded in place of the built-in font named `carrier`.
pub(crate) struct EmbeddedFace<'a> {
    /// The `/BaseFont` genpdf wrote (`Helvetica`, `Helvetica-Bold`...).
    pub(crate) carrier: &'static str,
    /// PostScript-style name of the real font, without spaces.
    pub(crate) name: &'a str,
    pub(crate) face: &'a Face<'static>,
    pub(crate) codes: &'a CodeTable,
    pub(crate) bold: bool,
}

/// What replaces a carrier font: the font dictionary's new body (its object id stays),
/// and the new objects it refers to, to be numbered from `first_new_id`.
pub(crate) struct FontObjects {
    pub(crate) carrier_body: Vec<u8>,
    /// (dictionary, stream content to deflate): the descriptor has no stream.
    pub(crate) new_objects: Vec<NewObject>,
}

pub(crate) enum NewObject {
    Dictionary(String),
    /// A stream with extra dictionary entries (`/Length1 ...`), deflated when written.
    Stream {
        extra: String,
        content: Vec<u8>,
    },
}

/// The body of the built-in font dictionary lopdf writes for `carrier`.
pub(crate) fn carrier_body(carrier: &str) -> Vec<u8> {
    format!("<</Type/Font/Subtype/Type1/BaseFont/{carrier}/Encoding/WinAnsiEncoding>>endobj\n")
        .into_bytes()
}

/// Six capital letters naming a subset (PDF 9.6.4), derived from its bytes so the same
/// document always gets the same tag.
fn subset_tag(program: &[u8]) -> String {
    // FNV-1a: only has to spread different subsets over different tags.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &byte in program {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    (0..6)
        .map(|_| {
            let letter = b'A' + (hash % 26) as u8;
            hash /= 26;
            char::from(letter)
        })
        .collect()
}

fn per_mille(value: i16, upem: u16) -> i64 {
    let upem = i64::from(upem);
    let value = i64::from(value) * 1000;
    if value >= 0 {
        (value + upem / 2) / upem
    } else {
        (value - upem / 2) / upem
    }
}

/// The objects for one face; `first_new_id` is the id the first new object will get.
pub(crate) fn font_objects(
    embedded: &EmbeddedFace<'_>,
    first_new_id: usize,
) -> Result<FontObjects, FontError> {
    let face = embedded.face;
    let glyphs: BTreeMap<u8, u16> = embedded
        .codes
        .entries()
        .map(|(c, code)| (code, face.glyph_id(c)))
        .collect();
    let program = truetype::subset(face, &glyphs, SubsetMap::Symbolic)?;
    let name = format!("{}+{}", subset_tag(&program), embedded.name);
    let upem = face.units_per_em();

    let first = glyphs.keys().next().copied().unwrap_or(b' ');
    let last = glyphs.keys().last().copied().unwrap_or(b' ');
    let mut widths = String::new();
    for code in first..=last {
        let width = glyphs
            .get(&code)
            .map_or(0, |&gid| face.advance_per_mille(gid));
        if !widths.is_empty() {
            widths.push(' ');
        }
        let _ = write!(widths, "{width}");
    }
    let descriptor_id = first_new_id;
    let program_id = first_new_id + 1;
    let unicode_id = first_new_id + 2;
    let carrier_body = format!(
        "<</Type/Font/Subtype/TrueType/BaseFont/{name}/FirstChar {first}/LastChar {last}\
         /Widths[{widths}]/FontDescriptor {descriptor_id} 0 R/ToUnicode {unicode_id} 0 R>>endobj\n"
    )
    .into_bytes();

    let (ascent, descent) = face.vertical_metrics();
    let [x_min, y_min, x_max, y_max] = face.bounding_box().map(|v| per_mille(v, upem));
    // Only used by viewers that synthesise a missing font; the subset is never missing.
    let cap_height = per_mille(ascent, upem) * 7 / 10;
    let stem = if embedded.bold { 140 } else { 80 };
    let descriptor = format!(
        "<</Type/FontDescriptor/FontName/{name}/Flags 4/FontBBox[{x_min} {y_min} {x_max} {y_max}]\
         /ItalicAngle 0/Ascent {}/Descent {}/CapHeight {cap_height}/StemV {stem}\
         /FontFile2 {program_id} 0 R>>",
        per_mille(ascent, upem),
        per_mille(descent, upem),
    );
    let length1 = program.len();
    Ok(FontObjects {
        carrier_body,
        new_objects: vec![
            NewObject::Dictionary(descriptor),
            NewObject::Stream {
                extra: format!("/Length1 {length1}"),
                content: program,
            },
            NewObject::Stream {
                extra: String::new(),
                content: to_unicode(embedded.codes).into_bytes(),
            },
        ],
    })
}

/// A `ToUnicode` CMap from each one-byte code to its character (UTF-16BE).
fn to_unicode(codes: &CodeTable) -> String {
    let mut cmap = String::from(
        "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n\
         /CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n\
         /CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n\
         1 begincodespacerange\n<00> <FF>\nendcodespacerange\n",
    );
    let entries: Vec<(char, u8)> = codes.entries().collect();
    // At most 100 entries per block (PDF 9.10.3 via the CMap specification).
    for block in entries.chunks(100) {
        let _ = writeln!(cmap, "{} beginbfchar", block.len());
        for &(c, code) in block {
            let mut units = [0_u16; 2];
            let hex: String = c
                .encode_utf16(&mut units)
                .iter()
                .map(|unit| format!("{unit:04X}"))
                .collect();
            let _ = writeln!(cmap, "<{code:02X}> <{hex}>");
        }
        cmap.push_str("endbfchar\n");
    }
    cmap.push_str("endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n");
    cmap
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn to_unicode_lists_every_code() {
        let (codes, _) = CodeTable::assign("AД\u{1D400}".chars());
        let cmap = to_unicode(&codes);
        assert!(cmap.contains("<41> <0041>"));
        let d = codes.code('Д').unwrap();
        assert!(cmap.contains(&format!("<{d:02X}> <0414>")));
        // Outside the BMP: a surrogate pair.
        assert!(cmap.contains("<D835DC00>"));
    }

    #[test]
    fn subset_tags_are_stable_capitals() {
        let tag = subset_tag(b"font");
        assert_eq!(tag, subset_tag(b"font"));
        assert_ne!(tag, subset_tag(b"other font"));
        assert!(tag.len() == 6 && tag.chars().all(|c| c.is_ascii_uppercase()));
    }
}
