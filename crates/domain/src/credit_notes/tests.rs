use proptest::prelude::*;

use super::rules::{check_refundable, decide_refund, tax_share, RefundRefusal};
use crate::orders::OrderStatus;
use crate::shared::money::{Currency, Money};

fn usd(minor: i64) -> Money {
    Money::from_minor(minor, Currency::from_code("USD").unwrap())
}

#[test]
fn the_default_is_everything_left() {
    assert_eq!(decide_refund(usd(1189), usd(0), None), Ok(usd(1189)));
    assert_eq!(decide_refund(usd(1189), usd(189), None), Ok(usd(1000)));
    assert_eq!(
        decide_refund(usd(1189), usd(1189), None),
        Err(RefundRefusal::NothingLeft)
    );
    assert_eq!(
        decide_refund(usd(0), usd(0), None),
        Err(RefundRefusal::NothingLeft),
        "a free order has nothing to refund"
    );
}

#[test]
fn more_than_is_left_is_refused_with_what_is_left() {
    assert_eq!(
        decide_refund(usd(1000), usd(600), Some(usd(401))),
        Err(RefundRefusal::ExceedsRefundable {
            requested: usd(401),
            left: usd(400)
        })
    );
    assert_eq!(
        decide_refund(usd(1000), usd(600), Some(usd(400))),
        Ok(usd(400))
    );
}

#[test]
fn another_currency_is_refused() {
    let eur = Money::from_minor(100, Currency::from_code("EUR").unwrap());
    assert_eq!(
        decide_refund(usd(1000), usd(0), Some(eur)),
        Err(RefundRefusal::CurrencyMismatch { expected: "USD" })
    );
}

#[test]
fn only_invoiced_orders_are_refundable() {
    assert_eq!(
        check_refundable(OrderStatus::Pending, false),
        Err(RefundRefusal::NeverPaid)
    );
    assert_eq!(
        check_refundable(OrderStatus::Cancelled, false),
        Err(RefundRefusal::NeverPaid),
        "cancelled before payment"
    );
    for status in [
        OrderStatus::Active,
        OrderStatus::Expired,
        OrderStatus::Cancelled,
    ] {
        assert_eq!(check_refundable(status, true), Ok(()));
    }
}

#[test]
fn the_tax_share_is_rounded_down() {
    // 11.89 with 1.90 tax: a third of it carries 0.63 of tax (0.6333...).
    assert_eq!(tax_share(usd(190), usd(396), usd(1189)).unwrap(), usd(63));
    assert_eq!(tax_share(usd(190), usd(1189), usd(1189)).unwrap(), usd(190));
    assert_eq!(tax_share(usd(0), usd(500), usd(1189)).unwrap(), usd(0));
}

proptest! {
    /// Whatever sequence of refunds is asked for, the notes granted never add up to
    /// more than the total, each is above zero, and asking for "the rest" closes it.
    #[test]
    fn credit_notes_never_exceed_the_total(
        total in 0_i64..10_000_000,
        asks in proptest::collection::vec(proptest::option::of(1_i64..5_000_000), 0..20),
    ) {
        let total = usd(total);
        let mut refunded = usd(0);
        for ask in asks {
            match decide_refund(total, refunded, ask.map(usd)) {
                Ok(amount) => {
                    prop_assert!(amount.minor() > 0);
                    if let Some(ask) = ask {
                        prop_assert_eq!(amount.minor(), ask);
                    }
                    refunded = refunded.checked_add(amount).unwrap();
                }
                Err(RefundRefusal::NothingLeft) => prop_assert_eq!(refunded, total),
                Err(RefundRefusal::ExceedsRefundable { requested, left }) => {
                    prop_assert!(requested.minor() > left.minor());
                    prop_assert_eq!(left.minor(), total.minor() - refunded.minor());
                }
                Err(other) => prop_assert!(false, "unexpected refusal {other:?}"),
            }
            prop_assert!(refunded.minor() <= total.minor());
        }
        if refunded.minor() < total.minor() {
            let rest = decide_refund(total, refunded, None).unwrap();
            prop_assert_eq!(refunded.minor() + rest.minor(), total.minor());
        }
    }

    /// The tax shares of notes that add up to the total add up to at most the tax.
    #[test]
    fn tax_shares_never_exceed_the_tax(
        total in 1_i64..10_000_000,
        tax_bp in 0_i64..10_000,
        cuts in proptest::collection::vec(1_i64..1_000_000, 1..10),
    ) {
        let tax = usd(total * tax_bp / 10_000);
        let mut left = total;
        let mut shares = 0;
        for cut in cuts {
            let amount = cut.min(left);
            if amount == 0 { break; }
            let share = tax_share(tax, usd(amount), usd(total)).unwrap();
            prop_assert!(share.minor() >= 0 && share.minor() <= amount);
            shares += share.minor();
            left -= amount;
        }
        prop_assert!(shares <= tax.minor());
    }
}
