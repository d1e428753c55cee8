//! The page itself: turns an `InvoiceDocument` into a genpdf document.
//!
//! Geometry is in whole millimetres: column widths are table weights that add up to the
//! content width, so every column is an exact number of millimetres and text can be
//! wrapped to it before genpdf sees it.

use std::collections::{BTreeMap, BTreeSet};

use genpdf::elements::{CellDecorator, Image, LinearLayout, Paragraph, StyledElement, TableLayout};
use genpdf::error::{Error, ErrorKind};
use genpdf::fonts::{Font, FontFamily};
use genpdf::style::{Color, Style};
use genpdf::{render, Alignment, Context, Element, Margins, Mm, Position, RenderResult, Size};
use image::{DynamicImage, GenericImageView};
use tariff_domain::orders::{InvoiceDocument, InvoiceKind, Party};
use tariff_domain::shared::Money;

use crate::bidi;
use crate::encoding::CodeTable;
use crate::fonts::{Fonts, Slot, Source};
use crate::logo::LogoCache;
use crate::text::{self, FontMode, Metrics};

/// A4 is 210 mm wide; 20 mm side margins leave 170 mm.
const SIDE_MARGIN: u16 = 20;
const TOP_MARGIN: u16 = 16;
const BOTTOM_MARGIN: u16 = 14;
const CONTENT: u16 = 170;
/// Horizontal space between table columns (each side) and vertical space in a row.
const CELL_PAD_X: u16 = 2;
const CELL_PAD_Y: u16 = 2;
/// Widths of description, quantity, unit price and amount.
const ITEM_COLUMNS: [u16; 4] = [90, 16, 32, 32];
/// The totals reuse the item grid: empty, label over quantity and unit price, amount.
const TOTAL_COLUMNS: [u16; 3] = [90, 48, 32];
const HEADER_COLUMNS: [u16; 2] = [100, 70];
const META_COLUMNS: [u16; 2] = [34, 136];
const PARTY_COLUMNS: [u16; 2] = [85, 85];
/// The box a logo is scaled into, and the resolution below which it is not enlarged.
const LOGO_MAX_WIDTH_MM: u32 = 60;
const LOGO_MAX_HEIGHT_MM: u32 = 22;
const LOGO_MIN_DPI: u32 = 150;

const INK: Color = Color::Rgb(33, 37, 41);
const MUTED: Color = Color::Rgb(108, 117, 125);
const ACCENT: Color = Color::Rgb(28, 62, 110);
const RULE_STRONG: Color = Color::Rgb(73, 80, 87);
const RULE_LIGHT: Color = Color::Rgb(206, 212, 218);

fn style(size: u8, color: Color) -> Style {
    Style::new().with_font_size(size).with_color(color)
}

/// `9.99 USD`: the amount's own decimal text and its currency code, never a float.
pub(crate) fn money_text(money: Money) -> String {
    format!("{} {}", money.to_fixed_string(), money.currency().code())
}

fn date_text(date: chrono::NaiveDate) -> String {
    date.format("%Y-%m-%d").to_string()
}

/// `pending` → `Pending`.
fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// A PDF built from one invoice document, ready to be written, and, when its text
/// needs more than WinAnsi, the one-byte codes of each embedded face (the fonts to
/// embed in place of the built-in carriers after rendering).
pub(crate) struct Built {
    pub(crate) pdf: genpdf::Document,
    pub(crate) codes: Option<BTreeMap<Slot, CodeTable>>,
}

/// How the drawing pass of an embedded-font document writes text.
struct Encoding {
    codes: BTreeMap<Slot, CodeTable>,
    /// The extra font's family in the genpdf document.
    extra_family: Option<FontFamily<Font>>,
}

