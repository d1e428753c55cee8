//! Constants written into the SQL text instead of bound as parameters.
//!
//! Why: SQLite checks whether a partial index (`... WHERE status = 'active'`,
//! `... WHERE is_default = 1`) applies by comparing the query's terms with the index's
//! condition. When the query's term is a bound parameter, SQLite marks the prepared
//! statement to be recompiled whenever that parameter is bound again, which is on every
//! execution: profiling showed a quarter of the service's CPU in `sqlite3Reprepare`. A
//! literal is compared once, at prepare time, and the cached statement stays compiled.
//! Each literal is its own type so diesel's statement cache (keyed by type) never mixes
//! two of them up.
//!
//! The same holds for `LIMIT ?`: SQLite 3.53 reads a bound LIMIT when planning and then
//! recompiles on every rebinding, so one-row lookups use `get_result` (all of them match
//! at most one row through a unique key) instead of diesel's `.first()`, which binds
//! `LIMIT 1`. Clippy refuses `.first()` (`clippy.toml`).

use diesel::backend::Backend;
use diesel::expression::{AppearsOnTable, Expression, SelectableExpression, ValidGrouping};
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::sql_types::{Bool, Text};
use diesel::sqlite::Sqlite;
use diesel::QueryResult;

/// `'active'`: an order status.
#[derive(Debug, Clone, Copy, QueryId, ValidGrouping)]
pub(crate) struct Active;

impl Expression for Active {
    type SqlType = Text;
}

impl<QS> SelectableExpression<QS> for Active {}
impl<QS> AppearsOnTable<QS> for Active {}

impl<DB: Backend> QueryFragment<DB> for Active {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        out.push_sql("'active'");
        Ok(())
    }
}

/// `'pending'`: an order status.
#[derive(Debug, Clone, Copy, QueryId, ValidGrouping)]
pub(crate) struct Pending;

impl Expression for Pending {
    type SqlType = Text;
}

impl<QS> SelectableExpression<QS> for Pending {}
impl<QS> AppearsOnTable<QS> for Pending {}

impl<DB: Backend> QueryFragment<DB> for Pending {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        out.push_sql("'pending'");
        Ok(())
    }
}

/// True, as each backend stores it: SQLite keeps booleans as 0 and 1, and its partial
/// indexes say `= 1`, which `= TRUE` would not match.
#[derive(Debug, Clone, Copy, QueryId, ValidGrouping)]
pub(crate) struct True;

impl Expression for True {
    type SqlType = Bool;
}

impl<QS> SelectableExpression<QS> for True {}
impl<QS> AppearsOnTable<QS> for True {}

impl QueryFragment<Sqlite> for True {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Sqlite>) -> QueryResult<()> {
        out.push_sql("1");
        Ok(())
    }
}

impl QueryFragment<Pg> for True {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("TRUE");
        Ok(())
    }
}
