//! Ordering a plan with the billing rules: a cycle, a coupon, account credit, and plan
//! changes (upgrade now with an unused-time credit, or a change scheduled for the end
//! of the period). The order and what it redeems and spends are written in one
//! transaction by [`OrderPlacement`]; a preview runs the same steps and stores nothing.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::change::{decide_plan_change, ChangeKind, PlanChangeError, ScheduledChange, When};
use super::coupon::{Coupon, CouponCode, CouponRedemption, CouponRejection, RedemptionContext};
use super::cycle::{BillingCycle, CycleError};
use super::ports::{
    CouponRepository, CreditLedger, OrderPlacement, PlacementError, PlacementExtras,
};
use super::pricing::{price_order, Bill, PricingInput, UnusedTime};
use super::proration::unused_time_credit;
use crate::audit::Actor;
use crate::catalogue::plan::Plan;
use crate::identity::caller::Caller;
use crate::orders::{
    months_after, CustomerNote, NewOrder, Order, OrderBilling, OrderCoupon, OrderError,
    OrderService, OrderStatus,
};
use crate::shared::repo::{ConflictKind, RepoError};
use crate::{AccountRef, Money, OrderId, OrgId, PlanId};

/// `POST /api/orders` and its preview, parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlanOrderRequest {
    pub plan: PlanId,
    pub org: Option<OrgId>,
    pub cycle: BillingCycle,
    pub coupon_code: Option<String>,
    /// `when` or `activateMode`; `None` lets the upgrade/downgrade rule decide.
    pub when: Option<When>,
    /// The customer's own note, stored with the new order.
    pub customer_note: Option<CustomerNote>,
}

/// What ordering did, or (preview) would do.
#[derive(Clone, Debug, PartialEq)]
pub enum PlanOrderOutcome {
    /// A new order: pending, or active when nothing is left to pay.
    Placed(Order),
    /// A plan change at the end of the period: the current order, carrying its
    /// `scheduledChange`. Nothing is charged now.
    Scheduled(Order),
}

/// What an order would be, without storing anything.
#[derive(Clone, Debug, PartialEq)]
pub struct OrderPreview {
    pub plan: Plan,
    pub cycle: BillingCycle,
    /// `Some` when the order changes the account's current plan.
    pub change: Option<ChangeKind>,
    pub when: When,
    /// The price, line by line (`None` for a change at period end: nothing is charged).
    pub bill: Option<Bill>,
    /// The account's current order, when there is one.
    pub current: Option<Order>,
    /// The change a `period_end` order would schedule on the current order.
    pub scheduled: Option<ScheduledChange>,
    /// Whether the order would be active at once (nothing left to pay).
    pub activates_now: bool,
}

/// Orders plans with cycles, coupons, credit and plan changes.
#[derive(Clone)]
pub struct PlanOrderService {
    orders: OrderService,
    coupons: Arc<dyn CouponRepository>,
    credit: Arc<dyn CreditLedger>,
    placement: Arc<dyn OrderPlacement>,
}

/// A priced order, ready to store.
struct Priced {
    order: NewOrder,
    extras: PlacementExtras,
    bill: Bill,
}

/// What the steps before pricing decided.
enum Decision {
    /// Charge a new order (a first order, the same plan again, or a change now).
    Charge {
        change: Option<ChangeKind>,
        current: Option<Order>,
        priced: Box<Priced>,
    },
    /// Schedule a change on `current` for the end of its period.
    Schedule {
        kind: ChangeKind,
        current: Order,
        scheduled: ScheduledChange,
    },
}

impl PlanOrderService {
    pub fn new(
        orders: OrderService,
        coupons: Arc<dyn CouponRepository>,
        credit: Arc<dyn CreditLedger>,
        placement: Arc<dyn OrderPlacement>,
    ) -> PlanOrderService {
        PlanOrderService {
            orders,
            coupons,
            credit,
            placement,
        }
    }

