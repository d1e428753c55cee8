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
            eprintln!("SKIPPING PostgreSQL part: TEST_DATABASE_URL is not set");
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
