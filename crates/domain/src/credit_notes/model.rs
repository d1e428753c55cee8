//! The credit note and how its refund was made.

use std::fmt;

use chrono::{DateTime, Utc};

use crate::payments::{PaymentProvider, RefundStatus};
use crate::shared::ids::{AccountRef, OrderId};
use crate::shared::money::Money;

/// Identifies a credit note.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CreditNoteId(i64);

impl CreditNoteId {
    /// Wraps a database id. Ids are positive; anything else is rejected.
    pub fn new(raw: i64) -> Option<Self> {
        (raw > 0).then_some(Self(raw))
    }

    /// The raw id.
    pub fn get(self) -> i64 {
        self.0
    }
}

impl fmt::Display for CreditNoteId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

const MAX_REASON_CHARS: usize = 500;

/// Why a credit note's data is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InvalidCreditNote {
    /// The reason is empty or blank.
    #[error("a reason is required")]
    BlankReason,
    /// The reason is over 500 characters.
    #[error("a reason has at most {MAX_REASON_CHARS} characters")]
    ReasonTooLong,
    /// The reason holds control characters other than line breaks and tabs.
    #[error("a reason must not contain control characters")]
    ReasonControl,
    /// An amount of zero or below.
    #[error("the amount must be above zero")]
    NotPositive,
}

/// The administrator's words on a credit note: 1 to 500 characters, printed on it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CreditNoteReason(String);

impl CreditNoteReason {
    /// Trims and checks `text`.
    pub fn parse(text: &str) -> Result<CreditNoteReason, InvalidCreditNote> {
        let text = text.trim();
        if text.is_empty() {
            return Err(InvalidCreditNote::BlankReason);
        }
        if text.chars().count() > MAX_REASON_CHARS {
            return Err(InvalidCreditNote::ReasonTooLong);
        }
        if text
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
        {
            return Err(InvalidCreditNote::ReasonControl);
        }
        Ok(CreditNoteReason(text.to_owned()))
    }

    /// The text.
    pub fn text(&self) -> &str {
        &self.0
    }
}

/// Where refunded money goes (`to`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum RefundDestination {
    /// Back to the payment the order was paid with.
    #[default]
    Original,
    /// To the account's credit, in the order's currency.
    Credit,
}

impl RefundDestination {
    /// `original` or `credit`.
    pub fn as_str(self) -> &'static str {
        match self {
            RefundDestination::Original => "original",
            RefundDestination::Credit => "credit",
        }
    }

    /// The destination named `text`.
    pub fn parse(text: &str) -> Option<RefundDestination> {
        match text {
            "original" => Some(RefundDestination::Original),
            "credit" => Some(RefundDestination::Credit),
            _ => None,
        }
    }
}

/// Who moved the money (`provider`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RefundProvider {
    /// Through Stripe.
    Stripe,
    /// Outside Tariff (a bank transfer back, cash): Tariff only records it.
    Manual,
    /// Into the account's credit ledger.
    Credit,
}

impl RefundProvider {
    /// `stripe`, `manual` or `credit`.
    pub fn as_str(self) -> &'static str {
        match self {
            RefundProvider::Stripe => "stripe",
            RefundProvider::Manual => "manual",
            RefundProvider::Credit => "credit",
        }
    }

    /// The provider named `text`.
    pub fn parse(text: &str) -> Option<RefundProvider> {
        match text {
            "stripe" => Some(RefundProvider::Stripe),
            "manual" => Some(RefundProvider::Manual),
            "credit" => Some(RefundProvider::Credit),
            _ => None,
        }
    }
}

impl From<PaymentProvider> for RefundProvider {
    fn from(provider: PaymentProvider) -> RefundProvider {
        match provider {
            PaymentProvider::Stripe => RefundProvider::Stripe,
            PaymentProvider::Manual => RefundProvider::Manual,
        }
    }
}

/// Where the refund stands (`status`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RefundState {
    /// Done: credited, recorded, or confirmed by the gateway.
    Succeeded,
    /// The gateway accepted it and has not finished yet.
    Pending,
    /// The gateway reported it failed or cancelled.
    Failed,
}

