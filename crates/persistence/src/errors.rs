//! The one place where diesel and pool errors become the domain's `RepoError`.

use diesel::result::{DatabaseErrorKind, Error as DieselError};
use tariff_domain::shared::ConflictKind;
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
/// `Conflict` of the kind the constraint stands for ([`unique_conflict`]), a lost or
/// locked connection is `Unavailable`.
pub fn map_diesel_error(err: DieselError) -> RepoError {
    match err {
        DieselError::NotFound => RepoError::NotFound,
        DieselError::DatabaseError(kind, info) => match kind {
            DatabaseErrorKind::UniqueViolation => {
                RepoError::Conflict(unique_conflict(info.constraint_name(), info.message()))
            }
            DatabaseErrorKind::ForeignKeyViolation => {
                RepoError::Conflict(ConflictKind::MissingReference)
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
        },
        other => RepoError::Internal(Box::new(other)),
    }
}

/// What each unique constraint guards: PostgreSQL names the constraint or index;
/// SQLite reports `UNIQUE constraint failed: ` and then the index of an expression
/// index, or the table's columns. Constraints not listed are `AlreadyExists`.
const UNIQUE_CONSTRAINTS: [(&str, &str, ConflictKind); 7] = [
    (
        "plans_name_unique",
        "index 'plans_name_unique'",
        ConflictKind::NameTaken,
    ),
    (
        "plans_one_default",
        "plans.is_default",
        ConflictKind::RaceLost,
    ),
    (
        "users_email_unique",
        "index 'users_email_unique'",
        ConflictKind::EmailTaken,
    ),
    (
        "orders_one_active_per_account",
        "orders.account_kind, orders.account_id",
        ConflictKind::RaceLost,
    ),
    (
        "orders_one_renewal",
        "orders.renewal_of",
        ConflictKind::RaceLost,
    ),
    (
        "orders_invoice_seq",
        "orders.invoice_year, orders.invoice_seq",
        ConflictKind::RaceLost,
    ),
    (
        "idempotency_keys_pkey",
        "idempotency_keys.account_kind, idempotency_keys.account_id, idempotency_keys.idempotency_key",
        ConflictKind::RaceLost,
    ),
];

/// The conflict a unique violation stands for, from PostgreSQL's constraint name or
/// SQLite's message.
fn unique_conflict(constraint: Option<&str>, message: &str) -> ConflictKind {
    let sqlite_detail = message.strip_prefix("UNIQUE constraint failed: ");
    UNIQUE_CONSTRAINTS
        .iter()
        .find(|(postgres, sqlite, _)| {
            constraint == Some(*postgres) || sqlite_detail == Some(*sqlite)
        })
        .map_or(ConflictKind::AlreadyExists, |(_, _, kind)| *kind)
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

    #[test]
    fn unique_violations_are_classified_by_constraint_on_both_backends() {
        assert_eq!(
            unique_conflict(Some("plans_name_unique"), "duplicate key value"),
            ConflictKind::NameTaken
        );
        assert_eq!(
            unique_conflict(None, "UNIQUE constraint failed: index 'plans_name_unique'"),
            ConflictKind::NameTaken
        );
        assert_eq!(
            unique_conflict(
                None,
                "UNIQUE constraint failed: orders.account_kind, orders.account_id"
            ),
            ConflictKind::RaceLost
        );
        assert_eq!(
            unique_conflict(Some("api_tokens_token_hash_key"), "duplicate key value"),
            ConflictKind::AlreadyExists
        );
    }
}
