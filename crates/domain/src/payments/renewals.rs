//! Renewals charged off-session, and their retries (dunning).
//!
//! A pending renewal whose account paid through the gateway before (so the gateway
//! keeps its payment method, saved by checkout) is charged `charge_before` its renewed
//! order's period end. A refusal is recorded as a failed payment and retried on the
//! retry days, counted from the first attempt; meanwhile the customer may pay the
//! renewal through checkout, and a renewal no longer pending is not charged again.
//!
//! Each attempt is claimed in storage BEFORE the gateway is called (one row per renewal
//! and attempt number: a second claim, from another sweep or instance, fails), and the
//! gateway's idempotency key is derived from the renewal and the attempt number
//! (`renewal-<order>-attempt-<n>`). An attempt whose outcome was not recorded (a crash,
//! the gateway unreachable) is taken over after a lease and sent again with the same
//! key: the gateway answers what it did the first time, so money is taken once. The
//! outcome is applied like an inbound gateway event, stored under the id
//! `renewal-<order>-attempt-<n>` in the transaction of its effect: a success activates
//! the renewal exactly like a paid checkout, once.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, SubsecRound, TimeDelta, Utc};

use super::gateway::{GatewayError, PaymentGateway, PaymentProvider};
use super::refs::{
    GatewayCustomerId, GatewayEventId, IdempotencyKey, PaymentMethodRef, PaymentReference,
};
use super::requests::{ChargeOutcome, OffSessionCharge};
use super::service::PaymentError;
use super::store::{EventOutcome, InboundPayment, PaymentEffect, PaymentStore, ReportedPayment};
use crate::orders::{Order, OrderService, OrderStatus};
use crate::shared::clock::Clock;
use crate::shared::repo::{ConflictKind, RepoError};
use crate::OrderId;

/// The event type under which a renewal charge's outcome is stored with the gateway's
/// events.
pub const RENEWAL_CHARGE_EVENT: &str = "tariff.renewal_charge";

/// When renewals are charged and retried.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DunningPolicy {
    /// The first attempt is made this long before the renewed order's period ends.
    pub charge_before: TimeDelta,
    /// After a refusal, one more attempt on each of these days, counted from the first
    /// attempt (`[1, 3, 5]`: a day, three days and five days after it).
    pub retry_days: Vec<u32>,
    /// A claimed attempt whose outcome is not recorded after this long (the instance
    /// crashed, the gateway did not answer) is taken over and sent again with its key.
    pub claim_lease: TimeDelta,
}

impl Default for DunningPolicy {
    fn default() -> Self {
        DunningPolicy {
            charge_before: TimeDelta::days(3),
            retry_days: vec![1, 3, 5],
            claim_lease: TimeDelta::minutes(10),
        }
    }
}

/// How a charge attempt ended, as stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// The money was taken; the renewal is activated.
    Succeeded,
    /// The card or bank refused; retried on the next retry day.
    Declined,
    /// The bank wants the buyer; retried on the next retry day (the buyer can pay
    /// through checkout).
    RequiresAction,
    /// The method takes time (bank debits); no further attempt.
    Processing,
    /// The gateway refused the request as made; retried on the next retry day.
    Error,
}

impl AttemptOutcome {
    /// The stable tag in storage.
    pub fn as_str(self) -> &'static str {
        match self {
            AttemptOutcome::Succeeded => "succeeded",
            AttemptOutcome::Declined => "declined",
            AttemptOutcome::RequiresAction => "requires_action",
            AttemptOutcome::Processing => "processing",
            AttemptOutcome::Error => "error",
        }
    }

    pub fn from_tag(tag: &str) -> Option<AttemptOutcome> {
        [
            AttemptOutcome::Succeeded,
            AttemptOutcome::Declined,
            AttemptOutcome::RequiresAction,
            AttemptOutcome::Processing,
            AttemptOutcome::Error,
        ]
        .into_iter()
        .find(|o| o.as_str() == tag)
    }

    /// Whether a later retry day may try again.
    fn retries(self) -> bool {
        matches!(
            self,
            AttemptOutcome::Declined | AttemptOutcome::RequiresAction | AttemptOutcome::Error
        )
    }
}

