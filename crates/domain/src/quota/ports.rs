//! The quota's port: limits, overrides and the usage ledger's storage.

use async_trait::async_trait;
use chrono::NaiveDate;

use crate::audit::entry::AuditEntry;
use crate::catalogue::limits::{Limit, Resource};
use crate::quota::model::{EffectiveLimits, LedgerAnswer, LedgerRequest, QuotaSnapshot};
use crate::shared::ids::AccountRef;
use crate::shared::repo::RepoError;

/// Storage of limits, overrides and the usage ledger.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait QuotaRepository: Send + Sync {
    /// The account's effective limits and its usage, daily resources counted for `today`
    /// (a counter last touched on another day reads 0).
    /// Errors: `NotFound` (no such user or organisation), `Unavailable`, `Internal`.
    async fn snapshot(
        &self,
        account: AccountRef,
        today: NaiveDate,
    ) -> Result<QuotaSnapshot, RepoError>;

    /// Sets (`Some`) or removes (`None`) overrides, all in one transaction, and returns
    /// the effective limits after the change.
    /// Errors: `NotFound` (no such account), `Unavailable`, `Internal`.
    async fn set_overrides(
        &self,
        account: AccountRef,
        changes: Vec<(Resource, Option<Limit>)>,
        audit: Option<AuditEntry>,
    ) -> Result<EffectiveLimits, RepoError>;

    /// Applies one change in ONE transaction: replays a known idempotency key; else locks
    /// the counter row, resets a daily counter from another day, reads the effective
    /// limits, applies [`decide`](crate::quota::decide) and a conditional update that holds the limit, and
    /// stores the outcome under the key. Refusals are answers, not errors.
    /// Errors: `NotFound` (no such account), `Unavailable`, `Internal`.
    async fn change_usage(
        &self,
        request: LedgerRequest,
        audit: Option<AuditEntry>,
    ) -> Result<LedgerAnswer, RepoError>;
}
