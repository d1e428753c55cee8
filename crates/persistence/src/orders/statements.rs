//! The hand-written hot statements of orders and activations (see `crate::statements`
//! for why they are hand-written): fixed SQL, typed binds, one type each, so diesel
//! keeps each prepared per connection.

use chrono::NaiveDateTime;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::BigInt;
use tariff_domain::orders::{NewOrder, OrderStatus};
use tariff_domain::{AccountRef, OrderId, UserId};

use super::rows::{corrupt_input, ItemRow, OrderRowColumns, OrderRowSql, ORDER_ROW_COLUMNS};
use crate::errors::DbError;
use crate::schema::orders;
use crate::statements::{SqlBackend, Statement};

/// A new order without its invoice; returns its id. Also `Insertable`, for the
/// renewal's `ON CONFLICT DO NOTHING`, which is rare enough to be parsed each time.
#[derive(Debug, QueryId, Insertable)]
#[diesel(table_name = orders)]
pub(super) struct InsertOrder {
    account_kind: &'static str,
    account_id: i64,
    user_id: Option<i64>,
    org_id: Option<i64>,
    plan_id: i64,
    status: &'static str,
    currency: &'static str,
    subtotal_minor: i64,
    tax_rate_bp: i32,
    tax_minor: i64,
    total_minor: i64,
    description: String,
    notes: Option<String>,
    renewal_of: Option<i64>,
    created_at: NaiveDateTime,
    cycle: &'static str,
    credit_applied_minor: i64,
    period_value_minor: Option<i64>,
    coupon_code: Option<String>,
    coupon_period: Option<i32>,
    customer_note: Option<String>,
}

impl<DB: SqlBackend> QueryFragment<DB> for InsertOrder {
    fn walk_ast<'b>(&'b self, out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        Statement::new(out)
            .sql(
                "INSERT INTO orders (account_kind, account_id, user_id, org_id, plan_id, \
                 status, currency, subtotal_minor, tax_rate_bp, tax_minor, total_minor, \
                 description, notes, renewal_of, created_at, cycle, credit_applied_minor, \
                 period_value_minor, coupon_code, coupon_period, customer_note) VALUES (",
            )
            .bind(self.account_kind)?
            .sql(", ")
            .bind(&self.account_id)?
            .sql(", ")
            .bind(&self.user_id)?
            .sql(", ")
            .bind(&self.org_id)?
            .sql(", ")
            .bind(&self.plan_id)?
            .sql(", ")
            .bind(self.status)?
            .sql(", ")
            .bind(self.currency)?
            .sql(", ")
            .bind(&self.subtotal_minor)?
            .sql(", ")
            .bind(&self.tax_rate_bp)?
            .sql(", ")
            .bind(&self.tax_minor)?
            .sql(", ")
            .bind(&self.total_minor)?
            .sql(", ")
            .bind(&self.description)?
            .sql(", ")
            .bind(&self.notes)?
            .sql(", ")
            .bind(&self.renewal_of)?
            .sql(", ")
            .bind(&self.created_at)?
            .sql(", ")
            .bind(self.cycle)?
            .sql(", ")
            .bind(&self.credit_applied_minor)?
            .sql(", ")
            .bind(&self.period_value_minor)?
            .sql(", ")
            .bind(&self.coupon_code)?
            .sql(", ")
            .bind(&self.coupon_period)?
            .sql(", ")
            .bind(&self.customer_note)?
            .sql(") RETURNING id");
        Ok(())
    }
}

impl Query for InsertOrder {
    type SqlType = BigInt;
}

impl<C> RunQueryDsl<C> for InsertOrder {}

/// One line of a new order.
#[derive(Debug, QueryId)]
pub(super) struct InsertItem {
    order_id: i64,
    position: i32,
    description: String,
    quantity: i32,
    unit_price_minor: i64,
    amount_minor: i64,
}

