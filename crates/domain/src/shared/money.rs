//! Money as integer minor units with an ISO 4217 currency. No floats anywhere:
//! decimal text is parsed digit by digit and printed the same way.

use std::fmt;

/// Errors from building or combining money values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    /// Unknown currency code ``.
    #[error("unknown currency code `{0}`")]
    UnknownCurrency(String),
    /// `` is not a decimal amount.
    #[error("`{0}` is not a decimal amount")]
    NotADecimal(String),
    /// Too many decimals.
    #[error("`{amount}` has more decimals than {currency} allows ({allowed})")]
    TooManyDecimals {
        /// Amount.
        amount: String,
        /// Currency.
        currency: &'static str,
        /// Allowed.
        allowed: u8,
    },
    /// Amount must not be negative.
    #[error("amount must not be negative")]
    Negative,
    /// Amount is too large.
    #[error("amount is too large")]
    Overflow,
    /// Currency mismatch.
    #[error("currencies differ: {0} and {1}")]
    CurrencyMismatch(&'static str, &'static str),
}

/// An ISO 4217 currency with the number of decimals its minor unit has.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Currency {
    code: &'static str,
    decimals: u8,
}

/// The currencies Tariff accepts, with their minor-unit exponents (ISO 4217).
const CURRENCIES: &[(&str, u8)] = &[
    ("AED", 2),
    ("ARS", 2),
    ("AUD", 2),
    ("BGN", 2),
    ("BHD", 3),
    ("BRL", 2),
    ("CAD", 2),
    ("CHF", 2),
    ("CLP", 0),
    ("CNY", 2),
    ("COP", 2),
    ("CZK", 2),
    ("DKK", 2),
    ("EGP", 2),
    ("EUR", 2),
    ("GBP", 2),
    ("HKD", 2),
    ("HUF", 2),
    ("IDR", 2),
    ("ILS", 2),
    ("INR", 2),
    ("ISK", 0),
    ("JOD", 3),
    ("JPY", 0),
    ("KRW", 0),
    ("KWD", 3),
    ("MXN", 2),
    ("MYR", 2),
    ("NGN", 2),
    ("NOK", 2),
    ("NZD", 2),
    ("OMR", 3),
    ("PHP", 2),
    ("PKR", 2),
    ("PLN", 2),
    ("RON", 2),
    ("RSD", 2),
    ("SAR", 2),
    ("SEK", 2),
    ("SGD", 2),
    ("THB", 2),
    ("TND", 3),
    ("TRY", 2),
    ("TWD", 2),
    ("UAH", 2),
    ("USD", 2),
    ("VND", 0),
    ("ZAR", 2),
];

impl Currency {
    /// Usd.
    pub const USD: Currency = Currency {
        code: "USD",
        decimals: 2,
    };
    /// Eur.
    pub const EUR: Currency = Currency {
        code: "EUR",
        decimals: 2,
    };

    /// Looks a code up case-insensitively (`usd` and `USD` are the same currency).
    pub fn from_code(code: &str) -> Result<Self, MoneyError> {
        let upper = code.trim().to_ascii_uppercase();
        CURRENCIES
            .iter()
            .find(|(known, _)| *known == upper)
            .map(|(code, decimals)| Currency {
                code,
                decimals: *decimals,
            })
            .ok_or_else(|| MoneyError::UnknownCurrency(code.to_owned()))
    }

    /// The upper-case ISO code, e.g. `USD`.
    pub fn code(self) -> &'static str {
        self.code
    }

    /// How many decimals the minor unit has (2 for USD, 0 for JPY, 3 for KWD).
    pub fn decimals(self) -> u8 {
        self.decimals
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code)
    }
}

/// An amount of money: integer minor units (cents) and their currency.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Money {
    minor: i64,
    currency: Currency,
}

impl Money {
    /// Built from minor.
    pub fn from_minor(minor: i64, currency: Currency) -> Self {
        Self { minor, currency }
    }

    /// Zero.
    pub fn zero(currency: Currency) -> Self {
        Self { minor: 0, currency }
    }

    /// Minor.
    pub fn minor(self) -> i64 {
        self.minor
    }

    /// Currency.
    pub fn currency(self) -> Currency {
        self.currency
    }

    /// Whether it is zero.
    pub fn is_zero(self) -> bool {
        self.minor == 0
    }

