//! Just enough TrueType to subset a font for one PDF: read the table directory, glyph
//! outlines (`loca`/`glyf`, composites included) and advances (`hmtx`), and write two
//! kinds of font:
//!
//! - [`with_cmap`]: the whole font with its character map replaced. genpdf measures text
//!   with it (rusttype reads `cmap`, `hmtx` and `kern`), so glyph ids and kerning stay
//!   those of the original.
//! - [`subset`]: only the glyphs one document draws, renumbered from 1, with a symbolic
//!   character map from one-byte codes to them: what a PDF simple TrueType font embeds.
//!
//! Only TrueType outlines (`glyf`) are supported; a CFF-flavoured OpenType font is
//! refused when it is loaded.

use std::collections::BTreeMap;

/// Why a font cannot be used.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FontError {
    #[error("not a TrueType font (a `{0}` table is missing)")]
    MissingTable(&'static str),
    #[error("the font file is damaged: {0}")]
    Damaged(&'static str),
}

type Tag = [u8; 4];

/// A parsed font: a view of the file's tables.
pub(crate) struct Face<'a> {
    tables: BTreeMap<Tag, &'a [u8]>,
    glyph_count: u16,
    long_loca: bool,
    metric_count: u16,
    units_per_em: u16,
}

fn u16_at(bytes: &[u8], at: usize) -> Result<u16, FontError> {
    bytes
        .get(at..at + 2)
        .map(|b| u16::from_be_bytes([b[0], b[1]]))
        .ok_or(FontError::Damaged("a table is too short"))
}

fn i16_at(bytes: &[u8], at: usize) -> Result<i16, FontError> {
    u16_at(bytes, at).map(|v| i16::from_be_bytes(v.to_be_bytes()))
}

fn u32_at(bytes: &[u8], at: usize) -> Result<u32, FontError> {
    bytes
        .get(at..at + 4)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
        .ok_or(FontError::Damaged("a table is too short"))
}

fn usize_at(bytes: &[u8], at: usize) -> Result<usize, FontError> {
    u32_at(bytes, at).map(|v| v as usize)
}

impl<'a> Face<'a> {
    pub(crate) fn parse(data: &'a [u8]) -> Result<Face<'a>, FontError> {
        let version = u32_at(data, 0)?;
        if version != 0x0001_0000 && version != u32::from_be_bytes(*b"true") {
            return Err(FontError::MissingTable("glyf"));
        }
        let count = usize::from(u16_at(data, 4)?);
        let mut tables = BTreeMap::new();
        for index in 0..count {
            let record = 12 + 16 * index;
            let tag: Tag = data
                .get(record..record + 4)
                .and_then(|t| t.try_into().ok())
                .ok_or(FontError::Damaged("table directory"))?;
            let offset = usize_at(data, record + 8)?;
            let length = usize_at(data, record + 12)?;
            let table = data
                .get(offset..offset.saturating_add(length))
                .ok_or(FontError::Damaged("a table lies outside the file"))?;
            tables.insert(tag, table);
        }
        for (tag, name) in [
            (*b"head", "head"),
            (*b"hhea", "hhea"),
            (*b"maxp", "maxp"),
            (*b"hmtx", "hmtx"),
            (*b"loca", "loca"),
            (*b"glyf", "glyf"),
            (*b"cmap", "cmap"),
        ] {
            if !tables.contains_key(&tag) {
                return Err(FontError::MissingTable(name));
            }
        }
        let head = tables[b"head"];
        let units_per_em = u16_at(head, 18)?;
        if units_per_em == 0 {
            return Err(FontError::Damaged("units per em is 0"));
        }
        let long_loca = i16_at(head, 50)? == 1;
        let glyph_count = u16_at(tables[b"maxp"], 4)?;
        let metric_count = u16_at(tables[b"hhea"], 34)?;
        if metric_count == 0 || metric_count > glyph_count {
            return Err(FontError::Damaged("horizontal metrics count"));
        }
        let face = Face {
            tables,
            glyph_count,
            long_loca,
            metric_count,
            units_per_em,
        };
        // Every glyph must be reachable: checked once here, relied on below.
        for gid in 0..glyph_count {
            face.glyph(gid)?;
        }
        Ok(face)
    }

    fn table(&self, tag: &Tag) -> &'a [u8] {
        self.tables.get(tag).copied().unwrap_or_default()
    }

