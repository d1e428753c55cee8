//! The backend split: [`DbConn`], a connection of whichever backend the URL chose,
//! borrowed for one unit of work.
//!
//! Repository code is written once against it. A query is a diesel value whose type
//! names no backend; [`DbConn::load`], [`DbConn::get_result`] and [`DbConn::execute`]
//! run it on the concrete connection. Each of them is one `match` with an arm per
//! backend, and its `where` clause asks that the query compile for every backend. A
//! third backend is one more variant here, one more arm and one more bound in each of
//! these few methods; the compiler then names every query that backend cannot run as
//! written, and only those get a backend-specific branch. SQL that only one backend has
//! (a row lock, one statement doing the work of three) is chosen by a `match` where it
//! is used.

use std::sync::{Mutex, PoisonError};

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::query_dsl::methods::ExecuteDsl;
use diesel::query_dsl::LoadQuery;
use diesel::sqlite::{Sqlite, SqliteConnection};
use diesel::{Connection, QueryResult, RunQueryDsl, Selectable};

use crate::errors::DbError;

/// A connection to one of the backends, borrowed for one unit of work.
pub enum DbConn<'c> {
    Sqlite(SqliteConn<'c>),
    Postgres(&'c mut PgConnection),
}

/// A SQLite connection and how its write transactions take the database's write lock.
pub struct SqliteConn<'c> {
    pub(crate) conn: &'c mut SqliteConnection,
    pub(crate) writes: SqliteWrites<'c>,
}

/// How a write transaction on a SQLite connection gets the database's one write lock.
#[derive(Clone, Copy)]
pub(crate) enum SqliteWrites<'c> {
    /// A pooled connection first takes the process-wide writer lock, so that its writers
    /// take turns with the writer thread there instead of in SQLite's busy handler,
    /// which sleeps between retries (up to 100 ms each), then opens `BEGIN IMMEDIATE`.
    TakeTurn(&'c Mutex<()>),
    /// The writer thread's connection inside its batch, or a connection already inside
    /// a write transaction: a write transaction is a savepoint of the one open.
    Holding,
}

impl SqliteConn<'_> {
    fn write_transaction<T>(
        &mut self,
        body: impl FnOnce(&mut SqliteConnection) -> Result<T, DbError>,
    ) -> Result<T, DbError> {
        match self.writes {
            SqliteWrites::Holding => self.conn.transaction(body),
            SqliteWrites::TakeTurn(writer) => {
                let _turn = writer.lock().unwrap_or_else(PoisonError::into_inner);
                self.conn.immediate_transaction(body)
            }
        }
    }
}

impl DbConn<'_> {
    /// Runs `query` and returns all its rows.
    pub fn load<'q, U, Q>(&mut self, query: Q) -> QueryResult<Vec<U>>
    where
        Q: LoadQuery<'q, SqliteConnection, U> + LoadQuery<'q, PgConnection, U>,
    {
        match self {
            DbConn::Sqlite(sqlite) => RunQueryDsl::load(query, sqlite.conn),
            DbConn::Postgres(conn) => RunQueryDsl::load(query, *conn),
        }
    }

    /// Runs `query` and returns its one row (`NotFound` when there is none).
    pub fn get_result<'q, U, Q>(&mut self, query: Q) -> QueryResult<U>
    where
        Q: LoadQuery<'q, SqliteConnection, U> + LoadQuery<'q, PgConnection, U>,
    {
        match self {
            DbConn::Sqlite(sqlite) => RunQueryDsl::get_result(query, sqlite.conn),
            DbConn::Postgres(conn) => RunQueryDsl::get_result(query, *conn),
        }
    }

    /// Runs a statement and returns how many rows it changed.
    pub fn execute<Q>(&mut self, query: Q) -> QueryResult<usize>
    where
        Q: ExecuteDsl<SqliteConnection> + ExecuteDsl<PgConnection>,
    {
        match self {
            DbConn::Sqlite(sqlite) => ExecuteDsl::execute(query, sqlite.conn),
            DbConn::Postgres(conn) => ExecuteDsl::execute(query, *conn),
        }
    }

    /// Runs raw SQL, several statements allowed, with no binds and no result.
    pub fn batch_execute(&mut self, sql: &str) -> QueryResult<()> {
        match self {
            DbConn::Sqlite(sqlite) => sqlite.conn.batch_execute(sql),
            DbConn::Postgres(conn) => conn.batch_execute(sql),
        }
    }

    /// Runs `body` in one write transaction: on SQLite a savepoint of the writer
    /// thread's batch, or `BEGIN IMMEDIATE` on a pooled connection (after its turn on
    /// the process-wide writer lock); a plain transaction on PostgreSQL. An `Err` from
    /// `body` rolls back.
    pub fn write_transaction<T>(
        &mut self,
        body: impl FnOnce(&mut DbConn<'_>) -> Result<T, DbError>,
    ) -> Result<T, DbError> {
        match self {
            DbConn::Sqlite(sqlite) => sqlite.write_transaction(|conn| {
                body(&mut DbConn::Sqlite(SqliteConn {
                    conn,
                    writes: SqliteWrites::Holding,
                }))
            }),
            DbConn::Postgres(conn) => conn.transaction(|conn| body(&mut DbConn::Postgres(conn))),
        }
    }

    /// Runs `body` in one read-only snapshot, so that several reads (a count and a page)
    /// see the same data: a deferred `BEGIN` on SQLite (in WAL mode the snapshot is
    /// taken at the first read and never blocks writers), `REPEATABLE READ READ ONLY` on
    /// PostgreSQL.
    pub fn read_snapshot<T>(
        &mut self,
        body: impl FnOnce(&mut DbConn<'_>) -> Result<T, DbError>,
    ) -> Result<T, DbError> {
        match self {
            DbConn::Sqlite(sqlite) => {
                let writes = sqlite.writes;
                sqlite
                    .conn
                    .transaction(|conn| body(&mut DbConn::Sqlite(SqliteConn { conn, writes })))
            }
            DbConn::Postgres(conn) => conn
                .build_transaction()
                .read_only()
                .repeatable_read()
                .run(|conn| body(&mut DbConn::Postgres(conn))),
        }
    }
}

/// The column list of a row struct, as a selection written once for every backend.
/// diesel's `as_select()` and `as_returning()` name one backend in their type, which
/// [`DbConn`] cannot run on the others; the columns themselves are the same on all of
/// them, and the row loads from them as `Queryable`.
pub trait Columns: Selectable<Sqlite> {
    fn columns() -> Self::SelectExpression {
        Self::construct_selection()
    }
}

impl<T: Selectable<Sqlite>> Columns for T {}
