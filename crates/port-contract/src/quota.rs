//! `QuotaRepository`: effective limits, the daily reset, the atomic ledger with its
//! limits, idempotency keys and audit rows.

use std::sync::Arc;

use chrono::Utc;
use tariff_domain::audit::{Actor, AuditAction, AuditEntry, AuditFilter, TargetKind};
use tariff_domain::quota::{
    Allowance, IdempotencyKey, LedgerAnswer, LedgerRequest, PlanSource, QuotaRepository, Refusal,
    UsageChange, UsageOutcome,
};
use tariff_domain::{AccountRef, Limit, PageRequest, PlanSpec, RepoError, Resource, UserId};

use crate::fixtures::{at, day, terms, Fixture};
use crate::Repos;

fn request(account: AccountRef, resource: Resource, delta: i64) -> LedgerRequest {
    LedgerRequest {
        account,
        change: UsageChange::new(resource, delta).unwrap(),
        today: day(21),
        at: Utc::now(),
        idempotency_key: None,
    }
}

fn applied_used(answer: LedgerAnswer) -> u64 {
    match answer {
        LedgerAnswer::Fresh(UsageOutcome::Applied(level)) => level.used,
        other => panic!("expected a fresh grant, got {other:?}"),
    }
}

async fn used(quota: &dyn QuotaRepository, account: AccountRef, resource: Resource) -> u64 {
    quota
        .snapshot(account, day(21))
        .await
        .unwrap()
        .usage
        .get(resource)
}

/// A default plan allowing `databases` databases, so tests can pick their limit.
async fn default_plan_with_databases(fx: &Fixture, databases: u64) {
    fx.plan_with("Default", |d| {
        d.is_default = true;
        d.limits.set(Resource::Databases, Limit::new(databases));
    })
    .await;
}

pub async fn quota_limits_come_from_the_active_order_the_default_plan_and_overrides(repos: Repos) {
    let fx = Fixture::new(repos);
    let quota = &fx.repos.quota;
    let user = fx.user("nobody@example.com", "DE").await;
    let account = AccountRef::User(user);
    // No plan at all: nothing may grow.
    let snapshot = quota.snapshot(account, day(21)).await.unwrap();
    assert!(snapshot.limits.plan().is_none());
    assert_eq!(
        quota
            .change_usage(request(account, Resource::Memory, 1), None)
            .await
            .unwrap(),
        LedgerAnswer::Fresh(UsageOutcome::NotPermitted {
            resource: Resource::Memory,
            reason: Refusal::NoPlan
        })
    );
    fx.repos
        .plans
        .create_if_catalogue_empty(PlanSpec::starter_free())
        .await
        .unwrap();
    let limits = quota
        .set_overrides(
            account,
            vec![
                (Resource::Servers, Some(Limit::new(3))),
                (Resource::Disk, Some(Limit::UNLIMITED)),
            ],
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        limits.plan().map(|p| p.source),
        Some(PlanSource::DefaultPlan)
    );
    assert_eq!(limits.allowance(Resource::Servers), Allowance::UpTo(3));
    assert_eq!(limits.allowance(Resource::Disk), Allowance::Unlimited);
    assert_eq!(limits.allowance(Resource::Sites), Allowance::UpTo(1));
    let limits = quota
        .set_overrides(account, vec![(Resource::Servers, None)], None)
        .await
        .unwrap();
    assert_eq!(limits.allowance(Resource::Servers), Allowance::UpTo(1));
    assert_eq!(limits.overrides().len(), 1);

    // An active plan order wins over the default plan; overrides still win over both.
    let big = fx
        .plan_with("Big", |d| {
            d.price = "20".into();
            d.limits.set(Resource::Sites, Limit::new(50));
            d.site_permissions.create = false;
        })
        .await;
    fx.repos
        .activation
        .create_active(
            fx.order(&big, account, None, at(2026, 11, 1)),
            terms(at(2026, 11, 1), at(2026, 12, 1)),
            None,
        )
        .await
        .unwrap();
    let snapshot = quota.snapshot(account, day(21)).await.unwrap();
    let plan = snapshot.limits.plan().unwrap();
    assert_eq!(
        (plan.plan_id, plan.source),
        (big.id(), PlanSource::ActiveOrder)
    );
    assert_eq!(
        snapshot.limits.allowance(Resource::Sites),
        Allowance::UpTo(50)
    );
    assert_eq!(
        snapshot.limits.allowance(Resource::Disk),
        Allowance::Unlimited
    );
    assert!(!snapshot.limits.site_permissions().create);
    assert_eq!(
        quota
            .change_usage(request(account, Resource::Sites, 1), None)
            .await
            .unwrap(),
        LedgerAnswer::Fresh(UsageOutcome::NotPermitted {
            resource: Resource::Sites,
            reason: Refusal::CreateNotAllowed
        })
    );

    let missing = AccountRef::User(UserId::new(999_999).unwrap());
    assert!(matches!(
        quota.snapshot(missing, day(21)).await,
        Err(RepoError::NotFound)
    ));
    assert!(matches!(
        quota.set_overrides(missing, vec![], None).await,
        Err(RepoError::NotFound)
    ));
    assert!(matches!(
        quota
            .change_usage(request(missing, Resource::Memory, 1), None)
            .await,
        Err(RepoError::NotFound)
    ));
}

