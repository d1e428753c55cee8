//! `credit_entries` rows, apart from the domain's `CreditEntry`, converted in one place.

use chrono::{NaiveDateTime, TimeZone, Utc};
use diesel::prelude::*;
use tariff_domain::billing::{CreditEntry, CreditEntryId, CreditReason};
use tariff_domain::{AccountRef, Currency, Money, OrderId, OrgId, RepoError, UserId};

use crate::schema::credit_entries;

/// A `credit_entries` row as stored.
#[derive(Queryable, Selectable, Debug)]
#[diesel(table_name = credit_entries)]
pub(super) struct CreditEntryRow {
    id: i64,
    account_kind: String,
    account_id: i64,
    currency: String,
    amount_minor: i64,
    balance_after_minor: i64,
    reason_kind: String,
    reason_text: String,
    order_id: Option<i64>,
    created_at: NaiveDateTime,
}

fn corrupt(what: &str) -> RepoError {
    RepoError::internal(format!("corrupt credit entry: {what}"))
}

/// The account a stored `(account_kind, account_id)` names.
pub(super) fn account_of(kind: &str, id: i64) -> Option<AccountRef> {
    match kind {
        "user" => UserId::new(id).map(AccountRef::User),
        "org" => OrgId::new(id).map(AccountRef::Org),
        _ => None,
    }
}

impl TryFrom<CreditEntryRow> for CreditEntry {
    type Error = RepoError;

    fn try_from(row: CreditEntryRow) -> Result<CreditEntry, RepoError> {
        let id = CreditEntryId::new(row.id).ok_or_else(|| corrupt("id"))?;
        if row.balance_after_minor < 0 {
            return Err(corrupt("balance below zero"));
        }
        let account =
            account_of(&row.account_kind, row.account_id).ok_or_else(|| corrupt("account"))?;
        let currency = Currency::from_code(&row.currency).map_err(|_| corrupt("currency"))?;
        let reason = CreditReason::from_parts(&row.reason_kind, &row.reason_text)
            .ok_or_else(|| corrupt("reason"))?;
        let order = row
            .order_id
            .map(|raw| OrderId::new(raw).ok_or_else(|| corrupt("order_id")))
            .transpose()?;
        CreditEntry::from_parts(
            id,
            account,
            Money::from_minor(row.amount_minor, currency),
            reason,
            order,
            Utc.from_utc_datetime(&row.created_at),
        )
        .ok_or_else(|| corrupt("amount"))
    }
}
