//! Reading orders with their lines, and the lifecycle's conditional writes.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDateTime;
use diesel::prelude::*;
use tariff_domain::orders::{BuyerDetails, NewOrder, Order, OrderStatus};
use tariff_domain::{AccountRef, RepoError};

use super::rows::{buyer_from, to_order, BuyerColumns, ItemRow, OrderRow};
use super::statements::InsertOrder;
use crate::db::{Columns, DbConn};
use crate::errors::DbError;
use crate::literals;
use crate::schema::users;
use crate::schema::{change_shards, invoice_counters, order_items, orders, organisations, plans};

/// Orders with their lines, in the rows' order.
pub(super) fn with_items(c: &mut DbConn<'_>, rows: Vec<OrderRow>) -> Result<Vec<Order>, DbError> {
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let items: Vec<ItemRow> = c.load(
        order_items::table
            .filter(order_items::order_id.eq_any(&ids))
            .order((order_items::order_id.asc(), order_items::position.asc()))
            .select(ItemRow::columns()),
    )?;
    let mut by_order: HashMap<i64, Vec<ItemRow>> = HashMap::new();
    for item in items {
        by_order.entry(item.order_id).or_default().push(item);
    }
    rows.into_iter()
        .map(|row| {
            let lines = by_order.remove(&row.id).unwrap_or_default();
            to_order(row, lines).map_err(DbError::Repo)
        })
        .collect()
}

pub(crate) fn load_order(c: &mut DbConn<'_>, id: i64) -> Result<Order, DbError> {
    let row: OrderRow = c.get_result(orders::table.find(id).select(OrderRow::columns()))?;
    let lines = items_of(c, id)?;
    to_order(row, lines).map_err(DbError::Repo)
}

/// One order's lines, in order (a statement diesel caches, unlike `IN (...)`).
pub(super) fn items_of(c: &mut DbConn<'_>, order_id: i64) -> QueryResult<Vec<ItemRow>> {
    c.load(
        order_items::table
            .filter(order_items::order_id.eq(order_id))
            .order(order_items::position.asc())
            .select(ItemRow::columns()),
    )
}

/// The account's active order, with its lines.
pub(super) fn active_for(
    c: &mut DbConn<'_>,
    account: AccountRef,
) -> Result<Option<Order>, DbError> {
    let row: Option<OrderRow> = c
        .get_result(
            orders::table
                .filter(orders::account_kind.eq(account.kind()))
                .filter(orders::account_id.eq(account.raw_id()))
                .filter(orders::status.eq(literals::Active))
                .select(OrderRow::columns()),
        )
        .optional()?;
    match row {
        Some(row) => Ok(with_items(c, vec![row])?.pop()),
        None => Ok(None),
    }
}

/// The orders of these user and organisation accounts, newest first.
pub(super) fn list_for_accounts(
    c: &mut DbConn<'_>,
    users: Vec<i64>,
    orgs: Vec<i64>,
) -> Result<Vec<Order>, DbError> {
    // Only name the organisation clause when there are organisations: an empty `IN ()`
    // inside the OR makes SQLite scan the whole table instead of searching the account
    // index.
    let users_clause = orders::account_kind
        .eq("user")
        .and(orders::account_id.eq_any(users));
    let query = orders::table
        .select(OrderRow::columns())
        .order(orders::id.desc());
    let rows: Vec<OrderRow> = if orgs.is_empty() {
        c.load(query.filter(users_clause))?
    } else {
        c.load(
            query.filter(
                users_clause.or(orders::account_kind
                    .eq("org")
                    .and(orders::account_id.eq_any(orgs))),
            ),
        )?
    };
    with_items(c, rows)
}

