//! The order lifecycle under a fake clock: the real services and repositories on a real
//! database (SQLite, and PostgreSQL with TEST_DATABASE_URL), with time moved by hand.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use tariff_domain::catalogue::CatalogueService;
use tariff_domain::orders::{
    ApplyPlan, BillingPolicy, LifecycleService, OrderFilter, OrderPorts, OrderRepository,
    OrderService, OrderStatus, SweepReport,
};
use tariff_domain::shared::ManualClock;
use tariff_domain::shared::PageRequest;
use tariff_domain::{AccountRef, Caller, OrderId, PlanDraft, PlanId, Role, UserId};
use tariff_persistence::{
    Database, DieselIdentity, DieselOrderRepository, DieselPlanRepository, PoolOptions,
};
use tariff_tests::{backends, seed_user, TestDatabase};

fn at(y: i32, m: u32, d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, 10, 0, 0).unwrap()
}

/// One "instance": its own pool, services and the shared fake clock.
struct Instance {
    orders: OrderService,
    lifecycle: LifecycleService,
    repo: DieselOrderRepository,
}

async fn instance(db: &TestDatabase, clock: Arc<ManualClock>) -> (Database, Instance) {
    let database = Database::connect(db.url(), &PoolOptions::default()).unwrap();
    database.migrate().await.unwrap();
    let repo = DieselOrderRepository::new(database.clone());
    let store = Arc::new(repo.clone());
    let plans = Arc::new(DieselPlanRepository::new(database.clone()));
    let policy = Arc::new(BillingPolicy::default()); // 7 days pending TTL and renewal lead
    let orders = OrderService::new(
        OrderPorts {
            orders: store.clone(),
            activation: store.clone(),
            directory: store.clone(),
            plans: plans.clone(),
            memberships: Arc::new(DieselIdentity::new(database.clone())),
            clock: clock.clone(),
        },
        policy.clone(),
    );
    let lifecycle = LifecycleService::new(store.clone(), plans, store, clock, policy);
    (
        database,
        Instance {
            orders,
            lifecycle,
            repo,
        },
    )
}

struct World {
    clock: Arc<ManualClock>,
    app: Instance,
    admin: Caller,
    customer: Caller,
    pro: PlanId,
    hobby: PlanId,
    _db: Database,
}

async fn world(db: &TestDatabase) -> World {
    let clock = Arc::new(ManualClock::new(at(2026, 1, 31)));
    let (database, app) = instance(db, clock.clone()).await;
    let catalogue = CatalogueService::new(Arc::new(DieselPlanRepository::new(database.clone())));
    catalogue.ensure_starter_plan().await.unwrap();
    let plan = |name: &str, price: &str| PlanDraft {
        name: name.into(),
        price: price.into(),
        ..PlanDraft::default()
    };
    let pro = catalogue
        .create(plan("Pro", "9.99"), tariff_domain::audit::Actor::Operator)
        .await
        .unwrap()
        .id();
    let hobby = catalogue
        .create(plan("Hobby", "0"), tariff_domain::audit::Actor::Operator)
        .await
        .unwrap()
        .id();
    let admin = seed_user(&database, "admin@example.com", "admin").await;
    let customer = seed_user(&database, "customer@example.com", "user").await;
    World {
        clock,
        app,
        admin: Caller::new(UserId::new(admin.id).unwrap(), Role::Admin),
        customer: Caller::new(UserId::new(customer.id).unwrap(), Role::User),
        pro,
        hobby,
        _db: database,
    }
}

impl World {
    async fn status(&self, id: OrderId) -> OrderStatus {
        self.app.repo.get(id).await.unwrap().status()
    }

    async fn sweep_at(&self, now: DateTime<Utc>) -> SweepReport {
        self.clock.set(now);
        self.app.lifecycle.sweep_now().await.unwrap()
    }

    async fn renewals_of(&self, id: OrderId) -> Vec<tariff_domain::orders::Order> {
        let page = self
            .app
            .repo
            .search(OrderFilter::default(), PageRequest::new(1, 100).unwrap())
            .await
            .unwrap();
        page.items
            .into_iter()
            .filter(|o| o.renewal_of() == Some(id))
            .collect()
    }
}

#[tokio::test]
async fn a_paid_plan_is_renewed_once_and_expires_unpaid() {
    for db in backends() {
        let w = world(&db).await;
        let user = w.customer.user_id();
        // Applied on Jan 31: the period ends Feb 28 (clamped).
        let order = w
            .app
            .orders
            .apply_plan(
                w.admin,
                ApplyPlan {
                    user,
                    plan: w.pro,
                    notes: None,
                    expires_at: None,
                },
            )
            .await
            .unwrap();
        assert_eq!(order.expires_at(), Some(at(2026, 2, 28)));

        // Eight days before the end: nothing to do yet.
        assert_eq!(w.sweep_at(at(2026, 2, 20)).await, SweepReport::default());
        // Seven days before: exactly one renewal, however often the sweep runs.
        assert_eq!(w.sweep_at(at(2026, 2, 21)).await.renewals_created, 1);
        assert_eq!(w.sweep_at(at(2026, 2, 22)).await.renewals_created, 0);
        let renewals = w.renewals_of(order.id()).await;
        assert_eq!(renewals.len(), 1);
        assert_eq!(renewals[0].status(), OrderStatus::Pending);
        assert_eq!(renewals[0].charges().total().minor(), 999);
        assert_eq!(renewals[0].account(), AccountRef::User(user));

        // Unpaid: at the end the plan expires and the account falls back to the default
        // plan; the renewal left pending for seven days expires too.
        let report = w.sweep_at(at(2026, 2, 28)).await;
        assert_eq!((report.expired_active, report.expired_pending), (1, 1));
        assert_eq!(w.status(order.id()).await, OrderStatus::Expired);
        assert_eq!(w.status(renewals[0].id()).await, OrderStatus::Expired);
        let current = w.app.orders.current_plan(w.admin, user).await.unwrap();
        assert!(current.order.is_none());
        assert_eq!(
            current.plan.map(|p| p.name().to_owned()).as_deref(),
            Some("Free")
        );
        // Idempotent.
        assert_eq!(w.sweep_at(at(2026, 2, 28)).await, SweepReport::default());
    }
}