pub(crate) fn build(
    fonts: &Fonts,
    logos: &LogoCache,
    invoice: &InvoiceDocument,
) -> Result<Built, Error> {
    let image = invoice
        .logo_path
        .as_deref()
        .and_then(|path| logos.get(path));
    // First pass: every text cleaned, wrapped and looked at; enough for WinAnsi text.
    let mut page = PageBuilder::new(&fonts.metrics, None);
    let root = page.root(invoice, image.as_ref().and_then(|i| logo_element(i)))?;
    if page.mode == FontMode::Builtin {
        let pdf = document(fonts.builtin_family(), invoice, root);
        return Ok(Built { pdf, codes: None });
    }

    // Embedded fonts: codes for each face's characters, fonts that measure the carrier
    // text as the real one, and a second pass that writes the carrier text.
    let mut codes = BTreeMap::new();
    for (slot, chars) in std::mem::take(&mut page.chars) {
        let (table, overflow) = CodeTable::assign(chars);
        if !overflow.is_empty() {
            tracing::warn!(
                characters = overflow.len(),
                "invoice uses more distinct characters than one font subset holds; \
                 the rest print as `?`"
            );
        }
        codes.insert(slot, table);
    }
    let family = fonts
        .primary_family(&codes)
        .map_err(|err| Error::new(err.to_string(), ErrorKind::InvalidFont))?;
    let mut pdf = genpdf::Document::new(family);
    let extra = fonts
        .extra_family(&codes)
        .map_err(|err| Error::new(err.to_string(), ErrorKind::InvalidFont))?;
    let extra_family = extra.map(|family| pdf.add_font_family(family));
    let encoding = Encoding {
        codes,
        extra_family,
    };
    let mut page = PageBuilder::new(&fonts.metrics, Some(&encoding));
    let root = page.root(invoice, image.as_ref().and_then(|i| logo_element(i)))?;
    let pdf = configure(pdf, invoice, root);
    Ok(Built {
        pdf,
        codes: Some(encoding.codes),
    })
}

fn document(
    family: genpdf::fonts::FontFamily<genpdf::fonts::FontData>,
    invoice: &InvoiceDocument,
    root: LinearLayout,
) -> genpdf::Document {
    configure(genpdf::Document::new(family), invoice, root)
}

fn configure(
    mut pdf: genpdf::Document,
    invoice: &InvoiceDocument,
    root: LinearLayout,
) -> genpdf::Document {
    pdf.set_title(pdf_title(invoice));
    // No ICC profile and XMP packet: they would add ~50 KB for nothing an invoice needs.
    pdf.set_minimal_conformance();
    pdf.set_paper_size(genpdf::PaperSize::A4);
    let mut decorator = genpdf::SimplePageDecorator::new();
    decorator.set_margins(Margins::trbl(
        TOP_MARGIN,
        SIDE_MARGIN,
        BOTTOM_MARGIN,
        SIDE_MARGIN,
    ));
    pdf.set_page_decorator(decorator);
    pdf.push(root);
    pdf
}

/// Document-info title: ASCII only, it is metadata and printpdf writes it as raw bytes.
fn pdf_title(invoice: &InvoiceDocument) -> String {
    let title = match &invoice.kind {
        InvoiceKind::Invoice { number } => format!("Invoice {number}"),
        InvoiceKind::Proforma => format!("Proforma invoice for order {}", invoice.order_id),
        InvoiceKind::CreditNote { number, .. } => format!("Credit note {number}"),
    };
    title
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .collect()
}

fn logo_element(image: &DynamicImage) -> Option<Image> {
    let (width, height) = image.dimensions();
    // Dots per inch that make the logo fit its box (mm * 10 / 254 = inches * 100).
    let dpi = [
        (width * 254).div_ceil(LOGO_MAX_WIDTH_MM * 10),
        (height * 254).div_ceil(LOGO_MAX_HEIGHT_MM * 10),
        LOGO_MIN_DPI,
    ]
    .into_iter()
    .max()
    .unwrap_or(LOGO_MIN_DPI);
    // Only fails for images with alpha, which the logo cache has already flattened.
    Image::from_dynamic_image(image.clone()).ok().map(|logo| {
        logo.with_alignment(Alignment::Right)
            .with_dpi(f64::from(dpi))
    })
}

struct PageBuilder<'a> {
    metrics: &'a Metrics,
    /// Becomes `Embedded` as soon as one text needs more than WinAnsi.
    mode: FontMode,
    /// The characters drawn with each embedded face, in drawing order.
    chars: BTreeMap<Slot, BTreeSet<char>>,
    /// Set in the drawing pass of an embedded-font document.
    encoding: Option<&'a Encoding>,
}

