//! The bench's large data set (`bench --scale large`): 1,000,000 orders with their lines,
//! invoice numbers and stored invoices, 100,000 users, 10,000 organisations, a year of
//! audit rows (1,000,000) and of delivered webhooks (500,000 events, one delivery
//! each). It is generated inside the database by bulk `INSERT ... SELECT` over a
//! recursive CTE (SQLite) or `generate_series` (PostgreSQL), in one transaction, and
//! kept between runs: a pristine copy (a file under `target/bench/large/`, or the
//! PostgreSQL database `tariff_bench_large`) carries a `bench_dataset` row with the
//! data set's version and the instant it was generated for; a run works on a fresh copy
//! of it (the sweep and the write paths change data), and loads again only when the
//! version differs or the copy is missing.
//!
//! The shape, with `n` the order id (ids grow with time over the year before `t0`):
//! - users 1..=1,000 have exactly 50 orders each (`n` 1..=50,000), the last one active:
//!   the cold `GET /api/orders` targets;
//! - organisations 1..=10,000 (owner: user `1000 + org`) have 5 orders each (`n`
//!   50,001..=100,000), the last one active;
//! - users 1,001..=99,999 share the other 900,000 orders, one active each (the last);
//! - plan `n % 20 + 1` (plan 1 costs nothing); every 997th order that is not active is
//!   pending (never paid: the sweep expires them); the rest alternate between expired
//!   and cancelled; every order but the pending ones has an invoice number and a stored
//!   invoice;
//! - active periods end uniformly over `t0 + 6 days .. t0 + 36 days`, so a sweep at `t0`
//!   finds one day of renewals (about 3,600) due within the 7-day lead; a later sweep
//!   finds more (and expires the periods that ended since `t0`): the bench prints what
//!   the sweep did beside its time.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use chrono::{DateTime, NaiveDateTime, SubsecRound, Timelike, Utc};
use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::sqlite::SqliteConnection;
use diesel::{Connection, RunQueryDsl};

/// Bump when the generated shape changes: a pristine copy of another version is loaded
/// again.
pub const DATASET_VERSION: &str = "large-3";

pub const USERS: i64 = 100_000;
pub const ORGS: i64 = 10_000;
pub const ORDERS: i64 = 1_000_000;
pub const PLANS: i64 = 20;
pub const AUDIT_ROWS: i64 = 1_000_000;
pub const WEBHOOK_EVENTS: i64 = 500_000;
/// Users 1..=HEAVY_USERS have exactly 50 orders each.
pub const HEAVY_USERS: i64 = 1_000;
pub const ADMIN: i64 = USERS;
/// Seconds between consecutive orders' creation: 1,000,000 orders over about a year.
const SPACING_SECS: i64 = 31;

const SNAPSHOT: &str = r#"{"version":1,"frozenAt":"2026-01-01T00:00:00Z","seller":{"companyName":"Bench Hosting","issuedFromName":"Bench Hosting","issuedFromAddress":"1 Bench Street","logoPath":null},"buyer":{"name":"Bench User","email":null,"company":null,"addressLine1":null,"addressLine2":null,"city":null,"postcode":null,"country":"DE","taxId":null}}"#;

/// A working copy of the large data set, for one run.
pub struct LargeSet {
    /// The database URL of the working copy.
    pub url: String,
    /// The instant the data set was generated for.
    pub t0: DateTime<Utc>,
    /// Whether this run loaded the pristine copy (else it was reused).
    pub loaded: bool,
    /// Milliseconds spent loading (0 when reused) and copying.
    pub load_ms: u128,
    pub copy_ms: u128,
}

/// SQL that differs between the two backends.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    fn t(self) -> &'static str {
        match self {
            Dialect::Sqlite => "1",
            Dialect::Postgres => "TRUE",
        }
    }
    fn f(self) -> &'static str {
        match self {
            Dialect::Sqlite => "0",
            Dialect::Postgres => "FALSE",
        }
    }
    /// `base` (a timestamp literal) plus `secs` (an integer expression) seconds.
    fn plus_secs(self, base: &str, secs: &str) -> String {
        match self {
            Dialect::Sqlite => format!("datetime('{base}', ({secs}) || ' seconds')"),
            Dialect::Postgres => {
                format!("(TIMESTAMP '{base}' + ({secs}) * INTERVAL '1 second')")
            }
        }
    }
    /// `n` zero-padded to at least six digits.
    fn pad6(self, n: &str) -> String {
        match self {
            Dialect::Sqlite => format!("printf('%06d', {n})"),
            Dialect::Postgres => {
                format!("(CASE WHEN {n} < 1000000 THEN lpad({n}::text, 6, '0') ELSE {n}::text END)")
            }
        }
    }
    /// `WITH ... INSERT INTO target (columns) SELECT select FROM s` over n in 1..=count.
    fn insert_series(self, count: i64, target: &str, select: &str) -> String {
        match self {
            Dialect::Sqlite => format!(
                "WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < {count}) \
                 INSERT INTO {target} SELECT {select} FROM s;\n"
            ),
            Dialect::Postgres => format!(
                "INSERT INTO {target} SELECT {select} FROM generate_series(1, {count}::bigint) AS s(n);\n"
            ),
        }
    }
}

