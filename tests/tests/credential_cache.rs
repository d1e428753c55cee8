//! The 1 s credential cache: a token revoked on one instance stops working on another
//! instance of the same database within the cache's lifetime, and at once on the
//! instance that revoked it.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use tariff_tests::{backends, json, spawn_app};

#[tokio::test]
async fn a_revoked_token_stops_working_on_every_instance_within_the_cache_lifetime() {
    for db in backends() {
        let app = spawn_app(db).await;
        let peer = app.spawn_peer().await;
        let user = app.seed_user("cached@example.com", "user").await;
        let created = app
            .post_as(
                &user.token,
                "/api/tokens",
                &serde_json::json!({"name": "panel"}),
            )
            .await;
        assert_eq!(created.status(), StatusCode::CREATED);
        let created = json(created).await;
        let token = created["token"].as_str().unwrap().to_owned();
        let id = created["id"].as_i64().unwrap();

        // Warm both instances' caches with the token.
        assert_eq!(app.get_as(&token, "/api/me").await.status(), StatusCode::OK);
        assert_eq!(
            peer.get_as(&token, "/api/me").await.status(),
            StatusCode::OK
        );

        let revoked = app
            .delete_as(&user.token, &format!("/api/tokens/{id}"))
            .await;
        assert_eq!(revoked.status(), StatusCode::NO_CONTENT);
        let started = Instant::now();
        // The revoking instance forgets at once.
        assert_eq!(
            app.get_as(&token, "/api/me").await.status(),
            StatusCode::UNAUTHORIZED
        );
        // The peer may answer from its cache, but for no longer than its lifetime (1 s).
        loop {
            let status = peer.get_as(&token, "/api/me").await.status();
            if status == StatusCode::UNAUTHORIZED {
                break;
            }
            assert_eq!(status, StatusCode::OK);
            assert!(
                started.elapsed() < Duration::from_millis(1_500),
                "{:?}: peer still accepts a revoked token",
                app.backend()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // The owner's other token is unaffected.
        assert_eq!(
            peer.get_as(&user.token, "/api/me").await.status(),
            StatusCode::OK
        );
    }
}