/// The buyer's name and billing address, as the invoice will show them.
pub(super) fn buyer_details(
    c: &mut DbConn<'_>,
    account: AccountRef,
) -> Result<BuyerDetails, DbError> {
    let columns: BuyerColumns = match account {
        AccountRef::User(user) => c.get_result(users::table.find(user.get()).select((
            users::name,
            users::email.nullable(),
            users::company,
            users::address_line1,
            users::address_line2,
            users::city,
            users::postcode,
            users::country,
            users::tax_id,
        )))?,
        AccountRef::Org(org) => c.get_result(organisations::table.find(org.get()).select((
            organisations::name,
            None::<String>.into_sql::<diesel::sql_types::Nullable<diesel::sql_types::Text>>(),
            organisations::company,
            organisations::address_line1,
            organisations::address_line2,
            organisations::city,
            organisations::postcode,
            organisations::country,
            organisations::tax_id,
        )))?,
    };
    Ok(buyer_from(columns)?)
}

/// Moves order `id` from `from` to `to` (stamping `cancelled_at` when given); returns
/// how many rows changed (0 when it was not `from`).
pub(super) fn change_status(
    c: &mut DbConn<'_>,
    id: i64,
    from: OrderStatus,
    to: OrderStatus,
    cancelled_at: Option<NaiveDateTime>,
) -> QueryResult<usize> {
    let target = orders::table
        .filter(orders::id.eq(id))
        .filter(orders::status.eq(from.as_str()));
    match cancelled_at {
        Some(when) => c.execute(diesel::update(target).set((
            orders::status.eq(to.as_str()),
            orders::cancelled_at.eq(when),
        ))),
        None => c.execute(diesel::update(target).set(orders::status.eq(to.as_str()))),
    }
}

/// The year's counter row at 0, unless it exists (its first invoice).
pub(super) fn create_invoice_counter(c: &mut DbConn<'_>, year: i32) -> QueryResult<()> {
    c.execute(
        diesel::insert_into(invoice_counters::table)
            .values((
                invoice_counters::year.eq(year),
                invoice_counters::last_seq.eq(0_i64),
            ))
            .on_conflict_do_nothing(),
    )?;
    Ok(())
}

/// The 64 change shards and their versions.
pub(super) fn shard_versions(c: &mut DbConn<'_>) -> QueryResult<Vec<(i32, i64)>> {
    c.load(change_shards::table.select((change_shards::shard, change_shards::version)))
}

/// Inserts a pending renewal unless its predecessor already has one or is no longer
/// active; the new id, or `None`.
pub(super) fn insert_renewal_if_absent(
    c: &mut DbConn<'_>,
    order: &NewOrder,
) -> Result<Option<i64>, DbError> {
    let Some(previous) = order.renewal_of() else {
        return Err(DbError::Repo(RepoError::internal(
            "a renewal needs its predecessor",
        )));
    };
    let still_active: i64 = c.get_result(
        orders::table
            .filter(orders::id.eq(previous.get()))
            .filter(orders::status.eq(literals::Active))
            .count(),
    )?;
    if still_active == 0 {
        return Ok(None);
    }
    // `orders_one_renewal` makes a second renewal a no-op, also when another instance
    // inserts at the same moment.
    let id: Option<i64> = c
        .get_result(
            diesel::insert_into(orders::table)
                .values(InsertOrder::from_new(order, OrderStatus::Pending)?)
                .on_conflict_do_nothing()
                .returning(orders::id),
        )
        .optional()?;
    if let Some(id) = id {
        for item in InsertOrder::items(order, id)? {
            c.execute(item)?;
        }
    }
    Ok(id)
}

/// Paid active orders expiring by `horizon` that have no renewal yet, with their lines:
/// every chunk of [`renewal_candidates_after`] at once.
pub(super) fn renewal_candidates(
    c: &mut DbConn<'_>,
    horizon: NaiveDateTime,
) -> Result<Vec<Order>, DbError> {
    renewal_candidates_after(c, horizon, 0, i64::MAX)
}

