//! Activations: inserting an order, replacing the account's active order, numbering the
//! invoice and freezing its snapshot, all inside the caller's one transaction (on
//! PostgreSQL usually a savepoint of a batch, see `super::batched`).
//!
//! Concurrency is held by the database: `orders_one_active_per_account` (one active
//! order per account) turns a lost activation race into a `Conflict`; invoice numbers
//! come from `invoice_counters` bumped with `UPDATE ... RETURNING` inside the
//! activating transaction (a row lock on PostgreSQL, the write lock on SQLite), so they
//! are gapless and never reused; every lifecycle write is conditional. In a PostgreSQL
//! batch the activation writes a placeholder and the batch bumps the counter once for
//! all its activations, just before it commits.

use chrono::{Datelike, NaiveDateTime};
use diesel::pg::PgConnection;
use diesel::prelude::*;
use tariff_domain::audit::{AuditEntry, AuditState, OrderSnapshot};
use tariff_domain::orders::{Activation, NewOrder, OrderStatus};
use tariff_domain::shared::ConflictKind;
use tariff_domain::{AccountRef, RepoError};

use super::batched::{Deferred, Numbering};
use super::queries::{buyer_details, create_invoice_counter};
use super::rows::{to_order, ItemRow, OrderRow};
use super::snapshot::frozen_snapshot;
use super::statements::{
    BumpInvoiceCounter, CancelReplaced, InsertItem, InsertOrder, InsertOrderWithLine, MarkActive,
    NumberAndRecord, NumberInvoice,
};
use crate::audit::{self, NewAuditRow};
use crate::db::{Columns, DbConn};
use crate::errors::DbError;
use crate::literals;
use crate::schema::{order_items, orders};

/// Inserts an order and its lines; returns the new id and the lines as stored. On
/// PostgreSQL an order with one line (a plan's order) takes one statement.
pub(super) fn insert_order(
    c: &mut DbConn<'_>,
    order: &NewOrder,
    status: OrderStatus,
) -> Result<(i64, Vec<ItemRow>), DbError> {
    if let DbConn::Postgres(conn) = c {
        let mut lines = InsertOrder::items(order, 0)?;
        if lines.len() == 1 {
            return insert_order_with_line(conn, order, status, lines.remove(0));
        }
    }
    let id: i64 = c.get_result(InsertOrder::from_new(order, status)?)?;
    let mut lines = Vec::new();
    for item in InsertOrder::items(order, id)? {
        lines.push(ItemRow::from(&item));
        c.execute(item)?;
    }
    Ok((id, lines))
}

/// PostgreSQL: an order and its one line in one statement.
fn insert_order_with_line(
    conn: &mut PgConnection,
    order: &NewOrder,
    status: OrderStatus,
    line: InsertItem,
) -> Result<(i64, Vec<ItemRow>), DbError> {
    let mut stored = ItemRow::from(&line);
    let id: i64 = InsertOrderWithLine {
        order: InsertOrder::from_new(order, status)?,
        line,
    }
    .get_result(conn)?;
    stored.order_id = id;
    Ok((id, vec![stored]))
}

/// Activates pending order `id`: replaces the account's active order, numbers the
/// invoice (now, or by the batch: see `numbering`) and freezes the snapshot. The caller
/// records the audit entry, from the order as committed. Returns the ids of the orders
/// it replaced.
pub(crate) fn activate(
    c: &mut DbConn<'_>,
    id: i64,
    activation: &Activation,
    numbering: Numbering<'_>,
) -> Result<Vec<i64>, DbError> {
    let (kind, account_id, status, numbered): (String, i64, String, Option<i64>) =
        c.get_result(orders::table.find(id).select((
            orders::account_kind,
            orders::account_id,
            orders::status,
            orders::invoice_seq,
        )))?;
    if status != OrderStatus::Pending.as_str() {
        return Err(DbError::Repo(RepoError::Conflict(
            ConflictKind::ChangedMeanwhile,
        )));
    }
    let account = AccountRef::from_parts(&kind, account_id).ok_or_else(|| {
        DbError::Repo(RepoError::internal(format!(
            "order {id} has a corrupt account"
        )))
    })?;
    let at = activation.activated_at.naive_utc();
    // The previous active order is cancelled first, so the unique index admits the new
    // one.
    let replaced = replace_active(c, account, Some(id), id, at)?;
    let active = mark_active(c, id, activation)?;
    if numbered.is_none() {
        // Everything that needs no lock comes first: the counter row is the one hot row
        // every activation of the year serialises on (PostgreSQL holds its lock until
        // commit), so it is taken as late as possible.
        let snapshot = frozen_snapshot(buyer_details(c, account)?, activation)?;
        number_and_record(c, active, &[], snapshot, activation, None, numbering)?;
    }
    Ok(replaced.iter().map(|(row, _)| row.id).collect())
}