    /// Orders a plan for the caller (or an organisation the caller manages). A change
    /// at period end answers the current order with its scheduled change; anything else
    /// is a new order, stored with its coupon redemption and credit debit in one
    /// transaction, and active at once when nothing is left to pay.
    pub async fn place(
        &self,
        caller: Caller,
        request: PlanOrderRequest,
    ) -> Result<PlanOrderOutcome, OrderError> {
        // A racing order may take the credit or the coupon's last redemption between
        // pricing and writing: price again with what is left.
        for _ in 0..3 {
            let (plan, decided) = self.decide(caller, &request).await?;
            match decided {
                Decision::Schedule {
                    current, scheduled, ..
                } => {
                    let stored = self
                        .placement
                        .schedule_change(current.id(), Some(scheduled))
                        .await;
                    self.orders.freshness().touched(current.account());
                    return match stored {
                        Ok(order) => Ok(PlanOrderOutcome::Scheduled(order)),
                        Err(RepoError::Conflict(_)) => continue,
                        Err(other) => Err(OrderError::from_repo(other, || {
                            OrderError::OrderNotFound(current.id())
                        })),
                    };
                }
                Decision::Charge { priced, .. } => {
                    let Priced { order, extras, .. } = *priced;
                    let account = order.account();
                    let code = extras.redemption.as_ref().map(|r| r.code.to_string());
                    let placed = self.placement.place(order, extras).await;
                    self.orders.freshness().touched(account);
                    match placed {
                        Ok(order) => {
                            if order.status() == OrderStatus::Active {
                                self.orders.issue_documents(&order).await;
                            }
                            return Ok(PlanOrderOutcome::Placed(order));
                        }
                        Err(PlacementError::Coupon(reason)) => {
                            return Err(coupon_error(CouponRejection {
                                code: code.unwrap_or_default(),
                                reason,
                            }))
                        }
                        Err(PlacementError::CreditUnavailable)
                        | Err(PlacementError::Repo(RepoError::Conflict(ConflictKind::RaceLost))) => {
                            continue
                        }
                        Err(PlacementError::Repo(RepoError::Conflict(
                            ConflictKind::MissingReference,
                        ))) => return Err(OrderError::PlanNotFound(plan.id())),
                        Err(PlacementError::Repo(other)) => return Err(OrderError::repo(other)),
                    }
                }
            }
        }
        Err(OrderError::Conflict(ConflictKind::RaceLost))
    }

    /// What [`place`](Self::place) would do now; stores nothing.
    pub async fn preview(
        &self,
        caller: Caller,
        request: PlanOrderRequest,
    ) -> Result<OrderPreview, OrderError> {
        let (plan, decided) = self.decide(caller, &request).await?;
        Ok(match decided {
            Decision::Charge {
                change,
                current,
                priced,
            } => OrderPreview {
                plan,
                cycle: request.cycle,
                change,
                when: When::Now,
                activates_now: priced.order.is_free(),
                bill: Some(priced.bill),
                current,
                scheduled: None,
            },
            Decision::Schedule {
                kind,
                current,
                scheduled,
            } => OrderPreview {
                plan,
                cycle: request.cycle,
                change: Some(kind),
                when: When::PeriodEnd,
                bill: None,
                current: Some(current),
                scheduled: Some(scheduled),
                activates_now: false,
            },
        })
    }

    /// Drops the plan change scheduled on an order the caller may see; an order with
    /// none is answered as it is.
    pub async fn drop_scheduled_change(
        &self,
        caller: Caller,
        id: OrderId,
    ) -> Result<Order, OrderError> {
        let order = self.orders.get(caller, id).await?;
        if order.billing().scheduled_change.is_none() {
            return Ok(order);
        }
        let stored = self.placement.schedule_change(id, None).await;
        self.orders.freshness().touched(order.account());
        stored.map_err(|e| OrderError::from_repo(e, || OrderError::OrderNotFound(id)))
    }

