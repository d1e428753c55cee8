//! Tariff's domain: plans, limits, money, orders, invoices and accounts; the use-case
//! services; and the port traits the adapters implement. Nothing here knows about
//! HTTP, SQL or PDF.

pub mod account;
pub mod accounts;
pub mod audit;
pub mod auth_cache;
pub mod authentication;
pub mod catalogue;
pub mod clock;
pub mod ids;
pub mod invoice;
pub mod limits;
pub mod money;
pub mod orders;
pub mod organisations;
pub mod pagination;
pub mod password;
pub mod payments;
pub mod plan;
pub mod ports;
pub mod quota;
pub mod rate_limit;
pub mod settings;
pub mod tokens;
pub mod user;

pub use account::{Caller, Credential, OrgRole, Role};
pub use ids::{AccountRef, OrderId, OrgId, PlanId, TokenId, UserId};
pub use limits::{Limit, Limits, Permissions, Resource};
pub use money::{Currency, Money, MoneyError, TaxRate};
pub use pagination::{Page, PageRequest, PageRequestError};
pub use plan::{Plan, PlanDraft, PlanPatch, PlanSpec, PlanType, PlanValidationError};
pub use ports::{Clock, RepoError, SystemClock};
pub use user::{
    AccountValidationError, BillingDetails, BillingDraft, BillingPatch, Country, Email, User,
    UserSpec,
};
