//! The payment use cases: opening a hosted checkout for an order, receiving the
//! gateway's verified events, and listing an order's payments.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};

use super::events::{ChargeRefund, CheckoutCompletion, CheckoutPaymentStatus, GatewayEventKind};
use super::gateway::{
    GatewayError, PaymentGateway, PaymentProvider, Rejection, RejectionKind, SignatureProblem,
    UnavailableCause,
};
use super::record::Payment;
use super::refs::{GatewayCustomerId, IdempotencyKey};
use super::refunds::{reported_refunds, GatewayRefundNotes, RefundNoteError};
use super::requests::{
    CheckoutRequest, CheckoutSession, CustomerRequest, InvalidPaymentRequest, LineItem, ReturnUrls,
    MAX_ITEM_NAME_CHARS,
};
use super::store::{
    EventOutcome, InboundPayment, PaymentEffect, PaymentStore, ReportedPayment, StoredCheckout,
};
use crate::identity::caller::Caller;
use crate::identity::user::Email;
use crate::orders::{BillingDirectory, Order, OrderError, OrderService, OrderStatus};
use crate::shared::clock::Clock;
use crate::shared::ids::AccountRef;
use crate::shared::repo::{ConflictKind, RepoError, StoreFailure};
use crate::{Money, OrderId};

/// A checkout is handed out again only while it stays open at least this long: a buyer
/// sent to a page that closes in a moment could not pay.
const REUSE_MARGIN: TimeDelta = TimeDelta::minutes(5);

/// How a payment use case fails.
#[derive(Debug, thiserror::Error)]
pub enum PaymentError {
    /// No gateway is configured: payments are off.
    #[error("payments are not configured")]
    Disabled,
    /// Reading or seeing the order failed (not found, not allowed, store failure).
    #[error(transparent)]
    Order(#[from] OrderError),
    /// Only a pending order can be paid.
    #[error("order {id} is {status}; only pending orders can be paid")]
    NotPending { id: OrderId, status: OrderStatus },
    /// There is nothing to charge (a zero total).
    #[error("order {0} has nothing to pay")]
    NothingToPay(OrderId),
    /// The gateway could not be reached or failed; try again later.
    #[error("the payment gateway is unavailable: {0:?}")]
    GatewayUnavailable(UnavailableCause),
    /// The gateway refused Tariff's request (a configuration problem: key, account).
    #[error("the payment gateway refused the request: {:?}", .0.kind)]
    GatewayRejected(Rejection),
    /// An inbound webhook failed verification: nothing of it is trusted.
    #[error("invalid webhook signature: {0:?}")]
    InvalidSignature(SignatureProblem),
    /// A verified webhook whose payload is not an event Tariff can read.
    #[error("the webhook is not a readable event: {0}")]
    MalformedEvent(String),
    /// A checkout Tariff could not build from the order (a bug or corrupt data).
    #[error("the checkout could not be built: {0}")]
    Request(#[from] InvalidPaymentRequest),
    /// Storage failed.
    #[error(transparent)]
    Store(StoreFailure),
}

impl PaymentError {
    fn repo(err: RepoError) -> PaymentError {
        PaymentError::Store(err.into())
    }

    fn gateway(err: GatewayError) -> PaymentError {
        match err {
            GatewayError::Unavailable(cause) => PaymentError::GatewayUnavailable(cause),
            GatewayError::InvalidRequest(rejection)
                if rejection.kind == RejectionKind::MalformedEvent =>
            {
                PaymentError::MalformedEvent(rejection.message.unwrap_or_default())
            }
            GatewayError::InvalidRequest(rejection) => PaymentError::GatewayRejected(rejection),
            GatewayError::InvalidSignature(problem) => PaymentError::InvalidSignature(problem),
            GatewayError::Declined(_) => {
                PaymentError::GatewayRejected(Rejection::new(RejectionKind::Invalid))
            }
        }
    }
}

/// The buyer's page on the gateway for one order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckoutPage {
    pub provider: &'static str,
    pub session: CheckoutSession,
}

/// What Tariff did with one verified inbound event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WebhookOutcome {
    /// The order was paid (and activated when it was pending).
    Paid,
    /// Money that does not match the order was recorded; nothing activated.
    Mismatch,
    /// A failed payment was recorded.
    Failed,
    /// Recorded; nothing to do.
    Ignored,
    /// Seen before: no effect.
    Duplicate,
}

