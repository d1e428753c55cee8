//! `just bench`: the load benchmark. Starts the release `tariff` binary on a fresh
//! database (SQLite, and PostgreSQL when `TEST_DATABASE_URL` is set), loads a realistic
//! data set, drives load with `wrk` from a separate process, measures the ceiling (a bare
//! actix-web handler serving the same bytes), and prints one table. Figures are also
//! written to `target/bench/results.json`.
//!
//! Options: `--duration SECS` (default 10), `--connections N` (32), `--threads N` (2),
//! `--backend sqlite|postgres|all` (all), `--scenario webhooks` (only the webhook
//! delivery scenario, see `tariff_tests::webhook_bench`), `--scale small|large` (small).
//! `--scale large` measures the cold paths and the lifecycle sweep on the large data set
//! instead (see `tariff_tests::scale`).

use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tariff_persistence::testing::{execute_sql, TestDatabase};
use tariff_persistence::{Database, PoolOptions};

const USERS: i64 = 10_000;
const ORGS: i64 = 1_000;
const ORDERS: i64 = 100_000;
const PLANS: i64 = 20;
/// The frozen seller/buyer details every seeded (once active) order carries.
const SNAPSHOT: &str = r#"{"version":1,"frozenAt":"2026-01-01T00:00:00Z","seller":{"companyName":"Bench Hosting","issuedFromName":"Bench Hosting","issuedFromAddress":"1 Bench Street","logoPath":null},"buyer":{"name":"Bench User","email":null,"company":null,"addressLine1":null,"addressLine2":null,"city":null,"postcode":null,"country":"DE","taxId":null}}"#;

/// The user whose order list is measured: exactly 20 orders.
const TARGET_USER: i64 = 1;

struct Options {
    duration_secs: u64,
    connections: u32,
    threads: u32,
    backends: Vec<String>,
    scenario: String,
    large: bool,
}

fn parse_options() -> Options {
    let mut options = Options {
        duration_secs: 10,
        connections: 32,
        threads: 2,
        backends: vec![],
        scenario: "all".to_owned(),
        large: false,
    };
    let mut backend = "all".to_owned();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args.next().unwrap_or_default();
        match arg.as_str() {
            "--duration" => options.duration_secs = value.parse().unwrap_or(10),
            "--connections" => options.connections = value.parse().unwrap_or(32),
            "--threads" => options.threads = value.parse().unwrap_or(2),
            "--backend" => backend = value,
            "--scenario" => options.scenario = value,
            "--scale" => options.large = value == "large",
            other => {
                eprintln!("unknown option {other}");
                std::process::exit(2);
            }
        }
    }
    options.backends = match backend.as_str() {
        "sqlite" => vec!["sqlite".into()],
        "postgres" => vec!["postgres".into()],
        _ => vec!["sqlite".into(), "postgres".into()],
    };
    options
}

/// One wrk run's figures, latencies in microseconds.
#[derive(Clone, Debug, Default)]
struct Figures {
    requests_per_sec_x100: u64,
    p50_us: u64,
    p99_us: u64,
    errors: u64,
    requests: u64,
}

/// Parses `356.00us`, `1.23ms`, `2.00s` into microseconds without floats.
fn parse_duration_us(text: &str) -> Option<u64> {
    let (number, unit_factor) = if let Some(n) = text.strip_suffix("us") {
        (n, 1)
    } else if let Some(n) = text.strip_suffix("ms") {
        (n, 1_000)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1_000_000)
    } else {
        return None;
    };
    let (int, frac) = number.split_once('.').unwrap_or((number, ""));
    let frac = format!("{frac:0<2}");
    let hundredths: u64 = format!("{int}{}", &frac[..2]).parse().ok()?;
    Some(hundredths * unit_factor / 100)
}

fn parse_hundredths(text: &str) -> Option<u64> {
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    let frac = format!("{frac:0<2}");
    format!("{int}{}", &frac[..2]).parse().ok()
}

