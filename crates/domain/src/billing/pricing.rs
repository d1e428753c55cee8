//! The price of an order, line by line: plan price, unused-time credit, coupon, tax on
//! what is left, account credit after tax, amount due. Every minor unit is on a line.

use super::coupon::{CouponCode, CouponDiscount};
use super::credit::apply_credit;
use super::cycle::BillingCycle;
use super::proration::ProrationCredit;
use crate::orders::{Charges, InvalidOrder, OrderItem};
use crate::{Currency, Money, MoneyError, TaxRate};

/// What a line of a bill is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LineKind {
    /// One period of the plan on its cycle: `<plan> (<cycle>)`.
    Plan,
    /// The unused share of the current period, negative:
    /// `Unused time on <plan> (<from> – <to>)`.
    UnusedTime,
    /// The part of the unused-time credit this order cannot use, positive, moved to
    /// the account's credit: `Unused time moved to account credit`.
    UnusedTimeToCredit,
    /// The coupon's discount, negative: `Coupon <CODE>`.
    Coupon,
    /// Tax on the lines above: `Tax <rate>%`.
    Tax,
    /// Account credit paying the order, negative: `Account credit`.
    AccountCredit,
}

impl LineKind {
    /// Whether tax is computed on the line (the lines before the tax line).
    pub fn is_taxable(self) -> bool {
        matches!(
            self,
            LineKind::Plan | LineKind::UnusedTime | LineKind::UnusedTimeToCredit | LineKind::Coupon
        )
    }
}

/// One line: its kind and the order line it becomes (quantity 1, signed amount).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BillLine {
    kind: LineKind,
    item: OrderItem,
}

impl BillLine {
    fn new(kind: LineKind, description: String, amount: Money) -> Result<BillLine, PricingError> {
        Ok(BillLine {
            kind,
            item: OrderItem::new(description, 1, amount)?,
        })
    }

    pub fn kind(&self) -> LineKind {
        self.kind
    }
    pub fn description(&self) -> &str {
        self.item.description()
    }
    pub fn amount(&self) -> Money {
        self.item.amount()
    }
    pub fn item(&self) -> &OrderItem {
        &self.item
    }
}

/// Why an order cannot be priced.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PricingError {
    #[error("a plan price cannot be negative")]
    NegativePrice,
    #[error("an unused-time credit cannot be negative")]
    NegativeCredit,
    #[error(transparent)]
    Money(#[from] MoneyError),
    #[error(transparent)]
    Order(#[from] InvalidOrder),
}

/// The unused time of the order a plan change replaces.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnusedTime {
    /// The credit, from [`unused_time_credit`](super::proration::unused_time_credit).
    pub credit: ProrationCredit,
    /// The name of the plan the replaced order was for, for the line's text.
    pub plan_name: String,
    /// The tax rate the replaced order was charged: what moves to account credit
    /// carries the tax paid on it (account credit is spent after tax).
    pub tax_rate_paid: TaxRate,
}

/// What an order is priced from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PricingInput {
    /// The plan's name, for the plan line.
    pub plan_name: String,
    pub cycle: BillingCycle,
    /// One period's price on `cycle` ([`BillingCycle::price_of`]).
    pub period_price: Money,
    /// The unused time of the current order, for a plan change made now.
    pub unused_time: Option<UnusedTime>,
    /// A coupon that passed its checks, for this period.
    pub coupon: Option<(CouponCode, CouponDiscount)>,
    pub tax_rate: TaxRate,
    /// The account's credit balance in any currency; only a balance in the order's
    /// currency is used.
    pub credit_balance: Option<Money>,
}

