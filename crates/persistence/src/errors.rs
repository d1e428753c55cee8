//! The one place where diesel and pool errors become the domain's `RepoError`.

use diesel::result::{DatabaseErrorKind, Error as DieselError};
use tariff_domain::RepoError;

/// What a repository body can fail with inside a transaction: a diesel error, or a
/// domain-level refusal decided mid-transaction (which rolls the transaction back).
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error(transparent)]
    Diesel(#[from] DieselError),
    #[error(transparent)]
    Repo(RepoError),
}

impl From<RepoError> for DbError {
    fn from(err: RepoError) -> Self {
        DbError::Repo(err)
    }
}

impl From<DbError> for RepoError {
    fn from(err: DbError) -> Self {
        match err {
            DbError::Diesel(e) => map_diesel_error(e),
            DbError::Repo(e) => e,
        }
    }
}

/// Maps a diesel error: no row is `NotFound`, a unique or foreign-key violation is a
/// `Conflict` naming the constraint, a lost or locked connection is `Unavailable`.
pub fn map_diesel_error(err: DieselError) -> RepoError {
    match err {
        DieselError::NotFound => RepoError::NotFound,
        DieselError::DatabaseError(kind, info) => {
            let constraint = info
                .constraint_name()
                .unwrap_or_else(|| info.message())
                .to_owned();
            match kind {
                DatabaseErrorKind::UniqueViolation => {
                    RepoError::Conflict(format!("unique:{constraint}"))
                }
                DatabaseErrorKind::ForeignKeyViolation => {
                    RepoError::Conflict(format!("reference:{constraint}"))
                }
                DatabaseErrorKind::ClosedConnection => {
                    RepoError::Unavailable(Box::new(DieselError::DatabaseError(kind, info)))
                }
                DatabaseErrorKind::SerializationFailure => {
                    RepoError::Unavailable(Box::new(DieselError::DatabaseError(kind, info)))
                }
                _ if is_sqlite_busy(info.message()) || is_connection_lost(info.message()) => {
                    RepoError::Unavailable(Box::new(DieselError::DatabaseError(kind, info)))
                }
                _ => RepoError::Internal(Box::new(DieselError::DatabaseError(kind, info))),
            }
        }
        other => RepoError::Internal(Box::new(other)),
    }
}

fn is_sqlite_busy(message: &str) -> bool {
    message.contains("database is locked") || message.contains("database is busy")
}

fn is_connection_lost(message: &str) -> bool {
    message.contains("server closed the connection")
        || message.contains("terminating connection")
        || message.contains("could not connect")
        || message.contains("no connection to the server")
}

/// A pool that cannot hand out a connection in time means the database is unavailable.
pub fn map_pool_error(err: diesel::r2d2::PoolError) -> RepoError {
    RepoError::Unavailable(Box::new(err))
}
