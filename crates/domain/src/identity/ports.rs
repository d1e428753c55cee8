//! Identity's ports: resolving credentials, storing users, sessions and API tokens, and
//! reading organisation roles for authorisation.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::audit::entry::AuditEntry;
use crate::identity::api_token::ApiToken;
use crate::identity::caller::{Caller, Credential, OrgRole};
use crate::identity::password::PasswordHash;
use crate::identity::user::{Email, User, UserSpec};
use crate::shared::ids::{OrgId, TokenId, UserId};
use crate::shared::pagination::{Page, PageRequest};
use crate::shared::repo::RepoError;

/// Resolves presented credentials to callers.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait CallerResolver: Send + Sync {
    /// The caller a session id or API token belongs to, or `None` when it is unknown,
    /// expired or revoked (callers cannot tell which). May record the token's last use.
    /// Errors: `Unavailable`, `Internal`.
    async fn resolve(
        &self,
        credential: &Credential,
        now: DateTime<Utc>,
    ) -> Result<Option<Caller>, RepoError>;
}

/// Organisation memberships, for authorisation decisions.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait MembershipRepository: Send + Sync {
    /// The user's role in the organisation, `None` when not a member (or no such org).
    /// Errors: `Unavailable`, `Internal`.
    async fn role_in(&self, org: OrgId, user: UserId) -> Result<Option<OrgRole>, RepoError>;

    /// Organisations where the user is admin or owner. Errors: `Unavailable`, `Internal`.
    async fn managed_orgs(&self, user: UserId) -> Result<Vec<OrgId>, RepoError>;
}

/// User accounts. Emails are stored lower-cased; the database holds their uniqueness.
/// `audit`, when given, is stored in the write's transaction with the user's state
/// before and after (never a password hash; `passwordChanged` says a password was set).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait UserRepository: Send + Sync {
    /// Stores a new user. Errors: `Conflict(EmailTaken)`, `Unavailable`, `Internal`.
    async fn create(
        &self,
        spec: UserSpec,
        password: Option<PasswordHash>,
        now: DateTime<Utc>,
        audit: Option<AuditEntry>,
    ) -> Result<User, RepoError>;

    /// One user. Errors: `NotFound`, `Unavailable`, `Internal`.
    async fn get(&self, id: UserId) -> Result<User, RepoError>;

    /// The user with this email, if any. Errors: `Unavailable`, `Internal`.
    async fn find_by_email(&self, email: &Email) -> Result<Option<User>, RepoError>;

    /// The user with this email and their password hash (`None` when the account has
    /// no password), for logging in. Errors: `Unavailable`, `Internal`.
    async fn find_login(
        &self,
        email: &Email,
    ) -> Result<Option<(User, Option<PasswordHash>)>, RepoError>;

    /// One page of users by id ascending, optionally only those whose email contains
    /// `email_contains` (lower case), with the true total of matches.
    /// Errors: `Unavailable`, `Internal`.
    async fn list(
        &self,
        email_contains: Option<String>,
        request: PageRequest,
    ) -> Result<Page<User>, RepoError>;

    /// A user the control panel knows under `id` (panel sign-in): created with that id
    /// and `spec` (no password) when absent; when present and `refresh_email` is set, its
    /// email becomes `spec`'s (nothing else changes). Errors: `Conflict(EmailTaken)` (the
    /// email belongs to another user, or a concurrent first sight of the same id won),
    /// `Unavailable`, `Internal`.
    async fn ensure_with_id(
        &self,
        id: UserId,
        spec: UserSpec,
        refresh_email: bool,
        now: DateTime<Utc>,
    ) -> Result<User, RepoError>;

    /// Replaces a user's spec; with `password`, also sets the password and ends all the
    /// user's sessions in the same transaction. Errors: `NotFound`,
    /// `Conflict(EmailTaken)`, `Unavailable`, `Internal`.
    async fn update(
        &self,
        id: UserId,
        spec: UserSpec,
        password: Option<PasswordHash>,
        now: DateTime<Utc>,
        audit: Option<AuditEntry>,
    ) -> Result<User, RepoError>;
}

/// Login sessions, stored by the SHA-256 of their id (see `account::hash_secret`).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait SessionRepository: Send + Sync {
    /// Stores a session; in the same transaction drops the user's expired sessions.
    /// Errors: `Conflict(AlreadyExists)` (hash collision), `Unavailable`, `Internal`.
    async fn create(
        &self,
        user: UserId,
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
    /// Stores a token for `owner`. Errors: `NotFound` (no such user),
    /// `Conflict(AlreadyExists)` (hash collision), `Unavailable`, `Internal`.
    async fn create(
        &self,
        owner: UserId,
        name: String,
        token_hash: String,
        now: DateTime<Utc>,
    ) -> Result<ApiToken, RepoError>;

    /// The owner's tokens that are not revoked, oldest first. Errors: `Unavailable`, `Internal`.
    async fn list_active(&self, owner: UserId) -> Result<Vec<ApiToken>, RepoError>;

    /// Revokes one of the owner's active tokens. Errors: `NotFound` (no such token,
    /// someone else's, or already revoked), `Unavailable`, `Internal`.
    async fn revoke(&self, owner: UserId, id: TokenId, now: DateTime<Utc>)
        -> Result<(), RepoError>;
}
