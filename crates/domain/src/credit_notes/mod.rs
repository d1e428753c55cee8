//! Refunds and credit notes.
//!
//! A credit note documents money given back on a paid order: part or all of its total,
//! to the original payment (through the gateway that took it, or recorded as a manual
//! refund) or to the account's credit. Credit notes are numbered in their own gapless
//! series per calendar year (`CN-2026-000001`), with the guarantees of invoice numbers,
//! and their PDF is rendered once and stored like an invoice's.
//!
//! The rule that matters, "the sum of an order's credit notes never exceeds its total",
//! is [`decide_refund`]; the store applies it inside the issuing transaction, after
//! serialising on the order, so it also holds under concurrent refunds.

mod gateway_refunds;
mod model;
mod ports;
mod rules;
mod service;
#[cfg(test)]
mod tests;

pub use model::{
    CreditNote, CreditNoteId, CreditNoteReason, CreditNoteRecord, InvalidCreditNote,
    RefundDestination, RefundDetails, RefundProvider, RefundState,
};
pub use ports::{
    CreditNoteJson, CreditNoteRequest, CreditNoteStore, GatewayRefund, IssueOutcome,
    OriginalPaymentRefunder, RefundGatewayError,
};
#[cfg(any(test, feature = "mocks"))]
pub use ports::{MockCreditNoteStore, MockOriginalPaymentRefunder};
pub use rules::{check_refundable, credit_note_document, decide_refund, tax_share, RefundRefusal};
pub use service::{
    CreditNoteError, CreditNotePdf, CreditNotePorts, CreditNoteService, GatewayRefundNote,
    RefundInput,
};

/// The default credit note number pattern (`invoice.credit_note_format`).
pub const DEFAULT_CREDIT_NOTE_FORMAT: &str = "CN-{year}-{seq:06}";
