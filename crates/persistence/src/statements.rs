//! Hand-written statements for the hot writes, which diesel would otherwise parse again
//! on every run.
//!
//! Why: diesel caches a prepared statement only when its SQL cannot vary, and it counts
//! every `UPDATE`, every upsert and every `INSERT` with an optional column as varying.
//! Each of those is parsed and planned again on every run: on SQLite that was an eighth
//! of the CPU of a plan activation, all of it inside the one-writer critical section; on
//! PostgreSQL it is an extra round trip and a server-side parse per statement.
//!
//! A statement here has fixed SQL text with typed binds, and its own type, so diesel's
//! statement cache (keyed by type) prepares it once per connection. The text is the same
//! on both backends; only the placeholders differ, and diesel writes those.

/// Defines a statement: a struct of bind values, its fixed SQL as a list of pieces
/// (`"literal SQL"`, `(field: SqlType)` or `(field.inner: SqlType)` for a bind,
/// `{expression}` for a diesel fragment such as a selectable's column list,
/// `{|statement| statement.field}` for a fragment held by the statement, such as
/// another statement), and, for statements that return rows, the SQL type of a row
/// (`-> SqlType`). A trailing `for [Pg]` limits it to one backend, for SQL
/// only that backend understands.
macro_rules! statement {
    (
        $(#[$doc:meta])*
        $vis:vis $name:ident $(-> $returns:ty)? { $($field:ident: $rust:ty),* $(,)? }
        [$($piece:tt)*]
    ) => {
        $crate::statements::statement! {
            $(#[$doc])*
            $vis $name $(-> $returns)? { $($field: $rust),* }
            [$($piece)*]
            for [::diesel::sqlite::Sqlite, ::diesel::pg::Pg]
        }
    };
    (
        $(#[$doc:meta])*
        $vis:vis $name:ident $(-> $returns:ty)? { $($field:ident: $rust:ty),* $(,)? }
        $pieces:tt
        for [$($db:ty),+]
    ) => {
        $(#[$doc])*
        #[derive(Debug)]
        $vis struct $name {
            $($vis $field: $rust,)*
        }

        impl ::diesel::query_builder::QueryId for $name {
            type QueryId = $name;
            const HAS_STATIC_QUERY_ID: bool = true;
        }

        $($crate::statements::statement!(@backend $name, $db, $pieces);)+

        $(
            impl ::diesel::query_builder::Query for $name {
                type SqlType = $returns;
            }
        )?

        impl<Conn> ::diesel::RunQueryDsl<Conn> for $name {}
    };
    (@backend $name:ident, $db:ty, [$($piece:tt)*]) => {
        impl ::diesel::query_builder::QueryFragment<$db> for $name {
            fn walk_ast<'b>(
                &'b self,
                mut out: ::diesel::query_builder::AstPass<'_, 'b, $db>,
            ) -> ::diesel::QueryResult<()> {
                #[allow(unused_imports)]
                use ::diesel::sql_types::*;
                let this = self;
                $($crate::statements::statement!(@piece this, out, $piece);)*
                Ok(())
            }
        }
    };
    (@piece $this:ident, $out:ident, $sql:literal) => {
        $out.push_sql($sql);
    };
    (@piece $this:ident, $out:ident, ($($field:ident).+ : $sql_type:ty)) => {
        $out.push_bind_param::<$sql_type, _>(&$this.$($field).+)?;
    };
    (@piece $this:ident, $out:ident, {|$statement:ident| $fragment:expr}) => {
        let $statement = $this;
        ::diesel::query_builder::QueryFragment::walk_ast(&$fragment, $out.reborrow())?;
    };
    (@piece $this:ident, $out:ident, {$fragment:expr}) => {
        ::diesel::query_builder::QueryFragment::walk_ast(&$fragment, $out.reborrow())?;
    };
}
pub(crate) use statement;
