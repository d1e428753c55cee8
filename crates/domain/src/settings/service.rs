//! The settings use cases: reading and writing the switches, keeping this instance's
//! copy current.

use std::sync::Arc;

use crate::audit::entry::{Actor, AuditAction, AuditEntry, TargetKind};
use crate::settings::ports::SettingsRepository;
use crate::settings::switch::BillingSwitch;
use crate::shared::repo::{RepoError, StoreFailure};

/// Errors of the settings use cases.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// The store failed: unreachable, or broken.
    #[error("settings failure")]
    Store(#[source] StoreFailure),
}

impl From<RepoError> for SettingsError {
    fn from(err: RepoError) -> Self {
        SettingsError::Store(err.into())
    }
}

/// Reads and writes the settings and keeps this instance's switch current.
#[derive(Clone)]
pub struct SettingsService {
    repo: Arc<dyn SettingsRepository>,
    switch: Arc<BillingSwitch>,
}

impl SettingsService {
    /// Reads the stored switch once, so an instance starts with the right answer.
    pub async fn load(repo: Arc<dyn SettingsRepository>) -> Result<SettingsService, SettingsError> {
        let version = repo.settings_version().await?;
        let enabled = repo.billing_enabled().await?;
        Ok(SettingsService {
            repo,
            switch: Arc::new(BillingSwitch::new(enabled, version)),
        })
    }

    /// The in-memory switch, for the HTTP gate.
    pub fn switch(&self) -> Arc<BillingSwitch> {
        self.switch.clone()
    }

    /// This instance's current reading of the switch (no database round trip).
    pub fn billing_enabled_now(&self) -> bool {
        self.switch.is_enabled()
    }

    /// The stored value (not the cached one).
    pub async fn billing_enabled(&self) -> Result<bool, SettingsError> {
        Ok(self.repo.billing_enabled().await?)
    }

    /// Stores the switch; this instance follows at once, others on their next poll.
    /// Audited as `settings.update` by `actor`.
    pub async fn set_billing_enabled(
        &self,
        enabled: bool,
        actor: Actor,
    ) -> Result<bool, SettingsError> {
        let audit = AuditEntry::new(
            actor,
            AuditAction::SettingsUpdate,
            TargetKind::Settings,
            None,
        );
        let version = self.repo.set_billing_enabled(enabled, Some(audit)).await?;
        self.switch.observe(enabled, version);
        tracing::info!(billing_enabled = enabled, version, "billing switch changed");
        Ok(enabled)
    }

    /// One poll: when the settings version moved, re-reads the switch. Reading the
    /// version BEFORE the value matters: a write in between then shows up as a newer
    /// version on the next poll. Returns whether the switch changed.
    pub async fn refresh(&self) -> Result<bool, SettingsError> {
        let version = self.repo.settings_version().await?;
        if version == self.switch.version() {
            return Ok(false);
        }
        let before = self.switch.is_enabled();
        let enabled = self.repo.billing_enabled().await?;
        self.switch.observe(enabled, version);
        Ok(self.switch.is_enabled() != before)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::ports::MockSettingsRepository;

    #[tokio::test]
    async fn refresh_follows_the_version_counter() {
        let mut repo = MockSettingsRepository::new();
        let mut versions = vec![1, 1, 2].into_iter();
        repo.expect_settings_version()
            .returning(move || Ok(versions.next().unwrap_or(2)));
        let mut values = vec![true, false].into_iter();
        repo.expect_billing_enabled()
            .times(2)
            .returning(move || Ok(values.next().unwrap_or(false)));
        let service = SettingsService::load(Arc::new(repo)).await.unwrap();
        assert!(service.switch().is_enabled());
        assert!(!service.refresh().await.unwrap()); // same version: no read of the value
        assert!(service.refresh().await.unwrap()); // version 2: reads `false`
        assert!(!service.switch().is_enabled());
    }

    #[tokio::test]
    async fn a_write_updates_the_local_switch_at_once() {
        let mut repo = MockSettingsRepository::new();
        repo.expect_settings_version().returning(|| Ok(1));
        repo.expect_billing_enabled().returning(|| Ok(true));
        repo.expect_set_billing_enabled()
            .withf(|enabled, _| !*enabled)
            .returning(|_, _| Ok(2));
        let service = SettingsService::load(Arc::new(repo)).await.unwrap();
        service
            .set_billing_enabled(false, Actor::Operator)
            .await
            .unwrap();
        assert!(!service.switch().is_enabled());
        assert_eq!(service.switch().version(), 2);
    }

    #[test]
    fn stale_observations_are_ignored() {
        let switch = BillingSwitch::new(true, 5);
        assert!(!switch.observe(false, 4));
        assert!(switch.is_enabled());
        assert!(switch.observe(false, 6));
        assert!(!switch.is_enabled());
    }
}
