//! The customer's note (`notes` on `POST /api/orders`, as the EcliPanel frontend sends
//! it) is stored and answered as `customerNote`, apart from the internal notes; and the
//! admin order search's `q` ignores case. Both profiles, SQLite and (with
//! TEST_DATABASE_URL) PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use reqwest::StatusCode;
use serde_json::{json, Value};
use tariff_app::settings::ApiProfile;
use tariff_tests::{backends, json, spawn_app_with, TestApp, TestDatabase};

async fn spawn(db: TestDatabase, profile: ApiProfile) -> TestApp {
    spawn_app_with(db, move |s| s.api.profile = profile).await
}

fn cases() -> Vec<(TestDatabase, ApiProfile)> {
    let mut all = Vec::new();
    for profile in [ApiProfile::Seed, ApiProfile::Eclipanel] {
        for db in backends() {
            all.push((db, profile));
        }
    }
    all
}

/// The order in a `POST /api/orders` answer, whichever the profile.
fn placed_order(profile: ApiProfile, body: Value) -> Value {
    match profile {
        ApiProfile::Seed => body,
        ApiProfile::Eclipanel => {
            assert_eq!(body["success"], true);
            body["order"].clone()
        }
    }
}

/// The orders of a `GET /api/admin/orders` answer, whichever the profile.
fn admin_orders(profile: ApiProfile, body: &Value) -> (Vec<Value>, i64) {
    match profile {
        ApiProfile::Seed => (
            body["data"].as_array().unwrap().clone(),
            body["meta"]["total"].as_i64().unwrap(),
        ),
        ApiProfile::Eclipanel => (
            body["orders"].as_array().unwrap().clone(),
            body["total"].as_i64().unwrap(),
        ),
    }
}

