//! Finishes the PDF printpdf wrote: deflates the streams it leaves uncompressed, swaps
//! built-in carrier fonts for embedded subsets (see `encoding` and `embed`), and makes
//! the file deterministic (creation date from the document, document id from its
//! content instead of printpdf's clock and random id).
//!
//! printpdf 0.3 writes page content raw (6 bytes per character drawn, ~12 KB for a typical
//! invoice) and images raw in debug builds. Re-reading the PDF with lopdf to change it
//! costs ~1 ms per invoice (its parser walks stream bytes one at a time), so the file
//! lopdf 0.26 wrote (via printpdf) is rewritten directly. That output is regular: a
//! header line, then `ID GEN obj ... endobj` objects at the offsets a classic xref table
//! lists, then the trailer, `startxref` and `%%EOF`. Every assumption is checked; if
//! one fails, rendering fails (a stored invoice must be reproducible, so there is no
//! "valid but different" fallback).

use crate::embed::NewObject;

/// What to change besides deflating.
#[derive(Default)]
pub(crate) struct Edits {
    /// (current body, new body) of objects to replace; each must be found.
    pub(crate) replace: Vec<(Vec<u8>, Vec<u8>)>,
    /// Objects to add, numbered from the current object count on.
    pub(crate) append: Vec<NewObject>,
    /// The PDF date (`D:20261121100000+00'00'`) written as creation and modification
    /// date.
    pub(crate) date: Option<String>,
}

/// The number of object ids the xref table of `pdf` covers (new objects get ids from
/// here on), if the file looks as lopdf writes it.
pub(crate) fn object_count(pdf: &[u8]) -> Option<usize> {
    let startxref = rfind(pdf, b"\nstartxref\n")?;
    let xref_at = parse_usize(&pdf[startxref + b"\nstartxref\n".len()..])?.0;
    let table = pdf.get(xref_at..startxref)?.strip_prefix(b"xref\n0 ")?;
    Some(parse_usize(table)?.0)
}

/// `pdf` with every stream that has no `/Filter` deflated (when that makes it smaller),
/// `edits` applied and a document id computed from the content. `None` when the file
/// does not look as lopdf writes it.
pub(crate) fn finish(pdf: &[u8], edits: &Edits) -> Option<Vec<u8>> {
    rewrite(pdf, edits)
}

/// `pdf` with its streams deflated and nothing else changed (tests of the deflater).
#[cfg(test)]
fn deflate_streams(pdf: &[u8]) -> Vec<u8> {
    rewrite(pdf, &Edits::default()).unwrap_or_else(|| pdf.to_vec())
}

/// One in-use xref entry: the object id is its index in the table.
struct Entry {
    id: usize,
    offset: usize,
    generation: u16,
}

const XREF_ENTRY_LEN: usize = 20;