/// The sizes of a data set: [`LARGE`] for the bench, smaller ones for the loader's test.
#[derive(Clone, Copy, Debug)]
pub struct Shape {
    pub users: i64,
    pub orgs: i64,
    pub orders: i64,
    /// Users 1..=heavy_users have exactly 50 orders each.
    pub heavy_users: i64,
    pub audit_rows: i64,
    pub webhook_events: i64,
}

/// The bench's large data set.
pub const LARGE: Shape = Shape {
    users: USERS,
    orgs: ORGS,
    orders: ORDERS,
    heavy_users: HEAVY_USERS,
    audit_rows: AUDIT_ROWS,
    webhook_events: WEBHOOK_EVENTS,
};

/// The bulk SQL that generates the whole data set of `shape`, for `t0`.
fn generate_sql(d: Dialect, t0: &str, shape: &Shape) -> String {
    let Shape {
        users,
        orgs,
        orders,
        heavy_users,
        audit_rows,
        webhook_events,
    } = *shape;
    let admin = users;
    let (t, f) = (d.t(), d.f());
    let mut sql = String::new();
    let year_ago = d.plus_secs(t0, &format!("-{}", orders * SPACING_SECS + 3600));
    sql.push_str("DELETE FROM plans;\n");
    sql.push_str(&d.insert_series(
        PLANS,
        "plans (id, name, plan_type, description, currency, price_monthly_minor, price_hourly_minor, \
         price_yearly_minor, memory, disk, cpu, servers, sites, databases, backups, port_count, \
         tunnel_port_count, email_daily_limit, email_queue_limit, server_create, server_update, \
         server_delete, site_create, site_update, site_delete, features, hidden, is_default, \
         stripe_plan_id, created_at, updated_at)",
        &format!(
            "n, 'Plan ' || n, CASE WHEN n = 1 THEN 'free' ELSE 'paid' END, 'Benchmark plan ' || n, 'USD', \
             (n - 1) * 250, 0, (n - 1) * 2500, 0, n * 10240, n * 100, n * 5, n * 10, 5, 5, 3, 10, 100, 10, \
             {t}, {t}, {t}, {t}, {t}, {t}, '{{}}', {f}, CASE WHEN n = 1 THEN {t} ELSE {f} END, NULL, {year_ago}, {year_ago}"
        ),
    ));
    sql.push_str(&d.insert_series(
        users,
        "users (id, email, name, role, country, created_at, updated_at)",
        &format!(
            "n, 'user' || n || '@bench.example', 'User ' || n, CASE WHEN n = {admin} THEN 'admin' ELSE 'user' END, \
             'DE', {year_ago}, {year_ago}"
        ),
    ));
    sql.push_str(&d.insert_series(
        orgs,
        "organisations (id, name, created_at)",
        &format!("n, 'Org ' || n, {year_ago}"),
    ));
    sql.push_str(&d.insert_series(
        orgs,
        "org_members (org_id, user_id, role, created_at)",
        &format!("n, {heavy_users} + n, 'owner', {year_ago}"),
    ));
    // The order columns as expressions of n.
    let rest_users = users - 1 - heavy_users;
    let heavy_orders = heavy_users * 50;
    let org_orders_end = heavy_orders + orgs * 5;
    let org = format!("(((n - {}) % {orgs}) + 1)", heavy_orders + 1);
    let account_kind = format!(
        "CASE WHEN n > {heavy_orders} AND n <= {org_orders_end} THEN 'org' ELSE 'user' END"
    );
    let user = format!(
        "CASE WHEN n <= {heavy_orders} THEN ((n - 1) / 50) + 1 \
         WHEN n <= {org_orders_end} THEN {heavy_users} + {org} \
         ELSE {} + ((n - {}) % {rest_users}) END",
        heavy_users + 1,
        org_orders_end + 1
    );
    let account_id = format!(
        "CASE WHEN n > {heavy_orders} AND n <= {org_orders_end} THEN {org} ELSE {user} END"
    );
    let org_id =
        format!("CASE WHEN n > {heavy_orders} AND n <= {org_orders_end} THEN {org} ELSE NULL END");
    let active = format!(
        "(CASE WHEN n <= {heavy_orders} THEN (n - 1) % 50 = 49 \
         WHEN n <= {org_orders_end} THEN n > {} ELSE n > {} END)",
        org_orders_end - orgs,
        orders - rest_users
    );
    let pending = format!("(NOT {active} AND n % 997 = 0)");
    let status = format!(
        "CASE WHEN {active} THEN 'active' WHEN {pending} THEN 'pending' \
         WHEN n % 2 = 0 THEN 'expired' ELSE 'cancelled' END"
    );
    let created_secs = format!("-(({orders} - n) * {SPACING_SECS} + 3600)");
    let created = d.plus_secs(t0, &created_secs);
    let price = "((n % 20) * 250)";
    let tax = format!("(({price} * 19 + 50) / 100)");
    let active_end = d.plus_secs(t0, "6 * 86400 + ((n * 7919) % (30 * 86400))");
    let period_end = d.plus_secs(t0, &format!("{created_secs} + 30 * 86400"));
    let cancelled_at = d.plus_secs(t0, &format!("{created_secs} + 10 * 86400"));
    sql.push_str(&d.insert_series(
        orders,
        "orders (id, account_kind, account_id, user_id, org_id, plan_id, status, currency, subtotal_minor, \
         tax_rate_bp, tax_minor, total_minor, description, created_at, activated_at, expires_at, \
         cancelled_at, invoice_year, invoice_seq, invoice_number, invoice_snapshot)",
        &format!(
            "n, {account_kind}, {account_id}, {user}, {org_id}, (n % 20) + 1, {status}, 'USD', {price}, 1900, \
             {tax}, {price} + {tax}, 'Plan ' || ((n % 20) + 1) || ' (monthly)', {created}, \
             CASE WHEN {pending} THEN NULL ELSE {created} END, \
             CASE WHEN {pending} THEN NULL WHEN {active} THEN {active_end} ELSE {period_end} END, \
             CASE WHEN NOT {active} AND NOT {pending} AND n % 2 = 1 THEN {cancelled_at} ELSE NULL END, \
             CASE WHEN {pending} THEN NULL ELSE 2026 END, CASE WHEN {pending} THEN NULL ELSE n END, \
             CASE WHEN {pending} THEN NULL ELSE 'INV-2026-' || {} END, \
             CASE WHEN {pending} THEN NULL ELSE '{SNAPSHOT}' END",
            d.pad6("n")
        ),
    ));
    sql.push_str(
        "INSERT INTO order_items (order_id, position, description, quantity, unit_price_minor, amount_minor) \
         SELECT id, 1, description, 1, subtotal_minor, subtotal_minor FROM orders;\n",
    );
    sql.push_str(&format!(
        "INSERT INTO invoice_counters (year, last_seq) VALUES (2026, {orders});\n"
    ));
    // Stored invoices: a placeholder PDF each, as on a running installation (otherwise
    // the start-up backfill would render a million).
    let placeholder = b"%PDF-1.3 seeded";
    let digest = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(placeholder));
    let bytes = hex::encode(placeholder);
    let blob = match d {
        Dialect::Sqlite => format!("X'{bytes}'"),
        Dialect::Postgres => format!("'\\x{bytes}'::bytea"),
    };
    sql.push_str(&format!(
        "INSERT INTO documents (kind, owner_id, number, sha256, content, created_at) \
         SELECT 'invoice', id, invoice_number, '{digest}', {blob}, created_at FROM orders \
         WHERE invoice_number IS NOT NULL;\n"
    ));
    sql.push_str(&d.insert_series(
        users,
        "usage_counters (account_kind, account_id, resource, used, period_day, updated_at)",
        &format!("'user', n, 'servers', 1, NULL, {year_ago}"),
    ));
    // A year of audit rows: an administrator's mark-paid of order n, with its states.
    let audit_secs = format!("-(({audit_rows} - n) * {SPACING_SECS} + 3000)");
    let state = |status: &str| {
        format!(
            "'{{\"id\":' || n || ',\"status\":\"{status}\",\"planId\":' || ((n % 20) + 1) || \
             ',\"account\":{{\"kind\":\"user\",\"id\":' || ((n % {rest_users}) + 1) || '}},\
             \"description\":\"Plan ' || ((n % 20) + 1) || ' (monthly)\",\"subtotal\":\"9.99\",\"taxRate\":\"19\",\
             \"taxAmount\":\"1.90\",\"amount\":\"11.89\",\"currency\":\"USD\",\"invoiceNumber\":null,\"notes\":null,\
             \"paymentReference\":null,\"expiresAt\":null,\"cancelledAt\":null}}'"
        )
    };
    sql.push_str(&d.insert_series(
        audit_rows,
        "audit_log (actor_user_id, action, target_kind, target_id, before_state, after_state, created_at)",
        &format!(
            "{admin}, 'order.mark_paid', 'order', n, {}, {}, {}",
            state("pending"),
            state("active"),
            d.plus_secs(t0, &audit_secs)
        ),
    ));
    // A year of delivered webhooks to one (disabled) endpoint.
    sql.push_str(&format!(
        "INSERT INTO webhook_endpoints (id, url, events, description, enabled, secret, previous_secret, \
         previous_signs_until, created_at, updated_at) VALUES (1, 'http://127.0.0.1:9/bench', '[\"*\"]', \
         'bench', {f}, 'whsec_YmVuY2hiZW5jaGJlbmNoYmVuY2hiZW5jaGJlbmNoYmVuY2g=', NULL, NULL, {year_ago}, {year_ago});\n"
    ));
    let event_secs = format!("-(({webhook_events} - n) * {} + 3000)", SPACING_SECS * 2);
    let event_at = d.plus_secs(t0, &event_secs);
    sql.push_str(&d.insert_series(
        webhook_events,
        "webhook_events (id, event_id, event_type, stream, sequence, body, created_at)",
        &format!(
            "n, 'evt_bench_' || n, 'order.activated', 'user:' || ((n % {rest_users}) + 1), n, \
             '{{\"type\":\"order.activated\",\"data\":{{\"orderId\":' || n || '}}}}', {event_at}"
        ),
    ));
    sql.push_str(
        "INSERT INTO webhook_sequences (stream, last_value) \
         SELECT stream, MAX(sequence) FROM webhook_events GROUP BY stream;\n",
    );
    sql.push_str(&format!(
        "INSERT INTO webhook_deliveries (endpoint_id, event_row_id, status, attempts, series_attempt, \
         last_status_code, last_error, next_attempt_at, delivered_at, created_at, lease_holder, lease_token, \
         lease_until) SELECT 1, id, 'delivered', 1, 1, 200, NULL, NULL, {}, created_at, NULL, NULL, NULL \
         FROM webhook_events;\n",
        match d {
            Dialect::Sqlite => "datetime(created_at, '+1 seconds')".to_owned(),
            Dialect::Postgres => "created_at + INTERVAL '1 second'".to_owned(),
        }
    ));
    if d == Dialect::Postgres {
        for table in [
            "plans",
            "users",
            "organisations",
            "orders",
            "audit_log",
            "webhook_endpoints",
            "webhook_events",
        ] {
            sql.push_str(&format!(
                "SELECT setval(pg_get_serial_sequence('{table}','id'), (SELECT MAX(id) FROM {table}));\n"
            ));
        }
    }
    sql.push_str(&format!(
        "CREATE TABLE bench_dataset (version TEXT NOT NULL, t0 TEXT NOT NULL);\n\
         INSERT INTO bench_dataset (version, t0) VALUES ('{DATASET_VERSION}', '{t0}');\n"
    ));
    sql
}