/// The renewal candidates with an id above `after`, at most `limit`, in id order. Orders
/// renewed already are left out before the limit counts (the scan goes on past them),
/// so fewer than `limit` means there are no more.
pub(super) fn renewal_candidates_after(
    c: &mut DbConn<'_>,
    horizon: NaiveDateTime,
    after: i64,
    limit: i64,
) -> Result<Vec<Order>, DbError> {
    let wanted = usize::try_from(limit).unwrap_or(0);
    let mut found = Vec::new();
    let mut cursor = after;
    while found.len() < wanted {
        let rows: Vec<OrderRow> = c.load(
            orders::table
                .inner_join(plans::table)
                .filter(orders::status.eq(literals::Active))
                .filter(orders::expires_at.le(horizon))
                .filter(plans::price_monthly_minor.gt(0_i64))
                .filter(orders::id.gt(cursor))
                .order(orders::id.asc())
                .limit(limit)
                .select(OrderRow::columns()),
        )?;
        let Some(last) = rows.last().map(|row| row.id) else {
            break;
        };
        let scanned_all = rows.len() < wanted;
        cursor = last;
        found.extend(not_renewed_with_items(c, rows)?);
        if scanned_all {
            break;
        }
    }
    // In id order, so the next chunk (after the last one kept) finds what is cut here.
    found.truncate(wanted);
    Ok(found)
}

fn not_renewed_with_items(c: &mut DbConn<'_>, rows: Vec<OrderRow>) -> Result<Vec<Order>, DbError> {
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let renewed: Vec<Option<i64>> = c.load(
        orders::table
            .filter(orders::renewal_of.eq_any(&ids))
            .select(orders::renewal_of),
    )?;
    let renewed: HashSet<i64> = renewed.into_iter().flatten().collect();
    let rows = rows
        .into_iter()
        .filter(|r| !renewed.contains(&r.id))
        .collect();
    with_items(c, rows)
}

/// Free active orders that have expired by `now`, with their lines.
pub(super) fn free_orders_due(
    c: &mut DbConn<'_>,
    now: NaiveDateTime,
) -> Result<Vec<Order>, DbError> {
    let rows: Vec<OrderRow> = c.load(
        orders::table
            .inner_join(plans::table)
            .filter(orders::status.eq(literals::Active))
            .filter(orders::expires_at.le(now))
            .filter(plans::price_monthly_minor.eq(0_i64))
            .order(orders::id.asc())
            .select(OrderRow::columns()),
    )?;
    with_items(c, rows)
}

/// Moves active order `id` from expiring at `current` to `new`; whether it did.
pub(super) fn extend(
    c: &mut DbConn<'_>,
    id: i64,
    current: NaiveDateTime,
    new: NaiveDateTime,
) -> QueryResult<bool> {
    let changed = c.execute(
        diesel::update(
            orders::table
                .filter(orders::id.eq(id))
                .filter(orders::status.eq(literals::Active))
                .filter(orders::expires_at.eq(current)),
        )
        .set(orders::expires_at.eq(new)),
    )?;
    Ok(changed == 1)
}

/// Expires paid active orders past `now` that are not past due; returns how many.
pub(super) fn expire_active(c: &mut DbConn<'_>, now: NaiveDateTime) -> QueryResult<u64> {
    expire_active_rows(c, now, false)
}

/// Expires paid active orders past `now` (`past_due`: only those marked past due, else
/// only those not marked); returns how many.
pub(super) fn expire_active_rows(
    c: &mut DbConn<'_>,
    now: NaiveDateTime,
    past_due: bool,
) -> QueryResult<u64> {
    let due = active_due(c, now, past_due)?;
    // One conditional single-row statement each: a concurrent sweep or activation can
    // never hold one row while waiting for another (no deadlock), and a row changed
    // meanwhile is simply skipped.
    let mut changed = 0_u64;
    for id in due {
        changed += expire_one(c, id, now, past_due)? as u64;
    }
    Ok(changed)
}

