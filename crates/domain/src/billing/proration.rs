//! The credit for the unused part of a paid period when a plan changes now.

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};

use super::cycle::Period;
use crate::Money;

/// What was paid cannot be credited back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ProrationError {
    #[error("the amount paid for a period cannot be negative")]
    NegativePaid,
}

/// The unused share of what was paid for the current period, and how it was reached.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProrationCredit {
    amount: Money,
    paid: Money,
    unused_seconds: i64,
    period_seconds: i64,
    first_unused_day: NaiveDate,
    last_unused_day: NaiveDate,
}

impl ProrationCredit {
    /// The credit: `paid * unused_seconds / period_seconds`, rounded down to the minor
    /// unit. Never negative, never more than `paid`.
    pub fn amount(&self) -> Money {
        self.amount
    }
    /// What was paid for the whole period (net of tax and coupon).
    pub fn paid(&self) -> Money {
        self.paid
    }
    pub fn unused_seconds(&self) -> i64 {
        self.unused_seconds
    }
    pub fn period_seconds(&self) -> i64 {
        self.period_seconds
    }
    /// The first calendar day (UTC) not used.
    pub fn first_unused_day(&self) -> NaiveDate {
        self.first_unused_day
    }
    /// The last calendar day (UTC) of the period, counted like an invoice's service
    /// period: the day before the period's end.
    pub fn last_unused_day(&self) -> NaiveDate {
        self.last_unused_day
    }

    /// The invoice line's text: `Unused time on <plan> (<from> – <to>)`, days as
    /// ISO dates joined by an en dash.
    pub fn description(&self, plan_name: &str) -> String {
        format!(
            "Unused time on {plan_name} ({} \u{2013} {})",
            self.first_unused_day, self.last_unused_day
        )
    }
}

/// The unused share of `paid` for `period` at `at`, pro rata by the second and rounded
/// down to the minor unit, so that the credit is never more than was paid. `paid` is
/// what the customer paid for the period before tax: tax is computed again on the new
/// order's price after this credit, so crediting tax here would count it twice.
///
/// Before the period starts everything is unused; after it ends nothing is.
pub fn unused_time_credit(
    paid: Money,
    period: Period,
    at: DateTime<Utc>,
) -> Result<ProrationCredit, ProrationError> {
    if paid.minor() < 0 {
        return Err(ProrationError::NegativePaid);
    }
    let period_seconds = period.seconds();
    let unused_seconds = period.seconds_left_at(at);
    // i128 holds any i64 amount times any number of seconds in chrono's range; the
    // quotient is at most `paid`, so it always fits back into i64.
    let exact_numerator = i128::from(paid.minor()) * i128::from(unused_seconds);
    let floored = exact_numerator / i128::from(period_seconds);
    let minor = i64::try_from(floored)
        .unwrap_or(paid.minor())
        .min(paid.minor());
    let from = at.max(period.start()).min(period.end());
    let last_day = (period.end() - TimeDelta::days(1)).date_naive();
    Ok(ProrationCredit {
        amount: Money::from_minor(minor, paid.currency()),
        paid,
        unused_seconds,
        period_seconds,
        first_unused_day: from
            .date_naive()
            .min(last_day.max(period.start().date_naive())),
        last_unused_day: last_day.max(period.start().date_naive()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Currency;
    use chrono::TimeZone;

    fn at(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, 0, 0).unwrap()
    }

    #[test]
    fn day_12_of_30_credits_18_thirtieths_rounded_down() {
        // November has 30 days; on the 12th at 10:00, 11 days have been used.
        let period = Period::new(at(2026, 11, 1, 10), at(2026, 12, 1, 10)).unwrap();
        let paid = Money::from_minor(1999, Currency::USD);
        let credit = unused_time_credit(paid, period, at(2026, 11, 12, 10)).unwrap();
        assert_eq!(credit.unused_seconds(), 19 * 86_400);
        // 19.99 * 19 / 30 = 12.660333... -> 12.66
        assert_eq!(credit.amount().minor(), 1266);
        assert_eq!(
            credit.description("Basic"),
            "Unused time on Basic (2026-11-12 \u{2013} 2026-11-30)"
        );
    }

    #[test]
    fn before_and_after_the_period() {
        let period = Period::new(at(2026, 11, 1, 10), at(2026, 12, 1, 10)).unwrap();
        let paid = Money::from_minor(1000, Currency::EUR);
        assert_eq!(
            unused_time_credit(paid, period, at(2026, 10, 1, 0))
                .unwrap()
                .amount(),
            paid
        );
        let late = unused_time_credit(paid, period, at(2026, 12, 5, 0)).unwrap();
        assert!(late.amount().is_zero());
        assert!(late.first_unused_day() <= late.last_unused_day());
        assert_eq!(
            unused_time_credit(
                Money::from_minor(-1, Currency::EUR),
                period,
                at(2026, 11, 2, 0)
            ),
            Err(ProrationError::NegativePaid)
        );
    }

    #[test]
    fn one_second_short_of_the_whole_period_rounds_down() {
        let period = Period::new(at(2026, 11, 1, 10), at(2026, 12, 1, 10)).unwrap();
        let paid = Money::from_minor(100, Currency::USD);
        let credit =
            unused_time_credit(paid, period, at(2026, 11, 1, 10) + TimeDelta::seconds(1)).unwrap();
        assert_eq!(credit.amount().minor(), 99);
    }
}