#[derive(diesel::QueryableByName)]
struct Marker {
    #[diesel(sql_type = diesel::sql_types::Text)]
    version: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    t0: String,
}

const MARKER_SQL: &str = "SELECT version, t0 FROM bench_dataset";

fn first_marker(rows: diesel::QueryResult<Vec<Marker>>) -> Option<(String, String)> {
    rows.ok()
        .and_then(|rows| rows.into_iter().next())
        .map(|m| (m.version, m.t0))
}

fn migrate(tariff: &Path, url: &str) {
    let status = Command::new(tariff)
        .args(["--database-url", url, "migrate"])
        .stdout(Stdio::null())
        .status()
        .unwrap_or_else(|e| panic!("{}: {e}", tariff.display()));
    assert!(status.success(), "migrate {url} failed");
}

fn parse_t0(text: &str) -> DateTime<Utc> {
    NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S")
        .unwrap_or_else(|e| panic!("bench_dataset.t0 {text:?}: {e}"))
        .and_utc()
}

fn now_hour() -> (String, DateTime<Utc>) {
    let now = Utc::now().trunc_subsecs(0);
    let t0 = now
        .with_minute(0)
        .and_then(|t| t.with_second(0))
        .unwrap_or(now);
    (t0.format("%Y-%m-%d %H:%M:%S").to_string(), t0)
}

