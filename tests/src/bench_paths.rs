//! The write paths of the `bench` binary: the data each one needs, made with plain SQL
//! before the service starts, and the `wrk` scripts that drive them.
//!
//! - Coupon orders: fresh users without orders (so each order is a first order, not a
//!   plan change) order a random paid plan with a percent coupon that has no
//!   redemption limit.
//! - Upgrades: fresh users each holding one active, paid, monthly order of plan 2 that
//!   started ten days ago, so ordering a dearer plan `now` is an upgrade with an
//!   unused-time line.
//! - Refunds: distinct numbered (paid) orders of the data set with a total above zero,
//!   shuffled so that concurrent refunds belong to different accounts.
//! - Numbering: a snapshot of the invoice and credit note counters, and the check that
//!   every number issued since is there exactly once (unique and gapless per year).
//!
//! The fresh users and orders take id ranges above both data sets (the large set ends
//! at user 100,000 and order 1,000,000), so the same code serves both scales.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use chrono::{Datelike, Months, Utc};
use tariff_persistence::testing::execute_sql;
use tariff_persistence::Database;

/// The first user id of the coupon scenario's users.
pub const COUPON_USER_BASE: i64 = 1_000_001;
/// The first user id of the upgrade scenario's users.
pub const UPGRADE_USER_BASE: i64 = 1_100_001;
/// The first order id of the upgrade scenario's active orders.
pub const UPGRADE_ORDER_BASE: i64 = 3_000_001;
/// The first order id of the Stripe webhook scenario's pending orders.
pub const PENDING_ORDER_BASE: i64 = 2_000_001;
/// The coupon the coupon scenario redeems: 20% off, once, no redemption limit.
pub const COUPON_CODE: &str = "BENCH20";
/// The plan the upgrade scenario's users hold (the cheapest paid plan at both scales).
pub const UPGRADE_FROM_PLAN: i64 = 2;

const SNAPSHOT: &str = r#"{"version":1,"frozenAt":"2026-01-01T00:00:00Z","seller":{"companyName":"Bench Hosting","issuedFromName":"Bench Hosting","issuedFromAddress":"1 Bench Street","logoPath":null},"buyer":{"name":"Bench User","email":null,"company":null,"addressLine1":null,"addressLine2":null,"city":null,"postcode":null,"country":"DE","taxId":null}}"#;

fn is_postgres(db: &Database) -> bool {
    db.backend() == tariff_persistence::Backend::Postgres
}

fn sql_time(at: chrono::DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S").to_string()
}

#[derive(diesel::QueryableByName)]
struct One {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

#[derive(diesel::QueryableByName)]
struct MaybeOne {
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::BigInt>)]
    n: Option<i64>,
}

/// The values of a query whose one column is `n` (a BIGINT).
async fn numbers(db: &Database, sql: String) -> Vec<i64> {
    db.query(move |conn| Ok(conn.load::<One, _>(diesel::sql_query(sql))?))
        .await
        .unwrap_or_else(|e| panic!("bench query: {e}"))
        .into_iter()
        .map(|row| row.n)
        .collect()
}

/// The one nullable value `n` of a query.
async fn maybe_number(db: &Database, sql: String) -> Option<i64> {
    db.query(move |conn| Ok(conn.load::<MaybeOne, _>(diesel::sql_query(sql))?))
        .await
        .unwrap_or_else(|e| panic!("bench query: {e}"))
        .into_iter()
        .next()
        .and_then(|row| row.n)
}

async fn run(db: &Database, what: &str, sql: String) {
    execute_sql(db, sql)
        .await
        .unwrap_or_else(|e| panic!("{what}: {e}"));
}

/// Moves PostgreSQL's id sequences past explicitly inserted ids.
async fn bump_sequences(db: &Database, tables: &[&str]) {
    if !is_postgres(db) {
        return;
    }
    let mut sql = String::new();
    for table in tables {
        let _ = writeln!(
            sql,
            "SELECT setval(pg_get_serial_sequence('{table}','id'), (SELECT MAX(id) FROM {table}));"
        );
    }
    run(db, "sequences", sql).await;
}

