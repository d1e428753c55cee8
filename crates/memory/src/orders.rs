//! The order ports in memory: orders, activations, billing details, the lifecycle
//! store and the change versions. An activation runs whole under the store's lock, so
//! an account has one active order at any moment and each calendar year's invoice
//! numbers are given 1, 2, 3... with no gap and no reuse.

use async_trait::async_trait;
use chrono::{DateTime, Datelike, Utc};
use tariff_domain::audit::{AuditEntry, AuditState};
use tariff_domain::orders::{
    Activation, BillingDirectory, BuyerDetails, ChangeVersions, InvoiceSnapshot, IssuedInvoice,
    LifecycleStore, NewOrder, Order, OrderActivation, OrderFilter, OrderRecord, OrderRepository,
    OrderStatus, PastDueStore,
};
use tariff_domain::{AccountRef, ConflictKind, OrderId, Page, PageRequest, RepoError};

use crate::catalogue::page_of;
use crate::state::{changed, State};
use crate::MemoryStore;

impl State {
    /// What the database's foreign keys check on an order: its account, the member who
    /// placed it and its plan exist.
    fn check_references(&self, order: &NewOrder) -> Result<(), RepoError> {
        let placed_by_exists = order
            .placed_by()
            .is_none_or(|user| self.users.contains_key(&user.get()));
        if !self.account_exists(order.account())
            || !placed_by_exists
            || !self.plans.contains_key(&order.plan_id().get())
        {
            return Err(RepoError::Conflict(ConflictKind::MissingReference));
        }
        Ok(())
    }

    /// Stores `order` with `status` (no activation yet) under a new id.
    fn insert_order(&mut self, order: NewOrder, status: OrderStatus) -> Result<Order, RepoError> {
        let stored = self.new_order(order, status)?;
        self.put_order(stored.clone());
        Ok(stored)
    }

    /// `order` with `status` under a new id, checked but not stored yet.
    pub(crate) fn new_order(
        &mut self,
        order: NewOrder,
        status: OrderStatus,
    ) -> Result<Order, RepoError> {
        self.check_references(&order)?;
        let id = OrderId::new(self.next_id("orders"))
            .ok_or_else(|| RepoError::internal("order ids start at 1"))?;
        Order::restore(OrderRecord {
            id,
            account: order.account(),
            placed_by: order.placed_by(),
            plan_id: order.plan_id(),
            status,
            description: order.description().to_owned(),
            charges: order.charges().clone(),
            notes: order.notes().map(str::to_owned),
            payment_reference: None,
            renewal_of: order.renewal_of(),
            created_at: order.created_at(),
            activated_at: None,
            expires_at: None,
            cancelled_at: None,
            invoice: None,
            billing: order.billing().clone(),
        })
        .map(|stored| stored.with_customer_note(order.customer_note().cloned()))
        .map_err(|e| RepoError::Internal(Box::new(e)))
    }

    fn buyer(&self, account: AccountRef) -> Result<BuyerDetails, RepoError> {
        let (name, email, billing) = match account {
            AccountRef::User(user) => {
                let row = self.users.get(&user.get()).ok_or(RepoError::NotFound)?;
                (
                    row.user.name().to_owned(),
                    Some(row.user.email().as_str().to_owned()),
                    row.user.billing(),
                )
            }
            AccountRef::Org(org) => {
                let org = self
                    .organisations
                    .get(&org.get())
                    .ok_or(RepoError::NotFound)?;
                (org.name().to_owned(), None, org.billing())
            }
        };
        Ok(BuyerDetails {
            name,
            email,
            company: billing.company().map(str::to_owned),
            address: billing.address().clone(),
            tax_id: billing.tax_id().map(str::to_owned),
        })
    }

    /// The account's active orders other than `except`, cancelled and noted "replaced by
    /// order #`by`" (built, not stored: the caller stores them once nothing can fail).
    fn replaced(
        &self,
        account: AccountRef,
        except: OrderId,
        at: DateTime<Utc>,
    ) -> Result<Vec<(Order, Order)>, RepoError> {
        self.orders
            .values()
            .filter(|o| {
                o.account() == account && o.status() == OrderStatus::Active && o.id() != except
            })
            .map(|previous| {
                let note = format!("replaced by order #{except}");
                let notes = match previous.notes().filter(|n| !n.trim().is_empty()) {
                    Some(existing) => format!("{existing}\n{note}"),
                    None => note,
                };
                let cancelled = changed(previous, |r| {
                    r.status = OrderStatus::Cancelled;
                    r.cancelled_at = Some(at);
                    r.notes = Some(notes);
                })?;
                Ok((previous.clone(), cancelled))
            })
            .collect()
    }