fn rewrite(pdf: &[u8], edits: &Edits) -> Option<Vec<u8>> {
    let startxref = rfind(pdf, b"\nstartxref\n")?;
    let xref_at = parse_usize(&pdf[startxref + b"\nstartxref\n".len()..])?.0;
    let table = pdf.get(xref_at..startxref)?;
    let table = table.strip_prefix(b"xref\n0 ")?;
    let (count, rest) = parse_usize(table)?;
    let entries_bytes = rest.strip_prefix(b"\n")?;
    let trailer = entries_bytes.get(count.checked_mul(XREF_ENTRY_LEN)?..)?;
    if !trailer.starts_with(b"trailer\n") {
        return None;
    }

    let mut entries = Vec::with_capacity(count);
    for (id, raw) in entries_bytes
        .chunks_exact(XREF_ENTRY_LEN)
        .take(count)
        .enumerate()
    {
        let (offset, after) = parse_usize(raw)?;
        let generation = u16::try_from(parse_usize(after.strip_prefix(b" ")?)?.0).ok()?;
        match raw.get(17..20)? {
            b"n \n" => entries.push(Entry {
                id,
                offset,
                generation,
            }),
            b"f \n" => {}
            _ => return None,
        }
    }
    let mut by_offset: Vec<&Entry> = entries.iter().collect();
    by_offset.sort_by_key(|entry| entry.offset);

    let first = by_offset.first()?.offset;
    let mut out = Vec::with_capacity(pdf.len());
    out.extend_from_slice(pdf.get(..first)?);
    let total = count + edits.append.len();
    let mut new_offsets = vec![0_usize; total];
    let mut replaced = 0;
    for (index, entry) in by_offset.iter().enumerate() {
        let end = by_offset.get(index + 1).map_or(xref_at, |next| next.offset);
        let object = pdf.get(entry.offset..end)?;
        let head = format!("{} {} obj", entry.id, entry.generation);
        let body = object.strip_prefix(head.as_bytes())?;
        *new_offsets.get_mut(entry.id)? = out.len();
        out.extend_from_slice(head.as_bytes());
        if let Some((_, new)) = edits.replace.iter().find(|(old, _)| old == body) {
            out.extend_from_slice(new);
            replaced += 1;
        } else if let (Some(date), true) = (&edits.date, find(body, b"/CreationDate(").is_some()) {
            out.extend_from_slice(&with_dates(body, date)?);
        } else {
            match deflated_stream(body)? {
                Some(rewritten) => out.extend_from_slice(&rewritten),
                None => out.extend_from_slice(body),
            }
        }
    }
    if replaced != edits.replace.len() {
        return None;
    }
    for (index, object) in edits.append.iter().enumerate() {
        let id = count + index;
        *new_offsets.get_mut(id)? = out.len();
        out.extend_from_slice(format!("{id} 0 obj").as_bytes());
        match object {
            NewObject::Dictionary(dict) => {
                out.extend_from_slice(dict.as_bytes());
                out.extend_from_slice(b"endobj\n");
            }
            NewObject::Stream { extra, content } => {
                let (filter, data) = match zlib(content) {
                    Some(deflated) => ("/Filter/FlateDecode", deflated),
                    None => ("", content.clone()),
                };
                out.extend_from_slice(
                    format!("<</Length {}{extra}{filter}>>stream\n", data.len()).as_bytes(),
                );
                out.extend_from_slice(&data);
                out.extend_from_slice(b"\nendstream\nendobj\n");
            }
        }
    }

    let new_xref_at = out.len();
    out.extend_from_slice(format!("xref\n0 {total}\n").as_bytes());
    for (id, raw) in entries_bytes
        .chunks_exact(XREF_ENTRY_LEN)
        .take(count)
        .enumerate()
    {
        match entries.iter().find(|entry| entry.id == id) {
            Some(entry) => out.extend_from_slice(
                format!("{:010} {:05} n \n", new_offsets.get(id)?, entry.generation).as_bytes(),
            ),
            None => out.extend_from_slice(raw),
        }
    }
    for id in count..total {
        out.extend_from_slice(format!("{:010} 00000 n \n", new_offsets.get(id)?).as_bytes());
    }
    let trailer = with_size(trailer, count, total)?;
    let trailer = match find(&trailer, b"/ID[") {
        Some(_) => with_id(&trailer, &document_id(&out))?,
        None => trailer,
    };
    out.extend_from_slice(&trailer);
    out.extend_from_slice(format!("\nstartxref\n{new_xref_at}\n%%EOF").as_bytes());
    Some(out)
}

/// The trailer with `/Size` raised from `old` to `new`.
fn with_size(trailer: &[u8], old: usize, new: usize) -> Option<Vec<u8>> {
    let key = format!("/Size {old}");
    let at = find(trailer, key.as_bytes())?;
    let mut out = trailer[..at].to_vec();
    out.extend_from_slice(format!("/Size {new}").as_bytes());
    out.extend_from_slice(&trailer[at + key.len()..]);
    Some(out)
}

/// The trailer with printpdf's random `/ID` replaced by `id` (twice: a new document's
/// two identifiers are the same).
fn with_id(trailer: &[u8], id: &str) -> Option<Vec<u8>> {
    let start = find(trailer, b"/ID[")? + b"/ID[".len();
    let length = find(&trailer[start..], b"]")?;
    let strings = &trailer[start..start + length];
    if !strings.starts_with(b"(") || !strings.ends_with(b")") {
        return None;
    }
    let mut out = trailer[..start].to_vec();
    out.extend_from_slice(format!("<{id}><{id}>").as_bytes());
    out.extend_from_slice(&trailer[start + length..]);
    Some(out)
}

/// 32 hex digits that depend on every byte of the document's objects.
fn document_id(objects: &[u8]) -> String {
    let fnv = |seed: u64| {
        objects.iter().fold(seed, |hash, &byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
        })
    };
    format!(
        "{:016X}{:016X}",
        fnv(0xcbf2_9ce4_8422_2325),
        fnv(0x6c62_272e_07bb_0142)
    )
}

/// The document-information object with its creation and modification dates set.
fn with_dates(body: &[u8], date: &str) -> Option<Vec<u8>> {
    let mut out = body.to_vec();
    for key in [&b"/CreationDate("[..], b"/ModDate("] {
        let start = find(&out, key)? + key.len();
        let length = find(&out[start..], b")")?;
        out.splice(start..start + length, date.bytes());
    }
    Some(out)
}

