//! The order aggregate: what was bought for which account, at what price and tax, and
//! where it stands in its life (`pending -> active | cancelled | expired`,
//! `active -> cancelled | expired`).

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};

use super::charges::{Charges, OrderItem};
use super::cycle::{OrderBilling, Period};
use super::note::CustomerNote;
use super::parties::IssuedInvoice;
use super::periods::lifetime_end;
use crate::audit::snapshot::{AccountSnapshot, OrderSnapshot};
use crate::catalogue::plan::Plan;
use crate::shared::ids::AccountRef;
use crate::shared::ids::{OrderId, PlanId, UserId};
use crate::shared::money::{Money, MoneyError, TaxRate};

/// Where an order stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OrderStatus {
    /// Pending.
    Pending,
    /// Active.
    Active,
    /// Cancelled.
    Cancelled,
    /// Expired.
    Expired,
}

impl OrderStatus {
    /// All.
    pub const ALL: [OrderStatus; 4] = [
        OrderStatus::Pending,
        OrderStatus::Active,
        OrderStatus::Cancelled,
        OrderStatus::Expired,
    ];

    /// The text form.
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Pending => "pending",
            OrderStatus::Active => "active",
            OrderStatus::Cancelled => "cancelled",
            OrderStatus::Expired => "expired",
        }
    }

    /// The state machine: a pending order may become active, cancelled or expired; an
    /// active one cancelled or expired; cancelled and expired are final.
    pub fn can_become(self, next: OrderStatus) -> bool {
        use OrderStatus::{Active, Cancelled, Expired, Pending};
        matches!(
            (self, next),
            (Pending, Active | Cancelled | Expired) | (Active, Cancelled | Expired)
        )
    }

    /// `next` if the state machine allows it, the refusal otherwise.
    pub fn transition(self, next: OrderStatus) -> Result<OrderStatus, IllegalTransition> {
        if self.can_become(next) {
            Ok(next)
        } else {
            Err(IllegalTransition {
                from: self,
                to: next,
            })
        }
    }
}

impl fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Text that is not an order status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not one of pending, active, cancelled, expired")]
pub struct UnknownStatus(pub String);

impl FromStr for OrderStatus {
    type Err = UnknownStatus;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        OrderStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| UnknownStatus(s.to_owned()))
    }
}

/// The state machine refused a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("an order that is {from} cannot become {to}")]
pub struct IllegalTransition {
    /// From.
    pub from: OrderStatus,
    /// To.
    pub to: OrderStatus,
}

/// Order data that breaks the aggregate's invariants (totals that do not add up,
/// mixed currencies, no line items...).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid order: {0}")]
pub struct InvalidOrder(pub String);

impl From<MoneyError> for InvalidOrder {
    fn from(err: MoneyError) -> Self {
        InvalidOrder(err.to_string())
    }
}

/// An order not yet stored: priced, taxed, described.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewOrder {
    account: AccountRef,
    placed_by: Option<UserId>,
    plan_id: PlanId,
    description: String,
    charges: Charges,
    notes: Option<String>,
    renewal_of: Option<OrderId>,
    created_at: DateTime<Utc>,
    billing: OrderBilling,
    customer_note: Option<CustomerNote>,
}

impl NewOrder {
    /// One month of `plan` for `account`, at the plan's current price with `tax_rate`.
    /// `placed_by` is the user the order is for, or the member who placed it for an
    /// organisation.
    pub fn for_plan(
        plan: &Plan,
        account: AccountRef,
        placed_by: Option<UserId>,
        tax_rate: TaxRate,
        created_at: DateTime<Utc>,
    ) -> Result<NewOrder, InvalidOrder> {
        let placed_by = match account {
            AccountRef::User(user) => Some(user),
            AccountRef::Org(_) => placed_by,
        };
        let description = format!("{} (monthly)", plan.name());
        let item = OrderItem::new(description.clone(), 1, plan.price())?;
        Ok(NewOrder {
            account,
            placed_by,
            plan_id: plan.id(),
            description,
            charges: Charges::compute(vec![item], tax_rate)?,
            notes: None,
            renewal_of: None,
            created_at,
            billing: OrderBilling::default(),
            customer_note: None,
        })
    }