impl<'a> PageBuilder<'a> {
    fn new(metrics: &'a Metrics, encoding: Option<&'a Encoding>) -> PageBuilder<'a> {
        PageBuilder {
            metrics,
            mode: FontMode::Builtin,
            chars: BTreeMap::new(),
            encoding,
        }
    }

    fn clean(&mut self, raw: &str) -> String {
        let metrics = self.metrics;
        let cleaned = text::clean(raw, |c| metrics.has_glyph(c));
        self.mode = self.mode.or(FontMode::for_text(&cleaned));
        cleaned
    }

    /// `raw` cleaned and wrapped to `width_mm`, one paragraph per line.
    fn text(&mut self, raw: &str, width_mm: u16, style: Style, align: Alignment) -> LinearLayout {
        let cleaned = self.clean(raw);
        let lines = self.metrics.wrap(&cleaned, Mm::from(width_mm), style);
        let mut layout = LinearLayout::vertical();
        for line in lines {
            layout.push(self.line(&line, style, align));
        }
        layout
    }

    /// One wrapped line as drawn: in visual order (right-to-left runs reversed), cut
    /// into runs per font, and, in an embedded-font document, as carrier text.
    fn line(&mut self, logical: &str, style: Style, align: Alignment) -> StyledElement<Paragraph> {
        let visual = bidi::visual(logical);
        let runs = self.metrics.runs(&visual);
        for (source, run) in &runs {
            self.chars
                .entry(Slot::of(*source, style.is_bold()))
                .or_default()
                .extend(run.chars());
        }
        let Some(encoding) = self.encoding else {
            return Paragraph::new(visual).aligned(align).styled(style);
        };
        let mut paragraph = Paragraph::default().aligned(align);
        for (source, run) in runs {
            let slot = Slot::of(source, style.is_bold());
            let carried = match encoding.codes.get(&slot) {
                Some(table) => table.carrier_text(run),
                None => "?".repeat(run.chars().count()),
            };
            let run_style = match (source, encoding.extra_family) {
                (Source::Extra, Some(family)) => style.with_font_family(family),
                _ => style,
            };
            paragraph.push_styled(carried, run_style);
        }
        paragraph.styled(style)
    }

    fn root(
        &mut self,
        invoice: &InvoiceDocument,
        logo: Option<Image>,
    ) -> Result<LinearLayout, Error> {
        let mut root = LinearLayout::vertical();
        root.push(self.header(invoice, logo)?);
        root.push(Spacer::mm(7));
        root.push(self.meta(invoice)?);
        root.push(Spacer::mm(9));
        root.push(self.parties(&invoice.seller, &invoice.buyer)?);
        root.push(Spacer::mm(11));
        root.push(self.items(invoice)?);
        root.push(self.totals(invoice)?);
        if let Some(reference) = &invoice.payment_reference {
            root.push(Spacer::mm(9));
            root.push(self.text(
                "PAYMENT REFERENCE",
                CONTENT,
                style(7, MUTED).bold(),
                Alignment::Left,
            ));
            root.push(Spacer::mm(1));
            root.push(self.text(reference, CONTENT, style(10, INK).bold(), Alignment::Left));
        }
        if let Some(footer) = &invoice.footer {
            root.push(self.footer(footer));
        }
        Ok(root)
    }

    /// Title on the left; logo and company name on the right.
    fn header(
        &mut self,
        invoice: &InvoiceDocument,
        logo: Option<Image>,
    ) -> Result<TableLayout, Error> {
        let title = match invoice.kind {
            InvoiceKind::Invoice { .. } => "INVOICE",
            InvoiceKind::Proforma => "PROFORMA",
            InvoiceKind::CreditNote { .. } => "CREDIT NOTE",
        };
        let [left_width, right_width] = HEADER_COLUMNS;
        let left = self.text(title, left_width, style(24, ACCENT).bold(), Alignment::Left);
        let mut right = LinearLayout::vertical();
        if let Some(logo) = logo {
            right.push(logo);
            right.push(Spacer::mm(3));
        }
        right.push(self.text(
            &invoice.company_name,
            right_width,
            style(12, INK).bold(),
            Alignment::Right,
        ));
        let mut table = TableLayout::new(weights(&HEADER_COLUMNS));
        table.row().element(left).element(right).push()?;
        Ok(table)
    }

    /// Number, order, dates and status as label/value rows.
    fn meta(&mut self, invoice: &InvoiceDocument) -> Result<TableLayout, Error> {
        let mut rows: Vec<(&str, String)> = Vec::new();
        let credit_note = matches!(invoice.kind, InvoiceKind::CreditNote { .. });
        match &invoice.kind {
            InvoiceKind::Invoice { number } => rows.push(("Invoice number", number.clone())),
            InvoiceKind::CreditNote {
                number,
                invoice_number,
                reason,
            } => {
                rows.push(("Credit note number", number.clone()));
                rows.push(("For invoice", invoice_number.clone()));
                rows.push(("Reason", reason.clone()));
            }
            InvoiceKind::Proforma => {}
        }
        rows.push(("Order", format!("#{}", invoice.order_id)));
        rows.push(("Issue date", date_text(invoice.issue_date)));
        if !credit_note {
            rows.push(("Due date", date_text(invoice.due_date)));
        }
        if let Some((first, last)) = invoice.service_period {
            rows.push((
                "Service period",
                format!("{} – {}", date_text(first), date_text(last)),
            ));
        }
        if !credit_note {
            rows.push(("Status", capitalized(&invoice.status)));
        }

        let [label_width, value_width] = META_COLUMNS;
        let mut table = TableLayout::new(weights(&META_COLUMNS));
        for (label, value) in rows {
            let bold_value = label == "Invoice number" || label == "Credit note number";
            let value_style = if bold_value {
                style(9, INK).bold()
            } else {
                style(9, INK)
            };
            let label = self.text(label, label_width, style(9, MUTED), Alignment::Left);
            let value = self.text(&value, value_width, value_style, Alignment::Left);
            table
                .row()
                .element(label.padded(Margins::trbl(0, 0, 1, 0)))
                .element(value.padded(Margins::trbl(0, 0, 1, 0)))
                .push()?;
        }
        Ok(table)
    }

    fn parties(&mut self, seller: &Party, buyer: &Party) -> Result<TableLayout, Error> {
        let [left_width, right_width] = PARTY_COLUMNS;
        let from = self.party("FROM", seller, left_width - 2 * CELL_PAD_X);
        let to = self.party("BILL TO", buyer, right_width);
        let mut table = TableLayout::new(weights(&PARTY_COLUMNS));
        table
            .row()
            .element(from.padded(Margins::trbl(0, 2 * CELL_PAD_X, 0, 0)))
            .element(to)
            .push()?;
        Ok(table)
    }

    fn party(&mut self, label: &str, party: &Party, width: u16) -> LinearLayout {
        let mut block = LinearLayout::vertical();
        block.push(self.text(label, width, style(7, MUTED).bold(), Alignment::Left));
        block.push(Spacer::mm(2));
        block.push(self.text(&party.name, width, style(10, INK).bold(), Alignment::Left));
        block.push(Spacer::mm(1));
        for line in &party.lines {
            block.push(self.text(line, width, style(9, INK), Alignment::Left));
        }
        block
    }

    fn items(&mut self, invoice: &InvoiceDocument) -> Result<TableLayout, Error> {
        let mut table = TableLayout::new(weights(&ITEM_COLUMNS));
        let head = style(7, MUTED).bold();
        let body = style(9, INK);
        let headings = [
            ("DESCRIPTION", Alignment::Left),
            ("QTY", Alignment::Right),
            ("UNIT PRICE", Alignment::Right),
            ("AMOUNT", Alignment::Right),
        ];
        let cells = headings.map(|(heading, align)| (heading.to_owned(), align));
        self.grid_row(&mut table, &ITEM_COLUMNS, cells, head)?;

        let mut rules = vec![Rule::below(0, RULE_STRONG, 0..4)];
        for (index, line) in invoice.lines.iter().enumerate() {
            let cells = [
                (line.description.clone(), Alignment::Left),
                (line.quantity.to_string(), Alignment::Right),
                (money_text(line.unit_price), Alignment::Right),
                (money_text(line.amount), Alignment::Right),
            ];
            self.grid_row(&mut table, &ITEM_COLUMNS, cells, body)?;
            let color = if index + 1 == invoice.lines.len() {
                RULE_STRONG
            } else {
                RULE_LIGHT
            };
            rules.push(Rule::below(index + 1, color, 0..4));
        }
        table.set_cell_decorator(Rules(rules));
        Ok(table)
    }

    fn totals(&mut self, invoice: &InvoiceDocument) -> Result<TableLayout, Error> {
        let mut table = TableLayout::new(weights(&TOTAL_COLUMNS));
        let mut rows = vec![
            ("Subtotal".to_owned(), money_text(invoice.subtotal), false),
            (
                format!("Tax ({}%)", invoice.tax_rate.to_percent_text()),
                money_text(invoice.tax),
                false,
            ),
            ("Total".to_owned(), money_text(invoice.total), true),
        ];
        // Account credit is a means of payment after tax: under the total, then what
        // is left to pay.
        if let Some(credit) = &invoice.account_credit {
            rows.push((
                "Account credit".to_owned(),
                money_text(credit.amount),
                false,
            ));
            rows.push(("Amount due".to_owned(), money_text(credit.amount_due), true));
        }
        for (label, amount, emphasised) in rows {
            let row_style = if emphasised {
                style(11, INK).bold()
            } else {
                style(9, INK)
            };
            let cells = [
                (String::new(), Alignment::Left),
                (label, Alignment::Right),
                (amount, Alignment::Right),
            ];
            self.grid_row(&mut table, &TOTAL_COLUMNS, cells, row_style)?;
        }
        table.set_cell_decorator(Rules(vec![Rule::below(1, RULE_LIGHT, 1..3)]));
        Ok(table)
    }

    /// One table row on the item grid: the first column has no left padding and the
    /// last none on the right, so text lines up with the page margins and amounts with
    /// each other.
    fn grid_row<const N: usize>(
        &mut self,
        table: &mut TableLayout,
        columns: &[u16; N],
        cells: [(String, Alignment); N],
        cell_style: Style,
    ) -> Result<(), Error> {
        let mut row = Vec::<Box<dyn Element>>::with_capacity(N);
        for (index, ((content, align), width)) in cells.into_iter().zip(columns).enumerate() {
            let left = if index == 0 { 0 } else { CELL_PAD_X };
            let right = if index + 1 == N { 0 } else { CELL_PAD_X };
            let inner = width.saturating_sub(left + right);
            let text = self.text(&content, inner, cell_style, align);
            row.push(Box::new(
                text.padded(Margins::trbl(CELL_PAD_Y, right, CELL_PAD_Y, left)),
            ));
        }
        table.push_row(row)
    }

    fn footer(&mut self, footer: &str) -> Footer {
        let footer_style = style(8, MUTED);
        let mut lines = LinearLayout::vertical();
        let mut count = 0;
        for paragraph in footer.lines() {
            let cleaned = self.clean(paragraph);
            for line in self.metrics.wrap(&cleaned, Mm::from(CONTENT), footer_style) {
                lines.push(self.line(&line, footer_style, Alignment::Center));
                count += 1;
            }
        }
        Footer {
            lines,
            height: self.metrics.line_height(footer_style) * count_factor(count)
                + Mm::from(FOOTER_RULE_GAP),
            attempts: 0,
        }
    }
}

