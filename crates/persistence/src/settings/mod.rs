//! `SettingsRepository` on diesel: the `settings` key/value table and the `settings`
//! version counter every write bumps in the same transaction.

mod queries;

use async_trait::async_trait;
use tariff_domain::audit::{AuditEntry, SettingsSnapshot};
use tariff_domain::settings::SettingsRepository;
use tariff_domain::RepoError;

use crate::audit;
use crate::db::Database;

/// Settings stored in the database, shared by every instance.
#[derive(Clone)]
pub struct DieselSettingsRepository {
    db: Database,
}

impl DieselSettingsRepository {
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

#[async_trait]
impl SettingsRepository for DieselSettingsRepository {
    async fn billing_enabled(&self) -> Result<bool, RepoError> {
        self.db.query(queries::billing_enabled).await
    }

    async fn set_billing_enabled(
        &self,
        enabled: bool,
        audit: Option<AuditEntry>,
    ) -> Result<i64, RepoError> {
        self.db
            .write(move |conn| {
                conn.write_transaction(|c| {
                    let was_enabled = queries::billing_enabled(c)?;
                    let version = queries::set_billing_enabled(c, enabled)?;
                    let audit = audit.map(|entry| {
                        entry
                            .with_before(SettingsSnapshot {
                                billing_enabled: was_enabled,
                            })
                            .with_after(SettingsSnapshot {
                                billing_enabled: enabled,
                            })
                    });
                    audit::record(c, audit.as_ref())?;
                    Ok(version)
                })
            })
            .await
    }

    async fn settings_version(&self) -> Result<i64, RepoError> {
        self.db.query(queries::settings_version).await
    }
}