    /// Parses decimal text such as `9.99`, `10` or `1e1` exactly. More decimals than the
    /// currency has is an error, never a silent rounding. Negative amounts are rejected.
    pub fn parse_decimal(text: &str, currency: Currency) -> Result<Self, MoneyError> {
        let not_decimal = || MoneyError::NotADecimal(text.to_owned());
        let trimmed = text.trim();
        if trimmed.starts_with('-') {
            return Err(MoneyError::Negative);
        }
        let (mantissa, exponent) = match trimmed.find(['e', 'E']) {
            Some(at) => {
                let exp: i32 = trimmed[at + 1..].parse().map_err(|_| not_decimal())?;
                (&trimmed[..at], exp)
            }
            None => (trimmed, 0),
        };
        let mantissa = mantissa.strip_prefix('+').unwrap_or(mantissa);
        let (int_part, frac_part) = match mantissa.split_once('.') {
            Some((i, f)) => (i, f),
            None => (mantissa, ""),
        };
        if int_part.is_empty() && frac_part.is_empty()
            || !int_part.bytes().all(|b| b.is_ascii_digit())
            || !frac_part.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(not_decimal());
        }
        // All digits as one integer, scaled by 10^(exponent - len(frac)).
        let mut digits: String = format!("{int_part}{frac_part}");
        let mut scale = exponent - i32::try_from(frac_part.len()).map_err(|_| not_decimal())?;
        // Trailing zeros carry no precision: drop them so `1.50` in USD is fine.
        while scale < 0 && digits.len() > 1 && digits.ends_with('0') {
            digits.pop();
            scale += 1;
        }
        let wanted = i32::from(currency.decimals) + scale;
        if wanted < 0 {
            if digits.bytes().all(|b| b == b'0') {
                return Ok(Money::zero(currency));
            }
            return Err(MoneyError::TooManyDecimals {
                amount: text.to_owned(),
                currency: currency.code,
                allowed: currency.decimals,
            });
        }
        let digits = digits.trim_start_matches('0');
        let base: i64 = if digits.is_empty() {
            0
        } else {
            digits.parse().map_err(|_| MoneyError::Overflow)?
        };
        let factor = 10_i64
            .checked_pow(u32::try_from(wanted).map_err(|_| MoneyError::Overflow)?)
            .ok_or(MoneyError::Overflow)?;
        let minor = base.checked_mul(factor).ok_or(MoneyError::Overflow)?;
        Ok(Money::from_minor(minor, currency))
    }

    /// Decimal text with every minor digit, e.g. `9.90` (for invoices and tables).
    pub fn to_fixed_string(self) -> String {
        let decimals = usize::from(self.currency.decimals);
        let sign = if self.minor < 0 { "-" } else { "" };
        let abs = self.minor.unsigned_abs().to_string();
        if decimals == 0 {
            return format!("{sign}{abs}");
        }
        let padded = format!("{abs:0>width$}", width = decimals + 1);
        let (int_part, frac_part) = padded.split_at(padded.len() - decimals);
        format!("{sign}{int_part}.{frac_part}")
    }

    /// Decimal text the way JSON clients expect a price: trailing zeros trimmed but at
    /// least one decimal (`9.99`, `99.0`, `1.9`, `0.0`). Valid JSON number text.
    pub fn to_json_number_text(self) -> String {
        let fixed = self.to_fixed_string();
        if !fixed.contains('.') {
            return format!("{fixed}.0");
        }
        let trimmed = fixed.trim_end_matches('0');
        if trimmed.ends_with('.') {
            format!("{trimmed}0")
        } else {
            trimmed.to_owned()
        }
    }

    fn same_currency(self, other: Money) -> Result<(), MoneyError> {
        if self.currency == other.currency {
            Ok(())
        } else {
            Err(MoneyError::CurrencyMismatch(
                self.currency.code,
                other.currency.code,
            ))
        }
    }

    /// Checked add.
    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        let minor = self
            .minor
            .checked_add(other.minor)
            .ok_or(MoneyError::Overflow)?;
        Ok(Money::from_minor(minor, self.currency))
    }

    /// Checked sub.
    pub fn checked_sub(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        let minor = self
            .minor
            .checked_sub(other.minor)
            .ok_or(MoneyError::Overflow)?;
        Ok(Money::from_minor(minor, self.currency))
    }

    /// Checked mul.
    pub fn checked_mul(self, quantity: u32) -> Result<Money, MoneyError> {
        let minor = self
            .minor
            .checked_mul(i64::from(quantity))
            .ok_or(MoneyError::Overflow)?;
        Ok(Money::from_minor(minor, self.currency))
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.to_fixed_string(), self.currency.code)
    }
}

