//! The quota repository against real databases: SQLite always, PostgreSQL when
//! `TEST_DATABASE_URL` is set. The black-box suite covers the HTTP side; this file
//! covers what is easier to drive directly, such as the day a daily counter is in.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use chrono::{NaiveDate, Utc};
use diesel::prelude::*;
use tariff_domain::catalogue::PlanRepository;
use tariff_domain::quota::{
    Allowance, IdempotencyKey, LedgerAnswer, LedgerRequest, PlanSource, QuotaRepository, Refusal,
    UsageChange, UsageOutcome,
};
use tariff_domain::{AccountRef, Limit, PlanSpec, RepoError, Resource, UserId};
use tariff_persistence::schema::plans;
use tariff_persistence::testing::{seed_user, TestDatabase};
use tariff_persistence::{Database, DieselPlanRepository, DieselQuotaRepository, PoolOptions};

async fn open(test_db: &TestDatabase) -> (Database, DieselQuotaRepository) {
    let db = Database::connect(test_db.url(), &PoolOptions::default()).unwrap();
    db.migrate().await.unwrap();
    (db.clone(), DieselQuotaRepository::new(db))
}

fn day(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, d).unwrap()
}

fn request(account: AccountRef, resource: Resource, delta: i64, today: NaiveDate) -> LedgerRequest {
    LedgerRequest {
        account,
        change: UsageChange::new(resource, delta).unwrap(),
        today,
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

async fn user(db: &Database, email: &str) -> AccountRef {
    let seeded = seed_user(db, email, "user").await;
    AccountRef::User(UserId::new(seeded.id).unwrap())
}

#[tokio::test]
async fn daily_counter_starts_from_zero_on_a_new_utc_day() {
    for test_db in TestDatabase::all() {
        let (db, repo) = open(&test_db).await;
        DieselPlanRepository::new(db.clone())
            .create_if_catalogue_empty(PlanSpec::starter_free())
            .await
            .unwrap();
        let account = user(&db, "mailer@example.com").await;
        // The Free plan allows 10 e-mails a day.
        let first = repo
            .change_usage(
                request(account, Resource::EmailDailyLimit, 10, day(21)),
                None,
            )
            .await
            .unwrap();
        assert_eq!(applied_used(first), 10);
        let full = repo
            .change_usage(
                request(account, Resource::EmailDailyLimit, 1, day(21)),
                None,
            )
            .await
            .unwrap();
        assert!(matches!(
            full,
            LedgerAnswer::Fresh(UsageOutcome::Exceeded {
                limit: 10,
                used: 10,
                ..
            })
        ));
        assert_eq!(
            repo.snapshot(account, day(21))
                .await
                .unwrap()
                .usage
                .get(Resource::EmailDailyLimit),
            10
        );
        // Next day: the stored counter is yesterday's, so today reads 0 and may use 10 again.
        let snapshot = repo.snapshot(account, day(22)).await.unwrap();
        assert_eq!(snapshot.usage.get(Resource::EmailDailyLimit), 0);
        assert_eq!(snapshot.remaining(Resource::EmailDailyLimit), Some(10));
        let next_day = repo
            .change_usage(
                request(account, Resource::EmailDailyLimit, 10, day(22)),
                None,
            )
            .await
            .unwrap();
        assert_eq!(applied_used(next_day), 10, "{:?}", test_db.backend());
        // Other resources never reset.
        let servers = repo
            .change_usage(request(account, Resource::Servers, 1, day(21)), None)
            .await
            .unwrap();
        assert_eq!(applied_used(servers), 1);
        assert_eq!(
            repo.snapshot(account, day(30))
                .await
                .unwrap()
                .usage
                .get(Resource::Servers),
            1
        );
    }
}

#[tokio::test]
async fn limits_come_from_the_default_plan_then_overrides() {
    for test_db in TestDatabase::all() {
        let (db, repo) = open(&test_db).await;
        let account = user(&db, "nobody@example.com").await;
        // No plan at all: nothing may grow, releases of nothing are below zero.
        let snapshot = repo.snapshot(account, day(21)).await.unwrap();
        assert!(snapshot.limits.plan().is_none());
        assert_eq!(
            repo.change_usage(request(account, Resource::Memory, 1, day(21)), None)
                .await
                .unwrap(),
            LedgerAnswer::Fresh(UsageOutcome::NotPermitted {
                resource: Resource::Memory,
                reason: Refusal::NoPlan
            })
        );
        DieselPlanRepository::new(db.clone())
            .create_if_catalogue_empty(PlanSpec::starter_free())
            .await
            .unwrap();
        let limits = repo
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
        let limits = repo
            .set_overrides(account, vec![(Resource::Servers, None)], None)
            .await
            .unwrap();
        assert_eq!(limits.allowance(Resource::Servers), Allowance::UpTo(1));
        assert_eq!(limits.overrides().len(), 1);
        let missing = AccountRef::User(UserId::new(999_999).unwrap());
        assert!(matches!(
            repo.snapshot(missing, day(21)).await,
            Err(RepoError::NotFound)
        ));
        assert!(matches!(
            repo.set_overrides(missing, vec![], None).await,
            Err(RepoError::NotFound)
        ));
    }
}

#[tokio::test]
async fn an_idempotency_key_counts_once_per_account() {
    for test_db in TestDatabase::all() {
        let (db, repo) = open(&test_db).await;
        DieselPlanRepository::new(db.clone())
            .create_if_catalogue_empty(PlanSpec::starter_free())
            .await
            .unwrap();
        // Make the default plan roomy so the key, not the limit, is what is tested.
        db.query(
            |c| Ok(c.execute(diesel::update(plans::table).set(plans::databases.eq(100_i64)))?),
        )
        .await
        .unwrap();
        let alice = user(&db, "alice@example.com").await;
        let bob = user(&db, "bob@example.com").await;
        let keyed = |account| LedgerRequest {
            idempotency_key: Some(IdempotencyKey::new("db-create-1").unwrap()),
            ..request(account, Resource::Databases, 2, day(21))
        };
        let first = repo.change_usage(keyed(alice), None).await.unwrap();
        assert_eq!(applied_used(first), 2);
        let LedgerAnswer::Fresh(outcome) = first else {
            unreachable!()
        };
        assert_eq!(
            repo.change_usage(keyed(alice), None).await.unwrap(),
            LedgerAnswer::Replayed(outcome)
        );
        // The same key of another account is another key.
        assert_eq!(
            applied_used(repo.change_usage(keyed(bob), None).await.unwrap()),
            2
        );
        // Same key, different request: refused, nothing counted.
        let mut other = keyed(alice);
        other.change = UsageChange::new(Resource::Databases, 5).unwrap();
        assert_eq!(
            repo.change_usage(other, None).await.unwrap(),
            LedgerAnswer::KeyReused
        );
        assert_eq!(
            repo.snapshot(alice, day(21))
                .await
                .unwrap()
                .usage
                .get(Resource::Databases),
            2
        );
    }
}
