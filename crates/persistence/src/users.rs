//! `UserRepository` on diesel. The password hash lives in its own column and is read
//! only by `find_login`; the row struct that becomes a domain `User` does not carry it.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use tariff_domain::audit::{AuditEntry, AuditState};
use tariff_domain::identity::PasswordHash;
use tariff_domain::identity::UserRepository;
use tariff_domain::shared::ConflictKind;
use tariff_domain::{BillingDraft, Email, Page, PageRequest, RepoError, User, UserId, UserSpec};

use crate::audit::record_audit;
use crate::db::{sql_bounds, Database};
use crate::errors::DbError;
use crate::schema::{sessions, users};
use crate::{read_snapshot, transaction, with_conn};

/// A `users` row without the password hash.
#[derive(Queryable, Selectable, Debug, Clone)]
#[diesel(table_name = users)]
pub(crate) struct UserRow {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub role: String,
    pub company: Option<String>,
    pub address_line1: Option<String>,
    pub address_line2: Option<String>,
    pub city: Option<String>,
    pub postcode: Option<String>,
    pub country: Option<String>,
    pub tax_id: Option<String>,
    pub created_at: NaiveDateTime,
}

/// The writable columns of a user, from a validated spec (the password apart).
#[derive(Insertable, AsChangeset, Debug)]
#[diesel(table_name = users, treat_none_as_null = true)]
struct UserChanges {
    email: String,
    name: String,
    role: String,
    company: Option<String>,
    address_line1: Option<String>,
    address_line2: Option<String>,
    city: Option<String>,
    postcode: Option<String>,
    country: Option<String>,
    tax_id: Option<String>,
    updated_at: NaiveDateTime,
}

impl UserChanges {
    fn from_spec(spec: &UserSpec, now: NaiveDateTime) -> UserChanges {
        let billing = spec.billing().to_draft();
        UserChanges {
            email: spec.email().as_str().to_owned(),
            name: spec.name().to_owned(),
            role: spec.role().as_str().to_owned(),
            company: billing.company,
            address_line1: billing.address_line1,
            address_line2: billing.address_line2,
            city: billing.city,
            postcode: billing.postcode,
            country: billing.country,
            tax_id: billing.tax_id,
            updated_at: now,
        }
    }
}

impl TryFrom<UserRow> for User {
    type Error = RepoError;

    fn try_from(row: UserRow) -> Result<User, RepoError> {
        let id = UserId::new(row.id).ok_or_else(|| RepoError::internal("corrupt user id"))?;
        let role = row
            .role
            .parse()
            .map_err(|_| RepoError::internal(format!("user {} has a corrupt role", row.id)))?;
        let billing = BillingDraft {
            company: row.company,
            address_line1: row.address_line1,
            address_line2: row.address_line2,
            city: row.city,
            postcode: row.postcode,
            country: row.country,
            tax_id: row.tax_id,
        };
        let spec = UserSpec::new(&row.email, &row.name, role, billing).map_err(|e| {
            RepoError::internal(format!("user {} no longer validates: {e}", row.id))
        })?;
        Ok(User::new(id, spec, row.created_at.and_utc()))
    }
}

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

/// After a user is stored under an id chosen outside (the panel's), generated ids must
/// continue above it. SQLite's AUTOINCREMENT follows by itself; PostgreSQL's serial does
/// not.
trait SerialCatchUp {
    fn catch_up_user_ids(&mut self) -> Result<(), DbError>;
}

impl SerialCatchUp for diesel::SqliteConnection {
    fn catch_up_user_ids(&mut self) -> Result<(), DbError> {
        Ok(())
    }
}