pub async fn quota_daily_counter_starts_from_zero_on_a_new_utc_day(repos: Repos) {
    let fx = Fixture::new(repos);
    fx.repos
        .plans
        .create_if_catalogue_empty(PlanSpec::starter_free())
        .await
        .unwrap();
    let quota = &fx.repos.quota;
    let account = AccountRef::User(fx.user("mailer@example.com", "DE").await);
    let on = |d, delta| LedgerRequest {
        today: day(d),
        ..request(account, Resource::EmailDailyLimit, delta)
    };
    // The Free plan allows 10 e-mails a day.
    assert_eq!(
        applied_used(quota.change_usage(on(21, 10), None).await.unwrap()),
        10
    );
    assert!(matches!(
        quota.change_usage(on(21, 1), None).await.unwrap(),
        LedgerAnswer::Fresh(UsageOutcome::Exceeded {
            limit: 10,
            used: 10,
            requested: 1,
            ..
        })
    ));
    assert_eq!(
        used(quota.as_ref(), account, Resource::EmailDailyLimit).await,
        10
    );
    // Next day: yesterday's counter reads 0 and 10 may be used again.
    let snapshot = quota.snapshot(account, day(22)).await.unwrap();
    assert_eq!(snapshot.usage.get(Resource::EmailDailyLimit), 0);
    assert_eq!(snapshot.remaining(Resource::EmailDailyLimit), Some(10));
    assert_eq!(
        applied_used(quota.change_usage(on(22, 10), None).await.unwrap()),
        10
    );
    // Other resources never reset.
    assert_eq!(
        applied_used(
            quota
                .change_usage(request(account, Resource::Servers, 1), None)
                .await
                .unwrap()
        ),
        1
    );
    let later = quota.snapshot(account, day(30)).await.unwrap();
    assert_eq!(later.usage.get(Resource::Servers), 1);
    assert_eq!(later.usage.get(Resource::EmailDailyLimit), 0);
}

