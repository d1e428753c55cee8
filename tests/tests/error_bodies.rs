//! No error body ever shows internals: a sweep of bad requests over every route (bad
//! ids, wrong methods, bad credentials, junk query strings and bodies, conflicts) on
//! both backends. Every error is the contract's JSON with a known code, never a 5xx,
//! and never mentions SQL, the database, the framework, source files or a stack.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use reqwest::Method;
use tariff_tests::{backends, spawn_app, TestApp};

const CODES: [&str; 14] = [
    "validation_failed",
    "unauthorized",
    "forbidden",
    "not_found",
    "method_not_allowed",
    "conflict",
    "quota_exceeded",
    "payload_too_large",
    "unsupported_media_type",
    "request_timeout",
    "rate_limited",
    "feature_disabled",
    "no_active_plan",
    "database_unavailable",
];

/// Words that only an internal leak would put in an error body.
const LEAKS: [&str; 34] = [
    "select ",
    "insert into",
    "update ",
    "delete from",
    " where ",
    "syntax error",
    "sqlstate",
    "constraint",
    "unique:",
    "reference:",
    "violates",
    "diesel",
    "actix",
    "r2d2",
    "tokio",
    "serde_",
    "sqlite",
    "postgres",
    "libpq",
    "panicked",
    "backtrace",
    "stack",
    "thread '",
    ".rs:",
    "src/",
    "/root",
    "/home",
    "/work",
    "/tmp",
    "target/debug",
    "crates/",
    "password_hash",
    "token_hash",
    "0x",
];

struct Sweep {
    requests: usize,
    errors: usize,
}

async fn send(
    app: &TestApp,
    sweep: &mut Sweep,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) {
    let mut request = app.client.request(method.clone(), app.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body.to_owned());
    }
    let response = request
        .send()
        .await
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
    sweep.requests += 1;
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    assert!(status < 500, "{method} {path} {body:?}: {status} {text}");
    if status < 400 {
        return;
    }
    sweep.errors += 1;
    let json: serde_json::Value = serde_json::from_str(&text)
        .unwrap_or_else(|_| panic!("{method} {path}: {status} body is not JSON: {text}"));
    let code = json["error"].as_str().unwrap_or_default();
    assert!(
        CODES.contains(&code),
        "{method} {path}: unknown code in {text}"
    );
    assert!(
        json["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{method} {path}: {text}"
    );
    let lower = text.to_lowercase();
    // Echoing the client's own input back is fine; strip the path first.
    for leak in LEAKS {
        assert!(
            !lower.contains(leak),
            "{method} {path} {body:?}: error body mentions `{leak}`: {text}"
        );
    }
}

