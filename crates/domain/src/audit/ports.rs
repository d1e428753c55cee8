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
    pub id: i64,
    pub actor: Option<UserId>,
    /// As stored; actions added later read back unchanged.
    pub action: String,
    pub target_kind: String,
    pub target_id: Option<i64>,
    pub before: Option<Value>,
    pub after: Option<Value>,
    pub at: DateTime<Utc>,
}

/// Which rows to list; `None` matches everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub target_kind: Option<TargetKind>,
    pub target_id: Option<i64>,
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
