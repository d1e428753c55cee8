//! The order ports on diesel: orders, activations, billing details, change versions and
//! the lifecycle store.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tariff_domain::audit::{AuditEntry, AuditState};
use tariff_domain::orders::{
    Activation, BillingDirectory, BuyerDetails, ChangeVersions, LifecycleStore, NewOrder, Order,
    OrderActivation, OrderFilter, OrderRepository, OrderStatus,
};
use tariff_domain::shared::ConflictKind;
use tariff_domain::shared::{Page, PageRequest};
use tariff_domain::webhooks::EventPayloads;
use tariff_domain::{AccountRef, OrderId, RepoError};

use super::activation::{activate, create_active, insert_order};
use super::batched::{Issued, Numbering};
use super::events;
use super::placement::{give_back, lock_pending};
use super::queries::{self, load_order};
use super::rows::{to_order, OrderRow};
use super::search::search;
use crate::audit;
use crate::db::{Database, DbConn};
use crate::errors::DbError;

/// Orders, activations, billing details and the lifecycle store on diesel.
#[derive(Clone)]
pub struct DieselOrderRepository {
    db: Database,
    events: Option<Arc<dyn EventPayloads>>,
}

impl DieselOrderRepository {
    /// A repository that emits no webhook events (commands and tests that do not
    /// serve).
    pub fn new(db: Database) -> Self {
        Self { db, events: None }
    }

    /// A repository whose writes store the order events (`order.*`, `invoice.issued`,
    /// `account.plan_changed`) in their own transactions, with `payloads`' JSON as data.
    pub fn with_events(db: Database, payloads: Arc<dyn EventPayloads>) -> Self {
        Self {
            db,
            events: Some(payloads),
        }
    }

    pub(super) fn db(&self) -> &Database {
        &self.db
    }

    /// The payloads its writes build events with; `None` when it stores no events.
    pub(super) fn events(&self) -> Option<Arc<dyn EventPayloads>> {
        self.events.clone()
    }
}

#[async_trait]
impl OrderRepository for DieselOrderRepository {
    async fn insert_pending(&self, order: NewOrder) -> Result<Order, RepoError> {
        let events = self.events.clone();
        self.db
            .write(move |conn| {
                conn.write_transaction(|c| {
                    let (id, _) = insert_order(c, &order, OrderStatus::Pending)?;
                    events::created(c, events.as_deref(), id)?;
                    load_order(c, id)
                })
            })
            .await
    }

    async fn get(&self, id: OrderId) -> Result<Order, RepoError> {
        self.db.query(move |c| load_order(c, id.get())).await
    }

    async fn list_for_accounts(&self, accounts: Vec<AccountRef>) -> Result<Vec<Order>, RepoError> {
        let users: Vec<i64> = accounts
            .iter()
            .filter_map(|a| match a {
                AccountRef::User(u) => Some(u.get()),
                AccountRef::Org(_) => None,
            })
            .collect();
        let orgs: Vec<i64> = accounts
            .iter()
            .filter_map(|a| match a {
                AccountRef::Org(o) => Some(o.get()),
                AccountRef::User(_) => None,
            })
            .collect();
        self.db
            .query(move |c| queries::list_for_accounts(c, users, orgs))
            .await
    }

    async fn search(
        &self,
        filter: OrderFilter,
        page: PageRequest,
    ) -> Result<Page<Order>, RepoError> {
        self.db.query(move |c| search(c, &filter, page)).await
    }

    async fn active_for(&self, account: AccountRef) -> Result<Option<Order>, RepoError> {
        self.db
            .query(move |c| queries::active_for(c, account))
            .await
    }