/// A priced order.
///
/// Invariants (each a property test): the lines add up to [`Bill::amount_due`]; the
/// taxable lines add up to [`Bill::subtotal`], which is never negative, so tax is never
/// negative; the unused-time credit used is at most the price; the coupon discount is
/// at most what is left after it; the account credit used is at most the total.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bill {
    lines: Vec<BillLine>,
    charges: Charges,
    period_price: Money,
    unused_time_used: Money,
    credit_left_over: Money,
    credit_to_ledger: Money,
    coupon_discount: Money,
    credit_applied: Money,
    amount_due: Money,
}

/// Prices an order. In this order:
///
/// 1. the plan price `P` for one period of the cycle;
/// 2. the unused-time credit `C`: it pays up to `P`; what is left, `C - min(C, P)`,
///    is moved to account credit (shown as a positive line so that every minor unit
///    of `C` is on the bill);
/// 3. the coupon's discount on what is still to pay, never more than that;
/// 4. tax on the rest, through [`Charges::compute`] (half-up, never negative because
///    the rest is never negative);
/// 5. account credit in the order's currency, after tax, up to the total;
/// 6. the amount due.
pub fn price_order(input: PricingInput) -> Result<Bill, PricingError> {
    let currency = input.period_price.currency();
    let price = input.period_price;
    if price.minor() < 0 {
        return Err(PricingError::NegativePrice);
    }
    let mut lines = vec![BillLine::new(
        LineKind::Plan,
        format!("{} ({})", input.plan_name, input.cycle),
        price,
    )?];

    let zero = Money::zero(currency);
    let mut unused_time_used = zero;
    let mut credit_left_over = zero;
    let mut credit_to_ledger = zero;
    if let Some(unused) = &input.unused_time {
        let credit = &unused.credit;
        let full = credit.amount();
        if full.minor() < 0 {
            return Err(PricingError::NegativeCredit);
        }
        same_currency(currency, full.currency())?;
        if !full.is_zero() {
            unused_time_used = Money::from_minor(full.minor().min(price.minor()), currency);
            credit_left_over = full.checked_sub(unused_time_used)?;
            credit_to_ledger = credit_left_over
                .checked_add(tax_paid_on(credit_left_over, unused.tax_rate_paid)?)?;
            lines.push(BillLine::new(
                LineKind::UnusedTime,
                credit.description(&unused.plan_name),
                zero.checked_sub(full)?,
            )?);
            if !credit_left_over.is_zero() {
                lines.push(BillLine::new(
                    LineKind::UnusedTimeToCredit,
                    "Unused time moved to account credit".to_owned(),
                    credit_left_over,
                )?);
            }
        }
    }

    let still_to_pay = price.checked_sub(unused_time_used)?;
    let mut coupon_discount = zero;
    if let Some((code, discount)) = &input.coupon {
        coupon_discount = discount.discount_on(still_to_pay)?;
        lines.push(BillLine::new(
            LineKind::Coupon,
            format!("Coupon {code}"),
            zero.checked_sub(coupon_discount)?,
        )?);
    }

    let taxable: Vec<OrderItem> = lines.iter().map(|line| line.item.clone()).collect();
    let charges = Charges::compute(taxable, input.tax_rate)?;
    lines.push(BillLine::new(
        LineKind::Tax,
        format!("Tax {}%", input.tax_rate.to_percent_text()),
        charges.tax(),
    )?);

    let credit_applied = input
        .credit_balance
        .map_or(zero, |balance| apply_credit(balance, charges.total()));
    if !credit_applied.is_zero() {
        lines.push(BillLine::new(
            LineKind::AccountCredit,
            "Account credit".to_owned(),
            zero.checked_sub(credit_applied)?,
        )?);
    }
    let amount_due = charges.total().checked_sub(credit_applied)?;
    Ok(Bill {
        lines,
        charges,
        period_price: price,
        unused_time_used,
        credit_left_over,
        credit_to_ledger,
        coupon_discount,
        credit_applied,
        amount_due,
    })
}

