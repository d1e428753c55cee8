//! The settings' port: where the switches are stored.

use async_trait::async_trait;

use crate::audit::entry::AuditEntry;
use crate::shared::repo::RepoError;

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