impl<DB: SqlBackend> QueryFragment<DB> for InsertItem {
    fn walk_ast<'b>(&'b self, out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        Statement::new(out)
            .sql(
                "INSERT INTO order_items (order_id, position, description, quantity, \
                 unit_price_minor, amount_minor) VALUES (",
            )
            .bind(&self.order_id)?
            .sql(", ")
            .bind(&self.position)?
            .sql(", ")
            .bind(&self.description)?
            .sql(", ")
            .bind(&self.quantity)?
            .sql(", ")
            .bind(&self.unit_price_minor)?
            .sql(", ")
            .bind(&self.amount_minor)?
            .sql(")");
        Ok(())
    }
}

impl<C> RunQueryDsl<C> for InsertItem {}

impl InsertOrder {
    pub(super) fn from_new(order: &NewOrder, status: OrderStatus) -> Result<InsertOrder, DbError> {
        let charges = order.charges();
        let billing = order.billing();
        let (user_id, org_id) = match order.account() {
            AccountRef::User(user) => (Some(user.get()), None),
            AccountRef::Org(org) => (order.placed_by().map(UserId::get), Some(org.get())),
        };
        Ok(InsertOrder {
            account_kind: order.account().kind(),
            account_id: order.account().raw_id(),
            user_id,
            org_id,
            plan_id: order.plan_id().get(),
            status: status.as_str(),
            currency: charges.currency().code(),
            subtotal_minor: charges.subtotal().minor(),
            tax_rate_bp: i32::try_from(charges.tax_rate().basis_points())
                .map_err(|_| corrupt_input("tax rate"))?,
            tax_minor: charges.tax().minor(),
            total_minor: charges.total().minor(),
            description: order.description().to_owned(),
            notes: order.notes().map(str::to_owned),
            renewal_of: order.renewal_of().map(OrderId::get),
            created_at: order.created_at().naive_utc(),
            cycle: billing.cycle.as_str(),
            credit_applied_minor: billing.credit_applied.map_or(0, |c| c.minor()),
            period_value_minor: billing.period_value.map(|v| v.minor()),
            coupon_code: billing.coupon.as_ref().map(|c| c.code.clone()),
            coupon_period: billing
                .coupon
                .as_ref()
                .map(|c| i32::try_from(c.period).map_err(|_| corrupt_input("coupon period")))
                .transpose()?,
            customer_note: order.customer_note().map(|note| note.as_str().to_owned()),
        })
    }

    /// The lines of `order`, as they will be stored under `order_id`.
    pub(super) fn items(order: &NewOrder, order_id: i64) -> Result<Vec<InsertItem>, DbError> {
        order
            .charges()
            .items()
            .iter()
            .enumerate()
            .map(|(index, item)| {
                Ok(InsertItem {
                    order_id,
                    position: i32::try_from(index + 1).map_err(|_| corrupt_input("position"))?,
                    description: item.description().to_owned(),
                    quantity: i32::try_from(item.quantity())
                        .map_err(|_| corrupt_input("quantity"))?,
                    unit_price_minor: item.unit_price().minor(),
                    amount_minor: item.amount().minor(),
                })
            })
            .collect()
    }
}

impl From<&InsertItem> for ItemRow {
    fn from(item: &InsertItem) -> ItemRow {
        ItemRow {
            order_id: item.order_id,
            description: item.description.clone(),
            quantity: item.quantity,
            unit_price_minor: item.unit_price_minor,
            amount_minor: item.amount_minor,
        }
    }
}

/// Cancels an account's active order because another replaces it.
#[derive(Debug, QueryId)]
pub(super) struct CancelReplaced {
    pub(super) id: i64,
    pub(super) status: &'static str,
    pub(super) cancelled_at: NaiveDateTime,
    pub(super) notes: String,
}

impl<DB: SqlBackend> QueryFragment<DB> for CancelReplaced {
    fn walk_ast<'b>(&'b self, out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        Statement::new(out)
            .sql("UPDATE orders SET status = ")
            .bind(self.status)?
            .sql(", cancelled_at = ")
            .bind(&self.cancelled_at)?
            .sql(", notes = ")
            .bind(&self.notes)?
            .sql(" WHERE id = ")
            .bind(&self.id)?
            .sql(" AND status = 'active'");
        Ok(())
    }
}