/// A tax rate in hundredths of a percent (basis points): 19% is 1900, 7.7% is 770.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct TaxRate(u32);

impl TaxRate {
    /// Zero.
    pub const ZERO: TaxRate = TaxRate(0);

    /// Rates run from 0% to 100% inclusive.
    pub fn from_basis_points(bp: u32) -> Option<Self> {
        (bp <= 10_000).then_some(Self(bp))
    }

    /// Parses a percentage such as `19`, `19.0` or `7.7` (at most two decimals).
    pub fn parse_percent(text: &str) -> Option<Self> {
        let (int_part, frac_part) = text.trim().split_once('.').unwrap_or((text.trim(), ""));
        let frac_part = frac_part.trim_end_matches('0');
        if int_part.is_empty()
            || frac_part.len() > 2
            || !int_part.bytes().all(|b| b.is_ascii_digit())
            || !frac_part.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
        let whole: u32 = int_part.parse().ok()?;
        let frac: u32 = if frac_part.is_empty() {
            0
        } else {
            format!("{frac_part:0<2}").parse().ok()?
        };
        Self::from_basis_points(whole.checked_mul(100)?.checked_add(frac)?)
    }

    /// Basis points.
    pub fn basis_points(self) -> u32 {
        self.0
    }

    /// The percentage as JSON number text: `19.0`, `7.7`, `0.0`.
    pub fn to_percent_text(self) -> String {
        let whole = self.0 / 100;
        let frac = self.0 % 100;
        if frac == 0 {
            format!("{whole}.0")
        } else if frac.is_multiple_of(10) {
            format!("{whole}.{}", frac / 10)
        } else {
            format!("{whole}.{frac:02}")
        }
    }