/// Inserts users `first..first + count` (role `user`, country DE) with one API token
/// each; the tokens come back in clear, the user `first + i` holding the `i`-th.
pub async fn users_with_tokens(db: &Database, first: i64, count: i64) -> Vec<String> {
    use tariff_domain::identity::{generate_secret, hash_secret};
    let ts = sql_time(Utc::now());
    let mut tokens = Vec::new();
    let ids: Vec<i64> = (first..first + count).collect();
    for chunk in ids.chunks(1_000) {
        let mut users = Vec::with_capacity(chunk.len());
        let mut rows = Vec::with_capacity(chunk.len());
        for id in chunk {
            let token = generate_secret("tff_");
            users.push(format!(
                "({id}, 'bench{id}@bench.example', 'Bench {id}', 'user', 'DE', '{ts}', '{ts}')"
            ));
            rows.push(format!(
                "({id}, 'bench', '{}', '{ts}')",
                hash_secret(&token)
            ));
            tokens.push(token);
        }
        run(
            db,
            "bench users",
            format!(
                "INSERT INTO users (id, email, name, role, country, created_at, updated_at) VALUES {};\n\
                 INSERT INTO api_tokens (user_id, name, token_hash, created_at) VALUES {};",
                users.join(","),
                rows.join(",")
            ),
        )
        .await;
    }
    bump_sequences(db, &["users", "api_tokens"]).await;
    tokens
}

/// The upgrade scenario's accounts: users `UPGRADE_USER_BASE..+count`, each with one
/// active, numbered, monthly order of [`UPGRADE_FROM_PLAN`] that started ten days ago
/// and runs one calendar month (so its unused time is credited on an upgrade), with
/// its line and a stored invoice. The year's invoice counter moves past the numbers
/// they take. Returns the users' tokens.
pub async fn upgrade_accounts(db: &Database, count: i64) -> Vec<String> {
    let tokens = users_with_tokens(db, UPGRADE_USER_BASE, count).await;
    let price = maybe_number(
        db,
        format!(
            "SELECT CAST(price_monthly_minor AS BIGINT) AS n FROM plans WHERE id = {UPGRADE_FROM_PLAN}"
        ),
    )
    .await
    .unwrap_or_else(|| panic!("plan {UPGRADE_FROM_PLAN} is missing"));
    let tax = (price * 19 + 50) / 100;
    let now = Utc::now();
    let year = now.year();
    let started = now - chrono::TimeDelta::days(10);
    let ends = started
        .checked_add_months(Months::new(1))
        .unwrap_or_else(|| panic!("a month after {started}"));
    let (started, ends) = (sql_time(started), sql_time(ends));
    let last = maybe_number(
        db,
        format!("SELECT CAST(last_seq AS BIGINT) AS n FROM invoice_counters WHERE year = {year}"),
    )
    .await;
    let base_seq = last.unwrap_or(0);
    let placeholder = b"%PDF-1.3 seeded";
    let digest = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(placeholder));
    let bytes = hex::encode(placeholder);
    let blob = if is_postgres(db) {
        format!("'\\x{bytes}'::bytea")
    } else {
        format!("X'{bytes}'")
    };
    let ids: Vec<i64> = (0..count).collect();
    for chunk in ids.chunks(2_000) {
        let mut orders = Vec::with_capacity(chunk.len());
        let mut items = Vec::with_capacity(chunk.len());
        let mut documents = Vec::with_capacity(chunk.len());
        for n in chunk {
            let id = UPGRADE_ORDER_BASE + n;
            let user = UPGRADE_USER_BASE + n;
            let seq = base_seq + n + 1;
            let number = format!("INV-{year}-{seq:06}");
            orders.push(format!(
                "({id}, 'user', {user}, {user}, NULL, {UPGRADE_FROM_PLAN}, 'active', 'USD', {price}, 1900, {tax}, {}, \
                 'Plan {UPGRADE_FROM_PLAN} (monthly)', '{started}', '{started}', '{ends}', {year}, {seq}, '{number}', \
                 '{SNAPSHOT}', 'monthly', {price}, '{started}')",
                price + tax
            ));
            items.push(format!(
                "({id}, 1, 'Plan {UPGRADE_FROM_PLAN} (monthly)', 1, {price}, {price})"
            ));
            documents.push(format!(
                "('invoice', {id}, '{number}', '{digest}', {blob}, '{started}')"
            ));
        }
        run(
            db,
            "upgrade accounts",
            format!(
                "INSERT INTO orders (id, account_kind, account_id, user_id, org_id, plan_id, status, currency, \
                 subtotal_minor, tax_rate_bp, tax_minor, total_minor, description, created_at, activated_at, \
                 expires_at, invoice_year, invoice_seq, invoice_number, invoice_snapshot, cycle, \
                 period_value_minor, paid_at) VALUES {};\n\
                 INSERT INTO order_items (order_id, position, description, quantity, unit_price_minor, amount_minor) VALUES {};\n\
                 INSERT INTO documents (kind, owner_id, number, sha256, content, created_at) VALUES {};",
                orders.join(","),
                items.join(","),
                documents.join(",")
            ),
        )
        .await;
    }
    let counter = if last.is_some() {
        format!(
            "UPDATE invoice_counters SET last_seq = {} WHERE year = {year};",
            base_seq + count
        )
    } else {
        format!(
            "INSERT INTO invoice_counters (year, last_seq) VALUES ({year}, {});",
            base_seq + count
        )
    };
    run(db, "invoice counter", counter).await;
    bump_sequences(db, &["orders"]).await;
    tokens
}

