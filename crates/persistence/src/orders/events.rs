//! The order events (`order.*`, `invoice.issued`, `account.plan_changed`), stored by the
//! order writes inside their own transactions (see `crate::webhooks::store_event`). Each
//! write calls one of these helpers; with no payloads (a repository built without
//! events) they do nothing.
//!
//! Events are stored in the order things happen within the transaction, so an account's
//! `sequence` follows it: for an activation that replaces a plan, `order.created` (a new
//! order), `order.cancelled` (the replaced order), `order.activated`, `invoice.issued`
//! (when the activation issued the number), then `account.plan_changed`.

use chrono::{NaiveDateTime, Utc};
use diesel::prelude::*;
use tariff_domain::orders::{Order, OrderStatus};
use tariff_domain::webhooks::{payloads, EventDraft, EventPayloads, EventType};
use tariff_domain::{AccountRef, Plan, RepoError};

use super::queries::{active_for, load_order};
use crate::db::{Columns, DbConn};
use crate::errors::DbError;
use crate::literals;
use crate::plans::PlanRow;
use crate::schema::plans;
use crate::webhooks::{store_event, store_events};

/// What an activation needs to know from before it: whether its order is new, and
/// whether it already had an invoice number.
pub(crate) struct BeforeActivation {
    new_order: bool,
    numbered: bool,
}

/// Reads, inside the activation's transaction and before it writes, what
/// [`activated`] needs: for a stored pending order (`pending`), whether it was
/// numbered; `None` for a new order. `None` when events are off.
pub(crate) fn before_activation(
    c: &mut DbConn<'_>,
    events: Option<&dyn EventPayloads>,
    pending: Option<i64>,
) -> Result<Option<BeforeActivation>, DbError> {
    if events.is_none() {
        return Ok(None);
    }
    let numbered = match pending {
        Some(id) => load_order(c, id)?.invoice_number().is_some(),
        None => false,
    };
    Ok(Some(BeforeActivation {
        new_order: pending.is_none(),
        numbered,
    }))
}

/// The events of an activation of order `id`, which replaced the orders `replaced` (see
/// the module docs for their order).
pub(crate) fn activated(
    c: &mut DbConn<'_>,
    events: Option<&dyn EventPayloads>,
    before: Option<BeforeActivation>,
    id: i64,
    replaced: &[i64],
) -> Result<(), DbError> {
    let (Some(events), Some(before)) = (events, before) else {
        return Ok(());
    };
    let order = load_order(c, id)?;
    let plan = load_plan(c, &order)?;
    let account = order.account();
    let data = events.order(&order, &plan);
    // Stored together (one sequence statement, one read of the endpoints), in the order
    // the module docs give.
    let mut drafts = Vec::with_capacity(5);
    if before.new_order {
        drafts.push(draft(EventType::OrderCreated, Some(account), data.clone())?);
    }
    for &replaced in replaced {
        let replaced = load_order(c, replaced)?;
        let replaced_plan = if replaced.plan_id() == order.plan_id() {
            plan.clone()
        } else {
            load_plan(c, &replaced)?
        };
        let data = events.order(&replaced, &replaced_plan);
        drafts.push(draft(EventType::OrderCancelled, Some(account), data)?);
    }
    drafts.push(draft(
        EventType::OrderActivated,
        Some(account),
        data.clone(),
    )?);
    if let Some(number) = order.invoice_number().filter(|_| !before.numbered) {
        let issued = payloads::invoice_issued(number, data.clone());
        drafts.push(draft(EventType::InvoiceIssued, Some(account), issued)?);
    }
    let effective = match active_for(c, account)? {
        Some(active) if active.id() == order.id() => Some((plan, data)),
        Some(active) => {
            let active_plan = load_plan(c, &active)?;
            let json = events.order(&active, &active_plan);
            Some((active_plan, json))
        }
        None => None,
    };
    drafts.push(plan_changed_draft(c, events, account, effective)?);
    store_events(c, drafts, Utc::now())?;
    Ok(())
}

/// `order.created` for a stored pending order.
pub(super) fn created(
    c: &mut DbConn<'_>,
    events: Option<&dyn EventPayloads>,
    id: i64,
) -> Result<(), DbError> {
    let Some(events) = events else {
        return Ok(());
    };
    let order = load_order(c, id)?;
    order_event(c, events, EventType::OrderCreated, &order)
}

/// The events of a status change from `from` to `after`'s status: `order.cancelled` or
/// `order.expired`, then `account.plan_changed` when the order was the active one (the
/// account falls back to the default plan).
pub(crate) fn transitioned(
    c: &mut DbConn<'_>,
    events: Option<&dyn EventPayloads>,
    from: OrderStatus,
    after: &Order,
) -> Result<(), DbError> {
    let Some(events) = events else {
        return Ok(());
    };
    let event = match after.status() {
        OrderStatus::Cancelled => EventType::OrderCancelled,
        OrderStatus::Expired => EventType::OrderExpired,
        OrderStatus::Active => EventType::OrderActivated,
        _ => return Ok(()),
    };
    order_event(c, events, event, after)?;
    if (from == OrderStatus::Active) != (after.status() == OrderStatus::Active) {
        plan_changed(c, events, after.account())?;
    }
    Ok(())
}