impl WebhookOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookOutcome::Paid => "paid",
            WebhookOutcome::Mismatch => "mismatch",
            WebhookOutcome::Failed => "failed",
            WebhookOutcome::Ignored => "ignored",
            WebhookOutcome::Duplicate => "duplicate",
        }
    }
}

/// A gateway and where it sends buyers back to.
#[derive(Clone)]
pub struct GatewaySetup {
    pub gateway: Arc<dyn PaymentGateway>,
    pub urls: ReturnUrls,
}

/// Payments through a gateway, and the records of every payment.
#[derive(Clone)]
pub struct PaymentService {
    setup: Option<GatewaySetup>,
    store: Arc<dyn PaymentStore>,
    orders: OrderService,
    directory: Arc<dyn BillingDirectory>,
    clock: Arc<dyn Clock>,
    signature_failures: Arc<AtomicU64>,
    refund_notes: Option<Arc<dyn GatewayRefundNotes>>,
}

impl PaymentService {
    /// `setup` is `None` when no gateway is configured: then every use case answers
    /// [`PaymentError::Disabled`].
    pub fn new(
        setup: Option<GatewaySetup>,
        store: Arc<dyn PaymentStore>,
        orders: OrderService,
        directory: Arc<dyn BillingDirectory>,
        clock: Arc<dyn Clock>,
    ) -> PaymentService {
        PaymentService {
            setup,
            store,
            orders,
            directory,
            clock,
            signature_failures: Arc::default(),
            refund_notes: None,
        }
    }

    /// The same service documenting the refunds the gateway reports (`charge.refunded`)
    /// with credit notes through `notes`.
    pub fn with_refund_notes(mut self, notes: Arc<dyn GatewayRefundNotes>) -> PaymentService {
        self.refund_notes = Some(notes);
        self
    }

    /// Whether a gateway is configured.
    pub fn enabled(&self) -> bool {
        self.setup.is_some()
    }

    /// Inbound webhooks refused for their signature since start (this instance).
    pub fn signature_failures(&self) -> u64 {
        self.signature_failures.load(Ordering::Relaxed)
    }

    /// The store, for metrics.
    pub fn store(&self) -> &Arc<dyn PaymentStore> {
        &self.store
    }

    fn setup(&self) -> Result<&GatewaySetup, PaymentError> {
        self.setup.as_ref().ok_or(PaymentError::Disabled)
    }

    /// Opens (or hands out again, while it is open) the gateway's hosted checkout for a
    /// pending order the caller may see. The session's line items add up to the order's
    /// total; the buyer's payment method is kept for renewals.
    pub async fn checkout(
        &self,
        caller: Caller,
        id: OrderId,
    ) -> Result<CheckoutPage, PaymentError> {
        let setup = self.setup()?;
        let order = self.orders.get(caller, id).await?;
        if order.status() != OrderStatus::Pending {
            return Err(PaymentError::NotPending {
                id,
                status: order.status(),
            });
        }
        // What is left to pay: account credit already covers part of the total.
        let total = order.amount_due();
        if total.minor() <= 0 {
            return Err(PaymentError::NothingToPay(id));
        }
        let provider = setup.gateway.provider();
        let now = self.clock.now();
        let latest = self
            .store
            .latest_checkout(id)
            .await
            .map_err(PaymentError::repo)?;
        if let Some(stored) = &latest {
            if still_open(&stored.session, now) {
                return Ok(CheckoutPage {
                    provider: provider.as_str(),
                    session: stored.session.clone(),
                });
            }
        }
        let attempt = latest.map_or(1, |stored| stored.attempt.saturating_add(1));
        let customer = self.customer(setup, order.account()).await?;
        let key = idempotency_key(format!("order-{}-checkout-{attempt}", id.get()))?;
        let request = CheckoutRequest::new(
            id,
            total,
            line_items(&order)?,
            customer,
            setup.urls.clone(),
            true,
            key,
        )?;
        let session = setup
            .gateway
            .create_checkout(&request)
            .await
            .map_err(PaymentError::gateway)?;
        let stored = self
            .store
            .remember_checkout(id, provider, StoredCheckout { attempt, session }, now)
            .await
            .map_err(PaymentError::repo)?;
        Ok(CheckoutPage {
            provider: provider.as_str(),
            session: stored.session,
        })
    }

