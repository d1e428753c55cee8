//! The plan repository against real databases: SQLite always, PostgreSQL when
//! `TEST_DATABASE_URL` is set (each test in a fresh schema).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use tariff_domain::catalogue::CatalogueService;
use tariff_domain::catalogue::PlanRepository;
use tariff_domain::{ConflictKind, PlanDraft, PlanId, PlanPatch, PlanSpec, RepoError};
use tariff_persistence::testing::TestDatabase;
use tariff_persistence::{Database, DieselPlanRepository, PoolOptions};

async fn open(test_db: &TestDatabase) -> DieselPlanRepository {
    let db = Database::connect(test_db.url(), &PoolOptions::default()).unwrap();
    db.migrate().await.unwrap();
    DieselPlanRepository::new(db)
}

fn spec(name: &str, price: &str) -> PlanSpec {
    PlanSpec::new(PlanDraft {
        name: name.into(),
        price: price.into(),
        ..PlanDraft::default()
    })
    .unwrap()
}

#[tokio::test]
async fn starter_plan_is_created_once_on_an_empty_catalogue() {
    for test_db in TestDatabase::all() {
        let repo = open(&test_db).await;
        assert!(repo
            .create_if_catalogue_empty(PlanSpec::starter_free())
            .await
            .unwrap());
        assert!(!repo
            .create_if_catalogue_empty(PlanSpec::starter_free())
            .await
            .unwrap());
        let plans = repo.list(true).await.unwrap();
        assert_eq!(plans.len(), 1, "{:?}", test_db.backend());
        assert_eq!(plans[0].name(), "Free");
        assert!(plans[0].is_default());
        assert_eq!(
            repo.default_plan().await.unwrap().map(|p| p.id()),
            Some(plans[0].id())
        );
    }
}

#[tokio::test]
async fn round_trips_every_field_and_lists_in_price_order() {
    for test_db in TestDatabase::all() {
        let repo = open(&test_db).await;
        let mut draft = spec("Pro", "9.99").to_draft();
        draft.description = Some("Ünïcödé 'quotes' ; DROP TABLE plans; -- 🚀".into());
        draft
            .features
            .insert("ssl".into(), serde_json::json!({"wildcard": true}));
        draft.stripe_plan_id = Some("price_123".into());
        draft.price_yearly = "99".into();
        draft.limits.set(
            tariff_domain::Resource::Servers,
            tariff_domain::Limit::new(5),
        );
        let pro = repo
            .create(PlanSpec::new(draft).unwrap(), None)
            .await
            .unwrap();
        let cheap = repo.create(spec("Cheap", "1.00"), None).await.unwrap();
        let tie = repo.create(spec("Tie", "1.00"), None).await.unwrap();
        let hidden = repo
            .create(
                PlanSpec::new(PlanDraft {
                    hidden: true,
                    ..spec("Hidden", "0").to_draft()
                })
                .unwrap(),
                None,
            )
            .await
            .unwrap();

        let fetched = repo.get(pro.id()).await.unwrap();
        assert_eq!(fetched.spec(), pro.spec(), "{:?}", test_db.backend());
        assert_eq!(
            fetched.description(),
            Some("Ünïcödé 'quotes' ; DROP TABLE plans; -- 🚀")
        );

        let public: Vec<PlanId> = repo
            .list(false)
            .await
            .unwrap()
            .iter()
            .map(|p| p.id())
            .collect();
        assert_eq!(public, vec![cheap.id(), tie.id(), pro.id()]);
        let all = repo.list(true).await.unwrap();
        assert_eq!(all.first().map(|p| p.id()), Some(hidden.id()));
    }
}

#[tokio::test]
async fn names_are_unique_case_insensitively() {
    for test_db in TestDatabase::all() {
        let repo = open(&test_db).await;
        repo.create(spec("Pro", "1"), None).await.unwrap();
        let err = repo.create(spec("pro", "2"), None).await.unwrap_err();
        assert!(matches!(err, RepoError::Conflict(_)), "{err:?}");
        assert_eq!(repo.list(true).await.unwrap().len(), 1);
    }
}

#[tokio::test]
async fn refused_writes_say_why_in_a_typed_kind() {
    for test_db in TestDatabase::all() {
        let repo = open(&test_db).await;
        let pro = repo.create(spec("Pro", "1"), None).await.unwrap();
        let taken = repo.create(spec("PRO", "2"), None).await.unwrap_err();
        assert!(
            matches!(taken, RepoError::Conflict(ConflictKind::NameTaken)),
            "{:?}: {taken:?}",
            test_db.backend()
        );
        let other = repo.create(spec("Other", "2"), None).await.unwrap();
        let renamed = repo.update(other.id(), spec("pro", "2"), None).await;
        assert!(
            matches!(renamed, Err(RepoError::Conflict(ConflictKind::NameTaken))),
            "{renamed:?}"
        );
        assert_eq!(repo.get(pro.id()).await.unwrap().name(), "Pro");
    }
}

