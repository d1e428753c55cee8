//! `OrganisationRepository` on diesel. Every membership write first takes the
//! organisation's row lock (a no-op UPDATE: a row lock on PostgreSQL, and on SQLite the
//! write transaction is already exclusive), so concurrent changes to one organisation
//! run one after another and the owner count checked at the end is the real one.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use tariff_domain::identity::OrgRole;
use tariff_domain::organisations::OrganisationRepository;
use tariff_domain::organisations::{Member, Organisation, OrganisationSpec};
use tariff_domain::shared::ConflictKind;
use tariff_domain::{BillingDraft, Email, OrgId, RepoError, UserId};

use crate::db::Database;
use crate::errors::DbError;
use crate::schema::{org_members, organisations, users};
use crate::{transaction, with_conn};

#[derive(Queryable, Selectable, Debug)]
#[diesel(table_name = organisations)]
struct OrganisationRow {
    id: i64,
    name: String,
    company: Option<String>,
    address_line1: Option<String>,
    address_line2: Option<String>,
    city: Option<String>,
    postcode: Option<String>,
    country: Option<String>,
    tax_id: Option<String>,
    created_at: NaiveDateTime,
}

impl TryFrom<OrganisationRow> for Organisation {
    type Error = RepoError;
    fn try_from(row: OrganisationRow) -> Result<Organisation, RepoError> {
        let id = OrgId::new(row.id).ok_or_else(|| RepoError::internal("corrupt org id"))?;
        let billing = BillingDraft {
            company: row.company,
            address_line1: row.address_line1,
            address_line2: row.address_line2,
            city: row.city,
            postcode: row.postcode,
            country: row.country,
            tax_id: row.tax_id,
        };
        let spec = OrganisationSpec::new(&row.name, billing).map_err(|e| {
            RepoError::internal(format!("organisation {} no longer validates: {e}", row.id))
        })?;
        Ok(Organisation::new(id, spec, row.created_at.and_utc()))
    }
}

/// A member row joined with the user's email and name.
type MemberRow = (i64, String, String, String, NaiveDateTime);

fn to_member((user_id, email, name, role, joined): MemberRow) -> Result<Member, RepoError> {
    Ok(Member {
        user_id: UserId::new(user_id).ok_or_else(|| RepoError::internal("corrupt user id"))?,
        email: Email::parse(&email)
            .map_err(|_| RepoError::internal(format!("user {user_id} has a corrupt email")))?,
        name,
        role: parse_role(&role)?,
        joined_at: joined.and_utc(),
    })
}

fn parse_role(text: &str) -> Result<OrgRole, RepoError> {
    text.parse()
        .map_err(|_| RepoError::internal(format!("corrupt org role `{text}`")))
}

fn conflict(kind: ConflictKind) -> DbError {
    DbError::Repo(RepoError::Conflict(kind))
}

/// Takes the organisation's row lock (NotFound when it does not exist), then returns
/// `user`'s current role in it. A macro so the statements compile once per backend.
macro_rules! lock_and_read_role {
    ($c:expr, $org:expr, $user:expr) => {{
        let locked = diesel::update(organisations::table.find($org))
            .set(organisations::name.eq(organisations::name))
            .execute($c)?;
        if locked == 0 {
            return Err(DbError::Repo(RepoError::NotFound));
        }
        org_members::table
            .find(($org, $user))
            .select(org_members::role)
            .get_result::<String>($c)
            .optional()?
            .map(|r| parse_role(&r))
            .transpose()
            .map_err(DbError::Repo)?
    }};
}

/// Fails the transaction (rolling it back) when no owner is left.
macro_rules! ensure_an_owner_remains {
    ($c:expr, $org:expr) => {{
        let owners: i64 = org_members::table
            .filter(org_members::org_id.eq($org))
            .filter(org_members::role.eq(OrgRole::Owner.as_str()))
            .count()
            .get_result($c)?;
        if owners == 0 {
            return Err(conflict(ConflictKind::LastOwner));
        }
    }};
}

macro_rules! load_member {
    ($c:expr, $org:expr, $user:expr) => {
        org_members::table
            .inner_join(users::table)
            .filter(org_members::org_id.eq($org))
            .filter(org_members::user_id.eq($user))
            .select((
                org_members::user_id,
                users::email,
                users::name,
                org_members::role,
                org_members::created_at,
            ))
            .get_result::<MemberRow>($c)
    };
}