    /// The account's gateway customer: the stored one, else one created at the gateway
    /// (with a key derived from the account, so a repeat after a crash creates none).
    async fn customer(
        &self,
        setup: &GatewaySetup,
        account: AccountRef,
    ) -> Result<GatewayCustomerId, PaymentError> {
        let provider = setup.gateway.provider();
        if let Some(customer) = self
            .store
            .customer_of(account, provider)
            .await
            .map_err(PaymentError::repo)?
        {
            return Ok(customer);
        }
        let buyer = self
            .directory
            .billing_details(account)
            .await
            .map_err(PaymentError::repo)?;
        let request = CustomerRequest {
            account,
            email: buyer.email.as_deref().and_then(|e| Email::parse(e).ok()),
            name: Some(buyer.company.unwrap_or(buyer.name)).filter(|n| !n.trim().is_empty()),
            idempotency_key: idempotency_key(format!(
                "customer-{}-{}",
                account.kind(),
                account.raw_id()
            ))?,
        };
        let created = setup
            .gateway
            .ensure_customer(&request)
            .await
            .map_err(PaymentError::gateway)?;
        self.store
            .remember_customer(account, provider, created, self.clock.now())
            .await
            .map_err(PaymentError::repo)
    }

    /// Verifies an inbound webhook on its raw bytes and applies it once: a repeat of
    /// the same event, also a concurrent one, has no further effect.
    pub async fn receive_webhook(
        &self,
        payload: &[u8],
        signature: Option<&str>,
    ) -> Result<WebhookOutcome, PaymentError> {
        let setup = self.setup()?;
        let now = self.clock.now();
        let event = match setup.gateway.parse_webhook(payload, signature, now) {
            Ok(event) => event,
            Err(GatewayError::InvalidSignature(problem)) => {
                self.signature_failures.fetch_add(1, Ordering::Relaxed);
                return Err(PaymentError::InvalidSignature(problem));
            }
            Err(other) => return Err(PaymentError::gateway(other)),
        };
        let event_type = event_type_name(&event.kind);
        if let GatewayEventKind::ChargeRefunded(charge) = &event.kind {
            // Before the event is recorded: issuing is idempotent per refund id, so a
            // crash in between leaves a redelivery that finds the note and records the
            // event, never a recorded event without its note.
            self.document_refunds(setup.gateway.provider(), charge)
                .await?;
        }
        for round in 0..3 {
            let effect = self.effect_of(&event.kind).await?;
            let outcome = self
                .store
                .apply_event(InboundPayment {
                    provider: setup.gateway.provider(),
                    event_id: event.id.clone(),
                    event_type: event_type.clone(),
                    received_at: now,
                    effect: effect.clone(),
                })
                .await;
            match outcome {
                Ok(EventOutcome::Duplicate) => return Ok(WebhookOutcome::Duplicate),
                Ok(EventOutcome::Ignored) => return Ok(WebhookOutcome::Ignored),
                Ok(EventOutcome::Applied { payment, activated }) => {
                    match &activated {
                        Some(order) => self.orders.activated_elsewhere(order).await,
                        // `paidAt` may have changed: cached order lists go stale.
                        None => {
                            if let Ok(order) =
                                self.orders.get_for_operator(payment.order_id()).await
                            {
                                self.orders.freshness().touched(order.account());
                            }
                        }
                    }
                    return Ok(match effect {
                        PaymentEffect::Settle { .. } => WebhookOutcome::Paid,
                        PaymentEffect::Mismatch(_) => WebhookOutcome::Mismatch,
                        PaymentEffect::Failed(_) => WebhookOutcome::Failed,
                        PaymentEffect::Ignore => WebhookOutcome::Ignored,
                    });
                }
                // A concurrent activation of the same account (or of this order, by
                // mark-paid) won: decide again from the order as it is now.
                Err(RepoError::Conflict(
                    ConflictKind::RaceLost | ConflictKind::ChangedMeanwhile,
                )) if round < 2 => {}
                Err(err) => return Err(PaymentError::repo(err)),
            }
        }
        Err(PaymentError::repo(RepoError::Conflict(
            ConflictKind::RaceLost,
        )))
    }

