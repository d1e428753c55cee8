//! Crash safety of the real binary: concurrent clients drive writes (orders, payments,
//! apply-plan, usage), the process is killed with SIGKILL mid-stream and restarted on
//! the same database. Every acknowledged write (a 2xx received) must be there, nothing
//! half-written (every order has its items, every activated order its invoice number),
//! invoice numbers gapless, and usage equal to the sum of granted deltas. Twice per
//! backend, on SQLite and PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tariff_tests::process::{cli_admin_token, run_cli, ServiceProcess};
use tariff_tests::TestDatabase;

const CUSTOMERS: usize = 4;
/// How long the clients write before the kill.
const LOAD_FOR: Duration = Duration::from_millis(1500);

/// What the service acknowledged, and what it was asked without an answer.
#[derive(Default)]
struct Ledger {
    /// Orders the service answered 2xx for (placed, paid, applied), by id.
    orders: BTreeSet<i64>,
    /// Orders acknowledged as activated (paid, applied, free): they must carry a number.
    activated: BTreeSet<i64>,
    /// Acknowledged payments (a write of their own on an order already counted).
    paid: BTreeSet<i64>,
    /// Usage calls by idempotency key: (user, delta, acknowledged).
    usage: BTreeMap<String, (i64, i64, bool)>,
    acknowledged: usize,
}

struct World {
    admin: String,
    customers: Vec<(i64, String)>,
    pro: i64,
    hobby: i64,
}

