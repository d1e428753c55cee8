//! The quota use cases: reading an account's quota, setting overrides, changing usage.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};

use crate::audit::entry::{Actor, AuditAction, AuditEntry};
use crate::catalogue::limits::{Limit, Resource};
use crate::quota::model::*;
use crate::quota::ports::QuotaRepository;
use crate::shared::clock::Clock;
use crate::shared::ids::AccountRef;

/// A usage change's answer and whether it was replayed from an idempotency key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UsageAnswer {
    /// Outcome.
    pub outcome: UsageOutcome,
    /// Replayed.
    pub replayed: bool,
}

/// The answer of a check-only call: what a change would do now, changing nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UsageCheck {
    /// Change.
    pub change: UsageChange,
    /// Used.
    pub used: u64,
    /// Allowance.
    pub allowance: Allowance,
    /// `None` when the change would be applied; else the refusal it would get.
    pub refusal: Option<UsageOutcome>,
}

impl UsageCheck {
    /// The allowed.
    pub fn allowed(&self) -> bool {
        self.refusal.is_none()
    }

    /// What is left now, before the change (`None` = unlimited).
    pub fn remaining(&self) -> Option<u64> {
        self.allowance.remaining(self.used)
    }
}

/// Limits, overrides and the usage ledger of users and organisations.
#[derive(Clone)]
pub struct QuotaService {
    repo: Arc<dyn QuotaRepository>,
    clock: Arc<dyn Clock>,
}

impl QuotaService {
    /// Builds the service on the ports it needs.
    pub fn new(repo: Arc<dyn QuotaRepository>, clock: Arc<dyn Clock>) -> QuotaService {
        QuotaService { repo, clock }
    }

    fn today(&self) -> (DateTime<Utc>, NaiveDate) {
        let now = self.clock.now();
        (now, now.date_naive())
    }

    /// Limits, usage, remaining and over-limit resources of an account.
    pub async fn snapshot(&self, account: AccountRef) -> Result<QuotaSnapshot, QuotaError> {
        let (_, today) = self.today();
        self.repo
            .snapshot(account, today)
            .await
            .map_err(|e| QuotaError::from_repo(e, account))
    }

    /// Sets or removes per-account overrides (admin only; the caller checks that).
    /// Audited as `limits.set` by `actor`.
    pub async fn set_overrides(
        &self,
        account: AccountRef,
        changes: Vec<(Resource, Option<Limit>)>,
        actor: Actor,
    ) -> Result<EffectiveLimits, QuotaError> {
        if let Some((resource, _)) = changes
            .iter()
            .find(|(_, limit)| limit.is_some_and(|l| l.value() > MAX_USAGE))
        {
            return Err(QuotaError::OverrideTooLarge(*resource));
        }
        self.repo
            .set_overrides(
                account,
                changes,
                Some(AuditEntry::on_account(
                    actor,
                    AuditAction::LimitsSet,
                    account,
                )),
            )
            .await
            .map_err(|e| QuotaError::from_repo(e, account))
    }

    /// Reserves (positive delta) or releases (negative delta) usage, atomically.
    /// Refusals come back as the answer's outcome so that the caller can tell a replay.
    /// An applied change is audited as `usage.change` by `actor` (refusals and replays,
    /// which change nothing, are not).
    pub async fn change_usage(
        &self,
        account: AccountRef,
        change: UsageChange,
        idempotency_key: Option<IdempotencyKey>,
        actor: Actor,
    ) -> Result<UsageAnswer, QuotaError> {
        let (at, today) = self.today();
        let request = LedgerRequest {
            account,
            change,
            today,
            at,
            idempotency_key,
        };
        let audit = AuditEntry::on_account(actor, AuditAction::UsageChange, account);
        match self.repo.change_usage(request, Some(audit)).await {
            Ok(LedgerAnswer::Fresh(outcome)) => Ok(UsageAnswer {
                outcome,
                replayed: false,
            }),
            Ok(LedgerAnswer::Replayed(outcome)) => Ok(UsageAnswer {
                outcome,
                replayed: true,
            }),
            Ok(LedgerAnswer::KeyReused) => Err(QuotaError::IdempotencyKeyReused),
            Err(e) => Err(QuotaError::from_repo(e, account)),
        }
    }

    /// What `change_usage` would answer now, without changing anything. Advisory: another
    /// request may take the room before the reserve call, which stays the real check.
    pub async fn check(
        &self,
        account: AccountRef,
        change: UsageChange,
    ) -> Result<UsageCheck, QuotaError> {
        let snapshot = self.snapshot(account).await?;
        let used = snapshot.usage.get(change.resource());
        let refusal = match decide(&snapshot.limits, change, used) {
            Decision::Apply(_) => None,
            Decision::Refuse(outcome) => Some(outcome),
        };
        Ok(UsageCheck {
            change,
            used,
            allowance: snapshot.limits.allowance(change.resource()),
            refusal,
        })
    }
}