/// Up to `count` distinct numbered orders with a total above zero, outside the
/// measured user's and the scenarios' own ranges, in an order shuffled with a fixed
/// seed (consecutive ids share an account; shuffled, concurrent refunds do not). They
/// are marked paid (when they were activated), since only a paid order is refundable;
/// the data sets' orders carry their numbers without a payment record.
pub async fn refundable_orders(db: &Database, count: usize, above: i64) -> Vec<i64> {
    let range = format!(
        "invoice_number IS NOT NULL AND total_minor > 0 AND status <> 'pending' \
         AND id > {above} AND id < {PENDING_ORDER_BASE}"
    );
    let mut ids = numbers(
        db,
        format!("SELECT id AS n FROM orders WHERE {range} ORDER BY id LIMIT {count}"),
    )
    .await;
    if let (Some(first), Some(last)) = (ids.first(), ids.last()) {
        run(
            db,
            "paid refundable orders",
            format!(
                "UPDATE orders SET paid_at = COALESCE(activated_at, created_at) \
                 WHERE {range} AND id BETWEEN {first} AND {last}"
            ),
        )
        .await;
    }
    // Fisher-Yates with xorshift64: the same order every run.
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    for i in (1..ids.len()).rev() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let j = usize::try_from(state % (i as u64 + 1)).unwrap_or(0);
        ids.swap(i, j);
    }
    ids
}

/// The numbering counters at one moment: `(year, last_seq)` of invoices and of
/// credit notes.
#[derive(Clone, Debug, Default)]
pub struct Numbering {
    pub invoices: Vec<(i64, i64)>,
    pub credit_notes: Vec<(i64, i64)>,
}

#[derive(diesel::QueryableByName)]
struct Counter {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    year: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    last: i64,
}

#[derive(diesel::QueryableByName)]
struct Issued {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    rows: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    distinct_seqs: i64,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::BigInt>)]
    low: Option<i64>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::BigInt>)]
    high: Option<i64>,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    last: i64,
}

