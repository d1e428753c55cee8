//! The statements of organisations and their memberships. Every membership write first
//! takes the organisation's row lock ([`lock_and_read_role`]).

use chrono::NaiveDateTime;
use diesel::prelude::*;
use tariff_domain::identity::OrgRole;
use tariff_domain::organisations::OrganisationSpec;
use tariff_domain::shared::ConflictKind;
use tariff_domain::RepoError;

use super::rows::{parse_role, MemberRow, OrganisationRow};
use crate::db::{Columns, DbConn};
use crate::errors::DbError;
use crate::schema::{org_members, organisations, users};

pub(super) fn conflict(kind: ConflictKind) -> DbError {
    DbError::Repo(RepoError::Conflict(kind))
}

pub(super) fn insert(
    c: &mut DbConn<'_>,
    spec: &OrganisationSpec,
    now: NaiveDateTime,
) -> QueryResult<OrganisationRow> {
    let billing = spec.billing().to_draft();
    c.get_result(
        diesel::insert_into(organisations::table)
            .values((
                organisations::name.eq(spec.name()),
                organisations::company.eq(&billing.company),
                organisations::address_line1.eq(&billing.address_line1),
                organisations::address_line2.eq(&billing.address_line2),
                organisations::city.eq(&billing.city),
                organisations::postcode.eq(&billing.postcode),
                organisations::country.eq(&billing.country),
                organisations::tax_id.eq(&billing.tax_id),
                organisations::created_at.eq(now),
            ))
            .returning(OrganisationRow::columns()),
    )
}

pub(super) fn get(c: &mut DbConn<'_>, id: i64) -> QueryResult<OrganisationRow> {
    c.get_result(
        organisations::table
            .find(id)
            .select(OrganisationRow::columns()),
    )
}

/// The columns of a member: the membership joined with the user.
type MemberColumns = (
    org_members::user_id,
    users::email,
    users::name,
    org_members::role,
    org_members::created_at,
);

const MEMBER_COLUMNS: MemberColumns = (
    org_members::user_id,
    users::email,
    users::name,
    org_members::role,
    org_members::created_at,
);

/// The members of `org`, earliest first.
pub(super) fn members(c: &mut DbConn<'_>, org: i64) -> QueryResult<Vec<MemberRow>> {
    c.load(
        org_members::table
            .inner_join(users::table)
            .filter(org_members::org_id.eq(org))
            .select(MEMBER_COLUMNS)
            .order((org_members::created_at.asc(), org_members::user_id.asc())),
    )
}

pub(super) fn member(c: &mut DbConn<'_>, org: i64, user: i64) -> QueryResult<MemberRow> {
    c.get_result(
        org_members::table
            .inner_join(users::table)
            .filter(org_members::org_id.eq(org))
            .filter(org_members::user_id.eq(user))
            .select(MEMBER_COLUMNS),
    )
}

pub(super) fn add_member(
    c: &mut DbConn<'_>,
    org: i64,
    user: i64,
    role: OrgRole,
    now: NaiveDateTime,
) -> QueryResult<()> {
    c.execute(diesel::insert_into(org_members::table).values((
        org_members::org_id.eq(org),
        org_members::user_id.eq(user),
        org_members::role.eq(role.as_str()),
        org_members::created_at.eq(now),
    )))?;
    Ok(())
}

pub(super) fn change_role(
    c: &mut DbConn<'_>,
    org: i64,
    user: i64,
    role: OrgRole,
) -> QueryResult<()> {
    c.execute(
        diesel::update(org_members::table.find((org, user)))
            .set(org_members::role.eq(role.as_str())),
    )?;
    Ok(())
}

pub(super) fn remove_member(c: &mut DbConn<'_>, org: i64, user: i64) -> QueryResult<()> {
    c.execute(diesel::delete(org_members::table.find((org, user))))?;
    Ok(())
}

/// Takes the organisation's row lock (`NotFound` when it does not exist), then returns
/// `user`'s current role in it. The lock is a no-op `UPDATE`: a row lock on PostgreSQL,
/// and on SQLite the write transaction is already exclusive.
pub(super) fn lock_and_read_role(
    c: &mut DbConn<'_>,
    org: i64,
    user: i64,
) -> Result<Option<OrgRole>, DbError> {
    let locked = c.execute(
        diesel::update(organisations::table.find(org))
            .set(organisations::name.eq(organisations::name)),
    )?;
    if locked == 0 {
        return Err(DbError::Repo(RepoError::NotFound));
    }
    let role: Option<String> = c
        .get_result(
            org_members::table
                .find((org, user))
                .select(org_members::role),
        )
        .optional()?;
    Ok(role.map(|r| parse_role(&r)).transpose()?)
}

/// Fails the transaction (rolling it back) when no owner is left.
pub(super) fn ensure_an_owner_remains(c: &mut DbConn<'_>, org: i64) -> Result<(), DbError> {
    let owners: i64 = c.get_result(
        org_members::table
            .filter(org_members::org_id.eq(org))
            .filter(org_members::role.eq(OrgRole::Owner.as_str()))
            .count(),
    )?;
    if owners == 0 {
        return Err(conflict(ConflictKind::LastOwner));
    }
    Ok(())
}