    async fn transition(
        &self,
        id: OrderId,
        from: OrderStatus,
        to: OrderStatus,
        at: DateTime<Utc>,
        audit: Option<AuditEntry>,
    ) -> Result<Order, RepoError> {
        let cancelled_at = (to == OrderStatus::Cancelled).then(|| at.naive_utc());
        let events = self.events.clone();
        self.db
            .write(move |conn| {
                conn.write_transaction(|c| {
                    let before = match &audit {
                        Some(_) => Some(load_order(c, id.get())?),
                        None => None,
                    };
                    // A pending order that ends gives back its coupon and credit, with
                    // its account locked first (see `placement`).
                    let ending = match (from, to) {
                        (OrderStatus::Pending, OrderStatus::Cancelled | OrderStatus::Expired) => {
                            lock_pending(c, id.get())?
                        }
                        _ => None,
                    };
                    let changed = queries::change_status(c, id.get(), from, to, cancelled_at)?;
                    if let (Some(order), true) = (&ending, changed > 0) {
                        give_back(c, order, at.naive_utc(), audit.as_ref().map(|a| a.actor()))?;
                    }
                    if changed == 0 {
                        // Distinguish "no such order" (NotFound) from "someone changed it first".
                        load_order(c, id.get())?;
                        return Err(DbError::Repo(RepoError::Conflict(
                            ConflictKind::ChangedMeanwhile,
                        )));
                    }
                    let after = load_order(c, id.get())?;
                    let audit = audit.map(|entry| {
                        entry
                            .with_before(
                                before
                                    .as_ref()
                                    .map_or(AuditState::Absent, |order| order.audit_state().into()),
                            )
                            .with_after(after.audit_state())
                    });
                    audit::record(c, audit.as_ref())?;
                    events::transitioned(c, events.as_deref(), from, &after)?;
                    Ok(after)
                })
            })
            .await
    }
}

#[async_trait]
impl OrderActivation for DieselOrderRepository {
    async fn create_active(
        &self,
        order: NewOrder,
        activation: Activation,
        audit: Option<AuditEntry>,
    ) -> Result<Order, RepoError> {
        let events = self.events.clone();
        let account = order.account();
        let ((row, items), issued) = self
            .db
            .activation(Some(account), move |conn, numbering| {
                in_transaction(conn, numbering, |c| {
                    let before = events::before_activation(c, events.as_deref(), None)?;
                    let (row, items, replaced) =
                        create_active(c, &order, &activation, audit.as_ref(), numbering)?;
                    events::activated(c, events.as_deref(), before, row.id, &replaced)?;
                    Ok((row, items))
                })
            })
            .await?;
        to_order(with_issued(row, &issued), items)
    }

    async fn activate_pending(
        &self,
        id: OrderId,
        activation: Activation,
        audit: Option<AuditEntry>,
    ) -> Result<Order, RepoError> {
        let events = self.events.clone();
        // The account chooses the batch lane; an order that cannot be read is activated
        // on its own and fails there.
        let account = self
            .db
            .query(move |c| queries::account_of(c, id.get()))
            .await
            .ok();
        let (activated, issued) = self
            .db
            .activation(account, move |conn, numbering| {
                in_transaction(conn, numbering, |c| {
                    let prior = events::before_activation(c, events.as_deref(), Some(id.get()))?;
                    let before = match &audit {
                        Some(_) => Some(load_order(c, id.get())?.audit_state()),
                        None => None,
                    };
                    let replaced = activate(c, id.get(), &activation, numbering)?;
                    // A pending order paid by hand (mark-paid): its payment is recorded
                    // with the activation.
                    let paid = load_order(c, id.get())?;
                    crate::payments::record_manual(
                        c,
                        &paid,
                        activation.payment_reference.as_deref(),
                        activation.activated_at,
                    )?;
                    if let (Some(entry), Some(before)) = (&audit, before) {
                        let after = load_order(c, id.get())?.audit_state();
                        let entry = entry.clone().with_before(before).with_after(after);
                        audit::record(c, Some(&entry))?;
                    }
                    events::activated(c, events.as_deref(), prior, id.get(), &replaced)
                })?;
                load_order(conn, id.get())
            })
            .await?;
        if issued.is_empty() {
            return Ok(activated);
        }
        // Read inside the batch, it still showed the number's placeholder.
        self.db.query(move |c| load_order(c, id.get())).await
    }
}

