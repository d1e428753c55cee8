//! Users: the validated email and the user record. A user's password hash is
//! deliberately not part of [`User`], so no code path that shows a user can show the hash.

use std::fmt;

use chrono::{DateTime, Utc};

use crate::audit::snapshot::UserSnapshot;
use crate::identity::caller::Role;
use crate::shared::billing::{BillingDetails, BillingDraft};
use crate::shared::ids::UserId;
use crate::shared::text::{required_name, AccountValidationError};

const MAX_EMAIL_CHARS: usize = 254;
const MAX_LOCAL_PART_CHARS: usize = 64;

/// An email address, trimmed and lower-cased: two spellings of one address are one
/// account. Checked for shape (one `@`, a dotted domain, no spaces), not deliverability.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    /// Parses and validates text.
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

    /// The text form.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
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

    /// The email.
    pub fn email(&self) -> &Email {
        &self.email
    }
    /// The name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// The role.
    pub fn role(&self) -> Role {
        self.role
    }
    /// The billing.
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
    /// Creates it from its parts.
    pub fn new(id: UserId, spec: UserSpec, created_at: DateTime<Utc>) -> User {
        User {
            id,
            spec,
            created_at,
        }
    }
    /// The id.
    pub fn id(&self) -> UserId {
        self.id
    }
    /// The spec.
    pub fn spec(&self) -> &UserSpec {
        &self.spec
    }
    /// When it was created.
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

impl User {
    /// The user as the audit log records it (never a password hash).
    pub fn audit_state(&self) -> UserSnapshot {
        let billing = self.billing();
        let address = billing.address();
        let own = |text: Option<&str>| text.map(str::to_owned);
        UserSnapshot {
            id: self.id().get(),
            email: self.email().as_str().to_owned(),
            name: self.name().to_owned(),
            role: self.role().as_str().to_owned(),
            company: own(billing.company()),
            address_line1: own(address.line1()),
            address_line2: own(address.line2()),
            city: own(address.city()),
            postcode: own(address.postcode()),
            country: own(address.country_code()),
            tax_id: own(billing.tax_id()),
            password_changed: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shared::address::Country;
    use crate::shared::billing::BillingPatch;

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
    fn billing_details_validate_and_blank_means_absent() {
        let details = BillingDetails::new(BillingDraft {
            company: Some("  ACME GmbH ".into()),
            city: Some("   ".into()),
            country: Some("at".into()),
            ..BillingDraft::default()
        })
        .unwrap();
        assert_eq!(details.company(), Some("ACME GmbH"));
        assert_eq!(details.address().city(), None);
        assert_eq!(details.address().country().map(Country::code), Some("AT"));
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
