//! `PaymentStore` on diesel: payment records, inbound gateway events (each stored by
//! its id in the transaction of its effect, so that a redelivery finds it and does
//! nothing), hosted checkouts and gateway customers. [`record_manual`] is
//! crate-visible so that mark-paid records its payment inside the activation's
//! transaction.

mod renewals;
mod rows;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use tariff_domain::audit::{Actor, AuditAction, AuditEntry, AuditState, TargetKind};
use tariff_domain::orders::{Order, OrderStatus};
use tariff_domain::payments::{
    EventOutcome, GatewayCustomerId, InboundPayment, Payment, PaymentEffect, PaymentProvider,
    PaymentStatus, PaymentStore, ReportedPayment, StoredCheckout,
};
use tariff_domain::webhooks::{EventDraft, EventPayloads, EventType};
use tariff_domain::{AccountRef, OrderId, RepoError};

use self::rows::{
    to_checkout, to_payment, CheckoutRow, NewCheckoutRow, NewGatewayEventRow, NewPaymentRow,
    PaymentRow,
};
use crate::audit;
use crate::db::{Columns, Database, DbConn};
use crate::errors::DbError;
use crate::orders::{
    account_of, activate, before_activation, load_order, order_activated, Numbering,
};
use crate::schema::{checkout_sessions, gateway_customers, gateway_events, orders, payments};
use crate::webhooks::store_event;

/// Payment records and inbound events on either backend.
#[derive(Clone)]
pub struct DieselPaymentStore {
    db: Database,
    order_events: Option<Arc<dyn EventPayloads>>,
}

impl DieselPaymentStore {
    pub fn new(db: Database) -> Self {
        Self {
            db,
            order_events: None,
        }
    }

    /// The same store, also storing the order events of an activation a payment causes
    /// (`order.activated`, `invoice.issued`, `account.plan_changed`), built with
    /// `payloads`: the same events as mark-paid's.
    pub fn with_order_events(mut self, payloads: Arc<dyn EventPayloads>) -> Self {
        self.order_events = Some(payloads);
        self
    }
}

/// How an effect is remembered on its event row.
fn outcome_label(effect: &PaymentEffect) -> &'static str {
    match effect {
        PaymentEffect::Settle { .. } => "applied",
        PaymentEffect::Mismatch(_) => "mismatch",
        PaymentEffect::Failed(_) => "failed",
        PaymentEffect::Ignore => "ignored",
    }
}

fn order_of(effect: &PaymentEffect) -> Option<OrderId> {
    match effect {
        PaymentEffect::Settle { payment, .. }
        | PaymentEffect::Mismatch(payment)
        | PaymentEffect::Failed(payment) => Some(payment.order),
        PaymentEffect::Ignore => None,
    }
}

/// Inserts a payment row and returns it as stored.
fn insert_payment(
    c: &mut DbConn<'_>,
    order: OrderId,
    provider: PaymentProvider,
    reported: &ReportedPayment,
    status: PaymentStatus,
    event_id: Option<&str>,
    at: DateTime<Utc>,
) -> Result<Payment, DbError> {
    let row: PaymentRow = c.get_result(
        diesel::insert_into(payments::table)
            .values(NewPaymentRow {
                order_id: order.get(),
                provider: provider.as_str(),
                reference: reported.reference.as_deref(),
                amount_minor: reported.amount.minor(),
                currency: reported.amount.currency().code(),
                status: status.as_str(),
                gateway_event_id: event_id,
                created_at: at.naive_utc(),
            })
            .returning(PaymentRow::columns()),
    )?;
    Ok(to_payment(row)?)
}

/// Stamps the order's `paid_at` unless it has one.
fn stamp_paid(c: &mut DbConn<'_>, order: OrderId, at: DateTime<Utc>) -> Result<(), DbError> {
    c.execute(
        diesel::update(
            orders::table
                .filter(orders::id.eq(order.get()))
                .filter(orders::paid_at.is_null()),
        )
        .set(orders::paid_at.eq(at.naive_utc())),
    )?;
    Ok(())
}