impl SerialCatchUp for diesel::PgConnection {
    fn catch_up_user_ids(&mut self) -> Result<(), DbError> {
        diesel::sql_query(
            "SELECT setval(pg_get_serial_sequence('users', 'id'), \
             GREATEST((SELECT MAX(id) FROM users), 1))",
        )
        .execute(self)?;
        Ok(())
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
                transaction!(conn, c => {
                    let row: UserRow = diesel::insert_into(users::table)
                        .values((
                            UserChanges::from_spec(&spec, now),
                            users::password_hash.eq(&hash),
                            users::created_at.eq(now),
                        ))
                        .returning(UserRow::as_returning())
                        .get_result(c)
                        .map_err(|e| email_conflict(e.into()))?;
                    let user = User::try_from(row)?;
                    let audit = audit.map(|a| {
                        a.with_target_id(user.id().get())
                            .with_after(user_state(&user, hash.is_some()))
                    });
                    record_audit!(c, &audit)?;
                    Ok(user)
                })
            })
            .await
    }

    async fn get(&self, id: UserId) -> Result<User, RepoError> {
        let row = self
            .db
            .query(move |conn| {
                with_conn!(conn, c => users::table
                    .find(id.get())
                    .select(UserRow::as_select())
                    .get_result(c)
                    .map_err(DbError::from))
            })
            .await?;
        User::try_from(row)
    }

    async fn find_by_email(&self, email: &Email) -> Result<Option<User>, RepoError> {
        let email = email.as_str().to_owned();
        let row = self
            .db
            .query(move |conn| {
                with_conn!(conn, c => users::table
                    .filter(users::email.eq(&email))
                    .select(UserRow::as_select())
                    .get_result(c)
                    .optional()
                    .map_err(DbError::from))
            })
            .await?;
        row.map(User::try_from).transpose()
    }

    async fn find_login(
        &self,
        email: &Email,
    ) -> Result<Option<(User, Option<PasswordHash>)>, RepoError> {
        let email = email.as_str().to_owned();
        let row: Option<(UserRow, Option<String>)> = self
            .db
            .query(move |conn| {
                with_conn!(conn, c => users::table
                    .filter(users::email.eq(&email))
                    .select((UserRow::as_select(), users::password_hash))
                    .get_result(c)
                    .optional()
                    .map_err(DbError::from))
            })
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
                read_snapshot!(conn, c => {
                    let mut count = users::table.count().into_boxed();
                    if let Some(pattern) = &pattern {
                        count = count.filter(users::email.like(pattern.clone()).escape('\\'));
                    }
                    let total: i64 = count.get_result(c)?;
                    if offset >= total {
                        return Ok((Vec::new(), total));
                    }
                    let mut rows = users::table.select(UserRow::as_select()).into_boxed();
                    if let Some(pattern) = &pattern {
                        rows = rows.filter(users::email.like(pattern.clone()).escape('\\'));
                    }
                    let rows: Vec<UserRow> = rows
                        .order(users::id.asc())
                        .offset(offset)
                        .limit(limit)
                        .load(c)?;
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
                transaction!(conn, c => {
                    let existing = users::table
                        .find(id.get())
                        .select(UserRow::as_select())
                        .get_result(c)
                        .optional()?;
                    let row = match existing {
                        Some(row) if !refresh_email || row.email == spec.email().as_str() => row,
                        Some(_) => diesel::update(users::table.find(id.get()))
                            .set((
                                users::email.eq(spec.email().as_str()),
                                users::updated_at.eq(now),
                            ))
                            .returning(UserRow::as_returning())
                            .get_result(c)
                            .map_err(|e| email_conflict(e.into()))?,
                        None => {
                            let row: UserRow = diesel::insert_into(users::table)
                                .values((
                                    users::id.eq(id.get()),
                                    UserChanges::from_spec(&spec, now),
                                    users::created_at.eq(now),
                                ))
                                .returning(UserRow::as_returning())
                                .get_result(c)
                                .map_err(|e| email_conflict(e.into()))?;
                            SerialCatchUp::catch_up_user_ids(c)?;
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
                transaction!(conn, c => {
                    let before = match &audit {
                        Some(_) => users::table
                            .find(id.get())
                            .select(UserRow::as_select())
                            .get_result(c)
                            .optional()?,
                        None => None,
                    };
                    let row: UserRow = diesel::update(users::table.find(id.get()))
                        .set(UserChanges::from_spec(&spec, now))
                        .returning(UserRow::as_returning())
                        .get_result(c)
                        .map_err(|e| email_conflict(e.into()))?;
                    if let Some(hash) = &hash {
                        diesel::update(users::table.find(id.get()))
                            .set(users::password_hash.eq(hash))
                            .execute(c)?;
                        // A new password ends every session opened with the old one.
                        diesel::delete(sessions::table.filter(sessions::user_id.eq(id.get())))
                            .execute(c)?;
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
                    record_audit!(c, &audit)?;
                    Ok(user)
                })
            })
            .await
    }
}

/// A user's audit state; says when a password was set (never what it is).
fn user_state(user: &User, password_set: bool) -> serde_json::Value {
    let mut state = user.audit_state();
    if password_set {
        state["passwordChanged"] = serde_json::Value::Bool(true);
    }
    state
}

#[cfg(test)]
mod tests {
    use super::contains_pattern;

    #[test]
    fn like_wildcards_are_escaped() {
        assert_eq!(contains_pattern("a_b%c\\"), "%a\\_b\\%c\\\\%");
    }
}
