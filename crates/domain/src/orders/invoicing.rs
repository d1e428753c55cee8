//! Invoices for orders: what the PDF shows, built from the order and its frozen
//! snapshot, rendered through the [`InvoiceRenderer`](crate::invoice::InvoiceRenderer)
//! port. A numbered invoice is rendered once and then served from storage
//! ([`DocumentIssuer`]); an order that was never active has no number yet and prints,
//! on every request, as a PROFORMA with the buyer's current details.

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};

use super::error::OrderError;
use super::model::Order;
use super::parties::{BuyerDetails, SellerDetails};
use super::ports::BillingDirectory;
use super::service::{BillingPolicy, OrderService};
use crate::documents::{DocumentIssuer, IssueError, StoredDocument};
use crate::identity::caller::Caller;
use crate::orders::document::{
    AppliedCredit, InvoiceDocument, InvoiceKind, InvoiceLine, Party, RenderError,
};
use crate::shared::clock::Clock;
use crate::shared::ids::AccountRef;
use crate::shared::ids::OrderId;
use crate::shared::money::Money;
use crate::shared::repo::{RepoError, StoreFailure};

/// Why an invoice could not be produced.
#[derive(Debug, thiserror::Error)]
pub enum InvoiceError {
    /// Order.
    #[error(transparent)]
    Order(#[from] OrderError),
    /// Invoice rendering failed.
    #[error("invoice rendering failed")]
    Render(#[source] RenderError),
    /// The stored invoice could not be read or written.
    #[error("stored invoice unavailable")]
    Store(#[source] StoreFailure),
}

impl From<IssueError> for InvoiceError {
    fn from(err: IssueError) -> Self {
        match err {
            IssueError::Render(err) => InvoiceError::Render(err),
            IssueError::Repo(err) => InvoiceError::Store(err.into()),
        }
    }
}

/// An invoice download: the stored bytes of a numbered invoice, or a proforma rendered
/// for this request.
#[derive(Clone, Debug)]
pub enum InvoicePdf {
    /// The stored PDF of a numbered invoice.
    Issued(Arc<StoredDocument>),
    /// A proforma rendered for this request.
    Proforma(Vec<u8>),
}

impl InvoicePdf {
    /// The PDF bytes.
    pub fn bytes(&self) -> &[u8] {
        match self {
            InvoicePdf::Issued(document) => document.content(),
            InvoicePdf::Proforma(bytes) => bytes,
        }
    }

    /// The entity tag of a stored invoice; a proforma has none (it changes with the
    /// buyer's details and the date).
    pub fn etag(&self) -> Option<String> {
        match self {
            InvoicePdf::Issued(document) => Some(document.etag()),
            InvoicePdf::Proforma(_) => None,
        }
    }

    /// The PDF bytes, owned.
    pub fn into_bytes(self) -> Vec<u8> {
        match self {
            InvoicePdf::Issued(document) => document.content().to_vec(),
            InvoicePdf::Proforma(bytes) => bytes,
        }
    }
}

/// Produces invoice PDFs under the order's access rule.
#[derive(Clone)]
pub struct InvoiceService {
    orders: OrderService,
    directory: Arc<dyn BillingDirectory>,
    documents: DocumentIssuer,
    clock: Arc<dyn Clock>,
    policy: Arc<BillingPolicy>,
}

impl InvoiceService {
    /// Builds the service on the ports it needs.
    pub fn new(
        orders: OrderService,
        directory: Arc<dyn BillingDirectory>,
        documents: DocumentIssuer,
        clock: Arc<dyn Clock>,
        policy: Arc<BillingPolicy>,
    ) -> InvoiceService {
        InvoiceService {
            orders,
            directory,
            documents,
            clock,
            policy,
        }
    }

    /// The PDF of an order the caller may see (same rule as reading the order: others
    /// get `OrderNotFound`).
    pub async fn pdf(&self, caller: Caller, id: OrderId) -> Result<InvoicePdf, InvoiceError> {
        // A stored invoice this instance holds: only the access rule to check (an
        // order's account never changes), no database read for the order.
        if let Some((account, stored)) = self.documents.cached_invoice(id) {
            return if self.orders.may_see_account(caller, account).await? {
                Ok(InvoicePdf::Issued(stored))
            } else {
                Err(OrderError::OrderNotFound(id).into())
            };
        }
        let order = self.orders.get(caller, id).await?;
        self.document(&order).await
    }

    /// The PDF of any order, for trusted operators (the command line).
    pub async fn pdf_for_operator(&self, id: OrderId) -> Result<InvoicePdf, InvoiceError> {
        let order = self.orders.get_for_operator(id).await?;
        self.document(&order).await
    }

    /// Stores the invoice of every numbered order that has none; returns how many.
    pub async fn backfill(&self) -> Result<u64, InvoiceError> {
        Ok(self.documents.backfill().await?)
    }

    async fn document(&self, order: &Order) -> Result<InvoicePdf, InvoiceError> {
        // A numbered invoice is the stored one (made now if a crash left it unmade).
        if let Some(stored) = self.documents.stored_invoice(order).await? {
            return Ok(InvoicePdf::Issued(stored));
        }
        let current_buyer = match order.invoice() {
            Some(_) => None,
            None => Some(
                match self.directory.billing_details(order.account()).await {
                    Ok(buyer) => buyer,
                    Err(RepoError::NotFound) => BuyerDetails {
                        name: account_label(order.account()),
                        ..BuyerDetails::default()
                    },
                    Err(other) => {
                        return Err(OrderError::from_repo(other, || {
                            OrderError::OrderNotFound(order.id())
                        })
                        .into())
                    }
                },
            ),
        };
        let now = self.clock.now();
        let document = invoice_document(order, current_buyer.as_ref(), now, &self.policy);
        self.documents
            .renderer()
            .render(&document)
            .await
            .map(InvoicePdf::Proforma)
            .map_err(InvoiceError::Render)
    }
}

fn account_label(account: AccountRef) -> String {
    match account {
        AccountRef::User(user) => format!("User #{user}"),
        AccountRef::Org(org) => format!("Organisation #{org}"),
    }
}

/// What the invoice of `order` shows. A numbered order uses its frozen snapshot
/// (seller, buyer, issue time), so it always gives the same document; otherwise it is a
/// proforma issued `now` with the current seller configuration and `current_buyer`.
/// Internal notes never appear.
pub fn invoice_document(
    order: &Order,
    current_buyer: Option<&BuyerDetails>,
    now: DateTime<Utc>,
    policy: &BillingPolicy,
) -> InvoiceDocument {
    let fallback_buyer = BuyerDetails {
        name: account_label(order.account()),
        ..BuyerDetails::default()
    };
    let (kind, issued_at, seller, buyer) = match order.invoice() {
        Some(issued) => (
            InvoiceKind::Invoice {
                number: issued.number.clone(),
            },
            issued.snapshot.frozen_at,
            &issued.snapshot.seller,
            &issued.snapshot.buyer,
        ),
        None => (
            InvoiceKind::Proforma,
            now,
            &policy.seller,
            current_buyer.unwrap_or(&fallback_buyer),
        ),
    };
    let issue_date = issued_at.date_naive();
    let service_period = match (order.activated_at(), order.expires_at()) {
        (Some(_), Some(_)) if order.current_period().is_some() => {
            // A renewal paid early covers its own period, one cycle before its end.
            order.current_period().map(|period| {
                let first = period.start().date_naive();
                let last = (period.end() - TimeDelta::days(1)).date_naive().max(first);
                (first, last)
            })
        }
        (Some(start), Some(end)) => {
            let first = start.date_naive();
            let last = (end - TimeDelta::days(1)).date_naive().max(first);
            Some((first, last))
        }
        _ => None,
    };
    let charges = order.charges();
    InvoiceDocument {
        kind,
        order_id: order.id(),
        status: order.status().as_str().to_owned(),
        issued_at,
        issue_date,
        due_date: issue_date + TimeDelta::days(i64::from(policy.due_days)),
        service_period,
        company_name: seller.company_name.clone(),
        seller: seller_party(seller),
        buyer: buyer_party(buyer),
        lines: charges
            .items()
            .iter()
            .map(|item| InvoiceLine {
                description: item.description().to_owned(),
                quantity: item.quantity(),
                unit_price: item.unit_price(),
                amount: item.amount(),
            })
            .collect(),
        subtotal: charges.subtotal(),
        tax_rate: charges.tax_rate(),
        tax: charges.tax(),
        total: charges.total(),
        account_credit: order
            .billing()
            .credit_applied
            .filter(|credit| !credit.is_zero())
            .map(|credit| AppliedCredit {
                amount: Money::from_minor(-credit.minor(), credit.currency()),
                amount_due: order.amount_due(),
            }),
        payment_reference: order.payment_reference().map(str::to_owned),
        footer: policy.footer.clone().filter(|f| !f.trim().is_empty()),
        logo_path: seller.logo_path.clone(),
    }
}

fn non_blank(text: Option<&str>) -> Option<String> {
    text.map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
}

/// The issued-from block: its name, then the configured address one line per line.
/// Lines are separated by line breaks (a literal `\n`, as environment variables often
/// carry it, counts too) or, in a one-line address, by ", ".
fn seller_party(seller: &SellerDetails) -> Party {
    let address = seller.issued_from_address.replace("\\n", "\n");
    let lines: Vec<&str> = if address.contains('\n') {
        address.lines().collect()
    } else {
        address.split(", ").collect()
    };
    Party {
        name: seller.issued_from_name.clone(),
        lines: lines
            .into_iter()
            .filter_map(|line| non_blank(Some(line)))
            .collect(),
    }
}

/// The bill-to block: the company (or the person), then the person under a company,
/// address, postcode and city, country, tax id and email.
fn buyer_party(buyer: &BuyerDetails) -> Party {
    let mut lines = Vec::new();
    let name = match non_blank(buyer.company.as_deref()) {
        Some(company) => {
            lines.extend(non_blank(Some(&buyer.name)));
            company
        }
        None => buyer.name.clone(),
    };
    let address = &buyer.address;
    lines.extend(non_blank(address.line1()));
    lines.extend(non_blank(address.line2()));
    let place = [address.postcode(), address.city()]
        .into_iter()
        .filter_map(non_blank)
        .collect::<Vec<_>>()
        .join(" ");
    lines.extend(non_blank(Some(&place)));
    lines.extend(non_blank(address.country_code()));
    if let Some(tax_id) = non_blank(buyer.tax_id.as_deref()) {
        lines.push(format!("Tax ID: {tax_id}"));
    }
    lines.extend(non_blank(buyer.email.as_deref()));
    Party { name, lines }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::plan::{Plan, PlanDraft, PlanSpec};
    use crate::orders::model::{NewOrder, OrderRecord, OrderStatus};
    use crate::orders::parties::{InvoiceSnapshot, IssuedInvoice};
    use crate::shared::address::{Country, PostalAddress};
    use crate::shared::ids::{PlanId, UserId};
    use crate::shared::money::TaxRate;
    use chrono::{NaiveDate, TimeZone};

    fn order(active: bool) -> Order {
        let created = Utc.with_ymd_and_hms(2026, 11, 21, 10, 0, 0).unwrap();
        let spec = PlanSpec::new(PlanDraft {
            name: "Pro".into(),
            price: "9.99".into(),
            ..PlanDraft::default()
        })
        .unwrap();
        let plan = Plan::new(PlanId::new(3).unwrap(), spec, created);
        let user = UserId::new(55).unwrap();
        let new = NewOrder::for_plan(
            &plan,
            AccountRef::User(user),
            None,
            TaxRate::parse_percent("19").unwrap(),
            created,
        )
        .unwrap()
        .with_notes(Some("internal: comped by Bob".into()));
        let snapshot = InvoiceSnapshot {
            seller: SellerDetails {
                company_name: "Frozen Co".into(),
                issued_from_name: "Frozen Billing".into(),
                issued_from_address: "1 Old Way\\nOldtown".into(),
                logo_path: Some("/old.png".into()),
            },
            buyer: BuyerDetails {
                name: "Zoë Müller".into(),
                company: Some("Acme".into()),
                address: PostalAddress::new(
                    Some("1 Market St".into()),
                    None,
                    Some("Springfield".into()),
                    Some("62701".into()),
                    Some(Country::parse("US").unwrap()),
                )
                .unwrap(),
                tax_id: Some("US-1".into()),
                ..BuyerDetails::default()
            },
            frozen_at: created,
        };
        Order::restore(OrderRecord {
            id: OrderId::new(101).unwrap(),
            account: new.account(),
            placed_by: new.placed_by(),
            plan_id: new.plan_id(),
            status: if active {
                OrderStatus::Active
            } else {
                OrderStatus::Pending
            },
            description: new.description().to_owned(),
            charges: new.charges().clone(),
            notes: new.notes().map(str::to_owned),
            payment_reference: active.then(|| "TARIFF-101".to_owned()),
            renewal_of: None,
            created_at: created,
            activated_at: active.then_some(created),
            expires_at: active.then(|| Utc.with_ymd_and_hms(2026, 12, 21, 10, 0, 0).unwrap()),
            cancelled_at: None,
            invoice: active.then(|| IssuedInvoice {
                number: "INV-2026-000001".into(),
                year: 2026,
                seq: 1,
                snapshot,
            }),
            billing: Default::default(),
        })
        .unwrap()
    }

    fn policy() -> BillingPolicy {
        BillingPolicy {
            seller: SellerDetails {
                company_name: "Current Co".into(),
                issued_from_name: "Current Billing".into(),
                issued_from_address: "2 New Road, Newtown".into(),
                logo_path: None,
            },
            footer: Some("Thanks".into()),
            ..BillingPolicy::default()
        }
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn a_numbered_invoice_prints_its_frozen_snapshot() {
        let later = Utc.with_ymd_and_hms(2027, 3, 3, 9, 0, 0).unwrap();
        let doc = invoice_document(&order(true), None, later, &policy());
        assert_eq!(
            doc.issued_at,
            Utc.with_ymd_and_hms(2026, 11, 21, 10, 0, 0).unwrap()
        );
        assert_eq!(
            doc.kind,
            InvoiceKind::Invoice {
                number: "INV-2026-000001".into()
            }
        );
        assert_eq!(doc.issue_date, date(2026, 11, 21));
        assert_eq!(doc.due_date, date(2026, 12, 5));
        assert_eq!(
            doc.service_period,
            Some((date(2026, 11, 21), date(2026, 12, 20)))
        );
        assert_eq!(doc.company_name, "Frozen Co");
        assert_eq!(doc.seller.name, "Frozen Billing");
        assert_eq!(doc.seller.lines, vec!["1 Old Way", "Oldtown"]);
        assert_eq!(doc.buyer.name, "Acme");
        assert_eq!(
            doc.buyer.lines,
            vec![
                "Zoë Müller",
                "1 Market St",
                "62701 Springfield",
                "US",
                "Tax ID: US-1"
            ]
        );
        assert_eq!(doc.logo_path.as_deref(), Some("/old.png"));
        assert_eq!(
            (doc.subtotal.minor(), doc.tax.minor(), doc.total.minor()),
            (999, 190, 1189)
        );
        assert_eq!(doc.lines.len(), 1);
        assert_eq!(doc.payment_reference.as_deref(), Some("TARIFF-101"));
        assert_eq!(doc.footer.as_deref(), Some("Thanks"));
        assert_eq!(doc.status, "active");
        assert!(
            !format!("{doc:?}").contains("comped"),
            "internal notes leaked"
        );
    }

    #[test]
    fn a_pending_order_is_a_proforma_with_current_details() {
        let buyer = BuyerDetails {
            name: "Now Name".into(),
            email: Some("now@example.com".into()),
            ..BuyerDetails::default()
        };
        let now = Utc.with_ymd_and_hms(2026, 11, 22, 8, 30, 0).unwrap();
        let doc = invoice_document(&order(false), Some(&buyer), now, &policy());
        assert_eq!(doc.issued_at, now);
        assert_eq!(doc.kind, InvoiceKind::Proforma);
        assert_eq!(doc.issue_date, date(2026, 11, 22));
        assert_eq!(doc.service_period, None);
        assert_eq!(doc.company_name, "Current Co");
        assert_eq!(doc.seller.lines, vec!["2 New Road", "Newtown"]);
        assert_eq!(doc.buyer.name, "Now Name");
        assert_eq!(doc.buyer.lines, vec!["now@example.com"]);
        assert_eq!(doc.status, "pending");
        assert!(
            !format!("{doc:?}").contains("comped"),
            "internal notes leaked"
        );
    }
}