/// Records `payment` in the log as `action` on its order.
fn audit_payment(
    c: &mut DbConn<'_>,
    actor: Actor,
    action: AuditAction,
    payment: &Payment,
    event_id: Option<&str>,
) -> Result<(), DbError> {
    let entry = AuditEntry::new(
        actor,
        action,
        TargetKind::Order,
        Some(payment.order_id().get()),
    )
    .with_before(AuditState::Absent)
    .with_after(AuditState::Payment(payment.audit_snapshot(event_id)));
    audit::record(c, Some(&entry))
}

/// Emits the outgoing `payment.*` event of `payment` in the caller's transaction.
fn emit(
    c: &mut DbConn<'_>,
    event_type: EventType,
    account: AccountRef,
    payment: &Payment,
    at: DateTime<Utc>,
) -> Result<(), DbError> {
    let draft = EventDraft::new(event_type, Some(account), payment.event_data())
        .map_err(|e| RepoError::internal(format!("payment event: {e}")))?;
    store_event(c, draft, at)?;
    Ok(())
}

/// Mark-paid's payment: the order's total, provider `manual`, the administrator's
/// reference; `paid_at`, the `payment.succeeded` event. Inside the caller's activation
/// transaction (the audit entry is mark-paid's own).
pub(crate) fn record_manual(
    c: &mut DbConn<'_>,
    order: &Order,
    reference: Option<&str>,
    at: DateTime<Utc>,
) -> Result<(), DbError> {
    let reported = ReportedPayment {
        order: order.id(),
        amount: order.amount_due(),
        reference: reference.map(str::to_owned),
    };
    let payment = insert_payment(
        c,
        order.id(),
        PaymentProvider::Manual,
        &reported,
        PaymentStatus::Succeeded,
        None,
        at,
    )?;
    stamp_paid(c, order.id(), at)?;
    emit(
        c,
        EventType::PaymentSucceeded,
        order.account(),
        &payment,
        at,
    )
}

/// Stores the event and applies its effect, in the caller's one transaction.
fn apply(
    c: &mut DbConn<'_>,
    event: &InboundPayment,
    order_events: Option<&dyn EventPayloads>,
    numbering: Numbering<'_>,
) -> Result<EventOutcome, DbError> {
    let inserted = c.execute(
        diesel::insert_into(gateway_events::table)
            .values(NewGatewayEventRow {
                provider: event.provider.as_str(),
                event_id: event.event_id.as_str(),
                event_type: &event.event_type,
                outcome: outcome_label(&event.effect),
                order_id: order_of(&event.effect).map(OrderId::get),
                received_at: event.received_at.naive_utc(),
            })
            // PostgreSQL waits here for a concurrent transaction holding the same
            // event id, then inserts nothing once that one commits.
            .on_conflict_do_nothing(),
    )?;
    if inserted == 0 {
        return Ok(EventOutcome::Duplicate);
    }
    let at = event.received_at;
    let event_id = Some(event.event_id.as_str());
    let (reported, status, action) = match &event.effect {
        PaymentEffect::Ignore => return Ok(EventOutcome::Ignored),
        PaymentEffect::Settle {
            payment,
            activation,
        } => {
            let order = payment.order;
            let (status, account) = status_and_account(c, order)?;
            // Everything but the activation first: numbering holds the year's counter
            // row until commit, so it comes as late as it can.
            let prior = match activation {
                Some(_) if status == OrderStatus::Pending.as_str() => {
                    Some(before_activation(c, order_events, Some(order.get()))?)
                }
                _ => None,
            };
            let recorded = insert_payment(
                c,
                order,
                event.provider,
                payment,
                PaymentStatus::Succeeded,
                event_id,
                at,
            )?;
            stamp_paid(c, order, at)?;
            audit_payment(
                c,
                Actor::Operator,
                AuditAction::PaymentReceived,
                &recorded,
                event_id,
            )?;
            emit(c, EventType::PaymentSucceeded, account, &recorded, at)?;
            let activated = match (activation, prior) {
                (Some(terms), Some(prior)) => {
                    let replaced = activate(c, order.get(), terms, numbering)?;
                    Some((prior, replaced))
                }
                _ => None,
            };
            // As mark-paid: the payment's event, then the activation's.
            let activated = match activated {
                Some((prior, replaced)) => {
                    order_activated(c, order_events, prior, order.get(), &replaced)?;
                    Some(Box::new(load_order(c, order.get())?))
                }
                None => None,
            };
            return Ok(EventOutcome::Applied {
                payment: recorded,
                activated,
            });
        }
        PaymentEffect::Mismatch(payment) => (
            payment,
            PaymentStatus::Mismatch,
            AuditAction::PaymentMismatch,
        ),
        PaymentEffect::Failed(payment) => {
            (payment, PaymentStatus::Failed, AuditAction::PaymentFailed)
        }
    };
    let (_, account) = status_and_account(c, reported.order)?;
    let recorded = insert_payment(
        c,
        reported.order,
        event.provider,
        reported,
        status,
        event_id,
        at,
    )?;
    audit_payment(c, Actor::Operator, action, &recorded, event_id)?;
    if status == PaymentStatus::Failed {
        emit(c, EventType::PaymentFailed, account, &recorded, at)?;
    }
    Ok(EventOutcome::Applied {
        payment: recorded,
        activated: None,
    })
}

