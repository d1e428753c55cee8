//! The connection pools of both backends, their settings, and choosing a backend from a URL.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::r2d2::{ConnectionManager, CustomizeConnection, Pool, PooledConnection};
use diesel::sqlite::SqliteConnection;
use tariff_domain::RepoError;

use super::conn::{DbConn, SqliteConn, SqliteWrites};

/// Which database a URL selects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// Pool settings; defaults suit a small service on two cores.
#[derive(Clone, Debug)]
pub struct PoolOptions {
    pub max_connections: u32,
    /// How long a request waits for a connection before answering 503.
    pub acquire_timeout: Duration,
    /// SQLite `busy_timeout`: how long a writer waits for the write lock.
    pub sqlite_busy_timeout: Duration,
    /// SQLite `synchronous=FULL` (fsync on every commit) when true, NORMAL otherwise.
    pub sqlite_full_sync: bool,
}

impl Default for PoolOptions {
    fn default() -> Self {
        PoolOptions {
            max_connections: 8,
            acquire_timeout: Duration::from_secs(2),
            sqlite_busy_timeout: Duration::from_secs(5),
            sqlite_full_sync: true,
        }
    }
}

/// Start-up failures: a bad URL, an unreachable server, a failed migration.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("unsupported database URL `{0}`: use sqlite://PATH or postgres://...")]
    UnsupportedUrl(String),
    #[error("cannot open the database pool")]
    Pool(#[source] diesel::r2d2::PoolError),
    #[error("cannot reach the database")]
    Connect(#[source] RepoError),
    #[error("migration failed: {0}")]
    Migration(String),
    #[error("cannot start the database writer threads")]
    Writer(#[source] std::io::Error),
}

/// The page cache of each pooled (reading) SQLite connection, in KiB. SQLite's default
/// is about 2 MB a connection, filled as a connection reads and kept while it is open:
/// on a large database, the connections that served the start-up sweep and a few cold
/// reads each held their 2 MB, so an idle service's memory grew with the data. Pages
/// a reader does not hold come from the operating system's file cache (a system call,
/// not a disk read); the hot reads are answered from the service's own caches.
pub(crate) const READER_CACHE_KIB: u32 = 512;

/// The page cache of the one writer connection, in KiB (SQLite's default size): every
/// write goes through it, and it keeps the tail pages of the tables and indexes that
/// every activation writes.
pub(crate) const WRITER_CACHE_KIB: u32 = 2000;

#[derive(Debug, Clone, Copy)]
pub(crate) struct SqlitePragmas {
    pub(crate) busy_timeout_ms: u128,
    pub(crate) full_sync: bool,
    /// `cache_size`, in KiB.
    pub(crate) cache_kib: u32,
}

impl SqlitePragmas {
    pub(crate) fn apply(&self, conn: &mut SqliteConnection) -> diesel::QueryResult<()> {
        let sync = if self.full_sync { "FULL" } else { "NORMAL" };
        conn.batch_execute(&format!(
            "PRAGMA journal_mode = WAL; PRAGMA busy_timeout = {}; PRAGMA foreign_keys = ON; \
             PRAGMA synchronous = {sync}; PRAGMA cache_size = -{};",
            self.busy_timeout_ms, self.cache_kib
        ))
    }
}

impl CustomizeConnection<SqliteConnection, diesel::r2d2::Error> for SqlitePragmas {
    fn on_acquire(&self, conn: &mut SqliteConnection) -> Result<(), diesel::r2d2::Error> {
        self.apply(conn).map_err(diesel::r2d2::Error::QueryError)
    }
}

#[derive(Clone)]
pub(crate) enum DbPool {
    Sqlite(Pool<ConnectionManager<SqliteConnection>>),
    Postgres(Pool<ConnectionManager<PgConnection>>),
}

/// A connection checked out of the pool, returned to it when dropped.
pub(crate) enum PooledConn {
    Sqlite(PooledConnection<ConnectionManager<SqliteConnection>>),
    Postgres(PooledConnection<ConnectionManager<PgConnection>>),
}

impl PooledConn {
    /// The connection for one unit of work; `writer` is the process-wide SQLite writer
    /// lock its write transactions take turns on.
    pub(crate) fn borrow<'c>(&'c mut self, writer: &'c Mutex<()>) -> DbConn<'c> {
        match self {
            PooledConn::Sqlite(conn) => DbConn::Sqlite(SqliteConn {
                conn,
                writes: SqliteWrites::TakeTurn(writer),
            }),
            PooledConn::Postgres(conn) => DbConn::Postgres(conn),
        }
    }
}

/// With no live connection at all, a pool that cannot open one in this time means the
/// database is down: answer 503 now rather than after the whole `acquire_timeout`.
const UNREACHABLE_AFTER: Duration = Duration::from_secs(1);

/// While it is known to be unreachable, the first try is this short (the pool keeps
/// reconnecting in the background, so recovery is noticed within its retry delay).
const WHILE_DOWN: Duration = Duration::from_millis(200);

impl DbPool {
    fn get(&self, timeout: Duration) -> Result<PooledConn, diesel::r2d2::PoolError> {
        match self {
            DbPool::Sqlite(p) => p.get_timeout(timeout).map(PooledConn::Sqlite),
            DbPool::Postgres(p) => p.get_timeout(timeout).map(PooledConn::Postgres),
        }
    }

    fn live_connections(&self) -> u32 {
        match self {
            DbPool::Sqlite(p) => p.state().connections,
            DbPool::Postgres(p) => p.state().connections,
        }
    }

    /// A connection within `timeout`, failing early when the database is unreachable:
    /// if none could be had within [`UNREACHABLE_AFTER`] and the pool holds no live
    /// connection (every one was found broken and none could be opened), waiting longer
    /// would only delay the 503. Busy connections mean load: wait the full time.
    pub(crate) fn checkout(
        &self,
        timeout: Duration,
        down: &AtomicBool,
    ) -> Result<PooledConn, diesel::r2d2::PoolError> {
        let probe = if down.load(Ordering::Relaxed) {
            WHILE_DOWN
        } else {
            UNREACHABLE_AFTER
        };
        let first = timeout.min(probe);
        let result = match self.get(first) {
            Ok(conn) => Ok(conn),
            Err(err) if self.live_connections() == 0 => {
                down.store(true, Ordering::Relaxed);
                return Err(err);
            }
            Err(err) if first >= timeout => Err(err),
            Err(_) => self.get(timeout.saturating_sub(first)),
        };
        if result.is_ok() {
            down.store(false, Ordering::Relaxed);
        }
        result
    }
}

/// Chooses the backend from the URL scheme.
pub fn backend_of(url: &str) -> Result<Backend, SetupError> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Backend::Postgres)
    } else if url.starts_with("sqlite:") || !url.contains("://") {
        Ok(Backend::Sqlite)
    } else {
        Err(SetupError::UnsupportedUrl(url.to_owned()))
    }
}