impl<C> RunQueryDsl<C> for CancelReplaced {}

/// Makes a pending order active and returns its row; no row when it is no longer
/// pending.
#[derive(Debug, QueryId)]
pub(super) struct MarkActive {
    pub(super) id: i64,
    pub(super) status: &'static str,
    pub(super) activated_at: NaiveDateTime,
    pub(super) expires_at: NaiveDateTime,
    pub(super) payment_reference: Option<String>,
}

impl<DB> QueryFragment<DB> for MarkActive
where
    DB: SqlBackend,
    OrderRowColumns: QueryFragment<DB>,
{
    fn walk_ast<'b>(&'b self, out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        Statement::new(out)
            .sql("UPDATE orders SET status = ")
            .bind(self.status)?
            .sql(", activated_at = ")
            .bind(&self.activated_at)?
            .sql(", expires_at = ")
            .bind(&self.expires_at)?
            .sql(", payment_reference = ")
            .bind(&self.payment_reference)?
            .sql(" WHERE id = ")
            .bind(&self.id)?
            .sql(" AND status = 'pending' RETURNING ")
            .fragment(&*ORDER_ROW_COLUMNS)?;
        Ok(())
    }
}

impl Query for MarkActive {
    type SqlType = OrderRowSql;
}

impl<C> RunQueryDsl<C> for MarkActive {}

/// Takes the year's next invoice sequence number; no row before the year's first.
#[derive(Debug, QueryId)]
pub(super) struct BumpInvoiceCounter {
    pub(super) year: i32,
}

impl<DB: SqlBackend> QueryFragment<DB> for BumpInvoiceCounter {
    fn walk_ast<'b>(&'b self, out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        Statement::new(out)
            .sql("UPDATE invoice_counters SET last_seq = last_seq + 1 WHERE year = ")
            .bind(&self.year)?
            .sql(" RETURNING last_seq");
        Ok(())
    }
}

impl Query for BumpInvoiceCounter {
    type SqlType = BigInt;
}

impl<C> RunQueryDsl<C> for BumpInvoiceCounter {}

/// Gives an order its invoice number and frozen details; returns the order's row.
#[derive(Debug, QueryId)]
pub(super) struct NumberInvoice {
    pub(super) id: i64,
    pub(super) year: i32,
    pub(super) seq: i64,
    pub(super) number: String,
    pub(super) snapshot: String,
}

impl<DB> QueryFragment<DB> for NumberInvoice
where
    DB: SqlBackend,
    OrderRowColumns: QueryFragment<DB>,
{
    fn walk_ast<'b>(&'b self, out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        Statement::new(out)
            .sql("UPDATE orders SET invoice_year = ")
            .bind(&self.year)?
            .sql(", invoice_seq = ")
            .bind(&self.seq)?
            .sql(", invoice_number = ")
            .bind(&self.number)?
            .sql(", invoice_snapshot = ")
            .bind(&self.snapshot)?
            .sql(" WHERE id = ")
            .bind(&self.id)?
            .sql(" RETURNING ")
            .fragment(&*ORDER_ROW_COLUMNS)?;
        Ok(())
    }
}

impl Query for NumberInvoice {
    type SqlType = OrderRowSql;
}

impl<C> RunQueryDsl<C> for NumberInvoice {}

/// PostgreSQL: a new order and its one line in one statement (one round trip fewer).
#[derive(Debug, QueryId)]
pub(super) struct InsertOrderWithLine {
    pub(super) order: InsertOrder,
    pub(super) line: InsertItem,
}

