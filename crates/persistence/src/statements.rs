//! Hand-written statements for the hot writes, which diesel would otherwise parse again
//! on every run.
//!
//! Why: diesel caches a prepared statement only when its SQL cannot vary, and it counts
//! every `UPDATE`, every upsert and every `INSERT` with an optional column as varying.
//! Each of those is parsed and planned again on every run: on SQLite that was an eighth
//! of the CPU of a plan activation, all of it inside the one-writer critical section; on
//! PostgreSQL it is an extra round trip and a server-side parse per statement.
//!
//! A statement is a struct of bind values with fixed SQL text, written once for every
//! backend (`impl<DB: SqlBackend> QueryFragment<DB>`) with a [`Statement`] writer; only
//! the placeholders differ, and diesel writes those. It derives `QueryId`, so diesel's
//! statement cache (keyed by type) prepares it once per connection. SQL only one backend
//! understands implements `QueryFragment` for that backend alone.
//!
//! The two reads whose `WHERE` clause depends on a filter (the audit log and the admin
//! order search) are written the same way: diesel would box them, and a boxed query
//! names its backend, so it could not be written once for every backend.

use chrono::NaiveDateTime;
use diesel::backend::Backend;
use diesel::query_builder::{AstPass, QueryFragment};
use diesel::serialize::ToSql;
use diesel::sql_types::{BigInt, Bool, HasSqlType, Integer, Nullable, SqlType, Text, Timestamp};
use diesel::QueryResult;

/// A Rust value a statement binds, and the SQL type it is bound as.
pub(crate) trait Param {
    type Sql: SqlType;
}

impl Param for str {
    type Sql = Text;
}

impl Param for String {
    type Sql = Text;
}

impl Param for i32 {
    type Sql = Integer;
}

impl Param for i64 {
    type Sql = BigInt;
}

impl Param for bool {
    type Sql = Bool;
}

impl Param for NaiveDateTime {
    type Sql = Timestamp;
}

impl<T: Param> Param for Option<T>
where
    T::Sql: SqlType<IsNull = diesel::sql_types::is_nullable::NotNull>,
{
    type Sql = Nullable<T::Sql>;
}

/// A backend that can bind a `T` as its [`Param::Sql`] type.
pub(crate) trait Binds<T: Param + ?Sized>: Backend {
    fn push<'b>(out: &mut AstPass<'_, 'b, Self>, value: &'b T) -> QueryResult<()>;
}

impl<DB, T> Binds<T> for DB
where
    DB: Backend + HasSqlType<T::Sql>,
    T: Param + ToSql<T::Sql, DB> + ?Sized,
{
    fn push<'b>(out: &mut AstPass<'_, 'b, DB>, value: &'b T) -> QueryResult<()> {
        out.push_bind_param::<T::Sql, T>(value)
    }
}

/// What the hand-written statements need of a backend: to bind each kind of value they
/// carry. Every diesel backend with the usual `ToSql` impls is one, with no code here.
pub(crate) trait SqlBackend:
    Binds<str>
    + Binds<String>
    + Binds<i32>
    + Binds<i64>
    + Binds<bool>
    + Binds<NaiveDateTime>
    + Binds<Option<i64>>
    + Binds<Option<String>>
    + Binds<Option<i32>>
{
}

impl<DB> SqlBackend for DB where
    DB: Binds<str>
        + Binds<String>
        + Binds<i32>
        + Binds<i64>
        + Binds<bool>
        + Binds<NaiveDateTime>
        + Binds<Option<i64>>
        + Binds<Option<String>>
        + Binds<Option<i32>>
{
}

/// Writes a statement: fixed SQL text, typed binds and diesel fragments, in order.
pub(crate) struct Statement<'a, 'b, DB: Backend> {
    out: AstPass<'a, 'b, DB>,
    /// Whether [`and_where`](Self::and_where) has written the `WHERE` keyword.
    has_where: bool,
}

impl<'a, 'b, DB: Backend> Statement<'a, 'b, DB> {
    pub(crate) fn new(out: AstPass<'a, 'b, DB>) -> Self {
        Statement {
            out,
            has_where: false,
        }
    }

    /// Literal SQL text.
    pub(crate) fn sql(&mut self, text: &str) -> &mut Self {
        self.out.push_sql(text);
        self
    }

    /// A bind parameter holding `value`.
    pub(crate) fn bind<T>(&mut self, value: &'b T) -> QueryResult<&mut Self>
    where
        T: Param + ?Sized,
        DB: Binds<T>,
    {
        <DB as Binds<T>>::push(&mut self.out, value)?;
        Ok(self)
    }

    /// ` WHERE column = ?`, or ` AND column = ?` after the first condition: for the few
    /// reads whose conditions depend on a filter.
    pub(crate) fn and_where<T>(&mut self, column: &str, value: &'b T) -> QueryResult<&mut Self>
    where
        T: Param + ?Sized,
        DB: Binds<T>,
    {
        self.sql(if self.has_where { " AND " } else { " WHERE " })
            .sql(column)
            .sql(" = ")
            .bind(value)?;
        self.has_where = true;
        Ok(self)
    }

    /// ` WHERE (lower(a) LIKE lower(?) ESCAPE '\' OR ...)`, or with ` AND ` after the
    /// first condition: `pattern` (already escaped) matched against any of `columns`,
    /// ignoring case. Both sides go through the backend's own `lower()`, so PostgreSQL
    /// (whose `LIKE` is case-sensitive) and SQLite (whose `LIKE` folds ASCII only) agree
    /// on ASCII text; PostgreSQL also folds other letters, by its locale.
    pub(crate) fn and_like_any<T>(
        &mut self,
        columns: &[&str],
        pattern: &'b T,
    ) -> QueryResult<&mut Self>
    where
        T: Param + ?Sized,
        DB: Binds<T>,
    {
        self.sql(if self.has_where { " AND (" } else { " WHERE (" });
        for (i, column) in columns.iter().enumerate() {
            if i > 0 {
                self.sql(" OR ");
            }
            self.sql("lower(")
                .sql(column)
                .sql(") LIKE lower(")
                .bind(pattern)?
                .sql(") ESCAPE '\\'");
        }
        self.sql(")");
        self.has_where = true;
        Ok(self)
    }

    /// A diesel fragment, such as a selectable's column list or another statement.
    pub(crate) fn fragment(
        &mut self,
        fragment: &'b impl QueryFragment<DB>,
    ) -> QueryResult<&mut Self> {
        fragment.walk_ast(self.out.reborrow())?;
        Ok(self)
    }
}
