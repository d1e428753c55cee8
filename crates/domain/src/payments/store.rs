//! What the payment use cases need from storage: payment records, the inbound events
//! that create them (each applied once, in one transaction with its effect), the
//! hosted checkouts opened for orders and the gateway customer of each account.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::gateway::PaymentProvider;
use super::record::{Payment, PaymentStatus};
use super::refs::{GatewayCustomerId, GatewayEventId};
use super::requests::CheckoutSession;
use crate::orders::{Activation, Order};
use crate::shared::ids::AccountRef;
use crate::{Money, OrderId, RepoError};

/// A hosted checkout stored for an order; `attempt` counts the order's checkouts from 1
/// (a new one is opened only when the previous one has expired).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredCheckout {
    pub attempt: u32,
    pub session: CheckoutSession,
}

/// Money the gateway reports for an order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportedPayment {
    pub order: OrderId,
    pub amount: Money,
    /// The gateway's reference of the payment (payment intent, else the session).
    pub reference: Option<String>,
}

/// What one verified inbound event does, decided by the use case before storing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PaymentEffect {
    /// The order's total was paid: record a succeeded payment, set `paidAt`, and when
    /// `activation` is given and the order is still pending, activate it (the same
    /// activation as mark-paid: number, snapshot, replacement of the previous plan).
    Settle {
        payment: ReportedPayment,
        activation: Option<Activation>,
    },
    /// Money was taken that is not the order's total: record it as `mismatch`, audit it,
    /// activate nothing.
    Mismatch(ReportedPayment),
    /// A failed attempt: record it as `failed`.
    Failed(ReportedPayment),
    /// Nothing to do beyond remembering the event (an unhandled type, an unpaid
    /// checkout, an order Tariff does not know).
    Ignore,
}

/// One verified inbound event and its effect.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InboundPayment {
    pub provider: PaymentProvider,
    pub event_id: GatewayEventId,
    /// The gateway's event type, as it named it (for the record).
    pub event_type: String,
    pub received_at: DateTime<Utc>,
    pub effect: PaymentEffect,
}

/// What storing an event did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EventOutcome {
    /// The effect was applied; `activated` is the order when this event activated it.
    Applied {
        payment: Payment,
        activated: Option<Box<Order>>,
    },
    /// Recorded, nothing else to do.
    Ignored,
    /// The event was recorded before (a redelivery, possibly concurrent): no effect.
    Duplicate,
}

/// Payment records and inbound events.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait PaymentStore: Send + Sync {
    /// An order's payments, oldest first. Errors: `Unavailable`, `Internal`.
    async fn payments_of(&self, order: OrderId) -> Result<Vec<Payment>, RepoError>;

    /// The order a succeeded (or since refunded) payment with this gateway `reference`
    /// paid; `None` when no such payment is recorded. Errors: `Unavailable`, `Internal`.
    async fn order_paid_by(
        &self,
        provider: PaymentProvider,
        reference: &str,
    ) -> Result<Option<OrderId>, RepoError>;

    /// In ONE transaction: stores the event by (provider, id) and applies its effect
    /// (payment record, `paidAt`, activation, outgoing `payment.*` event, audit entry).
    /// An event stored before, also by a concurrent transaction that commits first, is
    /// `Duplicate` and changes nothing. A `Settle` whose order is no longer pending
    /// records the payment without activating.
    /// Errors: `Conflict(RaceLost)` (a concurrent activation of the same account
    /// committed first; nothing is stored, the event may be applied again),
    /// `Unavailable`, `Internal`.
    async fn apply_event(&self, event: InboundPayment) -> Result<EventOutcome, RepoError>;

    /// The order's latest stored checkout. Errors: `Unavailable`, `Internal`.
    async fn latest_checkout(&self, order: OrderId) -> Result<Option<StoredCheckout>, RepoError>;

    /// Stores a checkout as the order's attempt number `attempt`; when that attempt is
    /// already stored (a concurrent request), returns the stored one instead.
    /// Errors: `Conflict(MissingReference)` (no such order), `Unavailable`, `Internal`.
    async fn remember_checkout(
        &self,
        order: OrderId,
        provider: PaymentProvider,
        checkout: StoredCheckout,
        at: DateTime<Utc>,
    ) -> Result<StoredCheckout, RepoError>;

    /// The gateway customer stored for an account. Errors: `Unavailable`, `Internal`.
    async fn customer_of(
        &self,
        account: AccountRef,
        provider: PaymentProvider,
    ) -> Result<Option<GatewayCustomerId>, RepoError>;

    /// Stores an account's gateway customer unless one is stored; returns the stored one.
    /// Errors: `Unavailable`, `Internal`.
    async fn remember_customer(
        &self,
        account: AccountRef,
        provider: PaymentProvider,
        customer: GatewayCustomerId,
        at: DateTime<Utc>,
    ) -> Result<GatewayCustomerId, RepoError>;

    /// How many payments are recorded in each status (every status listed).
    /// Errors: `Unavailable`, `Internal`.
    async fn count_by_status(&self) -> Result<Vec<(PaymentStatus, u64)>, RepoError>;
}
