//! Billing cycles and the periods they cut time into.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Months, Utc};

use crate::{Money, Plan, PlanId};

/// How long one paid period of an order runs, and which plan price pays for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum BillingCycle {
    /// One calendar month at the plan's `price`. The default.
    #[default]
    Monthly,
    /// Twelve calendar months at the plan's `priceYearly`.
    Yearly,
}

/// A cycle the request asked for cannot be used. Both answer as a validation error on
/// the field [`CycleError::FIELD`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CycleError {
    #[error("`{0}` is not a billing cycle; use monthly or yearly")]
    Unknown(String),
    /// A paid plan whose `priceYearly` is 0 is sold by the month only: a yearly order
    /// would otherwise be free.
    #[error("plan {0} is not offered yearly")]
    NoYearlyPrice(PlanId),
}

impl CycleError {
    /// The contract's JSON field the error is about.
    pub const FIELD: &'static str = "cycle";

    pub fn field(&self) -> &'static str {
        Self::FIELD
    }
}

impl BillingCycle {
    pub const ALL: [BillingCycle; 2] = [BillingCycle::Monthly, BillingCycle::Yearly];

    /// The contract's name: `monthly` or `yearly`.
    pub fn as_str(self) -> &'static str {
        match self {
            BillingCycle::Monthly => "monthly",
            BillingCycle::Yearly => "yearly",
        }
    }

    /// Calendar months in one period.
    pub fn months(self) -> u32 {
        match self {
            BillingCycle::Monthly => 1,
            BillingCycle::Yearly => 12,
        }
    }

    /// Periods of this cycle in a year, to compare cycles by their cost per day.
    pub fn periods_per_year(self) -> u32 {
        12 / self.months()
    }

    /// What one period of `plan` costs on this cycle. A plan is sold yearly only when it
    /// has a yearly price, or when it costs nothing monthly either (a free plan is free
    /// on every cycle).
    pub fn price_of(self, plan: &Plan) -> Result<Money, CycleError> {
        match self {
            BillingCycle::Monthly => Ok(plan.price()),
            BillingCycle::Yearly => {
                let yearly = plan.price_yearly();
                if yearly.is_zero() && !plan.price().is_zero() {
                    Err(CycleError::NoYearlyPrice(plan.id()))
                } else {
                    Ok(yearly)
                }
            }
        }
    }

    /// The plan's list price for one period of this cycle, as stored, without asking
    /// whether the cycle is on sale (for an order that already runs on it).
    pub fn list_price(self, plan: &Plan) -> Money {
        match self {
            BillingCycle::Monthly => plan.price(),
            BillingCycle::Yearly => plan.price_yearly(),
        }
    }

    /// What a year costs at `period_price` per period of this cycle, in minor units.
    /// Comparing these numbers compares cost per day exactly and without dividing: a
    /// year has the same days whichever cycle pays for it.
    pub fn yearly_cost(self, period_price: Money) -> i128 {
        i128::from(period_price.minor()) * i128::from(self.periods_per_year())
    }
}

impl fmt::Display for BillingCycle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for BillingCycle {
    type Err = CycleError;

    /// Exactly `monthly` or `yearly`, as the contract spells them.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        BillingCycle::ALL
            .into_iter()
            .find(|cycle| cycle.as_str() == s)
            .ok_or_else(|| CycleError::Unknown(s.to_owned()))
    }
}

/// A plan change deferred to the period's end: the contract's
/// `scheduledChange {planId, cycle, at}` on the current order. The renewal at `at` is
/// made for `plan_id` on `cycle`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScheduledChange {
    pub plan_id: PlanId,
    pub cycle: BillingCycle,
    pub at: DateTime<Utc>,
}

/// The coupon an order redeemed, and which of the coupon's periods the order pays for
/// (0 for the order that redeemed it, 1 for its first renewal...).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderCoupon {
    /// The code, upper-cased as the catalogue stores it.
    pub code: String,
    pub period: u32,
}

/// What billing adds to an order: its cycle, the account credit that pays part of it,
/// the coupon it carries, what its period is worth for a later unused-time credit, and
/// a plan change scheduled for the end of its period.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OrderBilling {
    pub cycle: BillingCycle,
    /// Account credit paying the order after tax (a negative `Account credit` line);
    /// `None` when none did.
    pub credit_applied: Option<Money>,
    /// What the period is worth for an unused-time credit: the plan price less the
    /// coupon, before tax. `None` for orders priced without billing rules: their
    /// subtotal is what the period is worth.
    pub period_value: Option<Money>,
    pub coupon: Option<OrderCoupon>,
    pub scheduled_change: Option<ScheduledChange>,
}

/// A paid period: from `start` (inclusive) to `end` (exclusive), `start < end`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Period {
    start: DateTime<Utc>,
    end: DateTime<Utc>,
}

impl Period {
    /// A period with its bounds in order; `None` when `end` is not after `start`.
    pub fn new(start: DateTime<Utc>, end: DateTime<Utc>) -> Option<Period> {
        (start < end).then_some(Period { start, end })
    }

    /// The first period of `cycle` from `start`.
    pub fn starting(start: DateTime<Utc>, cycle: BillingCycle) -> Period {
        Period::nth(start, cycle, 0)
    }

    /// Period number `index` (0 is the first) of an order anchored at `anchor`. Counted
    /// from the anchor, never from the previous end, so month-end clamping does not
    /// drift: anchored on Jan 31, monthly periods end Feb 28, Mar 31, Apr 30. This is
    /// the same calendar arithmetic as order expiry (`months_after`, `next_anniversary`).
    pub fn nth(anchor: DateTime<Utc>, cycle: BillingCycle, index: u32) -> Period {
        let start = months_after(anchor, index.saturating_mul(cycle.months()));
        let end = months_after(
            anchor,
            index.saturating_add(1).saturating_mul(cycle.months()),
        );
        if start < end {
            Period { start, end }
        } else {
            // Only at the end of representable time; keep the invariant with one second.
            Period {
                start: end - chrono::TimeDelta::seconds(1),
                end,
            }
        }
    }

