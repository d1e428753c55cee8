//! The outbox under SIGKILL: the real `tariff` binary (a child process) serves clients
//! that place, pay and cancel orders while a receiver holds every delivery open (so
//! attempts are mid-delivery and more events are pending); the process is killed with
//! SIGKILL, the receiver starts answering, and the binary is restarted on the same
//! database. Every event of an acknowledged change must then be delivered, every event
//! stored must arrive at least once, and no event id may ever arrive with another body.
//! SQLite, and PostgreSQL with TEST_DATABASE_URL. Prints the counts.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::collections::{BTreeSet, HashMap};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use diesel::prelude::*;
use serde_json::{json, Value};
use tariff_persistence::{Database, DbConn, PoolOptions};
use tariff_tests::process::{cli_admin_token, run_cli, ServiceProcess};
use tariff_tests::standard_webhooks::signature_verifies;
use tariff_tests::TestDatabase;

const CUSTOMERS: usize = 3;
const LOAD_FOR: Duration = Duration::from_millis(2000);

#[derive(Default)]
struct ReceiverState {
    secret: Mutex<String>,
    /// While set, every request is held open (the process dies with it in flight).
    hold: AtomicBool,
    /// `(webhook-id, body, verified, arrived after the restart)`.
    received: Mutex<Vec<(String, String, bool, bool)>>,
    restarted: AtomicBool,
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
    let after = state.restarted.load(Ordering::SeqCst);
    state.received.lock().unwrap().push((
        id,
        String::from_utf8_lossy(&body).into_owned(),
        ok,
        after,
    ));
    if state.hold.load(Ordering::SeqCst) {
        // Never answered in time: the attempt is in flight when the process dies.
        tokio::time::sleep(Duration::from_secs(600)).await;
    }
    HttpResponse::Ok().finish()
}

fn start_receiver() -> (String, Arc<ReceiverState>, actix_web::dev::ServerHandle) {
    let state = web::Data::new(ReceiverState::default());
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let data = state.clone();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .route("/hook", web::post().to(receive))
    })
    .workers(2)
    .listen(listener)
    .unwrap()
    .run();
    let handle = server.handle();
    tokio::spawn(server);
    (format!("http://{address}/hook"), state.into_inner(), handle)
}

async fn post(client: &reqwest::Client, url: String, token: &str, body: Value) -> Option<Value> {
    let response = client
        .post(url)
        .bearer_auth(token)
        .json(&body)
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .ok()?;
    if !response.status().is_success() {
        return None;
    }
    response.json().await.ok()
}

/// `(order id, event type)` pairs that acknowledged changes must have sent.
type Expected = Arc<Mutex<BTreeSet<(i64, &'static str)>>>;

/// One client: a free order (active at once), a paid order, its payment, its
/// cancellation; until the service stops answering.
async fn drive(
    base: String,
    admin: String,
    customer: String,
    free: i64,
    paid: i64,
    expected: Expected,
) {
    let client = reqwest::Client::new();
    let mut failures = 0;
    let ack = |id: i64, types: &[&'static str]| {
        let mut set = expected.lock().unwrap();
        for t in types {
            set.insert((id, *t));
        }
    };
    while failures < 3 {
        let url = format!("{base}/api/orders");
        let Some(order) = post(&client, url.clone(), &customer, json!({"planId": free})).await
        else {
            failures += 1;
            continue;
        };
        ack(
            order["id"].as_i64().unwrap(),
            &["order.created", "order.activated", "invoice.issued"],
        );
        let Some(order) = post(&client, url, &customer, json!({"planId": paid})).await else {
            failures += 1;
            continue;
        };
        let id = order["id"].as_i64().unwrap();
        ack(id, &["order.created"]);
        let paid_url = format!("{base}/api/admin/orders/{id}/mark-paid");
        if post(&client, paid_url, &admin, json!({})).await.is_none() {
            failures += 1;
            continue;
        }
        ack(id, &["order.activated", "invoice.issued"]);
        let cancel = format!("{base}/api/orders/{id}/cancel");
        if post(&client, cancel, &customer, json!({})).await.is_none() {
            failures += 1;
            continue;
        }
        ack(id, &["order.cancelled"]);
    }
}

#[derive(QueryableByName)]
struct EventRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    event_id: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    body: String,
}

fn stored_events(c: &mut DbConn<'_>) -> QueryResult<Vec<EventRow>> {
    c.load(diesel::sql_query(
        "SELECT event_id, body FROM webhook_events WHERE stream <> 'catalogue'",
    ))
}