    /// Tax on `net`, rounded half-up to the minor unit (half away from zero).
    pub fn tax_on(self, net: Money) -> Result<Money, MoneyError> {
        let product = i128::from(net.minor()) * i128::from(self.0);
        let half = 5_000_i128;
        let rounded = if product >= 0 {
            (product + half) / 10_000
        } else {
            (product - half) / 10_000
        };
        let minor = i64::try_from(rounded).map_err(|_| MoneyError::Overflow)?;
        Ok(Money::from_minor(minor, net.currency()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn usd(text: &str) -> Result<Money, MoneyError> {
        Money::parse_decimal(text, Currency::USD)
    }

    #[test]
    fn parses_decimals_exactly() {
        assert_eq!(usd("9.99").unwrap().minor(), 999);
        assert_eq!(usd("10").unwrap().minor(), 1000);
        assert_eq!(usd("0.1").unwrap().minor(), 10);
        assert_eq!(usd("1.50").unwrap().minor(), 150);
        assert_eq!(usd("1.500000").unwrap().minor(), 150);
        assert_eq!(usd("1e2").unwrap().minor(), 10_000);
        assert_eq!(usd("0.0").unwrap().minor(), 0);
        assert_eq!(usd("0.000").unwrap().minor(), 0);
    }

    #[test]
    fn rejects_more_decimals_than_the_currency_has() {
        assert!(matches!(
            usd("9.999"),
            Err(MoneyError::TooManyDecimals { .. })
        ));
        let yen = Currency::from_code("jpy").unwrap();
        assert!(Money::parse_decimal("1.5", yen).is_err());
        assert_eq!(Money::parse_decimal("150", yen).unwrap().minor(), 150);
    }

    #[test]
    fn rejects_garbage_and_negatives() {
        for bad in ["", ".", "abc", "1.2.3", "1,5", "--1", "1e", "0x10"] {
            assert!(usd(bad).is_err(), "{bad} should be rejected");
        }
        assert_eq!(usd("-1"), Err(MoneyError::Negative));
        assert_eq!(usd("99999999999999999999"), Err(MoneyError::Overflow));
    }

    #[test]
    fn prints_json_style_and_fixed() {
        let m = |minor| Money::from_minor(minor, Currency::USD);
        assert_eq!(m(999).to_json_number_text(), "9.99");
        assert_eq!(m(9900).to_json_number_text(), "99.0");
        assert_eq!(m(190).to_json_number_text(), "1.9");
        assert_eq!(m(0).to_json_number_text(), "0.0");
        assert_eq!(m(5).to_json_number_text(), "0.05");
        assert_eq!(m(5).to_fixed_string(), "0.05");
        assert_eq!(m(-1205).to_fixed_string(), "-12.05");
        let kwd = Currency::from_code("KWD").unwrap();
        assert_eq!(Money::from_minor(1500, kwd).to_fixed_string(), "1.500");
        let jpy = Currency::from_code("JPY").unwrap();
        assert_eq!(Money::from_minor(1500, jpy).to_json_number_text(), "1500.0");
    }

    #[test]
    fn currency_codes_are_case_insensitive_and_known() {
        assert_eq!(Currency::from_code("usd").unwrap(), Currency::USD);
        assert!(Currency::from_code("XXX").is_err());
        assert!(Currency::from_code("").is_err());
    }

    #[test]
    fn arithmetic_checks_currency_and_overflow() {
        let a = Money::from_minor(100, Currency::USD);
        let b = Money::from_minor(100, Currency::EUR);
        assert!(a.checked_add(b).is_err());
        assert_eq!(a.checked_add(a).unwrap().minor(), 200);
        assert!(Money::from_minor(i64::MAX, Currency::USD)
            .checked_add(a)
            .is_err());
        assert!(Money::from_minor(i64::MAX, Currency::USD)
            .checked_mul(2)
            .is_err());
    }

    #[test]
    fn tax_rounds_half_up() {
        let rate = TaxRate::parse_percent("19").unwrap();
        assert_eq!(
            rate.tax_on(Money::from_minor(999, Currency::USD))
                .unwrap()
                .minor(),
            190
        ); // 189.81
        let rate = TaxRate::parse_percent("10").unwrap();
        assert_eq!(
            rate.tax_on(Money::from_minor(5, Currency::USD))
                .unwrap()
                .minor(),
            1
        ); // 0.5 -> 1
        assert_eq!(
            rate.tax_on(Money::from_minor(4, Currency::USD))
                .unwrap()
                .minor(),
            0
        ); // 0.4 -> 0
        assert_eq!(TaxRate::parse_percent("7.7").unwrap().basis_points(), 770);
        assert_eq!(
            TaxRate::parse_percent("7.70").unwrap().to_percent_text(),
            "7.7"
        );
        assert_eq!(
            TaxRate::parse_percent("19").unwrap().to_percent_text(),
            "19.0"
        );
        assert_eq!(
            TaxRate::parse_percent("8.25").unwrap().to_percent_text(),
            "8.25"
        );
        assert!(TaxRate::parse_percent("7.775").is_none());
        assert!(TaxRate::parse_percent("101").is_none());
    }

    proptest! {
        #[test]
        fn fixed_text_round_trips(minor in 0_i64..i64::MAX / 10) {
            let money = Money::from_minor(minor, Currency::USD);
            prop_assert_eq!(usd(&money.to_fixed_string()).unwrap(), money);
            prop_assert_eq!(usd(&money.to_json_number_text()).unwrap(), money);
        }

        #[test]
        fn tax_is_within_half_a_cent_of_exact(minor in 0_i64..1_000_000_000, bp in 0_u32..=10_000) {
            let tax = TaxRate::from_basis_points(bp).unwrap().tax_on(Money::from_minor(minor, Currency::USD)).unwrap();
            let exact_times_10000 = i128::from(minor) * i128::from(bp);
            let diff = i128::from(tax.minor()) * 10_000 - exact_times_10000;
            prop_assert!(diff > -5_000 && diff <= 5_000);
        }

        #[test]
        fn addition_is_exact(a in 0_i64..1_000_000_000_000, b in 0_i64..1_000_000_000_000) {
            let sum = Money::from_minor(a, Currency::EUR).checked_add(Money::from_minor(b, Currency::EUR)).unwrap();
            prop_assert_eq!(sum.minor(), a + b);
        }

        #[test]
        fn tax_is_monotonic_in_the_net_amount(a in 0_i64..1_000_000_000_000, b in 0_i64..1_000_000_000_000, bp in 0_u32..=10_000) {
            let rate = TaxRate::from_basis_points(bp).unwrap();
            let (low, high) = (a.min(b), a.max(b));
            let tax_low = rate.tax_on(Money::from_minor(low, Currency::USD)).unwrap();
            let tax_high = rate.tax_on(Money::from_minor(high, Currency::USD)).unwrap();
            prop_assert!(tax_low.minor() <= tax_high.minor());
        }

        #[test]
        fn tax_is_monotonic_in_the_rate(minor in 0_i64..1_000_000_000_000, a in 0_u32..=10_000, b in 0_u32..=10_000) {
            let net = Money::from_minor(minor, Currency::USD);
            let low = TaxRate::from_basis_points(a.min(b)).unwrap().tax_on(net).unwrap();
            let high = TaxRate::from_basis_points(a.max(b)).unwrap().tax_on(net).unwrap();
            prop_assert!(low.minor() <= high.minor());
        }

        #[test]
        fn tax_lies_between_nothing_and_the_net(minor in 0_i64..i64::MAX / 2, bp in 0_u32..=10_000) {
            let net = Money::from_minor(minor, Currency::USD);
            let tax = TaxRate::from_basis_points(bp).unwrap().tax_on(net).unwrap();
            prop_assert!(tax.minor() >= 0 && tax.minor() <= minor);
            prop_assert_eq!(tax.currency(), Currency::USD);
            prop_assert_eq!(TaxRate::ZERO.tax_on(net).unwrap().minor(), 0);
            prop_assert_eq!(TaxRate::from_basis_points(10_000).unwrap().tax_on(net).unwrap(), net);
        }

        #[test]
        fn tax_of_a_sum_is_within_a_cent_of_the_summed_taxes(a in 0_i64..1_000_000_000, b in 0_i64..1_000_000_000, bp in 0_u32..=10_000) {
            let rate = TaxRate::from_basis_points(bp).unwrap();
            let whole = rate.tax_on(Money::from_minor(a + b, Currency::USD)).unwrap().minor();
            let parts = rate.tax_on(Money::from_minor(a, Currency::USD)).unwrap().minor()
                + rate.tax_on(Money::from_minor(b, Currency::USD)).unwrap().minor();
            prop_assert!((whole - parts).abs() <= 1);
        }

        #[test]
        fn gross_is_net_plus_tax_exactly(minor in 0_i64..1_000_000_000_000, bp in 0_u32..=10_000) {
            let net = Money::from_minor(minor, Currency::EUR);
            let tax = TaxRate::from_basis_points(bp).unwrap().tax_on(net).unwrap();
            let gross = net.checked_add(tax).unwrap();
            prop_assert_eq!(gross.checked_sub(tax).unwrap(), net);
            prop_assert_eq!(gross.minor(), minor + tax.minor());
        }

        #[test]
        fn multiplication_is_repeated_addition(minor in 0_i64..1_000_000_000, quantity in 0_u32..50) {
            let unit = Money::from_minor(minor, Currency::USD);
            let mut sum = Money::zero(Currency::USD);
            for _ in 0..quantity {
                sum = sum.checked_add(unit).unwrap();
            }
            prop_assert_eq!(unit.checked_mul(quantity).unwrap(), sum);
        }

        #[test]
        fn overflow_is_an_error_never_a_wrap(a in i64::MAX / 2..=i64::MAX, b in i64::MAX / 2..=i64::MAX, q in 3_u32..=u32::MAX) {
            let x = Money::from_minor(a, Currency::USD);
            prop_assert!(matches!(x.checked_add(Money::from_minor(b, Currency::USD)), Err(MoneyError::Overflow)));
            prop_assert!(matches!(x.checked_mul(q), Err(MoneyError::Overflow)));
        }

        #[test]
        fn one_decimal_too_many_is_refused_never_rounded(minor in 0_i64..1_000_000_000, extra in 1_u8..=9) {
            let text = format!("{}{extra}", Money::from_minor(minor, Currency::USD).to_fixed_string());
            let refused = matches!(usd(&text), Err(MoneyError::TooManyDecimals { .. }));
            prop_assert!(refused, "{} was accepted", text);
        }

        #[test]
        fn every_currency_round_trips_its_own_decimals(minor in 0_i64..1_000_000_000_000, index in 0_usize..CURRENCIES.len()) {
            let currency = Currency::from_code(CURRENCIES[index].0).unwrap();
            let money = Money::from_minor(minor, currency);
            prop_assert_eq!(Money::parse_decimal(&money.to_fixed_string(), currency).unwrap(), money);
            prop_assert_eq!(Money::parse_decimal(&money.to_json_number_text(), currency).unwrap(), money);
        }

        #[test]
        fn parsing_any_text_never_panics(text in "\\PC{0,40}") {
            let _ = usd(&text);
            let _ = TaxRate::parse_percent(&text);
        }

        #[test]
        fn tax_rate_text_round_trips(bp in 0_u32..=10_000) {
            let rate = TaxRate::from_basis_points(bp).unwrap();
            prop_assert_eq!(TaxRate::parse_percent(&rate.to_percent_text()), Some(rate));
        }
    }
}
