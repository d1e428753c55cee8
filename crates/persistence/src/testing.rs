//! Throwaway databases for tests: a SQLite file in a temp dir, or a fresh schema in the
//! PostgreSQL named by `TEST_DATABASE_URL`. Each is dropped with its guard.

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::Connection;
use rand::Rng;

/// A fresh, empty database; the URL points the service or a pool at it.
pub struct TestDatabase {
    url: String,
    backend: crate::Backend,
    _dir: Option<tempfile::TempDir>,
    pg_cleanup: Option<(String, String)>,
}

impl TestDatabase {
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn backend(&self) -> crate::Backend {
        self.backend
    }

    /// A new SQLite file in its own temp directory (never `:memory:`: every pooled
    /// connection would get its own database).
    pub fn sqlite() -> TestDatabase {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
        let url = format!("sqlite://{}", dir.path().join("tariff.db").display());
        TestDatabase {
            url,
            backend: crate::Backend::Sqlite,
            _dir: Some(dir),
            pg_cleanup: None,
        }
    }

    /// A new schema in `TEST_DATABASE_URL`, or `None` (with a loud message) when unset.
    pub fn postgres() -> Option<TestDatabase> {
        let Ok(base) = std::env::var("TEST_DATABASE_URL") else {
            announce_skip("the PostgreSQL half of these tests: TEST_DATABASE_URL is not set");
            return None;
        };
        let schema = format!("t_{:016x}", rand::thread_rng().gen::<u64>());
        let mut conn = PgConnection::establish(&base)
            .unwrap_or_else(|e| panic!("TEST_DATABASE_URL is set but unreachable: {e}"));
        conn.batch_execute(&format!("CREATE SCHEMA {schema}"))
            .unwrap_or_else(|e| panic!("create schema: {e}"));
        let sep = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{sep}options=-csearch_path%3D{schema}");
        Some(TestDatabase {
            url,
            backend: crate::Backend::Postgres,
            _dir: None,
            pg_cleanup: Some((base, schema)),
        })
    }

    /// A handle on a database another guard owns, e.g. for a second service instance
    /// on the same database. Dropping it removes nothing: keep the owner alive.
    pub fn attached(url: &str) -> TestDatabase {
        let backend = crate::backend_of(url).unwrap_or_else(|e| panic!("{e}"));
        TestDatabase {
            url: url.to_owned(),
            backend,
            _dir: None,
            pg_cleanup: None,
        }
    }

    /// SQLite always, PostgreSQL too when `TEST_DATABASE_URL` is set.
    pub fn all() -> Vec<TestDatabase> {
        let mut dbs = vec![TestDatabase::sqlite()];
        dbs.extend(TestDatabase::postgres());
        dbs
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Some((base, schema)) = self.pg_cleanup.take() {
            if let Ok(mut conn) = PgConnection::establish(&base) {
                let _ = conn.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
            }
        }
    }
}

/// A user seeded straight into a test database, with an API token for Bearer calls.
#[derive(Clone, Debug)]
pub struct SeededUser {
    pub id: i64,
    pub email: String,
    pub token: String,
}

/// Inserts a user (`role` is `user` or `admin`, no password) and an API token for it,
/// bypassing the services: test set-up only. The token is returned in clear; only its
/// hash is stored.
pub async fn seed_user(db: &crate::Database, email: &str, role: &str) -> SeededUser {
    use crate::schema::{api_tokens, users};
    use diesel::prelude::*;
    use tariff_domain::identity::{generate_secret, hash_secret};

    let email = email.to_owned();
    let role = role.to_owned();
    let token = generate_secret("tff_");
    let token_hash = hash_secret(&token);
    let result = db
        .write({
            let email = email.clone();
            move |conn| {
                conn.write_transaction(|c| {
                    let now = chrono::Utc::now().naive_utc();
                    let id: i64 = c.get_result(
                        diesel::insert_into(users::table)
                            .values((
                                users::email.eq(&email),
                                users::name.eq(&email),
                                users::role.eq(&role),
                                users::created_at.eq(now),
                                users::updated_at.eq(now),
                            ))
                            .returning(users::id),
                    )?;
                    c.execute(diesel::insert_into(api_tokens::table).values((
                        api_tokens::user_id.eq(id),
                        api_tokens::name.eq("test"),
                        api_tokens::token_hash.eq(&token_hash),
                        api_tokens::created_at.eq(now),
                    )))?;
                    Ok(id)
                })
            }
        })
        .await;
    let id = result.unwrap_or_else(|e| panic!("seed user {email}: {e}"));
    SeededUser { id, email, token }
}