impl QueryFragment<Pg> for InsertOrderWithLine {
    fn walk_ast<'b>(&'b self, out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        let line = &self.line;
        Statement::new(out)
            .sql("WITH new_order AS (")
            .fragment(&self.order)?
            .sql(
                "), new_line AS (INSERT INTO order_items (order_id, position, description, \
                 quantity, unit_price_minor, amount_minor) SELECT id, ",
            )
            .bind(&line.position)?
            .sql(", ")
            .bind(&line.description)?
            .sql(", ")
            .bind(&line.quantity)?
            .sql(", ")
            .bind(&line.unit_price_minor)?
            .sql(", ")
            .bind(&line.amount_minor)?
            .sql(" FROM new_order) SELECT id FROM new_order");
        Ok(())
    }
}

impl Query for InsertOrderWithLine {
    type SqlType = BigInt;
}

impl<C> RunQueryDsl<C> for InsertOrderWithLine {}

/// PostgreSQL: takes the year's next sequence number, writes the order's invoice number,
/// and records the audit entry, in one statement. Why: the counter row stays locked
/// until commit, and every activation of the year waits for it; one round trip instead
/// of three while holding it more than doubled activations per second. The number is
/// `before || seq zero-padded to width || after` (see `InvoiceNumberFormat::around_seq`);
/// the audit's after-state is given without the number, which the statement sets as
/// that snapshot's `invoiceNumber` field (`number_field`) with `jsonb_set`. No row when
/// the year has no counter yet.
#[derive(Debug, QueryId)]
pub(super) struct NumberAndRecord {
    pub(super) id: i64,
    pub(super) year: i32,
    pub(super) before: String,
    pub(super) width: i32,
    pub(super) after: String,
    pub(super) snapshot: String,
    pub(super) with_audit: bool,
    pub(super) actor_user_id: Option<i64>,
    pub(super) action: &'static str,
    pub(super) target_kind: &'static str,
    pub(super) target_id: Option<i64>,
    pub(super) before_state: Option<String>,
    pub(super) after_state: String,
    pub(super) number_field: &'static str,
    pub(super) created_at: NaiveDateTime,
}

impl QueryFragment<Pg> for NumberAndRecord {
    fn walk_ast<'b>(&'b self, out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        Statement::new(out)
            .sql("WITH seq AS (UPDATE invoice_counters SET last_seq = last_seq + 1 WHERE year = ")
            .bind(&self.year)?
            .sql(" RETURNING last_seq), numbered AS (SELECT last_seq, ")
            .bind(&self.before)?
            .sql(" || CASE WHEN length(last_seq::text) >= ")
            .bind(&self.width)?
            .sql(" THEN last_seq::text ELSE lpad(last_seq::text, ")
            .bind(&self.width)?
            .sql(", '0') END || ")
            .bind(&self.after)?
            .sql(" AS number FROM seq), updated AS (UPDATE orders SET invoice_year = ")
            .bind(&self.year)?
            .sql(
                ", invoice_seq = numbered.last_seq, invoice_number = numbered.number, \
                 invoice_snapshot = ",
            )
            .bind(&self.snapshot)?
            .sql(" FROM numbered WHERE orders.id = ")
            .bind(&self.id)?
            .sql(" RETURNING ")
            .fragment(&*ORDER_ROW_COLUMNS)?
            .sql(
                "), audited AS (INSERT INTO audit_log (actor_user_id, action, target_kind, \
                 target_id, before_state, after_state, created_at) SELECT ",
            )
            .bind(&self.actor_user_id)?
            .sql(", ")
            .bind(self.action)?
            .sql(", ")
            .bind(self.target_kind)?
            .sql(", ")
            .bind(&self.target_id)?
            .sql(", ")
            .bind(&self.before_state)?
            .sql(", jsonb_set(CAST(")
            .bind(&self.after_state)?
            .sql(" AS jsonb), ARRAY[")
            .bind(self.number_field)?
            .sql("], to_jsonb(numbered.number))::text, ")
            .bind(&self.created_at)?
            .sql(" FROM numbered WHERE ")
            .bind(&self.with_audit)?
            .sql(") SELECT * FROM updated");
        Ok(())
    }
}

impl Query for NumberAndRecord {
    type SqlType = OrderRowSql;
}