/// Diesel-backed organisations for both backends.
#[derive(Clone)]
pub struct DieselOrganisations {
    db: Database,
}

impl DieselOrganisations {
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

#[async_trait]
impl OrganisationRepository for DieselOrganisations {
    async fn create(
        &self,
        spec: OrganisationSpec,
        owner: UserId,
        now: DateTime<Utc>,
    ) -> Result<Organisation, RepoError> {
        let now = now.naive_utc();
        let row = self
            .db
            .write(move |conn| {
                transaction!(conn, c => {
                    let billing = spec.billing().to_draft();
                    let row: OrganisationRow = diesel::insert_into(organisations::table)
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
                        .returning(OrganisationRow::as_returning())
                        .get_result(c)?;
                    diesel::insert_into(org_members::table)
                        .values((
                            org_members::org_id.eq(row.id),
                            org_members::user_id.eq(owner.get()),
                            org_members::role.eq(OrgRole::Owner.as_str()),
                            org_members::created_at.eq(now),
                        ))
                        .execute(c)
                        .map_err(|e| match RepoError::from(DbError::from(e)) {
                            RepoError::Conflict(_) => DbError::Repo(RepoError::NotFound),
                            other => DbError::Repo(other),
                        })?;
                    Ok(row)
                })
            })
            .await?;
        Organisation::try_from(row)
    }

    async fn get(&self, id: OrgId) -> Result<Organisation, RepoError> {
        let row = self
            .db
            .query(move |conn| {
                with_conn!(conn, c => organisations::table
                    .find(id.get())
                    .select(OrganisationRow::as_select())
                    .get_result(c)
                    .map_err(DbError::from))
            })
            .await?;
        Organisation::try_from(row)
    }

    async fn members(&self, id: OrgId) -> Result<Vec<Member>, RepoError> {
        let rows: Vec<MemberRow> = self
            .db
            .query(move |conn| {
                with_conn!(conn, c => org_members::table
                    .inner_join(users::table)
                    .filter(org_members::org_id.eq(id.get()))
                    .select((
                        org_members::user_id,
                        users::email,
                        users::name,
                        org_members::role,
                        org_members::created_at,
                    ))
                    .order((org_members::created_at.asc(), org_members::user_id.asc()))
                    .load(c)
                    .map_err(DbError::from))
            })
            .await?;
        rows.into_iter().map(to_member).collect()
    }

    async fn set_member_role(
        &self,
        org: OrgId,
        user: UserId,
        role: OrgRole,
        expected: Option<OrgRole>,
        now: DateTime<Utc>,
    ) -> Result<Member, RepoError> {
        let now = now.naive_utc();
        let (org, user) = (org.get(), user.get());
        let row = self
            .db
            .write(move |conn| {
                transaction!(conn, c => {
                    let current = lock_and_read_role!(c, org, user);
                    if current != expected {
                        return Err(conflict(ConflictKind::ChangedMeanwhile));
                    }
                    if current.is_some() {
                        diesel::update(org_members::table.find((org, user)))
                            .set(org_members::role.eq(role.as_str()))
                            .execute(c)?;
                    } else {
                        diesel::insert_into(org_members::table)
                            .values((
                                org_members::org_id.eq(org),
                                org_members::user_id.eq(user),
                                org_members::role.eq(role.as_str()),
                                org_members::created_at.eq(now),
                            ))
                            .execute(c)?;
                    }
                    ensure_an_owner_remains!(c, org);
                    Ok(load_member!(c, org, user)?)
                })
            })
            .await?;
        to_member(row)
    }

    async fn remove_member(
        &self,
        org: OrgId,
        user: UserId,
        expected: OrgRole,
    ) -> Result<(), RepoError> {
        let (org, user) = (org.get(), user.get());
        self.db
            .write(move |conn| {
                transaction!(conn, c => {
                    let current = lock_and_read_role!(c, org, user);
                    match current {
                        None => return Err(DbError::Repo(RepoError::NotFound)),
                        Some(role) if role != expected => return Err(conflict(ConflictKind::ChangedMeanwhile)),
                        Some(_) => {}
                    }
                    diesel::delete(org_members::table.find((org, user))).execute(c)?;
                    ensure_an_owner_remains!(c, org);
                    Ok(())
                })
            })
            .await
    }
}
