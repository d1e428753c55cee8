//! The foundation through HTTP: the public catalogue, the error contract, operations
//! endpoints. Every test runs on SQLite and, with TEST_DATABASE_URL, on PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use reqwest::StatusCode;
use tariff_tests::{backends, json, spawn_app};

#[tokio::test]
async fn fresh_service_serves_the_free_plan() {
    for db in backends() {
        let app = spawn_app(db).await;
        let response = app.get("/api/plans").await;
        assert_eq!(response.status(), StatusCode::OK);
        let plans = json(response).await;
        let plans = plans.as_array().expect("bare array");
        assert_eq!(plans.len(), 1, "{:?}", app.backend());
        assert_eq!(plans[0]["name"], "Free");
        assert_eq!(plans[0]["price"].to_string(), "0.0");
        assert_eq!(plans[0]["isDefault"], true);
        assert_eq!(plans[0]["currency"], "USD");
        let id = plans[0]["id"].as_i64().unwrap();
        let one = json(app.get(&format!("/api/plans/{id}")).await).await;
        assert_eq!(one, plans[0]);
    }
}

#[tokio::test]
async fn errors_follow_the_contract() {
    for db in backends() {
        let app = spawn_app(db).await;
        let cases = [
            ("GET", "/api/plans/abc", 400, "validation_failed"),
            ("GET", "/api/plans/99999", 404, "not_found"),
            ("GET", "/api/plans/0", 404, "not_found"),
            ("GET", "/api/plans/-1", 404, "not_found"),
            (
                "GET",
                "/api/plans/99999999999999999999999",
                400,
                "validation_failed",
            ),
            ("GET", "/no/such/route", 404, "not_found"),
            ("DELETE", "/api/plans", 405, "method_not_allowed"),
            ("POST", "/healthz", 405, "method_not_allowed"),
        ];
        for (method, path, status, code) in cases {
            let response = app
                .client
                .request(method.parse().unwrap(), app.url(path))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status().as_u16(), status, "{method} {path}");
            assert_eq!(
                response
                    .headers()
                    .get("content-type")
                    .map(|v| v.to_str().unwrap()),
                Some("application/json"),
                "{method} {path}"
            );
            let body = json(response).await;
            assert_eq!(body["error"], code, "{method} {path}: {body}");
            assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
        }
    }
}

#[tokio::test]
async fn operations_endpoints_answer() {
    for db in backends() {
        let app = spawn_app(db).await;
        assert_eq!(app.get("/healthz").await.status(), StatusCode::OK);
        let ready = app.get("/readyz").await;
        assert_eq!(ready.status(), StatusCode::OK);
        let doc = json(app.get("/api/openapi.json").await).await;
        assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
        for path in ["/api/plans", "/api/plans/{id}", "/healthz", "/readyz"] {
            assert!(doc["paths"][path].is_object(), "openapi lacks {path}");
        }
    }
}

#[tokio::test]
async fn every_response_carries_security_headers() {
    let app = spawn_app(tariff_tests::TestDatabase::sqlite()).await;
    for path in ["/api/plans", "/nope", "/api/plans/abc"] {
        let response = app.get(path).await;
        let headers = response.headers();
        assert_eq!(
            headers.get("x-content-type-options").unwrap(),
            "nosniff",
            "{path}"
        );
        assert!(headers.get("referrer-policy").is_some(), "{path}");
        assert!(headers.get("server").is_none(), "{path}");
    }
}

#[tokio::test]
async fn seeded_tokens_authenticate() {
    for db in backends() {
        let app = spawn_app(db).await;
        let user = app.seed_user("someone@example.com", "user").await;
        // No endpoint of the foundation needs auth yet; the resolver is checked directly.
        use tariff_persistence::DieselIdentity;
        let identity = DieselIdentity::new(app.db.clone());
        let caller = tariff_domain_resolve(&identity, &user.token).await;
        assert_eq!(caller, Some(user.id));
        assert_eq!(tariff_domain_resolve(&identity, "tff_wrong").await, None);
    }
}

async fn tariff_domain_resolve(
    identity: &tariff_persistence::DieselIdentity,
    token: &str,
) -> Option<i64> {
    use tariff_domain::identity::CallerResolver;
    let credential = tariff_domain::Credential::Bearer(token.to_owned());
    identity
        .resolve(&credential, chrono::Utc::now())
        .await
        .unwrap()
        .map(|c| c.user_id().get())
}

