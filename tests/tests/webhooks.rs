//! Outgoing webhooks end to end: endpoints administered over the API, events stored in
//! the transaction of the change (plan catalogue writes), delivered by the worker to a
//! real receiver on port 0 that checks the Standard Webhooks signature itself (HMAC-SHA256
//! computed here, not with Tariff's signer), retried along a short schedule, failed,
//! redelivered; two instances on one PostgreSQL database. Every test runs on SQLite and,
//! with TEST_DATABASE_URL, on PostgreSQL (the two-instance test on PostgreSQL only).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::collections::{HashMap, HashSet};
use std::net::TcpListener;
use std::sync::atomic::{AtomicU16, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use serde_json::{json, Value};
use tariff_tests::standard_webhooks::signature_verifies;
use tariff_tests::{backends, spawn_app_with, Backend, TestApp, TestDatabase};

/// One request as the receiver saw it.
#[derive(Clone, Debug)]
struct Received {
    id: String,
    timestamp: i64,
    signatures: Vec<String>,
    body: String,
    content_type: String,
    user_agent: String,
    /// Whether one `v1` signature matched the secret the receiver knew.
    verified: bool,
}

#[derive(Default)]
struct ReceiverState {
    secret: Mutex<Option<String>>,
    /// The status answered; 0 means 200.
    answer: AtomicU16,
    /// Answer `answer` this many times more, then 200.
    failures_left: AtomicU32,
    /// How long each answer takes, in milliseconds.
    delay_ms: AtomicU64,
    received: Mutex<Vec<Received>>,
    active: Mutex<HashSet<String>>,
    /// Ids that arrived while an earlier request with the same id was still open.
    concurrent_duplicates: Mutex<Vec<String>>,
}

struct Receiver {
    url: String,
    state: Arc<ReceiverState>,
    handle: actix_web::dev::ServerHandle,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
    }
}

/// The Standard Webhooks check over the header's entries (see `signature_verifies`).
fn signature_matches(
    secret: &str,
    id: &str,
    timestamp: &str,
    body: &[u8],
    entries: &[String],
) -> bool {
    signature_verifies(secret, id, timestamp, body, &entries.join(" "))
}

async fn receive(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<ReceiverState>,
) -> HttpResponse {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let id = header("webhook-id");
    let timestamp = header("webhook-timestamp");
    let signatures: Vec<String> = header("webhook-signature")
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    let secret = state.secret.lock().unwrap().clone();
    let verified = secret
        .as_deref()
        .is_some_and(|secret| signature_matches(secret, &id, &timestamp, &body, &signatures));
    let duplicate = !state.active.lock().unwrap().insert(id.clone());
    if duplicate {
        state.concurrent_duplicates.lock().unwrap().push(id.clone());
    }
    let delay = state.delay_ms.load(Ordering::SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    state.received.lock().unwrap().push(Received {
        id: id.clone(),
        timestamp: timestamp.parse().unwrap_or(0),
        signatures,
        body: String::from_utf8_lossy(&body).into_owned(),
        content_type: header("content-type"),
        user_agent: header("user-agent"),
        verified,
    });
    if !duplicate {
        state.active.lock().unwrap().remove(&id);
    }
    let failing = state
        .failures_left
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    let status = match state.answer.load(Ordering::SeqCst) {
        0 => 200,
        code if failing => code,
        _ => 200,
    };
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap())
        .body("receiver says hi")
}

async fn start_receiver() -> Receiver {
    let state = web::Data::new(ReceiverState::default());
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let data = state.clone();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .route("/hook", web::post().to(receive))
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    let handle = server.handle();
    tokio::spawn(server);
    Receiver {
        url: format!("http://{address}/hook"),
        state: state.into_inner(),
        handle,
    }
}

impl Receiver {
    fn know_secret(&self, secret: &str) {
        *self.state.secret.lock().unwrap() = Some(secret.to_owned());
    }

    /// Answer `status` to the next `times` requests, then 200.
    fn fail_next(&self, status: u16, times: u32) {
        self.state.answer.store(status, Ordering::SeqCst);
        self.state.failures_left.store(times, Ordering::SeqCst);
    }

