//! The retry schedule (`webhooks.retry_delays`): n delays give n + 1 attempts.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, TimeDelta, Utc};

/// The contract's default: retries for about two days.
pub const DEFAULT_RETRY_DELAYS: &str = "5s,30s,2m,10m,30m,1h,3h,6h,12h,24h";
/// The longest single delay accepted.
pub const MAX_DELAY: TimeDelta = TimeDelta::days(7);
/// The most delays accepted.
pub const MAX_DELAYS: usize = 100;

/// The delays between attempts, in order. Attempt 1 is sent as soon as the event is
/// stored; attempt k + 1 is due `delays[k - 1]` after attempt k failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetrySchedule {
    delays: Vec<TimeDelta>,
}

/// Why a retry schedule was refused. Items are counted from 1.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RetryScheduleError {
    #[error("retry_delays is empty: give at least one delay such as `5s`")]
    Empty,
    #[error("retry_delays item {position} `{item}` is not a number followed by ms, s, m, h or d")]
    BadItem { position: usize, item: String },
    #[error("retry_delays item {position} `{item}` must be longer than zero")]
    Zero { position: usize, item: String },
    #[error("retry_delays item {position} `{item}` is longer than 7 days")]
    TooLong { position: usize, item: String },
    #[error("retry_delays has more than {MAX_DELAYS} delays")]
    TooMany,
}

impl RetrySchedule {
    /// Builds a schedule from delays already parsed; each must be in (0, 7 days].
    pub fn new(delays: Vec<TimeDelta>) -> Result<RetrySchedule, RetryScheduleError> {
        if delays.is_empty() {
            return Err(RetryScheduleError::Empty);
        }
        if delays.len() > MAX_DELAYS {
            return Err(RetryScheduleError::TooMany);
        }
        for (index, delay) in delays.iter().enumerate() {
            let item = format!("{}ms", delay.num_milliseconds());
            if *delay <= TimeDelta::zero() {
                return Err(RetryScheduleError::Zero {
                    position: index + 1,
                    item,
                });
            }
            if *delay > MAX_DELAY {
                return Err(RetryScheduleError::TooLong {
                    position: index + 1,
                    item,
                });
            }
        }
        Ok(RetrySchedule { delays })
    }

    pub fn delays(&self) -> &[TimeDelta] {
        &self.delays
    }

    /// How many attempts an event gets in all: one more than there are delays.
    pub fn attempts(&self) -> u32 {
        u32::try_from(self.delays.len()).map_or(u32::MAX, |n| n.saturating_add(1))
    }

    /// When attempt `failed_attempt + 1` is due, given that attempt `failed_attempt`
    /// (counted from 1) failed at `failed_at`; `None` when it was the last attempt.
    pub fn next_attempt_at(
        &self,
        failed_attempt: u32,
        failed_at: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        let index = usize::try_from(failed_attempt.checked_sub(1)?).ok()?;
        let delay = self.delays.get(index)?;
        failed_at.checked_add_signed(*delay)
    }
}

impl Default for RetrySchedule {
    fn default() -> Self {
        RetrySchedule {
            delays: [
                5,
                30,
                120,
                600,
                1800,
                3600,
                3 * 3600,
                6 * 3600,
                12 * 3600,
                24 * 3600,
            ]
            .into_iter()
            .map(TimeDelta::seconds)
            .collect(),
        }
    }
}

impl FromStr for RetrySchedule {
    type Err = RetryScheduleError;

    /// Reads a comma-separated list such as `5s,30s,2m,1h,1d` (spaces around items are
    /// ignored).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text.trim().is_empty() {
            return Err(RetryScheduleError::Empty);
        }
        let items: Vec<&str> = text.split(',').map(str::trim).collect();
        if items.len() > MAX_DELAYS {
            return Err(RetryScheduleError::TooMany);
        }
        let mut delays = Vec::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            let position = index + 1;
            let bad = || RetryScheduleError::BadItem {
                position,
                item: (*item).to_owned(),
            };
            let split = item.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
            let (digits, unit) = item.split_at(split);
            if digits.is_empty() {
                return Err(bad());
            }
            let too_long = || RetryScheduleError::TooLong {
                position,
                item: (*item).to_owned(),
            };
            let amount: i64 = digits.parse().map_err(|_| too_long())?;
            let delay = match unit {
                "ms" => TimeDelta::try_milliseconds(amount),
                "s" => TimeDelta::try_seconds(amount),
                "m" => TimeDelta::try_minutes(amount),
                "h" => TimeDelta::try_hours(amount),
                "d" => TimeDelta::try_days(amount),
                _ => return Err(bad()),
            }
            .ok_or_else(too_long)?;
            if delay.is_zero() {
                return Err(RetryScheduleError::Zero {
                    position,
                    item: (*item).to_owned(),
                });
            }
            if delay > MAX_DELAY {
                return Err(too_long());
            }
            delays.push(delay);
        }
        Ok(RetrySchedule { delays })
    }
}

