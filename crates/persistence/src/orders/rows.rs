//! `orders` and `order_items` rows, apart from the domain's `Order`, and their
//! conversion in one place.

use std::sync::LazyLock;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sqlite::Sqlite;
use tariff_domain::orders::{
    BillingCycle, BuyerDetails, Charges, CustomerNote, IssuedInvoice, Order, OrderBilling,
    OrderCoupon, OrderItem, OrderRecord, ScheduledChange,
};
use tariff_domain::{AccountRef, Currency, Money, OrderId, PlanId, RepoError, TaxRate, UserId};

use super::snapshot::{postal_address, SnapshotJson};
use crate::db::Columns;
use crate::errors::DbError;
use crate::schema::{order_items, orders};

/// An `orders` row as stored.
#[derive(Queryable, Selectable, Debug, Clone)]
#[diesel(table_name = orders)]
pub(super) struct OrderRow {
    pub(super) id: i64,
    pub(super) account_kind: String,
    pub(super) account_id: i64,
    pub(super) user_id: Option<i64>,
    pub(super) org_id: Option<i64>,
    pub(super) plan_id: i64,
    pub(super) status: String,
    pub(super) currency: String,
    pub(super) subtotal_minor: i64,
    pub(super) tax_rate_bp: i32,
    pub(super) tax_minor: i64,
    pub(super) total_minor: i64,
    pub(super) description: String,
    pub(super) notes: Option<String>,
    pub(super) payment_reference: Option<String>,
    pub(super) renewal_of: Option<i64>,
    pub(super) created_at: NaiveDateTime,
    pub(super) activated_at: Option<NaiveDateTime>,
    pub(super) expires_at: Option<NaiveDateTime>,
    pub(super) cancelled_at: Option<NaiveDateTime>,
    pub(super) invoice_year: Option<i32>,
    pub(super) invoice_seq: Option<i64>,
    pub(super) invoice_number: Option<String>,
    pub(super) invoice_snapshot: Option<String>,
    pub(super) cycle: String,
    pub(super) credit_applied_minor: i64,
    pub(super) period_value_minor: Option<i64>,
    pub(super) coupon_code: Option<String>,
    pub(super) coupon_period: Option<i32>,
    pub(super) scheduled_plan_id: Option<i64>,
    pub(super) scheduled_cycle: Option<String>,
    pub(super) scheduled_at: Option<NaiveDateTime>,
    pub(super) paid_at: Option<NaiveDateTime>,
    pub(super) customer_note: Option<String>,
    pub(super) past_due_at: Option<NaiveDateTime>,
}

/// An `order_items` row.
#[derive(Queryable, Selectable, Debug, Clone)]
#[diesel(table_name = order_items)]
pub(super) struct ItemRow {
    pub(super) order_id: i64,
    pub(super) description: String,
    pub(super) quantity: i32,
    pub(super) unit_price_minor: i64,
    pub(super) amount_minor: i64,
}

/// The column list of an [`OrderRow`] and its SQL type, for hand-written statements.
pub(super) type OrderRowColumns = <OrderRow as Selectable<Sqlite>>::SelectExpression;
pub(super) type OrderRowSql = <OrderRowColumns as Expression>::SqlType;
pub(super) static ORDER_ROW_COLUMNS: LazyLock<OrderRowColumns> = LazyLock::new(OrderRow::columns);

pub(super) fn corrupt_input(what: &str) -> DbError {
    DbError::Repo(RepoError::internal(format!(
        "order {what} does not fit its column"
    )))
}

