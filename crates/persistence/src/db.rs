//! The one connection enum, its pool, migrations, and the bridge that runs sync diesel
//! code on tokio's blocking pool.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Semaphore;

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::r2d2::{ConnectionManager, CustomizeConnection, Pool, PooledConnection};
use diesel::sqlite::SqliteConnection;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
use tariff_domain::RepoError;

use crate::errors::{map_pool_error, DbError};
use crate::sqlite_writer::SqliteWriter;

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");

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
    #[error("cannot start the SQLite writer thread")]
    Writer(#[source] std::io::Error),
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct SqlitePragmas {
    busy_timeout_ms: u128,
    full_sync: bool,
}

impl SqlitePragmas {
    pub(crate) fn apply(&self, conn: &mut SqliteConnection) -> diesel::QueryResult<()> {
        let sync = if self.full_sync { "FULL" } else { "NORMAL" };
        conn.batch_execute(&format!(
            "PRAGMA journal_mode = WAL; PRAGMA busy_timeout = {}; PRAGMA foreign_keys = ON; \
             PRAGMA synchronous = {sync};",
            self.busy_timeout_ms
        ))
    }
}

impl CustomizeConnection<SqliteConnection, diesel::r2d2::Error> for SqlitePragmas {
    fn on_acquire(&self, conn: &mut SqliteConnection) -> Result<(), diesel::r2d2::Error> {
        self.apply(conn).map_err(diesel::r2d2::Error::QueryError)
    }
}

/// A pooled connection to either backend. Repository code is written once and compiled
/// for both through [`with_conn!`](crate::with_conn) and [`transaction!`](crate::transaction).
pub enum DbConn {
    Sqlite(SqlitePooled),
    Postgres(PooledConnection<ConnectionManager<PgConnection>>),
}

/// A SQLite connection (pooled, or the writer's own) and the process-wide writer lock
/// of its database.
pub struct SqlitePooled {
    pub(crate) conn: SqliteHandle,
    pub(crate) writer: Arc<Mutex<()>>,
}

pub(crate) enum SqliteHandle {
    Pooled(PooledConnection<ConnectionManager<SqliteConnection>>),
    Writer(SqliteConnection),
}

impl SqlitePooled {
    /// Runs `body` in a write transaction. On the writer connection that is a savepoint
    /// inside the writer's batch (see `sqlite_writer`). A pooled connection first takes
    /// the process-wide writer lock, so its writers take turns with the writer thread
    /// there instead of in SQLite's busy handler, which sleeps between retries (up to
    /// 100 ms each), then opens `BEGIN IMMEDIATE`.
    pub fn write_transaction<T>(
        &mut self,
        body: impl FnOnce(&mut SqliteConnection) -> Result<T, DbError>,
    ) -> Result<T, DbError> {
        use diesel::Connection;
        match &mut self.conn {
            SqliteHandle::Writer(conn) => conn.transaction(body),
            SqliteHandle::Pooled(conn) => {
                let _turn = self
                    .writer
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                conn.immediate_transaction(body)
            }
        }
    }
}

impl std::ops::Deref for SqlitePooled {
    type Target = SqliteConnection;
    fn deref(&self) -> &SqliteConnection {
        match &self.conn {
            SqliteHandle::Pooled(conn) => conn,
            SqliteHandle::Writer(conn) => conn,
        }
    }
}

impl std::ops::DerefMut for SqlitePooled {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        match &mut self.conn {
            SqliteHandle::Pooled(conn) => conn,
            SqliteHandle::Writer(conn) => conn,
        }
    }
}

#[derive(Clone)]
enum DbPool {
    Sqlite(Pool<ConnectionManager<SqliteConnection>>),
    Postgres(Pool<ConnectionManager<PgConnection>>),
}

