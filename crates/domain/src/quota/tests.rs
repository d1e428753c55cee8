//! The quota rules and use cases, tried on a mocked repository.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate};

use super::*;
use crate::audit::entry::Actor;
use crate::catalogue::limits::{Limit, Limits, Permissions, Resource};
use crate::shared::clock::MockClock;
use crate::shared::ids::UserId;
use crate::shared::ids::{AccountRef, PlanId};
use crate::shared::repo::RepoError;
use mockall::predicate::eq;
use proptest::prelude::*;

fn plan(limits: Limits) -> PlanBasis {
    PlanBasis {
        plan_id: PlanId::new(1).unwrap(),
        name: "Pro".into(),
        source: PlanSource::ActiveOrder,
        limits,
        server_permissions: Permissions::ALL,
        site_permissions: Permissions::ALL,
    }
}

fn servers(limit: u64) -> EffectiveLimits {
    EffectiveLimits::new(
        Some(plan(
            Limits::unlimited().with(Resource::Servers, Limit::new(limit)),
        )),
        BTreeMap::new(),
    )
}

fn change(resource: Resource, delta: i64) -> UsageChange {
    UsageChange::new(resource, delta).unwrap()
}

fn user() -> AccountRef {
    AccountRef::User(UserId::new(7).unwrap())
}

fn clock_at(text: &str) -> Arc<MockClock> {
    let at = DateTime::parse_from_rfc3339(text).unwrap().to_utc();
    let mut clock = MockClock::new();
    clock.expect_now().return_const(at);
    Arc::new(clock)
}

#[test]
fn grants_within_the_limit_and_refuses_beyond() {
    let limits = servers(5);
    assert_eq!(
        decide(&limits, change(Resource::Servers, 1), 4),
        Decision::Apply(Allowance::UpTo(5))
    );
    assert_eq!(
        decide(&limits, change(Resource::Servers, 2), 4),
        Decision::Refuse(UsageOutcome::Exceeded {
            resource: Resource::Servers,
            limit: 5,
            used: 4,
            requested: 2
        })
    );
}

#[test]
fn zero_means_unlimited() {
    let limits = servers(5);
    assert_eq!(
        decide(&limits, change(Resource::Memory, 1_000_000), 1_000_000),
        Decision::Apply(Allowance::Unlimited)
    );
    assert_eq!(
        EffectiveLimits::new(Some(plan(Limits::unlimited())), BTreeMap::new())
            .allowance(Resource::Disk)
            .remaining(99),
        None
    );
}

#[test]
fn release_never_goes_below_zero_and_ignores_the_limit() {
    let limits = servers(2);
    assert_eq!(
        decide(&limits, change(Resource::Servers, -3), 2),
        Decision::Refuse(UsageOutcome::BelowZero {
            resource: Resource::Servers,
            used: 2,
            released: 3
        })
    );
    // Above the limit after a downgrade: releasing is still allowed.
    assert_eq!(
        decide(&limits, change(Resource::Servers, -1), 7),
        Decision::Apply(Allowance::UpTo(2))
    );
}

#[test]
fn downgrade_keeps_usage_refuses_growth_and_flags_it() {
    let snapshot = QuotaSnapshot {
        limits: servers(2),
        usage: Usage::new().with(Resource::Servers, 4),
    };
    assert_eq!(snapshot.over_limit(), vec![Resource::Servers]);
    assert_eq!(snapshot.remaining(Resource::Servers), Some(0));
    assert!(matches!(
        decide(&snapshot.limits, change(Resource::Servers, 1), 4),
        Decision::Refuse(UsageOutcome::Exceeded { .. })
    ));
}

#[test]
fn overrides_win_over_the_plan() {
    let mut overrides = BTreeMap::new();
    overrides.insert(Resource::Servers, Limit::new(10));
    overrides.insert(Resource::Sites, Limit::UNLIMITED);
    let base = Limits::unlimited()
        .with(Resource::Servers, Limit::new(1))
        .with(Resource::Sites, Limit::new(1));
    let limits = EffectiveLimits::new(Some(plan(base)), overrides);
    assert_eq!(limits.allowance(Resource::Servers), Allowance::UpTo(10));
    assert_eq!(limits.allowance(Resource::Sites), Allowance::Unlimited);
}