async fn counters(db: &Database, table: &str) -> Vec<(i64, i64)> {
    let sql = format!(
        "SELECT CAST(year AS BIGINT) AS year, CAST(last_seq AS BIGINT) AS last FROM {table} ORDER BY year"
    );
    db.query(move |conn| Ok(conn.load::<Counter, _>(diesel::sql_query(sql))?))
        .await
        .unwrap_or_else(|e| panic!("counters: {e}"))
        .into_iter()
        .map(|c| (c.year, c.last))
        .collect()
}

/// The counters now.
pub async fn numbering(db: &Database) -> Numbering {
    Numbering {
        invoices: counters(db, "invoice_counters").await,
        credit_notes: counters(db, "credit_note_counters").await,
    }
}

/// What was issued between a snapshot and now.
#[derive(Clone, Debug, Default)]
pub struct NumberingCheck {
    /// Invoice numbers issued since the snapshot.
    pub invoices: i64,
    /// Credit note numbers issued since the snapshot.
    pub credit_notes: i64,
    /// Each way the numbers issued since the snapshot are not unique and gapless.
    pub problems: Vec<String>,
}

/// Numbered orders whose invoice PDF is not stored yet (the issuing worker renders them
/// after numbering, off the request path).
pub async fn unstored_invoices(db: &Database) -> i64 {
    numbers(
        db,
        "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM orders o WHERE o.invoice_number IS NOT NULL \
         AND NOT EXISTS (SELECT 1 FROM documents d WHERE d.kind = 'invoice' AND d.owner_id = o.id)"
            .to_owned(),
    )
    .await
    .first()
    .copied()
    .unwrap_or(0)
}

/// Checks, per year, that the numbers issued since `before` are exactly
/// `before + 1 ..= now`, each held by one row (orders for invoices, credit notes for
/// credit notes).
pub async fn check_numbering(db: &Database, before: &Numbering) -> NumberingCheck {
    let now = numbering(db).await;
    let mut check = NumberingCheck::default();
    let series = [
        (
            "invoice",
            &before.invoices,
            &now.invoices,
            "orders",
            "invoice_year",
            "invoice_seq",
            "invoice_counters",
        ),
        (
            "credit note",
            &before.credit_notes,
            &now.credit_notes,
            "credit_notes",
            "year",
            "seq",
            "credit_note_counters",
        ),
    ];
    for (what, before, now, table, year_col, seq_col, counters) in series {
        for &(year, _) in now {
            let from = before
                .iter()
                .find(|(y, _)| *y == year)
                .map_or(0, |(_, l)| *l);
            let sql = format!(
                "SELECT CAST(COUNT(*) AS BIGINT) AS rows, CAST(COUNT(DISTINCT {seq_col}) AS BIGINT) AS distinct_seqs, \
                 CAST(MIN({seq_col}) AS BIGINT) AS low, CAST(MAX({seq_col}) AS BIGINT) AS high, \
                 CAST((SELECT last_seq FROM {counters} WHERE year = {year}) AS BIGINT) AS last \
                 FROM {table} WHERE {year_col} = {year} AND {seq_col} > {from}"
            );
            // One statement reads the counter and the numbers in one snapshot: a commit
            // still landing after the service stopped cannot split them.
            let issued = db
                .query(move |conn| Ok(conn.get_result::<Issued, _>(diesel::sql_query(sql))?))
                .await
                .unwrap_or_else(|e| panic!("numbering check: {e}"));
            let last = issued.last;
            let expected = last - from;
            if what == "invoice" {
                check.invoices += issued.rows;
            } else {
                check.credit_notes += issued.rows;
            }
            if issued.rows != issued.distinct_seqs {
                check.problems.push(format!(
                    "{what} {year}: {} rows hold {} numbers (duplicates)",
                    issued.rows, issued.distinct_seqs
                ));
            }
            if issued.rows != expected
                || (expected > 0 && (issued.low != Some(from + 1) || issued.high != Some(last)))
            {
                check.problems.push(format!(
                    "{what} {year}: the counter went from {from} to {last}, but {} rows hold numbers {:?}..={:?} (gaps or numbers beyond the counter)",
                    issued.rows, issued.low, issued.high
                ));
            }
        }
    }
    check
}

