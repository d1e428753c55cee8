//! Payments as records: what Tariff knows of the money received (or refused) for an
//! order, whichever way it came.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};

use super::gateway::PaymentProvider;
use crate::audit::PaymentSnapshot;
use crate::{Money, OrderId};

/// Where a recorded payment stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PaymentStatus {
    /// The money was taken and matched the order.
    Succeeded,
    /// The attempt failed: no money moved.
    Failed,
    /// Money was taken, but its amount or currency is not the order's total: the order
    /// was not activated; an administrator settles it.
    Mismatch,
    /// The money was given back.
    Refunded,
}

impl PaymentStatus {
    /// Every status, in the order metrics list them.
    pub const ALL: [PaymentStatus; 4] = [
        PaymentStatus::Succeeded,
        PaymentStatus::Failed,
        PaymentStatus::Mismatch,
        PaymentStatus::Refunded,
    ];

    /// The stable tag used in JSON and storage.
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentStatus::Succeeded => "succeeded",
            PaymentStatus::Failed => "failed",
            PaymentStatus::Mismatch => "mismatch",
            PaymentStatus::Refunded => "refunded",
        }
    }
}

impl fmt::Display for PaymentStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Text that names no payment status.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("`{0}` is not a payment status")]
pub struct UnknownPaymentStatus(pub String);

impl FromStr for PaymentStatus {
    type Err = UnknownPaymentStatus;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PaymentStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| UnknownPaymentStatus(s.to_owned()))
    }
}

/// A stored payment record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Payment {
    id: i64,
    order_id: OrderId,
    provider: PaymentProvider,
    reference: Option<String>,
    amount: Money,
    status: PaymentStatus,
    created_at: DateTime<Utc>,
}

impl Payment {
    /// Rebuilds a stored payment (adapters only).
    pub fn restore(
        id: i64,
        order_id: OrderId,
        provider: PaymentProvider,
        reference: Option<String>,
        amount: Money,
        status: PaymentStatus,
        created_at: DateTime<Utc>,
    ) -> Payment {
        Payment {
            id,
            order_id,
            provider,
            reference,
            amount,
            status,
            created_at,
        }
    }

    pub fn id(&self) -> i64 {
        self.id
    }

    pub fn order_id(&self) -> OrderId {
        self.order_id
    }

    pub fn provider(&self) -> PaymentProvider {
        self.provider
    }

    /// The gateway's reference (payment intent) or the administrator's (bank transfer).
    pub fn reference(&self) -> Option<&str> {
        self.reference.as_deref()
    }

    pub fn amount(&self) -> Money {
        self.amount
    }

    pub fn status(&self) -> PaymentStatus {
        self.status
    }

    pub fn created_at(&self) -> DateTime<Utc> {
        self.created_at
    }

    /// The audit log's record of this payment, naming the event that recorded it.
    pub fn audit_snapshot(&self, event_id: Option<&str>) -> PaymentSnapshot {
        PaymentSnapshot {
            payment_id: self.id,
            order_id: self.order_id.get(),
            provider: self.provider.as_str().to_owned(),
            reference: self.reference.clone(),
            amount: self.amount.to_fixed_string(),
            currency: self.amount.currency().code().to_owned(),
            status: self.status.as_str().to_owned(),
            event_id: event_id.map(str::to_owned),
        }
    }

    /// The `data` of a `payment.*` outgoing webhook event.
    pub fn event_data(&self) -> serde_json::Value {
        serde_json::json!({
            "payment": {
                "id": self.id,
                "orderId": self.order_id.get(),
                "provider": self.provider.as_str(),
                "reference": self.reference,
                "amount": price_number(self.amount),
                "currency": self.amount.currency().code(),
                "status": self.status.as_str(),
                "createdAt": self.created_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            }
        })
    }
}

/// `amount` as a JSON number with the currency's decimals, as every price in the
/// contract's JSON (`11.89`, `5.0`); the decimal text is always a valid number.
fn price_number(amount: Money) -> serde_json::Value {
    amount
        .to_json_number_text()
        .parse::<serde_json::Number>()
        .map_or(serde_json::Value::Null, serde_json::Value::Number)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_through_their_tags() {
        for status in PaymentStatus::ALL {
            assert_eq!(status.as_str().parse::<PaymentStatus>(), Ok(status));
        }
        assert!("paid".parse::<PaymentStatus>().is_err());
    }

    #[test]
    fn event_amounts_are_json_numbers_with_the_currency_decimals() {
        let usd = crate::Currency::USD;
        assert_eq!(
            price_number(Money::from_minor(1189, usd)).to_string(),
            "11.89"
        );
        assert_eq!(price_number(Money::from_minor(500, usd)).to_string(), "5.0");
        assert!(price_number(Money::from_minor(1, usd)).is_number());
    }
}
