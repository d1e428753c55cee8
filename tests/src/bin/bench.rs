//! `just bench`: the load benchmark. Starts the release `tariff` binary on a fresh
//! database (SQLite, and PostgreSQL when `TEST_DATABASE_URL` is set), loads a realistic
//! data set, drives load with `wrk` from a separate process, measures the ceiling (a bare
//! actix-web handler serving the same bytes), and prints one table, then the targets of
//! issues #16, #17 and #20 with what was measured. Figures are also written to
//! `target/bench/results.json`.
//!
//! Besides the read endpoints, apply-plan and usage, the table holds the write paths
//! (`tariff_tests::bench_paths`): coupon orders, upgrades with proration, signed Stripe
//! webhooks paying pending orders, refunds to credit, the outbox (deliveries per second
//! and commit-to-delivery latency, `tariff_tests::webhook_bench`), and on PostgreSQL
//! apply-plan against two instances on one database at once, with the invoice numbers
//! checked in SQL afterwards.
//!
//! Options: `--duration SECS` (default 10), `--connections N` (32), `--threads N` (2),
//! `--backend sqlite|postgres|all` (all), `--scenario webhooks` (only the webhook
//! delivery scenario, on a fresh database), `--scale small|large` (small).
//! `--scale large` runs the lifecycle sweep and the cold paths on the large data set
//! (see `tariff_tests::scale`), then the same load table on it, and writes
//! `target/bench/large-results.json`. `BENCH_ONLY=text` runs only the rows whose name
//! contains `text` (with `--scale large`, the sweep and the cold paths run when it is
//! unset, `cold` or `sweep`).

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

/// How hard one wrk run drives: threads, connections, seconds.
#[derive(Clone, Copy, Debug)]
struct Load {
    threads: u32,
    connections: u32,
    duration_secs: u64,
}

impl Options {
    fn load(&self) -> Load {
        Load {
            threads: self.threads,
            connections: self.connections,
            duration_secs: self.duration_secs,
        }
    }
}