/// An order's status and account, read in the caller's transaction.
fn status_and_account(c: &mut DbConn<'_>, order: OrderId) -> Result<(String, AccountRef), DbError> {
    let (status, kind, id): (String, String, i64) =
        c.get_result(orders::table.find(order.get()).select((
            orders::status,
            orders::account_kind,
            orders::account_id,
        )))?;
    let account = AccountRef::from_parts(&kind, id).ok_or_else(|| {
        DbError::Repo(RepoError::internal(format!(
            "order {order} has a corrupt account"
        )))
    })?;
    Ok((status, account))
}

#[async_trait]
impl PaymentStore for DieselPaymentStore {
    async fn payments_of(&self, order: OrderId) -> Result<Vec<Payment>, RepoError> {
        let rows: Vec<PaymentRow> = self
            .db
            .query(move |c| {
                Ok(c.load(
                    payments::table
                        .filter(payments::order_id.eq(order.get()))
                        .order(payments::id.asc())
                        .select(PaymentRow::columns()),
                )?)
            })
            .await?;
        rows.into_iter().map(to_payment).collect()
    }

    async fn order_paid_by(
        &self,
        provider: PaymentProvider,
        reference: &str,
    ) -> Result<Option<OrderId>, RepoError> {
        let reference = reference.to_owned();
        let found: Vec<i64> = self
            .db
            .query(move |c| {
                Ok(c.load(
                    payments::table
                        .filter(payments::provider.eq(provider.as_str()))
                        .filter(payments::reference.eq(reference))
                        .filter(payments::status.eq_any(["succeeded", "refunded"]))
                        .order(payments::id.asc())
                        .select(payments::order_id)
                        .limit(1),
                )?)
            })
            .await?;
        Ok(found.into_iter().next().and_then(OrderId::new))
    }

    async fn apply_event(&self, event: InboundPayment) -> Result<EventOutcome, RepoError> {
        let order_events = self.order_events.clone();
        // A payment that may activate its order is an activation: on PostgreSQL it runs
        // on its account's batch lane (see `Database::activation`); an order that cannot
        // be read is settled on its own and fails there.
        let account = match &event.effect {
            PaymentEffect::Settle {
                payment,
                activation: Some(_),
            } => {
                let order = payment.order.get();
                self.db.query(move |c| account_of(c, order)).await.ok()
            }
            _ => None,
        };
        let (outcome, issued) = self
            .db
            .activation(account, move |conn, numbering| match numbering {
                // In a batch it already has a savepoint of its own.
                Numbering::Batched(_) => apply(conn, &event, order_events.as_deref(), numbering),
                Numbering::Now => {
                    conn.write_transaction(|c| apply(c, &event, order_events.as_deref(), numbering))
                }
            })
            .await?;
        match outcome {
            EventOutcome::Applied {
                payment,
                activated: Some(order),
            } if !issued.is_empty() => {
                // Read inside the batch, it still showed the number's placeholder.
                let id = order.id().get();
                let order = self.db.query(move |c| load_order(c, id)).await?;
                Ok(EventOutcome::Applied {
                    payment,
                    activated: Some(Box::new(order)),
                })
            }
            outcome => Ok(outcome),
        }
    }

    async fn latest_checkout(&self, order: OrderId) -> Result<Option<StoredCheckout>, RepoError> {
        let rows: Vec<CheckoutRow> = self
            .db
            .query(move |c| {
                Ok(c.load(
                    checkout_sessions::table
                        .filter(checkout_sessions::order_id.eq(order.get()))
                        .order(checkout_sessions::attempt.desc())
                        .select(CheckoutRow::columns()),
                )?)
            })
            .await?;
        rows.into_iter().next().map(to_checkout).transpose()
    }

