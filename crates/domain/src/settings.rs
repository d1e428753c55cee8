//! Service-wide switches stored in the database, above all the billing switch: when
//! off, every plan, package, order, invoice, usage and apply/cancel-plan endpoint
//! answers 503 `feature_disabled`. Each instance keeps the switch in memory
//! ([`BillingSwitch`]) and refreshes it by polling a version counter that every write
//! bumps, so a change reaches all instances within one poll interval.

use crate::audit::{Actor, AuditAction, AuditEntry, TargetKind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use crate::ports::RepoError;

/// Where the settings live.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait SettingsRepository: Send + Sync {
    /// The stored billing switch (on when never written). Errors: `Unavailable`, `Internal`.
    async fn billing_enabled(&self) -> Result<bool, RepoError>;

    /// Stores the switch and bumps the `settings` version in one transaction; returns
    /// the new version. Errors: `Unavailable`, `Internal`.
    /// `audit`, when given, is stored in the same transaction with the switch's value
    /// before and after.
    async fn set_billing_enabled(
        &self,
        enabled: bool,
        audit: Option<AuditEntry>,
    ) -> Result<i64, RepoError>;

    /// The `settings` version: changes whenever any instance writes a setting.
    /// Errors: `Unavailable`, `Internal`.
    async fn settings_version(&self) -> Result<i64, RepoError>;
}

/// The in-memory copy of the billing switch one instance answers from. Reads are a
/// single atomic load; updates only ever move to a newer settings version, so a slow
/// poll can never overwrite a fresher local write.
#[derive(Debug)]
pub struct BillingSwitch {
    enabled: AtomicBool,
    version: Mutex<i64>,
}

impl BillingSwitch {
    /// A switch seen at `version`.
    pub fn new(enabled: bool, version: i64) -> BillingSwitch {
        BillingSwitch {
            enabled: AtomicBool::new(enabled),
            version: Mutex::new(version),
        }
    }

    pub fn is_enabled(&self) -> bool {
        self.enabled.load(Ordering::Acquire)
    }

    /// The settings version this copy reflects.
    pub fn version(&self) -> i64 {
        *self.version.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records the switch as of `version`; ignored when an equal or newer version was
    /// already recorded with a different reading in between (returns whether applied).
    pub fn observe(&self, enabled: bool, version: i64) -> bool {
        let mut seen = self.version.lock().unwrap_or_else(|p| p.into_inner());
        if version < *seen {
            return false;
        }
        *seen = version;
        self.enabled.store(enabled, Ordering::Release);
        true
    }
}

/// Errors of the settings use cases.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("database unavailable")]
    Unavailable(#[source] RepoError),
    #[error("settings failure")]
    Internal(#[source] RepoError),
}

impl From<RepoError> for SettingsError {
    fn from(err: RepoError) -> Self {
        match err {
            err @ RepoError::Unavailable(_) => SettingsError::Unavailable(err),
            other => SettingsError::Internal(other),
        }
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
