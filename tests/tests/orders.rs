//! Orders and the plan lifecycle through HTTP: ordering, paying, applying and
//! cancelling plans, access rules, the billing switch, and the concurrency guarantees
//! (one active order per account, gapless invoice numbers). Every test runs on SQLite
//! and, with TEST_DATABASE_URL, on PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Datelike;
use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::{json, Value};
use tariff_domain::catalogue::CatalogueService;
use tariff_domain::{Limit, Limits, PlanDraft, Resource};
use tariff_persistence::{Backend, DieselPlanRepository};
use tariff_tests::{backends, json, spawn_app, spawn_app_with, TestApp};

/// Creates a plan straight through the catalogue service (the admin plan endpoints
/// belong to another area); returns its id.
async fn create_plan(app: &TestApp, name: &str, price: &str, servers: u64, hidden: bool) -> i64 {
    let catalogue = CatalogueService::new(Arc::new(DieselPlanRepository::new(app.db.clone())));
    let plan = catalogue
        .create(
            PlanDraft {
                name: name.into(),
                price: price.into(),
                plan_type: if price == "0" { "free" } else { "paid" }.into(),
                limits: Limits::unlimited()
                    .with(Resource::Servers, Limit::new(servers))
                    .with(Resource::Memory, Limit::new(servers * 1024)),
                hidden,
                ..PlanDraft::default()
            },
            tariff_domain::audit::Actor::Operator,
        )
        .await
        .unwrap();
    plan.id().get()
}