    pub fn start(self) -> DateTime<Utc> {
        self.start
    }

    pub fn end(self) -> DateTime<Utc> {
        self.end
    }

    /// Whole seconds in the period (always at least 1).
    pub fn seconds(self) -> i64 {
        (self.end - self.start).num_seconds().max(1)
    }

    /// Seconds of the period still to come at `at`: all of it before the start, none
    /// after the end.
    pub fn seconds_left_at(self, at: DateTime<Utc>) -> i64 {
        let from = at.max(self.start).min(self.end);
        (self.end - from).num_seconds().clamp(0, self.seconds())
    }

    /// Whether `at` falls inside the period.
    pub fn contains(self, at: DateTime<Utc>) -> bool {
        self.start <= at && at < self.end
    }
}

/// `months` calendar months after `at`, clamped at month end (Jan 31 + 1 month is
/// Feb 28 or 29), the time of day kept.
fn months_after(at: DateTime<Utc>, months: u32) -> DateTime<Utc> {
    at.checked_add_months(Months::new(months))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{PlanDraft, PlanSpec};
    use chrono::TimeZone;

    fn at(y: i32, m: u32, d: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, 10, 0, 0).unwrap()
    }

    fn plan(price: &str, yearly: &str) -> Plan {
        let spec = PlanSpec::new(PlanDraft {
            name: "Pro".into(),
            price: price.into(),
            price_yearly: yearly.into(),
            ..PlanDraft::default()
        })
        .unwrap();
        Plan::new(PlanId::new(7).unwrap(), spec, at(2026, 1, 1))
    }

    #[test]
    fn cycles_parse_exactly() {
        assert_eq!("monthly".parse(), Ok(BillingCycle::Monthly));
        assert_eq!("yearly".parse(), Ok(BillingCycle::Yearly));
        let err = "Yearly".parse::<BillingCycle>().unwrap_err();
        assert_eq!(err.field(), "cycle");
        assert_eq!(BillingCycle::default(), BillingCycle::Monthly);
    }

    #[test]
    fn a_paid_plan_without_yearly_price_has_no_yearly_cycle() {
        let monthly_only = plan("10", "0");
        assert_eq!(
            BillingCycle::Yearly.price_of(&monthly_only),
            Err(CycleError::NoYearlyPrice(PlanId::new(7).unwrap()))
        );
        assert_eq!(
            BillingCycle::Yearly
                .price_of(&monthly_only)
                .unwrap_err()
                .field(),
            "cycle"
        );
        assert_eq!(
            BillingCycle::Monthly
                .price_of(&monthly_only)
                .unwrap()
                .minor(),
            1000
        );
        assert_eq!(
            BillingCycle::Yearly
                .price_of(&plan("10", "100"))
                .unwrap()
                .minor(),
            10_000
        );
        assert!(BillingCycle::Yearly
            .price_of(&plan("0", "0"))
            .unwrap()
            .is_zero());
        let both = plan("10", "100");
        assert_eq!(
            BillingCycle::Yearly.yearly_cost(both.price_yearly()),
            10_000
        );
        assert_eq!(BillingCycle::Monthly.yearly_cost(both.price()), 12_000);
        assert!(BillingCycle::Yearly.list_price(&monthly_only).is_zero());
    }

    #[test]
    fn periods_clamp_at_month_end_from_the_anchor() {
        let anchor = at(2026, 1, 31);
        let ends: Vec<_> = (0..4)
            .map(|n| Period::nth(anchor, BillingCycle::Monthly, n).end())
            .collect();
        assert_eq!(
            ends,
            vec![
                at(2026, 2, 28),
                at(2026, 3, 31),
                at(2026, 4, 30),
                at(2026, 5, 31)
            ]
        );
        let leap = Period::starting(at(2028, 2, 29), BillingCycle::Yearly);
        assert_eq!(leap.end(), at(2029, 2, 28));
        assert_eq!(
            Period::nth(at(2028, 2, 29), BillingCycle::Yearly, 4).end(),
            at(2033, 2, 28)
        );
        assert_eq!(
            Period::nth(at(2028, 2, 29), BillingCycle::Yearly, 3).end(),
            at(2032, 2, 29)
        );
    }

    #[test]
    fn periods_agree_with_order_expiry() {
        for (y, m, d) in [(2026, 1, 31), (2026, 3, 31), (2028, 1, 30), (2026, 12, 15)] {
            let anchor = at(y, m, d);
            for n in 0..30 {
                let period = Period::nth(anchor, BillingCycle::Monthly, n);
                assert_eq!(period.end(), crate::orders::months_after(anchor, n + 1));
                assert_eq!(
                    crate::orders::next_anniversary(anchor, period.start()),
                    period.end()
                );
            }
        }
    }

    #[test]
    fn seconds_left_are_clamped_to_the_period() {
        let period = Period::new(at(2026, 11, 1), at(2026, 12, 1)).unwrap();
        assert_eq!(period.seconds(), 30 * 86_400);
        assert_eq!(period.seconds_left_at(at(2026, 10, 1)), 30 * 86_400);
        assert_eq!(period.seconds_left_at(at(2026, 11, 13)), 18 * 86_400);
        assert_eq!(period.seconds_left_at(at(2027, 1, 1)), 0);
        assert!(period.contains(at(2026, 11, 1)) && !period.contains(at(2026, 12, 1)));
        assert!(Period::new(at(2026, 12, 1), at(2026, 12, 1)).is_none());
    }
}
