//! Data transfer objects: the JSON shapes of both dialects, and their conversion from
//! and to domain types. Domain types never derive serde; these do.

pub mod account;
pub mod audit;
pub mod billing;
pub mod credit_note;
pub mod order;
pub mod package;
pub mod payment;
pub mod plan;
pub mod plan_order;
pub mod quota;
pub mod settings;
pub mod webhook;

use chrono::{DateTime, Utc};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;
use tariff_domain::{Money, TaxRate};

/// A decimal JSON number printed from integer minor units, never through a float:
/// `9.99`, `99.0`, `0.0`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecimalNumber(String);

impl DecimalNumber {
    pub fn money(amount: Money) -> DecimalNumber {
        DecimalNumber(amount.to_json_number_text())
    }

    pub fn percent(rate: TaxRate) -> DecimalNumber {
        DecimalNumber(rate.to_percent_text())
    }

    /// A coupon's percentage: `20.0`, `12.5`.
    pub fn percent_off(percent: tariff_domain::billing::PercentOff) -> DecimalNumber {
        DecimalNumber(percent.to_percent_text())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Serialize for DecimalNumber {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let raw = RawValue::from_string(self.0.clone()).map_err(serde::ser::Error::custom)?;
        raw.serialize(serializer)
    }
}

impl utoipa::PartialSchema for DecimalNumber {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::Number)
            .description(Some(
                "Decimal amount with the currency's decimals, e.g. 9.99",
            ))
            .into()
    }
}
impl utoipa::ToSchema for DecimalNumber {}

/// A decimal read from JSON as its exact text: a number (`9.99`) or a string (`"9.99"`).
/// The domain parses it; a float never holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecimalInput(pub String);

impl<'de> Deserialize<'de> for DecimalInput {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw: Box<RawValue> = Deserialize::deserialize(deserializer)?;
        let text = raw.get().trim();
        if text.starts_with('"') {
            let inner: String = serde_json::from_str(text).map_err(D::Error::custom)?;
            Ok(DecimalInput(inner))
        } else if text.starts_with(|c: char| c.is_ascii_digit() || c == '-') {
            Ok(DecimalInput(text.to_owned()))
        } else {
            Err(D::Error::custom("expected a decimal number"))
        }
    }
}

impl utoipa::PartialSchema for DecimalInput {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        DecimalNumber::schema()
    }
}
impl utoipa::ToSchema for DecimalInput {}

/// `2026-11-21T10:00:00Z`: the panel dialect's timestamps.
pub fn panel_timestamp(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// `2022-07-23T13:35:51.000000Z`: the packages dialect's timestamps.
pub fn packages_timestamp(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// For patch bodies: a missing field is `None`, `null` is `Some(None)`.
pub fn nullable<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tariff_domain::Currency;

    #[test]
    fn decimals_serialise_as_json_numbers() {
        let json =
            serde_json::to_string(&DecimalNumber::money(Money::from_minor(999, Currency::USD)))
                .unwrap();
        assert_eq!(json, "9.99");
        let json =
            serde_json::to_string(&DecimalNumber::money(Money::from_minor(0, Currency::USD)))
                .unwrap();
        assert_eq!(json, "0.0");
    }

    #[test]
    fn decimal_input_keeps_exact_text() {
        #[derive(Deserialize)]
        struct Body {
            price: DecimalInput,
        }
        let body: Body = serde_json::from_str(r#"{"price": 0.1}"#).unwrap();
        assert_eq!(body.price.0, "0.1");
        let body: Body = serde_json::from_str(r#"{"price": "12.50"}"#).unwrap();
        assert_eq!(body.price.0, "12.50");
        assert!(serde_json::from_str::<Body>(r#"{"price": true}"#).is_err());
        assert!(serde_json::from_str::<Body>(r#"{"price": null}"#).is_err());
    }

    #[test]
    fn timestamps_match_each_dialect() {
        let at = DateTime::parse_from_rfc3339("2022-07-23T13:35:51Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(panel_timestamp(at), "2022-07-23T13:35:51Z");
        assert_eq!(packages_timestamp(at), "2022-07-23T13:35:51.000000Z");
    }
}