    async fn decide(
        &self,
        caller: Caller,
        request: &PlanOrderRequest,
    ) -> Result<(Plan, Decision), OrderError> {
        let account = match request.org {
            None => AccountRef::User(caller.user_id()),
            Some(org) => {
                self.orders.require_manager(caller, org).await?;
                AccountRef::Org(org)
            }
        };
        let plan = self.orders.plan(request.plan).await?;
        if plan.hidden() && !caller.is_admin() {
            return Err(OrderError::PlanNotFound(request.plan));
        }
        let period_price = request.cycle.price_of(&plan).map_err(cycle_error)?;
        let buyer = self.orders.buyer(account).await?;
        let now = self.orders.now();
        let rate = self
            .orders
            .policy()
            .tax
            .rate_for(buyer.address.country_code());

        let current = self
            .orders
            .ports()
            .orders
            .active_for(account)
            .await
            .map_err(OrderError::repo)?;
        let mut change = None;
        let mut unused = None;
        if let Some(current) = current
            .as_ref()
            .filter(|c| is_change(c, &plan, request.cycle))
        {
            // A plan that no longer exists cannot be compared: the order then replaces
            // it like any other order, without an unused-time credit.
            if let Ok(current_plan) = self.orders.plan(current.plan_id()).await {
                let decided = decide_plan_change(
                    &current_plan,
                    current.billing().cycle,
                    &plan,
                    request.cycle,
                    request.when,
                )
                .map_err(change_error)?;
                change = Some(decided.kind());
                if decided.when() == When::PeriodEnd {
                    let Some(at) = current.expires_at().filter(|_| !current.is_lifetime()) else {
                        return Err(OrderError::Invalid {
                            field: "when",
                            message: "cannot be period_end: the current plan has no period end"
                                .into(),
                        });
                    };
                    let scheduled = decided.scheduled(at).ok_or_else(|| OrderError::Invalid {
                        field: "when",
                        message: "is not a time for a plan change".into(),
                    })?;
                    return Ok((
                        plan,
                        Decision::Schedule {
                            kind: decided.kind(),
                            current: current.clone(),
                            scheduled,
                        },
                    ));
                }
                unused = unused_time(current, &current_plan, now)?;
            }
        }

        let coupon = match request
            .coupon_code
            .as_deref()
            .map(str::trim)
            .filter(|c| !c.is_empty())
        {
            Some(typed) => Some(
                self.coupon_for(typed, &plan, period_price, account, now)
                    .await?,
            ),
            None => None,
        };
        let balance = self
            .credit
            .balance(account, period_price.currency())
            .await
            .map_err(OrderError::repo)?;
        let bill = price_order(PricingInput {
            plan_name: plan.name().to_owned(),
            cycle: request.cycle,
            period_price,
            unused_time: unused,
            coupon: coupon
                .as_ref()
                .map(|c| (c.code().clone(), c.spec().discount())),
            tax_rate: rate,
            credit_balance: Some(balance),
        })
        .map_err(|e| OrderError::repo(RepoError::internal(e.to_string())))?;

        let billing = OrderBilling {
            cycle: request.cycle,
            credit_applied: Some(bill.credit_applied()).filter(|m| !m.is_zero()),
            period_value: Some(bill.paid_for_period()),
            coupon: coupon.as_ref().map(|c| OrderCoupon {
                code: c.code().to_string(),
                period: 0,
            }),
            scheduled_change: None,
        };
        let order = NewOrder::for_plan(&plan, account, Some(caller.user_id()), rate, now)?
            .with_pricing(
                format!("{} ({})", plan.name(), request.cycle),
                bill.charges().clone(),
                billing,
            )?
            .with_customer_note(request.customer_note.clone());
        let activation = order.is_free().then(|| {
            self.orders
                .activation_terms(now, months_after(now, request.cycle.months()), None)
        });
        let actor = Actor::User(caller.user_id());
        let extras = PlacementExtras {
            redemption: coupon
                .as_ref()
                .map(|c| CouponRedemption::of(c, account, bill.coupon_discount(), now)),
            credit_applied: Some(bill.credit_applied()).filter(|m| !m.is_zero()),
            unused_time_to_credit: Some(bill.credit_to_ledger()).filter(|m| !m.is_zero()),
            // Like a free plan's order, an order paid by credit activates unaudited;
            // the credit it used is audited (`credit.order`).
            activation_audit: None,
            activation,
            actor: Some(actor),
        };
        Ok((
            plan,
            Decision::Charge {
                change,
                current,
                priced: Box::new(Priced {
                    order,
                    extras,
                    bill,
                }),
            },
        ))
    }