    /// The order priced by the billing rules: its description, its taxable lines
    /// (plan, unused time, coupon) with tax, and its cycle, credit and coupon. The
    /// account credit must be in the order's currency and at most its total.
    pub fn with_pricing(
        mut self,
        description: String,
        charges: Charges,
        billing: OrderBilling,
    ) -> Result<NewOrder, InvalidOrder> {
        check_credit(&charges, &billing)?;
        self.description = description;
        self.charges = charges;
        self.billing = billing;
        Ok(self)
    }

    /// The billing terms: cycle, account credit, coupon.
    pub fn billing(&self) -> &OrderBilling {
        &self.billing
    }

    /// What is left to pay after account credit.
    pub fn amount_due(&self) -> Money {
        amount_due(&self.charges, &self.billing)
    }

    /// Attaches the customer's own note (kept apart from the internal notes).
    pub fn with_customer_note(mut self, note: Option<CustomerNote>) -> NewOrder {
        self.customer_note = note;
        self
    }

    /// The customer's note.
    pub fn customer_note(&self) -> Option<&CustomerNote> {
        self.customer_note.as_ref()
    }

    /// Attaches internal notes (blank notes are dropped).
    pub fn with_notes(mut self, notes: Option<String>) -> NewOrder {
        self.notes = notes.filter(|n| !n.trim().is_empty());
        self
    }

    /// Marks the order as the renewal of `previous`.
    pub fn renewing(mut self, previous: OrderId) -> NewOrder {
        self.renewal_of = Some(previous);
        self
    }

    /// The account.
    pub fn account(&self) -> AccountRef {
        self.account
    }
    /// The member who placed it.
    pub fn placed_by(&self) -> Option<UserId> {
        self.placed_by
    }
    /// The plan id.
    pub fn plan_id(&self) -> PlanId {
        self.plan_id
    }
    /// The description.
    pub fn description(&self) -> &str {
        &self.description
    }
    /// The charges.
    pub fn charges(&self) -> &Charges {
        &self.charges
    }
    /// The notes.
    pub fn notes(&self) -> Option<&str> {
        self.notes.as_deref()
    }
    /// The order this one renews.
    pub fn renewal_of(&self) -> Option<OrderId> {
        self.renewal_of
    }
    /// When it was created.
    pub fn created_at(&self) -> DateTime<Utc> {
        self.created_at
    }
    /// An order with nothing to pay (a price-0 plan, or paid by credit) activates at
    /// once.
    pub fn is_free(&self) -> bool {
        self.amount_due().is_zero()
    }
}

/// Everything a stored order consists of, for adapters rebuilding one.
#[derive(Clone, Debug)]
pub struct OrderRecord {
    /// Id.
    pub id: OrderId,
    /// Account.
    pub account: AccountRef,
    /// The member who placed it.
    pub placed_by: Option<UserId>,
    /// Plan id.
    pub plan_id: PlanId,
    /// Status.
    pub status: OrderStatus,
    /// Description.
    pub description: String,
    /// Charges.
    pub charges: Charges,
    /// Notes.
    pub notes: Option<String>,
    /// Payment reference.
    pub payment_reference: Option<String>,
    /// Renewal of.
    pub renewal_of: Option<OrderId>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was activated.
    pub activated_at: Option<DateTime<Utc>>,
    /// When the paid period ends.
    pub expires_at: Option<DateTime<Utc>>,
    /// When it was cancelled.
    pub cancelled_at: Option<DateTime<Utc>>,
    /// Invoice.
    pub invoice: Option<IssuedInvoice>,
    /// Cycle, account credit, coupon, scheduled change.
    pub billing: OrderBilling,
}

