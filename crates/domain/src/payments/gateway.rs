//! The payment gateway port and how its calls fail.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::events::GatewayEvent;
use super::refs::{GatewayCustomerId, PaymentMethodRef, PaymentReference};
use super::requests::{
    ChargeOutcome, CheckoutRequest, CheckoutSession, CustomerRequest, Decline, OffSessionCharge,
    RefundOutcome, RefundRequest,
};

/// Who moved the money of a payment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PaymentProvider {
    Stripe,
    /// Recorded by an administrator (bank transfer, cash): no gateway involved.
    Manual,
}

impl PaymentProvider {
    /// The stable tag used in JSON and storage.
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentProvider::Stripe => "stripe",
            PaymentProvider::Manual => "manual",
        }
    }

    pub fn from_tag(tag: &str) -> Option<PaymentProvider> {
        match tag {
            "stripe" => Some(PaymentProvider::Stripe),
            "manual" => Some(PaymentProvider::Manual),
            _ => None,
        }
    }
}

/// Why the gateway could not be reached or gave no usable answer. Every one of these
/// may be retried with the same idempotency key: a write that did happen is not repeated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnavailableCause {
    /// No answer within the configured timeout.
    Timeout,
    /// The connection failed or broke (refused, reset, DNS, TLS).
    Network,
    /// The gateway asked to slow down (HTTP 429).
    RateLimited,
    /// A request with the same idempotency key is still being processed.
    ConcurrentRequest,
    /// The gateway failed (HTTP 5xx) with this status.
    ServerError(u16),
    /// An answer that is not what the gateway's API documents.
    MalformedResponse,
}

/// Why the gateway refused a request: retrying it unchanged fails the same way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RejectionKind {
    /// The secret key is wrong or revoked (HTTP 401): a configuration problem.
    Authentication,
    /// The key may not do this (HTTP 403).
    Permission,
    /// The referenced object does not exist at the gateway (HTTP 404).
    NotFound,
    /// The idempotency key was used before with other parameters.
    IdempotencyConflict,
    /// Parameters the gateway does not accept (HTTP 400 and other 4xx).
    Invalid,
    /// An amount the gateway cannot express in this currency (never sent).
    AmountNotRepresentable,
    /// A verified webhook whose payload is not an event this adapter can read.
    MalformedEvent,
}

/// A refusal, with the gateway's own code and message for the logs (never secrets).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    pub kind: RejectionKind,
    pub code: Option<String>,
    pub message: Option<String>,
    pub param: Option<String>,
}

impl Rejection {
    pub fn new(kind: RejectionKind) -> Rejection {
        Rejection {
            kind,
            code: None,
            message: None,
            param: None,
        }
    }

    pub fn with_message(kind: RejectionKind, message: impl Into<String>) -> Rejection {
        Rejection {
            message: Some(message.into()),
            ..Rejection::new(kind)
        }
    }
}

/// Why an inbound webhook's signature was refused. Nothing of such a delivery is trusted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignatureProblem {
    /// No signature header.
    Missing,
    /// A header without a timestamp or without any signature of the expected scheme.
    Malformed,
    /// The signed timestamp is further from now than the tolerance, either way.
    OutsideTolerance,
    /// No signature in the header matches the body.
    Mismatch,
}

/// How a gateway call fails.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum GatewayError {
    /// The card or bank refused the money (outside `charge_off_session`, which reports
    /// refusals as [`ChargeOutcome::Declined`]).
    #[error("payment declined")]
    Declined(Decline),
    /// The gateway could not be reached or failed; retry later with the same key.
    #[error("payment gateway unavailable: {0:?}")]
    Unavailable(UnavailableCause),
    /// The gateway refused the request as made.
    #[error("payment gateway refused the request: {:?}", .0.kind)]
    InvalidRequest(Rejection),
    /// An inbound webhook failed verification.
    #[error("invalid webhook signature: {0:?}")]
    InvalidSignature(SignatureProblem),
}

/// A payment gateway: hosted checkout, saved payment methods, off-session charges,
/// refunds, and verified inbound events. Every write carries the caller's idempotency
/// key, so that a call repeated after a crash or a timeout has one effect.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait PaymentGateway: Send + Sync {
    /// Which provider this is, for payment records.
    fn provider(&self) -> PaymentProvider;

    /// Opens a hosted checkout for an order: the request's line items, in its currency,
    /// tagged with the order id; with `save_payment_method`, the method is kept on the
    /// customer for off-session use.
    /// Errors: `Unavailable`, `InvalidRequest`.
    async fn create_checkout(
        &self,
        request: &CheckoutRequest,
    ) -> Result<CheckoutSession, GatewayError>;

    /// Creates the gateway customer of an account. Repeating the call with the same
    /// idempotency key returns the same customer (the gateway keeps keys at least a day);
    /// callers store the id per account and call this only when they have none.
    /// Errors: `Unavailable`, `InvalidRequest`.
    async fn ensure_customer(
        &self,
        request: &CustomerRequest,
    ) -> Result<GatewayCustomerId, GatewayError>;

    /// The payment method a (checkout) payment used, once it is saved for reuse; `None`
    /// while the payment has none.
    /// Errors: `Unavailable`, `InvalidRequest` (`NotFound` for an unknown payment).
    async fn payment_method_of(
        &self,
        payment: &PaymentReference,
    ) -> Result<Option<PaymentMethodRef>, GatewayError>;

    /// Charges a saved payment method while the buyer is away. A refusal or a demand
    /// for authentication is an `Ok` outcome with the attempt's reference.
    /// Errors: `Unavailable`, `InvalidRequest`.
    async fn charge_off_session(
        &self,
        request: &OffSessionCharge,
    ) -> Result<ChargeOutcome, GatewayError>;

    /// Refunds (part of) a payment back to where it came from.
    /// Errors: `Declined`, `Unavailable`, `InvalidRequest` (already refunded, amount
    /// larger than what is left, unknown payment).
    async fn refund(&self, request: &RefundRequest) -> Result<RefundOutcome, GatewayError>;

    /// Verifies an inbound webhook on its raw bytes and the signature header, at `now`,
    /// and reads it. Pure: no I/O.
    /// Errors: `InvalidSignature` (nothing of the payload is trusted), `InvalidRequest`
    /// with `MalformedEvent` (signed, but not an event this adapter can read).
    fn parse_webhook<'a>(
        &self,
        payload: &'a [u8],
        signature_header: Option<&'a str>,
        now: DateTime<Utc>,
    ) -> Result<GatewayEvent, GatewayError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_tags_round_trip() {
        for provider in [PaymentProvider::Stripe, PaymentProvider::Manual] {
            assert_eq!(PaymentProvider::from_tag(provider.as_str()), Some(provider));
        }
        assert_eq!(PaymentProvider::from_tag("paypal"), None);
    }

    #[test]
    fn the_port_is_mockable_for_use_case_tests() {
        let mut gateway = MockPaymentGateway::new();
        gateway
            .expect_provider()
            .return_const(PaymentProvider::Stripe);
        gateway
            .expect_parse_webhook()
            .returning(|_, _, _| Err(GatewayError::InvalidSignature(SignatureProblem::Missing)));
        assert_eq!(gateway.provider(), PaymentProvider::Stripe);
        assert_eq!(
            gateway.parse_webhook(b"{}", None, Utc::now()),
            Err(GatewayError::InvalidSignature(SignatureProblem::Missing))
        );
    }
}