async fn post(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    path: &str,
    body: Value,
) -> Option<Value> {
    let response = client
        .post(format!("{base}{path}"))
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

/// One client's loop: place an order, pay it, apply a plan, reserve usage, place a free
/// order; until the service stops answering.
async fn drive(
    base: String,
    world: Arc<World>,
    ledger: Arc<Mutex<Ledger>>,
    client_no: usize,
    round: usize,
) {
    let client = reqwest::Client::new();
    let (user, token) = world.customers[client_no % world.customers.len()].clone();
    let mut step = 0_u64;
    let mut failures = 0;
    while failures < 3 {
        step += 1;
        let key = format!("r{round}-c{client_no}-s{step}");
        ledger
            .lock()
            .unwrap()
            .usage
            .insert(key.clone(), (user, 1, false));
        let ok = match post(
            &client,
            &base,
            &world.admin,
            &format!("/api/admin/users/{user}/usage"),
            json!({"resource": "databases", "delta": 1, "idempotencyKey": key}),
        )
        .await
        {
            Some(_) => {
                let mut l = ledger.lock().unwrap();
                l.usage.get_mut(&key).unwrap().2 = true;
                l.acknowledged += 1;
                true
            }
            None => false,
        };
        let placed = post(
            &client,
            &base,
            &token,
            "/api/orders",
            json!({"planId": world.pro}),
        )
        .await;
        let mut ok = ok;
        if let Some(order) = placed {
            let id = order["id"].as_i64().unwrap();
            {
                let mut l = ledger.lock().unwrap();
                l.orders.insert(id);
                l.acknowledged += 1;
            }
            if let Some(paid) = post(
                &client,
                &base,
                &world.admin,
                &format!("/api/admin/orders/{id}/mark-paid"),
                json!({"reference": key}),
            )
            .await
            {
                let mut l = ledger.lock().unwrap();
                let paid = if paid["order"].is_object() {
                    &paid["order"]
                } else {
                    &paid
                };
                assert_eq!(paid["id"].as_i64(), Some(id), "{paid}");
                l.activated.insert(id);
                l.paid.insert(id);
                l.acknowledged += 1;
            }
        } else {
            ok = false;
        }
        let plan = if step.is_multiple_of(2) {
            world.pro
        } else {
            world.hobby
        };
        if let Some(applied) = post(
            &client,
            &base,
            &world.admin,
            &format!("/api/admin/users/{user}/apply-plan"),
            json!({"planId": plan}),
        )
        .await
        {
            let id = applied["order"]["id"].as_i64().unwrap();
            let mut l = ledger.lock().unwrap();
            l.orders.insert(id);
            l.activated.insert(id);
            l.acknowledged += 1;
        }
        if let Some(free) = post(
            &client,
            &base,
            &token,
            "/api/orders",
            // A downgrade ordered `now` is a new order (at `period_end`, the default for
            // a downgrade, the answer would be the current order).
            json!({"planId": world.hobby, "when": "now"}),
        )
        .await
        {
            let id = free["id"].as_i64().unwrap();
            let mut l = ledger.lock().unwrap();
            l.orders.insert(id);
            if free["status"] == "active" {
                l.activated.insert(id);
            }
            l.acknowledged += 1;
        }
        failures = if ok { 0 } else { failures + 1 };
    }
}

/// Every order the service holds, through the admin list.
async fn all_orders(client: &reqwest::Client, base: &str, admin: &str) -> Vec<Value> {
    let mut orders = Vec::new();
    let mut page = 1;
    loop {
        let body: Value = client
            .get(format!("{base}/api/admin/orders?per_page=100&page={page}"))
            .bearer_auth(admin)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        orders.extend(body["data"].as_array().unwrap().iter().cloned());
        if page >= body["meta"]["last_page"].as_u64().unwrap_or(1) {
            return orders;
        }
        page += 1;
    }
}

/// Checks everything acknowledged is stored and whole; replays unanswered usage calls by
/// their idempotency keys, then checks usage equals the granted deltas. Returns
/// (acknowledged, found).
async fn verify(service: &ServiceProcess, world: &World, ledger: &Mutex<Ledger>) -> (usize, usize) {
    let client = reqwest::Client::new();
    let base = &service.base_url;
    let orders = all_orders(&client, base, &world.admin).await;
    let by_id: BTreeMap<i64, &Value> = orders
        .iter()
        .map(|o| (o["id"].as_i64().unwrap(), o))
        .collect();
    let (acknowledged, found) = {
        let l = ledger.lock().unwrap();
        let mut found = 0;
        for id in &l.orders {
            assert!(by_id.contains_key(id), "acknowledged order {id} is gone");
            found += 1;
        }
        for id in &l.activated {
            let order = by_id[id];
            assert!(
                order["invoiceNumber"].is_string(),
                "activated order {id} lost its invoice number: {order}"
            );
        }
        // A payment is found when its order is numbered (checked just above).
        found += l.paid.len();
        // Usage acknowledgements are found when usage covers them (checked below).
        found += l.usage.values().filter(|(_, _, acked)| *acked).count();
        (l.acknowledged, found)
    };
    // Nothing half-written: items on every order, a number on every active one.
    let mut numbers: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for order in &orders {
        assert!(
            !order["items"].as_array().unwrap().is_empty(),
            "order without items: {order}"
        );
        if order["status"] == "active" {
            assert!(
                order["invoiceNumber"].is_string(),
                "active order without a number: {order}"
            );
        }
        if let Some(number) = order["invoiceNumber"].as_str() {
            let (prefix, seq) = number.rsplit_once('-').unwrap();
            numbers
                .entry(prefix.to_owned())
                .or_default()
                .push(seq.parse().unwrap());
        }
    }
    for (prefix, mut seqs) in numbers {
        seqs.sort_unstable();
        let expected: Vec<u64> = (1..=seqs.len() as u64).collect();
        assert_eq!(
            seqs, expected,
            "invoice numbers of {prefix} are not gapless"
        );
    }
    // Usage: at least what was acknowledged; after replaying every unanswered call with
    // its key (applied once at most), exactly the sum of all deltas.
    let pending: Vec<(String, i64, i64)> = ledger
        .lock()
        .unwrap()
        .usage
        .iter()
        .filter(|(_, (_, _, acked))| !acked)
        .map(|(key, (user, delta, _))| (key.clone(), *user, *delta))
        .collect();
    for (user, _) in &world.customers {
        let quota: Value = client
            .get(format!("{base}/api/users/{user}/quota"))
            .bearer_auth(&world.admin)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let used = quota["usage"]["databases"].as_i64().unwrap();
        let acked: i64 = ledger
            .lock()
            .unwrap()
            .usage
            .values()
            .filter(|(u, _, a)| u == user && *a)
            .map(|(_, d, _)| d)
            .sum();
        let unanswered: i64 = pending
            .iter()
            .filter(|(_, u, _)| u == user)
            .map(|(_, _, d)| d)
            .sum();
        assert!(
            used >= acked && used <= acked + unanswered,
            "user {user}: usage {used}, acknowledged {acked}, unanswered {unanswered}"
        );
    }
    for (key, user, delta) in &pending {
        let answer = post(
            &client,
            base,
            &world.admin,
            &format!("/api/admin/users/{user}/usage"),
            json!({"resource": "databases", "delta": delta, "idempotencyKey": key}),
        )
        .await;
        assert!(answer.is_some(), "replay of {key} failed");
        // Answered now: an acknowledged write from here on.
        let mut l = ledger.lock().unwrap();
        l.usage.get_mut(key).unwrap().2 = true;
        l.acknowledged += 1;
    }
    for (user, _) in &world.customers {
        let quota: Value = client
            .get(format!("{base}/api/users/{user}/quota"))
            .bearer_auth(&world.admin)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let granted: i64 = ledger
            .lock()
            .unwrap()
            .usage
            .values()
            .filter(|(u, _, _)| u == user)
            .map(|(_, d, _)| d)
            .sum();
        assert_eq!(
            quota["usage"]["databases"].as_i64().unwrap(),
            granted,
            "user {user}: usage is not the sum of granted deltas"
        );
    }
    (acknowledged, found)
}

async fn crash_rounds(database: TestDatabase) {
    let url = database.url().to_owned();
    run_cli(&url, &["migrate"]).await;
    let admin = cli_admin_token(&url).await;
    let plans = tempfile::NamedTempFile::with_suffix(".json").unwrap();
    std::fs::write(
        plans.path(),
        r#"[{"name":"Pro","type":"paid","price":"9.99","currency":"EUR","databases":0},
            {"name":"Hobby","type":"free","price":"0","currency":"EUR","databases":0}]"#,
    )
    .unwrap();
    run_cli(&url, &["plans", "import", plans.path().to_str().unwrap()]).await;
    let mut customers = Vec::new();
    for i in 0..CUSTOMERS {
        let email = format!("c{i}@example.com");
        let id: i64 = run_cli(
            &url,
            &["users", "create", "--email", &email, "--name", &email],
        )
        .await
        .trim()
        .parse()
        .unwrap();
        let token = run_cli(&url, &["tokens", "create", "--email", &email])
            .await
            .trim()
            .to_owned();
        customers.push((id, token));
    }
    let mut service = ServiceProcess::start(&url, &[]).await;
    let listed: Vec<Value> = reqwest::get(service.url("/api/plans"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let plan_id = |name: &str| {
        listed.iter().find(|p| p["name"] == name).unwrap()["id"]
            .as_i64()
            .unwrap()
    };
    // Unlimited databases for everyone, whatever plan they are on: every delta is granted.
    let http = reqwest::Client::new();
    for (id, _) in &customers {
        let response = http
            .put(service.url(&format!("/api/admin/users/{id}/limits")))
            .bearer_auth(&admin)
            .json(&json!({"databases": 0}))
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success());
    }
    let world = Arc::new(World {
        admin,
        customers,
        pro: plan_id("Pro"),
        hobby: plan_id("Hobby"),
    });
    let ledger = Arc::new(Mutex::new(Ledger::default()));

    for round in 1..=2 {
        let clients: Vec<_> = (0..CUSTOMERS + 2)
            .map(|n| {
                tokio::spawn(drive(
                    service.base_url.clone(),
                    world.clone(),
                    ledger.clone(),
                    n,
                    round,
                ))
            })
            .collect();
        tokio::time::sleep(LOAD_FOR).await;
        let killed_at = Instant::now();
        service.kill().await;
        for client in clients {
            tokio::time::timeout(Duration::from_secs(30), client)
                .await
                .expect("a client hung after the kill")
                .unwrap();
        }
        service = service.restart().await;
        let restarted = killed_at.elapsed();
        let (acknowledged, found) = verify(&service, &world, &ledger).await;
        println!(
            "CRASH ({}) round {round}: SIGKILL mid-load; {acknowledged} writes acknowledged, {found} found after restart ({:.1}s to serve again)",
            database.backend().name(),
            restarted.as_secs_f64()
        );
        assert_eq!(acknowledged, found);
        assert!(
            acknowledged > 10,
            "too little load to mean anything: {acknowledged}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_sigkill_on_sqlite() {
    crash_rounds(TestDatabase::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_sigkill_on_postgres() {
    let Some(database) = TestDatabase::postgres() else {
        return;
    };
    crash_rounds(database).await;
}
