//! The audit log: rows are inserted by the other repositories inside their writing
//! transactions ([`record_audit!`]); this module also reads them back, filtered and paged.

use async_trait::async_trait;
use chrono::{NaiveDateTime, TimeZone, Utc};
use diesel::prelude::*;
use tariff_domain::audit::{AuditEntry, AuditFilter, AuditRecord, AuditRepository, AuditState};
use tariff_domain::{Page, PageRequest, RepoError, UserId};

use crate::db::{sql_bounds, Database};
use crate::errors::DbError;
use crate::read_snapshot;
use crate::schema::audit_log;
use crate::statements::statement;

statement! {
    /// An `audit_log` row to insert.
    pub(crate) NewAuditRow {
        actor_user_id: Option<i64>,
        action: &'static str,
        target_kind: &'static str,
        target_id: Option<i64>,
        before_state: Option<String>,
        after_state: Option<String>,
        created_at: NaiveDateTime,
    }
    [
        "INSERT INTO audit_log (actor_user_id, action, target_kind, target_id, before_state, \
         after_state, created_at) VALUES ("
        (actor_user_id: Nullable<BigInt>) ", " (action: Text) ", " (target_kind: Text) ", "
        (target_id: Nullable<BigInt>) ", " (before_state: Nullable<Text>) ", "
        (after_state: Nullable<Text>) ", " (created_at: Timestamp) ")"
    ]
}

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

/// Inserts an `Option<AuditEntry>` (by reference) inside the current transaction;
/// `None` records nothing. A macro: the statement compiles once per backend.
macro_rules! record_audit {
    ($c:expr, $entry:expr) => {
        match $entry {
            Some(entry) => $crate::audit::NewAuditRow::from_entry(entry).and_then(|row| {
                ::diesel::RunQueryDsl::execute(row, $c)
                    .map(|_| ())
                    .map_err($crate::errors::DbError::from)
            }),
            None => Ok::<(), $crate::errors::DbError>(()),
        }
    };
}
pub(crate) use record_audit;

/// An `audit_log` row as stored.
#[derive(Queryable, Selectable, Debug)]
#[diesel(table_name = audit_log)]
struct AuditRow {
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

/// Reads the audit log.
#[derive(Clone)]
pub struct DieselAuditRepository {
    db: Database,
}

impl DieselAuditRepository {
    pub fn new(db: Database) -> Self {
        DieselAuditRepository { db }
    }
}

/// The filter as a boxed query, written once for the count and the page.
macro_rules! filtered {
    ($query:expr, $filter:expr) => {{
        let mut query = $query;
        if let Some(kind) = $filter.target_kind {
            query = query.filter(audit_log::target_kind.eq(kind.as_str()));
        }
        if let Some(id) = $filter.target_id {
            query = query.filter(audit_log::target_id.eq(id));
        }
        if let Some(actor) = $filter.actor {
            query = query.filter(audit_log::actor_user_id.eq(actor.get()));
        }
        query
    }};
}

#[async_trait]
impl AuditRepository for DieselAuditRepository {
    async fn page(
        &self,
        filter: AuditFilter,
        request: PageRequest,
    ) -> Result<Page<AuditRecord>, RepoError> {
        let (offset, limit) = sql_bounds(request);
        let (rows, total) = self
            .db
            .query(move |conn| {
                read_snapshot!(conn, c => {
                    let total: i64 = filtered!(audit_log::table.count().into_boxed(), filter)
                        .get_result(c)?;
                    if offset >= total {
                        return Ok((Vec::new(), total));
                    }
                    let rows: Vec<AuditRow> =
                        filtered!(audit_log::table.select(AuditRow::as_select()).into_boxed(), filter)
                            .order(audit_log::id.desc())
                            .offset(offset)
                            .limit(limit)
                            .load(c)?;
                    Ok::<_, DbError>((rows, total))
                })
            })
            .await?;
        let records = rows
            .into_iter()
            .map(AuditRecord::try_from)
            .collect::<Result<Vec<_>, _>>()?;
        let total =
            u64::try_from(total).map_err(|_| RepoError::internal("negative audit row count"))?;
        Ok(Page::new(records, total))
    }
}
