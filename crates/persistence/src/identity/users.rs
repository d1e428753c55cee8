//! `UserRepository` on diesel. The password hash lives in its own column and is read
//! only by `find_login`; the row struct that becomes a domain `User` does not carry it.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::OptionalExtension;
use tariff_domain::audit::{AuditEntry, UserSnapshot};
use tariff_domain::identity::PasswordHash;
use tariff_domain::identity::UserRepository;
use tariff_domain::shared::ConflictKind;
use tariff_domain::{Email, Page, PageRequest, RepoError, User, UserId, UserSpec};

use super::queries;
use crate::audit;
use crate::db::{sql_bounds, Database};
use crate::errors::DbError;

/// `%text%` for LIKE, with the wildcards in `text` taken literally.
pub(crate) fn contains_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.chars() {
        if matches!(c, '\\' | '%' | '_') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// The only unique key a user write can clash on is the email.
fn email_conflict(err: DbError) -> DbError {
    match RepoError::from(err) {
        RepoError::Conflict(_) => DbError::Repo(RepoError::Conflict(ConflictKind::EmailTaken)),
        other => DbError::Repo(other),
    }
}

/// Diesel-backed user repository for both backends.
#[derive(Clone)]
pub struct DieselUsers {
    db: Database,
}

impl DieselUsers {
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

#[async_trait]
impl UserRepository for DieselUsers {
    async fn create(
        &self,
        spec: UserSpec,
        password: Option<PasswordHash>,
        now: DateTime<Utc>,
        audit: Option<AuditEntry>,
    ) -> Result<User, RepoError> {
        let now = now.naive_utc();
        let hash = password.map(|h| h.as_str().to_owned());
        self.db
            .write(move |conn| {
                conn.write_transaction(|c| {
                    let row = queries::insert_user(c, &spec, hash.as_deref(), now)
                        .map_err(|e| email_conflict(e.into()))?;
                    let user = User::try_from(row)?;
                    let audit = audit.map(|a| {
                        a.with_target_id(user.id().get())
                            .with_after(user_state(&user, hash.is_some()))
                    });
                    audit::record(c, audit.as_ref())?;
                    Ok(user)
                })
            })
            .await
    }

    async fn get(&self, id: UserId) -> Result<User, RepoError> {
        let row = self
            .db
            .query(move |c| Ok(queries::user(c, id.get())?))
            .await?;
        User::try_from(row)
    }

    async fn find_by_email(&self, email: &Email) -> Result<Option<User>, RepoError> {
        let email = email.as_str().to_owned();
        let row = self
            .db
            .query(move |c| Ok(queries::user_by_email(c, &email)?))
            .await?;
        row.map(User::try_from).transpose()
    }

    async fn find_login(
        &self,
        email: &Email,
    ) -> Result<Option<(User, Option<PasswordHash>)>, RepoError> {
        let email = email.as_str().to_owned();
        let row = self
            .db
            .query(move |c| Ok(queries::login(c, &email)?))
            .await?;
        row.map(|(user, hash)| Ok((User::try_from(user)?, hash.map(PasswordHash::from_stored))))
            .transpose()
    }

    async fn list(
        &self,
        email_contains: Option<String>,
        request: PageRequest,
    ) -> Result<Page<User>, RepoError> {
        let pattern = email_contains.as_deref().map(contains_pattern);
        let (offset, limit) = sql_bounds(request);
        let (rows, total) = self
            .db
            .query(move |conn| {
                conn.read_snapshot(|c| {
                    let total = queries::count_users(c, pattern.as_deref())?;
                    if offset >= total {
                        return Ok((Vec::new(), total));
                    }
                    let rows = queries::users_page(c, pattern.as_deref(), offset, limit)?;
                    Ok((rows, total))
                })
            })
            .await?;
        let users = rows
            .into_iter()
            .map(User::try_from)
            .collect::<Result<Vec<_>, _>>()?;
        let total = u64::try_from(total).map_err(|_| RepoError::internal("negative user count"))?;
        Ok(Page::new(users, total))
    }

    async fn ensure_with_id(
        &self,
        id: UserId,
        spec: UserSpec,
        refresh_email: bool,
        now: DateTime<Utc>,
    ) -> Result<User, RepoError> {
        let now = now.naive_utc();
        self.db
            .write(move |conn| {
                conn.write_transaction(|c| {
                    let existing = queries::user(c, id.get()).optional()?;
                    let row = match existing {
                        Some(row) if !refresh_email || row.email == spec.email().as_str() => row,
                        Some(_) => queries::set_user_email(c, id.get(), spec.email().as_str(), now)
                            .map_err(|e| email_conflict(e.into()))?,
                        None => {
                            let row = queries::insert_user_with_id(c, id.get(), &spec, now)
                                .map_err(|e| email_conflict(e.into()))?;
                            queries::catch_up_user_ids(c)?;
                            row
                        }
                    };
                    Ok(User::try_from(row)?)
                })
            })
            .await
    }

    async fn update(
        &self,
        id: UserId,
        spec: UserSpec,
        password: Option<PasswordHash>,
        now: DateTime<Utc>,
        audit: Option<AuditEntry>,
    ) -> Result<User, RepoError> {
        let now = now.naive_utc();
        let hash = password.map(|h| h.as_str().to_owned());
        self.db
            .write(move |conn| {
                conn.write_transaction(|c| {
                    let before = match &audit {
                        Some(_) => queries::user(c, id.get()).optional()?,
                        None => None,
                    };
                    let row = queries::update_user(c, id.get(), &spec, now)
                        .map_err(|e| email_conflict(e.into()))?;
                    if let Some(hash) = &hash {
                        queries::set_password(c, id.get(), hash)?;
                        // A new password ends every session opened with the old one.
                        queries::delete_sessions_of(c, id.get())?;
                    }
                    let user = User::try_from(row)?;
                    let audit = match (audit, before) {
                        (Some(entry), Some(before)) => Some(
                            entry
                                .with_before(User::try_from(before)?.audit_state())
                                .with_after(user_state(&user, hash.is_some())),
                        ),
                        _ => None,
                    };
                    audit::record(c, audit.as_ref())?;
                    Ok(user)
                })
            })
            .await
    }
}

/// A user's audit state; says when a password was set (never what it is).
fn user_state(user: &User, password_set: bool) -> UserSnapshot {
    user.audit_state().with_password_changed(password_set)
}

#[cfg(test)]
mod tests {
    use super::contains_pattern;

    #[test]
    fn like_wildcards_are_escaped() {
        assert_eq!(contains_pattern("a_b%c\\"), "%a\\_b\\%c\\\\%");
    }
}
