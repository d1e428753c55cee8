//! The lifecycle sweep: renewals before a paid period ends, free plans renewing
//! themselves, expiry of ended periods and of stale pending orders. Every step is a
//! conditional write, so running it twice, or on two instances at once, changes
//! nothing more than running it once.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, SubsecRound, TimeDelta, Utc};

use super::charges::{Charges, OrderItem};
use super::cycle::{BillingCycle, OrderBilling};
use super::model::{InvalidOrder, NewOrder, Order};
use super::periods::next_anniversary;
use super::ports::{BillingDirectory, LifecycleStore, PastDueStore, RenewalDiscounts};
use super::service::BillingPolicy;
use crate::catalogue::plan::Plan;
use crate::catalogue::ports::PlanRepository;
use crate::shared::clock::Clock;
use crate::shared::error_chain;
use crate::shared::ids::PlanId;
use crate::shared::repo::{RepoError, StoreFailure};

/// How many renewal candidates the sweep reads at a time; their renewals are stored in
/// one transaction (one commit per chunk rather than per renewal).
pub const RENEWAL_CHUNK: usize = 200;

/// What one sweep did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Pending renewal orders created for paid plans about to end.
    pub renewals_created: usize,
    /// Free-plan orders whose period was extended in place.
    pub free_extended: usize,
    /// Active orders whose period ended (their accounts fall back to the default plan).
    pub expired_active: u64,
    /// Pending orders left unpaid for too long.
    pub expired_pending: u64,
    /// Orders the sweep could not renew (logged; retried on the next sweep).
    pub skipped: usize,
    /// Active orders whose period ended with their renewal unpaid, now past due.
    pub past_due: u64,
    /// Past-due orders whose grace time ended unpaid.
    pub expired_past_due: u64,
}

/// Why a sweep stopped.
#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    /// The store failed: unreachable, or broken.
    #[error("lifecycle sweep failure")]
    Store(#[source] StoreFailure),
}

impl From<RepoError> for LifecycleError {
    fn from(err: RepoError) -> Self {
        LifecycleError::Store(err.into())
    }
}

/// Runs the lifecycle sweep.
#[derive(Clone)]
pub struct LifecycleService {
    store: Arc<dyn LifecycleStore>,
    plans: Arc<dyn PlanRepository>,
    directory: Arc<dyn BillingDirectory>,
    clock: Arc<dyn Clock>,
    policy: Arc<BillingPolicy>,
    discounts: Option<Arc<dyn RenewalDiscounts>>,
    past_due: Option<PastDue>,
}

/// Dunning's part of the sweep: where past-due orders are kept, and for how long.
#[derive(Clone)]
struct PastDue {
    store: Arc<dyn PastDueStore>,
    grace: TimeDelta,
}

impl LifecycleService {
    /// Builds the service on the ports it needs.
    pub fn new(
        store: Arc<dyn LifecycleStore>,
        plans: Arc<dyn PlanRepository>,
        directory: Arc<dyn BillingDirectory>,
        clock: Arc<dyn Clock>,
        policy: Arc<BillingPolicy>,
    ) -> LifecycleService {
        LifecycleService {
            store,
            plans,
            directory,
            clock,
            policy,
            discounts: None,
            past_due: None,
        }
    }

    /// An order whose period ends while its renewal is pending stays active, past due,
    /// for `grace` (a zero grace expires it at its period end, as without dunning).
    pub fn with_past_due(mut self, store: Arc<dyn PastDueStore>, grace: TimeDelta) -> Self {
        self.past_due = Some(PastDue { store, grace }).filter(|p| p.grace > TimeDelta::zero());
        self
    }

    /// Renewals carry over repeating and forever coupons through `discounts`.
    pub fn with_renewal_discounts(mut self, discounts: Arc<dyn RenewalDiscounts>) -> Self {
        self.discounts = Some(discounts);
        self
    }

    /// One sweep at the clock's time.
    pub async fn sweep_now(&self) -> Result<SweepReport, LifecycleError> {
        self.sweep(self.clock.now()).await
    }

