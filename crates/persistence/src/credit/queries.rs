//! The ledger's statements. [`append`] is crate-visible so that the order write path
//! appends the credit an order uses (or gives back) inside the order's transaction.
//!
//! "Never below zero, also under concurrency" is held by the database: every append
//! first serialises on the account (PostgreSQL: its `users` or `organisations` row
//! locked `FOR NO KEY UPDATE` until commit; SQLite: the one writer, which the write
//! transaction holds), then reads the running balance (the latest entry's
//! `balance_after_minor`, itself the sum of the entries up to it) and writes the new
//! entry with `balance_after_minor = balance + amount`, which `CHECK
//! (balance_after_minor >= 0)` refuses below zero. Entries are never updated.

use diesel::prelude::*;
use tariff_domain::billing::{check_balance_change, CreditEntry, NewCreditEntry};
use tariff_domain::shared::ConflictKind;
use tariff_domain::{AccountRef, Currency, Money, RepoError};

use super::rows::CreditEntryRow;
use crate::db::{Columns, DbConn};
use crate::errors::DbError;
use crate::schema::{credit_entries, organisations, users};

/// Whether the account exists; on PostgreSQL its row is also locked until the
/// transaction ends, so that appends for one account take turns.
pub(crate) fn lock_account(c: &mut DbConn<'_>, account: AccountRef) -> QueryResult<bool> {
    let found: Option<i64> = match (account, &mut *c) {
        (AccountRef::User(id), DbConn::Postgres(conn)) => users::table
            .find(id.get())
            .select(users::id)
            .for_no_key_update()
            .get_result(&mut **conn)
            .optional()?,
        (AccountRef::Org(id), DbConn::Postgres(conn)) => organisations::table
            .find(id.get())
            .select(organisations::id)
            .for_no_key_update()
            .get_result(&mut **conn)
            .optional()?,
        (AccountRef::User(id), DbConn::Sqlite(_)) => c
            .get_result(users::table.find(id.get()).select(users::id))
            .optional()?,
        (AccountRef::Org(id), DbConn::Sqlite(_)) => c
            .get_result(
                organisations::table
                    .find(id.get())
                    .select(organisations::id),
            )
            .optional()?,
    };
    Ok(found.is_some())
}

pub(super) fn account_exists(c: &mut DbConn<'_>, account: AccountRef) -> QueryResult<bool> {
    let found: Option<i64> = match account {
        AccountRef::User(id) => c
            .get_result(users::table.find(id.get()).select(users::id))
            .optional()?,
        AccountRef::Org(id) => c
            .get_result(
                organisations::table
                    .find(id.get())
                    .select(organisations::id),
            )
            .optional()?,
    };
    Ok(found.is_some())
}

/// The running balance in `currency`: the latest entry's `balance_after_minor`, 0
/// without entries.
pub(super) fn balance(
    c: &mut DbConn<'_>,
    account: AccountRef,
    currency: Currency,
) -> QueryResult<Money> {
    let latest: Option<i64> = c
        .get_result(
            credit_entries::table
                .filter(credit_entries::account_kind.eq(account.kind()))
                .filter(credit_entries::account_id.eq(account.raw_id()))
                .filter(credit_entries::currency.eq(currency.code()))
                .order(credit_entries::id.desc())
                .select(credit_entries::balance_after_minor)
                .limit(1),
        )
        .optional()?;
    Ok(Money::from_minor(latest.unwrap_or(0), currency))
}

/// Every entry of the account, newest first.
pub(super) fn entries(c: &mut DbConn<'_>, account: AccountRef) -> QueryResult<Vec<CreditEntryRow>> {
    c.load(
        credit_entries::table
            .filter(credit_entries::account_kind.eq(account.kind()))
            .filter(credit_entries::account_id.eq(account.raw_id()))
            .order(credit_entries::id.desc())
            .select(CreditEntryRow::columns()),
    )
}

/// The balance before an append, and the stored entry.
pub(crate) struct Appended {
    pub(crate) before: Money,
    pub(crate) entry: CreditEntry,
    pub(crate) balance_after: Money,
}

/// Appends one entry inside the caller's write transaction, if the balance of its
/// account and currency stays at or above zero. Errors: `Repo(NotFound)` (no such
/// account), `Repo(Conflict(InsufficientBalance))` (nothing written), diesel errors.
/// For the order write path: call it in the order's transaction, after the order
/// insert, with `NewCreditEntry::applied_to_order` (or the entries
/// `credit_to_give_back` computes when the order is released).
pub(crate) fn append(c: &mut DbConn<'_>, entry: &NewCreditEntry) -> Result<Appended, DbError> {
    let account = entry.account();
    let amount = entry.amount();
    if !lock_account(c, account)? {
        return Err(DbError::Repo(RepoError::NotFound));
    }
    let before = balance(c, account, amount.currency())?;
    let after = check_balance_change(before, amount)
        .map_err(|_| DbError::Repo(RepoError::Conflict(ConflictKind::InsufficientBalance)))?;
    let row: CreditEntryRow = c.get_result(
        diesel::insert_into(credit_entries::table)
            .values((
                credit_entries::account_kind.eq(account.kind()),
                credit_entries::account_id.eq(account.raw_id()),
                credit_entries::currency.eq(amount.currency().code()),
                credit_entries::amount_minor.eq(amount.minor()),
                credit_entries::balance_after_minor.eq(after.minor()),
                credit_entries::reason_kind.eq(entry.reason().kind()),
                credit_entries::reason_text.eq(entry.reason().text()),
                credit_entries::order_id.eq(entry.order().map(|id| id.get())),
                credit_entries::created_at.eq(entry.at().naive_utc()),
            ))
            .returning(CreditEntryRow::columns()),
    )?;
    Ok(Appended {
        before,
        entry: CreditEntry::try_from(row)?,
        balance_after: after,
    })
}

/// Every entry written for `order`, oldest first: what the order took from the balance
/// and what was given back, for `credit_to_give_back`.
pub(crate) fn entries_of_order(
    c: &mut DbConn<'_>,
    order: i64,
) -> Result<Vec<CreditEntry>, DbError> {
    let rows: Vec<CreditEntryRow> = c.load(
        credit_entries::table
            .filter(credit_entries::order_id.eq(Some(order)))
            .order(credit_entries::id.asc())
            .select(CreditEntryRow::columns()),
    )?;
    rows.into_iter()
        .map(|row| CreditEntry::try_from(row).map_err(DbError::Repo))
        .collect()
}