/// The SQLite working copy under `dir` (`target/bench/large`), loading the pristine
/// file first when it is missing or of another version.
pub fn sqlite(tariff: &Path, dir: &Path) -> LargeSet {
    std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let pristine = dir.join("pristine.db");
    let url = |path: &Path| format!("sqlite://{}", path.display());
    let existing = SqliteConnection::establish(&pristine.display().to_string())
        .ok()
        .and_then(|mut c| first_marker(diesel::sql_query(MARKER_SQL).load::<Marker>(&mut c)));
    let mut loaded = false;
    let load_started = Instant::now();
    let t0 = match existing {
        Some((version, t0)) if version == DATASET_VERSION => {
            eprintln!("   reusing {} ({version}, t0 {t0})", pristine.display());
            parse_t0(&t0)
        }
        _ => {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", pristine.display()));
            }
            migrate(tariff, &url(&pristine));
            let (text, t0) = now_hour();
            eprintln!(
                "   generating the large data set (t0 {text}) into {}",
                pristine.display()
            );
            let mut conn = SqliteConnection::establish(&pristine.display().to_string())
                .unwrap_or_else(|e| panic!("{}: {e}", pristine.display()));
            conn.batch_execute("PRAGMA synchronous = OFF; PRAGMA cache_size = -1000000; PRAGMA foreign_keys = OFF; BEGIN;")
                .and_then(|()| conn.batch_execute(&generate_sql(Dialect::Sqlite, &text, &LARGE)))
                .and_then(|()| conn.batch_execute("COMMIT; PRAGMA wal_checkpoint(TRUNCATE);"))
                .unwrap_or_else(|e| panic!("load: {e}"));
            loaded = true;
            t0
        }
    };
    let load_ms = if loaded {
        load_started.elapsed().as_millis()
    } else {
        0
    };
    let copy_started = Instant::now();
    let run = dir.join("run.db");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", run.display()));
    }
    // The pristine file is checkpointed and closed: the main file is the whole database.
    std::fs::copy(&pristine, &run).unwrap_or_else(|e| panic!("copy: {e}"));
    let copy_ms = copy_started.elapsed().as_millis();
    migrate(tariff, &url(&run));
    LargeSet {
        url: url(&run),
        t0,
        loaded,
        load_ms,
        copy_ms,
    }
}

/// Loads a generated set in one transaction with triggers off (`replica` skips ordinary
/// and constraint triggers): the per-status counts and change shards are deferred to
/// commit, and firing them for a million rows at one COMMIT takes far longer than the
/// load. The counts are then filled from the rows in one statement; the change shards
/// stay at their first version, which is all a freshly started process needs. Setting
/// `session_replication_role` takes a superuser, as the `postgres` user of the bench and
/// CI is.
fn load_postgres(conn: &mut PgConnection, t0: &str, shape: &Shape) -> diesel::QueryResult<()> {
    conn.batch_execute(
        "SET synchronous_commit = off; SET session_replication_role = replica; BEGIN;",
    )?;
    conn.batch_execute(&generate_sql(Dialect::Postgres, t0, shape))?;
    conn.batch_execute(PG_STATUS_COUNTS_SQL)?;
    conn.batch_execute("COMMIT; SET session_replication_role = origin;")
}