/// Paid active orders whose period ended by `now`, past due or not as `past_due` says.
pub(super) fn active_due(
    c: &mut DbConn<'_>,
    now: NaiveDateTime,
    past_due: bool,
) -> QueryResult<Vec<i64>> {
    let paid_plans = plans::table
        .filter(plans::price_monthly_minor.gt(0_i64))
        .select(plans::id);
    let query = orders::table
        .filter(orders::status.eq(literals::Active))
        .filter(orders::expires_at.le(now))
        .filter(orders::plan_id.eq_any(paid_plans))
        .order(orders::id.asc())
        .select(orders::id);
    if past_due {
        c.load(query.filter(orders::past_due_at.is_not_null()))
    } else {
        c.load(query.filter(orders::past_due_at.is_null()))
    }
}

/// Expires order `id` if it is still active, ended by `now` and past due or not as
/// `past_due` says; the number of rows changed.
pub(super) fn expire_one(
    c: &mut DbConn<'_>,
    id: i64,
    now: NaiveDateTime,
    past_due: bool,
) -> QueryResult<usize> {
    let target = orders::table
        .filter(orders::id.eq(id))
        .filter(orders::status.eq(literals::Active))
        .filter(orders::expires_at.le(now));
    let expired = orders::status.eq(OrderStatus::Expired.as_str());
    if past_due {
        c.execute(diesel::update(target.filter(orders::past_due_at.is_not_null())).set(expired))
    } else {
        c.execute(diesel::update(target.filter(orders::past_due_at.is_null())).set(expired))
    }
}

/// Expires pending orders created by `before`; returns how many.
pub(super) fn expire_pending(
    c: &mut DbConn<'_>,
    events: Option<&dyn tariff_domain::webhooks::EventPayloads>,
    before: NaiveDateTime,
) -> Result<u64, DbError> {
    let stale: Vec<(i64, Option<i64>)> = c.load(
        orders::table
            .filter(orders::status.eq(literals::Pending))
            .filter(orders::created_at.le(before))
            .order(orders::id.asc())
            .select((orders::id, orders::renewal_of)),
    )?;
    // A renewal whose renewed order still runs (past due, in its grace time) can still
    // be paid: it expires with that order, not before.
    let renewed: Vec<i64> = stale.iter().filter_map(|(_, of)| *of).collect();
    let running: HashSet<i64> = if renewed.is_empty() {
        HashSet::new()
    } else {
        let ids: Vec<i64> = c.load(
            orders::table
                .filter(orders::id.eq_any(&renewed))
                .filter(orders::status.eq(literals::Active))
                .select(orders::id),
        )?;
        ids.into_iter().collect()
    };
    let stale = stale
        .into_iter()
        .filter(|(_, of)| !of.is_some_and(|of| running.contains(&of)))
        .map(|(id, _)| id);
    let mut changed = 0_u64;
    for id in stale {
        // Each in its own transaction with the give-back of its coupon and credit.
        changed += c.write_transaction(|c| {
            let Some(order) = super::placement::lock_pending(c, id)? else {
                return Ok(0_u64);
            };
            let expired = c.execute(
                diesel::update(
                    orders::table
                        .filter(orders::id.eq(id))
                        .filter(orders::status.eq(literals::Pending)),
                )
                .set(orders::status.eq(OrderStatus::Expired.as_str())),
            )?;
            if expired > 0 {
                super::placement::give_back(c, &order, chrono::Utc::now().naive_utc(), None)?;
                if events.is_some() {
                    let expired_order = load_order(c, id)?;
                    super::events::transitioned(c, events, OrderStatus::Pending, &expired_order)?;
                }
            }
            Ok(expired as u64)
        })?;
    }
    Ok(changed)
}

/// The account order `id` belongs to.
pub(crate) fn account_of(c: &mut DbConn<'_>, id: i64) -> Result<AccountRef, DbError> {
    let (kind, account_id): (String, i64) = c.get_result(
        orders::table
            .find(id)
            .select((orders::account_kind, orders::account_id)),
    )?;
    AccountRef::from_parts(&kind, account_id).ok_or_else(|| {
        DbError::Repo(RepoError::internal(format!(
            "order {id} has a corrupt account"
        )))
    })
}