/// The database handle every repository shares. Cheap to clone.
#[derive(Clone)]
pub struct Database {
    pool: DbPool,
    /// One permit per pooled connection: requests beyond that wait here, asynchronously,
    /// instead of each parking a blocking thread on the pool's lock.
    gate: Arc<Semaphore>,
    acquire_wait: Duration,
    sqlite_writer: Arc<Mutex<()>>,
    /// SQLite only: the writer thread every write goes through (see [`Database::write`]).
    sqlite_writer_thread: Option<Arc<SqliteWriter>>,
    /// See [`Database::counter_turn`].
    counter_turn: Arc<Mutex<()>>,
    /// Set while the database is known to be unreachable, so that waiting requests
    /// fail fast instead of each waiting out the whole first try.
    down: Arc<AtomicBool>,
}

/// With no live connection at all, a pool that cannot open one in this time means the
/// database is down: answer 503 now rather than after the whole `acquire_timeout`.
const UNREACHABLE_AFTER: Duration = Duration::from_secs(1);

/// While it is known to be unreachable, the first try is this short (the pool keeps
/// reconnecting in the background, so recovery is noticed within its retry delay).
const WHILE_DOWN: Duration = Duration::from_millis(200);

impl DbPool {
    fn get(
        &self,
        timeout: Duration,
        writer: &Arc<Mutex<()>>,
    ) -> Result<DbConn, diesel::r2d2::PoolError> {
        match self {
            DbPool::Sqlite(p) => p.get_timeout(timeout).map(|conn| {
                DbConn::Sqlite(SqlitePooled {
                    conn: SqliteHandle::Pooled(conn),
                    writer: writer.clone(),
                })
            }),
            DbPool::Postgres(p) => p.get_timeout(timeout).map(DbConn::Postgres),
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
    fn checkout(
        &self,
        timeout: Duration,
        down: &AtomicBool,
        writer: &Arc<Mutex<()>>,
    ) -> Result<DbConn, diesel::r2d2::PoolError> {
        let probe = if down.load(Ordering::Relaxed) {
            WHILE_DOWN
        } else {
            UNREACHABLE_AFTER
        };
        let first = timeout.min(probe);
        let result = match self.get(first, writer) {
            Ok(conn) => Ok(conn),
            Err(err) if self.live_connections() == 0 => {
                down.store(true, Ordering::Relaxed);
                return Err(err);
            }
            Err(err) if first >= timeout => Err(err),
            Err(_) => self.get(timeout.saturating_sub(first), writer),
        };
        if result.is_ok() {
            down.store(false, Ordering::Relaxed);
        }
        result
    }
}

/// Runs `$body` with `$c` bound to the concrete connection, compiled once per backend.
#[macro_export]
macro_rules! with_conn {
    ($conn:expr, $c:ident => $body:expr) => {
        match $conn {
            $crate::db::DbConn::Sqlite(pooled) => {
                let $c: &mut ::diesel::sqlite::SqliteConnection = &mut *pooled;
                $body
            }
            $crate::db::DbConn::Postgres(pooled) => {
                let $c: &mut ::diesel::pg::PgConnection = &mut *pooled;
                $body
            }
        }
    };
}

/// Runs `$body` in one write transaction: on SQLite a savepoint of the writer thread's
/// batch, or `BEGIN IMMEDIATE` on a pooled connection (see
/// [`SqlitePooled::write_transaction`]); a plain transaction on PostgreSQL. The body
/// returns `Result<_, DbError>`; an `Err` rolls back.
#[macro_export]
macro_rules! transaction {
    ($conn:expr, $c:ident => $body:expr) => {
        match $conn {
            $crate::db::DbConn::Sqlite(pooled) => pooled.write_transaction(|$c| $body),
            $crate::db::DbConn::Postgres(pooled) => {
                ::diesel::connection::Connection::transaction::<_, $crate::errors::DbError, _>(
                    &mut **pooled,
                    |$c| $body,
                )
            }
        }
    };
}

/// Runs `$body` in one read-only snapshot, so that several reads (a count and a page)
/// see the same data: a deferred `BEGIN` on SQLite (in WAL mode the snapshot is taken at
/// the first read and never blocks writers), `REPEATABLE READ READ ONLY` on PostgreSQL.
/// The body returns `Result<_, DbError>`.
#[macro_export]
macro_rules! read_snapshot {
    ($conn:expr, $c:ident => $body:expr) => {
        match $conn {
            $crate::db::DbConn::Sqlite(pooled) => ::diesel::connection::Connection::transaction::<
                _,
                $crate::errors::DbError,
                _,
            >(&mut **pooled, |$c| $body),
            $crate::db::DbConn::Postgres(pooled) => {
                let conn: &mut ::diesel::pg::PgConnection = &mut *pooled;
                conn.build_transaction()
                    .read_only()
                    .repeatable_read()
                    .run::<_, $crate::errors::DbError, _>(|$c| $body)
            }
        }
    };
}

/// `(offset, limit)` of a page as diesel's `.offset()` / `.limit()` take them. Every
/// valid `PageRequest` fits (see `tariff_domain::shared::MAX_PAGE`).
pub fn sql_bounds(request: tariff_domain::PageRequest) -> (i64, i64) {
    (
        i64::try_from(request.offset()).unwrap_or(i64::MAX),
        i64::try_from(request.limit()).unwrap_or(i64::MAX),
    )
}

impl Database {
    /// Opens a pool for `sqlite://PATH` (or a bare path) or `postgres://...`.
    pub fn connect(url: &str, options: &PoolOptions) -> Result<Database, SetupError> {
        let mut sqlite_writer_thread = None;
        let sqlite_writer: Arc<Mutex<()>> = Arc::default();
        let pool = match backend_of(url)? {
            Backend::Sqlite => {
                let path = sqlite_path(url);
                let pragmas = SqlitePragmas {
                    busy_timeout_ms: options.sqlite_busy_timeout.as_millis(),
                    full_sync: options.sqlite_full_sync,
                };
                let thread = SqliteWriter::start(
                    path.clone(),
                    pragmas,
                    sqlite_writer.clone(),
                    options.acquire_timeout,
                )
                .map_err(SetupError::Writer)?;
                sqlite_writer_thread = Some(Arc::new(thread));
                let manager = ConnectionManager::<SqliteConnection>::new(path);
                // No liveness query on checkout: a SQLite connection is a file handle
                // that cannot drop, and the `SELECT 1` cost a statement per request.
                let pool = Pool::builder()
                    .max_size(options.max_connections.max(1))
                    .min_idle(Some(1))
                    .test_on_check_out(false)
                    .connection_timeout(options.acquire_timeout)
                    .connection_customizer(Box::new(pragmas))
                    .build(manager)
                    .map_err(SetupError::Pool)?;
                DbPool::Sqlite(pool)
            }
            Backend::Postgres => {
                let manager = ConnectionManager::<PgConnection>::new(with_connect_timeout(url));
                // build_unchecked: start even while PostgreSQL is down; readiness says so.
                let pool = Pool::builder()
                    .max_size(options.max_connections.max(1))
                    .min_idle(Some(1))
                    .connection_timeout(options.acquire_timeout)
                    .build_unchecked(manager);
                DbPool::Postgres(pool)
            }
        };
        Ok(Database {
            pool,
            gate: Arc::new(Semaphore::new(options.max_connections.max(1) as usize)),
            acquire_wait: options.acquire_timeout,
            sqlite_writer,
            sqlite_writer_thread,
            counter_turn: Arc::default(),
            down: Arc::new(AtomicBool::new(false)),
        })
    }

    pub fn backend(&self) -> Backend {
        match self.pool {
            DbPool::Sqlite(_) => Backend::Sqlite,
            DbPool::Postgres(_) => Backend::Postgres,
        }
    }

    /// Applies pending embedded migrations; returns the versions applied.
    pub async fn migrate(&self) -> Result<Vec<String>, SetupError> {
        let applied = self
            .run(|conn| {
                let result = match conn {
                    DbConn::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS).map(versions),
                    DbConn::Postgres(c) => {
                        c.run_pending_migrations(POSTGRES_MIGRATIONS).map(versions)
                    }
                };
                result.map_err(|e| RepoError::internal(e.to_string()))
            })
            .await;
        match applied {
            Ok(v) => Ok(v),
            Err(RepoError::Internal(e)) => Err(SetupError::Migration(e.to_string())),
            Err(other) => Err(SetupError::Connect(other)),
        }
    }

    /// Runs sync diesel code on the blocking pool with a pooled connection, never on an
    /// async worker. Pool time-outs become `RepoError::Unavailable`.
    pub async fn run<T, F>(&self, work: F) -> Result<T, RepoError>
    where
        F: FnOnce(&mut DbConn) -> Result<T, RepoError> + Send + 'static,
        T: Send + 'static,
    {
        let permit = tokio::time::timeout(self.acquire_wait, self.gate.clone().acquire_owned())
            .await
            .map_err(|_| {
                RepoError::Unavailable("timed out waiting for a database connection".into())
            })?
            .map_err(|closed| RepoError::Internal(Box::new(closed)))?;
        let pool = self.pool.clone();
        let writer = self.sqlite_writer.clone();
        let timeout = self.acquire_wait;
        let down = self.down.clone();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let mut conn = pool
                .checkout(timeout, &down, &writer)
                .map_err(map_pool_error)?;
            work(&mut conn)
        })
        .await
        .map_err(|join| RepoError::Internal(Box::new(join)))?
    }

    /// Like [`run`](Self::run) for bodies that return diesel errors, mapped in one place.
    pub async fn query<T, F>(&self, work: F) -> Result<T, RepoError>
    where
        F: FnOnce(&mut DbConn) -> Result<T, DbError> + Send + 'static,
        T: Send + 'static,
    {
        self.run(move |conn| work(conn).map_err(RepoError::from))
            .await
    }

    /// Like [`query`](Self::query) for bodies that write. On PostgreSQL it is the same.
    /// On SQLite, which admits one writer at a time, every write goes to the writer
    /// thread, which runs the queued writes on its own connection in batches, one
    /// transaction and one commit per batch (group commit, see `sqlite_writer`). The
    /// caller's answer comes after its batch commits.
    pub async fn write<T, F>(&self, work: F) -> Result<T, RepoError>
    where
        F: FnOnce(&mut DbConn) -> Result<T, DbError> + Send + 'static,
        T: Send + 'static,
    {
        match &self.sqlite_writer_thread {
            Some(writer) => writer.write(work).await,
            None => self.query(work).await,
        }
    }

    /// The turn for the year's invoice counter (PostgreSQL). Every activation locks
    /// that one row until it commits; when all of this instance's activations queue on
    /// the row lock, each commit wakes every waiter and all but one go back to sleep,
    /// which cost more than the work. An activation takes this turn (in its blocking
    /// thread) just before it locks the counter and gives it back as soon as its number
    /// is written, before its commit: the next one then waits alone on the row lock and
    /// goes on the moment the commit releases it. Only for speed: the row lock still
    /// orders the activations, of this instance and of others. Nothing waits on another
    /// activation's lock while holding the turn except the counter row itself.
    pub(crate) fn counter_turn(&self) -> Arc<Mutex<()>> {
        self.counter_turn.clone()
    }

    /// A round trip to the database, for readiness checks.
    pub async fn ping(&self) -> Result<(), RepoError> {
        self.query(|conn| with_conn!(conn, c => c.batch_execute("SELECT 1").map_err(DbError::from)))
            .await
    }
}

fn versions(applied: Vec<diesel::migration::MigrationVersion<'_>>) -> Vec<String> {
    applied.into_iter().map(|v| v.to_string()).collect()
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

fn sqlite_path(url: &str) -> String {
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
fn with_connect_timeout(url: &str) -> String {
    if url.contains("connect_timeout=") {
        url.to_owned()
    } else if url.contains('?') {
        format!("{url}&connect_timeout=2")
    } else {
        format!("{url}?connect_timeout=2")
    }
}

#[async_trait::async_trait]
impl tariff_domain::shared::HealthProbe for Database {
    async fn ping(&self) -> Result<(), RepoError> {
        Database::ping(self).await
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