#[tokio::test]
async fn a_paid_renewal_continues_the_period() {
    for db in backends() {
        let w = world(&db).await;
        let user = w.customer.user_id();
        let order = w
            .app
            .orders
            .apply_plan(
                w.admin,
                ApplyPlan {
                    user,
                    plan: w.pro,
                    notes: None,
                    expires_at: None,
                },
            )
            .await
            .unwrap();
        w.sweep_at(at(2026, 2, 21)).await;
        let renewal = w.renewals_of(order.id()).await.remove(0);
        w.clock.set(at(2026, 2, 25));
        let paid = w
            .app
            .orders
            .mark_paid(w.admin, renewal.id(), Some("bank-7".into()))
            .await
            .unwrap();
        assert_eq!(paid.status(), OrderStatus::Active);
        // The new period starts where the old one ends (Feb 28), not on the payment day.
        assert_eq!(paid.expires_at(), Some(at(2026, 3, 28)));
        let old = w.app.repo.get(order.id()).await.unwrap();
        assert_eq!(old.status(), OrderStatus::Cancelled);
        assert_eq!(
            old.notes(),
            Some(format!("replaced by order #{}", renewal.id()).as_str())
        );
        assert_eq!(w.sweep_at(at(2026, 2, 28)).await.expired_active, 0);
        assert_eq!(w.status(renewal.id()).await, OrderStatus::Active);
    }
}

#[tokio::test]
async fn a_free_plan_renews_itself_and_stale_pending_orders_expire() {
    for db in backends() {
        let w = world(&db).await;
        let free = w.app.orders.place(w.customer, w.hobby, None).await.unwrap();
        assert_eq!(free.status(), OrderStatus::Active);
        assert_eq!(free.expires_at(), Some(at(2026, 2, 28)));
        let pending = w.app.orders.place(w.customer, w.pro, None).await.unwrap();
        assert_eq!(pending.status(), OrderStatus::Pending);

        // No renewal order for a free plan.
        assert_eq!(w.sweep_at(at(2026, 2, 6)).await, SweepReport::default());
        assert_eq!(w.status(pending.id()).await, OrderStatus::Pending);
        // Seven days after creation the unpaid order expires.
        let report = w.sweep_at(at(2026, 2, 7)).await;
        assert_eq!(report.expired_pending, 1);
        assert_eq!(w.status(pending.id()).await, OrderStatus::Expired);

        // At the end of its period the free order runs on, to the anniversary of its
        // start (Jan 31 -> Mar 31), in place.
        let report = w.sweep_at(at(2026, 3, 1)).await;
        assert_eq!(
            (
                report.free_extended,
                report.expired_active,
                report.renewals_created
            ),
            (1, 0, 0)
        );
        let extended = w.app.repo.get(free.id()).await.unwrap();
        assert_eq!(extended.status(), OrderStatus::Active);
        assert_eq!(extended.expires_at(), Some(at(2026, 3, 31)));
        assert_eq!(w.sweep_at(at(2026, 3, 1)).await, SweepReport::default());
        assert!(w.renewals_of(free.id()).await.is_empty());
    }
}

#[tokio::test]
async fn two_instances_sweeping_at_once_do_the_work_once() {
    for db in backends() {
        let w = world(&db).await;
        let (_second_db, second) = instance(&db, w.clock.clone()).await;
        // Twenty accounts with plans ending Feb 28, and a free one.
        let mut orders = Vec::new();
        for i in 0..20 {
            let user = seed_user(&w._db, &format!("u{i}@example.com"), "user").await;
            let order = w
                .app
                .orders
                .apply_plan(
                    w.admin,
                    ApplyPlan {
                        user: UserId::new(user.id).unwrap(),
                        plan: w.pro,
                        notes: None,
                        expires_at: None,
                    },
                )
                .await
                .unwrap();
            orders.push(order);
        }
        w.app.orders.place(w.customer, w.hobby, None).await.unwrap();

        w.clock.set(at(2026, 2, 22));
        let (a, b) = tokio::join!(w.app.lifecycle.sweep_now(), second.lifecycle.sweep_now());
        let (a, b) = (a.unwrap(), b.unwrap());
        assert_eq!(
            a.renewals_created + b.renewals_created,
            20,
            "{:?}",
            db.backend()
        );
        for order in &orders {
            assert_eq!(w.renewals_of(order.id()).await.len(), 1);
        }

        w.clock.set(at(2026, 3, 1));
        let (a, b) = tokio::join!(w.app.lifecycle.sweep_now(), second.lifecycle.sweep_now());
        let (a, b) = (a.unwrap(), b.unwrap());
        assert_eq!(
            a.expired_active + b.expired_active,
            20,
            "{:?}",
            db.backend()
        );
        assert_eq!(
            a.expired_pending + b.expired_pending,
            20,
            "{:?}",
            db.backend()
        );
        assert_eq!(a.free_extended + b.free_extended, 1, "{:?}", db.backend());
        for order in &orders {
            assert_eq!(w.status(order.id()).await, OrderStatus::Expired);
        }
    }
}
