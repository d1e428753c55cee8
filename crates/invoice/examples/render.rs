//! Writes the sample invoice to a file, to look at the layout:
//! `cargo run -p tariff-invoice --example render -- invoice.pdf [logo.png]`.

use std::error::Error;

use tariff_invoice::GenpdfInvoiceRenderer;

#[allow(clippy::unwrap_used)] // sample data only
#[path = "../tests/common/mod.rs"]
mod common;

fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let out = args.next().ok_or("usage: render OUT.pdf [LOGO]")?;
    let mut document = common::typical();
    document.logo_path = args.next();
    let pdf = GenpdfInvoiceRenderer::new()?.render_blocking(&document)?;
    std::fs::write(&out, &pdf)?;
    println!("{out}: {} bytes", pdf.len());
    Ok(())
}
