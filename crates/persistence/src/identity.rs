//! Resolving credentials to callers, and organisation membership look-ups.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use diesel::prelude::*;
use tariff_domain::identity::ApiToken;
use tariff_domain::identity::{hash_secret, Caller, Credential, OrgRole, Role};
use tariff_domain::identity::{
    CallerResolver, MembershipRepository, SessionRepository, TokenRepository,
};
use tariff_domain::shared::ConflictKind;
use tariff_domain::{OrgId, RepoError, TokenId, UserId};

use crate::db::Database;
use crate::errors::DbError;
use crate::schema::{api_tokens, org_members, sessions, users};
use crate::{transaction, with_conn};

/// Token `last_used_at` is written at most this often, so reads stay reads.
const LAST_USED_GRANULARITY: TimeDelta = TimeDelta::seconds(60);

/// Looks credentials up by their SHA-256 hash; the secrets themselves are never stored.
#[derive(Clone)]
pub struct DieselIdentity {
    db: Database,
}

impl DieselIdentity {
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

fn to_caller(user_id: i64, role: &str) -> Result<Caller, RepoError> {
    let id = UserId::new(user_id).ok_or_else(|| RepoError::internal("corrupt user id"))?;
    let role: Role = role
        .parse()
        .map_err(|_| RepoError::internal(format!("user {user_id} has a corrupt role")))?;
    Ok(Caller::new(id, role))
}

/// How long resolving a token waits for its `last_used_at` write before going on.
const TOUCH_WAIT: Duration = Duration::from_millis(50);

impl DieselIdentity {
    /// Records a token's use. A write (on SQLite it goes to the writer thread, and on
    /// either backend it waits for a commit), so the request waits for it only briefly:
    /// when commits are slow the write finishes in the background, and every request
    /// using the token is not held up by a bookkeeping column. A failure is logged; the
    /// credential itself was valid.
    async fn touch_token(&self, token_id: i64, now: NaiveDateTime) {
        let db = self.db.clone();
        let touch = tokio::spawn(async move {
            let written = db
                .write(move |conn| {
                    with_conn!(conn, c => diesel::update(api_tokens::table.find(token_id))
                        .set(api_tokens::last_used_at.eq(now))
                        .execute(c)
                        .map_err(DbError::from))
                })
                .await;
            if let Err(err) = written {
                tracing::warn!(token_id, error = %err, "cannot record the token's use");
            }
        });
        let _ = tokio::time::timeout(TOUCH_WAIT, touch).await;
    }
}

#[async_trait]
impl CallerResolver for DieselIdentity {
    async fn resolve(
        &self,
        credential: &Credential,
        now: DateTime<Utc>,
    ) -> Result<Option<Caller>, RepoError> {
        let hash = hash_secret(credential.secret());
        let now = now.naive_utc();
        let found: Option<(i64, String)> = match credential {
            // The panel's cookie means nothing to Tariff's own tables; the panel adapter
            // resolves it.
            Credential::Panel(_) => return Ok(None),
            Credential::Session(_) => {
                self.db
                    .query(move |conn| {
                        with_conn!(conn, c => sessions::table
                            .inner_join(users::table)
                            .filter(sessions::token_hash.eq(&hash))
                            .filter(sessions::expires_at.gt(now))
                            .select((users::id, users::role))
                            .get_result(c)
                            .optional()
                            .map_err(DbError::from))
                    })
                    .await?
            }
            Credential::Bearer(_) => {
                let row: Option<(i64, Option<NaiveDateTime>, i64, String)> = self
                    .db
                    .query(move |conn| {
                        with_conn!(conn, c => api_tokens::table
                            .inner_join(users::table)
                            .filter(api_tokens::token_hash.eq(&hash))
                            .filter(api_tokens::revoked_at.is_null())
                            .select((api_tokens::id, api_tokens::last_used_at, users::id, users::role))
                            .get_result(c)
                            .optional()
                            .map_err(DbError::from))
                    })
                    .await?;
                let Some((token_id, last_used, user_id, role)) = row else {
                    return Ok(None);
                };
                if last_used.is_none_or(|at| now - at >= LAST_USED_GRANULARITY) {
                    self.touch_token(token_id, now).await;
                }
                Some((user_id, role))
            }
        };
        found.map(|(id, role)| to_caller(id, &role)).transpose()
    }
}

#[async_trait]
impl MembershipRepository for DieselIdentity {
    async fn role_in(&self, org: OrgId, user: UserId) -> Result<Option<OrgRole>, RepoError> {
        let role: Option<String> = self
            .db
            .query(move |conn| {
                with_conn!(conn, c => org_members::table
                    .find((org.get(), user.get()))
                    .select(org_members::role)
                    .get_result(c)
                    .optional()
                    .map_err(DbError::from))
            })
            .await?;
        role.map(|r| {
            r.parse()
                .map_err(|_| RepoError::internal(format!("corrupt org role `{r}`")))
        })
        .transpose()
    }