    /// Makes `order` (stored, pending) the account's active order: cancels the one it
    /// replaces, numbers its invoice and freezes the snapshot. Everything that can fail
    /// is checked before the first change. Returns the replaced order (as it was before)
    /// and the active one.
    pub(crate) fn activate(
        &mut self,
        order: &Order,
        activation: &Activation,
    ) -> Result<(Option<Order>, Order), RepoError> {
        let account = order.account();
        let replaced = self.replaced(account, order.id(), activation.activated_at)?;
        let invoice = match order.invoice() {
            Some(issued) => issued.clone(),
            None => {
                let year = activation.activated_at.year();
                let seq = self.invoice_counters.get(&year).copied().unwrap_or(0) + 1;
                IssuedInvoice {
                    number: activation.numbering.render(year, seq),
                    year,
                    seq,
                    snapshot: InvoiceSnapshot {
                        seller: activation.seller.clone(),
                        buyer: self.buyer(account)?,
                        frozen_at: activation.activated_at,
                    },
                }
            }
        };
        let (year, seq) = (invoice.year, invoice.seq);
        let numbered = order.invoice().is_none();
        let active = changed(order, |r| {
            r.status = OrderStatus::Active;
            r.activated_at = Some(activation.activated_at);
            r.expires_at = Some(activation.expires_at);
            r.payment_reference = activation.payment_reference.clone();
            r.invoice = Some(invoice);
        })?;
        let mut before = None;
        for (previous, cancelled) in replaced {
            before = Some(previous);
            self.put_order(cancelled);
        }
        if numbered {
            self.invoice_counters.insert(year, seq);
        }
        self.put_order(active.clone());
        Ok((before, active))
    }

    fn order(&self, id: OrderId) -> Result<&Order, RepoError> {
        self.orders.get(&id.get()).ok_or(RepoError::NotFound)
    }

    fn plan_is_paid(&self, order: &Order) -> Option<bool> {
        self.plans
            .get(&order.plan_id().get())
            .map(|plan| plan.price().minor() > 0)
    }

    /// Active orders whose period ended at or before `at`, of paid (`true`) or free
    /// plans, in id order.
    fn active_due(&self, at: DateTime<Utc>, paid: bool) -> Vec<Order> {
        self.orders
            .values()
            .filter(|o| o.status() == OrderStatus::Active)
            .filter(|o| o.expires_at().is_some_and(|end| end <= at))
            .filter(|o| self.plan_is_paid(o) == Some(paid))
            .cloned()
            .collect()
    }
}

#[async_trait]
impl OrderRepository for MemoryStore {
    async fn insert_pending(&self, order: NewOrder) -> Result<Order, RepoError> {
        self.with(|state| state.insert_order(order, OrderStatus::Pending))
    }

    async fn get(&self, id: OrderId) -> Result<Order, RepoError> {
        self.with(|state| state.order(id).cloned())
    }

    async fn list_for_accounts(&self, accounts: Vec<AccountRef>) -> Result<Vec<Order>, RepoError> {
        self.with(|state| {
            Ok(state
                .orders
                .values()
                .rev()
                .filter(|o| accounts.contains(&o.account()))
                .cloned()
                .collect())
        })
    }

    async fn search(
        &self,
        filter: OrderFilter,
        page: PageRequest,
    ) -> Result<Page<Order>, RepoError> {
        // Case-insensitive, as the SQL adapters' `lower(...) LIKE lower(...)`.
        let text = filter.text.as_deref().map(str::to_lowercase);
        self.with(|state| {
            let matching = state.orders.values().rev().filter(|o| {
                filter.status.is_none_or(|s| o.status() == s)
                    && filter.user.is_none_or(|u| o.placed_by() == Some(u))
                    && filter
                        .org
                        .is_none_or(|org| o.account() == AccountRef::Org(org))
                    && text.as_deref().is_none_or(|text| {
                        o.description().to_lowercase().contains(text)
                            || o.invoice_number()
                                .is_some_and(|n| n.to_lowercase().contains(text))
                    })
            });
            Ok(page_of(matching.cloned(), page))
        })
    }

