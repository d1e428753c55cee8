//! Postal addresses and countries: the one address type every billing record, order
//! buyer and invoice uses.

use crate::shared::text::{optional_text, AccountValidationError};

/// The officially assigned ISO 3166-1 alpha-2 codes.
const ISO_3166_ALPHA2: &str = "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL \
BM BN BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO \
DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM \
HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR \
LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL \
NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ \
SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA \
VC VE VG VI VN VU WF WS YE YT ZA ZM ZW";

/// A country as an ISO 3166-1 alpha-2 code, upper case (`DE`, `US`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Country(String);

impl Country {
    /// Parses and validates text.
    pub fn parse(text: &str) -> Result<Country, AccountValidationError> {
        let code = text.trim().to_ascii_uppercase();
        let known = code.len() == 2
            && code.bytes().all(|b| b.is_ascii_uppercase())
            && ISO_3166_ALPHA2.split(' ').any(|c| c == code);
        if known {
            Ok(Country(code))
        } else {
            Err(AccountValidationError::new(
                "country",
                format!(
                    "`{}` is not an ISO 3166-1 alpha-2 country code",
                    text.trim()
                ),
            ))
        }
    }

    /// The code.
    pub fn code(&self) -> &str {
        &self.0
    }

    /// An optional country: blank text is none, anything else must be a known code.
    pub fn parse_optional(text: Option<String>) -> Result<Option<Country>, AccountValidationError> {
        match optional_text("country", text, 64)? {
            Some(code) => Country::parse(&code).map(Some),
            None => Ok(None),
        }
    }
}

/// A postal address as printed on invoices: two street lines, postcode, city and
/// country. Every part is optional; blank text is absent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PostalAddress {
    line1: Option<String>,
    line2: Option<String>,
    city: Option<String>,
    postcode: Option<String>,
    country: Option<Country>,
}

impl PostalAddress {
    /// Validates the text parts: trimmed, blank as absent, at most 200 characters per
    /// street line, 100 for the city, 20 for the postcode, no control characters. Errors
    /// name the contract's field (`addressLine1`, `addressLine2`, `city`, `postcode`).
    pub fn new(
        line1: Option<String>,
        line2: Option<String>,
        city: Option<String>,
        postcode: Option<String>,
        country: Option<Country>,
    ) -> Result<PostalAddress, AccountValidationError> {
        Ok(PostalAddress {
            line1: optional_text("addressLine1", line1, 200)?,
            line2: optional_text("addressLine2", line2, 200)?,
            city: optional_text("city", city, 100)?,
            postcode: optional_text("postcode", postcode, 20)?,
            country,
        })
    }

    /// The first street line.
    pub fn line1(&self) -> Option<&str> {
        self.line1.as_deref()
    }

    /// The second street line.
    pub fn line2(&self) -> Option<&str> {
        self.line2.as_deref()
    }

    /// The city.
    pub fn city(&self) -> Option<&str> {
        self.city.as_deref()
    }

    /// The postcode.
    pub fn postcode(&self) -> Option<&str> {
        self.postcode.as_deref()
    }

    /// The country.
    pub fn country(&self) -> Option<&Country> {
        self.country.as_ref()
    }

    /// The country's ISO code, for tax rules and printing.
    pub fn country_code(&self) -> Option<&str> {
        self.country.as_ref().map(Country::code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn countries_are_iso_alpha2() {
        assert_eq!(Country::parse("de").unwrap().code(), "DE");
        assert_eq!(Country::parse(" GB ").unwrap().code(), "GB");
        for bad in ["UK", "XX", "DEU", "D", "1A", "ÄÖ"] {
            assert!(Country::parse(bad).is_err(), "{bad} accepted");
        }
        assert_eq!(ISO_3166_ALPHA2.split(' ').count(), 249);
    }
}