    /// What an event does, from the order as it is now.
    async fn effect_of(&self, kind: &GatewayEventKind) -> Result<PaymentEffect, PaymentError> {
        match kind {
            GatewayEventKind::CheckoutCompleted(completion)
                if completion.payment_status == CheckoutPaymentStatus::Paid =>
            {
                self.settlement(completion).await
            }
            GatewayEventKind::CheckoutAsyncPaymentSucceeded(completion) => {
                self.settlement(completion).await
            }
            // Unpaid (a delayed method: its own event follows) or nothing to pay.
            GatewayEventKind::CheckoutCompleted(_) => Ok(PaymentEffect::Ignore),
            GatewayEventKind::CheckoutAsyncPaymentFailed(completion) => {
                let reference = completion
                    .payment
                    .as_ref()
                    .map(|p| p.as_str().to_owned())
                    .unwrap_or_else(|| completion.session.as_str().to_owned());
                self.failure(completion.order_id, completion.amount, reference)
                    .await
            }
            GatewayEventKind::PaymentFailed(failure) => {
                self.failure(
                    failure.order_id,
                    failure.amount,
                    failure.payment.as_str().to_owned(),
                )
                .await
            }
            // Its credit notes are issued before the event is recorded
            // (`document_refunds`); the record itself has no further effect.
            GatewayEventKind::ChargeRefunded(_) => Ok(PaymentEffect::Ignore),
            GatewayEventKind::Unhandled { .. } => Ok(PaymentEffect::Ignore),
        }
    }

    /// The credit notes of the refunds a `charge.refunded` reports, for the order the
    /// charge's payment paid. A charge Tariff has no payment for, or a refund the sum
    /// rule refuses, is logged and left undocumented.
    async fn document_refunds(
        &self,
        provider: PaymentProvider,
        charge: &ChargeRefund,
    ) -> Result<(), PaymentError> {
        let Some(notes) = &self.refund_notes else {
            return Ok(());
        };
        let Some(payment) = &charge.payment else {
            tracing::warn!(
                charge = charge.charge.as_str(),
                "refunded charge names no payment; no credit note"
            );
            return Ok(());
        };
        let order = self
            .store
            .order_paid_by(provider, payment.as_str())
            .await
            .map_err(PaymentError::repo)?;
        let Some(order) = order else {
            tracing::warn!(
                charge = charge.charge.as_str(),
                "refunded charge pays no order Tariff knows; no credit note"
            );
            return Ok(());
        };
        let documented = match notes.documented(order, provider).await {
            Ok(amount) => amount,
            Err(RefundNoteError::Store(e)) => return Err(PaymentError::repo(e)),
            Err(RefundNoteError::Refused(why)) => {
                tracing::warn!(order = order.get(), "gateway refund not documented: {why}");
                return Ok(());
            }
        };
        for (refund, amount, status) in reported_refunds(charge, documented) {
            match notes
                .document_refund(order, provider, &refund, amount, status)
                .await
            {
                Ok(()) => {}
                Err(RefundNoteError::Refused(why)) => tracing::warn!(
                    order = order.get(),
                    refund = refund.as_str(),
                    "gateway refund not documented: {why}"
                ),
                Err(RefundNoteError::Store(e)) => return Err(PaymentError::repo(e)),
            }
        }
        Ok(())
    }

