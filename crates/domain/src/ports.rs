//! Port traits: what the domain needs from the outside world. Adapters implement them;
//! services depend only on these traits. Each method's doc states its error contract.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::ids::PlanId;
use crate::pagination::{Page, PageRequest};
use crate::plan::{Plan, PlanSpec};

/// The boxed cause an adapter attaches to an infrastructure failure.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// How a repository call can fail. Adapters map their own errors into these variants
/// in one place; services turn them into their use-case errors.
#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    /// The row the call addressed does not exist.
    #[error("not found")]
    NotFound,
    /// A uniqueness or reference constraint refused the write; the text names it.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The database could not be reached (pool timeout, connection refused).
    #[error("database unavailable")]
    Unavailable(#[source] BoxError),
    /// Anything else: a bug or corrupt data. Logged, never shown to clients.
    #[error("repository failure")]
    Internal(#[source] BoxError),
}

impl RepoError {
    pub fn internal(message: impl Into<String>) -> RepoError {
        RepoError::Internal(message.into().into())
    }
}

/// What an all-or-nothing import did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ImportOutcome {
    pub created: usize,
    pub updated: usize,
}

/// The plan catalogue's storage.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait PlanRepository: Send + Sync {
    /// All plans (hidden ones only when `include_hidden`), price ascending then id.
    /// Errors: `Unavailable`, `Internal`.
    async fn list(&self, include_hidden: bool) -> Result<Vec<Plan>, RepoError>;

    /// One page of plans in id order (hidden ones only when `include_hidden`), with
    /// the total of all such plans; counted and paged in the store, from one snapshot.
    /// A page past the last has no items and the true total.
    /// Errors: `Unavailable`, `Internal`.
    async fn page_by_id(
        &self,
        include_hidden: bool,
        request: PageRequest,
    ) -> Result<Page<Plan>, RepoError>;

    /// One plan. Errors: `NotFound`, `Unavailable`, `Internal`.
    async fn get(&self, id: PlanId) -> Result<Plan, RepoError>;

    /// The default plan, if one is marked. Errors: `Unavailable`, `Internal`.
    async fn default_plan(&self) -> Result<Option<Plan>, RepoError>;

    /// Stores a new plan. A default spec takes the default flag from any other plan in
    /// the same transaction. Errors: `Conflict` (name taken), `Unavailable`, `Internal`.
    async fn create(&self, spec: PlanSpec) -> Result<Plan, RepoError>;

    /// Replaces a plan's spec (same default rule as `create`).
    /// Errors: `NotFound`, `Conflict` (name taken), `Unavailable`, `Internal`.
    async fn update(&self, id: PlanId, spec: PlanSpec) -> Result<Plan, RepoError>;

    /// Deletes a plan. Errors: `NotFound`, `Conflict` (orders reference it),
    /// `Unavailable`, `Internal`.
    async fn delete(&self, id: PlanId) -> Result<(), RepoError>;

    /// Inserts or updates each spec by name, all in one transaction: either every
    /// spec is stored or none is. Errors: `Conflict`, `Unavailable`, `Internal`.
    async fn upsert_by_name(&self, specs: Vec<PlanSpec>) -> Result<ImportOutcome, RepoError>;

    /// Creates `spec` only if there is no plan at all; true when it did.
    /// Errors: `Unavailable`, `Internal`.
    async fn create_if_catalogue_empty(&self, spec: PlanSpec) -> Result<bool, RepoError>;

    /// A number that changes whenever any plan changes, on any instance sharing the
    /// database; caches compare it to know when to rebuild. Errors: `Unavailable`, `Internal`.
    async fn catalogue_version(&self) -> Result<i64, RepoError>;
}

/// The time source. Production uses the system clock; tests move a fake one.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// The real clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// Whether the database answers, for readiness checks.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait HealthProbe: Send + Sync {
    /// One round trip. Errors: `Unavailable` when the database does not answer in time.
    async fn ping(&self) -> Result<(), RepoError>;
}

/// Resolves presented credentials to callers.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait CallerResolver: Send + Sync {
    /// The caller a session id or API token belongs to, or `None` when it is unknown,
    /// expired or revoked (callers cannot tell which). May record the token's last use.
    /// Errors: `Unavailable`, `Internal`.
    async fn resolve(
        &self,
        credential: &crate::account::Credential,
        now: DateTime<Utc>,
    ) -> Result<Option<crate::account::Caller>, RepoError>;
}

/// Organisation memberships, for authorisation decisions.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait MembershipRepository: Send + Sync {
    /// The user's role in the organisation, `None` when not a member (or no such org).
    /// Errors: `Unavailable`, `Internal`.
    async fn role_in(
        &self,
        org: crate::ids::OrgId,
        user: crate::ids::UserId,
    ) -> Result<Option<crate::account::OrgRole>, RepoError>;

    /// Organisations where the user is admin or owner. Errors: `Unavailable`, `Internal`.
    async fn managed_orgs(
        &self,
        user: crate::ids::UserId,
    ) -> Result<Vec<crate::ids::OrgId>, RepoError>;
}
