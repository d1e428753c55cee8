//! Renewals charged off-session and dunning, on SQLite and PostgreSQL: the real wiring
//! (`tariff_app::wiring::wire_with_clock`: services, repositories, the Stripe adapter)
//! against a fake Stripe over HTTP, with time moved by hand. The subscription is paid
//! through checkout first (Stripe's signed `checkout.session.completed`), which is what
//! saves the payment method the renewal is charged with.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use diesel::prelude::*;
use serde_json::Value;
use tariff_app::wiring::{wire_with_clock, Wired};
use tariff_domain::orders::{Order, OrderFilter, OrderStatus};
use tariff_domain::payments::{PaymentStatus, WebhookOutcome};
use tariff_domain::shared::{ManualClock, PageRequest};
use tariff_domain::{Caller, Clock, OrderId, PlanDraft, PlanId, Role, UserId};
use tariff_persistence::schema::webhook_events;
use tariff_tests::fake_stripe::{
    checkout_session, enable_payments, event, failed_payment_intent, signature, FakeStripe,
    SAVED_METHOD, WEBHOOK_SECRET,
};
use tariff_tests::{backends, seed_user, test_settings, TestDatabase};

fn at(m: u32, d: u32, h: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, m, d, h, 0, 0).unwrap()
}

/// The subscription starts on Jan 10 and ends on Feb 10 at 10:00; with the defaults the
/// renewal is created on Feb 3 and charged from Feb 7; retries on Feb 8, 10 and 12;
/// past due from Feb 10 and expired on Feb 13.
const START: (u32, u32) = (1, 10);

/// One instance's wiring on a shared database and clock.
async fn instance(db: &TestDatabase, stripe: &FakeStripe, clock: Arc<ManualClock>) -> Wired {
    let mut settings = test_settings(db);
    enable_payments(&mut settings, &stripe.base);
    wire_with_clock(&settings, clock).await.unwrap()
}

struct Shop {
    app: Wired,
    clock: Arc<ManualClock>,
    customer: Caller,
    pro: PlanId,
}

async fn shop(db: &TestDatabase, stripe: &FakeStripe) -> Shop {
    let clock = Arc::new(ManualClock::new(at(START.0, START.1, 10)));
    let app = instance(db, stripe, clock.clone()).await;
    let pro = app
        .state
        .catalogue
        .create(
            PlanDraft {
                name: "Pro".into(),
                price: "9.99".into(),
                ..PlanDraft::default()
            },
            tariff_domain::audit::Actor::Operator,
        )
        .await
        .unwrap()
        .id();
    let customer = seed_user(&app.db, "renewing@example.com", "user").await;
    Shop {
        app,
        clock,
        customer: Caller::new(UserId::new(customer.id).unwrap(), Role::User),
        pro,
    }
}

impl Shop {
    /// Pays `order` through checkout: the session, then Stripe's signed completion with
    /// PaymentIntent `intent`.
    async fn pay_through_checkout(&self, order: OrderId, intent: &str) {
        let payments = &self.app.state.payments;
        payments.checkout(self.customer, order).await.unwrap();
        let total = self.order(order).await.amount_due().minor();
        let body = event(
            &format!("evt_paid_{}_{intent}", order.get()),
            "checkout.session.completed",
            checkout_session(order.get(), total, "usd", "paid", intent),
        );
        let signed = signature(WEBHOOK_SECRET, self.clock.now().timestamp(), &body);
        let outcome = payments
            .receive_webhook(body.as_bytes(), Some(&signed))
            .await
            .unwrap();
        assert_eq!(outcome, WebhookOutcome::Paid);
    }

    /// A subscription to Pro paid through checkout on the start day.
    async fn subscribe(&self) -> Order {
        let order = self
            .app
            .state
            .orders
            .place(self.customer, self.pro, None)
            .await
            .unwrap();
        self.pay_through_checkout(order.id(), "pi_first_checkout")
            .await;
        let order = self.order(order.id()).await;
        assert_eq!(order.status(), OrderStatus::Active);
        assert_eq!(order.expires_at(), Some(at(2, 10, 10)));
        order
    }

    async fn order(&self, id: OrderId) -> Order {
        self.app.state.orders.get_for_operator(id).await.unwrap()
    }

    /// The lifecycle worker's tick at `now`: the sweep, then the renewal charges.
    async fn tick(&self, now: DateTime<Utc>) {
        self.clock.set(now);
        self.app.lifecycle.sweep_now().await.unwrap();
        self.renewals_of(&self.app).await;
    }

    async fn renewals_of(&self, app: &Wired) {
        app.renewals.as_ref().unwrap().run_now().await.unwrap();
    }

