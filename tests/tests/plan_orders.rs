//! Orders with the billing rules through HTTP: cycles (yearly at `priceYearly`, 400 on
//! `cycle` without one), coupons as a `Coupon <CODE>` line (refusals name their reason;
//! given back with a cancelled order), account credit after tax as an `Account credit`
//! line (given back too; an order paid by credit activates at once), plan changes (an
//! upgrade now with an unused-time credit, a downgrade scheduled for period end, the
//! preview that stores nothing, the left-over credit), and the concurrency guarantees:
//! `maxRedemptions` exact under 100 concurrent orders, credit never below zero under
//! concurrent orders. Every test runs on SQLite and, with TEST_DATABASE_URL, on
//! PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::sync::Arc;
use std::time::Instant;

use chrono::{TimeDelta, Utc};
use diesel::prelude::*;
use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::{json, Value};
use tariff_domain::catalogue::CatalogueService;
use tariff_domain::PlanDraft;
use tariff_persistence::schema::{credit_entries, orders};
use tariff_persistence::DieselPlanRepository;
use tariff_tests::{backends, json, spawn_app_with, TestApp};

fn patient(settings: &mut tariff_app::settings::Settings) {
    settings.database.acquire_timeout_ms = 60_000;
    settings.database.sqlite_busy_timeout_ms = 60_000;
}

async fn create_plan(app: &TestApp, name: &str, price: &str, yearly: &str) -> i64 {
    let catalogue = CatalogueService::new(Arc::new(DieselPlanRepository::new(app.db.clone())));
    catalogue
        .create(
            PlanDraft {
                name: name.into(),
                price: price.into(),
                price_yearly: yearly.into(),
                plan_type: "paid".into(),
                ..PlanDraft::default()
            },
            tariff_domain::audit::Actor::Operator,
        )
        .await
        .unwrap()
        .id()
        .get()
}

async fn order(app: &TestApp, token: &str, body: Value) -> reqwest::Response {
    app.post_as(token, "/api/orders", &body).await
}

async fn validation(response: reqwest::Response) -> (String, String) {
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body = json(response).await;
    assert_eq!(body["error"], "validation_failed", "{body}");
    (
        body["field"].as_str().unwrap_or_default().to_owned(),
        body["message"].as_str().unwrap_or_default().to_owned(),
    )
}

fn lines(order: &Value) -> Vec<(String, f64)> {
    order["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["description"].as_str().unwrap().to_owned(),
                i["amount"].as_f64().unwrap(),
            )
        })
        .collect()
}

async fn grant(app: &TestApp, admin: &str, user: i64, amount: &str) {
    let granted = app
        .post_as(
            admin,
            &format!("/api/admin/users/{user}/credit"),
            &json!({"amount": amount, "currency": "USD", "reason": "Goodwill"}),
        )
        .await;
    assert_eq!(granted.status(), StatusCode::CREATED);
}

async fn balance(app: &TestApp, token: &str, user: i64) -> Value {
    let statement = json(
        app.get_as(token, &format!("/api/users/{user}/credit"))
            .await,
    )
    .await;
    statement["balances"].clone()
}

async fn times_redeemed(app: &TestApp, admin: &str, code: &str) -> i64 {
    json(
        app.get_as(admin, &format!("/api/admin/coupons/{code}"))
            .await,
    )
    .await["timesRedeemed"]
        .as_i64()
        .unwrap()
}

