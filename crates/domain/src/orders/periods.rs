//! Calendar months: how billing periods advance, clamped at month end.

use chrono::{DateTime, Datelike, Months, Utc};

/// The end of a lifetime plan's period: the last second of year 9999, later than any
/// sweep or renewal looks. The API shows such an order with no expiry.
pub fn lifetime_end() -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp(253_402_300_799, 0).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// One calendar month after `at`, clamped at month end: Jan 31 -> Feb 28 (29 in a leap
/// year), Mar 31 -> Apr 30. The time of day is kept.
pub fn one_month_after(at: DateTime<Utc>) -> DateTime<Utc> {
    months_after(at, 1)
}

/// `months` calendar months after `at`, clamped at month end.
pub fn months_after(at: DateTime<Utc>, months: u32) -> DateTime<Utc> {
    at.checked_add_months(Months::new(months))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// The first monthly anniversary of `anchor` strictly after `after`. Counting from the
/// anchor (not from the previous period end) keeps the day of month: a plan started on
/// Jan 31 runs to Feb 28, then Mar 31, not Mar 28.
pub fn next_anniversary(anchor: DateTime<Utc>, after: DateTime<Utc>) -> DateTime<Utc> {
    let whole_months =
        (after.year() - anchor.year()) * 12 + after.month0() as i32 - anchor.month0() as i32;
    // Start one month early: clamping may put the estimate on either side of `after`.
    let mut months = u32::try_from(whole_months.saturating_sub(1))
        .unwrap_or(0)
        .max(1);
    loop {
        let candidate = months_after(anchor, months);
        if candidate > after || candidate == DateTime::<Utc>::MAX_UTC {
            return candidate;
        }
        months += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(y: i32, m: u32, d: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, 10, 0, 0).unwrap()
    }

    #[test]
    fn a_month_is_clamped_at_month_end() {
        assert_eq!(one_month_after(at(2026, 1, 31)), at(2026, 2, 28));
        assert_eq!(one_month_after(at(2028, 1, 31)), at(2028, 2, 29)); // leap year
        assert_eq!(one_month_after(at(2100, 1, 31)), at(2100, 2, 28)); // not leap
        assert_eq!(one_month_after(at(2000, 1, 30)), at(2000, 2, 29)); // leap (400)
        assert_eq!(one_month_after(at(2026, 3, 31)), at(2026, 4, 30));
        assert_eq!(one_month_after(at(2026, 12, 15)), at(2027, 1, 15));
        assert_eq!(one_month_after(at(2026, 11, 21)), at(2026, 12, 21));
    }

    #[test]
    fn anniversaries_keep_the_day_of_month() {
        let anchor = at(2026, 1, 31);
        assert_eq!(next_anniversary(anchor, at(2026, 2, 1)), at(2026, 2, 28));
        assert_eq!(next_anniversary(anchor, at(2026, 2, 28)), at(2026, 3, 31));
        assert_eq!(next_anniversary(anchor, at(2026, 3, 31)), at(2026, 4, 30));
        assert_eq!(next_anniversary(anchor, at(2027, 6, 1)), at(2027, 6, 30));
        assert_eq!(next_anniversary(anchor, at(2020, 1, 1)), at(2026, 2, 28));
        let anchor = at(2026, 5, 10);
        assert_eq!(next_anniversary(anchor, at(2026, 6, 10)), at(2026, 7, 10));
    }
}