    async fn renewal_of(&self, id: OrderId) -> Order {
        let page = self
            .app
            .state
            .orders
            .search(
                Caller::new(self.customer.user_id(), Role::Admin),
                OrderFilter::default(),
                PageRequest::new(1, 100).unwrap(),
            )
            .await
            .unwrap();
        let mut renewals: Vec<Order> = page
            .items
            .into_iter()
            .filter(|o| o.renewal_of() == Some(id))
            .collect();
        assert_eq!(renewals.len(), 1, "one renewal of #{id}");
        renewals.remove(0)
    }

    async fn payments(&self, id: OrderId) -> Vec<(PaymentStatus, Option<String>)> {
        self.app
            .state
            .payments
            .store()
            .payments_of(id)
            .await
            .unwrap()
            .into_iter()
            .map(|p| (p.status(), p.reference().map(str::to_owned)))
            .collect()
    }

    /// The stored outgoing events of `event_type` about order `id`.
    async fn events(&self, event_type: &'static str, id: OrderId) -> Vec<Value> {
        let bodies: Vec<String> = self
            .app
            .db
            .query(move |c| {
                Ok(c.load(
                    webhook_events::table
                        .filter(webhook_events::event_type.eq(event_type))
                        .order(webhook_events::id.asc())
                        .select(webhook_events::body),
                )?)
            })
            .await
            .unwrap();
        bodies
            .iter()
            .map(|body| serde_json::from_str::<Value>(body).unwrap())
            .filter(|body| {
                let data = &body["data"];
                data["id"].as_i64() == Some(id.get())
                    || data["payment"]["orderId"].as_i64() == Some(id.get())
                    || data["orderId"].as_i64() == Some(id.get())
            })
            .collect()
    }
}