/// A stored order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Order {
    id: OrderId,
    account: AccountRef,
    placed_by: Option<UserId>,
    plan_id: PlanId,
    status: OrderStatus,
    description: String,
    charges: Charges,
    notes: Option<String>,
    payment_reference: Option<String>,
    renewal_of: Option<OrderId>,
    created_at: DateTime<Utc>,
    activated_at: Option<DateTime<Utc>>,
    expires_at: Option<DateTime<Utc>>,
    cancelled_at: Option<DateTime<Utc>>,
    invoice: Option<IssuedInvoice>,
    billing: OrderBilling,
    paid_at: Option<DateTime<Utc>>,
    customer_note: Option<CustomerNote>,
    past_due_at: Option<DateTime<Utc>>,
}

impl Order {
    /// Rebuilds a stored order, checking what must hold: an active order has its
    /// activation time, period end and invoice; a user's order is placed by that user.
    pub fn restore(record: OrderRecord) -> Result<Order, InvalidOrder> {
        let id = record.id;
        let bad = |what: &str| Err(InvalidOrder(format!("order {id}: {what}")));
        if let AccountRef::User(user) = record.account {
            if record.placed_by != Some(user) {
                return bad("a user's order must belong to that user");
            }
        }
        if record.status == OrderStatus::Active
            && (record.activated_at.is_none()
                || record.expires_at.is_none()
                || record.invoice.is_none())
        {
            return bad("an active order needs activation time, expiry and invoice");
        }
        if record.activated_at.is_some() != record.invoice.is_some() {
            return bad("an invoice number is given exactly when the order first activates");
        }
        check_credit(&record.charges, &record.billing)?;
        Ok(Order {
            id,
            account: record.account,
            placed_by: record.placed_by,
            plan_id: record.plan_id,
            status: record.status,
            description: record.description,
            charges: record.charges,
            notes: record.notes,
            payment_reference: record.payment_reference,
            renewal_of: record.renewal_of,
            created_at: record.created_at,
            activated_at: record.activated_at,
            expires_at: record.expires_at,
            cancelled_at: record.cancelled_at,
            invoice: record.invoice,
            billing: record.billing,
            paid_at: None,
            customer_note: None,
            past_due_at: None,
        })
    }

    /// Cycle, account credit, coupon and scheduled change.
    pub fn billing(&self) -> &OrderBilling {
        &self.billing
    }

    /// What is left to pay after account credit: the total less the credit applied.
    pub fn amount_due(&self) -> Money {
        amount_due(&self.charges, &self.billing)
    }

    /// The paid period the order covers: from its activation (a renewal's from one
    /// cycle before its end, since it may be paid before its predecessor ends) to its
    /// end. `None` before activation and for a lifetime order.
    pub fn current_period(&self) -> Option<Period> {
        let end = self.expires_at.filter(|_| !self.is_lifetime())?;
        let activated = self.activated_at?;
        let start = match self.renewal_of {
            Some(_) => end
                .checked_sub_months(chrono::Months::new(self.billing.cycle.months()))
                .unwrap_or(activated),
            None => activated,
        };
        Period::new(start.min(end), end)
    }

    /// The same order with the time its payment was recorded (adapters that store
    /// payments set it after [`restore`](Self::restore)).
    pub fn with_paid_at(mut self, paid_at: Option<DateTime<Utc>>) -> Order {
        self.paid_at = paid_at;
        self
    }

    /// When the money for it was recorded (through a gateway or by mark-paid); `None`
    /// while unpaid, and for orders activated without payment (free plans, apply-plan).
    pub fn paid_at(&self) -> Option<DateTime<Utc>> {
        self.paid_at
    }

    /// The order with the customer's note it was placed with (stores rebuild an order
    /// with [`Order::restore`], then attach the note).
    pub fn with_customer_note(mut self, note: Option<CustomerNote>) -> Order {
        self.customer_note = note;
        self
    }