impl<C> RunQueryDsl<C> for NumberAndRecord {}

/// PostgreSQL: takes the year's next `count` sequence numbers; returns the last. No row
/// before the year's first.
#[derive(Debug, QueryId)]
pub(super) struct BumpInvoiceCounterBy {
    pub(super) year: i32,
    pub(super) count: i64,
}

impl QueryFragment<Pg> for BumpInvoiceCounterBy {
    fn walk_ast<'b>(&'b self, out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        Statement::new(out)
            .sql("UPDATE invoice_counters SET last_seq = last_seq + ")
            .bind(&self.count)?
            .sql(" WHERE year = ")
            .bind(&self.year)?
            .sql(" RETURNING last_seq");
        Ok(())
    }
}

impl Query for BumpInvoiceCounterBy {
    type SqlType = BigInt;
}

impl<C> RunQueryDsl<C> for BumpInvoiceCounterBy {}

/// PostgreSQL: the last audit row id and the last webhook event id handed out so far
/// (rows inserted afterwards have greater ids).
#[derive(Debug, QueryId)]
pub(super) struct Watermarks;

impl QueryFragment<Pg> for Watermarks {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql(
            "SELECT (SELECT last_value - CASE WHEN is_called THEN 0 ELSE 1 END \
             FROM audit_log_id_seq), (SELECT last_value - CASE WHEN is_called THEN 0 ELSE 1 \
             END FROM webhook_events_id_seq)",
        );
        Ok(())
    }
}

impl Query for Watermarks {
    type SqlType = (BigInt, BigInt);
}

impl<C> RunQueryDsl<C> for Watermarks {}

/// PostgreSQL: writes a batch's invoice numbers over its placeholders (see
/// `super::batched`): the orders' sequence numbers and numbers, and the placeholders in
/// the audit states and webhook event bodies written after the batch began. Returns how
/// many orders it numbered.
#[derive(Debug, QueryId)]
pub(super) struct FillNumbers {
    pub(super) order_ids: Vec<i64>,
    pub(super) seqs: Vec<i64>,
    pub(super) numbers: Vec<String>,
    pub(super) tokens: Vec<String>,
    pub(super) json_numbers: Vec<String>,
    pub(super) audit_after: i64,
    pub(super) events_after: i64,
}

impl QueryFragment<Pg> for FillNumbers {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        use diesel::sql_types::{Array, Text};
        out.push_sql("WITH n AS (SELECT * FROM unnest(");
        out.push_bind_param::<Array<BigInt>, _>(&self.order_ids)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<BigInt>, _>(&self.seqs)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Text>, _>(&self.numbers)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Text>, _>(&self.tokens)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Text>, _>(&self.json_numbers)?;
        out.push_sql(
            ") AS n(order_id, seq, number, token, json_number)), \
             numbered AS (UPDATE orders SET invoice_seq = n.seq, invoice_number = n.number \
             FROM n WHERE orders.id = n.order_id AND orders.invoice_number = n.token \
             RETURNING orders.id), \
             audited AS (UPDATE audit_log SET after_state = \
             replace(audit_log.after_state, n.token, n.json_number) FROM n \
             WHERE audit_log.id > ",
        );
        out.push_bind_param::<BigInt, _>(&self.audit_after)?;
        out.push_sql(
            " AND strpos(audit_log.after_state, n.token) > 0 RETURNING audit_log.id), \
             told AS (UPDATE webhook_events SET body = \
             replace(webhook_events.body, n.token, n.json_number) FROM n \
             WHERE webhook_events.id > ",
        );
        out.push_bind_param::<BigInt, _>(&self.events_after)?;
        out.push_sql(
            " AND strpos(webhook_events.body, n.token) > 0 RETURNING webhook_events.id) \
             SELECT count(*) FROM numbered",
        );
        Ok(())
    }
}

impl Query for FillNumbers {
    type SqlType = BigInt;
}

impl<C> RunQueryDsl<C> for FillNumbers {}
