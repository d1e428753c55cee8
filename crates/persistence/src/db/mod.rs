//! The database handle: its pool, migrations, and the bridge that runs sync diesel code
//! off the async workers (reads on tokio's blocking pool, SQLite writes on the writer
//! thread, PostgreSQL activations on the batch lanes). The backend split itself is
//! [`DbConn`] (`conn.rs`).

mod conn;
mod pg_batches;
mod pool;
mod sqlite_writer;

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use diesel::pg::PgConnection;
use diesel::r2d2::{ConnectionManager, Pool};
use diesel::sqlite::SqliteConnection;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
use tariff_domain::{AccountRef, RepoError};
use tokio::sync::Semaphore;

use crate::errors::{map_pool_error, DbError};
use crate::orders::{Issued, Numbering};
use pg_batches::PgBatches;
use pool::{
    sqlite_path, with_connect_timeout, DbPool, SqlitePragmas, READER_CACHE_KIB, WRITER_CACHE_KIB,
};
use sqlite_writer::SqliteWriter;

pub use conn::{Columns, DbConn, SqliteConn};
pub use pool::{backend_of, Backend, PoolOptions, SetupError};

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");

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
    /// PostgreSQL only: the lanes activations are batched on (see [`Database::activation`]).
    pg_batches: Option<Arc<PgBatches>>,
    /// Set while the database is known to be unreachable, so that waiting requests
    /// fail fast instead of each waiting out the whole first try.
    down: Arc<AtomicBool>,
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
        let mut pg_batches = None;
        let sqlite_writer: Arc<Mutex<()>> = Arc::default();
        let pool = match backend_of(url)? {
            Backend::Sqlite => {
                let path = sqlite_path(url);
                let pragmas = SqlitePragmas {
                    busy_timeout_ms: options.sqlite_busy_timeout.as_millis(),
                    full_sync: options.sqlite_full_sync,
                    cache_kib: READER_CACHE_KIB,
                };
                let thread = SqliteWriter::start(
                    path.clone(),
                    SqlitePragmas {
                        cache_kib: WRITER_CACHE_KIB,
                        ..pragmas
                    },
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
                let url = with_connect_timeout(url);
                let lanes = PgBatches::start(&url).map_err(SetupError::Writer)?;
                pg_batches = Some(Arc::new(lanes));
                let manager = ConnectionManager::<PgConnection>::new(url);
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
            pg_batches,
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
                    DbConn::Sqlite(sqlite) => sqlite.conn.run_pending_migrations(SQLITE_MIGRATIONS),
                    DbConn::Postgres(conn) => conn.run_pending_migrations(POSTGRES_MIGRATIONS),
                }
                .map(versions);
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
        F: FnOnce(&mut DbConn<'_>) -> Result<T, RepoError> + Send + 'static,
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
            let mut pooled = pool.checkout(timeout, &down).map_err(map_pool_error)?;
            work(&mut pooled.borrow(&writer))
        })
        .await
        .map_err(|join| RepoError::Internal(Box::new(join)))?
    }

    /// Like [`run`](Self::run) for bodies that return diesel errors, mapped in one place.
    pub async fn query<T, F>(&self, work: F) -> Result<T, RepoError>
    where
        F: FnOnce(&mut DbConn<'_>) -> Result<T, DbError> + Send + 'static,
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
        F: FnOnce(&mut DbConn<'_>) -> Result<T, DbError> + Send + 'static,
        T: Send + 'static,
    {
        match &self.sqlite_writer_thread {
            Some(writer) => writer.write(work).await,
            None => self.query(work).await,
        }
    }

    /// Runs an activation of `account`: a write that may issue invoice numbers, which
    /// `work` leaves to `Numbering`. On PostgreSQL it runs on the account's batch lane,
    /// in its own savepoint of a batch that numbers all its activations at once and
    /// commits once (see `pg_batches`); the numbers it was given come back with its
    /// result, and what it read inside still shows placeholders for them. On SQLite (or
    /// without an account) it is [`write`](Self::write) with numbers taken at once, and
    /// the numbers are already in the result.
    pub(crate) async fn activation<T, F>(
        &self,
        account: Option<AccountRef>,
        work: F,
    ) -> Result<(T, Vec<Issued>), RepoError>
    where
        F: FnOnce(&mut DbConn<'_>, Numbering<'_>) -> Result<T, DbError> + Send + 'static,
        T: Send + 'static,
    {
        match (&self.pg_batches, account) {
            (Some(lanes), Some(account)) => lanes.activate(account, work).await,
            _ => {
                let value = self.write(move |conn| work(conn, Numbering::Now)).await?;
                Ok((value, Vec::new()))
            }
        }
    }

    /// A round trip to the database, for readiness checks.
    pub async fn ping(&self) -> Result<(), RepoError> {
        self.query(|conn| Ok(conn.batch_execute("SELECT 1")?)).await
    }
}

fn versions(applied: Vec<diesel::migration::MigrationVersion<'_>>) -> Vec<String> {
    applied.into_iter().map(|v| v.to_string()).collect()
}

#[async_trait::async_trait]
impl tariff_domain::shared::HealthProbe for Database {
    async fn ping(&self) -> Result<(), RepoError> {
        Database::ping(self).await
    }
}