impl fmt::Display for RetrySchedule {
    /// The schedule in the form it is configured, largest whole unit per delay.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let items: Vec<String> = self
            .delays
            .iter()
            .map(|delay| {
                let ms = delay.num_milliseconds();
                for (unit, size) in [
                    ("d", 86_400_000),
                    ("h", 3_600_000),
                    ("m", 60_000),
                    ("s", 1000),
                ] {
                    if ms % size == 0 {
                        return format!("{}{unit}", ms / size);
                    }
                }
                format!("{ms}ms")
            })
            .collect();
        f.write_str(&items.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_schedule_parses_to_ten_delays_and_eleven_attempts() {
        let parsed: RetrySchedule = DEFAULT_RETRY_DELAYS.parse().unwrap();
        assert_eq!(parsed, RetrySchedule::default());
        assert_eq!(parsed.delays().len(), 10);
        assert_eq!(parsed.attempts(), 11);
        assert_eq!(parsed.delays()[2], TimeDelta::minutes(2));
        assert_eq!(parsed.delays()[9], TimeDelta::hours(24));
        assert_eq!(parsed.to_string(), "5s,30s,2m,10m,30m,1h,3h,6h,12h,1d");
    }

    #[test]
    fn units_and_spaces_are_read() {
        let parsed: RetrySchedule = " 1s, 1s ,2s,250ms,1d".parse().unwrap();
        assert_eq!(
            parsed.delays(),
            &[
                TimeDelta::seconds(1),
                TimeDelta::seconds(1),
                TimeDelta::seconds(2),
                TimeDelta::milliseconds(250),
                TimeDelta::days(1)
            ]
        );
        assert_eq!(parsed.attempts(), 6);
    }

    #[test]
    fn bad_items_are_named_with_their_position() {
        let bad = |position: usize, item: &str| RetryScheduleError::BadItem {
            position,
            item: item.to_owned(),
        };
        assert_eq!("5s,30x,2m".parse::<RetrySchedule>(), Err(bad(2, "30x")));
        assert_eq!("5s,,2m".parse::<RetrySchedule>(), Err(bad(2, "")));
        assert_eq!("5".parse::<RetrySchedule>(), Err(bad(1, "5")));
        assert_eq!("s".parse::<RetrySchedule>(), Err(bad(1, "s")));
        assert_eq!("-5s".parse::<RetrySchedule>(), Err(bad(1, "-5s")));
        assert_eq!("1.5s".parse::<RetrySchedule>(), Err(bad(1, "1.5s")));
        assert_eq!("".parse::<RetrySchedule>(), Err(RetryScheduleError::Empty));
        assert_eq!(
            "1s,0m".parse::<RetrySchedule>(),
            Err(RetryScheduleError::Zero {
                position: 2,
                item: "0m".into()
            })
        );
        assert_eq!(
            "8d".parse::<RetrySchedule>(),
            Err(RetryScheduleError::TooLong {
                position: 1,
                item: "8d".into()
            })
        );
        assert_eq!(
            "99999999999999999999999s".parse::<RetrySchedule>(),
            Err(RetryScheduleError::TooLong {
                position: 1,
                item: "99999999999999999999999s".into()
            })
        );
        let many = vec!["1s"; MAX_DELAYS + 1].join(",");
        assert_eq!(
            many.parse::<RetrySchedule>(),
            Err(RetryScheduleError::TooMany)
        );
        let message = "5s,30x".parse::<RetrySchedule>().unwrap_err().to_string();
        assert!(
            message.contains("item 2") && message.contains("30x"),
            "{message}"
        );
    }

    #[test]
    fn next_attempt_follows_the_delays_then_stops() {
        let schedule: RetrySchedule = "1s,1s,2s".parse().unwrap();
        let t = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        assert_eq!(
            schedule.next_attempt_at(1, t),
            Some(t + TimeDelta::seconds(1))
        );
        assert_eq!(
            schedule.next_attempt_at(2, t),
            Some(t + TimeDelta::seconds(1))
        );
        assert_eq!(
            schedule.next_attempt_at(3, t),
            Some(t + TimeDelta::seconds(2))
        );
        assert_eq!(schedule.next_attempt_at(4, t), None);
        assert_eq!(schedule.next_attempt_at(0, t), None);
    }

    #[test]
    fn new_checks_delays() {
        assert_eq!(RetrySchedule::new(vec![]), Err(RetryScheduleError::Empty));
        assert!(matches!(
            RetrySchedule::new(vec![TimeDelta::seconds(1), TimeDelta::zero()]),
            Err(RetryScheduleError::Zero { position: 2, .. })
        ));
        assert!(RetrySchedule::new(vec![TimeDelta::seconds(3)]).is_ok());
    }
}