/// The per-status order counts of the loaded rows, as the `orders_counted` trigger would
/// have kept them.
const PG_STATUS_COUNTS_SQL: &str = "UPDATE order_status_counts AS c SET n = g.n \
     FROM (SELECT status, account_shard(account_kind, account_id) AS shard, COUNT(*) AS n \
           FROM orders GROUP BY 1, 2) AS g \
     WHERE c.status = g.status AND c.shard = g.shard";

/// `base` with its database name replaced by `name`.
fn with_database(base: &str, name: &str) -> String {
    let (head, query) = match base.split_once('?') {
        Some((head, query)) => (head, format!("?{query}")),
        None => (base, String::new()),
    };
    let root = head.rsplit_once('/').map_or(head, |(root, _)| root);
    format!("{root}/{name}{query}")
}

/// The PostgreSQL working copy, a database `tariff_bench_large_run` made from the
/// template `tariff_bench_large` (or `$BENCH_LARGE_DB_run` from `$BENCH_LARGE_DB`) on
/// the server of `base` (`TEST_DATABASE_URL`), loading
/// the template first when it is missing or of another version.
pub fn postgres(tariff: &Path, base: &str) -> LargeSet {
    // `BENCH_LARGE_DB` names another pair (`<name>`, `<name>_run`), so that two
    // checkouts can keep their sets on one server.
    let name = std::env::var("BENCH_LARGE_DB")
        .ok()
        .filter(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or_else(|| "tariff_bench_large".to_owned());
    let run_name = format!("{name}_run");
    let pristine_url = with_database(base, &name);
    let run_url = with_database(base, &run_name);
    let mut admin = PgConnection::establish(base).unwrap_or_else(|e| panic!("{base}: {e}"));
    let existing = PgConnection::establish(&pristine_url)
        .ok()
        .and_then(|mut c| first_marker(diesel::sql_query(MARKER_SQL).load::<Marker>(&mut c)));
    let mut loaded = false;
    let load_started = Instant::now();
    let t0 = match existing {
        Some((version, t0)) if version == DATASET_VERSION => {
            eprintln!("   reusing database {name} ({version}, t0 {t0})");
            parse_t0(&t0)
        }
        _ => {
            admin
                .batch_execute(&format!("DROP DATABASE IF EXISTS {name}"))
                .and_then(|()| admin.batch_execute(&format!("CREATE DATABASE {name}")))
                .unwrap_or_else(|e| panic!("create database: {e}"));
            migrate(tariff, &pristine_url);
            let (text, t0) = now_hour();
            eprintln!("   generating the large data set (t0 {text}) into {name}");
            let mut conn = PgConnection::establish(&pristine_url)
                .unwrap_or_else(|e| panic!("{pristine_url}: {e}"));
            load_postgres(&mut conn, &text, &LARGE)
                .and_then(|()| conn.batch_execute("VACUUM ANALYZE"))
                .unwrap_or_else(|e| panic!("load: {e}"));
            loaded = true;
            t0
        }
    };
    let load_ms = if loaded {
        load_started.elapsed().as_millis()
    } else {
        0
    };
    let copy_started = Instant::now();
    admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS {run_name}"))
        .and_then(|()| admin.batch_execute(&format!("CREATE DATABASE {run_name} TEMPLATE {name}")))
        .unwrap_or_else(|e| panic!("copy database: {e}"));
    let copy_ms = copy_started.elapsed().as_millis();
    migrate(tariff, &run_url);
    LargeSet {
        url: run_url,
        t0,
        loaded,
        load_ms,
        copy_ms,
    }
}

/// Where the SQLite data set lives: `target/bench/large` beside the bench binary's
/// target directory.
pub fn sqlite_dir() -> PathBuf {
    PathBuf::from("target/bench/large")
}

/// p50, p99 and the maximum of latencies in microseconds.
pub fn percentiles(mut us: Vec<u64>) -> (u64, u64, u64) {
    if us.is_empty() {
        return (0, 0, 0);
    }
    us.sort_unstable();
    let at = |q: usize| us[(us.len() * q / 100).min(us.len() - 1)];
    (at(50), at(99), us[us.len() - 1])
}

/// A `tariff serve` child on a data set; killed when dropped.
struct Served {
    child: std::process::Child,
    base: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(tariff: &Path, url: &str, log: &Path) -> Served {
    use std::io::{BufRead, BufReader};
    let stderr = std::fs::File::create(log)
        .map(Stdio::from)
        .unwrap_or_else(|_| Stdio::null());
    let mut child = Command::new(tariff)
        .args(["--database-url", url, "serve"])
        .env("TARIFF_SERVER__BIND", "127.0.0.1:0")
        .env("TARIFF_SERVER__WORKERS", "2")
        .env("TARIFF_LOG__LEVEL", "warn")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap_or_else(|e| panic!("{}: {e}", tariff.display()));
    let stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
    let mut served = Served {
        child,
        base: String::new(),
    };
    let mut reader = BufReader::new(stdout);
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            panic!("tariff exited before listening; see {}", log.display());
        }
        if let Some(at) = line.find("http://") {
            served.base = line[at..].trim().to_owned();
            std::thread::spawn(move || for _ in reader.lines() {});
            return served;
        }
    }
}

