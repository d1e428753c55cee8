//! What Tariff asks a payment gateway to do, each request validated when it is built so
//! that an adapter only ever sends well-formed money: integer minor units, one currency,
//! line items that add up to the total.

use chrono::{DateTime, Utc};

use super::refs::{
    CheckoutSessionId, GatewayCustomerId, IdempotencyKey, PaymentMethodRef, PaymentReference,
    RefundId,
};
use crate::{AccountRef, Email, Money, MoneyError, OrderId};

/// Why a payment request could not be built.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InvalidPaymentRequest {
    #[error("a checkout needs at least one line item")]
    NoLineItems,
    #[error("a line item needs a name of 1 to {max} characters")]
    BadItemName { max: usize },
    #[error("a line item's quantity must be at least 1")]
    ZeroQuantity,
    #[error("amounts must not be negative")]
    NegativeAmount,
    #[error("the amount must be more than zero")]
    ZeroAmount,
    #[error("line items are in {item} but the total is in {total}")]
    CurrencyMismatch {
        item: &'static str,
        total: &'static str,
    },
    #[error("line items add up to {items} minor units, not the total of {total}")]
    ItemsDoNotAddUp { items: i64, total: i64 },
    #[error("{0} must be an absolute http(s) URL")]
    BadUrl(&'static str),
    #[error(transparent)]
    Money(#[from] MoneyError),
}

/// Stripe shows product names of up to this many characters; longer ones are cut by hand.
pub const MAX_ITEM_NAME_CHARS: usize = 250;

/// One line of a checkout: a name, a unit amount (tax and discounts already applied)
/// and a quantity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineItem {
    name: String,
    unit_amount: Money,
    quantity: u32,
}

impl LineItem {
    pub fn new(
        name: impl Into<String>,
        unit_amount: Money,
        quantity: u32,
    ) -> Result<Self, InvalidPaymentRequest> {
        let name = name.into();
        let chars = name.trim().chars().count();
        if chars == 0 || chars > MAX_ITEM_NAME_CHARS {
            return Err(InvalidPaymentRequest::BadItemName {
                max: MAX_ITEM_NAME_CHARS,
            });
        }
        if quantity == 0 {
            return Err(InvalidPaymentRequest::ZeroQuantity);
        }
        if unit_amount.minor() < 0 {
            return Err(InvalidPaymentRequest::NegativeAmount);
        }
        Ok(Self {
            name,
            unit_amount,
            quantity,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn unit_amount(&self) -> Money {
        self.unit_amount
    }

    pub fn quantity(&self) -> u32 {
        self.quantity
    }

    /// Unit amount times quantity, checked.
    pub fn line_total(&self) -> Result<Money, MoneyError> {
        self.unit_amount.checked_mul(self.quantity)
    }
}

/// Where the gateway sends the buyer back to, after paying or giving up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReturnUrls {
    success: String,
    cancel: String,
}

impl ReturnUrls {
    /// Both must be absolute `http://` or `https://` URLs. Gateway placeholders such as
    /// Stripe's `{CHECKOUT_SESSION_ID}` are passed through untouched.
    pub fn new(
        success: impl Into<String>,
        cancel: impl Into<String>,
    ) -> Result<Self, InvalidPaymentRequest> {
        let success = success.into();
        let cancel = cancel.into();
        if !is_absolute_http_url(&success) {
            return Err(InvalidPaymentRequest::BadUrl("success_url"));
        }
        if !is_absolute_http_url(&cancel) {
            return Err(InvalidPaymentRequest::BadUrl("cancel_url"));
        }
        Ok(Self { success, cancel })
    }

    pub fn success(&self) -> &str {
        &self.success
    }

    pub fn cancel(&self) -> &str {
        &self.cancel
    }
}

fn is_absolute_http_url(url: &str) -> bool {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    matches!(rest, Some(host) if !host.is_empty() && !host.starts_with('/'))
        && !url.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// A hosted checkout for one order. Its line items add up exactly to the order's total
/// in the total's currency; the gateway charges that total and nothing else.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckoutRequest {
    order_id: OrderId,
    total: Money,
    line_items: Vec<LineItem>,
    customer: GatewayCustomerId,
    urls: ReturnUrls,
    save_payment_method: bool,
    idempotency_key: IdempotencyKey,
}

impl CheckoutRequest {
    /// Checks that there is at least one item, that every item is in the total's
    /// currency and that the items add up to the total, which must be positive.
    /// `save_payment_method` keeps the buyer's payment method on `customer` for
    /// off-session renewals.
    pub fn new(
        order_id: OrderId,
        total: Money,
        line_items: Vec<LineItem>,
        customer: GatewayCustomerId,
        urls: ReturnUrls,
        save_payment_method: bool,
        idempotency_key: IdempotencyKey,
    ) -> Result<Self, InvalidPaymentRequest> {
        if line_items.is_empty() {
            return Err(InvalidPaymentRequest::NoLineItems);
        }
        positive(total)?;
        let mut sum = Money::zero(total.currency());
        for item in &line_items {
            if item.unit_amount().currency() != total.currency() {
                return Err(InvalidPaymentRequest::CurrencyMismatch {
                    item: item.unit_amount().currency().code(),
                    total: total.currency().code(),
                });
            }
            sum = sum.checked_add(item.line_total()?)?;
        }
        if sum != total {
            return Err(InvalidPaymentRequest::ItemsDoNotAddUp {
                items: sum.minor(),
                total: total.minor(),
            });
        }
        Ok(Self {
            order_id,
            total,
            line_items,
            customer,
            urls,
            save_payment_method,
            idempotency_key,
        })
    }

    pub fn order_id(&self) -> OrderId {
        self.order_id
    }

    pub fn total(&self) -> Money {
        self.total
    }

    pub fn line_items(&self) -> &[LineItem] {
        &self.line_items
    }

    pub fn customer(&self) -> &GatewayCustomerId {
        &self.customer
    }

    pub fn urls(&self) -> &ReturnUrls {
        &self.urls
    }

    pub fn save_payment_method(&self) -> bool {
        self.save_payment_method
    }

    pub fn idempotency_key(&self) -> &IdempotencyKey {
        &self.idempotency_key
    }
}

fn positive(amount: Money) -> Result<(), InvalidPaymentRequest> {
    match amount.minor() {
        minor if minor < 0 => Err(InvalidPaymentRequest::NegativeAmount),
        0 => Err(InvalidPaymentRequest::ZeroAmount),
        _ => Ok(()),
    }
}

/// An open checkout page: where to send the buyer, and until when it can be paid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckoutSession {
    pub id: CheckoutSessionId,
    pub url: String,
    pub expires_at: Option<DateTime<Utc>>,
}

/// The gateway customer for one Tariff account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CustomerRequest {
    pub account: AccountRef,
    pub email: Option<Email>,
    pub name: Option<String>,
    pub idempotency_key: IdempotencyKey,
}

