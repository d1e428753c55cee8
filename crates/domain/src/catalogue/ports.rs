//! The catalogue's port: where plans are stored.

use async_trait::async_trait;

use crate::audit::entry::AuditEntry;
use crate::catalogue::plan::{Plan, PlanSpec};
use crate::shared::ids::PlanId;
use crate::shared::pagination::{Page, PageRequest};
use crate::shared::repo::RepoError;

/// What an all-or-nothing import did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ImportOutcome {
    /// Created.
    pub created: usize,
    /// Updated.
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
    /// the same transaction. Errors: `Conflict(NameTaken)`, `Conflict(RaceLost)` (another
    /// plan became the default at the same time), `Unavailable`, `Internal`.
    async fn create(&self, spec: PlanSpec, audit: Option<AuditEntry>) -> Result<Plan, RepoError>;

    /// Replaces a plan's spec (same default rule as `create`).
    /// Errors: `NotFound`, `Conflict(NameTaken)`, `Conflict(RaceLost)` (the default
    /// moved at the same time), `Unavailable`, `Internal`.
    async fn update(
        &self,
        id: PlanId,
        spec: PlanSpec,
        audit: Option<AuditEntry>,
    ) -> Result<Plan, RepoError>;

    /// Deletes a plan. Errors: `NotFound`, `Conflict(StillReferenced)` (orders reference
    /// it; `count` says how many), `Unavailable`, `Internal`.
    async fn delete(&self, id: PlanId, audit: Option<AuditEntry>) -> Result<(), RepoError>;

    /// Inserts or updates each spec by name, all in one transaction: either every
    /// spec is stored or none is. Errors: `Conflict(NameTaken)` (a rename clashes),
    /// `Conflict(RaceLost)`, `Unavailable`, `Internal`.
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