/// Runs `body` in a write transaction of its own, unless it runs in a batch, where it
/// already has a savepoint of its own.
fn in_transaction<T>(
    conn: &mut DbConn<'_>,
    numbering: Numbering<'_>,
    body: impl FnOnce(&mut DbConn<'_>) -> Result<T, DbError>,
) -> Result<T, DbError> {
    match numbering {
        Numbering::Batched(_) => body(conn),
        Numbering::Now => conn.write_transaction(body),
    }
}

/// `row` with the invoice number its batch issued for it, if it did.
fn with_issued(mut row: OrderRow, issued: &[Issued]) -> OrderRow {
    if let Some(number) = issued.iter().find(|number| number.order_id == row.id) {
        row.invoice_year = Some(number.year);
        row.invoice_seq = Some(number.seq);
        row.invoice_number = Some(number.number.clone());
    }
    row
}

#[async_trait]
impl ChangeVersions for DieselOrderRepository {
    async fn shard_versions(&self) -> Result<Vec<(i64, i64)>, RepoError> {
        let rows = self.db.query(|c| Ok(queries::shard_versions(c)?)).await?;
        Ok(rows
            .into_iter()
            .map(|(shard, version)| (i64::from(shard), version))
            .collect())
    }
}

#[async_trait]
impl BillingDirectory for DieselOrderRepository {
    async fn billing_details(&self, account: AccountRef) -> Result<BuyerDetails, RepoError> {
        self.db
            .query(move |c| queries::buyer_details(c, account))
            .await
    }
}

#[async_trait]
impl LifecycleStore for DieselOrderRepository {
    async fn renewal_candidates(&self, horizon: DateTime<Utc>) -> Result<Vec<Order>, RepoError> {
        let horizon = horizon.naive_utc();
        self.db
            .query(move |c| queries::renewal_candidates(c, horizon))
            .await
    }

    async fn insert_renewal(&self, order: NewOrder) -> Result<Option<Order>, RepoError> {
        let events = self.events.clone();
        self.db
            .write(move |conn| {
                conn.write_transaction(|c| match queries::insert_renewal_if_absent(c, &order)? {
                    Some(id) => Ok(Some(events::renewal_created(c, events.as_deref(), id)?)),
                    None => Ok(None),
                })
            })
            .await
    }

    async fn renewal_candidates_after(
        &self,
        horizon: DateTime<Utc>,
        after: Option<OrderId>,
        limit: usize,
    ) -> Result<Vec<Order>, RepoError> {
        let horizon = horizon.naive_utc();
        let after = after.map_or(0, OrderId::get);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.db
            .query(move |c| queries::renewal_candidates_after(c, horizon, after, limit))
            .await
    }

    async fn insert_renewals(&self, orders: Vec<NewOrder>) -> Result<Vec<OrderId>, RepoError> {
        let events = self.events.clone();
        self.db
            .write(move |conn| {
                conn.write_transaction(|c| {
                    let mut stored = Vec::with_capacity(orders.len());
                    for order in &orders {
                        if let Some(id) = queries::insert_renewal_if_absent(c, order)? {
                            if events.is_some() {
                                events::renewal_created(c, events.as_deref(), id)?;
                            }
                            stored.push(
                                OrderId::new(id)
                                    .ok_or_else(|| RepoError::internal("order ids start at 1"))?,
                            );
                        }
                    }
                    Ok(stored)
                })
            })
            .await
    }

    async fn free_orders_due(&self, now: DateTime<Utc>) -> Result<Vec<Order>, RepoError> {
        let now = now.naive_utc();
        self.db
            .query(move |c| queries::free_orders_due(c, now))
            .await
    }

    async fn extend(
        &self,
        id: OrderId,
        current: DateTime<Utc>,
        new: DateTime<Utc>,
    ) -> Result<bool, RepoError> {
        let (current, new) = (current.naive_utc(), new.naive_utc());
        self.db
            .write(move |c| Ok(queries::extend(c, id.get(), current, new)?))
            .await
    }

    async fn expire_active(&self, now: DateTime<Utc>) -> Result<u64, RepoError> {
        let now = now.naive_utc();
        let events = self.events.clone();
        self.db
            .write(move |c| match events.as_deref() {
                Some(events) => events::expire_active(c, events, now, false),
                None => Ok(queries::expire_active(c, now)?),
            })
            .await
    }

    async fn expire_pending(&self, created_before: DateTime<Utc>) -> Result<u64, RepoError> {
        let before = created_before.naive_utc();
        let events = self.events.clone();
        self.db
            .write(move |c| queries::expire_pending(c, events.as_deref(), before))
            .await
    }
}
