//! The organisations' port: organisations and their members.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::identity::caller::OrgRole;
use crate::organisations::model::{Member, Organisation, OrganisationSpec};
use crate::shared::ids::{OrgId, UserId};
use crate::shared::repo::RepoError;

/// Organisations and their members. Membership writes lock the organisation row, so
/// concurrent changes to one organisation apply one after the other.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait OrganisationRepository: Send + Sync {
    /// Stores an organisation with `owner` as its first owner, in one transaction.
    /// Errors: `NotFound` (no such user), `Unavailable`, `Internal`.
    async fn create(
        &self,
        spec: OrganisationSpec,
        owner: UserId,
        now: DateTime<Utc>,
    ) -> Result<Organisation, RepoError>;

    /// One organisation. Errors: `NotFound`, `Unavailable`, `Internal`.
    async fn get(&self, id: OrgId) -> Result<Organisation, RepoError>;

    /// Its members, by join time. Errors: `Unavailable`, `Internal`.
    async fn members(&self, id: OrgId) -> Result<Vec<Member>, RepoError>;

    /// Adds `user` with `role`, or changes their role. `expected` is the role the caller
    /// based its decision on (`None`: not a member); if it changed meanwhile nothing is
    /// written. Errors: `NotFound` (no such organisation),
    /// `Conflict(ChangedMeanwhile)` (the role changed meanwhile), `Conflict(LastOwner)`
    /// (the organisation would be left without an owner), `Unavailable`, `Internal`.
    async fn set_member_role(
        &self,
        org: OrgId,
        user: UserId,
        role: OrgRole,
        expected: Option<OrgRole>,
        now: DateTime<Utc>,
    ) -> Result<Member, RepoError>;

    /// Removes `user`, whose role the caller saw as `expected`. Errors: `NotFound` (not
    /// a member), `Conflict(ChangedMeanwhile)`, `Conflict(LastOwner)`,
    /// `Unavailable`, `Internal`.
    async fn remove_member(
        &self,
        org: OrgId,
        user: UserId,
        expected: OrgRole,
    ) -> Result<(), RepoError>;
}