/// Converts a row and its lines, in one place.
pub(super) fn to_order(row: OrderRow, items: Vec<ItemRow>) -> Result<Order, RepoError> {
    let id = row.id;
    let corrupt = |what: &str| RepoError::internal(format!("order {id} has corrupt {what}"));
    let currency = Currency::from_code(&row.currency).map_err(|_| corrupt("currency"))?;
    let money = |minor: i64| Money::from_minor(minor, currency);
    let lines = items
        .into_iter()
        .map(|item| {
            let quantity = u32::try_from(item.quantity).map_err(|_| corrupt("quantity"))?;
            OrderItem::restore(
                item.description,
                quantity,
                money(item.unit_price_minor),
                money(item.amount_minor),
            )
            .map_err(|e| RepoError::Internal(Box::new(e)))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let rate = u32::try_from(row.tax_rate_bp)
        .ok()
        .and_then(TaxRate::from_basis_points)
        .ok_or_else(|| corrupt("tax rate"))?;
    let charges = Charges::restore(
        lines,
        money(row.subtotal_minor),
        rate,
        money(row.tax_minor),
        money(row.total_minor),
    )
    .map_err(|e| RepoError::Internal(Box::new(e)))?;
    let billing = order_billing(&row, currency).map_err(corrupt)?;
    let invoice = match (
        row.invoice_number,
        row.invoice_year,
        row.invoice_seq,
        row.invoice_snapshot,
    ) {
        (Some(number), Some(year), Some(seq), Some(snapshot)) => {
            let snapshot: SnapshotJson =
                serde_json::from_str(&snapshot).map_err(|_| corrupt("invoice snapshot"))?;
            Some(IssuedInvoice {
                number,
                year,
                seq,
                snapshot: snapshot
                    .into_domain()
                    .map_err(|_| corrupt("invoice snapshot"))?,
            })
        }
        (None, None, None, None) => None,
        _ => return Err(corrupt("invoice columns")),
    };
    let account = AccountRef::from_parts(&row.account_kind, row.account_id)
        .ok_or_else(|| corrupt("account"))?;
    let org_matches = match account {
        AccountRef::Org(org) => row.org_id == Some(org.get()),
        AccountRef::User(_) => row.org_id.is_none(),
    };
    if !org_matches {
        return Err(corrupt("organisation"));
    }
    let customer_note = row
        .customer_note
        .as_deref()
        .map(CustomerNote::parse)
        .transpose()
        .map_err(|_| corrupt("customer note"))?
        .flatten();
    Order::restore(OrderRecord {
        id: OrderId::new(id).ok_or_else(|| corrupt("id"))?,
        account,
        placed_by: row
            .user_id
            .map(|u| UserId::new(u).ok_or_else(|| corrupt("user id")))
            .transpose()?,
        plan_id: PlanId::new(row.plan_id).ok_or_else(|| corrupt("plan id"))?,
        status: row.status.parse().map_err(|_| corrupt("status"))?,
        description: row.description,
        charges,
        notes: row.notes,
        payment_reference: row.payment_reference,
        renewal_of: row
            .renewal_of
            .map(|r| OrderId::new(r).ok_or_else(|| corrupt("renewal_of")))
            .transpose()?,
        created_at: row.created_at.and_utc(),
        activated_at: row.activated_at.map(|t| t.and_utc()),
        expires_at: row.expires_at.map(|t| t.and_utc()),
        cancelled_at: row.cancelled_at.map(|t| t.and_utc()),
        invoice,
        billing,
    })
    .map(|order| {
        order
            .with_paid_at(row.paid_at.map(|t| t.and_utc()))
            .with_customer_note(customer_note)
            .with_past_due_at(row.past_due_at.map(|t| t.and_utc()))
    })
    .map_err(|e| RepoError::Internal(Box::new(e)))
}

/// The billing columns of a row; `Err` names the corrupt column.
fn order_billing(row: &OrderRow, currency: Currency) -> Result<OrderBilling, &'static str> {
    let cycle: BillingCycle = row.cycle.parse().map_err(|_| "cycle")?;
    let credit_applied = (row.credit_applied_minor != 0)
        .then(|| Money::from_minor(row.credit_applied_minor, currency));
    let coupon = match (&row.coupon_code, row.coupon_period) {
        (Some(code), Some(period)) => Some(OrderCoupon {
            code: code.clone(),
            period: u32::try_from(period).map_err(|_| "coupon period")?,
        }),
        (None, None) => None,
        _ => return Err("coupon columns"),
    };
    let scheduled_change = match (
        row.scheduled_plan_id,
        &row.scheduled_cycle,
        row.scheduled_at,
    ) {
        (Some(plan), Some(cycle), Some(at)) => Some(ScheduledChange {
            plan_id: PlanId::new(plan).ok_or("scheduled plan")?,
            cycle: cycle.parse().map_err(|_| "scheduled cycle")?,
            at: at.and_utc(),
        }),
        (None, None, None) => None,
        _ => return Err("scheduled change columns"),
    };
    Ok(OrderBilling {
        cycle,
        credit_applied,
        period_value: row
            .period_value_minor
            .map(|minor| Money::from_minor(minor, currency)),
        coupon,
        scheduled_change,
    })
}

pub(super) type BuyerColumns = (
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

pub(super) fn buyer_from(columns: BuyerColumns) -> Result<BuyerDetails, RepoError> {
    let (name, email, company, address_line1, address_line2, city, postcode, country, tax_id) =
        columns;
    let address = postal_address(address_line1, address_line2, city, postcode, country)
        .map_err(|e| RepoError::internal(format!("stored billing address: {e}")))?;
    Ok(BuyerDetails {
        name,
        email,
        company,
        address,
        tax_id,
    })
}