/// One stored charge attempt of a renewal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChargeAttempt {
    /// 1 for the first attempt.
    pub number: u32,
    pub claimed_at: DateTime<Utc>,
    /// `None` while the attempt's outcome is not recorded.
    pub finished_at: Option<DateTime<Utc>>,
    pub outcome: Option<AttemptOutcome>,
}

/// A pending renewal in its charge window, with what charging it needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DueRenewal {
    pub renewal: Order,
    /// The account's customer at the gateway, if it has one.
    pub customer: Option<GatewayCustomerId>,
    /// The gateway reference of the account's latest succeeded payment there: the
    /// payment method it used is the one saved for renewals.
    pub last_payment: Option<PaymentReference>,
    /// Its charge attempts so far, oldest first.
    pub attempts: Vec<ChargeAttempt>,
}

/// What the renewal charges need from storage.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait RenewalChargeStore: Send + Sync {
    /// Pending renewals whose renewed order is active and ends at or before `horizon`,
    /// each with the account's customer and latest succeeded payment at `provider` and
    /// its attempts so far. Errors: `Unavailable`, `Internal`.
    async fn due_renewals(
        &self,
        horizon: DateTime<Utc>,
        provider: PaymentProvider,
    ) -> Result<Vec<DueRenewal>, RepoError>;

    /// Claims attempt `attempt` of the renewal's charge at `now`: stores it when it is
    /// not stored and the renewal is still pending, or takes over the stored attempt
    /// when it is unfinished and was claimed at or before `stale_before`. `false` when
    /// another claim holds it, it is finished, or the renewal is no longer pending (one
    /// conditional write: of two concurrent claims, one wins).
    /// Errors: `Unavailable`, `Internal`.
    async fn claim_attempt(
        &self,
        renewal: OrderId,
        attempt: u32,
        now: DateTime<Utc>,
        stale_before: DateTime<Utc>,
    ) -> Result<bool, RepoError>;

    /// Records how a claimed attempt ended, with the gateway's reference.
    /// Errors: `Unavailable`, `Internal`.
    async fn finish_attempt(
        &self,
        renewal: OrderId,
        attempt: u32,
        outcome: AttemptOutcome,
        reference: Option<String>,
        at: DateTime<Utc>,
    ) -> Result<(), RepoError>;
}

/// Which attempt to make now, if any: `(number, repeat)`, `repeat` when it is an
/// unfinished attempt taken over (sent again with the same key).
pub fn next_attempt(
    attempts: &[ChargeAttempt],
    now: DateTime<Utc>,
    policy: &DunningPolicy,
) -> Option<(u32, bool)> {
    let Some(last) = attempts.last() else {
        return Some((1, false));
    };
    let Some(outcome) = last.outcome.filter(|_| last.finished_at.is_some()) else {
        return (last.claimed_at <= now - policy.claim_lease).then_some((last.number, true));
    };
    if !outcome.retries() {
        return None;
    }
    let first = attempts.first().map_or(last.claimed_at, |a| a.claimed_at);
    let index = usize::try_from(last.number).ok()?.checked_sub(1)?;
    let days = policy.retry_days.get(index)?;
    let due = first + TimeDelta::days(i64::from(*days));
    (now >= due).then_some((last.number + 1, false))
}

/// What one run did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ChargeReport {
    /// Attempts sent to the gateway (repeats included).
    pub attempted: usize,
    /// Renewals paid (activated).
    pub succeeded: usize,
    /// Attempts refused (recorded as failed payments).
    pub declined: usize,
    /// Due renewals whose account has no saved payment method (paid through checkout).
    pub without_method: usize,
}