/// Runs raw SQL (several statements allowed) for bulk test and benchmark set-up.
pub async fn execute_sql(
    db: &crate::Database,
    sql: String,
) -> Result<(), tariff_domain::RepoError> {
    db.query(move |conn| Ok(conn.batch_execute(&sql)?)).await
}

/// Adds an API token for an existing user and returns it in clear (set-up only).
pub async fn add_token(db: &crate::Database, user_id: i64) -> String {
    use crate::schema::api_tokens;
    use diesel::prelude::*;
    use tariff_domain::identity::{generate_secret, hash_secret};

    let token = generate_secret("tff_");
    let token_hash = hash_secret(&token);
    db.query(move |conn| {
        conn.execute(diesel::insert_into(api_tokens::table).values((
            api_tokens::user_id.eq(user_id),
            api_tokens::name.eq("bench"),
            api_tokens::token_hash.eq(&token_hash),
            api_tokens::created_at.eq(chrono::Utc::now().naive_utc()),
        )))?;
        Ok(())
    })
    .await
    .unwrap_or_else(|e| panic!("add token: {e}"));
    token
}

/// Every secret-derived value stored: password hashes, API token hashes and session
/// hashes. Tests assert that no response body ever contains one of them.
pub async fn stored_secrets(db: &crate::Database) -> Vec<String> {
    use crate::schema::{api_tokens, sessions, users};
    use diesel::prelude::*;

    db.query(|c| {
        let hashes: Vec<Option<String>> = c.load(users::table.select(users::password_hash))?;
        let mut all: Vec<String> = hashes.into_iter().flatten().collect();
        all.extend(c.load::<String, _>(api_tokens::table.select(api_tokens::token_hash))?);
        all.extend(c.load::<String, _>(sessions::table.select(sessions::token_hash))?);
        Ok(all)
    })
    .await
    .unwrap_or_else(|e| panic!("read stored secrets: {e}"))
}

/// Inserts a pending order of `plan_id` for `user_id`, bypassing the services: test
/// set-up for rules that depend on orders existing (e.g. a referenced plan cannot be
/// deleted). Returns the order id.
pub async fn seed_order(db: &crate::Database, user_id: i64, plan_id: i64) -> i64 {
    use crate::schema::orders;
    use diesel::prelude::*;

    db.query(move |conn| {
        Ok(conn.get_result(
            diesel::insert_into(orders::table)
                .values((
                    orders::account_kind.eq("user"),
                    orders::account_id.eq(user_id),
                    orders::user_id.eq(Some(user_id)),
                    orders::plan_id.eq(plan_id),
                    orders::status.eq("pending"),
                    orders::currency.eq("USD"),
                    orders::subtotal_minor.eq(0_i64),
                    orders::tax_rate_bp.eq(0),
                    orders::tax_minor.eq(0_i64),
                    orders::total_minor.eq(0_i64),
                    orders::description.eq("test order"),
                    orders::created_at.eq(chrono::Utc::now().naive_utc()),
                ))
                .returning(orders::id),
        )?)
    })
    .await
    .unwrap_or_else(|e| panic!("seed order: {e}"))
}

/// Says, once per test process and reason, that part of the tests did not run. Written
/// straight to the process's stderr: the test harness captures `eprintln!` of passing
/// tests, so a skip reported that way would vanish behind a row of "ok".
pub fn announce_skip(what: &str) {
    use std::io::Write;
    static ANNOUNCED: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let mut announced = match ANNOUNCED.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    };
    if announced.iter().any(|seen| seen == what) {
        return;
    }
    announced.push(what.to_owned());
    let program = std::env::args().next().unwrap_or_default();
    let binary = std::path::Path::new(&program)
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    // Ignoring a failed write is right here: there is nowhere else to say it.
    let _ = writeln!(
        std::io::stderr().lock(),
        "\nSKIPPED in {binary}: {what}. An \"ok\" from this binary does not cover it.\n"
    );
}