fn status_kb(pid: u32, field: &str) -> u64 {
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

/// One cold-path figure: latencies of distinct requests made one at a time.
pub struct Cold {
    pub backend: String,
    pub name: String,
    pub target: String,
    pub requests: usize,
    pub p50_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
    pub failures: usize,
}

/// Sends each request once, one at a time, and times it; a non-2xx answer or a body
/// that fails `check` counts as a failure.
async fn timed(
    client: &reqwest::Client,
    token: impl Fn(usize) -> String,
    urls: &[String],
    check: impl Fn(&serde_json::Value) -> bool,
) -> (Vec<u64>, usize) {
    let mut latencies = Vec::with_capacity(urls.len());
    let mut failures = 0;
    for (i, url) in urls.iter().enumerate() {
        let started = Instant::now();
        let answer = client.get(url).bearer_auth(token(i)).send().await;
        let (status, body) = match answer {
            Ok(r) => (
                r.status().as_u16(),
                r.json::<serde_json::Value>().await.ok(),
            ),
            Err(_) => (0, None),
        };
        latencies.push(u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX));
        if !(200..300).contains(&status) || !body.as_ref().is_some_and(&check) {
            failures += 1;
            if failures <= 3 {
                let text = body.map(|b| b.to_string()).unwrap_or_default();
                eprintln!(
                    "   failed: {url} answered {status}: {}",
                    text.chars().take(200).collect::<String>()
                );
            }
        }
    }
    (latencies, failures)
}

/// What `bench --scale large` measured on one backend before its load table, and the
/// working copy the load table runs on.
pub struct LargeRun {
    /// The cold paths (empty when `cold` was false).
    pub cold: Vec<Cold>,
    /// One line each: the data set, the sweep, ready time, memory.
    pub notes: Vec<String>,
    /// The working copy's URL (it stays after the run, until the next one replaces it).
    pub url: String,
    /// The sweep over the whole table: wall time and peak RSS (`None` when skipped).
    pub sweep: Option<(u128, u64)>,
}

