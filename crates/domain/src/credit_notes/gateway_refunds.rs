//! The credit-note side of refunds made at the gateway: what the payment use case calls
//! for `charge.refunded`.

use async_trait::async_trait;

use super::model::RefundProvider;
use super::service::{CreditNoteError, CreditNoteService};
use crate::payments::{
    GatewayRefundNotes, PaymentProvider, RefundId, RefundNoteError, RefundStatus,
};
use crate::{Money, OrderId};

#[async_trait]
impl GatewayRefundNotes for CreditNoteService {
    async fn document_refund(
        &self,
        order: OrderId,
        provider: PaymentProvider,
        refund: &RefundId,
        amount: Money,
        status: RefundStatus,
    ) -> Result<(), RefundNoteError> {
        match self
            .issue_for_gateway_refund(order, provider, refund, amount, status)
            .await
        {
            Ok(_) => Ok(()),
            Err(CreditNoteError::Refused(why)) => Err(RefundNoteError::Refused(why.to_string())),
            Err(CreditNoteError::OrderNotFound(id)) => Err(RefundNoteError::Refused(format!(
                "order {} does not exist",
                id.get()
            ))),
            Err(other) => Err(RefundNoteError::Store(crate::RepoError::internal(
                other.to_string(),
            ))),
        }
    }

    async fn documented(
        &self,
        order: OrderId,
        provider: PaymentProvider,
    ) -> Result<Option<Money>, RefundNoteError> {
        let wanted = match provider {
            PaymentProvider::Stripe => RefundProvider::Stripe,
            PaymentProvider::Manual => RefundProvider::Manual,
        };
        let notes = self.notes_of(order).await.map_err(RefundNoteError::Store)?;
        let mut sum: Option<Money> = None;
        for note in notes.iter().filter(|note| note.refund().provider == wanted) {
            sum = Some(match sum {
                None => note.amount(),
                Some(so_far) => so_far.checked_add(note.amount()).map_err(|e| {
                    RefundNoteError::Store(crate::RepoError::internal(e.to_string()))
                })?,
            });
        }
        Ok(sum)
    }
}