#[test]
fn create_permissions_gate_growth_of_servers_and_sites_only() {
    let mut basis = plan(Limits::unlimited());
    basis.server_permissions = Permissions::NONE;
    let limits = EffectiveLimits::new(Some(basis), BTreeMap::new());
    assert_eq!(
        decide(&limits, change(Resource::Servers, 1), 0),
        Decision::Refuse(UsageOutcome::NotPermitted {
            resource: Resource::Servers,
            reason: Refusal::CreateNotAllowed
        })
    );
    assert_eq!(
        decide(&limits, change(Resource::Servers, -1), 1),
        Decision::Apply(Allowance::Unlimited)
    );
    assert_eq!(
        decide(&limits, change(Resource::Sites, 1), 0),
        Decision::Apply(Allowance::Unlimited)
    );
}

#[test]
fn without_any_plan_nothing_is_granted_except_overrides() {
    let mut overrides = BTreeMap::new();
    overrides.insert(Resource::Databases, Limit::new(3));
    let limits = EffectiveLimits::new(None, overrides);
    assert_eq!(
        decide(&limits, change(Resource::Memory, 1), 0),
        Decision::Refuse(UsageOutcome::NotPermitted {
            resource: Resource::Memory,
            reason: Refusal::NoPlan
        })
    );
    assert_eq!(
        decide(&limits, change(Resource::Databases, 1), 0),
        Decision::Apply(Allowance::UpTo(3))
    );
    assert_eq!(limits.allowance(Resource::Memory).remaining(0), Some(0));
}

#[test]
fn changes_and_keys_are_validated() {
    assert!(matches!(
        UsageChange::new(Resource::Servers, 0),
        Err(QuotaError::InvalidDelta(_))
    ));
    assert!(UsageChange::new(Resource::Servers, -1_000_000_000_001).is_err());
    assert!(UsageChange::new(Resource::Servers, 1_000_000_000_000).is_ok());
    assert!(IdempotencyKey::new("").is_err());
    assert!(IdempotencyKey::new("a\nb").is_err());
    assert!(IdempotencyKey::new(&"k".repeat(256)).is_err());
    assert!(IdempotencyKey::new("create-server-42").is_ok());
}

#[tokio::test]
async fn the_ledger_counts_the_utc_day_of_the_clock() {
    let mut repo = MockQuotaRepository::new();
    repo.expect_change_usage()
        .withf(|r, _| r.today == NaiveDate::from_ymd_opt(2026, 11, 22).unwrap())
        .returning(|r, _| {
            Ok(LedgerAnswer::Fresh(UsageOutcome::Applied(UsageLevel {
                resource: r.change.resource(),
                used: 1,
                allowance: Allowance::UpTo(10),
            })))
        });
    let service = QuotaService::new(Arc::new(repo), clock_at("2026-11-22T00:00:01+00:00"));
    let answer = service
        .change_usage(
            user(),
            change(Resource::EmailDailyLimit, 1),
            None,
            Actor::Operator,
        )
        .await
        .unwrap();
    assert!(!answer.replayed);
    // 23:30 at UTC-2 is already the 22nd in UTC.
    let mut repo = MockQuotaRepository::new();
    repo.expect_snapshot()
        .with(
            eq(user()),
            eq(NaiveDate::from_ymd_opt(2026, 11, 22).unwrap()),
        )
        .returning(|_, _| Ok(QuotaSnapshot::default()));
    let service = QuotaService::new(Arc::new(repo), clock_at("2026-11-21T23:30:00-02:00"));
    service.snapshot(user()).await.unwrap();
}