/// Charges due renewals off-session through the gateway.
#[derive(Clone)]
pub struct RenewalCharges {
    gateway: Arc<dyn PaymentGateway>,
    store: Arc<dyn RenewalChargeStore>,
    payments: Arc<dyn PaymentStore>,
    orders: OrderService,
    clock: Arc<dyn Clock>,
    policy: DunningPolicy,
}

impl RenewalCharges {
    pub fn new(
        gateway: Arc<dyn PaymentGateway>,
        store: Arc<dyn RenewalChargeStore>,
        payments: Arc<dyn PaymentStore>,
        orders: OrderService,
        clock: Arc<dyn Clock>,
        policy: DunningPolicy,
    ) -> RenewalCharges {
        RenewalCharges {
            gateway,
            store,
            payments,
            orders,
            clock,
            policy,
        }
    }

    /// One run at the clock's time.
    pub async fn run_now(&self) -> Result<ChargeReport, PaymentError> {
        self.run(self.clock.now()).await
    }

    /// One run as of `now`: every due attempt of every renewal in its charge window.
    /// A store that cannot be reached stops the run; anything else about one renewal is
    /// logged and retried on a later run.
    pub async fn run(&self, now: DateTime<Utc>) -> Result<ChargeReport, PaymentError> {
        let now = now.trunc_subsecs(0);
        let mut report = ChargeReport::default();
        let provider = self.gateway.provider();
        let due = self
            .store
            .due_renewals(now + self.policy.charge_before, provider)
            .await
            .map_err(store)?;
        for renewal in due {
            match self.charge_due(&renewal, now, &mut report).await {
                Ok(()) => {}
                Err(PaymentError::Store(failure)) if failure.is_unavailable() => {
                    return Err(PaymentError::Store(failure))
                }
                Err(err) => tracing::warn!(
                    order = renewal.renewal.id().get(),
                    error = %crate::shared::error_chain(&err),
                    "renewal charge failed; retried on a later run"
                ),
            }
        }
        if report != ChargeReport::default() {
            tracing::info!(
                attempted = report.attempted,
                succeeded = report.succeeded,
                declined = report.declined,
                without_method = report.without_method,
                "renewal charges"
            );
        }
        Ok(report)
    }

    async fn charge_due(
        &self,
        due: &DueRenewal,
        now: DateTime<Utc>,
        report: &mut ChargeReport,
    ) -> Result<(), PaymentError> {
        let Some((attempt, _repeat)) = next_attempt(&due.attempts, now, &self.policy) else {
            return Ok(());
        };
        let amount = due.renewal.amount_due();
        if amount.minor() <= 0 {
            return Ok(());
        }
        let (Some(customer), Some(method)) = (&due.customer, self.saved_method(due).await?) else {
            report.without_method += 1;
            return Ok(());
        };
        let id = due.renewal.id();
        // A new attempt is inserted; a stored one is taken over only once its lease is
        // over (never from a claim still in progress elsewhere).
        let stale_before = now - self.policy.claim_lease;
        if !self
            .store
            .claim_attempt(id, attempt, now, stale_before)
            .await
            .map_err(store)?
        {
            return Ok(());
        }
        report.attempted += 1;
        let key = IdempotencyKey::new(attempt_key(id, attempt))
            .map_err(|e| store(RepoError::internal(format!("idempotency key: {e}"))))?;
        let request = OffSessionCharge::new(id, customer.clone(), method, amount, key)?;
        let (outcome, reference) = match self.gateway.charge_off_session(&request).await {
            Ok(ChargeOutcome::Succeeded { payment }) => {
                self.settle(id, attempt, &payment).await?;
                report.succeeded += 1;
                (AttemptOutcome::Succeeded, Some(payment))
            }
            Ok(ChargeOutcome::Declined { payment, .. }) => {
                self.fail(due, attempt, payment.as_ref()).await?;
                report.declined += 1;
                (AttemptOutcome::Declined, payment)
            }
            Ok(ChargeOutcome::RequiresAction { payment }) => {
                self.fail(due, attempt, Some(&payment)).await?;
                report.declined += 1;
                (AttemptOutcome::RequiresAction, Some(payment))
            }
            Ok(ChargeOutcome::Processing { payment }) => {
                (AttemptOutcome::Processing, Some(payment))
            }
            Err(GatewayError::Declined(_)) => {
                self.fail(due, attempt, None).await?;
                report.declined += 1;
                (AttemptOutcome::Declined, None)
            }
            Err(GatewayError::Unavailable(cause)) => {
                // Left claimed and unfinished: taken over after the lease and sent again
                // with the same key, so a charge that did happen is not repeated.
                tracing::warn!(
                    order = id.get(),
                    attempt,
                    ?cause,
                    "renewal charge unanswered"
                );
                return Ok(());
            }
            Err(other) => {
                tracing::warn!(order = id.get(), attempt, error = %other, "renewal charge refused");
                (AttemptOutcome::Error, None)
            }
        };
        self.store
            .finish_attempt(
                id,
                attempt,
                outcome,
                reference.map(|r| r.as_str().to_owned()),
                self.clock.now(),
            )
            .await
            .map_err(store)
    }