pub async fn quota_grants_stop_at_the_limit_and_releases_at_zero(repos: Repos) {
    let fx = Fixture::new(repos);
    default_plan_with_databases(&fx, 3).await;
    let quota = &fx.repos.quota;
    let account = AccountRef::User(fx.user("a@example.com", "DE").await);
    assert_eq!(
        applied_used(
            quota
                .change_usage(request(account, Resource::Databases, 2), None)
                .await
                .unwrap()
        ),
        2
    );
    assert_eq!(
        quota
            .change_usage(request(account, Resource::Databases, 2), None)
            .await
            .unwrap(),
        LedgerAnswer::Fresh(UsageOutcome::Exceeded {
            resource: Resource::Databases,
            limit: 3,
            used: 2,
            requested: 2
        })
    );
    assert_eq!(
        applied_used(
            quota
                .change_usage(request(account, Resource::Databases, 1), None)
                .await
                .unwrap()
        ),
        3
    );
    assert_eq!(
        quota
            .change_usage(request(account, Resource::Databases, -4), None)
            .await
            .unwrap(),
        LedgerAnswer::Fresh(UsageOutcome::BelowZero {
            resource: Resource::Databases,
            used: 3,
            released: 4
        })
    );
    assert_eq!(
        applied_used(
            quota
                .change_usage(request(account, Resource::Databases, -3), None)
                .await
                .unwrap()
        ),
        0
    );
    // A lowered limit leaves usage above it; it can only shrink.
    assert_eq!(
        applied_used(
            quota
                .change_usage(request(account, Resource::Databases, 3), None)
                .await
                .unwrap()
        ),
        3
    );
    quota
        .set_overrides(
            account,
            vec![(Resource::Databases, Some(Limit::new(1)))],
            None,
        )
        .await
        .unwrap();
    let snapshot = quota.snapshot(account, day(21)).await.unwrap();
    assert_eq!(snapshot.over_limit(), vec![Resource::Databases]);
    assert!(matches!(
        quota
            .change_usage(request(account, Resource::Databases, 1), None)
            .await
            .unwrap(),
        LedgerAnswer::Fresh(UsageOutcome::Exceeded { .. })
    ));
    assert_eq!(
        applied_used(
            quota
                .change_usage(request(account, Resource::Databases, -1), None)
                .await
                .unwrap()
        ),
        2
    );
}

pub async fn quota_idempotency_key_counts_once_per_account(repos: Repos) {
    let fx = Fixture::new(repos);
    default_plan_with_databases(&fx, 100).await;
    let quota = &fx.repos.quota;
    let alice = AccountRef::User(fx.user("alice@example.com", "DE").await);
    let bob = AccountRef::User(fx.user("bob@example.com", "DE").await);
    let keyed = |account| LedgerRequest {
        idempotency_key: Some(IdempotencyKey::new("db-create-1").unwrap()),
        ..request(account, Resource::Databases, 2)
    };
    let first = quota.change_usage(keyed(alice), None).await.unwrap();
    assert_eq!(applied_used(first), 2);
    let LedgerAnswer::Fresh(outcome) = first else {
        unreachable!()
    };
    assert_eq!(
        quota.change_usage(keyed(alice), None).await.unwrap(),
        LedgerAnswer::Replayed(outcome)
    );
    // The same key of another account is another key.
    assert_eq!(
        applied_used(quota.change_usage(keyed(bob), None).await.unwrap()),
        2
    );
    // Same key, different request: refused, nothing counted.
    let mut other = keyed(alice);
    other.change = UsageChange::new(Resource::Databases, 5).unwrap();
    assert_eq!(
        quota.change_usage(other, None).await.unwrap(),
        LedgerAnswer::KeyReused
    );
    let mut elsewhere = keyed(alice);
    elsewhere.change = UsageChange::new(Resource::Servers, 2).unwrap();
    assert_eq!(
        quota.change_usage(elsewhere, None).await.unwrap(),
        LedgerAnswer::KeyReused
    );
    assert_eq!(used(quota.as_ref(), alice, Resource::Databases).await, 2);
    // A refusal is an answer too, and replays as such even once the numbers allow it.
    let refused = LedgerRequest {
        idempotency_key: Some(IdempotencyKey::new("too-many").unwrap()),
        ..request(alice, Resource::Databases, 99)
    };
    let answer = quota.change_usage(refused.clone(), None).await.unwrap();
    assert!(matches!(
        answer,
        LedgerAnswer::Fresh(UsageOutcome::Exceeded { used: 2, .. })
    ));
    quota
        .change_usage(request(alice, Resource::Databases, -2), None)
        .await
        .unwrap();
    let LedgerAnswer::Fresh(first_refusal) = answer else {
        unreachable!()
    };
    assert_eq!(
        quota.change_usage(refused, None).await.unwrap(),
        LedgerAnswer::Replayed(first_refusal)
    );
    assert_eq!(used(quota.as_ref(), alice, Resource::Databases).await, 0);
}

