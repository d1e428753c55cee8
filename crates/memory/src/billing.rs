//! The billing ports in memory: the coupon catalogue, the account credit ledger, and
//! order placement with the coupon an order redeems and the credit it spends. Under the
//! store's one lock, `maxRedemptions`, once per account and "never below zero" hold
//! exactly as the database holds them: every check and every change of one write
//! happen with no other write in between.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tariff_domain::audit::{
    Actor, AuditAction, AuditEntry, CouponRedemptionSnapshot, CreditBalanceSnapshot,
    CreditEntrySnapshot, TargetKind,
};
use tariff_domain::billing::{
    check_balance_change, credit_to_give_back, Coupon, CouponCode, CouponRecord, CouponRedemption,
    CouponRepository, CouponSpec, CreditEntry, CreditEntryId, CreditLedger, NewCreditEntry,
    OrderPlacement, PlacementError, PlacementExtras, RejectionReason, ScheduledChange,
};
use tariff_domain::orders::{NewOrder, Order, OrderStatus};
use tariff_domain::{
    AccountRef, ConflictKind, Currency, Money, OrderId, Page, PageRequest, RepoError,
};

use crate::catalogue::page_of;
use crate::state::{changed, State};
use crate::MemoryStore;

/// One redemption: standing until given back with its order.
#[derive(Clone, Debug)]
pub(crate) struct RedemptionRow {
    pub code: String,
    pub account: AccountRef,
    pub order: Option<OrderId>,
    pub once_per_account: bool,
    pub standing: bool,
}

fn refused(reason: RejectionReason) -> PlacementError {
    PlacementError::Coupon(reason)
}

impl State {
    fn balance_of(&self, account: AccountRef, currency: Currency) -> Money {
        let minor = self
            .credit
            .iter()
            .filter(|e| e.account() == account && e.currency() == currency)
            .map(|e| e.amount().minor())
            .sum();
        Money::from_minor(minor, currency)
    }

    /// Appends an entry if the balance stays at or above zero; the `credit.order` (or
    /// any) audit entry for it when `actor` and `action` are given.
    fn append_credit(
        &mut self,
        entry: NewCreditEntry,
        audit: Option<AuditEntry>,
    ) -> Result<CreditEntry, RepoError> {
        if !self.account_exists(entry.account()) {
            return Err(RepoError::NotFound);
        }
        let before = self.balance_of(entry.account(), entry.amount().currency());
        let after = check_balance_change(before, entry.amount())
            .map_err(|_| RepoError::Conflict(ConflictKind::InsufficientBalance))?;
        let id = CreditEntryId::new(self.next_id("credit_entries"))
            .ok_or_else(|| RepoError::internal("entry ids start at 1"))?;
        let stored = CreditEntry::restore(id, entry);
        self.record(audit.map(|a| {
            a.with_before(CreditBalanceSnapshot {
                currency: stored.currency().code().to_owned(),
                balance: before.to_fixed_string(),
            })
            .with_after(CreditEntrySnapshot {
                entry_id: id.get(),
                amount: stored.amount().to_fixed_string(),
                currency: stored.currency().code().to_owned(),
                reason: stored.reason().text().to_owned(),
                balance: after.to_fixed_string(),
            })
        }))?;
        self.credit.push(stored.clone());
        Ok(stored)
    }

    /// Counts a redemption, or says why the coupon cannot take it.
    fn redeem(
        &mut self,
        redemption: &CouponRedemption,
        order: OrderId,
    ) -> Result<(), RejectionReason> {
        let code = redemption.code.as_str().to_owned();
        let Some(coupon) = self.coupons.get(&code) else {
            return Err(RejectionReason::Unknown);
        };
        if !coupon.active() {
            return Err(RejectionReason::Inactive);
        }
        if coupon
            .spec()
            .max_redemptions()
            .is_some_and(|max| coupon.times_redeemed() >= max)
        {
            return Err(RejectionReason::Exhausted);
        }
        let once = coupon.spec().once_per_account();
        if once
            && self.redemptions.iter().any(|r| {
                r.code == code
                    && r.account == redemption.account
                    && r.standing
                    && r.once_per_account
            })
        {
            return Err(RejectionReason::AlreadyUsed);
        }
        let counted = with_count(coupon, coupon.times_redeemed().saturating_add(1));
        self.coupons.insert(code.clone(), counted);
        self.redemptions.push(RedemptionRow {
            code,
            account: redemption.account,
            order: Some(order),
            once_per_account: once,
            standing: true,
        });
        Ok(())
    }

