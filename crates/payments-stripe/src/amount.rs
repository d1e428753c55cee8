//! Tariff money ↔ Stripe amounts. Both are integers in a minor unit, but Stripe's minor
//! unit is not always ISO 4217's: Stripe keeps ISK as a two-decimal currency (ISO: zero),
//! and for three-decimal currencies it accepts only amounts whose last digit is 0. Only
//! integer arithmetic happens here.

use tariff_domain::payments::{GatewayError, Rejection, RejectionKind};
use tariff_domain::{Currency, Money};

/// Currencies whose Stripe amount is the ISO minor amount times 100 (ISO has no minor
/// unit; Stripe still counts hundredths and requires whole units).
const HUNDREDFOLD: &[&str] = &["ISK"];

fn factor(currency: Currency) -> i64 {
    if HUNDREDFOLD.contains(&currency.code()) {
        100
    } else {
        1
    }
}

/// The lower-case ISO code Stripe expects.
pub fn stripe_currency(currency: Currency) -> String {
    currency.code().to_ascii_lowercase()
}

/// The integer Stripe expects for `money`. Refused (never sent) when Stripe cannot
/// express it: a three-decimal amount not ending in 0, a negative amount, an overflow.
pub fn to_stripe_amount(money: Money) -> Result<i64, GatewayError> {
    let not_representable = |why: &str| {
        GatewayError::InvalidRequest(Rejection::with_message(
            RejectionKind::AmountNotRepresentable,
            format!("{} {}: {why}", money.minor(), money.currency().code()),
        ))
    };
    if money.minor() < 0 {
        return Err(not_representable("negative"));
    }
    if money.currency().decimals() == 3 && money.minor() % 10 != 0 {
        return Err(not_representable(
            "Stripe takes three-decimal amounts rounded to the nearest ten",
        ));
    }
    money
        .minor()
        .checked_mul(factor(money.currency()))
        .ok_or_else(|| not_representable("too large"))
}

/// The Tariff money for a Stripe amount and currency code; `None` for a currency Tariff
/// does not know or an amount that is not a whole Tariff minor unit.
pub fn from_stripe_amount(amount: i64, currency_code: &str) -> Option<Money> {
    let currency = Currency::from_code(currency_code).ok()?;
    let factor = factor(currency);
    if amount % factor != 0 {
        return None;
    }
    Some(Money::from_minor(amount / factor, currency))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn money(minor: i64, code: &str) -> Money {
        Money::from_minor(minor, Currency::from_code(code).unwrap())
    }

    #[test]
    fn most_currencies_pass_through_unchanged() {
        assert_eq!(to_stripe_amount(money(1999, "EUR")).unwrap(), 1999);
        assert_eq!(to_stripe_amount(money(500, "JPY")).unwrap(), 500);
        assert_eq!(from_stripe_amount(1999, "eur"), Some(money(1999, "EUR")));
        assert_eq!(stripe_currency(Currency::USD), "usd");
    }

    #[test]
    fn isk_is_counted_in_hundredths_at_stripe() {
        assert_eq!(to_stripe_amount(money(5, "ISK")).unwrap(), 500);
        assert_eq!(from_stripe_amount(500, "isk"), Some(money(5, "ISK")));
        assert_eq!(from_stripe_amount(550, "isk"), None);
    }

    #[test]
    fn three_decimal_amounts_must_end_in_zero() {
        assert_eq!(to_stripe_amount(money(5120, "KWD")).unwrap(), 5120);
        assert!(matches!(
            to_stripe_amount(money(5124, "KWD")),
            Err(GatewayError::InvalidRequest(Rejection {
                kind: RejectionKind::AmountNotRepresentable,
                ..
            }))
        ));
    }

    #[test]
    fn unknown_currencies_and_overflows_are_refused() {
        assert_eq!(from_stripe_amount(100, "xxx"), None);
        assert!(to_stripe_amount(money(i64::MAX, "ISK")).is_err());
        assert!(to_stripe_amount(money(-1, "EUR")).is_err());
    }
}