    /// The coupon for `typed`, checked for this order; a refusal names its reason.
    async fn coupon_for(
        &self,
        typed: &str,
        plan: &Plan,
        price: Money,
        account: AccountRef,
        now: DateTime<Utc>,
    ) -> Result<Coupon, OrderError> {
        let code =
            CouponCode::parse(typed).map_err(|_| coupon_error(CouponRejection::unknown(typed)))?;
        let coupon = match self.coupons.get(code.clone()).await {
            Ok(coupon) => coupon,
            Err(RepoError::NotFound) => return Err(coupon_error(CouponRejection::unknown(typed))),
            Err(other) => return Err(OrderError::repo(other)),
        };
        let already = if coupon.spec().once_per_account() {
            self.coupons
                .redeemed_by(code, account)
                .await
                .map_err(OrderError::repo)?
        } else {
            false
        };
        coupon
            .check(&RedemptionContext {
                plan: plan.id(),
                currency: price.currency(),
                at: now,
                already_redeemed_by_account: already,
            })
            .map_err(coupon_error)?;
        Ok(coupon)
    }
}

/// Whether ordering `plan` on `cycle` changes the account's current order: another
/// plan, or the same plan on another cycle, while its period runs.
fn is_change(current: &Order, plan: &Plan, cycle: BillingCycle) -> bool {
    current.plan_id() != plan.id() || current.billing().cycle != cycle
}

/// The unused time of `current` at `now`, for a change made now.
fn unused_time(
    current: &Order,
    current_plan: &Plan,
    now: DateTime<Utc>,
) -> Result<Option<UnusedTime>, OrderError> {
    let Some(period) = current.current_period() else {
        return Ok(None);
    };
    // Only a period its price paid for: one cycle long (an order placed or renewed on
    // its cycle). An administrator's plan applied until a date of their choosing was not
    // priced by that span, so it carries no unused-time credit.
    let one_cycle = months_after(period.start(), current.billing().cycle.months());
    if current.renewal_of().is_none() && one_cycle != period.end() {
        return Ok(None);
    }
    let charges = current.charges();
    let paid = current.billing().period_value.unwrap_or(charges.subtotal());
    let paid = Money::from_minor(paid.minor().max(0), paid.currency());
    let credit = unused_time_credit(paid, period, now)
        .map_err(|e| OrderError::repo(RepoError::internal(e.to_string())))?;
    Ok(Some(UnusedTime {
        credit,
        plan_name: current_plan.name().to_owned(),
        tax_rate_paid: charges.tax_rate(),
    }))
}

fn coupon_error(rejection: CouponRejection) -> OrderError {
    OrderError::Invalid {
        field: CouponRejection::FIELD,
        message: format!("cannot be used: {rejection}"),
    }
}

fn cycle_error(err: CycleError) -> OrderError {
    OrderError::Invalid {
        field: CycleError::FIELD,
        message: match err {
            CycleError::Unknown(text) => format!("`{text}` is not monthly or yearly"),
            CycleError::NoYearlyPrice(_) => {
                "must be monthly: this plan has no yearly price".to_owned()
            }
        },
    }
}

fn change_error(err: PlanChangeError) -> OrderError {
    match err {
        PlanChangeError::Cycle(err) => cycle_error(err),
        PlanChangeError::CurrencyDiffers { from, to, .. } => OrderError::Invalid {
            field: "planId",
            message: format!(
                "is priced in {}, the current plan in {}: a plan change keeps the currency",
                to.code(),
                from.code()
            ),
        },
    }
}
