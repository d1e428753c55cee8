//! Plan changes: is the new plan an upgrade or a downgrade, and when does it happen.

use std::fmt;

use chrono::{DateTime, Utc};

use super::cycle::{BillingCycle, CycleError};
use crate::{Currency, Plan, PlanId};

/// When a plan change takes effect.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum When {
    /// At once: the new order is charged now, with a credit for the unused time of the
    /// current period, and replaces the current order when it activates.
    Now,
    /// When the current period ends: nothing is charged now; the renewal is made for
    /// the new plan and cycle.
    PeriodEnd,
}

/// A `when` or `activateMode` value that cannot be used. Answered as a validation
/// error on [`WhenError::field`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WhenError {
    #[error("`{0}` is not a time for a plan change; use now or period_end")]
    UnknownWhen(String),
    #[error("`{0}` is not an activation mode; use now or renewal")]
    UnknownActivateMode(String),
    #[error("when and activateMode ask for different times")]
    Contradiction,
}

impl WhenError {
    /// The contract's JSON field the error is about.
    pub fn field(&self) -> &'static str {
        match self {
            WhenError::UnknownWhen(_) => "when",
            WhenError::UnknownActivateMode(_) | WhenError::Contradiction => "activateMode",
        }
    }
}

impl When {
    /// The contract's name: `now` or `period_end`.
    pub fn as_str(self) -> &'static str {
        match self {
            When::Now => "now",
            When::PeriodEnd => "period_end",
        }
    }

    /// Parses `when`: exactly `now` or `period_end`.
    pub fn parse(text: &str) -> Result<When, WhenError> {
        match text {
            "now" => Ok(When::Now),
            "period_end" => Ok(When::PeriodEnd),
            other => Err(WhenError::UnknownWhen(other.to_owned())),
        }
    }

    /// Parses the panel's `activateMode`: `now` is [`When::Now`], `renewal` is
    /// [`When::PeriodEnd`].
    pub fn from_activate_mode(text: &str) -> Result<When, WhenError> {
        match text {
            "now" => Ok(When::Now),
            "renewal" => Ok(When::PeriodEnd),
            other => Err(WhenError::UnknownActivateMode(other.to_owned())),
        }
    }

    /// What a request asked for through either field; `None` when it named neither
    /// (the default rule then decides). Both given must agree.
    pub fn from_request(
        when: Option<&str>,
        activate_mode: Option<&str>,
    ) -> Result<Option<When>, WhenError> {
        let when = when.map(When::parse).transpose()?;
        let mode = activate_mode.map(When::from_activate_mode).transpose()?;
        match (when, mode) {
            (Some(a), Some(b)) if a != b => Err(WhenError::Contradiction),
            (a, b) => Ok(a.or(b)),
        }
    }
}

impl fmt::Display for When {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether the new plan and cycle cost at least as much per day as the current ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ChangeKind {
    /// The new plan and cycle cost at least as much per day (equal cost counts).
    Upgrade,
    /// The new plan and cycle cost less per day.
    Downgrade,
}

impl ChangeKind {
    /// The default time: an upgrade happens now, a downgrade at period end (the
    /// customer keeps what they paid for until then).
    pub fn default_when(self) -> When {
        match self {
            ChangeKind::Upgrade => When::Now,
            ChangeKind::Downgrade => When::PeriodEnd,
        }
    }
}

/// Why a plan change cannot be decided.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanChangeError {
    /// The new plan is not sold on the requested cycle (field `cycle`).
    #[error(transparent)]
    Cycle(#[from] CycleError),
    /// Plans priced in different currencies cannot be compared, and a credit in one
    /// currency cannot pay an order in another.
    #[error("plan {to_plan} is priced in {to}, the current plan in {from}")]
    CurrencyDiffers {
        to_plan: PlanId,
        from: Currency,
        to: Currency,
    },
}

/// A decided plan change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PlanChange {
    kind: ChangeKind,
    when: When,
    to_plan: PlanId,
    to_cycle: BillingCycle,
}

impl PlanChange {
    pub fn kind(self) -> ChangeKind {
        self.kind
    }
    pub fn when(self) -> When {
        self.when
    }
    pub fn to_plan(self) -> PlanId {
        self.to_plan
    }
    pub fn to_cycle(self) -> BillingCycle {
        self.to_cycle
    }
}

pub use crate::orders::cycle::ScheduledChange;

impl PlanChange {
    /// The scheduled change for a change made at `period_end`, the current period's
    /// end; `None` for a change made now.
    pub fn scheduled(self, period_end: DateTime<Utc>) -> Option<ScheduledChange> {
        (self.when == When::PeriodEnd).then_some(ScheduledChange {
            plan_id: self.to_plan,
            cycle: self.to_cycle,
            at: period_end,
        })
    }
}

