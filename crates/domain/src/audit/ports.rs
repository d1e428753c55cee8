//! Reading the log: the stored row, the filter, and the port.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::audit::entry::TargetKind;
use crate::shared::ids::UserId;
use crate::shared::pagination::{Page, PageRequest};
use crate::shared::repo::RepoError;

/// A stored audit row.
#[derive(Clone, Debug, PartialEq)]
pub struct AuditRecord {
    /// Id.
    pub id: i64,
    /// Actor.
    pub actor: Option<UserId>,
    /// As stored; actions added later read back unchanged.
    pub action: String,
    /// Target kind.
    pub target_kind: String,
    /// Target id.
    pub target_id: Option<i64>,
    /// Before.
    pub before: Option<Value>,
    /// After.
    pub after: Option<Value>,
    /// When.
    pub at: DateTime<Utc>,
}

/// Which rows to list; `None` matches everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Target kind.
    pub target_kind: Option<TargetKind>,
    /// Target id.
    pub target_id: Option<i64>,
    /// Actor.
    pub actor: Option<UserId>,
}

/// Reading the log. Writing happens inside the other repositories' transactions.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait AuditRepository: Send + Sync {
    /// One page of the rows matching `filter`, newest first, with the true total.
    /// Errors: `Unavailable`, `Internal`.
    async fn page(
        &self,
        filter: AuditFilter,
        request: PageRequest,
    ) -> Result<Page<AuditRecord>, RepoError>;
}
