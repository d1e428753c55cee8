//! Renders invoices and checks what they say, not how they look: the text poppler's
//! `pdftotext` extracts, the PDF structure, and the file size.

// Test code: helpers outside `#[test]` functions panic on failure too, on purpose.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write as _;
use std::path::Path;
use std::process::Command;

use image::{DynamicImage, ImageOutputFormat, Rgba, RgbaImage};
use tariff_domain::orders::{InvoiceDocument, InvoiceLine, InvoiceRenderer, RenderError};
use tariff_invoice::GenpdfInvoiceRenderer;

use common::{credit_note, cyrillic_and_greek, hebrew, proforma, typical, usd};

fn renderer() -> GenpdfInvoiceRenderer {
    GenpdfInvoiceRenderer::new().unwrap()
}

async fn render(document: &InvoiceDocument) -> Vec<u8> {
    renderer().render(document).await.unwrap()
}

fn tool_available(tool: &str) -> bool {
    let found = Command::new(tool).arg("-v").output().is_ok();
    if !found {
        eprintln!(
            "SKIPPING `{tool}` checks: `{tool}` is not on PATH (Debian: poppler-utils / qpdf)"
        );
    }
    found
}

/// Checks that hold for every invoice PDF, with or without external tools: the header,
/// the trailer, and that lopdf can read the page tree back.
fn assert_structure(pdf: &[u8], pages: usize) {
    assert!(pdf.starts_with(b"%PDF-"), "not a PDF header");
    assert!(pdf.trim_ascii_end().ends_with(b"%%EOF"), "no PDF trailer");
    let parsed = lopdf::Document::load_mem(pdf).expect("lopdf cannot read the PDF back");
    assert_eq!(parsed.get_pages().len(), pages, "page count");
}