/// Decides a change from `current` on `current_cycle` to `new` on `new_cycle`.
///
/// The current side is priced at its list price for the cycle it runs on (the order
/// already exists, so the cycle is not re-checked); the new side must be on sale on
/// `new_cycle`. Cost per day is compared as cost per year, which is exact in integers.
/// `requested` (from `when` or `activateMode`) wins over the default rule.
pub fn decide_plan_change(
    current: &Plan,
    current_cycle: BillingCycle,
    new: &Plan,
    new_cycle: BillingCycle,
    requested: Option<When>,
) -> Result<PlanChange, PlanChangeError> {
    let new_price = new_cycle.price_of(new)?;
    let current_price = current_cycle.list_price(current);
    if new_price.currency() != current_price.currency() {
        return Err(PlanChangeError::CurrencyDiffers {
            to_plan: new.id(),
            from: current_price.currency(),
            to: new_price.currency(),
        });
    }
    let kind = if new_cycle.yearly_cost(new_price) >= current_cycle.yearly_cost(current_price) {
        ChangeKind::Upgrade
    } else {
        ChangeKind::Downgrade
    };
    Ok(PlanChange {
        kind,
        when: requested.unwrap_or(kind.default_when()),
        to_plan: new.id(),
        to_cycle: new_cycle,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{PlanDraft, PlanSpec};
    use chrono::TimeZone;

    fn plan(id: i64, price: &str, yearly: &str, currency: &str) -> Plan {
        let spec = PlanSpec::new(PlanDraft {
            name: format!("Plan {id}"),
            price: price.into(),
            price_yearly: yearly.into(),
            currency: currency.into(),
            ..PlanDraft::default()
        })
        .unwrap();
        Plan::new(
            PlanId::new(id).unwrap(),
            spec,
            Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
        )
    }

    #[test]
    fn when_and_activate_mode_are_the_same_thing() {
        assert_eq!(When::from_request(Some("now"), None), Ok(Some(When::Now)));
        assert_eq!(
            When::from_request(None, Some("renewal")),
            Ok(Some(When::PeriodEnd))
        );
        assert_eq!(
            When::from_request(Some("period_end"), Some("renewal")),
            Ok(Some(When::PeriodEnd))
        );
        assert_eq!(When::from_request(None, None), Ok(None));
        let contradiction = When::from_request(Some("now"), Some("renewal")).unwrap_err();
        assert_eq!(contradiction.field(), "activateMode");
        assert_eq!(When::parse("later").unwrap_err().field(), "when");
        assert_eq!(When::parse("Now").unwrap_err().field(), "when");
        assert_eq!(
            When::from_activate_mode("later").unwrap_err().field(),
            "activateMode"
        );
    }

    #[test]
    fn upgrade_when_the_new_cycle_costs_at_least_as_much_per_day() {
        let basic = plan(1, "10", "100", "USD");
        let pro = plan(2, "20", "200", "USD");
        let decide =
            |from: &Plan, fc, to: &Plan, tc| decide_plan_change(from, fc, to, tc, None).unwrap();
        use BillingCycle::{Monthly, Yearly};
        let up = decide(&basic, Monthly, &pro, Monthly);
        assert_eq!((up.kind(), up.when()), (ChangeKind::Upgrade, When::Now));
        let down = decide(&pro, Monthly, &basic, Monthly);
        assert_eq!(
            (down.kind(), down.when()),
            (ChangeKind::Downgrade, When::PeriodEnd)
        );
        // Monthly 10 (120 a year) to yearly 100: cheaper per day, a downgrade.
        assert_eq!(
            decide(&basic, Monthly, &basic, Yearly).kind(),
            ChangeKind::Downgrade
        );
        // Yearly 100 to monthly 10: dearer per day, an upgrade.
        assert_eq!(
            decide(&basic, Yearly, &basic, Monthly).kind(),
            ChangeKind::Upgrade
        );
        // Yearly 200 to monthly 20 (240): upgrade; the same plan and cycle costs the same.
        assert_eq!(
            decide(&pro, Yearly, &pro, Monthly).kind(),
            ChangeKind::Upgrade
        );
        assert_eq!(
            decide(&pro, Monthly, &pro, Monthly).kind(),
            ChangeKind::Upgrade
        );
        // Exactly the same cost per day is an upgrade: 10 monthly vs 120 yearly.
        let even = plan(3, "10", "120", "USD");
        assert_eq!(
            decide(&basic, Monthly, &even, Yearly).kind(),
            ChangeKind::Upgrade
        );
        let end = Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap();
        assert_eq!(
            down.scheduled(end),
            Some(ScheduledChange {
                plan_id: basic.id(),
                cycle: Monthly,
                at: end
            })
        );
        assert_eq!(up.scheduled(end), None);
        // The request wins over the default.
        let forced = decide_plan_change(&pro, Monthly, &basic, Monthly, Some(When::Now)).unwrap();
        assert_eq!(
            (forced.kind(), forced.when()),
            (ChangeKind::Downgrade, When::Now)
        );
    }

    #[test]
    fn a_change_needs_a_sold_cycle_and_one_currency() {
        let monthly_only = plan(4, "10", "0", "USD");
        let basic = plan(1, "5", "50", "USD");
        let err = decide_plan_change(
            &basic,
            BillingCycle::Monthly,
            &monthly_only,
            BillingCycle::Yearly,
            None,
        )
        .unwrap_err();
        assert!(matches!(err, PlanChangeError::Cycle(ref e) if e.field() == "cycle"));
        let euro = plan(5, "10", "100", "EUR");
        assert!(matches!(
            decide_plan_change(
                &basic,
                BillingCycle::Monthly,
                &euro,
                BillingCycle::Monthly,
                None
            ),
            Err(PlanChangeError::CurrencyDiffers { .. })
        ));
    }
}
