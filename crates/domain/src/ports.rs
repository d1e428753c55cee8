//! Port traits: what the domain needs from the outside world. Adapters implement them;
//! services depend only on these traits. Each method's doc states its error contract.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::audit::AuditEntry;
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

/// The plan catalogue's storage. Write methods take an optional [`AuditEntry`]: when
/// given, it is stored in the same transaction as the write, with the plan's state
/// before and after filled in (one row per plan for an import).
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
    async fn create(&self, spec: PlanSpec, audit: Option<AuditEntry>) -> Result<Plan, RepoError>;

    /// Replaces a plan's spec (same default rule as `create`).
    /// Errors: `NotFound`, `Conflict` (name taken), `Unavailable`, `Internal`.
    async fn update(
        &self,
        id: PlanId,
        spec: PlanSpec,
        audit: Option<AuditEntry>,
    ) -> Result<Plan, RepoError>;

    /// Deletes a plan. Errors: `NotFound`, `Conflict` (orders reference it),
    /// `Unavailable`, `Internal`.
    async fn delete(&self, id: PlanId, audit: Option<AuditEntry>) -> Result<(), RepoError>;

    /// Inserts or updates each spec by name, all in one transaction: either every
    /// spec is stored or none is. Errors: `Conflict`, `Unavailable`, `Internal`.
    async fn upsert_by_name(
        &self,
        specs: Vec<PlanSpec>,
        audit: Option<AuditEntry>,
    ) -> Result<ImportOutcome, RepoError>;

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

// ---- Accounts and access -------------------------------------------------------------

/// User accounts. Emails are stored lower-cased; the database holds their uniqueness.
/// `audit`, when given, is stored in the write's transaction with the user's state
/// before and after (never a password hash; `passwordChanged` says a password was set).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait UserRepository: Send + Sync {
    /// Stores a new user. Errors: `Conflict` (email taken), `Unavailable`, `Internal`.
    async fn create(
        &self,
        spec: crate::user::UserSpec,
        password: Option<crate::password::PasswordHash>,
        now: DateTime<Utc>,
        audit: Option<AuditEntry>,
    ) -> Result<crate::user::User, RepoError>;

    /// One user. Errors: `NotFound`, `Unavailable`, `Internal`.
    async fn get(&self, id: crate::ids::UserId) -> Result<crate::user::User, RepoError>;

    /// The user with this email, if any. Errors: `Unavailable`, `Internal`.
    async fn find_by_email(
        &self,
        email: &crate::user::Email,
    ) -> Result<Option<crate::user::User>, RepoError>;

    /// The user with this email and their password hash (`None` when the account has
    /// no password), for logging in. Errors: `Unavailable`, `Internal`.
    async fn find_login(
        &self,
        email: &crate::user::Email,
    ) -> Result<Option<(crate::user::User, Option<crate::password::PasswordHash>)>, RepoError>;

    /// One page of users by id ascending, optionally only those whose email contains
    /// `email_contains` (lower case), with the true total of matches.
    /// Errors: `Unavailable`, `Internal`.
    async fn list(
        &self,
        email_contains: Option<String>,
        request: PageRequest,
    ) -> Result<Page<crate::user::User>, RepoError>;

    /// Replaces a user's spec; with `password`, also sets the password and ends all the
    /// user's sessions in the same transaction. Errors: `NotFound`, `Conflict` (email
    /// taken), `Unavailable`, `Internal`.
    async fn update(
        &self,
        id: crate::ids::UserId,
        spec: crate::user::UserSpec,
        password: Option<crate::password::PasswordHash>,
        now: DateTime<Utc>,
        audit: Option<AuditEntry>,
    ) -> Result<crate::user::User, RepoError>;
}

/// Login sessions, stored by the SHA-256 of their id (see `account::hash_secret`).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait SessionRepository: Send + Sync {
    /// Stores a session; in the same transaction drops the user's expired sessions.
    /// Errors: `Conflict` (hash collision), `Unavailable`, `Internal`.
    async fn create(
        &self,
        user: crate::ids::UserId,
        token_hash: String,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<(), RepoError>;

    /// Deletes the session with this hash; false when there was none.
    /// Errors: `Unavailable`, `Internal`.
    async fn delete(&self, token_hash: String) -> Result<bool, RepoError>;
}

/// API tokens, stored by the SHA-256 of the secret.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait TokenRepository: Send + Sync {
    /// Stores a token for `owner`. Errors: `NotFound` (no such user), `Conflict` (hash
    /// collision), `Unavailable`, `Internal`.
    async fn create(
        &self,
        owner: crate::ids::UserId,
        name: String,
        token_hash: String,
        now: DateTime<Utc>,
    ) -> Result<crate::tokens::ApiToken, RepoError>;

    /// The owner's tokens that are not revoked, oldest first. Errors: `Unavailable`, `Internal`.
    async fn list_active(
        &self,
        owner: crate::ids::UserId,
    ) -> Result<Vec<crate::tokens::ApiToken>, RepoError>;

    /// Revokes one of the owner's active tokens. Errors: `NotFound` (no such token,
    /// someone else's, or already revoked), `Unavailable`, `Internal`.
    async fn revoke(
        &self,
        owner: crate::ids::UserId,
        id: crate::ids::TokenId,
        now: DateTime<Utc>,
    ) -> Result<(), RepoError>;
}

/// Organisations and their members. Membership writes lock the organisation row, so
/// concurrent changes to one organisation apply one after the other.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait OrganisationRepository: Send + Sync {
    /// Stores an organisation with `owner` as its first owner, in one transaction.
    /// Errors: `NotFound` (no such user), `Unavailable`, `Internal`.
    async fn create(
        &self,
        spec: crate::organisations::OrganisationSpec,
        owner: crate::ids::UserId,
        now: DateTime<Utc>,
    ) -> Result<crate::organisations::Organisation, RepoError>;

    /// One organisation. Errors: `NotFound`, `Unavailable`, `Internal`.
    async fn get(
        &self,
        id: crate::ids::OrgId,
    ) -> Result<crate::organisations::Organisation, RepoError>;

    /// Its members, by join time. Errors: `Unavailable`, `Internal`.
    async fn members(
        &self,
        id: crate::ids::OrgId,
    ) -> Result<Vec<crate::organisations::Member>, RepoError>;

    /// Adds `user` with `role`, or changes their role. `expected` is the role the caller
    /// based its decision on (`None`: not a member); if it changed meanwhile nothing is
    /// written. Errors: `NotFound` (no such organisation), `Conflict` (role changed
    /// meanwhile, or the organisation would be left without an owner), `Unavailable`,
    /// `Internal`.
    async fn set_member_role(
        &self,
        org: crate::ids::OrgId,
        user: crate::ids::UserId,
        role: crate::account::OrgRole,
        expected: Option<crate::account::OrgRole>,
        now: DateTime<Utc>,
    ) -> Result<crate::organisations::Member, RepoError>;

    /// Removes `user`, whose role the caller saw as `expected`. Errors: `NotFound` (not
    /// a member), `Conflict` (role changed meanwhile, or the last owner), `Unavailable`,
    /// `Internal`.
    async fn remove_member(
        &self,
        org: crate::ids::OrgId,
        user: crate::ids::UserId,
        expected: crate::account::OrgRole,
    ) -> Result<(), RepoError>;
}