/// A charge of a saved payment method while the buyer is away (renewals).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OffSessionCharge {
    order_id: OrderId,
    customer: GatewayCustomerId,
    payment_method: PaymentMethodRef,
    amount: Money,
    idempotency_key: IdempotencyKey,
}

impl OffSessionCharge {
    /// The amount must be positive.
    pub fn new(
        order_id: OrderId,
        customer: GatewayCustomerId,
        payment_method: PaymentMethodRef,
        amount: Money,
        idempotency_key: IdempotencyKey,
    ) -> Result<Self, InvalidPaymentRequest> {
        positive(amount)?;
        Ok(Self {
            order_id,
            customer,
            payment_method,
            amount,
            idempotency_key,
        })
    }

    pub fn order_id(&self) -> OrderId {
        self.order_id
    }

    pub fn customer(&self) -> &GatewayCustomerId {
        &self.customer
    }

    pub fn payment_method(&self) -> &PaymentMethodRef {
        &self.payment_method
    }

    pub fn amount(&self) -> Money {
        self.amount
    }

    pub fn idempotency_key(&self) -> &IdempotencyKey {
        &self.idempotency_key
    }
}

/// What the gateway said about a card or bank refusing money. The codes are the
/// gateway's own (Stripe `code` and `decline_code`), kept for the payment record and
/// the audit log; the message is the gateway's text meant for the buyer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Decline {
    pub code: Option<String>,
    pub decline_code: Option<String>,
    pub message: Option<String>,
}

/// How an off-session charge ended. A refusal is an outcome, not an error: the attempt
/// has a reference that the payment record keeps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChargeOutcome {
    /// The money is taken.
    Succeeded { payment: PaymentReference },
    /// The method needs more time (bank debits); the result arrives as a webhook.
    Processing { payment: PaymentReference },
    /// The card or bank refused. `payment` is absent when the gateway kept no attempt.
    Declined {
        payment: Option<PaymentReference>,
        decline: Decline,
    },
    /// The bank wants the buyer to authenticate; only an on-session checkout can finish it.
    RequiresAction { payment: PaymentReference },
}

/// A refund of (part of) one payment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefundRequest {
    payment: PaymentReference,
    amount: Money,
    idempotency_key: IdempotencyKey,
}

impl RefundRequest {
    /// The amount must be positive; whether it is refundable is the gateway's answer.
    pub fn new(
        payment: PaymentReference,
        amount: Money,
        idempotency_key: IdempotencyKey,
    ) -> Result<Self, InvalidPaymentRequest> {
        positive(amount)?;
        Ok(Self {
            payment,
            amount,
            idempotency_key,
        })
    }

    pub fn payment(&self) -> &PaymentReference {
        &self.payment
    }

    pub fn amount(&self) -> Money {
        self.amount
    }

    pub fn idempotency_key(&self) -> &IdempotencyKey {
        &self.idempotency_key
    }
}

/// Where a refund stands at the gateway.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RefundStatus {
    Pending,
    Succeeded,
    Failed,
    Canceled,
    RequiresAction,
}

