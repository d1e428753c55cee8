//! Refunds across the gateway: the refund of an order's original payment (for the admin
//! refund route) and the credit notes of refunds the gateway reports (`charge.refunded`).

use std::sync::Arc;

use async_trait::async_trait;

use super::events::ChargeRefund;
use super::gateway::{PaymentGateway, PaymentProvider};
use super::record::PaymentStatus;
use super::refs::{IdempotencyKey, PaymentReference, RefundId};
use super::requests::{RefundRequest, RefundStatus};
use super::store::PaymentStore;
use crate::credit_notes::{GatewayRefund, OriginalPaymentRefunder, RefundGatewayError};
use crate::{Money, OrderId, RepoError};

/// Refunds an order's payment through the gateway that took it: the order's latest
/// succeeded payment of that gateway. An order paid another way (mark-paid) has none,
/// and its refund is recorded as manual by the caller.
pub struct GatewayRefunder {
    store: Arc<dyn PaymentStore>,
    gateway: Arc<dyn PaymentGateway>,
}

impl GatewayRefunder {
    /// Refunds through `gateway` what `store` records it took.
    pub fn new(store: Arc<dyn PaymentStore>, gateway: Arc<dyn PaymentGateway>) -> Self {
        GatewayRefunder { store, gateway }
    }
}

#[async_trait]
impl OriginalPaymentRefunder for GatewayRefunder {
    async fn refund_original(
        &self,
        order: OrderId,
        amount: Money,
        key: &IdempotencyKey,
    ) -> Result<Option<GatewayRefund>, RefundGatewayError> {
        let provider = self.gateway.provider();
        let payments = self
            .store
            .payments_of(order)
            .await
            .map_err(RefundGatewayError::Store)?;
        let paid = payments.iter().rev().find(|payment| {
            payment.provider() == provider
                && matches!(
                    payment.status(),
                    PaymentStatus::Succeeded | PaymentStatus::Refunded
                )
        });
        let Some(reference) = paid.and_then(|payment| payment.reference()) else {
            return Ok(None);
        };
        let reference = PaymentReference::new(reference).map_err(|e| {
            RefundGatewayError::Store(RepoError::internal(format!(
                "stored payment reference: {e}"
            )))
        })?;
        // The credit-note use case only asks for positive amounts.
        let request = RefundRequest::new(reference, amount, key.clone()).map_err(|e| {
            RefundGatewayError::Store(RepoError::internal(format!("refund request: {e}")))
        })?;
        let outcome = self
            .gateway
            .refund(&request)
            .await
            .map_err(RefundGatewayError::Gateway)?;
        Ok(Some(GatewayRefund {
            provider,
            id: outcome.id,
            status: outcome.status,
        }))
    }
}

/// Why a reported gateway refund got no credit note.
#[derive(Debug, thiserror::Error)]
pub enum RefundNoteError {
    /// The note would break the sum rule (more than is left refundable) or the order
    /// was never paid: the refund is logged, not documented.
    #[error("the refund cannot be documented: {0}")]
    Refused(String),
    /// The store failed; the event should be retried.
    #[error("documenting the refund failed")]
    Store(#[source] RepoError),
}

/// The credit notes of refunds made at the gateway. Implemented by the credit-note use
/// case; the payment use case calls it for `charge.refunded`.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait GatewayRefundNotes: Send + Sync {
    /// Issues the credit note of refund `refund` of `amount` on `order`, unless one
    /// exists for that refund id (then nothing happens): idempotent per refund id, also
    /// concurrently. Errors: `Refused`, `Store`.
    async fn document_refund(
        &self,
        order: OrderId,
        provider: PaymentProvider,
        refund: &RefundId,
        amount: Money,
        status: RefundStatus,
    ) -> Result<(), RefundNoteError>;

    /// What the credit notes of `order` already document as refunded through
    /// `provider`; `None` when none does. Errors: `Store`.
    async fn documented(
        &self,
        order: OrderId,
        provider: PaymentProvider,
    ) -> Result<Option<Money>, RefundNoteError>;
}

/// The refunds a `charge.refunded` event reports, each with its id: the listed refunds
/// when the event carries them; otherwise one refund for what the charge's cumulative
/// `amount_refunded` adds to what is documented already, under an id made of the charge
/// and that cumulative amount (so a redelivery or a later event for the same total names
/// the same refund).
pub fn reported_refunds(
    charge: &ChargeRefund,
    documented: Option<Money>,
) -> Vec<(RefundId, Money, RefundStatus)> {
    let documented = documented.unwrap_or_else(|| Money::zero(charge.amount_refunded.currency()));
    if !charge.refunds.is_empty() {
        return charge
            .refunds
            .iter()
            .map(|refund| {
                (
                    refund.id.clone(),
                    refund.amount,
                    refund.status.unwrap_or(RefundStatus::Succeeded),
                )
            })
            .collect();
    }
    let Ok(missing) = charge.amount_refunded.checked_sub(documented) else {
        return Vec::new();
    };
    if missing.minor() <= 0 {
        return Vec::new();
    }
    let id = format!(
        "{}:{}",
        charge.charge.as_str(),
        charge.amount_refunded.minor()
    );
    match RefundId::new(id) {
        Ok(id) => vec![(id, missing, RefundStatus::Succeeded)],
        Err(_) => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payments::events::RefundRecord;
    use crate::payments::refs::ChargeId;
    use crate::Currency;

    fn usd(minor: i64) -> Money {
        Money::from_minor(minor, Currency::USD)
    }

    fn charge(refunded: i64, refunds: Vec<RefundRecord>) -> ChargeRefund {
        ChargeRefund {
            charge: ChargeId::new("ch_1").unwrap(),
            payment: None,
            amount_refunded: usd(refunded),
            refunds,
        }
    }

    #[test]
    fn listed_refunds_are_documented_one_by_one() {
        let refunds = vec![
            RefundRecord {
                id: RefundId::new("re_1").unwrap(),
                amount: usd(300),
                status: Some(RefundStatus::Succeeded),
            },
            RefundRecord {
                id: RefundId::new("re_2").unwrap(),
                amount: usd(200),
                status: None,
            },
        ];
        let reported = reported_refunds(&charge(500, refunds), Some(usd(300)));
        assert_eq!(reported.len(), 2);
        assert_eq!(reported[0].0.as_str(), "re_1");
        assert_eq!(reported[1].1, usd(200));
    }

    #[test]
    fn without_a_list_only_what_is_not_documented_yet_is_reported_under_a_stable_id() {
        let reported = reported_refunds(&charge(500, Vec::new()), None);
        assert_eq!(reported.len(), 1);
        assert_eq!(reported[0].0.as_str(), "ch_1:500");
        assert_eq!(reported[0].1, usd(500));
        let rest = reported_refunds(&charge(500, Vec::new()), Some(usd(300)));
        assert_eq!(rest[0].1, usd(200));
        assert!(reported_refunds(&charge(500, Vec::new()), Some(usd(500))).is_empty());
        assert!(reported_refunds(&charge(500, Vec::new()), Some(usd(700))).is_empty());
    }
}
