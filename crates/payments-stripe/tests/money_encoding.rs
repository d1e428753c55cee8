//! Money stays integer minor units end to end: from Tariff's `Money`, through the form
//! bytes sent to Stripe, back to the same `Money` when Stripe reports the amount.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use proptest::prelude::*;
use tariff_domain::payments::{
    CheckoutRequest, GatewayCustomerId, IdempotencyKey, LineItem, OffSessionCharge,
    PaymentMethodRef, PaymentReference, RefundRequest, ReturnUrls,
};
use tariff_domain::{Currency, Money, OrderId};
use tariff_payments_stripe::amount::from_stripe_amount;
use tariff_payments_stripe::form;

const CODES: &[&str] = &["EUR", "USD", "JPY", "KWD", "ISK", "CLP", "BHD", "GBP"];

/// An amount Stripe can express in `currency` (three-decimal amounts end in 0).
fn amount_in(currency: Currency, raw: i64) -> Money {
    let minor = if currency.decimals() == 3 {
        raw * 10
    } else {
        raw
    };
    Money::from_minor(minor, currency)
}

/// The form as it travels: encoded to bytes and decoded on the other side.
fn over_the_wire(form: &form::Form) -> Vec<(String, String)> {
    let body = form::encode(form).unwrap();
    serde_urlencoded::from_str(&body).unwrap()
}

fn value<'a>(fields: &'a [(String, String)], key: &str) -> &'a str {
    fields
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no field {key}"))
}

/// A Stripe amount field: ASCII digits only, no sign, no point, no exponent.
fn integer_field(text: &str) -> i64 {
    assert!(
        !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()),
        "`{text}` is not an integer amount"
    );
    text.parse().unwrap()
}

proptest! {
    #[test]
    fn checkout_line_items_round_trip_through_the_form(
        code in prop::sample::select(CODES),
        units in prop::collection::vec((1i64..=10_000_000, 1u32..=50), 1..5),
    ) {
        let currency = Currency::from_code(code).unwrap();
        let items: Vec<LineItem> = units
            .iter()
            .enumerate()
            .map(|(i, (raw, qty))| LineItem::new(format!("item {i}"), amount_in(currency, *raw), *qty).unwrap())
            .collect();
        let mut total = Money::zero(currency);
        for item in &items {
            total = total.checked_add(item.line_total().unwrap()).unwrap();
        }
        let request = CheckoutRequest::new(
            OrderId::new(9).unwrap(),
            total,
            items.clone(),
            GatewayCustomerId::new("cus_1").unwrap(),
            ReturnUrls::new("https://a.example/ok", "https://a.example/no").unwrap(),
            true,
            IdempotencyKey::new("k").unwrap(),
        )
        .unwrap();
        let fields = over_the_wire(&form::checkout_session(&request).unwrap());
        let stripe_currency = code.to_ascii_lowercase();
        let mut sum = Money::zero(currency);
        for (i, item) in items.iter().enumerate() {
            prop_assert_eq!(value(&fields, &format!("line_items[{i}][price_data][currency]")), stripe_currency.as_str());
            let sent = integer_field(value(&fields, &format!("line_items[{i}][price_data][unit_amount]")));
            let back = from_stripe_amount(sent, &stripe_currency).unwrap();
            prop_assert_eq!(back, item.unit_amount());
            let quantity = integer_field(value(&fields, &format!("line_items[{i}][quantity]")));
            prop_assert_eq!(quantity, i64::from(item.quantity()));
            sum = sum.checked_add(back.checked_mul(item.quantity()).unwrap()).unwrap();
        }
        prop_assert_eq!(sum, total);
    }

    #[test]
    fn charge_and_refund_amounts_round_trip_through_the_form(
        code in prop::sample::select(CODES),
        raw in 1i64..=100_000_000_000,
    ) {
        let currency = Currency::from_code(code).unwrap();
        let amount = amount_in(currency, raw);
        let charge = OffSessionCharge::new(
            OrderId::new(1).unwrap(),
            GatewayCustomerId::new("cus_1").unwrap(),
            PaymentMethodRef::new("pm_1").unwrap(),
            amount,
            IdempotencyKey::new("k").unwrap(),
        )
        .unwrap();
        let fields = over_the_wire(&form::off_session_payment_intent(&charge).unwrap());
        let sent = integer_field(value(&fields, "amount"));
        prop_assert_eq!(from_stripe_amount(sent, value(&fields, "currency")), Some(amount));

        let refund = RefundRequest::new(
            PaymentReference::new("pi_1").unwrap(),
            amount,
            IdempotencyKey::new("k").unwrap(),
        )
        .unwrap();
        let fields = over_the_wire(&form::refund(&refund).unwrap());
        let sent = integer_field(value(&fields, "amount"));
        prop_assert_eq!(from_stripe_amount(sent, &code.to_ascii_lowercase()), Some(amount));
    }
}
