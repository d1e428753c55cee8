//! Payments end to end: checkout through a fake Stripe on port 0 (Stripe's wire format,
//! idempotent replays), Stripe webhooks signed here with Stripe's scheme (replays,
//! tampered bodies, stale and future timestamps, unknown types, 20 concurrent deliveries
//! of one event), amounts that do not match, failed payments, payment records, manual
//! payments by mark-paid, and payments switched off. Every test runs on SQLite and, with
//! TEST_DATABASE_URL, on PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::sync::Arc;

use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::{json, Value};
use tariff_domain::catalogue::CatalogueService;
use tariff_domain::{Limit, Limits, PlanDraft, Resource};
use tariff_persistence::DieselPlanRepository;
use tariff_tests::fake_stripe::{
    checkout_session, enable_payments, event, failed_payment_intent, refunded_charge, signature,
    FakeStripe, WEBHOOK_SECRET,
};
use tariff_tests::{backends, json, spawn_app_with, SeededUser, TestApp, TestDatabase};

async fn create_plan(app: &TestApp, name: &str, price: &str) -> i64 {
    let catalogue = CatalogueService::new(Arc::new(DieselPlanRepository::new(app.db.clone())));
    let plan = catalogue
        .create(
            PlanDraft {
                name: name.into(),
                price: price.into(),
                plan_type: "paid".into(),
                limits: Limits::unlimited().with(Resource::Servers, Limit::new(3)),
                ..PlanDraft::default()
            },
            tariff_domain::audit::Actor::Operator,
        )
        .await
        .unwrap();
    plan.id().get()
}

/// An app with payments on against `stripe_base` and German VAT at 19%.
async fn spawn_paying(db: TestDatabase, stripe_base: &str) -> TestApp {
    spawn_app_with(db, |s| {
        enable_payments(s, stripe_base);
        s.tax.insert("DE".into(), "19".into());
    })
    .await
}

struct Shop {
    app: TestApp,
    admin: SeededUser,
    customer: SeededUser,
    plan: i64,
}

async fn shop(db: TestDatabase, stripe_base: &str) -> Shop {
    let app = spawn_paying(db, stripe_base).await;
    let admin = app.seed_user("admin@example.com", "admin").await;
    let customer = app.seed_user("customer@example.com", "user").await;
    let set = app
        .put_as(
            &admin.token,
            &format!("/api/admin/users/{}", customer.id),
            &json!({"country": "DE"}),
        )
        .await;
    assert_eq!(set.status(), StatusCode::OK);
    let plan = create_plan(&app, "Pro", "9.99").await;
    Shop {
        app,
        admin,
        customer,
        plan,
    }
}

/// A pending order of the customer for the plan (9.99 + 19% = 11.89 USD); its id.
async fn pending_order(shop: &Shop) -> i64 {
    let placed = shop
        .app
        .post_as(
            &shop.customer.token,
            "/api/orders",
            &json!({"planId": shop.plan}),
        )
        .await;
    assert_eq!(placed.status(), StatusCode::CREATED);
    let order = json(placed).await;
    assert_eq!(order["status"], "pending");
    assert_eq!(order["amount"].to_string(), "11.89");
    order["id"].as_i64().unwrap()
}

/// Posts a webhook body with a header, as Stripe does.
async fn deliver(app: &TestApp, body: &str, header: Option<&str>) -> reqwest::Response {
    let mut request = app
        .client
        .post(app.url("/api/webhooks/stripe"))
        .header("Content-Type", "application/json; charset=utf-8")
        .body(body.to_owned());
    if let Some(header) = header {
        request = request.header("Stripe-Signature", header);
    }
    request.send().await.unwrap()
}

/// Posts a body signed now with the configured secret.
async fn deliver_signed(app: &TestApp, body: &str) -> reqwest::Response {
    let header = signature(WEBHOOK_SECRET, chrono::Utc::now().timestamp(), body);
    deliver(app, body, Some(&header)).await
}