/// Sets a user's billing country through the admin users API.
async fn set_country(app: &TestApp, admin_token: &str, user: i64, country: &str) {
    let response = app
        .put_as(
            admin_token,
            &format!("/api/admin/users/{user}"),
            &json!({"country": country}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK, "set country");
}

/// Creates an organisation owned by `owner_token`'s user, with more members; returns its id.
async fn create_org(app: &TestApp, owner_token: &str, name: &str, members: &[(i64, &str)]) -> i64 {
    let created = app
        .post_as(owner_token, "/api/organisations", &json!({"name": name}))
        .await;
    assert_eq!(created.status(), StatusCode::CREATED, "create organisation");
    let id = json(created).await["id"].as_i64().unwrap();
    for (user, role) in members {
        let added = app
            .post_as(
                owner_token,
                &format!("/api/organisations/{id}/members"),
                &json!({"userId": user, "role": role}),
            )
            .await;
        assert!(
            added.status().is_success(),
            "add member: {}",
            added.status()
        );
    }
    id
}

async fn spawn_taxed(db: tariff_tests::TestDatabase) -> TestApp {
    spawn_app_with(db, |s| {
        s.tax.insert("DE".into(), "19".into());
        s.tax.insert("EU".into(), "21".into());
    })
    .await
}

fn year() -> i32 {
    chrono::Utc::now().year()
}

#[tokio::test]
async fn a_customer_orders_a_paid_plan_and_an_admin_marks_it_paid() {
    for db in backends() {
        let app = spawn_taxed(db).await;
        let backend = app.backend();
        let admin = app.seed_user("admin@example.com", "admin").await;
        let customer = app.seed_user("customer@example.com", "user").await;
        set_country(&app, &admin.token, customer.id, "DE").await;
        let pro = create_plan(&app, "Pro", "9.99", 5, false).await;

        let response = app
            .post_as(&customer.token, "/api/orders", &json!({"planId": pro}))
            .await;
        assert_eq!(response.status(), StatusCode::CREATED, "{backend:?}");
        let order = json(response).await;
        assert_eq!(order["status"], "pending");
        assert_eq!(order["amount"].to_string(), "11.89");
        assert_eq!(order["subtotal"].to_string(), "9.99");
        assert_eq!(order["taxRate"].to_string(), "19.0");
        assert_eq!(order["taxAmount"].to_string(), "1.9");
        assert_eq!(order["currency"], "USD");
        assert_eq!(order["description"], "Pro (monthly)");
        assert_eq!(order["planId"], pro);
        assert_eq!(order["userId"], customer.id);
        assert!(order["orgId"].is_null());
        assert!(order["invoiceNumber"].is_null());
        assert!(order["expiresAt"].is_null());
        assert_eq!(order["items"][0]["unitPrice"].to_string(), "9.99");
        assert_eq!(order["items"][0]["quantity"], 1);
        assert!(order.get("notes").is_none() && order.get("paymentReference").is_none());
        let id = order["id"].as_i64().unwrap();

        let listed = json(app.get_as(&customer.token, "/api/orders").await).await;
        assert_eq!(listed.as_array().unwrap().len(), 1);
        assert_eq!(listed[0], order);

        let path = format!("/api/admin/users/{}/current-plan", customer.id);
        let before = json(app.get_as(&admin.token, &path).await).await;
        assert_eq!(before["plan"]["name"], "Free", "{before}");
        assert!(before["order"].is_null());
        assert_eq!(before["limits"]["servers"], 1);

        let paid = app
            .post_as(
                &admin.token,
                &format!("/api/admin/orders/{id}/mark-paid"),
                &json!({"reference": "bank-1"}),
            )
            .await;
        assert_eq!(paid.status(), StatusCode::OK, "{backend:?}");
        let paid = json(paid).await;
        assert_eq!(paid["success"], true);
        assert_eq!(paid["order"]["status"], "active");
        assert_eq!(paid["order"]["paymentReference"], "bank-1");
        assert_eq!(
            paid["order"]["invoiceNumber"],
            format!("INV-{}-000001", year())
        );
        assert!(paid["order"]["expiresAt"].is_string());

        let after = json(app.get_as(&admin.token, &path).await).await;
        assert_eq!(after["plan"]["name"], "Pro");
        assert_eq!(after["order"]["id"], id);
        assert_eq!(after["limits"]["servers"], 5);
        assert_eq!(after["limits"]["memory"], 5 * 1024);
        let keys: Vec<&String> = after["limits"].as_object().unwrap().keys().collect();
        assert_eq!(keys.len(), 11, "{keys:?}");
        for key in [
            "memory",
            "disk",
            "cpu",
            "servers",
            "sites",
            "databases",
            "backups",
            "portCount",
            "tunnelPortCount",
            "emailDailyLimit",
            "emailQueueLimit",
        ] {
            assert!(after["limits"].get(key).is_some(), "limits lacks {key}");
        }

        // The limits in force include the per-account overrides, as the quota shows them.
        let overridden = app
            .put_as(
                &admin.token,
                &format!("/api/admin/users/{}/limits", customer.id),
                &json!({"servers": 9}),
            )
            .await;
        assert_eq!(overridden.status(), StatusCode::OK);
        let with_override = json(app.get_as(&admin.token, &path).await).await;
        assert_eq!(with_override["limits"]["servers"], 9);
        assert_eq!(with_override["plan"]["serverLimit"], 5);
        let quota = json(
            app.get_as(&admin.token, &format!("/api/users/{}/quota", customer.id))
                .await,
        )
        .await;
        assert_eq!(quota["limits"], with_override["limits"]);

        let seen = json(
            app.get_as(&customer.token, &format!("/api/orders/{id}"))
                .await,
        )
        .await;
        assert_eq!(seen["status"], "active");
        assert!(seen.get("paymentReference").is_none() && seen.get("notes").is_none());

        let again = app
            .post_as(
                &admin.token,
                &format!("/api/admin/orders/{id}/mark-paid"),
                &json!({}),
            )
            .await;
        assert_eq!(again.status(), StatusCode::CONFLICT);
        assert_eq!(json(again).await["error"], "conflict");
        let missing = app
            .post_as(
                &admin.token,
                "/api/admin/orders/999999/mark-paid",
                &json!({}),
            )
            .await;
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn a_free_plan_activates_at_once_and_apply_plan_replaces_it() {
    for db in backends() {
        let app = spawn_taxed(db).await;
        let admin = app.seed_user("admin@example.com", "admin").await;
        let customer = app.seed_user("customer@example.com", "user").await;
        let hobby = create_plan(&app, "Hobby", "0", 2, false).await;
        let pro = create_plan(&app, "Pro", "9.99", 5, false).await;

        let first = json(
            app.post_as(&customer.token, "/api/orders", &json!({"planId": hobby}))
                .await,
        )
        .await;
        assert_eq!(first["status"], "active", "{first}");
        assert_eq!(first["amount"].to_string(), "0.0");
        assert_eq!(first["invoiceNumber"], format!("INV-{}-000001", year()));
        let first_id = first["id"].as_i64().unwrap();

        let applied = app
            .post_as(
                &admin.token,
                &format!("/api/admin/users/{}/apply-plan", customer.id),
                &json!({"planId": pro, "notes": "Educational grant approved"}),
            )
            .await;
        assert_eq!(applied.status(), StatusCode::OK);
        let applied = json(applied).await;
        assert_eq!(applied["success"], true);
        assert_eq!(applied["order"]["status"], "active");
        assert_eq!(applied["order"]["notes"], "Educational grant approved");
        assert_eq!(
            applied["order"]["invoiceNumber"],
            format!("INV-{}-000002", year())
        );
        let second_id = applied["order"]["id"].as_i64().unwrap();

        // The admin sees why the first order ended; the customer sees only that it did.
        let admin_view = json(
            app.get_as(
                &admin.token,
                &format!("/api/admin/orders?userId={}", customer.id),
            )
            .await,
        )
        .await;
        let replaced = admin_view["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["id"] == first_id)
            .unwrap()
            .clone();
        assert_eq!(replaced["status"], "cancelled");
        assert_eq!(replaced["notes"], format!("replaced by order #{second_id}"));
        assert_eq!(
            replaced["invoiceNumber"],
            format!("INV-{}-000001", year()),
            "numbers are never reused"
        );
        let customer_view = json(
            app.get_as(&customer.token, &format!("/api/orders/{first_id}"))
                .await,
        )
        .await;
        assert_eq!(customer_view["status"], "cancelled");
        assert!(customer_view.get("notes").is_none());
        let listed = app
            .get_as(&customer.token, "/api/orders")
            .await
            .text()
            .await
            .unwrap();
        assert!(
            !listed.contains("replaced by")
                && !listed.contains("Educational")
                && !listed.contains("notes"),
            "{listed}"
        );

        // Exactly one active order for the account.
        let active = json(
            app.get_as(
                &admin.token,
                &format!("/api/admin/orders?status=active&userId={}", customer.id),
            )
            .await,
        )
        .await;
        assert_eq!(active["meta"]["total"], 1);
        assert_eq!(active["data"][0]["id"], second_id);
    }
}

#[tokio::test]
async fn customers_never_see_other_accounts_orders() {
    for db in backends() {
        let app = spawn_taxed(db).await;
        let alice = app.seed_user("alice@example.com", "user").await;
        let bob = app.seed_user("bob@example.com", "user").await;
        let carol = app.seed_user("carol@example.com", "user").await;
        let pro = create_plan(&app, "Pro", "9.99", 5, false).await;
        let secret = create_plan(&app, "Secret", "1", 1, true).await;
        let org = create_org(
            &app,
            &alice.token,
            "Acme",
            &[(bob.id, "member"), (carol.id, "admin")],
        )
        .await;

        let mine = json(
            app.post_as(&alice.token, "/api/orders", &json!({"planId": pro}))
                .await,
        )
        .await;
        let mine_id = mine["id"].as_i64().unwrap();
        let for_org = app
            .post_as(
                &alice.token,
                "/api/orders",
                &json!({"planId": pro, "orgId": org}),
            )
            .await;
        assert_eq!(for_org.status(), StatusCode::CREATED);
        let for_org = json(for_org).await;
        assert_eq!(for_org["orgId"], org);
        assert_eq!(for_org["userId"], alice.id);
        let org_order = for_org["id"].as_i64().unwrap();

        for path in [
            format!("/api/orders/{mine_id}"),
            format!("/api/orders/{org_order}"),
        ] {
            let response = app.get_as(&bob.token, &path).await;
            assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
            assert_eq!(json(response).await["error"], "not_found");
        }
        let cancel = app
            .post_as(
                &bob.token,
                &format!("/api/orders/{mine_id}/cancel"),
                &json!({}),
            )
            .await;
        assert_eq!(cancel.status(), StatusCode::NOT_FOUND);
        assert_eq!(
            json(app.get_as(&bob.token, "/api/orders").await).await,
            json!([])
        );

        // Carol manages the organisation: she sees its order, not Alice's own.
        let carols = json(app.get_as(&carol.token, "/api/orders").await).await;
        let ids: Vec<i64> = carols
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["id"].as_i64().unwrap())
            .collect();
        assert_eq!(ids, vec![org_order]);
        assert_eq!(
            app.get_as(&carol.token, &format!("/api/orders/{mine_id}"))
                .await
                .status(),
            StatusCode::NOT_FOUND
        );
        let alices = json(app.get_as(&alice.token, "/api/orders").await).await;
        assert_eq!(alices.as_array().unwrap().len(), 2);

        // A member cannot buy for the organisation; nobody outside it can.
        let refused = app
            .post_as(
                &bob.token,
                "/api/orders",
                &json!({"planId": pro, "orgId": org}),
            )
            .await;
        assert_eq!(refused.status(), StatusCode::FORBIDDEN);
        assert_eq!(json(refused).await["error"], "forbidden");

        // Hidden plans cannot be ordered by customers; bad input is a clear 4xx.
        let hidden = app
            .post_as(&alice.token, "/api/orders", &json!({"planId": secret}))
            .await;
        assert_eq!(hidden.status(), StatusCode::NOT_FOUND);
        for (body, status) in [
            (json!({"planId": 999_999}), StatusCode::NOT_FOUND),
            (json!({"planId": 0}), StatusCode::BAD_REQUEST),
            (json!({"planId": "x"}), StatusCode::BAD_REQUEST),
            (json!({}), StatusCode::BAD_REQUEST),
            (json!({"planId": pro, "price": 0}), StatusCode::BAD_REQUEST),
        ] {
            let response = app.post_as(&alice.token, "/api/orders", &body).await;
            assert_eq!(response.status(), status, "{body}");
        }
        assert_eq!(
            app.get("/api/orders").await.status(),
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            app.get_as(&alice.token, "/api/orders/abc").await.status(),
            StatusCode::BAD_REQUEST
        );

        // Admin endpoints are for admins only.
        for path in [
            "/api/admin/orders".to_owned(),
            format!("/api/admin/users/{}/current-plan", alice.id),
            "/api/admin/settings".to_owned(),
        ] {
            assert_eq!(
                app.get_as(&alice.token, &path).await.status(),
                StatusCode::FORBIDDEN,
                "{path}"
            );
            assert_eq!(
                app.get(&path).await.status(),
                StatusCode::UNAUTHORIZED,
                "{path}"
            );
        }
        let applied = app
            .post_as(
                &alice.token,
                &format!("/api/admin/users/{}/apply-plan", alice.id),
                &json!({"planId": pro}),
            )
            .await;
        assert_eq!(applied.status(), StatusCode::FORBIDDEN);
    }
}

#[tokio::test]
async fn cancelling_follows_the_state_machine() {
    for db in backends() {
        let app = spawn_app(db).await;
        let customer = app.seed_user("customer@example.com", "user").await;
        let admin = app.seed_user("admin@example.com", "admin").await;
        let pro = create_plan(&app, "Pro", "9.99", 5, false).await;
        let order = json(
            app.post_as(&customer.token, "/api/orders", &json!({"planId": pro}))
                .await,
        )
        .await;
        let id = order["id"].as_i64().unwrap();
        let cancelled = app
            .post_as(
                &customer.token,
                &format!("/api/orders/{id}/cancel"),
                &json!({}),
            )
            .await;
        assert_eq!(cancelled.status(), StatusCode::OK);
        assert_eq!(json(cancelled).await["status"], "cancelled");
        let again = app
            .post_as(
                &customer.token,
                &format!("/api/orders/{id}/cancel"),
                &json!({}),
            )
            .await;
        assert_eq!(again.status(), StatusCode::CONFLICT);
        let body = json(again).await;
        assert_eq!(body["error"], "conflict");
        assert!(
            body["message"].as_str().unwrap().contains("cancelled"),
            "{body}"
        );
        let pay = app
            .post_as(
                &admin.token,
                &format!("/api/admin/orders/{id}/mark-paid"),
                &json!({}),
            )
            .await;
        assert_eq!(pay.status(), StatusCode::CONFLICT);

        // Cancelling the active order puts the account back on the default plan.
        let applied = json(
            app.post_as(
                &admin.token,
                &format!("/api/admin/users/{}/apply-plan", customer.id),
                &json!({"planId": pro}),
            )
            .await,
        )
        .await;
        let active_id = applied["order"]["id"].as_i64().unwrap();
        let cancelled = app
            .post_as(
                &customer.token,
                &format!("/api/orders/{active_id}/cancel"),
                &json!({}),
            )
            .await;
        assert_eq!(cancelled.status(), StatusCode::OK);
        let current = json(
            app.get_as(
                &admin.token,
                &format!("/api/admin/users/{}/current-plan", customer.id),
            )
            .await,
        )
        .await;
        assert_eq!(current["plan"]["name"], "Free");
        assert!(current["order"].is_null());
    }
}

#[tokio::test]
async fn admins_apply_cancel_and_inspect_plans() {
    for db in backends() {
        let app = spawn_app(db).await;
        let admin = app.seed_user("admin@example.com", "admin").await;
        let customer = app.seed_user("customer@example.com", "user").await;
        let pro = create_plan(&app, "Pro", "9.99", 5, true).await; // hidden: admins may still apply it
        let base = format!("/api/admin/users/{}", customer.id);

        let nothing = app
            .post_as(&admin.token, &format!("{base}/cancel-plan"), &json!({}))
            .await;
        assert_eq!(nothing.status(), StatusCode::OK);
        let nothing = json(nothing).await;
        assert_eq!(nothing["success"], false);
        assert_eq!(nothing["error"], "no_active_plan");

        for (body, status, field) in [
            (
                json!({"planId": pro, "expiresAt": "2001-01-01T00:00:00Z"}),
                StatusCode::BAD_REQUEST,
                "expiresAt",
            ),
            (
                json!({"planId": pro, "expiresAt": "next week"}),
                StatusCode::BAD_REQUEST,
                "",
            ),
            (json!({"planId": 999_999}), StatusCode::NOT_FOUND, ""),
            (
                json!({"planId": pro, "notes": "x".repeat(2001)}),
                StatusCode::BAD_REQUEST,
                "notes",
            ),
        ] {
            let response = app
                .post_as(&admin.token, &format!("{base}/apply-plan"), &body)
                .await;
            assert_eq!(response.status(), status, "{body}");
            if !field.is_empty() {
                assert_eq!(json(response).await["field"], field);
            }
        }
        for path in [
            "/api/admin/users/999999/apply-plan",
            "/api/admin/users/999999/cancel-plan",
        ] {
            let response = app
                .post_as(&admin.token, path, &json!({"planId": pro}))
                .await;
            assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        }
        assert_eq!(
            app.get_as(&admin.token, "/api/admin/users/999999/current-plan")
                .await
                .status(),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            app.get_as(&admin.token, "/api/admin/users/0/current-plan")
                .await
                .status(),
            StatusCode::NOT_FOUND
        );

        let expires = "2099-06-30T12:00:00Z";
        let applied = json(
            app.post_as(
                &admin.token,
                &format!("{base}/apply-plan"),
                &json!({"planId": pro, "expiresAt": expires}),
            )
            .await,
        )
        .await;
        assert_eq!(applied["order"]["expiresAt"], expires);
        let current = json(
            app.get_as(&admin.token, &format!("{base}/current-plan"))
                .await,
        )
        .await;
        assert_eq!(current["plan"]["id"], pro);
        assert_eq!(current["order"]["id"], applied["order"]["id"]);

        let cancelled = json(
            app.post_as(&admin.token, &format!("{base}/cancel-plan"), &json!({}))
                .await,
        )
        .await;
        assert_eq!(cancelled, json!({"success": true}));
        let current = json(
            app.get_as(&admin.token, &format!("{base}/current-plan"))
                .await,
        )
        .await;
        assert_eq!(current["plan"]["isDefault"], true);
        assert!(current["order"].is_null());
    }
}

#[tokio::test]
async fn the_admin_order_list_is_paginated_and_filtered() {
    for db in backends() {
        let app = spawn_app(db).await;
        let admin = app.seed_user("admin@example.com", "admin").await;
        let a = app.seed_user("a@example.com", "user").await;
        let b = app.seed_user("b@example.com", "user").await;
        let pro = create_plan(&app, "Pro", "9.99", 5, false).await;
        for token in [&a.token, &a.token, &b.token] {
            assert_eq!(
                app.post_as(token, "/api/orders", &json!({"planId": pro}))
                    .await
                    .status(),
                StatusCode::CREATED
            );
        }
        let page = json(
            app.get_as(&admin.token, "/api/admin/orders?per_page=2")
                .await,
        )
        .await;
        assert_eq!(page["data"].as_array().unwrap().len(), 2);
        assert_eq!(page["meta"]["total"], 3);
        assert_eq!(page["meta"]["last_page"], 2);
        assert_eq!(page["meta"]["from"], 1);
        assert_eq!(page["meta"]["to"], 2);
        assert_eq!(page["meta"]["per_page"], 2);
        assert!(page["meta"]["path"]
            .as_str()
            .unwrap()
            .ends_with("/api/admin/orders"));
        assert!(page["links"]["next"]
            .as_str()
            .unwrap()
            .ends_with("/api/admin/orders?page=2&per_page=2"));
        assert!(page["links"]["prev"].is_null());
        let second = json(
            app.get_as(&admin.token, "/api/admin/orders?per_page=2&page=2")
                .await,
        )
        .await;
        assert_eq!(second["data"].as_array().unwrap().len(), 1);
        assert!(second["links"]["next"].is_null());
        let empty = json(app.get_as(&admin.token, "/api/admin/orders?page=5").await).await;
        assert_eq!(empty["data"], json!([]));
        assert!(empty["meta"]["from"].is_null() && empty["meta"]["to"].is_null());
        assert_eq!(empty["meta"]["total"], 3);

        let by_a = json(
            app.get_as(&admin.token, &format!("/api/admin/orders?userId={}", a.id))
                .await,
        )
        .await;
        assert_eq!(by_a["meta"]["total"], 2);
        assert!(by_a["links"]["first"]
            .as_str()
            .unwrap()
            .contains(&format!("userId={}", a.id)));
        let pending = json(
            app.get_as(&admin.token, "/api/admin/orders?status=pending")
                .await,
        )
        .await;
        assert_eq!(pending["meta"]["total"], 3);
        let active = json(
            app.get_as(&admin.token, "/api/admin/orders?status=active&userId=")
                .await,
        )
        .await;
        assert_eq!(active["meta"]["total"], 0);
        for query in [
            "status=paid",
            "per_page=101",
            "per_page=0",
            "page=0",
            "userId=abc",
            "orgId=-1",
        ] {
            let response = app
                .get_as(&admin.token, &format!("/api/admin/orders?{query}"))
                .await;
            assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{query}");
            assert_eq!(json(response).await["error"], "validation_failed");
        }
    }
}

/// Polls `path` on `app` until it answers `status` or two seconds pass.
async fn within_two_seconds(
    app: &TestApp,
    token: &str,
    path: &str,
    status: StatusCode,
) -> Duration {
    let started = Instant::now();
    loop {
        let got = app.get_as(token, path).await.status();
        if got == status {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{path} still {got} after 2 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn the_billing_switch_gates_billing_endpoints_on_every_instance() {
    for db in backends() {
        let app = spawn_app(db).await;
        let other = app.spawn_peer().await;
        let admin = app.seed_user("admin@example.com", "admin").await;
        let customer = app.seed_user("customer@example.com", "user").await;
        let pro = create_plan(&app, "Pro", "9.99", 5, false).await;
        let order = json(
            app.post_as(&customer.token, "/api/orders", &json!({"planId": pro}))
                .await,
        )
        .await;
        let id = order["id"].as_i64().unwrap();

        let off = app
            .put_as(
                &admin.token,
                "/api/admin/settings",
                &json!({"billingEnabled": false}),
            )
            .await;
        assert_eq!(off.status(), StatusCode::OK);
        assert_eq!(json(off).await, json!({"billingEnabled": false}));

        // This instance at once.
        let gets = [
            "/api/plans".to_owned(),
            format!("/api/plans/{pro}"),
            "/api/orders".to_owned(),
            format!("/api/orders/{id}"),
            format!("/api/orders/{id}/invoice"),
            "/api/admin/orders".to_owned(),
            format!("/api/admin/users/{}/current-plan", customer.id),
        ];
        for path in &gets {
            let response = app.get_as(&admin.token, path).await;
            assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE, "{path}");
            let body = json(response).await;
            assert_eq!(body["error"], "feature_disabled", "{path}");
            assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
        }
        let posts = [
            "/api/orders".to_owned(),
            format!("/api/orders/{id}/cancel"),
            format!("/api/admin/users/{}/apply-plan", customer.id),
            format!("/api/admin/users/{}/cancel-plan", customer.id),
            format!("/api/admin/orders/{id}/mark-paid"),
        ];
        for path in &posts {
            let response = app
                .post_as(&admin.token, path, &json!({"planId": pro}))
                .await;
            assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE, "{path}");
            assert_eq!(json(response).await["error"], "feature_disabled", "{path}");
        }
        // Nothing changed behind the gate.
        let stored = tariff_persistence::DieselOrderRepository::new(app.db.clone());
        use tariff_domain::orders::OrderRepository;
        let still = stored
            .get(tariff_domain::OrderId::new(id).unwrap())
            .await
            .unwrap();
        assert_eq!(still.status(), tariff_domain::orders::OrderStatus::Pending);

        // Settings, auth-free operations endpoints keep working.
        let settings = app.get_as(&admin.token, "/api/admin/settings").await;
        assert_eq!(settings.status(), StatusCode::OK);
        assert_eq!(json(settings).await, json!({"billingEnabled": false}));
        assert_eq!(app.get("/healthz").await.status(), StatusCode::OK);
        assert_eq!(app.get("/readyz").await.status(), StatusCode::OK);
        assert_eq!(app.get("/api/openapi.json").await.status(), StatusCode::OK);

        // The other instance follows within two seconds.
        let lag = within_two_seconds(
            &other,
            &customer.token,
            "/api/plans",
            StatusCode::SERVICE_UNAVAILABLE,
        )
        .await;
        eprintln!(
            "{:?}: second instance saw billing off after {lag:?}",
            app.backend()
        );

        let on = other
            .put_as(
                &admin.token,
                "/api/admin/settings",
                &json!({"billingEnabled": true}),
            )
            .await;
        assert_eq!(json(on).await, json!({"billingEnabled": true}));
        assert_eq!(
            other.get_as(&customer.token, "/api/orders").await.status(),
            StatusCode::OK
        );
        within_two_seconds(&app, &customer.token, "/api/orders", StatusCode::OK).await;

        // Settings input is checked.
        for body in [json!({"billingEnabled": "no"}), json!({"billing": false})] {
            let response = app.put_as(&admin.token, "/api/admin/settings", &body).await;
            assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body}");
        }
        let customer_put = app
            .put_as(
                &customer.token,
                "/api/admin/settings",
                &json!({"billingEnabled": false}),
            )
            .await;
        assert_eq!(customer_put.status(), StatusCode::FORBIDDEN);
    }
}

#[tokio::test]
async fn concurrent_apply_plan_requests_leave_exactly_one_active_order() {
    for db in backends() {
        let app = spawn_app(db).await;
        let backend = app.backend();
        let admin = app.seed_user("admin@example.com", "admin").await;
        let customer = app.seed_user("customer@example.com", "user").await;
        let pro = create_plan(&app, "Pro", "9.99", 5, false).await;
        let path = format!("/api/admin/users/{}/apply-plan", customer.id);
        let started = Instant::now();
        let body = json!({"planId": pro});
        let requests = (0..50).map(|_| app.post_as(&admin.token, &path, &body));
        let responses = join_all(requests).await;
        let elapsed = started.elapsed();
        let mut ok = 0;
        let mut conflicts = 0;
        for response in responses {
            match response.status() {
                StatusCode::OK => ok += 1,
                StatusCode::CONFLICT => {
                    assert_eq!(json(response).await["error"], "conflict");
                    conflicts += 1;
                }
                other => panic!(
                    "{backend:?}: unexpected {other}: {}",
                    response.text().await.unwrap()
                ),
            }
        }
        eprintln!("{backend:?}: 50 concurrent apply-plan: {ok} applied, {conflicts} clean 409, {elapsed:?}");
        assert!(ok >= 1);
        let active = json(
            app.get_as(
                &admin.token,
                &format!("/api/admin/orders?status=active&userId={}", customer.id),
            )
            .await,
        )
        .await;
        assert_eq!(active["meta"]["total"], 1, "{backend:?}");
        let all = json(
            app.get_as(
                &admin.token,
                &format!("/api/admin/orders?per_page=100&userId={}", customer.id),
            )
            .await,
        )
        .await;
        assert_eq!(
            all["meta"]["total"], ok,
            "{backend:?}: every applied order is stored, no half-written ones"
        );
        let current = json(
            app.get_as(
                &admin.token,
                &format!("/api/admin/users/{}/current-plan", customer.id),
            )
            .await,
        )
        .await;
        assert_eq!(current["order"]["id"], active["data"][0]["id"]);
    }
}

/// 100 activations at once (apply-plan for 100 users), spread over `apps`; returns the
/// invoice sequence numbers given.
async fn hundred_activations(apps: &[&TestApp]) -> Vec<i64> {
    let first = apps[0];
    let admin = first.seed_user("admin@example.com", "admin").await;
    let pro = create_plan(first, "Pro", "9.99", 5, false).await;
    let mut users = Vec::new();
    for i in 0..100 {
        users.push(
            first
                .seed_user(&format!("user{i}@example.com"), "user")
                .await
                .id,
        );
    }
    let requests = users.iter().enumerate().map(|(i, user)| {
        let app = apps[i % apps.len()];
        let path = format!("/api/admin/users/{user}/apply-plan");
        let token = admin.token.clone();
        let body = json!({"planId": pro});
        async move { app.post_as(&token, &path, &body).await }
    });
    let started = Instant::now();
    let responses = join_all(requests).await;
    eprintln!(
        "{:?}: 100 concurrent activations on {} instance(s) in {:?}",
        first.backend(),
        apps.len(),
        started.elapsed()
    );
    let mut numbers = Vec::new();
    for response in responses {
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = json(response).await;
        let number = body["order"]["invoiceNumber"].as_str().unwrap().to_owned();
        let prefix = format!("INV-{}-", year());
        assert!(number.starts_with(&prefix), "{number}");
        numbers.push(number[prefix.len()..].parse::<i64>().unwrap());
    }
    numbers.sort_unstable();
    numbers
}

#[tokio::test]
async fn invoice_numbers_stay_gapless_under_concurrency() {
    // SQLite: one instance.
    let app = spawn_app(tariff_tests::TestDatabase::sqlite()).await;
    assert_eq!(
        hundred_activations(&[&app]).await,
        (1..=100).collect::<Vec<_>>()
    );
    // PostgreSQL: two instances on one database.
    if let Some(db) = tariff_tests::TestDatabase::postgres() {
        let first = spawn_app(db).await;
        let second = first.spawn_peer().await;
        assert_eq!(first.backend(), Backend::Postgres);
        assert_eq!(
            hundred_activations(&[&first, &second]).await,
            (1..=100).collect::<Vec<_>>()
        );
    }
}

#[tokio::test]
async fn the_openapi_document_lists_the_order_endpoints() {
    let app = spawn_app(tariff_tests::TestDatabase::sqlite()).await;
    let doc = json(app.get("/api/openapi.json").await).await;
    for (path, method) in [
        ("/api/orders", "get"),
        ("/api/orders", "post"),
        ("/api/orders/{id}", "get"),
        ("/api/orders/{id}/cancel", "post"),
        ("/api/admin/users/{id}/apply-plan", "post"),
        ("/api/admin/users/{id}/cancel-plan", "post"),
        ("/api/admin/users/{id}/current-plan", "get"),
        ("/api/admin/orders", "get"),
        ("/api/admin/orders/{id}/mark-paid", "post"),
        ("/api/admin/settings", "get"),
        ("/api/admin/settings", "put"),
    ] {
        assert!(
            doc["paths"][path][method].is_object(),
            "openapi lacks {method} {path}"
        );
    }
}

/// The text of a PDF through `pdftotext`, or `None` (with a loud line) without it.
fn pdf_text(pdf: &[u8]) -> Option<String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("invoice.pdf");
    std::fs::write(&path, pdf).unwrap();
    match std::process::Command::new("pdftotext")
        .arg(&path)
        .arg("-")
        .output()
    {
        Ok(out) if out.status.success() => Some(String::from_utf8_lossy(&out.stdout).into_owned()),
        _ => {
            eprintln!("SKIPPING PDF text checks: pdftotext is not available");
            None
        }
    }
}

async fn download(app: &TestApp, token: &str, id: i64) -> Vec<u8> {
    let response = app
        .get_as(token, &format!("/api/orders/{id}/invoice"))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers().clone();
    assert_eq!(headers["content-type"], "application/pdf");
    assert_eq!(
        headers["content-disposition"],
        format!("attachment; filename=\"invoice-{id}.pdf\"").as_str()
    );
    let pdf = response.bytes().await.unwrap().to_vec();
    assert!(pdf.starts_with(b"%PDF"));
    pdf
}

#[tokio::test]
async fn invoices_download_as_proforma_then_numbered() {
    for db in backends() {
        let app = spawn_taxed(db).await;
        let admin = app.seed_user("admin@example.com", "admin").await;
        let customer = app.seed_user("zoe@example.com", "user").await;
        let stranger = app.seed_user("stranger@example.com", "user").await;
        set_country(&app, &admin.token, customer.id, "DE").await;
        let pro = create_plan(&app, "Pro", "9.99", 5, false).await;

        let order = json(
            app.post_as(&customer.token, "/api/orders", &json!({"planId": pro}))
                .await,
        )
        .await;
        let id = order["id"].as_i64().unwrap();
        let proforma = download(&app, &customer.token, id).await;
        if let Some(text) = pdf_text(&proforma) {
            assert!(text.contains("PROFORMA"), "{text}");
            assert!(!text.contains("INV-"), "{text}");
            assert!(
                text.contains("11.89") && text.contains("zoe@example.com"),
                "{text}"
            );
        }
        assert_eq!(
            app.get_as(&stranger.token, &format!("/api/orders/{id}/invoice"))
                .await
                .status(),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            app.get(&format!("/api/orders/{id}/invoice")).await.status(),
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            app.get_as(&customer.token, "/api/orders/999999/invoice")
                .await
                .status(),
            StatusCode::NOT_FOUND
        );

        let paid = app
            .post_as(
                &admin.token,
                &format!("/api/admin/orders/{id}/mark-paid"),
                &json!({"reference": "BANK-77"}),
            )
            .await;
        assert_eq!(paid.status(), StatusCode::OK);
        let applied = json(
            app.post_as(
                &admin.token,
                &format!("/api/admin/users/{}/apply-plan", customer.id),
                &json!({"planId": pro, "notes": "SECRET-NOTE comped"}),
            )
            .await,
        )
        .await;
        let applied_id = applied["order"]["id"].as_i64().unwrap();
        let invoice = download(&app, &customer.token, id).await;
        let admin_copy = download(&app, &admin.token, applied_id).await;
        assert!(invoice.len() < 100 * 1024, "{} bytes", invoice.len());
        if let (Some(text), Some(admin_text)) = (pdf_text(&invoice), pdf_text(&admin_copy)) {
            assert!(text.contains(&format!("INV-{}-000001", year())), "{text}");
            assert!(!text.contains("PROFORMA"), "{text}");
            assert!(
                text.contains("BANK-77") && text.contains("11.89") && text.contains("19"),
                "{text}"
            );
            assert!(
                admin_text.contains(&format!("INV-{}-000002", year())),
                "{admin_text}"
            );
            assert!(
                !admin_text.contains("SECRET-NOTE"),
                "internal notes on an invoice: {admin_text}"
            );
        }
    }
}
