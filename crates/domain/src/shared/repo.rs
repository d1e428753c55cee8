//! How a repository call can fail: the one error type every port speaks.

/// The boxed cause an adapter attaches to an infrastructure failure.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// How a repository call can fail. Adapters map their own errors into these variants
/// in one place; services turn them into their use-case errors.
#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    /// The row the call addressed does not exist.
    #[error("not found")]
    NotFound,
    /// A uniqueness or reference constraint refused the write; the text names it.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The database could not be reached (pool timeout, connection refused).
    #[error("database unavailable")]
    Unavailable(#[source] BoxError),
    /// Anything else: a bug or corrupt data. Logged, never shown to clients.
    #[error("repository failure")]
    Internal(#[source] BoxError),
}

impl RepoError {
    pub fn internal(message: impl Into<String>) -> RepoError {
        RepoError::Internal(message.into().into())
    }
}
