//! Tariff's domain: plans, limits, money, orders, invoices and accounts; the use-case
//! services; and the port traits the adapters implement. Nothing here knows about
//! HTTP, SQL or PDF.

pub mod audit;
pub mod billing;
pub mod catalogue;
pub mod documents;
pub mod identity;
pub mod orders;
pub mod organisations;
pub mod payments;
pub mod quota;
pub mod settings;
pub mod shared;
pub mod webhooks;

pub use catalogue::{
    Limit, Limits, Permissions, Plan, PlanDraft, PlanPatch, PlanSpec, PlanType,
    PlanValidationError, Resource,
};
pub use identity::{Caller, Credential, Email, OrgRole, Role, UpstreamUnavailable, User, UserSpec};
pub use shared::{
    AccountRef, AccountValidationError, BillingDetails, BillingDraft, BillingPatch, Clock,
    ConflictKind, Country, Currency, Money, MoneyError, OrderId, OrgId, Page, PageRequest,
    PageRequestError, PlanId, PostalAddress, RepoError, StoreFailure, SystemClock, TaxRate,
    TokenId, UserId,
};
