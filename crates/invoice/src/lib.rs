//! The genpdf adapter for Tariff's [`InvoiceRenderer`] port: one A4 page with the logo,
//! company, invoice number (or `PROFORMA`), dates, status, seller and buyer blocks, the
//! line table, subtotal, tax, total, payment reference and footer.
//!
//! # Fonts
//!
//! Text that WinAnsi (Windows-1252) can encode is drawn with the PDF built-in
//! Helvetica, which viewers supply themselves, while genpdf measures it with Liberation
//! Sans, a free font with Helvetica's metrics (bundled under `fonts/`, SIL Open Font
//! License): such a PDF embeds no font and is a few KB. When any text needs more
//! (Cyrillic, Greek, Hebrew, Polish...), the document embeds subsets of Liberation Sans
//! holding only the glyphs it draws (see `encoding`, `truetype` and `embed`): tens of
//! KB. A font given with `invoice.font_path` covers what Liberation Sans lacks (CJK...),
//! glyph by glyph, subset the same way. Characters no font has become `?` before
//! layout, so text never makes rendering fail. Right-to-left text is drawn in visual
//! order (`bidi`).
//!
//! Rendering is deterministic: the PDF's dates come from the document's `issued_at` and
//! its id from its content, so the same document always gives the same bytes.
//!
//! Fonts are parsed once, in [`GenpdfInvoiceRenderer::new`]; build one renderer per
//! process and share it (it is a cheap `Clone` around an `Arc`). Logos are decoded once
//! per path and file version and cached.
//!
//! Money is printed only from [`Money::to_fixed_string`](tariff_domain::shared::Money)
//! and the currency code; floats here are page geometry, never amounts.

mod bidi;
mod deflate;
mod embed;
mod encoding;
mod fonts;
mod layout;
mod logo;
mod text;
mod truetype;

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use tariff_domain::orders::{InvoiceDocument, InvoiceRenderer, RenderError};

use crate::deflate::Edits;
use crate::embed::EmbeddedFace;
use crate::fonts::Fonts;
use crate::logo::LogoCache;

/// Renders invoices with genpdf. Cloning shares the parsed fonts and the logo cache.
#[derive(Clone)]
pub struct GenpdfInvoiceRenderer {
    inner: Arc<Inner>,
}

struct Inner {
    fonts: Fonts,
    logos: LogoCache,
}

impl GenpdfInvoiceRenderer {
    /// Parses the bundled fonts. Errors: `RenderError::Internal` if they cannot be parsed
    /// (a build problem, not a runtime one).
    pub fn new() -> Result<Self, RenderError> {
        Self::with_extra_font(None)
    }

    /// The same, plus the TrueType font at `extra_font` (`invoice.font_path`) for the
    /// characters Liberation Sans lacks. Errors: `RenderError::Internal` naming the file
    /// when it cannot be read or is not a TrueType (`glyf`) font.
    pub fn with_extra_font(extra_font: Option<&Path>) -> Result<Self, RenderError> {
        let fonts = Fonts::load(extra_font)
            .map_err(|err| RenderError::Internal(format!("fonts unusable: {err}")))?;
        Ok(GenpdfInvoiceRenderer {
            inner: Arc::new(Inner {
                fonts,
                logos: LogoCache::default(),
            }),
        })
    }

    /// The same as [`InvoiceRenderer::render`], on the calling thread: for callers that
    /// are not async (a CLI, benchmarks). It blocks for the whole render (milliseconds).
    pub fn render_blocking(&self, document: &InvoiceDocument) -> Result<Vec<u8>, RenderError> {
        self.inner.render(document)
    }
}

impl Inner {
    fn render(&self, document: &InvoiceDocument) -> Result<Vec<u8>, RenderError> {
        let built = layout::build(&self.fonts, &self.logos, document)
            .map_err(|err| layout::render_error(&err))?;
        let mut bytes = Vec::with_capacity(16 * 1024);
        built
            .pdf
            .render(&mut bytes)
            .map_err(|err| layout::render_error(&err))?;
        let unexpected = || RenderError::Internal("PDF not laid out as lopdf writes it".into());
        let count = deflate::object_count(&bytes).ok_or_else(unexpected)?;
        let mut edits = Edits {
            date: Some(
                document
                    .issued_at
                    .format("D:%Y%m%d%H%M%S+00'00'")
                    .to_string(),
            ),
            ..Edits::default()
        };
        for (slot, codes) in built.codes.iter().flatten() {
            let Some(loaded) = self.fonts.loaded(*slot) else {
                continue;
            };
            let face = EmbeddedFace {
                carrier: slot.carrier_name(),
                name: &loaded.name,
                face: &loaded.face,
                codes,
                bold: slot.is_bold(),
            };
            let objects = embed::font_objects(&face, count + edits.append.len())
                .map_err(|err| RenderError::Internal(format!("font subset failed: {err}")))?;
            edits
                .replace
                .push((embed::carrier_body(face.carrier), objects.carrier_body));
            edits.append.extend(objects.new_objects);
        }
        deflate::finish(&bytes, &edits).ok_or_else(unexpected)
    }
}

