//! The order ports on diesel: row structs, their conversion to domain orders, and the
//! queries, written once for both backends through the [`OrderSql`] trait (its body is
//! a macro instantiated for each connection type).
//!
//! Concurrency is held by the database: `orders_one_active_per_account` (one active
//! order per account) turns a lost activation race into a `Conflict`; invoice numbers
//! come from `invoice_counters` bumped with `UPDATE ... RETURNING` inside the
//! activating transaction (a row lock on PostgreSQL, the write lock on SQLite), so they
//! are gapless and never reused; every lifecycle write is conditional.

use std::sync::{LazyLock, Mutex, PoisonError};

use async_trait::async_trait;
use chrono::{DateTime, Datelike, NaiveDateTime, Utc};
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sqlite::{Sqlite, SqliteConnection};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tariff_domain::audit::{AuditEntry, AuditState};
use tariff_domain::orders::{
    Activation, BillingDirectory, BuyerDetails, ChangeVersions, Charges, InvoiceSnapshot,
    IssuedInvoice, LifecycleStore, NewOrder, Order, OrderActivation, OrderFilter, OrderItem,
    OrderRecord, OrderRepository, OrderStatus, SellerDetails,
};
use tariff_domain::shared::ConflictKind;
use tariff_domain::shared::{Page, PageRequest};
use tariff_domain::{
    AccountRef, AccountValidationError, Country, Currency, Money, OrderId, PlanId, PostalAddress,
    RepoError, TaxRate, UserId,
};

use crate::audit::{record_audit, NewAuditRow};
use crate::db::{Database, DbConn};
use crate::errors::DbError;
use crate::literals;
use crate::schema::{
    change_shards, invoice_counters, order_items, orders, organisations, plans, users,
};
use crate::statements::statement;
use crate::{transaction, with_conn};

/// An `orders` row as stored.
#[derive(Queryable, Selectable, Debug, Clone)]
#[diesel(table_name = orders)]
struct OrderRow {
    id: i64,
    account_kind: String,
    account_id: i64,
    user_id: Option<i64>,
    org_id: Option<i64>,
    plan_id: i64,
    status: String,
    currency: String,
    subtotal_minor: i64,
    tax_rate_bp: i32,
    tax_minor: i64,
    total_minor: i64,
    description: String,
    notes: Option<String>,
    payment_reference: Option<String>,
    renewal_of: Option<i64>,
    created_at: NaiveDateTime,
    activated_at: Option<NaiveDateTime>,
    expires_at: Option<NaiveDateTime>,
    cancelled_at: Option<NaiveDateTime>,
    invoice_year: Option<i32>,
    invoice_seq: Option<i64>,
    invoice_number: Option<String>,
    invoice_snapshot: Option<String>,
}

/// An `order_items` row.
#[derive(Queryable, Selectable, Debug, Clone)]
#[diesel(table_name = order_items)]
struct ItemRow {
    order_id: i64,
    description: String,
    quantity: i32,
    unit_price_minor: i64,
    amount_minor: i64,
}

statement! {
    /// A new order without its invoice; returns its id. Also `Insertable`, for the
    /// renewal's `ON CONFLICT DO NOTHING`, which is rare enough to be parsed each time.
    #[derive(Insertable)]
    #[diesel(table_name = orders)]
    InsertOrder -> diesel::sql_types::BigInt {
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
    }
    [
        "INSERT INTO orders (account_kind, account_id, user_id, org_id, plan_id, status, \
         currency, subtotal_minor, tax_rate_bp, tax_minor, total_minor, description, notes, \
         renewal_of, created_at) VALUES ("
        (account_kind: Text) ", " (account_id: BigInt) ", " (user_id: Nullable<BigInt>) ", "
        (org_id: Nullable<BigInt>) ", " (plan_id: BigInt) ", " (status: Text) ", "
        (currency: Text) ", " (subtotal_minor: BigInt) ", " (tax_rate_bp: Integer) ", "
        (tax_minor: BigInt) ", " (total_minor: BigInt) ", " (description: Text) ", "
        (notes: Nullable<Text>) ", " (renewal_of: Nullable<BigInt>) ", " (created_at: Timestamp)
        ") RETURNING id"
    ]
}

statement! {
    /// One line of a new order.
    InsertItem {
        order_id: i64,
        position: i32,
        description: String,
        quantity: i32,
        unit_price_minor: i64,
        amount_minor: i64,
    }
    [
        "INSERT INTO order_items (order_id, position, description, quantity, \
         unit_price_minor, amount_minor) VALUES ("
        (order_id: BigInt) ", " (position: Integer) ", " (description: Text) ", "
        (quantity: Integer) ", " (unit_price_minor: BigInt) ", " (amount_minor: BigInt) ")"
    ]
}

statement! {
    /// Cancels an account's active order because another replaces it.
    CancelReplaced {
        id: i64,
        status: &'static str,
        cancelled_at: NaiveDateTime,
        notes: String,
    }
    [
        "UPDATE orders SET status = " (status: Text) ", cancelled_at = "
        (cancelled_at: Timestamp) ", notes = " (notes: Text)
        " WHERE id = " (id: BigInt) " AND status = 'active'"
    ]
}

statement! {
    /// Makes a pending order active and returns its row; no row when it is no longer
    /// pending.
    MarkActive -> OrderRowSql {
        id: i64,
        status: &'static str,
        activated_at: NaiveDateTime,
        expires_at: NaiveDateTime,
        payment_reference: Option<String>,
    }
    [
        "UPDATE orders SET status = " (status: Text) ", activated_at = "
        (activated_at: Timestamp) ", expires_at = " (expires_at: Timestamp)
        ", payment_reference = " (payment_reference: Nullable<Text>)
        " WHERE id = " (id: BigInt) " AND status = 'pending' RETURNING " {*ORDER_ROW_COLUMNS}
    ]
}