fn weights<const N: usize>(columns: &[u16; N]) -> Vec<usize> {
    columns.iter().map(|&mm| usize::from(mm)).collect()
}

/// A line count as the factor genpdf's `Mm` multiplies by.
fn count_factor(count: u32) -> f64 {
    f64::from(count)
}

/// Vertical space of a fixed height.
struct Spacer(Mm);

impl Spacer {
    fn mm(mm: u16) -> Spacer {
        Spacer(Mm::from(mm))
    }
}

impl Element for Spacer {
    fn render(
        &mut self,
        _context: &Context,
        area: render::Area<'_>,
        _style: Style,
    ) -> Result<RenderResult, Error> {
        let available = area.size().height;
        let height = if self.0 < available {
            self.0
        } else {
            available
        };
        Ok(RenderResult {
            size: Size::new(Mm::default(), height),
            has_more: false,
        })
    }
}

/// A horizontal rule along the top or bottom edge of some cells of one table row.
struct Rule {
    row: usize,
    color: Color,
    columns: std::ops::Range<usize>,
}

impl Rule {
    fn below(row: usize, color: Color, columns: std::ops::Range<usize>) -> Rule {
        Rule {
            row,
            color,
            columns,
        }
    }
}

/// Draws rules under table rows (genpdf's frame decorator only does full grids).
struct Rules(Vec<Rule>);