/// Writes a wrk script to `dir/name`.
pub fn write_script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, body).unwrap_or_else(|e| panic!("write {name}: {e}"));
    path
}

/// The Lua lines every script starts with: thread ids (1, 2, ...), and a random
/// generator seeded per thread and per `seed`, so that threads (and two wrk processes
/// with different seeds) do not send the same sequence.
fn preamble(seed: u32) -> String {
    format!(
        "local counter = 1\n\
         function setup(thread)\n  thread:set(\"tid\", counter)\n  counter = counter + 1\nend\n\
         function init(args)\n  math.randomseed({seed} + tid * 7919)\n  i = tid - wrk_threads\nend\n\
         wrk.headers[\"Content-Type\"] = \"application/json\"\n"
    )
}

/// A script whose requests each come from a random one of `tokens`: `POST path` with
/// the body the Lua expression `body` builds (it may use `math.random`).
pub fn tokens_script(
    dir: &Path,
    name: &str,
    tokens: &[String],
    path: &str,
    body: &str,
    seed: u32,
) -> PathBuf {
    let mut script = String::with_capacity(tokens.len() * 50 + 1_000);
    script.push_str("local tokens = {\n");
    for token in tokens {
        let _ = writeln!(script, "\"{token}\",");
    }
    script.push_str("}\nwrk_threads = 1\n");
    script.push_str(&preamble(seed));
    let _ = write!(
        script,
        "request = function()\n  \
         wrk.headers[\"Authorization\"] = \"Bearer \" .. tokens[math.random(#tokens)]\n  \
         return wrk.format(\"POST\", \"{path}\", nil, {body})\nend\n"
    );
    write_script(dir, name, &script)
}

/// A script that sends `POST /api/admin/orders/:id/refund` (to credit) for each of
/// `ids` once: thread k of `threads` sends ids k, k + threads, ...; past the end of
/// the list it starts over, and the repeats are answered 409 (refunded in full).
pub fn refund_script(dir: &Path, ids: &[i64], threads: u32) -> PathBuf {
    let mut script = String::with_capacity(ids.len() * 9 + 1_000);
    script.push_str("local ids = {\n");
    for chunk in ids.chunks(16) {
        let line: Vec<String> = chunk.iter().map(i64::to_string).collect();
        let _ = writeln!(script, "{},", line.join(","));
    }
    let _ = writeln!(script, "}}\nwrk_threads = {}", threads.max(1));
    script.push_str(&preamble(1));
    script.push_str(
        "request = function()\n  i = i + wrk_threads\n  local id = ids[((i - 1) % #ids) + 1]\n  \
         return wrk.format(\"POST\", \"/api/admin/orders/\" .. id .. \"/refund\", nil, \
         '{\"reason\":\"bench\",\"to\":\"credit\"}')\nend\n",
    );
    write_script(dir, "refund.lua", &script)
}

