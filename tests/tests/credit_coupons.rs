//! Account credit and the coupon catalogue through HTTP: reading credit (the account or
//! an admin), administrators' grants and debits, refusals that change nothing, audit
//! rows, the billing switch; never below zero under 50 concurrent debits (two service
//! instances on PostgreSQL); coupons created, listed, read in any case and deactivated;
//! `maxRedemptions` exact under 100 concurrent redemptions and once per account under
//! 20. Every test runs on SQLite and, with TEST_DATABASE_URL, on PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::time::Instant;

use chrono::Utc;
use diesel::prelude::*;
use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::{json, Value};
use tariff_domain::billing::{CouponCode, CouponRedemption, RejectionReason};
use tariff_domain::{AccountRef, Currency, Money, UserId};
use tariff_persistence::schema::{credit_entries, org_members, organisations};
use tariff_persistence::DieselCouponRepository;
use tariff_tests::{
    backends, json, spawn_app, spawn_app_on_url_with, spawn_app_with, TestApp, TestDatabase,
};

fn patient(settings: &mut tariff_app::settings::Settings) {
    settings.database.acquire_timeout_ms = 60_000;
    settings.database.sqlite_busy_timeout_ms = 60_000;
}

async fn create_org(app: &TestApp, member: i64) -> i64 {
    app.db
        .query(move |conn| {
            conn.write_transaction(|c| {
                let now = Utc::now().naive_utc();
                let id: i64 = c.get_result(
                    diesel::insert_into(organisations::table)
                        .values((
                            organisations::name.eq("Acme"),
                            organisations::created_at.eq(now),
                        ))
                        .returning(organisations::id),
                )?;
                c.execute(diesel::insert_into(org_members::table).values((
                    org_members::org_id.eq(id),
                    org_members::user_id.eq(member),
                    org_members::role.eq("member"),
                    org_members::created_at.eq(now),
                )))?;
                Ok(id)
            })
        })
        .await
        .unwrap()
}

/// The stored entries of an account: (amount, running balance) in id order.
async fn stored_entries(app: &TestApp, kind: &'static str, id: i64) -> Vec<(i64, i64)> {
    app.db
        .query(move |c| {
            Ok(c.load(
                credit_entries::table
                    .filter(credit_entries::account_kind.eq(kind))
                    .filter(credit_entries::account_id.eq(id))
                    .order(credit_entries::id.asc())
                    .select((
                        credit_entries::amount_minor,
                        credit_entries::balance_after_minor,
                    )),
            )?)
        })
        .await
        .unwrap()
}

async fn audit_actions(app: &TestApp, admin: &str, action: &str) -> Vec<Value> {
    let page = json(app.get_as(admin, "/api/admin/audit?per_page=100").await).await;
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|row| row["action"] == action)
        .cloned()
        .collect()
}