fn wrk(options: Load, url: &str, script: Option<&Path>, token: Option<&str>) -> Figures {
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

struct Row {
    backend: String,
    name: String,
    figures: Option<Figures>,
    note: String,
}

/// The data set a load table runs on.
struct Shape {
    scale: &'static str,
    /// Users 1..=users; the last one is the administrator.
    users: i64,
    plans: i64,
    /// The user whose order list is measured, and how many orders it holds.
    target_user: i64,
    target_orders: i64,
}

const SMALL: Shape = Shape {
    scale: "small",
    users: USERS,
    plans: PLANS,
    target_user: TARGET_USER,
    target_orders: 20,
};

const LARGE: Shape = Shape {
    scale: "large",
    users: tariff_tests::scale::USERS,
    plans: tariff_tests::scale::PLANS,
    target_user: 1,
    target_orders: 50,
};

// The write paths' rows (`BENCH_ONLY` matches these names).
const COUPON: &str = "POST /api/orders + coupon (20% off)";
const UPGRADE: &str = "POST /api/orders upgrade (proration)";
/// The Stripe webhook ingestion scenario: each request is a distinct, validly signed
/// `checkout.session.completed` that pays a distinct pending order (activation, invoice
/// number, payment record, outgoing event, audit entry in one transaction).
const WEBHOOK_SCENARIO: &str = "POST /api/webhooks/stripe (paid)";
const REFUND: &str = "POST admin refund (to credit)";
const OUTBOX_RATE: &str = "outbox: deliveries to a local receiver";
const OUTBOX_LATENCY: &str = "outbox: commit to delivery, 500 events/s";
const TWO_INSTANCES: &str = "POST apply-plan, two instances";
const APPLY: &str = "POST apply-plan";

/// Fresh accounts of the coupon and the upgrade scenarios, each.
const POOL: i64 = 5_000;

/// One backend's memory and start-up figures.
struct Memory {
    backend: String,
    idle_kb: u64,
    /// The anonymous (private, heap and stacks) part of the idle RSS; the rest is
    /// file-backed, mostly the executable's code.
    idle_anon_kb: u64,
    peak_kb: u64,
    ready_ms: u128,
}

/// The two-instance run on one PostgreSQL database.
struct TwoInstances {
    backend: String,
    combined_x100: u64,
    one_x100: Option<u64>,
    invoices: i64,
    problems: Vec<String>,
    deadlocks: usize,
}

/// Everything a run collects, printed at the end.
struct Run {
    options: Options,
    only: String,
    dir: PathBuf,
    rows: Vec<Row>,
    ceiling_rps: u64,
    memory: Vec<Memory>,
    two: Vec<TwoInstances>,
    cold: Vec<tariff_tests::scale::Cold>,
    notes: Vec<String>,
    sweeps: Vec<(String, u128, u64)>,
}

impl Run {
    /// Whether `BENCH_ONLY` (a substring of row names) lets this row run.
    fn selected(&self, name: &str) -> bool {
        name.contains(self.only.as_str())
    }

    /// Distinct requests to prepare for a scenario that sends each once: enough for
    /// the run at `per_sec`, within 4,000 and 120,000.
    fn distinct(&self, per_sec: u64) -> i64 {
        i64::try_from((self.options.duration_secs * per_sec).clamp(4_000, 120_000))
            .unwrap_or(60_000)
    }

    fn push(&mut self, backend: &str, name: &str, figures: Option<Figures>, note: String) {
        self.rows.push(Row {
            backend: backend.to_owned(),
            name: name.to_owned(),
            figures,
            note,
        });
    }

    fn figures(&self, backend: &str, name: &str) -> Option<&Figures> {
        self.rows
            .iter()
            .find(|r| r.backend == backend && r.name.starts_with(name))
            .and_then(|r| r.figures.as_ref())
    }
}

/// `tariff serve` on `url` as the bench runs it: 2 workers, warnings only, payments on
/// (nothing is sent to Stripe: webhook ingestion and refunds to credit make no
/// outbound call).
fn service_command(url: &str) -> Command {
    let mut command = Command::new(bin_dir().join("tariff"));
    command
        .args(["--database-url", url, "serve"])
        .env("TARIFF_SERVER__BIND", "127.0.0.1:0")
        .env("TARIFF_SERVER__WORKERS", "2")
        .env("TARIFF_LOG__LEVEL", "warn")
        .env("RUST_LOG", "warn")
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
    command
}

async fn wait_ready(client: &reqwest::Client, base: &str) {
    let ready_url = format!("{base}/readyz");
    while !client
        .get(&ready_url)
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
    {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Lines of a log that mention a deadlock.
fn deadlocks_in(log: &Path) -> usize {
    std::fs::read_to_string(log)
        .map(|text| {
            text.lines()
                .filter(|l| l.to_ascii_lowercase().contains("deadlock"))
                .count()
        })
        .unwrap_or(0)
}

/// Sends one request and answers its status and body, for the probes that check a
/// scenario does what it claims before it is measured.
async fn probe(request: reqwest::RequestBuilder) -> (u16, String) {
    match request.send().await {
        Ok(r) => {
            let status = r.status().as_u16();
            (status, r.text().await.unwrap_or_default())
        }
        Err(e) => (0, e.to_string()),
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let options = parse_options();
    if options.scenario == "webhooks" {
        webhooks(&options).await;
        return;
    }
    let scratch = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    let large = options.large;
    let backends = options.backends.clone();
    let mut run = Run {
        options,
        only,
        dir: scratch.path().to_path_buf(),
        rows: Vec::new(),
        ceiling_rps: 0,
        memory: Vec::new(),
        two: Vec::new(),
        cold: Vec::new(),
        notes: Vec::new(),
        sweeps: Vec::new(),
    };
    let tariff = bin_dir().join("tariff");
    let _ = std::fs::create_dir_all("target/bench");

    for backend in &backends {
        if large {
            // The sweep and the cold paths come first (no cache has seen the data);
            // `BENCH_ONLY` other than `cold` or `sweep` leaves them out.
            let cold = run.only.is_empty() || run.only == "cold" || run.only == "sweep";
            eprintln!("== {backend}: large data set");
            let Some(set) = tariff_tests::scale::run(backend, &tariff, cold).await else {
                continue;
            };
            run.cold.extend(set.cold);
            run.notes.extend(set.notes);
            if let Some((ms, peak_kb)) = set.sweep {
                run.sweeps.push((backend.clone(), ms, peak_kb));
            }
            let db = Database::connect(&set.url, &PoolOptions::default())
                .unwrap_or_else(|e| panic!("db: {e}"));
            let admin =
                tariff_persistence::testing::add_token(&db, tariff_tests::scale::ADMIN).await;
            let user = tariff_persistence::testing::add_token(&db, LARGE.target_user).await;
            drive(&mut run, backend, &set.url, &LARGE, db, admin, user).await;
        } else {
            let test_db = match backend.as_str() {
                "postgres" => match TestDatabase::postgres() {
                    Some(db) => db,
                    None => continue,
                },
                _ => TestDatabase::sqlite(),
            };
            eprintln!("== {backend}: migrating and seeding");
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
            let (admin, user) = seed(&db, bool_true).await;
            eprintln!("   seeded in {} ms", seeded_at.elapsed().as_millis());
            drive(&mut run, backend, test_db.url(), &SMALL, db, admin, user).await;
        }
    }
    report(&run, if large { &LARGE } else { &SMALL });
}

/// The load table of one backend on one data set: the service on `url`, every
/// endpoint and write path driven by wrk, then the outbox and (PostgreSQL) two
/// instances together. Each write path's data is made before the service starts.
async fn drive(
    run: &mut Run,
    backend: &str,
    url: &str,
    shape: &Shape,
    db: Database,
    admin_token: String,
    user_token: String,
) {
    use tariff_tests::bench_paths as paths;

    let prepared_at = Instant::now();
    let coupon_tokens = if run.selected(COUPON) {
        paths::users_with_tokens(&db, paths::COUPON_USER_BASE, POOL).await
    } else {
        Vec::new()
    };
    let upgrade_tokens = if run.selected(UPGRADE) {
        paths::upgrade_accounts(&db, POOL).await
    } else {
        Vec::new()
    };
    let pending = if run.selected(WEBHOOK_SCENARIO) {
        let count = run.distinct(6_000);
        pending_orders(&db, shape, count).await;
        count
    } else {
        0
    };
    let mut refund_ids = if run.selected(REFUND) {
        paths::refundable_orders(
            &db,
            usize::try_from(run.distinct(4_000) + 1).unwrap_or(4_001),
            1_000,
        )
        .await
    } else {
        Vec::new()
    };
    eprintln!(
        "   write paths' data made in {} ms",
        prepared_at.elapsed().as_millis()
    );
    let before = paths::numbering(&db).await;

    let started = Instant::now();
    let log = PathBuf::from(format!("target/bench/tariff-{backend}.log"));
    let service = start(service_command(url), &log);
    let client = reqwest::Client::new();
    wait_ready(&client, &service.base).await;
    let ready_ms = started.elapsed().as_millis();
    let pid = service.child.id();
    std::thread::sleep(Duration::from_millis(300));
    let idle_kb = rss_kb(pid, "VmRSS:");
    let idle_anon_kb = rss_kb(pid, "RssAnon:");
    let base = service.base.clone();

    // An active order with an invoice, made through the API.
    let invoice_order = match client
        .post(format!(
            "{base}/api/admin/users/{}/apply-plan",
            shape.target_user
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
    if run.ceiling_rps == 0 {
        let plans_body = match client.get(format!("{base}/api/plans")).send().await {
            Ok(r) => r.bytes().await.unwrap_or_default(),
            Err(e) => panic!("GET /api/plans: {e}"),
        };
        let body_file = run.dir.join("plans.json");
        std::fs::write(&body_file, &plans_body).unwrap_or_else(|e| panic!("body: {e}"));
        let mut command = Command::new(bin_dir().join("ceiling"));
        command.arg(&body_file).arg("2");
        let ceiling = start(command, Path::new("target/bench/ceiling.log"));
        eprintln!("== ceiling: constant {} byte body", plans_body.len());
        let figures = wrk(
            run.options.load(),
            &format!("{}/", ceiling.base),
            None,
            None,
        );
        run.ceiling_rps = figures.requests_per_sec_x100;
        run.push(
            "-",
            &format!("ceiling: constant {} B JSON", plans_body.len()),
            Some(figures),
            String::new(),
        );
    }

    let dir = run.dir.clone();
    let apply_script = paths::apply_script(&dir, "apply.lua", shape.users - 1, shape.plans, 1);
    let usage_script = paths::write_script(
        &dir,
        "usage.lua",
        &format!(
            "wrk.method = 'POST'\nwrk.headers['Content-Type'] = 'application/json'\n\
             request = function()\n  local id = math.random(2, {})\n  \
             return wrk.format('POST', '/api/admin/users/' .. id .. '/usage', nil, '{{\"resource\":\"memory\",\"delta\":1}}')\nend\n",
            shape.users - 1
        ),
    );
    let targets: Vec<(String, String, Option<PathBuf>, Option<String>)> = vec![
        (
            "GET /api/plans".into(),
            format!("{base}/api/plans"),
            None,
            None,
        ),
        (
            "GET /api/packages".into(),
            format!("{base}/api/packages"),
            None,
            Some(user_token.clone()),
        ),
        (
            format!("GET /api/orders ({} orders)", shape.target_orders),
            format!("{base}/api/orders"),
            None,
            Some(user_token.clone()),
        ),
        (
            "GET /api/orders/:id/invoice".into(),
            format!("{base}/api/orders/{}/invoice", invoice_order.unwrap_or(1)),
            None,
            Some(user_token.clone()),
        ),
        (
            APPLY.into(),
            format!("{base}/"),
            Some(apply_script.clone()),
            Some(admin_token.clone()),
        ),
        (
            "POST usage +1".into(),
            format!("{base}/"),
            Some(usage_script),
            Some(admin_token.clone()),
        ),
    ];
    let doc: Value = match client.get(format!("{base}/api/openapi.json")).send().await {
        Ok(r) => r.json().await.unwrap_or(Value::Null),
        Err(_) => Value::Null,
    };
    let targets: Vec<_> = targets.into_iter().filter(|t| run.selected(&t.0)).collect();
    for (name, url, script, token) in targets {
        // Skip endpoints this build does not have: GETs are probed directly, POSTs
        // through the OpenAPI document.
        let status = if let Some(api_path) = documented_path(&name) {
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
            run.push(
                backend,
                &name,
                None,
                format!("skipped: probe answered {status}"),
            );
            continue;
        }
        eprintln!("== {backend}: {name}");
        let figures = wrk(
            run.options.load(),
            &url,
            script.as_deref(),
            token.as_deref(),
        );
        run.push(backend, &name, Some(figures), String::new());
    }

    // Coupon orders: fresh users order a random paid plan with a 20% coupon.
    if run.selected(COUPON) {
        let created = probe(
            client
                .post(format!("{base}/api/admin/coupons"))
                .bearer_auth(&admin_token)
                .json(&json!({"code": paths::COUPON_CODE, "percentOff": 20, "duration": "once"})),
        )
        .await;
        let body = format!(
            "'{{\"planId\":' .. math.random(2, {}) .. ',\"couponCode\":\"{}\"}}'",
            shape.plans,
            paths::COUPON_CODE
        );
        // The probe is an order of the last pool user, whom the script never picks.
        let (last, pool) = coupon_tokens
            .split_last()
            .unwrap_or_else(|| panic!("no coupon users"));
        let placed = probe(
            client
                .post(format!("{base}/api/orders"))
                .bearer_auth(last)
                .json(&json!({"planId": 2, "couponCode": paths::COUPON_CODE})),
        )
        .await;
        let line = format!("Coupon {}", paths::COUPON_CODE);
        if created.0 != 201 || placed.0 != 201 || !placed.1.contains(&line) {
            run.push(
                backend,
                COUPON,
                None,
                format!(
                    "skipped: coupon answered {} ({}), order {} ({})",
                    created.0,
                    created.1.chars().take(120).collect::<String>(),
                    placed.0,
                    placed.1.chars().take(200).collect::<String>()
                ),
            );
        } else {
            let script = paths::tokens_script(&dir, "coupon.lua", pool, "/api/orders", &body, 2);
            eprintln!("== {backend}: {COUPON}");
            let figures = wrk(run.options.load(), &format!("{base}/"), Some(&script), None);
            run.push(backend, COUPON, Some(figures), String::new());
        }
    }

    // Upgrades: plan 2 to a dearer plan now, with the unused time credited.
    if run.selected(UPGRADE) {
        let (last, pool) = upgrade_tokens
            .split_last()
            .unwrap_or_else(|| panic!("no upgrade users"));
        let placed = probe(
            client
                .post(format!("{base}/api/orders"))
                .bearer_auth(last)
                .json(&json!({"planId": shape.plans, "when": "now"})),
        )
        .await;
        if placed.0 != 201 || !placed.1.contains("Unused time on") {
            run.push(
                backend,
                UPGRADE,
                None,
                format!(
                    "skipped: the probe answered {} ({})",
                    placed.0,
                    placed.1.chars().take(200).collect::<String>()
                ),
            );
        } else {
            let body = format!(
                "'{{\"planId\":' .. math.random({}, {}) .. ',\"when\":\"now\"}}'",
                paths::UPGRADE_FROM_PLAN + 1,
                shape.plans
            );
            let script = paths::tokens_script(&dir, "upgrade.lua", pool, "/api/orders", &body, 3);
            eprintln!("== {backend}: {UPGRADE}");
            let figures = wrk(run.options.load(), &format!("{base}/"), Some(&script), None);
            run.push(backend, UPGRADE, Some(figures), String::new());
        }
    }

    // Stripe webhooks: signed now (the signature holds for 300 s), sent once each.
    if run.selected(WEBHOOK_SCENARIO) {
        if doc["paths"]["/api/webhooks/stripe"].is_object() {
            let script = webhook_script(&dir, pending, run.options.threads);
            eprintln!("== {backend}: {WEBHOOK_SCENARIO}");
            let figures = wrk(run.options.load(), &format!("{base}/"), Some(&script), None);
            run.push(backend, WEBHOOK_SCENARIO, Some(figures), String::new());
        } else {
            run.push(
                backend,
                WEBHOOK_SCENARIO,
                None,
                "skipped: not in this build".into(),
            );
        }
    }

    // Refunds to credit, each of a distinct paid order.
    if run.selected(REFUND) {
        let probe_id = refund_ids.pop().unwrap_or(1_001);
        let refunded = probe(
            client
                .post(format!("{base}/api/admin/orders/{probe_id}/refund"))
                .bearer_auth(&admin_token)
                .json(&json!({"reason": "bench", "to": "credit"})),
        )
        .await;
        if refunded.0 != 201 || refund_ids.is_empty() {
            run.push(
                backend,
                REFUND,
                None,
                format!(
                    "skipped: the probe answered {} ({}); {} orders to refund",
                    refunded.0,
                    refunded.1.chars().take(200).collect::<String>(),
                    refund_ids.len()
                ),
            );
        } else {
            let script = paths::refund_script(&dir, &refund_ids, run.options.threads);
            eprintln!(
                "== {backend}: {REFUND} ({} distinct orders)",
                refund_ids.len()
            );
            let figures = wrk(
                run.options.load(),
                &format!("{base}/"),
                Some(&script),
                Some(&admin_token),
            );
            run.push(backend, REFUND, Some(figures), String::new());
        }
    }

    // Invoices are rendered by one worker after numbering, off the request path: how
    // many the load left waiting, and how long the worker took to store them all.
    let waiting = paths::unstored_invoices(&db).await;
    let drain_started = Instant::now();
    let mut left = waiting;
    while left > 0 && drain_started.elapsed() < Duration::from_secs(300) {
        tokio::time::sleep(Duration::from_millis(100)).await;
        left = paths::unstored_invoices(&db).await;
    }
    run.push(
        backend,
        &format!(
            "invoice PDFs: {waiting} waiting when the load ended; {}",
            if left == 0 {
                format!(
                    "all stored {:.1} s later",
                    drain_started.elapsed().as_secs_f64()
                )
            } else {
                format!("{left} still unstored after 300 s")
            }
        ),
        None,
        String::new(),
    );

    let peak_kb = rss_kb(pid, "VmHWM:");
    run.push(
        backend,
        &format!(
            "memory: idle {} MB ({} MB anonymous), peak {} MB; ready in {ready_ms} ms",
            idle_kb / 1024,
            idle_anon_kb / 1024,
            peak_kb / 1024
        ),
        None,
        String::new(),
    );
    run.memory.push(Memory {
        backend: backend.to_owned(),
        idle_kb,
        idle_anon_kb,
        peak_kb,
        ready_ms,
    });
    drop(service);

    let checked = paths::check_numbering(&db, &before).await;
    let deadlocks = deadlocks_in(&log);
    run.push(
        backend,
        &format!(
            "numbering: {} invoice and {} credit note numbers issued: {}; deadlocks in the log: {deadlocks}",
            checked.invoices,
            checked.credit_notes,
            if checked.problems.is_empty() {
                "unique and gapless".to_owned()
            } else {
                checked.problems.join("; ")
            }
        ),
        None,
        String::new(),
    );

    if run.selected(OUTBOX_RATE) || run.selected(OUTBOX_LATENCY) {
        eprintln!("== {backend}: outbox");
        let figures = tariff_tests::webhook_bench::run(
            &bin_dir().join("tariff"),
            &TestDatabase::attached(url),
            20_000,
            500,
            run.options.duration_secs,
        )
        .await;
        run.push(
            backend,
            OUTBOX_RATE,
            Some(Figures {
                requests_per_sec_x100: figures.deliveries_per_sec * 100,
                requests: u64::try_from(figures.deliveries).unwrap_or(0),
                ..Figures::default()
            }),
            String::new(),
        );
        run.push(
            backend,
            OUTBOX_LATENCY,
            Some(Figures {
                requests_per_sec_x100: figures.offered_events_per_sec * 100,
                p50_us: figures.p50_us,
                p99_us: figures.p99_us,
                errors: u64::try_from(figures.missing).unwrap_or(0),
                requests: u64::try_from(figures.latency_events).unwrap_or(0),
            }),
            String::new(),
        );
    }

    if run.selected(TWO_INSTANCES) {
        if backend == "postgres" {
            two_instances(run, backend, url, shape, &db, &admin_token).await;
        } else {
            run.push(
                backend,
                TWO_INSTANCES,
                None,
                "skipped: PostgreSQL only (one SQLite file has one writer process)".into(),
            );
        }
    }
}

/// Two `tariff serve` processes on one PostgreSQL database, apply-plan driven against
/// both at once (two wrk processes, half the threads and connections each); then the
/// invoice numbers issued are checked in SQL and both logs for deadlocks.
async fn two_instances(
    run: &mut Run,
    backend: &str,
    url: &str,
    shape: &Shape,
    db: &Database,
    admin_token: &str,
) {
    use tariff_tests::bench_paths as paths;
    let before = paths::numbering(db).await;
    let logs = [
        PathBuf::from(format!("target/bench/tariff-{backend}-a.log")),
        PathBuf::from(format!("target/bench/tariff-{backend}-b.log")),
    ];
    let a = start(service_command(url), &logs[0]);
    let b = start(service_command(url), &logs[1]);
    let client = reqwest::Client::new();
    wait_ready(&client, &a.base).await;
    wait_ready(&client, &b.base).await;
    let load = Load {
        threads: (run.options.threads / 2).max(1),
        connections: (run.options.connections / 2).max(1),
        duration_secs: run.options.duration_secs,
    };
    // Different seeds: the two wrk processes pick different users.
    let scripts = [
        paths::apply_script(&run.dir, "apply-a.lua", shape.users - 1, shape.plans, 11),
        paths::apply_script(&run.dir, "apply-b.lua", shape.users - 1, shape.plans, 23),
    ];
    eprintln!("== {backend}: {TWO_INSTANCES}");
    let drivers: Vec<_> = [
        (a.base.clone(), scripts[0].clone()),
        (b.base.clone(), scripts[1].clone()),
    ]
    .into_iter()
    .map(|(base, script)| {
        let token = admin_token.to_owned();
        std::thread::spawn(move || wrk(load, &format!("{base}/"), Some(&script), Some(&token)))
    })
    .collect();
    let figures: Vec<Figures> = drivers
        .into_iter()
        .map(|d| d.join().unwrap_or_default())
        .collect();
    drop(a);
    drop(b);
    let combined = Figures {
        requests_per_sec_x100: figures.iter().map(|f| f.requests_per_sec_x100).sum(),
        p50_us: figures.iter().map(|f| f.p50_us).max().unwrap_or(0),
        p99_us: figures.iter().map(|f| f.p99_us).max().unwrap_or(0),
        errors: figures.iter().map(|f| f.errors).sum(),
        requests: figures.iter().map(|f| f.requests).sum(),
    };
    let checked = paths::check_numbering(db, &before).await;
    let deadlocks = logs.iter().map(|l| deadlocks_in(l)).sum();
    let one = run.figures(backend, APPLY).map(|f| f.requests_per_sec_x100);
    let per_instance: Vec<String> = figures
        .iter()
        .map(|f| (f.requests_per_sec_x100 / 100).to_string())
        .collect();
    run.push(
        backend,
        TWO_INSTANCES,
        Some(combined.clone()),
        String::new(),
    );
    run.push(
        backend,
        &format!(
            "two instances: {} + {} = {}/s against {} one instance; {} invoice numbers: {}; deadlocks in the logs: {deadlocks}",
            per_instance.first().cloned().unwrap_or_default(),
            per_instance.get(1).cloned().unwrap_or_default(),
            combined.requests_per_sec_x100 / 100,
            one.map_or("-".to_owned(), |o| format!("{}/s", o / 100)),
            checked.invoices,
            if checked.problems.is_empty() {
                "unique and gapless".to_owned()
            } else {
                checked.problems.join("; ")
            }
        ),
        None,
        String::new(),
    );
    run.two.push(TwoInstances {
        backend: backend.to_owned(),
        combined_x100: combined.requests_per_sec_x100,
        one_x100: one,
        invoices: checked.invoices,
        problems: checked.problems,
        deadlocks,
    });
}

/// One target of issues #16, #17 and #20, and what this run measured for it.
struct Target {
    issue: u32,
    what: String,
    backend: String,
    measured: String,
    /// `None`: not measured in this run.
    met: Option<bool>,
}

fn ratio_permille(f: &Figures, ceiling_x100: u64) -> u64 {
    (f.requests_per_sec_x100 * 1000)
        .checked_div(ceiling_x100)
        .unwrap_or(0)
}

fn permille(pm: u64) -> String {
    format!("{}.{}%", pm / 10, pm % 10)
}

/// Every target of the three issues, per backend, against this run's figures.
fn targets(run: &Run, shape: &Shape, backends: &[String]) -> Vec<Target> {
    let mut out = Vec::new();
    let ceiling = run.ceiling_rps;
    for backend in backends {
        let pg = backend == "postgres";
        let mut add = |issue: u32, what: String, measured: Option<(String, bool)>| {
            let (measured, met) = match measured {
                Some((text, met)) => (text, Some(met)),
                None => ("not measured".to_owned(), None),
            };
            out.push(Target {
                issue,
                what,
                backend: backend.clone(),
                measured,
                met,
            });
        };
        let rate = |name: &str, min: u64| {
            run.figures(backend, name).map(|f| {
                (
                    format!(
                        "{}/s ({} of the ceiling), {} errors",
                        f.requests_per_sec_x100 / 100,
                        permille(ratio_permille(f, ceiling)),
                        f.errors
                    ),
                    f.requests_per_sec_x100 >= min * 100,
                )
            })
        };
        for (name, what) in [
            (
                "GET /api/plans",
                "GET /api/plans >= 70% of the ceiling, p99 < 5 ms",
            ),
            (
                "GET /api/packages",
                "GET /api/packages >= 70% of the ceiling, p99 < 5 ms",
            ),
        ] {
            let measured = run.figures(backend, name).map(|f| {
                let pm = ratio_permille(f, ceiling);
                (
                    format!("{}, p99 {}", permille(pm), format_us(f.p99_us)),
                    pm >= 700 && f.p99_us < 5_000,
                )
            });
            add(20, what.into(), measured);
        }
        let measured = run.figures(backend, "GET /api/orders (").map(|f| {
            let pm = ratio_permille(f, ceiling);
            (permille(pm), pm >= 300)
        });
        add(20, "GET /api/orders >= 30% of the ceiling".into(), measured);
        let memory = run.memory.iter().find(|m| &m.backend == backend);
        add(
            20,
            "RSS < 20 MB idle, < 64 MB peak".into(),
            memory.map(|m| {
                (
                    format!(
                        "idle {} MB ({} MB anonymous), peak {} MB",
                        m.idle_kb / 1024,
                        m.idle_anon_kb / 1024,
                        m.peak_kb / 1024
                    ),
                    m.idle_kb < 20 * 1024 && m.peak_kb < 64 * 1024,
                )
            }),
        );
        add(
            20,
            "ready within 100 ms (last wave)".into(),
            memory.map(|m| (format!("{} ms", m.ready_ms), m.ready_ms <= 100)),
        );
        if pg {
            add(20, "apply-plan >= 1,500/s".into(), rate(APPLY, 1_500));
            add(
                16,
                "Stripe webhook ingestion >= 800/s".into(),
                rate(WEBHOOK_SCENARIO, 800),
            );
        } else {
            add(20, "apply-plan >= 5,000/s".into(), rate(APPLY, 5_000));
            add(20, "coupon order >= 2,000/s".into(), rate(COUPON, 2_000));
            add(
                16,
                "Stripe webhook ingestion >= 1,500/s".into(),
                rate(WEBHOOK_SCENARIO, 1_500),
            );
            add(
                20,
                "usage +1 >= 5,000/s (last wave)".into(),
                rate("POST usage +1", 5_000),
            );
        }
        add(
            17,
            ">= 2,000 deliveries/s to a local receiver".into(),
            run.figures(backend, OUTBOX_RATE).map(|f| {
                (
                    format!("{}/s", f.requests_per_sec_x100 / 100),
                    f.requests_per_sec_x100 >= 200_000,
                )
            }),
        );
        add(
            17,
            "commit to delivery p99 < 500 ms at 500 events/s".into(),
            run.figures(backend, OUTBOX_LATENCY).map(|f| {
                (
                    format!(
                        "p99 {} at {}/s offered, {} not delivered",
                        format_us(f.p99_us),
                        f.requests_per_sec_x100 / 100,
                        f.errors
                    ),
                    // Only a rate near the one the target names counts.
                    f.p99_us < 500_000 && f.errors == 0 && f.requests_per_sec_x100 >= 47_500,
                )
            }),
        );
        if pg {
            add(
                20,
                "two instances: numbers exact, no deadlocks, rate >= one".into(),
                run.two.iter().find(|t| &t.backend == backend).map(|t| {
                    let not_below = t.one_x100.is_some_and(|one| t.combined_x100 >= one);
                    (
                        format!(
                            "{}/s against {} one instance; {} numbers, {}; {} deadlocks",
                            t.combined_x100 / 100,
                            t.one_x100
                                .map_or("-".to_owned(), |o| format!("{}/s", o / 100)),
                            t.invoices,
                            if t.problems.is_empty() {
                                "unique and gapless"
                            } else {
                                "NOT unique and gapless"
                            },
                            t.deadlocks
                        ),
                        not_below && t.problems.is_empty() && t.deadlocks == 0,
                    )
                }),
            );
        }
        // The cold paths and the sweep exist at the large scale only.
        let cold = |prefix: &str, limit_us: u64| {
            run.cold
                .iter()
                .filter(|c| &c.backend == backend && c.name.starts_with(prefix))
                .map(|c| (c.p99_us, c.failures))
                .max()
                .map(|(p99, failures)| {
                    (
                        format!("p99 {}, {failures} failed", format_us(p99)),
                        p99 < limit_us && failures == 0,
                    )
                })
        };
        add(
            20,
            "cold GET /api/orders (50 orders) p99 < 20 ms".into(),
            cold("GET /api/orders", 20_000),
        );
        add(
            20,
            "admin order search p99 < 50 ms (by user, by status)".into(),
            cold("admin order search", 50_000),
        );
        add(
            20,
            "sweep of 1,000,000 orders < 10 s, flat memory (< 64 MB)".into(),
            run.sweeps
                .iter()
                .find(|s| &s.0 == backend)
                .map(|(_, ms, peak)| {
                    (
                        format!("{} ms, peak RSS {} MB", ms, peak / 1024),
                        *ms < 10_000 && *peak < 64 * 1024,
                    )
                }),
        );
    }
    if shape.scale == "small" {
        for t in &mut out {
            if t.met.is_none()
                && (t.what.starts_with("cold")
                    || t.what.starts_with("admin")
                    || t.what.starts_with("sweep"))
            {
                t.measured = "at the large scale only (just bench-large)".into();
            }
        }
    }
    out
}

/// Prints the tables and writes the JSON.
fn report(run: &Run, shape: &Shape) {
    let mut results =
        json!({"scale": shape.scale, "runs": [], "memory": {}, "ready_ms": {}, "notes": run.notes});
    if !run.cold.is_empty() || !run.notes.is_empty() {
        results["cold"] = tariff_tests::scale::print_cold(&run.cold, &run.notes);
    }
    for m in &run.memory {
        results["memory"][m.backend.as_str()] = json!({"idle_rss_kb": m.idle_kb, "idle_anon_kb": m.idle_anon_kb, "peak_rss_kb": m.peak_kb});
        results["ready_ms"][m.backend.as_str()] = json!(m.ready_ms);
    }
    println!();
    println!("data set: {}", shape.scale);
    println!(
        "{:<9} {:<42} {:>12} {:>10} {:>10} {:>8} {:>8}",
        "backend", "endpoint", "requests/s", "p50", "p99", "ratio", "errors"
    );
    let latency = |us: u64| {
        if us == 0 {
            "-".to_owned()
        } else {
            format_us(us)
        }
    };
    for row in &run.rows {
        match &row.figures {
            Some(f) => {
                let ratio_pm = ratio_permille(f, run.ceiling_rps);
                println!(
                    "{:<9} {:<42} {:>12} {:>10} {:>10} {:>8} {:>8}",
                    row.backend,
                    row.name,
                    f.requests_per_sec_x100 / 100,
                    latency(f.p50_us),
                    latency(f.p99_us),
                    permille(ratio_pm),
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
    let targets = targets(run, shape, &run.options.backends);
    println!();
    println!("targets (issues #16, #17, #20; data set: {})", shape.scale);
    println!(
        "{:<6} {:<9} {:<56} {:<8} measured",
        "issue", "backend", "target", "result"
    );
    let mut json_targets = Vec::new();
    for t in &targets {
        let result = match t.met {
            Some(true) => "met",
            Some(false) => "NOT MET",
            None => "-",
        };
        println!(
            "#{:<5} {:<9} {:<56} {:<8} {}",
            t.issue, t.backend, t.what, result, t.measured
        );
        json_targets.push(json!({
            "issue": t.issue, "backend": t.backend, "target": t.what,
            "measured": t.measured, "met": t.met,
        }));
    }
    results["targets"] = Value::Array(json_targets);
    let file = if shape.scale == "large" {
        "target/bench/large-results.json"
    } else {
        "target/bench/results.json"
    };
    let text = serde_json::to_string_pretty(&results).unwrap_or_default();
    match std::fs::write(file, text) {
        Ok(()) => println!("\nfigures written to {file}"),
        Err(e) => eprintln!("cannot write results: {e}"),
    }
}
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

/// What each pending order of the Stripe webhook scenario costs: the order's total is
/// what the signed event pays.
const PENDING_PRICE: (i64, i64) = (500, 95);

/// Seeds `count` pending orders from `PENDING_ORDER_BASE` on, spread over the users
/// `2..users` (one per event the scenario sends).
async fn pending_orders(db: &Database, shape: &Shape, count: i64) {
    use tariff_tests::bench_paths::PENDING_ORDER_BASE;
    let ts = format!("'{}'", chrono::Utc::now().format("%Y-%m-%d %H:%M:%S"));
    let (price, tax) = PENDING_PRICE;
    let mut batch = Vec::with_capacity(2_000);
    let mut items = Vec::with_capacity(2_000);
    for n in 0..count {
        let id = PENDING_ORDER_BASE + n;
        let user = 2 + n % (shape.users - 2);
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
    if db.backend() == tariff_persistence::Backend::Postgres {
        execute_sql(
            db,
            "SELECT setval(pg_get_serial_sequence('orders','id'), (SELECT MAX(id) FROM orders));"
                .to_owned(),
        )
        .await
        .unwrap_or_else(|e| panic!("sequences: {e}"));
    }
}

/// A wrk script whose requests are the `count` pending orders' `checkout.session.completed`
/// events, signed now, each sent once: thread k of T sends events k, k + T, ...; beyond
/// them the script starts over and the repeats are duplicates (answered, no effect).
fn webhook_script(dir: &Path, count: i64, threads: u32) -> PathBuf {
    use tariff_tests::bench_paths::PENDING_ORDER_BASE;
    let (price, tax) = PENDING_PRICE;
    let now = chrono::Utc::now().timestamp();
    let mut script = String::with_capacity(usize::try_from(count).unwrap_or(0) * 900);
    script.push_str("local events = {\n");
    for n in 0..count {
        let order = PENDING_ORDER_BASE + n;
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
        threads = threads.max(1)
    );
    tariff_tests::bench_paths::write_script(dir, "stripe-webhooks.lua", &script)
}

fn documented_path(name: &str) -> Option<&'static str> {
    match name {
        WEBHOOK_SCENARIO => Some("/api/webhooks/stripe"),
        APPLY => Some("/api/admin/users/{id}/apply-plan"),
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
