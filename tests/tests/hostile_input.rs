//! Hostile input through HTTP: oversized, malformed and mistyped bodies, wrong content
//! types, slow and stalled clients. Every case answers a JSON 4xx (never a 500, never a
//! hang) and changes nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use tariff_tests::{backends, json, spawn_app, spawn_app_with, TestApp, TestDatabase};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// POSTs raw bytes with a content type (None: no Content-Type header) as `token`.
async fn post_raw(
    app: &TestApp,
    token: &str,
    path: &str,
    content_type: Option<&str>,
    body: impl Into<reqwest::Body>,
) -> reqwest::Response {
    let mut request = app.client.post(app.url(path)).bearer_auth(token).body(body);
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    request.send().await.unwrap()
}

async fn assert_error(response: reqwest::Response, status: u16, code: &str, case: &str) {
    assert_eq!(response.status().as_u16(), status, "{case}");
    assert_eq!(
        response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/json"),
        "{case}"
    );
    let body = json(response).await;
    assert_eq!(body["error"], code, "{case}: {body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{case}: {body}"
    );
}

/// The usage of every resource of `user` is still zero: nothing was written.
async fn assert_usage_untouched(app: &TestApp, admin: &str, user: i64) {
    let quota = json(app.get_as(admin, &format!("/api/users/{user}/quota")).await).await;
    for (resource, used) in quota["usage"].as_object().unwrap() {
        assert_eq!(used, 0, "{resource} changed: {quota}");
    }
}

