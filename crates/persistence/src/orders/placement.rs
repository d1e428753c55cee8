//! `OrderPlacement` on diesel: an order stored together with the coupon it redeems and
//! the account credit it spends, in one transaction, and both given back in the
//! transaction that cancels or expires the pending order.
//!
//! Lock order, the same on every path that touches an account's credit or coupons: the
//! account's row first (`credit::queries::lock_account`: PostgreSQL locks the `users`
//! or `organisations` row until commit, SQLite's one writer is already alone), then the
//! coupon's row (the conditional update of `coupons::queries::redeem`), then the year's
//! invoice counter (activation). Two transactions never wait on each other in the
//! opposite order, so they cannot deadlock.

use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use tariff_domain::audit::{
    Actor, AuditAction, AuditEntry, CouponRedemptionSnapshot, CreditBalanceSnapshot,
    CreditEntrySnapshot, TargetKind,
};
use tariff_domain::billing::{
    credit_to_give_back, NewCreditEntry, OrderPlacement, PlacementError, PlacementExtras,
    RejectionReason, ScheduledChange,
};
use tariff_domain::orders::{NewOrder, Order, OrderStatus};
use tariff_domain::shared::ConflictKind;
use tariff_domain::webhooks::EventPayloads;
use tariff_domain::{OrderId, RepoError};

use super::activation::{activate, insert_order};
use super::queries::load_order;
use super::repository::DieselOrderRepository;
use crate::audit;
use crate::coupons::queries as coupons;
use crate::credit::queries as credit;
use crate::db::DbConn;
use crate::errors::DbError;
use crate::schema::orders;

#[async_trait]
impl OrderPlacement for DieselOrderRepository {
    async fn place(
        &self,
        order: NewOrder,
        extras: PlacementExtras,
    ) -> Result<Order, PlacementError> {
        // A coupon refused at write time rolls the transaction back through an error;
        // its reason travels beside it.
        let refusal: Arc<Mutex<Option<RejectionReason>>> = Arc::default();
        let seen = Arc::clone(&refusal);
        let events = self.events();
        let placed = self
            .db()
            .write(move |conn| {
                conn.write_transaction(|c| place_in(c, &order, &extras, &seen, events.as_deref()))
            })
            .await;
        let reason = *refusal.lock().unwrap_or_else(PoisonError::into_inner);
        match (placed, reason) {
            (Ok(order), _) => Ok(order),
            (Err(_), Some(reason)) => Err(PlacementError::Coupon(reason)),
            (Err(RepoError::Conflict(ConflictKind::InsufficientBalance)), None) => {
                Err(PlacementError::CreditUnavailable)
            }
            (Err(other), None) => Err(PlacementError::Repo(other)),
        }
    }

    async fn release(&self, order: OrderId, at: DateTime<Utc>) -> Result<(), RepoError> {
        self.db()
            .write(move |conn| {
                conn.write_transaction(|c| {
                    let stored = load_order(c, order.get())?;
                    if !credit::lock_account(c, stored.account())? {
                        return Err(DbError::Repo(RepoError::NotFound));
                    }
                    give_back(c, &stored, at.naive_utc(), None)
                })
            })
            .await
    }

    async fn schedule_change(
        &self,
        order: OrderId,
        change: Option<ScheduledChange>,
    ) -> Result<Order, RepoError> {
        self.db()
            .write(move |conn| {
                conn.write_transaction(|c| {
                    let target = orders::table
                        .filter(orders::id.eq(order.get()))
                        .filter(orders::status.eq(OrderStatus::Active.as_str()));
                    let changed = c.execute(diesel::update(target).set((
                        orders::scheduled_plan_id.eq(change.map(|s| s.plan_id.get())),
                        orders::scheduled_cycle.eq(change.map(|s| s.cycle.as_str())),
                        orders::scheduled_at.eq(change.map(|s| s.at.naive_utc())),
                    )))?;
                    if changed == 0 {
                        load_order(c, order.get())?;
                        return Err(DbError::Repo(RepoError::Conflict(
                            ConflictKind::ChangedMeanwhile,
                        )));
                    }
                    load_order(c, order.get())
                })
            })
            .await
    }
}