/// `order.renewal_created` for the just-stored renewal `id`; hands the order back.
pub(super) fn renewal_created(
    c: &mut DbConn<'_>,
    events: Option<&dyn EventPayloads>,
    id: i64,
) -> Result<Order, DbError> {
    let renewal = load_order(c, id)?;
    if let Some(events) = events {
        order_event(c, events, EventType::OrderRenewalCreated, &renewal)?;
    }
    Ok(renewal)
}

/// Expires paid active orders past `now` (`past_due`: only those marked past due, else
/// only those not marked), each in a transaction of its own with its `order.expired`
/// and `account.plan_changed`; returns how many. The same rows and the same
/// conditional statement as the sweep without events.
pub(super) fn expire_active(
    c: &mut DbConn<'_>,
    events: &dyn EventPayloads,
    now: NaiveDateTime,
    past_due: bool,
) -> Result<u64, DbError> {
    let due = super::queries::active_due(c, now, past_due)?;
    let mut changed = 0_u64;
    for id in due {
        changed += c.write_transaction(|c| {
            let expired = super::queries::expire_one(c, id, now, past_due)?;
            if expired == 1 {
                let order = load_order(c, id)?;
                transitioned(c, Some(events), OrderStatus::Active, &order)?;
            }
            Ok(expired as u64)
        })?;
    }
    Ok(changed)
}

/// `order.past_due` for the just-marked order.
pub(super) fn past_due(
    c: &mut DbConn<'_>,
    events: &dyn EventPayloads,
    order: &Order,
) -> Result<(), DbError> {
    order_event(c, events, EventType::OrderPastDue, order)
}

/// `account.plan_changed` with the account's effective plan as it is now in the
/// transaction: its active order's plan, else the default plan.
pub(super) fn plan_changed(
    c: &mut DbConn<'_>,
    events: &dyn EventPayloads,
    account: AccountRef,
) -> Result<(), DbError> {
    let effective = match active_for(c, account)? {
        Some(order) => {
            let plan = load_plan(c, &order)?;
            let json = events.order(&order, &plan);
            Some((plan, json))
        }
        None => None,
    };
    let draft = plan_changed_draft(c, events, account, effective)?;
    store_event(c, draft, Utc::now())?;
    Ok(())
}

/// The `account.plan_changed` event of `account`, whose active order (its plan and
/// payload) is `effective`; without one, the account is on the default plan.
fn plan_changed_draft(
    c: &mut DbConn<'_>,
    events: &dyn EventPayloads,
    account: AccountRef,
    effective: Option<(Plan, serde_json::Value)>,
) -> Result<EventDraft, DbError> {
    let (plan, order) = match effective {
        Some((plan, json)) => (Some(plan), Some(json)),
        None => (default_plan(c)?, None),
    };
    let limits = plan.as_ref().map(|p| *p.limits()).unwrap_or_default();
    let data = payloads::plan_changed(
        plan.as_ref().map(|p| events.plan(p)),
        events.limits(&limits),
        order,
    );
    draft(EventType::AccountPlanChanged, Some(account), data)
}

/// An `order.*` event with `order` as its data.
fn order_event(
    c: &mut DbConn<'_>,
    events: &dyn EventPayloads,
    event: EventType,
    order: &Order,
) -> Result<(), DbError> {
    let plan = load_plan(c, order)?;
    emit(c, event, Some(order.account()), events.order(order, &plan))
}

fn emit(
    c: &mut DbConn<'_>,
    event: EventType,
    account: Option<AccountRef>,
    data: serde_json::Value,
) -> Result<(), DbError> {
    store_event(c, draft(event, account, data)?, Utc::now())?;
    Ok(())
}

fn draft(
    event: EventType,
    account: Option<AccountRef>,
    data: serde_json::Value,
) -> Result<EventDraft, DbError> {
    Ok(EventDraft::new(event, account, data).map_err(|e| RepoError::internal(e.to_string()))?)
}

fn load_plan(c: &mut DbConn<'_>, order: &Order) -> Result<Plan, DbError> {
    let row: PlanRow = c.get_result(
        plans::table
            .find(order.plan_id().get())
            .select(PlanRow::columns()),
    )?;
    Ok(Plan::try_from(row)?)
}

fn default_plan(c: &mut DbConn<'_>) -> Result<Option<Plan>, DbError> {
    let row: Option<PlanRow> = c
        .get_result(
            plans::table
                .filter(plans::is_default.eq(literals::True))
                .select(PlanRow::columns()),
        )
        .optional()?;
    Ok(row.map(Plan::try_from).transpose()?)
}
