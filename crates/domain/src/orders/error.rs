//! The order use cases' error, and how repository errors become it.

use super::model::{IllegalTransition, InvalidOrder};
use crate::shared::ids::{OrderId, OrgId, PlanId, UserId};
use crate::shared::repo::{ConflictKind, RepoError, StoreFailure};

/// Errors of the order use cases.
#[derive(Debug, thiserror::Error)]
pub enum OrderError {
    /// Order does not exist.
    #[error("order {0} does not exist")]
    OrderNotFound(OrderId),
    /// Plan does not exist.
    #[error("plan {0} does not exist")]
    PlanNotFound(PlanId),
    /// User does not exist.
    #[error("user {0} does not exist")]
    UserNotFound(UserId),
    /// Organisation does not exist.
    #[error("organisation {0} does not exist")]
    OrgNotFound(OrgId),
    /// Only the organisation's admins and owners may order for it.
    #[error("only the organisation's admins and owners may order for it")]
    NotOrgManager,
    /// Only administrators may do this.
    #[error("only administrators may do this")]
    AdminOnly,
    /// Illegal transition.
    #[error(transparent)]
    IllegalTransition(#[from] IllegalTransition),
    /// A concurrent change won; trying again may succeed.
    #[error("{}", order_conflict(*.0))]
    Conflict(ConflictKind),
    /// Invalid.
    #[error("{field}: {message}")]
    Invalid {
        /// Field.
        field: &'static str,
        /// Message.
        message: String,
    },
    /// The store failed: unreachable, or broken.
    #[error("order failure")]
    Store(#[from] StoreFailure),
}

/// A refused order write, in the orders' words.
fn order_conflict(kind: ConflictKind) -> String {
    match kind {
        ConflictKind::RaceLost => {
            "another change to this account's plan happened at the same time; try again".to_owned()
        }
        ConflictKind::ChangedMeanwhile => {
            "the order changed at the same time; reload it and try again".to_owned()
        }
        other => other.to_string(),
    }
}

impl OrderError {
    /// Maps a repository error; `not_found` says what a `NotFound` means here.
    pub(crate) fn from_repo(err: RepoError, not_found: impl FnOnce() -> OrderError) -> OrderError {
        match err {
            RepoError::NotFound => not_found(),
            other => OrderError::repo(other),
        }
    }

    /// A repository error where no `NotFound` was expected: a vanished row is a fault.
    pub(crate) fn repo(err: RepoError) -> OrderError {
        match err {
            RepoError::Conflict(kind) => OrderError::Conflict(kind),
            err => OrderError::Store(err.into()),
        }
    }
}

impl From<InvalidOrder> for OrderError {
    fn from(err: InvalidOrder) -> Self {
        OrderError::Store(RepoError::Internal(Box::new(err)).into())
    }
}