statement! {
    /// Takes the year's next invoice sequence number; no row before the year's first.
    BumpInvoiceCounter -> diesel::sql_types::BigInt { year: i32 }
    [
        "UPDATE invoice_counters SET last_seq = last_seq + 1 WHERE year = " (year: Integer)
        " RETURNING last_seq"
    ]
}

statement! {
    /// PostgreSQL: a new order and its one line in one statement (one round trip fewer).
    InsertOrderWithLine -> diesel::sql_types::BigInt {
        order: InsertOrder,
        line: InsertItem,
    }
    [
        "WITH new_order AS (" {|statement| statement.order} "), \
         new_line AS (INSERT INTO order_items (order_id, position, description, quantity, \
         unit_price_minor, amount_minor) SELECT id, " (line.position: Integer) ", "
        (line.description: Text) ", " (line.quantity: Integer) ", "
        (line.unit_price_minor: BigInt) ", " (line.amount_minor: BigInt)
        " FROM new_order) SELECT id FROM new_order"
    ]
    for [::diesel::pg::Pg]
}

/// The SQL type of an [`OrderRow`], and its column list, for hand-written `RETURNING`.
type OrderRowSql = <<OrderRow as Selectable<Sqlite>>::SelectExpression as Expression>::SqlType;
static ORDER_ROW_COLUMNS: LazyLock<<OrderRow as Selectable<Sqlite>>::SelectExpression> =
    LazyLock::new(<OrderRow as Selectable<Sqlite>>::construct_selection);

statement! {
    /// Gives an order its invoice number and frozen details; returns the order's row.
    NumberInvoice -> OrderRowSql {
        id: i64,
        year: i32,
        seq: i64,
        number: String,
        snapshot: String,
    }
    [
        "UPDATE orders SET invoice_year = " (year: Integer) ", invoice_seq = " (seq: BigInt)
        ", invoice_number = " (number: Text) ", invoice_snapshot = " (snapshot: Text)
        " WHERE id = " (id: BigInt) " RETURNING " {*ORDER_ROW_COLUMNS}
    ]
}

impl InsertOrder {
    fn from_new(order: &NewOrder, status: OrderStatus) -> Result<InsertOrder, DbError> {
        let charges = order.charges();
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
        })
    }

    fn items(order: &NewOrder, order_id: i64) -> Result<Vec<InsertItem>, DbError> {
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

fn corrupt_input(what: &str) -> DbError {
    DbError::Repo(RepoError::internal(format!(
        "order {what} does not fit its column"
    )))
}

/// The frozen invoice snapshot as stored (JSON text in `orders.invoice_snapshot`).
#[derive(Serialize, Deserialize, Debug)]
#[serde(rename_all = "camelCase")]
struct SnapshotJson {
    version: u32,
    frozen_at: DateTime<Utc>,
    seller: SellerJson,
    buyer: BuyerJson,
}

#[derive(Serialize, Deserialize, Debug)]
#[serde(rename_all = "camelCase")]
struct SellerJson {
    company_name: String,
    issued_from_name: String,
    issued_from_address: String,
    logo_path: Option<String>,
}

#[derive(Serialize, Deserialize, Debug)]
#[serde(rename_all = "camelCase")]
struct BuyerJson {
    name: String,
    email: Option<String>,
    company: Option<String>,
    address_line1: Option<String>,
    address_line2: Option<String>,
    city: Option<String>,
    postcode: Option<String>,
    country: Option<String>,
    tax_id: Option<String>,
}

impl SnapshotJson {
    fn freeze(seller: &SellerDetails, buyer: BuyerDetails, at: DateTime<Utc>) -> SnapshotJson {
        SnapshotJson {
            version: 1,
            frozen_at: at,
            seller: SellerJson {
                company_name: seller.company_name.clone(),
                issued_from_name: seller.issued_from_name.clone(),
                issued_from_address: seller.issued_from_address.clone(),
                logo_path: seller.logo_path.clone(),
            },
            buyer: BuyerJson {
                name: buyer.name,
                email: buyer.email,
                company: buyer.company,
                address_line1: buyer.address.line1().map(str::to_owned),
                address_line2: buyer.address.line2().map(str::to_owned),
                city: buyer.address.city().map(str::to_owned),
                postcode: buyer.address.postcode().map(str::to_owned),
                country: buyer.address.country_code().map(str::to_owned),
                tax_id: buyer.tax_id,
            },
        }
    }

    fn into_domain(self) -> Result<InvoiceSnapshot, AccountValidationError> {
        Ok(InvoiceSnapshot {
            seller: SellerDetails {
                company_name: self.seller.company_name,
                issued_from_name: self.seller.issued_from_name,
                issued_from_address: self.seller.issued_from_address,
                logo_path: self.seller.logo_path,
            },
            buyer: BuyerDetails {
                name: self.buyer.name,
                email: self.buyer.email,
                company: self.buyer.company,
                address: postal_address(
                    self.buyer.address_line1,
                    self.buyer.address_line2,
                    self.buyer.city,
                    self.buyer.postcode,
                    self.buyer.country,
                )?,
                tax_id: self.buyer.tax_id,
            },
            frozen_at: self.frozen_at,
        })
    }
}

/// The buyer and seller as the invoice will show them forever, as stored JSON.
fn frozen_snapshot(buyer: BuyerDetails, activation: &Activation) -> Result<String, DbError> {
    let snapshot = SnapshotJson::freeze(&activation.seller, buyer, activation.activated_at);
    serde_json::to_string(&snapshot).map_err(|e| DbError::Repo(RepoError::Internal(Box::new(e))))
}

/// Converts a row and its lines, in one place.
fn to_order(row: OrderRow, items: Vec<ItemRow>) -> Result<Order, RepoError> {
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
    })
    .map_err(|e| RepoError::Internal(Box::new(e)))
}

