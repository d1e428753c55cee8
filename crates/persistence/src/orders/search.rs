//! The admin's order search: a count and a page of the orders matching a filter. Its
//! `WHERE` clause depends on the filter, so it is a hand-written statement (see
//! `crate::statements`), cached by its text.

use diesel::prelude::*;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::BigInt;
use tariff_domain::orders::{Order, OrderFilter};
use tariff_domain::shared::{Page, PageRequest};

use super::queries::with_items;
use super::rows::{OrderRow, OrderRowColumns, OrderRowSql, ORDER_ROW_COLUMNS};
use crate::db::DbConn;
use crate::errors::DbError;
use crate::schema::order_status_counts;
use crate::statements::{SqlBackend, Statement};

/// The orders matching `filter`, newest first, and how many match in all.
pub(super) fn search(
    c: &mut DbConn<'_>,
    filter: &OrderFilter,
    page: PageRequest,
) -> Result<Page<Order>, DbError> {
    let matching = Matching::from(filter);
    let total: i64 = match matching.status_alone() {
        Some(status) => kept_count(c, status)?,
        None => c.get_result(CountMatching(matching.clone()))?,
    };
    let rows: Vec<OrderRow> = c.load(PageOfMatching {
        matching,
        limit: i64::try_from(page.limit()).unwrap_or(i64::MAX),
        offset: i64::try_from(page.offset()).unwrap_or(i64::MAX),
    })?;
    Ok(Page::new(
        with_items(c, rows)?,
        u64::try_from(total).unwrap_or(0),
    ))
}

/// The conditions of an [`OrderFilter`], as bound values.
#[derive(Debug, Clone)]
struct Matching {
    status: Option<&'static str>,
    user_id: Option<i64>,
    org_id: Option<i64>,
    /// A LIKE pattern for the description or the invoice number.
    text_pattern: Option<String>,
}

impl From<&OrderFilter> for Matching {
    fn from(filter: &OrderFilter) -> Matching {
        Matching {
            status: filter.status.map(|status| status.as_str()),
            user_id: filter.user.map(|user| user.get()),
            org_id: filter.org.map(|org| org.get()),
            text_pattern: filter
                .text
                .as_deref()
                .map(crate::identity::contains_pattern),
        }
    }
}

/// How many orders have `status`, from the counts the database keeps by trigger
/// (`order_status_counts`, the sum of the status's shards): exact as of the last commit,
/// as `COUNT(*)` is, without counting the status's range of the index.
fn kept_count(c: &mut DbConn<'_>, status: &'static str) -> QueryResult<i64> {
    let shards: Vec<i64> = c.load(
        order_status_counts::table
            .filter(order_status_counts::status.eq(status))
            .select(order_status_counts::n),
    )?;
    Ok(shards.into_iter().sum())
}

impl Matching {
    /// The status, when it is the filter's only condition.
    fn status_alone(&self) -> Option<&'static str> {
        match self {
            Matching {
                status: Some(status),
                user_id: None,
                org_id: None,
                text_pattern: None,
            } => Some(status),
            _ => None,
        }
    }

    /// `FROM orders` and the filter's `WHERE` clause.
    fn write<'b, DB: SqlBackend>(&'b self, sql: &mut Statement<'_, 'b, DB>) -> QueryResult<()> {
        sql.sql(" FROM orders");
        if let Some(status) = self.status {
            sql.and_where("status", status)?;
        }
        if let Some(user) = &self.user_id {
            sql.and_where("user_id", user)?;
        }
        if let Some(org) = &self.org_id {
            sql.and_where("org_id", org)?;
        }
        if let Some(pattern) = &self.text_pattern {
            sql.and_like_any(&["description", "invoice_number"], pattern)?;
        }
        Ok(())
    }
}

/// How many orders match.
#[derive(Debug)]
struct CountMatching(Matching);

impl<DB: SqlBackend> QueryFragment<DB> for CountMatching {
    fn walk_ast<'b>(&'b self, out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        let mut sql = Statement::new(out);
        sql.sql("SELECT COUNT(*)");
        self.0.write(&mut sql)
    }
}

/// A page of matching orders, newest first.
#[derive(Debug)]
struct PageOfMatching {
    matching: Matching,
    limit: i64,
    offset: i64,
}

impl<DB> QueryFragment<DB> for PageOfMatching
where
    DB: SqlBackend,
    OrderRowColumns: QueryFragment<DB>,
{
    fn walk_ast<'b>(&'b self, out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        let mut sql = Statement::new(out);
        sql.sql("SELECT ").fragment(&*ORDER_ROW_COLUMNS)?;
        self.matching.write(&mut sql)?;
        sql.sql(" ORDER BY orders.id DESC LIMIT ")
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
    type SqlType = OrderRowSql;
}

/// Their SQL varies with the filter: diesel caches them by their text, not their type.
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