    async fn known_order(&self, id: Option<OrderId>) -> Result<Option<Order>, PaymentError> {
        let Some(id) = id else {
            return Ok(None);
        };
        match self.orders.get_for_operator(id).await {
            Ok(order) => Ok(Some(order)),
            Err(OrderError::OrderNotFound(_)) => Ok(None),
            Err(other) => Err(other.into()),
        }
    }

    async fn settlement(
        &self,
        completion: &CheckoutCompletion,
    ) -> Result<PaymentEffect, PaymentError> {
        let Some(order) = self.known_order(completion.order_id).await? else {
            tracing::warn!(
                session = completion.session.as_str(),
                "paid checkout for no order Tariff knows; recorded and ignored"
            );
            return Ok(PaymentEffect::Ignore);
        };
        let reference = completion
            .payment
            .as_ref()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_else(|| completion.session.as_str().to_owned());
        let payment = ReportedPayment {
            order: order.id(),
            amount: completion.amount,
            reference: Some(reference.clone()),
        };
        if completion.amount != order.amount_due() {
            tracing::warn!(
                order = order.id().get(),
                paid = %completion.amount.to_fixed_string(),
                paid_currency = completion.amount.currency().code(),
                due = %order.amount_due().to_fixed_string(),
                "gateway payment does not match the order's total; not activated"
            );
            return Ok(PaymentEffect::Mismatch(payment));
        }
        let activation = match order.status() {
            OrderStatus::Pending => Some(
                self.orders
                    .payment_activation(&order, Some(reference))
                    .await?,
            ),
            _ => None,
        };
        Ok(PaymentEffect::Settle {
            payment,
            activation,
        })
    }

    async fn failure(
        &self,
        order: Option<OrderId>,
        amount: Money,
        reference: String,
    ) -> Result<PaymentEffect, PaymentError> {
        let order = match self.known_order(order).await? {
            Some(order) => order,
            None => return Ok(PaymentEffect::Ignore),
        };
        // One failed payment per gateway payment: a renewal charge refused off-session
        // is recorded by the charge itself, and the gateway's event about it after.
        let known = self
            .store
            .payments_of(order.id())
            .await
            .map_err(PaymentError::repo)?;
        if known
            .iter()
            .any(|p| p.reference() == Some(reference.as_str()))
        {
            return Ok(PaymentEffect::Ignore);
        }
        Ok(PaymentEffect::Failed(ReportedPayment {
            order: order.id(),
            amount,
            reference: Some(reference),
        }))
    }

    /// The payments of an order the caller may see, oldest first.
    pub async fn payments(
        &self,
        caller: Caller,
        id: OrderId,
    ) -> Result<Vec<Payment>, PaymentError> {
        self.setup()?;
        self.orders.get(caller, id).await?;
        self.store.payments_of(id).await.map_err(PaymentError::repo)
    }
}

fn still_open(session: &CheckoutSession, now: DateTime<Utc>) -> bool {
    session
        .expires_at
        .is_none_or(|expires| expires > now + REUSE_MARGIN)
}

fn idempotency_key(raw: String) -> Result<IdempotencyKey, PaymentError> {
    IdempotencyKey::new(raw)
        .map_err(|e| PaymentError::repo(RepoError::internal(format!("idempotency key: {e}"))))
}

/// The event's type as the gateway names it, for the record.
fn event_type_name(kind: &GatewayEventKind) -> String {
    match kind {
        GatewayEventKind::CheckoutCompleted(_) => "checkout.session.completed".into(),
        GatewayEventKind::CheckoutAsyncPaymentSucceeded(_) => {
            "checkout.session.async_payment_succeeded".into()
        }
        GatewayEventKind::CheckoutAsyncPaymentFailed(_) => {
            "checkout.session.async_payment_failed".into()
        }
        GatewayEventKind::PaymentFailed(_) => "payment_intent.payment_failed".into(),
        GatewayEventKind::ChargeRefunded(_) => "charge.refunded".into(),
        GatewayEventKind::Unhandled { event_type } => event_type.clone(),
    }
}

