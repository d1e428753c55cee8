//! What every concern uses: ids, money, pagination, the clock, text validation, billing
//! details and postal addresses, the repository error every port speaks, and the
//! readiness probe.

pub mod address;
pub mod billing;
pub mod clock;
pub mod error_chain;
pub mod health;
pub mod ids;
pub mod money;
pub mod pagination;
pub mod repo;
pub mod text;

pub use address::{Country, PostalAddress};
pub use billing::{BillingDetails, BillingDraft, BillingPatch};
pub use clock::{Clock, ManualClock, SystemClock};
pub use error_chain::error_chain;
pub use health::HealthProbe;
pub use ids::{AccountRef, OrderId, OrgId, PlanId, TokenId, UserId};
pub use money::{Currency, Money, MoneyError, TaxRate};
pub use pagination::{
    Page, PageRequest, PageRequestError, DEFAULT_PER_PAGE, MAX_PAGE, MAX_PER_PAGE,
};
pub use repo::{BoxError, ConflictKind, RepoError, StoreFailure};
pub use text::AccountValidationError;

#[cfg(any(test, feature = "mocks"))]
pub use clock::MockClock;
#[cfg(any(test, feature = "mocks"))]
pub use health::MockHealthProbe;
