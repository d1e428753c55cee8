//! The audit log's statements: recording an entry inside the caller's transaction, and
//! reading a filtered page.

use std::sync::LazyLock;

use diesel::prelude::*;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::BigInt;
use diesel::sqlite::Sqlite;
use tariff_domain::audit::{AuditEntry, AuditFilter};

use super::rows::{AuditRow, NewAuditRow};
use crate::db::{Columns, DbConn};
use crate::errors::DbError;
use crate::statements::{SqlBackend, Statement};

/// Records `entry` inside the caller's transaction; `None` records nothing.
pub(crate) fn record(c: &mut DbConn<'_>, entry: Option<&AuditEntry>) -> Result<(), DbError> {
    if let Some(entry) = entry {
        c.execute(NewAuditRow::from_entry(entry)?)?;
    }
    Ok(())
}

/// The rows matching `filter`, newest first, from `offset`, and how many match in all,
/// read in one snapshot. A page in the older half is read from the oldest end and
/// turned round: `OFFSET` steps over every row it skips, so the last page of a log of a
/// million rows would otherwise read the whole table.
pub(super) fn page(
    c: &mut DbConn<'_>,
    filter: &AuditFilter,
    offset: i64,
    limit: i64,
) -> Result<(Vec<AuditRow>, i64), DbError> {
    let matching = Matching::from(filter);
    c.read_snapshot(|c| {
        let total: i64 = c.get_result(CountMatching(matching))?;
        if offset >= total {
            return Ok((Vec::new(), total));
        }
        let from_oldest = offset.saturating_add(limit / 2) > total / 2;
        let rows = if from_oldest {
            let mut rows: Vec<AuditRow> = c.load(PageOfMatching {
                matching,
                offset: (total - offset).saturating_sub(limit).max(0),
                limit: limit.min(total - offset),
                oldest_first: true,
            })?;
            rows.reverse();
            rows
        } else {
            c.load(PageOfMatching {
                matching,
                offset,
                limit,
                oldest_first: false,
            })?
        };
        Ok((rows, total))
    })
}

/// The column list of an [`AuditRow`], and its SQL type.
type AuditRowColumns = <AuditRow as Selectable<Sqlite>>::SelectExpression;
type AuditRowSql = <AuditRowColumns as Expression>::SqlType;
static AUDIT_ROW_COLUMNS: LazyLock<AuditRowColumns> = LazyLock::new(AuditRow::columns);

/// The conditions of an [`AuditFilter`], as bound values.
#[derive(Debug, Clone, Copy)]
struct Matching {
    target_kind: Option<&'static str>,
    target_id: Option<i64>,
    actor: Option<i64>,
}

impl From<&AuditFilter> for Matching {
    fn from(filter: &AuditFilter) -> Matching {
        Matching {
            target_kind: filter.target_kind.map(|kind| kind.as_str()),
            target_id: filter.target_id,
            actor: filter.actor.map(|actor| actor.get()),
        }
    }
}

impl Matching {
    /// `FROM audit_log` and the filter's `WHERE` clause. Its SQL varies with the filter,
    /// so diesel caches the statement by its text rather than by its type.
    fn write<'b, DB: SqlBackend>(&'b self, sql: &mut Statement<'_, 'b, DB>) -> QueryResult<()> {
        sql.sql(" FROM audit_log");
        if let Some(kind) = self.target_kind {
            sql.and_where("target_kind", kind)?;
        }
        if let Some(id) = &self.target_id {
            sql.and_where("target_id", id)?;
        }
        if let Some(actor) = &self.actor {
            sql.and_where("actor_user_id", actor)?;
        }
        Ok(())
    }
}

/// How many entries match.
#[derive(Debug)]
struct CountMatching(Matching);

impl<DB: SqlBackend> QueryFragment<DB> for CountMatching {
    fn walk_ast<'b>(&'b self, out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        let mut sql = Statement::new(out);
        sql.sql("SELECT COUNT(*)");
        self.0.write(&mut sql)
    }
}

/// A page of matching entries, newest first (or oldest first, for a page counted from
/// the other end).
#[derive(Debug)]
struct PageOfMatching {
    matching: Matching,
    offset: i64,
    limit: i64,
    oldest_first: bool,
}

impl<DB> QueryFragment<DB> for PageOfMatching
where
    DB: SqlBackend,
    AuditRowColumns: QueryFragment<DB>,
{
    fn walk_ast<'b>(&'b self, out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        let mut sql = Statement::new(out);
        sql.sql("SELECT ").fragment(&*AUDIT_ROW_COLUMNS)?;
        self.matching.write(&mut sql)?;
        sql.sql(if self.oldest_first {
            " ORDER BY audit_log.id ASC LIMIT "
        } else {
            " ORDER BY audit_log.id DESC LIMIT "
        })
        .bind(&self.limit)?
        .sql(" OFFSET ")
        .bind(&self.offset)?;
        Ok(())
    }
}

impl Query for CountMatching {
    type SqlType = BigInt;
}

impl Query for PageOfMatching {
    type SqlType = AuditRowSql;
}

impl QueryId for CountMatching {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl QueryId for PageOfMatching {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<C> RunQueryDsl<C> for CountMatching {}
impl<C> RunQueryDsl<C> for PageOfMatching {}