pub async fn quota_concurrent_grants_never_pass_the_limit(repos: Repos) {
    let fx = Fixture::new(repos);
    default_plan_with_databases(&fx, 5).await;
    let account = AccountRef::User(fx.user("busy@example.com", "DE").await);
    let quota = Arc::clone(&fx.repos.quota);
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let quota = Arc::clone(&quota);
            tokio::spawn(async move {
                quota
                    .change_usage(request(account, Resource::Databases, 1), None)
                    .await
            })
        })
        .collect();
    let mut granted = 0;
    for task in tasks {
        match task.await.unwrap().unwrap() {
            LedgerAnswer::Fresh(UsageOutcome::Applied(level)) => {
                assert!(level.used <= 5);
                granted += 1;
            }
            LedgerAnswer::Fresh(UsageOutcome::Exceeded { limit: 5, .. }) => {}
            other => panic!("unexpected answer {other:?}"),
        }
    }
    assert_eq!(granted, 5);
    assert_eq!(used(quota.as_ref(), account, Resource::Databases).await, 5);
}

pub async fn quota_concurrent_retries_with_one_key_count_once(repos: Repos) {
    let fx = Fixture::new(repos);
    default_plan_with_databases(&fx, 100).await;
    let account = AccountRef::User(fx.user("retry@example.com", "DE").await);
    let quota = Arc::clone(&fx.repos.quota);
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let quota = Arc::clone(&quota);
            tokio::spawn(async move {
                let keyed = LedgerRequest {
                    idempotency_key: Some(IdempotencyKey::new("same-retry").unwrap()),
                    ..request(account, Resource::Databases, 3)
                };
                quota.change_usage(keyed, None).await
            })
        })
        .collect();
    let mut fresh = 0;
    for task in tasks {
        match task.await.unwrap().unwrap() {
            LedgerAnswer::Fresh(outcome) => {
                assert!(matches!(outcome, UsageOutcome::Applied(level) if level.used == 3));
                fresh += 1;
            }
            LedgerAnswer::Replayed(UsageOutcome::Applied(level)) => assert_eq!(level.used, 3),
            other => panic!("unexpected answer {other:?}"),
        }
    }
    assert_eq!(fresh, 1, "one request decides, the others replay it");
    assert_eq!(used(quota.as_ref(), account, Resource::Databases).await, 3);
}

pub async fn quota_writes_store_their_audit_rows(repos: Repos) {
    let fx = Fixture::new(repos);
    default_plan_with_databases(&fx, 2).await;
    let admin = fx.user("admin@example.com", "DE").await;
    let user = fx.user("u@example.com", "DE").await;
    let account = AccountRef::User(user);
    let quota = &fx.repos.quota;
    let entry = |action| AuditEntry::on_account(Actor::User(admin), action, account);
    quota
        .set_overrides(
            account,
            vec![(Resource::Servers, Some(Limit::new(4)))],
            Some(entry(AuditAction::LimitsSet)),
        )
        .await
        .unwrap();
    let keyed = LedgerRequest {
        idempotency_key: Some(IdempotencyKey::new("k1").unwrap()),
        ..request(account, Resource::Databases, 2)
    };
    quota
        .change_usage(keyed.clone(), Some(entry(AuditAction::UsageChange)))
        .await
        .unwrap();
    // A replay and a refusal write nothing to the log.
    quota
        .change_usage(keyed, Some(entry(AuditAction::UsageChange)))
        .await
        .unwrap();
    quota
        .change_usage(
            request(account, Resource::Databases, 1),
            Some(entry(AuditAction::UsageChange)),
        )
        .await
        .unwrap();
    let page = fx
        .repos
        .audit
        .page(
            AuditFilter {
                target_kind: Some(TargetKind::User),
                target_id: Some(user.get()),
                actor: Some(admin),
            },
            PageRequest::default(),
        )
        .await
        .unwrap();
    assert_eq!(page.total, 2);
    let (usage, limits) = (&page.items[0], &page.items[1]);
    assert_eq!(limits.action, "limits.set");
    assert_eq!(limits.before, Some(serde_json::json!({"overrides": {}})));
    assert_eq!(
        limits.after,
        Some(serde_json::json!({"overrides": {"servers": 4}}))
    );
    assert_eq!(usage.action, "usage.change");
    assert_eq!(
        usage.before,
        Some(serde_json::json!({"resource": "databases", "used": 0}))
    );
    assert_eq!(
        usage.after,
        Some(
            serde_json::json!({"resource": "databases", "used": 2, "delta": 2, "idempotencyKey": "k1"})
        )
    );
}

