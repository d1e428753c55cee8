//! The order aggregate: what was bought for which account, at what price and tax, and
//! where it stands in its life (`pending -> active | cancelled | expired`,
//! `active -> cancelled | expired`).

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, Months, Utc};

use crate::audit::snapshot::AuditState;
use crate::catalogue::plan::Plan;
use crate::shared::address::PostalAddress;
use crate::shared::ids::AccountRef;
use crate::shared::ids::{OrderId, PlanId, UserId};
use crate::shared::money::{Currency, Money, MoneyError, TaxRate};
use serde_json::{json, Value};

/// Where an order stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OrderStatus {
    Pending,
    Active,
    Cancelled,
    Expired,
}

impl OrderStatus {
    pub const ALL: [OrderStatus; 4] = [
        OrderStatus::Pending,
        OrderStatus::Active,
        OrderStatus::Cancelled,
        OrderStatus::Expired,
    ];

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
    pub from: OrderStatus,
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

/// One priced line of an order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderItem {
    description: String,
    quantity: u32,
    unit_price: Money,
    amount: Money,
}

impl OrderItem {
    /// A line of `quantity` times `unit_price`.
    pub fn new(
        description: impl Into<String>,
        quantity: u32,
        unit_price: Money,
    ) -> Result<OrderItem, InvalidOrder> {
        let amount = unit_price.checked_mul(quantity)?;
        OrderItem::restore(description.into(), quantity, unit_price, amount)
    }

    /// A stored line; the amount must equal quantity times unit price.
    pub fn restore(
        description: String,
        quantity: u32,
        unit_price: Money,
        amount: Money,
    ) -> Result<OrderItem, InvalidOrder> {
        if quantity == 0 {
            return Err(InvalidOrder("a line needs a quantity of at least 1".into()));
        }
        if description.trim().is_empty() {
            return Err(InvalidOrder("a line needs a description".into()));
        }
        if unit_price.checked_mul(quantity)? != amount {
            return Err(InvalidOrder(format!(
                "line `{description}`: {quantity} x {unit_price} is not {amount}"
            )));
        }
        Ok(OrderItem {
            description,
            quantity,
            unit_price,
            amount,
        })
    }

    pub fn description(&self) -> &str {
        &self.description
    }
    pub fn quantity(&self) -> u32 {
        self.quantity
    }
    pub fn unit_price(&self) -> Money {
        self.unit_price
    }
    pub fn amount(&self) -> Money {
        self.amount
    }
}

/// The money side of an order: its lines, their sum, the tax on it and the total.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Charges {
    items: Vec<OrderItem>,
    subtotal: Money,
    tax_rate: TaxRate,
    tax: Money,
    total: Money,
}

impl Charges {
    /// Sums the lines and applies `tax_rate` to the subtotal, rounded half-up.
    pub fn compute(items: Vec<OrderItem>, tax_rate: TaxRate) -> Result<Charges, InvalidOrder> {
        let subtotal = sum_items(&items)?;
        let tax = tax_rate.tax_on(subtotal)?;
        let total = subtotal.checked_add(tax)?;
        Ok(Charges {
            items,
            subtotal,
            tax_rate,
            tax,
            total,
        })
    }

    /// Stored charges: lines must add up to the subtotal and subtotal plus tax to the
    /// total. The stored tax is kept as it is (it was right under the rules of its day).
    pub fn restore(
        items: Vec<OrderItem>,
        subtotal: Money,
        tax_rate: TaxRate,
        tax: Money,
        total: Money,
    ) -> Result<Charges, InvalidOrder> {
        if sum_items(&items)? != subtotal {
            return Err(InvalidOrder("lines do not add up to the subtotal".into()));
        }
        if subtotal.checked_add(tax)? != total {
            return Err(InvalidOrder("subtotal plus tax is not the total".into()));
        }
        Ok(Charges {
            items,
            subtotal,
            tax_rate,
            tax,
            total,
        })
    }

    pub fn items(&self) -> &[OrderItem] {
        &self.items
    }
    pub fn subtotal(&self) -> Money {
        self.subtotal
    }
    pub fn tax_rate(&self) -> TaxRate {
        self.tax_rate
    }
    pub fn tax(&self) -> Money {
        self.tax
    }
    /// What the customer pays, tax included.
    pub fn total(&self) -> Money {
        self.total
    }
    pub fn currency(&self) -> Currency {
        self.subtotal.currency()
    }
}