fn parse_wrk(output: &str) -> Figures {
    let mut figures = Figures::default();
    for line in output.lines().map(str::trim) {
        let parts: Vec<&str> = line.split_whitespace().collect();
        match parts.as_slice() {
            ["50%", value] => figures.p50_us = parse_duration_us(value).unwrap_or(0),
            ["99%", value] => figures.p99_us = parse_duration_us(value).unwrap_or(0),
            ["Requests/sec:", value] => {
                figures.requests_per_sec_x100 = parse_hundredths(value).unwrap_or(0)
            }
            ["Non-2xx", "or", "3xx", "responses:", n] => {
                figures.errors += n.parse::<u64>().unwrap_or(0)
            }
            [n, "requests", "in", ..] => figures.requests = n.parse().unwrap_or(0),
            ["Socket", "errors:", rest @ ..] => {
                figures.errors += rest
                    .iter()
                    .filter_map(|t| t.trim_end_matches(',').parse::<u64>().ok())
                    .sum::<u64>();
            }
            _ => {}
        }
    }
    figures
}

struct Service {
    child: Child,
    base: String,
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn bin_dir() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .unwrap_or_else(|| PathBuf::from("target/release"))
}

/// Starts a binary and waits for its `... listening on http://ADDR` line.
fn start(mut command: Command, log: &Path) -> Service {
    let stderr = std::fs::File::create(log)
        .map(Stdio::from)
        .unwrap_or_else(|_| Stdio::null());
    command.stdout(Stdio::piped()).stderr(stderr);
    let child = command
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {command:?}: {e}"));
    // Owned by `Service` from here on: its Drop kills and reaps the child on every path.
    let mut service = Service {
        child,
        base: String::new(),
    };
    let stdout = service
        .child
        .stdout
        .take()
        .unwrap_or_else(|| panic!("no stdout"));
    let mut reader = BufReader::new(stdout);
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            panic!("{command:?} exited before listening");
        }
        if let Some(at) = line.find("http://") {
            service.base = line[at..].trim().to_owned();
            // Keep draining stdout so the child never blocks on a full pipe.
            std::thread::spawn(move || for _ in reader.lines() {});
            return service;
        }
    }
}

fn rss_kb(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn wrk(options: &Options, url: &str, script: Option<&Path>, token: Option<&str>) -> Figures {
    let mut command = Command::new("wrk");
    command
        .arg(format!("-t{}", options.threads))
        .arg(format!("-c{}", options.connections))
        .arg(format!("-d{}s", options.duration_secs))
        .arg("--latency");
    if let Some(token) = token {
        command
            .arg("-H")
            .arg(format!("Authorization: Bearer {token}"));
    }
    if let Some(script) = script {
        command.arg("-s").arg(script);
    }
    command.arg(url);
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("wrk: {e} (install it: apt-get install wrk)"));
    parse_wrk(&String::from_utf8_lossy(&output.stdout))
}

