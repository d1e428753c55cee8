//! Billing details: who an invoice is addressed to (company, postal address, tax id),
//! validated, with the draft and patch forms requests arrive in.

use crate::shared::address::{Country, PostalAddress};
use crate::shared::text::{optional_text, AccountValidationError};

/// Unvalidated billing details, as they come from a request body.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BillingDraft {
    /// Company.
    pub company: Option<String>,
    /// Address line1.
    pub address_line1: Option<String>,
    /// Address line2.
    pub address_line2: Option<String>,
    /// City.
    pub city: Option<String>,
    /// Postcode.
    pub postcode: Option<String>,
    /// Country.
    pub country: Option<String>,
    /// Tax id.
    pub tax_id: Option<String>,
}

/// A partial change to billing details: `None` keeps a field, `Some(None)` clears it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BillingPatch {
    /// Company.
    pub company: Option<Option<String>>,
    /// Address line1.
    pub address_line1: Option<Option<String>>,
    /// Address line2.
    pub address_line2: Option<Option<String>>,
    /// City.
    pub city: Option<Option<String>>,
    /// Postcode.
    pub postcode: Option<Option<String>>,
    /// Country.
    pub country: Option<Option<String>>,
    /// Tax id.
    pub tax_id: Option<Option<String>>,
}

impl BillingPatch {
    /// Apply to.
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
    address: PostalAddress,
    tax_id: Option<String>,
}

impl BillingDetails {
    /// Creates it from its parts.
    pub fn new(draft: BillingDraft) -> Result<BillingDetails, AccountValidationError> {
        let country = Country::parse_optional(draft.country)?;
        Ok(BillingDetails {
            company: optional_text("company", draft.company, 200)?,
            address: PostalAddress::new(
                draft.address_line1,
                draft.address_line2,
                draft.city,
                draft.postcode,
                country,
            )?,
            tax_id: optional_text("taxId", draft.tax_id, 50)?,
        })
    }

    /// As draft.
    pub fn to_draft(&self) -> BillingDraft {
        BillingDraft {
            company: self.company.clone(),
            address_line1: self.address.line1().map(str::to_owned),
            address_line2: self.address.line2().map(str::to_owned),
            city: self.address.city().map(str::to_owned),
            postcode: self.address.postcode().map(str::to_owned),
            country: self.address.country_code().map(str::to_owned),
            tax_id: self.tax_id.clone(),
        }
    }

    /// The company.
    pub fn company(&self) -> Option<&str> {
        self.company.as_deref()
    }
    /// The postal address.
    pub fn address(&self) -> &PostalAddress {
        &self.address
    }
    /// The tax id.
    pub fn tax_id(&self) -> Option<&str> {
        self.tax_id.as_deref()
    }
}
