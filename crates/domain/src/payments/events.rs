//! What a payment gateway tells Tariff through its webhooks, once the delivery's
//! signature is verified: gateway-neutral events carrying money as [`Money`].

use chrono::{DateTime, Utc};

use super::refs::{
    ChargeId, CheckoutSessionId, GatewayCustomerId, GatewayEventId, PaymentReference, RefundId,
};
use super::requests::{Decline, RefundStatus};
use crate::{Money, OrderId};

/// One verified inbound event. `id` is what makes a redelivery recognisable: the same
/// event delivered twice has one id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GatewayEvent {
    pub id: GatewayEventId,
    pub created: DateTime<Utc>,
    /// False for the gateway's test mode.
    pub live: bool,
    pub kind: GatewayEventKind,
}

/// Whether a completed checkout has taken the money yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CheckoutPaymentStatus {
    /// The money is taken.
    Paid,
    /// A delayed method (bank debit): an async-succeeded or async-failed event follows.
    Unpaid,
    /// Nothing was due (a zero total); Tariff never creates such a checkout.
    NoPaymentRequired,
}

/// A checkout session at the end of its life, as the gateway reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckoutCompletion {
    pub session: CheckoutSessionId,
    /// The order Tariff created the session for; `None` for sessions Tariff did not create.
    pub order_id: Option<OrderId>,
    /// What the buyer was charged, in the session's currency: compared with the order's
    /// total before anything activates.
    pub amount: Money,
    pub payment_status: CheckoutPaymentStatus,
    pub payment: Option<PaymentReference>,
    pub customer: Option<GatewayCustomerId>,
}

/// A payment attempt that failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PaymentFailure {
    pub payment: PaymentReference,
    pub amount: Money,
    /// The order the attempt was for, when Tariff tagged it.
    pub order_id: Option<OrderId>,
    pub customer: Option<GatewayCustomerId>,
    pub decline: Decline,
}

/// One refund of a charge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefundRecord {
    pub id: RefundId,
    pub amount: Money,
    pub status: Option<RefundStatus>,
}

/// A charge that has been refunded, fully or in part, from Tariff or from the gateway's
/// dashboard.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChargeRefund {
    pub charge: ChargeId,
    pub payment: Option<PaymentReference>,
    /// Everything refunded on this charge so far (all refunds together), so that a
    /// handler can credit exactly what it has not credited yet even when the list of
    /// refunds is not included.
    pub amount_refunded: Money,
    /// The charge's refunds when the event includes them (Stripe includes them only when
    /// the webhook endpoint expands `refunds`); otherwise empty.
    pub refunds: Vec<RefundRecord>,
}

/// What an inbound event means to Tariff.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GatewayEventKind {
    /// A checkout finished: `payment_status` says whether the money is taken.
    CheckoutCompleted(CheckoutCompletion),
    /// A delayed checkout payment arrived.
    CheckoutAsyncPaymentSucceeded(CheckoutCompletion),
    /// A delayed checkout payment failed.
    CheckoutAsyncPaymentFailed(CheckoutCompletion),
    /// A payment attempt failed (checkout or off-session).
    PaymentFailed(PaymentFailure),
    /// A charge was refunded.
    ChargeRefunded(ChargeRefund),
    /// A genuine event of a type Tariff does not act on.
    Unhandled { event_type: String },
}