#[tokio::test]
async fn no_error_body_shows_internals() {
    let routes = [
        "/api/plans/{id}",
        "/api/packages/{id}",
        "/api/users/{id}/quota",
        "/api/organisations/{id}/quota",
        "/api/admin/users/{id}/limits",
        "/api/admin/organisations/{id}/limits",
        "/api/admin/users/{id}/usage",
        "/api/admin/organisations/{id}/usage",
        "/api/admin/users/{id}/usage/check",
        "/api/tokens/{id}",
        "/api/organisations/{id}",
        "/api/organisations/{id}/members",
        "/api/organisations/{id}/members/{id}",
        "/api/admin/users/{id}",
        "/api/admin/plans/{id}",
        "/api/admin/users/{id}/apply-plan",
        "/api/admin/users/{id}/cancel-plan",
        "/api/admin/users/{id}/current-plan",
        "/api/admin/orders/{id}/mark-paid",
        "/api/orders/{id}",
        "/api/orders/{id}/invoice",
        "/api/orders/{id}/cancel",
        "/api/admin/audit/{id}",
    ];
    let ids = [
        "abc",
        "0",
        "-1",
        "424242",
        "9223372036854775807",
        "9223372036854775808",
        "1.5",
        "1%27%20OR%20%271%27%3D%271",
        "1%3B%20DROP%20TABLE%20plans",
        "%00",
        "%F0%9F%9A%80",
        "..%2F..%2Fetc%2Fpasswd",
    ];
    let lists = [
        "/api/plans",
        "/api/packages",
        "/api/admin/users",
        "/api/admin/plans",
        "/api/orders",
        "/api/tokens",
        "/api/admin/audit",
    ];
    let queries = [
        "?page=-1",
        "?page=0",
        "?page=abc",
        "?page=99999999999999999999",
        "?per_page=0",
        "?per_page=101",
        "?per_page=-5",
        "?page=1&page=2",
        "?targetKind=%27%3B--&targetId=x&actorId=-1",
        "?email=%27%20OR%201%3D1--",
        "?%ZZ=1",
    ];
    let bodies = [
        "{",
        "[]",
        "null",
        r#"{"planId":"1; DROP TABLE orders"}"#,
        r#"{"planId":-1,"orgId":"x"}"#,
        r#"{"email":"' OR 1=1 --","password":"x"}"#,
        r#"{"resource":"servers","delta":9223372036854775807}"#,
        r#"{"name":null,"price":"abc","currency":"XXX","type":"gold"}"#,
        r#"{"billingEnabled":"yes"}"#,
        r#"{"userId":1e99,"role":"root"}"#,
    ];
    let methods = [
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::DELETE,
        Method::PATCH,
    ];
    for db in backends() {
        let app = spawn_app(db).await;
        let admin = app.seed_user("admin@example.com", "admin").await;
        let user = app.seed_user("user@example.com", "user").await;
        let mut sweep = Sweep {
            requests: 0,
            errors: 0,
        };
        for route in routes {
            for id in ids {
                let path = route.replace("{id}", id);
                for method in &methods {
                    send(
                        &app,
                        &mut sweep,
                        method.clone(),
                        &path,
                        Some(&admin.token),
                        None,
                    )
                    .await;
                }
                send(
                    &app,
                    &mut sweep,
                    Method::GET,
                    &path,
                    Some(&user.token),
                    None,
                )
                .await;
                send(
                    &app,
                    &mut sweep,
                    Method::GET,
                    &path,
                    Some("tff_forged"),
                    None,
                )
                .await;
                send(&app, &mut sweep, Method::GET, &path, None, None).await;
            }
            let path = route.replace("{id}", "1");
            for body in bodies {
                for method in [Method::POST, Method::PUT] {
                    send(
                        &app,
                        &mut sweep,
                        method.clone(),
                        &path,
                        Some(&admin.token),
                        Some(body),
                    )
                    .await;
                    send(
                        &app,
                        &mut sweep,
                        method,
                        &path,
                        Some(&user.token),
                        Some(body),
                    )
                    .await;
                }
            }
        }
        for list in lists.iter().chain(
            [
                "/api/organisations",
                "/api/auth/login",
                "/api/admin/settings",
            ]
            .iter(),
        ) {
            for query in queries {
                let path = format!("{list}{query}");
                send(
                    &app,
                    &mut sweep,
                    Method::GET,
                    &path,
                    Some(&admin.token),
                    None,
                )
                .await;
                send(
                    &app,
                    &mut sweep,
                    Method::GET,
                    &path,
                    Some(&user.token),
                    None,
                )
                .await;
            }
            for body in bodies {
                send(
                    &app,
                    &mut sweep,
                    Method::POST,
                    list,
                    Some(&admin.token),
                    Some(body),
                )
                .await;
                send(
                    &app,
                    &mut sweep,
                    Method::PUT,
                    list,
                    Some(&admin.token),
                    Some(body),
                )
                .await;
            }
        }
        // Conflicts: the same email twice, the same organisation member twice.
        let body = r#"{"email":"twice@example.com","name":"Twice"}"#;
        send(
            &app,
            &mut sweep,
            Method::POST,
            "/api/admin/users",
            Some(&admin.token),
            Some(body),
        )
        .await;
        send(
            &app,
            &mut sweep,
            Method::POST,
            "/api/admin/users",
            Some(&admin.token),
            Some(body),
        )
        .await;
        let body = r#"{"email":"TWICE@example.com","name":"Twice"}"#;
        send(
            &app,
            &mut sweep,
            Method::POST,
            "/api/admin/users",
            Some(&admin.token),
            Some(body),
        )
        .await;
        let org: serde_json::Value = app
            .post_as(
                &admin.token,
                "/api/organisations",
                &serde_json::json!({"name": "Org"}),
            )
            .await
            .json()
            .await
            .unwrap();
        let members = format!("/api/organisations/{}/members", org["id"]);
        let body = format!(r#"{{"userId":{},"role":"member"}}"#, user.id);
        send(
            &app,
            &mut sweep,
            Method::POST,
            &members,
            Some(&admin.token),
            Some(&body),
        )
        .await;
        send(
            &app,
            &mut sweep,
            Method::POST,
            &members,
            Some(&admin.token),
            Some(&body),
        )
        .await;
        let body = r#"{"name":"Dup","type":"paid","price":"1","currency":"EUR"}"#;
        send(
            &app,
            &mut sweep,
            Method::POST,
            "/api/admin/plans",
            Some(&admin.token),
            Some(body),
        )
        .await;
        send(
            &app,
            &mut sweep,
            Method::POST,
            "/api/admin/plans",
            Some(&admin.token),
            Some(body),
        )
        .await;
        // Unknown routes and methods at odd paths.
        for path in [
            "/",
            "/api",
            "/api/",
            "/.env",
            "/api/plans/",
            "/api//plans",
            "/%2e%2e/%2e%2e/etc/passwd",
            "/api/plans/1/../../admin",
        ] {
            send(&app, &mut sweep, Method::GET, path, None, None).await;
            send(&app, &mut sweep, Method::OPTIONS, path, None, None).await;
        }
        println!(
            "LEAK SWEEP ({:?}): {} requests, {} error bodies checked, none leaked",
            app.backend(),
            sweep.requests,
            sweep.errors
        );
    }
}