/// The tax paid on `net` at `rate`, rounded DOWN: given back, it must never be more
/// than was paid (the original tax was rounded half-up on a larger amount, so the
/// exact share is at most half a minor unit above what it really was).
fn tax_paid_on(net: Money, rate: TaxRate) -> Result<Money, MoneyError> {
    let exact = i128::from(net.minor()) * i128::from(rate.basis_points());
    let minor = i64::try_from(exact / 10_000).map_err(|_| MoneyError::Overflow)?;
    Ok(Money::from_minor(minor, net.currency()))
}

fn same_currency(expected: Currency, got: Currency) -> Result<(), MoneyError> {
    if expected == got {
        Ok(())
    } else {
        Err(MoneyError::CurrencyMismatch(expected.code(), got.code()))
    }
}

impl Bill {
    /// Every line, in bill order: plan, unused time (and what moves to credit),
    /// coupon, tax, account credit.
    pub fn lines(&self) -> &[BillLine] {
        &self.lines
    }
    /// The lines tax is computed on, with their subtotal, tax and total: what an
    /// order's `Charges` stores.
    pub fn charges(&self) -> &Charges {
        &self.charges
    }
    pub fn currency(&self) -> Currency {
        self.charges.currency()
    }
    /// The price of one period on the cycle, before anything is taken off.
    pub fn period_price(&self) -> Money {
        self.period_price
    }
    /// The sum of the taxable lines: never negative.
    pub fn subtotal(&self) -> Money {
        self.charges.subtotal()
    }
    pub fn tax(&self) -> Money {
        self.charges.tax()
    }
    /// Subtotal plus tax, before account credit.
    pub fn total(&self) -> Money {
        self.charges.total()
    }
    /// How much of the unused-time credit pays this order.
    pub fn unused_time_used(&self) -> Money {
        self.unused_time_used
    }
    /// How much of the unused-time credit this order cannot use, before tax: the
    /// `Unused time moved to account credit` line.
    pub fn credit_left_over(&self) -> Money {
        self.credit_left_over
    }
    /// What the account's credit ledger receives for the left-over credit: the
    /// left-over amount plus the tax paid on it at the replaced order's rate, rounded
    /// down. Account credit is spent after tax, so without that tax the customer
    /// would pay tax twice on the same amount. Zero when nothing is left over.
    pub fn credit_to_ledger(&self) -> Money {
        self.credit_to_ledger
    }
    pub fn coupon_discount(&self) -> Money {
        self.coupon_discount
    }
    /// How much account credit pays this order (a ledger debit when it is placed).
    pub fn credit_applied(&self) -> Money {
        self.credit_applied
    }
    /// What the customer still pays. An order due 0 activates at once.
    pub fn amount_due(&self) -> Money {
        self.amount_due
    }
    /// What this period is worth for a later unused-time credit: the price less the
    /// coupon, before tax. Unused-time and account credit are means of payment, so
    /// they do not lower it.
    pub fn paid_for_period(&self) -> Money {
        // The discount is at most the price and both are at least 0: no overflow.
        Money::from_minor(
            self.period_price
                .minor()
                .saturating_sub(self.coupon_discount.minor()),
            self.currency(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::billing::{unused_time_credit, CouponCode, PercentOff, Period};

    fn unused(credit: ProrationCredit, plan: &str) -> Option<UnusedTime> {
        Some(UnusedTime {
            credit,
            plan_name: plan.into(),
            tax_rate_paid: TaxRate::parse_percent("19").unwrap(),
        })
    }
    use chrono::{TimeZone, Utc};

    fn usd(minor: i64) -> Money {
        Money::from_minor(minor, Currency::USD)
    }

    fn input(price: i64) -> PricingInput {
        PricingInput {
            plan_name: "Pro".into(),
            cycle: BillingCycle::Monthly,
            period_price: usd(price),
            unused_time: None,
            coupon: None,
            tax_rate: TaxRate::parse_percent("19").unwrap(),
            credit_balance: None,
        }
    }

    fn summary(bill: &Bill) -> Vec<(String, i64)> {
        bill.lines()
            .iter()
            .map(|l| (l.description().to_owned(), l.amount().minor()))
            .collect()
    }

    #[test]
    fn a_plain_order_is_plan_and_tax() {
        let bill = price_order(input(999)).unwrap();
        assert_eq!(
            summary(&bill),
            vec![("Pro (monthly)".into(), 999), ("Tax 19.0%".into(), 190)]
        );
        assert_eq!(bill.amount_due(), usd(1189));
        assert_eq!(bill.paid_for_period(), usd(999));
    }

    #[test]
    fn upgrade_with_coupon_and_credit() {
        let period = Period::new(
            Utc.with_ymd_and_hms(2026, 11, 1, 10, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(2026, 12, 1, 10, 0, 0).unwrap(),
        )
        .unwrap();
        let now = Utc.with_ymd_and_hms(2026, 11, 12, 10, 0, 0).unwrap();
        let credit = unused_time_credit(usd(1999), period, now).unwrap();
        let bill = price_order(PricingInput {
            unused_time: unused(credit, "Basic"),
            coupon: Some((
                CouponCode::parse("spring20").unwrap(),
                CouponDiscount::Percent(PercentOff::parse("20").unwrap()),
            )),
            credit_balance: Some(usd(500)),
            ..input(4999)
        })
        .unwrap();
        // 49.99 - 12.66 = 37.33; 20% = 7.466 -> 7.47; 29.86; tax 5.6734 -> 5.67; 35.53; -5.00.
        assert_eq!(
            summary(&bill),
            vec![
                ("Pro (monthly)".into(), 4999),
                (
                    "Unused time on Basic (2026-11-12 \u{2013} 2026-11-30)".into(),
                    -1266
                ),
                ("Coupon SPRING20".into(), -747),
                ("Tax 19.0%".into(), 567),
                ("Account credit".into(), -500),
            ]
        );
        assert_eq!(bill.amount_due(), usd(3053));
        assert_eq!(bill.paid_for_period(), usd(4252));
    }

    #[test]
    fn credit_beyond_the_price_moves_to_account_credit() {
        let period = Period::new(
            Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap(),
        )
        .unwrap();
        let now = Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap();
        let credit = unused_time_credit(usd(19_900), period, now).unwrap();
        let bill = price_order(PricingInput {
            unused_time: unused(credit.clone(), "Pro"),
            ..input(2999)
        })
        .unwrap();
        assert_eq!(bill.unused_time_used(), usd(2999));
        assert_eq!(
            bill.credit_left_over(),
            credit.amount().checked_sub(usd(2999)).unwrap()
        );
        // The left-over credit carries the 19% tax paid on it, rounded down.
        let left = bill.credit_left_over().minor();
        assert_eq!(bill.credit_to_ledger().minor(), left + left * 19 / 100);
        assert_eq!(bill.subtotal(), usd(0));
        assert_eq!(bill.tax(), usd(0));
        assert_eq!(bill.amount_due(), usd(0));
        assert_eq!(bill.lines()[2].kind(), LineKind::UnusedTimeToCredit);
    }

    #[test]
    fn mixed_currencies_and_negative_prices_are_refused() {
        assert_eq!(price_order(input(-1)), Err(PricingError::NegativePrice));
        let euro_credit = PricingInput {
            credit_balance: Some(Money::from_minor(500, Currency::EUR)),
            ..input(1000)
        };
        assert_eq!(price_order(euro_credit).unwrap().credit_applied(), usd(0));
        let euro_coupon = PricingInput {
            coupon: Some((
                CouponCode::parse("X").unwrap(),
                CouponDiscount::Amount(Money::from_minor(500, Currency::EUR)),
            )),
            ..input(1000)
        };
        assert!(matches!(
            price_order(euro_coupon),
            Err(PricingError::Money(_))
        ));
    }
}
