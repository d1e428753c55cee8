//! The audit log's use case: listing it for administrators.

use std::sync::Arc;

use crate::audit::ports::{AuditFilter, AuditRecord, AuditRepository};
use crate::shared::pagination::{Page, PageRequest};
use crate::shared::repo::RepoError;

/// The log as administrators read it.
#[derive(Clone)]
pub struct AuditService {
    repo: Arc<dyn AuditRepository>,
}

impl AuditService {
    /// Builds the service on the ports it needs.
    pub fn new(repo: Arc<dyn AuditRepository>) -> AuditService {
        AuditService { repo }
    }

    /// List.
    pub async fn list(
        &self,
        filter: AuditFilter,
        request: PageRequest,
    ) -> Result<Page<AuditRecord>, RepoError> {
        self.repo.page(filter, request).await
    }
}
