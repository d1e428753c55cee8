//! `payments`, `gateway_events`, `checkout_sessions` and `gateway_customers` rows, apart
//! from the domain's types, and their conversion in one place.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use tariff_domain::payments::{
    CheckoutSession, CheckoutSessionId, Payment, PaymentProvider, PaymentStatus, StoredCheckout,
};
use tariff_domain::{Currency, Money, OrderId, RepoError};

use crate::schema::{checkout_sessions, gateway_events, payments};

#[derive(Queryable, Selectable, Debug, Clone)]
#[diesel(table_name = payments)]
pub(super) struct PaymentRow {
    pub(super) id: i64,
    pub(super) order_id: i64,
    pub(super) provider: String,
    pub(super) reference: Option<String>,
    pub(super) amount_minor: i64,
    pub(super) currency: String,
    pub(super) status: String,
    pub(super) created_at: NaiveDateTime,
}

#[derive(Insertable, Debug)]
#[diesel(table_name = payments)]
pub(super) struct NewPaymentRow<'a> {
    pub(super) order_id: i64,
    pub(super) provider: &'a str,
    pub(super) reference: Option<&'a str>,
    pub(super) amount_minor: i64,
    pub(super) currency: &'a str,
    pub(super) status: &'a str,
    pub(super) gateway_event_id: Option<&'a str>,
    pub(super) created_at: NaiveDateTime,
}

#[derive(Insertable, Debug)]
#[diesel(table_name = gateway_events)]
pub(super) struct NewGatewayEventRow<'a> {
    pub(super) provider: &'a str,
    pub(super) event_id: &'a str,
    pub(super) event_type: &'a str,
    pub(super) outcome: &'a str,
    pub(super) order_id: Option<i64>,
    pub(super) received_at: NaiveDateTime,
}

#[derive(Queryable, Selectable, Debug, Clone)]
#[diesel(table_name = checkout_sessions)]
pub(super) struct CheckoutRow {
    pub(super) attempt: i32,
    pub(super) session_id: String,
    pub(super) url: String,
    pub(super) expires_at: Option<NaiveDateTime>,
}

#[derive(Insertable, Debug)]
#[diesel(table_name = checkout_sessions)]
pub(super) struct NewCheckoutRow<'a> {
    pub(super) order_id: i64,
    pub(super) provider: &'a str,
    pub(super) attempt: i32,
    pub(super) session_id: &'a str,
    pub(super) url: &'a str,
    pub(super) expires_at: Option<NaiveDateTime>,
    pub(super) created_at: NaiveDateTime,
}

pub(super) fn to_payment(row: PaymentRow) -> Result<Payment, RepoError> {
    let id = row.id;
    let corrupt = |what: &str| RepoError::internal(format!("payment {id} has corrupt {what}"));
    let currency = Currency::from_code(&row.currency).map_err(|_| corrupt("currency"))?;
    Ok(Payment::restore(
        id,
        OrderId::new(row.order_id).ok_or_else(|| corrupt("order id"))?,
        PaymentProvider::from_tag(&row.provider).ok_or_else(|| corrupt("provider"))?,
        row.reference,
        Money::from_minor(row.amount_minor, currency),
        row.status
            .parse::<PaymentStatus>()
            .map_err(|_| corrupt("status"))?,
        row.created_at.and_utc(),
    ))
}

pub(super) fn to_checkout(row: CheckoutRow) -> Result<StoredCheckout, RepoError> {
    let corrupt = || RepoError::internal("checkout session row is corrupt");
    Ok(StoredCheckout {
        attempt: u32::try_from(row.attempt).map_err(|_| corrupt())?,
        session: CheckoutSession {
            id: CheckoutSessionId::new(row.session_id).map_err(|_| corrupt())?,
            url: row.url,
            expires_at: row.expires_at.map(|t| t.and_utc()),
        },
    })
}
