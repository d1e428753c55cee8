//! `RenewalChargeStore` on diesel: the pending renewals in their charge window, and the
//! `renewal_charges` rows that claim each off-session attempt before the gateway is
//! called (the primary key `(order_id, attempt)` lets one claim win).

use async_trait::async_trait;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use tariff_domain::orders::OrderStatus;
use tariff_domain::payments::{
    AttemptOutcome, ChargeAttempt, DueRenewal, GatewayCustomerId, PaymentProvider,
    PaymentReference, PaymentStatus, RenewalChargeStore,
};
use tariff_domain::{OrderId, RepoError};

use super::DieselPaymentStore;
use crate::db::DbConn;
use crate::errors::DbError;
use crate::literals;
use crate::orders::load_order;
use crate::schema::{gateway_customers, orders, payments, renewal_charges};

type AttemptRow = (i32, NaiveDateTime, Option<NaiveDateTime>, Option<String>);

fn corrupt(what: &str) -> DbError {
    DbError::Repo(RepoError::internal(format!(
        "renewal charge: corrupt {what}"
    )))
}

fn due(
    c: &mut DbConn<'_>,
    horizon: NaiveDateTime,
    provider: PaymentProvider,
) -> Result<Vec<DueRenewal>, DbError> {
    let ending: Vec<i64> = c.load(
        orders::table
            .filter(orders::status.eq(literals::Active))
            .filter(orders::expires_at.le(horizon))
            .select(orders::id),
    )?;
    if ending.is_empty() {
        return Ok(Vec::new());
    }
    let renewals: Vec<i64> = c.load(
        orders::table
            .filter(orders::status.eq(literals::Pending))
            .filter(orders::renewal_of.eq_any(&ending))
            .order(orders::id.asc())
            .select(orders::id),
    )?;
    let mut due = Vec::with_capacity(renewals.len());
    for id in renewals {
        let renewal = load_order(c, id)?;
        let account = renewal.account();
        let customer: Option<String> = c
            .get_result(
                gateway_customers::table
                    .filter(gateway_customers::account_kind.eq(account.kind()))
                    .filter(gateway_customers::account_id.eq(account.raw_id()))
                    .filter(gateway_customers::provider.eq(provider.as_str()))
                    .select(gateway_customers::customer_id),
            )
            .optional()?;
        let last_payment: Option<Option<String>> = c
            .get_result(
                payments::table
                    .inner_join(orders::table)
                    .filter(orders::account_kind.eq(account.kind()))
                    .filter(orders::account_id.eq(account.raw_id()))
                    .filter(payments::provider.eq(provider.as_str()))
                    .filter(payments::status.eq(PaymentStatus::Succeeded.as_str()))
                    .filter(payments::reference.is_not_null())
                    .order(payments::id.desc())
                    .select(payments::reference)
                    .limit(1),
            )
            .optional()?;
        let rows: Vec<AttemptRow> = c.load(
            renewal_charges::table
                .filter(renewal_charges::order_id.eq(id))
                .order(renewal_charges::attempt.asc())
                .select((
                    renewal_charges::attempt,
                    renewal_charges::claimed_at,
                    renewal_charges::finished_at,
                    renewal_charges::outcome,
                )),
        )?;
        let attempts = rows
            .into_iter()
            .map(|(number, claimed, finished, outcome)| {
                Ok(ChargeAttempt {
                    number: u32::try_from(number).map_err(|_| corrupt("attempt"))?,
                    claimed_at: claimed.and_utc(),
                    finished_at: finished.map(|t| t.and_utc()),
                    outcome: outcome
                        .map(|tag| AttemptOutcome::from_tag(&tag).ok_or_else(|| corrupt("outcome")))
                        .transpose()?,
                })
            })
            .collect::<Result<Vec<_>, DbError>>()?;
        due.push(DueRenewal {
            renewal,
            customer: customer
                .map(GatewayCustomerId::new)
                .transpose()
                .map_err(|_| corrupt("customer"))?,
            // A reference the gateway would not accept is no saved method.
            last_payment: last_payment
                .flatten()
                .and_then(|raw| PaymentReference::new(raw).ok()),
            attempts,
        });
    }
    Ok(due)
}

fn claim(
    c: &mut DbConn<'_>,
    renewal: i64,
    attempt: i32,
    now: NaiveDateTime,
    stale_before: NaiveDateTime,
) -> Result<bool, DbError> {
    let status: Option<String> = c
        .get_result(
            orders::table
                .filter(orders::id.eq(renewal))
                .select(orders::status),
        )
        .optional()?;
    if status.as_deref() != Some(OrderStatus::Pending.as_str()) {
        return Ok(false);
    }
    // PostgreSQL waits here for a concurrent transaction inserting the same attempt,
    // then inserts nothing once that one commits.
    let inserted = c.execute(
        diesel::insert_into(renewal_charges::table)
            .values((
                renewal_charges::order_id.eq(renewal),
                renewal_charges::attempt.eq(attempt),
                renewal_charges::claimed_at.eq(now),
            ))
            .on_conflict_do_nothing(),
    )?;
    if inserted == 1 {
        return Ok(true);
    }
    let taken_over = c.execute(
        diesel::update(
            renewal_charges::table
                .filter(renewal_charges::order_id.eq(renewal))
                .filter(renewal_charges::attempt.eq(attempt))
                .filter(renewal_charges::finished_at.is_null())
                .filter(renewal_charges::claimed_at.le(stale_before)),
        )
        .set(renewal_charges::claimed_at.eq(now)),
    )?;
    Ok(taken_over == 1)
}

fn attempt_column(attempt: u32) -> Result<i32, RepoError> {
    i32::try_from(attempt).map_err(|_| RepoError::internal("renewal charge attempt out of range"))
}

#[async_trait]
impl RenewalChargeStore for DieselPaymentStore {
    async fn due_renewals(
        &self,
        horizon: DateTime<Utc>,
        provider: PaymentProvider,
    ) -> Result<Vec<DueRenewal>, RepoError> {
        let horizon = horizon.naive_utc();
        self.db.query(move |c| due(c, horizon, provider)).await
    }

    async fn claim_attempt(
        &self,
        renewal: OrderId,
        attempt: u32,
        now: DateTime<Utc>,
        stale_before: DateTime<Utc>,
    ) -> Result<bool, RepoError> {
        let attempt = attempt_column(attempt)?;
        let (now, stale_before) = (now.naive_utc(), stale_before.naive_utc());
        self.db
            .write(move |conn| {
                conn.write_transaction(|c| claim(c, renewal.get(), attempt, now, stale_before))
            })
            .await
    }

    async fn finish_attempt(
        &self,
        renewal: OrderId,
        attempt: u32,
        outcome: AttemptOutcome,
        reference: Option<String>,
        at: DateTime<Utc>,
    ) -> Result<(), RepoError> {
        let attempt = attempt_column(attempt)?;
        let at = at.naive_utc();
        self.db
            .write(move |c| {
                c.execute(
                    diesel::update(
                        renewal_charges::table
                            .filter(renewal_charges::order_id.eq(renewal.get()))
                            .filter(renewal_charges::attempt.eq(attempt)),
                    )
                    .set((
                        renewal_charges::finished_at.eq(at),
                        renewal_charges::outcome.eq(outcome.as_str()),
                        renewal_charges::reference.eq(reference),
                    )),
                )?;
                Ok(())
            })
            .await
    }
}