fn sum_items(items: &[OrderItem]) -> Result<Money, InvalidOrder> {
    let first = items
        .first()
        .ok_or_else(|| InvalidOrder("an order needs at least one line".into()))?;
    let mut sum = Money::zero(first.amount.currency());
    for item in items {
        sum = sum.checked_add(item.amount)?;
    }
    Ok(sum)
}

/// The seller as printed on invoices, from configuration (`[invoice]`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SellerDetails {
    pub company_name: String,
    pub issued_from_name: String,
    pub issued_from_address: String,
    pub logo_path: Option<String>,
}

/// A buyer's billing details, from the user or organisation record.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BuyerDetails {
    pub name: String,
    pub email: Option<String>,
    pub company: Option<String>,
    pub address: PostalAddress,
    pub tax_id: Option<String>,
}

/// Seller and buyer as they were when the invoice number was given: later changes of
/// address or branding never rewrite an issued invoice.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvoiceSnapshot {
    pub seller: SellerDetails,
    pub buyer: BuyerDetails,
    pub frozen_at: DateTime<Utc>,
}

/// The invoice an order received when it first became active.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssuedInvoice {
    pub number: String,
    pub year: i32,
    pub seq: i64,
    pub snapshot: InvoiceSnapshot,
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
        })
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

    pub fn account(&self) -> AccountRef {
        self.account
    }
    pub fn placed_by(&self) -> Option<UserId> {
        self.placed_by
    }
    pub fn plan_id(&self) -> PlanId {
        self.plan_id
    }
    pub fn description(&self) -> &str {
        &self.description
    }
    pub fn charges(&self) -> &Charges {
        &self.charges
    }
    pub fn notes(&self) -> Option<&str> {
        self.notes.as_deref()
    }
    pub fn renewal_of(&self) -> Option<OrderId> {
        self.renewal_of
    }
    pub fn created_at(&self) -> DateTime<Utc> {
        self.created_at
    }
    /// A price-0 order activates at once.
    pub fn is_free(&self) -> bool {
        self.charges.total().is_zero()
    }
}

/// Everything a stored order consists of, for adapters rebuilding one.
#[derive(Clone, Debug)]
pub struct OrderRecord {
    pub id: OrderId,
    pub account: AccountRef,
    pub placed_by: Option<UserId>,
    pub plan_id: PlanId,
    pub status: OrderStatus,
    pub description: String,
    pub charges: Charges,
    pub notes: Option<String>,
    pub payment_reference: Option<String>,
    pub renewal_of: Option<OrderId>,
    pub created_at: DateTime<Utc>,
    pub activated_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub invoice: Option<IssuedInvoice>,
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
        })
    }

    pub fn id(&self) -> OrderId {
        self.id
    }
    pub fn account(&self) -> AccountRef {
        self.account
    }
    /// The user the order belongs to, or the member who placed it for an organisation.
    pub fn placed_by(&self) -> Option<UserId> {
        self.placed_by
    }
    pub fn plan_id(&self) -> PlanId {
        self.plan_id
    }
    pub fn status(&self) -> OrderStatus {
        self.status
    }
    pub fn description(&self) -> &str {
        &self.description
    }
    pub fn charges(&self) -> &Charges {
        &self.charges
    }
    /// Internal notes: for administrators only, never for the customer.
    pub fn notes(&self) -> Option<&str> {
        self.notes.as_deref()
    }
    pub fn payment_reference(&self) -> Option<&str> {
        self.payment_reference.as_deref()
    }
    pub fn renewal_of(&self) -> Option<OrderId> {
        self.renewal_of
    }
    pub fn created_at(&self) -> DateTime<Utc> {
        self.created_at
    }
    pub fn activated_at(&self) -> Option<DateTime<Utc>> {
        self.activated_at
    }
    pub fn expires_at(&self) -> Option<DateTime<Utc>> {
        self.expires_at
    }
    /// Applied for a lifetime: its period never ends.
    pub fn is_lifetime(&self) -> bool {
        self.expires_at.is_some_and(|at| at >= lifetime_end())
    }
    pub fn cancelled_at(&self) -> Option<DateTime<Utc>> {
        self.cancelled_at
    }
    pub fn invoice(&self) -> Option<&IssuedInvoice> {
        self.invoice.as_ref()
    }
    pub fn invoice_number(&self) -> Option<&str> {
        self.invoice.as_ref().map(|i| i.number.as_str())
    }
    /// Whether `to` is a legal next state.
    pub fn check_transition(&self, to: OrderStatus) -> Result<(), IllegalTransition> {
        self.status.transition(to).map(|_| ())
    }
}