/// The order's lines as checkout items, adding up to what is left to pay: each line at
/// its amount and the tax as a line of its own. When the lines do not add up (a coupon,
/// unused time or account credit takes something off), one line for the whole amount due.
fn line_items(order: &Order) -> Result<Vec<LineItem>, InvalidPaymentRequest> {
    let charges = order.charges();
    let total = order.amount_due();
    let mut items = Vec::new();
    let mut sum = Money::zero(total.currency());
    for item in charges.items() {
        if item.amount().minor() <= 0 {
            continue;
        }
        sum = sum.checked_add(item.amount())?;
        items.push(LineItem::new(
            item_name(item.description()),
            item.amount(),
            1,
        )?);
    }
    let tax = charges.tax();
    if tax.minor() > 0 {
        sum = sum.checked_add(tax)?;
        let rate = charges.tax_rate().to_percent_text();
        items.push(LineItem::new(format!("Tax {rate}%"), tax, 1)?);
    }
    if sum == total && !items.is_empty() {
        return Ok(items);
    }
    Ok(vec![LineItem::new(
        item_name(&format!(
            "Order #{}: {}",
            order.id().get(),
            order.description()
        )),
        total,
        1,
    )?])
}

fn item_name(text: &str) -> String {
    let trimmed = text.trim();
    let name = if trimmed.is_empty() { "Order" } else { trimmed };
    name.chars().take(MAX_ITEM_NAME_CHARS).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkout_lines_add_up_to_the_order_total_with_tax_as_a_line() {
        use crate::orders::{Charges, OrderItem, OrderRecord};
        use crate::{AccountRef, Currency, PlanId, TaxRate, UserId};
        let usd = |minor| Money::from_minor(minor, Currency::USD);
        let order = |lines: Vec<OrderItem>, subtotal, tax, total| {
            Order::restore(OrderRecord {
                id: OrderId::new(7).unwrap(),
                account: AccountRef::User(UserId::new(3).unwrap()),
                placed_by: UserId::new(3),
                plan_id: PlanId::new(2).unwrap(),
                status: OrderStatus::Pending,
                description: "Pro (monthly)".into(),
                charges: Charges::restore(
                    lines,
                    usd(subtotal),
                    TaxRate::from_basis_points(1900).unwrap(),
                    usd(tax),
                    usd(total),
                )
                .unwrap(),
                notes: None,
                payment_reference: None,
                renewal_of: None,
                created_at: Utc::now(),
                activated_at: None,
                expires_at: None,
                cancelled_at: None,
                invoice: None,
                billing: Default::default(),
            })
            .unwrap()
        };
        let line = OrderItem::restore("Pro (monthly)".into(), 1, usd(999), usd(999)).unwrap();
        let items = line_items(&order(vec![line], 999, 190, 1189)).unwrap();
        let names: Vec<&str> = items.iter().map(LineItem::name).collect();
        assert_eq!(names, ["Pro (monthly)", "Tax 19.0%"]);
        let sum: i64 = items.iter().map(|i| i.line_total().unwrap().minor()).sum();
        assert_eq!(sum, 1189);
    }

    #[test]
    fn a_session_is_reused_only_while_it_stays_open_for_a_while() {
        let now = Utc::now();
        let session = |expires_at| CheckoutSession {
            id: super::super::refs::CheckoutSessionId::new("cs_1").unwrap(),
            url: "https://pay.example/cs_1".into(),
            expires_at,
        };
        assert!(still_open(&session(None), now));
        assert!(still_open(&session(Some(now + TimeDelta::hours(1))), now));
        assert!(!still_open(
            &session(Some(now + TimeDelta::minutes(1))),
            now
        ));
        assert!(!still_open(&session(Some(now - TimeDelta::hours(1))), now));
    }
}