async fn admin_search(app: &TestApp, admin: &str, profile: ApiProfile, q: &str) -> Vec<i64> {
    let query: String = q
        .bytes()
        .map(|b| match b {
            b' ' => "%20".to_owned(),
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' => (b as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect();
    let response = app
        .get_as(admin, &format!("/api/admin/orders?q={query}"))
        .await;
    assert_eq!(response.status(), StatusCode::OK, "q={q}");
    let body = json(response).await;
    let (orders, total) = admin_orders(profile, &body);
    assert_eq!(total, i64::try_from(orders.len()).unwrap(), "q={q}");
    orders.iter().map(|o| o["id"].as_i64().unwrap()).collect()
}

#[tokio::test]
async fn the_customer_note_is_stored_trimmed_and_answered_apart_from_internal_notes() {
    for (db, profile) in cases() {
        let app = spawn(db, profile).await;
        let admin = app.seed_user("admin@example.com", "admin").await;
        let alice = app.seed_user("alice@example.com", "user").await;
        let created = app
            .post_as(
                &admin.token,
                "/api/admin/plans",
                &json!({"name": "Pro Plus", "price": 9.99}),
            )
            .await;
        assert_eq!(created.status(), StatusCode::CREATED);
        let created = json(created).await;
        let plan = created["id"]
            .as_i64()
            .or_else(|| created["plan"]["id"].as_i64())
            .unwrap();

        // The frontend's body, with a note to keep.
        let placed = app
            .post_as(
                &alice.token,
                "/api/orders",
                &json!({"planId": plan, "amount": 9.99, "description": "Pro Plus",
                        "activateMode": "now", "items": "[]",
                        "notes": "  Please invoice ACME GmbH\nPO 4711  "}),
            )
            .await;
        assert_eq!(placed.status(), StatusCode::CREATED, "{profile:?}");
        let order = placed_order(profile, json(placed).await);
        let id = order["id"].as_i64().unwrap();
        assert_eq!(order["customerNote"], "Please invoice ACME GmbH\nPO 4711");
        assert!(order.get("notes").is_none(), "{order}");

        let one = json(app.get_as(&alice.token, &format!("/api/orders/{id}")).await).await;
        assert_eq!(one["customerNote"], "Please invoice ACME GmbH\nPO 4711");
        assert!(one.get("notes").is_none(), "internal notes stay internal");
        let list = json(app.get_as(&alice.token, "/api/orders").await).await;
        assert_eq!(list[0]["customerNote"], "Please invoice ACME GmbH\nPO 4711");

        // Administrators see it beside the internal notes, which it never fills.
        let found = json(
            app.get_as(
                &admin.token,
                &format!("/api/admin/orders?userId={}", alice.id),
            )
            .await,
        )
        .await;
        let (orders, _) = admin_orders(profile, &found);
        assert_eq!(orders[0]["id"], id);
        assert_eq!(
            orders[0]["customerNote"],
            "Please invoice ACME GmbH\nPO 4711"
        );
        assert_eq!(orders[0]["notes"], Value::Null);

        // No note, a blank note: none stored, the key is absent.
        for body in [
            json!({"planId": plan}),
            json!({"planId": plan, "notes": " \n "}),
        ] {
            let placed = app.post_as(&alice.token, "/api/orders", &body).await;
            assert_eq!(placed.status(), StatusCode::CREATED);
            let order = placed_order(profile, json(placed).await);
            assert!(order.get("customerNote").is_none(), "{order}");
        }

        // Too long, or a control character: 400 naming `notes`, nothing stored.
        let before = json(app.get_as(&alice.token, "/api/orders").await).await;
        for bad in ["x".repeat(2_001), "ring the bell\u{7}".to_owned()] {
            let refused = app
                .post_as(
                    &alice.token,
                    "/api/orders",
                    &json!({"planId": plan, "notes": bad}),
                )
                .await;
            assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
            let body = json(refused).await;
            assert_eq!(body["error"], "validation_failed");
            assert_eq!(body["field"], "notes");
        }
        let after = json(app.get_as(&alice.token, "/api/orders").await).await;
        assert_eq!(before, after, "a refused order stores nothing");
        // At the limit (surrounding space not counted) it is kept.
        let long = format!("  {}  ", "é".repeat(2_000));
        let placed = app
            .post_as(
                &alice.token,
                "/api/orders",
                &json!({"planId": plan, "notes": long}),
            )
            .await;
        assert_eq!(placed.status(), StatusCode::CREATED);
        let order = placed_order(profile, json(placed).await);
        assert_eq!(
            order["customerNote"].as_str().unwrap().chars().count(),
            2_000
        );
    }
}

#[tokio::test]
async fn the_admin_order_search_ignores_case() {
    for (db, profile) in cases() {
        let app = spawn(db, profile).await;
        let admin = app.seed_user("admin@example.com", "admin").await;
        let alice = app.seed_user("alice@example.com", "user").await;
        let created = json(
            app.post_as(
                &admin.token,
                "/api/admin/plans",
                &json!({"name": "Pro Plus", "price": 9.99}),
            )
            .await,
        )
        .await;
        let plan = created["id"]
            .as_i64()
            .or_else(|| created["plan"]["id"].as_i64())
            .unwrap();
        let applied = app
            .post_as(
                &admin.token,
                &format!("/api/admin/users/{}/apply-plan", alice.id),
                &json!({"planId": plan}),
            )
            .await;
        assert_eq!(applied.status(), StatusCode::OK);
        let order = json(applied).await["order"].clone();
        let id = order["id"].as_i64().unwrap();
        let number = order["invoiceNumber"].as_str().unwrap().to_owned();

        for q in ["Pro Plus", "pro plus", "PRO PLUS", "pRO pLUS (MONTHLY)"] {
            assert_eq!(
                admin_search(&app, &admin.token, profile, q).await,
                vec![id],
                "{q}"
            );
        }
        assert_eq!(
            admin_search(&app, &admin.token, profile, &number.to_lowercase()).await,
            vec![id]
        );
        for q in ["PRO%", "pro_plus"] {
            assert!(
                admin_search(&app, &admin.token, profile, q)
                    .await
                    .is_empty(),
                "{q}"
            );
        }
    }
}