type BuyerColumns = (
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

fn buyer_from(columns: BuyerColumns) -> Result<BuyerDetails, RepoError> {
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

/// A stored address, validated again on the way out.
fn postal_address(
    line1: Option<String>,
    line2: Option<String>,
    city: Option<String>,
    postcode: Option<String>,
    country: Option<String>,
) -> Result<PostalAddress, AccountValidationError> {
    PostalAddress::new(
        line1,
        line2,
        city,
        postcode,
        Country::parse_optional(country)?,
    )
}

/// The order queries, written once and compiled for each connection type.
trait OrderSql {
    /// Inserts an order row and its lines; returns the new id.
    /// Inserts an order and its lines; returns the new id and the lines as stored.
    fn insert_order(
        &mut self,
        order: &NewOrder,
        status: OrderStatus,
    ) -> Result<(i64, Vec<ItemRow>), DbError>;
    /// Inserts a pending renewal unless its predecessor already has one or is no
    /// longer active; the new id, or `None`.
    fn insert_renewal_if_absent(&mut self, order: &NewOrder) -> Result<Option<i64>, DbError>;
    /// Loads orders with their lines, in the rows' order.
    fn with_items(&mut self, rows: Vec<OrderRow>) -> Result<Vec<Order>, DbError>;
    fn load_order(&mut self, id: i64) -> Result<Order, DbError>;
    /// One order's lines, in order (a statement diesel caches, unlike `IN (...)`).
    fn items_of(&mut self, order_id: i64) -> Result<Vec<ItemRow>, DbError>;
    fn buyer_details(&mut self, account: AccountRef) -> Result<BuyerDetails, DbError>;
    /// Activates pending order `id`: replaces the account's active order, numbers the
    /// invoice and freezes the snapshot. Runs inside the caller's transaction.
    fn activate(&mut self, id: i64, activation: &Activation) -> Result<(), DbError>;
    /// Stores `order` and makes it the account's active order in one pass, recording
    /// `audit` with the replaced order as "before". Runs inside the caller's transaction;
    /// returns the order as stored.
    /// Inserts `order` as the account's active order, numbered. `turn`, when given, is
    /// held while the year's counter is locked and numbered.
    fn create_active(
        &mut self,
        order: &NewOrder,
        activation: &Activation,
        audit: Option<&AuditEntry>,
        turn: Option<&Mutex<()>>,
    ) -> Result<Order, DbError>;
    /// Cancels the account's active orders other than `except` with the note "replaced by
    /// order #`by`"; returns them as they were before, with their lines.
    fn replace_active(
        &mut self,
        account: AccountRef,
        except: Option<i64>,
        by: i64,
        at: NaiveDateTime,
    ) -> Result<Vec<(OrderRow, Vec<ItemRow>)>, DbError>;
    /// Moves pending order `id` to active with the activation's dates and reference;
    /// returns its row, or `Conflict` when it is no longer pending.
    fn mark_active(&mut self, id: i64, activation: &Activation) -> Result<OrderRow, DbError>;
    /// Numbers a just-activated order (`active` is its row) and records `audit` with the
    /// order as numbered (`items`, its lines, are read only for that); returns the
    /// numbered row. The year's counter is locked here, so this comes last. Both
    /// activations (a new order, a paid pending one) number through it.
    fn number_and_record(
        &mut self,
        active: OrderRow,
        items: &[ItemRow],
        snapshot: String,
        activation: &Activation,
        audit: Option<AuditEntry>,
    ) -> Result<OrderRow, DbError>;
    /// The next gapless invoice number of `year`: locks the year's counter row until
    /// commit, so call it as late in the transaction as possible.
    fn next_invoice_seq(&mut self, year: i32) -> Result<i64, DbError>;
    /// The year's counter row at 0, unless it exists (its first invoice).
    fn create_invoice_counter(&mut self, year: i32) -> Result<(), DbError>;
    fn write_number(&mut self, number: NumberInvoice) -> Result<OrderRow, DbError>;
    fn record(&mut self, audit: &AuditEntry) -> Result<(), DbError>;
    fn list_for_accounts(&mut self, users: Vec<i64>, orgs: Vec<i64>)
        -> Result<Vec<Order>, DbError>;
    fn search(&mut self, filter: OrderFilter, page: PageRequest) -> Result<Page<Order>, DbError>;
}

/// Orders matching an admin filter, as a boxed query (compiled per backend).
macro_rules! filtered_orders {
    ($filter:expr) => {{
        let filter: &OrderFilter = $filter;
        let mut query = orders::table.into_boxed();
        if let Some(status) = filter.status {
            query = query.filter(orders::status.eq(status.as_str()));
        }
        if let Some(user) = filter.user {
            query = query.filter(orders::user_id.eq(user.get()));
        }
        if let Some(org) = filter.org {
            query = query.filter(orders::org_id.eq(org.get()));
        }
        if let Some(text) = &filter.text {
            let pattern = crate::users::contains_pattern(text);
            query = query.filter(
                orders::description
                    .like(pattern.clone())
                    .escape('\\')
                    .or(orders::invoice_number.like(pattern).escape('\\')),
            );
        }
        query
    }};
}

/// Numbers an order in two statements (take the sequence, then write the number) and
/// records the audit entry in a third.
fn number_and_record_stepwise<C>(
    conn: &mut C,
    active: OrderRow,
    items: &[ItemRow],
    snapshot: String,
    activation: &Activation,
    audit: Option<AuditEntry>,
) -> Result<OrderRow, DbError>
where
    C: OrderSql,
{
    let year = activation.activated_at.year();
    let seq = conn.next_invoice_seq(year)?;
    let row = conn.write_number(NumberInvoice {
        id: active.id,
        year,
        seq,
        number: activation.numbering.render(year, seq),
        snapshot,
    })?;
    if let Some(entry) = audit {
        let numbered = to_order(row.clone(), items.to_vec()).map_err(DbError::Repo)?;
        conn.record(&entry.with_after(numbered.audit_state()))?;
    }
    Ok(row)
}

/// The audit's `invoiceNumber` before the database knows it: [`NumberAndRecord`] puts
/// the number in its place. serde_json writes U+0001 as `\u0001`, so no other value of
/// the compact JSON can read `"invoiceNumber":"\u0001"` (the quotes of any string value
/// inside are escaped).
const NUMBER_MARK: &str = "\u{1}";

statement! {
    /// PostgreSQL: takes the year's next sequence number, writes the order's invoice
    /// number, and records the audit entry, in one statement. Why: the counter row stays
    /// locked until commit, and every activation of the year waits for it; one round trip
    /// instead of three while holding it more than doubled activations per second. The
    /// number is `before || seq zero-padded to width || after` (see
    /// `InvoiceNumberFormat::around_seq`); the audit's after-state has the number's place
    /// marked (`mark`). No row when the year has no counter yet.
    NumberAndRecord -> OrderRowSql {
        id: i64,
        year: i32,
        before: String,
        width: i32,
        after: String,
        snapshot: String,
        with_audit: bool,
        actor_user_id: Option<i64>,
        action: &'static str,
        target_kind: &'static str,
        target_id: Option<i64>,
        before_state: Option<String>,
        after_state: String,
        mark: String,
        key: &'static str,
        created_at: NaiveDateTime,
    }
    [
        "WITH seq AS (UPDATE invoice_counters SET last_seq = last_seq + 1 WHERE year = "
        (year: Integer) " RETURNING last_seq), \
         numbered AS (SELECT last_seq, " (before: Text) " || CASE WHEN length(last_seq::text) >= "
        (width: Integer) " THEN last_seq::text ELSE lpad(last_seq::text, " (width: Integer)
        ", '0') END || " (after: Text) " AS number FROM seq), \
         updated AS (UPDATE orders SET invoice_year = " (year: Integer)
        ", invoice_seq = numbered.last_seq, invoice_number = numbered.number, invoice_snapshot = "
        (snapshot: Text) " FROM numbered WHERE orders.id = " (id: BigInt) " RETURNING "
        {*ORDER_ROW_COLUMNS} "), \
         audited AS (INSERT INTO audit_log (actor_user_id, action, target_kind, target_id, \
         before_state, after_state, created_at) SELECT " (actor_user_id: Nullable<BigInt>) ", "
        (action: Text) ", " (target_kind: Text) ", " (target_id: Nullable<BigInt>) ", "
        (before_state: Nullable<Text>) ", replace(" (after_state: Text) ", "
        (key: Text) " || " (mark: Text) ", " (key: Text) " || to_json(numbered.number)::text), "
        (created_at: Timestamp) " FROM numbered WHERE " (with_audit: Bool) ") \
         SELECT * FROM updated"
    ]
    for [::diesel::pg::Pg]
}

/// Inserts an order, then each of its lines.
fn insert_order_stepwise<C>(
    conn: &mut C,
    order: &NewOrder,
    status: OrderStatus,
) -> Result<(i64, Vec<ItemRow>), DbError>
where
    C: diesel::connection::LoadConnection,
    for<'q> InsertOrder: diesel::query_dsl::LoadQuery<'q, C, i64>,
    InsertItem: diesel::query_dsl::methods::ExecuteDsl<C>,
{
    let id: i64 = InsertOrder::from_new(order, status)?.get_result(conn)?;
    let mut lines = Vec::new();
    for item in InsertOrder::items(order, id)? {
        lines.push(ItemRow::from(&item));
        item.execute(conn)?;
    }
    Ok((id, lines))
}

/// PostgreSQL: an order with one line (a plan's order) in one statement; others in steps.
fn insert_order_at_once(
    conn: &mut PgConnection,
    order: &NewOrder,
    status: OrderStatus,
) -> Result<(i64, Vec<ItemRow>), DbError> {
    let mut lines = InsertOrder::items(order, 0)?;
    if lines.len() != 1 {
        return insert_order_stepwise(conn, order, status);
    }
    let line = lines.remove(0);
    let mut stored = ItemRow::from(&line);
    let id: i64 = InsertOrderWithLine {
        order: InsertOrder::from_new(order, status)?,
        line,
    }
    .get_result(conn)?;
    stored.order_id = id;
    Ok((id, vec![stored]))
}

/// PostgreSQL: [`NumberAndRecord`] when the number format has one sequence number, else
/// [`number_and_record_stepwise`].
fn number_and_record_at_once(
    conn: &mut PgConnection,
    active: OrderRow,
    items: &[ItemRow],
    snapshot: String,
    activation: &Activation,
    audit: Option<AuditEntry>,
) -> Result<OrderRow, DbError> {
    let year = activation.activated_at.year();
    let Some(slot) = activation.numbering.around_seq(year) else {
        return number_and_record_stepwise(conn, active, items, snapshot, activation, audit);
    };
    let key = "\"invoiceNumber\":";
    let mark = serde_json::to_string(NUMBER_MARK).map_err(|e| corrupt_json(&e))?;
    let id = active.id;
    let entry = match audit {
        Some(entry) => {
            // The order as it will be numbered, with the number's place marked (the
            // sequence is not part of the audit state).
            let mut marked = active;
            marked.invoice_year = Some(year);
            marked.invoice_seq = Some(0);
            marked.invoice_number = Some(NUMBER_MARK.to_owned());
            marked.invoice_snapshot = Some(snapshot.clone());
            let after = to_order(marked, items.to_vec())
                .map_err(DbError::Repo)?
                .audit_state();
            Some(NewAuditRow::from_entry(&entry.with_after(after)))
        }
        None => None,
    };
    let statement = || NumberAndRecord {
        id,
        year,
        before: slot.before.clone(),
        width: i32::try_from(slot.width).unwrap_or(0),
        after: slot.after.clone(),
        snapshot: snapshot.clone(),
        with_audit: entry.is_some(),
        actor_user_id: entry.as_ref().and_then(|e| e.actor_user_id),
        action: entry.as_ref().map_or("", |e| e.action),
        target_kind: entry.as_ref().map_or("", |e| e.target_kind),
        target_id: entry.as_ref().and_then(|e| e.target_id),
        before_state: entry.as_ref().and_then(|e| e.before_state.clone()),
        after_state: entry
            .as_ref()
            .and_then(|e| e.after_state.clone())
            .unwrap_or_default(),
        mark: mark.clone(),
        key,
        created_at: entry
            .as_ref()
            .map_or(activation.activated_at.naive_utc(), |e| e.created_at),
    };
    if let Some(row) = statement().get_result(conn).optional()? {
        return Ok(row);
    }
    // The year's first invoice: create its counter, then number.
    conn.create_invoice_counter(year)?;
    Ok(statement().get_result(conn)?)
}

fn corrupt_json(err: &serde_json::Error) -> DbError {
    DbError::Repo(RepoError::internal(format!("cannot encode JSON: {err}")))
}

macro_rules! impl_order_sql {
    ($conn:ty, $insert_order:ident, $number_and_record:ident) => {
        impl OrderSql for $conn {
            fn number_and_record(
                &mut self,
                active: OrderRow,
                items: &[ItemRow],
                snapshot: String,
                activation: &Activation,
                audit: Option<AuditEntry>,
            ) -> Result<OrderRow, DbError> {
                $number_and_record(self, active, items, snapshot, activation, audit)
            }

            fn insert_order(
                &mut self,
                order: &NewOrder,
                status: OrderStatus,
            ) -> Result<(i64, Vec<ItemRow>), DbError> {
                $insert_order(self, order, status)
            }

            fn insert_renewal_if_absent(
                &mut self,
                order: &NewOrder,
            ) -> Result<Option<i64>, DbError> {
                let Some(previous) = order.renewal_of() else {
                    return Err(DbError::Repo(RepoError::internal(
                        "a renewal needs its predecessor",
                    )));
                };
                let still_active: i64 = orders::table
                    .filter(orders::id.eq(previous.get()))
                    .filter(orders::status.eq(literals::Active))
                    .count()
                    .get_result(self)?;
                if still_active == 0 {
                    return Ok(None);
                }
                // `orders_one_renewal` makes a second renewal a no-op, also when another
                // instance inserts at the same moment.
                let id: Option<i64> = diesel::insert_into(orders::table)
                    .values(InsertOrder::from_new(order, OrderStatus::Pending)?)
                    .on_conflict_do_nothing()
                    .returning(orders::id)
                    .get_result(self)
                    .optional()?;
                if let Some(id) = id {
                    for item in InsertOrder::items(order, id)? {
                        item.execute(self)?;
                    }
                }
                Ok(id)
            }

            fn with_items(&mut self, rows: Vec<OrderRow>) -> Result<Vec<Order>, DbError> {
                let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
                let mut items: Vec<ItemRow> = order_items::table
                    .filter(order_items::order_id.eq_any(&ids))
                    .order((order_items::order_id.asc(), order_items::position.asc()))
                    .select(ItemRow::as_select())
                    .load(self)?;
                let mut by_order: std::collections::HashMap<i64, Vec<ItemRow>> =
                    std::collections::HashMap::new();
                for item in items.drain(..) {
                    by_order.entry(item.order_id).or_default().push(item);
                }
                rows.into_iter()
                    .map(|row| {
                        let lines = by_order.remove(&row.id).unwrap_or_default();
                        to_order(row, lines).map_err(DbError::Repo)
                    })
                    .collect()
            }

            fn load_order(&mut self, id: i64) -> Result<Order, DbError> {
                let row: OrderRow = orders::table
                    .find(id)
                    .select(OrderRow::as_select())
                    .get_result(self)?;
                let lines = self.items_of(id)?;
                to_order(row, lines).map_err(DbError::Repo)
            }

            fn items_of(&mut self, order_id: i64) -> Result<Vec<ItemRow>, DbError> {
                Ok(order_items::table
                    .filter(order_items::order_id.eq(order_id))
                    .order(order_items::position.asc())
                    .select(ItemRow::as_select())
                    .load(self)?)
            }

            fn buyer_details(&mut self, account: AccountRef) -> Result<BuyerDetails, DbError> {
                let columns: BuyerColumns = match account {
                    AccountRef::User(user) => users::table
                        .find(user.get())
                        .select((
                            users::name,
                            users::email.nullable(),
                            users::company,
                            users::address_line1,
                            users::address_line2,
                            users::city,
                            users::postcode,
                            users::country,
                            users::tax_id,
                        ))
                        .get_result(self)?,
                    AccountRef::Org(org) => organisations::table
                        .find(org.get())
                        .select((
                            organisations::name,
                            None::<String>
                                .into_sql::<diesel::sql_types::Nullable<diesel::sql_types::Text>>(),
                            organisations::company,
                            organisations::address_line1,
                            organisations::address_line2,
                            organisations::city,
                            organisations::postcode,
                            organisations::country,
                            organisations::tax_id,
                        ))
                        .get_result(self)?,
                };
                Ok(buyer_from(columns)?)
            }

            fn activate(&mut self, id: i64, activation: &Activation) -> Result<(), DbError> {
                let (kind, account_id, status, numbered): (String, i64, String, Option<i64>) =
                    orders::table
                        .find(id)
                        .select((
                            orders::account_kind,
                            orders::account_id,
                            orders::status,
                            orders::invoice_seq,
                        ))
                        .get_result(self)?;
                if status != OrderStatus::Pending.as_str() {
                    return Err(DbError::Repo(RepoError::Conflict(
                        ConflictKind::ChangedMeanwhile,
                    )));
                }
                let account = AccountRef::from_parts(&kind, account_id).ok_or_else(|| {
                    DbError::Repo(RepoError::internal(format!(
                        "order {id} has a corrupt account"
                    )))
                })?;
                let at = activation.activated_at.naive_utc();
                // The previous active order is cancelled first, so the unique index
                // admits the new one.
                self.replace_active(account, Some(id), id, at)?;
                let active = self.mark_active(id, activation)?;
                if numbered.is_none() {
                    // Everything that needs no lock comes first: the counter row is the
                    // one hot row every activation of the year serialises on (PostgreSQL
                    // holds its lock until commit), so it is taken as late as possible.
                    // The caller records the audit entry, from the order as committed.
                    let snapshot = frozen_snapshot(self.buyer_details(account)?, activation)?;
                    self.number_and_record(active, &[], snapshot, activation, None)?;
                }
                Ok(())
            }

            fn create_active(
                &mut self,
                order: &NewOrder,
                activation: &Activation,
                audit: Option<&AuditEntry>,
                turn: Option<&Mutex<()>>,
            ) -> Result<Order, DbError> {
                let account = order.account();
                let at = activation.activated_at.naive_utc();
                let (id, items) = self.insert_order(order, OrderStatus::Pending)?;
                let replaced = self.replace_active(account, Some(id), id, at)?;
                let before = match (audit, replaced.into_iter().next_back()) {
                    (Some(_), Some((previous, lines))) => to_order(previous, lines)
                        .map_err(DbError::Repo)?
                        .audit_state(),
                    _ => Value::Null,
                };
                // Activate before numbering: waiting on the one-active-order index (for
                // a concurrent activation of the same account) must never happen while
                // holding the counter's lock, or two activations can deadlock.
                let active = self.mark_active(id, activation)?;
                let snapshot = frozen_snapshot(self.buyer_details(account)?, activation)?;
                // Last: the counter row's lock is held until commit (see `activate`).
                let audit = audit.map(|entry| entry.clone().with_before(before));
                let held = turn.map(|turn| turn.lock().unwrap_or_else(PoisonError::into_inner));
                let row = self.number_and_record(active, &items, snapshot, activation, audit)?;
                drop(held);
                to_order(row, items).map_err(DbError::Repo)
            }

            fn replace_active(
                &mut self,
                account: AccountRef,
                except: Option<i64>,
                by: i64,
                at: NaiveDateTime,
            ) -> Result<Vec<(OrderRow, Vec<ItemRow>)>, DbError> {
                // With their lines in the same query: one round trip fewer on PostgreSQL.
                let joined: Vec<(OrderRow, Option<ItemRow>)> = orders::table
                    .left_join(order_items::table)
                    .filter(orders::account_kind.eq(account.kind()))
                    .filter(orders::account_id.eq(account.raw_id()))
                    .filter(orders::status.eq(literals::Active))
                    .filter(orders::id.ne(except.unwrap_or(0)))
                    .order((orders::id.asc(), order_items::position.asc()))
                    .select((OrderRow::as_select(), Option::<ItemRow>::as_select()))
                    .load(self)?;
                let mut previous: Vec<(OrderRow, Vec<ItemRow>)> = Vec::new();
                for (row, item) in joined {
                    match previous.last_mut() {
                        Some((last, lines)) if last.id == row.id => lines.extend(item),
                        _ => previous.push((row, item.into_iter().collect())),
                    }
                }
                for (row, _) in &previous {
                    let note = format!("replaced by order #{by}");
                    let notes = match row.notes.as_deref().filter(|n| !n.trim().is_empty()) {
                        Some(existing) => format!("{existing}\n{note}"),
                        None => note,
                    };
                    CancelReplaced {
                        id: row.id,
                        status: OrderStatus::Cancelled.as_str(),
                        cancelled_at: at,
                        notes,
                    }
                    .execute(self)?;
                }
                Ok(previous)
            }

            fn mark_active(
                &mut self,
                id: i64,
                activation: &Activation,
            ) -> Result<OrderRow, DbError> {
                MarkActive {
                    id,
                    status: OrderStatus::Active.as_str(),
                    activated_at: activation.activated_at.naive_utc(),
                    expires_at: activation.expires_at.naive_utc(),
                    payment_reference: activation.payment_reference.clone(),
                }
                .get_result(self)
                .optional()?
                .ok_or(DbError::Repo(RepoError::Conflict(
                    ConflictKind::ChangedMeanwhile,
                )))
            }

            fn write_number(&mut self, number: NumberInvoice) -> Result<OrderRow, DbError> {
                Ok(number.get_result(self)?)
            }

            fn record(&mut self, audit: &AuditEntry) -> Result<(), DbError> {
                Ok(record_audit!(self, &Some(audit))?)
            }

            fn next_invoice_seq(&mut self, year: i32) -> Result<i64, DbError> {
                let bump = || BumpInvoiceCounter { year };
                // The year's row exists after its first invoice: one statement, mostly.
                if let Some(seq) = bump().get_result(self).optional()? {
                    return Ok(seq);
                }
                self.create_invoice_counter(year)?;
                Ok(bump().get_result(self)?)
            }

            fn create_invoice_counter(&mut self, year: i32) -> Result<(), DbError> {
                diesel::insert_into(invoice_counters::table)
                    .values((
                        invoice_counters::year.eq(year),
                        invoice_counters::last_seq.eq(0_i64),
                    ))
                    .on_conflict_do_nothing()
                    .execute(self)?;
                Ok(())
            }

            fn list_for_accounts(
                &mut self,
                users: Vec<i64>,
                orgs: Vec<i64>,
            ) -> Result<Vec<Order>, DbError> {
                // Only name the organisation clause when there are organisations: an
                // empty `IN ()` inside the OR makes SQLite scan the whole table instead
                // of searching the account index.
                let users_clause = orders::account_kind
                    .eq("user")
                    .and(orders::account_id.eq_any(users));
                let query = orders::table
                    .select(OrderRow::as_select())
                    .order(orders::id.desc());
                let rows: Vec<OrderRow> = if orgs.is_empty() {
                    query.filter(users_clause).load(self)?
                } else {
                    query
                        .filter(
                            users_clause.or(orders::account_kind
                                .eq("org")
                                .and(orders::account_id.eq_any(orgs))),
                        )
                        .load(self)?
                };
                self.with_items(rows)
            }

            fn search(
                &mut self,
                filter: OrderFilter,
                page: PageRequest,
            ) -> Result<Page<Order>, DbError> {
                let total: i64 = filtered_orders!(&filter).count().get_result(self)?;
                let offset = i64::try_from(page.offset()).unwrap_or(i64::MAX);
                let rows: Vec<OrderRow> = filtered_orders!(&filter)
                    .order(orders::id.desc())
                    .limit(i64::try_from(page.limit()).unwrap_or(i64::MAX))
                    .offset(offset)
                    .select(OrderRow::as_select())
                    .load(self)?;
                Ok(Page::new(
                    self.with_items(rows)?,
                    u64::try_from(total).unwrap_or(0),
                ))
            }
        }
    };
}

impl_order_sql!(
    SqliteConnection,
    insert_order_stepwise,
    number_and_record_stepwise
);
impl_order_sql!(
    PgConnection,
    insert_order_at_once,
    number_and_record_at_once
);

/// Orders, activations, billing details and the lifecycle store on diesel.
#[derive(Clone)]
pub struct DieselOrderRepository {
    db: Database,
}

impl DieselOrderRepository {
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

#[async_trait]
impl OrderRepository for DieselOrderRepository {
    async fn insert_pending(&self, order: NewOrder) -> Result<Order, RepoError> {
        self.db
            .write(move |conn| {
                transaction!(conn, c => {
                    let (id, _) = c.insert_order(&order, OrderStatus::Pending)?;
                    c.load_order(id)
                })
            })
            .await
    }

    async fn get(&self, id: OrderId) -> Result<Order, RepoError> {
        self.db
            .query(move |conn| with_conn!(conn, c => c.load_order(id.get())))
            .await
    }

    async fn list_for_accounts(&self, accounts: Vec<AccountRef>) -> Result<Vec<Order>, RepoError> {
        let users: Vec<i64> = accounts
            .iter()
            .filter_map(|a| match a {
                AccountRef::User(u) => Some(u.get()),
                AccountRef::Org(_) => None,
            })
            .collect();
        let orgs: Vec<i64> = accounts
            .iter()
            .filter_map(|a| match a {
                AccountRef::Org(o) => Some(o.get()),
                AccountRef::User(_) => None,
            })
            .collect();
        self.db
            .query(move |conn| with_conn!(conn, c => c.list_for_accounts(users, orgs)))
            .await
    }

    async fn search(
        &self,
        filter: OrderFilter,
        page: PageRequest,
    ) -> Result<Page<Order>, RepoError> {
        self.db
            .query(move |conn| with_conn!(conn, c => c.search(filter, page)))
            .await
    }

    async fn active_for(&self, account: AccountRef) -> Result<Option<Order>, RepoError> {
        self.db
            .query(move |conn| {
                with_conn!(conn, c => {
                    let row: Option<OrderRow> = orders::table
                        .filter(orders::account_kind.eq(account.kind()))
                        .filter(orders::account_id.eq(account.raw_id()))
                        .filter(orders::status.eq(literals::Active))
                        .select(OrderRow::as_select())
                        .get_result(c)
                        .optional()?;
                    match row {
                        Some(row) => Ok(c.with_items(vec![row])?.pop()),
                        None => Ok(None),
                    }
                })
            })
            .await
    }

    async fn transition(
        &self,
        id: OrderId,
        from: OrderStatus,
        to: OrderStatus,
        at: DateTime<Utc>,
        audit: Option<AuditEntry>,
    ) -> Result<Order, RepoError> {
        let cancelled_at = (to == OrderStatus::Cancelled).then(|| at.naive_utc());
        self.db
            .write(move |conn| {
                transaction!(conn, c => {
                    let before = match &audit {
                        Some(_) => Some(c.load_order(id.get())?),
                        None => None,
                    };
                    let target = orders::table
                        .filter(orders::id.eq(id.get()))
                        .filter(orders::status.eq(from.as_str()));
                    let changed = match cancelled_at {
                        Some(when) => diesel::update(target)
                            .set((orders::status.eq(to.as_str()), orders::cancelled_at.eq(when)))
                            .execute(c)?,
                        None => diesel::update(target)
                            .set(orders::status.eq(to.as_str()))
                            .execute(c)?,
                    };
                    if changed == 0 {
                        // Distinguish "no such order" (NotFound) from "someone changed it first".
                        c.load_order(id.get())?;
                        return Err(DbError::Repo(RepoError::Conflict(
                            ConflictKind::ChangedMeanwhile,
                        )));
                    }
                    let after = c.load_order(id.get())?;
                    let audit = audit.map(|entry| {
                        entry
                            .with_before(before.as_ref().map_or(Value::Null, AuditState::audit_state))
                            .with_after(after.audit_state())
                    });
                    record_audit!(c, &audit)?;
                    Ok(after)
                })
            })
            .await
    }
}

#[async_trait]
impl OrderActivation for DieselOrderRepository {
    async fn create_active(
        &self,
        order: NewOrder,
        activation: Activation,
        audit: Option<AuditEntry>,
    ) -> Result<Order, RepoError> {
        let turn = self.db.counter_turn();
        self.db
            .write(move |conn| {
                // On PostgreSQL this instance's activations take turns for the counter
                // (see `Database::counter_turn`). SQLite's writer is already alone.
                let turn = matches!(conn, DbConn::Postgres(_)).then_some(&*turn);
                transaction!(conn, c => c.create_active(&order, &activation, audit.as_ref(), turn))
            })
            .await
    }

    async fn activate_pending(
        &self,
        id: OrderId,
        activation: Activation,
        audit: Option<AuditEntry>,
    ) -> Result<Order, RepoError> {
        self.db
            .write(move |conn| {
                transaction!(conn, c => {
                    let before = match &audit {
                        Some(_) => Some(c.load_order(id.get())?.audit_state()),
                        None => None,
                    };
                    c.activate(id.get(), &activation)?;
                    if let (Some(entry), Some(before)) = (&audit, before) {
                        let after = c.load_order(id.get())?.audit_state();
                        record_audit!(c, &Some(entry.clone().with_before(before).with_after(after)))?;
                    }
                    Ok(())
                })?;
                with_conn!(conn, c => c.load_order(id.get()))
            })
            .await
    }
}

#[async_trait]
impl ChangeVersions for DieselOrderRepository {
    async fn shard_versions(&self) -> Result<Vec<(i64, i64)>, RepoError> {
        let rows: Vec<(i32, i64)> = self
            .db
            .query(move |conn| {
                with_conn!(conn, c => change_shards::table
                    .select((change_shards::shard, change_shards::version))
                    .load(c)
                    .map_err(DbError::from))
            })
            .await?;
        Ok(rows
            .into_iter()
            .map(|(shard, version)| (i64::from(shard), version))
            .collect())
    }
}

#[async_trait]
impl BillingDirectory for DieselOrderRepository {
    async fn billing_details(&self, account: AccountRef) -> Result<BuyerDetails, RepoError> {
        self.db
            .query(move |conn| with_conn!(conn, c => c.buyer_details(account)))
            .await
    }
}

#[async_trait]
impl LifecycleStore for DieselOrderRepository {
    async fn renewal_candidates(&self, horizon: DateTime<Utc>) -> Result<Vec<Order>, RepoError> {
        let horizon = horizon.naive_utc();
        self.db
            .query(move |conn| {
                with_conn!(conn, c => {
                    let rows: Vec<OrderRow> = orders::table
                        .inner_join(plans::table)
                        .filter(orders::status.eq(literals::Active))
                        .filter(orders::expires_at.le(horizon))
                        .filter(plans::price_monthly_minor.gt(0_i64))
                        .order(orders::id.asc())
                        .select(OrderRow::as_select())
                        .load(c)?;
                    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
                    let renewed: Vec<Option<i64>> = orders::table
                        .filter(orders::renewal_of.eq_any(&ids))
                        .select(orders::renewal_of)
                        .load(c)?;
                    let renewed: std::collections::HashSet<i64> = renewed.into_iter().flatten().collect();
                    let rows = rows.into_iter().filter(|r| !renewed.contains(&r.id)).collect();
                    c.with_items(rows)
                })
            })
            .await
    }

    async fn insert_renewal(&self, order: NewOrder) -> Result<Option<Order>, RepoError> {
        self.db
            .write(move |conn| {
                transaction!(conn, c => {
                    match c.insert_renewal_if_absent(&order)? {
                        Some(id) => Ok(Some(c.load_order(id)?)),
                        None => Ok(None),
                    }
                })
            })
            .await
    }

    async fn free_orders_due(&self, now: DateTime<Utc>) -> Result<Vec<Order>, RepoError> {
        let now = now.naive_utc();
        self.db
            .query(move |conn| {
                with_conn!(conn, c => {
                    let rows: Vec<OrderRow> = orders::table
                        .inner_join(plans::table)
                        .filter(orders::status.eq(literals::Active))
                        .filter(orders::expires_at.le(now))
                        .filter(plans::price_monthly_minor.eq(0_i64))
                        .order(orders::id.asc())
                        .select(OrderRow::as_select())
                        .load(c)?;
                    c.with_items(rows)
                })
            })
            .await
    }

    async fn extend(
        &self,
        id: OrderId,
        current: DateTime<Utc>,
        new: DateTime<Utc>,
    ) -> Result<bool, RepoError> {
        let (current, new) = (current.naive_utc(), new.naive_utc());
        self.db
            .write(move |conn| {
                with_conn!(conn, c => {
                    let changed = diesel::update(
                        orders::table
                            .filter(orders::id.eq(id.get()))
                            .filter(orders::status.eq(literals::Active))
                            .filter(orders::expires_at.eq(current)),
                    )
                    .set(orders::expires_at.eq(new))
                    .execute(c)?;
                    Ok(changed == 1)
                })
            })
            .await
    }

    async fn expire_active(&self, now: DateTime<Utc>) -> Result<u64, RepoError> {
        let now = now.naive_utc();
        self.db
            .write(move |conn| {
                with_conn!(conn, c => {
                    let paid_plans = plans::table
                        .filter(plans::price_monthly_minor.gt(0_i64))
                        .select(plans::id);
                    let due: Vec<i64> = orders::table
                        .filter(orders::status.eq(literals::Active))
                        .filter(orders::expires_at.le(now))
                        .filter(orders::plan_id.eq_any(paid_plans))
                        .order(orders::id.asc())
                        .select(orders::id)
                        .load(c)?;
                    // One conditional single-row statement each: a concurrent sweep or
                    // activation can never hold one row while waiting for another
                    // (no deadlock), and a row changed meanwhile is simply skipped.
                    let mut changed = 0_u64;
                    for id in due {
                        changed += diesel::update(
                            orders::table
                                .filter(orders::id.eq(id))
                                .filter(orders::status.eq(literals::Active))
                                .filter(orders::expires_at.le(now)),
                        )
                        .set(orders::status.eq(OrderStatus::Expired.as_str()))
                        .execute(c)? as u64;
                    }
                    Ok(changed)
                })
            })
            .await
    }

    async fn expire_pending(&self, created_before: DateTime<Utc>) -> Result<u64, RepoError> {
        let before = created_before.naive_utc();
        self.db
            .write(move |conn| {
                with_conn!(conn, c => {
                    let stale: Vec<i64> = orders::table
                        .filter(orders::status.eq(literals::Pending))
                        .filter(orders::created_at.le(before))
                        .order(orders::id.asc())
                        .select(orders::id)
                        .load(c)?;
                    let mut changed = 0_u64;
                    for id in stale {
                        changed += diesel::update(
                            orders::table
                                .filter(orders::id.eq(id))
                                .filter(orders::status.eq(literals::Pending)),
                        )
                        .set(orders::status.eq(OrderStatus::Expired.as_str()))
                        .execute(c)? as u64;
                    }
                    Ok(changed)
                })
            })
            .await
    }
}
