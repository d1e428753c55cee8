//! `QuotaRepository` on diesel.

use async_trait::async_trait;
use chrono::NaiveDate;
use tariff_domain::audit::AuditEntry;
use tariff_domain::quota::{
    EffectiveLimits, LedgerAnswer, LedgerRequest, QuotaRepository, QuotaSnapshot,
};
use tariff_domain::shared::ConflictKind;
use tariff_domain::{AccountRef, Limit, RepoError, Resource};

use super::ledger::apply_change;
use super::queries;
use crate::audit;
use crate::db::Database;
use crate::errors::DbError;

/// Diesel-backed quota storage for both backends.
#[derive(Clone)]
pub struct DieselQuotaRepository {
    db: Database,
}

impl DieselQuotaRepository {
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

#[async_trait]
impl QuotaRepository for DieselQuotaRepository {
    async fn snapshot(
        &self,
        account: AccountRef,
        today: NaiveDate,
    ) -> Result<QuotaSnapshot, RepoError> {
        self.db
            .query(move |c| {
                if !queries::account_exists(c, account)? {
                    return Err(DbError::Repo(RepoError::NotFound));
                }
                Ok(QuotaSnapshot {
                    limits: queries::effective_limits(c, account)?,
                    usage: queries::usage(c, account, today)?,
                })
            })
            .await
    }

    async fn set_overrides(
        &self,
        account: AccountRef,
        changes: Vec<(Resource, Option<Limit>)>,
        audit: Option<AuditEntry>,
    ) -> Result<EffectiveLimits, RepoError> {
        self.db
            .write(move |conn| {
                conn.write_transaction(|c| {
                    if !queries::account_exists(c, account)? {
                        return Err(DbError::Repo(RepoError::NotFound));
                    }
                    let before = match &audit {
                        Some(_) => Some(queries::effective_limits(c, account)?.audit_state()),
                        None => None,
                    };
                    queries::write_overrides(c, account, &changes)?;
                    let limits = queries::effective_limits(c, account)?;
                    let audit = match (audit, before) {
                        (Some(entry), Some(before)) => {
                            Some(entry.with_before(before).with_after(limits.audit_state()))
                        }
                        _ => None,
                    };
                    audit::record(c, audit.as_ref())?;
                    Ok(limits)
                })
            })
            .await
    }

    async fn change_usage(
        &self,
        request: LedgerRequest,
        audit: Option<AuditEntry>,
    ) -> Result<LedgerAnswer, RepoError> {
        let attempt = |request: LedgerRequest, audit: Option<AuditEntry>| {
            self.db.write(move |conn| {
                conn.write_transaction(|c| apply_change(c, &request, audit.as_ref()))
            })
        };
        match attempt(request.clone(), audit.clone()).await {
            Err(RepoError::Conflict(ConflictKind::RaceLost)) => attempt(request, audit).await,
            other => other,
        }
    }
}