/// The data set: 20 plans, 10,000 users, 1,000 organisations, 100,000 orders (20 of them
/// the target user's), usage rows, an admin. Plain SQL in chunks: fast on both backends.
async fn seed(db: &Database, bool_true: &str) -> (String, String) {
    let ts = "'2026-01-01 00:00:00'";
    let future = "'2099-01-01 00:00:00'";
    let mut sql = String::from("DELETE FROM plans;\n");
    for p in 1..=PLANS {
        let price = p * 250;
        let default = if p == 1 {
            bool_true
        } else {
            if bool_true == "1" {
                "0"
            } else {
                "FALSE"
            }
        };
        let _ = writeln!(
            sql,
            "INSERT INTO plans (id, name, plan_type, description, currency, price_monthly_minor, price_hourly_minor, \
             price_yearly_minor, memory, disk, cpu, servers, sites, databases, backups, port_count, tunnel_port_count, \
             email_daily_limit, email_queue_limit, server_create, server_update, server_delete, site_create, site_update, \
             site_delete, features, hidden, is_default, stripe_plan_id, created_at, updated_at) VALUES \
             ({p}, 'Plan {p}', '{}', 'Benchmark plan {p}', 'USD', {price}, 0, {}, 0, {}, {}, {}, {}, 5, 5, 3, 10, 100, 10, \
             {bool_true}, {bool_true}, {bool_true}, {bool_true}, {bool_true}, {bool_true}, '{{}}', {}, {default}, NULL, {ts}, {ts});",
            if p == 1 { "free" } else { "paid" },
            price * 10,
            p * 10_240,
            p * 100,
            p * 5,
            p * 10,
            if bool_true == "1" { "0" } else { "FALSE" },
        );
    }
    execute_sql(db, sql)
        .await
        .unwrap_or_else(|e| panic!("seed plans: {e}"));

    for chunk in (1..=USERS).collect::<Vec<_>>().chunks(1_000) {
        let rows: Vec<String> = chunk
            .iter()
            .map(|u| {
                let role = if *u == USERS { "admin" } else { "user" };
                format!("({u}, 'user{u}@bench.example', 'User {u}', '{role}', 'DE', {ts}, {ts})")
            })
            .collect();
        execute_sql(
            db,
            format!("INSERT INTO users (id, email, name, role, country, created_at, updated_at) VALUES {};", rows.join(",")),
        )
        .await
        .unwrap_or_else(|e| panic!("seed users: {e}"));
    }
    let orgs: Vec<String> = (1..=ORGS)
        .map(|o| format!("({o}, 'Org {o}', {ts})"))
        .collect();
    let members: Vec<String> = (1..=ORGS)
        .map(|o| format!("({o}, {}, 'owner', {ts})", o + 1))
        .collect();
    execute_sql(
        db,
        format!(
            "INSERT INTO organisations (id, name, created_at) VALUES {};\nINSERT INTO org_members (org_id, user_id, role, created_at) VALUES {};",
            orgs.join(","),
            members.join(",")
        ),
    )
    .await
    .unwrap_or_else(|e| panic!("seed orgs: {e}"));

    // Orders: the target user gets 20, everyone else ~10; one active order per user.
    let mut next_id = 1_i64;
    let mut batch = Vec::with_capacity(2_000);
    let mut items = Vec::with_capacity(2_000);
    let mut user = 1_i64;
    let mut per_user = 0_i64;
    while next_id <= ORDERS {
        let quota = if user == TARGET_USER { 20 } else { 10 };
        let plan = (next_id % PLANS) + 1;
        let status = if per_user == 0 {
            "active"
        } else if per_user % 2 == 0 {
            "cancelled"
        } else {
            "expired"
        };
        let price = plan * 250;
        let tax = (price * 19 + 50) / 100;
        batch.push(format!(
            "({next_id}, 'user', {user}, {user}, NULL, {plan}, '{status}', 'USD', {price}, 1900, {tax}, {}, 'Plan {plan} (monthly)', \
             {ts}, {ts}, {future}, 2026, {next_id}, 'INV-2026-{next_id:06}', '{SNAPSHOT}')",
            price + tax
        ));
        items.push(format!(
            "({next_id}, 1, 'Plan {plan} (monthly)', 1, {price}, {price})"
        ));
        next_id += 1;
        per_user += 1;
        if per_user == quota {
            per_user = 0;
            user = if user >= USERS - 1 { 2 } else { user + 1 };
        }
        if batch.len() == 2_000 || next_id > ORDERS {
            let sql = format!(
                "INSERT INTO orders (id, account_kind, account_id, user_id, org_id, plan_id, status, currency, subtotal_minor, \
                 tax_rate_bp, tax_minor, total_minor, description, created_at, activated_at, expires_at, invoice_year, \
                 invoice_seq, invoice_number, invoice_snapshot) VALUES {};\n\
                 INSERT INTO order_items (order_id, position, description, quantity, unit_price_minor, amount_minor) VALUES {};",
                batch.join(","),
                items.join(",")
            );
            execute_sql(db, sql)
                .await
                .unwrap_or_else(|e| panic!("seed orders: {e}"));
            batch.clear();
            items.clear();
        }
    }
    // Every seeded order was once active, so each has its invoice number; the counter
    // continues after them.
    execute_sql(
        db,
        format!("INSERT INTO invoice_counters (year, last_seq) VALUES (2026, {ORDERS});"),
    )
    .await
    .unwrap_or_else(|e| panic!("seed invoice counter: {e}"));
    // Their PDFs are stored, as on a running installation; otherwise the start-up
    // backfill would render 100,000 invoices during the run. The run downloads only the
    // invoice it issues itself, so the seeded rows hold a placeholder.
    let placeholder = b"%PDF-1.3 seeded";
    let digest = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(placeholder));
    let bytes = hex::encode(placeholder);
    let blob = if bool_true == "1" {
        format!("X'{bytes}'")
    } else {
        format!("'\\x{bytes}'::bytea")
    };
    execute_sql(
        db,
        format!(
            "INSERT INTO documents (kind, owner_id, number, sha256, content, created_at) \
             SELECT 'invoice', id, invoice_number, '{digest}', {blob}, created_at FROM orders \
             WHERE invoice_number IS NOT NULL;"
        ),
    )
    .await
    .unwrap_or_else(|e| panic!("seed stored invoices: {e}"));
    let usage: Vec<String> = (1..=USERS)
        .map(|u| format!("('user', {u}, 'servers', 1, NULL, {ts})"))
        .collect();
    for chunk in usage.chunks(2_000) {
        execute_sql(
            db,
            format!(
                "INSERT INTO usage_counters (account_kind, account_id, resource, used, period_day, updated_at) VALUES {};",
                chunk.join(",")
            ),
        )
        .await
        .unwrap_or_else(|e| panic!("seed usage: {e}"));
    }
    // Sequences on PostgreSQL must move past the explicit ids.
    if bool_true == "TRUE" {
        execute_sql(
            db,
            "SELECT setval(pg_get_serial_sequence('plans','id'), (SELECT MAX(id) FROM plans));\
             SELECT setval(pg_get_serial_sequence('users','id'), (SELECT MAX(id) FROM users));\
             SELECT setval(pg_get_serial_sequence('organisations','id'), (SELECT MAX(id) FROM organisations));\
             SELECT setval(pg_get_serial_sequence('orders','id'), (SELECT MAX(id) FROM orders));"
                .to_owned(),
        )
        .await
        .unwrap_or_else(|e| panic!("sequences: {e}"));
    }
    let admin = tariff_persistence::testing::add_token(db, USERS).await;
    let target = tariff_persistence::testing::add_token(db, TARGET_USER).await;
    (admin, target)
}

