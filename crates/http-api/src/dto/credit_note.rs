//! Refunds and credit notes (panel dialect, camelCase).

use serde::{Deserialize, Serialize};
use tariff_domain::credit_notes::{CreditNote, CreditNoteJson, RefundDestination};
use utoipa::ToSchema;

use super::{panel_timestamp, DecimalInput, DecimalNumber};

/// `to` of a refund.
#[derive(Clone, Copy, Debug, Deserialize, ToSchema, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum RefundTo {
    /// Back to the payment the order was paid with (the default): through Stripe when
    /// the order was paid there, else recorded as a manual refund.
    #[default]
    Original,
    /// To the account's credit, in the order's currency.
    Credit,
}

impl From<RefundTo> for RefundDestination {
    fn from(to: RefundTo) -> RefundDestination {
        match to {
            RefundTo::Original => RefundDestination::Original,
            RefundTo::Credit => RefundDestination::Credit,
        }
    }
}

/// `POST /api/admin/orders/:id/refund`.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RefundInput {
    /// Exact in the order's currency, above 0; default: everything left refundable.
    #[serde(default)]
    #[schema(value_type = Option<f64>, example = 5.0)]
    pub amount: Option<DecimalInput>,
    /// Why, 1 to 500 characters; printed on the credit note.
    #[schema(example = "Service outage")]
    pub reason: String,
    /// `original` (default) or `credit`.
    #[serde(default)]
    pub to: RefundTo,
    /// Also cancel the order (when it is active), in the same transaction.
    #[serde(default)]
    pub cancel: bool,
}

/// How a credit note's money went back.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct RefundJson {
    /// `original` or `credit`.
    #[schema(example = "original")]
    pub to: &'static str,
    /// `stripe`, `manual` or `credit`.
    #[schema(example = "manual")]
    pub provider: &'static str,
    /// `succeeded`, `pending` or `failed`.
    #[schema(example = "succeeded")]
    pub status: &'static str,
    /// The gateway's refund id (`re_...`); null for manual and credit refunds.
    pub reference: Option<String>,
}

/// A credit note.
#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreditNoteBody {
    pub id: i64,
    #[schema(example = "CN-2026-000001")]
    pub number: String,
    pub order_id: i64,
    /// The invoice it corrects.
    #[schema(example = "INV-2026-000001")]
    pub invoice_number: String,
    #[schema(value_type = f64, example = 11.89)]
    pub amount: DecimalNumber,
    #[schema(example = "USD")]
    pub currency: &'static str,
    pub reason: String,
    pub refund: RefundJson,
    #[schema(example = "2026-11-30T10:00:00Z")]
    pub created_at: String,
}

impl From<&CreditNote> for CreditNoteBody {
    fn from(note: &CreditNote) -> Self {
        let refund = note.refund();
        CreditNoteBody {
            id: note.id().get(),
            number: note.number().to_owned(),
            order_id: note.order_id().get(),
            invoice_number: note.invoice_number().to_owned(),
            amount: DecimalNumber::money(note.amount()),
            currency: note.amount().currency().code(),
            reason: note.reason().text().to_owned(),
            refund: RefundJson {
                to: refund.to.as_str(),
                provider: refund.provider.as_str(),
                status: refund.status.as_str(),
                reference: refund.reference.clone(),
            },
            created_at: panel_timestamp(note.created_at()),
        }
    }
}

/// The `credit_note.issued` event's data: the credit note JSON.
pub struct ApiCreditNotePayloads;

impl CreditNoteJson for ApiCreditNotePayloads {
    fn credit_note(&self, note: &CreditNote) -> serde_json::Value {
        serde_json::to_value(CreditNoteBody::from(note))
            .unwrap_or_else(|_| serde_json::json!({ "id": note.id().get() }))
    }
}
