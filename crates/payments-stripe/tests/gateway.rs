//! The adapter against a fake Stripe on the wire: what it sends (form fields, headers)
//! and how it reads Stripe's answers and failures.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

mod support;

use std::time::{Duration, Instant};

use serde_json::json;
use support::{FakeStripe, Reply, SECRET_KEY};
use tariff_domain::payments::{
    ChargeOutcome, CheckoutRequest, CustomerRequest, Decline, GatewayCustomerId, GatewayError,
    IdempotencyKey, LineItem, OffSessionCharge, PaymentGateway, PaymentMethodRef, PaymentReference,
    RefundRequest, RefundStatus, RejectionKind, ReturnUrls, UnavailableCause,
};
use tariff_domain::{AccountRef, Currency, Email, Money, OrderId, UserId};
use tariff_payments_stripe::{StripeGateway, STRIPE_API_VERSION};

fn eur(minor: i64) -> Money {
    Money::from_minor(minor, Currency::EUR)
}

fn key(raw: &str) -> IdempotencyKey {
    IdempotencyKey::new(raw).unwrap()
}

fn checkout(items: Vec<LineItem>, total: Money, save: bool) -> CheckoutRequest {
    CheckoutRequest::new(
        OrderId::new(42).unwrap(),
        total,
        items,
        GatewayCustomerId::new("cus_Abc123").unwrap(),
        ReturnUrls::new(
            "https://panel.example/billing/ok?session={CHECKOUT_SESSION_ID}",
            "https://panel.example/billing/cancelled",
        )
        .unwrap(),
        save,
        key("order-42-checkout-1"),
    )
    .unwrap()
}

fn session_reply(id: &str) -> Reply {
    Reply::json(
        200,
        json!({
            "id": id,
            "object": "checkout.session",
            "mode": "payment",
            "status": "open",
            "payment_status": "unpaid",
            "amount_total": 2380,
            "currency": "eur",
            "url": format!("https://checkout.stripe.com/c/pay/{id}"),
            "expires_at": 1_790_000_000
        }),
    )
}

fn charge(amount: Money) -> OffSessionCharge {
    OffSessionCharge::new(
        OrderId::new(42).unwrap(),
        GatewayCustomerId::new("cus_Abc123").unwrap(),
        PaymentMethodRef::new("pm_card_visa").unwrap(),
        amount,
        key("renewal-42-attempt-1"),
    )
    .unwrap()
}

