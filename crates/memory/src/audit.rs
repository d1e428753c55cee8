//! `AuditRepository` in memory. Rows are appended by the other repositories inside
//! their writes (see `State::record`); this reads them back, filtered and paged.

use async_trait::async_trait;
use tariff_domain::audit::{AuditFilter, AuditRecord, AuditRepository};
use tariff_domain::{Page, PageRequest, RepoError};

use crate::catalogue::page_of;
use crate::MemoryStore;

fn matches(record: &AuditRecord, filter: &AuditFilter) -> bool {
    filter
        .target_kind
        .is_none_or(|kind| record.target_kind == kind.as_str())
        && filter
            .target_id
            .is_none_or(|id| record.target_id == Some(id))
        && filter.actor.is_none_or(|actor| record.actor == Some(actor))
}

#[async_trait]
impl AuditRepository for MemoryStore {
    async fn page(
        &self,
        filter: AuditFilter,
        request: PageRequest,
    ) -> Result<Page<AuditRecord>, RepoError> {
        self.with(|state| {
            let newest_first = state.audit.iter().rev().filter(|r| matches(r, &filter));
            Ok(page_of(newest_first.cloned(), request))
        })
    }
}