    /// Gives back what pending `order` took: its standing redemptions and its credit.
    pub(crate) fn give_back(
        &mut self,
        order: &Order,
        at: DateTime<Utc>,
        actor: Option<Actor>,
    ) -> Result<(), RepoError> {
        let id = order.id();
        let mut released = Vec::new();
        for row in self
            .redemptions
            .iter_mut()
            .filter(|r| r.order == Some(id) && r.standing)
        {
            row.standing = false;
            released.push(row.code.clone());
        }
        for code in released {
            if let Some(coupon) = self.coupons.get(&code) {
                let uncounted = with_count(coupon, coupon.times_redeemed().saturating_sub(1));
                self.coupons.insert(code.clone(), uncounted);
            }
            self.record(actor.map(|actor| {
                AuditEntry::new(
                    actor,
                    AuditAction::CouponRelease,
                    TargetKind::Order,
                    Some(id.get()),
                )
                .with_after(CouponRedemptionSnapshot {
                    code,
                    order_id: id.get(),
                    discount: String::new(),
                    currency: order.charges().currency().code().to_owned(),
                    standing: false,
                })
            }))?;
        }
        let returned = credit_to_give_back(id, &self.credit, at)
            .map_err(|e| RepoError::internal(e.to_string()))?;
        for entry in returned {
            let audit = actor.map(|actor| {
                AuditEntry::on_account(actor, AuditAction::CreditOrder, entry.account())
            });
            self.append_credit(entry, audit)?;
        }
        Ok(())
    }

    /// The body of `place`, all or nothing: `self` is changed only when it succeeds.
    fn place(
        &mut self,
        order: NewOrder,
        extras: &PlacementExtras,
    ) -> Result<Order, PlacementError> {
        let account = order.account();
        let at = order.created_at();
        let pending = self.new_order(order, OrderStatus::Pending)?;
        self.put_order(pending.clone());
        let id = pending.id();
        if let Some(redemption) = &extras.redemption {
            self.redeem(redemption, id).map_err(refused)?;
            self.record(extras.actor.map(|actor| {
                AuditEntry::new(
                    actor,
                    AuditAction::CouponRedeem,
                    TargetKind::Order,
                    Some(id.get()),
                )
                .with_after(CouponRedemptionSnapshot {
                    code: redemption.code.to_string(),
                    order_id: id.get(),
                    discount: redemption.discount.to_fixed_string(),
                    currency: redemption.discount.currency().code().to_owned(),
                    standing: true,
                })
            }))?;
        }
        let audit = || {
            extras
                .actor
                .map(|actor| AuditEntry::on_account(actor, AuditAction::CreditOrder, account))
        };
        if let Some(applied) = extras.credit_applied.filter(|m| m.minor() > 0) {
            let entry = NewCreditEntry::applied_to_order(account, applied, id, at)
                .map_err(|e| RepoError::internal(e.to_string()))?;
            self.append_credit(entry, audit()).map_err(|e| match e {
                RepoError::Conflict(ConflictKind::InsufficientBalance) => {
                    PlacementError::CreditUnavailable
                }
                other => PlacementError::Repo(other),
            })?;
        }
        let Some(activation) = &extras.activation else {
            return Ok(pending);
        };
        if let Some(left) = extras.unused_time_to_credit.filter(|m| m.minor() > 0) {
            let entry = NewCreditEntry::unused_time(account, left, id, at)
                .map_err(|e| RepoError::internal(e.to_string()))?;
            self.append_credit(entry, audit())?;
        }
        let (replaced, active) = self.activate(&pending, activation)?;
        if let Some(entry) = &extras.activation_audit {
            let before = replaced.map_or(pending.audit_state(), |o| o.audit_state());
            self.record(Some(
                entry
                    .clone()
                    .with_before(before)
                    .with_after(active.audit_state()),
            ))?;
        }
        Ok(active)
    }
}

fn with_count(coupon: &Coupon, times_redeemed: u32) -> Coupon {
    Coupon::restore(CouponRecord {
        spec: coupon.spec().clone(),
        active: coupon.active(),
        times_redeemed,
        created_at: coupon.created_at(),
    })
}