impl RefundState {
    /// `succeeded`, `pending` or `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            RefundState::Succeeded => "succeeded",
            RefundState::Pending => "pending",
            RefundState::Failed => "failed",
        }
    }

    /// The state named `text`.
    pub fn parse(text: &str) -> Option<RefundState> {
        match text {
            "succeeded" => Some(RefundState::Succeeded),
            "pending" => Some(RefundState::Pending),
            "failed" => Some(RefundState::Failed),
            _ => None,
        }
    }
}

impl From<RefundStatus> for RefundState {
    fn from(status: RefundStatus) -> RefundState {
        match status {
            RefundStatus::Succeeded => RefundState::Succeeded,
            RefundStatus::Pending | RefundStatus::RequiresAction => RefundState::Pending,
            RefundStatus::Failed | RefundStatus::Canceled => RefundState::Failed,
        }
    }
}

/// How a credit note's money was given back (`refund`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefundDetails {
    /// Where to.
    pub to: RefundDestination,
    /// Who moved it.
    pub provider: RefundProvider,
    /// Where it stands.
    pub status: RefundState,
    /// The gateway's refund id (`re_...`); unique over all credit notes, so one gateway
    /// refund has at most one credit note. `None` for manual and credit refunds.
    pub reference: Option<String>,
}

impl RefundDetails {
    /// Into the account's credit: done when the note is.
    pub fn to_credit() -> RefundDetails {
        RefundDetails {
            to: RefundDestination::Credit,
            provider: RefundProvider::Credit,
            status: RefundState::Succeeded,
            reference: None,
        }
    }

    /// Back to the original payment outside Tariff: recorded only.
    pub fn manual() -> RefundDetails {
        RefundDetails {
            to: RefundDestination::Original,
            provider: RefundProvider::Manual,
            status: RefundState::Succeeded,
            reference: None,
        }
    }

    /// Back to the original payment through a gateway, as its refund `reference`.
    pub fn gateway(provider: RefundProvider, status: RefundState, reference: String) -> Self {
        RefundDetails {
            to: RefundDestination::Original,
            provider,
            status,
            reference: Some(reference),
        }
    }
}

/// A stored credit note, field by field (what an adapter reads back).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreditNoteRecord {
    /// Id.
    pub id: CreditNoteId,
    /// The number as printed (`CN-2026-000001`).
    pub number: String,
    /// The numbering year.
    pub year: i32,
    /// The sequence number within the year's series.
    pub seq: i64,
    /// The order refunded.
    pub order_id: OrderId,
    /// The order's account.
    pub account: AccountRef,
    /// The invoice the note corrects.
    pub invoice_number: String,
    /// Above zero, in the order's currency.
    pub amount: Money,
    /// Why.
    pub reason: CreditNoteReason,
    /// How the money went back.
    pub refund: RefundDetails,
    /// When it was issued (its number's time).
    pub created_at: DateTime<Utc>,
}

/// An issued credit note. Immutable: a legal document, like an invoice.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreditNote {
    record: CreditNoteRecord,
}

impl CreditNote {
    /// A note as stored; its amount must be above zero.
    pub fn restore(record: CreditNoteRecord) -> Result<CreditNote, InvalidCreditNote> {
        if record.amount.minor() <= 0 {
            return Err(InvalidCreditNote::NotPositive);
        }
        Ok(CreditNote { record })
    }

    /// Id.
    pub fn id(&self) -> CreditNoteId {
        self.record.id
    }

    /// The number as printed.
    pub fn number(&self) -> &str {
        &self.record.number
    }

    /// The numbering year.
    pub fn year(&self) -> i32 {
        self.record.year
    }

    /// The sequence number within the year.
    pub fn seq(&self) -> i64 {
        self.record.seq
    }

    /// The order refunded.
    pub fn order_id(&self) -> OrderId {
        self.record.order_id
    }

    /// The order's account.
    pub fn account(&self) -> AccountRef {
        self.record.account
    }

    /// The invoice corrected.
    pub fn invoice_number(&self) -> &str {
        &self.record.invoice_number
    }

    /// The amount given back.
    pub fn amount(&self) -> Money {
        self.record.amount
    }

    /// Why.
    pub fn reason(&self) -> &CreditNoteReason {
        &self.record.reason
    }

    /// How the money went back.
    pub fn refund(&self) -> &RefundDetails {
        &self.record.refund
    }

    /// When it was issued.
    pub fn created_at(&self) -> DateTime<Utc> {
        self.record.created_at
    }
}