    async fn active_for(&self, account: AccountRef) -> Result<Option<Order>, RepoError> {
        self.with(|state| {
            Ok(state
                .orders
                .values()
                .find(|o| o.account() == account && o.status() == OrderStatus::Active)
                .cloned())
        })
    }

    async fn transition(
        &self,
        id: OrderId,
        from: OrderStatus,
        to: OrderStatus,
        at: DateTime<Utc>,
        audit: Option<AuditEntry>,
    ) -> Result<Order, RepoError> {
        self.with(|state| {
            let before = state.order(id)?.clone();
            if before.status() != from {
                return Err(RepoError::Conflict(ConflictKind::ChangedMeanwhile));
            }
            let after = changed(&before, |r| {
                r.status = to;
                if to == OrderStatus::Cancelled {
                    r.cancelled_at = Some(at);
                }
            })?;
            if from == OrderStatus::Pending && to != OrderStatus::Active {
                // A pending order that ends gives back its coupon and credit.
                state.give_back(&before, at, audit.as_ref().map(|a| a.actor()))?;
            }
            state.put_order(after.clone());
            state.record(audit.map(|a| {
                a.with_before(before.audit_state())
                    .with_after(after.audit_state())
            }))?;
            Ok(after)
        })
    }
}

#[async_trait]
impl OrderActivation for MemoryStore {
    async fn create_active(
        &self,
        order: NewOrder,
        activation: Activation,
        audit: Option<AuditEntry>,
    ) -> Result<Order, RepoError> {
        self.with(|state| {
            // Stored by `activate`, once nothing can fail any more.
            let pending = state.new_order(order, OrderStatus::Pending)?;
            let (replaced, active) = state.activate(&pending, &activation)?;
            let before = replaced.map_or(AuditState::Absent, |o| o.audit_state().into());
            state.record(audit.map(|a| a.with_before(before).with_after(active.audit_state())))?;
            Ok(active)
        })
    }

    async fn activate_pending(
        &self,
        id: OrderId,
        activation: Activation,
        audit: Option<AuditEntry>,
    ) -> Result<Order, RepoError> {
        self.with(|state| {
            let pending = state.order(id)?.clone();
            if pending.status() != OrderStatus::Pending {
                return Err(RepoError::Conflict(ConflictKind::ChangedMeanwhile));
            }
            let (_, active) = state.activate(&pending, &activation)?;
            state.record(audit.map(|a| {
                a.with_before(pending.audit_state())
                    .with_after(active.audit_state())
            }))?;
            Ok(active)
        })
    }
}

#[async_trait]
impl BillingDirectory for MemoryStore {
    async fn billing_details(&self, account: AccountRef) -> Result<BuyerDetails, RepoError> {
        self.with(|state| state.buyer(account))
    }
}

#[async_trait]
impl ChangeVersions for MemoryStore {
    async fn shard_versions(&self) -> Result<Vec<(i64, i64)>, RepoError> {
        self.with(|state| {
            Ok((0_i64..)
                .zip(state.shards.iter().copied())
                .collect::<Vec<_>>())
        })
    }
}

#[async_trait]
impl LifecycleStore for MemoryStore {
    async fn renewal_candidates(&self, horizon: DateTime<Utc>) -> Result<Vec<Order>, RepoError> {
        self.with(|state| {
            let renewed: Vec<OrderId> = state
                .orders
                .values()
                .filter_map(Order::renewal_of)
                .collect();
            Ok(state
                .active_due(horizon, true)
                .into_iter()
                .filter(|o| !renewed.contains(&o.id()))
                .collect())
        })
    }

    async fn insert_renewal(&self, order: NewOrder) -> Result<Option<Order>, RepoError> {
        self.with(|state| insert_renewal_in(state, order))
    }

    async fn renewal_candidates_after(
        &self,
        horizon: DateTime<Utc>,
        after: Option<OrderId>,
        limit: usize,
    ) -> Result<Vec<Order>, RepoError> {
        let mut candidates = self.renewal_candidates(horizon).await?;
        candidates.retain(|o| after.is_none_or(|after| o.id() > after));
        candidates.sort_by_key(Order::id);
        candidates.truncate(limit);
        Ok(candidates)
    }

    async fn insert_renewals(&self, orders: Vec<NewOrder>) -> Result<Vec<OrderId>, RepoError> {
        // One lock for the whole batch, as one transaction: all or nothing.
        self.with(|state| {
            let mut staged = state.clone();
            let mut stored = Vec::new();
            for order in orders {
                if let Some(renewal) = insert_renewal_in(&mut staged, order)? {
                    stored.push(renewal.id());
                }
            }
            *state = staged;
            Ok(stored)
        })
    }

