//! `OrganisationRepository` on diesel.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tariff_domain::identity::OrgRole;
use tariff_domain::organisations::OrganisationRepository;
use tariff_domain::organisations::{Member, Organisation, OrganisationSpec};
use tariff_domain::shared::ConflictKind;
use tariff_domain::{OrgId, RepoError, UserId};

use super::queries::{self, conflict};
use super::rows::{to_member, MemberRow};
use crate::db::Database;
use crate::errors::DbError;

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
                conn.write_transaction(|c| {
                    let row = queries::insert(c, &spec, now)?;
                    queries::add_member(c, row.id, owner.get(), OrgRole::Owner, now).map_err(
                        |e| match RepoError::from(DbError::from(e)) {
                            RepoError::Conflict(_) => DbError::Repo(RepoError::NotFound),
                            other => DbError::Repo(other),
                        },
                    )?;
                    Ok(row)
                })
            })
            .await?;
        Organisation::try_from(row)
    }

    async fn get(&self, id: OrgId) -> Result<Organisation, RepoError> {
        let row = self
            .db
            .query(move |c| Ok(queries::get(c, id.get())?))
            .await?;
        Organisation::try_from(row)
    }

    async fn members(&self, id: OrgId) -> Result<Vec<Member>, RepoError> {
        let rows: Vec<MemberRow> = self
            .db
            .query(move |c| Ok(queries::members(c, id.get())?))
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
                conn.write_transaction(|c| {
                    let current = queries::lock_and_read_role(c, org, user)?;
                    if current != expected {
                        return Err(conflict(ConflictKind::ChangedMeanwhile));
                    }
                    if current.is_some() {
                        queries::change_role(c, org, user, role)?;
                    } else {
                        queries::add_member(c, org, user, role, now)?;
                    }
                    queries::ensure_an_owner_remains(c, org)?;
                    Ok(queries::member(c, org, user)?)
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
                conn.write_transaction(|c| {
                    match queries::lock_and_read_role(c, org, user)? {
                        None => return Err(DbError::Repo(RepoError::NotFound)),
                        Some(role) if role != expected => {
                            return Err(conflict(ConflictKind::ChangedMeanwhile))
                        }
                        Some(_) => {}
                    }
                    queries::remove_member(c, org, user)?;
                    queries::ensure_an_owner_remains(c, org)?;
                    Ok(())
                })
            })
            .await
    }
}