fn keys(stripe: &FakeStripe) -> Vec<String> {
    stripe
        .charge_requests()
        .iter()
        .map(|r| r.header("idempotency-key").unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn a_renewal_is_charged_once_before_expiry_and_continues_the_period() {
    for db in backends() {
        let stripe = FakeStripe::start().await;
        let shop = shop(&db, &stripe).await;
        let first = shop.subscribe().await;

        shop.tick(at(2, 3, 10)).await;
        let renewal = shop.renewal_of(first.id()).await;
        assert_eq!(renewal.status(), OrderStatus::Pending);
        // Before the charge window (three days before the end): nothing is charged.
        shop.tick(at(2, 7, 9)).await;
        assert!(stripe.charge_requests().is_empty());

        shop.tick(at(2, 7, 10)).await;
        let charges = stripe.charge_requests();
        assert_eq!(charges.len(), 1);
        let charge = &charges[0];
        assert_eq!(
            charge.header("idempotency-key"),
            Some(format!("renewal-{}-attempt-1", renewal.id().get()).as_str())
        );
        assert_eq!(charge.field("payment_method"), Some(SAVED_METHOD));
        assert_eq!(charge.field("off_session"), Some("true"));
        assert_eq!(charge.field("amount"), Some("999"));
        assert!(charge
            .field("customer")
            .is_some_and(|c| c.starts_with("cus_")));
        assert_eq!(stripe.charges_made(), 1);

        // Activated as a paid checkout would be, the period following on.
        let renewed = shop.order(renewal.id()).await;
        assert_eq!(renewed.status(), OrderStatus::Active);
        assert_eq!(renewed.expires_at(), Some(at(3, 10, 10)));
        assert!(renewed.paid_at().is_some());
        assert!(renewed.invoice_number().is_some());
        let payments = shop.payments(renewal.id()).await;
        assert_eq!(payments.len(), 1);
        assert_eq!(payments[0].0, PaymentStatus::Succeeded);
        assert_eq!(
            shop.events("payment.succeeded", renewal.id()).await.len(),
            1
        );
        assert_eq!(shop.events("order.activated", renewal.id()).await.len(), 1);

        // Later ticks charge nothing more.
        for day in [8, 10, 12, 14] {
            shop.tick(at(2, day, 10)).await;
        }
        assert_eq!(stripe.charge_requests().len(), 1);
        assert_eq!(shop.order(renewal.id()).await.status(), OrderStatus::Active);
        assert!(shop.events("order.past_due", first.id()).await.is_empty());
    }
}

#[tokio::test]
async fn a_declined_renewal_is_retried_then_past_due_then_expired_after_the_grace() {
    for db in backends() {
        let stripe = FakeStripe::start().await;
        stripe.decline_charges(true);
        let shop = shop(&db, &stripe).await;
        let first = shop.subscribe().await;
        shop.tick(at(2, 3, 10)).await;
        let renewal = shop.renewal_of(first.id()).await;

        shop.tick(at(2, 7, 10)).await;
        assert_eq!(stripe.charge_requests().len(), 1);
        let failed = shop.payments(renewal.id()).await;
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0].0, PaymentStatus::Failed);
        assert_eq!(shop.events("payment.failed", renewal.id()).await.len(), 1);
        // Stripe's own event about that PaymentIntent adds nothing.
        let intent = failed[0].1.clone().unwrap();
        let body = event(
            "evt_offsession_failed",
            "payment_intent.payment_failed",
            failed_payment_intent(renewal.id().get(), 999, "usd", &intent),
        );
        let signed = signature(WEBHOOK_SECRET, shop.clock.now().timestamp(), &body);
        shop.app
            .state
            .payments
            .receive_webhook(body.as_bytes(), Some(&signed))
            .await
            .unwrap();
        assert_eq!(shop.payments(renewal.id()).await.len(), 1);
        assert_eq!(shop.events("payment.failed", renewal.id()).await.len(), 1);

        // Retries on days 1, 3 and 5 after the first attempt, not in between.
        shop.tick(at(2, 7, 22)).await;
        assert_eq!(stripe.charge_requests().len(), 1);
        shop.tick(at(2, 8, 10)).await;
        assert_eq!(stripe.charge_requests().len(), 2);
        shop.tick(at(2, 9, 10)).await;
        assert_eq!(stripe.charge_requests().len(), 2);
        assert!(!shop.order(first.id()).await.is_past_due());

        // The period ends unpaid: past due, still active, told once.
        shop.tick(at(2, 10, 10)).await;
        assert_eq!(stripe.charge_requests().len(), 3);
        let past_due = shop.order(first.id()).await;
        assert_eq!(past_due.status(), OrderStatus::Active);
        assert!(past_due.is_past_due());
        assert_eq!(
            shop.order(renewal.id()).await.status(),
            OrderStatus::Pending
        );
        shop.tick(at(2, 11, 10)).await;
        let told = shop.events("order.past_due", first.id()).await;
        assert_eq!(told.len(), 1, "{told:?}");
        assert_eq!(told[0]["data"]["pastDue"], true);
        assert_eq!(told[0]["data"]["status"], "active");

        shop.tick(at(2, 12, 10)).await;
        assert_eq!(stripe.charge_requests().len(), 4);
        assert_eq!(shop.order(first.id()).await.status(), OrderStatus::Active);

        // The grace is over: the order and its renewal expire; the account falls back.
        shop.tick(at(2, 13, 10)).await;
        let expired = shop.order(first.id()).await;
        assert_eq!(expired.status(), OrderStatus::Expired);
        assert!(!expired.is_past_due());
        assert_eq!(
            shop.order(renewal.id()).await.status(),
            OrderStatus::Expired
        );
        let current = shop
            .app
            .state
            .orders
            .effective_plan(first.account())
            .await
            .unwrap();
        assert!(current.order.is_none());
        assert_eq!(shop.events("order.expired", first.id()).await.len(), 1);

        // Four attempts in all, each with its own key; no money taken; never again.
        shop.tick(at(2, 20, 10)).await;
        let id = renewal.id().get();
        assert_eq!(
            keys(&stripe),
            (1..=4)
                .map(|n| format!("renewal-{id}-attempt-{n}"))
                .collect::<Vec<_>>()
        );
        assert_eq!(stripe.charges_made(), 0);
        let payments = shop.payments(renewal.id()).await;
        assert_eq!(payments.len(), 4);
        assert!(payments.iter().all(|p| p.0 == PaymentStatus::Failed));
        assert_eq!(shop.events("order.past_due", first.id()).await.len(), 1);
    }
}

#[tokio::test]
async fn paying_through_checkout_during_dunning_stops_the_charges() {
    for db in backends() {
        let stripe = FakeStripe::start().await;
        stripe.decline_charges(true);
        let shop = shop(&db, &stripe).await;
        let first = shop.subscribe().await;
        shop.tick(at(2, 3, 10)).await;
        let renewal = shop.renewal_of(first.id()).await;
        shop.tick(at(2, 7, 10)).await;
        assert_eq!(stripe.charge_requests().len(), 1);

        // Past due, then the customer pays the renewal through checkout.
        shop.tick(at(2, 10, 12)).await;
        assert!(shop.order(first.id()).await.is_past_due());
        let before = stripe.charge_requests().len();
        shop.clock.set(at(2, 11, 9));
        shop.pay_through_checkout(renewal.id(), "pi_renewal_by_hand")
            .await;
        let paid = shop.order(renewal.id()).await;
        assert_eq!(paid.status(), OrderStatus::Active);
        assert!(!paid.is_past_due());
        assert!(!shop.order(first.id()).await.is_past_due());
        // Paid in the grace time: the new period runs from the payment.
        assert_eq!(paid.expires_at(), Some(at(3, 11, 9)));

        // No further attempt, and nothing expires at the end of the grace.
        for (day, hour) in [(12, 10), (13, 10), (15, 10)] {
            shop.tick(at(2, day, hour)).await;
        }
        assert_eq!(stripe.charge_requests().len(), before);
        assert_eq!(shop.order(renewal.id()).await.status(), OrderStatus::Active);
        assert_eq!(
            shop.events("order.past_due", first.id()).await.len(),
            1,
            "told once, when it became past due"
        );
    }
}

