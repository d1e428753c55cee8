//! `AuditRepository` on diesel.

use async_trait::async_trait;
use tariff_domain::audit::{AuditFilter, AuditRecord, AuditRepository};
use tariff_domain::{Page, PageRequest, RepoError};

use super::queries;
use crate::db::{sql_bounds, Database};

/// Reads the audit log.
#[derive(Clone)]
pub struct DieselAuditRepository {
    db: Database,
}

impl DieselAuditRepository {
    pub fn new(db: Database) -> Self {
        DieselAuditRepository { db }
    }
}

#[async_trait]
impl AuditRepository for DieselAuditRepository {
    async fn page(
        &self,
        filter: AuditFilter,
        request: PageRequest,
    ) -> Result<Page<AuditRecord>, RepoError> {
        let (offset, limit) = sql_bounds(request);
        let (rows, total) = self
            .db
            .query(move |c| queries::page(c, &filter, offset, limit))
            .await?;
        let records = rows
            .into_iter()
            .map(AuditRecord::try_from)
            .collect::<Result<Vec<_>, _>>()?;
        let total =
            u64::try_from(total).map_err(|_| RepoError::internal("negative audit row count"))?;
        Ok(Page::new(records, total))
    }
}