    /// One sweep as of `now`:
    /// 1. a pending renewal for every active paid-plan order ending within the renewal
    ///    lead time (exactly one per order, held by the database), read and stored
    ///    [`RENEWAL_CHUNK`] candidates at a time, each chunk's renewals in one
    ///    transaction;
    /// 2. free-plan orders whose period ended run on to their next monthly anniversary;
    /// 3. with dunning, active paid-plan orders whose period ended with their renewal
    ///    pending become past due (once, with `order.past_due`), and past-due orders
    ///    whose grace time is over expire;
    /// 4. active paid-plan orders whose period ended expire (past-due ones excepted);
    /// 5. pending orders older than the pending time-to-live expire (renewals of orders
    ///    still active excepted).
    pub async fn sweep(&self, now: DateTime<Utc>) -> Result<SweepReport, LifecycleError> {
        let now = now.trunc_subsecs(0);
        let mut report = SweepReport::default();
        let mut plans: HashMap<PlanId, Plan> = HashMap::new();

        let horizon = now + self.policy.renewal_lead;
        let mut after = None;
        loop {
            let chunk = self
                .store
                .renewal_candidates_after(horizon, after, RENEWAL_CHUNK)
                .await?;
            let Some(last) = chunk.last() else {
                break;
            };
            after = Some(last.id());
            let mut renewals = Vec::with_capacity(chunk.len());
            for order in &chunk {
                match self.renewal_of(order, now, &mut plans).await {
                    Ok(renewal) => renewals.push(renewal),
                    Err(LifecycleError::Store(failure)) if failure.is_unavailable() => {
                        return Err(LifecycleError::Store(failure))
                    }
                    Err(err) => {
                        tracing::warn!(order = %order.id(), error = %error_chain(&err), "cannot create renewal order");
                        report.skipped += 1;
                    }
                }
            }
            if !renewals.is_empty() {
                report.renewals_created += self.store.insert_renewals(renewals).await?.len();
            }
            if chunk.len() < RENEWAL_CHUNK {
                break;
            }
        }

        for order in self.store.free_orders_due(now).await? {
            let Some(current) = order.expires_at() else {
                continue;
            };
            let anchor = order.activated_at().unwrap_or(current);
            let next = next_anniversary(anchor, now.max(current));
            if self.store.extend(order.id(), current, next).await? {
                report.free_extended += 1;
            }
        }

        if let Some(past_due) = &self.past_due {
            report.past_due = past_due
                .store
                .mark_past_due(now, now - past_due.grace)
                .await?;
            report.expired_past_due = past_due.store.expire_past_due(now - past_due.grace).await?;
        }
        report.expired_active = self.store.expire_active(now).await?;
        report.expired_pending = self
            .store
            .expire_pending(now - self.policy.pending_ttl)
            .await?;
        if report != SweepReport::default() {
            tracing::info!(
                renewals = report.renewals_created,
                free_extended = report.free_extended,
                expired_active = report.expired_active,
                expired_pending = report.expired_pending,
                past_due = report.past_due,
                expired_past_due = report.expired_past_due,
                skipped = report.skipped,
                "lifecycle sweep"
            );
        }
        Ok(report)
    }

    /// The renewal order for `order`: the same plan and cycle at its current price (or
    /// the plan and cycle of a change scheduled for the period end), with the coupon
    /// discount it carries over, taxed for the buyer's current country.
    async fn renewal_of(
        &self,
        order: &Order,
        now: DateTime<Utc>,
        plans: &mut HashMap<PlanId, Plan>,
    ) -> Result<NewOrder, LifecycleError> {
        let (plan_id, cycle) = match order.billing().scheduled_change {
            Some(change) => (change.plan_id, change.cycle),
            None => (order.plan_id(), order.billing().cycle),
        };
        let plan = match plans.get(&plan_id) {
            Some(plan) => plan.clone(),
            None => {
                let plan = self.plans.get(plan_id).await?;
                plans.insert(plan.id(), plan.clone());
                plan
            }
        };
        let buyer = self.directory.billing_details(order.account()).await?;
        let rate = self.policy.tax.rate_for(buyer.address.country_code());
        let corrupt =
            |e: InvalidOrder| LifecycleError::Store(RepoError::Internal(Box::new(e)).into());
        // A plan no longer sold yearly renews monthly.
        let (cycle, price) = match cycle.price_of(&plan) {
            Ok(price) => (cycle, price),
            Err(_) => (BillingCycle::Monthly, plan.price()),
        };
        let description = format!("{} ({})", plan.name(), cycle);
        let mut items = vec![OrderItem::new(description.clone(), 1, price).map_err(corrupt)?];
        let mut coupon = None;
        let mut period_value = price;
        if let Some(discounts) = &self.discounts {
            if let Some((line, carried)) = discounts.renewal_discount(order, &plan, price).await? {
                period_value = period_value
                    .checked_add(line.amount())
                    .map_err(|e| corrupt(e.into()))?;
                items.push(line);
                coupon = Some(carried);
            }
        }
        let charges = Charges::compute(items, rate).map_err(corrupt)?;
        let billing = OrderBilling {
            cycle,
            credit_applied: None,
            period_value: Some(period_value),
            coupon,
            scheduled_change: None,
        };
        let renewal = NewOrder::for_plan(&plan, order.account(), order.placed_by(), rate, now)
            .and_then(|new| new.with_pricing(description, charges, billing))
            .map_err(corrupt)?;
        Ok(renewal
            .renewing(order.id())
            .with_notes(Some(format!("renewal of order #{}", order.id()))))
    }
}