    async fn remember_checkout(
        &self,
        order: OrderId,
        provider: PaymentProvider,
        checkout: StoredCheckout,
        at: DateTime<Utc>,
    ) -> Result<StoredCheckout, RepoError> {
        let attempt = i32::try_from(checkout.attempt)
            .map_err(|_| RepoError::internal("checkout attempt out of range"))?;
        let row: CheckoutRow = self
            .db
            .write(move |conn| {
                conn.write_transaction(|c| {
                    c.execute(
                        diesel::insert_into(checkout_sessions::table)
                            .values(NewCheckoutRow {
                                order_id: order.get(),
                                provider: provider.as_str(),
                                attempt,
                                session_id: checkout.session.id.as_str(),
                                url: &checkout.session.url,
                                expires_at: checkout.session.expires_at.map(|t| t.naive_utc()),
                                created_at: at.naive_utc(),
                            })
                            .on_conflict_do_nothing(),
                    )?;
                    Ok(c.get_result(
                        checkout_sessions::table
                            .filter(checkout_sessions::order_id.eq(order.get()))
                            .filter(checkout_sessions::attempt.eq(attempt))
                            .select(CheckoutRow::columns()),
                    )?)
                })
            })
            .await?;
        to_checkout(row)
    }

    async fn customer_of(
        &self,
        account: AccountRef,
        provider: PaymentProvider,
    ) -> Result<Option<GatewayCustomerId>, RepoError> {
        let id: Option<String> = self
            .db
            .query(move |c| {
                Ok(c.get_result(
                    gateway_customers::table
                        .filter(gateway_customers::account_kind.eq(account.kind()))
                        .filter(gateway_customers::account_id.eq(account.raw_id()))
                        .filter(gateway_customers::provider.eq(provider.as_str()))
                        .select(gateway_customers::customer_id),
                )
                .optional()?)
            })
            .await?;
        id.map(|raw| {
            GatewayCustomerId::new(raw)
                .map_err(|_| RepoError::internal("stored gateway customer id is corrupt"))
        })
        .transpose()
    }

    async fn remember_customer(
        &self,
        account: AccountRef,
        provider: PaymentProvider,
        customer: GatewayCustomerId,
        at: DateTime<Utc>,
    ) -> Result<GatewayCustomerId, RepoError> {
        let stored: String = self
            .db
            .write(move |conn| {
                conn.write_transaction(|c| {
                    c.execute(
                        diesel::insert_into(gateway_customers::table)
                            .values((
                                gateway_customers::account_kind.eq(account.kind()),
                                gateway_customers::account_id.eq(account.raw_id()),
                                gateway_customers::provider.eq(provider.as_str()),
                                gateway_customers::customer_id.eq(customer.as_str()),
                                gateway_customers::created_at.eq(at.naive_utc()),
                            ))
                            .on_conflict_do_nothing(),
                    )?;
                    Ok(c.get_result(
                        gateway_customers::table
                            .filter(gateway_customers::account_kind.eq(account.kind()))
                            .filter(gateway_customers::account_id.eq(account.raw_id()))
                            .filter(gateway_customers::provider.eq(provider.as_str()))
                            .select(gateway_customers::customer_id),
                    )?)
                })
            })
            .await?;
        GatewayCustomerId::new(stored)
            .map_err(|_| RepoError::internal("stored gateway customer id is corrupt"))
    }

    async fn count_by_status(&self) -> Result<Vec<(PaymentStatus, u64)>, RepoError> {
        let counted: Vec<(String, i64)> = self
            .db
            .query(|c| {
                Ok(c.load(
                    payments::table
                        .group_by(payments::status)
                        .select((payments::status, diesel::dsl::count_star())),
                )?)
            })
            .await?;
        Ok(PaymentStatus::ALL
            .into_iter()
            .map(|status| {
                let count = counted
                    .iter()
                    .find(|(tag, _)| tag == status.as_str())
                    .map_or(0, |(_, n)| u64::try_from(*n).unwrap_or(0));
                (status, count)
            })
            .collect())
    }
}
