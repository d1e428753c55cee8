//! `organisations` and `org_members` rows, apart from the domain types, and their
//! conversion.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use tariff_domain::identity::OrgRole;
use tariff_domain::organisations::{Member, Organisation, OrganisationSpec};
use tariff_domain::{BillingDraft, Email, OrgId, RepoError, UserId};

use crate::schema::organisations;

#[derive(Queryable, Selectable, Debug)]
#[diesel(table_name = organisations)]
pub(super) struct OrganisationRow {
    pub(super) id: i64,
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
pub(super) type MemberRow = (i64, String, String, String, NaiveDateTime);

pub(super) fn to_member(
    (user_id, email, name, role, joined): MemberRow,
) -> Result<Member, RepoError> {
    Ok(Member {
        user_id: UserId::new(user_id).ok_or_else(|| RepoError::internal("corrupt user id"))?,
        email: Email::parse(&email)
            .map_err(|_| RepoError::internal(format!("user {user_id} has a corrupt email")))?,
        name,
        role: parse_role(&role)?,
        joined_at: joined.and_utc(),
    })
}

pub(super) fn parse_role(text: &str) -> Result<OrgRole, RepoError> {
    text.parse()
        .map_err(|_| RepoError::internal(format!("corrupt org role `{text}`")))
}
