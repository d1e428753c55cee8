//! The money side of an order: priced lines, and the charges that sum them, tax them
//! and total them with checked arithmetic.

use super::model::InvalidOrder;
use crate::shared::money::{Currency, Money, TaxRate};

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

    /// The description.
    pub fn description(&self) -> &str {
        &self.description
    }
    /// The quantity.
    pub fn quantity(&self) -> u32 {
        self.quantity
    }
    /// The unit price.
    pub fn unit_price(&self) -> Money {
        self.unit_price
    }
    /// The amount.
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

    /// The items.
    pub fn items(&self) -> &[OrderItem] {
        &self.items
    }
    /// The subtotal.
    pub fn subtotal(&self) -> Money {
        self.subtotal
    }
    /// The tax rate.
    pub fn tax_rate(&self) -> TaxRate {
        self.tax_rate
    }
    /// The tax.
    pub fn tax(&self) -> Money {
        self.tax
    }
    /// What the customer pays, tax included.
    pub fn total(&self) -> Money {
        self.total
    }
    /// The currency.
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

#[cfg(test)]
mod tests {
    use super::*;

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