fn write_script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, body).unwrap_or_else(|e| panic!("write {name}: {e}"));
    path
}

struct Row {
    backend: String,
    name: String,
    figures: Option<Figures>,
    note: String,
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let options = parse_options();
    if options.scenario == "webhooks" {
        webhooks(&options).await;
        return;
    }
    if options.large {
        tariff_tests::scale::main(&options.backends, &bin_dir().join("tariff")).await;
        return;
    }
    let scratch = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let dir = scratch.path();
    let mut rows: Vec<Row> = Vec::new();
    let mut results = json!({"runs": [], "memory": {}, "ready_ms": {}});
    let mut ceiling_rps = 0_u64;

    for backend in &options.backends {
        let test_db = match backend.as_str() {
            "postgres" => match TestDatabase::postgres() {
                Some(db) => db,
                None => continue,
            },
            _ => TestDatabase::sqlite(),
        };
        eprintln!("== {backend}: migrating and seeding");
        let tariff = bin_dir().join("tariff");
        let status = Command::new(&tariff)
            .args(["--database-url", test_db.url(), "migrate"])
            .stdout(Stdio::null())
            .status()
            .unwrap_or_else(|e| panic!("{}: {e}", tariff.display()));
        assert!(status.success(), "migrate failed");
        let db = Database::connect(test_db.url(), &PoolOptions::default())
            .unwrap_or_else(|e| panic!("db: {e}"));
        let seeded_at = Instant::now();
        let bool_true = if backend == "postgres" { "TRUE" } else { "1" };
        let (admin_token, user_token) = seed(&db, bool_true).await;
        eprintln!("   seeded in {} ms", seeded_at.elapsed().as_millis());

        let started = Instant::now();
        let mut command = Command::new(&tariff);
        command
            .args(["--database-url", test_db.url(), "serve"])
            .env("TARIFF_SERVER__BIND", "127.0.0.1:0")
            .env("TARIFF_SERVER__WORKERS", "2")
            .env("TARIFF_LOG__LEVEL", "warn")
            .env("RUST_LOG", "warn")
            // Payments on, for the Stripe webhook scenario (nothing is sent to Stripe:
            // webhook ingestion makes no outbound call).
            .env(
                "TARIFF_PAYMENTS__STRIPE__SECRET_KEY",
                tariff_tests::fake_stripe::SECRET_KEY,
            )
            .env(
                "TARIFF_PAYMENTS__STRIPE__WEBHOOK_SECRET",
                tariff_tests::fake_stripe::WEBHOOK_SECRET,
            )
            .env("TARIFF_PAYMENTS__STRIPE__API_BASE", "http://127.0.0.1:9")
            .env("TARIFF_PAYMENTS__SUCCESS_URL", "https://bench.example/paid")
            .env("TARIFF_PAYMENTS__CANCEL_URL", "https://bench.example/back");
        let _ = std::fs::create_dir_all("target/bench");
        let service = start(
            command,
            Path::new(&format!("target/bench/tariff-{backend}.log")),
        );
        let client = reqwest::Client::new();
        let ready_url = format!("{}/readyz", service.base);
        while !client
            .get(&ready_url)
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let ready_ms = started.elapsed().as_millis();
        let pid = service.child.id();
        std::thread::sleep(Duration::from_millis(300));
        let idle_kb = rss_kb(pid, "VmRSS:");

        // An active order with an invoice, made through the API.
        let invoice_order = match client
            .post(format!(
                "{}/api/admin/users/{TARGET_USER}/apply-plan",
                service.base
            ))
            .bearer_auth(&admin_token)
            .json(&json!({"planId": 3}))
            .send()
            .await
        {
            Ok(r) if r.status().is_success() => r
                .json::<Value>()
                .await
                .ok()
                .and_then(|v| v["order"]["id"].as_i64()),
            _ => None,
        };

        // The ceiling serves exactly the bytes of the plan list.
        if ceiling_rps == 0 {
            let plans_body = match client
                .get(format!("{}/api/plans", service.base))
                .send()
                .await
            {
                Ok(r) => r.bytes().await.unwrap_or_default(),
                Err(e) => panic!("GET /api/plans: {e}"),
            };
            let body_file = dir.join("plans.json");
            std::fs::write(&body_file, &plans_body).unwrap_or_else(|e| panic!("body: {e}"));
            let mut command = Command::new(bin_dir().join("ceiling"));
            command.arg(&body_file).arg("2");
            let ceiling = start(command, Path::new("target/bench/ceiling.log"));
            eprintln!("== ceiling: constant {} byte body", plans_body.len());
            let figures = wrk(&options, &format!("{}/", ceiling.base), None, None);
            ceiling_rps = figures.requests_per_sec_x100;
            rows.push(Row {
                backend: "-".into(),
                name: format!("ceiling: constant {} B JSON", plans_body.len()),
                figures: Some(figures),
                note: String::new(),
            });
        }

        let apply_script = write_script(
            dir,
            "apply.lua",
            &format!(
                "wrk.method = 'POST'\nwrk.headers['Content-Type'] = 'application/json'\n\
                 request = function()\n  local id = math.random(2, {})\n  local plan = math.random(2, {PLANS})\n  \
                 return wrk.format('POST', '/api/admin/users/' .. id .. '/apply-plan', nil, '{{\"planId\":' .. plan .. '}}')\nend\n",
                USERS - 1
            ),
        );
        let usage_script = write_script(
            dir,
            "usage.lua",
            &format!(
                "wrk.method = 'POST'\nwrk.headers['Content-Type'] = 'application/json'\n\
                 request = function()\n  local id = math.random(2, {})\n  \
                 return wrk.format('POST', '/api/admin/users/' .. id .. '/usage', nil, '{{\"resource\":\"memory\",\"delta\":1}}')\nend\n",
                USERS - 1
            ),
        );
        let targets: Vec<(String, String, Option<PathBuf>, Option<String>)> = vec![
            (
                "GET /api/plans".into(),
                format!("{}/api/plans", service.base),
                None,
                None,
            ),
            (
                "GET /api/packages".into(),
                format!("{}/api/packages", service.base),
                None,
                Some(user_token.clone()),
            ),
            (
                "GET /api/orders (20 orders)".into(),
                format!("{}/api/orders", service.base),
                None,
                Some(user_token.clone()),
            ),
            (
                "GET /api/orders/:id/invoice".into(),
                format!(
                    "{}/api/orders/{}/invoice",
                    service.base,
                    invoice_order.unwrap_or(1)
                ),
                None,
                Some(user_token.clone()),
            ),
            (
                "POST apply-plan".into(),
                format!("{}/", service.base),
                Some(apply_script),
                Some(admin_token.clone()),
            ),
            (
                "POST usage +1".into(),
                format!("{}/", service.base),
                Some(usage_script),
                Some(admin_token.clone()),
            ),
        ];
        let mut targets = targets;
        let only_now = std::env::var("BENCH_ONLY").unwrap_or_default();
        if WEBHOOK_SCENARIO.contains(only_now.as_str()) {
            let script = webhook_scenario(&db, dir, bool_true, &options).await;
            targets.push((
                WEBHOOK_SCENARIO.into(),
                format!("{}/", service.base),
                Some(script),
                None,
            ));
        }
        // `BENCH_ONLY=orders` measures only the endpoints whose name contains it (profiling).
        let only = std::env::var("BENCH_ONLY").unwrap_or_default();
        for (name, url, script, token) in
            targets.into_iter().filter(|t| t.0.contains(only.as_str()))
        {
            // Skip endpoints this build does not have: GETs are probed directly, POSTs
            // through the OpenAPI document.
            let status = if let Some(api_path) = documented_path(&name) {
                let doc: Value = match client
                    .get(format!("{}/api/openapi.json", service.base))
                    .send()
                    .await
                {
                    Ok(r) => r.json().await.unwrap_or(Value::Null),
                    Err(_) => Value::Null,
                };
                if doc["paths"][api_path].is_object() {
                    200
                } else {
                    404
                }
            } else {
                let mut probe = client.get(&url);
                if let Some(token) = &token {
                    probe = probe.bearer_auth(token);
                }
                probe.send().await.map(|r| r.status().as_u16()).unwrap_or(0)
            };
            if status != 200 {
                rows.push(Row {
                    backend: backend.clone(),
                    name,
                    figures: None,
                    note: format!("skipped: probe answered {status}"),
                });
                continue;
            }
            eprintln!("== {backend}: {name}");
            let figures = wrk(&options, &url, script.as_deref(), token.as_deref());
            rows.push(Row {
                backend: backend.clone(),
                name,
                figures: Some(figures),
                note: String::new(),
            });
        }
        let peak_kb = rss_kb(pid, "VmHWM:");
        results["memory"][backend] = json!({"idle_rss_kb": idle_kb, "peak_rss_kb": peak_kb});
        results["ready_ms"][backend] = json!(ready_ms);
        rows.push(Row {
            backend: backend.clone(),
            name: format!(
                "memory: idle {} MB, peak {} MB; ready in {ready_ms} ms",
                idle_kb / 1024,
                peak_kb / 1024
            ),
            figures: None,
            note: String::new(),
        });
        drop(service);
        drop(db);
    }

