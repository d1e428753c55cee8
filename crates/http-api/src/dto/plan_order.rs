//! `POST /api/orders/preview`: what an order would be, line by line, storing nothing.

use serde::Serialize;
use tariff_domain::billing::{ChangeKind, LineKind, OrderPreview};
use utoipa::ToSchema;

use super::order::ScheduledChangeJson;
use super::DecimalNumber;

/// One line of a previewed bill.
#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PreviewLineJson {
    /// `plan`, `unused_time`, `unused_time_to_credit`, `coupon`, `tax` or
    /// `account_credit`.
    pub kind: &'static str,
    pub description: String,
    /// Signed: credits and discounts are negative.
    pub amount: DecimalNumber,
}

/// What `POST /api/orders` would do with the same body.
#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderPreviewJson {
    pub plan_id: i64,
    pub cycle: &'static str,
    /// `upgrade` or `downgrade` when the order changes the account's current plan;
    /// null for a first order or the same plan again.
    pub change: Option<&'static str>,
    /// `now`, or `period_end` (nothing charged; `scheduledChange` says what happens).
    pub when: &'static str,
    /// The account's current active order, if any.
    pub current_order_id: Option<i64>,
    /// Every line: plan, unused time, coupon, tax, account credit (empty at period end).
    pub lines: Vec<PreviewLineJson>,
    pub subtotal: DecimalNumber,
    /// Percent, e.g. `19.0`.
    pub tax_rate: DecimalNumber,
    pub tax_amount: DecimalNumber,
    /// Subtotal plus tax, before account credit.
    pub total: DecimalNumber,
    pub credit_applied: DecimalNumber,
    /// What the customer would pay: the new order's `amount`.
    pub amount_due: DecimalNumber,
    /// Unused time left over beyond the new order's price, tax included, that would be
    /// added to account credit.
    pub credit_to_account: DecimalNumber,
    pub currency: &'static str,
    /// Whether the order would be active at once (nothing to pay).
    pub activates_now: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheduled_change: Option<ScheduledChangeJson>,
}

fn line_kind(kind: LineKind) -> &'static str {
    match kind {
        LineKind::Plan => "plan",
        LineKind::UnusedTime => "unused_time",
        LineKind::UnusedTimeToCredit => "unused_time_to_credit",
        LineKind::Coupon => "coupon",
        LineKind::Tax => "tax",
        LineKind::AccountCredit => "account_credit",
    }
}

impl From<&OrderPreview> for OrderPreviewJson {
    fn from(preview: &OrderPreview) -> Self {
        let currency = preview.plan.price().currency();
        let zero = DecimalNumber::money(tariff_domain::Money::zero(currency));
        let bill = preview.bill.as_ref();
        let money = |f: &dyn Fn(&tariff_domain::billing::Bill) -> tariff_domain::Money| {
            bill.map_or(zero.clone(), |b| DecimalNumber::money(f(b)))
        };
        OrderPreviewJson {
            plan_id: preview.plan.id().get(),
            cycle: preview.cycle.as_str(),
            change: preview.change.map(|kind| match kind {
                ChangeKind::Upgrade => "upgrade",
                ChangeKind::Downgrade => "downgrade",
            }),
            when: preview.when.as_str(),
            current_order_id: preview.current.as_ref().map(|o| o.id().get()),
            lines: bill
                .map(|b| {
                    b.lines()
                        .iter()
                        .map(|line| PreviewLineJson {
                            kind: line_kind(line.kind()),
                            description: line.description().to_owned(),
                            amount: DecimalNumber::money(line.amount()),
                        })
                        .collect()
                })
                .unwrap_or_default(),
            subtotal: money(&|b| b.subtotal()),
            tax_rate: bill
                .map(|b| b.charges().tax_rate())
                .or_else(|| tariff_domain::TaxRate::from_basis_points(0))
                .map_or(zero.clone(), DecimalNumber::percent),
            tax_amount: money(&|b| b.tax()),
            total: money(&|b| b.total()),
            credit_applied: money(&|b| b.credit_applied()),
            amount_due: money(&|b| b.amount_due()),
            credit_to_account: money(&|b| b.credit_to_ledger()),
            currency: currency.code(),
            activates_now: preview.activates_now,
            scheduled_change: preview.scheduled.as_ref().map(ScheduledChangeJson::from),
        }
    }
}
