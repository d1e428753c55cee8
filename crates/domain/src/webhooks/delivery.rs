//! Deliveries: one per event and endpoint, with its attempts and its status machine.
//!
//! ```text
//!   pending ──2xx──────────────────────────▶ delivered
//!      │ ▲
//!      │ └─ failed, a delay left: due again after it
//!      └──── failed, no delay left ────────▶ failed
//!   delivered | failed ──redeliver──▶ pending (a new series of attempts, same event)
//! ```

use std::fmt;

use chrono::{DateTime, Utc};

use super::endpoint::EndpointId;
use super::events::{EventId, EventType};
use super::retry::RetrySchedule;

/// Identifies a delivery (an event bound for one endpoint).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DeliveryId(i64);

impl DeliveryId {
    /// Wraps a database id. Ids are positive; anything else is rejected.
    pub fn new(raw: i64) -> Option<DeliveryId> {
        (raw > 0).then_some(DeliveryId(raw))
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

impl fmt::Display for DeliveryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Where a delivery stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DeliveryStatus {
    /// Waiting for its next attempt (or in one).
    Pending,
    /// A 2xx answer was received.
    Delivered,
    /// Every attempt of the schedule failed.
    Failed,
}

/// A stored status tag that is not one of ours.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown delivery status `{0}`")]
pub struct UnknownDeliveryStatus(pub String);

impl DeliveryStatus {
    /// The tag stored and shown: `pending`, `delivered` or `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Failed => "failed",
        }
    }

    pub fn parse(tag: &str) -> Result<DeliveryStatus, UnknownDeliveryStatus> {
        match tag {
            "pending" => Ok(DeliveryStatus::Pending),
            "delivered" => Ok(DeliveryStatus::Delivered),
            "failed" => Ok(DeliveryStatus::Failed),
            other => Err(UnknownDeliveryStatus(other.to_owned())),
        }
    }
}

/// A delivery as the deliveries log shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    pub id: DeliveryId,
    pub endpoint: EndpointId,
    pub event_id: EventId,
    pub event_type: EventType,
    pub status: DeliveryStatus,
    /// Attempts made so far, redeliveries included.
    pub attempts: u32,
    pub last_status_code: Option<u16>,
    pub last_error: Option<String>,
    /// When the next attempt is due; `None` unless pending.
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// The most of a receiver's answer or of a transport error kept as `lastError`.
pub const MAX_LAST_ERROR_CHARS: usize = 500;

/// What one attempt got back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// The receiver answered with this status; `body_excerpt` is the start of its body.
    Answered { status: u16, body_excerpt: String },
    /// No answer: the transport's error.
    NoAnswer(super::ports::TransportError),
}

impl AttemptOutcome {
    /// A 2xx answer, and only that, delivers.
    pub fn is_success(&self) -> bool {
        matches!(self, AttemptOutcome::Answered { status, .. } if (200..300).contains(status))
    }

    pub fn status_code(&self) -> Option<u16> {
        match self {
            AttemptOutcome::Answered { status, .. } => Some(*status),
            AttemptOutcome::NoAnswer(_) => None,
        }
    }

    /// The `lastError` text for an attempt that failed (`None` for a success): the
    /// transport error, or the status and the start of the receiver's answer.
    pub fn last_error(&self) -> Option<String> {
        let text = match self {
            _ if self.is_success() => return None,
            AttemptOutcome::Answered {
                status,
                body_excerpt,
            } if body_excerpt.trim().is_empty() => {
                format!("HTTP {status}")
            }
            AttemptOutcome::Answered {
                status,
                body_excerpt,
            } => {
                format!("HTTP {status}: {}", body_excerpt.trim())
            }
            AttemptOutcome::NoAnswer(error) => error.to_string(),
        };
        Some(text.chars().take(MAX_LAST_ERROR_CHARS).collect())
    }
}

/// What happens to a delivery after an attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NextStep {
    Delivered { at: DateTime<Utc> },
    RetryAt(DateTime<Utc>),
    Failed,
}

impl NextStep {
    /// Decides after attempt `series_attempt` (counted from 1 within the current series:
    /// a redelivery starts a new series) ended at `now` with `outcome`.
    pub fn after(
        schedule: &RetrySchedule,
        series_attempt: u32,
        outcome: &AttemptOutcome,
        now: DateTime<Utc>,
    ) -> NextStep {
        if outcome.is_success() {
            return NextStep::Delivered { at: now };
        }
        match schedule.next_attempt_at(series_attempt, now) {
            Some(at) => NextStep::RetryAt(at),
            None => NextStep::Failed,
        }
    }

    pub fn status(self) -> DeliveryStatus {
        match self {
            NextStep::Delivered { .. } => DeliveryStatus::Delivered,
            NextStep::RetryAt(_) => DeliveryStatus::Pending,
            NextStep::Failed => DeliveryStatus::Failed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::webhooks::ports::TransportError;
    use chrono::TimeDelta;

    fn answered(status: u16, body: &str) -> AttemptOutcome {
        AttemptOutcome::Answered {
            status,
            body_excerpt: body.into(),
        }
    }

    #[test]
    fn only_2xx_delivers() {
        assert!(answered(200, "").is_success());
        assert!(answered(204, "").is_success());
        assert!(answered(299, "").is_success());
        for status in [100, 301, 302, 400, 410, 429, 500, 503] {
            assert!(!answered(status, "").is_success(), "{status}");
        }
        assert!(!AttemptOutcome::NoAnswer(TransportError::Timeout).is_success());
    }

    #[test]
    fn last_error_says_what_went_wrong_and_is_bounded() {
        assert_eq!(answered(200, "ok").last_error(), None);
        assert_eq!(
            answered(503, "  ").last_error().as_deref(),
            Some("HTTP 503")
        );
        assert_eq!(
            answered(500, "boom\n").last_error().as_deref(),
            Some("HTTP 500: boom")
        );
        assert_eq!(
            AttemptOutcome::NoAnswer(TransportError::Timeout)
                .last_error()
                .as_deref(),
            Some("timed out waiting for the endpoint")
        );
        let long = answered(500, &"é".repeat(2000)).last_error().unwrap();
        assert_eq!(long.chars().count(), MAX_LAST_ERROR_CHARS);
    }

    #[test]
    fn the_status_machine_retries_along_the_schedule_then_fails() {
        let schedule: RetrySchedule = "1s,1s,2s".parse().unwrap();
        let now = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let failure = answered(500, "");
        let steps: Vec<NextStep> = (1..=4)
            .map(|attempt| NextStep::after(&schedule, attempt, &failure, now))
            .collect();
        assert_eq!(
            steps,
            vec![
                NextStep::RetryAt(now + TimeDelta::seconds(1)),
                NextStep::RetryAt(now + TimeDelta::seconds(1)),
                NextStep::RetryAt(now + TimeDelta::seconds(2)),
                NextStep::Failed,
            ]
        );
        assert_eq!(steps[0].status(), DeliveryStatus::Pending);
        assert_eq!(steps[3].status(), DeliveryStatus::Failed);
        let success = NextStep::after(&schedule, 4, &answered(202, ""), now);
        assert_eq!(success, NextStep::Delivered { at: now });
        assert_eq!(success.status(), DeliveryStatus::Delivered);
    }

    #[test]
    fn status_tags_round_trip() {
        for status in [
            DeliveryStatus::Pending,
            DeliveryStatus::Delivered,
            DeliveryStatus::Failed,
        ] {
            assert_eq!(DeliveryStatus::parse(status.as_str()), Ok(status));
        }
        assert!(DeliveryStatus::parse("sent").is_err());
    }
}
