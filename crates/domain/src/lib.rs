//! Tariff's domain: the model, the use cases and the port traits of a billing, plan and
//! quota service for hosting control panels. Nothing here knows about HTTP, SQL or
//! PDF; adapters implement the ports and a binary wires them together.
//!
//! # The folders
//!
//! Each concern is a module with its model, its port traits (each method documents
//! the [`RepoError`] variants and [`ConflictKind`]s it returns), its service (the use
//! cases) and its errors:
//!
//! | module | what it holds |
//! |---|---|
//! | [`catalogue`] | plans, limits and permissions; `PlanRepository`; `CatalogueService` |
//! | [`identity`] | callers and roles, users, passwords, sessions, API tokens, the credential cache, login rate limits; their ports; `AuthService`, `AccountService`, `TokenService` |
//! | [`organisations`] | organisations and members; `OrganisationRepository`; `OrganisationService` |
//! | [`quota`] | effective limits, the usage ledger's rules ([`quota::decide`]); `QuotaRepository`; `QuotaService` |
//! | [`orders`] | the order aggregate, tax, invoice numbering, the invoice document and `InvoiceRenderer`; the order ports; `OrderService`, `InvoiceService`, `LifecycleService` |
//! | [`audit`] | audit entries and their typed snapshots; `AuditRepository`; `AuditService` |
//! | [`settings`] | the billing switch; `SettingsRepository`; `SettingsService` |
//! | [`billing`] | billing cycles, plan-change decisions, proration, coupons, account credit and price composition (pure functions); `CouponRepository`, `CreditLedger`, `OrderPlacement` |
//! | [`credit_notes`] | refunds and credit notes: the sum rule, their own number series, `CreditNoteStore`, `OriginalPaymentRefunder`; `CreditNoteService` |
//! | [`payments`] | the `PaymentGateway` port, the requests sent through it, its outcomes and verified inbound events |
//! | [`webhooks`] | the outgoing event catalogue, endpoints and secrets, signatures, retries; `WebhookEndpoints`, `OutboxStore`, `WebhookTransport`; the delivery worker |
//! | [`shared`] | ids, [`Money`], pagination, the [`Clock`], text validation, billing details and [`PostalAddress`], [`RepoError`] |
//!
//! No module imports a module that imports it back; `shared` imports no other folder
//! and `audit` only `shared`.
//!
//! # Errors
//!
//! A port answers [`RepoError`]: `NotFound`, `Conflict(ConflictKind)` (why the store
//! refused a write, classified by the adapter), `Unavailable` or `Internal`. A service
//! answers its own error enum: the cases it has an answer for, worded, and one
//! `Store(StoreFailure)` variant for failures it has none for (503 when
//! [`StoreFailure::is_unavailable`], else 500, in the HTTP adapter).
//!
//! # Embedding
//!
//! A Rust service uses the domain by building the adapters it wants, handing them to
//! the services as `Arc<dyn Port>`, and calling the services. Any implementation of a
//! port will do; here, one written on the spot:
//!
//! ```
//! use std::sync::{Arc, Mutex};
//!
//! use async_trait::async_trait;
//! use tariff_domain::audit::{Actor, AuditEntry};
//! use tariff_domain::settings::{SettingsRepository, SettingsService};
//! use tariff_domain::RepoError;
//!
//! /// A port implemented in a few lines: the switch and its version, in memory.
//! #[derive(Default)]
//! struct Switches(Mutex<(bool, i64)>);
//!
//! #[async_trait]
//! impl SettingsRepository for Switches {
//!     async fn billing_enabled(&self) -> Result<bool, RepoError> {
//!         Ok(self.0.lock().unwrap().0)
//!     }
//!     async fn set_billing_enabled(
//!         &self,
//!         enabled: bool,
//!         _audit: Option<AuditEntry>,
//!     ) -> Result<i64, RepoError> {
//!         let mut state = self.0.lock().unwrap();
//!         *state = (enabled, state.1 + 1);
//!         Ok(state.1)
//!     }
//!     async fn settings_version(&self) -> Result<i64, RepoError> {
//!         Ok(self.0.lock().unwrap().1)
//!     }
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let settings = SettingsService::load(Arc::new(Switches::default())).await.unwrap();
//! assert!(!settings.billing_enabled_now());
//! settings.set_billing_enabled(true, Actor::Operator).await.unwrap();
//! assert!(settings.billing_enabled_now());
//! # });
//! ```
//!
//! The in-memory adapter in `crates/memory` implements the repository ports of every
//! module but `billing` and `webhooks` without a database, for tests and for embedding; `crates/persistence` implements them on
//! SQLite and PostgreSQL. Mocks of every port come with the `mocks` feature.

#![warn(missing_docs)]

pub mod audit;
// Not every item of this module is documented yet; the lint is held off here only.
#[allow(missing_docs)]
pub mod billing;
pub mod catalogue;
pub mod credit_notes;
pub mod documents;
pub mod identity;
pub mod orders;
pub mod organisations;
// Not every item of this module is documented yet; the lint is held off here only.
#[allow(missing_docs)]
pub mod payments;
pub mod quota;
pub mod settings;
pub mod shared;
// Not every item of this module is documented yet; the lint is held off here only.
#[allow(missing_docs)]
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
