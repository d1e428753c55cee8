//! The genpdf adapter for Tariff's [`InvoiceRenderer`] port: one A4 page with the logo,
//! company, invoice number (or `PROFORMA`), dates, status, seller and buyer blocks, the
//! line table, subtotal, tax, total, payment reference and footer.
//!
//! # Fonts
//!
//! Embedding TrueType fonts adds hundreds of KB to every PDF, so text is normally drawn with
//! the PDF built-in Helvetica, which viewers supply themselves, while genpdf measures it
//! with Liberation Sans, a free font with Helvetica's metrics (bundled under
//! `fonts/`, SIL Open Font License). Such a PDF is a few KB. Built-in fonts only know
//! WinAnsi (Windows-1252), so when any text of a document needs more (Cyrillic, Greek,
//! Polish...), that whole document is drawn with Liberation Sans embedded instead, which
//! covers Latin, Greek and Cyrillic; that file is larger (about 470 KB). Characters that
//! neither font has (CJK, emoji...) are replaced with `?` before layout, so text never
//! makes rendering fail.
//!
//! Fonts are parsed once, in [`GenpdfInvoiceRenderer::new`]; build one renderer per
//! process and share it (it is a cheap `Clone` around an `Arc`). Logos are decoded once
//! per path and file version and cached.
//!
//! Money is printed only from [`Money::to_fixed_string`](tariff_domain::shared::Money)
//! and the currency code; floats here are page geometry, never amounts.

mod deflate;
mod fonts;
mod layout;
mod logo;
mod text;

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use tariff_domain::orders::{InvoiceDocument, InvoiceRenderer, RenderError};

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
        let fonts = Fonts::load()
            .map_err(|err| RenderError::Internal(format!("bundled fonts unusable: {err}")))?;
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
        let pdf = layout::build(&self.fonts, &self.logos, document)
            .map_err(|err| layout::render_error(&err))?;
        let mut bytes = Vec::with_capacity(16 * 1024);
        pdf.render(&mut bytes)
            .map_err(|err| layout::render_error(&err))?;
        Ok(deflate::deflate_streams(&bytes, &fonts::PROGRAMS))
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