    pub(crate) fn units_per_em(&self) -> u16 {
        self.units_per_em
    }

    /// Ascender and descender (`hhea`), in font units.
    pub(crate) fn vertical_metrics(&self) -> (i16, i16) {
        let hhea = self.table(b"hhea");
        (
            i16_at(hhea, 4).unwrap_or_default(),
            i16_at(hhea, 6).unwrap_or_default(),
        )
    }

    /// The font's bounding box (`head`), in font units.
    pub(crate) fn bounding_box(&self) -> [i16; 4] {
        let head = self.table(b"head");
        [36, 38, 40, 42].map(|at| i16_at(head, at).unwrap_or_default())
    }

    /// The outline bytes of `gid` (empty for a blank glyph such as the space).
    fn glyph(&self, gid: u16) -> Result<&'a [u8], FontError> {
        let loca = self.table(b"loca");
        let index = usize::from(gid);
        let (start, end) = if self.long_loca {
            (usize_at(loca, index * 4)?, usize_at(loca, index * 4 + 4)?)
        } else {
            (
                usize::from(u16_at(loca, index * 2)?) * 2,
                usize::from(u16_at(loca, index * 2 + 2)?) * 2,
            )
        };
        self.table(b"glyf")
            .get(start..end)
            .ok_or(FontError::Damaged("glyph location"))
    }

    /// Advance width and left side bearing of `gid`.
    fn horizontal_metrics(&self, gid: u16) -> (u16, i16) {
        let hmtx = self.table(b"hmtx");
        let last = self.metric_count - 1;
        let advance = u16_at(hmtx, usize::from(gid.min(last)) * 4).unwrap_or_default();
        let bearing = if gid < self.metric_count {
            i16_at(hmtx, usize::from(gid) * 4 + 2)
        } else {
            i16_at(
                hmtx,
                usize::from(self.metric_count) * 4 + usize::from(gid - self.metric_count) * 2,
            )
        };
        (advance, bearing.unwrap_or_default())
    }

    /// Advance width of `gid` in thousandths of an em, as a PDF `/Widths` entry.
    pub(crate) fn advance_per_mille(&self, gid: u16) -> i64 {
        let (advance, _) = self.horizontal_metrics(gid);
        let upem = i64::from(self.units_per_em);
        (i64::from(advance) * 1000 + upem / 2) / upem
    }

    /// The glyph of `c` in the font's Unicode character map (0 when it has none).
    pub(crate) fn glyph_id(&self, c: char) -> u16 {
        cmap_lookup(self.table(b"cmap"), u32::from(c)).unwrap_or(0)
    }
}

/// The glyph of `code` in the best Unicode subtable of `cmap` (format 4 or 12).
fn cmap_lookup(cmap: &[u8], code: u32) -> Option<u16> {
    let count = usize::from(u16_at(cmap, 2).ok()?);
    let mut format4 = None;
    let mut format12 = None;
    for index in 0..count {
        let record = 4 + index * 8;
        let platform = u16_at(cmap, record).ok()?;
        let encoding = u16_at(cmap, record + 2).ok()?;
        let offset = usize_at(cmap, record + 4).ok()?;
        let subtable = cmap.get(offset..)?;
        let unicode = platform == 0 || (platform == 3 && (encoding == 1 || encoding == 10));
        if !unicode {
            continue;
        }
        match u16_at(subtable, 0).ok()? {
            4 => format4 = Some(subtable),
            12 => format12 = Some(subtable),
            _ => {}
        }
    }
    if let Some(table) = format12 {
        let groups = usize_at(table, 12).ok()?;
        for group in 0..groups {
            let at = 16 + group * 12;
            let start = u32_at(table, at).ok()?;
            let end = u32_at(table, at + 4).ok()?;
            if (start..=end).contains(&code) {
                let first = u32_at(table, at + 8).ok()?;
                return u16::try_from(first + (code - start)).ok();
            }
        }
        return None;
    }
    let table = format4?;
    let code = u16::try_from(code).ok()?;
    let segments = usize::from(u16_at(table, 6).ok()? / 2);
    let ends = 14;
    let starts = ends + segments * 2 + 2;
    let deltas = starts + segments * 2;
    let range_offsets = deltas + segments * 2;
    for segment in 0..segments {
        if u16_at(table, ends + segment * 2).ok()? < code {
            continue;
        }
        let start = u16_at(table, starts + segment * 2).ok()?;
        if start > code {
            return None;
        }
        let delta = u16_at(table, deltas + segment * 2).ok()?;
        let range_at = range_offsets + segment * 2;
        let range_offset = usize::from(u16_at(table, range_at).ok()?);
        if range_offset == 0 {
            return Some(code.wrapping_add(delta));
        }
        let at = range_at + range_offset + usize::from(code - start) * 2;
        let gid = u16_at(table, at).ok()?;
        return (gid != 0).then(|| gid.wrapping_add(delta));
    }
    None
}