#[tokio::test]
async fn cycles_coupons_and_credit_price_an_order() {
    for database in backends() {
        let app = spawn_app_with(database, patient).await;
        let label = app.backend().name();
        let admin = app.seed_user("admin@example.com", "admin").await;
        let alice = app.seed_user("alice@example.com", "user").await;
        let pro = create_plan(&app, "Pro", "10", "100").await;
        let monthly_only = create_plan(&app, "Monthly", "5", "0").await;

        // Yearly: priceYearly for twelve months.
        let yearly = order(
            &app,
            &alice.token,
            json!({"planId": pro, "cycle": "yearly"}),
        )
        .await;
        assert_eq!(yearly.status(), StatusCode::CREATED, "{label}");
        let yearly = json(yearly).await;
        assert_eq!(yearly["cycle"], "yearly");
        assert_eq!(yearly["amount"], 100.0);
        assert_eq!(lines(&yearly), vec![("Pro (yearly)".to_owned(), 100.0)]);
        let paid = app
            .post_as(
                &admin.token,
                &format!("/api/admin/orders/{}/mark-paid", yearly["id"]),
                &json!({}),
            )
            .await;
        let paid = json(paid).await;
        assert_eq!(paid["order"]["status"], "active", "{label}: {paid}");
        let start =
            chrono::DateTime::parse_from_rfc3339(paid["order"]["date"].as_str().unwrap()).unwrap();
        let end =
            chrono::DateTime::parse_from_rfc3339(paid["order"]["expiresAt"].as_str().unwrap())
                .unwrap();
        assert!(
            (end - start).num_days() >= 365,
            "{label}: a yearly period runs twelve months"
        );
        let cancelled = app
            .post_as(
                &alice.token,
                &format!("/api/orders/{}/cancel", yearly["id"]),
                &json!({}),
            )
            .await;
        assert_eq!(cancelled.status(), StatusCode::OK);

        // No yearly price, or no such cycle: 400 on `cycle`.
        let (field, _) = validation(
            order(
                &app,
                &alice.token,
                json!({"planId": monthly_only, "cycle": "yearly"}),
            )
            .await,
        )
        .await;
        assert_eq!(field, "cycle", "{label}");
        let (field, _) = validation(
            order(
                &app,
                &alice.token,
                json!({"planId": pro, "cycle": "weekly"}),
            )
            .await,
        )
        .await;
        assert_eq!(field, "cycle");

        // Coupons: a negative `Coupon <CODE>` line; refusals name the reason.
        let (field, message) = validation(
            order(
                &app,
                &alice.token,
                json!({"planId": pro, "couponCode": "nope"}),
            )
            .await,
        )
        .await;
        assert_eq!(field, "couponCode", "{label}");
        assert!(message.contains("NOPE is unknown"), "{label}: {message}");
        for body in [
            json!({"code": "SPRING20", "percentOff": 20, "duration": "once"}),
            json!({"code": "OLD", "percentOff": 50, "duration": "once", "validUntil": "2020-01-01T00:00:00Z"}),
            json!({"code": "OTHER", "percentOff": 50, "duration": "once", "planIds": [monthly_only]}),
        ] {
            let created = app.post_as(&admin.token, "/api/admin/coupons", &body).await;
            assert_eq!(created.status(), StatusCode::CREATED, "{label}: {body}");
        }
        for (code, reason) in [("old", "has expired"), ("other", "not valid for this plan")] {
            let (field, message) = validation(
                order(
                    &app,
                    &alice.token,
                    json!({"planId": pro, "couponCode": code}),
                )
                .await,
            )
            .await;
            assert_eq!(field, "couponCode");
            assert!(message.contains(reason), "{label}: {message}");
        }
        let discounted = order(
            &app,
            &alice.token,
            json!({"planId": pro, "couponCode": "spring20"}),
        )
        .await;
        assert_eq!(discounted.status(), StatusCode::CREATED, "{label}");
        let discounted = json(discounted).await;
        assert_eq!(
            lines(&discounted),
            vec![
                ("Pro (monthly)".to_owned(), 10.0),
                ("Coupon SPRING20".to_owned(), -2.0)
            ]
        );
        assert_eq!(discounted["amount"], 8.0);
        assert_eq!(times_redeemed(&app, &admin.token, "spring20").await, 1);
        // Given back with the cancelled pending order.
        let cancelled = app
            .post_as(
                &alice.token,
                &format!("/api/orders/{}/cancel", discounted["id"]),
                &json!({}),
            )
            .await;
        assert_eq!(cancelled.status(), StatusCode::OK);
        assert_eq!(
            times_redeemed(&app, &admin.token, "spring20").await,
            0,
            "{label}"
        );

        // Account credit after tax, up to the total; given back on cancel.
        let bob = app.seed_user("bob@example.com", "user").await;
        grant(&app, &admin.token, bob.id, "3.00").await;
        let credited = json(order(&app, &bob.token, json!({"planId": pro})).await).await;
        assert_eq!(credited["status"], "pending", "{label}");
        assert_eq!(credited["amount"], 7.0);
        assert_eq!(credited["creditApplied"], 3.0);
        assert_eq!(
            lines(&credited),
            vec![
                ("Pro (monthly)".to_owned(), 10.0),
                ("Account credit".to_owned(), -3.0)
            ]
        );
        assert_eq!(
            balance(&app, &bob.token, bob.id).await,
            json!([{"currency": "USD", "amount": 0.0}])
        );
        let cancelled = app
            .post_as(
                &bob.token,
                &format!("/api/orders/{}/cancel", credited["id"]),
                &json!({}),
            )
            .await;
        assert_eq!(cancelled.status(), StatusCode::OK);
        assert_eq!(
            balance(&app, &bob.token, bob.id).await,
            json!([{"currency": "USD", "amount": 3.0}]),
            "{label}: given back"
        );
        // Credit covering the whole total: active at once.
        grant(&app, &admin.token, bob.id, "10.00").await;
        let covered = order(&app, &bob.token, json!({"planId": pro})).await;
        assert_eq!(covered.status(), StatusCode::CREATED);
        let covered = json(covered).await;
        assert_eq!(covered["status"], "active", "{label}: {covered}");
        assert_eq!(covered["amount"], 0.0);
        assert!(covered["invoiceNumber"].is_string());
        assert_eq!(
            balance(&app, &bob.token, bob.id).await,
            json!([{"currency": "USD", "amount": 3.0}])
        );
        // The redemption and the credit used are audited.
        let audit = json(
            app.get_as(&admin.token, "/api/admin/audit?per_page=100")
                .await,
        )
        .await;
        let actions: Vec<&str> = audit["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|row| row["action"].as_str())
            .collect();
        for action in ["coupon.redeem", "credit.order"] {
            assert!(actions.contains(&action), "{label}: {actions:?}");
        }
    }
}

/// Moves an active order's period back by `used_days`, keeping it one cycle long
/// (`months` calendar months); answers the share of it still unused, in millionths.
async fn age_order(app: &TestApp, id: i64, used_days: i64, months: u32) -> i64 {
    let now = Utc::now().naive_utc();
    let start = now - TimeDelta::days(used_days);
    let end = start
        .checked_add_months(chrono::Months::new(months))
        .unwrap();
    app.db
        .query(move |c| {
            Ok(c.execute(
                diesel::update(orders::table.find(id))
                    .set((orders::activated_at.eq(start), orders::expires_at.eq(end))),
            )?)
        })
        .await
        .unwrap();
    (end - now).num_seconds() * 1_000_000 / (end - start).num_seconds()
}

async fn place_paid(app: &TestApp, admin: &str, token: &str, body: Value) -> Value {
    let placed = json(order(app, token, body).await).await;
    let paid = app
        .post_as(
            admin,
            &format!("/api/admin/orders/{}/mark-paid", placed["id"]),
            &json!({}),
        )
        .await;
    assert_eq!(paid.status(), StatusCode::OK);
    json(paid).await["order"].clone()
}

async fn order_count(app: &TestApp) -> i64 {
    app.db
        .query(|c| Ok(c.get_result(orders::table.count())?))
        .await
        .unwrap()
}

#[tokio::test]
async fn plan_changes_credit_unused_time_or_wait_for_the_period_end() {
    for database in backends() {
        let app = spawn_app_with(database, patient).await;
        let label = app.backend().name();
        let admin = app.seed_user("admin@example.com", "admin").await;
        let alice = app.seed_user("alice@example.com", "user").await;
        let basic = create_plan(&app, "Basic", "10", "100").await;
        let pro = create_plan(&app, "Pro", "20", "200").await;

        let current = place_paid(&app, &admin.token, &alice.token, json!({"planId": basic})).await;
        let current_id = current["id"].as_i64().unwrap();
        let unused = age_order(&app, current_id, 12, 1).await;

        // The preview answers what would happen and stores nothing.
        let before = order_count(&app).await;
        let preview = app
            .post_as(&alice.token, "/api/orders/preview", &json!({"planId": pro}))
            .await;
        assert_eq!(preview.status(), StatusCode::OK, "{label}");
        let preview = json(preview).await;
        assert_eq!(preview["change"], "upgrade", "{label}: {preview}");
        assert_eq!(preview["when"], "now");
        assert_eq!(preview["currentOrderId"], current_id);
        assert_eq!(order_count(&app).await, before, "{label}: nothing stored");

        // Upgrade on day 12 of the month: the unused share of 10.00 back, rounded down.
        let upgrade = order(&app, &alice.token, json!({"planId": pro})).await;
        assert_eq!(upgrade.status(), StatusCode::CREATED, "{label}");
        let upgrade = json(upgrade).await;
        let items = lines(&upgrade);
        assert_eq!(items[0], ("Pro (monthly)".to_owned(), 20.0));
        assert!(
            items[1].0.starts_with("Unused time on Basic ("),
            "{label}: {items:?}"
        );
        let expected = 10.0 * unused as f64 / 1_000_000.0;
        assert!(
            (items[1].1 + expected).abs() <= 0.011,
            "{label}: {expected} of 10.00: {items:?}"
        );
        let amount = upgrade["amount"].as_f64().unwrap();
        assert!((amount - (20.0 + items[1].1)).abs() < 0.001, "{label}");
        // Paying it activates it and cancels the old order in the same transaction.
        let paid = app
            .post_as(
                &admin.token,
                &format!("/api/admin/orders/{}/mark-paid", upgrade["id"]),
                &json!({}),
            )
            .await;
        assert_eq!(paid.status(), StatusCode::OK);
        let old = json(
            app.get_as(&alice.token, &format!("/api/orders/{current_id}"))
                .await,
        )
        .await;
        assert_eq!(old["status"], "cancelled", "{label}");

        // A downgrade waits for the period end: 200, the current order, scheduled.
        let upgraded_id = upgrade["id"].as_i64().unwrap();
        let before = order_count(&app).await;
        let down = order(&app, &alice.token, json!({"planId": basic})).await;
        assert_eq!(down.status(), StatusCode::OK, "{label}");
        let down = json(down).await;
        assert_eq!(down["id"], upgraded_id);
        assert_eq!(down["scheduledChange"]["planId"], basic, "{label}: {down}");
        assert_eq!(down["scheduledChange"]["cycle"], "monthly");
        assert_eq!(down["scheduledChange"]["at"], down["expiresAt"]);
        assert_eq!(order_count(&app).await, before, "{label}: nothing charged");
        let dropped = app
            .delete_as(
                &alice.token,
                &format!("/api/orders/{upgraded_id}/scheduled-change"),
            )
            .await;
        assert_eq!(dropped.status(), StatusCode::OK);
        assert!(json(dropped).await.get("scheduledChange").is_none());
        let bob = app.seed_user("bob@example.com", "user").await;
        assert_eq!(
            app.delete_as(
                &bob.token,
                &format!("/api/orders/{upgraded_id}/scheduled-change")
            )
            .await
            .status(),
            StatusCode::NOT_FOUND
        );
        // `activateMode: renewal` is `period_end`; contradicting `when` is refused.
        let renewal = order(
            &app,
            &alice.token,
            json!({"planId": basic, "activateMode": "renewal"}),
        )
        .await;
        assert_eq!(renewal.status(), StatusCode::OK);
        let (field, _) = validation(
            order(
                &app,
                &alice.token,
                json!({"planId": basic, "activateMode": "renewal", "when": "now"}),
            )
            .await,
        )
        .await;
        assert_eq!(field, "activateMode");

        // Credit left over: a yearly order with half its year left changed now to a
        // cheaper monthly plan pays for itself; the rest goes to account credit.
        let carol = app.seed_user("carol@example.com", "user").await;
        let yearly = place_paid(
            &app,
            &admin.token,
            &carol.token,
            json!({"planId": pro, "cycle": "yearly"}),
        )
        .await;
        let unused = age_order(&app, yearly["id"].as_i64().unwrap(), 180, 12).await;
        let switched = order(&app, &carol.token, json!({"planId": basic, "when": "now"})).await;
        assert_eq!(switched.status(), StatusCode::CREATED, "{label}");
        let switched = json(switched).await;
        assert_eq!(switched["status"], "active", "{label}: {switched}");
        assert_eq!(switched["amount"], 0.0);
        let credit = balance(&app, &carol.token, carol.id).await;
        let left = credit[0]["amount"].as_f64().unwrap();
        // The unused share of 200.00 (about half), less the 10.00 the new order uses.
        let expected = 200.0 * unused as f64 / 1_000_000.0 - 10.0;
        assert!(
            (left - expected).abs() <= 0.011,
            "{label}: {credit}, {expected}"
        );
        let replaced = json(
            app.get_as(&carol.token, &format!("/api/orders/{}", yearly["id"]))
                .await,
        )
        .await;
        assert_eq!(replaced["status"], "cancelled");
    }
}

#[tokio::test]
async fn max_redemptions_hold_exactly_under_100_concurrent_orders() {
    for database in backends() {
        let app = spawn_app_with(database, patient).await;
        let label = app.backend().name();
        let admin = app.seed_user("admin@example.com", "admin").await;
        let pro = create_plan(&app, "Pro", "10", "100").await;
        let created = app
            .post_as(
                &admin.token,
                "/api/admin/coupons",
                &json!({"code": "LAUNCH", "percentOff": 10, "duration": "once", "maxRedemptions": 23}),
            )
            .await;
        assert_eq!(created.status(), StatusCode::CREATED);
        let mut buyers = Vec::new();
        for i in 0..10 {
            buyers.push(
                app.seed_user(&format!("buyer{i}@example.com"), "user")
                    .await,
            );
        }
        let started = Instant::now();
        let requests = (0..100).map(|i| {
            let token = buyers[i % buyers.len()].token.clone();
            let request = app
                .client
                .post(app.url("/api/orders"))
                .bearer_auth(token)
                .json(&json!({"planId": pro, "couponCode": "launch"}));
            async move { request.send().await.unwrap().status() }
        });
        let statuses = join_all(requests).await;
        let elapsed = started.elapsed();
        let placed = statuses
            .iter()
            .filter(|s| **s == StatusCode::CREATED)
            .count();
        let refused = statuses
            .iter()
            .filter(|s| **s == StatusCode::BAD_REQUEST)
            .count();
        eprintln!("{label}: 100 concurrent orders with a coupon of maxRedemptions 23 in {elapsed:?}: {placed} placed, {refused} refused");
        assert_eq!((placed, refused), (23, 77), "{label}: {statuses:?}");
        assert_eq!(times_redeemed(&app, &admin.token, "launch").await, 23);
    }
}

#[tokio::test]
async fn concurrent_orders_never_take_credit_below_zero() {
    for database in backends() {
        let app = spawn_app_with(database, patient).await;
        let label = app.backend().name();
        let admin = app.seed_user("admin@example.com", "admin").await;
        let alice = app.seed_user("alice@example.com", "user").await;
        let pro = create_plan(&app, "Pro", "3", "30").await;
        grant(&app, &admin.token, alice.id, "10.00").await;
        let started = Instant::now();
        let requests = (0..30).map(|_| {
            let request = app
                .client
                .post(app.url("/api/orders"))
                .bearer_auth(&alice.token)
                .json(&json!({"planId": pro}));
            async move {
                let response = request.send().await.unwrap();
                let status = response.status();
                (status, response.json::<Value>().await.unwrap())
            }
        });
        let answers = join_all(requests).await;
        let elapsed = started.elapsed();
        assert!(
            answers.iter().all(|(s, _)| *s == StatusCode::CREATED),
            "{label}: {answers:?}"
        );
        let used: f64 = answers
            .iter()
            .filter_map(|(_, body)| body["creditApplied"].as_f64())
            .sum();
        eprintln!("{label}: 30 concurrent orders of 3.00 against 10.00 of credit in {elapsed:?}: {used} of credit used");
        assert!((used - 10.0).abs() < 0.001, "{label}: {used}");
        let id = alice.id;
        let stored: Vec<(i64, i64)> = app
            .db
            .query(move |c| {
                Ok(c.load(
                    credit_entries::table
                        .filter(credit_entries::account_id.eq(id))
                        .order(credit_entries::id.asc())
                        .select((
                            credit_entries::amount_minor,
                            credit_entries::balance_after_minor,
                        )),
                )?)
            })
            .await
            .unwrap();
        let mut running = 0;
        for (amount, after) in &stored {
            running += amount;
            assert_eq!(*after, running, "{label}");
            assert!(*after >= 0, "{label}");
        }
        assert_eq!(running, 0, "{label}");
    }
}

/// A lifecycle sweep at `at`, with the app's stores and the coupon renewals.
async fn sweep_at(app: &TestApp, at: chrono::DateTime<Utc>) -> tariff_domain::orders::SweepReport {
    use tariff_domain::billing::CouponRenewals;
    use tariff_domain::orders::{BillingPolicy, LifecycleService};
    use tariff_domain::shared::ManualClock;
    use tariff_persistence::{DieselCouponRepository, DieselOrderRepository};
    let store = Arc::new(DieselOrderRepository::new(app.db.clone()));
    let lifecycle = LifecycleService::new(
        store.clone(),
        Arc::new(DieselPlanRepository::new(app.db.clone())),
        store,
        Arc::new(ManualClock::new(at)),
        Arc::new(BillingPolicy::default()),
    )
    .with_renewal_discounts(Arc::new(CouponRenewals::new(Arc::new(
        DieselCouponRepository::new(app.db.clone()),
    ))));
    lifecycle.sweep_now().await.unwrap()
}

fn expiry(order: &Value) -> chrono::DateTime<Utc> {
    chrono::DateTime::parse_from_rfc3339(order["expiresAt"].as_str().unwrap())
        .unwrap()
        .to_utc()
}

/// The pending renewal of order `id`, from the customer's order list.
async fn renewal_of(app: &TestApp, token: &str, known: &[i64]) -> Value {
    let list = json(app.get_as(token, "/api/orders").await).await;
    list.as_array()
        .unwrap()
        .iter()
        .find(|o| o["status"] == "pending" && !known.contains(&o["id"].as_i64().unwrap()))
        .cloned()
        .expect("a pending renewal")
}

#[tokio::test]
async fn renewals_keep_the_cycle_carry_coupons_and_make_scheduled_changes() {
    for database in backends() {
        let app = spawn_app_with(database, patient).await;
        let label = app.backend().name();
        let admin = app.seed_user("admin@example.com", "admin").await;
        let alice = app.seed_user("alice@example.com", "user").await;
        let basic = create_plan(&app, "Basic", "5", "50").await;
        let pro = create_plan(&app, "Pro", "10", "100").await;
        let created = app
            .post_as(
                &admin.token,
                "/api/admin/coupons",
                &json!({"code": "THREE20", "percentOff": 20, "duration": "repeating", "durationInCycles": 3}),
            )
            .await;
        assert_eq!(created.status(), StatusCode::CREATED);

        // 20% for three months: the order and its first two renewals.
        let mut current = place_paid(
            &app,
            &admin.token,
            &alice.token,
            json!({"planId": pro, "couponCode": "three20"}),
        )
        .await;
        assert_eq!(current["amount"], 8.0, "{label}");
        let mut known = vec![current["id"].as_i64().unwrap()];
        for (renewal, expected) in [(1, 8.0), (2, 8.0), (3, 10.0)] {
            let report = sweep_at(&app, expiry(&current) - TimeDelta::days(1)).await;
            assert_eq!(report.renewals_created, 1, "{label}: renewal {renewal}");
            let next = renewal_of(&app, &alice.token, &known).await;
            assert_eq!(
                next["amount"], expected,
                "{label}: renewal {renewal}: {next}"
            );
            assert_eq!(next["cycle"], "monthly");
            known.push(next["id"].as_i64().unwrap());
            let paid = app
                .post_as(
                    &admin.token,
                    &format!("/api/admin/orders/{}/mark-paid", next["id"]),
                    &json!({}),
                )
                .await;
            assert_eq!(paid.status(), StatusCode::OK);
            current = json(paid).await["order"].clone();
        }

        // A yearly order renews yearly; a downgrade scheduled for the period end
        // makes the renewal for the new plan and cycle.
        let bob = app.seed_user("bob@example.com", "user").await;
        let yearly = place_paid(
            &app,
            &admin.token,
            &bob.token,
            json!({"planId": pro, "cycle": "yearly"}),
        )
        .await;
        let scheduled = order(
            &app,
            &bob.token,
            json!({"planId": basic, "cycle": "yearly"}),
        )
        .await;
        assert_eq!(scheduled.status(), StatusCode::OK, "{label}");
        // (Alice's monthly order is due by then too.)
        let report = sweep_at(&app, expiry(&yearly) - TimeDelta::days(1)).await;
        assert_eq!(report.renewals_created, 2, "{label}");
        let next = renewal_of(&app, &bob.token, &[yearly["id"].as_i64().unwrap()]).await;
        assert_eq!(next["planId"], basic, "{label}: {next}");
        assert_eq!(next["cycle"], "yearly");
        assert_eq!(next["amount"], 50.0);
    }
}

#[tokio::test]
async fn an_order_that_expires_unpaid_gives_back_its_coupon_and_credit() {
    for database in backends() {
        let app = spawn_app_with(database, patient).await;
        let label = app.backend().name();
        let admin = app.seed_user("admin@example.com", "admin").await;
        let alice = app.seed_user("alice@example.com", "user").await;
        let pro = create_plan(&app, "Pro", "10", "100").await;
        let created = app
            .post_as(
                &admin.token,
                "/api/admin/coupons",
                &json!({"code": "ONCE5", "amountOff": 5, "currency": "USD", "duration": "once", "oncePerAccount": true}),
            )
            .await;
        assert_eq!(created.status(), StatusCode::CREATED);
        grant(&app, &admin.token, alice.id, "2.00").await;
        let pending = json(
            order(
                &app,
                &alice.token,
                json!({"planId": pro, "couponCode": "once5"}),
            )
            .await,
        )
        .await;
        assert_eq!(pending["amount"], 3.0, "{label}: {pending}");
        assert_eq!(times_redeemed(&app, &admin.token, "once5").await, 1);
        // Once per account: a second order with it is refused while the first stands.
        let (field, message) = validation(
            order(
                &app,
                &alice.token,
                json!({"planId": pro, "couponCode": "ONCE5"}),
            )
            .await,
        )
        .await;
        assert_eq!(field, "couponCode");
        assert!(message.contains("already been used"), "{label}: {message}");

        let id = pending["id"].as_i64().unwrap();
        let old = Utc::now().naive_utc() - TimeDelta::days(8);
        app.db
            .query(move |c| {
                Ok(c.execute(
                    diesel::update(orders::table.find(id)).set(orders::created_at.eq(old)),
                )?)
            })
            .await
            .unwrap();
        let report = sweep_at(&app, Utc::now()).await;
        assert_eq!(report.expired_pending, 1, "{label}");
        let expired = json(app.get_as(&alice.token, &format!("/api/orders/{id}")).await).await;
        assert_eq!(expired["status"], "expired");
        assert_eq!(
            times_redeemed(&app, &admin.token, "once5").await,
            0,
            "{label}"
        );
        assert_eq!(
            balance(&app, &alice.token, alice.id).await,
            json!([{"currency": "USD", "amount": 2.0}]),
            "{label}"
        );
        // A second sweep gives nothing twice; the account may use the coupon again.
        assert_eq!(sweep_at(&app, Utc::now()).await.expired_pending, 0);
        assert_eq!(
            balance(&app, &alice.token, alice.id).await,
            json!([{"currency": "USD", "amount": 2.0}])
        );
        let again = order(
            &app,
            &alice.token,
            json!({"planId": pro, "couponCode": "once5"}),
        )
        .await;
        assert_eq!(again.status(), StatusCode::CREATED, "{label}");
    }
}
