//! Panel sign-in (CONTRACT.md part two, "Panel sign-in") against a fake panel: a real
//! HTTP server on port 0 that answers the session look-up as EcliPanel does. Covers
//! first sight under the panel's ids, email refresh, admin roles, a stale Bearer token
//! beside a valid cookie, the cache, a revoked session once the cache has expired, and
//! a panel outage (503 `upstream_unavailable`).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;
use tariff_tests::fake_panel::FakePanel;
use tariff_tests::{backends, json, spawn_app_with, TestApp, TestDatabase};

async fn spawn(db: TestDatabase, panel: &FakePanel, cache_ms: u64) -> TestApp {
    let url = panel.session_url.clone();
    spawn_app_with(db, move |s| {
        s.auth.panel.session_url = Some(url);
        s.auth.panel.cache_ms = cache_ms;
        s.auth.panel.timeout_ms = 500;
    })
    .await
}

/// A request as the panel's browser sends it: the `token` cookie, nothing else.
async fn get_with_cookie(app: &TestApp, token: &str, path: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(app.url(path))
        .header("cookie", format!("token={token}"))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_panel_user_is_known_at_once_under_the_panels_id_and_email() {
    for db in backends() {
        let panel = FakePanel::start().await;
        let app = spawn(db, &panel, 0).await;
        panel.sign_in("sess-ada", 4242, "Ada@Example.com", "user");

        let me = get_with_cookie(&app, "sess-ada", "/api/me").await;
        assert_eq!(me.status(), StatusCode::OK);
        let me = json(me).await;
        assert_eq!(me["id"], 4242, "{me}");
        assert_eq!(me["email"], "ada@example.com");
        assert_eq!(me["role"], "user");
        assert_eq!(panel.cookies_seen(), vec!["token=sess-ada".to_owned()]);

        // Orders are placed under the panel's id.
        let orders = get_with_cookie(&app, "sess-ada", "/api/orders").await;
        assert_eq!(orders.status(), StatusCode::OK);
        assert_eq!(json(orders).await, json!([]));

        // The panel changes the email: the next sign-in refreshes it.
        panel.sign_in("sess-ada", 4242, "ada@newmail.example", "user");
        let me = json(get_with_cookie(&app, "sess-ada", "/api/me").await).await;
        assert_eq!(me["email"], "ada@newmail.example");

        // Users the panel does not know, and junk cookies, are 401.
        let unknown = get_with_cookie(&app, "sess-nobody", "/api/me").await;
        assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(json(unknown).await["error"], "unauthorized");
        let anonymous = app.get("/api/me").await;
        assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);

        // An answer without a user id (the panel's "not signed in") is 401 too.
        panel.set_session("sess-odd", json!({"email": "x@example.com"}));
        let odd = get_with_cookie(&app, "sess-odd", "/api/me").await;
        assert_eq!(odd.status(), StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test]
async fn panel_admin_roles_act_as_admins_and_admin_calls_create_the_named_users() {
    for db in backends() {
        let panel = FakePanel::start().await;
        let app = spawn(db, &panel, 0).await;
        panel.sign_in("sess-root", 1, "root@example.com", "rootAdmin");
        panel.sign_in("sess-star", 2, "star@example.com", "*");
        panel.sign_in("sess-user", 3, "user@example.com", "user");
        for token in ["sess-root", "sess-star"] {
            let plans = get_with_cookie(&app, token, "/api/admin/plans").await;
            assert_eq!(plans.status(), StatusCode::OK, "{token}");
        }
        let refused = get_with_cookie(&app, "sess-user", "/api/admin/plans").await;
        assert_eq!(refused.status(), StatusCode::FORBIDDEN);

        // The admin's current-plan dialog for a panel user Tariff has never seen.
        let current = get_with_cookie(&app, "sess-root", "/api/admin/users/777/current-plan").await;
        assert_eq!(current.status(), StatusCode::OK);
        let user = get_with_cookie(&app, "sess-root", "/api/admin/users/777").await;
        assert_eq!(user.status(), StatusCode::OK);
        let user = json(user).await;
        assert_eq!(user["id"], 777);
        assert_eq!(user["email"], "panel-user-777@panel.invalid");

        // When user 777 signs in, their real email replaces the placeholder.
        panel.sign_in("sess-777", 777, "seven@example.com", "user");
        let me = json(get_with_cookie(&app, "sess-777", "/api/me").await).await;
        assert_eq!(me["id"], 777);
        assert_eq!(me["email"], "seven@example.com");
    }
}

#[tokio::test]
async fn admin_quota_calls_create_the_named_users() {
    for db in backends() {
        let panel = FakePanel::start().await;
        let app = spawn(db, &panel, 0).await;
        panel.sign_in("sess-root", 1, "root@example.com", "rootAdmin");
        let client = reqwest::Client::new();
        let send = |method: reqwest::Method, path: &str, body: serde_json::Value| {
            client
                .request(method, app.url(path))
                .header("cookie", "token=sess-root")
                .json(&body)
                .send()
        };

        // Each of the admin's quota calls names a panel user Tariff has never seen.
        let check = send(
            reqwest::Method::POST,
            "/api/admin/users/801/usage/check",
            json!({"resource": "servers", "delta": 1}),
        )
        .await
        .unwrap();
        assert_eq!(check.status(), StatusCode::OK);
        let limits = send(
            reqwest::Method::PUT,
            "/api/admin/users/802/limits",
            json!({"servers": 5}),
        )
        .await
        .unwrap();
        assert_eq!(limits.status(), StatusCode::OK);
        let usage = send(
            reqwest::Method::POST,
            "/api/admin/users/803/usage",
            json!({"resource": "servers", "delta": 1}),
        )
        .await
        .unwrap();
        assert_eq!(usage.status(), StatusCode::OK);
        assert_eq!(json(usage).await["used"], 1);
        let quota = get_with_cookie(&app, "sess-root", "/api/users/804/quota").await;
        assert_eq!(quota.status(), StatusCode::OK);

        // Each exists under the panel's id with the placeholder email.
        let listed =
            json(get_with_cookie(&app, "sess-root", "/api/admin/users?email=panel-user-").await)
                .await;
        let emails: Vec<&str> = listed["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|user| user["email"].as_str().unwrap())
            .collect();
        assert_eq!(
            emails,
            [801, 802, 803, 804].map(|id| format!("panel-user-{id}@panel.invalid")),
            "{listed}"
        );
        let quota = json(get_with_cookie(&app, "sess-root", "/api/users/802/quota").await).await;
        assert_eq!(quota["limits"]["servers"], 5, "{quota}");
        let quota = json(get_with_cookie(&app, "sess-root", "/api/users/803/quota").await).await;
        assert_eq!(quota["usage"]["servers"], 1, "{quota}");

        // A non-admin naming someone else still learns nothing, and creates nobody.
        panel.sign_in("sess-user", 3, "user@example.com", "user");
        let foreign = get_with_cookie(&app, "sess-user", "/api/users/805/quota").await;
        assert_eq!(foreign.status(), StatusCode::NOT_FOUND);
        let listed =
            json(get_with_cookie(&app, "sess-root", "/api/admin/users?email=panel-user-805").await)
                .await;
        assert_eq!(listed["data"], json!([]), "{listed}");
    }
}

#[tokio::test]
async fn a_stale_bearer_token_does_not_hide_a_valid_panel_cookie() {
    for db in backends() {
        let panel = FakePanel::start().await;
        let app = spawn(db, &panel, 0).await;
        panel.sign_in("sess-ada", 50, "ada@example.com", "user");
        let response = reqwest::Client::new()
            .get(app.url("/api/me"))
            .bearer_auth("stale-panel-jwt")
            .header("cookie", "token=sess-ada")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(json(response).await["id"], 50);

        // Tariff's own token still works, and wins over the cookie.
        let own = app.seed_user("tariff-admin@example.com", "admin").await;
        let response = reqwest::Client::new()
            .get(app.url("/api/me"))
            .bearer_auth(&own.token)
            .header("cookie", "token=sess-ada")
            .send()
            .await
            .unwrap();
        assert_eq!(json(response).await["id"], own.id);
    }
}

#[tokio::test]
async fn answers_are_cached_and_a_revoked_session_ends_when_its_entry_expires() {
    for db in backends() {
        let panel = FakePanel::start().await;
        let app = spawn(db, &panel, 400).await;
        panel.sign_in("sess-ada", 60, "ada@example.com", "user");
        for _ in 0..5 {
            let me = get_with_cookie(&app, "sess-ada", "/api/me").await;
            assert_eq!(me.status(), StatusCode::OK);
        }
        assert_eq!(
            panel.requests(),
            1,
            "one look-up within the cache's lifetime"
        );

        let revoked_at = Instant::now();
        panel.revoke("sess-ada");
        // Until the entry expires the cached answer stands; afterwards the panel's 401.
        let mut status = StatusCode::OK;
        while revoked_at.elapsed() < Duration::from_secs(3) {
            status = get_with_cookie(&app, "sess-ada", "/api/me").await.status();
            if status != StatusCode::OK {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(
            revoked_at.elapsed() < Duration::from_secs(2),
            "{:?}",
            revoked_at.elapsed()
        );

        // Refusals are not cached: signing in again works at once.
        panel.sign_in("sess-ada", 60, "ada@example.com", "user");
        let me = get_with_cookie(&app, "sess-ada", "/api/me").await;
        assert_eq!(me.status(), StatusCode::OK);
    }
}

#[tokio::test]
async fn a_panel_outage_is_503_upstream_unavailable() {
    for db in backends() {
        let panel = FakePanel::start().await;
        let app = spawn(db, &panel, 0).await;
        panel.sign_in("sess-ada", 70, "ada@example.com", "user");
        assert_eq!(
            get_with_cookie(&app, "sess-ada", "/api/me").await.status(),
            StatusCode::OK
        );

        // The panel fails.
        panel.set_failing(true);
        let down = get_with_cookie(&app, "sess-ada", "/api/orders").await;
        assert_eq!(down.status(), StatusCode::SERVICE_UNAVAILABLE);
        let body = json(down).await;
        assert_eq!(body["error"], "upstream_unavailable");
        assert!(
            !body.to_string().contains("sess-ada"),
            "no cookie in the answer"
        );
        panel.set_failing(false);

        // The panel is too slow: cut off at the timeout.
        panel.set_delay(Duration::from_millis(1500));
        let started = Instant::now();
        let slow = get_with_cookie(&app, "sess-ada", "/api/me").await;
        assert_eq!(slow.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(
            started.elapsed() < Duration::from_millis(1400),
            "{:?}",
            started.elapsed()
        );
        panel.set_delay(Duration::ZERO);

        // Nothing listens any more.
        panel.stop().await;
        let gone = get_with_cookie(&app, "sess-ada", "/api/me").await;
        assert_eq!(gone.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(json(gone).await["error"], "upstream_unavailable");

        // Tariff's own credentials and public routes do not depend on the panel.
        let own = app.seed_user("own@example.com", "user").await;
        assert_eq!(
            app.get_as(&own.token, "/api/me").await.status(),
            StatusCode::OK
        );
        assert_eq!(app.get("/api/plans").await.status(), StatusCode::OK);
    }
}

#[tokio::test]
async fn panel_sign_in_is_off_without_a_session_url() {
    let app = tariff_tests::spawn_app(TestDatabase::sqlite()).await;
    let response = get_with_cookie(&app, "sess-ada", "/api/me").await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let response = get_with_cookie(&app, "sess-ada", "/api/admin/users/777").await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}