/// Stores `order` and makes it the account's active order in one pass, recording
/// `audit` with the replaced order as "before"; returns the order as stored, with its
/// lines (with a placeholder for the number when `numbering` leaves it to the batch),
/// and the ids of the orders it replaced.
pub(super) fn create_active(
    c: &mut DbConn<'_>,
    order: &NewOrder,
    activation: &Activation,
    audit: Option<&AuditEntry>,
    numbering: Numbering<'_>,
) -> Result<(OrderRow, Vec<ItemRow>, Vec<i64>), DbError> {
    let account = order.account();
    let at = activation.activated_at.naive_utc();
    let (id, items) = insert_order(c, order, OrderStatus::Pending)?;
    let replaced = replace_active(c, account, Some(id), id, at)?;
    let replaced_ids = replaced.iter().map(|(row, _)| row.id).collect();
    let before = match (audit, replaced.into_iter().next_back()) {
        (Some(_), Some((previous, lines))) => to_order(previous, lines)
            .map_err(DbError::Repo)?
            .audit_state()
            .into(),
        _ => AuditState::Absent,
    };
    // Activate before numbering: waiting on the one-active-order index (for a
    // concurrent activation of the same account) must never happen while holding the
    // counter's lock, or two activations can deadlock.
    let active = mark_active(c, id, activation)?;
    let snapshot = frozen_snapshot(buyer_details(c, account)?, activation)?;
    // Last: the counter row's lock is held until commit (see `activate`).
    let audit = audit.map(|entry| entry.clone().with_before(before));
    let row = number_and_record(c, active, &items, snapshot, activation, audit, numbering)?;
    Ok((row, items, replaced_ids))
}

/// Cancels the account's active orders other than `except` with the note "replaced by
/// order #`by`"; returns them as they were before, with their lines.
fn replace_active(
    c: &mut DbConn<'_>,
    account: AccountRef,
    except: Option<i64>,
    by: i64,
    at: NaiveDateTime,
) -> Result<Vec<(OrderRow, Vec<ItemRow>)>, DbError> {
    // With their lines in the same query: one round trip fewer on PostgreSQL.
    let joined: Vec<(OrderRow, Option<ItemRow>)> = c.load(
        orders::table
            .left_join(order_items::table)
            .filter(orders::account_kind.eq(account.kind()))
            .filter(orders::account_id.eq(account.raw_id()))
            .filter(orders::status.eq(literals::Active))
            .filter(orders::id.ne(except.unwrap_or(0)))
            .order((orders::id.asc(), order_items::position.asc()))
            .select((OrderRow::columns(), ItemRow::columns().nullable())),
    )?;
    let mut previous: Vec<(OrderRow, Vec<ItemRow>)> = Vec::new();
    for (row, item) in joined {
        match previous.last_mut() {
            Some((last, lines)) if last.id == row.id => lines.extend(item),
            _ => previous.push((row, item.into_iter().collect())),
        }
    }
    for (row, _) in &previous {
        let note = format!("replaced by order #{by}");
        let notes = match row.notes.as_deref().filter(|n| !n.trim().is_empty()) {
            Some(existing) => format!("{existing}\n{note}"),
            None => note,
        };
        c.execute(CancelReplaced {
            id: row.id,
            status: OrderStatus::Cancelled.as_str(),
            cancelled_at: at,
            notes,
        })?;
    }
    Ok(previous)
}

/// Moves pending order `id` to active with the activation's dates and reference;
/// returns its row, or `Conflict` when it is no longer pending.
fn mark_active(c: &mut DbConn<'_>, id: i64, activation: &Activation) -> Result<OrderRow, DbError> {
    c.get_result(MarkActive {
        id,
        status: OrderStatus::Active.as_str(),
        activated_at: activation.activated_at.naive_utc(),
        expires_at: activation.expires_at.naive_utc(),
        payment_reference: activation.payment_reference.clone(),
    })
    .optional()?
    .ok_or(DbError::Repo(RepoError::Conflict(
        ConflictKind::ChangedMeanwhile,
    )))
}

/// Numbers a just-activated order (`active` is its row) and records `audit` with the
/// order as numbered (`items`, its lines, are read only for that); returns the numbered
/// row. The year's counter is locked here, so this comes last. Both activations (a new
/// order, a paid pending one) number through it. In a batch the number is a placeholder
/// until the batch numbers it, and the counter is not touched here.
fn number_and_record(
    c: &mut DbConn<'_>,
    active: OrderRow,
    items: &[ItemRow],
    snapshot: String,
    activation: &Activation,
    audit: Option<AuditEntry>,
    numbering: Numbering<'_>,
) -> Result<OrderRow, DbError> {
    if let Numbering::Batched(deferred) = numbering {
        return number_later(c, deferred, active, items, snapshot, activation, audit);
    }
    match c {
        DbConn::Postgres(conn) => {
            number_and_record_at_once(conn, active, items, snapshot, activation, audit)
        }
        DbConn::Sqlite(_) => {
            number_and_record_stepwise(c, active, items, snapshot, activation, audit)
        }
    }
}