#[tokio::test]
async fn plan_list_cache_sees_writes_from_another_instance_within_a_second() {
    use std::sync::Arc;
    use tariff_domain::catalogue::CatalogueService;
    use tariff_domain::PlanDraft;
    use tariff_persistence::DieselPlanRepository;

    for db in backends() {
        let app = spawn_app(db).await;
        let peer = app.spawn_peer().await;
        assert_eq!(
            json(peer.get("/api/plans").await)
                .await
                .as_array()
                .unwrap()
                .len(),
            1
        );
        // A write through another process's service: only the shared version tells the peer.
        let elsewhere = CatalogueService::new(Arc::new(DieselPlanRepository::new(app.db.clone())));
        elsewhere
            .create(
                PlanDraft {
                    name: "Pro".into(),
                    price: "9.99".into(),
                    ..PlanDraft::default()
                },
                tariff_domain::audit::Actor::Operator,
            )
            .await
            .unwrap();
        let started = std::time::Instant::now();
        loop {
            let plans = json(peer.get("/api/plans").await).await;
            if plans.as_array().unwrap().len() == 2 {
                break;
            }
            assert!(
                started.elapsed() < std::time::Duration::from_secs(1),
                "peer still serves the stale list"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
}

#[tokio::test]
async fn metrics_count_requests_by_route_pattern() {
    let app = spawn_app(tariff_tests::TestDatabase::sqlite()).await;
    app.get("/api/plans/1").await;
    app.get("/api/plans/2").await;
    let response = app.get("/metrics").await;
    assert_eq!(response.status(), StatusCode::OK);
    let text = response.text().await.unwrap();
    assert!(
        text.contains(
            r#"tariff_http_requests_total{method="GET",route="/api/plans/{id}",status="200"} 1"#
        ),
        "{text}"
    );
    assert!(
        text.contains(r#"route="/api/plans/{id}",status="404"} 1"#),
        "{text}"
    );
    assert!(text.contains("tariff_http_request_duration_seconds_count"));
}

#[tokio::test]
async fn cors_is_off_unless_origins_are_configured() {
    let app = spawn_app(tariff_tests::TestDatabase::sqlite()).await;
    let response = app
        .client
        .get(app.url("/api/plans"))
        .header("Origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response
        .headers()
        .get("access-control-allow-origin")
        .is_none());

    let app = tariff_tests::spawn_app_with(tariff_tests::TestDatabase::sqlite(), |s| {
        s.server.cors_allowed_origins = vec!["https://panel.example".into()];
    })
    .await;
    let allowed = app
        .client
        .get(app.url("/api/plans"))
        .header("Origin", "https://panel.example")
        .send()
        .await
        .unwrap();
    assert_eq!(
        allowed
            .headers()
            .get("access-control-allow-origin")
            .unwrap(),
        "https://panel.example"
    );
    let other = app
        .client
        .get(app.url("/api/plans"))
        .header("Origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn every_answer_names_its_request_id() {
    let app = spawn_app(tariff_persistence::testing::TestDatabase::sqlite()).await;
    let http = reqwest::Client::new();

    let chosen = http
        .get(app.url("/api/plans"))
        .header("X-Request-Id", "panel-7f3a:req.42_b")
        .send()
        .await
        .unwrap();
    assert_eq!(chosen.headers()["x-request-id"], "panel-7f3a:req.42_b");

    let made = app.get("/api/plans/99999").await;
    assert_eq!(made.status(), StatusCode::NOT_FOUND);
    let made_id = made.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(made_id.len(), 16, "{made_id}");
    assert!(made_id.bytes().all(|b| b.is_ascii_hexdigit()), "{made_id}");
    let another = app.get("/healthz").await;
    assert_ne!(another.headers()["x-request-id"], made_id.as_str());

    // A header that could smuggle text into log lines is replaced, not echoed.
    for hostile in ["two words", &"x".repeat(129), "a\"b"] {
        let replaced = http
            .get(app.url("/healthz"))
            .header("X-Request-Id", hostile)
            .send()
            .await
            .unwrap();
        let id = replaced.headers()["x-request-id"].to_str().unwrap();
        assert_ne!(id, hostile);
        assert_eq!(id.len(), 16, "{id}");
    }
}