    async fn managed_orgs(&self, user: UserId) -> Result<Vec<OrgId>, RepoError> {
        let ids: Vec<i64> = self
            .db
            .query(move |conn| {
                with_conn!(conn, c => org_members::table
                    .filter(org_members::user_id.eq(user.get()))
                    .filter(org_members::role.eq_any(["admin", "owner"]))
                    .select(org_members::org_id)
                    .order(org_members::org_id)
                    .load(c)
                    .map_err(DbError::from))
            })
            .await?;
        Ok(ids.into_iter().filter_map(OrgId::new).collect())
    }
}

#[async_trait]
impl SessionRepository for DieselIdentity {
    async fn create(
        &self,
        user: UserId,
        token_hash: String,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<(), RepoError> {
        let now = now.naive_utc();
        let expires_at = expires_at.naive_utc();
        self.db
            .write(move |conn| {
                transaction!(conn, c => {
                    // Housekeeping bounded to this user: their sessions that have expired.
                    diesel::delete(
                        sessions::table
                            .filter(sessions::user_id.eq(user.get()))
                            .filter(sessions::expires_at.le(now)),
                    )
                    .execute(c)?;
                    diesel::insert_into(sessions::table)
                        .values((
                            sessions::token_hash.eq(&token_hash),
                            sessions::user_id.eq(user.get()),
                            sessions::created_at.eq(now),
                            sessions::expires_at.eq(expires_at),
                        ))
                        .execute(c)?;
                    Ok(())
                })
            })
            .await
    }

    async fn delete(&self, token_hash: String) -> Result<bool, RepoError> {
        let deleted = self
            .db
            .write(move |conn| {
                with_conn!(conn, c => diesel::delete(
                    sessions::table.filter(sessions::token_hash.eq(&token_hash)),
                )
                .execute(c)
                .map_err(DbError::from))
            })
            .await?;
        Ok(deleted > 0)
    }
}

/// An `api_tokens` row as its owner may see it: no hash.
#[derive(Queryable, Selectable, Debug)]
#[diesel(table_name = api_tokens)]
struct TokenRow {
    id: i64,
    name: String,
    created_at: NaiveDateTime,
    last_used_at: Option<NaiveDateTime>,
}

impl TryFrom<TokenRow> for ApiToken {
    type Error = RepoError;
    fn try_from(row: TokenRow) -> Result<ApiToken, RepoError> {
        let id = TokenId::new(row.id).ok_or_else(|| RepoError::internal("corrupt token id"))?;
        Ok(ApiToken::new(
            id,
            row.name,
            row.created_at.and_utc(),
            row.last_used_at.map(|at| at.and_utc()),
        ))
    }
}

#[async_trait]
impl TokenRepository for DieselIdentity {
    async fn create(
        &self,
        owner: UserId,
        name: String,
        token_hash: String,
        now: DateTime<Utc>,
    ) -> Result<ApiToken, RepoError> {
        let now = now.naive_utc();
        let row = self
            .db
            .write(move |conn| {
                with_conn!(conn, c => diesel::insert_into(api_tokens::table)
                .values((
                    api_tokens::user_id.eq(owner.get()),
                    api_tokens::name.eq(&name),
                    api_tokens::token_hash.eq(&token_hash),
                    api_tokens::created_at.eq(now),
                ))
                .returning(TokenRow::as_returning())
                .get_result(c)
                .map_err(|e| match RepoError::from(DbError::from(e)) {
                    RepoError::Conflict(ConflictKind::MissingReference) => {
                        DbError::Repo(RepoError::NotFound)
                    }
                    other => DbError::Repo(other),
                }))
            })
            .await?;
        ApiToken::try_from(row)
    }

    async fn list_active(&self, owner: UserId) -> Result<Vec<ApiToken>, RepoError> {
        let rows: Vec<TokenRow> = self
            .db
            .query(move |conn| {
                with_conn!(conn, c => api_tokens::table
                    .filter(api_tokens::user_id.eq(owner.get()))
                    .filter(api_tokens::revoked_at.is_null())
                    .select(TokenRow::as_select())
                    .order(api_tokens::id.asc())
                    .load(c)
                    .map_err(DbError::from))
            })
            .await?;
        rows.into_iter().map(ApiToken::try_from).collect()
    }

    async fn revoke(
        &self,
        owner: UserId,
        id: TokenId,
        now: DateTime<Utc>,
    ) -> Result<(), RepoError> {
        let now = now.naive_utc();
        let updated = self
            .db
            .write(move |conn| {
                with_conn!(conn, c => diesel::update(
                    api_tokens::table
                        .filter(api_tokens::id.eq(id.get()))
                        .filter(api_tokens::user_id.eq(owner.get()))
                        .filter(api_tokens::revoked_at.is_null()),
                )
                .set(api_tokens::revoked_at.eq(now))
                .execute(c)
                .map_err(DbError::from))
            })
            .await?;
        if updated == 0 {
            return Err(RepoError::NotFound);
        }
        Ok(())
    }
}