/// Writes a placeholder where the order's number goes (see `super::batched`) and records
/// the audit entry with it; the batch writes the number over both before it commits.
fn number_later(
    c: &mut DbConn<'_>,
    deferred: &Deferred,
    active: OrderRow,
    items: &[ItemRow],
    snapshot: String,
    activation: &Activation,
    audit: Option<AuditEntry>,
) -> Result<OrderRow, DbError> {
    let year = activation.activated_at.year();
    let token = deferred.defer(active.id, year, &activation.numbering);
    let number = NumberInvoice {
        id: active.id,
        year,
        // Unique among placeholders, and never a real sequence number.
        seq: -active.id,
        number: token,
        snapshot,
    };
    write_number_and_record(c, number, items, audit)
}

/// Numbers an order in two statements (take the sequence, then write the number) and
/// records the audit entry in a third.
fn number_and_record_stepwise(
    c: &mut DbConn<'_>,
    active: OrderRow,
    items: &[ItemRow],
    snapshot: String,
    activation: &Activation,
    audit: Option<AuditEntry>,
) -> Result<OrderRow, DbError> {
    let year = activation.activated_at.year();
    let seq = next_invoice_seq(c, year)?;
    let number = NumberInvoice {
        id: active.id,
        year,
        seq,
        number: activation.numbering.render(year, seq),
        snapshot,
    };
    write_number_and_record(c, number, items, audit)
}

/// Writes `number` (a real one or a placeholder) and records `audit` with the numbered
/// order as its "after"; the numbered row.
fn write_number_and_record(
    c: &mut DbConn<'_>,
    number: NumberInvoice,
    items: &[ItemRow],
    audit: Option<AuditEntry>,
) -> Result<OrderRow, DbError> {
    let row: OrderRow = c.get_result(number)?;
    if let Some(entry) = audit {
        let numbered = to_order(row.clone(), items.to_vec()).map_err(DbError::Repo)?;
        audit::record(c, Some(&entry.with_after(numbered.audit_state())))?;
    }
    Ok(row)
}

/// The next gapless invoice number of `year`: locks the year's counter row until
/// commit, so call it as late in the transaction as possible.
fn next_invoice_seq(c: &mut DbConn<'_>, year: i32) -> Result<i64, DbError> {
    let bump = || BumpInvoiceCounter { year };
    // The year's row exists after its first invoice: one statement, mostly.
    if let Some(seq) = c.get_result(bump()).optional()? {
        return Ok(seq);
    }
    create_invoice_counter(c, year)?;
    Ok(c.get_result(bump())?)
}

/// PostgreSQL: [`NumberAndRecord`] when the number format has one sequence number, else
/// [`number_and_record_stepwise`].
fn number_and_record_at_once(
    conn: &mut PgConnection,
    active: OrderRow,
    items: &[ItemRow],
    snapshot: String,
    activation: &Activation,
    audit: Option<AuditEntry>,
) -> Result<OrderRow, DbError> {
    let year = activation.activated_at.year();
    let Some(slot) = activation.numbering.around_seq(year) else {
        let c = &mut DbConn::Postgres(conn);
        return number_and_record_stepwise(c, active, items, snapshot, activation, audit);
    };
    let id = active.id;
    let entry = match audit {
        Some(entry) => {
            // The order as it will be numbered, but for the number, which only the
            // statement knows: it sets the snapshot's `invoiceNumber` there.
            let mut numbered = active;
            numbered.invoice_year = Some(year);
            numbered.invoice_seq = Some(0);
            numbered.invoice_number = Some(String::new());
            numbered.invoice_snapshot = Some(snapshot.clone());
            let mut after = to_order(numbered, items.to_vec())
                .map_err(DbError::Repo)?
                .audit_state();
            after.invoice_number = None;
            Some(NewAuditRow::from_entry(&entry.with_after(after))?)
        }
        None => None,
    };
    let statement = || NumberAndRecord {
        id,
        year,
        before: slot.before.clone(),
        width: i32::try_from(slot.width).unwrap_or(0),
        after: slot.after.clone(),
        snapshot: snapshot.clone(),
        with_audit: entry.is_some(),
        actor_user_id: entry.as_ref().and_then(|e| e.actor_user_id),
        action: entry.as_ref().map_or("", |e| e.action),
        target_kind: entry.as_ref().map_or("", |e| e.target_kind),
        target_id: entry.as_ref().and_then(|e| e.target_id),
        before_state: entry.as_ref().and_then(|e| e.before_state.clone()),
        // Without an entry nothing is inserted, but the statement still parses (and
        // may fold) its JSON: an empty object keeps it valid.
        after_state: entry
            .as_ref()
            .and_then(|e| e.after_state.clone())
            .unwrap_or_else(|| "{}".to_owned()),
        number_field: OrderSnapshot::INVOICE_NUMBER_FIELD,
        created_at: entry
            .as_ref()
            .map_or(activation.activated_at.naive_utc(), |e| e.created_at),
    };
    if let Some(row) = statement().get_result(conn).optional()? {
        return Ok(row);
    }
    // The year's first invoice: create its counter, then number.
    create_invoice_counter(&mut DbConn::Postgres(conn), year)?;
    Ok(statement().get_result(conn)?)
}
