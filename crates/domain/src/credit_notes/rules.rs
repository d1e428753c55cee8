//! The refund rule and what a credit note's PDF shows. Pure functions.

use super::model::CreditNote;
use crate::orders::{invoice_document, BillingPolicy, InvoiceDocument, InvoiceKind, InvoiceLine};
use crate::orders::{Order, OrderStatus};
use crate::shared::money::{Money, MoneyError};

/// Why a refund is refused (HTTP: 409).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RefundRefusal {
    /// The order was never paid: it has no invoice (pending, or cancelled before
    /// payment), so there is nothing to refund.
    #[error("the order was never paid, so there is nothing to refund")]
    NeverPaid,
    /// Its credit notes already add up to its total.
    #[error("the order is refunded in full already")]
    NothingLeft,
    /// More than what is left refundable was asked for.
    #[error("{requested} is more than the {left} left refundable on this order")]
    ExceedsRefundable {
        /// What was asked for.
        requested: Money,
        /// What is left.
        left: Money,
    },
    /// The amount is in another currency than the order.
    #[error("the amount must be in the order's currency, {expected}")]
    CurrencyMismatch {
        /// The order's currency code.
        expected: &'static str,
    },
}

/// The amount of a new credit note on an order whose total is `total` and whose credit
/// notes so far add up to `refunded`: `requested`, or everything left when `None`.
/// Never more than what is left, so the notes never add up to more than the total.
pub fn decide_refund(
    total: Money,
    refunded: Money,
    requested: Option<Money>,
) -> Result<Money, RefundRefusal> {
    let mismatch = || RefundRefusal::CurrencyMismatch {
        expected: total.currency().code(),
    };
    // A sum above the total cannot be stored; treat it as nothing left rather than
    // compute a negative amount.
    let left = total
        .checked_sub(refunded)
        .map_err(|_| mismatch())?
        .max_zero();
    if left.minor() <= 0 {
        return Err(RefundRefusal::NothingLeft);
    }
    let Some(requested) = requested else {
        return Ok(left);
    };
    if requested.currency() != total.currency() {
        return Err(mismatch());
    }
    if requested.minor() > left.minor() {
        return Err(RefundRefusal::ExceedsRefundable { requested, left });
    }
    Ok(requested)
}

/// Whether an order in `status` with (`numbered`) or without an invoice number can be
/// refunded at all: only paid orders can, which are those with an invoice (active,
/// expired, or cancelled after payment).
pub fn check_refundable(status: OrderStatus, numbered: bool) -> Result<(), RefundRefusal> {
    match (status, numbered) {
        (OrderStatus::Pending, _) | (_, false) => Err(RefundRefusal::NeverPaid),
        _ => Ok(()),
    }
}

trait MaxZero {
    fn max_zero(self) -> Money;
}

impl MaxZero for Money {
    fn max_zero(self) -> Money {
        if self.minor() < 0 {
            Money::zero(self.currency())
        } else {
            self
        }
    }
}

/// The tax share of `amount` when `amount` is part of `total`, of which `tax` is tax:
/// `tax * amount / total`, rounded down to the minor unit (so the shares of several
/// notes never add up to more than the order's tax).
pub fn tax_share(tax: Money, amount: Money, total: Money) -> Result<Money, MoneyError> {
    if total.minor() <= 0 {
        return Ok(Money::zero(amount.currency()));
    }
    let share = i128::from(tax.minor()) * i128::from(amount.minor()) / i128::from(total.minor());
    let share = i64::try_from(share).map_err(|_| MoneyError::Overflow)?;
    Ok(Money::from_minor(share, amount.currency()))
}

/// What the PDF of `note` on `order` shows: the seller and buyer frozen on the order's
/// invoice, the note's number and date, the invoice it corrects, one line for the
/// refunded amount before tax, the tax share and the amount. Deterministic: rendering it
/// again gives the same bytes.
pub fn credit_note_document(
    note: &CreditNote,
    order: &Order,
    policy: &BillingPolicy,
) -> Result<InvoiceDocument, MoneyError> {
    let mut document = invoice_document(order, None, note.created_at(), policy);
    let charges = order.charges();
    let tax = tax_share(charges.tax(), note.amount(), charges.total())?;
    let net = note.amount().checked_sub(tax)?;
    document.kind = InvoiceKind::CreditNote {
        number: note.number().to_owned(),
        invoice_number: note.invoice_number().to_owned(),
        reason: note.reason().text().to_owned(),
    };
    document.issued_at = note.created_at();
    document.issue_date = note.created_at().date_naive();
    document.due_date = document.issue_date;
    document.lines = vec![InvoiceLine {
        description: format!("Credit for invoice {}", note.invoice_number()),
        quantity: 1,
        unit_price: net,
        amount: net,
    }];
    document.subtotal = net;
    document.tax = tax;
    document.total = note.amount();
    document.payment_reference = note.refund().reference.clone();
    Ok(document)
}
