//! `GET /api/orders` answers from a per-user cache. These tests prove the cache never
//! shows a stale list for long: the instance that writes shows the change at once, a
//! peer instance on the same database within a second, for orders and for membership
//! changes (which decide whose orders a user sees), and also for changes made straight
//! in the database. Both backends.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};
use tariff_tests::{backends, execute_sql, json, spawn_app, TestApp};

/// The ids in the caller's order list, newest first.
async fn listed(app: &TestApp, token: &str) -> Vec<i64> {
    let response = app.get_as(token, "/api/orders").await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = json(response).await;
    body.as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_i64().unwrap())
        .collect()
}

/// The status of order `id` in the caller's list.
async fn listed_status(app: &TestApp, token: &str, id: i64) -> Option<String> {
    let body = json(app.get_as(token, "/api/orders").await).await;
    body.as_array()
        .unwrap()
        .iter()
        .find(|o| o["id"] == id)
        .map(|o| o["status"].as_str().unwrap().to_owned())
}

/// Polls `check` until it holds, failing after 1.5 s (the promise is "within a second").
async fn within_a_second<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while !check().await {
        assert!(
            started.elapsed() < Duration::from_millis(1_500),
            "{what}: not seen within a second"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn paid_plan(app: &TestApp, admin: &str) -> i64 {
    let created = app
        .post_as(
            admin,
            "/api/admin/plans",
            &json!({"name": "Pro", "price": 9.99, "serverLimit": 5}),
        )
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    json(created).await["id"].as_i64().unwrap()
}

async fn place(app: &TestApp, token: &str, body: Value) -> i64 {
    let placed = app.post_as(token, "/api/orders", &body).await;
    assert_eq!(placed.status(), StatusCode::CREATED);
    json(placed).await["id"].as_i64().unwrap()
}

#[tokio::test]
async fn the_writing_instance_shows_its_own_order_changes_at_once() {
    for db in backends() {
        let app = spawn_app(db).await;
        let admin = app.seed_user("admin@example.com", "admin").await;
        let alice = app.seed_user("alice@example.com", "user").await;
        let pro = paid_plan(&app, &admin.token).await;

        assert!(listed(&app, &alice.token).await.is_empty());
        let first = place(&app, &alice.token, json!({"planId": pro})).await;
        assert_eq!(listed(&app, &alice.token).await, vec![first]);
        // Served twice from the cache, then a write: the next read has it.
        assert_eq!(listed(&app, &alice.token).await, vec![first]);
        let second = place(&app, &alice.token, json!({"planId": pro})).await;
        assert_eq!(listed(&app, &alice.token).await, vec![second, first]);

        let cancelled = app
            .post_as(
                &alice.token,
                &format!("/api/orders/{first}/cancel"),
                &json!({}),
            )
            .await;
        assert_eq!(cancelled.status(), StatusCode::OK);
        assert_eq!(
            listed_status(&app, &alice.token, first).await.as_deref(),
            Some("cancelled")
        );
        let paid = app
            .post_as(
                &admin.token,
                &format!("/api/admin/orders/{second}/mark-paid"),
                &json!({}),
            )
            .await;
        assert_eq!(paid.status(), StatusCode::OK);
        assert_eq!(
            listed_status(&app, &alice.token, second).await.as_deref(),
            Some("active")
        );
        let applied = app
            .post_as(
                &admin.token,
                &format!("/api/admin/users/{}/apply-plan", alice.id),
                &json!({"planId": pro}),
            )
            .await;
        assert_eq!(applied.status(), StatusCode::OK);
        let third = json(applied).await["order"]["id"].as_i64().unwrap();
        assert_eq!(listed(&app, &alice.token).await, vec![third, second, first]);
        assert_eq!(
            listed_status(&app, &alice.token, second).await.as_deref(),
            Some("cancelled"),
            "replaced by the applied plan"
        );
    }
}

#[tokio::test]
async fn a_peer_instance_shows_order_and_membership_changes_within_a_second() {
    for db in backends() {
        let app = spawn_app(db).await;
        let peer = app.spawn_peer().await;
        let admin = app.seed_user("admin@example.com", "admin").await;
        let alice = app.seed_user("alice@example.com", "user").await;
        let bob = app.seed_user("bob@example.com", "user").await;
        let pro = paid_plan(&app, &admin.token).await;
        let org = json(
            app.post_as(&alice.token, "/api/organisations", &json!({"name": "Acme"}))
                .await,
        )
        .await["id"]
            .as_i64()
            .unwrap();
        let org_order = place(&app, &alice.token, json!({"planId": pro, "orgId": org})).await;

        // Bob sees nothing, and the peer caches that.
        assert!(listed(&peer, &bob.token).await.is_empty());
        assert!(listed(&peer, &bob.token).await.is_empty());

        // Alice makes Bob an admin through the first instance: the peer shows Bob the
        // organisation's orders within a second.
        let added = app
            .post_as(
                &alice.token,
                &format!("/api/organisations/{org}/members"),
                &json!({"userId": bob.id, "role": "admin"}),
            )
            .await;
        assert!(added.status().is_success());
        within_a_second("membership added", || async {
            listed(&peer, &bob.token).await == vec![org_order]
        })
        .await;

        // An order for the organisation placed on the first instance reaches Bob's
        // cached list on the peer.
        let bob_own = place(&peer, &bob.token, json!({"planId": pro})).await;
        assert_eq!(listed(&peer, &bob.token).await, vec![bob_own, org_order]);
        let newer = place(&app, &alice.token, json!({"planId": pro, "orgId": org})).await;
        within_a_second("new organisation order", || async {
            listed(&peer, &bob.token).await == vec![newer, bob_own, org_order]
        })
        .await;

        // Demoted to member: the organisation's orders disappear from Bob's list.
        let demoted = app
            .post_as(
                &alice.token,
                &format!("/api/organisations/{org}/members"),
                &json!({"userId": bob.id, "role": "member"}),
            )
            .await;
        assert!(demoted.status().is_success());
        within_a_second("membership demoted", || async {
            listed(&peer, &bob.token).await == vec![bob_own]
        })
        .await;
        // Alice's own cached view on the peer follows a cancellation made elsewhere.
        assert_eq!(
            listed_status(&peer, &alice.token, newer).await.as_deref(),
            Some("pending")
        );
        let cancelled = app
            .post_as(
                &alice.token,
                &format!("/api/orders/{newer}/cancel"),
                &json!({}),
            )
            .await;
        assert_eq!(cancelled.status(), StatusCode::OK);
        within_a_second("cancellation", || async {
            listed_status(&peer, &alice.token, newer).await.as_deref() == Some("cancelled")
        })
        .await;
    }
}

#[tokio::test]
async fn a_change_made_straight_in_the_database_reaches_the_cache_within_a_second() {
    for db in backends() {
        let app = spawn_app(db).await;
        let admin = app.seed_user("admin@example.com", "admin").await;
        let alice = app.seed_user("alice@example.com", "user").await;
        let pro = paid_plan(&app, &admin.token).await;
        let id = place(&app, &alice.token, json!({"planId": pro})).await;
        assert_eq!(
            listed_status(&app, &alice.token, id).await.as_deref(),
            Some("pending")
        );
        // An operator's manual fix, bypassing the service.
        execute_sql(
            &app.db,
            format!("UPDATE orders SET status = 'expired' WHERE id = {id}"),
        )
        .await
        .unwrap();
        within_a_second("manual update", || async {
            listed_status(&app, &alice.token, id).await.as_deref() == Some("expired")
        })
        .await;
    }
}

#[tokio::test]
async fn cached_lists_stay_private() {
    for db in backends() {
        let app = spawn_app(db).await;
        let admin = app.seed_user("admin@example.com", "admin").await;
        let alice = app.seed_user("alice@example.com", "user").await;
        let bob = app.seed_user("bob@example.com", "user").await;
        let pro = paid_plan(&app, &admin.token).await;
        let hers = place(&app, &alice.token, json!({"planId": pro})).await;
        assert_eq!(listed(&app, &alice.token).await, vec![hers]);
        // Bob asks right after Alice's list was cached: he gets his own (empty) list.
        assert!(listed(&app, &bob.token).await.is_empty());
        assert_eq!(listed(&app, &alice.token).await, vec![hers]);
        let anonymous = app.get("/api/orders").await;
        assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    }
}
