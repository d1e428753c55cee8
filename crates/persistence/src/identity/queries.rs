//! The statements of users, login sessions, API tokens and membership look-ups.
//! Credentials are looked up by their SHA-256 hash; the secrets themselves are never
//! stored.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use tariff_domain::UserSpec;

use super::rows::{TokenRow, UserChanges, UserRow};
use crate::db::{Columns, DbConn};
use crate::errors::DbError;
use crate::schema::{api_tokens, org_members, sessions, users};

/// The user id and role behind an unexpired session.
pub(super) fn session_caller(
    c: &mut DbConn<'_>,
    hash: &str,
    now: NaiveDateTime,
) -> QueryResult<Option<(i64, String)>> {
    c.get_result(
        sessions::table
            .inner_join(users::table)
            .filter(sessions::token_hash.eq(hash))
            .filter(sessions::expires_at.gt(now))
            .select((users::id, users::role)),
    )
    .optional()
}

/// A live token's id and last use, and the user id and role behind it.
pub(super) type TokenCaller = (i64, Option<NaiveDateTime>, i64, String);

pub(super) fn token_caller(c: &mut DbConn<'_>, hash: &str) -> QueryResult<Option<TokenCaller>> {
    c.get_result(
        api_tokens::table
            .inner_join(users::table)
            .filter(api_tokens::token_hash.eq(hash))
            .filter(api_tokens::revoked_at.is_null())
            .select((
                api_tokens::id,
                api_tokens::last_used_at,
                users::id,
                users::role,
            )),
    )
    .optional()
}

/// Records a token's use. On PostgreSQL its commit does not wait for the WAL flush
/// (`synchronous_commit = off` for this transaction alone): the column is bookkeeping,
/// a crash of the database server can lose its last fraction of a second, and the first
/// request of a token no longer waits a commit flush (a shared disk made that tens of
/// milliseconds). SQLite's group commit already makes it cheap.
pub(super) fn touch_token(c: &mut DbConn<'_>, id: i64, now: NaiveDateTime) -> Result<(), DbError> {
    c.write_transaction(|c| {
        if matches!(c, DbConn::Postgres(_)) {
            c.batch_execute("SET LOCAL synchronous_commit = off")?;
        }
        c.execute(
            diesel::update(api_tokens::table.find(id)).set(api_tokens::last_used_at.eq(now)),
        )?;
        Ok(())
    })
}

pub(super) fn role_in(c: &mut DbConn<'_>, org: i64, user: i64) -> QueryResult<Option<String>> {
    c.get_result(
        org_members::table
            .find((org, user))
            .select(org_members::role),
    )
    .optional()
}

/// The organisations `user` administers or owns, by id.
pub(super) fn managed_orgs(c: &mut DbConn<'_>, user: i64) -> QueryResult<Vec<i64>> {
    c.load(
        org_members::table
            .filter(org_members::user_id.eq(user))
            .filter(org_members::role.eq_any(["admin", "owner"]))
            .select(org_members::org_id)
            .order(org_members::org_id),
    )
}

/// Stores a session, after deleting the user's expired ones (housekeeping bounded to
/// this user).
pub(super) fn create_session(
    c: &mut DbConn<'_>,
    user: i64,
    token_hash: &str,
    now: NaiveDateTime,
    expires_at: NaiveDateTime,
) -> QueryResult<()> {
    c.execute(diesel::delete(
        sessions::table
            .filter(sessions::user_id.eq(user))
            .filter(sessions::expires_at.le(now)),
    ))?;
    c.execute(diesel::insert_into(sessions::table).values((
        sessions::token_hash.eq(token_hash),
        sessions::user_id.eq(user),
        sessions::created_at.eq(now),
        sessions::expires_at.eq(expires_at),
    )))?;
    Ok(())
}

pub(super) fn delete_session(c: &mut DbConn<'_>, token_hash: &str) -> QueryResult<usize> {
    c.execute(diesel::delete(
        sessions::table.filter(sessions::token_hash.eq(token_hash)),
    ))
}

/// Ends every session of `user`.
pub(super) fn delete_sessions_of(c: &mut DbConn<'_>, user: i64) -> QueryResult<()> {
    c.execute(diesel::delete(
        sessions::table.filter(sessions::user_id.eq(user)),
    ))?;
    Ok(())
}

pub(super) fn create_token(
    c: &mut DbConn<'_>,
    owner: i64,
    name: &str,
    token_hash: &str,
    now: NaiveDateTime,
) -> QueryResult<TokenRow> {
    c.get_result(
        diesel::insert_into(api_tokens::table)
            .values((
                api_tokens::user_id.eq(owner),
                api_tokens::name.eq(name),
                api_tokens::token_hash.eq(token_hash),
                api_tokens::created_at.eq(now),
            ))
            .returning(TokenRow::columns()),
    )
}

pub(super) fn active_tokens(c: &mut DbConn<'_>, owner: i64) -> QueryResult<Vec<TokenRow>> {
    c.load(
        api_tokens::table
            .filter(api_tokens::user_id.eq(owner))
            .filter(api_tokens::revoked_at.is_null())
            .select(TokenRow::columns())
            .order(api_tokens::id.asc()),
    )
}

