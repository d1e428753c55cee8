//! Plan orders with coupons and account credit on the in-memory adapter: the same
//! guarantees the database holds (exact `maxRedemptions` under concurrent orders,
//! credit never below zero, give-back on cancel), through the domain's services.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use futures_util::future::join_all;
use tariff_domain::audit::Actor;
use tariff_domain::billing::{
    BillingCycle, CouponDraft, CouponService, CreditService, PlanOrderOutcome, PlanOrderRequest,
    PlanOrderService,
};
use tariff_domain::catalogue::CatalogueService;
use tariff_domain::identity::{AccountService, Caller, NewUser, Role};
use tariff_domain::orders::{BillingPolicy, OrderError, OrderPorts, OrderService, OrderStatus};
use tariff_domain::shared::ManualClock;
use tariff_domain::{AccountRef, Currency, Money, PlanDraft, PlanId};
use tariff_memory::MemoryStore;

struct App {
    accounts: AccountService,
    orders: OrderService,
    plan_orders: PlanOrderService,
    coupons: CouponService,
    credit: CreditService,
    pro: PlanId,
}

async fn app() -> App {
    let store = Arc::new(MemoryStore::new());
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).unwrap(),
    ));
    let orders = OrderService::new(
        OrderPorts {
            orders: store.clone(),
            activation: store.clone(),
            directory: store.clone(),
            plans: store.clone(),
            memberships: store.clone(),
            clock: clock.clone(),
        },
        Arc::new(BillingPolicy::default()),
    );
    let pro = CatalogueService::new(store.clone())
        .create(
            PlanDraft {
                name: "Pro".into(),
                price: "10".into(),
                price_yearly: "100".into(),
                ..PlanDraft::default()
            },
            Actor::Operator,
        )
        .await
        .unwrap()
        .id();
    App {
        accounts: AccountService::new(store.clone(), clock.clone()),
        plan_orders: PlanOrderService::new(
            orders.clone(),
            store.clone(),
            store.clone(),
            store.clone(),
        ),
        orders,
        coupons: CouponService::new(store.clone(), clock.clone()),
        credit: CreditService::new(store, clock),
        pro,
    }
}

impl App {
    async fn customer(&self, email: &str) -> Caller {
        let user = self
            .accounts
            .create(
                NewUser {
                    email: email.into(),
                    name: email.into(),
                    ..NewUser::default()
                },
                Actor::Operator,
            )
            .await
            .unwrap();
        Caller::new(user.id(), Role::User)
    }

    fn request(&self, coupon: Option<&str>) -> PlanOrderRequest {
        PlanOrderRequest {
            plan: self.pro,
            org: None,
            cycle: BillingCycle::Monthly,
            coupon_code: coupon.map(str::to_owned),
            when: None,
            customer_note: None,
        }
    }
}

fn placed(outcome: PlanOrderOutcome) -> tariff_domain::orders::Order {
    match outcome {
        PlanOrderOutcome::Placed(order) => order,
        PlanOrderOutcome::Scheduled(order) => panic!("scheduled: {order:?}"),
    }
}

#[tokio::test]
async fn max_redemptions_hold_under_concurrent_orders_and_cancel_gives_back() {
    let app = app().await;
    app.coupons
        .create(
            CouponDraft {
                code: "few".into(),
                percent_off: Some("20".into()),
                duration: "once".into(),
                max_redemptions: Some(3),
                ..CouponDraft::default()
            },
            Actor::Operator,
        )
        .await
        .unwrap();
    let alice = app.customer("alice@example.com").await;
    let results =
        join_all((0..20).map(|_| app.plan_orders.place(alice, app.request(Some("FEW"))))).await;
    let accepted: Vec<_> = results
        .into_iter()
        .filter_map(Result::ok)
        .map(placed)
        .collect();
    assert_eq!(accepted.len(), 3);
    assert_eq!(
        accepted[0].amount_due(),
        Money::from_minor(800, Currency::USD)
    );
    assert_eq!(app.coupons.get("few").await.unwrap().times_redeemed(), 3);
    let refused = app.plan_orders.place(alice, app.request(Some("few"))).await;
    assert!(matches!(
        refused,
        Err(OrderError::Invalid {
            field: "couponCode",
            ..
        })
    ));

    app.orders.cancel(alice, accepted[0].id()).await.unwrap();
    assert_eq!(app.coupons.get("few").await.unwrap().times_redeemed(), 2);
}

#[tokio::test]
async fn credit_pays_orders_never_below_zero_and_comes_back_on_cancel() {
    let app = app().await;
    let bob = app.customer("bob@example.com").await;
    let account = AccountRef::User(bob.user_id());
    app.credit
        .adjust(account, "25", "USD", "Goodwill", Actor::Operator)
        .await
        .unwrap();
    let orders: Vec<_> = join_all((0..5).map(|_| app.plan_orders.place(bob, app.request(None))))
        .await
        .into_iter()
        .map(|r| placed(r.unwrap()))
        .collect();
    let used: i64 = orders
        .iter()
        .filter_map(|o| o.billing().credit_applied)
        .map(|m| m.minor())
        .sum();
    assert_eq!(used, 2500);
    assert_eq!(
        app.credit.balance(account, Currency::USD).await.unwrap(),
        Money::from_minor(0, Currency::USD)
    );
    // Two fully paid by credit are active at once; the half-paid one is pending.
    assert!(orders.iter().any(|o| o.status() == OrderStatus::Active));
    let half = orders
        .iter()
        .find(|o| o.billing().credit_applied.is_some_and(|m| m.minor() == 500))
        .unwrap();
    assert_eq!(half.status(), OrderStatus::Pending);
    app.orders.cancel(bob, half.id()).await.unwrap();
    assert_eq!(
        app.credit.balance(account, Currency::USD).await.unwrap(),
        Money::from_minor(500, Currency::USD)
    );
}