    /// The customer's own note, written when ordering: shown to the customer and to
    /// administrators (unlike [`Order::notes`]).
    pub fn customer_note(&self) -> Option<&CustomerNote> {
        self.customer_note.as_ref()
    }

    /// The order with the time its period ended with its renewal unpaid (stores set it
    /// after [`restore`](Self::restore)).
    pub fn with_past_due_at(mut self, past_due_at: Option<DateTime<Utc>>) -> Order {
        self.past_due_at = past_due_at;
        self
    }

    /// When the order's period ended with its renewal unpaid (it then runs on for the
    /// grace days); `None` otherwise.
    pub fn past_due_at(&self) -> Option<DateTime<Utc>> {
        self.past_due_at
    }

    /// Whether the order is active past its period end, waiting for its renewal to be
    /// paid (`"pastDue": true`). An order replaced, cancelled or expired is not.
    pub fn is_past_due(&self) -> bool {
        self.status == OrderStatus::Active && self.past_due_at.is_some()
    }

    /// The id.
    pub fn id(&self) -> OrderId {
        self.id
    }
    /// The account.
    pub fn account(&self) -> AccountRef {
        self.account
    }
    /// The user the order belongs to, or the member who placed it for an organisation.
    pub fn placed_by(&self) -> Option<UserId> {
        self.placed_by
    }
    /// The plan id.
    pub fn plan_id(&self) -> PlanId {
        self.plan_id
    }
    /// The status.
    pub fn status(&self) -> OrderStatus {
        self.status
    }
    /// The description.
    pub fn description(&self) -> &str {
        &self.description
    }
    /// The charges.
    pub fn charges(&self) -> &Charges {
        &self.charges
    }
    /// Internal notes: for administrators only, never for the customer.
    pub fn notes(&self) -> Option<&str> {
        self.notes.as_deref()
    }
    /// The payment reference.
    pub fn payment_reference(&self) -> Option<&str> {
        self.payment_reference.as_deref()
    }
    /// The order this one renews.
    pub fn renewal_of(&self) -> Option<OrderId> {
        self.renewal_of
    }
    /// When it was created.
    pub fn created_at(&self) -> DateTime<Utc> {
        self.created_at
    }
    /// When it was activated.
    pub fn activated_at(&self) -> Option<DateTime<Utc>> {
        self.activated_at
    }
    /// When the paid period ends.
    pub fn expires_at(&self) -> Option<DateTime<Utc>> {
        self.expires_at
    }
    /// Applied for a lifetime: its period never ends.
    pub fn is_lifetime(&self) -> bool {
        self.expires_at.is_some_and(|at| at >= lifetime_end())
    }
    /// When it was cancelled.
    pub fn cancelled_at(&self) -> Option<DateTime<Utc>> {
        self.cancelled_at
    }
    /// The invoice.
    pub fn invoice(&self) -> Option<&IssuedInvoice> {
        self.invoice.as_ref()
    }
    /// The invoice number.
    pub fn invoice_number(&self) -> Option<&str> {
        self.invoice.as_ref().map(|i| i.number.as_str())
    }
    /// Whether `to` is a legal next state.
    pub fn check_transition(&self, to: OrderStatus) -> Result<(), IllegalTransition> {
        self.status.transition(to).map(|_| ())
    }
}

/// Account credit pays at most the total, in the order's currency.
fn check_credit(charges: &Charges, billing: &OrderBilling) -> Result<(), InvalidOrder> {
    let Some(credit) = billing.credit_applied else {
        return Ok(());
    };
    if credit.currency() != charges.currency() {
        return Err(InvalidOrder("account credit in another currency".into()));
    }
    if credit.minor() < 0 || credit.minor() > charges.total().minor() {
        return Err(InvalidOrder(
            "account credit must be between 0 and the total".into(),
        ));
    }
    Ok(())
}