/// Revokes `owner`'s live token `id`; returns how many it revoked (0 or 1).
pub(super) fn revoke_token(
    c: &mut DbConn<'_>,
    owner: i64,
    id: i64,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    c.execute(
        diesel::update(
            api_tokens::table
                .filter(api_tokens::id.eq(id))
                .filter(api_tokens::user_id.eq(owner))
                .filter(api_tokens::revoked_at.is_null()),
        )
        .set(api_tokens::revoked_at.eq(now)),
    )
}

pub(super) fn insert_user(
    c: &mut DbConn<'_>,
    spec: &UserSpec,
    password_hash: Option<&str>,
    now: NaiveDateTime,
) -> QueryResult<UserRow> {
    c.get_result(
        diesel::insert_into(users::table)
            .values((
                UserChanges::from_spec(spec, now),
                users::password_hash.eq(password_hash),
                users::created_at.eq(now),
            ))
            .returning(UserRow::columns()),
    )
}

pub(super) fn user(c: &mut DbConn<'_>, id: i64) -> QueryResult<UserRow> {
    c.get_result(users::table.find(id).select(UserRow::columns()))
}

pub(super) fn user_by_email(c: &mut DbConn<'_>, email: &str) -> QueryResult<Option<UserRow>> {
    c.get_result(
        users::table
            .filter(users::email.eq(email))
            .select(UserRow::columns()),
    )
    .optional()
}

/// A user and their password hash, for a login.
pub(super) fn login(
    c: &mut DbConn<'_>,
    email: &str,
) -> QueryResult<Option<(UserRow, Option<String>)>> {
    c.get_result(
        users::table
            .filter(users::email.eq(email))
            .select((UserRow::columns(), users::password_hash)),
    )
    .optional()
}

/// How many users there are, or whose email matches the LIKE `pattern`.
pub(super) fn count_users(c: &mut DbConn<'_>, pattern: Option<&str>) -> QueryResult<i64> {
    match pattern {
        Some(pattern) => c.get_result(
            users::table
                .filter(users::email.like(pattern).escape('\\'))
                .count(),
        ),
        None => c.get_result(users::table.count()),
    }
}

/// A page of users by id, all of them or those whose email matches the LIKE `pattern`.
pub(super) fn users_page(
    c: &mut DbConn<'_>,
    pattern: Option<&str>,
    offset: i64,
    limit: i64,
) -> QueryResult<Vec<UserRow>> {
    let all = users::table.select(UserRow::columns());
    match pattern {
        Some(pattern) => c.load(
            all.filter(users::email.like(pattern).escape('\\'))
                .order(users::id.asc())
                .offset(offset)
                .limit(limit),
        ),
        None => c.load(all.order(users::id.asc()).offset(offset).limit(limit)),
    }
}

pub(super) fn update_user(
    c: &mut DbConn<'_>,
    id: i64,
    spec: &UserSpec,
    now: NaiveDateTime,
) -> QueryResult<UserRow> {
    c.get_result(
        diesel::update(users::table.find(id))
            .set(UserChanges::from_spec(spec, now))
            .returning(UserRow::columns()),
    )
}

pub(super) fn set_password(c: &mut DbConn<'_>, id: i64, hash: &str) -> QueryResult<()> {
    c.execute(diesel::update(users::table.find(id)).set(users::password_hash.eq(hash)))?;
    Ok(())
}

/// A user stored under an id chosen outside Tariff (the panel's), with no password.
pub(super) fn insert_user_with_id(
    c: &mut DbConn<'_>,
    id: i64,
    spec: &UserSpec,
    now: NaiveDateTime,
) -> QueryResult<UserRow> {
    c.get_result(
        diesel::insert_into(users::table)
            .values((
                users::id.eq(id),
                UserChanges::from_spec(spec, now),
                users::created_at.eq(now),
            ))
            .returning(UserRow::columns()),
    )
}

pub(super) fn set_user_email(
    c: &mut DbConn<'_>,
    id: i64,
    email: &str,
    now: NaiveDateTime,
) -> QueryResult<UserRow> {
    c.get_result(
        diesel::update(users::table.find(id))
            .set((users::email.eq(email), users::updated_at.eq(now)))
            .returning(UserRow::columns()),
    )
}

/// After a user is stored under an id chosen outside, generated ids must continue above
/// it. SQLite's AUTOINCREMENT follows by itself; PostgreSQL's serial does not.
pub(super) fn catch_up_user_ids(c: &mut DbConn<'_>) -> QueryResult<()> {
    match c {
        DbConn::Sqlite(_) => Ok(()),
        DbConn::Postgres(_) => {
            c.execute(diesel::sql_query(
                "SELECT setval(pg_get_serial_sequence('users', 'id'), \
                 GREATEST((SELECT MAX(id) FROM users), 1))",
            ))?;
            Ok(())
        }
    }
}
