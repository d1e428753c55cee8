//! The credit note store, the seam to the payment records for refunds through a
//! gateway, and the JSON of the `credit_note.issued` event.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::model::{CreditNote, CreditNoteId, CreditNoteReason, RefundDetails};
use super::rules::RefundRefusal;
use crate::audit::AuditEntry;
use crate::orders::InvoiceNumberFormat;
use crate::payments::{GatewayError, IdempotencyKey, PaymentProvider, RefundId, RefundStatus};
use crate::shared::ids::OrderId;
use crate::shared::money::Money;
use crate::shared::repo::RepoError;

/// A credit note to issue, with everything the issuing transaction does besides.
#[derive(Clone, Debug)]
pub struct CreditNoteRequest {
    /// The order refunded.
    pub order: OrderId,
    /// The amount, in the order's currency; `None`: everything left refundable.
    pub amount: Option<Money>,
    /// Why.
    pub reason: CreditNoteReason,
    /// How the money goes back. With `to: credit`, the store appends the amount to the
    /// account's credit in the same transaction.
    pub refund: RefundDetails,
    /// Also cancel the order (when it is active) in the same transaction.
    pub cancel: bool,
    /// The issue time; its year picks the number series.
    pub at: DateTime<Utc>,
    /// How the number is written.
    pub numbering: InvoiceNumberFormat,
    /// Who did it: recorded in the audit log with the note as `after`.
    pub audit: AuditEntry,
}

/// What issuing answered.
#[derive(Clone, Debug, PartialEq)]
pub enum IssueOutcome {
    /// Numbered and stored now.
    Issued(CreditNote),
    /// A note for the same gateway refund (`refund.reference`) exists: this one, and
    /// nothing was written.
    AlreadyIssued(CreditNote),
    /// The refund rule refused it; nothing was written.
    Refused(RefundRefusal),
}

/// The renders of the objects the `credit_note.issued` event carries: the credit note
/// JSON as the API answers it. The shape belongs to the HTTP adapter.
pub trait CreditNoteJson: Send + Sync {
    /// The credit note JSON.
    fn credit_note(&self, note: &CreditNote) -> serde_json::Value;
}

/// Credit notes. Issuing is one transaction that serialises on the order (its row is
/// locked), so that concurrent refunds of one order take turns and the sum rule
/// ([`decide_refund`](super::decide_refund)) holds; numbers come from a per-year
/// counter row locked until commit, so they are gapless and never reused.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait CreditNoteStore: Send + Sync {
    /// Issues a credit note: checks the order is refundable and the amount fits
    /// (`Refused` otherwise), returns an existing note for the same gateway refund
    /// reference (`AlreadyIssued`), numbers it, stores it, appends account credit for
    /// `to: credit`, cancels the order when asked and active, records the audit entry,
    /// and stores the `credit_note.issued` event: all or nothing.
    /// Errors: `NotFound` (no such order), `Unavailable`, `Internal`.
    async fn issue(&self, request: CreditNoteRequest) -> Result<IssueOutcome, RepoError>;

    /// What the order's credit notes add up to (zero without any), in its currency.
    /// Errors: `NotFound` (no such order), `Unavailable`, `Internal`.
    async fn refunded(&self, order: OrderId) -> Result<Money, RepoError>;

    /// The order's credit notes, oldest first.
    /// Errors: `Unavailable`, `Internal`.
    async fn for_order(&self, order: OrderId) -> Result<Vec<CreditNote>, RepoError>;

    /// One credit note. Errors: `NotFound`, `Unavailable`, `Internal`.
    async fn get(&self, id: CreditNoteId) -> Result<CreditNote, RepoError>;

    /// The note of a gateway refund, if one was issued.
    /// Errors: `Unavailable`, `Internal`.
    async fn by_reference(&self, reference: &str) -> Result<Option<CreditNote>, RepoError>;

    /// Ids of credit notes above `after` whose PDF is not stored, ascending, at most
    /// `limit` (for the start-up backfill). Errors: `Unavailable`, `Internal`.
    async fn without_document(
        &self,
        after: i64,
        limit: u32,
    ) -> Result<Vec<CreditNoteId>, RepoError>;
}

/// A refund made through the gateway that took the order's payment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GatewayRefund {
    /// Which gateway.
    pub provider: PaymentProvider,
    /// Its refund id: the credit note's `refund.reference`.
    pub id: RefundId,
    /// Where it stands.
    pub status: RefundStatus,
}

/// Why the gateway did not refund.
#[derive(Debug, thiserror::Error)]
pub enum RefundGatewayError {
    /// The gateway refused or could not be reached.
    #[error(transparent)]
    Gateway(GatewayError),
    /// The payment records could not be read.
    #[error("reading the order's payment failed")]
    Store(#[source] RepoError),
}

/// The seam between refunds and payment records: refunds the payment an order was paid
/// with, through the gateway that took it. Optional in the wiring; without it (payments
/// off) every `original` refund is recorded as manual.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait OriginalPaymentRefunder: Send + Sync {
    /// Refunds `amount` of the order's gateway payment, with `key` so that a repeated
    /// call refunds once. `Ok(None)` when the order was not paid through a gateway (a
    /// mark-paid bank transfer): the caller records a manual refund.
    /// Errors: `Gateway(Declined | InvalidRequest)` (refused: nothing refunded),
    /// `Gateway(Unavailable)` (retry later with the same key), `Store`.
    async fn refund_original(
        &self,
        order: OrderId,
        amount: Money,
        key: &IdempotencyKey,
    ) -> Result<Option<GatewayRefund>, RefundGatewayError>;
}