    println!();
    println!(
        "{:<9} {:<42} {:>12} {:>10} {:>10} {:>8} {:>8}",
        "backend", "endpoint", "requests/s", "p50", "p99", "ratio", "errors"
    );
    for row in &rows {
        match &row.figures {
            Some(f) => {
                let ratio_pm = (f.requests_per_sec_x100 * 1000)
                    .checked_div(ceiling_rps)
                    .unwrap_or(0);
                println!(
                    "{:<9} {:<42} {:>12} {:>10} {:>10} {:>7}% {:>8}",
                    row.backend,
                    row.name,
                    f.requests_per_sec_x100 / 100,
                    format_us(f.p50_us),
                    format_us(f.p99_us),
                    format!("{}.{}", ratio_pm / 10, ratio_pm % 10),
                    f.errors
                );
                if let Some(runs) = results["runs"].as_array_mut() {
                    runs.push(json!({
                        "backend": row.backend, "endpoint": row.name,
                        "requests_per_sec": f.requests_per_sec_x100 / 100,
                        "p50_us": f.p50_us, "p99_us": f.p99_us,
                        "ratio_to_ceiling_permille": ratio_pm, "errors": f.errors, "requests": f.requests,
                    }));
                }
            }
            None => println!("{:<9} {} {}", row.backend, row.name, row.note),
        }
    }
    let out_dir = PathBuf::from("target/bench");
    let _ = std::fs::create_dir_all(&out_dir);
    let text = serde_json::to_string_pretty(&results).unwrap_or_default();
    match std::fs::write(out_dir.join("results.json"), text) {
        Ok(()) => println!("\nfigures written to target/bench/results.json"),
        Err(e) => eprintln!("cannot write results: {e}"),
    }
}

