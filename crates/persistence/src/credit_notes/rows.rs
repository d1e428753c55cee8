//! `credit_notes` rows, apart from the domain's `CreditNote`, converted in one place.

use chrono::{NaiveDateTime, TimeZone, Utc};
use diesel::prelude::*;
use tariff_domain::credit_notes::{
    CreditNote, CreditNoteId, CreditNoteReason, CreditNoteRecord, RefundDestination, RefundDetails,
    RefundProvider, RefundState,
};
use tariff_domain::{AccountRef, Currency, Money, OrderId, RepoError};

use crate::schema::credit_notes;

/// A `credit_notes` row as stored.
#[derive(Queryable, Selectable, Debug, Clone)]
#[diesel(table_name = credit_notes)]
pub(super) struct CreditNoteRow {
    pub(super) id: i64,
    number: String,
    year: i32,
    seq: i64,
    order_id: i64,
    account_kind: String,
    account_id: i64,
    invoice_number: String,
    amount_minor: i64,
    currency: String,
    order_total_minor: i64,
    pub(super) refunded_after_minor: i64,
    reason: String,
    refund_to: String,
    refund_provider: String,
    refund_status: String,
    refund_reference: Option<String>,
    created_at: NaiveDateTime,
}

fn corrupt(what: &str) -> RepoError {
    RepoError::internal(format!("corrupt credit note: {what}"))
}

impl TryFrom<CreditNoteRow> for CreditNote {
    type Error = RepoError;

    fn try_from(row: CreditNoteRow) -> Result<CreditNote, RepoError> {
        let id = CreditNoteId::new(row.id).ok_or_else(|| corrupt("id"))?;
        if row.refunded_after_minor > row.order_total_minor {
            return Err(corrupt("refunded more than the total"));
        }
        let currency = Currency::from_code(&row.currency).map_err(|_| corrupt("currency"))?;
        let refund = RefundDetails {
            to: RefundDestination::parse(&row.refund_to).ok_or_else(|| corrupt("refund_to"))?,
            provider: RefundProvider::parse(&row.refund_provider)
                .ok_or_else(|| corrupt("refund_provider"))?,
            status: RefundState::parse(&row.refund_status)
                .ok_or_else(|| corrupt("refund_status"))?,
            reference: row.refund_reference,
        };
        CreditNote::restore(CreditNoteRecord {
            id,
            number: row.number,
            year: row.year,
            seq: row.seq,
            order_id: OrderId::new(row.order_id).ok_or_else(|| corrupt("order_id"))?,
            account: AccountRef::from_parts(&row.account_kind, row.account_id)
                .ok_or_else(|| corrupt("account"))?,
            invoice_number: row.invoice_number,
            amount: Money::from_minor(row.amount_minor, currency),
            reason: CreditNoteReason::parse(&row.reason).map_err(|_| corrupt("reason"))?,
            refund,
            created_at: Utc.from_utc_datetime(&row.created_at),
        })
        .map_err(|_| corrupt("amount"))
    }
}