fn assert_common_post_headers(request: &support::Recorded, idempotency_key: &str) {
    assert_eq!(request.method, "POST");
    assert_eq!(
        request.header("authorization"),
        Some(format!("Bearer {SECRET_KEY}").as_str())
    );
    assert_eq!(request.header("stripe-version"), Some(STRIPE_API_VERSION));
    assert_eq!(request.header("idempotency-key"), Some(idempotency_key));
    assert_eq!(
        request.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
}

#[tokio::test]
async fn checkout_sends_price_data_line_items_that_add_up_to_the_order_total() {
    let stripe = FakeStripe::start().await;
    stripe.reply(session_reply("cs_test_a1"));
    let plan = LineItem::new("Pro plan – monthly", eur(1000), 2).unwrap();
    let tax = LineItem::new("VAT 19%", eur(380), 1).unwrap();
    let session = stripe
        .gateway()
        .create_checkout(&checkout(vec![plan, tax], eur(2380), true))
        .await
        .unwrap();
    assert_eq!(session.id.as_str(), "cs_test_a1");
    assert_eq!(session.url, "https://checkout.stripe.com/c/pay/cs_test_a1");
    assert_eq!(
        session.expires_at.map(|t| t.timestamp()),
        Some(1_790_000_000)
    );

    let request = stripe.only_request();
    assert_eq!(request.path, "/v1/checkout/sessions");
    assert_common_post_headers(&request, "order-42-checkout-1");
    let expected: Vec<(&str, &str)> = vec![
        ("mode", "payment"),
        ("client_reference_id", "42"),
        ("metadata[tariff_order_id]", "42"),
        ("customer", "cus_Abc123"),
        (
            "success_url",
            "https://panel.example/billing/ok?session={CHECKOUT_SESSION_ID}",
        ),
        ("cancel_url", "https://panel.example/billing/cancelled"),
        ("line_items[0][price_data][currency]", "eur"),
        ("line_items[0][price_data][unit_amount]", "1000"),
        (
            "line_items[0][price_data][product_data][name]",
            "Pro plan – monthly",
        ),
        ("line_items[0][quantity]", "2"),
        ("line_items[1][price_data][currency]", "eur"),
        ("line_items[1][price_data][unit_amount]", "380"),
        ("line_items[1][price_data][product_data][name]", "VAT 19%"),
        ("line_items[1][quantity]", "1"),
        ("payment_intent_data[metadata][tariff_order_id]", "42"),
        ("payment_intent_data[setup_future_usage]", "off_session"),
    ];
    let sent: Vec<(&str, &str)> = request
        .form
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(sent, expected);
    // The line items as Stripe will add them up: what the buyer pays is the order total.
    let sum: i64 = (0..2)
        .map(|i| {
            let unit: i64 = request
                .field(&format!("line_items[{i}][price_data][unit_amount]"))
                .unwrap()
                .parse()
                .unwrap();
            let quantity: i64 = request
                .field(&format!("line_items[{i}][quantity]"))
                .unwrap()
                .parse()
                .unwrap();
            unit * quantity
        })
        .sum();
    assert_eq!(sum, 2380);
    // Nested keys and reserved characters are percent-encoded on the wire.
    assert!(request
        .body
        .contains("line_items%5B0%5D%5Bprice_data%5D%5Bunit_amount%5D=1000"));
    assert!(request
        .body
        .contains("success_url=https%3A%2F%2Fpanel.example"));
    stripe.stop().await;
}

#[tokio::test]
async fn checkout_without_saving_sends_no_setup_future_usage() {
    let stripe = FakeStripe::start().await;
    stripe.reply(session_reply("cs_test_b2"));
    let item = LineItem::new("Starter", eur(500), 1).unwrap();
    stripe
        .gateway()
        .create_checkout(&checkout(vec![item], eur(500), false))
        .await
        .unwrap();
    let request = stripe.only_request();
    assert_eq!(
        request.field("payment_intent_data[setup_future_usage]"),
        None
    );
    assert_eq!(request.field("mode"), Some("payment"));
    stripe.stop().await;
}

#[tokio::test]
async fn an_amount_stripe_cannot_express_is_refused_without_a_request() {
    let stripe = FakeStripe::start().await;
    let kwd = Currency::from_code("KWD").unwrap();
    let item = LineItem::new("Pro", Money::from_minor(5125, kwd), 1).unwrap();
    let error = stripe
        .gateway()
        .create_checkout(&checkout(vec![item], Money::from_minor(5125, kwd), true))
        .await
        .unwrap_err();
    assert!(matches!(
        error,
        GatewayError::InvalidRequest(ref r) if r.kind == RejectionKind::AmountNotRepresentable
    ));
    assert!(stripe.requests().is_empty());
    stripe.stop().await;
}

#[tokio::test]
async fn isk_amounts_are_sent_in_stripe_hundredths() {
    let stripe = FakeStripe::start().await;
    stripe.reply(session_reply("cs_test_isk"));
    let isk = Currency::from_code("ISK").unwrap();
    let item = LineItem::new("Pro", Money::from_minor(4990, isk), 1).unwrap();
    stripe
        .gateway()
        .create_checkout(&checkout(vec![item], Money::from_minor(4990, isk), true))
        .await
        .unwrap();
    let request = stripe.only_request();
    assert_eq!(
        request.field("line_items[0][price_data][currency]"),
        Some("isk")
    );
    assert_eq!(
        request.field("line_items[0][price_data][unit_amount]"),
        Some("499000")
    );
    stripe.stop().await;
}

#[tokio::test]
async fn a_customer_is_created_with_the_account_in_metadata() {
    let stripe = FakeStripe::start().await;
    stripe.reply(Reply::json(
        200,
        json!({"id": "cus_New1", "object": "customer", "email": "ada@example.com"}),
    ));
    let customer = stripe
        .gateway()
        .ensure_customer(&CustomerRequest {
            account: AccountRef::User(UserId::new(5).unwrap()),
            email: Some(Email::parse("Ada@Example.com").unwrap()),
            name: Some("Ada Lovelace".to_owned()),
            idempotency_key: key("customer-user-5"),
        })
        .await
        .unwrap();
    assert_eq!(customer.as_str(), "cus_New1");
    let request = stripe.only_request();
    assert_eq!(request.path, "/v1/customers");
    assert_common_post_headers(&request, "customer-user-5");
    assert_eq!(request.field("email"), Some("ada@example.com"));
    assert_eq!(request.field("name"), Some("Ada Lovelace"));
    assert_eq!(request.field("metadata[tariff_account_kind]"), Some("user"));
    assert_eq!(request.field("metadata[tariff_account_id]"), Some("5"));
    stripe.stop().await;
}

#[tokio::test]
async fn an_off_session_charge_confirms_a_payment_intent_on_the_saved_method() {
    let stripe = FakeStripe::start().await;
    stripe.reply(Reply::json(
        200,
        json!({"id": "pi_Ok1", "object": "payment_intent", "status": "succeeded",
               "amount": 2380, "currency": "eur", "payment_method": "pm_card_visa"}),
    ));
    let outcome = stripe
        .gateway()
        .charge_off_session(&charge(eur(2380)))
        .await
        .unwrap();
    assert_eq!(
        outcome,
        ChargeOutcome::Succeeded {
            payment: PaymentReference::new("pi_Ok1").unwrap()
        }
    );
    let request = stripe.only_request();
    assert_eq!(request.path, "/v1/payment_intents");
    assert_common_post_headers(&request, "renewal-42-attempt-1");
    for (field, value) in [
        ("amount", "2380"),
        ("currency", "eur"),
        ("customer", "cus_Abc123"),
        ("payment_method", "pm_card_visa"),
        ("off_session", "true"),
        ("confirm", "true"),
        ("automatic_payment_methods[enabled]", "true"),
        ("automatic_payment_methods[allow_redirects]", "never"),
        ("metadata[tariff_order_id]", "42"),
    ] {
        assert_eq!(request.field(field), Some(value), "{field}");
    }
    stripe.stop().await;
}

#[tokio::test]
async fn a_declined_card_is_an_outcome_with_the_attempt_and_the_decline_code() {
    let stripe = FakeStripe::start().await;
    stripe.reply(Reply::error(
        402,
        json!({"type": "card_error", "code": "card_declined", "decline_code": "insufficient_funds",
               "message": "Your card has insufficient funds.",
               "payment_intent": {"id": "pi_Declined1", "object": "payment_intent",
                                   "status": "requires_payment_method"}}),
    ));
    let outcome = stripe
        .gateway()
        .charge_off_session(&charge(eur(2380)))
        .await
        .unwrap();
    assert_eq!(
        outcome,
        ChargeOutcome::Declined {
            payment: Some(PaymentReference::new("pi_Declined1").unwrap()),
            decline: Decline {
                code: Some("card_declined".to_owned()),
                decline_code: Some("insufficient_funds".to_owned()),
                message: Some("Your card has insufficient funds.".to_owned()),
            },
        }
    );
    stripe.stop().await;
}

#[tokio::test]
async fn a_bank_demanding_authentication_is_requires_action() {
    let stripe = FakeStripe::start().await;
    stripe.reply(Reply::error(
        402,
        json!({"type": "card_error", "code": "authentication_required",
               "decline_code": "authentication_required",
               "payment_intent": {"id": "pi_Sca1", "status": "requires_payment_method"}}),
    ));
    stripe.reply(Reply::json(
        200,
        json!({"id": "pi_Sca2", "object": "payment_intent", "status": "requires_action"}),
    ));
    stripe.reply(Reply::json(
        200,
        json!({"id": "pi_Sepa1", "object": "payment_intent", "status": "processing"}),
    ));
    let gateway = stripe.gateway();
    let pi = |id: &str| PaymentReference::new(id).unwrap();
    assert_eq!(
        gateway.charge_off_session(&charge(eur(100))).await.unwrap(),
        ChargeOutcome::RequiresAction {
            payment: pi("pi_Sca1")
        }
    );
    assert_eq!(
        gateway.charge_off_session(&charge(eur(100))).await.unwrap(),
        ChargeOutcome::RequiresAction {
            payment: pi("pi_Sca2")
        }
    );
    assert_eq!(
        gateway.charge_off_session(&charge(eur(100))).await.unwrap(),
        ChargeOutcome::Processing {
            payment: pi("pi_Sepa1")
        }
    );
    stripe.stop().await;
}

#[tokio::test]
async fn a_refund_is_made_against_the_payment_intent() {
    let stripe = FakeStripe::start().await;
    stripe.reply(Reply::json(
        200,
        json!({"id": "re_1", "object": "refund", "amount": 1000, "currency": "eur",
               "status": "succeeded", "payment_intent": "pi_Ok1", "charge": "ch_1"}),
    ));
    let refund = stripe
        .gateway()
        .refund(
            &RefundRequest::new(
                PaymentReference::new("pi_Ok1").unwrap(),
                eur(1000),
                key("credit-note-7-refund"),
            )
            .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(refund.id.as_str(), "re_1");
    assert_eq!(refund.amount, eur(1000));
    assert_eq!(refund.status, RefundStatus::Succeeded);
    let request = stripe.only_request();
    assert_eq!(request.path, "/v1/refunds");
    assert_common_post_headers(&request, "credit-note-7-refund");
    assert_eq!(request.field("payment_intent"), Some("pi_Ok1"));
    assert_eq!(request.field("amount"), Some("1000"));
    stripe.stop().await;
}

#[tokio::test]
async fn the_saved_payment_method_is_read_from_the_payment_intent() {
    let stripe = FakeStripe::start().await;
    stripe.reply(Reply::json(
        200,
        json!({"id": "pi_Ok1", "object": "payment_intent", "status": "succeeded",
               "payment_method": "pm_1Saved"}),
    ));
    let method = stripe
        .gateway()
        .payment_method_of(&PaymentReference::new("pi_Ok1").unwrap())
        .await
        .unwrap();
    assert_eq!(method, Some(PaymentMethodRef::new("pm_1Saved").unwrap()));
    let request = stripe.only_request();
    assert_eq!(request.method, "GET");
    assert_eq!(request.path, "/v1/payment_intents/pi_Ok1");
    assert_eq!(request.header("stripe-version"), Some(STRIPE_API_VERSION));
    assert_eq!(
        request.header("authorization"),
        Some(format!("Bearer {SECRET_KEY}").as_str())
    );
    // A reference that would leave its path segment is never sent.
    let error = stripe
        .gateway()
        .payment_method_of(&PaymentReference::new("pi_1/../../v1/customers").unwrap())
        .await
        .unwrap_err();
    assert!(matches!(error, GatewayError::InvalidRequest(_)));
    assert_eq!(stripe.requests().len(), 1);
    stripe.stop().await;
}

async fn refund_error(reply: Reply) -> GatewayError {
    let stripe = FakeStripe::start().await;
    stripe.reply(reply);
    let error = stripe
        .gateway()
        .refund(
            &RefundRequest::new(
                PaymentReference::new("pi_Ok1").unwrap(),
                eur(1000),
                key("refund-key"),
            )
            .unwrap(),
        )
        .await
        .unwrap_err();
    assert_eq!(stripe.requests().len(), 1);
    stripe.stop().await;
    error
}

#[tokio::test]
async fn stripe_failures_map_to_gateway_errors() {
    let declined = refund_error(Reply::error(
        402,
        json!({"type": "card_error", "code": "card_declined", "decline_code": "do_not_honor"}),
    ))
    .await;
    assert!(
        matches!(declined, GatewayError::Declined(ref d) if d.decline_code.as_deref() == Some("do_not_honor"))
    );

    let invalid = refund_error(Reply::error(
        400,
        json!({"type": "invalid_request_error", "code": "charge_already_refunded",
               "message": "Charge ch_1 has already been refunded."}),
    ))
    .await;
    match invalid {
        GatewayError::InvalidRequest(rejection) => {
            assert_eq!(rejection.kind, RejectionKind::Invalid);
            assert_eq!(rejection.code.as_deref(), Some("charge_already_refunded"));
        }
        other => panic!("expected InvalidRequest, got {other:?}"),
    }

    assert_eq!(
        refund_error(Reply::error(500, json!({"type": "api_error"}))).await,
        GatewayError::Unavailable(UnavailableCause::ServerError(500))
    );
    assert_eq!(
        refund_error(Reply::raw(502, "<html>Bad gateway</html>")).await,
        GatewayError::Unavailable(UnavailableCause::ServerError(502))
    );
    assert_eq!(
        refund_error(Reply::error(
            429,
            json!({"type": "invalid_request_error", "code": "rate_limit"})
        ))
        .await,
        GatewayError::Unavailable(UnavailableCause::RateLimited)
    );
    assert!(matches!(
        refund_error(Reply::error(401, json!({"type": "invalid_request_error",
            "message": "Invalid API Key provided: sk_test_****cret"}))).await,
        GatewayError::InvalidRequest(ref r) if r.kind == RejectionKind::Authentication
    ));
    assert!(matches!(
        refund_error(Reply::error(400, json!({"type": "idempotency_error"}))).await,
        GatewayError::InvalidRequest(ref r) if r.kind == RejectionKind::IdempotencyConflict
    ));
    assert_eq!(
        refund_error(Reply::raw(200, "this is not json")).await,
        GatewayError::Unavailable(UnavailableCause::MalformedResponse)
    );
    // A redirect is not followed (it could carry the key elsewhere): one request only.
    assert_eq!(
        refund_error(Reply::redirect(307, "/v1/elsewhere")).await,
        GatewayError::Unavailable(UnavailableCause::MalformedResponse)
    );
}

#[tokio::test]
async fn a_slow_stripe_is_unavailable_after_the_timeout() {
    let stripe = FakeStripe::start().await;
    stripe.reply(session_reply("cs_slow").after(Duration::from_secs(5)));
    let gateway =
        StripeGateway::new(&stripe.config().with_timeout(Duration::from_millis(300))).unwrap();
    let item = LineItem::new("Starter", eur(500), 1).unwrap();
    let started = Instant::now();
    let error = gateway
        .create_checkout(&checkout(vec![item], eur(500), true))
        .await
        .unwrap_err();
    let waited = started.elapsed();
    assert_eq!(error, GatewayError::Unavailable(UnavailableCause::Timeout));
    assert!(waited >= Duration::from_millis(300), "{waited:?}");
    assert!(waited < Duration::from_secs(4), "{waited:?}");
    stripe.stop().await;
}

#[tokio::test]
async fn an_unreachable_stripe_is_unavailable() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let config = tariff_payments_stripe::StripeConfig::new(
        tariff_payments_stripe::Secret::new(SECRET_KEY),
        tariff_payments_stripe::Secret::new("whsec_x"),
    )
    .with_api_base(format!("http://127.0.0.1:{port}"))
    .with_timeout(Duration::from_secs(2));
    let error = StripeGateway::new(&config)
        .unwrap()
        .charge_off_session(&charge(eur(100)))
        .await
        .unwrap_err();
    assert_eq!(error, GatewayError::Unavailable(UnavailableCause::Network));
}

#[test]
fn the_gateway_never_prints_its_secrets() {
    let config = tariff_payments_stripe::StripeConfig::new(
        tariff_payments_stripe::Secret::new(SECRET_KEY),
        tariff_payments_stripe::Secret::new(support::WEBHOOK_SECRET),
    )
    .with_api_base("http://127.0.0.1:1");
    let gateway = StripeGateway::new(&config).unwrap();
    let printed = format!("{gateway:?} {config:?}");
    assert!(!printed.contains(SECRET_KEY), "{printed}");
    assert!(!printed.contains(support::WEBHOOK_SECRET), "{printed}");
    assert!(printed.contains("127.0.0.1:1"));
}
