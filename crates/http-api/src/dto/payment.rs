//! Payments: the hosted checkout handed to the buyer, payment records, and the answer
//! to an inbound gateway webhook.

use serde::Serialize;
use tariff_domain::payments::{CheckoutPage, Payment, WebhookOutcome};
use utoipa::ToSchema;

use super::{panel_timestamp, DecimalNumber};

/// Where to send the buyer to pay an order.
#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CheckoutJson {
    /// `stripe`.
    pub provider: &'static str,
    /// The gateway's checkout session (`cs_...`).
    pub session_id: String,
    /// The hosted payment page.
    pub url: String,
}

impl From<&CheckoutPage> for CheckoutJson {
    fn from(page: &CheckoutPage) -> Self {
        CheckoutJson {
            provider: page.provider,
            session_id: page.session.id.as_str().to_owned(),
            url: page.session.url.clone(),
        }
    }
}

/// One payment of an order.
#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PaymentJson {
    pub id: i64,
    /// `stripe` or `manual` (mark-paid).
    pub provider: &'static str,
    /// The gateway's payment reference (`pi_...`) or the administrator's.
    pub reference: Option<String>,
    pub amount: DecimalNumber,
    /// ISO 4217, upper case.
    pub currency: &'static str,
    /// `succeeded`, `failed`, `mismatch` or `refunded`.
    pub status: &'static str,
    pub created_at: String,
}

impl From<&Payment> for PaymentJson {
    fn from(payment: &Payment) -> Self {
        PaymentJson {
            id: payment.id(),
            provider: payment.provider().as_str(),
            reference: payment.reference().map(str::to_owned),
            amount: DecimalNumber::money(payment.amount()),
            currency: payment.amount().currency().code(),
            status: payment.status().as_str(),
            created_at: panel_timestamp(payment.created_at()),
        }
    }
}

/// The answer to a verified gateway webhook.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct WebhookReceiptJson {
    /// Always true: the event is recorded.
    pub received: bool,
    /// `paid`, `mismatch`, `failed`, `ignored` or `duplicate`.
    pub outcome: &'static str,
}

impl From<WebhookOutcome> for WebhookReceiptJson {
    fn from(outcome: WebhookOutcome) -> Self {
        WebhookReceiptJson {
            received: true,
            outcome: outcome.as_str(),
        }
    }
}