#[tokio::test]
async fn default_flag_moves_and_stays_unique() {
    for test_db in TestDatabase::all() {
        let repo = open(&test_db).await;
        let a = repo
            .create(
                PlanSpec::new(PlanDraft {
                    is_default: true,
                    ..spec("A", "0").to_draft()
                })
                .unwrap(),
                None,
            )
            .await
            .unwrap();
        let b = repo
            .create(
                PlanSpec::new(PlanDraft {
                    is_default: true,
                    ..spec("B", "0").to_draft()
                })
                .unwrap(),
                None,
            )
            .await
            .unwrap();
        assert_eq!(
            repo.default_plan().await.unwrap().map(|p| p.id()),
            Some(b.id())
        );
        assert!(!repo.get(a.id()).await.unwrap().is_default());
        let a2 = PlanSpec::new(PlanDraft {
            is_default: true,
            ..spec("A", "0").to_draft()
        })
        .unwrap();
        repo.update(a.id(), a2, None).await.unwrap();
        assert_eq!(
            repo.default_plan().await.unwrap().map(|p| p.id()),
            Some(a.id())
        );
        let defaults = repo
            .list(true)
            .await
            .unwrap()
            .iter()
            .filter(|p| p.is_default())
            .count();
        assert_eq!(defaults, 1);
    }
}

#[tokio::test]
async fn update_delete_and_version() {
    for test_db in TestDatabase::all() {
        let repo = open(&test_db).await;
        let v0 = repo.catalogue_version().await.unwrap();
        let plan = repo.create(spec("Pro", "5"), None).await.unwrap();
        let v1 = repo.catalogue_version().await.unwrap();
        assert!(v1 > v0);
        let updated = repo
            .update(plan.id(), spec("Pro Plus", "6"), None)
            .await
            .unwrap();
        assert_eq!(updated.name(), "Pro Plus");
        assert_eq!(updated.created_at(), plan.created_at());
        assert!(repo.catalogue_version().await.unwrap() > v1);
        let missing = PlanId::new(999_999).unwrap();
        assert!(matches!(
            repo.update(missing, spec("X", "1"), None).await,
            Err(RepoError::NotFound)
        ));
        repo.delete(plan.id(), None).await.unwrap();
        assert!(matches!(
            repo.get(plan.id()).await,
            Err(RepoError::NotFound)
        ));
        assert!(matches!(
            repo.delete(plan.id(), None).await,
            Err(RepoError::NotFound)
        ));
    }
}

#[tokio::test]
async fn import_upserts_by_name_and_is_all_or_nothing() {
    for test_db in TestDatabase::all() {
        let repo = open(&test_db).await;
        let service = CatalogueService::new(std::sync::Arc::new(repo.clone()));
        repo.create(spec("Basic", "1"), None).await.unwrap();
        let outcome = service
            .import(
                vec![
                    PlanDraft {
                        name: "basic".into(),
                        price: "2".into(),
                        ..PlanDraft::default()
                    },
                    PlanDraft {
                        name: "Pro".into(),
                        price: "9.99".into(),
                        ..PlanDraft::default()
                    },
                ],
                tariff_domain::audit::Actor::Operator,
            )
            .await
            .unwrap();
        assert_eq!((outcome.created, outcome.updated), (1, 1));
        let before = repo.list(true).await.unwrap();
        let bad = service
            .import(
                vec![
                    PlanDraft {
                        name: "Third".into(),
                        ..PlanDraft::default()
                    },
                    PlanDraft {
                        name: "Broken".into(),
                        currency: "???".into(),
                        ..PlanDraft::default()
                    },
                ],
                tariff_domain::audit::Actor::Operator,
            )
            .await;
        assert!(bad.is_err());
        assert_eq!(
            repo.list(true).await.unwrap(),
            before,
            "a rejected file changes nothing"
        );
        let basic = before.iter().find(|p| p.name() == "basic").unwrap();
        assert_eq!(basic.price().minor(), 200);
        let _ = service
            .update(
                basic.id(),
                PlanPatch {
                    hidden: Some(true),
                    ..PlanPatch::default()
                },
                tariff_domain::audit::Actor::Operator,
            )
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn pages_count_and_cut_in_the_database_in_id_order() {
    use tariff_domain::PageRequest;
    for test_db in TestDatabase::all() {
        let repo = open(&test_db).await;
        let mut ids = Vec::new();
        for n in 0..12_u32 {
            let mut draft = spec(&format!("P{n}"), &format!("{}", 50 - n)).to_draft();
            draft.hidden = n % 4 == 3;
            let plan = repo
                .create(PlanSpec::new(draft).unwrap(), None)
                .await
                .unwrap();
            ids.push((plan.id(), plan.hidden()));
        }
        let visible: Vec<PlanId> = ids.iter().filter(|(_, h)| !h).map(|(id, _)| *id).collect();
        let all: Vec<PlanId> = ids.iter().map(|(id, _)| *id).collect();

        let page = repo
            .page_by_id(false, PageRequest::new(2, 5).unwrap())
            .await
            .unwrap();
        assert_eq!(page.total, 9, "{:?}", test_db.backend());
        let got: Vec<PlanId> = page.items.iter().map(|p| p.id()).collect();
        assert_eq!(got, visible[5..9]);

        let page = repo
            .page_by_id(true, PageRequest::new(1, 100).unwrap())
            .await
            .unwrap();
        assert_eq!(page.total, 12);
        let got: Vec<PlanId> = page.items.iter().map(|p| p.id()).collect();
        assert_eq!(got, all);

        let past = repo
            .page_by_id(true, PageRequest::new(4, 5).unwrap())
            .await
            .unwrap();
        assert!(past.items.is_empty());
        assert_eq!(past.total, 12);
    }
}
