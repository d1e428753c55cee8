//! Tax rules from configuration: a rate per country, an `EU` group rate for the EU
//! member states without their own entry, and a `*` fallback for everyone else.

use std::collections::HashMap;

use crate::shared::money::TaxRate;

/// The EU member states (ISO 3166-1 alpha-2). Greece also answers to `EL`, the code EU
/// VAT numbers use.
pub const EU_MEMBER_STATES: [&str; 27] = [
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE", "IT",
    "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK",
];

/// Whether a country code (any case) is an EU member state.
pub fn is_eu_member(country: &str) -> bool {
    let code = normalise(country);
    code == "EL" || EU_MEMBER_STATES.contains(&code.as_str())
}

fn normalise(code: &str) -> String {
    code.trim().to_ascii_uppercase()
}

/// A rule in the configuration that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TaxRuleError {
    /// Tax.: use a two-letter country code, `EU` or `*`.
    #[error("tax.{0}: use a two-letter country code, `EU` or `*`")]
    BadRegion(String),
    /// Bad rate.
    #[error("tax.{region}: `{rate}` is not a percentage from 0 to 100 with at most two decimals")]
    BadRate {
        /// The country code or `default`.
        region: String,
        /// The rate as written.
        rate: String,
    },
}

/// Which rate applies to a buyer, decided by country: the country's own rule, else the
/// `EU` rule for member states, else the `*` rule, else no tax.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TaxRules {
    by_country: HashMap<String, TaxRate>,
    eu: Option<TaxRate>,
    fallback: Option<TaxRate>,
}

impl TaxRules {
    /// No tax anywhere.
    pub fn none() -> TaxRules {
        TaxRules::default()
    }

    /// Parses `region = "percent"` pairs as written in the `[tax]` section.
    pub fn parse<I, K, V>(entries: I) -> Result<TaxRules, TaxRuleError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut rules = TaxRules::default();
        for (region, rate_text) in entries {
            let region = region.as_ref();
            let rate = TaxRate::parse_percent(rate_text.as_ref()).ok_or_else(|| {
                TaxRuleError::BadRate {
                    region: region.to_owned(),
                    rate: rate_text.as_ref().to_owned(),
                }
            })?;
            let code = normalise(region);
            if code == "*" {
                rules.fallback = Some(rate);
            } else if code == "EU" {
                rules.eu = Some(rate);
            } else if code.len() == 2 && code.bytes().all(|b| b.is_ascii_uppercase()) {
                rules.by_country.insert(code, rate);
            } else {
                return Err(TaxRuleError::BadRegion(region.to_owned()));
            }
        }
        Ok(rules)
    }

    /// The rate for a buyer in `country` (`None`: the country is not known, so only
    /// the `*` rule can apply).
    pub fn rate_for(&self, country: Option<&str>) -> TaxRate {
        let own = country.map(normalise).filter(|c| !c.is_empty());
        let greece_alias = |c: &String| {
            if c == "EL" {
                "GR".to_owned()
            } else {
                c.clone()
            }
        };
        own.as_ref()
            .and_then(|c| {
                self.by_country
                    .get(c)
                    .or_else(|| self.by_country.get(&greece_alias(c)))
            })
            .copied()
            .or_else(|| own.as_deref().filter(|c| is_eu_member(c)).and(self.eu))
            .or(self.fallback)
            .unwrap_or(TaxRate::ZERO)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate(text: &str) -> TaxRate {
        TaxRate::parse_percent(text).unwrap()
    }

    #[test]
    fn country_beats_group_beats_fallback() {
        let rules =
            TaxRules::parse([("DE", "19"), ("EU", "21"), ("*", "0"), ("ch", "8.1")]).unwrap();
        assert_eq!(rules.rate_for(Some("DE")), rate("19"));
        assert_eq!(rules.rate_for(Some("de")), rate("19"));
        assert_eq!(rules.rate_for(Some("FR")), rate("21")); // EU member, no own rule
        assert_eq!(rules.rate_for(Some("EL")), rate("21")); // Greece by its VAT code
        assert_eq!(rules.rate_for(Some("CH")), rate("8.1")); // own rule, not EU
        assert_eq!(rules.rate_for(Some("US")), rate("0")); // fallback
        assert_eq!(rules.rate_for(None), rate("0"));
        assert_eq!(rules.rate_for(Some(" ")), rate("0"));
    }

    #[test]
    fn without_fallback_unknown_buyers_pay_no_tax() {
        let rules = TaxRules::parse([("EU", "20")]).unwrap();
        assert_eq!(rules.rate_for(Some("US")), TaxRate::ZERO);
        assert_eq!(rules.rate_for(None), TaxRate::ZERO);
        assert_eq!(rules.rate_for(Some("AT")), rate("20"));
        assert_eq!(TaxRules::none().rate_for(Some("DE")), TaxRate::ZERO);
        let star = TaxRules::parse([("*", "7.5")]).unwrap();
        assert_eq!(star.rate_for(None), rate("7.5"));
        assert_eq!(star.rate_for(Some("DE")), rate("7.5"));
    }

    #[test]
    fn greece_rule_applies_to_both_codes() {
        let rules = TaxRules::parse([("GR", "24")]).unwrap();
        assert_eq!(rules.rate_for(Some("EL")), rate("24"));
        assert_eq!(rules.rate_for(Some("GR")), rate("24"));
    }

    #[test]
    fn bad_rules_are_refused() {
        assert!(matches!(
            TaxRules::parse([("Germany", "19")]),
            Err(TaxRuleError::BadRegion(_))
        ));
        assert!(matches!(
            TaxRules::parse([("DE", "nineteen")]),
            Err(TaxRuleError::BadRate { .. })
        ));
        assert!(TaxRules::parse([("DE", "100.5")]).is_err());
        assert!(TaxRules::parse([("D1", "5")]).is_err());
    }

    #[test]
    fn eu_membership() {
        assert_eq!(EU_MEMBER_STATES.len(), 27);
        assert!(is_eu_member("de") && is_eu_member("EL") && is_eu_member("HR"));
        assert!(!is_eu_member("GB") && !is_eu_member("CH") && !is_eu_member("NO"));
    }
}
