//! The readiness port.

use async_trait::async_trait;

use crate::shared::repo::RepoError;

/// Whether the database answers, for readiness checks.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait HealthProbe: Send + Sync {
    /// One round trip. Errors: `Unavailable` when the database does not answer in time.
    async fn ping(&self) -> Result<(), RepoError>;
}
