//! `audit_log` rows: the hand-written insert every writing repository runs inside its
//! own transaction, and the row read back.

use chrono::{NaiveDateTime, TimeZone, Utc};
use diesel::prelude::*;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use tariff_domain::audit::{AuditEntry, AuditRecord, AuditState};
use tariff_domain::{RepoError, UserId};

use crate::errors::DbError;
use crate::schema::audit_log;
use crate::statements::{SqlBackend, Statement};

/// An `audit_log` row to insert.
#[derive(Debug, QueryId)]
pub(crate) struct NewAuditRow {
    pub(crate) actor_user_id: Option<i64>,
    pub(crate) action: &'static str,
    pub(crate) target_kind: &'static str,
    pub(crate) target_id: Option<i64>,
    pub(crate) before_state: Option<String>,
    pub(crate) after_state: Option<String>,
    pub(crate) created_at: NaiveDateTime,
}

impl<DB: SqlBackend> QueryFragment<DB> for NewAuditRow {
    fn walk_ast<'b>(&'b self, out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        Statement::new(out)
            .sql(
                "INSERT INTO audit_log (actor_user_id, action, target_kind, target_id, \
                 before_state, after_state, created_at) VALUES (",
            )
            .bind(&self.actor_user_id)?
            .sql(", ")
            .bind(self.action)?
            .sql(", ")
            .bind(self.target_kind)?
            .sql(", ")
            .bind(&self.target_id)?
            .sql(", ")
            .bind(&self.before_state)?
            .sql(", ")
            .bind(&self.after_state)?
            .sql(", ")
            .bind(&self.created_at)?
            .sql(")");
        Ok(())
    }
}

impl<C> RunQueryDsl<C> for NewAuditRow {}

impl NewAuditRow {
    /// The row for `entry`, its states serialised from their typed snapshots.
    pub(crate) fn from_entry(entry: &AuditEntry) -> Result<NewAuditRow, DbError> {
        let json = |state: Option<&AuditState>| {
            state
                .map(AuditState::to_json)
                .transpose()
                .map_err(|e| DbError::Repo(RepoError::Internal(Box::new(e))))
        };
        Ok(NewAuditRow {
            actor_user_id: entry.actor().user_id().map(UserId::get),
            action: entry.action().as_str(),
            target_kind: entry.target_kind().as_str(),
            target_id: entry.target_id(),
            before_state: json(entry.before())?,
            after_state: json(entry.after())?,
            created_at: Utc::now().naive_utc(),
        })
    }
}

/// An `audit_log` row as stored.
#[derive(Queryable, Selectable, Debug)]
#[diesel(table_name = audit_log)]
pub(super) struct AuditRow {
    id: i64,
    actor_user_id: Option<i64>,
    action: String,
    target_kind: String,
    target_id: Option<i64>,
    before_state: Option<String>,
    after_state: Option<String>,
    created_at: NaiveDateTime,
}

fn parse_state(text: Option<String>) -> Result<Option<serde_json::Value>, RepoError> {
    text.map(|t| serde_json::from_str(&t))
        .transpose()
        .map_err(|e| RepoError::Internal(Box::new(e)))
}

impl TryFrom<AuditRow> for AuditRecord {
    type Error = RepoError;

    fn try_from(row: AuditRow) -> Result<AuditRecord, RepoError> {
        Ok(AuditRecord {
            id: row.id,
            actor: row.actor_user_id.and_then(UserId::new),
            action: row.action,
            target_kind: row.target_kind,
            target_id: row.target_id,
            before: parse_state(row.before_state)?,
            after: parse_state(row.after_state)?,
            at: Utc.from_utc_datetime(&row.created_at),
        })
    }
}