/// apply-plan for random users `2..=last_user` and plans `2..=plans`, seeded by `seed`.
pub fn apply_script(dir: &Path, name: &str, last_user: i64, plans: i64, seed: u32) -> PathBuf {
    let mut script = String::from("wrk_threads = 1\n");
    script.push_str(&preamble(seed));
    let _ = write!(
        script,
        "request = function()\n  local id = math.random(2, {last_user})\n  local plan = math.random(2, {plans})\n  \
         return wrk.format('POST', '/api/admin/users/' .. id .. '/apply-plan', nil, '{{\"planId\":' .. plan .. '}}')\nend\n"
    );
    write_script(dir, name, &script)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test
mod tests {
    use super::*;
    use crate::TestDatabase;
    use tariff_persistence::PoolOptions;

    /// Orders of user 1 numbered `(2026, seq)` for each of `seqs`, with ids from `first`.
    async fn numbered(db: &Database, first: i64, seqs: &[i64]) {
        let rows: Vec<String> = seqs
            .iter()
            .enumerate()
            .map(|(i, seq)| {
                let id = first + i64::try_from(i).unwrap();
                format!(
                    "({id}, 'user', 1, 1, 1, 'expired', 'USD', 100, 0, 0, 100, 'Plan 1 (monthly)', \
                     '2026-01-01 00:00:00', 2026, {seq}, 'INV-2026-{seq:06}')"
                )
            })
            .collect();
        run(
            db,
            "numbered orders",
            format!(
                "INSERT INTO orders (id, account_kind, account_id, user_id, plan_id, status, currency, subtotal_minor, \
                 tax_rate_bp, tax_minor, total_minor, description, created_at, invoice_year, invoice_seq, \
                 invoice_number) VALUES {};",
                rows.join(",")
            ),
        )
        .await;
    }

    async fn counter_at(db: &Database, last: i64) {
        run(
            db,
            "counter",
            format!(
                "DELETE FROM invoice_counters WHERE year = 2026; \
                 INSERT INTO invoice_counters (year, last_seq) VALUES (2026, {last});"
            ),
        )
        .await;
    }

    #[tokio::test]
    async fn the_numbering_check_accepts_exact_numbers_and_finds_gaps_and_strays() {
        for test_db in TestDatabase::all() {
            let db = Database::connect(test_db.url(), &PoolOptions::default()).unwrap();
            db.migrate().await.unwrap();
            let (t, f) = if is_postgres(&db) {
                ("TRUE", "FALSE")
            } else {
                ("1", "0")
            };
            run(
                &db,
                "plan and user",
                format!(
                    "INSERT INTO plans (id, name, plan_type, description, currency, price_monthly_minor, \
                     price_hourly_minor, price_yearly_minor, memory, disk, cpu, servers, sites, databases, backups, \
                     port_count, tunnel_port_count, email_daily_limit, email_queue_limit, server_create, \
                     server_update, server_delete, site_create, site_update, site_delete, features, hidden, \
                     is_default, stripe_plan_id, created_at, updated_at) VALUES (1, 'Plan 1', 'paid', 'p', 'USD', \
                     100, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, {t}, {t}, {t}, {t}, {t}, {t}, '{{}}', {f}, {t}, \
                     NULL, '2026-01-01 00:00:00', '2026-01-01 00:00:00');\n\
                     INSERT INTO users (id, email, name, role, country, created_at, updated_at) VALUES \
                     (1, 'u1@bench.example', 'U', 'user', 'DE', '2026-01-01 00:00:00', '2026-01-01 00:00:00');"
                ),
            )
            .await;

            let before = numbering(&db).await;
            numbered(&db, 1, &[1, 2, 3]).await;
            counter_at(&db, 3).await;
            let check = check_numbering(&db, &before).await;
            assert_eq!(check.invoices, 3);
            assert!(check.problems.is_empty(), "{:?}", check.problems);

            // The counter moves to 5, but only number 5 is held: 4 is missing.
            let before = numbering(&db).await;
            numbered(&db, 10, &[5]).await;
            counter_at(&db, 5).await;
            let check = check_numbering(&db, &before).await;
            assert_eq!(check.problems.len(), 1, "{:?}", check.problems);
            assert!(check.problems[0].contains("gaps"));

            // The counter moves to 6, but the number held is 7.
            let before = numbering(&db).await;
            numbered(&db, 20, &[7]).await;
            counter_at(&db, 6).await;
            let check = check_numbering(&db, &before).await;
            assert_eq!(check.problems.len(), 1, "{:?}", check.problems);
        }
    }
}