fn amount_due(charges: &Charges, billing: &OrderBilling) -> Money {
    let credit = billing.credit_applied.map_or(0, |c| c.minor());
    // `check_credit` holds 0 <= credit <= total: no overflow.
    Money::from_minor(
        charges.total().minor().saturating_sub(credit),
        charges.currency(),
    )
}

impl Order {
    /// The order as the audit log records it.
    pub fn audit_state(&self) -> OrderSnapshot {
        let charges = self.charges();
        OrderSnapshot {
            id: self.id().get(),
            status: self.status().as_str().to_owned(),
            plan_id: self.plan_id().get(),
            account: AccountSnapshot {
                kind: self.account().kind().to_owned(),
                id: self.account().raw_id(),
            },
            description: self.description().to_owned(),
            subtotal: charges.subtotal().to_fixed_string(),
            tax_rate: charges.tax_rate().to_percent_text(),
            tax_amount: charges.tax().to_fixed_string(),
            amount: charges.total().to_fixed_string(),
            currency: charges.currency().code().to_owned(),
            invoice_number: self.invoice_number().map(str::to_owned),
            notes: self.notes().map(str::to_owned),
            payment_reference: self.payment_reference().map(str::to_owned),
            expires_at: self.expires_at().map(|at| at.to_rfc3339()),
            cancelled_at: self.cancelled_at().map(|at| at.to_rfc3339()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::plan::{PlanDraft, PlanSpec};
    use chrono::TimeZone;

    fn at(y: i32, m: u32, d: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, 10, 0, 0).unwrap()
    }

    #[test]
    fn state_machine_table() {
        use OrderStatus::{Active, Cancelled, Expired, Pending};
        let allowed = [
            (Pending, Active),
            (Pending, Cancelled),
            (Pending, Expired),
            (Active, Cancelled),
            (Active, Expired),
        ];
        for from in OrderStatus::ALL {
            for to in OrderStatus::ALL {
                let legal = allowed.contains(&(from, to));
                assert_eq!(from.can_become(to), legal, "{from} -> {to}");
                assert_eq!(from.transition(to).is_ok(), legal, "{from} -> {to}");
            }
        }
        let err = Active.transition(Pending).unwrap_err();
        assert_eq!(
            err.to_string(),
            "an order that is active cannot become pending"
        );
    }

    #[test]
    fn statuses_parse_back() {
        for status in OrderStatus::ALL {
            assert_eq!(status.as_str().parse::<OrderStatus>().unwrap(), status);
        }
        assert!("paid".parse::<OrderStatus>().is_err());
        assert!("Active".parse::<OrderStatus>().is_err());
    }

    fn plan(price: &str) -> Plan {
        let spec = PlanSpec::new(PlanDraft {
            name: "Pro".into(),
            price: price.into(),
            ..PlanDraft::default()
        })
        .unwrap();
        Plan::new(PlanId::new(3).unwrap(), spec, at(2026, 1, 1))
    }

    #[test]
    fn a_plan_order_is_priced_and_taxed() {
        let user = UserId::new(55).unwrap();
        let order = NewOrder::for_plan(
            &plan("9.99"),
            AccountRef::User(user),
            None,
            TaxRate::parse_percent("19").unwrap(),
            at(2026, 11, 21),
        )
        .unwrap();
        let charges = order.charges();
        assert_eq!(charges.subtotal().minor(), 999);
        assert_eq!(charges.tax().minor(), 190);
        assert_eq!(charges.total().minor(), 1189);
        assert_eq!(order.description(), "Pro (monthly)");
        assert_eq!(charges.items()[0].description(), "Pro (monthly)");
        assert_eq!(order.placed_by(), Some(user));
        assert!(!order.is_free());
        let free = NewOrder::for_plan(
            &plan("0"),
            AccountRef::User(user),
            None,
            TaxRate::parse_percent("19").unwrap(),
            at(2026, 11, 21),
        )
        .unwrap();
        assert!(free.is_free());
        assert_eq!(free.charges().tax().minor(), 0);
    }
}
