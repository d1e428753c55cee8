//! Inbound webhooks signed with Stripe's real scheme, computed here independently of the
//! adapter: `Stripe-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

mod support;

use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;
use support::WEBHOOK_SECRET;
use tariff_domain::payments::{
    CheckoutPaymentStatus, GatewayError, GatewayEvent, GatewayEventKind, PaymentGateway,
    RefundStatus, RejectionKind, SignatureProblem,
};
use tariff_domain::{Currency, Money, OrderId};
use tariff_payments_stripe::{Secret, StripeConfig, StripeGateway, STRIPE_API_VERSION};

fn gateway() -> StripeGateway {
    StripeGateway::new(
        &StripeConfig::new(Secret::new("sk_test_x"), Secret::new(WEBHOOK_SECRET))
            .with_api_base("http://127.0.0.1:1"),
    )
    .unwrap()
}

fn hmac_hex(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{timestamp}.").as_bytes());
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_790_000_000, 0).unwrap()
}

fn header_at(timestamp: i64, body: &[u8]) -> String {
    format!(
        "t={timestamp},v1={}",
        hmac_hex(WEBHOOK_SECRET, timestamp, body)
    )
}

fn event_body(event_type: &str, object: serde_json::Value) -> Vec<u8> {
    json!({
        "id": "evt_1Test",
        "object": "event",
        "api_version": STRIPE_API_VERSION,
        "created": 1_789_999_990,
        "livemode": false,
        "pending_webhooks": 1,
        "request": {"id": null, "idempotency_key": null},
        "type": event_type,
        "data": {"object": object}
    })
    .to_string()
    .into_bytes()
}

fn session(payment_status: &str) -> serde_json::Value {
    json!({
        "id": "cs_test_a1",
        "object": "checkout.session",
        "amount_subtotal": 2380,
        "amount_total": 2380,
        "currency": "eur",
        "client_reference_id": "42",
        "customer": "cus_Abc123",
        "metadata": {"tariff_order_id": "42"},
        "mode": "payment",
        "payment_intent": "pi_1Paid",
        "payment_status": payment_status,
        "status": "complete"
    })
}

fn parse(body: &[u8], header: Option<&str>) -> Result<GatewayEvent, GatewayError> {
    gateway().parse_webhook(body, header, now())
}

fn parse_signed(body: &[u8]) -> GatewayEvent {
    parse(body, Some(&header_at(now().timestamp(), body))).unwrap()
}

fn eur(minor: i64) -> Money {
    Money::from_minor(minor, Currency::EUR)
}

#[test]
fn a_signed_paid_checkout_is_read_with_its_order_amount_and_references() {
    let event = parse_signed(&event_body("checkout.session.completed", session("paid")));
    assert_eq!(event.id.as_str(), "evt_1Test");
    assert_eq!(event.created.timestamp(), 1_789_999_990);
    assert!(!event.live);
    let GatewayEventKind::CheckoutCompleted(completion) = event.kind else {
        panic!("expected a completed checkout, got {:?}", event.kind);
    };
    assert_eq!(completion.session.as_str(), "cs_test_a1");
    assert_eq!(completion.order_id, OrderId::new(42));
    assert_eq!(completion.amount, eur(2380));
    assert_eq!(completion.payment_status, CheckoutPaymentStatus::Paid);
    assert_eq!(completion.payment.unwrap().as_str(), "pi_1Paid");
    assert_eq!(completion.customer.unwrap().as_str(), "cus_Abc123");
}

#[test]
fn unpaid_and_asynchronous_checkouts_are_told_apart() {
    let unpaid = parse_signed(&event_body("checkout.session.completed", session("unpaid")));
    assert!(matches!(
        unpaid.kind,
        GatewayEventKind::CheckoutCompleted(ref c) if c.payment_status == CheckoutPaymentStatus::Unpaid
    ));
    let succeeded = parse_signed(&event_body(
        "checkout.session.async_payment_succeeded",
        session("paid"),
    ));
    assert!(matches!(
        succeeded.kind,
        GatewayEventKind::CheckoutAsyncPaymentSucceeded(ref c) if c.amount == eur(2380)
    ));
    let failed = parse_signed(&event_body(
        "checkout.session.async_payment_failed",
        session("unpaid"),
    ));
    assert!(matches!(
        failed.kind,
        GatewayEventKind::CheckoutAsyncPaymentFailed(ref c) if c.order_id == OrderId::new(42)
    ));
}