/// A font file written from tables; the directory is sorted by tag and every table is
/// padded to four bytes, with checksums, as the format asks.
fn write_font(tables: &BTreeMap<Tag, Vec<u8>>) -> Vec<u8> {
    let count = u16::try_from(tables.len()).unwrap_or(u16::MAX);
    let mut power = 1_u16;
    let mut selector = 0_u16;
    while power * 2 <= count {
        power *= 2;
        selector += 1;
    }
    let search_range = power * 16;
    let mut out = Vec::new();
    out.extend_from_slice(&0x0001_0000_u32.to_be_bytes());
    out.extend_from_slice(&count.to_be_bytes());
    out.extend_from_slice(&search_range.to_be_bytes());
    out.extend_from_slice(&selector.to_be_bytes());
    out.extend_from_slice(&(count * 16 - search_range).to_be_bytes());
    let mut offset = 12 + tables.len() * 16;
    for (tag, table) in tables {
        out.extend_from_slice(tag);
        out.extend_from_slice(&checksum(table).to_be_bytes());
        out.extend_from_slice(&(offset as u32).to_be_bytes());
        out.extend_from_slice(&(table.len() as u32).to_be_bytes());
        offset += table.len().next_multiple_of(4);
    }
    for table in tables.values() {
        out.extend_from_slice(table);
        out.resize(out.len().next_multiple_of(4), 0);
    }
    out
}

fn checksum(table: &[u8]) -> u32 {
    table.chunks(4).fold(0_u32, |sum, chunk| {
        let mut word = [0_u8; 4];
        word[..chunk.len()].copy_from_slice(chunk);
        sum.wrapping_add(u32::from_be_bytes(word))
    })
}

fn push_u16(out: &mut Vec<u8>, value: u16) {
    out.extend_from_slice(&value.to_be_bytes());
}

/// A format 4 subtable mapping each code to its glyph, one segment per code (the maps
/// written here hold a few hundred codes at most), plus the closing 0xFFFF segment.
fn format4(map: &BTreeMap<u16, u16>) -> Vec<u8> {
    let mut segments: Vec<(u16, u16)> = map
        .iter()
        .filter(|(&code, _)| code != 0xFFFF)
        .map(|(&code, &gid)| (code, gid))
        .collect();
    segments.push((0xFFFF, 0));
    let count = u16::try_from(segments.len()).unwrap_or(u16::MAX);
    let mut power = 1_u16;
    let mut selector = 0_u16;
    while power * 2 <= count {
        power *= 2;
        selector += 1;
    }
    let mut out = Vec::with_capacity(16 + segments.len() * 8);
    push_u16(&mut out, 4);
    push_u16(&mut out, 16 + count * 8);
    push_u16(&mut out, 0);
    push_u16(&mut out, count * 2);
    push_u16(&mut out, power * 2);
    push_u16(&mut out, selector);
    push_u16(&mut out, count * 2 - power * 2);
    for &(code, _) in &segments {
        push_u16(&mut out, code);
    }
    push_u16(&mut out, 0);
    for &(code, _) in &segments {
        push_u16(&mut out, code);
    }
    for &(code, gid) in &segments {
        // glyph = code + delta (mod 65536); the closing segment maps to glyph 0 too.
        let delta = if code == 0xFFFF {
            1
        } else {
            gid.wrapping_sub(code)
        };
        push_u16(&mut out, delta);
    }
    for _ in &segments {
        push_u16(&mut out, 0);
    }
    out
}