pub async fn quota_counts_organisations_apart_from_their_members(repos: Repos) {
    let fx = Fixture::new(repos);
    default_plan_with_databases(&fx, 1).await;
    let team = fx
        .plan_with("Team", |d| {
            d.price = "30".into();
            d.limits.set(Resource::Databases, Limit::new(10));
        })
        .await;
    let owner = fx.user("owner@example.com", "DE").await;
    let org = AccountRef::Org(fx.org("Acme", owner).await);
    let person = AccountRef::User(owner);
    fx.repos
        .activation
        .create_active(
            fx.order(&team, org, Some(owner), at(2026, 11, 1)),
            terms(at(2026, 11, 1), at(2026, 12, 1)),
            None,
        )
        .await
        .unwrap();
    let quota = &fx.repos.quota;
    let org_limits = quota.snapshot(org, day(21)).await.unwrap().limits;
    assert_eq!(org_limits.plan().map(|p| p.plan_id), Some(team.id()));
    assert_eq!(
        org_limits.allowance(Resource::Databases),
        Allowance::UpTo(10)
    );
    let own_limits = quota.snapshot(person, day(21)).await.unwrap().limits;
    assert_eq!(
        own_limits.plan().map(|p| p.source),
        Some(PlanSource::DefaultPlan)
    );
    // The same key in the organisation and in its owner's account are two keys.
    let keyed = |account| LedgerRequest {
        idempotency_key: Some(IdempotencyKey::new("shared-key").unwrap()),
        ..request(account, Resource::Databases, 1)
    };
    assert_eq!(
        applied_used(quota.change_usage(keyed(org), None).await.unwrap()),
        1
    );
    assert_eq!(
        applied_used(quota.change_usage(keyed(person), None).await.unwrap()),
        1
    );
    assert_eq!(
        applied_used(
            quota
                .change_usage(request(org, Resource::Databases, 5), None)
                .await
                .unwrap()
        ),
        6
    );
    assert!(matches!(
        quota
            .change_usage(request(person, Resource::Databases, 1), None)
            .await
            .unwrap(),
        LedgerAnswer::Fresh(UsageOutcome::Exceeded {
            limit: 1,
            used: 1,
            ..
        })
    ));
    assert_eq!(used(quota.as_ref(), org, Resource::Databases).await, 6);
    assert_eq!(used(quota.as_ref(), person, Resource::Databases).await, 1);
    // Overrides of one do not reach the other.
    quota
        .set_overrides(
            person,
            vec![(Resource::Databases, Some(Limit::new(4)))],
            None,
        )
        .await
        .unwrap();
    let org_after = quota.snapshot(org, day(21)).await.unwrap();
    assert!(org_after.limits.overrides().is_empty());
    assert_eq!(org_after.remaining(Resource::Databases), Some(4));
    let missing = AccountRef::Org(tariff_domain::OrgId::new(999_999).unwrap());
    assert!(matches!(
        quota.snapshot(missing, day(21)).await,
        Err(RepoError::NotFound)
    ));
}