#[test]
fn a_session_tariff_did_not_create_has_no_order() {
    let mut foreign = session("paid");
    foreign["metadata"] = json!({});
    foreign["client_reference_id"] = json!(null);
    let event = parse_signed(&event_body("checkout.session.completed", foreign));
    assert!(matches!(
        event.kind,
        GatewayEventKind::CheckoutCompleted(ref c) if c.order_id.is_none()
    ));
}

#[test]
fn a_failed_payment_carries_its_order_and_decline() {
    let intent = json!({
        "id": "pi_Failed1",
        "object": "payment_intent",
        "amount": 2380,
        "currency": "eur",
        "customer": "cus_Abc123",
        "metadata": {"tariff_order_id": "42"},
        "status": "requires_payment_method",
        "last_payment_error": {"type": "card_error", "code": "card_declined",
                               "decline_code": "expired_card", "message": "Your card has expired."}
    });
    let event = parse_signed(&event_body("payment_intent.payment_failed", intent));
    let GatewayEventKind::PaymentFailed(failure) = event.kind else {
        panic!("expected a failed payment");
    };
    assert_eq!(failure.payment.as_str(), "pi_Failed1");
    assert_eq!(failure.order_id, OrderId::new(42));
    assert_eq!(failure.amount, eur(2380));
    assert_eq!(
        failure.decline.decline_code.as_deref(),
        Some("expired_card")
    );
}

#[test]
fn a_refunded_charge_reports_the_refunded_total_and_any_listed_refunds() {
    let charge = json!({
        "id": "ch_1",
        "object": "charge",
        "amount": 2380,
        "amount_refunded": 1500,
        "currency": "eur",
        "payment_intent": "pi_1Paid",
        "refunded": false,
        "refunds": {"object": "list", "data": [
            {"id": "re_1", "object": "refund", "amount": 1000, "currency": "eur", "status": "succeeded"},
            {"id": "re_2", "object": "refund", "amount": 500, "currency": "eur", "status": "pending"}
        ]}
    });
    let event = parse_signed(&event_body("charge.refunded", charge.clone()));
    let GatewayEventKind::ChargeRefunded(refund) = event.kind else {
        panic!("expected a refunded charge");
    };
    assert_eq!(refund.charge.as_str(), "ch_1");
    assert_eq!(refund.payment.unwrap().as_str(), "pi_1Paid");
    assert_eq!(refund.amount_refunded, eur(1500));
    let listed: Vec<_> = refund
        .refunds
        .iter()
        .map(|r| (r.id.as_str(), r.amount.minor(), r.status))
        .collect();
    assert_eq!(
        listed,
        vec![
            ("re_1", 1000, Some(RefundStatus::Succeeded)),
            ("re_2", 500, Some(RefundStatus::Pending))
        ]
    );
    // Since API version 2022-11-15 the charge does not include its refunds unless expanded.
    let mut bare = charge;
    bare.as_object_mut().unwrap().remove("refunds");
    let event = parse_signed(&event_body("charge.refunded", bare));
    assert!(matches!(
        event.kind,
        GatewayEventKind::ChargeRefunded(ref r) if r.refunds.is_empty() && r.amount_refunded == eur(1500)
    ));
}

#[test]
fn a_genuine_event_of_another_type_is_unhandled() {
    let event = parse_signed(&event_body(
        "customer.updated",
        json!({"id": "cus_Abc123", "object": "customer"}),
    ));
    assert_eq!(
        event.kind,
        GatewayEventKind::Unhandled {
            event_type: "customer.updated".to_owned()
        }
    );
}

#[test]
fn any_v1_signature_may_match() {
    let body = event_body("checkout.session.completed", session("paid"));
    let t = now().timestamp();
    let old_secret = hmac_hex("whsec_old_rolled_secret", t, &body);
    let good = hmac_hex(WEBHOOK_SECRET, t, &body);
    let header = format!("t={t},v1={old_secret},v1={good},v0=deadbeef");
    assert!(parse(&body, Some(&header)).is_ok());
    // Stripe may put the signatures before the timestamp, and upper-case hex is the same.
    let header = format!("v1={},t={t}", good.to_uppercase());
    assert!(parse(&body, Some(&header)).is_ok());
}