/// A `cmap` table with the given subtables: (platform, encoding, subtable).
fn cmap_table(subtables: &[(u16, u16, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    push_u16(&mut out, 0);
    push_u16(&mut out, u16::try_from(subtables.len()).unwrap_or(u16::MAX));
    let mut offset = 4 + subtables.len() * 8;
    for (platform, encoding, subtable) in subtables {
        push_u16(&mut out, *platform);
        push_u16(&mut out, *encoding);
        out.extend_from_slice(&(offset as u32).to_be_bytes());
        offset += subtable.len();
    }
    for (_, _, subtable) in subtables {
        out.extend_from_slice(subtable);
    }
    out
}

/// A Unicode `cmap` table mapping `map`'s characters (BMP only) to glyph ids.
fn unicode_cmap(map: &BTreeMap<char, u16>) -> Vec<u8> {
    let codes: BTreeMap<u16, u16> = map
        .iter()
        .filter_map(|(&c, &gid)| u16::try_from(u32::from(c)).ok().map(|code| (code, gid)))
        .collect();
    cmap_table(&[(3, 1, format4(&codes))])
}

/// The whole font with a Unicode character map that maps only `map`'s characters (to
/// the original glyph ids). Metrics, outlines and kerning are unchanged.
#[cfg(test)]
pub(crate) fn with_cmap(face: &Face<'_>, map: &BTreeMap<char, u16>) -> Vec<u8> {
    let mut tables: BTreeMap<Tag, Vec<u8>> = face
        .tables
        .iter()
        .map(|(tag, table)| (*tag, table.to_vec()))
        .collect();
    tables.insert(*b"cmap", unicode_cmap(map));
    write_font(&tables)
}

/// What genpdf measures text with, without outlines: the font's metrics and kerning
/// tables, every glyph empty (`loca` all zero). Built once per font; each document adds
/// its character map ([`MeasuringSkeleton::with_cmap`]), a few dozen KB instead of a
/// copy of the whole font.
pub(crate) struct MeasuringSkeleton {
    tables: BTreeMap<Tag, Vec<u8>>,
}

impl MeasuringSkeleton {
    pub(crate) fn new(face: &Face<'_>) -> Result<MeasuringSkeleton, FontError> {
        let mut tables = BTreeMap::new();
        for tag in [b"hhea", b"maxp", b"hmtx", b"kern", b"OS/2"] {
            if let Some(table) = face.tables.get(tag) {
                tables.insert(*tag, table.to_vec());
            }
        }
        let mut head = face.table(b"head").to_vec();
        head.get_mut(50..52)
            .ok_or(FontError::Damaged("head"))?
            .copy_from_slice(&0_i16.to_be_bytes());
        tables.insert(*b"head", head);
        tables.insert(*b"loca", vec![0; (usize::from(face.glyph_count) + 1) * 2]);
        tables.insert(*b"glyf", vec![0; 4]);
        Ok(MeasuringSkeleton { tables })
    }

    /// The measuring font with `map` (character -> original glyph id) as its `cmap`.
    pub(crate) fn with_cmap(&self, map: &BTreeMap<char, u16>) -> Vec<u8> {
        let mut tables = self.tables.clone();
        tables.insert(*b"cmap", unicode_cmap(map));
        write_font(&tables)
    }
}

/// Flags and fields of a composite glyph's component records.
const ARG_1_AND_2_ARE_WORDS: u16 = 0x0001;
const WE_HAVE_A_SCALE: u16 = 0x0008;
const MORE_COMPONENTS: u16 = 0x0020;
const WE_HAVE_AN_X_AND_Y_SCALE: u16 = 0x0040;
const WE_HAVE_A_TWO_BY_TWO: u16 = 0x0080;

/// Byte offsets of the glyph ids inside a composite glyph's records, or none for a
/// simple glyph.
fn component_offsets(glyph: &[u8]) -> Result<Vec<usize>, FontError> {
    if glyph.is_empty() || i16_at(glyph, 0)? >= 0 {
        return Ok(Vec::new());
    }
    let mut offsets = Vec::new();
    let mut at = 10;
    loop {
        let flags = u16_at(glyph, at)?;
        offsets.push(at + 2);
        at += 4 + if flags & ARG_1_AND_2_ARE_WORDS != 0 {
            4
        } else {
            2
        };
        at += if flags & WE_HAVE_A_SCALE != 0 {
            2
        } else if flags & WE_HAVE_AN_X_AND_Y_SCALE != 0 {
            4
        } else if flags & WE_HAVE_A_TWO_BY_TWO != 0 {
            8
        } else {
            0
        };
        if flags & MORE_COMPONENTS == 0 {
            return Ok(offsets);
        }
    }
}

/// How a subset's character map reaches its glyphs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SubsetMap {
    /// For a PDF simple font: each code through a (3,0) symbolic subtable (at
    /// 0xF000 + code) and a (1,0) one (the code itself).
    Symbolic,
    /// For measuring: the Unicode character genpdf encodes as each code (its carrier).
    Carriers,
}

/// The subset of `face` that draws `glyphs` (code -> original glyph id): glyph ids are
/// renumbered (0 stays `.notdef`) and only the tables a PDF viewer reads are kept
/// (outlines, metrics, hinting, `post`).
pub(crate) fn subset(
    face: &Face<'_>,
    glyphs: &BTreeMap<u8, u16>,
    map: SubsetMap,
) -> Result<Vec<u8>, FontError> {
    // Old glyph id -> new, in first-use order: .notdef, the codes' glyphs, components.
    let mut order: Vec<u16> = vec![0];
    let mut new_ids: BTreeMap<u16, u16> = BTreeMap::from([(0, 0)]);
    let mut add = |gid: u16, order: &mut Vec<u16>| -> u16 {
        *new_ids.entry(gid).or_insert_with(|| {
            order.push(gid);
            u16::try_from(order.len() - 1).unwrap_or(u16::MAX)
        })
    };
    let mut code_map = BTreeMap::new();
    for (&code, &gid) in glyphs {
        if gid >= face.glyph_count {
            return Err(FontError::Damaged("glyph id out of range"));
        }
        code_map.insert(code, add(gid, &mut order));
    }
    let mut next = 0;
    while next < order.len() {
        let glyph = face.glyph(order[next])?;
        for at in component_offsets(glyph)? {
            let component = u16_at(glyph, at)?;
            if component >= face.glyph_count {
                return Err(FontError::Damaged("component glyph id out of range"));
            }
            add(component, &mut order);
        }
        next += 1;
    }

    let mut glyf = Vec::new();
    let mut loca = Vec::with_capacity((order.len() + 1) * 4);
    let mut hmtx = Vec::with_capacity(order.len() * 4);
    for &old in &order {
        loca.extend_from_slice(&(glyf.len() as u32).to_be_bytes());
        let glyph = face.glyph(old)?;
        let start = glyf.len();
        glyf.extend_from_slice(glyph);
        for at in component_offsets(glyph)? {
            let component = u16_at(glyph, at)?;
            let renumbered = new_ids.get(&component).copied().unwrap_or(0);
            glyf[start + at..start + at + 2].copy_from_slice(&renumbered.to_be_bytes());
        }
        glyf.resize(glyf.len().next_multiple_of(4), 0);
        let (advance, bearing) = face.horizontal_metrics(old);
        push_u16(&mut hmtx, advance);
        hmtx.extend_from_slice(&bearing.to_be_bytes());
    }
    // printpdf writes every one-byte code as two bytes (`<0041>`), so each character is
    // preceded by code 0: it gets a blank glyph of no width, drawn as nothing.
    let mut glyph_count = order.len();
    if map == SubsetMap::Symbolic {
        loca.extend_from_slice(&(glyf.len() as u32).to_be_bytes());
        hmtx.extend_from_slice(&[0; 4]);
        code_map.insert(0, u16::try_from(glyph_count).unwrap_or(u16::MAX));
        glyph_count += 1;
    }
    loca.extend_from_slice(&(glyf.len() as u32).to_be_bytes());
    let count = u16::try_from(glyph_count).map_err(|_| FontError::Damaged("too many glyphs"))?;

    let mut head = face.table(b"head").to_vec();
    head.get_mut(8..12)
        .ok_or(FontError::Damaged("head"))?
        .fill(0);
    head.get_mut(50..52)
        .ok_or(FontError::Damaged("head"))?
        .copy_from_slice(&1_i16.to_be_bytes());
    let mut hhea = face.table(b"hhea").to_vec();
    hhea.get_mut(34..36)
        .ok_or(FontError::Damaged("hhea"))?
        .copy_from_slice(&count.to_be_bytes());
    let mut maxp = face.table(b"maxp").to_vec();
    maxp.get_mut(4..6)
        .ok_or(FontError::Damaged("maxp"))?
        .copy_from_slice(&count.to_be_bytes());
    // `post` version 3: no glyph names, the rest copied.
    let mut post = face
        .table(b"post")
        .get(..32)
        .map(<[u8]>::to_vec)
        .unwrap_or_else(|| vec![0; 32]);
    post[..4].copy_from_slice(&0x0003_0000_u32.to_be_bytes());

    let mut tables: BTreeMap<Tag, Vec<u8>> = BTreeMap::new();
    tables.insert(
        *b"cmap",
        match map {
            SubsetMap::Symbolic => symbolic_cmap(&code_map),
            SubsetMap::Carriers => {
                let carriers: BTreeMap<u16, u16> = code_map
                    .iter()
                    .filter_map(|(&code, &gid)| {
                        let c = crate::encoding::carrier(code)?;
                        Some((u16::try_from(u32::from(c)).ok()?, gid))
                    })
                    .collect();
                cmap_table(&[(3, 1, format4(&carriers))])
            }
        },
    );
    tables.insert(*b"glyf", glyf);
    tables.insert(*b"head", head);
    tables.insert(*b"hhea", hhea);
    tables.insert(*b"hmtx", hmtx);
    tables.insert(*b"loca", loca);
    tables.insert(*b"maxp", maxp);
    tables.insert(*b"post", post);
    for tag in [b"cvt ", b"fpgm", b"prep"] {
        if let Some(table) = face.tables.get(tag) {
            tables.insert(*tag, table.to_vec());
        }
    }
    Ok(write_font(&tables))
}

/// (1,0) format 6 and (3,0) format 4 subtables from one-byte codes to glyphs.
fn symbolic_cmap(code_map: &BTreeMap<u8, u16>) -> Vec<u8> {
    let symbolic: BTreeMap<u16, u16> = code_map
        .iter()
        .map(|(&code, &gid)| (0xF000 | u16::from(code), gid))
        .collect();
    let mut format6 = Vec::new();
    let first = code_map.keys().next().copied().unwrap_or(0);
    let last = code_map.keys().last().copied().unwrap_or(0);
    let entries = u16::from(last - first) + 1;
    push_u16(&mut format6, 6);
    push_u16(&mut format6, 10 + entries * 2);
    push_u16(&mut format6, 0);
    push_u16(&mut format6, u16::from(first));
    push_u16(&mut format6, entries);
    for code in first..=last {
        push_u16(&mut format6, code_map.get(&code).copied().unwrap_or(0));
    }
    cmap_table(&[(1, 0, format6), (3, 0, format4(&symbolic))])
}

#[cfg(test)]
mod tests {
    use super::*;

    const REGULAR: &[u8] = include_bytes!("../fonts/LiberationSans-Regular.ttf");

    #[test]
    fn lookups_agree_with_rusttype() {
        let face = Face::parse(REGULAR).unwrap();
        let rt = rusttype::Font::from_bytes(REGULAR).unwrap();
        for c in "Aa Zz 09 äß Дж Ωμ שלום € ¿ ﬁ 漢".chars() {
            assert_eq!(u32::from(face.glyph_id(c)), rt.glyph(c).id().0, "{c:?}");
        }
    }

    #[test]
    fn with_cmap_maps_chosen_characters_to_original_glyphs() {
        let face = Face::parse(REGULAR).unwrap();
        let zhe = face.glyph_id('Ж');
        let map = BTreeMap::from([('A', zhe), (' ', face.glyph_id(' '))]);
        let proxy = with_cmap(&face, &map);
        let rt = rusttype::Font::from_bytes(proxy).unwrap();
        assert_eq!(rt.glyph('A').id().0, u32::from(zhe));
        assert_eq!(rt.glyph('B').id().0, 0);
        let original = rusttype::Font::from_bytes(REGULAR).unwrap();
        let scale = rusttype::Scale::uniform(10.0);
        assert_eq!(
            rt.glyph('A').scaled(scale).h_metrics().advance_width,
            original.glyph('Ж').scaled(scale).h_metrics().advance_width
        );
    }

    #[test]
    fn the_measuring_skeleton_measures_like_the_font() {
        let face = Face::parse(REGULAR).unwrap();
        let skeleton = MeasuringSkeleton::new(&face).unwrap();
        let map = BTreeMap::from([('A', face.glyph_id('Ж')), ('V', face.glyph_id('A'))]);
        let small = skeleton.with_cmap(&map);
        assert!(small.len() < 40_000, "{} bytes", small.len());
        let rt = rusttype::Font::from_bytes(small).unwrap();
        let original = rusttype::Font::from_bytes(REGULAR).unwrap();
        let scale = rusttype::Scale::uniform(10.0);
        assert_eq!(
            rt.glyph('A').scaled(scale).h_metrics().advance_width,
            original.glyph('Ж').scaled(scale).h_metrics().advance_width
        );
        // Kerning is the original's: "AV" in the skeleton is "AV" of the font only
        // where the glyphs are the same; here V stands for A, so compare glyph ids.
        let (a, v) = (rt.glyph('A').id(), rt.glyph('V').id());
        assert_eq!(
            rt.pair_kerning(scale, a, v),
            original.pair_kerning(scale, a, v)
        );
        assert_eq!(rt.v_metrics(scale), original.v_metrics(scale));
    }

    #[test]
    fn subset_keeps_only_the_glyphs_drawn() {
        let face = Face::parse(REGULAR).unwrap();
        // Ё is a composite glyph on most fonts (E + diaeresis): components come along.
        let glyphs: BTreeMap<u8, u16> = "AЁж"
            .chars()
            .zip([0x41_u8, 0x80, 0x81])
            .map(|(c, code)| (code, face.glyph_id(c)))
            .collect();
        let small = subset(&face, &glyphs, SubsetMap::Symbolic).unwrap();
        assert!(small.len() < 12_000, "{} bytes", small.len());
        let parsed = Face::parse(&small).unwrap();
        assert!(parsed.glyph_count >= 4);
        assert_eq!(parsed.units_per_em(), face.units_per_em());
        // The symbolic map points each code at a glyph with the original advance.
        for (&code, &old) in &glyphs {
            let new = cmap_symbolic(&parsed, code);
            assert_ne!(new, 0);
            assert_eq!(
                parsed.horizontal_metrics(new).0,
                face.horizontal_metrics(old).0
            );
            assert_eq!(
                parsed.glyph(new).unwrap().len(),
                face.glyph(old).unwrap().len()
            );
        }
    }

    fn cmap_symbolic(face: &Face<'_>, code: u8) -> u16 {
        let cmap = face.table(b"cmap");
        let offset = usize_at(cmap, 4 + 8 + 4).unwrap();
        let table = &cmap[offset..];
        let wrapped = [(3_u16, 0_u16)];
        assert_eq!(
            (u16_at(cmap, 12).unwrap(), u16_at(cmap, 14).unwrap()),
            wrapped[0]
        );
        let mut fake = Vec::new();
        push_u16(&mut fake, 0);
        push_u16(&mut fake, 1);
        push_u16(&mut fake, 3);
        push_u16(&mut fake, 1);
        fake.extend_from_slice(&12_u32.to_be_bytes());
        fake.extend_from_slice(table);
        cmap_lookup(&fake, 0xF000 | u32::from(code)).unwrap_or(0)
    }
}