async fn error_field(response: reqwest::Response, status: StatusCode) -> String {
    assert_eq!(response.status(), status);
    let body = json(response).await;
    assert_eq!(body["error"], "validation_failed", "{body}");
    body["field"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn credit_is_read_by_its_account_and_written_by_admins() {
    for database in backends() {
        let app = spawn_app(database).await;
        let label = app.backend().name();
        let admin = app.seed_user("admin@example.com", "admin").await;
        let alice = app.seed_user("alice@example.com", "user").await;
        let bob = app.seed_user("bob@example.com", "user").await;
        let own = format!("/api/users/{}/credit", alice.id);
        let grant = format!("/api/admin/users/{}/credit", alice.id);

        let empty = json(app.get_as(&alice.token, &own).await).await;
        assert_eq!(empty, json!({"balances": [], "entries": []}), "{label}");
        assert_eq!(
            app.get_as(&bob.token, &own).await.status(),
            StatusCode::NOT_FOUND
        );
        assert_eq!(app.get(&own).await.status(), StatusCode::UNAUTHORIZED);
        let forbidden = app
            .post_as(
                &alice.token,
                &grant,
                &json!({"amount": 5, "currency": "USD", "reason": "me"}),
            )
            .await;
        assert_eq!(forbidden.status(), StatusCode::FORBIDDEN, "{label}");

        let granted = app
            .post_as(
                &admin.token,
                &grant,
                &json!({"amount": 12.5, "currency": "usd", "reason": "Goodwill"}),
            )
            .await;
        assert_eq!(granted.status(), StatusCode::CREATED, "{label}");
        let granted = granted.text().await.unwrap();
        assert!(granted.contains(r#""amount":12.5"#), "{label}: {granted}");
        let debited = json(
            app.post_as(
                &admin.token,
                &grant,
                &json!({"amount": "-2.25", "currency": "USD", "reason": "Correction"}),
            )
            .await,
        )
        .await;
        assert_eq!(
            debited["balance"],
            json!({"currency": "USD", "amount": 10.25}),
            "{label}"
        );
        assert_eq!(debited["entry"]["amount"], json!(-2.25), "{label}");

        // Refusals change nothing.
        let below = app
            .post_as(
                &admin.token,
                &grant,
                &json!({"amount": -10.26, "currency": "USD", "reason": "Too much"}),
            )
            .await;
        assert_eq!(below.status(), StatusCode::CONFLICT, "{label}");
        assert_eq!(json(below).await["error"], "conflict", "{label}");
        let other_currency = app
            .post_as(
                &admin.token,
                &grant,
                &json!({"amount": -1, "currency": "EUR", "reason": "No EUR"}),
            )
            .await;
        assert_eq!(other_currency.status(), StatusCode::CONFLICT, "{label}");
        for (body, field) in [
            (
                json!({"amount": 0, "currency": "USD", "reason": "zero"}),
                "amount",
            ),
            (
                json!({"amount": 1.001, "currency": "USD", "reason": "precise"}),
                "amount",
            ),
            (
                json!({"amount": "abc", "currency": "USD", "reason": "text"}),
                "amount",
            ),
            (
                json!({"amount": 1, "currency": "XXX", "reason": "unknown"}),
                "currency",
            ),
            (
                json!({"amount": 1, "currency": "USD", "reason": "  "}),
                "reason",
            ),
        ] {
            let response = app.post_as(&admin.token, &grant, &body).await;
            assert_eq!(
                error_field(response, StatusCode::BAD_REQUEST).await,
                field,
                "{label}: {body}"
            );
        }
        assert_eq!(
            app.post_as(
                &admin.token,
                &grant,
                &json!({"amount": 1, "currency": "USD"})
            )
            .await
            .status(),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            stored_entries(&app, "user", alice.id).await,
            vec![(1250, 1250), (-225, 1025)]
        );

        let statement = app.get_as(&alice.token, &own).await;
        assert_eq!(statement.status(), StatusCode::OK);
        let statement = json(statement).await;
        assert_eq!(
            statement["balances"],
            json!([{"currency": "USD", "amount": 10.25}]),
            "{label}"
        );
        let entries = statement["entries"].as_array().unwrap();
        assert_eq!(entries.len(), 2, "{label}");
        assert_eq!(entries[0]["amount"], json!(-2.25), "newest first ({label})");
        assert_eq!(entries[0]["reason"], "Correction");
        assert_eq!(entries[0]["orderId"], Value::Null);
        assert_eq!(entries[1]["reason"], "Goodwill");
        assert!(entries[1]["createdAt"].as_str().unwrap().ends_with('Z'));
        // An admin reads any account; a missing one is 404.
        assert_eq!(
            app.get_as(&admin.token, &own).await.status(),
            StatusCode::OK
        );
        assert_eq!(
            app.get_as(&admin.token, "/api/users/999999/credit")
                .await
                .status(),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            app.post_as(
                &admin.token,
                "/api/admin/users/999999/credit",
                &json!({"amount": 1, "currency": "USD", "reason": "x"})
            )
            .await
            .status(),
            StatusCode::NOT_FOUND
        );

        // Organisations: members read, others do not, admins write.
        let org = create_org(&app, alice.id).await;
        let org_path = format!("/api/organisations/{org}/credit");
        assert_eq!(
            app.get_as(&bob.token, &org_path).await.status(),
            StatusCode::NOT_FOUND
        );
        let org_grant = app
            .post_as(
                &admin.token,
                &format!("/api/admin/organisations/{org}/credit"),
                &json!({"amount": 5, "currency": "EUR", "reason": "Welcome"}),
            )
            .await;
        assert_eq!(org_grant.status(), StatusCode::CREATED, "{label}");
        let org_credit = json(app.get_as(&alice.token, &org_path).await).await;
        assert_eq!(
            org_credit["balances"],
            json!([{"currency": "EUR", "amount": 5.0}]),
            "{label}"
        );
        // The user's ledger is its own.
        assert_eq!(
            json(app.get_as(&alice.token, &own).await).await["balances"]
                .as_array()
                .unwrap()
                .len(),
            1
        );

        // Every applied grant and debit is audited, refusals are not.
        let audited = audit_actions(&app, &admin.token, "credit.adjust").await;
        assert_eq!(audited.len(), 3, "{label}: {audited:?}");
        let debit = audited
            .iter()
            .find(|row| row["after"]["amount"] == "-2.25")
            .unwrap();
        assert_eq!(debit["targetKind"], "user");
        assert_eq!(debit["targetId"], alice.id);
        assert_eq!(debit["before"]["balance"], "12.50");
        assert_eq!(debit["after"]["balance"], "10.25");
        assert_eq!(debit["actorId"], admin.id);

        // Behind the billing switch.
        let off = app
            .put_as(
                &admin.token,
                "/api/admin/settings",
                &json!({"billingEnabled": false}),
            )
            .await;
        assert_eq!(off.status(), StatusCode::OK);
        let disabled = app.get_as(&alice.token, &own).await;
        assert_eq!(
            disabled.status(),
            StatusCode::SERVICE_UNAVAILABLE,
            "{label}"
        );
        assert_eq!(json(disabled).await["error"], "feature_disabled");
        assert_eq!(
            app.get_as(&admin.token, "/api/admin/coupons")
                .await
                .status(),
            StatusCode::SERVICE_UNAVAILABLE
        );
    }
}

/// `debits` concurrent debits of 1.00 against a balance of 10.00, spread over `apps`.
async fn assert_concurrent_debits_stop_at_zero(apps: &[&TestApp], label: &str) {
    let first = apps[0];
    let admin = first.seed_user("admin@example.com", "admin").await;
    let alice = first.seed_user("alice@example.com", "user").await;
    let path = format!("/api/admin/users/{}/credit", alice.id);
    let grant = first
        .post_as(
            &admin.token,
            &path,
            &json!({"amount": "10.00", "currency": "USD", "reason": "Start"}),
        )
        .await;
    assert_eq!(grant.status(), StatusCode::CREATED);
    let debits = 50;
    let started = Instant::now();
    let requests = (0..debits).map(|i| {
        let app = apps[i % apps.len()];
        let request = app
            .client
            .post(app.url(&path))
            .bearer_auth(&admin.token)
            .json(&json!({"amount": -1, "currency": "USD", "reason": format!("debit {i}")}));
        async move { request.send().await.unwrap().status() }
    });
    let statuses = join_all(requests).await;
    let elapsed = started.elapsed();
    let accepted = statuses
        .iter()
        .filter(|s| **s == StatusCode::CREATED)
        .count();
    let refused = statuses
        .iter()
        .filter(|s| **s == StatusCode::CONFLICT)
        .count();
    eprintln!("{label}: {debits} concurrent debits of 1.00 against 10.00 in {elapsed:?}: {accepted} accepted, {refused} refused");
    assert_eq!(
        (accepted, refused),
        (10, debits - 10),
        "{label}: {statuses:?}"
    );
    let stored = stored_entries(first, "user", alice.id).await;
    assert_eq!(stored.len(), 11, "{label}");
    let sum: i64 = stored.iter().map(|(amount, _)| amount).sum();
    assert_eq!(
        sum, 0,
        "{label}: the balance is the sum of the accepted entries"
    );
    let mut running = 0;
    for (amount, balance_after) in &stored {
        running += amount;
        assert_eq!(*balance_after, running, "{label}: running balance");
        assert!(*balance_after >= 0, "{label}");
    }
    let statement = json(
        first
            .get_as(&alice.token, &format!("/api/users/{}/credit", alice.id))
            .await,
    )
    .await;
    assert_eq!(
        statement["balances"],
        json!([{"currency": "USD", "amount": 0.0}]),
        "{label}"
    );
}

#[tokio::test]
async fn concurrent_debits_never_take_a_balance_below_zero_on_sqlite() {
    let app = spawn_app_with(TestDatabase::sqlite(), patient).await;
    assert_concurrent_debits_stop_at_zero(&[&app], "sqlite").await;
}

#[tokio::test]
async fn concurrent_debits_over_two_instances_never_take_a_balance_below_zero_on_postgres() {
    let Some(database) = TestDatabase::postgres() else {
        return;
    };
    let first = spawn_app_with(database, patient).await;
    let second = spawn_app_on_url_with(first.database.url(), patient).await;
    assert_concurrent_debits_stop_at_zero(&[&first, &second], "postgres, two instances").await;
}

#[tokio::test]
async fn admins_create_list_read_and_deactivate_coupons() {
    for database in backends() {
        let app = spawn_app(database).await;
        let label = app.backend().name();
        let admin = app.seed_user("admin@example.com", "admin").await;
        let alice = app.seed_user("alice@example.com", "user").await;
        let spring = json!({"code": "spring20", "percentOff": 20, "duration": "repeating", "durationInCycles": 3, "maxRedemptions": 100, "planIds": [2, 1]});

        let refused = app
            .post_as(&alice.token, "/api/admin/coupons", &spring)
            .await;
        assert_eq!(refused.status(), StatusCode::FORBIDDEN, "{label}");
        assert_eq!(
            app.get_as(&alice.token, "/api/admin/coupons")
                .await
                .status(),
            StatusCode::FORBIDDEN
        );

        let created = app
            .post_as(&admin.token, "/api/admin/coupons", &spring)
            .await;
        assert_eq!(created.status(), StatusCode::CREATED, "{label}");
        let created = json(created).await;
        assert_eq!(created["code"], "SPRING20");
        assert_eq!(created["percentOff"], json!(20.0));
        assert_eq!(created["amountOff"], Value::Null);
        assert_eq!(created["duration"], "repeating");
        assert_eq!(created["durationInCycles"], 3);
        assert_eq!(created["maxRedemptions"], 100);
        assert_eq!(created["planIds"], json!([1, 2]));
        assert_eq!(created["timesRedeemed"], 0);
        assert_eq!(created["active"], true);
        assert_eq!(created["oncePerAccount"], false);

        let taken = app
            .post_as(
                &admin.token,
                "/api/admin/coupons",
                &json!({"code": "Spring20", "amountOff": 5, "currency": "USD", "duration": "once"}),
            )
            .await;
        assert_eq!(
            taken.status(),
            StatusCode::CONFLICT,
            "codes are case-insensitive ({label})"
        );

        for (body, field) in [
            (
                json!({"code": "X1", "percentOff": 0, "duration": "once"}),
                "percentOff",
            ),
            (
                json!({"code": "X1", "percentOff": 100.5, "duration": "once"}),
                "percentOff",
            ),
            (
                json!({"code": "X1", "percentOff": 5, "amountOff": 5, "currency": "USD", "duration": "once"}),
                "amountOff",
            ),
            (
                json!({"code": "X1", "amountOff": 5.001, "currency": "USD", "duration": "once"}),
                "amountOff",
            ),
            (
                json!({"code": "X1", "amountOff": 5, "duration": "once"}),
                "currency",
            ),
            (
                json!({"code": "X1", "percentOff": 5, "duration": "repeating"}),
                "durationInCycles",
            ),
            (
                json!({"code": "X1", "percentOff": 5, "duration": "weekly"}),
                "duration",
            ),
            (
                json!({"code": "two words", "percentOff": 5, "duration": "once"}),
                "code",
            ),
            (
                json!({"code": "X1", "percentOff": 5, "duration": "once", "maxRedemptions": 0}),
                "maxRedemptions",
            ),
            (
                json!({"code": "X1", "percentOff": 5, "duration": "once", "validFrom": "2026-12-01T00:00:00Z", "validUntil": "2026-11-01T00:00:00Z"}),
                "validUntil",
            ),
            (
                json!({"code": "X1", "percentOff": 5, "duration": "once", "planIds": [0]}),
                "planIds",
            ),
        ] {
            let response = app.post_as(&admin.token, "/api/admin/coupons", &body).await;
            assert_eq!(
                error_field(response, StatusCode::BAD_REQUEST).await,
                field,
                "{label}: {body}"
            );
        }
        assert_eq!(
            app.get_as(&admin.token, "/api/admin/coupons/x1")
                .await
                .status(),
            StatusCode::NOT_FOUND,
            "refusals store nothing ({label})"
        );

        let five = app
            .post_as(&admin.token, "/api/admin/coupons", &json!({"code": "five-off", "amountOff": "5.00", "currency": "eur", "duration": "once", "oncePerAccount": true, "validFrom": "2026-01-01T00:00:00Z", "validUntil": "2027-01-01T00:00:00+01:00"}))
            .await;
        assert_eq!(five.status(), StatusCode::CREATED, "{label}");
        let five = five.text().await.unwrap();
        assert!(five.contains(r#""amountOff":5.0"#), "{five}");
        assert!(five.contains(r#""currency":"EUR""#), "{five}");
        assert!(
            five.contains(r#""validUntil":"2026-12-31T23:00:00Z""#),
            "{five}"
        );

        let read = json(
            app.get_as(&admin.token, "/api/admin/coupons/Five-Off")
                .await,
        )
        .await;
        assert_eq!(read["code"], "FIVE-OFF", "{label}");
        assert_eq!(read["oncePerAccount"], true);

        let page = json(
            app.get_as(&admin.token, "/api/admin/coupons?per_page=1")
                .await,
        )
        .await;
        assert_eq!(page["meta"]["total"], 2, "{label}: {page}");
        assert_eq!(page["data"][0]["code"], "FIVE-OFF", "newest first");
        let second = json(
            app.get_as(&admin.token, "/api/admin/coupons?per_page=1&page=2")
                .await,
        )
        .await;
        assert_eq!(second["data"][0]["code"], "SPRING20");

        let gone = app
            .delete_as(&admin.token, "/api/admin/coupons/spring20")
            .await;
        assert_eq!(gone.status(), StatusCode::OK, "{label}");
        assert_eq!(json(gone).await["active"], false);
        let again = app
            .delete_as(&admin.token, "/api/admin/coupons/SPRING20")
            .await;
        assert_eq!(again.status(), StatusCode::OK);
        assert_eq!(
            json(
                app.get_as(&admin.token, "/api/admin/coupons/spring20")
                    .await
            )
            .await["active"],
            false
        );
        assert_eq!(
            app.delete_as(&admin.token, "/api/admin/coupons/NOPE")
                .await
                .status(),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            app.delete_as(&alice.token, "/api/admin/coupons/FIVE-OFF")
                .await
                .status(),
            StatusCode::FORBIDDEN
        );

        assert_eq!(
            audit_actions(&app, &admin.token, "coupon.create")
                .await
                .len(),
            2,
            "{label}"
        );
        let deactivations = audit_actions(&app, &admin.token, "coupon.deactivate").await;
        assert_eq!(
            deactivations.len(),
            1,
            "deactivating twice is audited once ({label})"
        );
        assert_eq!(deactivations[0]["targetKind"], "coupon");
        assert_eq!(deactivations[0]["before"]["active"], true);
        assert_eq!(deactivations[0]["after"]["active"], false);
    }
}

fn redemption(code: &str, user: i64) -> CouponRedemption {
    CouponRedemption {
        code: CouponCode::parse(code).unwrap(),
        account: AccountRef::User(UserId::new(user).unwrap()),
        discount: Money::from_minor(100, Currency::USD),
        max_redemptions: None,
        once_per_account: false,
        at: Utc::now(),
    }
}

async fn coupon_json(app: &TestApp, admin: &str, code: &str) -> Value {
    json(
        app.get_as(admin, &format!("/api/admin/coupons/{code}"))
            .await,
    )
    .await
}

#[tokio::test]
async fn redemptions_hold_max_redemptions_and_once_per_account_under_concurrency() {
    for database in backends() {
        let app = spawn_app_with(database, patient).await;
        let label = app.backend().name();
        let admin = app.seed_user("admin@example.com", "admin").await;
        let repo = DieselCouponRepository::new(app.db.clone());
        let created = app
            .post_as(&admin.token, "/api/admin/coupons", &json!({"code": "LIMITED", "percentOff": 10, "duration": "once", "maxRedemptions": 37}))
            .await;
        assert_eq!(created.status(), StatusCode::CREATED);

        let started = Instant::now();
        let results =
            join_all((1..=100).map(|user| repo.redeem(redemption("limited", user)))).await;
        let elapsed = started.elapsed();
        let accepted = results.iter().filter(|r| matches!(r, Ok(Ok(_)))).count();
        let exhausted = results
            .iter()
            .filter(|r| matches!(r, Ok(Err(RejectionReason::Exhausted))))
            .count();
        eprintln!("{label}: 100 concurrent redemptions of a coupon with maxRedemptions 37 in {elapsed:?}: {accepted} accepted, {exhausted} exhausted");
        assert_eq!((accepted, exhausted), (37, 63), "{label}: {results:?}");
        assert_eq!(
            coupon_json(&app, &admin.token, "limited").await["timesRedeemed"],
            37
        );

        // Giving one back frees a place, once.
        let first = results.iter().find_map(|r| r.as_ref().ok()?.ok()).unwrap();
        assert!(repo.release_redemption(first, Utc::now()).await.unwrap());
        assert!(!repo.release_redemption(first, Utc::now()).await.unwrap());
        assert_eq!(
            coupon_json(&app, &admin.token, "limited").await["timesRedeemed"],
            36
        );
        assert!(matches!(
            repo.redeem(redemption("LIMITED", 500)).await,
            Ok(Ok(_))
        ));
        assert!(matches!(
            repo.redeem(redemption("LIMITED", 501)).await,
            Ok(Err(RejectionReason::Exhausted))
        ));

        // Once per account: twenty concurrent redemptions by one account count once.
        let created = app
            .post_as(&admin.token, "/api/admin/coupons", &json!({"code": "ONCE", "amountOff": 1, "currency": "USD", "duration": "once", "oncePerAccount": true}))
            .await;
        assert_eq!(created.status(), StatusCode::CREATED);
        let results = join_all((0..20).map(|_| repo.redeem(redemption("once", 7)))).await;
        let accepted: Vec<i64> = results
            .iter()
            .filter_map(|r| r.as_ref().ok()?.ok())
            .collect();
        let used = results
            .iter()
            .filter(|r| matches!(r, Ok(Err(RejectionReason::AlreadyUsed))))
            .count();
        eprintln!("{label}: 20 concurrent redemptions of a once-per-account coupon by one account: {} accepted, {used} already used", accepted.len());
        assert_eq!((accepted.len(), used), (1, 19), "{label}: {results:?}");
        assert_eq!(
            coupon_json(&app, &admin.token, "ONCE").await["timesRedeemed"],
            1
        );
        let account = AccountRef::User(UserId::new(7).unwrap());
        let code = CouponCode::parse("once").unwrap();
        use tariff_domain::billing::CouponRepository;
        assert!(repo.redeemed_by(code.clone(), account).await.unwrap());
        // Given back, the account may redeem it again; another account always could.
        assert!(repo
            .release_redemption(accepted[0], Utc::now())
            .await
            .unwrap());
        assert!(!repo.redeemed_by(code, account).await.unwrap());
        assert!(matches!(
            repo.redeem(redemption("once", 7)).await,
            Ok(Ok(_))
        ));
        assert!(matches!(
            repo.redeem(redemption("once", 8)).await,
            Ok(Ok(_))
        ));

        // Deactivated and unknown coupons are refused by the store too.
        assert_eq!(
            app.delete_as(&admin.token, "/api/admin/coupons/once")
                .await
                .status(),
            StatusCode::OK
        );
        assert!(matches!(
            repo.redeem(redemption("once", 9)).await,
            Ok(Err(RejectionReason::Inactive))
        ));
        assert!(matches!(
            repo.redeem(redemption("never", 9)).await,
            Ok(Err(RejectionReason::Unknown))
        ));
        assert_eq!(
            coupon_json(&app, &admin.token, "ONCE").await["timesRedeemed"],
            2
        );
    }
}
