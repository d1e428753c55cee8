//! Users and their billing details: validated value types (email, country) and the
//! user record. A user's password hash is deliberately not part of [`User`], so no
//! code path that shows a user can show the hash.

use std::fmt;

use chrono::{DateTime, Utc};

use crate::account::Role;
use crate::ids::UserId;

/// An account field failed validation; `field` is the contract's JSON name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct AccountValidationError {
    pub field: &'static str,
    pub message: String,
}

impl AccountValidationError {
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self {
            field,
            message: message.into(),
        }
    }
}

const MAX_EMAIL_CHARS: usize = 254;
const MAX_LOCAL_PART_CHARS: usize = 64;

/// An email address, trimmed and lower-cased: two spellings of one address are one
/// account. Checked for shape (one `@`, a dotted domain, no spaces), not deliverability.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    pub fn parse(text: &str) -> Result<Email, AccountValidationError> {
        let invalid = || AccountValidationError::new("email", "must be a valid email address");
        let email = text.trim().to_lowercase();
        if email.is_empty() || email.chars().count() > MAX_EMAIL_CHARS {
            return Err(AccountValidationError::new(
                "email",
                "must be a valid email address of at most 254 characters",
            ));
        }
        if email
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ',' | ';'))
        {
            return Err(invalid());
        }
        let (local, domain) = email.split_once('@').ok_or_else(invalid)?;
        if local.is_empty()
            || local.chars().count() > MAX_LOCAL_PART_CHARS
            || domain.contains('@')
            || local.starts_with('.')
            || local.ends_with('.')
            || local.contains("..")
        {
            return Err(invalid());
        }
        let labels: Vec<&str> = domain.split('.').collect();
        if labels.len() < 2
            || labels
                .iter()
                .any(|l| l.is_empty() || l.starts_with('-') || l.ends_with('-'))
        {
            return Err(invalid());
        }
        Ok(Email(email))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

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

    pub fn code(&self) -> &str {
        &self.0
    }
}

/// Unvalidated billing details, as they come from a request body.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BillingDraft {
    pub company: Option<String>,
    pub address_line1: Option<String>,
    pub address_line2: Option<String>,
    pub city: Option<String>,
    pub postcode: Option<String>,
    pub country: Option<String>,
    pub tax_id: Option<String>,
}

/// A partial change to billing details: `None` keeps a field, `Some(None)` clears it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BillingPatch {
    pub company: Option<Option<String>>,
    pub address_line1: Option<Option<String>>,
    pub address_line2: Option<Option<String>>,
    pub city: Option<Option<String>>,
    pub postcode: Option<Option<String>>,
    pub country: Option<Option<String>>,
    pub tax_id: Option<Option<String>>,
}

impl BillingPatch {
    pub fn apply_to(self, draft: &mut BillingDraft) {
        macro_rules! take {
            ($($field:ident),*) => { $( if let Some(v) = self.$field { draft.$field = v; } )* };
        }
        take!(
            company,
            address_line1,
            address_line2,
            city,
            postcode,
            country,
            tax_id
        );
    }
}

/// Validated billing details (printed on invoices). Blank text is stored as absent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BillingDetails {
    company: Option<String>,
    address_line1: Option<String>,
    address_line2: Option<String>,
    city: Option<String>,
    postcode: Option<String>,
    country: Option<Country>,
    tax_id: Option<String>,
}

/// Trims, turns blank into `None`, and enforces a length and no control characters.
pub(crate) fn optional_text(
    field: &'static str,
    text: Option<String>,
    max_chars: usize,
) -> Result<Option<String>, AccountValidationError> {
    let Some(text) = text.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    if text.chars().count() > max_chars {
        return Err(AccountValidationError::new(
            field,
            format!("must be at most {max_chars} characters"),
        ));
    }
    if text.chars().any(char::is_control) {
        return Err(AccountValidationError::new(
            field,
            "must not contain control characters",
        ));
    }
    Ok(Some(text))
}

/// A required single-line name: trimmed, 1..=`max_chars` characters, no control characters.
pub(crate) fn required_name(
    field: &'static str,
    text: &str,
    max_chars: usize,
) -> Result<String, AccountValidationError> {
    match optional_text(field, Some(text.to_owned()), max_chars)? {
        Some(name) => Ok(name),
        None => Err(AccountValidationError::new(
            field,
            format!("must be 1 to {max_chars} characters"),
        )),
    }
}

impl BillingDetails {
    pub fn new(draft: BillingDraft) -> Result<BillingDetails, AccountValidationError> {
        let country = match optional_text("country", draft.country, 64)? {
            Some(code) => Some(Country::parse(&code)?),
            None => None,
        };
        Ok(BillingDetails {
            company: optional_text("company", draft.company, 200)?,
            address_line1: optional_text("addressLine1", draft.address_line1, 200)?,
            address_line2: optional_text("addressLine2", draft.address_line2, 200)?,
            city: optional_text("city", draft.city, 100)?,
            postcode: optional_text("postcode", draft.postcode, 20)?,
            country,
            tax_id: optional_text("taxId", draft.tax_id, 50)?,
        })
    }

    pub fn to_draft(&self) -> BillingDraft {
        BillingDraft {
            company: self.company.clone(),
            address_line1: self.address_line1.clone(),
            address_line2: self.address_line2.clone(),
            city: self.city.clone(),
            postcode: self.postcode.clone(),
            country: self.country.as_ref().map(|c| c.code().to_owned()),
            tax_id: self.tax_id.clone(),
        }
    }

