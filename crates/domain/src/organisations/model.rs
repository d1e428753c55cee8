//! The organisation record and its members.

use chrono::{DateTime, Utc};

use crate::identity::caller::OrgRole;
use crate::identity::user::Email;
use crate::shared::billing::{BillingDetails, BillingDraft};
use crate::shared::ids::{OrgId, UserId};
use crate::shared::text::{required_name, AccountValidationError};

const MAX_ORG_NAME_CHARS: usize = 100;

/// A validated organisation without its identity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrganisationSpec {
    name: String,
    billing: BillingDetails,
}

impl OrganisationSpec {
    pub fn new(name: &str, billing: BillingDraft) -> Result<Self, AccountValidationError> {
        Ok(OrganisationSpec {
            name: required_name("name", name, MAX_ORG_NAME_CHARS)?,
            billing: BillingDetails::new(billing)?,
        })
    }
    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn billing(&self) -> &BillingDetails {
        &self.billing
    }
}

/// A stored organisation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Organisation {
    id: OrgId,
    spec: OrganisationSpec,
    created_at: DateTime<Utc>,
}

impl Organisation {
    pub fn new(id: OrgId, spec: OrganisationSpec, created_at: DateTime<Utc>) -> Self {
        Organisation {
            id,
            spec,
            created_at,
        }
    }
    pub fn id(&self) -> OrgId {
        self.id
    }
    pub fn created_at(&self) -> DateTime<Utc> {
        self.created_at
    }
}

impl std::ops::Deref for Organisation {
    type Target = OrganisationSpec;
    fn deref(&self) -> &OrganisationSpec {
        &self.spec
    }
}

/// A member as the organisation's members see them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    pub user_id: UserId,
    pub email: Email,
    pub name: String,
    pub role: OrgRole,
    pub joined_at: DateTime<Utc>,
}

/// An organisation with its members, and the caller's own role in it.
#[derive(Clone, Debug)]
pub struct OrganisationView {
    pub organisation: Organisation,
    pub members: Vec<Member>,
    /// `None` for a platform admin who is not a member.
    pub caller_role: Option<OrgRole>,
}