/// The text poppler extracts, runs of blanks collapsed to one space per line, or `None`
/// (after a loud SKIPPING line) when pdftotext is not installed.
fn extract_text(pdf: &[u8]) -> Option<String> {
    if !tool_available("pdftotext") {
        return None;
    }
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(pdf).unwrap();
    let output = Command::new("pdftotext")
        .args(["-layout", "-enc", "UTF-8"])
        .arg(file.path())
        .arg("-")
        .output()
        .unwrap();
    assert!(output.status.success(), "pdftotext failed: {output:?}");
    let text = String::from_utf8(output.stdout).unwrap();
    Some(
        text.lines()
            .map(|line| line.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect::<Vec<_>>()
            .join("\n"),
    )
}

fn assert_contains_all(text: &str, expected: &[&str]) {
    for needle in expected {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
}

fn qpdf_check(pdf: &[u8]) {
    if !tool_available("qpdf") {
        return;
    }
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(pdf).unwrap();
    let output = Command::new("qpdf")
        .arg("--check")
        .arg(file.path())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "qpdf --check failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn embeds_a_font(pdf: &[u8]) -> bool {
    pdf.windows(b"/FontFile2".len()).any(|w| w == b"/FontFile2")
}

fn has_image(pdf: &[u8]) -> bool {
    pdf.windows(b"/Subtype/Image".len())
        .any(|w| w == b"/Subtype/Image")
}

#[tokio::test]
async fn typical_invoice_says_everything_and_is_small() {
    let document = typical();
    let pdf = render(&document).await;
    assert_structure(&pdf, 1);
    println!("typical invoice: {} bytes", pdf.len());
    assert!(pdf.len() < 50 * 1024, "{} bytes", pdf.len());
    assert!(
        !embeds_a_font(&pdf),
        "WinAnsi text must use the built-in font"
    );
    qpdf_check(&pdf);
    if let Some(text) = extract_text(&pdf) {
        assert_contains_all(
            &text,
            &[
                "INVOICE",
                "INV-2026-000001",
                "#101",
                "Northwind Hosting",
                "Northwind Hosting GmbH",
                "Hafenstraße 12",
                "VAT ID DE123456789",
                "Zoë Müller",
                "Springfield, IL 62701, USA",
                "Pro (monthly)",
                "Extra backup storage, 10 GB",
                "8.99 USD",
                "0.50 USD",
                "1.00 USD",
                "Subtotal 9.99 USD",
                "Tax (19.0%) 1.90 USD",
                "Total 11.89 USD",
                "2026-11-21",
                "2026-12-05",
                "2026-11-21 – 2026-12-20",
                "Active",
                "TARIFF-101",
                "Registered at Amtsgericht Hamburg",
                "billing@northwind.example",
            ],
        );
        assert!(!text.contains("PROFORMA"));
    }
}

#[tokio::test]
async fn pending_order_renders_as_a_proforma_without_number() {
    let pdf = render(&proforma()).await;
    assert_structure(&pdf, 1);
    if let Some(text) = extract_text(&pdf) {
        assert_contains_all(
            &text,
            &["PROFORMA", "Pending", "Total 11.89 USD", "Zoë Müller"],
        );
        assert!(!text.contains("INVOICE"), "{text}");
        assert!(!text.contains("INV-2026-000001"), "{text}");
        assert!(!text.contains("Invoice number"), "{text}");
    }
}

#[tokio::test]
async fn a_credit_note_names_itself_the_invoice_it_corrects_and_the_amount() {
    let pdf = render(&credit_note()).await;
    assert_structure(&pdf, 1);
    if let Some(text) = extract_text(&pdf) {
        assert_contains_all(
            &text,
            &[
                "CREDIT NOTE",
                "Credit note number",
                "CN-2026-000001",
                "For invoice",
                "INV-2026-000101",
                "Service outage on 3 November",
                "Total 5.00 USD",
            ],
        );
        assert!(!text.contains("Due date"), "{text}");
        assert!(!text.contains("PROFORMA"), "{text}");
    }
}

/// The document's creation date as printpdf wrote it, after the renderer fixed it.
fn creation_date(pdf: &[u8]) -> String {
    let parsed = lopdf::Document::load_mem(pdf).unwrap();
    let info = parsed
        .trailer
        .get(b"Info")
        .and_then(lopdf::Object::as_reference)
        .unwrap();
    let info = parsed.get_dictionary(info).unwrap();
    String::from_utf8(
        info.get(b"CreationDate")
            .unwrap()
            .as_str()
            .unwrap()
            .to_vec(),
    )
    .unwrap()
}

#[tokio::test]
async fn rendering_is_deterministic_and_dated_by_the_issue_time() {
    for document in [typical(), cyrillic_and_greek(), hebrew(), proforma()] {
        let first = render(&document).await;
        // A second renderer: nothing may depend on process state or the clock.
        let again = GenpdfInvoiceRenderer::new()
            .unwrap()
            .render_blocking(&document)
            .unwrap();
        assert_eq!(first, again, "{:?}", document.buyer.name);
        assert_eq!(creation_date(&first), "D:20261121093000+00'00'");
        let mut later = document.clone();
        later.issued_at += chrono::TimeDelta::seconds(1);
        assert_ne!(render(&later).await, first, "the issue time is in the file");
    }
}

#[tokio::test]
async fn sizes_stay_small_with_subset_fonts() {
    let latin = render(&typical()).await;
    let cyrillic = render(&cyrillic_and_greek()).await;
    let hebrew = render(&hebrew()).await;
    println!(
        "sizes: Latin {} B, Cyrillic+Greek {} B, Hebrew {} B",
        latin.len(),
        cyrillic.len(),
        hebrew.len()
    );
    assert!(latin.len() <= 3_600, "Latin: {} bytes", latin.len());
    assert!(
        cyrillic.len() < 60 * 1024,
        "Cyrillic: {} bytes",
        cyrillic.len()
    );
    assert!(hebrew.len() < 60 * 1024, "Hebrew: {} bytes", hebrew.len());
    for pdf in [&cyrillic, &hebrew] {
        assert_structure(pdf, 1);
        assert!(embeds_a_font(pdf));
        qpdf_check(pdf);
    }
}

#[tokio::test]
async fn hebrew_reads_in_the_right_order() {
    let pdf = render(&hebrew()).await;
    assert_structure(&pdf, 1);
    // pdftotext turns glyphs drawn in the right visual order (right to left) back into
    // words in reading order; glyphs drawn in logical order come out reversed. It
    // writes right-to-left runs between embedding marks, in the order of the runs on
    // the page, so mixed lines are checked word by word.
    if let Some(text) = extract_text(&pdf) {
        let text: String = text
            .chars()
            .filter(|c| !('\u{202A}'..='\u{202E}').contains(c))
            .collect();
        assert_contains_all(
            &text,
            &[
                "דוד לוי",
                "אחסון",
                "חודשי",
                "רחוב הרצל",
                "תל אביב",
                "INV-2026-000001",
                "Total 11.89 USD",
            ],
        );
        assert!(text.contains(",12") || text.contains("12,"), "{text}");
        for reversed in ["יול דוד", "ןוסחא", "ישדוח", "לצרה", "ביבא"] {
            assert!(
                !text.contains(reversed),
                "reversed {reversed:?} in:\n{text}"
            );
        }
        // A right-to-left line with a Latin word: the Hebrew words on either side of
        // it, the first one read rightmost.
        let line = text.lines().find(|l| l.contains("Pro")).unwrap();
        let at = |word: &str| {
            line.find(word)
                .unwrap_or_else(|| panic!("{word} in {line}"))
        };
        assert!(at("חודשי") < at("Pro") && at("Pro") < at("אחסון"), "{line}");
    }
}

#[tokio::test]
async fn cyrillic_and_greek_names_switch_to_the_embedded_font() {
    let mut document = typical();
    document.buyer.name = "Дмитрий Ωμέγα".to_owned();
    document.buyer.lines = vec!["ул. Ленина, 1, Москва".to_owned()];
    document.lines[0].description = "Хостинг Pro (ежемесячно)".to_owned();
    let started = std::time::Instant::now();
    let pdf = render(&document).await;
    println!(
        "embedded-font invoice: {} bytes in {:?}",
        pdf.len(),
        started.elapsed()
    );
    assert_structure(&pdf, 1);
    assert!(embeds_a_font(&pdf));
    qpdf_check(&pdf);
    if let Some(text) = extract_text(&pdf) {
        assert_contains_all(
            &text,
            &[
                "Дмитрий Ωμέγα",
                "ул. Ленина, 1, Москва",
                "Хостинг Pro (ежемесячно)",
                "INV-2026-000001",
                "Hafenstraße 12",
                "Total 11.89 USD",
            ],
        );
    }
}

#[tokio::test]
async fn characters_no_font_has_become_question_marks() {
    let mut document = typical();
    document.buyer.name = "山田太郎 🙂 Ltd".to_owned();
    document.lines[0].description = "Pro 🚀 plan\u{200D}\u{FE0F}".to_owned();
    document.footer = Some("ありがとう\tThanks".to_owned());
    let pdf = render(&document).await;
    assert_structure(&pdf, 1);
    assert!(!embeds_a_font(&pdf), "`?` needs no embedded font");
    qpdf_check(&pdf);
    if let Some(text) = extract_text(&pdf) {
        assert_contains_all(
            &text,
            &[
                "???? ? Ltd",
                "Pro ? plan",
                "????? Thanks",
                "Total 11.89 USD",
            ],
        );
    }
}

#[tokio::test]
async fn a_word_wider_than_its_column_is_broken_not_dropped() {
    let mut document = typical();
    let long_word = "X".repeat(40) + &"y".repeat(120) + "-END";
    document.lines[0].description = format!("Start {long_word} after");
    document.buyer.lines.push(format!("ref:{}", "7".repeat(90)));
    let pdf = render(&document).await;
    assert_structure(&pdf, 1);
    if let Some(text) = extract_text(&pdf) {
        let joined: String = text.split_whitespace().collect();
        assert!(joined.contains(&long_word), "{text}");
        assert!(
            joined.contains(&format!("ref:{}", "7".repeat(90))),
            "{text}"
        );
        assert_contains_all(&text, &["after", "Total 11.89 USD"]);
    }
}

#[tokio::test]
async fn many_lines_flow_onto_a_second_page_without_losing_any() {
    let mut document = typical();
    document.lines = (1..=45)
        .map(|n| InvoiceLine {
            description: format!("Usage item number {n}"),
            quantity: n,
            unit_price: usd(100),
            amount: usd(100 * i64::from(n)),
        })
        .collect();
    let pdf = render(&document).await;
    assert_structure(&pdf, 2);
    qpdf_check(&pdf);
    if let Some(text) = extract_text(&pdf) {
        for n in 1..=45 {
            assert!(
                text.contains(&format!("Usage item number {n} ")),
                "item {n}"
            );
        }
        assert_contains_all(&text, &["Total 11.89 USD", "billing@northwind.example"]);
    }
}

#[tokio::test]
async fn empty_optional_parts_still_render() {
    let mut document = typical();
    document.lines.clear();
    document.service_period = None;
    document.payment_reference = None;
    document.footer = None;
    document.seller.lines.clear();
    document.buyer = Default::default();
    let pdf = render(&document).await;
    assert_structure(&pdf, 1);
    if let Some(text) = extract_text(&pdf) {
        assert_contains_all(&text, &["INV-2026-000001", "Total 11.89 USD"]);
        assert!(!text.contains("Service period"));
        assert!(!text.contains("PAYMENT REFERENCE"));
    }
}

#[tokio::test]
async fn a_missing_or_broken_logo_is_left_out() {
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("garbage.png");
    std::fs::write(&garbage, b"\x89PNG\r\n\x1a\n this is not a PNG at all").unwrap();
    let text_file = dir.path().join("logo.jpg");
    std::fs::write(&text_file, "plain text").unwrap();
    let renderer = renderer();
    for path in [
        "/nonexistent/logo.png".to_owned(),
        dir.path().display().to_string(),
        garbage.display().to_string(),
        text_file.display().to_string(),
        String::new(),
    ] {
        let mut document = typical();
        document.logo_path = Some(path.clone());
        // Twice: the second render comes from the cache.
        for _ in 0..2 {
            let pdf = renderer.render(&document).await.unwrap();
            assert_structure(&pdf, 1);
            assert!(!has_image(&pdf), "{path}");
            if let Some(text) = extract_text(&pdf) {
                assert_contains_all(&text, &["INV-2026-000001", "Total 11.89 USD"]);
            }
        }
    }
}

fn write_logo(path: &Path, format: ImageOutputFormat, alpha: bool) {
    // A 240x80 two-colour mark with a transparent margin.
    let logo = RgbaImage::from_fn(240, 80, |x, y| {
        let inside = (10..230).contains(&x) && (10..70).contains(&y);
        match (inside, x < 120) {
            (true, true) => Rgba([28, 62, 110, 255]),
            (true, false) => Rgba([230, 120, 30, 255]),
            (false, _) => Rgba([0, 0, 0, if alpha { 0 } else { 255 }]),
        }
    });
    let image = if alpha {
        DynamicImage::ImageRgba8(logo)
    } else {
        DynamicImage::ImageRgb8(DynamicImage::ImageRgba8(logo).to_rgb8())
    };
    let mut file = std::fs::File::create(path).unwrap();
    image.write_to(&mut file, format).unwrap();
}

#[tokio::test]
async fn png_and_jpeg_logos_are_drawn() {
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("logo.png");
    let jpeg = dir.path().join("logo.jpeg");
    write_logo(&png, ImageOutputFormat::Png, true);
    write_logo(&jpeg, ImageOutputFormat::Jpeg(90), false);
    let renderer = renderer();
    for path in [&png, &jpeg] {
        let mut document = typical();
        document.logo_path = Some(path.display().to_string());
        let pdf = renderer.render(&document).await.unwrap();
        println!("invoice with {}: {} bytes", path.display(), pdf.len());
        assert_structure(&pdf, 1);
        assert!(has_image(&pdf), "{}", path.display());
        assert!(pdf.len() < 50 * 1024, "{} bytes", pdf.len());
        qpdf_check(&pdf);
        if let Some(text) = extract_text(&pdf) {
            assert_contains_all(
                &text,
                &["INV-2026-000001", "Northwind Hosting", "Total 11.89 USD"],
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_renderer_serves_concurrent_renders() {
    let renderer = renderer();
    let tasks: Vec<_> = (0..8)
        .map(|n| {
            let renderer = renderer.clone();
            tokio::spawn(async move {
                let document = if n % 2 == 0 { typical() } else { proforma() };
                renderer.render(&document).await
            })
        })
        .collect();
    for task in tasks {
        let pdf = task.await.unwrap().unwrap();
        assert_structure(&pdf, 1);
    }
}

#[test]
fn render_errors_are_the_ports() {
    // Only two ways to fail, both with a message; nothing else leaks from genpdf.
    let layout = RenderError::Layout("too tall".to_owned());
    assert_eq!(layout.to_string(), "invoice layout failed: too tall");
    let renderer = renderer();
    assert!(format!("{renderer:?}").starts_with("GenpdfInvoiceRenderer"));
    let pdf = renderer.render_blocking(&typical()).unwrap();
    assert_structure(&pdf, 1);
}

#[tokio::test]
async fn a_plan_change_shows_every_line_down_to_the_amount_due() {
    let mut document = typical();
    document.lines = vec![
        InvoiceLine {
            description: "Pro (monthly)".to_owned(),
            quantity: 1,
            unit_price: usd(2000),
            amount: usd(2000),
        },
        InvoiceLine {
            description: "Unused time on Basic (2026-11-12 – 2026-11-30)".to_owned(),
            quantity: 1,
            unit_price: usd(-600),
            amount: usd(-600),
        },
        InvoiceLine {
            description: "Coupon SPRING20".to_owned(),
            quantity: 1,
            unit_price: usd(-280),
            amount: usd(-280),
        },
    ];
    document.subtotal = usd(1120);
    document.tax = usd(213);
    document.total = usd(1333);
    document.account_credit = Some(tariff_domain::orders::AppliedCredit {
        amount: usd(-500),
        amount_due: usd(833),
    });
    let pdf = render(&document).await;
    assert_structure(&pdf, 1);
    if let Some(text) = extract_text(&pdf) {
        assert_contains_all(
            &text,
            &[
                "Pro (monthly)",
                "Unused time on Basic (2026-11-12 – 2026-11-30)",
                "-6.00 USD",
                "Coupon SPRING20",
                "-2.80 USD",
                "Subtotal 11.20 USD",
                "Tax (19.0%) 2.13 USD",
                "Total 13.33 USD",
                "Account credit -5.00 USD",
                "Amount due 8.33 USD",
            ],
        );
    }
}