impl CellDecorator for Rules {
    fn decorate_cell(
        &mut self,
        column: usize,
        row: usize,
        _has_more: bool,
        area: render::Area<'_>,
        _style: Style,
    ) {
        let size = area.size();
        for rule in &self.0 {
            if rule.row == row && rule.columns.contains(&column) {
                area.draw_line(
                    vec![
                        Position::new(Mm::default(), size.height),
                        Position::new(size.width, size.height),
                    ],
                    Style::new().with_color(rule.color),
                );
            }
        }
    }
}

/// Space between the footer's rule and its first line.
const FOOTER_RULE_GAP: u16 = 3;

/// The footer, pinned to the bottom of the last page under a thin rule. If the page is
/// too full it moves to the next page; if it is taller than a page it simply flows.
struct Footer {
    lines: LinearLayout,
    height: Mm,
    attempts: u8,
}

impl Element for Footer {
    fn render(
        &mut self,
        context: &Context,
        mut area: render::Area<'_>,
        style: Style,
    ) -> Result<RenderResult, Error> {
        self.attempts = self.attempts.saturating_add(1);
        let available = area.size().height;
        if self.attempts <= 2 && self.height <= available {
            let skip = available - self.height;
            let width = area.size().width;
            area.add_offset(Position::new(Mm::default(), skip));
            area.draw_line(
                vec![Position::default(), Position::new(width, Mm::default())],
                Style::new().with_color(RULE_LIGHT),
            );
            area.add_offset(Position::new(0, FOOTER_RULE_GAP));
            let result = self.lines.render(context, area, style)?;
            return Ok(RenderResult {
                size: Size::new(width, available),
                has_more: result.has_more,
            });
        }
        if self.attempts == 1 {
            // Try again at the bottom of a fresh page.
            return Ok(RenderResult {
                size: Size::default(),
                has_more: true,
            });
        }
        self.lines.render(context, area, style)
    }
}

