//! Inbound webhooks: Stripe's `Stripe-Signature` scheme, checked on the raw bytes, and
//! the event objects read into gateway-neutral events.
//!
//! The header is `t=<unix seconds>,v1=<hex>[,v1=<hex>...][,v0=...]`, where each `v1` is
//! `HMAC-SHA256(webhook secret, "<t>.<raw body>")` in lower-case hex. Any `v1` may
//! match (Stripe sends several while a secret is being rolled); other schemes are
//! ignored. The timestamp must be within the tolerance of now, in either direction, so a
//! captured delivery cannot be replayed later. Comparisons take constant time.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;
use subtle::ConstantTimeEq;
use tariff_domain::payments::{
    ChargeId, ChargeRefund, CheckoutCompletion, CheckoutPaymentStatus, CheckoutSessionId, Decline,
    GatewayCustomerId, GatewayError, GatewayEvent, GatewayEventId, GatewayEventKind,
    PaymentFailure, PaymentReference, RefundId, RefundRecord, RefundStatus, Rejection,
    RejectionKind, SignatureProblem,
};
use tariff_domain::{Money, OrderId};

use crate::amount::from_stripe_amount;
use crate::form::ORDER_METADATA_KEY;

type HmacSha256 = Hmac<Sha256>;

/// Verifies `header` for `payload` with `secret` at `now`.
pub fn verify_signature(
    secret: &[u8],
    payload: &[u8],
    header: Option<&str>,
    now: DateTime<Utc>,
    tolerance_secs: i64,
) -> Result<(), SignatureProblem> {
    let header = header.ok_or(SignatureProblem::Missing)?;
    let mut timestamp: Option<&str> = None;
    let mut signatures: Vec<&str> = Vec::new();
    for element in header.split(',') {
        let Some((key, value)) = element.trim().split_once('=') else {
            return Err(SignatureProblem::Malformed);
        };
        match key {
            "t" if timestamp.is_none() => timestamp = Some(value),
            "t" => return Err(SignatureProblem::Malformed),
            "v1" => signatures.push(value),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureProblem::Malformed)?;
    let seconds: i64 = timestamp.parse().map_err(|_| SignatureProblem::Malformed)?;
    if signatures.is_empty() {
        return Err(SignatureProblem::Malformed);
    }
    let age = now.timestamp().checked_sub(seconds);
    if !matches!(age, Some(age) if age.abs() <= tolerance_secs) {
        return Err(SignatureProblem::OutsideTolerance);
    }
    let expected = sign(secret, timestamp, payload);
    let mut matched = subtle::Choice::from(0u8);
    for candidate in signatures {
        // Every candidate is compared, so the time taken does not tell which one matched.
        let candidate = candidate.to_ascii_lowercase();
        matched |= candidate.as_bytes().ct_eq(expected.as_bytes());
    }
    if bool::from(matched) {
        Ok(())
    } else {
        Err(SignatureProblem::Mismatch)
    }
}

/// The lower-case hex `v1` signature of `payload` signed at `timestamp` (unix seconds as
/// written in the header).
pub fn sign(secret: &[u8], timestamp: &str, payload: &[u8]) -> String {
    // HMAC accepts keys of any length, so this never fails; an empty string would match
    // no signature anyway.
    let mut mac = match HmacSha256::new_from_slice(secret) {
        Ok(mac) => mac,
        Err(_) => return String::new(),
    };
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(payload);
    hex::encode(mac.finalize().into_bytes())
}

/// A `Stripe-Signature` header for `payload`, as Stripe writes it: for tests and tools.
pub fn signature_header(secret: &[u8], timestamp: i64, payload: &[u8]) -> String {
    let t = timestamp.to_string();
    format!("t={t},v1={}", sign(secret, &t, payload))
}

#[derive(Deserialize)]
struct RawEvent {
    id: String,
    #[serde(rename = "type")]
    event_type: String,
    created: i64,
    #[serde(default)]
    livemode: bool,
    #[serde(default)]
    api_version: Option<String>,
    data: RawEventData,
}

#[derive(Deserialize)]
struct RawEventData {
    object: serde_json::Value,
}

#[derive(Deserialize)]
struct RawCheckoutSession {
    id: String,
    amount_total: Option<i64>,
    currency: Option<String>,
    payment_status: String,
    client_reference_id: Option<String>,
    #[serde(default)]
    metadata: Option<std::collections::HashMap<String, String>>,
    payment_intent: Option<IdOrObject>,
    customer: Option<IdOrObject>,
}

#[derive(Deserialize)]
struct RawPaymentIntent {
    id: String,
    amount: i64,
    currency: String,
    #[serde(default)]
    metadata: Option<std::collections::HashMap<String, String>>,
    customer: Option<IdOrObject>,
    last_payment_error: Option<RawPaymentError>,
}

#[derive(Deserialize)]
pub(crate) struct RawPaymentError {
    pub code: Option<String>,
    pub decline_code: Option<String>,
    pub message: Option<String>,
}

#[derive(Deserialize)]
struct RawCharge {
    id: String,
    amount_refunded: i64,
    currency: String,
    payment_intent: Option<IdOrObject>,
    refunds: Option<RawList<RawRefund>>,
}

#[derive(Deserialize)]
struct RawList<T> {
    data: Vec<T>,
}

#[derive(Deserialize)]
struct RawRefund {
    id: String,
    amount: i64,
    currency: String,
    status: Option<String>,
}

/// A reference Stripe sends either as an id or, when expanded, as an object with an id.
#[derive(Deserialize)]
#[serde(untagged)]
pub(crate) enum IdOrObject {
    Id(String),
    Object { id: String },
}

impl IdOrObject {
    pub(crate) fn id(self) -> String {
        match self {
            IdOrObject::Id(id) | IdOrObject::Object { id } => id,
        }
    }
}

fn malformed(message: impl Into<String>) -> GatewayError {
    GatewayError::InvalidRequest(Rejection::with_message(
        RejectionKind::MalformedEvent,
        message,
    ))
}

fn money(amount: i64, currency: &str) -> Result<Money, GatewayError> {
    from_stripe_amount(amount, currency)
        .ok_or_else(|| malformed(format!("amount {amount} {currency} is not Tariff money")))
}

fn reference<T>(
    make: impl FnOnce(String) -> Result<T, tariff_domain::payments::InvalidGatewayRef>,
    raw: String,
) -> Result<T, GatewayError> {
    make(raw).map_err(|problem| malformed(problem.to_string()))
}

fn order_id_from(
    metadata: Option<&std::collections::HashMap<String, String>>,
    client_reference: Option<&str>,
) -> Option<OrderId> {
    metadata
        .and_then(|m| m.get(ORDER_METADATA_KEY))
        .map(String::as_str)
        .or(client_reference)
        .and_then(|raw| raw.trim().parse::<i64>().ok())
        .and_then(OrderId::new)
}

/// Reads a verified payload into an event.
pub fn parse_event(payload: &[u8]) -> Result<GatewayEvent, GatewayError> {
    let raw: RawEvent = serde_json::from_slice(payload)
        .map_err(|error| malformed(format!("not a Stripe event: {error}")))?;
    if let Some(version) = raw.api_version.as_deref() {
        if version != crate::STRIPE_API_VERSION {
            tracing::warn!(
                event_api_version = version,
                pinned = crate::STRIPE_API_VERSION,
                "Stripe webhook endpoint uses another API version than the adapter pins"
            );
        }
    }
    let id = reference(GatewayEventId::new, raw.id)?;
    let created = DateTime::from_timestamp(raw.created, 0)
        .ok_or_else(|| malformed("event creation time out of range"))?;
    let object = raw.data.object;
    let kind = match raw.event_type.as_str() {
        "checkout.session.completed" => GatewayEventKind::CheckoutCompleted(checkout(object)?),
        "checkout.session.async_payment_succeeded" => {
            GatewayEventKind::CheckoutAsyncPaymentSucceeded(checkout(object)?)
        }
        "checkout.session.async_payment_failed" => {
            GatewayEventKind::CheckoutAsyncPaymentFailed(checkout(object)?)
        }
        "payment_intent.payment_failed" => {
            GatewayEventKind::PaymentFailed(payment_failure(object)?)
        }
        "charge.refunded" => GatewayEventKind::ChargeRefunded(charge_refund(object)?),
        _ => GatewayEventKind::Unhandled {
            event_type: raw.event_type,
        },
    };
    Ok(GatewayEvent {
        id,
        created,
        live: raw.livemode,
        kind,
    })
}

fn object<T: for<'de> Deserialize<'de>>(
    value: serde_json::Value,
    what: &str,
) -> Result<T, GatewayError> {
    serde_json::from_value(value).map_err(|error| malformed(format!("{what}: {error}")))
}

fn checkout(value: serde_json::Value) -> Result<CheckoutCompletion, GatewayError> {
    let session: RawCheckoutSession = object(value, "checkout session")?;
    let amount = match (session.amount_total, session.currency.as_deref()) {
        (Some(amount), Some(currency)) => money(amount, currency)?,
        _ => {
            return Err(malformed(
                "checkout session without amount_total or currency",
            ))
        }
    };
    let payment_status = match session.payment_status.as_str() {
        "paid" => CheckoutPaymentStatus::Paid,
        "unpaid" => CheckoutPaymentStatus::Unpaid,
        "no_payment_required" => CheckoutPaymentStatus::NoPaymentRequired,
        other => return Err(malformed(format!("unknown payment_status {other}"))),
    };
    Ok(CheckoutCompletion {
        order_id: order_id_from(
            session.metadata.as_ref(),
            session.client_reference_id.as_deref(),
        ),
        session: reference(CheckoutSessionId::new, session.id)?,
        amount,
        payment_status,
        payment: session
            .payment_intent
            .map(|p| reference(PaymentReference::new, p.id()))
            .transpose()?,
        customer: session
            .customer
            .map(|c| reference(GatewayCustomerId::new, c.id()))
            .transpose()?,
    })
}

fn payment_failure(value: serde_json::Value) -> Result<PaymentFailure, GatewayError> {
    let intent: RawPaymentIntent = object(value, "payment intent")?;
    let decline = intent
        .last_payment_error
        .map(|error| Decline {
            code: error.code,
            decline_code: error.decline_code,
            message: error.message,
        })
        .unwrap_or_default();
    Ok(PaymentFailure {
        order_id: order_id_from(intent.metadata.as_ref(), None),
        amount: money(intent.amount, &intent.currency)?,
        payment: reference(PaymentReference::new, intent.id)?,
        customer: intent
            .customer
            .map(|c| reference(GatewayCustomerId::new, c.id()))
            .transpose()?,
        decline,
    })
}

fn charge_refund(value: serde_json::Value) -> Result<ChargeRefund, GatewayError> {
    let charge: RawCharge = object(value, "charge")?;
    let refunds = charge
        .refunds
        .map(|list| list.data)
        .unwrap_or_default()
        .into_iter()
        .map(|refund| {
            Ok(RefundRecord {
                amount: money(refund.amount, &refund.currency)?,
                status: refund
                    .status
                    .as_deref()
                    .and_then(RefundStatus::from_gateway),
                id: reference(RefundId::new, refund.id)?,
            })
        })
        .collect::<Result<Vec<_>, GatewayError>>()?;
    Ok(ChargeRefund {
        amount_refunded: money(charge.amount_refunded, &charge.currency)?,
        charge: reference(ChargeId::new, charge.id)?,
        payment: charge
            .payment_intent
            .map(|p| reference(PaymentReference::new, p.id()))
            .transpose()?,
        refunds,
    })
}