#[tokio::test]
async fn two_instances_charging_at_once_charge_once() {
    for db in backends() {
        let stripe = FakeStripe::start().await;
        let shop = shop(&db, &stripe).await;
        let peer = instance(&db, &stripe, shop.clock.clone()).await;
        let first = shop.subscribe().await;
        shop.tick(at(2, 3, 10)).await;
        let renewal = shop.renewal_of(first.id()).await;

        shop.clock.set(at(2, 7, 10));
        let (a, b) = tokio::join!(
            shop.app.renewals.as_ref().unwrap().run_now(),
            peer.renewals.as_ref().unwrap().run_now(),
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        assert_eq!(a.attempted + b.attempted, 1, "{a:?} {b:?}");
        assert_eq!(stripe.charge_requests().len(), 1);
        assert_eq!(stripe.charges_made(), 1);
        assert_eq!(shop.order(renewal.id()).await.status(), OrderStatus::Active);
        assert_eq!(shop.payments(renewal.id()).await.len(), 1);
        assert_eq!(shop.events("order.activated", renewal.id()).await.len(), 1);
    }
}

#[tokio::test]
async fn an_unanswered_attempt_is_repeated_with_its_key_and_charges_once() {
    for db in backends() {
        let stripe = FakeStripe::start().await;
        let shop = shop(&db, &stripe).await;
        let first = shop.subscribe().await;
        shop.tick(at(2, 3, 10)).await;
        let renewal = shop.renewal_of(first.id()).await;

        // Stripe takes the money, the answer never arrives (a crash, a timeout).
        stripe.lose_charge_answers(1);
        shop.tick(at(2, 7, 10)).await;
        assert_eq!(stripe.charges_made(), 1);
        assert_eq!(
            shop.order(renewal.id()).await.status(),
            OrderStatus::Pending
        );
        assert!(shop.payments(renewal.id()).await.is_empty());
        // The claim is held for its lease: nobody repeats it meanwhile.
        shop.tick(at(2, 7, 10) + TimeDelta::minutes(5)).await;
        assert_eq!(stripe.charge_requests().len(), 1);

        // After the lease, the same attempt with the same key: Stripe answers what it
        // did, and the renewal is paid once.
        shop.tick(at(2, 7, 10) + TimeDelta::minutes(10)).await;
        let id = renewal.id().get();
        assert_eq!(
            keys(&stripe),
            vec![format!("renewal-{id}-attempt-1"); 2],
            "the repeat sends the same key"
        );
        assert_eq!(stripe.charges_made(), 1);
        let paid = shop.order(renewal.id()).await;
        assert_eq!(paid.status(), OrderStatus::Active);
        assert_eq!(shop.payments(renewal.id()).await.len(), 1);
        shop.tick(at(2, 8, 10)).await;
        assert_eq!(stripe.charge_requests().len(), 2);
        assert_eq!(shop.events("order.activated", renewal.id()).await.len(), 1);
    }
}

#[tokio::test]
async fn an_account_without_a_saved_method_is_not_charged() {
    for db in backends() {
        let stripe = FakeStripe::start().await;
        let shop = shop(&db, &stripe).await;
        // Paid by hand (mark-paid): nothing saved at Stripe.
        let order = shop
            .app
            .state
            .orders
            .place(shop.customer, shop.pro, None)
            .await
            .unwrap();
        let admin = seed_user(&shop.app.db, "admin@example.com", "admin").await;
        let admin = Caller::new(UserId::new(admin.id).unwrap(), Role::Admin);
        shop.app
            .state
            .orders
            .mark_paid(admin, order.id(), Some("bank transfer".into()))
            .await
            .unwrap();
        shop.tick(at(2, 3, 10)).await;
        shop.tick(at(2, 7, 10)).await;
        shop.tick(at(2, 8, 10)).await;
        assert!(stripe.charge_requests().is_empty());
        // Unpaid at the end: past due for the grace, then expired.
        shop.tick(at(2, 10, 10)).await;
        assert!(shop.order(order.id()).await.is_past_due());
        shop.tick(at(2, 13, 10)).await;
        assert_eq!(shop.order(order.id()).await.status(), OrderStatus::Expired);
    }
}
