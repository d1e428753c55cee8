//! Orders: the aggregate and its state machine, tax rules, invoice numbering, the
//! invoice document and its renderer port, the ports they need, and the use cases
//! (ordering, administration, lifecycle, invoices).

pub mod charges;
// Billing's cycles, moved here from `billing`, which holds the docs lint off; held off
// here for this module only.
#[allow(missing_docs)]
pub mod cycle;
pub mod document;
pub mod error;
pub mod freshness;
pub mod invoicing;
pub mod lifecycle;
pub mod model;
pub mod note;
pub mod numbering;
pub mod parties;
pub mod periods;
pub mod ports;
pub mod service;
pub mod tax;
#[cfg(test)]
mod tests;

pub use charges::{Charges, OrderItem};
pub use cycle::{BillingCycle, OrderBilling, OrderCoupon, ScheduledChange};
pub use document::{
    AppliedCredit, InvoiceDocument, InvoiceKind, InvoiceLine, InvoiceRenderer, Party, RenderError,
};
pub use error::OrderError;
pub use freshness::{ChangeVersions, FreshnessSnapshot, ListStamp, OrderFreshness};
pub use invoicing::{invoice_document, InvoiceError, InvoicePdf, InvoiceService};
pub use lifecycle::{LifecycleError, LifecycleService, SweepReport, RENEWAL_CHUNK};
pub use model::{
    IllegalTransition, InvalidOrder, NewOrder, Order, OrderRecord, OrderStatus, UnknownStatus,
};
pub use note::{CustomerNote, CustomerNoteError, MAX_CUSTOMER_NOTE_CHARS};
pub use numbering::{InvalidNumberFormat, InvoiceNumberFormat, SeqSlot, DEFAULT_NUMBER_FORMAT};
pub use parties::{BuyerDetails, InvoiceSnapshot, IssuedInvoice, SellerDetails};
pub use periods::{lifetime_end, months_after, next_anniversary, one_month_after};
pub use ports::{
    Activation, BillingDirectory, LifecycleStore, OrderActivation, OrderFilter, OrderRepository,
    PastDueStore, RenewalDiscounts,
};
pub use service::{
    ApplyPlan, ApplyPlanOptions, BillingPolicy, CurrentPlan, OrderList, OrderPorts, OrderService,
    TaxOverride, MAX_NOTES_CHARS,
};
pub use tax::{is_eu_member, TaxRuleError, TaxRules, EU_MEMBER_STATES};

#[cfg(any(test, feature = "mocks"))]
pub use document::MockInvoiceRenderer;
#[cfg(any(test, feature = "mocks"))]
pub use freshness::MockChangeVersions;
#[cfg(any(test, feature = "mocks"))]
pub use ports::{
    MockBillingDirectory, MockLifecycleStore, MockOrderActivation, MockOrderRepository,
    MockPastDueStore,
};
