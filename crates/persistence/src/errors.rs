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

/// libpq and server messages that mean the connection or the server went away (a
/// restart, a failover, a network cut) rather than that the query was wrong.
fn is_connection_lost(message: &str) -> bool {
    const LOST: [&str; 11] = [
        "server closed the connection",
        "terminating connection",
        "could not connect",
        "no connection to the server",
        "could not send data to server",
        "could not receive data from server",
        "connection reset",
        "broken pipe",
        "the database system is shutting down",
        "the database system is starting up",
        "the database system is in recovery mode",
    ];
    let message = message.to_ascii_lowercase();
    LOST.iter().any(|lost| message.contains(lost))
}

/// A pool that cannot hand out a connection in time means the database is unavailable.
pub fn map_pool_error(err: diesel::r2d2::PoolError) -> RepoError {
    RepoError::Unavailable(Box::new(err))
}

#[cfg(test)]
mod tests {
    use super::*;
    use diesel::result::DatabaseErrorInformation;

    #[derive(Debug)]
    struct Info(&'static str);

    impl DatabaseErrorInformation for Info {
        fn message(&self) -> &str {
            self.0
        }
        fn details(&self) -> Option<&str> {
            None
        }
        fn hint(&self) -> Option<&str> {
            None
        }
        fn table_name(&self) -> Option<&str> {
            None
        }
        fn column_name(&self) -> Option<&str> {
            None
        }
        fn constraint_name(&self) -> Option<&str> {
            None
        }
        fn statement_position(&self) -> Option<i32> {
            None
        }
    }

    fn unknown(message: &'static str) -> RepoError {
        map_diesel_error(DieselError::DatabaseError(
            DatabaseErrorKind::Unknown,
            Box::new(Info(message)),
        ))
    }

    #[test]
    fn lost_connections_are_unavailable_not_internal() {
        for message in [
            "server closed the connection unexpectedly",
            "terminating connection due to administrator command",
            "could not receive data from server: Connection reset by peer",
            "could not send data to server: Broken pipe",
            "FATAL: the database system is shutting down",
            "database is locked",
        ] {
            assert!(
                matches!(unknown(message), RepoError::Unavailable(_)),
                "{message}"
            );
        }
        assert!(matches!(
            unknown("syntax error at or near \"FROM\""),
            RepoError::Internal(_)
        ));
    }
}