/// The large data set on `backend`: load or reuse it, then (when `cold`) measure the
/// sweep and the cold paths.
pub async fn run(backend: &str, tariff: &Path, cold: bool) -> Option<LargeRun> {
    let set = match backend {
        "postgres" => {
            let Ok(base) = std::env::var("TEST_DATABASE_URL") else {
                eprintln!("== postgres: skipped (TEST_DATABASE_URL is not set)");
                return None;
            };
            postgres(tariff, &base)
        }
        _ => sqlite(tariff, &sqlite_dir()),
    };
    let mut notes = vec![format!(
        "{backend}: data set {DATASET_VERSION} for t0 {} ({}; copy for this run in {} ms)",
        set.t0.format("%Y-%m-%d %H:%M"),
        if set.loaded {
            format!("loaded in {} s", set.load_ms / 1000)
        } else {
            "reused".to_owned()
        },
        set.copy_ms
    )];
    if !cold {
        return Some(LargeRun {
            cold: Vec::new(),
            notes,
            url: set.url,
            sweep: None,
        });
    }
    // The lifecycle sweep over the whole table, as its own process (time and peak RSS),
    // first: the service sweeps once when it starts, and its writes must not overlap the
    // cold reads.
    let sweep_started = Instant::now();
    let mut child = Command::new(tariff)
        .args(["--database-url", &set.url, "sweep"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("sweep: {e}"));
    let pid = child.id();
    let mut peak_kb = 0;
    let status = loop {
        peak_kb = peak_kb.max(status_kb(pid, "VmHWM:"));
        if let Ok(Some(status)) = child.try_wait() {
            break status;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    };
    let elapsed = sweep_started.elapsed();
    let mut said = String::new();
    if let Some(mut out) = child.stdout.take() {
        use std::io::Read;
        let _ = out.read_to_string(&mut said);
    }
    notes.push(format!(
        "{backend}: sweep over {ORDERS} orders: {} ms, peak RSS {} MB, {status}; {}",
        elapsed.as_millis(),
        peak_kb / 1024,
        said.trim()
    ));
    let db = tariff_persistence::Database::connect(
        &set.url,
        &tariff_persistence::PoolOptions::default(),
    )
    .unwrap_or_else(|e| panic!("db: {e}"));
    let admin = tariff_persistence::testing::add_token(&db, ADMIN).await;
    let mut heavy = Vec::new();
    for user in 1..=200 {
        heavy.push(tariff_persistence::testing::add_token(&db, user).await);
    }
    drop(db);

    let _ = std::fs::create_dir_all("target/bench");
    let log = PathBuf::from(format!("target/bench/tariff-large-{backend}.log"));
    let started = Instant::now();
    let served = serve(tariff, &set.url, &log);
    let client = reqwest::Client::new();
    let ready = format!("{}/readyz", served.base);
    while !client
        .get(&ready)
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
    {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    notes.push(format!(
        "{backend}: ready in {} ms on the large set",
        started.elapsed().as_millis()
    ));
    // Idle memory once the start-up work (the first sweep, the document backfill) is
    // done: the same figure the small bench reports as "idle".
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    notes.push(format!(
        "{backend}: service memory idle on the large set: RSS {} MB",
        status_kb(served.child.id(), "VmRSS:") / 1024
    ));
    let base = served.base.clone();
    let mut cold = Vec::new();
    let mut record = |name: &str, target: &str, (latencies, failures): (Vec<u64>, usize)| {
        let requests = latencies.len();
        let (p50_us, p99_us, max_us) = percentiles(latencies);
        eprintln!(
            "   {name}: p50 {p50_us} us, p99 {p99_us} us, max {max_us} us, {failures} failed"
        );
        cold.push(Cold {
            backend: backend.to_owned(),
            name: name.to_owned(),
            target: target.to_owned(),
            requests,
            p50_us,
            p99_us,
            max_us,
            failures,
        });
    };

    // A user's own list: each user once, so the per-user list cache never helps.
    let urls: Vec<String> = (0..heavy.len())
        .map(|_| format!("{base}/api/orders"))
        .collect();
    let got = timed(
        &client,
        |i| heavy[i].clone(),
        &urls,
        // 50, and the renewal order the sweep may have given the user.
        |b| b.as_array().is_some_and(|a| (50..=51).contains(&a.len())),
    )
    .await;
    record(
        "GET /api/orders, 50 orders, cold (200 users)",
        "p99 < 20 ms",
        got,
    );

    let admin_token = |_| admin.clone();
    // By user: 100 users with 50 orders, 100 with about 9.
    let urls: Vec<String> = (501..=600)
        .chain((0..100).map(|i| HEAVY_USERS + 1 + i * 911))
        .map(|u| format!("{base}/api/admin/orders?userId={u}"))
        .collect();
    let got = timed(&client, admin_token, &urls, |b| {
        b["data"]
            .as_array()
            .or(b["orders"].as_array())
            .is_some_and(|a| !a.is_empty())
    })
    .await;
    record("admin order search by user (200 users)", "p99 < 50 ms", got);

    let urls: Vec<String> = ["active", "expired", "cancelled", "pending"]
        .iter()
        .flat_map(|status| {
            let base = &base;
            (1..=50).map(move |page| format!("{base}/api/admin/orders?status={status}&page={page}"))
        })
        .collect();
    let got = timed(&client, admin_token, &urls, |b| {
        b["data"]
            .as_array()
            .or(b["orders"].as_array())
            .is_some_and(|a| !a.is_empty())
    })
    .await;
    record(
        "admin order search by status (4 x 50 pages)",
        "p99 < 50 ms",
        got,
    );

    let first: serde_json::Value = match client
        .get(format!("{base}/api/admin/audit"))
        .bearer_auth(&admin)
        .send()
        .await
    {
        Ok(r) => r.json().await.unwrap_or_default(),
        Err(_) => serde_json::Value::Null,
    };
    let last = first["meta"]["last_page"].as_i64().unwrap_or(1);
    let urls: Vec<String> = (0..100)
        .map(|back| format!("{base}/api/admin/audit?page={}", (last - back).max(1)))
        .collect();
    let got = timed(&client, admin_token, &urls, |b| {
        b["data"].as_array().is_some_and(|a| !a.is_empty())
    })
    .await;
    record(
        &format!("audit log, the last 100 pages (of {last})"),
        "-",
        got,
    );

    let urls: Vec<String> = (0..200)
        .map(|i| {
            format!(
                "{base}/api/admin/users/{}/current-plan",
                HEAVY_USERS + 1 + i * 487
            )
        })
        .collect();
    let got = timed(&client, admin_token, &urls, |b| b["order"].is_object()).await;
    record("current-plan (200 users)", "-", got);

    let pid = served.child.id();
    notes.push(format!(
        "{backend}: service memory after the cold paths: RSS {} MB, peak {} MB",
        status_kb(pid, "VmRSS:") / 1024,
        status_kb(pid, "VmHWM:") / 1024
    ));
    drop(served);

    Some(LargeRun {
        cold,
        notes,
        url: set.url,
        sweep: Some((elapsed.as_millis(), peak_kb)),
    })
}

/// Prints the cold paths' table and the notes; returns them as JSON rows.
pub fn print_cold(rows: &[Cold], notes: &[String]) -> serde_json::Value {
    println!();
    println!(
        "{:<9} {:<46} {:>9} {:>10} {:>10} {:>10} {:>8} {:<14}",
        "backend",
        "cold path (one request at a time)",
        "requests",
        "p50",
        "p99",
        "max",
        "failed",
        "target"
    );
    let ms = |us: u64| format!("{}.{:02}ms", us / 1000, (us % 1000) / 10);
    let mut json_rows = Vec::new();
    for row in rows {
        println!(
            "{:<9} {:<46} {:>9} {:>10} {:>10} {:>10} {:>8} {:<14}",
            row.backend,
            row.name,
            row.requests,
            ms(row.p50_us),
            ms(row.p99_us),
            ms(row.max_us),
            row.failures,
            row.target
        );
        json_rows.push(serde_json::json!({
            "backend": row.backend, "path": row.name, "requests": row.requests,
            "p50_us": row.p50_us, "p99_us": row.p99_us, "max_us": row.max_us,
            "failures": row.failures, "target": row.target,
        }));
    }
    for note in notes {
        println!("{note}");
    }
    serde_json::Value::Array(json_rows)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test
mod tests {
    use super::*;
    use crate::TestDatabase;

    #[test]
    fn database_names_are_replaced() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/test", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            with_database("postgres://u@h/test?sslmode=disable", "x"),
            "postgres://u@h/x?sslmode=disable"
        );
    }

    const SMALL: Shape = Shape {
        users: 400,
        orgs: 50,
        orders: 2_000,
        heavy_users: 10,
        audit_rows: 500,
        webhook_events: 300,
    };

    #[derive(diesel::QueryableByName, Debug, PartialEq)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }

    fn counts(mut count: impl FnMut(&str) -> i64) -> Vec<i64> {
        [
            "SELECT COUNT(*) AS n FROM orders",
            "SELECT COUNT(*) AS n FROM order_items",
            "SELECT COUNT(*) AS n FROM documents",
            "SELECT COUNT(*) AS n FROM audit_log",
            "SELECT COUNT(*) AS n FROM webhook_deliveries WHERE status = 'delivered'",
            "SELECT COUNT(*) AS n FROM orders WHERE user_id = 7 AND org_id IS NULL",
            "SELECT COUNT(*) AS n FROM orders WHERE status = 'active'",
            "SELECT COUNT(*) AS n FROM orders WHERE status = 'pending'",
            "SELECT COUNT(DISTINCT account_kind || account_id) AS n FROM orders",
        ]
        .iter()
        .map(|q| count(q))
        .collect()
    }

    /// Every account holds exactly one active order; the heavy users have 50 orders.
    fn expected() -> Vec<i64> {
        let accounts = SMALL.heavy_users + SMALL.orgs + (SMALL.users - 1 - SMALL.heavy_users);
        let heavy_orders = SMALL.heavy_users * 50;
        let org_orders_end = heavy_orders + SMALL.orgs * 5;
        let active = |n: i64| {
            if n <= heavy_orders {
                (n - 1) % 50 == 49
            } else if n <= org_orders_end {
                n > org_orders_end - SMALL.orgs
            } else {
                n > SMALL.orders - (SMALL.users - 1 - SMALL.heavy_users)
            }
        };
        let pending = (1..=SMALL.orders)
            .filter(|&n| n % 997 == 0 && !active(n))
            .count();
        let pending = i64::try_from(pending).unwrap();
        vec![
            SMALL.orders,
            SMALL.orders,
            SMALL.orders - pending,
            SMALL.audit_rows,
            SMALL.webhook_events,
            50,
            accounts,
            pending,
            accounts,
        ]
    }

    async fn migrated(url: &str) {
        let db =
            tariff_persistence::Database::connect(url, &tariff_persistence::PoolOptions::default())
                .unwrap();
        db.migrate().await.unwrap();
    }

    #[tokio::test]
    async fn the_generated_set_loads_on_sqlite_with_its_shape() {
        let db = TestDatabase::sqlite();
        migrated(db.url()).await;
        let path = db.url().trim_start_matches("sqlite://").to_owned();
        let mut conn = SqliteConnection::establish(&path).unwrap();
        conn.batch_execute(&generate_sql(
            Dialect::Sqlite,
            "2026-11-30 04:00:00",
            &SMALL,
        ))
        .unwrap();
        assert_eq!(
            counts(|q| diesel::sql_query(q).load::<Count>(&mut conn).unwrap()[0].n),
            expected()
        );
    }

    #[tokio::test]
    async fn the_generated_set_loads_on_postgres_with_its_shape() {
        let Some(db) = TestDatabase::postgres() else {
            return;
        };
        migrated(db.url()).await;
        let mut conn = PgConnection::establish(db.url()).unwrap();
        load_postgres(&mut conn, "2026-11-30 04:00:00", &SMALL).unwrap();
        assert_eq!(
            counts(|q| diesel::sql_query(q).load::<Count>(&mut conn).unwrap()[0].n),
            expected()
        );
        // The counts the triggers would have kept match the rows, status by status.
        let mismatched = diesel::sql_query(
            "SELECT COUNT(*) AS n FROM (VALUES ('pending'), ('active'), ('cancelled'), ('expired')) AS st (status) \
             WHERE (SELECT COALESCE(SUM(n), 0) FROM order_status_counts c WHERE c.status = st.status) \
                <> (SELECT COUNT(*) FROM orders o WHERE o.status = st.status)",
        )
        .load::<Count>(&mut conn)
        .unwrap()[0]
            .n;
        assert_eq!(mismatched, 0);
        let counted =
            diesel::sql_query("SELECT COALESCE(SUM(n), 0)::BIGINT AS n FROM order_status_counts")
                .load::<Count>(&mut conn)
                .unwrap()[0]
                .n;
        assert_eq!(counted, SMALL.orders);
    }

    #[test]
    fn percentiles_pick_ranks() {
        let (p50, p99, max) = percentiles((1..=100).collect());
        assert_eq!((p50, p99, max), (51, 100, 100));
        assert_eq!(percentiles(vec![]), (0, 0, 0));
    }
}