pub(crate) fn sqlite_path(url: &str) -> String {
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    if path.is_empty() {
        "tariff.db".to_owned()
    } else {
        path.to_owned()
    }
}

/// A dead server must fail a connect quickly, not after the OS TCP timeout.
pub(crate) fn with_connect_timeout(url: &str) -> String {
    if url.contains("connect_timeout=") {
        url.to_owned()
    } else if url.contains('?') {
        format!("{url}&connect_timeout=2")
    } else {
        format!("{url}?connect_timeout=2")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_selects_backend() {
        assert_eq!(backend_of("sqlite://tariff.db").unwrap(), Backend::Sqlite);
        assert_eq!(backend_of("tariff.db").unwrap(), Backend::Sqlite);
        assert_eq!(backend_of("postgres://u@h/db").unwrap(), Backend::Postgres);
        assert_eq!(
            backend_of("postgresql://u@h/db").unwrap(),
            Backend::Postgres
        );
        assert!(backend_of("mysql://u@h/db").is_err());
        assert_eq!(sqlite_path("sqlite:///tmp/x.db"), "/tmp/x.db");
        assert_eq!(sqlite_path("sqlite://tariff.db"), "tariff.db");
        assert_eq!(
            with_connect_timeout("postgres://h/d?options=x"),
            "postgres://h/d?options=x&connect_timeout=2"
        );
    }
}