async fn crash(database: TestDatabase) {
    let backend = database.backend().name();
    let url = database.url().to_owned();
    run_cli(&url, &["migrate"]).await;
    let admin = cli_admin_token(&url).await;
    let plans = tempfile::NamedTempFile::with_suffix(".json").unwrap();
    std::fs::write(
        plans.path(),
        r#"[{"name":"Pro","type":"paid","price":"9.99","currency":"EUR"},
            {"name":"Hobby","type":"free","price":"0","currency":"EUR"}]"#,
    )
    .unwrap();
    run_cli(&url, &["plans", "import", plans.path().to_str().unwrap()]).await;
    let mut customers = Vec::new();
    for i in 0..CUSTOMERS {
        let email = format!("c{i}@example.com");
        run_cli(
            &url,
            &["users", "create", "--email", &email, "--name", &email],
        )
        .await;
        let token = run_cli(&url, &["tokens", "create", "--email", &email]).await;
        customers.push(token.trim().to_owned());
    }
    let key = STANDARD.encode([7_u8; 32]);
    let env = [
        (
            "TARIFF_WEBHOOKS__RETRY_DELAYS",
            "1s,1s,1s,1s,1s,1s,1s,1s,1s,1s",
        ),
        ("TARIFF_WEBHOOKS__TIMEOUT_MS", "3000"),
        ("TARIFF_WEBHOOKS__ENCRYPTION_KEY", key.as_str()),
    ];
    let mut service = ServiceProcess::start(&url, &env).await;
    let (hook, receiver, handle) = start_receiver();
    receiver.hold.store(true, Ordering::SeqCst);
    let http = reqwest::Client::new();
    let endpoint = post(
        &http,
        service.url("/api/admin/webhooks"),
        &admin,
        json!({"url": hook, "events": ["*"]}),
    )
    .await
    .unwrap();
    *receiver.secret.lock().unwrap() = endpoint["secret"].as_str().unwrap().to_owned();
    let listed: Vec<Value> = reqwest::get(service.url("/api/plans"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let plan = |name: &str| {
        listed.iter().find(|p| p["name"] == name).unwrap()["id"]
            .as_i64()
            .unwrap()
    };
    let (free, paid) = (plan("Hobby"), plan("Pro"));

    let expected: Expected = Arc::default();
    let clients: Vec<_> = customers
        .iter()
        .map(|customer| {
            tokio::spawn(drive(
                service.base_url.clone(),
                admin.clone(),
                customer.clone(),
                free,
                paid,
                expected.clone(),
            ))
        })
        .collect();
    tokio::time::sleep(LOAD_FOR).await;
    let held_at_kill = receiver.received.lock().unwrap().len();
    service.kill().await;
    for client in clients {
        tokio::time::timeout(Duration::from_secs(30), client)
            .await
            .expect("a client hung after the kill")
            .unwrap();
    }
    receiver.hold.store(false, Ordering::SeqCst);
    receiver.restarted.store(true, Ordering::SeqCst);
    let service = service.restart().await;

    let db = Database::connect(&url, &PoolOptions::default()).unwrap();
    let expected = expected.lock().unwrap().clone();
    let started = Instant::now();
    let (stored, received) = loop {
        let stored = db.query(|c| Ok(stored_events(c)?)).await.unwrap();
        let received = receiver.received.lock().unwrap().clone();
        let arrived: BTreeSet<&str> = received
            .iter()
            .filter(|(_, _, ok, after)| *ok && *after)
            .map(|(id, ..)| id.as_str())
            .collect();
        if stored.iter().all(|e| arrived.contains(e.event_id.as_str())) {
            break (stored, received);
        }
        assert!(
            started.elapsed() < Duration::from_secs(180),
            "{backend}: {} of {} stored events delivered after the restart; log:\n{}",
            stored
                .iter()
                .filter(|e| arrived.contains(e.event_id.as_str()))
                .count(),
            stored.len(),
            service.log()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };

    // No id ever arrives with another body than the one stored.
    let bodies: HashMap<&str, &str> = stored
        .iter()
        .map(|e| (e.event_id.as_str(), e.body.as_str()))
        .collect();
    let mut per_id: HashMap<&str, usize> = HashMap::new();
    for (id, body, ok, _) in &received {
        assert!(ok, "{backend}: delivery {id} failed the signature check");
        if let Some(stored) = bodies.get(id.as_str()) {
            assert_eq!(
                stored, body,
                "{backend}: event {id} arrived with another body"
            );
        }
        *per_id.entry(id.as_str()).or_default() += 1;
    }
    // Every acknowledged change's event is among those delivered.
    let delivered: BTreeSet<(i64, String)> = stored
        .iter()
        .map(|e| serde_json::from_str::<Value>(&e.body).unwrap())
        .filter_map(|event| {
            let data = &event["data"];
            let id = data["id"]
                .as_i64()
                .or_else(|| data["order"]["id"].as_i64())?;
            Some((id, event["type"].as_str()?.to_owned()))
        })
        .collect();
    let missing: Vec<_> = expected
        .iter()
        .filter(|(id, t)| !delivered.contains(&(*id, (*t).to_owned())))
        .collect();
    assert!(
        missing.is_empty(),
        "{backend}: acknowledged but never sent: {missing:?}"
    );
    let repeated = per_id.values().filter(|n| **n > 1).count();
    println!(
        "WEBHOOK CRASH ({backend}): SIGKILL with {held_at_kill} request(s) received and held open; \
         {} acknowledged order events expected, {} events stored (all delivered after the restart, \
         {:.1}s), {} requests in all, {repeated} ids delivered more than once, 0 with another body",
        expected.len(),
        stored.len(),
        started.elapsed().as_secs_f64(),
        received.len()
    );
    assert!(
        expected.len() > 10,
        "{backend}: too little load: {}",
        expected.len()
    );
    drop(handle.stop(false));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_event_is_delivered_after_sigkill_on_sqlite() {
    crash(TestDatabase::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_event_is_delivered_after_sigkill_on_postgres() {
    let Some(database) = TestDatabase::postgres() else {
        return;
    };
    crash(database).await;
}