    fn received(&self) -> Vec<Received> {
        self.state.received.lock().unwrap().clone()
    }

    async fn wait_for(&self, count: usize, within: Duration) -> Vec<Received> {
        let start = Instant::now();
        loop {
            let received = self.received();
            if received.len() >= count {
                return received;
            }
            assert!(
                start.elapsed() < within,
                "the receiver got {} request(s), expected {count} within {within:?}",
                received.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Test settings: the short schedule of the contract's tests.
async fn start(database: TestDatabase) -> TestApp {
    spawn_app_with(database, |settings| {
        settings.webhooks.retry_delays = "1s,1s,2s".into();
        settings.webhooks.timeout_ms = 2000;
    })
    .await
}

async fn send(
    app: &TestApp,
    method: &str,
    token: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = app.client.request(method.parse().unwrap(), app.url(path));
    if !token.is_empty() {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn create_endpoint(app: &TestApp, admin: &str, url: &str, events: Value) -> (i64, String) {
    let (status, body) = send(
        app,
        "POST",
        admin,
        "/api/admin/webhooks",
        Some(json!({"url": url, "events": events})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    (
        body["id"].as_i64().unwrap(),
        body["secret"].as_str().unwrap().to_owned(),
    )
}

async fn create_plan(app: &TestApp, admin: &str, name: &str) -> i64 {
    let (status, body) = send(
        app,
        "POST",
        admin,
        "/api/admin/plans",
        Some(json!({"name": name, "price": "9.99"})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    body["id"].as_i64().unwrap()
}

async fn deliveries(app: &TestApp, admin: &str, endpoint: i64) -> Vec<Value> {
    let (status, body) = send(
        app,
        "GET",
        admin,
        &format!("/api/admin/webhooks/{endpoint}/deliveries?per_page=100"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["data"].as_array().unwrap().clone()
}

/// Waits until the endpoint's newest delivery has `status`.
async fn wait_for_status(
    app: &TestApp,
    admin: &str,
    endpoint: i64,
    status: &str,
    within: Duration,
) -> Value {
    let start = Instant::now();
    loop {
        let list = deliveries(app, admin, endpoint).await;
        if let Some(first) = list.first() {
            if first["status"] == status {
                return first.clone();
            }
        }
        assert!(
            start.elapsed() < within,
            "no `{status}` delivery within {within:?}: {list:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn metric(text: &str, name: &str) -> Option<i64> {
    text.lines()
        .find(|line| line.starts_with(name) && line[name.len()..].starts_with(' '))
        .and_then(|line| line[name.len()..].trim().parse().ok())
}

#[tokio::test]
async fn plan_changes_arrive_signed_with_the_standard_webhooks_headers() {
    for database in backends() {
        let backend = database.backend();
        let app = start(database).await;
        let admin = app.seed_user("admin@example.com", "admin").await;
        let receiver = start_receiver().await;
        let (endpoint, secret) = create_endpoint(
            &app,
            &admin.token,
            &receiver.url,
            json!(["plan.created", "plan.updated", "plan.deleted"]),
        )
        .await;
        assert!(secret.starts_with("whsec_"), "{backend:?}: {secret}");
        receiver.know_secret(&secret);

        // The secret is shown at creation only.
        let (status, shown) = send(
            &app,
            "GET",
            &admin.token,
            &format!("/api/admin/webhooks/{endpoint}"),
            None,
        )
        .await;
        assert_eq!(status, 200);
        assert!(shown.get("secret").is_none(), "{shown}");
        assert_eq!(
            shown["events"],
            json!(["plan.created", "plan.updated", "plan.deleted"])
        );
        assert_eq!(shown["enabled"], true);
        let (_, listed) = send(&app, "GET", &admin.token, "/api/admin/webhooks", None).await;
        assert_eq!(listed["meta"]["total"], 1, "{listed}");
        assert!(!listed.to_string().contains("whsec_"), "{listed}");

        let plan = create_plan(&app, &admin.token, "Hooked").await;
        let (status, _) = send(
            &app,
            "PUT",
            &admin.token,
            &format!("/api/admin/plans/{plan}"),
            Some(json!({"price": "11.99"})),
        )
        .await;
        assert_eq!(status, 200);
        let (status, _) = send(
            &app,
            "DELETE",
            &admin.token,
            &format!("/api/admin/plans/{plan}"),
            None,
        )
        .await;
        assert_eq!(status, 204);

        let got = receiver.wait_for(3, Duration::from_secs(15)).await;
        let now = chrono::Utc::now().timestamp();
        let mut by_type = HashMap::new();
        for request in &got {
            assert!(
                request.verified,
                "{backend:?}: signature does not verify: {request:?}"
            );
            assert_eq!(request.content_type, "application/json");
            assert!(
                request.user_agent.starts_with("Tariff-Webhooks/"),
                "{}",
                request.user_agent
            );
            assert!(
                (now - request.timestamp).abs() < 60,
                "timestamp {}",
                request.timestamp
            );
            assert_eq!(request.signatures.len(), 1);
            let body: Value = serde_json::from_str(&request.body).unwrap();
            assert_eq!(
                body["id"],
                request.id.as_str(),
                "webhook-id is the event id"
            );
            assert!(request.id.starts_with("evt_"));
            assert_eq!(body["account"], Value::Null);
            assert_eq!(body["data"]["id"], plan);
            assert_eq!(body["data"]["name"], "Hooked");
            by_type.insert(body["type"].as_str().unwrap().to_owned(), body);
        }
        assert_eq!(by_type["plan.created"]["data"]["price"], json!(9.99));
        assert_eq!(by_type["plan.updated"]["data"]["price"], json!(11.99));
        assert_eq!(by_type["plan.deleted"]["data"]["price"], json!(11.99));
        let sequence = |t: &str| by_type[t]["sequence"].as_u64().unwrap();
        assert_eq!(sequence("plan.updated"), sequence("plan.created") + 1);
        assert_eq!(sequence("plan.deleted"), sequence("plan.updated") + 1);

        // The log, newest first: every one delivered on its first attempt.
        wait_for_status(
            &app,
            &admin.token,
            endpoint,
            "delivered",
            Duration::from_secs(10),
        )
        .await;
        let log = deliveries(&app, &admin.token, endpoint).await;
        let types: Vec<&str> = log.iter().map(|d| d["type"].as_str().unwrap()).collect();
        assert_eq!(
            types,
            ["plan.deleted", "plan.updated", "plan.created"],
            "{backend:?}"
        );
        for delivery in &log {
            assert_eq!(delivery["status"], "delivered", "{delivery}");
            assert_eq!(delivery["attempts"], 1);
            assert_eq!(delivery["lastStatusCode"], 200);
            assert_eq!(delivery["nextAttemptAt"], Value::Null);
            assert!(delivery["deliveredAt"].is_string());
        }

        // Rotation: a new secret, shown once; for a while both sign.
        let (status, rotated) = send(
            &app,
            "POST",
            &admin.token,
            &format!("/api/admin/webhooks/{endpoint}/rotate-secret"),
            None,
        )
        .await;
        assert_eq!(status, 200, "{rotated}");
        let new_secret = rotated["secret"].as_str().unwrap().to_owned();
        assert!(new_secret.starts_with("whsec_") && new_secret != secret);
        receiver.know_secret(&new_secret);
        create_plan(&app, &admin.token, "After rotation").await;
        let got = receiver.wait_for(4, Duration::from_secs(15)).await;
        let last = &got[3];
        assert!(last.verified, "the new secret verifies");
        assert_eq!(
            last.signatures.len(),
            2,
            "both secrets sign during the overlap"
        );
        assert!(signature_matches(
            &secret,
            &last.id,
            &last.timestamp.to_string(),
            last.body.as_bytes(),
            &last.signatures
        ));

        // The receiver has the fourth request before the worker records its answer:
        // the metrics are read once it is recorded.
        let delivered = "tariff_webhook_deliveries_total{outcome=\"delivered\"}";
        let recorded = Instant::now();
        let metrics = loop {
            let metrics = app.get("/metrics").await.text().await.unwrap();
            if metric(&metrics, delivered) >= Some(4)
                || recorded.elapsed() > Duration::from_secs(15)
            {
                break metrics;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert_eq!(metric(&metrics, delivered), Some(4), "{metrics}");
        assert_eq!(
            metric(&metrics, "tariff_webhook_queue_depth"),
            Some(0),
            "{metrics}"
        );
        assert_eq!(
            metric(&metrics, "tariff_webhook_oldest_pending_age_seconds"),
            Some(0)
        );
    }
}

#[tokio::test]
async fn a_failing_receiver_is_retried_with_the_same_event_until_it_recovers() {
    for database in backends() {
        let backend = database.backend();
        let app = start(database).await;
        let admin = app.seed_user("admin@example.com", "admin").await;
        let receiver = start_receiver().await;
        let (endpoint, secret) =
            create_endpoint(&app, &admin.token, &receiver.url, json!(["*"])).await;
        receiver.know_secret(&secret);
        receiver.fail_next(500, 2);

        create_plan(&app, &admin.token, "Flaky").await;
        let delivery = wait_for_status(
            &app,
            &admin.token,
            endpoint,
            "delivered",
            Duration::from_secs(20),
        )
        .await;
        assert_eq!(delivery["attempts"], 3, "{backend:?}: {delivery}");
        assert_eq!(delivery["lastStatusCode"], 200);
        assert_eq!(delivery["lastError"], Value::Null);

        let got = receiver.received();
        assert_eq!(got.len(), 3, "{backend:?}");
        assert!(
            got.iter()
                .all(|r| r.verified && r.id == got[0].id && r.body == got[0].body),
            "same id and bytes on every attempt"
        );
        // The retries follow the schedule: about 1 s, then about 1 s more.
        assert!(got[1].timestamp - got[0].timestamp >= 1);
        assert!(got[2].timestamp - got[1].timestamp >= 1);
    }
}

#[tokio::test]
async fn a_receiver_down_for_the_whole_schedule_fails_visibly_is_redeliverable_and_holds_back_no_other_endpoint(
) {
    for database in backends() {
        let backend = database.backend();
        let app = start(database).await;
        let admin = app.seed_user("admin@example.com", "admin").await;
        let down = start_receiver().await;
        let healthy = start_receiver().await;
        let (down_endpoint, down_secret) =
            create_endpoint(&app, &admin.token, &down.url, json!(["*"])).await;
        let (healthy_endpoint, healthy_secret) =
            create_endpoint(&app, &admin.token, &healthy.url, json!(["plan.created"])).await;
        down.know_secret(&down_secret);
        healthy.know_secret(&healthy_secret);
        down.fail_next(503, u32::MAX);

        create_plan(&app, &admin.token, "Outage").await;
        // The healthy endpoint gets its event at once, while the other one fails.
        let started = Instant::now();
        healthy.wait_for(1, Duration::from_secs(3)).await;
        assert!(started.elapsed() < Duration::from_secs(3));
        // The receiver has the request before the worker has recorded its answer.
        wait_for_status(
            &app,
            &admin.token,
            healthy_endpoint,
            "delivered",
            Duration::from_secs(10),
        )
        .await;

        // 1s,1s,2s: four attempts, then failed.
        let failed = wait_for_status(
            &app,
            &admin.token,
            down_endpoint,
            "failed",
            Duration::from_secs(25),
        )
        .await;
        assert_eq!(failed["attempts"], 4, "{backend:?}: {failed}");
        assert_eq!(failed["lastStatusCode"], 503);
        assert!(
            failed["lastError"]
                .as_str()
                .unwrap()
                .starts_with("HTTP 503"),
            "{failed}"
        );
        assert_eq!(failed["nextAttemptAt"], Value::Null);
        assert_eq!(down.received().len(), 4);
        let metrics = app.get("/metrics").await.text().await.unwrap();
        assert_eq!(
            metric(
                &metrics,
                "tariff_webhook_deliveries_total{outcome=\"failed\"}"
            ),
            Some(1),
            "{metrics}"
        );
        assert_eq!(
            metric(
                &metrics,
                "tariff_webhook_deliveries_total{outcome=\"retrying\"}"
            ),
            Some(3),
            "{metrics}"
        );

        // Redelivery: the receiver is back; the same event comes again, byte for byte.
        down.fail_next(0, 0);
        let id = failed["id"].as_i64().unwrap();
        let (status, queued) = send(
            &app,
            "POST",
            &admin.token,
            &format!("/api/admin/webhook-deliveries/{id}/redeliver"),
            None,
        )
        .await;
        assert_eq!(status, 202, "{queued}");
        assert_eq!(queued["status"], "pending");
        let delivered = wait_for_status(
            &app,
            &admin.token,
            down_endpoint,
            "delivered",
            Duration::from_secs(10),
        )
        .await;
        assert_eq!(delivered["attempts"], 5);
        let got = down.received();
        assert_eq!(got.len(), 5);
        assert_eq!(got[4].id, got[0].id);
        assert_eq!(got[4].body, got[0].body);
        assert!(got[4].verified);

        let (status, _) = send(
            &app,
            "POST",
            &admin.token,
            "/api/admin/webhook-deliveries/999999/redeliver",
            None,
        )
        .await;
        assert_eq!(status, 404);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_one_postgresql_database_deliver_every_event_and_never_one_twice_at_once()
{
    let Some(database) = TestDatabase::postgres() else {
        return;
    };
    assert_eq!(database.backend(), Backend::Postgres);
    let first = start(database).await;
    let second = first.spawn_peer().await;
    let admin = first.seed_user("admin@example.com", "admin").await;
    let receiver = start_receiver().await;
    receiver.state.delay_ms.store(100, Ordering::SeqCst);
    let (endpoint, secret) =
        create_endpoint(&first, &admin.token, &receiver.url, json!(["*"])).await;
    receiver.know_secret(&secret);

    const EVENTS: usize = 40;
    for n in 0..EVENTS {
        let app = if n % 2 == 0 { &first } else { &second };
        create_plan(app, &admin.token, &format!("Shared {n}")).await;
    }
    let got = receiver.wait_for(EVENTS, Duration::from_secs(60)).await;
    let start = Instant::now();
    loop {
        let log = deliveries(&first, &admin.token, endpoint).await;
        if log.len() == EVENTS && log.iter().all(|d| d["status"] == "delivered") {
            assert!(log.iter().all(|d| d["attempts"] == 1), "{log:?}");
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "{log:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let ids: HashSet<&str> = got.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids.len(), EVENTS, "every event arrived");
    assert_eq!(got.len(), EVENTS, "none twice");
    assert!(got.iter().all(|r| r.verified));
    assert!(receiver
        .state
        .concurrent_duplicates
        .lock()
        .unwrap()
        .is_empty());
    let delivered_by = |text: &str| {
        metric(
            text,
            "tariff_webhook_deliveries_total{outcome=\"delivered\"}",
        )
        .unwrap()
    };
    let one = delivered_by(&first.get("/metrics").await.text().await.unwrap());
    let two = delivered_by(&second.get("/metrics").await.text().await.unwrap());
    assert_eq!(
        one + two,
        i64::try_from(EVENTS).unwrap(),
        "each delivery recorded by exactly one instance"
    );
}

#[tokio::test]
async fn webhook_administration_is_admin_only_and_refuses_bad_input() {
    for database in backends() {
        let backend = database.backend();
        let app = start(database).await;
        let admin = app.seed_user("admin@example.com", "admin").await;
        let user = app.seed_user("user@example.com", "user").await;
        let (endpoint, _) =
            create_endpoint(&app, &admin.token, "http://127.0.0.1:9/hook", json!(["*"])).await;

        let routes = [
            (
                "POST",
                "/api/admin/webhooks".to_owned(),
                Some(json!({"url": "http://127.0.0.1:9/x", "events": ["*"]})),
            ),
            ("GET", "/api/admin/webhooks".to_owned(), None),
            ("GET", format!("/api/admin/webhooks/{endpoint}"), None),
            (
                "PUT",
                format!("/api/admin/webhooks/{endpoint}"),
                Some(json!({"enabled": false})),
            ),
            ("DELETE", format!("/api/admin/webhooks/{endpoint}"), None),
            (
                "POST",
                format!("/api/admin/webhooks/{endpoint}/rotate-secret"),
                None,
            ),
            (
                "GET",
                format!("/api/admin/webhooks/{endpoint}/deliveries"),
                None,
            ),
            (
                "POST",
                "/api/admin/webhook-deliveries/1/redeliver".to_owned(),
                None,
            ),
        ];
        for (method, path, body) in &routes {
            let (status, error) = send(&app, method, "", path, body.clone()).await;
            assert_eq!(
                status, 401,
                "{backend:?} anonymous {method} {path}: {error}"
            );
            let (status, error) = send(&app, method, &user.token, path, body.clone()).await;
            assert_eq!(status, 403, "{backend:?} user {method} {path}: {error}");
            assert_eq!(error["error"], "forbidden");
        }
        // Still there, unchanged, after all those refusals.
        let (status, shown) = send(
            &app,
            "GET",
            &admin.token,
            &format!("/api/admin/webhooks/{endpoint}"),
            None,
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(shown["enabled"], true);

        for (body, field) in [
            (
                json!({"url": "ftp://example.com/x", "events": ["*"]}),
                "url",
            ),
            (json!({"url": "not a url", "events": ["*"]}), "url"),
            (json!({"events": ["*"]}), "url"),
            (
                json!({"url": "http://example.com/x", "events": []}),
                "events",
            ),
            (
                json!({"url": "http://example.com/x", "events": ["order.exploded"]}),
                "events",
            ),
            (
                json!({"url": "http://example.com/x", "events": ["*", "plan.created"]}),
                "events",
            ),
            (json!({"url": "http://example.com/x"}), "events"),
        ] {
            let (status, error) = send(
                &app,
                "POST",
                &admin.token,
                "/api/admin/webhooks",
                Some(body.clone()),
            )
            .await;
            assert_eq!(status, 400, "{body}: {error}");
            assert_eq!(error["error"], "validation_failed");
            assert_eq!(error["field"], field, "{body}: {error}");
        }
        let (_, listed) = send(&app, "GET", &admin.token, "/api/admin/webhooks", None).await;
        assert_eq!(
            listed["meta"]["total"], 1,
            "a refused create stores nothing"
        );

        let (status, updated) = send(
            &app,
            "PUT",
            &admin.token,
            &format!("/api/admin/webhooks/{endpoint}"),
            Some(json!({"events": ["plan.created"], "description": "panel"})),
        )
        .await;
        assert_eq!(status, 200, "{updated}");
        assert_eq!(updated["events"], json!(["plan.created"]));
        assert_eq!(updated["url"], "http://127.0.0.1:9/hook");
        assert_eq!(updated["description"], "panel");
        assert!(updated.get("secret").is_none());

        for (method, path) in [
            ("GET", "/api/admin/webhooks/999999"),
            ("PUT", "/api/admin/webhooks/999999"),
            ("DELETE", "/api/admin/webhooks/999999"),
            ("POST", "/api/admin/webhooks/999999/rotate-secret"),
            ("GET", "/api/admin/webhooks/999999/deliveries"),
        ] {
            let body = (method == "PUT").then(|| json!({"enabled": false}));
            let (status, error) = send(&app, method, &admin.token, path, body).await;
            assert_eq!(status, 404, "{method} {path}: {error}");
        }
        let (status, _) = send(&app, "GET", &admin.token, "/api/admin/webhooks/abc", None).await;
        assert_eq!(status.to_string().chars().next(), Some('4'));

        let (status, _) = send(
            &app,
            "DELETE",
            &admin.token,
            &format!("/api/admin/webhooks/{endpoint}"),
            None,
        )
        .await;
        assert_eq!(status, 204);
        let (status, _) = send(
            &app,
            "GET",
            &admin.token,
            &format!("/api/admin/webhooks/{endpoint}"),
            None,
        )
        .await;
        assert_eq!(status, 404);
    }
}