async fn order_of(shop: &Shop, id: i64) -> Value {
    let response = shop
        .app
        .get_as(&shop.customer.token, &format!("/api/orders/{id}"))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body = json(response).await;
    body.get("order").cloned().unwrap_or(body)
}

async fn payments_of(shop: &Shop, id: i64) -> Vec<Value> {
    let response = shop
        .app
        .get_as(&shop.customer.token, &format!("/api/orders/{id}/payments"))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    json(response).await.as_array().unwrap().clone()
}

/// The audit entries of an order with this action.
async fn audited(shop: &Shop, order: i64, action: &str) -> Vec<Value> {
    let response = shop
        .app
        .get_as(
            &shop.admin.token,
            &format!("/api/admin/audit?targetKind=order&targetId={order}&per_page=100"),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body = json(response).await;
    body["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|entry| entry["action"] == action)
        .cloned()
        .collect()
}

fn paid_event(id: &str, order: i64, amount: i64, currency: &str, intent: &str) -> String {
    event(
        id,
        "checkout.session.completed",
        checkout_session(order, amount, currency, "paid", intent),
    )
}

#[tokio::test]
async fn checkout_opens_one_stripe_session_and_its_webhook_pays_the_order() {
    for db in backends() {
        let stripe = FakeStripe::start().await;
        let shop = shop(db, &stripe.base).await;
        let backend = shop.app.backend();
        let order = pending_order(&shop).await;

        let opened = shop
            .app
            .post_as(
                &shop.customer.token,
                &format!("/api/orders/{order}/checkout"),
                &json!({}),
            )
            .await;
        assert_eq!(opened.status(), StatusCode::OK, "{backend:?}");
        let page = json(opened).await;
        assert_eq!(page["provider"], "stripe");
        let session = page["sessionId"].as_str().unwrap().to_owned();
        assert!(session.starts_with("cs_"), "{page}");
        assert!(page["url"].as_str().unwrap().starts_with("https://"));

        let sessions = stripe.requests_to("/v1/checkout/sessions");
        assert_eq!(sessions.len(), 1);
        let sent = &sessions[0];
        assert_eq!(sent.header("stripe-version"), Some("2025-08-27.basil"));
        assert!(sent
            .header("idempotency-key")
            .is_some_and(|k| !k.is_empty()));
        assert!(sent
            .header("content-type")
            .unwrap()
            .starts_with("application/x-www-form-urlencoded"));
        assert_eq!(
            sent.field("client_reference_id"),
            Some(order.to_string().as_str())
        );
        assert_eq!(
            sent.field("metadata[tariff_order_id]"),
            Some(order.to_string().as_str())
        );
        assert_eq!(sent.field("mode"), Some("payment"));
        assert!(sent.field("customer").unwrap().starts_with("cus_"));
        assert_eq!(
            sent.field("success_url"),
            Some("https://shop.example/paid?session={CHECKOUT_SESSION_ID}")
        );
        // The line items add up to the order's total, tax included, in its currency.
        let mut sum = 0;
        for i in 0.. {
            let Some(amount) = sent.field(&format!("line_items[{i}][price_data][unit_amount]"))
            else {
                break;
            };
            let quantity: i64 = sent
                .field(&format!("line_items[{i}][quantity]"))
                .unwrap()
                .parse()
                .unwrap();
            assert_eq!(
                sent.field(&format!("line_items[{i}][price_data][currency]")),
                Some("usd")
            );
            sum += amount.parse::<i64>().unwrap() * quantity;
        }
        assert_eq!(sum, 1189, "{:?}", sent.form);
        assert_eq!(stripe.requests_to("/v1/customers").len(), 1);

        // Again while it is open: the same session, nothing new at Stripe.
        let again = shop
            .app
            .post_as(
                &shop.customer.token,
                &format!("/api/orders/{order}/checkout"),
                &json!({}),
            )
            .await;
        assert_eq!(again.status(), StatusCode::OK);
        assert_eq!(json(again).await["sessionId"], session.as_str());
        assert_eq!(stripe.requests_to("/v1/checkout/sessions").len(), 1);

        // Someone else's order is not there for them.
        let stranger = shop.app.seed_user("stranger@example.com", "user").await;
        let refused = shop
            .app
            .post_as(
                &stranger.token,
                &format!("/api/orders/{order}/checkout"),
                &json!({}),
            )
            .await;
        assert_eq!(refused.status(), StatusCode::NOT_FOUND);

        // Stripe says it is paid: the order activates with its invoice number.
        let body = paid_event("evt_paid_1", order, 1189, "usd", "pi_paid_1");
        let answered = deliver_signed(&shop.app, &body).await;
        assert_eq!(answered.status(), StatusCode::OK, "{backend:?}");
        assert_eq!(json(answered).await["outcome"], "paid");
        let paid = order_of(&shop, order).await;
        assert_eq!(paid["status"], "active", "{paid}");
        assert!(paid["invoiceNumber"].as_str().unwrap().starts_with("INV-"));
        assert!(paid["paidAt"].is_string(), "{paid}");
        let payments = payments_of(&shop, order).await;
        assert_eq!(payments.len(), 1, "{payments:?}");
        assert_eq!(payments[0]["provider"], "stripe");
        assert_eq!(payments[0]["reference"], "pi_paid_1");
        assert_eq!(payments[0]["amount"].to_string(), "11.89");
        assert_eq!(payments[0]["currency"], "USD");
        assert_eq!(payments[0]["status"], "succeeded");
        assert!(payments[0]["createdAt"].is_string());
        assert_eq!(audited(&shop, order, "payment.received").await.len(), 1);

        // A replay is answered 200 and changes nothing.
        let replay = deliver_signed(&shop.app, &body).await;
        assert_eq!(replay.status(), StatusCode::OK);
        assert_eq!(json(replay).await["outcome"], "duplicate");
        assert_eq!(payments_of(&shop, order).await.len(), 1);
        assert_eq!(
            order_of(&shop, order).await["invoiceNumber"],
            paid["invoiceNumber"]
        );

        // Paid: no more checkout.
        let closed = shop
            .app
            .post_as(
                &shop.customer.token,
                &format!("/api/orders/{order}/checkout"),
                &json!({}),
            )
            .await;
        assert_eq!(closed.status(), StatusCode::CONFLICT);
    }
}

#[tokio::test]
async fn webhooks_without_a_valid_signature_change_nothing() {
    for db in backends() {
        let shop = shop(db, "http://127.0.0.1:9").await;
        let backend = shop.app.backend();
        let order = pending_order(&shop).await;
        let body = paid_event("evt_sig_1", order, 1189, "usd", "pi_sig_1");
        let now = chrono::Utc::now().timestamp();

        let refused = |response: reqwest::Response| async move {
            assert_eq!(response.status(), StatusCode::BAD_REQUEST);
            let error = json(response).await;
            assert_eq!(error["error"], "invalid_signature", "{error}");
        };
        refused(deliver(&shop.app, &body, None).await).await;
        refused(deliver(&shop.app, &body, Some("garbage")).await).await;
        let tampered = body.replace("1189", "1");
        refused(
            deliver(
                &shop.app,
                &tampered,
                Some(&signature(WEBHOOK_SECRET, now, &body)),
            )
            .await,
        )
        .await;
        refused(
            deliver(
                &shop.app,
                &body,
                Some(&signature(WEBHOOK_SECRET, now - 301, &body)),
            )
            .await,
        )
        .await;
        refused(
            deliver(
                &shop.app,
                &body,
                Some(&signature(WEBHOOK_SECRET, now + 301, &body)),
            )
            .await,
        )
        .await;
        refused(
            deliver(
                &shop.app,
                &body,
                Some(&signature("whsec_other", now, &body)),
            )
            .await,
        )
        .await;
        assert_eq!(
            order_of(&shop, order).await["status"],
            "pending",
            "{backend:?}"
        );
        assert!(payments_of(&shop, order).await.is_empty());
        let metrics = shop.app.get("/metrics").await.text().await.unwrap();
        assert!(
            metrics
                .contains("tariff_payment_webhook_signature_failures_total{provider=\"stripe\"} 6"),
            "{metrics}"
        );

        // Within the tolerance either way, and any of several v1 signatures, verifies.
        let wrong = signature("whsec_rolled_away", now, &body);
        let right = signature(WEBHOOK_SECRET, now - 290, &body);
        let header = format!(
            "{},v1={},v0=deadbeef",
            right,
            wrong.split("v1=").nth(1).unwrap()
        );
        let accepted = deliver(&shop.app, &body, Some(&header)).await;
        assert_eq!(accepted.status(), StatusCode::OK, "{backend:?}");
        assert_eq!(order_of(&shop, order).await["status"], "active");

        // A valid event of a type Tariff does not handle: 200, ignored.
        let unknown = event(
            "evt_unknown_1",
            "customer.updated",
            json!({"id": "cus_1", "object": "customer"}),
        );
        let ignored = deliver_signed(&shop.app, &unknown).await;
        assert_eq!(ignored.status(), StatusCode::OK);
        assert_eq!(json(ignored).await["outcome"], "ignored");
    }
}

#[tokio::test]
async fn a_payment_that_does_not_match_the_order_is_recorded_and_not_activated() {
    for db in backends() {
        let shop = shop(db, "http://127.0.0.1:9").await;
        let backend = shop.app.backend();
        let order = pending_order(&shop).await;

        let short = paid_event("evt_short", order, 1188, "usd", "pi_short");
        let answered = deliver_signed(&shop.app, &short).await;
        assert_eq!(answered.status(), StatusCode::OK, "{backend:?}");
        assert_eq!(json(answered).await["outcome"], "mismatch");
        let euros = paid_event("evt_euros", order, 1189, "eur", "pi_euros");
        assert_eq!(
            deliver_signed(&shop.app, &euros).await.status(),
            StatusCode::OK
        );

        let current = order_of(&shop, order).await;
        assert_eq!(current["status"], "pending", "{current}");
        assert!(current["paidAt"].is_null());
        assert!(current["invoiceNumber"].is_null());
        let payments = payments_of(&shop, order).await;
        assert_eq!(payments.len(), 2);
        assert!(
            payments.iter().all(|p| p["status"] == "mismatch"),
            "{payments:?}"
        );
        assert_eq!(payments[0]["amount"].to_string(), "11.88");
        assert_eq!(payments[1]["currency"], "EUR");
        assert_eq!(audited(&shop, order, "payment.mismatch").await.len(), 2);
    }
}

#[tokio::test]
async fn failed_payments_are_recorded_and_leave_the_order_pending() {
    for db in backends() {
        let shop = shop(db, "http://127.0.0.1:9").await;
        let order = pending_order(&shop).await;
        let declined = event(
            "evt_declined",
            "payment_intent.payment_failed",
            failed_payment_intent(order, 1189, "usd", "pi_declined"),
        );
        let answered = deliver_signed(&shop.app, &declined).await;
        assert_eq!(answered.status(), StatusCode::OK);
        assert_eq!(json(answered).await["outcome"], "failed");
        let async_failed = event(
            "evt_async_failed",
            "checkout.session.async_payment_failed",
            checkout_session(order, 1189, "usd", "unpaid", "pi_debit"),
        );
        assert_eq!(
            deliver_signed(&shop.app, &async_failed).await.status(),
            StatusCode::OK
        );
        // An unpaid completion (a bank debit still on its way) does nothing yet.
        let unpaid = event(
            "evt_unpaid",
            "checkout.session.completed",
            checkout_session(order, 1189, "usd", "unpaid", "pi_debit2"),
        );
        let waited = deliver_signed(&shop.app, &unpaid).await;
        assert_eq!(json(waited).await["outcome"], "ignored");

        let payments = payments_of(&shop, order).await;
        assert_eq!(payments.len(), 2, "{payments:?}");
        assert!(payments.iter().all(|p| p["status"] == "failed"));
        assert_eq!(payments[0]["reference"], "pi_declined");
        assert_eq!(payments[1]["reference"], "pi_debit");
        assert_eq!(order_of(&shop, order).await["status"], "pending");

        // The delayed payment arrives after all: paid.
        let arrived = event(
            "evt_async_ok",
            "checkout.session.async_payment_succeeded",
            checkout_session(order, 1189, "usd", "paid", "pi_debit2"),
        );
        let answered = deliver_signed(&shop.app, &arrived).await;
        assert_eq!(json(answered).await["outcome"], "paid");
        assert_eq!(order_of(&shop, order).await["status"], "active");
    }
}

#[tokio::test]
async fn twenty_concurrent_deliveries_of_one_event_pay_the_order_once() {
    for db in backends() {
        let shop = shop(db, "http://127.0.0.1:9").await;
        let backend = shop.app.backend();
        let order = pending_order(&shop).await;
        let body = paid_event("evt_storm", order, 1189, "usd", "pi_storm");
        let header = signature(WEBHOOK_SECRET, chrono::Utc::now().timestamp(), &body);
        let answers = join_all((0..20).map(|_| deliver(&shop.app, &body, Some(&header)))).await;
        let mut outcomes = Vec::new();
        for answer in answers {
            assert_eq!(answer.status(), StatusCode::OK, "{backend:?}");
            outcomes.push(json(answer).await["outcome"].as_str().unwrap().to_owned());
        }
        assert_eq!(
            outcomes.iter().filter(|o| *o == "paid").count(),
            1,
            "{backend:?}: {outcomes:?}"
        );
        assert_eq!(outcomes.iter().filter(|o| *o == "duplicate").count(), 19);
        let payments = payments_of(&shop, order).await;
        assert_eq!(payments.len(), 1, "{backend:?}: {payments:?}");
        assert_eq!(order_of(&shop, order).await["status"], "active");
        assert_eq!(audited(&shop, order, "payment.received").await.len(), 1);
        let metrics = shop.app.get("/metrics").await.text().await.unwrap();
        assert!(
            metrics.contains("tariff_payments{status=\"succeeded\"} 1"),
            "{metrics}"
        );
    }
}

#[tokio::test]
async fn mark_paid_records_a_manual_payment() {
    for db in backends() {
        let shop = shop(db, "http://127.0.0.1:9").await;
        let order = pending_order(&shop).await;
        let marked = shop
            .app
            .post_as(
                &shop.admin.token,
                &format!("/api/admin/orders/{order}/mark-paid"),
                &json!({"reference": "bank-2026-17"}),
            )
            .await;
        assert_eq!(marked.status(), StatusCode::OK);
        let current = order_of(&shop, order).await;
        assert_eq!(current["status"], "active");
        assert!(current["paidAt"].is_string(), "{current}");
        let payments = payments_of(&shop, order).await;
        assert_eq!(payments.len(), 1);
        assert_eq!(payments[0]["provider"], "manual");
        assert_eq!(payments[0]["reference"], "bank-2026-17");
        assert_eq!(payments[0]["amount"].to_string(), "11.89");
        assert_eq!(payments[0]["status"], "succeeded");

        // Stripe's money for the order arriving afterwards is recorded, not applied twice.
        let late = paid_event("evt_late", order, 1189, "usd", "pi_late");
        assert_eq!(
            deliver_signed(&shop.app, &late).await.status(),
            StatusCode::OK
        );
        let after = order_of(&shop, order).await;
        assert_eq!(after["invoiceNumber"], current["invoiceNumber"]);
        assert_eq!(payments_of(&shop, order).await.len(), 2);
    }
}

#[tokio::test]
async fn without_a_secret_key_payments_are_off_and_mark_paid_still_works() {
    for db in backends() {
        let app = spawn_app_with(db, |_| {}).await;
        let admin = app.seed_user("admin@example.com", "admin").await;
        let customer = app.seed_user("customer@example.com", "user").await;
        let plan = create_plan(&app, "Pro", "9.99").await;
        let placed = app
            .post_as(&customer.token, "/api/orders", &json!({"planId": plan}))
            .await;
        let order = json(placed).await["id"].as_i64().unwrap();
        let disabled = |response: reqwest::Response| async move {
            assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
            assert_eq!(json(response).await["error"], "feature_disabled");
        };
        disabled(
            app.post_as(
                &customer.token,
                &format!("/api/orders/{order}/checkout"),
                &json!({}),
            )
            .await,
        )
        .await;
        disabled(
            app.get_as(&customer.token, &format!("/api/orders/{order}/payments"))
                .await,
        )
        .await;
        let body = paid_event("evt_off", order, 999, "usd", "pi_off");
        disabled(deliver_signed(&app, &body).await).await;
        let marked = app
            .post_as(
                &admin.token,
                &format!("/api/admin/orders/{order}/mark-paid"),
                &json!({}),
            )
            .await;
        assert_eq!(marked.status(), StatusCode::OK);
        let current = json(
            app.get_as(&customer.token, &format!("/api/orders/{order}"))
                .await,
        )
        .await;
        let current = current.get("order").cloned().unwrap_or(current);
        assert_eq!(current["status"], "active");
        assert!(current["paidAt"].is_string());
    }
}

#[tokio::test]
async fn an_unreachable_gateway_is_upstream_unavailable() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    for db in backends() {
        let shop = shop(db, &base).await;
        let order = pending_order(&shop).await;
        let response = shop
            .app
            .post_as(
                &shop.customer.token,
                &format!("/api/orders/{order}/checkout"),
                &json!({}),
            )
            .await;
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(json(response).await["error"], "upstream_unavailable");
        assert_eq!(order_of(&shop, order).await["status"], "pending");
    }
}

/// Credit notes of an order, as its customer sees them.
async fn credit_notes_of(shop: &Shop, id: i64) -> Vec<Value> {
    let response = shop
        .app
        .get_as(
            &shop.customer.token,
            &format!("/api/orders/{id}/credit-notes"),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    json(response).await.as_array().unwrap().clone()
}

#[tokio::test]
async fn refunds_go_back_through_stripe_and_refunds_made_in_stripe_get_one_credit_note() {
    for db in backends() {
        let stripe = FakeStripe::start().await;
        let shop = shop(db, &stripe.base).await;
        let backend = shop.app.backend();
        let order = pending_order(&shop).await;
        let paid = paid_event("evt_paid_r", order, 1189, "usd", "pi_refundable");
        assert_eq!(
            deliver_signed(&shop.app, &paid).await.status(),
            StatusCode::OK
        );
        assert_eq!(
            order_of(&shop, order).await["status"],
            "active",
            "{backend:?}"
        );

        // An admin refund to the original payment goes to Stripe's refunds API for the
        // order's payment intent, and the credit note names Stripe's refund.
        let refunded = shop
            .app
            .post_as(
                &shop.admin.token,
                &format!("/api/admin/orders/{order}/refund"),
                &json!({"amount": 4.00, "reason": "Goodwill"}),
            )
            .await;
        assert_eq!(refunded.status(), StatusCode::CREATED, "{backend:?}");
        let note = json(refunded).await;
        let calls = stripe.requests_to("/v1/refunds");
        assert_eq!(calls.len(), 1, "{backend:?}");
        assert_eq!(calls[0].field("payment_intent"), Some("pi_refundable"));
        assert_eq!(calls[0].field("amount"), Some("400"));
        assert!(calls[0].header("idempotency-key").is_some());
        assert_eq!(note["refund"]["provider"], "stripe", "{note}");
        assert_eq!(note["refund"]["to"], "original", "{note}");
        let stripe_refund = note["refund"]["reference"].as_str().unwrap().to_owned();
        assert!(stripe_refund.starts_with("re_"), "{note}");

        // Stripe then reports the charge refunded by 4.00 (Tariff's own refund): no new
        // note. Later 2.00 more refunded in Stripe's dashboard: one note for 2.00, however
        // often and however concurrently the event arrives.
        let echo = event(
            "evt_refund_echo",
            "charge.refunded",
            refunded_charge("ch_1", "pi_refundable", 1189, 400),
        );
        assert_eq!(
            deliver_signed(&shop.app, &echo).await.status(),
            StatusCode::OK
        );
        assert_eq!(credit_notes_of(&shop, order).await.len(), 1, "{backend:?}");

        let dashboard = event(
            "evt_refund_dashboard",
            "charge.refunded",
            refunded_charge("ch_1", "pi_refundable", 1189, 600),
        );
        let deliveries = (0..10).map(|_| deliver_signed(&shop.app, &dashboard));
        for answer in join_all(deliveries).await {
            assert_eq!(answer.status(), StatusCode::OK, "{backend:?}");
        }
        let notes = credit_notes_of(&shop, order).await;
        assert_eq!(notes.len(), 2, "{backend:?}: {notes:?}");
        assert_eq!(notes[1]["amount"].to_string(), "2.0", "{:?}", notes[1]);
        assert_eq!(notes[1]["refund"]["provider"], "stripe");
        assert_eq!(
            stripe.requests_to("/v1/refunds").len(),
            1,
            "no refund of a refund"
        );

        // A charge Tariff never took is answered and documents nothing.
        let stranger = event(
            "evt_refund_stranger",
            "charge.refunded",
            refunded_charge("ch_2", "pi_unknown", 1189, 1189),
        );
        assert_eq!(
            deliver_signed(&shop.app, &stranger).await.status(),
            StatusCode::OK
        );
        assert_eq!(credit_notes_of(&shop, order).await.len(), 2, "{backend:?}");
    }
}

#[tokio::test]
async fn a_stripe_payment_tells_the_panel_what_mark_paid_tells_it() {
    for db in backends() {
        let stripe = FakeStripe::start().await;
        let shop = shop(db, &stripe.base).await;
        let backend = shop.app.backend();
        // An endpoint nobody answers: its deliveries log lists every event stored for it.
        let created = shop
            .app
            .post_as(
                &shop.admin.token,
                "/api/admin/webhooks",
                &json!({"url": "http://127.0.0.1:9/hooks", "events": ["*"]}),
            )
            .await;
        assert_eq!(created.status(), StatusCode::CREATED, "{backend:?}");
        let endpoint = json(created).await["id"].as_i64().unwrap();
        let order = pending_order(&shop).await;
        let paid = paid_event("evt_paid_told", order, 1189, "usd", "pi_told");
        assert_eq!(
            deliver_signed(&shop.app, &paid).await.status(),
            StatusCode::OK
        );

        let log = shop
            .app
            .get_as(
                &shop.admin.token,
                &format!("/api/admin/webhooks/{endpoint}/deliveries?per_page=100"),
            )
            .await;
        assert_eq!(log.status(), StatusCode::OK, "{backend:?}");
        let log = json(log).await;
        let mut types: Vec<String> = log["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|delivery| delivery["type"].as_str().unwrap().to_owned())
            .collect();
        types.reverse(); // newest first in the log
        assert_eq!(
            types,
            [
                "order.created",
                "payment.succeeded",
                "order.activated",
                "invoice.issued",
                "account.plan_changed"
            ],
            "{backend:?}"
        );
    }
}
