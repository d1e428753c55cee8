//! Writes a sample invoice to a file, to look at the layout:
//! `cargo run -p tariff-invoice --example render -- invoice.pdf [SAMPLE] [LOGO] [FONT]`,
//! where SAMPLE is `latin` (the default), `cyrillic`, `hebrew`, `proforma`, `credit-note`
//! or `cjk`
//! (a Japanese and Chinese buyer: give a CJK TrueType font as FONT, as
//! `invoice.font_path` would; LOGO may be `-` for none).

use std::error::Error;
use std::path::Path;

use tariff_invoice::GenpdfInvoiceRenderer;

#[allow(clippy::unwrap_used)] // sample data only
#[path = "../tests/common/mod.rs"]
mod common;

fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let out = args.next().ok_or(
        "usage: render OUT.pdf [latin|cyrillic|hebrew|proforma|credit-note|cjk] [LOGO] [FONT]",
    )?;
    let mut document = match args.next().as_deref() {
        None | Some("latin") => common::typical(),
        Some("cyrillic") => common::cyrillic_and_greek(),
        Some("hebrew") => common::hebrew(),
        Some("proforma") => common::proforma(),
        Some("credit-note") => common::credit_note(),
        Some("cjk") => common::cjk(),
        Some(other) => return Err(format!("unknown sample `{other}`").into()),
    };
    document.logo_path = args.next().filter(|logo| logo != "-");
    let font = args.next();
    let renderer = GenpdfInvoiceRenderer::with_extra_font(font.as_deref().map(Path::new))?;
    let pdf = renderer.render_blocking(&document)?;
    std::fs::write(&out, &pdf)?;
    println!("{out}: {} bytes", pdf.len());
    Ok(())
}
