//! The order events end to end: a customer's order, its payment, an administrator's
//! plan change, cancel-plan, a plan applied again, its renewal and its expiry (by the
//! real `tariff sweep`), and a stale pending order's expiry. A real receiver on port 0
//! checks every delivery's Standard Webhooks signature itself; the account's events must
//! arrive as `order.*`, `invoice.issued` and `account.plan_changed` numbered 1, 2, 3, ...
//! in the order the changes happened, and each order's last event must carry exactly the
//! JSON `GET /api/orders/:id` answers an administrator. SQLite, and PostgreSQL with
//! TEST_DATABASE_URL.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use serde_json::{json, Value};
use tariff_tests::process::run_cli;
use tariff_tests::standard_webhooks::signature_verifies;
use tariff_tests::{backends, execute_sql, spawn_app_with, TestApp};

#[derive(Default)]
struct ReceiverState {
    secret: Mutex<String>,
    /// `(webhook-id, body, signature verified)` in arrival order.
    received: Mutex<Vec<(String, String, bool)>>,
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
    let secret = state.secret.lock().unwrap().clone();
    let ok = signature_verifies(
        &secret,
        &id,
        &header("webhook-timestamp"),
        &body,
        &header("webhook-signature"),
    );
    state
        .received
        .lock()
        .unwrap()
        .push((id, String::from_utf8_lossy(&body).into_owned(), ok));
    HttpResponse::Ok().finish()
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

async fn send(app: &TestApp, token: &str, method: &str, path: &str, body: Value) -> Value {
    let mut request = app
        .client
        .request(method.parse().unwrap(), app.url(path))
        .bearer_auth(token);
    if method != "GET" {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    assert!(
        (200..300).contains(&status),
        "{method} {path} answered {status}: {text}"
    );
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// The envelopes of `account`'s stream, one per event id, by sequence; waits until
/// `count` arrived. Panics if one id arrived with two bodies or unverified.
async fn account_events(receiver: &Receiver, account: &Value, count: usize) -> Vec<Value> {
    let start = Instant::now();
    loop {
        let received = receiver.state.received.lock().unwrap().clone();
        let mut bodies: HashMap<String, String> = HashMap::new();
        for (id, body, ok) in &received {
            assert!(ok, "delivery {id} failed the signature check");
            let first = bodies.entry(id.clone()).or_insert_with(|| body.clone());
            assert_eq!(first, body, "event {id} arrived with two bodies");
        }
        let mut events: Vec<Value> = bodies
            .values()
            .map(|body| serde_json::from_str::<Value>(body).unwrap())
            .filter(|event| &event["account"] == account)
            .collect();
        events.sort_by_key(|event| event["sequence"].as_u64().unwrap());
        if events.len() >= count {
            return events;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "{} of {count} events arrived: {events:#?}",
            events.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn sql_time(at: chrono::DateTime<chrono::Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S").to_string()
}

#[tokio::test]
async fn order_events_arrive_in_happening_order_with_the_admin_order_json() {
    for database in backends() {
        let backend = database.backend();
        let app = spawn_app_with(database, |settings| {
            settings.webhooks.retry_delays = "1s,1s,2s".into();
        })
        .await;
        let admin = app.seed_user("admin@example.com", "admin").await;
        let customer = app.seed_user("customer@example.com", "user").await;
        let receiver = start_receiver().await;
        let endpoint = send(
            &app,
            &admin.token,
            "POST",
            "/api/admin/webhooks",
            json!({"url": receiver.url, "events": ["*"]}),
        )
        .await;
        *receiver.state.secret.lock().unwrap() = endpoint["secret"].as_str().unwrap().to_owned();
        let plan = |name: &str, price: &str| {
            let body = json!({"name": name, "price": price});
            let app = &app;
            let token = admin.token.clone();
            async move {
                send(app, &token, "POST", "/api/admin/plans", body).await["id"]
                    .as_i64()
                    .unwrap()
            }
        };
        let pro = plan("Pro", "9.99").await;
        let hobby = plan("Hobby", "4.99").await;
        let user = customer.id;
        let db_url = app.database.url().to_owned();

        // A customer orders Pro; an administrator marks it paid.
        let placed = send(
            &app,
            &customer.token,
            "POST",
            "/api/orders",
            json!({"planId": pro}),
        )
        .await;
        let a = placed["id"].as_i64().unwrap();
        let mark_paid = format!("/api/admin/orders/{a}/mark-paid");
        send(&app, &admin.token, "POST", &mark_paid, json!({})).await;
        // The administrator changes the plan to Hobby, then cancels it.
        let apply = format!("/api/admin/users/{user}/apply-plan");
        send(&app, &admin.token, "POST", &apply, json!({"planId": hobby})).await;
        let cancel = format!("/api/admin/users/{user}/cancel-plan");
        send(&app, &admin.token, "POST", &cancel, json!({})).await;
        // Pro again, ending in two days: the sweep creates its renewal at once.
        let ends = chrono::Utc::now() + chrono::TimeDelta::days(2);
        send(
            &app,
            &admin.token,
            "POST",
            &apply,
            json!({"planId": pro, "expiresAt": ends.to_rfc3339()}),
        )
        .await;
        run_cli(&db_url, &["sweep"]).await;
        let account = json!({"kind": "user", "id": user});
        let mut so_far = account_events(&receiver, &account, 17).await;
        // Mark-paid's `payment.succeeded` (checked below) comes second.
        so_far.remove(1);
        let c = so_far[11]["data"]["id"].as_i64().unwrap();
        let d = so_far[15]["data"]["id"].as_i64().unwrap();
        // The period ended and the renewal went unpaid past the pending TTL.
        let past = chrono::Utc::now() - chrono::TimeDelta::days(30);
        execute_sql(
            &app.db,
            format!(
                "UPDATE orders SET expires_at = '{}' WHERE id = {c}; \
                 UPDATE orders SET created_at = '{}' WHERE id = {d};",
                sql_time(past),
                sql_time(past)
            ),
        )
        .await
        .unwrap();
        run_cli(&db_url, &["sweep"]).await;

        let mut events = account_events(&receiver, &account, 20).await;
        let sequences: Vec<u64> = events
            .iter()
            .map(|event| event["sequence"].as_u64().unwrap())
            .collect();
        assert_eq!(sequences, (1..=20).collect::<Vec<_>>(), "{backend:?}");
        // Mark-paid records a manual payment before it activates the order.
        assert_eq!(events[1]["type"], "payment.succeeded", "{backend:?}");
        assert_eq!(
            events[1]["data"]["payment"]["provider"], "manual",
            "{:?}",
            events[1]
        );
        assert_eq!(
            events[1]["data"]["payment"]["orderId"], a,
            "{:?}",
            events[1]
        );
        // A price is a JSON number in events as in every answer of the API.
        assert!(
            events[1]["data"]["payment"]["amount"].is_number(),
            "{:?}",
            events[1]
        );
        events.remove(1);
        let types: Vec<&str> = events
            .iter()
            .map(|event| event["type"].as_str().unwrap())
            .collect();
        assert_eq!(
            types,
            [
                "order.created",        // A placed
                "order.activated",      // A paid
                "invoice.issued",       // A's number
                "account.plan_changed", // Pro
                "order.created",        // B applied
                "order.cancelled",      // A replaced
                "order.activated",      // B
                "invoice.issued",       // B's number
                "account.plan_changed", // Hobby
                "order.cancelled",      // cancel-plan: B
                "account.plan_changed", // back on the default plan
                "order.created",        // C applied
                "order.activated",      // C
                "invoice.issued",       // C's number
                "account.plan_changed", // Pro
                "order.renewal_created",
                "order.expired",        // C's period ended
                "account.plan_changed", // back on the default plan
                "order.expired",        // D, pending too long
            ],
            "{backend:?}"
        );
        let order_of = |i: usize| events[i]["data"]["id"].as_i64().unwrap();
        let b = order_of(4);
        assert_eq!(
            [
                order_of(0),
                order_of(1),
                order_of(5),
                order_of(6),
                order_of(9)
            ],
            [a, a, a, b, b]
        );
        assert_eq!([order_of(12), order_of(16), order_of(18)], [c, c, d]);
        assert_eq!(events[15]["data"]["status"], "pending");
        assert_eq!(events[1]["data"]["status"], "active");
        assert_eq!(events[5]["data"]["status"], "cancelled");
        assert_eq!(events[16]["data"]["status"], "expired");

        // invoice.issued: the number and the order it was issued for.
        for (i, order) in [(2, a), (7, b), (13, c)] {
            let data = &events[i]["data"];
            assert_eq!(data["order"]["id"], order, "{backend:?}");
            assert!(data["invoiceNumber"].is_string(), "{backend:?}: {data}");
            assert_eq!(data["invoiceNumber"], data["order"]["invoiceNumber"]);
        }
        // account.plan_changed: the effective plan, its limits and the active order.
        let free = send(&app, &admin.token, "GET", "/api/plans", Value::Null).await;
        let default_plan = free
            .as_array()
            .into_iter()
            .flatten()
            .chain(free["data"].as_array().into_iter().flatten())
            .find(|plan| plan["isDefault"] == true)
            .cloned()
            .unwrap_or(Value::Null);
        for (i, plan, order) in [
            (3, json!(pro), json!(a)),
            (8, json!(hobby), json!(b)),
            (10, default_plan["id"].clone(), Value::Null),
            (14, json!(pro), json!(c)),
            (17, default_plan["id"].clone(), Value::Null),
        ] {
            let data = &events[i]["data"];
            assert_eq!(data["plan"]["id"], plan, "{backend:?} event {i}: {data}");
            let order_id = if data["order"].is_null() {
                Value::Null
            } else {
                data["order"]["id"].clone()
            };
            assert_eq!(order_id, order, "{backend:?} event {i}");
            assert_eq!(
                data["limits"]["memory"], data["plan"]["memory"],
                "{backend:?}"
            );
            assert!(data["limits"].is_object(), "{backend:?}");
        }
        assert_eq!(events[8]["data"]["order"]["status"], "active");

        // Each order's last event carries what GET /api/orders/:id answers an admin.
        for (order, last) in [(a, 5), (b, 9), (c, 16), (d, 18)] {
            let shown = send(
                &app,
                &admin.token,
                "GET",
                &format!("/api/orders/{order}"),
                Value::Null,
            )
            .await;
            assert_eq!(events[last]["data"], shown, "{backend:?}: order {order}");
        }
    }
}