/// The end of a lifetime plan's period: the last second of year 9999, later than any
/// sweep or renewal looks. The API shows such an order with no expiry.
pub fn lifetime_end() -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp(253_402_300_799, 0).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// One calendar month after `at`, clamped at month end: Jan 31 -> Feb 28 (29 in a leap
/// year), Mar 31 -> Apr 30. The time of day is kept.
pub fn one_month_after(at: DateTime<Utc>) -> DateTime<Utc> {
    months_after(at, 1)
}

/// `months` calendar months after `at`, clamped at month end.
pub fn months_after(at: DateTime<Utc>, months: u32) -> DateTime<Utc> {
    at.checked_add_months(Months::new(months))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// The first monthly anniversary of `anchor` strictly after `after`. Counting from the
/// anchor (not from the previous period end) keeps the day of month: a plan started on
/// Jan 31 runs to Feb 28, then Mar 31, not Mar 28.
pub fn next_anniversary(anchor: DateTime<Utc>, after: DateTime<Utc>) -> DateTime<Utc> {
    let whole_months =
        (after.year() - anchor.year()) * 12 + after.month0() as i32 - anchor.month0() as i32;
    // Start one month early: clamping may put the estimate on either side of `after`.
    let mut months = u32::try_from(whole_months.saturating_sub(1))
        .unwrap_or(0)
        .max(1);
    loop {
        let candidate = months_after(anchor, months);
        if candidate > after || candidate == DateTime::<Utc>::MAX_UTC {
            return candidate;
        }
        months += 1;
    }
}

impl AuditState for Order {
    fn audit_state(&self) -> Value {
        let charges = self.charges();
        json!({
            "id": self.id().get(),
            "status": self.status().as_str(),
            "planId": self.plan_id().get(),
            "account": {"kind": self.account().kind(), "id": self.account().raw_id()},
            "description": self.description(),
            "subtotal": charges.subtotal().to_fixed_string(),
            "taxRate": charges.tax_rate().to_percent_text(),
            "taxAmount": charges.tax().to_fixed_string(),
            "amount": charges.total().to_fixed_string(),
            "currency": charges.currency().code(),
            "invoiceNumber": self.invoice_number(),
            "notes": self.notes(),
            "paymentReference": self.payment_reference(),
            "expiresAt": self.expires_at().map(|at| at.to_rfc3339()),
            "cancelledAt": self.cancelled_at().map(|at| at.to_rfc3339()),
        })
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

    #[test]
    fn a_month_is_clamped_at_month_end() {
        assert_eq!(one_month_after(at(2026, 1, 31)), at(2026, 2, 28));
        assert_eq!(one_month_after(at(2028, 1, 31)), at(2028, 2, 29)); // leap year
        assert_eq!(one_month_after(at(2100, 1, 31)), at(2100, 2, 28)); // not leap
        assert_eq!(one_month_after(at(2000, 1, 30)), at(2000, 2, 29)); // leap (400)
        assert_eq!(one_month_after(at(2026, 3, 31)), at(2026, 4, 30));
        assert_eq!(one_month_after(at(2026, 12, 15)), at(2027, 1, 15));
        assert_eq!(one_month_after(at(2026, 11, 21)), at(2026, 12, 21));
    }

    #[test]
    fn anniversaries_keep_the_day_of_month() {
        let anchor = at(2026, 1, 31);
        assert_eq!(next_anniversary(anchor, at(2026, 2, 1)), at(2026, 2, 28));
        assert_eq!(next_anniversary(anchor, at(2026, 2, 28)), at(2026, 3, 31));
        assert_eq!(next_anniversary(anchor, at(2026, 3, 31)), at(2026, 4, 30));
        assert_eq!(next_anniversary(anchor, at(2027, 6, 1)), at(2027, 6, 30));
        assert_eq!(next_anniversary(anchor, at(2020, 1, 1)), at(2026, 2, 28));
        let anchor = at(2026, 5, 10);
        assert_eq!(next_anniversary(anchor, at(2026, 6, 10)), at(2026, 7, 10));
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

    #[test]
    fn stored_charges_must_add_up() {
        let usd = |m| Money::from_minor(m, Currency::USD);
        let item = OrderItem::new("Pro", 2, usd(500)).unwrap();
        assert_eq!(item.amount().minor(), 1000);
        let rate = TaxRate::parse_percent("10").unwrap();
        assert!(Charges::restore(vec![item.clone()], usd(1000), rate, usd(100), usd(1100)).is_ok());
        assert!(Charges::restore(vec![item.clone()], usd(999), rate, usd(100), usd(1099)).is_err());
        assert!(Charges::restore(vec![item], usd(1000), rate, usd(100), usd(1000)).is_err());
        assert!(Charges::restore(vec![], usd(0), rate, usd(0), usd(0)).is_err());
        assert!(OrderItem::restore("x".into(), 2, usd(5), usd(11)).is_err());
        assert!(OrderItem::new("x", 0, usd(5)).is_err());
        let eur = Money::from_minor(5, Currency::EUR);
        let mixed = vec![
            OrderItem::new("a", 1, usd(5)).unwrap(),
            OrderItem::new("b", 1, eur).unwrap(),
        ];
        assert!(Charges::compute(mixed, rate).is_err());
    }

    mod properties {
        use super::*;
        use crate::shared::money::Currency;
        use proptest::prelude::*;

        fn lines() -> impl Strategy<Value = Vec<(u32, i64)>> {
            proptest::collection::vec((1_u32..20, 0_i64..10_000_000), 1..6)
        }

        fn charges(lines: &[(u32, i64)], bp: u32) -> Charges {
            let items = lines
                .iter()
                .enumerate()
                .map(|(i, (quantity, cents))| {
                    OrderItem::new(
                        format!("line {i}"),
                        *quantity,
                        Money::from_minor(*cents, Currency::USD),
                    )
                    .unwrap()
                })
                .collect();
            Charges::compute(items, TaxRate::from_basis_points(bp).unwrap()).unwrap()
        }

        proptest! {
            #[test]
            fn total_is_subtotal_plus_tax_and_subtotal_the_sum_of_lines(lines in lines(), bp in 0_u32..=10_000) {
                let c = charges(&lines, bp);
                let sum: i64 = lines.iter().map(|(q, cents)| i64::from(*q) * cents).sum();
                prop_assert_eq!(c.subtotal().minor(), sum);
                prop_assert_eq!(c.total().minor(), c.subtotal().minor() + c.tax().minor());
                prop_assert_eq!(c.tax(), c.tax_rate().tax_on(c.subtotal()).unwrap());
                // What is stored reads back as the same charges.
                let restored = Charges::restore(c.items().to_vec(), c.subtotal(), c.tax_rate(), c.tax(), c.total()).unwrap();
                prop_assert_eq!(restored, c);
            }

            #[test]
            fn order_tax_grows_with_the_lines(lines in lines(), extra in 0_i64..10_000_000, bp in 0_u32..=10_000) {
                let smaller = charges(&lines, bp);
                let mut more = lines.clone();
                more.push((1, extra));
                let larger = charges(&more, bp);
                prop_assert!(larger.tax().minor() >= smaller.tax().minor());
                prop_assert!(larger.total().minor() >= smaller.total().minor());
            }

            #[test]
            fn tampered_totals_are_refused_on_restore(lines in lines(), bp in 0_u32..=10_000, off in 1_i64..100) {
                let c = charges(&lines, bp);
                let wrong = Money::from_minor(c.total().minor() + off, Currency::USD);
                prop_assert!(Charges::restore(c.items().to_vec(), c.subtotal(), c.tax_rate(), c.tax(), wrong).is_err());
            }
        }
    }
}