#[async_trait]
impl InvoiceRenderer for GenpdfInvoiceRenderer {
    async fn render(&self, document: &InvoiceDocument) -> Result<Vec<u8>, RenderError> {
        // Layout and compression are CPU work: keep them off the async workers.
        let inner = Arc::clone(&self.inner);
        let document = document.clone();
        tokio::task::spawn_blocking(move || inner.render(&document))
            .await
            .map_err(|err| RenderError::Internal(format!("invoice render task failed: {err}")))?
    }
}

impl fmt::Debug for GenpdfInvoiceRenderer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GenpdfInvoiceRenderer")
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::truetype::Face;
    use std::collections::BTreeMap;
    use std::process::Command;

    /// A stand-in for a CJK font (real ones are megabytes): Liberation Sans whose
    /// character map draws 山 and 田 with the glyphs of Ш and Ф.
    fn fake_cjk_font(dir: &Path) -> std::path::PathBuf {
        const REGULAR: &[u8] = include_bytes!("../fonts/LiberationSans-Regular.ttf");
        let face = Face::parse(REGULAR).unwrap();
        let map = BTreeMap::from([
            ('山', face.glyph_id('Ш')),
            ('田', face.glyph_id('Ф')),
            (' ', face.glyph_id(' ')),
        ]);
        let path = dir.join("fake-cjk.ttf");
        std::fs::write(&path, truetype::with_cmap(&face, &map)).unwrap();
        path
    }

    fn document(buyer: &str) -> InvoiceDocument {
        use chrono::{NaiveDate, TimeZone, Utc};
        use tariff_domain::orders::{InvoiceKind, InvoiceLine, Party};
        use tariff_domain::shared::{Currency, Money, TaxRate};
        let usd = |minor| Money::from_minor(minor, Currency::USD);
        let day = NaiveDate::from_ymd_opt(2026, 11, 21).unwrap();
        InvoiceDocument {
            kind: InvoiceKind::Invoice {
                number: "INV-2026-000009".into(),
            },
            order_id: tariff_domain::OrderId::new(9).unwrap(),
            status: "active".into(),
            issued_at: Utc.with_ymd_and_hms(2026, 11, 21, 9, 0, 0).unwrap(),
            issue_date: day,
            due_date: day,
            service_period: None,
            company_name: "Northwind".into(),
            seller: Party {
                name: "Northwind".into(),
                lines: vec![],
            },
            buyer: Party {
                name: buyer.into(),
                lines: vec![],
            },
            lines: vec![InvoiceLine {
                description: "Pro".into(),
                quantity: 1,
                unit_price: usd(999),
                amount: usd(999),
            }],
            subtotal: usd(999),
            tax_rate: TaxRate::from_basis_points(0).unwrap(),
            tax: usd(0),
            total: usd(999),
            account_credit: None,
            payment_reference: None,
            footer: None,
            logo_path: None,
        }
    }

    fn pdftotext(pdf: &[u8]) -> Option<String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("invoice.pdf");
        std::fs::write(&path, pdf).unwrap();
        match Command::new("pdftotext").arg(&path).arg("-").output() {
            Ok(out) if out.status.success() => Some(String::from_utf8(out.stdout).unwrap()),
            _ => {
                eprintln!("SKIPPING text checks: pdftotext (poppler-utils) is not installed");
                None
            }
        }
    }

    fn embedded_fonts(pdf: &[u8]) -> usize {
        pdf.windows(b"/FontFile2".len())
            .filter(|w| *w == b"/FontFile2")
            .count()
    }

    #[test]
    fn the_extra_font_draws_what_liberation_sans_lacks() {
        let dir = tempfile::tempdir().unwrap();
        let font = fake_cjk_font(dir.path());
        let with_font = GenpdfInvoiceRenderer::with_extra_font(Some(&font)).unwrap();
        let without = GenpdfInvoiceRenderer::new().unwrap();
        let doc = document("山田 Taro Дмитрий");

        let pdf = with_font.render_blocking(&doc).unwrap();
        // Liberation regular and bold, and the extra font for the bold buyer name.
        assert_eq!(embedded_fonts(&pdf), 3);
        assert!(pdf.len() < 60 * 1024, "{} bytes", pdf.len());
        assert_eq!(
            pdf,
            with_font.render_blocking(&doc).unwrap(),
            "deterministic"
        );
        let plain = without.render_blocking(&doc).unwrap();
        if let (Some(text), Some(plain)) = (pdftotext(&pdf), pdftotext(&plain)) {
            assert!(text.contains("山田 Taro Дмитрий"), "{text}");
            assert!(plain.contains("?? Taro Дмитрий"), "{plain}");
        }
    }

    #[test]
    fn a_bad_font_path_is_refused_with_its_name() {
        let missing =
            GenpdfInvoiceRenderer::with_extra_font(Some(Path::new("/nonexistent/cjk.ttf")));
        let err = missing.unwrap_err().to_string();
        assert!(err.contains("/nonexistent/cjk.ttf"), "{err}");
        let dir = tempfile::tempdir().unwrap();
        let garbage = dir.path().join("garbage.ttf");
        std::fs::write(&garbage, b"not a font at all").unwrap();
        let err = GenpdfInvoiceRenderer::with_extra_font(Some(&garbage))
            .unwrap_err()
            .to_string();
        assert!(err.contains("garbage.ttf"), "{err}");
    }
}