/// For the text after `ID GEN obj`: `Some(Some(new text))` for an unfiltered stream that
/// deflates smaller, `Some(None)` to keep the object as it is, `None` if a stream does
/// not look as expected.
fn deflated_stream(body: &[u8]) -> Option<Option<Vec<u8>>> {
    const END: &[u8] = b"endstream endobj\n";
    if !body.starts_with(b"<<") || !body.ends_with(END) {
        return Some(None);
    }
    let dict_end = find(body, b">>stream\n")? + 2;
    let dict = &body[..dict_end];
    let content_start = dict_end + b"stream\n".len();
    let content_end = body.len() - END.len();
    let length_at = find(dict, b"/Length ")? + b"/Length ".len();
    let (length, after_length) = parse_usize(&dict[length_at..])?;
    // `/Length 5 0 R` (an indirect length) is not what lopdf writes here.
    if after_length.first() == Some(&b' ') || content_start.checked_add(length)? != content_end {
        return None;
    }
    if find(dict, b"/Filter").is_some() {
        return Some(None);
    }
    let content = &body[content_start..content_end];
    let Some(deflated) = zlib(content) else {
        return Some(None);
    };

    let length_end = dict.len() - after_length.len();
    let mut rewritten = Vec::with_capacity(dict.len() + deflated.len() + 48);
    rewritten.extend_from_slice(&dict[..length_at]);
    rewritten.extend_from_slice(deflated.len().to_string().as_bytes());
    rewritten.extend_from_slice(&dict[length_end..dict.len() - 2]);
    rewritten.extend_from_slice(b"/Filter/FlateDecode>>stream\n");
    rewritten.extend_from_slice(&deflated);
    rewritten.extend_from_slice(b"\nendstream\nendobj\n");
    Some(Some(rewritten))
}

/// Deflated `content`, or `None` when that would not make it smaller.
fn zlib(content: &[u8]) -> Option<Vec<u8>> {
    // lopdf's own compressor (zlib, as FlateDecode wants); it leaves the stream as it
    // was when deflating does not pay.
    let mut stream = lopdf::Stream::new(lopdf::Dictionary::new(), content.to_vec());
    stream.compress().ok()?;
    stream.dict.get(b"Filter").ok()?;
    Some(stream.content)
}

/// Leading ASCII digits as a number, and the rest.
fn parse_usize(bytes: &[u8]) -> Option<(usize, &[u8])> {
    let digits = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
    let number = std::str::from_utf8(bytes.get(..digits)?)
        .ok()?
        .parse()
        .ok()?;
    Some((number, &bytes[digits..]))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

fn rfind(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .rposition(|window| window == needle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use lopdf::{dictionary, Document, Object, Stream};

    /// A PDF as lopdf writes it: a page content stream, a font-like stream with a
    /// `/Length1`, an already filtered stream, an incompressible one and plain objects.
    fn sample() -> (Vec<u8>, Vec<u8>) {
        let mut doc = Document::with_version("1.3");
        let content = b"BT /F1 12 Tf 72 712 Td [<0041><0042>] TJ ET\n".repeat(50);
        doc.add_object(Stream::new(dictionary! {}, content.clone()));
        let program = b"font program bytes ".repeat(40);
        doc.add_object(Stream::new(
            dictionary! { "Length1" => i64::try_from(program.len()).unwrap() },
            program.clone(),
        ));
        doc.add_object(Stream::new(
            dictionary! { "Filter" => "DCTDecode" },
            b"already compressed".repeat(20),
        ));
        doc.add_object(Stream::new(dictionary! {}, vec![7_u8, 200, 13]));
        doc.add_object(dictionary! { "Type" => "Catalog", "Name" => Object::string_literal("a >>stream\n in a string") });
        doc.trailer.set("Root", Object::Reference((5, 0)));
        let mut pdf = Vec::new();
        doc.save_to(&mut pdf).unwrap();
        (pdf, program)
    }

    #[test]
    fn streams_are_deflated_and_read_back_the_same() {
        let (pdf, _program) = sample();
        let smaller = deflate_streams(&pdf);
        assert!(
            smaller.len() < pdf.len(),
            "{} -> {}",
            pdf.len(),
            smaller.len()
        );

        let before = Document::load_mem(&pdf).unwrap();
        let after = Document::load_mem(&smaller).unwrap();
        assert_eq!(before.objects.len(), after.objects.len());
        for (id, original) in &before.objects {
            let rewritten = after.objects.get(id).unwrap();
            match (original, rewritten) {
                (Object::Stream(a), Object::Stream(b)) => {
                    let b_content = if b.dict.get(b"Filter").and_then(Object::as_name_str).ok()
                        == Some("FlateDecode")
                        && a.dict.get(b"Filter").is_err()
                    {
                        b.decompressed_content().unwrap()
                    } else {
                        b.content.clone()
                    };
                    assert_eq!(a.content, b_content, "stream {id:?}");
                    let length1 = |s: &Stream| s.dict.get(b"Length1").and_then(Object::as_i64).ok();
                    assert_eq!(length1(a), length1(b));
                }
                (a, b) => assert_eq!(format!("{a:?}"), format!("{b:?}")),
            }
        }
        // Deterministic: the same input gives the same bytes (the cache included).
        assert_eq!(deflate_streams(&pdf), smaller);
    }

    #[test]
    fn anything_unexpected_is_returned_unchanged() {
        let (pdf, _) = sample();
        let cut = &pdf[..pdf.len() - 30];
        assert_eq!(deflate_streams(cut), cut);
        assert_eq!(deflate_streams(b"not a pdf"), b"not a pdf");
        let mut wrong_offset = pdf.clone();
        let at = find(&wrong_offset, b"0000000009 00000 n").unwrap();
        wrong_offset[at + 9] = b'8';
        assert_eq!(deflate_streams(&wrong_offset), wrong_offset);
    }
}
