//! A sliding-window rate limiter, driven by the caller's clock so tests can move time.
//!
//! State is in memory, per process: with several instances behind a load balancer each
//! one counts on its own, so the effective limit is the configured one times the number
//! of instances. Memory stays bounded: keys whose window has passed are swept out
//! whenever the table has doubled since the last sweep.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use chrono::{DateTime, TimeDelta, Utc};

const FIRST_SWEEP_AT: usize = 1024;

/// Refused: try again after this many whole seconds (at least 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryAfter(pub u64);

struct Windows {
    hits: HashMap<String, VecDeque<DateTime<Utc>>>,
    sweep_at: usize,
}

/// At most `limit` attempts per key in any `window`; a limit of 0 turns limiting off.
pub struct SlidingWindowLimiter {
    limit: usize,
    window: TimeDelta,
    windows: Mutex<Windows>,
}

impl SlidingWindowLimiter {
    /// Creates it from its parts.
    pub fn new(limit: u32, window: TimeDelta) -> SlidingWindowLimiter {
        SlidingWindowLimiter {
            limit: usize::try_from(limit).unwrap_or(usize::MAX),
            window,
            windows: Mutex::new(Windows {
                hits: HashMap::new(),
                sweep_at: FIRST_SWEEP_AT,
            }),
        }
    }

    /// Per minute.
    pub fn per_minute(limit: u32) -> SlidingWindowLimiter {
        SlidingWindowLimiter::new(limit, TimeDelta::minutes(1))
    }

    /// Counts one attempt under every key, or, when any key has used up its window,
    /// counts nothing and says when all of them will have room again.
    pub fn try_acquire(&self, keys: &[&str], now: DateTime<Utc>) -> Result<(), RetryAfter> {
        if self.limit == 0 {
            return Ok(());
        }
        // A poisoned lock only means another thread panicked mid-update of plain data.
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        let horizon = now - self.window;
        let mut wait: Option<TimeDelta> = None;
        for key in keys {
            if let Some(hits) = windows.hits.get_mut(*key) {
                while hits.front().is_some_and(|at| *at <= horizon) {
                    hits.pop_front();
                }
                if hits.len() >= self.limit {
                    let oldest = hits.front().copied().unwrap_or(now);
                    let frees_at = oldest + self.window - now;
                    wait = Some(wait.map_or(frees_at, |w| w.max(frees_at)));
                }
            }
        }
        if let Some(wait) = wait {
            return Err(RetryAfter(whole_seconds_up(wait)));
        }
        for key in keys {
            windows
                .hits
                .entry((*key).to_owned())
                .or_default()
                .push_back(now);
        }
        if windows.hits.len() >= windows.sweep_at {
            windows
                .hits
                .retain(|_, hits| hits.back().is_some_and(|at| *at > horizon));
            windows.sweep_at = (windows.hits.len() * 2).max(FIRST_SWEEP_AT);
        }
        Ok(())
    }

    /// How many keys are tracked (for tests of the sweep).
    pub fn tracked_keys(&self) -> usize {
        self.windows
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .hits
            .len()
    }
}

fn whole_seconds_up(wait: TimeDelta) -> u64 {
    let millis = wait.num_milliseconds().max(0);
    u64::try_from((millis + 999) / 1000).unwrap_or(1).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + seconds, 0).unwrap()
    }

    #[test]
    fn allows_the_limit_then_refuses_until_the_oldest_leaves_the_window() {
        let limiter = SlidingWindowLimiter::per_minute(3);
        assert!(limiter.try_acquire(&["k"], at(0)).is_ok());
        assert!(limiter.try_acquire(&["k"], at(10)).is_ok());
        assert!(limiter.try_acquire(&["k"], at(20)).is_ok());
        assert_eq!(limiter.try_acquire(&["k"], at(30)), Err(RetryAfter(30)));
        // Refused attempts are not counted: the window frees at 60 as promised.
        assert_eq!(limiter.try_acquire(&["k"], at(59)), Err(RetryAfter(1)));
        assert!(limiter.try_acquire(&["k"], at(60)).is_ok());
        assert_eq!(limiter.try_acquire(&["k"], at(61)), Err(RetryAfter(9)));
    }

    #[test]
    fn a_full_key_blocks_and_the_longest_wait_wins() {
        let limiter = SlidingWindowLimiter::per_minute(2);
        limiter.try_acquire(&["email:a", "addr:1"], at(0)).unwrap();
        limiter.try_acquire(&["email:b", "addr:1"], at(40)).unwrap();
        // addr:1 is full (frees at 60); email:c is fresh but nothing is recorded for it.
        assert_eq!(
            limiter.try_acquire(&["email:c", "addr:1"], at(45)),
            Err(RetryAfter(15))
        );
        limiter.try_acquire(&["email:a", "addr:2"], at(50)).unwrap();
        // email:a is full until 60, addr:1 until 60; from addr:1 at 55 → 5 s.
        assert_eq!(
            limiter.try_acquire(&["email:a", "addr:1"], at(55)),
            Err(RetryAfter(5))
        );
        assert!(limiter.try_acquire(&["email:c", "addr:3"], at(55)).is_ok());
    }

    #[test]
    fn sub_second_waits_round_up_and_zero_disables() {
        let limiter = SlidingWindowLimiter::new(1, TimeDelta::milliseconds(1500));
        limiter.try_acquire(&["k"], at(0)).unwrap();
        assert_eq!(limiter.try_acquire(&["k"], at(0)), Err(RetryAfter(2)));
        let off = SlidingWindowLimiter::per_minute(0);
        for _ in 0..100 {
            assert!(off.try_acquire(&["k"], at(0)).is_ok());
        }
    }

    #[test]
    fn stale_keys_are_swept() {
        let limiter = SlidingWindowLimiter::per_minute(5);
        for i in 0..FIRST_SWEEP_AT - 1 {
            limiter.try_acquire(&[&format!("k{i}")], at(0)).unwrap();
        }
        assert_eq!(limiter.tracked_keys(), FIRST_SWEEP_AT - 1);
        limiter.try_acquire(&["fresh"], at(120)).unwrap();
        assert_eq!(limiter.tracked_keys(), 1);
    }
}
