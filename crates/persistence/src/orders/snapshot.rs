//! The frozen invoice snapshot as stored: JSON text in `orders.invoice_snapshot`, the
//! seller and buyer as the invoice will show them forever.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tariff_domain::orders::{Activation, BuyerDetails, InvoiceSnapshot, SellerDetails};
use tariff_domain::{AccountValidationError, Country, PostalAddress, RepoError};

use crate::errors::DbError;

/// The frozen invoice snapshot as stored (JSON text in `orders.invoice_snapshot`).
#[derive(Serialize, Deserialize, Debug)]
#[serde(rename_all = "camelCase")]
pub(super) struct SnapshotJson {
    version: u32,
    frozen_at: DateTime<Utc>,
    seller: SellerJson,
    buyer: BuyerJson,
}

#[derive(Serialize, Deserialize, Debug)]
#[serde(rename_all = "camelCase")]
struct SellerJson {
    company_name: String,
    issued_from_name: String,
    issued_from_address: String,
    logo_path: Option<String>,
}

#[derive(Serialize, Deserialize, Debug)]
#[serde(rename_all = "camelCase")]
struct BuyerJson {
    name: String,
    email: Option<String>,
    company: Option<String>,
    address_line1: Option<String>,
    address_line2: Option<String>,
    city: Option<String>,
    postcode: Option<String>,
    country: Option<String>,
    tax_id: Option<String>,
}

impl SnapshotJson {
    fn freeze(seller: &SellerDetails, buyer: BuyerDetails, at: DateTime<Utc>) -> SnapshotJson {
        SnapshotJson {
            version: 1,
            frozen_at: at,
            seller: SellerJson {
                company_name: seller.company_name.clone(),
                issued_from_name: seller.issued_from_name.clone(),
                issued_from_address: seller.issued_from_address.clone(),
                logo_path: seller.logo_path.clone(),
            },
            buyer: BuyerJson {
                name: buyer.name,
                email: buyer.email,
                company: buyer.company,
                address_line1: buyer.address.line1().map(str::to_owned),
                address_line2: buyer.address.line2().map(str::to_owned),
                city: buyer.address.city().map(str::to_owned),
                postcode: buyer.address.postcode().map(str::to_owned),
                country: buyer.address.country_code().map(str::to_owned),
                tax_id: buyer.tax_id,
            },
        }
    }

    pub(super) fn into_domain(self) -> Result<InvoiceSnapshot, AccountValidationError> {
        Ok(InvoiceSnapshot {
            seller: SellerDetails {
                company_name: self.seller.company_name,
                issued_from_name: self.seller.issued_from_name,
                issued_from_address: self.seller.issued_from_address,
                logo_path: self.seller.logo_path,
            },
            buyer: BuyerDetails {
                name: self.buyer.name,
                email: self.buyer.email,
                company: self.buyer.company,
                address: postal_address(
                    self.buyer.address_line1,
                    self.buyer.address_line2,
                    self.buyer.city,
                    self.buyer.postcode,
                    self.buyer.country,
                )?,
                tax_id: self.buyer.tax_id,
            },
            frozen_at: self.frozen_at,
        })
    }
}

/// A stored address, validated again on the way out.
pub(super) fn postal_address(
    line1: Option<String>,
    line2: Option<String>,
    city: Option<String>,
    postcode: Option<String>,
    country: Option<String>,
) -> Result<PostalAddress, AccountValidationError> {
    PostalAddress::new(
        line1,
        line2,
        city,
        postcode,
        Country::parse_optional(country)?,
    )
}

/// The buyer and seller as the invoice will show them forever, as stored JSON.
pub(super) fn frozen_snapshot(
    buyer: BuyerDetails,
    activation: &Activation,
) -> Result<String, DbError> {
    let snapshot = SnapshotJson::freeze(&activation.seller, buyer, activation.activated_at);
    serde_json::to_string(&snapshot).map_err(|e| DbError::Repo(RepoError::Internal(Box::new(e))))
}
