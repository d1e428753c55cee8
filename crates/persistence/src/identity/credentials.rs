//! Resolving credentials to callers, login sessions, API tokens, and organisation
//! membership look-ups: the identity ports on diesel.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use tariff_domain::identity::ApiToken;
use tariff_domain::identity::{hash_secret, Caller, Credential, OrgRole};
use tariff_domain::identity::{
    CallerResolver, MembershipRepository, SessionRepository, TokenRepository,
};
use tariff_domain::shared::ConflictKind;
use tariff_domain::{OrgId, RepoError, TokenId, UserId};

use super::queries;
use super::rows::{to_caller, TokenRow};
use crate::db::Database;
use crate::errors::DbError;

/// Token `last_used_at` is written at most this often, so reads stay reads.
const LAST_USED_GRANULARITY: TimeDelta = TimeDelta::seconds(60);

/// How long resolving a token waits for its `last_used_at` write before going on.
const TOUCH_WAIT: Duration = Duration::from_millis(50);

/// Looks credentials up by their SHA-256 hash; the secrets themselves are never stored.
#[derive(Clone)]
pub struct DieselIdentity {
    db: Database,
}

impl DieselIdentity {
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    /// Records a token's use. A write (on SQLite it goes to the writer thread, and on
    /// either backend it waits for a commit), so the request waits for it only briefly:
    /// when commits are slow the write finishes in the background, and every request
    /// using the token is not held up by a bookkeeping column. A failure is logged; the
    /// credential itself was valid.
    async fn touch_token(&self, token_id: i64, now: NaiveDateTime) {
        let db = self.db.clone();
        let touch = tokio::spawn(async move {
            let written = db
                .write(move |c| queries::touch_token(c, token_id, now))
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
                    .query(move |c| Ok(queries::session_caller(c, &hash, now)?))
                    .await?
            }
            Credential::Bearer(_) => {
                let row = self
                    .db
                    .query(move |c| Ok(queries::token_caller(c, &hash)?))
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
            .query(move |c| Ok(queries::role_in(c, org.get(), user.get())?))
            .await?;
        role.map(|r| {
            r.parse()
                .map_err(|_| RepoError::internal(format!("corrupt org role `{r}`")))
        })
        .transpose()
    }

    async fn managed_orgs(&self, user: UserId) -> Result<Vec<OrgId>, RepoError> {
        let ids = self
            .db
            .query(move |c| Ok(queries::managed_orgs(c, user.get())?))
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
                conn.write_transaction(|c| {
                    Ok(queries::create_session(
                        c,
                        user.get(),
                        &token_hash,
                        now,
                        expires_at,
                    )?)
                })
            })
            .await
    }

    async fn delete(&self, token_hash: String) -> Result<bool, RepoError> {
        let deleted = self
            .db
            .write(move |c| Ok(queries::delete_session(c, &token_hash)?))
            .await?;
        Ok(deleted > 0)
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
        let row: TokenRow = self
            .db
            .write(move |c| {
                queries::create_token(c, owner.get(), &name, &token_hash, now).map_err(|e| {
                    match RepoError::from(DbError::from(e)) {
                        RepoError::Conflict(ConflictKind::MissingReference) => {
                            DbError::Repo(RepoError::NotFound)
                        }
                        other => DbError::Repo(other),
                    }
                })
            })
            .await?;
        ApiToken::try_from(row)
    }

    async fn list_active(&self, owner: UserId) -> Result<Vec<ApiToken>, RepoError> {
        let rows = self
            .db
            .query(move |c| Ok(queries::active_tokens(c, owner.get())?))
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
            .write(move |c| Ok(queries::revoke_token(c, owner.get(), id.get(), now)?))
            .await?;
        if updated == 0 {
            return Err(RepoError::NotFound);
        }
        Ok(())
    }
}