/// `--scenario webhooks`: deliveries per second to a local receiver, and commit-to-delivery
/// latency at 500 events/s, per backend.
async fn webhooks(options: &Options) {
    for backend in &options.backends {
        let test_db = match backend.as_str() {
            "postgres" => match TestDatabase::postgres() {
                Some(db) => db,
                None => continue,
            },
            _ => TestDatabase::sqlite(),
        };
        eprintln!("== {backend}: webhook deliveries");
        let figures = tariff_tests::webhook_bench::run(
            &bin_dir().join("tariff"),
            &test_db,
            20_000,
            500,
            options.duration_secs,
        )
        .await;
        println!(
            "{backend:<9} webhooks: {} deliveries at {}/s (target >= 2000/s); {} events offered at {}/s: commit to delivery p50 {}, p99 {}, max {} (target p99 < 500 ms)",
            figures.deliveries,
            figures.deliveries_per_sec,
            figures.latency_events,
            figures.offered_events_per_sec,
            format_us(figures.p50_us),
            format_us(figures.p99_us),
            format_us(figures.max_us)
        );
    }
}

/// The Stripe webhook ingestion scenario: each request is a distinct, validly signed
/// `checkout.session.completed` that pays a distinct pending order (activation, invoice
/// number, payment record, outgoing event, audit entry in one transaction).
const WEBHOOK_SCENARIO: &str = "POST /api/webhooks/stripe (paid)";

