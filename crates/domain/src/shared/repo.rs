//! How a repository call can fail: the one error type every port speaks
//! ([`RepoError`]), the typed reasons a store refuses a write ([`ConflictKind`]), and
//! the one variant use-case errors carry a failure they have no answer for in
//! ([`StoreFailure`]).

/// The boxed cause an adapter attaches to an infrastructure failure.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// How a repository call can fail. Adapters map their own errors into these variants
/// in one place; services turn them into their use-case errors.
#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    /// The row the call addressed does not exist.
    #[error("not found")]
    NotFound,
    /// The store refused the write; the kind says why. Adapters classify, services and
    /// the HTTP layer word it.
    #[error("conflict: {0}")]
    Conflict(ConflictKind),
    /// The database could not be reached (pool timeout, connection refused).
    #[error("database unavailable")]
    Unavailable(#[source] BoxError),
    /// Anything else: a bug or corrupt data. Logged, never shown to clients.
    #[error("repository failure")]
    Internal(#[source] BoxError),
}

impl RepoError {
    /// An `Internal` failure described by a message (corrupt stored data, say).
    pub fn internal(message: impl Into<String>) -> RepoError {
        RepoError::Internal(message.into().into())
    }
}

/// Why a store refused a write. Each port documents which kinds its methods return;
/// the texts here are the generic wording, and use-case errors word the kinds they
/// expect in their own terms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConflictKind {
    /// A name that must be unique (a plan's) is taken.
    #[error("the name is already taken")]
    NameTaken,
    /// An email that must be unique is already registered.
    #[error("email already registered")]
    EmailTaken,
    /// Other rows still refer to the one being deleted (`count` of them).
    #[error("{count} record(s) still refer to it")]
    StillReferenced {
        /// How many rows refer to it.
        count: u64,
    },
    /// The change would leave an organisation without an owner.
    #[error("an organisation must keep at least one owner")]
    LastOwner,
    /// The row changed between the caller's read and this write (a member's role, an
    /// order's status); reloading shows the new state.
    #[error("it changed while this request was processed")]
    ChangedMeanwhile,
    /// A concurrent write claimed the same unique slot first (an account's one active
    /// order, the one default plan, an idempotency key); trying again may succeed.
    #[error("a concurrent change committed first")]
    RaceLost,
    /// Another unique key is taken (a secret's hash, a membership).
    #[error("a record with that key already exists")]
    AlreadyExists,
    /// The write refers to a row that does not exist.
    #[error("a record it refers to does not exist")]
    MissingReference,
    /// An account credit change would take the balance below zero.
    #[error("the balance does not cover the change")]
    InsufficientBalance,
}

/// A repository failure a use case has no answer for: the store is unreachable, or
/// something is broken (including a `NotFound` or `Conflict` where none can happen).
/// Every use-case error carries it in one variant; the HTTP adapter answers 503 for
/// [`is_unavailable`](StoreFailure::is_unavailable), else 500, and logs the cause.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct StoreFailure(RepoError);

impl StoreFailure {
    /// True when the database could not be reached: worth retrying later.
    pub fn is_unavailable(&self) -> bool {
        matches!(self.0, RepoError::Unavailable(_))
    }

    /// The repository error as it was raised.
    pub fn repo_error(&self) -> &RepoError {
        &self.0
    }
}

impl From<RepoError> for StoreFailure {
    fn from(err: RepoError) -> StoreFailure {
        StoreFailure(err)
    }
}

impl From<BoxError> for StoreFailure {
    /// A failure outside the store (hashing a password, say) that is as fatal as one.
    fn from(err: BoxError) -> StoreFailure {
        StoreFailure(RepoError::Internal(err))
    }
}