#[async_trait]
impl CouponRepository for MemoryStore {
    async fn create(
        &self,
        spec: CouponSpec,
        audit: Option<AuditEntry>,
    ) -> Result<Coupon, RepoError> {
        self.with(|state| {
            let code = spec.code().as_str().to_owned();
            if state.coupons.contains_key(&code) {
                return Err(RepoError::Conflict(ConflictKind::AlreadyExists));
            }
            let coupon = Coupon::restore(CouponRecord {
                spec,
                active: true,
                times_redeemed: 0,
                created_at: Utc::now(),
            });
            let id = state.next_id("coupons");
            state.record(audit.map(|a| a.with_target_id(id)))?;
            state.coupon_order.push(code.clone());
            state.coupons.insert(code, coupon.clone());
            Ok(coupon)
        })
    }

    async fn get(&self, code: CouponCode) -> Result<Coupon, RepoError> {
        self.with(|state| {
            state
                .coupons
                .get(code.as_str())
                .cloned()
                .ok_or(RepoError::NotFound)
        })
    }

    async fn page(&self, request: PageRequest) -> Result<Page<Coupon>, RepoError> {
        self.with(|state| {
            let newest_first = state
                .coupon_order
                .iter()
                .rev()
                .filter_map(|code| state.coupons.get(code).cloned());
            Ok(page_of(newest_first, request))
        })
    }

    async fn deactivate(
        &self,
        code: CouponCode,
        _at: DateTime<Utc>,
        audit: Option<AuditEntry>,
    ) -> Result<Coupon, RepoError> {
        self.with(|state| {
            let coupon = state
                .coupons
                .get(code.as_str())
                .cloned()
                .ok_or(RepoError::NotFound)?;
            if !coupon.active() {
                return Ok(coupon);
            }
            let inactive = Coupon::restore(CouponRecord {
                spec: coupon.spec().clone(),
                active: false,
                times_redeemed: coupon.times_redeemed(),
                created_at: coupon.created_at(),
            });
            state.record(audit)?;
            state
                .coupons
                .insert(code.as_str().to_owned(), inactive.clone());
            Ok(inactive)
        })
    }

    async fn redeemed_by(&self, code: CouponCode, account: AccountRef) -> Result<bool, RepoError> {
        self.with(|state| {
            Ok(state
                .redemptions
                .iter()
                .any(|r| r.code == code.as_str() && r.account == account && r.standing))
        })
    }
}

#[async_trait]
impl CreditLedger for MemoryStore {
    async fn entries(&self, account: AccountRef) -> Result<Vec<CreditEntry>, RepoError> {
        self.with(|state| {
            if !state.account_exists(account) {
                return Err(RepoError::NotFound);
            }
            Ok(state
                .credit
                .iter()
                .rev()
                .filter(|e| e.account() == account)
                .cloned()
                .collect())
        })
    }

    async fn balances(&self, account: AccountRef) -> Result<Vec<Money>, RepoError> {
        let entries = self.entries(account).await?;
        tariff_domain::billing::balances(&entries).map_err(|e| RepoError::internal(e.to_string()))
    }

    async fn balance(&self, account: AccountRef, currency: Currency) -> Result<Money, RepoError> {
        self.with(|state| Ok(state.balance_of(account, currency)))
    }

    async fn append(
        &self,
        entry: NewCreditEntry,
        audit: Option<AuditEntry>,
    ) -> Result<CreditEntry, RepoError> {
        self.with(|state| state.append_credit(entry, audit))
    }
}

#[async_trait]
impl OrderPlacement for MemoryStore {
    async fn place(
        &self,
        order: NewOrder,
        extras: PlacementExtras,
    ) -> Result<Order, PlacementError> {
        let mut state = self.lock()?;
        // All or nothing: the write runs on a copy that replaces the state only whole.
        let mut draft = state.clone();
        let placed = draft.place(order, &extras)?;
        *state = draft;
        Ok(placed)
    }

    async fn release(&self, order: OrderId, at: DateTime<Utc>) -> Result<(), RepoError> {
        self.with(|state| {
            let stored = state
                .orders
                .get(&order.get())
                .cloned()
                .ok_or(RepoError::NotFound)?;
            state.give_back(&stored, at, None)
        })
    }

    async fn schedule_change(
        &self,
        order: OrderId,
        change: Option<ScheduledChange>,
    ) -> Result<Order, RepoError> {
        self.with(|state| {
            let stored = state
                .orders
                .get(&order.get())
                .cloned()
                .ok_or(RepoError::NotFound)?;
            if stored.status() != OrderStatus::Active {
                return Err(RepoError::Conflict(ConflictKind::ChangedMeanwhile));
            }
            let updated = changed(&stored, |r| r.billing.scheduled_change = change)?;
            state.put_order(updated.clone());
            Ok(updated)
        })
    }
}