#[tokio::test]
async fn replays_and_key_reuse_are_told_apart() {
    let mut repo = MockQuotaRepository::new();
    let refused = UsageOutcome::Exceeded {
        resource: Resource::Servers,
        limit: 1,
        used: 1,
        requested: 1,
    };
    let mut answers = vec![LedgerAnswer::KeyReused, LedgerAnswer::Replayed(refused)];
    repo.expect_change_usage()
        .times(2)
        .returning(move |_, _| Ok(answers.pop().unwrap()));
    let service = QuotaService::new(Arc::new(repo), clock_at("2026-11-21T10:00:00Z"));
    let key = Some(IdempotencyKey::new("k1").unwrap());
    let answer = service
        .change_usage(
            user(),
            change(Resource::Servers, 1),
            key.clone(),
            Actor::Operator,
        )
        .await
        .unwrap();
    assert!(answer.replayed);
    assert!(matches!(
        answer.outcome.into_result(),
        Err(QuotaError::Exceeded { limit: 1, .. })
    ));
    assert!(matches!(
        service
            .change_usage(user(), change(Resource::Servers, 2), key, Actor::Operator)
            .await,
        Err(QuotaError::IdempotencyKeyReused)
    ));
}

#[tokio::test]
async fn check_changes_nothing_and_reports_the_refusal() {
    let mut repo = MockQuotaRepository::new();
    repo.expect_change_usage().never();
    repo.expect_set_overrides().never();
    repo.expect_snapshot().returning(|_, _| {
        Ok(QuotaSnapshot {
            limits: servers(3),
            usage: Usage::new().with(Resource::Servers, 3),
        })
    });
    let service = QuotaService::new(Arc::new(repo), clock_at("2026-11-21T10:00:00Z"));
    let check = service
        .check(user(), change(Resource::Servers, 1))
        .await
        .unwrap();
    assert!(!check.allowed());
    assert_eq!((check.used, check.remaining()), (3, Some(0)));
    let check = service
        .check(user(), change(Resource::Servers, -1))
        .await
        .unwrap();
    assert!(check.allowed());
}

#[tokio::test]
async fn missing_account_and_unavailable_database_stay_distinguishable() {
    let mut repo = MockQuotaRepository::new();
    repo.expect_snapshot()
        .returning(|_, _| Err(RepoError::NotFound));
    repo.expect_change_usage()
        .returning(|_, _| Err(RepoError::Unavailable("pool timed out".into())));
    let service = QuotaService::new(Arc::new(repo), clock_at("2026-11-21T10:00:00Z"));
    assert!(matches!(
        service.snapshot(user()).await,
        Err(QuotaError::AccountNotFound(a)) if a == user()
    ));
    assert!(matches!(
        service
            .change_usage(user(), change(Resource::Servers, 1), None, Actor::Operator)
            .await,
        Err(QuotaError::Store(failure)) if failure.is_unavailable()
    ));
}

#[tokio::test]
async fn oversized_overrides_never_reach_storage() {
    let mut repo = MockQuotaRepository::new();
    repo.expect_set_overrides().never();
    let service = QuotaService::new(Arc::new(repo), clock_at("2026-11-21T10:00:00Z"));
    assert!(matches!(
        service
            .set_overrides(
                user(),
                vec![(Resource::Disk, Some(Limit::new(u64::MAX)))],
                Actor::Operator
            )
            .await,
        Err(QuotaError::OverrideTooLarge(Resource::Disk))
    ));
}

proptest! {
    /// The ledger's arithmetic: a grant is applied exactly when it fits (0 = unlimited),
    /// a release exactly when usage stays >= 0, and nothing else is possible.
    #[test]
    fn decide_matches_the_arithmetic(limit in 0_u64..50, used in 0_u64..100, delta in -60_i64..60) {
        prop_assume!(delta != 0);
        let decision = decide(&servers(limit), change(Resource::Servers, delta), used);
        let after = i128::from(used) + i128::from(delta);
        let expected_apply = if delta < 0 { after >= 0 } else { limit == 0 || after <= i128::from(limit) };
        prop_assert_eq!(matches!(decision, Decision::Apply(_)), expected_apply);
        if let Decision::Refuse(UsageOutcome::Exceeded { limit: l, used: u, requested, .. }) = decision {
            prop_assert_eq!((l, u, i128::from(requested)), (limit, used, i128::from(delta)));
        }
    }

    #[test]
    fn remaining_never_exceeds_the_limit(limit in 1_u64..1_000, used in 0_u64..2_000) {
        let remaining = Allowance::UpTo(limit).remaining(used).unwrap();
        prop_assert!(remaining <= limit);
        prop_assert_eq!(remaining == 0, used >= limit);
        prop_assert_eq!(Allowance::UpTo(limit).is_exceeded_by(used), used > limit);
    }
}