    async fn free_orders_due(&self, now: DateTime<Utc>) -> Result<Vec<Order>, RepoError> {
        self.with(|state| Ok(state.active_due(now, false)))
    }

    async fn extend(
        &self,
        id: OrderId,
        current: DateTime<Utc>,
        new: DateTime<Utc>,
    ) -> Result<bool, RepoError> {
        self.with(|state| {
            let Some(order) = state.orders.get(&id.get()) else {
                return Ok(false);
            };
            if order.status() != OrderStatus::Active || order.expires_at() != Some(current) {
                return Ok(false);
            }
            let extended = changed(order, |r| r.expires_at = Some(new))?;
            state.put_order(extended);
            Ok(true)
        })
    }

    async fn expire_active(&self, now: DateTime<Utc>) -> Result<u64, RepoError> {
        self.with(|state| {
            let due = state.active_due(now, true);
            let expired = due
                .iter()
                .filter(|o| o.past_due_at().is_none())
                .map(|o| changed(o, |r| r.status = OrderStatus::Expired))
                .collect::<Result<Vec<_>, _>>()?;
            let count = expired.len() as u64;
            for order in expired {
                state.give_back(&order, Utc::now(), None)?;
                state.put_order(order);
            }
            Ok(count)
        })
    }

    async fn expire_pending(&self, created_before: DateTime<Utc>) -> Result<u64, RepoError> {
        self.with(|state| {
            let running = |id: OrderId| {
                state
                    .orders
                    .get(&id.get())
                    .is_some_and(|o| o.status() == OrderStatus::Active)
            };
            let expired = state
                .orders
                .values()
                .filter(|o| o.status() == OrderStatus::Pending && o.created_at() <= created_before)
                // A renewal of an order still running (past due) can still be paid.
                .filter(|o| !o.renewal_of().is_some_and(running))
                .map(|o| changed(o, |r| r.status = OrderStatus::Expired))
                .collect::<Result<Vec<_>, _>>()?;
            let count = expired.len() as u64;
            for order in expired {
                state.give_back(&order, Utc::now(), None)?;
                state.put_order(order);
            }
            Ok(count)
        })
    }
}

#[async_trait]
impl PastDueStore for MemoryStore {
    async fn mark_past_due(
        &self,
        now: DateTime<Utc>,
        ended_after: DateTime<Utc>,
    ) -> Result<u64, RepoError> {
        self.with(|state| {
            let renewed: Vec<OrderId> = state
                .orders
                .values()
                .filter(|o| o.status() == OrderStatus::Pending)
                .filter_map(Order::renewal_of)
                .collect();
            let marked = state
                .active_due(now, true)
                .into_iter()
                .filter(|o| o.past_due_at().is_none() && renewed.contains(&o.id()))
                .filter(|o| o.expires_at().is_some_and(|end| end > ended_after))
                .map(|o| o.with_past_due_at(Some(now)))
                .collect::<Vec<_>>();
            let count = marked.len() as u64;
            for order in marked {
                state.put_order(order);
            }
            Ok(count)
        })
    }

    async fn expire_past_due(&self, ended_before: DateTime<Utc>) -> Result<u64, RepoError> {
        self.with(|state| {
            let expired = state
                .active_due(ended_before, true)
                .iter()
                .filter(|o| o.past_due_at().is_some())
                .map(|o| changed(o, |r| r.status = OrderStatus::Expired))
                .collect::<Result<Vec<_>, _>>()?;
            let count = expired.len() as u64;
            for order in expired {
                state.give_back(&order, Utc::now(), None)?;
                state.put_order(order);
            }
            Ok(count)
        })
    }
}

/// Stores a pending renewal unless its predecessor is no longer active or already has
/// one.
fn insert_renewal_in(state: &mut State, order: NewOrder) -> Result<Option<Order>, RepoError> {
    let Some(previous) = order.renewal_of() else {
        return Err(RepoError::internal("a renewal needs its predecessor"));
    };
    let still_active = state
        .orders
        .get(&previous.get())
        .is_some_and(|o| o.status() == OrderStatus::Active);
    let renewed = state
        .orders
        .values()
        .any(|o| o.renewal_of() == Some(previous));
    if !still_active || renewed {
        return Ok(None);
    }
    state.insert_order(order, OrderStatus::Pending).map(Some)
}