/// First id of the pending orders the webhook scenario pays.
const PENDING_BASE: i64 = 1_000_001;

/// Seeds pending orders (one per event, spread over the users) and writes a wrk script
/// whose requests are pre-signed events, each sent once: thread k of T sends events k,
/// k + T, ... Enough events for the run at 6,000/s; beyond them the script starts over
/// and the repeats are duplicates (answered, no effect).
async fn webhook_scenario(
    db: &Database,
    dir: &Path,
    bool_true: &str,
    options: &Options,
) -> PathBuf {
    let events =
        usize::try_from((options.duration_secs * 6_000).clamp(6_000, 120_000)).unwrap_or(60_000);
    let count = i64::try_from(events).unwrap_or(60_000);
    let ts = "'2026-11-30 00:00:00'";
    let (price, tax) = (500_i64, 95_i64);
    let mut batch = Vec::with_capacity(2_000);
    let mut items = Vec::with_capacity(2_000);
    for n in 0..count {
        let id = PENDING_BASE + n;
        let user = 2 + n % (USERS - 2);
        batch.push(format!(
            "({id}, 'user', {user}, {user}, NULL, 2, 'pending', 'USD', {price}, 1900, {tax}, {}, 'Plan 2 (monthly)', {ts})",
            price + tax
        ));
        items.push(format!(
            "({id}, 1, 'Plan 2 (monthly)', 1, {price}, {price})"
        ));
        if batch.len() == 2_000 || n + 1 == count {
            execute_sql(
                db,
                format!(
                    "INSERT INTO orders (id, account_kind, account_id, user_id, org_id, plan_id, status, currency, \
                     subtotal_minor, tax_rate_bp, tax_minor, total_minor, description, created_at) VALUES {};\n\
                     INSERT INTO order_items (order_id, position, description, quantity, unit_price_minor, amount_minor) VALUES {};",
                    batch.join(","),
                    items.join(",")
                ),
            )
            .await
            .unwrap_or_else(|e| panic!("seed pending orders: {e}"));
            batch.clear();
            items.clear();
        }
    }
    if bool_true == "TRUE" {
        execute_sql(
            db,
            "SELECT setval(pg_get_serial_sequence('orders','id'), (SELECT MAX(id) FROM orders));"
                .to_owned(),
        )
        .await
        .unwrap_or_else(|e| panic!("sequences: {e}"));
    }
    let now = chrono::Utc::now().timestamp();
    let mut script = String::with_capacity(events * 900);
    script.push_str("local events = {\n");
    for n in 0..count {
        let order = PENDING_BASE + n;
        let body = tariff_tests::fake_stripe::event(
            &format!("evt_bench_{order}"),
            "checkout.session.completed",
            tariff_tests::fake_stripe::checkout_session(
                order,
                price + tax,
                "usd",
                "paid",
                &format!("pi_bench_{order}"),
            ),
        );
        let header = tariff_tests::fake_stripe::signature(
            tariff_tests::fake_stripe::WEBHOOK_SECRET,
            now,
            &body,
        );
        let _ = writeln!(script, "{{[==[{body}]==], \"{header}\"}},");
    }
    let _ = write!(
        script,
        "}}\n\
         local threads = {threads}\n\
         local counter = 1\n\
         function setup(thread)\n  thread:set(\"tid\", counter)\n  counter = counter + 1\nend\n\
         function init(args)\n  i = tid - threads\nend\n\
         request = function()\n  i = i + threads\n  local e = events[((i - 1) % #events) + 1]\n  \
         wrk.headers[\"Stripe-Signature\"] = e[2]\n  \
         wrk.headers[\"Content-Type\"] = \"application/json\"\n  \
         return wrk.format(\"POST\", \"/api/webhooks/stripe\", nil, e[1])\nend\n",
        threads = options.threads.max(1)
    );
    write_script(dir, "stripe-webhooks.lua", &script)
}

fn documented_path(name: &str) -> Option<&'static str> {
    match name {
        WEBHOOK_SCENARIO => Some("/api/webhooks/stripe"),
        "POST apply-plan" => Some("/api/admin/users/{id}/apply-plan"),
        "POST usage +1" => Some("/api/admin/users/{id}/usage"),
        _ => None,
    }
}

fn format_us(us: u64) -> String {
    if us >= 1_000 {
        format!("{}.{:02}ms", us / 1_000, (us % 1_000) / 10)
    } else {
        format!("{us}us")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_wrk_output() {
        let out = "Running 1s test\n  Latency Distribution\n     50%  356.00us\n     75%  1.00ms\n     99%    1.23ms\n  \
                   123456 requests in 10.00s, 400.00MB read\n  Non-2xx or 3xx responses: 5\nRequests/sec:  12345.67\n";
        let f = parse_wrk(out);
        assert_eq!(f.p50_us, 356);
        assert_eq!(f.p99_us, 1230);
        assert_eq!(f.requests_per_sec_x100, 1_234_567);
        assert_eq!(f.errors, 5);
        assert_eq!(f.requests, 123_456);
        assert_eq!(parse_duration_us("2.5s"), Some(2_500_000));
    }
}