#[test]
fn a_tampered_body_or_another_secret_does_not_match() {
    let body = event_body("checkout.session.completed", session("paid"));
    let header = header_at(now().timestamp(), &body);
    let tampered = String::from_utf8(body.clone())
        .unwrap()
        .replace("2380", "1");
    assert_eq!(
        parse(tampered.as_bytes(), Some(&header)).unwrap_err(),
        GatewayError::InvalidSignature(SignatureProblem::Mismatch)
    );
    let t = now().timestamp();
    let foreign = format!("t={t},v1={}", hmac_hex("whsec_someone_else", t, &body));
    assert_eq!(
        parse(&body, Some(&foreign)).unwrap_err(),
        GatewayError::InvalidSignature(SignatureProblem::Mismatch)
    );
    // Signed for another timestamp than the one in the header.
    let moved = format!("t={},v1={}", t - 1, hmac_hex(WEBHOOK_SECRET, t, &body));
    assert_eq!(
        parse(&body, Some(&moved)).unwrap_err(),
        GatewayError::InvalidSignature(SignatureProblem::Mismatch)
    );
}

#[test]
fn timestamps_more_than_300_seconds_away_either_way_are_refused() {
    let body = event_body("checkout.session.completed", session("paid"));
    let at = |offset: i64| {
        let t = now().timestamp() + offset;
        parse(&body, Some(&header_at(t, &body)))
    };
    assert!(at(-300).is_ok());
    assert!(at(300).is_ok());
    assert_eq!(
        at(-301).unwrap_err(),
        GatewayError::InvalidSignature(SignatureProblem::OutsideTolerance)
    );
    assert_eq!(
        at(301).unwrap_err(),
        GatewayError::InvalidSignature(SignatureProblem::OutsideTolerance)
    );
    // A delivery replayed a day later is refused though its signature is genuine.
    let header = header_at(now().timestamp(), &body);
    assert_eq!(
        gateway()
            .parse_webhook(&body, Some(&header), now() + Duration::days(1))
            .unwrap_err(),
        GatewayError::InvalidSignature(SignatureProblem::OutsideTolerance)
    );
}

#[test]
fn a_missing_or_malformed_header_is_refused() {
    let body = event_body("checkout.session.completed", session("paid"));
    let t = now().timestamp();
    let good = hmac_hex(WEBHOOK_SECRET, t, &body);
    assert_eq!(
        parse(&body, None).unwrap_err(),
        GatewayError::InvalidSignature(SignatureProblem::Missing)
    );
    for header in [
        String::new(),
        "garbage".to_owned(),
        format!("v1={good}"),
        format!("t={t}"),
        format!("t={t},v0={good}"),
        format!("t=yesterday,v1={good}"),
        format!("t={t},t={t},v1={good}"),
        format!("t={t};v1={good}"),
    ] {
        assert_eq!(
            parse(&body, Some(&header)).unwrap_err(),
            GatewayError::InvalidSignature(SignatureProblem::Malformed),
            "{header}"
        );
    }
    assert_eq!(
        parse(&body, Some(&format!("t={t},v1=not-hex"))).unwrap_err(),
        GatewayError::InvalidSignature(SignatureProblem::Mismatch)
    );
}

#[test]
fn a_signed_payload_that_is_not_a_readable_event_is_refused_as_malformed() {
    for body in [
        b"not json".to_vec(),
        json!({"id": "evt_1"}).to_string().into_bytes(),
        event_body(
            "checkout.session.completed",
            json!({"id": "cs_1", "payment_status": "paid"}),
        ),
        event_body(
            "checkout.session.completed",
            json!({"id": "cs_1", "payment_status": "paid", "amount_total": 100, "currency": "xyz"}),
        ),
    ] {
        let error = parse(&body, Some(&header_at(now().timestamp(), &body))).unwrap_err();
        assert!(
            matches!(error, GatewayError::InvalidRequest(ref r) if r.kind == RejectionKind::MalformedEvent),
            "{error:?}"
        );
    }
}
