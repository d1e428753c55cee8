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

use diesel::expression::{AppearsOnTable, Expression, SelectableExpression, ValidGrouping};
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::sql_types::{Bool, Text};
use diesel::sqlite::Sqlite;
use diesel::QueryResult;

macro_rules! sql_literal {
    ($(#[$doc:meta])* $name:ident: $sql_type:ty = sqlite $sqlite:literal, postgres $pg:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, QueryId, ValidGrouping)]
        pub(crate) struct $name;

        impl Expression for $name {
            type SqlType = $sql_type;
        }

        impl<QS> SelectableExpression<QS> for $name {}
        impl<QS> AppearsOnTable<QS> for $name {}

        impl QueryFragment<Sqlite> for $name {
            fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Sqlite>) -> QueryResult<()> {
                out.push_sql($sqlite);
                Ok(())
            }
        }

        impl QueryFragment<Pg> for $name {
            fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
                out.push_sql($pg);
                Ok(())
            }
        }
    };
}

sql_literal!(
    /// `'active'`: an order status.
    Active: Text = sqlite "'active'", postgres "'active'"
);
sql_literal!(
    /// `'pending'`: an order status.
    Pending: Text = sqlite "'pending'", postgres "'pending'"
);
sql_literal!(
    /// True, as each backend stores it (SQLite keeps booleans as 0 and 1).
    True: Bool = sqlite "1", postgres "TRUE"
);