#[tokio::test]
async fn bodies_over_64_kib_get_413() {
    for db in backends() {
        let app = spawn_app(db).await;
        let admin = app.seed_user("admin@example.com", "admin").await;
        let user = app.seed_user("user@example.com", "user").await;
        let path = format!("/api/admin/users/{}/usage", user.id);
        let padding = "x".repeat(64 * 1024);
        let oversized =
            format!(r#"{{"resource":"servers","delta":1,"idempotencyKey":"{padding}"}}"#);
        // Announced with Content-Length.
        let response = post_raw(
            &app,
            &admin.token,
            &path,
            Some("application/json"),
            oversized.clone(),
        )
        .await;
        assert_error(response, 413, "payload_too_large", "content-length").await;
        // Streamed in chunks with no length: cut off once it passes the limit.
        let mut stream = TcpStream::connect(app.address).await.unwrap();
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: tariff\r\nAuthorization: Bearer {}\r\n\
             Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
            admin.token
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        for chunk in oversized.as_bytes().chunks(8 * 1024) {
            let framed = [format!("{:x}\r\n", chunk.len()).as_bytes(), chunk, b"\r\n"].concat();
            if stream.write_all(&framed).await.is_err() {
                break; // the server may stop reading once the limit is passed
            }
        }
        let _ = stream.write_all(b"0\r\n\r\n").await;
        let (answer, _) = read_until_closed(&mut stream, Duration::from_secs(10)).await;
        assert!(answer.starts_with("HTTP/1.1 413"), "chunked: {answer}");
        assert!(
            answer.contains(r#""error":"payload_too_large""#),
            "chunked: {answer}"
        );
        // A PUT too, and a huge body that is not even JSON.
        let response = app
            .client
            .put(app.url(&format!("/api/admin/users/{}/limits", user.id)))
            .bearer_auth(&admin.token)
            .header("content-type", "application/json")
            .body(vec![b' '; 1024 * 1024])
            .send()
            .await
            .unwrap();
        assert_error(response, 413, "payload_too_large", "1 MiB PUT").await;
        // Just under the limit is fine (and refused for its content, not its size).
        let under = format!(
            r#"{{"resource":"servers","delta":1,"idempotencyKey":"{}"}}"#,
            "x".repeat(60 * 1024)
        );
        let response = post_raw(&app, &admin.token, &path, Some("application/json"), under).await;
        assert_error(response, 400, "validation_failed", "60 KiB key").await;
        assert_usage_untouched(&app, &admin.token, user.id).await;
    }
}

#[tokio::test]
async fn malformed_and_mistyped_bodies_get_400() {
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty body", b"".to_vec()),
        ("truncated", br#"{"resource":"servers","#.to_vec()),
        ("not JSON", b"resource=servers&delta=1".to_vec()),
        (
            "trailing garbage",
            br#"{"resource":"servers","delta":1} x"#.to_vec(),
        ),
        ("array", br#"[{"resource":"servers","delta":1}]"#.to_vec()),
        ("null", b"null".to_vec()),
        (
            "string delta",
            br#"{"resource":"servers","delta":"1"}"#.to_vec(),
        ),
        (
            "float delta",
            br#"{"resource":"servers","delta":1.5}"#.to_vec(),
        ),
        (
            "huge delta",
            br#"{"resource":"servers","delta":1e400}"#.to_vec(),
        ),
        (
            "i64 overflow",
            br#"{"resource":"servers","delta":99999999999999999999}"#.to_vec(),
        ),
        (
            "delta beyond 10^12",
            br#"{"resource":"servers","delta":1000000000001}"#.to_vec(),
        ),
        (
            "delta zero",
            br#"{"resource":"servers","delta":0}"#.to_vec(),
        ),
        ("number resource", br#"{"resource":7,"delta":1}"#.to_vec()),
        (
            "unknown resource",
            br#"{"resource":"unicorns","delta":1}"#.to_vec(),
        ),
        (
            "dialect key",
            br#"{"resource":"serverLimit","delta":1}"#.to_vec(),
        ),
        ("missing delta", br#"{"resource":"servers"}"#.to_vec()),
        (
            "unknown field",
            br#"{"resource":"servers","delta":1,"admin":true}"#.to_vec(),
        ),
        (
            "empty key",
            br#"{"resource":"servers","delta":1,"idempotencyKey":""}"#.to_vec(),
        ),
        (
            "invalid UTF-8",
            b"{\"resource\":\"serv\xff\xfeers\",\"delta\":1}".to_vec(),
        ),
        (
            "lone surrogate",
            br#"{"resource":"\ud800","delta":1}"#.to_vec(),
        ),
        (
            "NUL in string",
            b"{\"resource\":\"servers\\u0000\",\"delta\":1}".to_vec(),
        ),
        ("deeply nested", deep.into_bytes()),
    ];
    for db in backends() {
        let app = spawn_app(db).await;
        let admin = app.seed_user("admin@example.com", "admin").await;
        let user = app.seed_user("user@example.com", "user").await;
        let path = format!("/api/admin/users/{}/usage", user.id);
        for (case, body) in &cases {
            let response = post_raw(
                &app,
                &admin.token,
                &path,
                Some("application/json"),
                body.clone(),
            )
            .await;
            assert_error(response, 400, "validation_failed", case).await;
        }
        let limits = format!("/api/admin/users/{}/limits", user.id);
        for (case, body) in [
            ("negative limit", r#"{"servers":-1}"#),
            ("string limit", r#"{"servers":"5"}"#),
            ("unknown resource", r#"{"unicorns":5}"#),
            ("not an object", r#"[1,2,3]"#),
        ] {
            let response = app
                .client
                .put(app.url(&limits))
                .bearer_auth(&admin.token)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap();
            assert_error(response, 400, "validation_failed", case).await;
        }
        assert_usage_untouched(&app, &admin.token, user.id).await;
        let quota = json(
            app.get_as(&admin.token, &format!("/api/users/{}/quota", user.id))
                .await,
        )
        .await;
        assert_eq!(quota["overrides"], serde_json::json!({}), "{quota}");
    }
}

#[tokio::test]
async fn wrong_content_types_get_415() {
    for db in backends() {
        let app = spawn_app(db).await;
        let admin = app.seed_user("admin@example.com", "admin").await;
        let user = app.seed_user("user@example.com", "user").await;
        let path = format!("/api/admin/users/{}/usage", user.id);
        let body = r#"{"resource":"servers","delta":1}"#;
        for content_type in [
            None,
            Some("text/plain"),
            Some("application/x-www-form-urlencoded"),
            Some("multipart/form-data; boundary=x"),
            Some("application/xml"),
        ] {
            let response = post_raw(&app, &admin.token, &path, content_type, body).await;
            assert_error(
                response,
                415,
                "unsupported_media_type",
                &format!("{content_type:?}"),
            )
            .await;
        }
        assert_usage_untouched(&app, &admin.token, user.id).await;
        // The same body as JSON (with a charset) is accepted.
        let response = post_raw(
            &app,
            &admin.token,
            &path,
            Some("application/json; charset=utf-8"),
            body,
        )
        .await;
        assert_eq!(response.status(), StatusCode::OK);
    }
}

/// Reads until the server closes the connection or `limit` passes; returns what came
/// and whether it closed.
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> (String, bool) {
    let mut received = Vec::new();
    let mut chunk = [0_u8; 4096];
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut chunk)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (String::from_utf8_lossy(&received).into(), true),
            Ok(Ok(n)) => received.extend_from_slice(&chunk[..n]),
            Err(_) => return (String::from_utf8_lossy(&received).into(), false),
        }
    }
}

#[tokio::test]
async fn slow_and_stalled_clients_are_cut_off_without_blocking_others() {
    let app = spawn_app_with(TestDatabase::sqlite(), |settings| {
        settings.server.client_request_timeout_secs = 1;
    })
    .await;
    let admin = app.seed_user("admin@example.com", "admin").await;
    let started = Instant::now();

    // 40 clients that connect and never finish their request head: half send nothing,
    // half send part of the head and stall.
    let mut stalled = Vec::new();
    for i in 0..40 {
        let mut stream = TcpStream::connect(app.address).await.unwrap();
        if i % 2 == 0 {
            stream
                .write_all(b"GET /api/plans HTTP/1.1\r\nHost: tariff\r\nX-Slow: ")
                .await
                .unwrap();
        }
        stalled.push(stream);
    }
    // One that trickles its head a byte at a time (slowloris).
    let mut trickler = TcpStream::connect(app.address).await.unwrap();
    let trickle = tokio::spawn(async move {
        let head = b"GET /api/plans HTTP/1.1\r\nHost: tariff\r\nX-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
        for byte in head {
            if trickler.write_all(&[*byte]).await.is_err() {
                return (true, Instant::now());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        (false, Instant::now())
    });
    // A client with a complete head whose body never arrives.
    let mut body_staller = TcpStream::connect(app.address).await.unwrap();
    let head = format!(
        "POST /api/admin/users/{}/usage HTTP/1.1\r\nHost: tariff\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: 200\r\n\r\n{{\"resource\":",
        admin.id, admin.token
    );
    body_staller.write_all(head.as_bytes()).await.unwrap();

    // Meanwhile everybody else is served promptly.
    for _ in 0..20 {
        let asked = Instant::now();
        let response = app.get("/api/plans").await;
        assert_eq!(response.status(), StatusCode::OK);
        assert!(
            asked.elapsed() < Duration::from_millis(500),
            "a normal request took {:?} while others stalled",
            asked.elapsed()
        );
    }

    // The stalled heads are cut off by client_request_timeout (1 s here).
    for (i, stream) in stalled.iter_mut().enumerate() {
        let (answer, closed) = read_until_closed(stream, Duration::from_secs(5)).await;
        assert!(closed, "stalled client {i} still connected after 5 s");
        assert!(
            answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
            "stalled client {i} got {answer:?}"
        );
    }
    let heads_cut_after = started.elapsed();
    let (cut_off, when) = tokio::time::timeout(Duration::from_secs(15), trickle)
        .await
        .expect("the trickling client was never cut off")
        .unwrap();
    assert!(
        cut_off,
        "a client sending its head a byte every 100 ms was served"
    );
    let trickle_cut_after = when.duration_since(started);
    let (answer, closed) = read_until_closed(&mut body_staller, Duration::from_secs(15)).await;
    assert!(
        closed,
        "a client that never sent its body is still connected after 15 s: {answer:?}"
    );
    assert!(answer.starts_with("HTTP/1.1 408"), "stalled body: {answer}");
    assert!(
        answer.contains(r#""error":"request_timeout""#),
        "stalled body: {answer}"
    );
    let body_cut_after = started.elapsed();
    println!(
        "SLOW CLIENTS: 40 stalled heads closed within {:.2}s, slowloris cut after {:.2}s, stalled body answered 408 after {:.2}s",
        heads_cut_after.as_secs_f64(),
        trickle_cut_after.as_secs_f64(),
        body_cut_after.as_secs_f64()
    );
    assert_usage_untouched(&app, &admin.token, admin.id).await;
}

/// Text that has broken other systems: quotes, SQL, format strings, markup, emoji,
/// right-to-left and combining characters.
const NASTY: [&str; 10] = [
    r#"O'Brien "quoted" \backslash\ `tick`"#,
    "'; DROP TABLE plans; --",
    "Robert'); DELETE FROM users WHERE ('1'='1",
    "1 OR 1=1 /* comment */ UNION SELECT password_hash FROM users",
    "%s %n %x {0} ${jndi:ldap://127.0.0.1/a} {{7*7}}",
    "<script>alert(\"x\")</script> &amp; &lt;",
    "🚀 Pro 💾 plan 👩‍👩‍👧‍👦 🇩🇪",
    "مرحبا שלום 中文 日本語 한국어",
    "Z\u{0351}\u{0360}a\u{0352}lgo e\u{0301} \u{200b}zero\u{200d}width \u{feff}bom",
    "\\x00 \\n literally, and a real tab:\tthen end",
];

#[tokio::test]
async fn nasty_strings_are_stored_and_returned_verbatim() {
    for db in backends() {
        let app = spawn_app(db).await;
        let admin = app.seed_user("admin@example.com", "admin").await;
        for (i, text) in NASTY.iter().enumerate() {
            let name = format!("{i} {}", text.replace('\t', " "));
            // Multi-line free text with control characters is a description's right.
            let description = format!("{text}\r\nline two\u{7}\u{1b}[31m red");
            let response = app
                .post_as(
                    &admin.token,
                    "/api/admin/plans",
                    &serde_json::json!({
                        "name": name, "type": "paid", "price": "1.00", "currency": "EUR",
                        "description": description,
                        "features": {text.to_string(): text, "nested": [text]},
                        "stripePlanId": name,
                    }),
                )
                .await;
            let status = response.status();
            let created = json(response).await;
            assert_eq!(status, StatusCode::CREATED, "{text:?}: {created}");
            let id = created["id"].as_i64().unwrap();
            for path in [format!("/api/plans/{id}"), format!("/api/packages/{id}")] {
                let got = json(app.get_as(&admin.token, &path).await).await;
                let plan = if got["data"].is_object() {
                    &got["data"]
                } else {
                    &got
                };
                assert_eq!(plan["name"], name.as_str(), "{path} {text:?}");
                assert_eq!(
                    plan["stripe_plan_id"]
                        .as_str()
                        .or(plan["stripePlanId"].as_str()),
                    Some(name.as_str()),
                    "{path} {text:?}"
                );
                if !path.contains("packages") {
                    assert_eq!(plan["description"], description.as_str(), "{path} {text:?}");
                }
            }
            let got = json(app.get(&format!("/api/plans/{id}")).await).await;
            assert_eq!(got["features"][*text], *text, "{text:?}");
            assert_eq!(got["features"]["nested"][0], *text, "{text:?}");
            assert_eq!(got["stripePlanId"], name.as_str(), "{text:?}");

            // Updates keep it verbatim too.
            let updated = app
                .put_as(
                    &admin.token,
                    &format!("/api/admin/plans/{id}"),
                    &serde_json::json!({"description": text}),
                )
                .await;
            assert_eq!(updated.status(), StatusCode::OK, "{text:?}");
            let got = json(app.get(&format!("/api/plans/{id}")).await).await;
            assert_eq!(got["description"], *text, "{text:?}");

            // Users and organisations.
            let user = app
                .post_as(
                    &admin.token,
                    "/api/admin/users",
                    &serde_json::json!({
                        "email": format!("nasty{i}@example.com"),
                        "name": name,
                        "company": name,
                        "city": name,
                    }),
                )
                .await;
            let status = user.status();
            let user = json(user).await;
            assert_eq!(status, StatusCode::CREATED, "{text:?}: {user}");
            let got = json(
                app.get_as(&admin.token, &format!("/api/admin/users/{}", user["id"]))
                    .await,
            )
            .await;
            let got = if got["user"].is_object() {
                &got["user"]
            } else {
                &got
            };
            for field in ["name", "company", "city"] {
                assert_eq!(got[field], name.as_str(), "{field} {text:?}: {got}");
            }
            let org = json(
                app.post_as(
                    &admin.token,
                    "/api/organisations",
                    &serde_json::json!({"name": name}),
                )
                .await,
            )
            .await;
            let got = json(
                app.get_as(&admin.token, &format!("/api/organisations/{}", org["id"]))
                    .await,
            )
            .await;
            assert_eq!(got["name"], name.as_str(), "{text:?}: {got}");
        }
        // The SQL in the strings did nothing: every plan and user is still there.
        let plans = json(app.get("/api/plans").await).await;
        assert_eq!(plans.as_array().unwrap().len(), 1 + NASTY.len());
    }
}

#[tokio::test]
async fn nul_bytes_are_refused_not_a_500() {
    for db in backends() {
        let app = spawn_app(db).await;
        let admin = app.seed_user("admin@example.com", "admin").await;
        let cases = [
            (
                "/api/admin/plans",
                serde_json::json!({"name": "Nul", "type": "paid", "price": "1", "currency": "EUR", "description": "a\u{0}b"}),
            ),
            (
                "/api/admin/plans",
                serde_json::json!({"name": "Nul", "type": "paid", "price": "1", "currency": "EUR", "stripePlanId": "a\u{0}b"}),
            ),
            (
                "/api/admin/plans",
                serde_json::json!({"name": "N\u{0}ul", "type": "paid", "price": "1", "currency": "EUR"}),
            ),
            (
                "/api/admin/users",
                serde_json::json!({"email": "nul@example.com", "name": "a\u{0}b"}),
            ),
            ("/api/organisations", serde_json::json!({"name": "a\u{0}b"})),
            ("/api/tokens", serde_json::json!({"name": "a\u{0}b"})),
        ];
        for (path, body) in cases {
            let response = app.post_as(&admin.token, path, &body).await;
            let status = response.status();
            let body = json(response).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{path} {body}");
            assert_eq!(body["error"], "validation_failed", "{path} {body}");
        }
        // A NUL inside features JSON is an escaped `\u0000`: legal JSON, kept as such.
        let response = app
            .post_as(
                &admin.token,
                "/api/admin/plans",
                &serde_json::json!({"name": "Features", "type": "paid", "price": "1", "currency": "EUR", "features": {"k": "a\u{0}b"}}),
            )
            .await;
        let status = response.status();
        let created = json(response).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let got = json(app.get(&format!("/api/plans/{}", created["id"])).await).await;
        assert_eq!(got["features"]["k"], "a\u{0}b");
    }
}