/// genpdf's error as the port's: only a page overflow is a layout problem.
pub(crate) fn render_error(err: &Error) -> tariff_domain::orders::RenderError {
    use tariff_domain::orders::RenderError;
    match err.kind() {
        ErrorKind::PageSizeExceeded => RenderError::Layout(err.to_string()),
        _ => RenderError::Internal(err.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tariff_domain::shared::Currency;

    #[test]
    fn money_is_printed_from_minor_units_with_its_code() {
        assert_eq!(
            money_text(Money::from_minor(1189, Currency::USD)),
            "11.89 USD"
        );
        let yen = Currency::from_code("JPY").unwrap();
        assert_eq!(money_text(Money::from_minor(1500, yen)), "1500 JPY");
    }

    #[test]
    fn small_helpers() {
        assert_eq!(capitalized("pending"), "Pending");
        assert_eq!(capitalized(""), "");
        assert_eq!(
            date_text(chrono::NaiveDate::from_ymd_opt(2026, 1, 5).unwrap()),
            "2026-01-05"
        );
        assert_eq!(ITEM_COLUMNS.iter().sum::<u16>(), CONTENT);
        assert_eq!(TOTAL_COLUMNS.iter().sum::<u16>(), CONTENT);
        assert_eq!(HEADER_COLUMNS.iter().sum::<u16>(), CONTENT);
        assert_eq!(META_COLUMNS.iter().sum::<u16>(), CONTENT);
        assert_eq!(PARTY_COLUMNS.iter().sum::<u16>(), CONTENT);
        assert_eq!(210 - 2 * SIDE_MARGIN, CONTENT);
    }
}
