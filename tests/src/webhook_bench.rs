//! The webhook scenario of the `bench` binary (`bench --scenario webhooks`): the release
//! `tariff` binary delivers to a local receiver (an actix-web server on port 0 that
//! answers 200 at once).
//!
//! - Throughput: N deliveries are stored for a disabled endpoint, the endpoint is
//!   enabled, and the time until the receiver has all N gives deliveries per second.
//! - Latency: events are committed at a steady rate (one transaction each: the event
//!   and its delivery, as `store_event` writes them), and the time from each commit to
//!   the receiver's arrival gives p50 and p99.
//!
//! Rows are inserted by SQL, not through the API, so that the figures measure the
//! outbox and the worker, not the writes that cause events.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use serde_json::{json, Value};
use tariff_persistence::testing::{execute_sql, seed_user, TestDatabase};
use tariff_persistence::{Backend, Database, PoolOptions};

/// What the scenario measured on one backend.
#[derive(Clone, Debug)]
pub struct WebhookFigures {
    pub deliveries: usize,
    pub deliveries_per_sec: u64,
    pub offered_events_per_sec: u64,
    pub latency_events: usize,
    /// Latency events that had not arrived two minutes after the last commit.
    pub missing: usize,
    /// Commit to arrival, microseconds; `u64::MAX` for an event that never arrived.
    pub p50_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
}

/// `count` per second over `elapsed`, in whole numbers.
fn per_second(count: u64, elapsed: Duration) -> u64 {
    let micros = u64::try_from(elapsed.as_micros())
        .unwrap_or(u64::MAX)
        .max(1);
    count.saturating_mul(1_000_000) / micros
}

#[derive(Default)]
struct Arrivals {
    count: Mutex<usize>,
    /// Latency events by number: when they arrived.
    latency: Mutex<HashMap<u64, Instant>>,
}

async fn receive(req: HttpRequest, state: web::Data<Arrivals>) -> HttpResponse {
    let id = req
        .headers()
        .get("webhook-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if let Some(n) = id.strip_prefix("evt_lat").and_then(|n| n.parse().ok()) {
        if let Ok(mut latency) = state.latency.lock() {
            latency.entry(n).or_insert_with(Instant::now);
        }
    }
    if let Ok(mut count) = state.count.lock() {
        *count += 1;
    }
    HttpResponse::Ok().finish()
}

struct Service(Child);

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(tariff: &Path, url: &str, log: &Path) -> (Service, String) {
    let stderr = std::fs::File::create(log)
        .map(Stdio::from)
        .unwrap_or_else(|_| Stdio::null());
    let mut child = Command::new(tariff)
        .args(["--database-url", url, "serve"])
        .env("TARIFF_SERVER__BIND", "127.0.0.1:0")
        .env("TARIFF_SERVER__WORKERS", "2")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", tariff.display()));
    let stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
    let service = Service(child);
    let mut reader = BufReader::new(stdout);
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            panic!("tariff exited before listening");
        }
        if let Some(at) = line.find("http://") {
            let base = line[at..].trim().to_owned();
            std::thread::spawn(move || for _ in reader.lines() {});
            return (service, base);
        }
    }
}

