//! Deflates the streams printpdf leaves uncompressed.
//!
//! printpdf 0.3 writes page content raw (6 bytes per character drawn, ~12 KB for a typical
//! invoice), embedded fonts raw, and images raw in debug builds. Re-reading the PDF with
//! lopdf to compress it costs ~1 ms per invoice and ~100 ms with embedded fonts (its
//! parser walks stream bytes one at a time), so the file lopdf 0.26 wrote (via printpdf)
//! is rewritten directly. That output is regular: a header line, then `ID GEN obj ...
//! endobj` objects at the offsets a classic xref table lists, then the trailer,
//! `startxref` and `%%EOF`. Every assumption is checked; if one fails the PDF is
//! returned as it was, valid and only bigger.

use std::sync::OnceLock;

/// A stream whose deflated form is computed once per process: the embedded font
/// programs are the same bytes in every document that embeds them.
pub(crate) struct KnownStream {
    raw: &'static [u8],
    deflated: OnceLock<Option<Vec<u8>>>,
}

impl KnownStream {
    pub(crate) const fn new(raw: &'static [u8]) -> KnownStream {
        KnownStream {
            raw,
            deflated: OnceLock::new(),
        }
    }
}

/// `pdf` with every stream that has no `/Filter` deflated (when that makes it smaller).
pub(crate) fn deflate_streams(pdf: &[u8], known: &[KnownStream]) -> Vec<u8> {
    match rewrite(pdf, known) {
        Some(smaller) => smaller,
        None => {
            tracing::debug!("PDF layout not as expected; streams left uncompressed");
            pdf.to_vec()
        }
    }
}

/// One in-use xref entry: the object id is its index in the table.
struct Entry {
    id: usize,
    offset: usize,
    generation: u16,
}

const XREF_ENTRY_LEN: usize = 20;

fn rewrite(pdf: &[u8], known: &[KnownStream]) -> Option<Vec<u8>> {
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
    let mut new_offsets = vec![0_usize; count];
    for (index, entry) in by_offset.iter().enumerate() {
        let end = by_offset.get(index + 1).map_or(xref_at, |next| next.offset);
        let object = pdf.get(entry.offset..end)?;
        let head = format!("{} {} obj", entry.id, entry.generation);
        let body = object.strip_prefix(head.as_bytes())?;
        *new_offsets.get_mut(entry.id)? = out.len();
        out.extend_from_slice(head.as_bytes());
        match deflated_stream(body, known)? {
            Some(rewritten) => out.extend_from_slice(&rewritten),
            None => out.extend_from_slice(body),
        }
    }

    let new_xref_at = out.len();
    out.extend_from_slice(format!("xref\n0 {count}\n").as_bytes());
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
    // Object ids and count are unchanged, so the trailer dictionary is too.
    out.extend_from_slice(trailer);
    out.extend_from_slice(format!("\nstartxref\n{new_xref_at}\n%%EOF").as_bytes());
    Some(out)
}

/// For the text after `ID GEN obj`: `Some(Some(new text))` for an unfiltered stream that
/// deflates smaller, `Some(None)` to keep the object as it is, `None` if a stream does
/// not look as expected.
fn deflated_stream(body: &[u8], known: &[KnownStream]) -> Option<Option<Vec<u8>>> {
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
    let Some(deflated) = deflate(content, known) else {
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
fn deflate(content: &[u8], known: &[KnownStream]) -> Option<Vec<u8>> {
    if let Some(stream) = known.iter().find(|stream| stream.raw == content) {
        return stream.deflated.get_or_init(|| zlib(stream.raw)).clone();
    }
    zlib(content)
}

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
        let (pdf, program) = sample();
        let known = [KnownStream::new(Box::leak(program.into_boxed_slice()))];
        let smaller = deflate_streams(&pdf, &known);
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
        // The known stream was compressed through the cache.
        assert!(known[0].deflated.get().is_some());
        // Deterministic: the same input gives the same bytes (the cache included).
        assert_eq!(deflate_streams(&pdf, &known), smaller);
    }

    #[test]
    fn anything_unexpected_is_returned_unchanged() {
        let (pdf, _) = sample();
        let cut = &pdf[..pdf.len() - 30];
        assert_eq!(deflate_streams(cut, &[]), cut);
        assert_eq!(deflate_streams(b"not a pdf", &[]), b"not a pdf");
        let mut wrong_offset = pdf.clone();
        let at = find(&wrong_offset, b"0000000009 00000 n").unwrap();
        wrong_offset[at + 9] = b'8';
        assert_eq!(deflate_streams(&wrong_offset, &[]), wrong_offset);
    }
}
