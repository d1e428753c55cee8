//! `users` and `api_tokens` rows, apart from the domain types, and their conversion.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use tariff_domain::identity::ApiToken;
use tariff_domain::identity::{Caller, Role};
use tariff_domain::{BillingDraft, RepoError, TokenId, User, UserId, UserSpec};

use crate::schema::{api_tokens, users};

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
pub(super) struct UserChanges {
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
    pub(super) fn from_spec(spec: &UserSpec, now: NaiveDateTime) -> UserChanges {
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

/// An `api_tokens` row as its owner may see it: no hash.
#[derive(Queryable, Selectable, Debug)]
#[diesel(table_name = api_tokens)]
pub(super) struct TokenRow {
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

/// A user id and stored role, as a resolved caller.
pub(super) fn to_caller(user_id: i64, role: &str) -> Result<Caller, RepoError> {
    let id = UserId::new(user_id).ok_or_else(|| RepoError::internal("corrupt user id"))?;
    let role: Role = role
        .parse()
        .map_err(|_| RepoError::internal(format!("user {user_id} has a corrupt role")))?;
    Ok(Caller::new(id, role))
}
