//! `SettingsRepository` in memory: the billing switch (on until written) and the
//! `settings` version every write bumps.

use async_trait::async_trait;
use tariff_domain::audit::{AuditEntry, SettingsSnapshot};
use tariff_domain::settings::SettingsRepository;
use tariff_domain::RepoError;

use crate::MemoryStore;

#[async_trait]
impl SettingsRepository for MemoryStore {
    async fn billing_enabled(&self) -> Result<bool, RepoError> {
        self.with(|state| Ok(state.billing_enabled.unwrap_or(true)))
    }

    async fn set_billing_enabled(
        &self,
        enabled: bool,
        audit: Option<AuditEntry>,
    ) -> Result<i64, RepoError> {
        self.with(|state| {
            let was_enabled = state.billing_enabled.unwrap_or(true);
            state.billing_enabled = Some(enabled);
            state.settings_version += 1;
            state.record(audit.map(|entry| {
                entry
                    .with_before(SettingsSnapshot {
                        billing_enabled: was_enabled,
                    })
                    .with_after(SettingsSnapshot {
                        billing_enabled: enabled,
                    })
            }))?;
            Ok(state.settings_version)
        })
    }

    async fn settings_version(&self) -> Result<i64, RepoError> {
        self.with(|state| Ok(state.settings_version))
    }
}