    pub fn company(&self) -> Option<&str> {
        self.company.as_deref()
    }
    pub fn address_line1(&self) -> Option<&str> {
        self.address_line1.as_deref()
    }
    pub fn address_line2(&self) -> Option<&str> {
        self.address_line2.as_deref()
    }
    pub fn city(&self) -> Option<&str> {
        self.city.as_deref()
    }
    pub fn postcode(&self) -> Option<&str> {
        self.postcode.as_deref()
    }
    pub fn country(&self) -> Option<&Country> {
        self.country.as_ref()
    }
    pub fn tax_id(&self) -> Option<&str> {
        self.tax_id.as_deref()
    }
}

const MAX_USER_NAME_CHARS: usize = 100;

/// A validated user without its identity: what is stored besides the password hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserSpec {
    email: Email,
    name: String,
    role: Role,
    billing: BillingDetails,
}

impl UserSpec {
    /// Validates: a well-formed email, a name of 1..=100 characters, valid billing details.
    pub fn new(
        email: &str,
        name: &str,
        role: Role,
        billing: BillingDraft,
    ) -> Result<UserSpec, AccountValidationError> {
        Ok(UserSpec {
            email: Email::parse(email)?,
            name: required_name("name", name, MAX_USER_NAME_CHARS)?,
            role,
            billing: BillingDetails::new(billing)?,
        })
    }

    pub fn email(&self) -> &Email {
        &self.email
    }
    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn role(&self) -> Role {
        self.role
    }
    pub fn billing(&self) -> &BillingDetails {
        &self.billing
    }
}

/// A stored user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    id: UserId,
    spec: UserSpec,
    created_at: DateTime<Utc>,
}

impl User {
    pub fn new(id: UserId, spec: UserSpec, created_at: DateTime<Utc>) -> User {
        User {
            id,
            spec,
            created_at,
        }
    }
    pub fn id(&self) -> UserId {
        self.id
    }
    pub fn spec(&self) -> &UserSpec {
        &self.spec
    }
    pub fn created_at(&self) -> DateTime<Utc> {
        self.created_at
    }
}

impl std::ops::Deref for User {
    type Target = UserSpec;
    fn deref(&self) -> &UserSpec {
        &self.spec
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_trimmed_lower_cased_and_checked() {
        assert_eq!(
            Email::parse("  Ada.Lovelace@Example.COM ")
                .unwrap()
                .as_str(),
            "ada.lovelace@example.com"
        );
        for bad in [
            "",
            "plain",
            "a@b",
            "@example.com",
            "a@@example.com",
            "a b@example.com",
            "a@example..com",
            "a@.example.com",
            "a.@example.com",
            "a@-x.com",
            "a\n@example.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} accepted");
        }
        let long = format!("{}@example.com", "a".repeat(65));
        assert!(Email::parse(&long).is_err());
    }

    #[test]
    fn countries_are_iso_alpha2() {
        assert_eq!(Country::parse("de").unwrap().code(), "DE");
        assert_eq!(Country::parse(" GB ").unwrap().code(), "GB");
        for bad in ["UK", "XX", "DEU", "D", "1A", "ÄÖ"] {
            assert!(Country::parse(bad).is_err(), "{bad} accepted");
        }
        assert_eq!(ISO_3166_ALPHA2.split(' ').count(), 249);
    }

    #[test]
    fn billing_details_validate_and_blank_means_absent() {
        let details = BillingDetails::new(BillingDraft {
            company: Some("  ACME GmbH ".into()),
            city: Some("   ".into()),
            country: Some("at".into()),
            ..BillingDraft::default()
        })
        .unwrap();
        assert_eq!(details.company(), Some("ACME GmbH"));
        assert_eq!(details.city(), None);
        assert_eq!(details.country().map(Country::code), Some("AT"));
        let err = BillingDetails::new(BillingDraft {
            postcode: Some("1".repeat(21)),
            ..BillingDraft::default()
        })
        .unwrap_err();
        assert_eq!(err.field, "postcode");
        let err = BillingDetails::new(BillingDraft {
            country: Some("Germany".into()),
            ..BillingDraft::default()
        })
        .unwrap_err();
        assert_eq!(err.field, "country");
    }

    #[test]
    fn names_are_required_and_bounded() {
        let billing = BillingDraft::default;
        assert_eq!(
            UserSpec::new("a@example.com", " ", Role::User, billing())
                .unwrap_err()
                .field,
            "name"
        );
        assert!(UserSpec::new("a@example.com", &"n".repeat(100), Role::User, billing()).is_ok());
        assert!(UserSpec::new("a@example.com", &"n".repeat(101), Role::User, billing()).is_err());
        assert!(UserSpec::new("a@example.com", "Tab\tName", Role::User, billing()).is_err());
    }

    #[test]
    fn patch_keeps_sets_and_clears() {
        let mut draft = BillingDraft {
            company: Some("Old".into()),
            city: Some("Graz".into()),
            ..BillingDraft::default()
        };
        BillingPatch {
            company: Some(Some("New".into())),
            city: Some(None),
            ..BillingPatch::default()
        }
        .apply_to(&mut draft);
        assert_eq!(draft.company.as_deref(), Some("New"));
        assert_eq!(draft.city, None);
    }
}