    /// The payment method the account's latest gateway payment used, if it is saved.
    async fn saved_method(
        &self,
        due: &DueRenewal,
    ) -> Result<Option<PaymentMethodRef>, PaymentError> {
        let Some(payment) = &due.last_payment else {
            return Ok(None);
        };
        match self.gateway.payment_method_of(payment).await {
            Ok(method) => Ok(method),
            Err(GatewayError::Unavailable(cause)) => Err(PaymentError::GatewayUnavailable(cause)),
            Err(other) => {
                tracing::warn!(
                    order = due.renewal.id().get(),
                    payment = payment.as_str(),
                    error = %other,
                    "no saved payment method for the renewal"
                );
                Ok(None)
            }
        }
    }

    /// Records the paid renewal and activates it, as a paid checkout does.
    async fn settle(
        &self,
        id: OrderId,
        attempt: u32,
        payment: &PaymentReference,
    ) -> Result<(), PaymentError> {
        for round in 0..3 {
            let order = self.orders.get_for_operator(id).await?;
            let activation = match order.status() {
                OrderStatus::Pending => Some(
                    self.orders
                        .payment_activation(&order, Some(payment.as_str().to_owned()))
                        .await?,
                ),
                _ => None,
            };
            let effect = PaymentEffect::Settle {
                payment: ReportedPayment {
                    order: id,
                    amount: order.amount_due(),
                    reference: Some(payment.as_str().to_owned()),
                },
                activation,
            };
            match self.apply(id, attempt, effect).await {
                Ok(EventOutcome::Applied {
                    activated: Some(order),
                    ..
                }) => {
                    self.orders.activated_elsewhere(&order).await;
                    return Ok(());
                }
                Ok(_) => return Ok(()),
                Err(RepoError::Conflict(
                    ConflictKind::RaceLost | ConflictKind::ChangedMeanwhile,
                )) if round < 2 => {}
                Err(err) => return Err(store(err)),
            }
        }
        Err(store(RepoError::Conflict(ConflictKind::RaceLost)))
    }

    /// Records a refused attempt as a failed payment (`payment.failed`), unless the
    /// gateway's own webhook recorded that payment first.
    async fn fail(
        &self,
        due: &DueRenewal,
        attempt: u32,
        payment: Option<&PaymentReference>,
    ) -> Result<(), PaymentError> {
        let id = due.renewal.id();
        let reference = payment.map_or_else(|| attempt_key(id, attempt), |p| p.as_str().to_owned());
        let known = self.payments.payments_of(id).await.map_err(store)?;
        if known
            .iter()
            .any(|p| p.reference() == Some(reference.as_str()))
        {
            return Ok(());
        }
        let effect = PaymentEffect::Failed(ReportedPayment {
            order: id,
            amount: due.renewal.amount_due(),
            reference: Some(reference),
        });
        self.apply(id, attempt, effect).await.map_err(store)?;
        Ok(())
    }

