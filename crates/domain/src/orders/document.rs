//! What a customer's invoice shows, and the port that turns it into a PDF.
//!
//! The document carries only what the customer may see: an order's internal notes have
//! no field here on purpose, so they cannot reach an invoice by accident.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};

use crate::shared::ids::OrderId;
use crate::shared::money::{Money, TaxRate};

/// Which document is printed: a numbered invoice, or a proforma (no number yet, e.g.
/// for an order that is still pending payment).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InvoiceKind {
    /// Invoice.
    Invoice {
        /// The invoice number.
        number: String,
    },
    /// Proforma.
    Proforma,
    /// A credit note: money given back on an invoiced order.
    CreditNote {
        /// The credit note's own number.
        number: String,
        /// The invoice it corrects.
        invoice_number: String,
        /// The administrator's reason, printed on it.
        reason: String,
    },
}

/// A seller or a buyer as printed: a name and free lines below it (address lines, a tax
/// id line, an email...).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Party {
    /// Name.
    pub name: String,
    /// Lines.
    pub lines: Vec<String>,
}

/// One priced line of the invoice. `amount` is stored, not recomputed, so the PDF
/// shows exactly what the order recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvoiceLine {
    /// Description.
    pub description: String,
    /// Quantity.
    pub quantity: u32,
    /// Unit price.
    pub unit_price: Money,
    /// Amount.
    pub amount: Money,
}

/// Everything the renderer needs for one invoice, already resolved (configuration,
/// order, buyer). Totals come from the order; the renderer never does money arithmetic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvoiceDocument {
    /// Kind.
    pub kind: InvoiceKind,
    /// Order id.
    pub order_id: OrderId,
    /// The order status as in the API (`pending`, `active`, `cancelled`, `expired`).
    pub status: String,
    /// When the document was issued: the numbering time of an invoice, the request time
    /// of a proforma. Written into the PDF as its creation date, so rendering a numbered
    /// invoice again gives the same bytes.
    pub issued_at: DateTime<Utc>,
    /// Issue date.
    pub issue_date: NaiveDate,
    /// Due date.
    pub due_date: NaiveDate,
    /// First and last day the invoice covers, when the order is a subscription period.
    pub service_period: Option<(NaiveDate, NaiveDate)>,
    /// `COMPANY_NAME`, printed in the header.
    pub company_name: String,
    /// The issued-from block (`INVOICE_ISSUED_FROM_NAME` / `_ADDRESS`).
    pub seller: Party,
    /// The bill-to block.
    pub buyer: Party,
    /// Lines.
    pub lines: Vec<InvoiceLine>,
    /// Subtotal.
    pub subtotal: Money,
    /// Tax rate.
    pub tax_rate: TaxRate,
    /// Tax.
    pub tax: Money,
    /// Total.
    pub total: Money,
    /// Account credit paying the order after tax, when some did: printed under the
    /// total, with the amount due.
    pub account_credit: Option<AppliedCredit>,
    /// Payment reference.
    pub payment_reference: Option<String>,
    /// Footer.
    pub footer: Option<String>,
    /// `INVOICE_LOGO_PATH` as frozen when the invoice was numbered.
    pub logo_path: Option<String>,
}

/// Account credit on an invoice, below the total.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppliedCredit {
    /// The `Account credit` line: negative.
    pub amount: Money,
    /// What is left to pay: the total plus `amount`.
    pub amount_due: Money,
}

/// Why an invoice could not be rendered.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    /// The document cannot be laid out at all; the text says why.
    #[error("invoice layout failed: {0}")]
    Layout(String),
    /// A fault inside the renderer (fonts, PDF writer, worker thread). Logged, never
    /// shown to clients.
    #[error("invoice renderer failure: {0}")]
    Internal(String),
}

/// Turns an invoice document into PDF bytes.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait InvoiceRenderer: Send + Sync {
    /// Renders a one-page PDF. The same document always gives the same bytes (no random
    /// ids, the creation date is `issued_at`). Errors: `RenderError` only for a document
    /// that cannot be laid out at all; unknown glyphs and a missing/broken logo never fail.
    async fn render(&self, document: &InvoiceDocument) -> Result<Vec<u8>, RenderError>;
}