fn sql_now(offset_secs: i64) -> String {
    (chrono::Utc::now() + chrono::TimeDelta::seconds(offset_secs))
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

fn body(id: &str, sequence: u64) -> String {
    json!({"id": id, "type": "plan.updated", "createdAt": "2026-11-30T10:00:00Z",
           "account": null, "sequence": sequence, "data": {"bench": true}})
    .to_string()
}

/// Runs the scenario on one backend: `deliveries` for the throughput part, then events
/// at `rate` per second for `seconds`.
pub async fn run(
    tariff: &Path,
    test_db: &TestDatabase,
    deliveries: usize,
    rate: u32,
    seconds: u64,
) -> WebhookFigures {
    let url = test_db.url().to_owned();
    let status = Command::new(tariff)
        .args(["--database-url", &url, "migrate"])
        .stdout(Stdio::null())
        .status()
        .unwrap_or_else(|e| panic!("{}: {e}", tariff.display()));
    assert!(status.success(), "migrate failed");
    let db = Database::connect(&url, &PoolOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    let admin = seed_user(&db, "bench-webhooks@example.com", "admin").await;

    let arrivals = web::Data::new(Arrivals::default());
    let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    let address = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    let data = arrivals.clone();
    let receiver = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .route("/hook", web::post().to(receive))
    })
    .workers(2)
    .listen(listener)
    .unwrap_or_else(|e| panic!("{e}"))
    .run();
    let receiver_handle = receiver.handle();
    tokio::spawn(receiver);

    let _ = std::fs::create_dir_all("target/bench");
    let backend = test_db.backend();
    let log = format!("target/bench/tariff-webhooks-{}.log", backend.name());
    let (_service, base) = serve(tariff, &url, Path::new(&log));
    let client = reqwest::Client::new();
    let endpoint: Value = client
        .post(format!("{base}/api/admin/webhooks"))
        .bearer_auth(&admin.token)
        .json(&json!({"url": format!("http://{address}/hook"), "events": ["*"], "enabled": false}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .json()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let endpoint_id = endpoint["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("endpoint: {endpoint}"));

    // Throughput: N pending deliveries, then the endpoint is enabled.
    let due = sql_now(-60);
    for chunk in (1..=deliveries).collect::<Vec<_>>().chunks(1000) {
        let values: Vec<String> = chunk
            .iter()
            .map(|n| {
                let id = format!("evt_thr{n}");
                format!(
                    "('{id}', 'plan.updated', 'bench', {n}, '{}', '{due}')",
                    body(&id, *n as u64)
                )
            })
            .collect();
        execute_sql(
            &db,
            format!(
                "INSERT INTO webhook_events (event_id, event_type, stream, sequence, body, created_at) VALUES {}",
                values.join(",")
            ),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    }
    execute_sql(
        &db,
        format!(
            "INSERT INTO webhook_deliveries (endpoint_id, event_row_id, status, attempts, series_attempt, next_attempt_at, created_at) \
             SELECT {endpoint_id}, id, 'pending', 0, 1, created_at, created_at FROM webhook_events WHERE stream = 'bench'"
        ),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let started = Instant::now();
    let enabled = client
        .put(format!("{base}/api/admin/webhooks/{endpoint_id}"))
        .bearer_auth(&admin.token)
        .json(&json!({"enabled": true}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        enabled.status().is_success(),
        "enabling the endpoint failed"
    );
    loop {
        let count = arrivals.count.lock().map(|c| *c).unwrap_or(0);
        if count >= deliveries {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "{count} of {deliveries} delivered in 10 minutes; see {log}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let throughput = started.elapsed();

    // Latency: one committed event (and its delivery) every 1/rate s.
    let total = u64::from(rate) * seconds;
    let mut committed: HashMap<u64, Instant> = HashMap::new();
    let begin = match backend {
        Backend::Sqlite => "BEGIN IMMEDIATE",
        Backend::Postgres => "BEGIN",
    };
    let mut ticker = tokio::time::interval(Duration::from_micros(1_000_000 / u64::from(rate)));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let offered_from = Instant::now();
    for n in 1..=total {
        ticker.tick().await;
        let id = format!("evt_lat{n}");
        let now = sql_now(-1);
        execute_sql(
            &db,
            format!(
                "{begin}; \
                 INSERT INTO webhook_events (event_id, event_type, stream, sequence, body, created_at) \
                 VALUES ('{id}', 'plan.updated', 'bench-latency', {n}, '{}', '{now}'); \
                 INSERT INTO webhook_deliveries (endpoint_id, event_row_id, status, attempts, series_attempt, next_attempt_at, created_at) \
                 SELECT {endpoint_id}, id, 'pending', 0, 1, created_at, created_at FROM webhook_events WHERE event_id = '{id}'; \
                 COMMIT;",
                body(&id, n)
            ),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
        committed.insert(n, Instant::now());
    }
    let offered = per_second(total, offered_from.elapsed());
    let waited = Instant::now();
    loop {
        let arrived = arrivals.latency.lock().map(|l| l.len()).unwrap_or(0);
        if arrived as u64 >= total || waited.elapsed() > Duration::from_secs(120) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let arrived = arrivals
        .latency
        .lock()
        .map(|l| l.clone())
        .unwrap_or_default();
    let mut latencies: Vec<u64> = committed
        .iter()
        .map(|(n, at)| match arrived.get(n) {
            Some(when) => {
                u64::try_from(when.saturating_duration_since(*at).as_micros()).unwrap_or(u64::MAX)
            }
            None => u64::MAX,
        })
        .collect();
    latencies.sort_unstable();
    // The nearest-rank percentile: the smallest value at or above `permille` of them.
    let pick = |permille: usize| {
        let rank = (latencies.len() * permille).div_ceil(1000);
        latencies
            .get(rank.saturating_sub(1))
            .copied()
            .unwrap_or(u64::MAX)
    };
    drop(receiver_handle.stop(false));
    WebhookFigures {
        deliveries,
        deliveries_per_sec: per_second(u64::try_from(deliveries).unwrap_or(u64::MAX), throughput),
        offered_events_per_sec: offered,
        latency_events: latencies.len(),
        missing: latencies.iter().filter(|us| **us == u64::MAX).count(),
        p50_us: pick(500),
        p99_us: pick(990),
        max_us: latencies.last().copied().unwrap_or(u64::MAX),
    }
}