    async fn apply(
        &self,
        id: OrderId,
        attempt: u32,
        effect: PaymentEffect,
    ) -> Result<EventOutcome, RepoError> {
        let event_id = GatewayEventId::new(attempt_key(id, attempt))
            .map_err(|e| RepoError::internal(format!("event id: {e}")))?;
        self.payments
            .apply_event(InboundPayment {
                provider: self.gateway.provider(),
                event_id,
                event_type: RENEWAL_CHARGE_EVENT.to_owned(),
                received_at: self.clock.now(),
                effect,
            })
            .await
    }
}

/// The idempotency key (and stored event id) of one charge attempt of a renewal.
pub fn attempt_key(renewal: OrderId, attempt: u32) -> String {
    format!("renewal-{}-attempt-{attempt}", renewal.get())
}

fn store(err: RepoError) -> PaymentError {
    PaymentError::Store(err.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(day: u32, hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, day, hour, 0, 0).unwrap()
    }

    fn attempt(
        number: u32,
        claimed: DateTime<Utc>,
        outcome: Option<AttemptOutcome>,
    ) -> ChargeAttempt {
        ChargeAttempt {
            number,
            claimed_at: claimed,
            finished_at: outcome.map(|_| claimed),
            outcome,
        }
    }

    #[test]
    fn the_first_attempt_is_due_at_once_and_retries_on_the_days_after_the_first() {
        let policy = DunningPolicy::default();
        assert_eq!(next_attempt(&[], at(1, 10), &policy), Some((1, false)));
        let declined = Some(AttemptOutcome::Declined);
        let one = [attempt(1, at(1, 10), declined)];
        assert_eq!(next_attempt(&one, at(2, 9), &policy), None);
        assert_eq!(next_attempt(&one, at(2, 10), &policy), Some((2, false)));
        let two = [one[0].clone(), attempt(2, at(2, 10), declined)];
        assert_eq!(next_attempt(&two, at(3, 10), &policy), None);
        assert_eq!(next_attempt(&two, at(4, 10), &policy), Some((3, false)));
        let three = [
            two[0].clone(),
            two[1].clone(),
            attempt(3, at(4, 10), declined),
        ];
        assert_eq!(next_attempt(&three, at(6, 10), &policy), Some((4, false)));
        let four = [
            three[0].clone(),
            three[1].clone(),
            three[2].clone(),
            attempt(4, at(6, 10), declined),
        ];
        // Retry days used up: no fifth attempt, ever.
        assert_eq!(next_attempt(&four, at(20, 10), &policy), None);
    }

    #[test]
    fn an_unfinished_attempt_is_repeated_only_after_its_lease() {
        let policy = DunningPolicy::default();
        let open = [attempt(1, at(1, 10), None)];
        assert_eq!(next_attempt(&open, at(1, 10), &policy), None);
        let later = at(1, 10) + policy.claim_lease;
        assert_eq!(next_attempt(&open, later, &policy), Some((1, true)));
    }

    #[test]
    fn a_success_or_a_bank_debit_in_progress_ends_the_attempts() {
        let policy = DunningPolicy::default();
        for outcome in [AttemptOutcome::Succeeded, AttemptOutcome::Processing] {
            let done = [attempt(1, at(1, 10), Some(outcome))];
            assert_eq!(next_attempt(&done, at(9, 10), &policy), None);
        }
    }

    #[test]
    fn outcome_tags_round_trip() {
        for outcome in [
            AttemptOutcome::Succeeded,
            AttemptOutcome::Declined,
            AttemptOutcome::RequiresAction,
            AttemptOutcome::Processing,
            AttemptOutcome::Error,
        ] {
            assert_eq!(AttemptOutcome::from_tag(outcome.as_str()), Some(outcome));
        }
        assert_eq!(AttemptOutcome::from_tag("lost"), None);
    }
}