impl RefundStatus {
    /// Stripe's status names; anything else is `None`.
    pub fn from_gateway(status: &str) -> Option<RefundStatus> {
        match status {
            "pending" => Some(RefundStatus::Pending),
            "succeeded" => Some(RefundStatus::Succeeded),
            "failed" => Some(RefundStatus::Failed),
            "canceled" => Some(RefundStatus::Canceled),
            "requires_action" => Some(RefundStatus::RequiresAction),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RefundStatus::Pending => "pending",
            RefundStatus::Succeeded => "succeeded",
            RefundStatus::Failed => "failed",
            RefundStatus::Canceled => "canceled",
            RefundStatus::RequiresAction => "requires_action",
        }
    }
}

/// A refund as the gateway recorded it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefundOutcome {
    pub id: RefundId,
    pub amount: Money,
    pub status: RefundStatus,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Currency;

    fn eur(minor: i64) -> Money {
        Money::from_minor(minor, Currency::EUR)
    }

    fn request(
        total: Money,
        items: Vec<LineItem>,
    ) -> Result<CheckoutRequest, InvalidPaymentRequest> {
        CheckoutRequest::new(
            OrderId::new(7).unwrap(),
            total,
            items,
            GatewayCustomerId::new("cus_1").unwrap(),
            ReturnUrls::new("https://shop.example/ok", "https://shop.example/back").unwrap(),
            true,
            IdempotencyKey::new("order-7-checkout").unwrap(),
        )
    }

    #[test]
    fn line_items_must_add_up_to_the_total_in_its_currency() {
        let plan = LineItem::new("Pro plan", eur(1000), 2).unwrap();
        let tax = LineItem::new("VAT 19%", eur(380), 1).unwrap();
        assert!(request(eur(2380), vec![plan.clone(), tax.clone()]).is_ok());
        assert_eq!(
            request(eur(2381), vec![plan.clone(), tax]).unwrap_err(),
            InvalidPaymentRequest::ItemsDoNotAddUp {
                items: 2380,
                total: 2381
            }
        );
        let dollars = LineItem::new("Pro plan", Money::from_minor(2000, Currency::USD), 1).unwrap();
        assert_eq!(
            request(eur(2000), vec![dollars]).unwrap_err(),
            InvalidPaymentRequest::CurrencyMismatch {
                item: "USD",
                total: "EUR"
            }
        );
        assert_eq!(
            request(eur(0), vec![LineItem::new("Free", eur(0), 1).unwrap()]).unwrap_err(),
            InvalidPaymentRequest::ZeroAmount
        );
        assert_eq!(
            request(eur(10), vec![]).unwrap_err(),
            InvalidPaymentRequest::NoLineItems
        );
        let huge = LineItem::new("Huge", eur(i64::MAX), 2).unwrap();
        assert_eq!(
            request(eur(10), vec![huge]).unwrap_err(),
            InvalidPaymentRequest::Money(MoneyError::Overflow)
        );
    }

    #[test]
    fn line_items_refuse_empty_names_zero_quantities_and_negative_amounts() {
        assert!(matches!(
            LineItem::new("  ", eur(1), 1),
            Err(InvalidPaymentRequest::BadItemName { .. })
        ));
        assert_eq!(
            LineItem::new("x", eur(1), 0).unwrap_err(),
            InvalidPaymentRequest::ZeroQuantity
        );
        assert_eq!(
            LineItem::new("x", eur(-1), 1).unwrap_err(),
            InvalidPaymentRequest::NegativeAmount
        );
    }

    #[test]
    fn return_urls_must_be_absolute_http_urls() {
        assert!(ReturnUrls::new(
            "https://a.example/ok?s={CHECKOUT_SESSION_ID}",
            "http://localhost:8080/back"
        )
        .is_ok());
        assert_eq!(
            ReturnUrls::new("/ok", "https://a.example").unwrap_err(),
            InvalidPaymentRequest::BadUrl("success_url")
        );
        assert_eq!(
            ReturnUrls::new("https://a.example", "javascript:alert(1)").unwrap_err(),
            InvalidPaymentRequest::BadUrl("cancel_url")
        );
        assert_eq!(
            ReturnUrls::new("https:///path", "https://a.example").unwrap_err(),
            InvalidPaymentRequest::BadUrl("success_url")
        );
    }

    #[test]
    fn charges_and_refunds_need_a_positive_amount() {
        let key = IdempotencyKey::new("k").unwrap();
        let payment = PaymentReference::new("pi_1").unwrap();
        assert_eq!(
            RefundRequest::new(payment.clone(), eur(0), key.clone()).unwrap_err(),
            InvalidPaymentRequest::ZeroAmount
        );
        assert!(RefundRequest::new(payment, eur(1), key.clone()).is_ok());
        assert_eq!(
            OffSessionCharge::new(
                OrderId::new(1).unwrap(),
                GatewayCustomerId::new("cus_1").unwrap(),
                PaymentMethodRef::new("pm_1").unwrap(),
                eur(-5),
                key,
            )
            .unwrap_err(),
            InvalidPaymentRequest::NegativeAmount
        );
    }
}