/// The body of `place`, inside its transaction.
fn place_in(
    c: &mut DbConn<'_>,
    order: &NewOrder,
    extras: &PlacementExtras,
    refusal: &Mutex<Option<RejectionReason>>,
    events: Option<&dyn EventPayloads>,
) -> Result<Order, DbError> {
    let account = order.account();
    if !credit::lock_account(c, account)? {
        return Err(DbError::Repo(RepoError::Conflict(
            ConflictKind::MissingReference,
        )));
    }
    let (id, _) = insert_order(c, order, OrderStatus::Pending)?;
    super::events::created(c, events, id)?;
    let order_id = OrderId::new(id).ok_or_else(|| RepoError::internal("order ids start at 1"))?;
    let at = order.created_at();
    if let Some(redemption) = &extras.redemption {
        match coupons::redeem(c, redemption, Some(id))? {
            Ok(_) => {
                let entry = extras.actor.map(|actor| {
                    AuditEntry::new(
                        actor,
                        AuditAction::CouponRedeem,
                        TargetKind::Order,
                        Some(id),
                    )
                    .with_after(CouponRedemptionSnapshot {
                        code: redemption.code.to_string(),
                        order_id: id,
                        discount: redemption.discount.to_fixed_string(),
                        currency: redemption.discount.currency().code().to_owned(),
                        standing: true,
                    })
                });
                audit::record(c, entry.as_ref())?;
            }
            Err(reason) => {
                *refusal.lock().unwrap_or_else(PoisonError::into_inner) = Some(reason);
                return Err(DbError::Repo(RepoError::Conflict(
                    ConflictKind::ChangedMeanwhile,
                )));
            }
        }
    }
    if let Some(applied) = extras.credit_applied.filter(|m| m.minor() > 0) {
        let entry = NewCreditEntry::applied_to_order(account, applied, order_id, at)
            .map_err(|e| RepoError::internal(e.to_string()))?;
        append_audited(c, &entry, extras.actor)?;
    }
    if let Some(activation) = &extras.activation {
        if let Some(left) = extras.unused_time_to_credit.filter(|m| m.minor() > 0) {
            let entry = NewCreditEntry::unused_time(account, left, order_id, at)
                .map_err(|e| RepoError::internal(e.to_string()))?;
            append_audited(c, &entry, extras.actor)?;
        }
        let prior = super::events::before_activation(c, events, Some(id))?;
        let before = load_order(c, id)?.audit_state();
        let replaced = activate(c, id, activation, super::batched::Numbering::Now)?;
        if let Some(entry) = &extras.activation_audit {
            let after = load_order(c, id)?.audit_state();
            let entry = entry.clone().with_before(before).with_after(after);
            audit::record(c, Some(&entry))?;
        }
        super::events::activated(c, events, prior, id, &replaced)?;
    }
    load_order(c, id)
}

/// Appends a credit entry and, when someone is named, its `credit.order` audit entry.
fn append_audited(
    c: &mut DbConn<'_>,
    entry: &NewCreditEntry,
    actor: Option<Actor>,
) -> Result<(), DbError> {
    let appended = credit::append(c, entry)?;
    let stored = &appended.entry;
    let audit = actor.map(|actor| {
        AuditEntry::on_account(actor, AuditAction::CreditOrder, entry.account())
            .with_before(CreditBalanceSnapshot {
                currency: stored.currency().code().to_owned(),
                balance: appended.before.to_fixed_string(),
            })
            .with_after(CreditEntrySnapshot {
                entry_id: stored.id().get(),
                amount: stored.amount().to_fixed_string(),
                currency: stored.currency().code().to_owned(),
                reason: stored.reason().text().to_owned(),
                balance: appended.balance_after.to_fixed_string(),
            })
    });
    audit::record(c, audit.as_ref())
}

/// Gives back what pending `order` took: its coupon redemptions stop counting and the
/// credit it spent returns to the balance. Runs inside the transaction that cancels or
/// expires the order, after the account's row is locked. A second call finds nothing.
pub(super) fn give_back(
    c: &mut DbConn<'_>,
    order: &Order,
    at: NaiveDateTime,
    actor: Option<Actor>,
) -> Result<(), DbError> {
    let id = order.id().get();
    let released = coupons::release(c, id, at)?;
    if released > 0 {
        if let Some(coupon) = &order.billing().coupon {
            let entry = actor.map(|actor| {
                AuditEntry::new(
                    actor,
                    AuditAction::CouponRelease,
                    TargetKind::Order,
                    Some(id),
                )
                .with_after(CouponRedemptionSnapshot {
                    code: coupon.code.clone(),
                    order_id: id,
                    discount: String::new(),
                    currency: order.charges().currency().code().to_owned(),
                    standing: false,
                })
            });
            audit::record(c, entry.as_ref())?;
        }
    }
    let entries = credit::entries_of_order(c, id)?;
    let returned = credit_to_give_back(order.id(), &entries, at.and_utc())
        .map_err(|e| RepoError::internal(e.to_string()))?;
    for entry in &returned {
        append_audited(c, entry, actor)?;
    }
    Ok(())
}

/// Locks the account of pending order `id` (see the module's lock order) and answers
/// the order; `None` when the order is no longer pending.
pub(super) fn lock_pending(c: &mut DbConn<'_>, id: i64) -> Result<Option<Order>, DbError> {
    let order = load_order(c, id)?;
    if order.status() != OrderStatus::Pending {
        return Ok(None);
    }
    credit::lock_account(c, order.account())?;
    Ok(Some(order))
}
