//! Seller and buyer as invoices print them, and the invoice an order is issued with
//! them frozen.

use chrono::{DateTime, Utc};

use crate::shared::address::PostalAddress;

/// The seller as printed on invoices, from configuration (`[invoice]`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SellerDetails {
    /// Company name.
    pub company_name: String,
    /// Issued from name.
    pub issued_from_name: String,
    /// Issued from address.
    pub issued_from_address: String,
    /// Logo path.
    pub logo_path: Option<String>,
}

/// A buyer's billing details, from the user or organisation record.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BuyerDetails {
    /// Name.
    pub name: String,
    /// Email.
    pub email: Option<String>,
    /// Company.
    pub company: Option<String>,
    /// Address.
    pub address: PostalAddress,
    /// Tax id.
    pub tax_id: Option<String>,
}

/// Seller and buyer as they were when the invoice number was given: later changes of
/// address or branding never rewrite an issued invoice.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvoiceSnapshot {
    /// Seller.
    pub seller: SellerDetails,
    /// Buyer.
    pub buyer: BuyerDetails,
    /// When it was frozen.
    pub frozen_at: DateTime<Utc>,
}

/// The invoice an order received when it first became active.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssuedInvoice {
    /// Number.
    pub number: String,
    /// Year.
    pub year: i32,
    /// Seq.
    pub seq: i64,
    /// Snapshot.
    pub snapshot: InvoiceSnapshot,
}
